"""The public API: decorator forms, wrt, f_and_grad/grad/source/module."""

import enum
import importlib.util
import subprocess
import sys
import warnings

import numpy as np
import pytest
from functions import CASES
from test_cache import count_compiles

import symgrad
import symgrad.api
import symgrad.cache
import symgrad.emit
import symgrad.errors
import symgrad.frontend
import symgrad.source

CASES_BY_NAME = {case.name: case for case in CASES}


def loss(w, b, X, Y):
    return np.mean((w * X + b - Y) ** 2)


def poly(x):
    return x * x + 3 * x + 1


X = np.linspace(-1, 1, 7)
Y = 2 * X - 1


def test_decorator_forms_agree():
    plain = symgrad.grad(loss)
    named = symgrad.grad(wrt="w")(loss)
    indexed = symgrad.grad(loss, wrt=0)
    for g in (plain, named, indexed):
        value, dw = g.f_and_grad(0.5, 0.1, X, Y)
        assert value == loss(0.5, 0.1, X, Y)
        assert dw == pytest.approx(np.mean(2 * (0.5 * X + 0.1 - Y) * X))


def test_tuple_wrt_returns_a_tuple_in_wrt_order():
    g = symgrad.grad(loss, wrt=("b", 0))
    value, grads = g.f_and_grad(0.5, 0.1, X, Y)
    residual = 0.5 * X + 0.1 - Y
    assert isinstance(grads, tuple) and len(grads) == 2
    assert grads[0] == pytest.approx(np.mean(2 * residual))
    assert grads[1] == pytest.approx(np.mean(2 * residual * X))
    single = symgrad.grad(loss, wrt=("w",)).grad(0.5, 0.1, X, Y)
    assert isinstance(single, tuple) and len(single) == 1


def test_calls_like_the_function_and_keeps_its_metadata():
    g = symgrad.grad(poly)
    assert g(4.0) == 29.0
    assert g.__name__ == "poly" and g.__wrapped__ is poly
    assert g.grad(4.0) == 11.0
    assert isinstance(g.grad(4.0), float)


def test_keyword_arguments_reach_the_emitted_function():
    g = symgrad.grad(loss, wrt="w")
    assert g.f_and_grad(0.5, b=0.1, X=X, Y=Y) == g.f_and_grad(0.5, 0.1, X, Y)


def test_too_many_arguments_are_counted_as_the_caller_gave_them():
    # the first call passed `seed=None` on: "... 3 positional arguments (and
    # 1 keyword-only argument) were given", of one the caller did not give
    for method in ("f_and_grad", "grad"):
        with pytest.raises(TypeError, match="takes 1 positional argument but 2 were"):
            getattr(symgrad.grad(poly), method)(4.0, 1.0)


def test_an_argument_missing_names_the_function():
    g = symgrad.grad(loss, wrt="w")
    g.f_and_grad(0.5, 0.1, X, Y)
    for _ in range(2):  # (the first call, through symgrad, and the module's)
        with pytest.raises(TypeError, match=r"^loss\.f_and_grad\(\) missing 1"):
            g.f_and_grad(0.5, 0.1, X)
    with pytest.raises(TypeError, match=r"^poly\.f_and_jvp\(\) got an unexpected"):
        symgrad.jvp(poly).f_and_jvp(1.0, tangents=1.0, sead=1.0)


def test_second_call_does_not_compile(monkeypatch):
    g = symgrad.grad(poly)
    g.f_and_grad(1.0)

    def fail(*args, **kwargs):
        raise AssertionError("compiled twice")

    for stage in ("compile_function", "_pipeline"):
        monkeypatch.setattr(symgrad.api, stage, fail)
    monkeypatch.setattr(symgrad.frontend, "lower", fail)
    monkeypatch.setattr(symgrad.emit, "emit_module", fail)
    assert g.f_and_grad(2.0) == (11.0, 7.0)
    assert g.grad(3.0) == 9.0


def test_f_and_grad_is_the_generated_function_after_the_first_call():
    """No wrapper stands between a caller and the emitted code: after the
    first call, `g.f_and_grad` is the module's own function."""
    g = symgrad.grad(poly)
    assert g.f_and_grad(4.0) == (29.0, 11.0)
    assert g.f_and_grad is g.module.f_and_grad
    assert g.f_and_grad(4.0, seed=2.0) == (29.0, 22.0)
    assert g.grad(4.0) == 11.0


@pytest.mark.parametrize("calls_before", [0, 1])
def test_seed_is_keyword_only(calls_before):
    g = symgrad.grad(poly)
    for _ in range(calls_before):
        g.f_and_grad(1.0)
    with pytest.raises(TypeError):
        g.f_and_grad(4.0, 2.0)


def test_source_and_module():
    g = symgrad.grad(poly)
    assert g.source.startswith('"""Gradient of `poly`')
    assert "def f_and_grad(x, *, seed=None):" in g.source
    assert g.module.f_and_grad(4.0) == (29.0, 11.0)


