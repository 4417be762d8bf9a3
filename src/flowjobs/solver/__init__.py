"""The Solver API's service: solve stored decision tables and rule flows."""

from flowjobs.decisions import SolveOptions
from flowjobs.solver.compiled import CompiledRules, Prepared, Solvable, compile_version, prepare
from flowjobs.solver.service import Loaded, SolverService, pick_solvable, version_number

__all__ = [
    "CompiledRules",
    "Loaded",
    "Prepared",
    "Solvable",
    "SolveOptions",
    "SolverService",
    "compile_version",
    "pick_solvable",
    "prepare",
    "version_number",
]
