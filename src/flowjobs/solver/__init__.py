"""The Solver API's service: solve stored decision tables and rule flows."""

from flowjobs.decisions import SolveOptions
from flowjobs.solver.compiled import CompiledRules, Solvable, compile_version
from flowjobs.solver.service import Loaded, SolverService, pick_solvable, version_number

__all__ = [
    "CompiledRules",
    "Loaded",
    "Solvable",
    "SolveOptions",
    "SolverService",
    "compile_version",
    "pick_solvable",
    "version_number",
]