def test_emitted_module_runs_without_symgrad(tmp_path):
    case = CASES_BY_NAME["mlp_loss"]
    g = symgrad.grad(case.fn, wrt=case.wrt)
    args = case.make_args(np.random.default_rng(0))
    path = tmp_path / "generated.py"
    path.write_text(g.source)
    np.savez(tmp_path / "args.npz", *args)
    script = (
        "import sys\n"
        "sys.modules['symgrad'] = None  # importing symgrad would fail\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import numpy as np, generated\n"
        f"data = np.load({str(tmp_path / 'args.npz')!r})\n"
        "args = [data[f'arr_{i}'] for i in range(len(data.files))]\n"
        "value, grads = generated.f_and_grad(*args)\n"
        "print(repr(float(value)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == pytest.approx(g(*args))


def test_gradient_of_an_input_the_output_ignores_is_zero():
    g = symgrad.grad(ignores_b, wrt=("a", "b"))
    _, (da, db) = g.f_and_grad(1.0, np.ones((2, 3)))
    assert da == 2.0
    assert np.array_equal(db, np.zeros((2, 3)))


def ignores_b(a, b):
    return a * 2.0


def test_seed_scales_the_gradient():
    g = symgrad.grad(poly)
    assert g.grad(4.0, seed=3.0) == 33.0
    vec = symgrad.grad(squares)
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(vec.grad(x, seed=np.array([1.0, 0.5, 2.0])), [2, 2, 12])


def square(x):
    return x**2


def total(x):
    return np.sum(x)


@pytest.mark.parametrize(
    "seed", [np.int8(2), np.int64(2), np.uint64(2), np.array(2, np.int8)]
)
def test_an_integer_numpy_seed_keeps_a_float32_gradient(seed):
    # an integer seed is a Python float: `2.0 * np.int8(2)` is a float64 numpy
    # scalar, and the gradient of a sum was the seed spread, int8 itself
    grad = symgrad.grad(square).grad(np.float32(1.5), seed=seed)
    assert grad == 6.0 and grad.dtype == np.float32
    grad = symgrad.grad(total).grad(np.ones(3, np.float32), seed=seed)
    assert grad.dtype == np.float32
    np.testing.assert_array_equal(grad, [2.0, 2.0, 2.0])
    # an integer array seed takes the output's float dtype
    x = np.full(3, 1.5, np.float32)
    grad = symgrad.grad(square).grad(x, seed=np.full(3, seed, type(seed[()])))
    assert grad.dtype == np.float32
    np.testing.assert_array_equal(grad, [6.0, 6.0, 6.0])


def test_a_reduced_output_checks_a_missing_seed_inline():
    # np.mean over every axis is a number: no seed means 1.0 without a call;
    # a seed given still goes through _check_seed
    g = symgrad.grad(loss, wrt=("w", "b"))
    assert (
        "    if seed is None:\n"
        "        seed = 1.0\n"
        "    else:\n"
        '        seed = _check_seed("loss", seed, out)\n'
    ) in g.source
    value, (dw, db) = g.f_and_grad(0.5, 0.1, X, Y)
    _, (dw3, db3) = g.f_and_grad(0.5, 0.1, X, Y, seed=3.0)
    assert (dw3, db3) == (pytest.approx(3 * dw), pytest.approx(3 * db))
    with pytest.raises(symgrad.errors.SeedError, match="the seed has shape"):
        g.f_and_grad(0.5, 0.1, X, Y, seed=np.ones(2))
    # an output that may be an array keeps the call
    assert "    seed = _check_seed(" in symgrad.grad(squares).source


def squares(x):
    return x**2


def transposed_sum(x):
    return np.sum(np.sum(x.T, axis=0) * np.arange(2.0))


def plain_sum(x, y):
    return np.sum(x + y)


def identity(x):
    return x


SHADOWS = (
    """
import numpy as np
import symgrad

k = 5.0


def h(x):
    return k * x


def mk(k):
    def scaled(x):
        return k * x

    return scaled


def build(k1, k2):
    h1, h2 = mk(k1), mk(k2)

    def f(x):
        return np.sum(h1(x) + h2(x))

    return symgrad.grad(f)


def shadowed():
    k = 2.0

    def f(x):
        return np.sum(k * x + h(x))

    return symgrad.grad(f)
"""
    + "".join(
        f"\nK{i} = {i}.0\n\ndef c{i}(x):\n    return K{i} * x\n" for i in range(30)
    )
    + (
        "\n\n@symgrad.grad\ndef wide(x):\n    return "
        + " + ".join(f"c{i}(x)" for i in range(30))
        + "\n"
    )
)


def test_values_of_one_name_from_two_scopes_stay_two(tmp_path, monkeypatch):
    """Two closures of one def holding k = 2 and 3, or a closure's k next to
    a module's k, were one emitted constant (f's value 24 for 30); the cache
    key read the first closure only; and a helper's constant could be left
    out of the per-call check (ids of freed objects were reused)."""
    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    path = tmp_path / "shadows.py"
    path.write_text(SHADOWS)
    spec = importlib.util.spec_from_file_location("shadows", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    x = np.array([1.0, 2.0, 3.0])
    value, grad = m.build(2.0, 3.0).f_and_grad(x)
    assert value == 30.0 and np.all(grad == 5.0)
    value, grad = m.shadowed().f_and_grad(x)
    assert value == 42.0 and np.all(grad == 7.0)
    keys = {
        symgrad.cache.compute_key(g._src, g.wrt, g.wrt_is_tuple, "0")
        for g in (m.build(2.0, 3.0), m.build(2.0, 4.0))
    }
    assert len(keys) == 2
    assert m.wide.grad(1.0) == sum(range(30))
    assert {f"K{i}" for i in range(30)} <= {name for _, name, _, _ in m.wide._bindings}
    m.K10 = 0.0
    assert m.wide.grad(1.0) == sum(range(30)) - 10


def mlp_params(params, X, y):
    W1, b1, W2, b2 = params
    h = np.tanh(X @ W1 + b1)
    return np.mean((h @ W2 + b2 - y) ** 2)


def unused_entry(params, x):
    a, _, c = params
    return np.sum(a * x) + c**2


def reads_twice(params, x):
    a, b = params
    return np.sum(a * x) + np.sum(a * a) * b + b


def unpacked_twice(params, x):
    W, b = params
    V, _ = params  # (stop 28: an array of the two gradients stacked, not a tuple)
    return np.sum(np.tanh(W @ x + b)) + np.sum(V**2)


def first_unpacking_unused(params, x):
    W, b = params
    n = W.shape[0]  # (only a shape: no derivative flows through W, b)
    V, c = params
    return np.sum(V @ x + c) / n


def params_in_a_branch(params, x):
    W, b = params
    if params:  # (a top-level statement reading params that is no assignment)
        return np.sum(W @ x + b)
    return 0.0


def test_params_unpacked_twice_where_the_first_has_no_derivative():
    # the gradient was built at the first unpacking, which had none: zeros
    # (and a branch reading params crashed the compiler)
    params, x = (np.eye(2) * 0.5, np.array([1.0, -2.0])), np.array([0.3, 0.7])
    dW, db = symgrad.grad(first_unpacking_unused).grad(params, x)
    np.testing.assert_allclose(dW, np.tile(x, (2, 1)) / 2)
    np.testing.assert_allclose(db, [0.5, 0.5])
    dx = symgrad.grad(params_in_a_branch, wrt=1).grad(params, x)
    np.testing.assert_allclose(dx, params[0].sum(axis=0))


@pytest.mark.parametrize("kind", [tuple, list])
def test_a_tuple_of_parameters_has_a_tuple_of_gradients(kind):
    """JAX's `params`: entries of different shapes, unpacked, each get their
    own gradient, in a tuple (a list for a list); an entry nothing reads gets
    zeros. (A StackError before.)"""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    params = kind(
        [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)), 0.3]
    )
    cases = [
        (mlp_params, params, (X, y)),
        (unused_entry, kind([rng.normal(size=3), np.ones((2, 2)), 0.7]), (X[0],)),
        (reads_twice, kind([rng.normal(size=3), 1.5]), (X[1],)),
        (unpacked_twice, kind([rng.normal(size=(2, 3)), rng.normal(size=2)]), (X[2],)),
    ]
    for f, args, rest in cases:
        g = symgrad.grad(f, wrt="params")
        value, grads = g.f_and_grad(args, *rest)
        assert value == f(args, *rest)
        assert type(grads) is kind and len(grads) == len(args)
        wants = symgrad.check.numeric_grad(f, (args, *rest), 0)
        for got, entry, want in zip(grads, args, wants, strict=True):
            assert np.shape(got) == np.shape(entry)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    _, grads = symgrad.grad(unused_entry).f_and_grad(cases[1][1], X[0])
    np.testing.assert_array_equal(grads[1], np.zeros((2, 2)))
    # an array unpacked the same way still has an array gradient
    grads = symgrad.grad(reads_twice).grad(np.array([0.4, 1.5]), 2.0)
    assert isinstance(grads, np.ndarray) and grads.shape == (2,)
    # a gradient never is the seed or another entry's array
    seed = np.ones(3)
    _, (first, second) = symgrad.grad(unpack_sum).f_and_grad(
        kind([X[2], X[3]]), seed=seed
    )
    first[:] = 7.0
    assert np.all(seed == 1.0) and np.all(second == 1.0)


