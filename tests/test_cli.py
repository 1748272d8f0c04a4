"""The command line: `python -m symgrad emit FILE.py`."""

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import symgrad

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "symgrad", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def write(tmp_path, text, name="model.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_emit_prints_the_generated_module():
    result = run("emit", "examples/quadratic.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("def f_and_grad(x, *, seed=None):") == 2
    # the second module (they look alike) under a line that names it
    square, poly = result.stdout.split(
        "\n\n# ---- poly (--function poly prints it alone) ----\n\n\n"
    )
    assert square.startswith('"""Gradient of `square`')
    assert poly.startswith('"""Gradient of `poly`')
    assert "x_bar = seed * (2.0 * x + 3.0)" in result.stdout
    assert result.stderr == ""


def test_emit_matches_the_decorator(tmp_path):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import quadratic
    finally:
        sys.path.pop(0)
    result = run("emit", "examples/quadratic.py", "--function", "poly")
    assert result.returncode == 0, result.stderr
    assert result.stdout == quadratic.poly.source


def test_output_file(tmp_path):
    out = tmp_path / "poly_grad.py"
    result = run("emit", "examples/quadratic.py", "--function", "poly", "-o", str(out))
    assert result.returncode == 0, result.stderr
    namespace = {}
    exec(out.read_text(), namespace)
    assert namespace["f_and_grad"](4.0) == (29.0, 11.0)


def test_a_standalone_module_s_run_time_error_names_the_line(tmp_path):
    # (symgrad shows its own errors at the line; the written module's own
    # classes, without symgrad, say the line in the message)
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad


        @symgrad.grad
        def stacked(x, parts):
            return np.sum(np.concatenate(parts) * x)
        """,
    )
    out = tmp_path / "stacked_grad.py"
    result = run("emit", str(path), "--function", "stacked", "-o", str(out))
    assert result.returncode == 0, result.stderr
    namespace = {}
    exec(out.read_text(), namespace)
    x = np.ones(3)
    with pytest.raises(ValueError, match=r"^line 8: np.concatenate of a list") as info:
        namespace["f_and_grad"](x, [x, x[:1]])
    assert info.value.line == 8


def test_output_file_needs_one_function(tmp_path):
    result = run("emit", "examples/quadratic.py", "-o", str(tmp_path / "x.py"))
    assert result.returncode == 2
    assert "--function" in result.stderr


def test_a_dtype_named_at_module_level_is_read(tmp_path):
    # as the decorator reads it (the command line said the dtype must be
    # known when compiling, and hinted at just this)
    path = tmp_path / "dt.py"
    path.write_text(
        "import numpy as np\nimport symgrad\n\nDTYPE = np.float32\n\n\n"
        "@symgrad.grad\ndef f(x):\n    return np.sum(np.ones(3, dtype=DTYPE) * x)\n"
    )
    result = run("emit", str(path))
    assert result.returncode == 0, result.stderr
    assert 'np.ones(3, dtype="float32")' in result.stdout


def test_output_into_a_missing_directory_is_a_usage_error(tmp_path):
    out = tmp_path / "missing" / "x.py"
    result = run("emit", "examples/quadratic.py", "--function", "poly", "-o", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith("symgrad: error: cannot write")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["emit", "--help"]])
def test_help(args):
    result = run(*args)
    assert result.returncode == 0
    assert "usage:" in result.stdout


def test_missing_file_is_a_one_line_usage_error(tmp_path):
    result = run("emit", str(tmp_path / "nope.py"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "cannot read" in result.stderr


def test_file_without_decorated_function(tmp_path):
    path = write(tmp_path, "def f(x):\n    return x\n")
    result = run("emit", str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"symgrad: error: {path} has no function decorated with symgrad.grad, .jvp, "
        ".jacobian or .hessian"
    )


def test_two_wrappings_of_one_function_are_headed_by_their_names(tmp_path):
    # both were headed `loss (--function loss prints it alone)`, which
    # prints both (newcomer)
    path = write(
        tmp_path,
        "import numpy as np\nimport symgrad\n\n\ndef loss(w, b):\n"
        "    return np.sum((w + b) ** 2)\n\n\n"
        "g1 = symgrad.grad(loss, wrt=('w', 'b'))\ng2 = symgrad.grad(loss)\n",
    )
    result = run("emit", str(path))
    assert result.returncode == 0, result.stderr
    assert "# ---- g2 (--function g2 prints it alone) ----" in result.stdout
    assert result.stdout.count("def f_and_grad") == 2
    alone = run("emit", str(path), "--function", "g2")
    assert alone.stdout.count("def f_and_grad") == 1
    several = run("emit", str(path), "-o", str(tmp_path / "out.py"))
    assert "has several functions (g1, g2)" in several.stderr


@pytest.mark.parametrize(
    "source, where",
    [
        (
            "class Model:\n    @symgrad.grad\n    def loss(self, w):\n"
            "        return np.sum(w * w)\n",
            "3: 'loss' is a method of the class 'Model': symgrad differentiates",
        ),
        (
            "def outer():\n    @symgrad.grad(wrt='w')\n    def inner(w):\n"
            "        return np.sum(w)\n\n    return inner\n",
            "3: 'inner' is decorated inside the function 'outer': emit reads",
        ),
    ],
)
def test_a_decorated_method_or_nested_function_is_named(tmp_path, source, where):
    path = write(tmp_path, "import numpy as np\nimport symgrad\n\n\n" + source)
    result = run("emit", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    line = int(where.split(":")[0]) + 4
    rest = where.split(": ", 1)[1]
    assert f"symgrad: error: {path}:{line}: {rest}" in result.stderr
    name = rest.split("'")[1]  # (asked for by name, it is named too)
    named = run("emit", str(path), "--function", name)
    assert named.returncode == 2 and named.stderr == result.stderr


def test_unknown_function_name():
    result = run("emit", "examples/quadratic.py", "--function", "cube")
    assert result.returncode == 2
    assert "cube" in result.stderr


def test_top_level_code_is_never_executed(tmp_path):
    marker = tmp_path / "ran"
    path = write(
        tmp_path,
        f"""
        import numpy as np
        import symgrad as sg

        open({str(marker)!r}, "w").write("executed")
        raise SystemExit("the top level ran")

        SCALE = 2.5

        def helper(x):
            return np.sin(x) * SCALE

        @sg.grad(wrt="x")
        def f(x, y):
            return helper(x) * y
        """,
    )
    result = run("emit", str(path))
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert "SCALE = 2.5" in result.stdout
    assert "np.cos(x)" in result.stdout


def test_from_import_and_aliases(tmp_path):
    path = write(
        tmp_path,
        """
        import numpy as onp
        from math import exp
        from symgrad import grad as differentiate

        @differentiate
        def f(x):
            return onp.tanh(x) + exp(x)
        """,
    )
    result = run("emit", str(path))
    assert result.returncode == 0, result.stderr
    assert "np.tanh(x)" in result.stdout and "math.exp(x)" in result.stdout
    assert "import math\n" in result.stdout


def test_helpers_imported_from_a_module_beside_are_read(tmp_path):
    """`from layers import dense` of a file beside the script (and from a
    package folder, and relatively) is read as the decorator reads it: the
    same module, byte for byte ("'dense' is not defined" before)."""
    write(
        tmp_path,
        """
        import numpy as np

        SCALE = 0.5

        def dense(x, w):
            return np.tanh(x * w) * SCALE
        """,
        name="layers.py",
    )
    (tmp_path / "pkg").mkdir()
    write(tmp_path / "pkg", "def square(x):\n    return x * x\n", name="ops.py")
    write(tmp_path / "pkg", "from .ops import square as sq\n", name="__init__.py")
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad
        from layers import dense, SCALE as S
        from pkg import sq

        @symgrad.grad
        def f(w, x):
            return np.sum(sq(dense(x, w))) * S
        """,
        name="model_beside.py",
    )
    result = run("emit", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "# grad of dense: return np.tanh(x * w) * SCALE" in result.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        spec = importlib.util.spec_from_file_location("model_beside", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert result.stdout == module.f.source
    finally:
        sys.path.remove(str(tmp_path))


def test_functions_and_constants_of_imported_modules_are_read(tmp_path):
    """`L.dense(x)` of `import layers as L`, `layers.SCALE`, `pkg.ops.square`
    of `import pkg.ops` and `sub.square` of `from pkg import ops as sub`: read
    from the files beside the script, byte for byte what the decorator emits
    (a hint to import the name itself, before)."""
    write(
        tmp_path,
        """
        import numpy as np

        SCALE = 0.5

        def dense(x, w):
            return np.tanh(x * w) * SCALE
        """,
        name="layers.py",
    )
    (tmp_path / "pkg").mkdir()
    write(tmp_path / "pkg", "def square(x):\n    return x * x\n", name="ops.py")
    write(tmp_path / "pkg", "", name="__init__.py")
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad
        import layers
        import layers as L
        import pkg.ops
        from pkg import ops as sub

        @symgrad.grad
        def f(w, x):
            h = pkg.ops.square(L.dense(x, w))
            return np.sum(sub.square(h)) * layers.SCALE
        """,
        name="model_modules.py",
    )
    result = run("emit", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "# grad of dense: return np.tanh(x * w) * SCALE" in result.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        spec = importlib.util.spec_from_file_location("model_modules", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert result.stdout == module.f.source
        x = np.array([0.5, -1.0, 2.0])
        value, grad = module.f.f_and_grad(0.3, x)
        assert value == pytest.approx(module.f(0.3, x))
        step = 1e-6
        numeric = (module.f(0.3 + step, x) - module.f(0.3 - step, x)) / (2 * step)
        assert grad == pytest.approx(numeric, rel=1e-6)
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("layers", "pkg", "pkg.ops"):
            sys.modules.pop(name, None)


def test_numpy_submodules_imported_by_name_read_as_numpy(tmp_path):
    """`import numpy.linalg as la`: `la.norm` is numpy's, on both paths (the
    decorator read it as a module of the program, the command line not at
    all); `npr.normal` of `numpy.random` gets the random-number hint."""
    path = write(
        tmp_path,
        """
        import numpy as np
        import numpy.linalg as la
        import numpy.random as npr
        import symgrad

        @symgrad.grad
        def f(x):
            return la.norm(x) ** 2

        @symgrad.grad
        def g(x):
            return np.sum(x * npr.normal(size=3))
        """,
        name="numpy_modules.py",
    )
    result = run("emit", str(path), "--function", "f", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    spec = importlib.util.spec_from_file_location("numpy_modules", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert result.stdout == module.f.source
    assert module.f.f_and_grad(np.ones(3))[1] == pytest.approx(2 * np.ones(3))
    result = run("emit", str(path), "--function", "g", cwd=tmp_path)
    assert "hint: draw random numbers outside the function" in result.stderr
    with pytest.raises(symgrad.SymgradError) as info:
        module.g.f_and_grad(np.ones(3))
    assert "hint: draw random numbers outside the function" in str(info.value)


def test_a_numpy_scalar_constant_keeps_its_type(tmp_path):
    """`SHIFT = np.float64(1e8)` makes numpy compute a float32 array's sum in
    float64; emitted as the Python number 1e8 it computed in float32 (value
    0.0 for 1.0, gradient inf for 1e40): silently wrong.  Both paths now
    write np.float64(...)."""
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad

        SHIFT = np.float64(1e8)
        BIG = np.float64(1e40)

        @symgrad.grad
        def f(x):
            return np.sum((x + SHIFT) - SHIFT) + np.sum(x * BIG) / BIG
        """,
        name="numpy_scalars.py",
    )
    result = run("emit", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "SHIFT = np.float64(100000000.0)" in result.stdout
    spec = importlib.util.spec_from_file_location("numpy_scalars", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert result.stdout == module.f.source
    x = np.array([0.3, 0.7], dtype=np.float32)
    value, grad = module.f.f_and_grad(x)
    assert value == module.f(x) and np.asarray(value).dtype == np.float64
    np.testing.assert_allclose(grad, [2.0, 2.0])


def test_a_constant_changed_after_its_assignment_is_not_read(tmp_path):
    """`K += 1.0`, a rebinding in an `if` or under a function's `global`: the
    running program's K is not the first assignment's, which the command line
    emitted silently (gradient 1 for 10); an error names it now.  A name the
    main block binds that the function does not read changes nothing."""
    for change in ["K += 1.0", "if True:\n    K = 2.0", "def g():\n    global K"]:
        path = write(
            tmp_path,
            "import numpy as np\nimport symgrad\n\nK = 1.0\n"
            + change
            + "\n\n@symgrad.grad\ndef f(x):\n    return np.sum(x * K)\n"
            + "\nif __name__ == '__main__':\n    x = np.ones(2)\n",
            name="changed.py",
        )
        result = run("emit", str(path), cwd=tmp_path)
        assert result.returncode == 1, change
        assert "module-level name 'K' is changed where the command line" in (
            result.stderr
        ), change


_REBOUND = """
import numpy as np
import symgrad

SCALE = 1.0
SCALE, OFFSET = 3.0, 0.5
W = 1.0
W: float = 2.0
[T] = [6.0]
K = 2.0
print(K)


def sq(x):
    return 10.0 * x


from helpers import sq


@symgrad.grad
def read(x):
    return SCALE * x * x + OFFSET + W * T * K * x + sq(x)


C = np.array([1.0, 2.0])
C[0] = 9.0
D = np.array([1.0, 2.0])
D[1] += 5.0
E = np.array([1.0, 2.0])
E.fill(3.0)


@symgrad.grad
def item(x):
    return np.sum(C * x)


@symgrad.grad
def augmented(x):
    return np.sum(D * x)


@symgrad.grad
def filled(x):
    return np.sum(E * x)
"""

_STARRED = """
import symgrad

S = 1.0
from helpers import *


@symgrad.grad
def starred(x):
    return S * x
"""


def test_constants_bound_anew_are_read_or_refused(tmp_path):
    """The command line kept a constant's first value where the program binds
    it anew by unpacking (3 * x * x read as x * x), an annotated assignment
    or an import after a def (the local def's 10 * x for x * x), and where it
    changes an array in place (`C[0] = 9.0`, `D[1] += 5.0`, `E.fill(3.0)`)
    or may rebind it (`from helpers import *`): silently wrong modules.
    Now the last binding is read, and a change it cannot follow refused."""
    write(tmp_path, "def sq(x):\n    return x * x\n\n\nS = 2.0\n", name="helpers.py")
    path = write(tmp_path, _REBOUND, name="rebound.py")
    result = run("emit", str(path), "--function", "read", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    emitted: dict = {}
    exec(result.stdout, emitted)
    sys.path.insert(0, str(tmp_path))
    try:
        spec = importlib.util.spec_from_file_location("rebound", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(tmp_path))
    assert emitted["f_and_grad"](0.5) == module.read.f_and_grad(0.5)
    assert module.read.f_and_grad(0.5) == (0.75 + 0.5 + 12.0 + 0.25, 3.0 + 24.0 + 1.0)
    for name in ("item", "augmented", "filled"):
        result = run("emit", str(path), "--function", name, cwd=tmp_path)
        assert result.returncode == 1, name
        assert "module-level name" in result.stderr, name
        assert "changed where the command line cannot follow it" in result.stderr
    result = run("emit", str(write(tmp_path, _STARRED, "star.py")), cwd=tmp_path)
    assert result.returncode == 1
    assert "'S' may be bound anew by 'from helpers import *'" in result.stderr


def test_an_import_cycle_is_a_name_not_defined(tmp_path):
    """Two helper files importing a name from each other: an unknown name
    at its line (a RecursionError, reported as a bug in symgrad, before)."""
    write(tmp_path, "from c2 import k\n", name="c1.py")
    write(tmp_path, "from c1 import k\n", name="c2.py")
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad
        from c1 import k

        @symgrad.grad
        def f(w):
            return np.sum(k * w)
        """,
        name="cycle.py",
    )
    result = run("emit", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert "error: name 'k' is not defined" in result.stderr
    assert "bug in symgrad" not in result.stderr


def test_a_function_wrapped_at_the_top_level_is_found(tmp_path):
    """`g = symgrad.grad(loss, wrt="w")` is the decorator's form in the
    README: emit finds it, with its options ("no function decorated" before)."""
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad
        from symgrad import jvp

        def loss(w, x):
            return np.sum(np.tanh(w * x))

        g = symgrad.grad(loss, wrt="w")
        forward = jvp(loss, wrt="x")
        other = print(loss)
        """,
        name="wrapped.py",
    )
    result = run("emit", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('"""Gradient of `loss`') == 1
    assert "def f_and_grad(w, x, *, seed=None):" in result.stdout
    assert "gradient with respect to w." in result.stdout
    assert "def f_and_jvp(w, x, tangents):" in result.stdout
    assert result.stdout.count("gradient with respect to x.") == 0


def test_a_wrapping_is_chosen_by_the_name_it_is_bound_to(tmp_path):
    """`--function gx` picks `gx = symgrad.grad(wrt="x")(loss)` (a form not
    found before) among two wrappings of one function; `--function loss`
    still gives both ("no @symgrad function named 'gx'" before)."""
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad

        def loss(w, x):
            return np.sum(np.tanh(w * x))

        gw = symgrad.grad(loss, wrt="w")
        gx = symgrad.grad(wrt="x")(loss)
        """,
        name="two_wrappings.py",
    )
    result = run("emit", str(path), "--function", "gx", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('"""Gradient of `loss`') == 1
    assert "gradient with respect to x." in result.stdout
    result = run("emit", str(path), "--function", "loss", cwd=tmp_path)
    assert result.stdout.count('"""Gradient of `loss`') == 2
    result = run("verify", str(path), "--function", "gw", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok   loss") == 1


def test_compile_error_is_printed_like_a_compiler(tmp_path):
    path = write(
        tmp_path,
        """
        import symgrad

        @symgrad.grad
        def f(x):
            y = 0.0
            with open("log") as log:
                y = y + x
            return y
        """,
    )
    result = run("emit", str(path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert (
        lines[0] == f"{path}:7:5: error: 'with' statements are not supported by symgrad"
    )
    assert lines[1] == '    with open("log") as log:'
    assert lines[2] == "    ^"


TWO_FUNCTIONS = """
import numpy as np
import symgrad

@symgrad.grad
def bad(x):
    return np.sum(np.sinc(x))

@symgrad.grad
def good(x):
    return np.sum(x ** 2)
"""


def test_emit_prints_every_function_that_compiles(tmp_path):
    """One function's error does not hide the next one's module."""
    path = write(tmp_path, TWO_FUNCTIONS)
    result = run("emit", str(path))
    assert result.returncode == 1
    assert result.stdout.count("def f_and_grad(") == 1
    assert "Gradient of `good` from model.py" in result.stdout
    assert result.stderr.startswith(f"{path}:7:19: error: no derivative rule for")


def test_verify_goes_on_after_a_function_that_does_not_compile(tmp_path):
    path = write(tmp_path, TWO_FUNCTIONS)
    result = run("verify", str(path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "FAIL bad: does not compile:"
    assert lines[1].startswith(f"{path}:7:19: error: no derivative rule for")
    assert lines[-1].startswith("ok   good: proved: 1 partial")


@pytest.mark.parametrize("stage, expected", [("ir", "= add("), ("adjoint", "x_bar")])
def test_stages(stage, expected):
    result = run(
        "emit", "examples/quadratic.py", "--function", "poly", "--stage", stage
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_non_literal_constant_is_explained(tmp_path):
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad

        W0 = np.linspace(0.0, 1.0, 2)

        @symgrad.grad
        def f(x):
            return np.sum(W0 * x)
        """,
    )
    result = run("emit", str(path))
    assert result.returncode == 1
    assert "'W0' is not a literal constant" in result.stderr
    assert f"{path}:9:" in result.stderr


def test_an_array_of_literals_is_a_constant(tmp_path):
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad

        W0 = np.array([1.0, -2.0], dtype="float64")

        @symgrad.grad
        def f(x):
            return np.sum(W0 * x)
        """,
    )
    result = run("emit", str(path))
    assert result.returncode == 0, result.stderr
    assert 'W0 = np.array([1.0, -2.0], dtype="float64")' in result.stdout


def test_verify_skips_what_it_cannot_run(tmp_path):
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad

        @symgrad.grad
        def f(x):
            return np.sum(x.reshape(3, 2))

        @symgrad.grad
        def g(x):
            return np.sum(x * x)
        """,
    )
    result = run("verify", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("skip f: not checked")
    # a file where nothing is checked is not a success
    result = run("verify", str(path), "--function", "f")
    assert result.returncode == 1
    assert result.stderr == "symgrad: nothing was checked\n"


def test_cli_and_decorator_emit_the_same_custom_rules(tmp_path):
    write(
        tmp_path,
        """
        import numpy as np

        def sp_grad(x):
            return 0.5 * (1.0 + np.tanh(0.5 * x))
        """,
        name="derivs.py",
    )
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad
        from derivs import sp_grad as slope

        W = np.array([1.0, np.inf], dtype=np.float64)
        V = np.array([2.0, 3.0], dtype=float)

        @symgrad.rule(grad=[slope])
        def softplus(x):
            return np.logaddexp(0.0, x)

        @symgrad.grad
        def f(x):
            return np.sum(softplus(x) * np.minimum(W, V))
        """,
    )
    result = run("emit", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        spec = importlib.util.spec_from_file_location("model_cli_rules", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        live = module.f.source
        value, grad = module.f.f_and_grad(np.array([0.5, -1.0]))
    finally:
        sys.path.remove(str(tmp_path))
    assert result.stdout.replace("model.py", "") == live.replace("model.py", "")
    assert "# Supplied by the caller: softplus, sp_grad" in live
    assert "W = np.array([1.0, np.inf]" in live
    np.testing.assert_allclose(
        grad, 0.5 * (1 + np.tanh(0.25 * np.array([1, -2]))) * [1, 3]
    )


def test_verify_says_what_it_leaves_unchecked():
    """A file's custom rules cannot run without executing it, and jvp,
    jacobian and hessian functions are not gradients: each gets a skip line,
    and a file where nothing is checked exits with code 1."""
    result = run("verify", "examples/custom_rules.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == "symgrad: nothing was checked\n"
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "skip robust_loss",
        "skip solution_norm",
        "skip solution_direction",
    ]
    assert "it calls your functions softplus" in lines[0]
    assert "symgrad.verify(f" in lines[0]
    result = run("verify", "examples/transforms.py", "--function", "rosenbrock")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == (
        "skip rosenbrock: not checked: verify proves gradients (@symgrad.grad), "
        "and this is a @symgrad.hessian function\n"
    )


_DECORATED = """
import functools

import numpy as np
import symgrad


def doubler(f):
    @functools.wraps(f)
    def wrapper(y):
        return 2 * f(y)

    return wrapper


@doubler
def tripled(y):
    return y * 3


@symgrad.grad
def through_a_helper(x):
    return tripled(x)


@symgrad.grad
@doubler
def itself(x):
    return x * 5


@doubler
@symgrad.grad
def outside(x):
    return x * 7


assigned = symgrad.grad(tripled)
"""


def test_a_decorators_effect_is_read_or_refused(tmp_path):
    # the decorator read the source of the function functools.wraps wrapped
    # (inspect follows `__wrapped__`), and the command line inlined a
    # decorated helper as if undecorated: value 2.1 and gradient 3 for 4.2, 6
    path = write(tmp_path, _DECORATED, "decorated.py")
    spec = importlib.util.spec_from_file_location("decorated", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    value, grad = module.through_a_helper.f_and_grad(0.7)
    assert value == module.tripled(0.7) and grad == 6.0
    assert module.itself.f_and_grad(0.7) == (7.0, 10.0)
    result = run("emit", str(path))
    assert result.returncode == 1
    assert (
        "decorated.py:23:12: error: 'tripled' is decorated with '@doubler', which "
        "the command line does not run" in result.stderr
    )
    assert (
        "decorated.py:27:2: error: 'itself' is decorated with '@doubler' before "
        "symgrad's decorator" in result.stderr
    )
    assert result.stdout.count("def f_and_grad(") == 1  # (outside's: its own)
    assert "out = x * 7" in result.stdout
    assert (
        "decorated.py:16:2: error: 'tripled' is decorated with '@doubler' before "
        "symgrad's decorator" in result.stderr  # (`assigned`'s function)
    )
    # verify reports each function, the decorated ones as failed
    result = run("verify", str(path))
    assert result.returncode == 1
    assert "ok   outside: proved" in result.stdout
    assert result.stdout.count("FAIL") == 3


def test_a_file_may_import_numpys_linear_algebra_by_name(tmp_path):
    path = write(
        tmp_path,
        """
        import numpy as np
        from numpy.linalg import det, solve

        import symgrad


        @symgrad.grad
        def f(A):
            return det(A) + np.sum(solve(A, np.ones(2)))
        """,
    )
    result = run("emit", str(path))
    assert result.returncode == 0, result.stderr
    assert "np.linalg.det(A)" in result.stdout


def test_the_console_script_names_itself_in_its_usage():
    script = Path(sys.executable).parent / "symgrad"
    if not script.exists():
        pytest.skip("the symgrad console script is not installed beside python")
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: symgrad ")
    assert run("--help").stdout.startswith("usage: python -m symgrad ")


def test_a_decorator_option_of_a_module_constant_is_read(tmp_path):
    """`wrt=WRT` of a module constant stopped the whole file ("must be a
    literal", exit 2, no line) where the decorator reads it; now it is read,
    and an option the command line cannot read is an error at its line that
    does not stop the other functions."""
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad

        WRT = "w"
        AUX = False


        @symgrad.grad(wrt=WRT, has_aux=AUX)
        def f1(x, w):
            return np.sum(x * w)


        @symgrad.grad(wrt=WRT if AUX else "x")
        def f2(x, w):
            return np.sum(x * w)


        def f3(x, w):
            return np.sum(x * w * w)


        g = symgrad.grad(f3, wrt=WRT)
        """,
        name="options.py",
    )
    result = run("emit", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.count("def f_and_grad(x, w, *, seed=None):") == 2
    assert "with respect to w." in result.stdout
    assert "with respect to x" not in result.stdout
    assert "options.py:14:19: error: wrt= must be a literal or a module constant's" in (
        result.stderr
    )


def test_decorator_options_and_wrapped_functions_are_read_where_they_run(
    tmp_path,
):
    """A decorator's option and a wrapping's function are the values bound
    where that line runs: `WRT = "y"` after `@symgrad.grad(wrt=WRT)`, and a
    `def loss` after `h = symgrad.grad(loss)`, were read instead (9.0 and
    12.0 for 12.0 and 4.0)."""
    path = write(
        tmp_path,
        """
        import symgrad

        WRT = "x"


        @symgrad.grad(wrt=WRT)
        def g(x, y):
            return x * y * y


        WRT = "y"


        def loss(x):
            return x * x


        h = symgrad.grad(loss)


        def loss(x):
            return x * x * x


        loss = symgrad.grad(loss)
        """,
        name="where_they_run.py",
    )
    for name, args, expected in [
        ("g", (2.0, 3.0), 9.0),
        ("h", (2.0,), 4.0),
        ("loss", (2.0,), 12.0),
    ]:
        result = run("emit", str(path), "--function", name, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        emitted: dict = {}
        exec(result.stdout, emitted)
        assert emitted["f_and_grad"](*args)[1] == expected, name


def test_an_array_changed_through_another_name_is_not_read(tmp_path):
    """`B = A; B[0] = 5.0` (a view, a list holding it, an unpacking, a
    method call) changes A; the command line emitted A's first value."""
    path = write(
        tmp_path,
        """
        import numpy as np
        import symgrad

        A = np.array([1.0, 2.0])
        B = A
        B[0] = 5.0
        C = np.array([1.0, 2.0])
        V = C.view()
        V[0] = 5.0
        D = np.array([1.0, 2.0])
        L = [D]
        L[0][0] = 5.0
        E = np.array([1.0, 2.0])
        x1, y1 = E, 1
        x1[0] = 5.0
        F = np.array([1.0, 2.0])
        F.__setitem__(0, 5.0)
        G = np.array([1.0, 2.0])
        H = G + 1.0
        H[0] = 3.0
        K = 3.0
        print(K)


        @symgrad.grad
        def reads(x):
            return np.sum((A + C + D + E + F) * x)


        @symgrad.grad
        def unchanged(x):
            return np.sum(x * K)
        """,
        name="aliases.py",
    )
    result = run("emit", str(path), "--function", "unchanged", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run("emit", str(path), "--function", "reads", cwd=tmp_path)
    assert result.returncode == 1
    assert "'A' is changed where the command line cannot follow it" in result.stderr
    for name in "CDEF":  # (each one, the first read of the others removed)
        text = path.read_text().replace("(A + C + D + E + F)", name)
        changed = write(tmp_path, text, name=f"aliases_{name}.py")
        result = run("emit", str(changed), "--function", "reads", cwd=tmp_path)
        assert result.returncode == 1, name
        assert f"'{name}' is changed where" in result.stderr, name


_SHARED = """
import math

import numpy as np
import symgrad

np.random.seed(0)
np.set_printoptions(precision=3)
math.sqrt(2.0)
A = np.array([1.0, 2.0, 3.0])
B = np.array([0.0, 0.0, 0.0])
B[0] = 9.0
SCALE = 2.0
C = [SCALE, 1.0]
C[0] = 9.0
K = 3.0
T = (K, 2.0)
del T
E = np.array([1.0, 2.0, 3.0])
F = E.copy()
F[0] = 5.0
G = np.array([1.0, 2.0, 3.0])
H = G + 1.0
H[0] = 2.0
P = np.array([1.0, 2.0, 3.0])
if True:
    P[0] = 5.0
Q = np.array([1.0, 2.0, 3.0])
R = Q
if True:
    R[0] = 5.0
S = np.array([1.0, 2.0, 3.0])
for row in [S]:
    row[0] = 5.0


def loss(x):
    return x * x


if True:

    def loss(x):
        return 3.0 * x


g = symgrad.grad(loss)


@symgrad.grad
def fine(x):
    return np.sum((A * SCALE * K + E + G) * x) + math.sin(x[0])


@symgrad.grad
def p(x):
    return np.sum(P * x)


@symgrad.grad
def q(x):
    return np.sum(Q * x)


@symgrad.grad
def s(x):
    return np.sum(S * x)
"""


def test_only_arrays_that_may_change_are_refused(tmp_path):
    """Arrays unrelated to the one changed, numbers, modules whose functions
    are called as statements (`np.random.seed(0)`) and an array copied
    before the write stay readable (every constant array was refused, and
    `np` itself); an array changed inside an `if` or loop, directly or
    through another name, is refused (its first value was emitted), and a
    def inside an `if` is no def the command line can choose."""
    path = write(tmp_path, _SHARED, name="shared.py")
    result = run("emit", str(path), "--function", "fine", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    emitted: dict = {}
    exec(result.stdout, emitted)
    x = np.array([0.5, -1.0, 2.0])
    weights = np.array([1.0, 2.0, 3.0]) * 8.0
    expected = (np.sum(weights * x) + np.sin(0.5), weights + [np.cos(0.5), 0, 0])
    value, grad = emitted["f_and_grad"](x)
    assert value == pytest.approx(expected[0])
    np.testing.assert_allclose(grad, expected[1])
    for name in "PQS":
        result = run("emit", str(path), "--function", name.lower(), cwd=tmp_path)
        assert result.returncode == 1, name
        assert f"module-level name '{name}' is changed where" in result.stderr
    result = run("emit", str(path), "--function", "g", cwd=tmp_path)
    assert result.returncode == 2
    assert "has no @symgrad function named 'g'" in result.stderr


_CHANGED_OR_NOT = """
import numpy
import numpy.linalg
import symgrad

K = 2.0
(K := 3.0)
W = numpy.array([1.0, 2.0])
out = numpy.multiply(W, 3.0, out=W)
V = numpy.array([1.0, 2.0])
print(V)
J = 2.0
J: float


@symgrad.grad
def walrus(x):
    return K * x


@symgrad.grad
def written_out(x):
    return numpy.sum(W * x)


@symgrad.grad
def printed(x):
    return numpy.sum(V * x) * J + numpy.linalg.det(numpy.eye(2) * x[0])
"""


def test_what_the_top_level_changes_or_leaves_alone(tmp_path):
    """Review of the last binding's rule: `:=` and `out=` change a constant
    silently (the first value was emitted); printing an array, annotating a
    name and `import numpy.linalg` after `import numpy` change nothing (an
    error each: changed, not defined, 'numpy' not defined)."""
    path = write(tmp_path, _CHANGED_OR_NOT, name="toplevel.py")
    for name in ("walrus", "written_out"):
        result = run("emit", str(path), "--function", name, cwd=tmp_path)
        assert result.returncode == 1, name
        assert "is changed where the command line cannot follow it" in result.stderr
    result = run("emit", str(path), "--function", "printed", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "J = 2.0" in result.stdout


def test_a_helpers_default_naming_a_constant_is_its_value_at_the_def(tmp_path):
    # `def helper(x, eps=EPS)`: the command line reads the file without
    # running it, so it takes EPS bound once; bound again after the `def`,
    # it took the last binding, where Python's default is the first
    # (newcomer); that is an error naming the default
    once = """\
        import numpy as np
        import symgrad

        EPS = 1e-3


        def helper(x, eps=EPS):
            return np.sqrt(x * x + eps)


        @symgrad.grad
        def f(x):
            return helper(x)
        """
    result = run("emit", str(write(tmp_path, once)))
    assert result.returncode == 0, result.stderr
    assert "0.001" in result.stdout
    twice = once.replace("@symgrad.grad", "EPS = 100.0\n\n\n        @symgrad.grad")
    result = run("emit", str(write(tmp_path, twice, "twice.py")))
    assert result.returncode == 1
    assert "the default of 'eps' names 'EPS', which the module binds" in result.stderr
