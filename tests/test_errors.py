"""Bad programs and bad calls: a SymgradError naming file:line, never a traceback
from inside symgrad, never a silently wrong gradient."""

import functools
import importlib.util
import os
import sys
import textwrap
import traceback
import warnings

import numpy as np
import pytest

import symgrad
from symgrad import errors
from symgrad.errors import (
    BadInputError,
    NoDerivativeError,
    NonDifferentiableError,
    SeedError,
    UnknownNameError,
    UnsupportedSyntaxError,
)


def load(tmp_path, body, name="bad"):
    path = tmp_path / f"{name}.py"
    path.write_text(
        "import math\nimport numpy as np\nimport symgrad\n\n" + textwrap.dedent(body)
    )
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module, str(path)


# (source, error class, line of the construct, column) -- lines count the 4-line header
AT_DECORATION = [
    (
        "@symgrad.grad\ndef f(x):\n    for i in range(3):\n"
        "        with open('f') as h:\n            x = x + 1\n    return x\n",
        UnsupportedSyntaxError,
        8,
        9,
    ),
    (
        "@symgrad.grad\ndef f(x):\n    if x > 0:\n        del x\n        return 1.0\n"
        "    return -x\n",
        UnsupportedSyntaxError,
        8,
        9,
    ),
    (  # (the caret on `else:`, which the AST gives no place)
        "@symgrad.grad\ndef f(x):\n    while x < 1:\n        x = x * 2\n"
        "    else:\n        x = 0.0\n    return x\n",
        UnsupportedSyntaxError,
        9,
        5,
    ),
    (
        "@symgrad.grad\ndef f(x):\n    for v in x:\n        if v > 0:\n"
        "            x = v\n        else:\n            x = -v\n\n"
        "    else: x = 0.0\n    return x\n",
        UnsupportedSyntaxError,
        13,
        5,
    ),
    (
        "@symgrad.grad\ndef f(x):\n    for v in x:\n        yield v\n    return x\n",
        UnsupportedSyntaxError,
        8,
        9,
    ),
    (
        "@symgrad.grad\ndef f(x):\n    try:\n        y = x\n    except Exception:\n"
        "        y = 0\n    return y\n",
        UnsupportedSyntaxError,
        7,
        5,
    ),
    (
        "@symgrad.grad\ndef f(x):\n    y = np.zeros(3)\n"
        "    y.flat = x\n    return y.sum()\n",
        UnsupportedSyntaxError,
        8,
        5,
    ),
    (
        "@symgrad.grad\ndef f(x):\n    return {x * i for i in range(3)}\n",
        UnsupportedSyntaxError,
        7,
        12,
    ),
    (
        "@symgrad.grad\ndef f(x):\n    g = lambda *v: v[0] * 2\n    return g(x)\n",
        UnsupportedSyntaxError,
        7,
        17,
    ),
    (
        "@symgrad.grad\ndef f(x):\n    import math\n    return math.sin(x)\n",
        UnsupportedSyntaxError,
        7,
        5,
    ),
    ("@symgrad.grad\ndef f(*xs):\n    return xs[0]\n", UnsupportedSyntaxError, 6, 8),
    ("@symgrad.grad\ndef f(x):\n    return x << 2\n", UnsupportedSyntaxError, 7, 12),
    (
        "@symgrad.grad\ndef f(x):\n    return x if x > 0 else {x}\n",
        UnsupportedSyntaxError,
        7,
        28,
    ),
    (
        "@symgrad.grad\ndef f(x):\n    print(x)\n    return x\n",
        UnsupportedSyntaxError,
        7,
        5,
    ),
]


@pytest.mark.parametrize("body, kind, line, col", AT_DECORATION)
def test_unsupported_syntax_is_reported_at_decoration(tmp_path, body, kind, line, col):
    with pytest.raises(kind) as info:
        load(tmp_path, body)
    err = info.value
    assert (err.loc.line, err.loc.col + 1) == (line, col)
    first = str(err).splitlines()[0]
    assert first.startswith(f"{tmp_path / 'bad.py'}:{line}:{col}: error: ")
    assert "^" in str(err).splitlines()[2]


AT_FIRST_USE = [
    ("@symgrad.grad\ndef f(x):\n    return np.sinc(x)\n", NoDerivativeError, 7),
    ("@symgrad.grad\ndef f(x):\n    return undefined_helper(x)\n", UnknownNameError, 7),
    ("@symgrad.grad\ndef f(x):\n    return x * MISSING\n", UnknownNameError, 7),
    (
        "@symgrad.grad\ndef f(x):\n    return np.sum(x, axis=x.ndim)\n",
        UnsupportedSyntaxError,
        7,
    ),
    ("@symgrad.grad\ndef f(x):\n    return np.sum(x, out=x)\n", NoDerivativeError, 7),
    ("@symgrad.grad\ndef f(x):\n    return x.cumprod()\n", NoDerivativeError, 7),
    (
        "def h(v):\n    for i in range(2):\n        global G\n    return v\n\n\n"
        "@symgrad.grad\ndef f(x):\n    return h(x)\n",
        UnsupportedSyntaxError,
        7,
    ),
    (
        "def h(v):\n    return h(v)\n\n\n@symgrad.grad\ndef f(x):\n    return h(x)\n",
        UnsupportedSyntaxError,
        6,
    ),
    (
        "@symgrad.grad\ndef f(x):\n    y = x\n    y += 1.0\n    return y * x\n",
        UnsupportedSyntaxError,
        8,
    ),
    (
        "@symgrad.grad\ndef f(x):\n    y = x[0:2]\n    y *= 3.0\n"
        "    return np.sum(x * x)\n",
        UnsupportedSyntaxError,
        8,
    ),
    (
        "def pair(v):\n    return v, v\n\n\n"
        "@symgrad.grad\ndef f(x):\n    return pair(x)\n",
        UnsupportedSyntaxError,
        11,
    ),
]


@pytest.mark.parametrize("body, kind, line", AT_FIRST_USE)
def test_names_are_resolved_on_first_use(tmp_path, body, kind, line):
    module, path = load(tmp_path, body)
    with pytest.raises(kind) as info:
        module.f.f_and_grad(np.ones(3))
    assert info.value.loc.file == path
    assert info.value.loc.line == line
    assert str(info.value).startswith(f"{path}:{line}:")


def test_wrt_naming_no_parameter(tmp_path):
    module, _ = load(tmp_path, "def f(x, y):\n    return x * y\n")
    with pytest.raises(BadInputError, match="'z', which is not a parameter"):
        symgrad.grad(module.f, wrt="z")
    with pytest.raises(BadInputError, match="wrt=2"):
        symgrad.grad(module.f, wrt=2)
    with pytest.raises(BadInputError, match="twice"):
        symgrad.grad(module.f, wrt=("x", 0))
    with pytest.raises(BadInputError) as info:
        symgrad.grad(module.f, wrt=5)
    assert str(info.value).startswith(f"{tmp_path / 'bad.py'}:5:1: error: f: wrt=5 ")
    assert "has 2 parameters" in str(info.value)


def test_a_gradient_with_respect_to_a_string_is_refused(tmp_path):
    # newcomer: wrt= naming a string option gave the gradient 0.0
    body = 'def k(x, mode="sq"):\n    return x * x if mode == "sq" else x\n'
    module, _ = load(tmp_path, body)
    with pytest.raises(TypeError, match="no gradient with respect to the string 'sq'"):
        symgrad.grad(module.k, wrt="mode").grad(2.0)
    assert symgrad.grad(module.k).grad(2.0) == 4.0


