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
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    assert "2.0 * x + 3.0" in poly.source


def test_emitting_is_deterministic(load_example):
    poly = load_example("quadratic").poly
    original = poly.__wrapped__
    first = symgrad.grad(original).source
    second = symgrad.grad(original).source
    assert first == second
    assert first == poly.source


def _fresh_process(code: str, hash_seed: str) -> str:
    """What `code` prints in a new interpreter with that PYTHONHASHSEED."""
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, SYMGRAD_CACHE="0")
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


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
    return _fresh_process(code, hash_seed)


def test_emitting_does_not_depend_on_hash_seed(load_example):
    expected = load_example("quadratic").poly.source
    assert _emit_in_fresh_process("1") == expected
    assert _emit_in_fresh_process("2") == expected


# --- the emitted text is black's ----------------------------------------------
# The printer writes black's style itself (`style.clean`) and `style.formatted`
# hands black only the statements it could change (black costs about 0.2 ms a
# line).  These tests hold the promise that the result is black's, exactly.

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
    "x * 1e+300 - 2.5e-300 ** y",
    "np.sum(x ** 1e+16)",  # (the respelt exponent cut off the parenthesis)
    "-1e+16 ** x + y ** 1e+20",
]


@pytest.mark.parametrize("expr", _POWERS_AND_QUOTES)
def test_printed_expressions_are_black_style(expr):
    import black

    from symgrad.style import clean

    printed = clean(expr)
    assert ast.dump(ast.parse(printed)) == ast.dump(ast.parse(expr))
    assert black.format_str(printed, mode=black.Mode()).strip() == printed


_RENAMED = [
    # (an expression, and the same form with other names: cleaned from the cache)
    ("((np.sin((y_398))) * (a)) + (b)", "((np.sin((t1))) * (_0)) + (e)"),
    ("(x) ** (2)", "(_1) ** (2)"),
    ("(-(x)) ** (2)", "(-(e1)) ** (2)"),
    (
        "((a) if (c) else (None)) + (1e+300)",
        "((b) if (not (d)) else (None)) + (1e+300)",
    ),
    ("(x) * (1.5e-3) + (2j) * (x_bar.T)", "(y) * (1.5e-3) + (2j) * (_2.T)"),
    ("(a) and ((b) or (c)) is not (True)", "(c) and ((a) or (b)) is not (True)"),
    ("_unbroadcast((g) * (p), x)", "_unbroadcast((p) * (g), p)"),
    ("np.s_[(i) : ((i) + (1))]", "np.s_[(k) : ((k) + (1))]"),
    ("(x) * ('ij')", "(y) * ('ij')"),
    ("(x. T) ** (2)", "(x.\nT) ** (2)"),  # (`T` an attribute: it came back `_1`)
]


@pytest.mark.parametrize("expr, renamed", _RENAMED)
def test_clean_reads_an_expressions_form_from_its_cache(expr, renamed):
    from symgrad import style

    for text in (expr, renamed, expr):  # (the second and third: from the cache)
        assert style.clean(text) == style._clean(text)
    assert ast.dump(ast.parse(style.clean(renamed))) == ast.dump(ast.parse(renamed))


def test_emitted_modules_are_black_fixed_points(load_example):
    import black

    for example, function in CASES:
        source = getattr(load_example(example), function).source
        assert black.format_str(source, mode=black.Mode()) == source, function


