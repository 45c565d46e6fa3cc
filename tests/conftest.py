"""Fixtures shared by the host's test folders."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: ``load(name, path)``: a script (a bench, a test module) imported as module ``name``.
ScriptLoader = Callable[[str, Path], ModuleType]


def _load_script(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered, so that its attrs classes' annotations resolve by module name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def script_loader() -> ScriptLoader:
    """Imports a script that is not part of a package (benches, other test modules)."""
    return _load_script


@pytest.fixture(scope="session")
def bench() -> ModuleType:
    """``bench/faults.py``: the live host against the fake exchange, and its fault scenarios."""
    return _load_script("garrison_bench_faults", ROOT / "bench" / "faults.py")