def test_non_scalar_output_needs_a_seed(tmp_path):
    module, _ = load(tmp_path, "@symgrad.grad\ndef squares(x):\n    return x**2\n")
    with pytest.raises(SeedError, match="squares: the output has shape \\(3,\\)"):
        module.squares.f_and_grad(np.ones(3))
    with pytest.raises(SeedError, match="squares: the seed has shape \\(2,\\)"):
        module.squares.f_and_grad(np.ones(3), seed=np.ones(2))
    assert isinstance(SeedError("x"), symgrad.SymgradError)
    # (a string seed reached numpy's multiply: a UFuncTypeError)
    for seed in ("a", np.array(["a", "b", "c"])):
        with pytest.raises(SeedError, match="the seed must be a number or an array"):
            module.squares.f_and_grad(np.ones(3), seed=seed)
    module, _ = load(tmp_path, "@symgrad.grad\ndef total(x):\n    return np.sum(x)\n")
    for seed in ("a", np.timedelta64(3, "s"), np.array([1, 2], "datetime64[D]")):
        with pytest.raises(SeedError, match="the seed must be a number or an array"):
            module.total.f_and_grad(np.ones(3), seed=seed)


def test_a_user_error_does_not_carry_symgrad_s_frames(tmp_path):
    """A mistake in the user's code is reported from the call that compiled
    it, without the compiler's 40-80 frames before the diagnostic (the
    message names the line); a bug in symgrad keeps them."""
    import traceback

    module, _ = load(tmp_path, "@symgrad.grad\ndef f(x):\n    return np.sinc(x)\n")
    with pytest.raises(NoDerivativeError) as info:
        module.f.grad(1.0)
    package = os.path.dirname(symgrad.__file__)
    frames = traceback.extract_tb(info.value.__traceback__)
    inside = [f for f in frames if f.filename.startswith(package)]
    assert len(inside) <= 5, [f.name for f in inside]
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_captured_list_is_named_as_the_enclosing_function_s(tmp_path):
    """A list a closure reads from its enclosing function: the hint spoke of
    module-level names; a tuple of the same numbers works."""
    body = (
        "def make(ws):\n    def loss(x):\n        s = 0.0\n        for a in ws:\n"
        "            s = s + a * np.sum(x**2)\n        return s\n\n"
        "    return symgrad.grad(loss)\n"
    )
    module, _ = load(tmp_path, body)
    with pytest.raises(UnknownNameError) as info:
        module.make([1.0, 2.0]).grad(np.ones(2))
    assert "'ws', a list of the enclosing function, is not a value" in str(info.value)
    assert "make it a tuple or an array" in str(info.value)
    np.testing.assert_allclose(module.make((1.0, 2.0)).grad(np.ones(2)), [6.0, 6.0])


def test_not_a_function():
    with pytest.raises(BadInputError):
        symgrad.grad(np.sin)
    with pytest.raises(BadInputError) as info:
        symgrad.grad(lambda x: x)
    # (at the lambda, in this file, with what to write instead)
    loc = info.value.loc
    assert loc.file == __file__ and loc.text[loc.col :] == "lambda x: x)"
    assert info.value.hint == "define it with def: def f(x): return ..."
    with pytest.raises(BadInputError) as info:  # (the inner one, of x)
        symgrad.grad((lambda a: lambda x: x * a)(2.0))
    loc = info.value.loc
    assert loc.text[loc.col :] == "lambda x: x * a)(2.0))"
    # a partial's repr held its arrays, printed whole
    bound = functools.partial(np.dot, np.ones((50, 50)))
    with pytest.raises(BadInputError) as info:
        symgrad.grad(bound)
    assert len(str(info.value).splitlines()[0]) < 140
    assert "hint: differentiate the function itself with wrt=" in str(info.value)


class Model:
    def __init__(self):
        self.w = 2.0

    def loss(self, x):
        return self.w * x


def model_loss(self, x):  # (a function of a model, outside its class)
    return self.w * x


def test_methods_and_attributes_say_what_to_do_instead():
    with pytest.raises(
        BadInputError, match="hint: differentiate a plain function"
    ) as info:
        symgrad.grad(Model().loss)
    assert info.value.loc.line == Model.loss.__code__.co_firstlineno  # (its def)
    with pytest.raises(BadInputError, match="hint: differentiate a module-level"):
        symgrad.grad(Model.loss, wrt="x")
    g = symgrad.grad(model_loss, wrt="x")
    with pytest.raises(UnsupportedSyntaxError, match="not an array's") as info:
        g.f_and_grad(Model(), 2.0)
    assert str(info.value).endswith("hint: pass self.w to the function as an argument")


def scaled_by_model(w, model):
    return np.sum(w * model.scale)


def test_an_attribute_of_an_object_is_no_arrays():
    g = symgrad.grad(scaled_by_model)
    with pytest.raises(UnsupportedSyntaxError, match="not an array's") as info:
        g.f_and_grad(np.ones(3), Model())
    assert info.value.hint == "pass model.scale to the function as an argument"
    loc = info.value.loc
    assert loc.line == scaled_by_model.__code__.co_firstlineno + 1
    assert loc.text[loc.col :].startswith("model.scale")


def test_modules_of_the_program_are_read_and_builtins_get_hints(tmp_path):
    """`helpers.SCALE` and `helpers.f(x)` of a module of the program are read
    as if imported by name (a hint to import the name, before); a name the
    module lacks is an error at its line; Python's `round` points to np.round."""
    (tmp_path / "helpers_mod.py").write_text(
        "import random\n\nSCALE = 2.0\nLST = [1.0, 2.0]\n\ndef sq(x):\n"
        "    return x * x\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        body = (
            "import helpers_mod\n\ndef constant(x):\n    return helpers_mod.SCALE * x\n"
            "\ndef function(x):\n    return helpers_mod.sq(x)\n"
            "\ndef builtin(x):\n    return round(x * x)\n"
            "\nimport helpers_mod as hm\n\ndef renamed(x):\n    return hm.SCALE * x\n"
            "\ndef module_var(x):\n    return hm.var(x)\n"
            "\ndef drawn(x):\n    return hm.random.random() * x\n"
            "\ndef listed(x):\n    return hm.LST[0] * x\n"
        )
        module, path = load(tmp_path, body, name="uses_helpers")
        assert symgrad.grad(module.constant).f_and_grad(3.0) == (6.0, 2.0)
        assert symgrad.grad(module.function).f_and_grad(3.0) == (9.0, 6.0)
        assert symgrad.grad(module.renamed).f_and_grad(3.0) == (6.0, 2.0)
        with pytest.raises(UnknownNameError) as info:
            symgrad.grad(module.builtin).f_and_grad(np.ones(2))
        assert "symgrad does not read Python's builtin 'round'" in str(info.value)
        assert "hint: use np.round(...), which symgrad differentiates" in str(
            info.value
        )
        with pytest.raises(UnknownNameError) as info:  # not x.var(), a method
            symgrad.grad(module.module_var).f_and_grad(np.ones(2))
        assert str(info.value).startswith(
            f"{path}:22:12: error: module 'helpers_mod' has no attribute 'var'"
        )
        with pytest.raises(NoDerivativeError) as info:
            symgrad.grad(module.drawn).f_and_grad(1.0)
        assert "'hm.random.random' is not a function or constant" in str(info.value)
        assert "hint: draw random numbers outside the function" in str(info.value)
        with pytest.raises(UnknownNameError) as info:
            symgrad.grad(module.listed).f_and_grad(1.0)
        assert "'hm.LST', a list in module 'helpers_mod', is not a value" in str(
            info.value
        )
        assert "hint: symgrad reads numbers, tuples and arrays there" in str(info.value)
    finally:
        sys.path.remove(str(tmp_path))


def test_random_numbers_get_a_hint(tmp_path):
    """`np.random.normal(...)` and `rng.random(...)` of a Generator: draw the
    numbers outside (the hint named `rng` as a module to import from)."""
    body = (
        "rng = np.random.default_rng(0)\n\n@symgrad.grad\ndef noisy(w):\n"
        "    return np.sum(w * np.random.normal(size=3))\n\n"
        "@symgrad.grad\ndef masked(w):\n    return np.sum(w * (rng.random(3) > 0.5))\n"
    )
    module, _ = load(tmp_path, body)
    with pytest.raises(NoDerivativeError) as info:
        module.noisy.grad(np.ones(3))
    assert "hint: draw random numbers outside the function" in str(info.value)
    with pytest.raises(NoDerivativeError) as info:
        module.masked.grad(np.ones(3))
    assert "hint: 'rng' is a Generator object, which symgrad does not read" in str(
        info.value
    )  # (the headline named a method of an array, `.random()`, before)
    assert "error: 'rng.random' is not a function symgrad can read" in str(info.value)