_NEEDS_BLACK = [
    # (text, how many statements black must see)
    ("def f(g, H):\n    return g[3 * H:], g[H:2 * H], g[-1:], g[a.b:]\n", 1),
    ("def f(g, a):\n    return g[a - 1:], g[:, a + 1]\n", 1),
    ("def f(x):\n    y = x[:-1]\n    z = x[f(1):]\n    return y, z\n", 1),
    ("def f(x):\n    return f('a') + (x + 1) ** 2\n", 1),
    ("x = 1e+300\ny = 0x1f\nz = 1E5\n", 3),
    ("def f(x):\n    return x[g(1)[0] + 1:]\n", 1),
    (
        "def f(alpha, beta):\n    if np.sum(alpha * alpha) + np.sum(beta * beta) "
        "> np.max(alpha) * np.max(beta) + 1.0 + alpha[0]:\n        return alpha\n"
        "    return beta\n",
        1,
    ),
    (
        "def f_and_grad(first_parameter, second_parameter, third_parameter, "
        "fourth_parameter, seed=None):\n    return 1\n",
        1,
    ),
    (
        "class A:\n    def g(self, x):\n        for i in range(10):\n"
        "            total = total + np.tanh(x[i]) * np.exp(-x[i]) "
        "+ np.cos(x[i] * 2.0) / (1.0 + x[i] ** 2)\n",
        1,
    ),
    ("x = 1\n\n\ndef f(x):\n    return x**2 + x[1:2] + -(x**2)\n", 0),
]


@pytest.mark.parametrize("text, statements", _NEEDS_BLACK)
def test_formatted_is_black_and_runs_it_only_where_needed(
    monkeypatch, text, statements
):
    import black

    from symgrad import style

    expected = black.format_str(text, mode=black.Mode())
    seen: list[str] = []
    black_format = black.format_str

    def format_str(source: str, mode: black.Mode) -> str:
        seen.append(source)
        return black_format(source, mode=mode)

    monkeypatch.setattr(black, "format_str", format_str)
    assert style.formatted(text) == expected
    assert len(seen) == statements, seen


def test_black_never_runs_on_the_quadratic_example(monkeypatch, load_example):
    import black

    calls: list[str] = []
    monkeypatch.setattr(black, "format_str", lambda text, mode: calls.append(text))
    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    square = load_example("quadratic").square
    assert symgrad.grad(square.__wrapped__).source == square.source
    assert calls == []


_WIDE = """import numpy as np


def wide(aaaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbbbb, ccccccccccccccccccccccc):
    return np.sum(aaaaaaaaaaaaaaaaaaaaa * bbbbbbbbbbbbbbbbbbbbbbbb)  # noqa: E501


def pair(w, b):
    return np.sum(w * b)
"""


