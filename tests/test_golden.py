"""The source symgrad emits for the examples, compared exactly with golden files.

For every function decorated with ``@symgrad.grad`` in ``examples/<example>.py``
the emitted module text (``fn.source``) must equal
``tests/golden/<example>__<function>.py`` byte for byte.  After a deliberate
change to the emitted code, run ``pytest --update-golden`` to rewrite the files
and review them in the diff.

The decorated functions are found by reading each example's syntax tree, the
way ``python -m symgrad emit`` finds them, so a golden case is collected even
when importing the example fails.
"""

from __future__ import annotations

import ast
import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import symgrad

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def _is_symgrad_grad(node: ast.expr) -> bool:
    """True for ``symgrad.grad``, ``.jvp``, ``.jacobian`` or ``.hessian``."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ("grad", "jvp", "jacobian", "hessian")
        and isinstance(node.value, ast.Name)
        and node.value.id == "symgrad"
    )


def decorated_functions(path: Path) -> list[str]:
    """Names of module-level functions decorated ``@symgrad.grad`` or ``(...)``
    (or one of the other transformations)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if _is_symgrad_grad(target):
                names.append(node.name)
                break
    return names


EXAMPLE_NAMES = sorted(p.stem for p in EXAMPLES_DIR.glob("*.py"))
CASES = [
    (example, function)
    for example in EXAMPLE_NAMES
    for function in decorated_functions(EXAMPLES_DIR / f"{example}.py")
]


def test_every_example_has_a_decorated_function():
    assert EXAMPLE_NAMES
    for example in EXAMPLE_NAMES:
        assert decorated_functions(EXAMPLES_DIR / f"{example}.py"), example


@pytest.mark.parametrize(
    "example, function", CASES, ids=[f"{e}__{f}" for e, f in CASES]
)
def test_emitted_source_matches_golden(example, function, load_example, update_golden):
    source = getattr(load_example(example), function).source
    golden = GOLDEN_DIR / f"{example}__{function}.py"
    if update_golden:
        GOLDEN_DIR.mkdir(exist_ok=True)
        if not golden.exists() or golden.read_bytes() != source.encode("utf-8"):
            golden.write_bytes(source.encode("utf-8"))
        return
    if not golden.exists():
        pytest.fail(
            f"missing golden file {golden.relative_to(ROOT)}; run "
            "`pytest --update-golden` to create it, then review it in the diff",
            pytrace=False,
        )
    expected = golden.read_bytes().decode("utf-8")
    if source != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                source.splitlines(keepends=True),
                fromfile=f"golden/{golden.name}",
                tofile=f"{function}.source",
            )
        )
        pytest.fail(
            f"emitted source of {example}.{function} differs from its golden file "
            f"(run `pytest --update-golden` if the change is intended):\n{diff}",
            pytrace=False,
        )


def test_poly_gradient_is_simplified(load_example):
    poly = load_example("quadratic").poly
    assert "2 * x + 3" in poly.source


def test_emitting_is_deterministic(load_example):
    poly = load_example("quadratic").poly
    original = poly.__wrapped__
    first = symgrad.grad(original).source
    second = symgrad.grad(original).source
    assert first == second
    assert first == poly.source


def _emit_in_fresh_process(hash_seed: str) -> str:
    """``quadratic.poly.source`` computed in a new interpreter."""
    path = str(EXAMPLES_DIR / "quadratic.py")
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('q', {path!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "sys.stdout.write(module.poly.source)\n"
    )
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, SYMGRAD_CACHE="0")
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_emitting_does_not_depend_on_hash_seed(load_example):
    expected = load_example("quadratic").poly.source
    assert _emit_in_fresh_process("1") == expected
    assert _emit_in_fresh_process("2") == expected


# --- the printed text is black's already --------------------------------------
# black reformats a module twice when its first pass changes anything, so the
# printer writes black's style itself (see emit._clean): formatting then costs
# one pass.  The output is black's either way; these tests keep the speed.

_POWERS_AND_QUOTES = [
    "-x ** 2",
    "a * -x ** 2",
    "a - x ** 2",
    "x ** -1",
    "a.b ** 2",
    "f(x).b ** 2",
    "x[0] ** 2",
    "2 ** x",
    "x ** y ** 2",
    "(a + b) ** 2",
    "x ** f(2)",
    "1e-05 ** x",
    "not x ** 2",
    "~x ** 2",
    "-1 ** x",
    "a ** -b.c",
    "f('a', \"b\", 'it' 's')",
    "f(-x ** 2, -y ** 3)",
    "t[-x ** 2]",
    "(-x) ** 2",
    "x ** 2 + -y ** 2",
    "x ** 2 if c else y ** 3",
]


@pytest.mark.parametrize("expr", _POWERS_AND_QUOTES)
def test_printed_expressions_are_black_style(expr):
    import black

    from symgrad.emit import _clean

    printed = _clean(expr)
    assert ast.dump(ast.parse(printed)) == ast.dump(ast.parse(expr))
    assert black.format_str(printed, mode=black.Mode()).strip() == printed


def test_black_only_splits_long_lines_in_the_examples(monkeypatch, load_example):
    import black

    from symgrad import emit

    seen: list[tuple[str, str]] = []
    black_format = black.format_str

    def format_str(text: str, mode: black.Mode) -> str:
        seen.append((text, black_format(text, mode=mode)))
        return seen[-1][1]

    monkeypatch.setattr(emit.black, "format_str", format_str)
    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    for example, function in CASES:
        decorated = getattr(load_example(example), function)
        transform = getattr(symgrad, decorated.kind)
        options = {"has_aux": True} if getattr(decorated, "has_aux", False) else {}
        wrt = decorated.wrt if decorated.wrt_is_tuple else decorated.wrt[0]
        assert transform(decorated.__wrapped__, wrt=wrt, **options).source
    assert len(seen) >= len(CASES)  # (a Hessian formats two modules)
    for text, formatted in seen:
        # black's only work: splitting lines longer than 88 columns
        lines = text.splitlines()
        matcher = difflib.SequenceMatcher(None, lines, formatted.splitlines())
        for tag, i1, i2, _, _ in matcher.get_opcodes():
            changed = lines[i1:i2]
            if tag != "equal":
                assert changed and all(len(line) > 88 for line in changed), changed