def test_the_command_line_hint_names_a_renamed_module(tmp_path, capsys):
    from symgrad.__main__ import main

    path = tmp_path / "renamed.py"
    path.write_text(
        "import symgrad\nimport helpers_mod as hm\n\n\n@symgrad.grad\n"
        "def renamed(x):\n    return hm.SCALE * x\n"
    )
    assert main(["emit", str(path)]) == 1
    hint = "hint: the command line reads module 'helpers_mod' from helpers_mod.py"
    assert hint + " beside the file, and there is none" in capsys.readouterr().err
    path.write_text(
        "import symgrad\nfrom pkg import sub as s\n\n\n@symgrad.grad\n"
        "def renamed(x):\n    return s.SCALE * x\n"
    )
    assert main(["emit", str(path)]) == 1
    assert "module 'pkg.sub' from pkg/sub.py beside the file" in (
        capsys.readouterr().err
    )


def test_hessian_of_a_vector_output_says_so():
    h = symgrad.hessian(lambda_free_square)
    with pytest.raises(BadInputError) as info:
        h.hessian(np.ones(3))
    assert str(info.value) == (
        "error: lambda_free_square: symgrad.hessian needs a function whose output "
        "is a number (the output has shape (3,)); for a vector output, take the "
        "Hessian of a weighted sum, np.dot(w, f(x))"
    )


def lambda_free_square(x):
    return x * x


def test_seed_parameter_name_clashes(tmp_path):
    module, _ = load(tmp_path, "def f(x, seed):\n    return x * seed\n")
    with pytest.raises(UnsupportedSyntaxError, match="'seed' would clash"):
        symgrad.grad(module.f)


def test_error_message_format(tmp_path):
    body = (
        "@symgrad.grad\ndef f(x):\n    with open('a') as fh:\n"
        "        x = x\n    return x\n"
    )
    with pytest.raises(UnsupportedSyntaxError) as info:
        load(tmp_path, body)
    path = tmp_path / "bad.py"
    assert str(info.value) == (
        f"{path}:7:5: error: 'with' statements are not supported by symgrad\n"
        "    with open('a') as fh:\n"
        "    ^\n"
        "hint: move the with block outside the differentiated function"
    )


def test_a_matrix_product_update_of_an_element_names_its_operator(tmp_path):
    body = "@symgrad.grad\ndef f(x):\n    x[0] @= 2.0\n    return x[0]\n"
    with pytest.raises(UnsupportedSyntaxError) as info:
        load(tmp_path, body)
    assert "'@=' on an element or slice is not supported" in str(info.value)
    assert str(info.value).endswith("hint: write 'y[i] = y[i] @ ...' instead")


def test_appending_to_a_list_argument_says_how_to_build_one(tmp_path):
    body = "def f(L, x):\n    L.append(x)\n    return np.sum(np.stack(L))\n"
    module, path = load(tmp_path, body)
    with pytest.raises(UnsupportedSyntaxError) as info:
        symgrad.grad(module.f, wrt=1).f_and_grad([np.ones(2)], np.ones(2))
    assert str(info.value) == (
        f"{path}:6:5: error: 'L' is not a list made in this function; symgrad "
        "changes only those\n    L.append(x)\n    ^\nhint: write L = L + [value]"
    )


def test_assigning_into_a_slice_of_a_list_is_refused_at_its_line(tmp_path):
    # a list written by slice was made an array first; Python may change the
    # list's length instead
    body = "def f(x):\n    L = [x, x, x]\n    L[0:2] = [x]\n    return L[0]\n"
    module, path = load(tmp_path, body)
    with pytest.raises(UnsupportedSyntaxError) as info:
        symgrad.grad(module.f).f_and_grad(1.0)
    assert str(info.value) == (
        f"{path}:7:5: error: assignment into a slice of the list 'L', which may "
        "change its length\n    L[0:2] = [x]\n    ^\nhint: assign its entries one "
        "by one, or build a new list"
    )


# More of the corpus: (function body after 'def f(x):', error class, line, col).
# Line 6 is the 'def' line; the body starts at line 7.
MORE_AT_DECORATION = [
    ("    global G\n    return x\n", UnsupportedSyntaxError, 7, 5),
    ("    del x\n    return 1.0\n", UnsupportedSyntaxError, 7, 5),
    ("    class A:\n        pass\n    return x\n", UnsupportedSyntaxError, 7, 5),
    ("    yield x\n", UnsupportedSyntaxError, 7, 5),
    ("    return {x}\n", UnsupportedSyntaxError, 7, 12),
    ("    return {'a': x}['a']\n", UnsupportedSyntaxError, 7, 12),
    ("    return f'{x}'\n", UnsupportedSyntaxError, 7, 12),
    ("    return x and {x}\n", UnsupportedSyntaxError, 7, 18),
    ("    async def g():\n        pass\n    return x\n", UnsupportedSyntaxError, 7, 5),
    (
        "    try:\n        x = x\n    finally:\n        pass\n    return x\n",
        UnsupportedSyntaxError,
        7,
        5,
    ),
    ("    return (y := x * 2)\n", UnsupportedSyntaxError, 7, 13),
    ("    assert x > 0\n    return x\n", UnsupportedSyntaxError, 7, 5),
    ("    raise ValueError(x)\n", UnsupportedSyntaxError, 7, 5),
    ("    return np.sum(*x)\n", UnsupportedSyntaxError, 7, 19),
    ("    x.y = 1.0\n    return x\n", UnsupportedSyntaxError, 7, 5),
    ("    x[0] @= 2.0\n    return x\n", UnsupportedSyntaxError, 7, 5),
    (
        "    def g(*v):\n        return v\n    return g(x)\n",
        UnsupportedSyntaxError,
        7,
        12,
    ),
]


@pytest.mark.parametrize("body, kind, line, col", MORE_AT_DECORATION)
def test_more_unsupported_syntax(tmp_path, body, kind, line, col):
    with pytest.raises(kind) as info:
        load(tmp_path, "@symgrad.grad\ndef f(x):\n" + body)
    assert (info.value.loc.line, info.value.loc.col + 1) == (line, col)
    assert str(info.value).startswith(f"{tmp_path / 'bad.py'}:{line}:{col}: error: ")


@pytest.mark.parametrize(
    "body, hint",
    [
        ("    assert x > 0\n    return x\n", "check the inputs before calling"),
        ("    raise ValueError(x)\n", "check the inputs before calling"),
        ("    return x, {'a': x}\n", "use a tuple"),
        ("    return expit(x)\n", "give it a derivative with @symgrad.rule"),
    ],
)
def test_common_refusals_say_what_to_do(tmp_path, body, hint):
    # (a newcomer's checks of the inputs, a dict as aux, scipy's expit)
    with pytest.raises(symgrad.SymgradError) as info:
        module, _ = load(tmp_path, "@symgrad.grad\ndef f(x):\n" + body)
        module.f.f_and_grad(1.0)
    assert info.value.hint is not None and hint in info.value.hint
    assert info.value.loc.line == 7


def test_signature_errors(tmp_path):
    for header, col in [
        ("def f(x, *args):", 11),
        ("def f(x, *, seed=1.0):", 13),  # (the emitted functions' own option)
        ("def f(x, *, c=np.ones(3)):", 15),
        ("def f(x, **kw):", 12),
        ("def f(x, c=np.ones(3)):", 12),  # (a call: `c=np.pi` is a constant's name)
        ("def f(np):", 7),
        ("async def f(x):", 1),
    ]:
        with pytest.raises(UnsupportedSyntaxError) as info:
            load(tmp_path, f"@symgrad.grad\n{header}\n    return x\n")
        assert info.value.loc.line == 6, header
        assert info.value.loc.col + 1 == col, header


