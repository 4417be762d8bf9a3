"""The function families; importing this package registers every function.

Each family is a module of this package; the ones present are imported (the
date, array, data and JSON families are written beside the others).
"""

from __future__ import annotations

import importlib
import importlib.util

from flowjobs.decisions.functions.registry import FUNCTIONS, FunctionSpec, lookup, register

FAMILIES = ("core", "math", "logical", "text", "solve", "dates", "arrays", "data", "json")


def _load_families() -> None:
    for family in FAMILIES:
        name = f"{__name__}.{family}"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


_load_families()

__all__ = ["FUNCTIONS", "FunctionSpec", "lookup", "register"]
