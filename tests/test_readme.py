"""The README's code stays true: its emitted-code excerpts are what symgrad
emits, and its first example gives the numbers its comments state."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
GOLDEN = Path(__file__).resolve().parent / "golden"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_the_readme_opens_with_the_two_commands():
    first = re.search(r"```\n(.*?)```", README, flags=re.DOTALL).group(1)
    install, tests = first.strip().splitlines()
    assert install.startswith("python3 -m venv .venv && .venv/bin/pip install")
    assert install.endswith("python -m symgrad emit examples/quadratic.py")
    assert tests == ".venv/bin/python -m pytest -q"


def test_every_emitted_function_quoted_is_in_a_golden_file():
    quoted = [b for b in python_blocks() if b.startswith("def f_and_grad(")]
    assert quoted, "the README quotes the heart of a generated module"
    goldens = [p.read_text(encoding="utf-8") for p in GOLDEN.glob("*.py")]
    for block in quoted:
        assert any(block in text for text in goldens), block


def test_the_first_example_gives_the_numbers_in_its_comments(tmp_path):
    block = python_blocks()[0]
    path = tmp_path / "readme_first.py"
    path.write_text(block.replace("print(poly.source)", "source = poly.source"))
    spec = importlib.util.spec_from_file_location("readme_first", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_first"] = module
    spec.loader.exec_module(module)
    stated = dict(re.findall(r"^(poly\S*\(4\.0\))\s+# ([^:\n]*)", block, re.M))
    assert stated == {
        "poly(4.0)": "29.0",
        "poly.f_and_grad(4.0)": "(29.0, 11.0)",
        "poly.grad(4.0)": "11.0",
    }
    for call, value in stated.items():
        assert repr(eval(call, vars(module))) == value
    assert "def f_and_grad(x, *, seed=None):" in module.source


def test_the_table_sizes_quoted_are_the_tables():
    from flow_functions import FLOW_CASES
    from functions import CASES

    quoted = re.search(
        r"`tests/functions.py`, (\d+) cases; `tests/flow_functions.py`, (\d+) with",
        README,
    )
    assert quoted, "the README names the sizes of the shared tables"
    assert (int(quoted[1]), int(quoted[2])) == (len(CASES), len(FLOW_CASES))
    from test_transforms import _hessian_cases

    hessians = re.search(r"All (\d+) scalar one-parameter functions", README)
    assert hessians, "the README names how many Hessians the tables check"
    assert int(hessians[1]) == len(_hessian_cases())