MORE_AT_FIRST_USE = [
    ("    return max(x)", UnsupportedSyntaxError, 7),  # (np.max, says the hint)
    ("    return x * 'a'\n", UnsupportedSyntaxError, 7),
    # .astype to a float dtype but float64 of a value depending on wrt (a mask
    # as floats, or values as ints, are constants)
    ("    return np.sum(np.sin(x).astype(np.float32))\n", NonDifferentiableError, 7),
    ("    return np.sum(x * (x > 0).astype(complex))\n", NoDerivativeError, 7),
    (
        "    return np.sum(x * (x > 0).astype(float, copy=False))\n",
        NoDerivativeError,
        7,
    ),
    # a constructor's dtype= is one symgrad computes with, known when compiling;
    # np.arange's and np.linspace's keywords are dtype= (and endpoint=) alone
    ("    return np.sum(np.zeros(3, dtype=complex) + x)\n", NoDerivativeError, 7),
    ("    return np.sum(np.ones(3, x.dtype) * x)\n", UnsupportedSyntaxError, 7),
    ("    return np.sum(np.arange(0, 4, step=2) * x)\n", NoDerivativeError, 7),
    (
        "    return np.sum(np.linspace(0, 1, 3, retstep=True) * x)\n",
        NoDerivativeError,
        7,
    ),
    ("    return None\n", UnsupportedSyntaxError, 7),
    # numpy parameters symgrad does not read, named by position
    ("    return np.sum(np.asarray(x, np.float32))\n", BadInputError, 7),
    # np.array's dtype as .astype's; np.asarray's float alone (its array may
    # be the argument's, the cast's is a copy)
    ("    return np.sum(np.array(np.sin(x), np.float32))\n", NonDifferentiableError, 7),
    ("    return np.sum(x * np.asarray(x > 0, dtype=int))\n", BadInputError, 7),
    ("    return np.sum(np.array(x, dtype=float, copy=True))\n", NoDerivativeError, 7),
    ("    return np.sum(np.array(x, float, order='C'))\n", NoDerivativeError, 7),
    ("    return np.sum(np.array(x, float, True))\n", BadInputError, 7),
    ("    return np.sum(np.array(dtype=float) * x)\n", BadInputError, 7),
    ("    return np.sum(np.asarray(x, float, a=x))\n", BadInputError, 7),
    (
        "    return np.sum(np.array([x, 1.0], dtype=np.float32))\n",
        NonDifferentiableError,
        7,
    ),
    ("    return np.sum(x.flatten('F'))\n", BadInputError, 7),
    ("    i = np.where(x > 0)\n    return np.sum(x[i])\n", UnsupportedSyntaxError, 7),
    # unpacking: a number, or a tuple of another length
    ("    a, b = 1.0\n    return x * a\n", UnsupportedSyntaxError, 7),
    ("    a, b = (1, 2, 3)\n    return x * a\n", UnsupportedSyntaxError, 7),
    # enumerate() takes a start, zip() a strict= known when compiling
    (
        "    for a, b in zip(x, x, fill=0.0):\n        x = a * b\n    return x\n",
        UnsupportedSyntaxError,
        7,
    ),
    (
        "    for i, a in enumerate(x, 1, 2):\n        x = a * i\n    return x\n",
        UnsupportedSyntaxError,
        7,
    ),
    # a refused op whose result enters only another constant op (its
    # derivative was dropped: stop 28)
    (
        "    return np.sum(x.astype(np.float32).astype(np.float32))\n",
        NonDifferentiableError,
        7,
    ),
    (
        "    y = (x % 3.0) * 2.0\n    return np.sum(y % 5.0)\n",
        NonDifferentiableError,
        7,
    ),
    ("    return np.sum((x % 3.0).astype(float))\n", NonDifferentiableError, 7),
    ("    return np.sum(np.float32(x).astype(float))\n", NonDifferentiableError, 7),
    # numpy's scalar types: float32 of a value depending on wrt (as .astype),
    # complex ones
    ("    return np.float32(x) * 2.0\n", NonDifferentiableError, 7),
    ("    return np.sum(x * np.complex128(1.0 * len(x)))\n", NoDerivativeError, 7),
    # np.nonzero's tuple of index arrays is read only as a whole index
    ("    i = np.nonzero(x > 0)\n    return np.sum(x[i])\n", UnsupportedSyntaxError, 7),
    ("    return np.sum(x[np.nonzero(x > 0), 0])\n", UnsupportedSyntaxError, 7),
    ("    return np.sum(x[(x > 0).nonzero()[0]])\n", UnsupportedSyntaxError, 7),
    ("    return np.sin(x, x)\n", BadInputError, 7),
    # np.clip takes both a_min and a_max, or neither (then min=, max=)
    ("    return np.sum(np.clip(x, 0.0))\n", BadInputError, 7),
    ("    return np.sum(np.clip(x, a_max=1.0, max=2.0))\n", BadInputError, 7),
    ("    return np.sum(np.clip(x, 0.0, 1.0, min=0.5))\n", BadInputError, 7),
    ("    return np.sum(x.clip(0.0, min=0.5))\n", NoDerivativeError, 7),
    ("    return np.random.rand(3) * x\n", NoDerivativeError, 7),
    ("    y = x * 2\n", UnsupportedSyntaxError, 7),
    ("    return x\n    y = x\n", UnsupportedSyntaxError, 8),
    ("    return helper(x, z=1.0)\n", BadInputError, 7),
    ("    return helper()\n", BadInputError, 7),
    ("    return len\n", UnsupportedSyntaxError, 7),
    # numpy's third positional parameter of a reduction is dtype or out
    ("    return np.sum(np.max(x, 0, True))\n", BadInputError, 7),
    ("    return np.sum(x.sum(0, None))\n", BadInputError, 7),
    # Python refuses reversed() of a zip or of a reversed (no len), and so
    # does symgrad
    (
        "    for a, b in reversed(zip(x, x)):\n        x = a * b\n    return x\n",
        UnsupportedSyntaxError,
        7,
    ),
    (
        "    for a in reversed(reversed(x)):\n        x = x * a\n    return x\n",
        UnsupportedSyntaxError,
        7,
    ),
    # a loop over a sequence it changes would read entries symgrad fixed at
    # the loop's start
    (
        "    v = [x]\n    for a in v:\n        v.append(a * 2)\n    return a\n",
        UnsupportedSyntaxError,
        8,
    ),
    (
        "    y = x * 1.0\n    for a in reversed(y):\n        y[0] = a\n"
        "    return np.sum(y)\n",
        UnsupportedSyntaxError,
        8,
    ),
    # `+=` on a list's entry adds into the array it holds, which `a` also
    # names (it gave the value and gradient of `a` unchanged)
    (
        "    a = x * 1\n    v = [a]\n    v[0] += 1.0\n    return np.sum(a * x)\n",
        UnsupportedSyntaxError,
        9,
    ),
    ("    v = [x]\n    v[0] -= x\n    return np.sum(x)\n", UnsupportedSyntaxError, 8),
    # a dictionary's entry, refused at its line (it failed in the gradient)
    ("    return np.sum(x['a'])\n", UnsupportedSyntaxError, 7),
    # a tuple's entry assigned (Python raises TypeError; an InternalError)
    (
        "    t = (x, x)\n    t[0] = x\n    return np.sum(t[1])\n",
        UnsupportedSyntaxError,
        8,
    ),
    (
        "    t = (x, x)\n    t[0] += x\n    return np.sum(t[1])\n",
        UnsupportedSyntaxError,
        8,
    ),
]


@pytest.mark.parametrize("body, kind, line", MORE_AT_FIRST_USE)
def test_more_first_use_errors(tmp_path, body, kind, line):
    helper = "def helper(v, w=2.0):\n    return v * w\n\n\n"
    module, path = load(tmp_path, "@symgrad.grad\ndef f(x):\n" + body + "\n\n" + helper)
    with pytest.raises(kind) as info:
        module.f.grad(np.ones(3))
    assert (info.value.loc.file, info.value.loc.line) == (path, line)