def test_split_signatures_and_transform_calls_are_black_fixed_points(
    tmp_path, monkeypatch
):
    """A statement black formats alone splits as in the whole module (the
    comma after `*, seed=None`); Jacobian and Hessian calls print tuples as
    black does."""
    import importlib.util
    import sys

    import black

    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    path = tmp_path / "wide_module.py"
    path.write_text(_WIDE)
    spec = importlib.util.spec_from_file_location("wide_module", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["wide_module"] = module
    spec.loader.exec_module(module)
    sources = [
        symgrad.grad(module.wide).source,
        symgrad.jacobian(module.pair).source,
        symgrad.hessian(module.pair).source,
    ]
    for source in sources:
        assert black.format_str(source, mode=black.Mode()) == source


def _saved_names(rng, n: int) -> list[str]:
    stems = ["t", "y_", "x_bar_", "hidden_"]
    return [f"{stems[rng.integers(4)]}{rng.integers(1, 300)}" for _ in range(n)]


def test_saved_tuples_and_their_loops_split_as_black_splits_them():
    """The printer splits `saved.append((a, b, ...))` and `for a, b, ... in
    reversed(saved):` itself (black on each cost a quarter of the compile
    time of code with many loops): the lines must be black's, for every
    number of names and indentation."""
    import black

    from symgrad import style

    rng = np.random.default_rng(0)
    for depth in range(5):
        indent = "    " * depth
        outer = "".join("    " * d + f"for i{d} in x:\n" for d in range(depth))
        for n in range(2, 30):
            names, stack = _saved_names(rng, n), f"saved_{n}"
            values = ", ".join(names)
            for raw, lines in [
                (
                    f"{indent}{stack}.append(({values}))\n",
                    style.appended_tuple(indent, stack, names),
                ),
                (
                    f"{indent}for {values} in reversed({stack}):\n{indent}    pass\n",
                    style.reversed_loop(indent, names, stack) + [f"{indent}    pass"],
                ),
            ]:
                want = black.format_str(outer + raw, mode=black.Mode())
                assert outer + "\n".join(lines) + "\n" == want


def test_loops_saving_many_values_never_need_black(tmp_path, monkeypatch):
    """A loop saving k values (`saved.append(...)` and its reversed loop, at
    the function body's indentation, which counts against black's width) is
    printed as black prints it, so black never runs: for k from 1 to 24."""
    from symgrad import style

    def no_black(*args):
        raise AssertionError(f"black was needed for {args[0]!r}")

    monkeypatch.setattr(style, "_statement", no_black)
    monkeypatch.setattr(style, "_black", no_black)
    for k in range(1, 25):
        body = "".join(f"        y = np.sin(y) * a[{i}]\n" for i in range(k))
        path = tmp_path / f"saving_{k}.py"
        path.write_text(
            "import numpy as np\n\n\ndef f(y, a):\n"
            f"    for _ in range(2):\n{body}    return np.sum(y)\n"
        )
        spec = importlib.util.spec_from_file_location(f"saving_{k}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _ = symgrad.grad(module.f).compiled.source


def test_a_docstring_line_fits_with_its_quotes():
    """A summary of 79 to 84 characters fits textwrap's width but not, with its
    quotes, black's 88 columns: it is written on lines of its own."""
    import black

    from symgrad.emit import _docstring

    for n in range(70, 90):
        summary = " ".join(["word"] * 40)[:n].rstrip()
        text = f"def f():\n{_docstring(summary, '    ')}\n"
        assert max(len(line) for line in text.splitlines()) <= 88
        assert black.format_str(text, mode=black.Mode()) == text


def polar(p):
    r, theta = p
    return r * np.cos(theta) + r * r


def sin_chain(x):
    y = x
    for _ in range(3):
        y = np.sin(y) * x
    return np.sum(y)


def test_unpacked_values_keep_their_names():
    """`r, theta = p` prints `r, theta = p` (and `r_bar`: Python checks the
    length), and a Hessian's reverse loop unpacks each saved tuple in one
    line."""
    source = symgrad.grad(polar).source
    assert "    r, theta = p\n" in source
    assert "r_bar = " in source and "theta_bar = " in source
    h = symgrad.hessian(sin_chain)
    loop = h.source.split("def grad_and_hvp")[1].split("\ndef ")[0]
    assert "_unpacked(" not in loop
    assert "t1_4, y_4 = saved[i]\n" in loop
    assert "t1_4_dot, y_4_dot = saved_dot[i]\n" in loop
    x, v = np.array([0.3, -0.5]), np.array([1.0, 2.0])
    g = symgrad.grad(sin_chain)
    numeric = (g.grad(x + 1e-6 * v) - g.grad(x - 1e-6 * v)) / 2e-6
    np.testing.assert_allclose(h.hvp(x, tangents=v), numeric, rtol=1e-6)


HESSIANS_DIGEST = """
import hashlib, sys
sys.path.insert(0, "tests")
import symgrad
from test_transforms import _hessian_cases
digest = hashlib.sha256()
for case in _hessian_cases():
    try:
        digest.update(symgrad.hessian(case.fn, wrt=case.wrt).source.encode())
    except symgrad.SymgradError as exc:
        digest.update(str(exc).encode())
print(digest.hexdigest())
"""


def test_hessians_do_not_depend_on_hash_seed():
    """A Hessian differentiates emitted code, whose branches bind values on
    one side only; their merges were made in a set's order, so the emitted
    text changed with PYTHONHASHSEED."""
    digests = {_fresh_process(HESSIANS_DIGEST, seed) for seed in ("1", "2", "3")}
    assert len(digests) == 1