def unpack_sum(params):
    a, b = params
    return a + b


def same_product(params, x):
    a, b = params
    return np.sum(np.tanh(a * x + b * x))


def floor_only(params, x):
    w, b = params
    return np.sum(x * np.floor(w))


def test_the_entries_of_a_tuple_gradient_are_distinct_arrays():
    """`a * x + b * x`: one shared product is both entries' gradient, and
    `_unbroadcast` may hand it back itself (ga is gb, so `ga *= 0` zeroed
    gb; also for wrt=("a", "b")); and no entry with a cotangent (the output
    only through np.floor) was a raw numpy error, or an array."""
    x = np.array([0.5, -1.0, 2.0])
    for kind in (tuple, list):
        _, grads = symgrad.grad(same_product).f_and_grad(kind([x * 0, x * 0]), x)
        assert not np.shares_memory(grads[0], grads[1])
        grads = symgrad.grad(floor_only).grad(kind([np.ones((2, 3)), np.ones(3)]), x)
        assert type(grads) is kind
        assert [np.shape(g) for g in grads] == [(2, 3), (3,)]
        assert not np.any(grads[0]) and not np.any(grads[1])

    ga, gb = symgrad.grad(gate_pair, wrt=("a", "b")).grad(x * 0, x * 0, x)
    assert not np.shares_memory(ga, gb)


def gate_pair(a, b, x):
    return np.sum(np.tanh(a * x + b * x))


def test_gradients_belong_to_the_caller():
    rng = np.random.default_rng(0)
    g = symgrad.grad(transposed_sum).grad(rng.normal(size=(2, 3)))
    g *= 0.5  # writable, not a read-only broadcast view
    gx, gy = symgrad.grad(plain_sum, wrt=(0, 1)).grad(np.ones(3), np.ones(3))
    assert gx is not gy
    seed = np.ones(3)
    assert symgrad.grad(identity).grad(np.zeros(3), seed=seed) is not seed


def test_has_aux_passes_auxiliary_outputs_through(tmp_path):
    path = tmp_path / "aux_module.py"
    path.write_text(
        "import numpy as np\n"
        "import symgrad\n\n\n"
        "@symgrad.grad(wrt=(0, 1), has_aux=True)\n"
        "def f(w, b, x):\n"
        "    z = w * x + b\n"
        "    return np.sum(z * z), (np.max(z), z)\n"
    )
    module = _import(path)
    w, b, x = np.array([1.0, -2.0]), 0.5, np.array([3.0, 1.0])
    (value, (top, z)), (gw, gb) = module.f.f_and_grad(w, b, x)
    assert value == 3.5**2 + 1.5**2 and top == 3.5
    np.testing.assert_array_equal(z, w * x + b)
    np.testing.assert_allclose(gw, 2 * (w * x + b) * x)
    assert gb == 2 * (3.5 - 1.5)
    grads, aux = module.f.grad(w, b, x)
    assert aux[0] == 3.5 and len(grads) == 2
    symgrad.check_grad(module.f, w, b, x)
    assert "aux = (np.max(z), z)" in module.f.source
    assert ", aux), (w_bar, b_bar)" in module.f.source


def test_has_aux_needs_a_pair(tmp_path):
    path = tmp_path / "aux_bad.py"
    path.write_text(
        "import symgrad\n\n\n"
        "@symgrad.grad(has_aux=True)\n"
        "def f(x):\n"
        "    return x * x\n"
    )
    module = _import(path)
    with pytest.raises(symgrad.SymgradError, match=r"\(loss, aux\)") as info:
        module.f.f_and_grad(2.0)
    assert info.value.loc.line == 6


def test_a_tuple_return_without_has_aux_suggests_it(tmp_path):
    path = tmp_path / "aux_hint.py"
    path.write_text(
        "import symgrad\n\n\n" "@symgrad.grad\n" "def f(x):\n" "    return x * x, x\n"
    )
    module = _import(path)
    with pytest.raises(symgrad.SymgradError, match="has_aux=True"):
        module.f.f_and_grad(2.0)