def test_integer_inputs_get_float_gradients(tmp_path):
    module, _ = load(
        tmp_path, "@symgrad.grad\ndef f(x):\n    return np.sum(x**2) / 2\n"
    )
    grad = module.f.grad(np.array([1, 2, 3]))
    assert grad.dtype == np.float64
    np.testing.assert_array_equal(grad, [1.0, 2.0, 3.0])
    assert module.f.grad(3) == 3.0
    assert symgrad.grad(unused_int).grad(np.array([1, 2])).dtype == np.float64


def unused_int(x):
    return 1.0


def test_nan_and_inf_propagate(tmp_path):
    module, _ = load(tmp_path, "@symgrad.grad\ndef f(x):\n    return np.sum(x * x)\n")
    with np.errstate(all="ignore"):
        value, grad = module.f.f_and_grad(np.array([np.nan, np.inf, 1.0]))
    assert np.isnan(value)
    assert np.isnan(grad[0]) and np.isinf(grad[1]) and grad[2] == 2.0


NAN, INF = np.nan, np.inf


@pytest.mark.parametrize(
    "expr, grad",
    [
        ("np.sin(x) / (x * 0.0)", [NAN, NAN, NAN]),
        ("x / 0.0", [INF, INF, INF]),
        ("0.0 * x / 0.0", [NAN, NAN, NAN]),
        ("np.log(x * 0.0)", [NAN, NAN, NAN]),
        ("np.arctanh(x * 0.0 + 1.0)", [NAN, NAN, NAN]),
        ("np.sin(x) / (x - x)", [NAN, NAN, NAN]),
        ("np.arctan(1.0 / (x * 0.0))", [NAN, NAN, NAN]),
        ("np.clip(np.sin(x) / (x * 0.0), -1.0, 1.0)", [NAN, NAN, NAN]),
        ("np.power(-2.0, x)", [NAN, NAN, NAN]),
    ],
)
def test_a_division_by_zero_folded_by_sympy_runs_as_numpy_does(tmp_path, expr, grad):
    """An expression sympy folds to an infinity, nan or a complex number for
    every x (1/0, log(0), 0/0, log(-2)) is differentiated one operation at a
    time with its numbers as values: value and gradient are what numpy's
    chain rule gives, with numpy's warnings (it was an InternalError, or a
    gradient of 0 for a function that is nowhere finite)."""
    body = f"@symgrad.grad\ndef f(x):\n    return np.sum({expr})\n"
    module, _ = load(tmp_path, body)
    x = np.array([-2.0, 0.5, 3.0])
    with pytest.warns(RuntimeWarning):
        value, gradient = module.f.f_and_grad(x)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(value, module.f(x))
    np.testing.assert_array_equal(gradient, grad)


@pytest.mark.parametrize(
    "body, line",
    [
        ("    i = x * 2\n    return x[i]\n", 8),
        ("    n = x * 3.0\n    return np.sum(np.zeros(n) + x)\n", 8),
        ("    return np.sum(np.reshape(x, x))\n", 7),
        ("    return np.sum((x, x))\n", 7),
        ("    return np.sum(x % 2.0)\n", 7),
        ("    return np.sum(~x)\n", 7),
        ("    m = x > 0\n    return np.sum(x & m)\n", 8),
        ("    y = x * 2\n    return np.sum(np.asarray((y, x)))\n", 8),
        ("    return np.sum(np.arange(x[0], 3.0))\n", 7),
    ],
)
def test_values_computed_from_wrt_cannot_be_indices_or_shapes(tmp_path, body, line):
    module, path = load(tmp_path, "@symgrad.grad\ndef f(x):\n" + body)
    with pytest.raises(NonDifferentiableError) as info:
        module.f.grad(np.ones(3))
    assert (info.value.loc.file, info.value.loc.line) == (path, line)
    assert "depend" in info.value.message and " x" in info.value.message


def test_a_lambda_as_a_custom_rule_is_refused_at_its_line(tmp_path):
    body = "@symgrad.rule(grad=lambda x: 2 * x)\ndef sq(x):\n    return x * x\n"
    with pytest.raises(BadInputError) as info:
        load(tmp_path, body, name="lambda_rule")
    path = tmp_path / "lambda_rule.py"
    assert str(info.value).startswith(
        f"{path}:5:20: error: symgrad.rule: grad must be a function defined with "
        "'def' (the generated code calls it by name), got <lambda>\n"
        "    @symgrad.rule(grad=lambda x: 2 * x)\n"
        "                       ^"
    )


def test_numpy_functions_defined_in_the_prelude_refuse_what_they_ignore(tmp_path):
    body = (
        "def f(x):\n    return np.var(x, dtype=np.float32)\n\n\n"
        "def g(x):\n    return np.linalg.norm(x, 1)\n\n\n"
        "def h(x):\n    return np.sum(np.linalg.pinv(np.eye(2)) @ x)\n"
    )
    module, path = load(tmp_path, body, name="prelude_misuse")
    with pytest.raises(NoDerivativeError) as info:
        symgrad.grad(module.f).f_and_grad(np.ones(2))
    assert str(info.value).startswith(
        f"{path}:6:28: error: symgrad differentiates var() only with dtype=None"
    )
    with pytest.raises(
        NoDerivativeError, match=r":10:30: error: .*norm\(\) only with ord"
    ):
        symgrad.grad(module.g).f_and_grad(np.ones(2))
    with pytest.raises(NoDerivativeError, match="'np.linalg.pinv' is not a function"):
        symgrad.grad(module.h).f_and_grad(np.ones(2))


@pytest.mark.parametrize(
    "call, message",
    [
        ('np.einsum("ii->", x)', "np.einsum('ii->'): a letter repeats within 'ii'"),
        ('np.einsum("ij,jk", x, x)', "need an explicit output ('->')"),
        ('np.einsum("...j,j->...", x, x)', "only letters are supported"),
        ('np.einsum("ij,j->i", x)', "name 2 operands, the call gives 1"),
        (
            'np.einsum("ij->", x, optimize=True)',
            "takes its subscripts as a string, written in the call",
        ),
    ],
)
def test_einsum_beyond_the_rule_is_refused_at_the_call(tmp_path, call, message):
    body = f'spec = "ij->"\n\n\n@symgrad.grad\ndef f(x):\n    return np.sum({call})\n'
    module, path = load(tmp_path, body, name="einsum_misuse")
    with pytest.raises(NoDerivativeError) as info:
        module.f.f_and_grad(np.ones((2, 2)))
    assert str(info.value).startswith(f"{path}:10:19: error: ")
    assert message in str(info.value)


def test_a_write_through_a_view_says_both_ways_out(tmp_path):
    """The hint names both fixes: a copy changes the view alone, so it is not
    offered as the only way (it would silently leave `y` unchanged)."""
    body = (
        "@symgrad.grad\ndef f(x):\n    y = np.zeros(4)\n    z = y[1:]\n"
        "    z[0] = x\n    return np.sum(y)\n"
    )
    module, path = load(tmp_path, body)
    with pytest.raises(UnsupportedSyntaxError) as info:
        module.f.f_and_grad(1.0)
    assert str(info.value).startswith(
        f"{path}:9:5: error: assignment into 'z', which may share memory with 'y' "
        "(one array bound to both names, or a view of one or the other)\n"
    )  # (the message named no other name: a tester found 'y' hard to find)
    assert str(info.value).endswith(
        "hint: to change 'z' alone, make it a new array first, z = np.copy(z) (or "
        "make 'y' a copy, np.copy(...), where bound); to change both, write into "
        "the array they share by its own name"
    )


def test_a_write_seen_through_a_tuple_names_the_tuple(tmp_path):
    # the hint offered "make 'pair' a copy, np.copy(...)", which makes the
    # tuple an array (tester)
    body = (
        "@symgrad.grad\ndef f(x):\n    z = x * 1.0\n    pair = (z, 1.0)\n"
        "    z[0] = 3.0\n    return np.sum(pair[0])\n"
    )
    module, path = load(tmp_path, body)
    with pytest.raises(UnsupportedSyntaxError) as info:
        module.f.f_and_grad(np.ones(2))
    assert str(info.value) == (
        f"{path}:9:5: error: assignment into 'z', which may share memory with the "
        "tuple 'pair', which holds it\n    z[0] = 3.0\n    ^\nhint: to change 'z' "
        "alone, make it a new array first, z = np.copy(z); to change both, write "
        "into the array they share by its own name"
    )


