"""Shared test setup: the ``--update-golden`` option and a loader for examples/.

``pytest --update-golden`` makes the golden-file tests rewrite
``tests/golden/*.py`` from the current emitted source instead of comparing
against it; review the rewritten files in the diff before committing them.

``load_example(name)`` imports ``examples/<name>.py`` once per test session
(the examples are scripts, not a package) and returns the module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/*.py from the emitted source instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when pytest was run with ``--update-golden``."""
    return bool(request.config.getoption("--update-golden"))


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as module ``symgrad_example_<name>``, once."""
    module_name = f"symgrad_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = EXAMPLES_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


@pytest.fixture(name="load_example")
def load_example_fixture():
    """The `load_example` function, for tests that import an example."""
    return load_example