def _import(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


# --- reading a function's source --------------------------------------------

_LAYOUTS = '''import numpy as np
import symgrad


@symgrad.grad(
    wrt="x",
)
def decorated(x):
    y = np.sin(x)
    # a comment in the body

    return y * x
    # a trailing comment


def margin_docstring(x):
    """A docstring whose second line
starts at the margin: code follows, so the cut reaches past it."""
    return x * x


class Model:
    @staticmethod
    def method(x):
        return x * x + 1.0

    other = 1


def margin_bracket(x):
    return np.sum(
        x * x
)


def last(x):
    return x * 3.0
'''


@pytest.mark.parametrize(
    "name, value, slope",
    [
        ("decorated", lambda x: np.sin(x) * x, lambda x: np.cos(x) * x + np.sin(x)),
        ("margin_docstring", lambda x: x * x, lambda x: 2 * x),
        ("method", lambda x: x * x + 1.0, lambda x: 2 * x),
        ("margin_bracket", lambda x: x * x, lambda x: 2 * x),
        ("last", lambda x: 3.0 * x, lambda x: 3.0),
    ],
)
def test_source_is_read_whatever_the_layout(tmp_path, monkeypatch, name, value, slope):
    """The function's lines are found by a cut where its last instruction
    ends (no tokenizing), a bracket closed at the margin included; where the
    code object does not tell where instructions end (Python 3.10), the cut
    at the margin after the last line of code does not parse, and inspect
    finds the lines."""
    import inspect

    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    asked: list[object] = []
    findsource = inspect.findsource
    monkeypatch.setattr(
        symgrad.source.inspect,
        "findsource",
        lambda fn: asked.append(fn.__module__) or findsource(fn),
    )
    path = tmp_path / "layouts.py"
    path.write_text(_LAYOUTS)
    spec = importlib.util.spec_from_file_location("layouts", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["layouts"] = module
    spec.loader.exec_module(module)
    if name == "decorated":
        g = module.decorated
    else:
        fn = module.Model.method if name == "method" else getattr(module, name)
        g = symgrad.grad(fn, wrt="x")
    assert g.f_and_grad(1.5) == pytest.approx((value(1.5), slope(1.5)))
    assert g.source.count("def f_and_grad(") == 1
    # inspect only as the fallback
    old = sys.version_info < (3, 11)
    assert ("layouts" in asked) == (name == "margin_bracket" and old)


def mean_of_the_rest(x):
    return np.mean(x[1:] ** 2) + np.sum(np.mean(x[1:], axis=0))


def test_the_mean_of_an_empty_slice_has_a_gradient() -> None:
    # numpy gives nan (and warns); the gradient of the empty part is empty,
    # not a division by zero
    g = symgrad.grad(mean_of_the_rest)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        value, dx = g.f_and_grad(np.array([2.0]))
        _, dx2 = g.f_and_grad(np.ones((1, 3)), seed=1.0)
    assert np.isnan(value)
    np.testing.assert_array_equal(dx, [0.0])
    np.testing.assert_array_equal(dx2, np.zeros((1, 3)))
    assert "/ _count(" in g.source  # (np.size(t) or 1)
    # the Hessian reads the emitted `_count(t)` back as it was
    H = symgrad.hessian(mean_of_the_rest)
    assert "choice" not in H.source.split("def grad_and_hvp")[1]
    np.testing.assert_allclose(H.hessian(np.array([1.0, 2.0])), [[0, 0], [0, 2]])


def prod_of_all(x):
    return np.prod(x)


def sum_of_row_prods(x):
    return np.sum(np.prod(x, axis=1))


def test_the_prod_of_an_empty_array_has_an_empty_gradient() -> None:
    # np.prod of nothing is 1.0; its gradient is empty, of x's shape (as
    # JAX's), not a reshape error from the support code
    for fn, x in [
        (prod_of_all, np.zeros(0)),
        (sum_of_row_prods, np.zeros((3, 0))),
        (sum_of_row_prods, np.zeros((0, 4))),
        (prod_of_all, np.zeros((2, 0, 3))),
    ]:
        value, dx = symgrad.grad(fn).f_and_grad(x)
        assert value == fn(x)
        assert dx.shape == x.shape and dx.dtype == np.float64
        H = symgrad.hessian(fn).hessian(x)
        assert H.shape == x.shape * 2


PROGRAM = """
import numpy as np
import symgrad

X = np.array([1.0, 2.0])
SCALE = 2.0


def act(z):
    return z * SCALE


@symgrad.grad
def loss(w):
    return np.mean((act(X) * w) ** 2)


@symgrad.grad
def batch_loss(w, X):
    return np.mean((X * w) ** 2)


@symgrad.jvp
def forward(w):
    return np.sum(X * w)
"""


def _program(tmp_path, name, text=PROGRAM):
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _expected(module, w):
    a = module.act(module.X)
    return np.mean((a * w) ** 2), np.mean(2 * a * a * w)


def test_a_changed_global_is_seen_at_the_next_call(tmp_path, monkeypatch):
    """The next minibatch bound to a global, an array changed in place, a
    redefined helper, a rebound constant and a name rebound from one numpy
    function to another: each next call compiles again from the program as
    it stands (it used the first call's values before; a numpy function's
    until this test had its last two steps)."""
    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    m = _program(tmp_path, "program_globals")
    steps = [
        lambda: None,
        lambda: setattr(m, "X", np.array([10.0, 20.0, 30.0])),
        lambda: m.X.__setitem__(0, -4.0),
        lambda: setattr(m, "act", _tripled),
        lambda: setattr(m, "SCALE", 0.5),
        lambda: setattr(m, "act", np.tanh),  # (numpy's functions, rebound, too)
        lambda: setattr(m, "act", np.sin),
    ]
    for step in steps:
        step()
        value, grad = m.loss.f_and_grad(0.5)
        assert (value, grad) == pytest.approx(_expected(m, 0.5))
        _, tangent = m.forward.f_and_jvp(0.5, tangents=1.0)
        assert tangent == pytest.approx(np.sum(m.X))


def _tripled(z):
    return z * 3.0


L2 = 0.01
MODE = "sq"
EPS = np.float64(1e-3)
ONES = np.ones(2)


def _ridge(w, X, y, l2=L2, *, eps=EPS, mode=MODE, c=np.pi):
    r = X @ w - y
    penalty = np.sum(w * w) if mode == "sq" else np.sum(np.abs(w))
    return np.sum(r * r) + l2 * penalty + eps * c


def _with_an_array_default(w, a=ONES):
    return np.sum(w * a)


class _Power(enum.IntEnum):
    SQUARE = 2


TOP, BOTTOM = np.float64(np.inf), -np.inf


def _with_an_enum(w, k=_Power.SQUARE):
    return np.sum(w**k)


def _with_infinities(w, top=TOP, bottom=BOTTOM):
    return np.sum(np.clip(w, bottom, top) ** 2)


def test_defaults_naming_module_constants_are_their_values():
    # `l2=L2` on the decorated function was refused ("parameter defaults must
    # be literal constants"), where a helper's was allowed (testers); the
    # generated signature writes the value Python read when the `def` ran
    g = symgrad.grad(_ridge)
    w, X, y = np.array([1.0, -2.0]), np.eye(2), np.array([0.5, 0.5])
    for kwargs in ({}, {"l2": 0.5}, {"mode": "abs", "eps": 1.0}):
        value, grad = g.f_and_grad(w, X, y, **kwargs)
        assert value == _ridge(w, X, y, **kwargs)
        symgrad.check_grad(_ridge, w, X, y, **kwargs)
    assert (
        '    l2=0.01,\n    *,\n    eps=np.float64(0.001),\n    mode="sq",\n'
        "    c=3.141592653589793,\n" in g.source
    )
    with pytest.raises(symgrad.errors.UnsupportedSyntaxError) as info:
        symgrad.grad(_with_an_array_default).f_and_grad(w)
    assert "the default of 'a' (ONES) is not a number, a string or a tuple" in str(
        info.value
    )
    assert info.value.loc.line == _with_an_array_default.__code__.co_firstlineno
    # an enum's repr is no Python (`k=<_Power.SQUARE: 2>` was a raw SyntaxError
    # in the generated module); an infinity is written `np.float64("inf")`,
    # where it was refused (tester)
    with pytest.raises(symgrad.errors.UnsupportedSyntaxError, match="'k'"):
        symgrad.grad(_with_an_enum).f_and_grad(w)
    h = symgrad.grad(_with_infinities)
    assert h.f_and_grad(w) == (5.0, pytest.approx(2.0 * w))
    assert 'top=np.float64("inf"), bottom=float("-inf"), *' in h.source


@pytest.mark.parametrize("cache", ["0", "1"])
def test_a_module_read_as_an_attribute_is_followed(tmp_path, monkeypatch, cache):
    """`L.act(x) * L.SCALE` of `import helpers_attr as L`: rebinding the
    module's constant or function is seen at the next call, and an edit of
    the module's file gives a new cache entry, not the old module."""
    monkeypatch.setenv("SYMGRAD_CACHE", cache)
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))
    helper = tmp_path / "helpers_attr.py"
    helper.write_text("SCALE = 2.0\n\ndef act(z):\n    return z * z\n")
    path = tmp_path / "uses_attr.py"
    path.write_text(
        "import numpy as np\nimport symgrad\nimport helpers_attr as L\n\n"
        "def loss(w):\n    return np.sum(L.act(w) * L.SCALE)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("helpers_attr", "uses_attr"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import uses_attr as m

    w = np.array([1.0, -3.0])
    g = symgrad.grad(m.loss)
    np.testing.assert_allclose(g.grad(w), 4.0 * w)
    m.L.SCALE = 0.5
    np.testing.assert_allclose(g.grad(w), 1.0 * w)
    m.L.act = np.sin
    np.testing.assert_allclose(g.grad(w), 0.5 * np.cos(w))
    helper.write_text("SCALE = 2.0\n\ndef act(z):\n    return z * z * z\n")
    importlib.reload(m.L)
    np.testing.assert_allclose(symgrad.grad(m.loss).grad(w), 6.0 * w**2)


CLOSURES = """
import numpy as np
import symgrad


def make(scale, act, X):
    def loss(w):
        return scale * np.sum(act(w * X))

    g = symgrad.grad(loss)

    def rebind(new_scale):
        nonlocal scale
        scale = new_scale

    return g, rebind
"""


@pytest.mark.parametrize("cache", ["0", "1"])
def test_a_closure_reads_what_its_enclosing_function_holds(
    tmp_path, monkeypatch, cache
):
    """Two closures of one source differ in what they capture: each gets its
    own gradient (they shared one cache entry); a captured value rebound or
    an array changed in place since is seen at the next call."""
    monkeypatch.setenv("SYMGRAD_CACHE", cache)
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "closures.py"
    path.write_text(CLOSURES)
    spec = importlib.util.spec_from_file_location("closures", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    X = np.array([1.0, 2.0])
    w = np.array([0.3, -0.4])

    def expected(scale, act, d_act):
        return scale * np.sum(act(w * X)), scale * d_act(w * X) * X

    def sech2(z):
        return 1 - np.tanh(z) ** 2

    one, _ = m.make(1.0, np.tanh, X)
    ten, rebind = m.make(10.0, np.tanh, X)
    sine, _ = m.make(1.0, np.sin, X)
    for g, want in [
        (one, expected(1.0, np.tanh, sech2)),
        (ten, expected(10.0, np.tanh, sech2)),
        (sine, expected(1.0, np.sin, np.cos)),
    ]:
        value, grad = g.f_and_grad(w)
        assert value == pytest.approx(want[0])
        np.testing.assert_allclose(grad, want[1])
    rebind(3.0)
    np.testing.assert_allclose(ten.grad(w), expected(3.0, np.tanh, sech2)[1])
    X[:] = [-1.0, 5.0]
    np.testing.assert_allclose(ten.grad(w), expected(3.0, np.tanh, sech2)[1])


def test_a_parameter_named_like_a_global_never_recompiles(tmp_path, monkeypatch):
    """`batch_loss(w, X)` reads its parameter X, not the global X: rebinding
    the global (a loop `for X in batches`) does not compile again."""
    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    m = _program(tmp_path, "program_params")
    calls = count_compiles(monkeypatch)
    for k in range(3):
        m.X = np.arange(3.0) + k
        assert m.batch_loss.grad(0.5, m.X) == pytest.approx(np.mean(m.X**2))
    assert calls[0] == 1
    assert m.batch_loss.f_and_grad is m.batch_loss.module.f_and_grad


def _scaled_norm(w, *, scale=1.0):
    return scale * np.sum(w * w)


def _regularized(w, X, y, *, l2=0.01, mode="sq"):
    r = X @ w - y
    data = np.mean(np.abs(r)) if mode == "abs" else np.mean(r**2)
    return data + _scaled_norm(w, scale=l2)


def _required_option(x, *, a):
    return np.sin(x) * a


def _option_by_position(w):
    return _scaled_norm(w, 2.0)


def test_keyword_only_parameters_are_options_passed_by_name():
    """`def loss(w, X, y, *, l2=0.01, mode="sq")`: the emitted functions keep
    the `*` (refused before), take the options by name, and pass them on in
    the Jacobian, Hessian and verify; a helper's keyword-only parameter is
    bound by its keyword."""
    from symgrad.check import numeric_grad

    rng = np.random.default_rng(5)
    X, y, w = rng.normal(size=(6, 3)), rng.normal(size=6), rng.normal(size=3)
    g = symgrad.grad(_regularized, wrt="w")
    assert 'def f_and_grad(w, X, y, *, l2=0.01, mode="sq", seed=None):' in g.source
    for options in ({}, {"l2": 0.5}, {"l2": 0.5, "mode": "abs"}):
        value, grad = g.f_and_grad(w, X, y, **options)
        assert value == pytest.approx(_regularized(w, X, y, **options))
        numeric = numeric_grad(lambda w, o=options: _regularized(w, X, y, **o), (w,), 0)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    with pytest.raises(TypeError, match="positional"):
        g.f_and_grad(w, X, y, 0.5)  # as Python: an option is named
    H = symgrad.hessian(_regularized, wrt="w")
    expected = 2 * X.T @ X / len(y) + 2 * 0.5 * np.eye(3)
    np.testing.assert_allclose(H.hessian(w, X, y, l2=0.5), expected, atol=1e-12)
    v = rng.normal(size=3)
    np.testing.assert_allclose(H.hvp(w, X, y, l2=0.5, tangents=v), expected @ v)
    J = symgrad.jacobian(_scaled_norm)
    np.testing.assert_allclose(J.jacobian(w, scale=3.0), 6 * w)
    _, tangent = symgrad.jvp(_scaled_norm).f_and_jvp(w, scale=3.0, tangents=v)
    assert tangent == pytest.approx(6 * w @ v)
    assert symgrad.grad(_required_option).f_and_grad(0.5, a=2.0) == pytest.approx(
        (2 * np.sin(0.5), 2 * np.cos(0.5))
    )
    assert symgrad.verify(_regularized, w, X, y, 0.5, "abs").ok
    assert symgrad.verify(_regularized, w, X, y, mode="abs").ok  # (l2: default)
    report = symgrad.verify(_scaled_norm, scale=3.0)  # (shapes guessed; not the
    assert report.ok and "with scale=3.0" in str(report)  # option's: a symbol)
    symgrad.check_grad(g, w, X, y, l2=0.5, mode="abs")


def test_a_keyword_only_parameter_is_not_differentiated_or_given_by_position():
    with pytest.raises(symgrad.errors.BadInputError) as info:
        symgrad.grad(_scaled_norm, wrt="scale")
    assert "wrt names 'scale', a keyword-only parameter" in str(info.value)
    assert "hint: move 'scale' before the `*`" in str(info.value)
    with pytest.raises(symgrad.errors.BadInputError) as info:
        symgrad.grad(_option_by_position).f_and_grad(np.ones(2))
    assert "'_scaled_norm' takes 1 positional arguments, 2 given" in str(info.value)


def test_a_numpy_bool_seed_is_one_as_true_is():
    # np.True_ was refused ("a number or an array of numbers") where True and
    # np.array(True) are taken as 1
    for seed in (np.True_, True, np.array(True)):
        value, grad = symgrad.grad(total).f_and_grad(np.ones(2, np.float32), seed=seed)
        assert grad.dtype == np.float32
        np.testing.assert_array_equal(grad, [1.0, 1.0])


def column_total(x):
    return np.sum(x, axis=0)


def row_mean(x):
    return np.mean(x, axis=-1)


def largest_along(x):
    return np.max(x, axis=0)


def variance_along(x):
    return np.var(x, axis=(0,))


def squares_along(x):
    return np.sum(x * x, axis=0)


@pytest.mark.parametrize(
    "f", [column_total, row_mean, largest_along, variance_along, squares_along]
)
def test_a_vector_reduced_along_its_axis_keeps_a_float32_gradient(f):
    # the output is a float32 number, whose seed 1.0 (a Python float) was put
    # back along the axis as a float64 array
    x = np.array([1.0, 3.0], np.float32)
    value, grad = symgrad.grad(f).f_and_grad(x)
    assert value == f(x) and np.asarray(value).dtype == np.float32
    assert grad.dtype == np.float32
    want = symgrad.grad(f).grad(x.astype(float))
    np.testing.assert_array_equal(grad, want.astype(np.float32))


SIGNED_ZERO_PROGRAM = """
import numpy as np

W = np.array([0.0, 2.0, np.nan])


def loss(x):
    return np.sum(x * np.arctan2(W[:2], -1.0))
"""


def test_a_global_arrays_zero_changed_to_minus_zero_is_seen(tmp_path, monkeypatch):
    # the arrays compared equal (-0.0 == 0.0), so the module kept the value
    # the first call read, where np.arctan2(-0.0, -1.0) is -pi, not pi
    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    m = _program(tmp_path, "signed_zero", SIGNED_ZERO_PROGRAM)
    g = symgrad.grad(m.loss)
    x = np.ones(2)
    assert g.f_and_grad(x)[0] == m.loss(x) > 0
    m.W[0] = -0.0
    value, grad = g.f_and_grad(x)
    assert value == m.loss(x) and grad[0] == -np.pi
    module = g.module
    g.f_and_grad(x)
    assert g.module is module  # (W's nan, the same bits, compiles nothing again)


def test_an_option_given_a_literal_is_decided_when_compiling():
    # `w is None` in a helper called with w=2.0: emitted as `2.0 is None`,
    # Python warned of `is` with a literal on every compile (SyntaxWarning)
    from flow_functions import constant_masks

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        source = symgrad.grad(constant_masks).source
    assert "2.0 is None" not in source


MODES_PROGRAM = """
import numpy as np

MODE = "tanh"
AXIS = -1
SUBSCRIPTS = "ij,j->i"
DOUBLED = ("relu", "elu")


def loss(A, x):
    if MODE == "tanh":
        y = np.tanh(np.einsum(SUBSCRIPTS, A, x))
    else:
        y = np.maximum(A @ x, 0.0)
    if AXIS != -1 and MODE in DOUBLED:
        y = y * 2.0
    return np.sum(y * y)
"""


def test_a_comparison_of_constants_emits_only_the_branch_taken(tmp_path, monkeypatch):
    # a module's string (or tuple of them) was refused ("not a value symgrad
    # can read"), and `AXIS != -1` of literals was computed at run time, both
    # branches emitted
    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    m = _program(tmp_path, "modes", MODES_PROGRAM)
    g = symgrad.grad(m.loss, wrt=1)
    A, x = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([0.3, -0.2])
    body = g.source.split("# Support")[0]
    assert "MODE" not in body and "np.maximum" not in body and "!=" not in body
    assert 'np.einsum("ij,j->i", A, x)' in body
    value, grad = g.f_and_grad(A, x)
    assert value == m.loss(A, x)
    symgrad.check_grad(g, A, x)
    m.MODE, m.AXIS = "relu", 0  # (the module's constants changed: compiled again)
    value, grad = g.f_and_grad(A, x)
    assert value == m.loss(A, x) and "np.maximum" in g.source
    np.testing.assert_allclose(grad, 8.0 * np.maximum(A @ x, 0.0) @ A, rtol=1e-12)


HASH_PROGRAM = """
import numpy as np

SCALE = 2.0


def loss(x, mode):
    return np.sum(x * np.where(mode == "#", SCALE, 1.0))
"""


def test_a_constant_read_after_a_hash_in_a_string_is_declared(tmp_path, monkeypatch):
    # the constants an emitted module declares were found in its code with
    # comments cut at any "#", also one in a string: SCALE was left out
    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    m = _program(tmp_path, "hashes", HASH_PROGRAM)
    value, grad = symgrad.grad(m.loss).f_and_grad(np.ones(2), "#")
    assert value == 4.0 and list(grad) == [2.0, 2.0]


def _plus_one(x):
    return x * x + 1.0


def _plus_two(x):
    return x * x + 2.0


def _plus_three(x):
    return x * x + 3.0


def _sin_three(x):
    return np.sin(x) * 3.0


def _sin_four(x):
    return np.sin(x) * 4.0


def _broken(x):
    return x.no_such_method()


def test_compiling_raises_the_collection_threshold_and_puts_it_back(monkeypatch):
    """Compiling runs with fewer cyclic collections; afterwards, after an
    error, and after compilations in two threads at once, the thresholds are
    the caller's again (even unusual ones)."""
    import gc
    import threading

    seen = []
    pipeline = symgrad.api._pipeline

    def watched(*args, **kwargs):
        seen.append(gc.get_threshold())
        return pipeline(*args, **kwargs)

    monkeypatch.setattr(symgrad.api, "_pipeline", watched)
    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    before = gc.get_threshold()
    try:
        gc.set_threshold(123, 4, 5)
        assert symgrad.grad(_plus_one).source
        assert seen == [(50_000, 4, 5)]
        assert gc.get_threshold() == (123, 4, 5)
        with pytest.raises(symgrad.SymgradError):
            _ = symgrad.grad(_broken).compiled
        assert gc.get_threshold() == (123, 4, 5)
        with pytest.raises(symgrad.SymgradError):
            _ = symgrad.hessian(_broken).module
        assert gc.get_threshold() == (123, 4, 5)

        gc.set_threshold(90_000, 10, 10)  # (a larger threshold is kept)
        assert symgrad.grad(_plus_two).source
        assert seen[-1] == (90_000, 10, 10)
        gc.set_threshold(0, 10, 10)  # (and no automatic collection)
        assert symgrad.grad(_plus_three).source
        assert seen[-1] == (0, 10, 10) and gc.get_threshold() == (0, 10, 10)

        gc.set_threshold(700, 10, 10)
        start = threading.Barrier(2)

        def compile_one(f):
            start.wait()
            assert symgrad.grad(f).source

        threads = [
            threading.Thread(target=compile_one, args=(f,))
            for f in (_sin_three, _sin_four)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert gc.get_threshold() == (700, 10, 10)
        assert len(seen) == 6  # (the hessian of `_broken` fails before it)
    finally:
        gc.set_threshold(*before)


def _adds_to_its_argument(a, b):
    a += 1.0
    return np.sum(b * b)


def _writes_an_entry(a, b):
    a[0] = 3.0
    return np.sum(a * b)


def _writes_in_a_loop(y, a, w):
    for t in range(1, len(y)):
        y[t] = a * y[t] + (1 - a) * y[t - 1]
    return np.sum(y * w)


def _writes_in_a_branch(a, b, c):
    if c > 0:
        a[0] = 2.0
    a[1] = 3.0 * c
    return np.sum(a * b)


def _writes_an_entry_of_a_held_array(x, params):
    W, b = params
    x[0] = 5.0
    return np.sum(W * x) + np.sum(b)


def _writes_into_a_list(xs, ys):
    xs[0] = xs[1] * 2.0
    return np.sum(ys[0] * ys[0])


def _writes_a_merge_in_a_loop(a, c, w):
    if c > 0:
        y = a
        a = 0.0
    else:
        y = np.zeros(3)
        a = 1.0
    for i in range(2):
        y[i] = w[i] * 3.0
    return np.sum(y * w) + a


def _adds_floats(x, y):
    x += y
    return x * np.sin(y)


def test_arguments_sharing_memory_with_one_written_are_refused():
    # numpy's write into an argument also changes another argument that
    # shares its memory; the generated code writes into a copy and gave the
    # value of a different program, silently (5.0 for 13.0; adversarial
    # tester).  Such a call is refused at run time, at the line that writes.
    x = np.array([1.0, 2.0])
    g = symgrad.grad(_adds_to_its_argument, wrt=(0, 1))
    with pytest.raises(
        symgrad.errors.BadInputError, match="'a' and 'b' share memory"
    ) as info:
        g.f_and_grad(x, x)
    assert info.value.loc.line == _adds_to_its_argument.__code__.co_firstlineno + 1
    assert "    a += 1.0\n    ^" in str(info.value)
    value, grads = g.f_and_grad(x, x.copy())  # (apart, as before)
    assert value == 5.0 and np.array_equal(grads[1], 2.0 * x)
    B = np.array([[1.0, 2.0], [3.0, 4.0]])
    h = symgrad.grad(_writes_an_entry)
    with pytest.raises(symgrad.errors.BadInputError, match="'a' and 'b' share"):
        h.f_and_grad(B[0], B[:, 0])  # (overlapping views: B[0, 0])
    value, grad = h.f_and_grad(B[0], B[1])  # (rows: apart)
    assert value == 17.0 and np.array_equal(grad, [0.0, 4.0])
    assert np.array_equal(B, [[1.0, 2.0], [3.0, 4.0]])  # (copied, not written)
    y = np.linspace(0.0, 1.0, 6)
    k = symgrad.grad(_writes_in_a_loop, wrt=1)
    with pytest.raises(symgrad.errors.BadInputError, match="'y' and 'w' share"):
        k.f_and_grad(y, 0.3, y[::-1])
    symgrad.check_grad(k, y, 0.3, y + 1.0)
    m = np.array([1.0, 2.0, 3.0])
    # (a loop's copy of a value that may be an argument or a new array: the
    # argument is checked; it was not, 24.0 for the function's 54.0)
    merged = symgrad.grad(_writes_a_merge_in_a_loop, wrt=2)
    with pytest.raises(symgrad.errors.BadInputError, match="'a' and 'w' share"):
        merged.f_and_grad(m, 1.0, m)
    assert merged.f_and_grad(m, 1.0, m.copy())[0] == 24.0  # (apart)
    # (once, first, naming the line of the write in the loop)
    line = _writes_in_a_loop.__code__.co_firstlineno + 2
    assert k.source.count(f'_unshared(("y", "a", "w"), {line}, y, a, w)') == 1
    # the check is made first, whichever path the writes are on (a first
    # write in a branch not taken had the later write go unchecked)
    z = np.array([1.0, 2.0, 3.0])
    with pytest.raises(symgrad.errors.BadInputError, match="'a' and 'b' share"):
        symgrad.grad(_writes_in_a_branch).f_and_grad(z, z, -1.0)
    # inside lists and tuples, by identity for lists, and a list holding one
    # array twice (an argument of different shapes is no error: it raised
    # numpy's ValueError making an array of them)
    held = symgrad.grad(_writes_an_entry_of_a_held_array)
    W = np.ones((2, 3))
    with pytest.raises(symgrad.errors.BadInputError, match="'x' and 'params'"):
        held.f_and_grad(z, (W, z))
    assert held.f_and_grad(z.copy(), (W, z))[0] == 26.0  # (apart: 2 * 10 + 6)
    into = symgrad.grad(_writes_into_a_list)
    rows = [z, z + 1.0]
    with pytest.raises(symgrad.errors.BadInputError, match="'xs' and 'ys'"):
        into.f_and_grad(rows, rows)
    with pytest.raises(symgrad.errors.BadInputError, match="'xs' holds one array"):
        into.f_and_grad([z, z], [W])
    assert into.f_and_grad(rows, [W[0]])[0] == 3.0
    # views made through other objects (a window, a memoryview), a list
    # subclass, a list holding itself (walked once), and many arrays (sorted
    # by address rather than compared in pairs: second tester)
    window = np.lib.stride_tricks.sliding_window_view(z, 2)
    with pytest.raises(symgrad.errors.BadInputError, match="'x' and 'params'"):
        held.f_and_grad(z, (window, z[:1]))
    viewed = np.asarray(memoryview(z))
    with pytest.raises(symgrad.errors.BadInputError, match="'x' and 'params'"):
        held.f_and_grad(z, (W, viewed))

    class Rows(list):
        pass

    subclassed = Rows([z, z + 1.0])
    with pytest.raises(symgrad.errors.BadInputError, match="'xs' and 'ys'"):
        into.f_and_grad(subclassed, (subclassed,))
    looped = [W[0]]
    looped.append(looped)
    assert into.f_and_grad([z, z + 1.0], looped)[0] == 3.0
    M = np.arange(60.0).reshape(20, 3)
    assert into.f_and_grad(list(M), [W[0]])[0] == 3.0  # (20 rows: none shared)
    with pytest.raises(symgrad.errors.BadInputError, match="'xs' holds"):
        into.f_and_grad([*M, M[7]], [W[0]])
    with pytest.raises(symgrad.errors.BadInputError, match="'xs' and 'ys'"):
        into.f_and_grad(list(M), [W[0], M[3]])
    # Python floats share nothing: the float body still runs
    floats = symgrad.grad(_adds_floats, wrt=(0, 1))
    assert "_f_and_grad_floats" in floats.source
    assert floats.f_and_grad(0.5, 0.5) == floats.f_and_grad(*np.array([0.5, 0.5]))
    # (forward mode, and a Hessian, which reads the gradient's module again)
    with pytest.raises(symgrad.errors.BadInputError, match="'a' and 'b' share"):
        symgrad.jvp(_writes_an_entry).jvp(x, x, tangents=np.ones(2))
    assert symgrad.jvp(_writes_an_entry).jvp(x, x + 1, tangents=np.ones(2)) == 3.0
    with pytest.raises(symgrad.errors.BadInputError, match="'y' and 'w' share"):
        symgrad.hessian(_writes_in_a_loop, wrt=1).hessian(y, 0.3, y)