def test_an_index_is_named_only_when_the_source_names_it(tmp_path):
    """`x[i]` names `i`; `x[x[0]]` has no name for its index (symgrad's own
    temporary is not shown), so the message points at the expression."""
    cases = [
        (
            "    i = x * 2\n    return x[i]\n",
            "'i' depends on x but is used as an index",
        ),
        ("    return x[x[0]]\n", "an index here depends on x"),
    ]
    for body, message in cases:
        module, _ = load(tmp_path, "@symgrad.grad\ndef f(x):\n" + body)
        with pytest.raises(NonDifferentiableError) as info:
            module.f.grad(np.ones(3))
        assert info.value.message == message + ", where no derivative exists"


def test_a_call_made_for_what_it_changes_says_so(tmp_path):
    """`add(ys, v)`, a helper appending to the caller's list, is not said to
    have no effect: it has one, which symgrad does not follow."""
    body = (
        "def add(items, v):\n    items.append(v)\n\n\n"
        "@symgrad.grad\ndef f(x):\n    ys = []\n    add(ys, x)\n    return x\n"
    )
    with pytest.raises(UnsupportedSyntaxError) as info:
        load(tmp_path, body)
    assert info.value.message.startswith("the result of this call is not used")
    assert "return the new value from the function" in str(info.value)
    with pytest.raises(UnsupportedSyntaxError) as info:
        load(tmp_path, "@symgrad.grad\ndef f(x):\n    print(x)\n    return x\n")
    assert info.value.message == "print() is not supported in a differentiated function"
    assert info.value.hint.endswith("with it, has_aux=True (return loss, aux)")
    # an expression that is no call (it read `.func` of it: a raw AttributeError)
    for line in ("x * 2.0", "...", "x if x > 0 else -x"):
        with pytest.raises(UnsupportedSyntaxError) as info:
            load(tmp_path, f"@symgrad.grad\ndef f(x):\n    {line}\n    return x * x\n")
        assert info.value.message.startswith("an expression statement has no effect")
        assert (info.value.loc.line, info.value.loc.col) == (7, 4)


def test_a_tuple_of_arrays_of_different_shapes_is_named_at_its_line(tmp_path):
    """`W, b = params` read also as a whole (`len`): the cotangent of params
    is the stacked array of its entries', which arrays of different shapes
    do not have; the error names the line (it was a raw numpy ValueError
    inside emitted code). Only unpacked, it has a tuple of gradients
    (tests/test_api.py)."""
    body = (
        "@symgrad.grad\ndef f(params, X):\n    W, b = params\n"
        "    return np.sum(np.tanh(X * W + b)) * len(params)\n"
    )
    module, path = load(tmp_path, body)
    with pytest.raises(BadInputError) as info:
        module.f.grad((np.ones(2), np.zeros((3, 1))), np.ones((3, 2)))
    assert str(info.value).startswith(f"{path}:7:5: error: f: a list or tuple")
    assert "holds arrays of shapes (2,), (3, 1)" in str(info.value)
    same = module.f.grad((np.ones(2), np.zeros(2)), np.ones((3, 2)))
    assert np.shape(same) == (2, 2)


@pytest.mark.parametrize(
    "line, message, hint",
    [
        (
            "    np.exp(x, out=y)",
            "out= is not supported: symgrad differentiates the value a call returns",
            "assign the result instead: y = np.exp(x)",
        ),
        (
            "    y.extend([x])",
            "'y.extend(...)' changes 'y' in place, which symgrad follows only "
            "for a list's append and pop",
            "build a new value instead, for example y = y + more",
        ),
        (
            "    y.insert(0, x)",
            "'y.insert(...)' changes 'y' in place, which symgrad follows only "
            "for a list's append and pop",
            "build a new value instead, for example y = y[:i] + [value] + y[i:]",
        ),
    ],
)
def test_a_call_made_to_change_its_argument_is_named_for_what_it_is(
    tmp_path, line, message, hint
):
    # all three said "symgrad does not follow what a call changes in place
    # (a helper appending to a list)"
    body = f"@symgrad.grad\ndef f(x):\n    y = [x]\n{line}\n    return x\n"
    with pytest.raises(UnsupportedSyntaxError) as info:
        load(tmp_path, body)
    assert info.value.message == message
    assert str(info.value).endswith(f"hint: {hint}")


def test_a_tuple_of_values_used_whole_says_how_it_can_be_read(tmp_path):
    body = (
        "@symgrad.grad\ndef f(x):\n    t = (x, x * 2)\n    u = t + (x,)\n"
        "    return u[2]\n"
    )
    module, _ = load(tmp_path, body)
    with pytest.raises(NonDifferentiableError) as info:
        module.f.grad(1.0)
    assert info.value.message == (
        "a tuple of values that depend on x is differentiated only unpacked "
        "(a, b = t) or read at a constant index (t[0]), not as a whole"
    )


def test_a_caret_after_non_ascii_names_points_at_the_column(tmp_path):
    # ast counts columns in UTF-8 bytes: the caret was 3 places to the right
    body = (
        "@symgrad.grad\ndef f(x):\n    αβγ = x * 2\n" "    return αβγ + np.sinc(αβγ)\n"
    )
    module, path = load(tmp_path, body)
    with pytest.raises(NoDerivativeError) as info:
        module.f.grad(1.0)
    assert str(info.value).startswith(
        f"{path}:8:18: error: no derivative rule for 'np.sinc'\n"
        "    return αβγ + np.sinc(αβγ)\n"
        "                 ^\n"
    )


def test_a_list_of_layers_iterated_is_named_at_its_loop(tmp_path):
    """`for W, b in params`, JAX's list of (W, b) pairs: its cotangent is the
    stacked array, which pairs of a matrix and a vector have none of; the
    accumulator before the loop raised a raw numpy ValueError."""
    body = (
        "@symgrad.grad\ndef f(params, x):\n    h = x\n    for W, b in params:\n"
        "        h = np.tanh(h @ W + b)\n    return np.sum(h)\n"
    )
    module, path = load(tmp_path, body)
    params = [(np.ones((3, 4)), np.ones(4)), (np.ones((4, 2)), np.ones(2))]
    with pytest.raises(BadInputError) as info:
        module.f.grad(params, np.ones(3))
    assert str(info.value).startswith(f"{path}:8:5: error: f: a list or tuple")
    assert "holds arrays of shapes ((3, 4), (4,)), ((4, 2), (2,));" in str(info.value)


def test_an_indexed_list_of_arrays_of_different_shapes_is_named_at_its_line(
    tmp_path,
):
    """`xs[0]` of a list argument: its cotangent buffer has the stacked
    shape, which np.zeros raised a raw ValueError on inside emitted code."""
    body = (
        "@symgrad.grad\ndef f(xs):\n" "    return np.sum(xs[0] * 2.0) + np.sum(xs[1])\n"
    )
    module, path = load(tmp_path, body)
    with pytest.raises(BadInputError) as info:
        module.f.grad([np.ones(2), np.ones(3)])
    assert str(info.value).startswith(f"{path}:7:5: error: f: a list or tuple")
    assert "holds arrays of shapes (2,), (3,)" in str(info.value)
    grad = module.f.grad([np.ones(2), np.ones(2)])
    np.testing.assert_array_equal(grad, [[2.0, 2.0], [1.0, 1.0]])


