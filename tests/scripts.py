"""Loads a repository script (benchmarks/*.py, docs/sync.py) as a module, for the tests that call its functions."""

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_script(relative_path: str):
    """The module of ``REPO / relative_path``, registered in ``sys.modules`` (dataclasses and pickling need it)."""
    path = REPO / relative_path
    name = "kerasseg_script_" + Path(relative_path).with_suffix("").as_posix().replace("/", "_").replace("-", "_")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