def test_a_method_is_refused_where_it_is_decorated(tmp_path):
    """A method decorated in its class was accepted, then every call failed
    with a bare TypeError (the object was never passed). A static method's
    function of numbers is fine."""
    body = (
        "class Model:\n    @symgrad.grad\n    def loss(self, x):\n"
        "        return np.sum(x * x)\n\n"
        "    @staticmethod\n    @symgrad.grad\n    def plain(x):\n"
        "        return np.sum(x * x)\n"
    )
    with pytest.raises(BadInputError) as info:
        load(tmp_path, body)
    assert str(info.value).startswith(
        f"{tmp_path / 'bad.py'}:7:5: error: symgrad.grad of the method Model.loss"
    )
    module, _ = load(tmp_path, body.replace("(self, x)", "(x)").replace("loss", "l2"))
    np.testing.assert_allclose(module.Model.plain.grad(np.ones(2)), [2.0, 2.0])


@pytest.mark.parametrize(
    "body",
    [
        "def f(x):\n    return np.sum(np.abs(x * (1 + 2j)) ** 2)\n",
        "Z = 2j\n\n\ndef f(x):\n    return np.sum(x * Z)\n",
        "Z = np.array([1.0, 2j, 3.0])\n\n\ndef f(x):\n    return np.sum(x * Z)\n",
        "Z = (1.0, np.complex128(2j))\n\n\ndef f(x):\n    return np.sum(x * Z[0])\n",
    ],
)
def test_complex_numbers_are_refused_as_such(tmp_path, body):
    module, path = load(tmp_path, body)
    with pytest.raises(UnsupportedSyntaxError) as info:
        symgrad.grad(module.f).grad(np.ones(3))
    assert "complex numbers are not supported" in str(info.value)
    line = body.splitlines().index(next(t for t in body.splitlines() if "return" in t))
    assert (info.value.loc.file, info.value.loc.line) == (path, 5 + line)


def test_a_module_level_list_is_named_as_a_list(tmp_path):
    module, path = load(
        tmp_path, "LST = [1.0, 2.0]\n\n\ndef f(x):\n    return np.sum(x * LST[0])\n"
    )
    with pytest.raises(UnknownNameError) as info:
        symgrad.grad(module.f).grad(np.ones(3))
    assert "'LST', a list at module level, is not a value" in str(info.value)
    assert "make it a tuple or an array" in str(info.value)
    assert (info.value.loc.file, info.value.loc.line) == (path, 9)


@pytest.mark.parametrize(
    "body",
    [
        "    if x > 0:\n        g = lambda t: t * t\n    else:\n"
        "        g = lambda t: t * 3\n    return g(x)\n",
        "    if x > 0:\n        def g(t):\n            return t * t\n"
        "    else:\n        def g(t):\n            return t * 3\n    return g(x)\n",
        "    if x > 0:\n        g = lambda t: t * t\n    return g(x)\n",
    ],
)
def test_a_function_bound_in_a_branch_is_refused_where_it_is_called(tmp_path, body):
    module, path = load(tmp_path, "def f(x):\n" + body)
    with pytest.raises(UnsupportedSyntaxError) as info:
        symgrad.grad(module.f).grad(1.0)
    assert "is bound inside an if/else or a loop" in str(info.value)
    assert (info.value.loc.file, info.value.loc.col) == (path, 11)


def test_an_augmented_assignment_symgrad_cannot_lower_is_named(tmp_path):
    # `k <<= 1` was an InternalError (an op of None)
    body = "@symgrad.grad\ndef f(x):\n    k = 3\n    k <<= 1\n    return x * k\n"
    with pytest.raises(UnsupportedSyntaxError) as info:
        load(tmp_path, body)
    assert info.value.message == "the operator '<<' is not supported by symgrad"


def test_an_error_when_decorating_shows_no_frames_of_symgrads_passes(tmp_path):
    # syntax refused at decoration time showed fence.py's frames, where a
    # compile error shows none
    body = "@symgrad.grad\ndef f(x):\n    with open('a') as fh:\n        pass\n"
    with pytest.raises(UnsupportedSyntaxError) as info:
        load(tmp_path, body + "    return x\n")
    files = {frame.filename for frame in traceback.extract_tb(info.tb)}
    symgrads = {f for f in files if "symgrad" in f and "tests" not in f}
    assert {f.rsplit("/", 1)[-1] for f in symgrads} == {"api.py"}


@pytest.mark.parametrize(
    "expression", ["np.sum(x[i] for i in range(2))", "max(x[i] for i in range(2))"]
)
def test_a_generator_expression_outside_sum_is_refused(tmp_path, expression):
    body = f"@symgrad.grad\ndef f(x):\n    return {expression}\n"
    with pytest.raises(UnsupportedSyntaxError) as info:
        load(tmp_path, body)
    assert info.value.message == "generator expressions are not supported by symgrad"


def test_a_function_used_as_a_value_is_an_error_at_its_line(tmp_path):
    # `f[0]` or `x + f` of a lambda was an InternalError ('Closure' object
    # has no attribute 'name')
    body = (
        "def f(x):\n    g = lambda v: v * 2.0\n    return g[0]\n\n\n"
        "def h(x):\n    g = lambda v: v * 2.0\n    return np.sum(x) + g\n"
    )
    module, path = load(tmp_path, body, name="function_as_value")
    for fn, line, col in [(module.f, 7, 12), (module.h, 12, 24)]:
        with pytest.raises(UnsupportedSyntaxError) as info:
            symgrad.grad(fn).f_and_grad(np.ones(2))
        assert str(info.value).startswith(
            f"{path}:{line}:{col}: error: 'g' is a function (a lambda or a nested "
            "def), used here as a value"
        )


def test_a_recursive_call_is_an_error_at_its_line(tmp_path):
    body = (
        "def f(x, n):\n    return x if n == 0 else f(x * 2.0, n - 1)\n\n\n"
        "def g(x):\n    def inner(y, k):\n"
        "        return y if k == 0 else inner(y, k - 1)\n"
        "    return inner(x, 2)\n"
    )
    module, path = load(tmp_path, body, name="recursive")
    with pytest.raises(UnsupportedSyntaxError) as info:
        symgrad.grad(module.f).f_and_grad(1.0, 2)
    assert str(info.value).startswith(
        f"{path}:6:29: error: recursive call to 'f' is not supported"
    )
    with pytest.raises(UnsupportedSyntaxError, match="recursive call to 'inner'"):
        symgrad.grad(module.g).f_and_grad(1.0)


def test_errors_raised_at_run_time_are_symgrads_importable_classes(tmp_path):
    # (they were classes made anew inside symgrad.api for each function,
    # printed as `symgrad.api._bad_input_errors.<locals>.StackError`, which no
    # caller could import or catch by name: newcomer)
    module, path = load(
        tmp_path,
        """
        def adds_into(a, b):
            a += 1.0
            return np.sum(b * b)


        def gathers(x):
            y = np.zeros(3)
            y[[0, 0]] = x[:2]
            return np.sum(y)


        def reads(xs):
            return np.sum(xs[0]) + np.sum(xs[1] ** 2)


        def vector(x):
            return x * x


        def stacked(x, parts):
            return np.sum(np.concatenate(parts) * x)


        def joined(a, b):
            return np.sum(np.asarray(a + b) ** 2)
        """,
    )
    x = np.array([1.0, 2.0, 3.0])
    calls = [
        (
            lambda: symgrad.grad(module.adds_into, wrt=(0, 1)).grad(x, x),
            errors.SharedArgumentsError,
            7,
        ),
        (lambda: symgrad.grad(module.gathers).grad(x), errors.RepeatedIndexError, 13),
        (lambda: symgrad.grad(module.reads).grad([x, x[:2]]), errors.StackError, 18),
        (lambda: symgrad.hessian(module.vector).hessian(x), errors.NotANumberError, 0),
        # (raised by the forward code, which has no `# grad of:` comments: the
        # check is passed its line)
        (
            lambda: symgrad.grad(module.stacked).grad(x, [x, x[:1]]),
            errors.StackError,
            26,
        ),
        (lambda: symgrad.grad(module.joined).grad([1.0], [2.0]), errors.JoinError, 30),
    ]
    for call, error, line in calls:
        with pytest.raises(error) as info:
            call()
        assert type(info.value) is error
        assert "<locals>" not in type(info.value).__qualname__
        assert isinstance(info.value, BadInputError)
        if line:
            assert str(info.value).startswith(f"{path}:{line}:")


def test_abs_of_a_complex_value_is_refused_where_differentiated(tmp_path):
    # numpy's sign of a complex number is x / |x|, which made the gradient of
    # np.abs(x * c) complex, and wrong, for a real x (adversarial tester:
    # 1.414j for 1.414); |z| has no complex derivative
    module, path = load(
        tmp_path,
        """
        def scaled(x, c):
            return np.sum(np.abs(x * c))


        def of_a_product(A, x):
            return np.sum(np.abs(A @ x))


        def of_floats(x, c):
            return abs(x * c)
        """,
    )
    x = np.array([1.0, 2.0])
    A = np.array([[1.0 + 1.0j, 2.0], [0.5j, 1.0]])
    calls = [
        (lambda: symgrad.grad(module.scaled).grad(x, np.array([1 + 1j, 2.0])), 7),
        (lambda: symgrad.grad(module.of_a_product, wrt=1).grad(A, x), 11),
        (lambda: symgrad.grad(module.of_floats).grad(1.0, 1 + 1j), 15),
        (lambda: symgrad.jvp(module.scaled).jvp(x, 1j * x, tangents=x), 0),
    ]
    for call, line in calls:
        with pytest.raises(errors.ComplexError, match="abs of a complex value") as info:
            call()
        if line:
            assert str(info.value).startswith(f"{path}:{line}:")
    # real values as before
    c = np.array([-1.0, 2.0])
    assert symgrad.grad(module.scaled).grad(x, c).tolist() == [1.0, 2.0]
    value, grad = symgrad.grad(module.of_floats).f_and_grad(-2.0, 3.0)
    assert (value, grad) == (6.0, -3.0)
    # a Hessian differentiates the gradient's `_slope` (it had no rule)
    assert symgrad.hessian(module.of_floats, wrt=0).hessian(-2.0, 3.0) == 0.0


def test_a_path_returning_none_raises_when_it_runs(tmp_path):
    # `return None` on one path gave the value None and a gradient of zeros
    # there (tester, reviewer: also through a helper, a conditional
    # expression, a name bound to None); a bare `return` is refused
    module, path = load(
        tmp_path,
        """
        def positive_part(x):
            if np.sum(x) > 0:
                return np.sum(x)
            return None


        def bare(x):
            if x > 0:
                return


            return x


        def sentinel(x):
            if x > 0:
                return None
            return x


        def through_a_helper(x):
            return sentinel(x)


        def chosen(x, c):
            return np.sum(x) if c else None


        def tested(x):
            h = sentinel(x)
            if h is None:
                return x * 2.0
            return h * 3.0
        """,
    )
    x = np.array([1.0, 2.0])
    calls = [
        (module.positive_part, (x,), (-x,)),
        (module.through_a_helper, (-1.0,), (1.0,)),
        (module.through_a_helper, (np.float64(-1.0),), (np.float64(1.0),)),
        (module.chosen, (x, True), (x, False)),
    ]
    for fn, fine, none in calls:
        g = symgrad.grad(fn)
        symgrad.check_grad(g, *fine)
        with pytest.raises(SeedError, match="returned None, which has no gradient"):
            g.f_and_grad(*none)
    with pytest.raises(UnsupportedSyntaxError, match=f"{path}:14:9: error: a bare"):
        symgrad.grad(module.bare).f_and_grad(1.0)
    g = symgrad.grad(module.tested)
    assert g.f_and_grad(2.0) == (4.0, 2.0) and g.f_and_grad(-2.0) == (-6.0, 3.0)


def test_a_misspelt_library_function_is_named_with_the_names_it_may_mean(tmp_path):
    # `np.tahn` and `np.linalg.eigh` were both "not a function symgrad knows",
    # without a hint (tester)
    module, path = load(
        tmp_path,
        """
        def misspelt(x):
            return np.sum(np.tahn(x))


        def in_math(x):
            return math.sinn(x)


        def in_linalg(x):
            return np.linalg.nrom(x)


        def without_a_rule(x):
            return np.sum(np.linalg.eigh(x)[0])
        """,
    )
    cases = [
        (module.misspelt, UnknownNameError, 7, 19, "did you mean np.tan, np.tanh"),
        (module.in_math, UnknownNameError, 11, 12, "did you mean math.sin, "),
        (module.in_linalg, UnknownNameError, 15, 12, "did you mean np.linalg.norm?"),
        (module.without_a_rule, NoDerivativeError, 19, 19, "@symgrad.rule"),
    ]
    for fn, error, line, col, hint in cases:
        with pytest.raises(error) as info:
            symgrad.grad(fn).f_and_grad(np.eye(2))
        assert str(info.value).startswith(f"{path}:{line}:{col}: error: ")
        assert hint in info.value.hint
        if fn is module.misspelt:
            assert "'np.tahn' does not exist: numpy has no 'tahn'" in str(info.value)


def test_a_seed_passed_by_position_to_grad_says_it_is_keyword_only(tmp_path):
    module, _ = load(tmp_path, "@symgrad.grad\ndef f(x, c=2.0):\n    return x * c\n")
    message = r"f.grad\(\) takes 2 positional arguments but 3 were given \(the seed"
    with pytest.raises(TypeError, match=message):
        module.f.grad(np.ones(2), 1.0, np.ones(2))
    with pytest.raises(TypeError, match="unexpected keyword argument 'd'"):
        module.f.grad(np.ones(2), d=1.0)  # (Python's own message otherwise)
    assert np.array_equal(module.f.grad(np.ones(2), 3.0, seed=np.ones(2)), [3.0, 3.0])
    # (keyword-only parameters are not counted)
    module, _ = load(tmp_path, "@symgrad.grad\ndef f(x, *, c=2.0):\n    return x * c\n")
    with pytest.raises(TypeError, match=r"f.grad\(\) takes 1 positional argument but"):
        module.f.grad(np.ones(2), np.ones(2))


def test_np_array_to_an_integer_dtype_converts_as_numpy_does(tmp_path):
    body = (
        "@symgrad.grad\ndef f(x, k):\n"
        "    return x * np.sum(np.array([k, 1], dtype=np.uint8))\n"
    )
    module, _ = load(tmp_path, body)
    assert module.f.f_and_grad(1.5, 3) == (6.0, 4.0)
    assert 'np.array([k, 1], dtype="uint8")' in module.f.source
    with pytest.raises(OverflowError):  # (numpy's, as the function's: the
        module.f(1.5, -1)  # cast of an array, .astype, would wrap to 255)
    with pytest.raises(OverflowError):
        module.f.f_and_grad(1.5, -1)


def test_a_wrt_parameter_never_read_is_warned_of_at_its_def(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGRAD_CACHE", "0")  # (warned when compiled)
    body = (
        "W = 2.0\n\n\ndef forward(x):\n    return W * x\n\n\n"
        "@symgrad.grad(wrt=('W', 'x'))\ndef f(W, x, b):\n    return forward(x) + b\n"
    )
    module, path = load(tmp_path, body)
    with pytest.warns(symgrad.SymgradWarning) as record:
        value, (dW, dx) = module.f.f_and_grad(3.0, 1.0, 0.5)
    assert (value, dW, dx) == (2.5, 0.0, 2.0)
    [warning] = record
    assert (warning.filename, warning.lineno) == (path, 13)  # (the def)
    assert str(warning.message) == (
        "'W' is never read by f, so its derivative is 0 (if a helper reads a "
        "module-level 'W', pass it the parameter instead)"
    )
    with pytest.warns(symgrad.SymgradWarning, match="'W' and 'x' are never read"):
        assert "def f_and_jvp" in symgrad.jvp(lambda_free, wrt=(0, 1)).source
    # read (in a nested function too, or by `+=`), or not differentiated: none
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert symgrad.grad(module.f, wrt="x").source
        assert symgrad.grad(reads_in_a_closure, wrt=(0, 1)).source


def lambda_free(W, x):
    return 1.0


def reads_in_a_closure(w, b):
    def inner(t):
        return w * t

    b += 1.0
    return inner(2.0) + b
