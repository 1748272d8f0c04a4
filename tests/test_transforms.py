"""Jacobians, Hessians and custom rules.

* Forward- and reverse-mode Jacobians agree, and match central differences,
  on every function of `vector_functions.VECTOR_CASES` (24 functions).
* The Jacobian of a bundle-adjustment reprojection (2 outputs, 15 inputs) in
  each mode, and the mode picked by default.
* The Hessian of Rosenbrock against its analytic form; Hessian-vector products
  without forming the Hessian; the Hessian is built by forward mode over the
  emitted `f_and_grad`, read back as symgrad input.
* Custom rules (`symgrad.rule`) and `symgrad.nondifferentiable` in both
  modes, visible in the emitted code, and the errors for what they lack.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import load_example
from vector_functions import VECTOR_CASES, VectorCase

import symgrad
from symgrad import SymgradError

ROOT = Path(__file__).resolve().parent.parent


def numeric_jacobian(fn, args, indices, h=1e-6):
    """Central-difference Jacobians, shaped output shape + input shape."""
    out = np.asarray(fn(*args), dtype=float)
    blocks = []
    for i in indices:
        x = np.asarray(args[i], dtype=float)
        cols = []
        for j in range(x.size):
            step = np.zeros(x.shape)
            step.flat[j] = h
            up, down = list(args), list(args)
            up[i] = x + step if x.ndim else float(x + h)
            down[i] = x - step if x.ndim else float(x - h)
            cols.append(np.ravel((np.asarray(fn(*up)) - np.asarray(fn(*down))) / 2 / h))
        blocks.append(np.reshape(np.stack(cols, axis=-1), out.shape + x.shape))
    return blocks


def as_blocks(result, wrt):
    return list(result) if isinstance(wrt, tuple) else [result]


def indices_of(case: VectorCase) -> tuple[int, ...]:
    names = case.fn.__code__.co_varnames[: case.fn.__code__.co_argcount]
    wrt = case.wrt if isinstance(case.wrt, tuple) else (case.wrt or names[0],)
    return tuple(names.index(w) for w in wrt)


@pytest.mark.parametrize("case", VECTOR_CASES, ids=[c.name for c in VECTOR_CASES])
def test_forward_and_reverse_jacobians_agree(case: VectorCase) -> None:
    args = case.make_args(np.random.default_rng(zlib.crc32(case.name.encode())))
    fwd = symgrad.jacobian(case.fn, wrt=case.wrt, mode="fwd").jacobian(*args)
    rev = symgrad.jacobian(case.fn, wrt=case.wrt, mode="rev").jacobian(*args)
    expected = numeric_jacobian(case.fn, args, indices_of(case))
    for f, r, e in zip(
        as_blocks(fwd, case.wrt), as_blocks(rev, case.wrt), expected, strict=True
    ):
        assert f.shape == e.shape and r.shape == e.shape
        np.testing.assert_allclose(f, r, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(f, e, rtol=1e-5, atol=1e-6)


def test_the_table_has_twenty_functions_or_more() -> None:
    assert len(VECTOR_CASES) >= 20


# --- the reprojection of bundle adjustment -----------------------------------


@pytest.fixture(scope="module")
def transforms_example():
    return load_example("transforms")


def test_reprojection_jacobian_2_by_15(transforms_example) -> None:
    reproject = transforms_example.reproject
    camera = transforms_example.CAMERA
    expected = numeric_jacobian(reproject, (camera,), (0,), h=1e-6)[0]
    for mode in ("fwd", "rev", None):
        J = symgrad.jacobian(reproject, wrt="params", mode=mode).jacobian(camera)
        assert J.shape == (2, 15)
        np.testing.assert_allclose(J, expected, rtol=1e-6, atol=1e-6)


def test_the_default_mode_picks_reverse_for_few_outputs(transforms_example) -> None:
    calls = {"grad": 0, "jvp": 0}
    module = transforms_example.reproject.module
    real = module.f_and_grad, module.f_and_jvp

    def counting(kind, fn):
        def wrapper(*args, **kwargs):
            calls[kind] += 1
            return fn(*args, **kwargs)

        return wrapper

    module.jacobian.__globals__["f_and_grad"] = counting("grad", real[0])
    module.jacobian.__globals__["f_and_jvp"] = counting("jvp", real[1])
    try:
        transforms_example.reproject.jacobian(transforms_example.CAMERA)
    finally:
        module.f_and_grad, module.f_and_jvp = real
    assert calls == {"grad": 2, "jvp": 1}  # one column learns the shape, then rows


# --- Hessians -----------------------------------------------------------------


def rosenbrock_hessian(x: np.ndarray) -> np.ndarray:
    """The analytic Hessian of sum(100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2)."""
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i, i + 1] -= 400 * x[i]
        H[i + 1, i] -= 400 * x[i]
        H[i + 1, i + 1] += 200
    return H


def test_rosenbrock_hessian_matches_its_analytic_form(transforms_example) -> None:
    rosenbrock = transforms_example.rosenbrock
    rng = np.random.default_rng(7)
    for n in (2, 5, 30):
        x = rng.uniform(-2, 2, n)
        np.testing.assert_allclose(
            rosenbrock.hessian(x), rosenbrock_hessian(x), rtol=1e-12, atol=1e-9
        )


def test_a_hessian_function_gives_the_gradient_too(transforms_example) -> None:
    # newcomer: Newton's method needs the gradient, which only
    # `.module.f_and_grad` gave (no `.grad` on a Hessian)
    rosenbrock = transforms_example.rosenbrock
    x = np.array([-1.2, 1.0, 0.5])
    plain = symgrad.grad(rosenbrock.__wrapped__)
    assert rosenbrock.f_and_grad(x)[0] == rosenbrock(x)
    np.testing.assert_array_equal(rosenbrock.grad(x), plain.grad(x))


def test_hessian_vector_products_never_form_the_hessian(transforms_example) -> None:
    rosenbrock = transforms_example.rosenbrock
    x = np.random.default_rng(3).uniform(-2, 2, 1000)
    v = np.random.default_rng(4).standard_normal(1000)
    np.testing.assert_allclose(
        rosenbrock.hvp(x, tangents=v), rosenbrock_hessian(x) @ v, rtol=1e-10
    )
    source = rosenbrock.source
    hvp_code = source.split("def grad_and_hvp")[1].split("\ndef ")[0]
    assert "for " not in hvp_code and "_basis" not in hvp_code


def test_the_hessian_differentiates_the_emitted_gradient(transforms_example) -> None:
    source = transforms_example.rosenbrock.source
    gradient = source.split("def f_and_grad")[1].split("\ndef ")[0]
    assert gradient in symgrad.grad(transforms_example.rosenbrock).source
    # the second-order code differentiates the gradient's own statements, and
    # writes into the gradient's new array and its tangent in place
    second = source.split("def grad_and_hvp")[1]
    assert (
        "x_bar = _zeros_buffer(x)" in second
        and "x_bar_dot = _zeros_buffer(x)" in second
    )
    assert "x_bar[1:] += t6 * t2" in second and "x_bar_dot[1:] += t2_dot * t6" in second


def test_hessian_of_a_general_function_matches_differences() -> None:
    from functions import CASES

    case = next(c for c in CASES if c.name == "logsumexp")
    args = case.make_args(np.random.default_rng(1))
    H = symgrad.hessian(case.fn).hessian(*args)
    g = symgrad.grad(case.fn)
    expected = numeric_jacobian(lambda *a: g.grad(*a), args, (0,), h=1e-5)[0]
    np.testing.assert_allclose(H, expected, rtol=1e-5, atol=1e-6)


def _gp_evidence(theta, X, y):
    D = (X[:, None] - X[None, :]) ** 2
    K = np.exp(theta[0]) * np.exp(-D / np.exp(theta[1])) + 0.1 * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L)))


def test_a_gaussian_process_evidence_through_cholesky() -> None:
    # the textbook gradient, 0.5 tr((K^-1 - a a^T) dK), and a Hessian (the
    # tangent of the factor's adjoint) against differences of the gradient
    theta = np.array([0.3, -0.4])
    X = np.linspace(-1.0, 1.0, 6)
    y = np.sin(3.0 * X)
    _, grad = symgrad.grad(_gp_evidence, wrt=0).f_and_grad(theta, X, y)
    D = (X[:, None] - X[None, :]) ** 2
    shape = np.exp(theta[0]) * np.exp(-D / np.exp(theta[1]))
    inverse = np.linalg.inv(shape + 0.1 * np.eye(6))
    a = inverse @ y
    inner = inverse - np.outer(a, a)
    dK = [shape, shape * D / np.exp(theta[1])]
    np.testing.assert_allclose(grad, [0.5 * np.sum(inner * d) for d in dK], rtol=1e-9)
    H = symgrad.hessian(_gp_evidence, wrt=0).hessian(theta, X, y)
    g = symgrad.grad(_gp_evidence, wrt=0)
    expected = numeric_jacobian(g.grad, (theta, X, y), (0,), h=1e-5)[0]
    np.testing.assert_allclose(H, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-14)


def _hessian_cases() -> list:
    from flow_functions import FLOW_CASES
    from functions import CASES

    return [
        c
        for c in CASES + FLOW_CASES
        if c.seed is None and (not isinstance(c.wrt, tuple) or len(c.wrt) == 1)
    ]


def test_hessians_of_the_table_are_right() -> None:
    """Hessians of every scalar, one-parameter function of the shared tables
    (straight-line code, branches, loops, in-place writes, products): each
    compiles and matches central differences of the gradient (refusals are
    collected to list them all when the test fails)."""
    from test_functions import draw

    right, refused = [], []
    for case in _hessian_cases():
        try:
            H = symgrad.hessian(case.fn, wrt=case.wrt)
            _ = H.source
        except SymgradError as exc:
            refused.append((case.name, str(exc).splitlines()[0]))
            continue
        args = draw(case, 0)
        g = symgrad.grad(case.fn, wrt=case.wrt)
        (i,) = H.wrt_indices
        expected = numeric_jacobian(g.grad, args, (i,), h=1e-5)[0]
        got = H.hessian(*args)
        scale = 1.0 + np.max(np.abs(expected))
        assert np.shape(got) == np.shape(expected), case.name
        assert np.max(np.abs(got - expected)) <= 1e-4 * scale, case.name
        right.append(case.name)
    assert len(right) >= 150 and not refused, refused


def reads_a_buffer_before_its_last_write(x):
    y = np.zeros(2)
    y[0] = x[0]
    y[1] = np.sum(y * x)
    return y[1] + y[0] * x[1]


def test_hessian_of_emitted_code_that_reads_an_old_version() -> None:
    # the emitted gradient reads y before `_setitem` wrote y[1]: forward mode
    # over it must not write in place
    H = symgrad.hessian(reads_a_buffer_before_its_last_write)
    np.testing.assert_allclose(H.hessian(np.array([0.5, 2.0])), [[2, 1], [1, 0]])


def recurrence(a, b, n):
    x = 0.5
    for _ in range(n):
        x = np.sin(x) * a + b
    return x


def test_hessian_code_of_a_loop_appends_in_place() -> None:
    # `saved = saved + [v]` would copy the list on every step: quadratic
    H = symgrad.hessian(recurrence, wrt="a")
    second = H.source.split("def grad_and_hvp")[1]
    assert "saved = []" in second and "saved_dot = []" in second
    assert "saved.append((" in second and "saved_dot.append((" in second
    assert "+ [" not in second
    g = symgrad.grad(recurrence, wrt="a")
    for n in (0, 1, 5):
        expected = numeric_jacobian(g.grad, (0.9, 0.1, n), (0,), h=1e-5)[0]
        np.testing.assert_allclose(H.hessian(0.9, 0.1, n), expected, rtol=1e-6)


def branchy_recurrence(a, b, n):
    x = np.array([0.5, -0.2])
    for _ in range(n):
        if np.sum(x) > 0.3:
            x = np.sin(x) * a + b
        else:
            x = np.cos(x) * a
    return np.sum(x * x)


def test_hessian_code_of_a_branchy_loop_pops_and_appends_in_place() -> None:
    # the reverse sweep pops in each arm; copying the list there is quadratic
    H = symgrad.hessian(branchy_recurrence, wrt="a")
    second = H.source.split("def grad_and_hvp")[1].split("def hvp")[0]
    assert "saved.pop()" in second and "saved_dot.pop()" in second
    assert "[:-1]" not in second and "+ [" not in second
    g = symgrad.grad(branchy_recurrence, wrt="a")
    for n in (0, 1, 7):
        expected = numeric_jacobian(g.grad, (0.9, 0.1, n), (0,), h=1e-5)[0]
        np.testing.assert_allclose(H.hessian(0.9, 0.1, n), expected, rtol=1e-6)


def two_inputs(x, y):
    return np.sum(x * y)


def test_hessian_takes_one_parameter() -> None:
    with pytest.raises(SymgradError, match="one parameter in wrt"):
        _ = symgrad.hessian(two_inputs, wrt=("x", "y")).source


# --- forward mode: tuples, bad tangents and missing rules -------------------


def stack_of_pairs(x):
    saved = []
    h = 1.0
    for i in range(len(x)):
        saved.append((h, x[i]))
        h = np.tanh(h * x[i])
    total = h
    for _ in range(len(x)):
        a, b = saved.pop()
        total = total + a * b
    return total


def test_forward_mode_carries_tuples_reverse_mode_refuses_them() -> None:
    x = np.array([0.3, -0.8, 1.1, 0.5])
    v = np.array([1.0, 0.5, -1.0, 2.0])
    _, tangent = symgrad.jvp(stack_of_pairs).f_and_jvp(x, tangents=v)
    (expected,) = numeric_jacobian(stack_of_pairs, (x,), (0,))
    assert tangent == pytest.approx(expected @ v, rel=1e-7)
    with pytest.raises(SymgradError, match="a tuple of values that depend on x is"):
        _ = symgrad.grad(stack_of_pairs).source


def unpack_three(x):
    a, b = x
    return a * b


def test_unpacking_checks_the_length_as_python_does() -> None:
    with pytest.raises(ValueError, match=r"too many values to unpack \(expected 2\)"):
        symgrad.grad(unpack_three).grad(np.ones(3))


# --- forward mode: bad tangents and missing rules ----------------------------


def write_into_integer_copy(x):
    y = x.copy()
    y[0] = 0.5 * x[1]
    return y


def test_a_write_into_an_integer_array_passes_no_tangent() -> None:
    x = np.array([1, 2, 3])
    for mode in ("fwd", "rev"):
        J = symgrad.jacobian(write_into_integer_copy, mode=mode).jacobian(x)
        np.testing.assert_array_equal(J[0], [0.0, 0.0, 0.0])


def doubled(x):
    return 2 * x


def test_lists_as_tangents_and_seeds_are_arrays() -> None:
    x = np.array([0.3, -1.2, 2.0])
    np.testing.assert_array_equal(
        symgrad.jvp(doubled).jvp(x, tangents=[1.0, 0.0, 0.0]), [2.0, 0.0, 0.0]
    )
    np.testing.assert_array_equal(
        symgrad.grad(doubled).grad(x, seed=[1.0, 0.0, 0.0]), [2.0, 0.0, 0.0]
    )


def returns_its_input(x):
    return x


def test_the_output_tangent_is_never_the_callers_array() -> None:
    v = np.ones(2)
    t = symgrad.jvp(returns_its_input).jvp(np.zeros(2), tangents=v)
    t[0] = 5.0
    np.testing.assert_array_equal(v, [1.0, 1.0])


def quartic(w, scale=2.0):
    return np.sum(w**4) * scale


def test_generated_wrappers_keep_default_arguments() -> None:
    w = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(symgrad.jacobian(quartic).jacobian(w), 8 * w**3)
    H = symgrad.hessian(quartic)
    np.testing.assert_allclose(H.hessian(w), np.diag(24 * w**2))
    np.testing.assert_allclose(H.hessian(w, scale=1.0), np.diag(12 * w**2))
    np.testing.assert_allclose(H.hvp(w, tangents=np.ones(3)), 24 * w**2)


def scaled(x, a):
    return np.sum(a * x * x)


def test_a_tangent_of_the_wrong_shape_is_refused() -> None:
    f = symgrad.jvp(scaled)
    with pytest.raises(SymgradError, match=r"tangent has shape \(2,\)"):
        f.f_and_jvp(np.ones(3), 2.0, tangents=np.ones(2))


@pytest.mark.parametrize("tangents", [1.0, (1.0,), [1.0, 2.0, 3.0]])
def test_tangents_for_a_tuple_wrt_must_be_one_per_input(tangents) -> None:
    f = symgrad.jvp(scaled, wrt=(0, 1))
    with pytest.raises(SymgradError, match="tangents must be a tuple of 2"):
        f.f_and_jvp(np.ones(3), 2.0, tangents=tangents)
    _, t = f.f_and_jvp(np.ones(3), 2.0, tangents=(np.zeros(3), 1.0))
    assert t == 3.0


def test_a_jacobian_mode_is_checked_when_decorating() -> None:
    with pytest.raises(SymgradError, match="mode must be 'fwd', 'rev' or None"):
        symgrad.jacobian(scaled, mode="sideways")


def test_integer_tangents_are_taken_as_floats() -> None:
    f = symgrad.jvp(scaled)
    _, t = f.f_and_jvp(np.ones(3), 2.0, tangents=np.array([1, 0, 0]))
    assert t == 4.0


def uses_prod_grad(x):
    return np.prod(x)


def test_the_hessian_of_a_product_is_exact_at_zeros() -> None:
    # d2/dxj dxk prod(x) is the product of the entries other than j and k:
    # products only, so zeros give exact numbers, never 0/0
    H = symgrad.hessian(uses_prod_grad)
    np.testing.assert_array_equal(
        H.hessian(np.array([0.0, 2.0, 3.0])),
        [[0.0, 3.0, 2.0], [3.0, 0.0, 0.0], [2.0, 0.0, 0.0]],
    )
    np.testing.assert_array_equal(
        H.hessian(np.array([0.0, 0.0, 3.0])),
        [[0.0, 3.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
    )


def test_a_hessian_at_a_pole_gives_numpys_nan_not_an_exception() -> None:
    # _div read back from the emitted gradient stays _div: on Python
    # floats `/` would raise ZeroDivisionError where numpy gives inf or nan
    from float_functions import divides

    with np.errstate(all="ignore"):
        assert np.isnan(symgrad.hessian(divides).hessian(0.7, 0.7))


def products_along_an_axis(X):
    return np.sum(np.prod(X, axis=0) ** 2) + np.sum(np.prod(X, axis=1, keepdims=True))


def test_the_hessian_of_products_along_an_axis_matches_differences() -> None:
    X = np.array([[0.5, -1.2, 0.0], [2.0, 0.7, 1.5]])
    H = symgrad.hessian(products_along_an_axis)
    g = symgrad.grad(products_along_an_axis)
    expected = numeric_jacobian(g.grad, (X,), (0,), h=1e-5)[0]
    np.testing.assert_allclose(H.hessian(X), expected, rtol=1e-7, atol=1e-8)


# --- custom rules ---------------------------------------------------------------


def cube_grad(x):
    return 3.0 * x * x


@symgrad.rule(grad=cube_grad)
def cube(x):
    return x**3


@symgrad.nondifferentiable
def floor_of(x):
    return np.floor(x)


def uses_custom(x):
    return np.sum(cube(x) * floor_of(x * 3.0) + x)


@symgrad.nondifferentiable
def stop_gradient(x):
    return x


def writes_into_a_custom_result(x):
    y = stop_gradient(x)
    y[0] = 0.0
    return np.sum(y * x)


def test_a_custom_result_may_be_its_argument() -> None:
    # numpy would change x through y too: refused, as for any alias
    with pytest.raises(SymgradError, match="may share memory"):
        _ = symgrad.jvp(writes_into_a_custom_result).source


def vjp_only_vjp(g, x):
    return 2.0 * g * x


@symgrad.rule(vjp=vjp_only_vjp)
def square_vjp_only(x):
    return x * x


def uses_vjp_only(x):
    return np.sum(square_vjp_only(x))


def test_a_custom_rule_is_used_by_both_modes_and_shown() -> None:
    x = np.array([0.4, 1.3, -0.7])
    g = symgrad.grad(uses_custom)
    expected = 3 * x**2 * np.floor(3 * x) + 1
    np.testing.assert_allclose(g.grad(x), expected)
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(
        symgrad.jvp(uses_custom).jvp(x, tangents=v), expected @ v
    )
    for source in (g.source, symgrad.jvp(uses_custom).source):
        assert "# Supplied by the caller: cube, cube_grad, floor_of" in source
        assert "cube_grad(" in source and "floor_of(" in source
        assert "x**3" not in source  # the rule's function is called, not read


def test_hessians_differentiate_the_derivative_functions_of_rules() -> None:
    # the emitted gradient calls cube_grad, plain numpy code symgrad reads
    x = np.array([0.4, 1.3, -0.7])
    H = symgrad.hessian(uses_custom).hessian(x)
    np.testing.assert_allclose(H, np.diag(6 * x * np.floor(3 * x)), atol=1e-12)


def test_a_rule_without_jvp_is_refused_in_forward_mode() -> None:
    np.testing.assert_allclose(
        symgrad.grad(uses_vjp_only).grad(np.array([1.0, 2.0])), [2.0, 4.0]
    )
    with pytest.raises(SymgradError, match="gives no jvp=, which forward mode needs"):
        _ = symgrad.jvp(uses_vjp_only).source


def _forgot_a_cotangent(g, a, b):
    return g * b  # (one array: its entries were taken as the two cotangents)


def _summed_cotangent(g, x):
    return np.sum(g)  # (a number for a vector)


def _summed_tangent(tangents, x):
    return np.sum(tangents[0])  # (a number for a vector output)


@symgrad.rule(vjp=_forgot_a_cotangent)
def _product_rule(a, b):
    return a * b


@symgrad.rule(vjp=_summed_cotangent, jvp=_summed_tangent)
def _copy_rule(x):
    return x * 1.0


def _column_partial(x):
    return np.cos(x)[:, None]  # (3, 1) for a (3,) argument: broadcast to (3, 3)


@symgrad.rule(grad=_column_partial)
def _sine_rule(x):
    return np.sin(x)


def _uses_sine_rule(x):
    return np.sum(_sine_rule(x))


def _uses_product_rule(a, b):
    return np.sum(_product_rule(a, b))


def _uses_copy_rule(x):
    return np.sum(_copy_rule(x) ** 2)


@pytest.mark.parametrize(
    "run, message",
    [
        (
            lambda x: symgrad.grad(_uses_product_rule, wrt=(0, 1)).grad(x, x),
            "_forgot_a_cotangent returned ndarray .*, not a tuple of 2 cotangents",
        ),
        (
            lambda x: symgrad.grad(_uses_copy_rule).grad(x),
            r"the cotangent _summed_cotangent returned has shape \(\), where \(3,\)",
        ),
        (
            lambda x: symgrad.jvp(_uses_copy_rule).jvp(x, tangents=x),
            r"the tangent _summed_tangent returned has shape \(\), where \(3,\)",
        ),
        (
            lambda x: symgrad.hessian(_uses_copy_rule).hessian(x),
            r"the tangent _summed_tangent returned has shape \(\)",
        ),
        (
            lambda x: symgrad.grad(_uses_sine_rule).grad(x),
            r"the partial derivative _column_partial returned has shape \(3, 1\), "
            r"which does not broadcast to the output's shape \(3,\)",
        ),
        (
            lambda x: symgrad.jvp(_uses_sine_rule).jvp(x, tangents=x),
            r"_column_partial returned has shape \(3, 1\)",
        ),
    ],
    ids=["vjp count", "vjp shape", "jvp shape", "hessian", "grad", "grad fwd"],
)
def test_a_rules_derivative_of_the_wrong_shape_is_an_error(run, message) -> None:
    # (they were broadcast, summed or indexed into silently wrong derivatives;
    # JAX checks them too)
    with pytest.raises(SymgradError, match=message):
        run(np.array([0.3, -1.2, 2.0]))


def _one_tuple_vjp(g, x):
    return (2.0 * g * x,)  # (JAX's convention for one argument)


@symgrad.rule(vjp=_one_tuple_vjp)
def _squared_rule(x):
    return x * x


def _power_vjp(g, x, k):
    return k * g * x ** (k - 1), None  # (no derivative in k)


@symgrad.rule(vjp=_power_vjp)
def _power_rule(x, k):
    return x**k


def _uses_tuple_conventions(x, k):
    return np.sum(_squared_rule(x)) + np.sum(_power_rule(x, k))


@pytest.mark.parametrize("x", [np.array([0.3, -1.2, 2.0]), 1.5])
def test_a_vjp_may_return_a_tuple_of_one_and_none(x) -> None:
    g = symgrad.grad(_uses_tuple_conventions, wrt=(0, 1))
    dx, dk = g.grad(x, 3.0)
    np.testing.assert_allclose(dx, 2 * x + 3 * x**2)
    assert np.shape(dx) == np.shape(x) and dk == 0.0


def _pair_vjp(g, x):
    return 2.0 * g[0] + g[1]


def _pair_jvp(tangents, x):
    return 2.0 * tangents[0], np.sum(tangents[0])


@symgrad.rule(vjp=_pair_vjp, jvp=_pair_jvp)
def _vector_and_total(x):
    return 2.0 * x, np.sum(x)


def _one_jvp(tangents, x):
    return (3.0 * tangents[0],)


def _one_vjp(g, x):
    return 3.0 * g[0]


@symgrad.rule(vjp=_one_vjp, jvp=_one_jvp)
def _tripled_in_a_tuple(x):
    return (3.0 * x,)


def _power_list_vjp(g, x, k):
    return [k * g * x ** (k - 1), 0.0]  # (a list, read back by the Hessian)


@symgrad.rule(vjp=_power_list_vjp)
def _power_listed(x, k):
    return x**k


def _uses_a_vector_and_a_total(x):
    v, s = _vector_and_total(x)
    return np.sum(v * s)


def _uses_tuple_outputs(x):
    (w,) = _tripled_in_a_tuple(x)
    return np.sum(w**2) + np.sum(_power_listed(x, 3.0))


def test_rules_with_tuple_outputs_and_list_cotangents_in_every_mode() -> None:
    # stop 28's shape checks compared a tuple of arrays as one array (numpy's
    # inhomogeneous-shape error), took a 1-tuple tangent for its entry, and
    # a list of cotangents read back by the Hessian became an array
    x, v = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -2.0])
    jvp = symgrad.jvp(_uses_a_vector_and_a_total).jvp(x, tangents=v)
    np.testing.assert_allclose(jvp, 4 * np.sum(x) * np.sum(v))
    grad = symgrad.grad(_uses_tuple_outputs).grad(x)
    np.testing.assert_allclose(grad, 18 * x + 3 * x**2)
    H = symgrad.hessian(_uses_tuple_outputs).hessian(x)
    np.testing.assert_allclose(H, np.diag(18.0 + 6 * x), atol=1e-12)


def test_a_rule_needs_one_kind_of_derivative() -> None:
    with pytest.raises(SymgradError, match="grad= .* or vjp=/jvp=; none was given"):
        symgrad.rule(lambda x: x)
    with pytest.raises(SymgradError, match="grad= .* or vjp=/jvp=, not both"):
        symgrad.rule(lambda x: x, grad=cube_grad, vjp=cube_grad)

    def identity(x):
        return x

    with pytest.raises(SymgradError, match="takes 1 argument"):
        symgrad.rule(grad=(cube_grad, cube_grad))(identity)


@symgrad.nondifferentiable
def _three():
    return 3.0


@symgrad.rule(grad=())
def _two():
    return 2.0


def _uses_functions_of_nothing(x):
    return np.sum(x * _three() * _two())


def test_a_rule_of_no_arguments_is_a_constant() -> None:
    # (an IndexError inside symgrad)
    x = np.array([1.0, -2.0])
    np.testing.assert_array_equal(symgrad.grad(_uses_functions_of_nothing).grad(x), 6.0)
    jvp = symgrad.jvp(_uses_functions_of_nothing).jvp(x, tangents=np.ones(2))
    assert jvp == 12.0
    hessian = symgrad.hessian(_uses_functions_of_nothing).hessian(x)
    np.testing.assert_array_equal(hessian, np.zeros((2, 2)))


def helper_grad(x):
    return 2.0 * x


@symgrad.rule(grad=helper_grad)
def helper(x):
    return x * x


def shadows_the_rule(x):
    helper_grad = x * 2.0
    return np.sum(helper(x) * helper_grad)


def test_a_variable_named_like_a_rule_function_is_refused() -> None:
    with pytest.raises(SymgradError, match="'helper_grad' is called by name"):
        _ = symgrad.grad(shadows_the_rule).source


def test_a_rule_needs_named_functions() -> None:
    with pytest.raises(SymgradError, match="defined with 'def'"):
        symgrad.rule(grad=lambda x: 2 * x)(lambda x: x * x)


def _twin(scale):
    def twin(x):
        return x * scale

    return symgrad.nondifferentiable(twin)


twin_one = _twin(1.0)
twin_two = _twin(2.0)


def uses_two_twins(x):
    return np.sum(twin_one(x) * twin_two(x) + x)


def test_two_functions_with_one_name_are_refused() -> None:
    with pytest.raises(SymgradError, match="two different functions named 'twin'"):
        symgrad.grad(uses_two_twins).grad(np.ones(2))


# --- the command line ---------------------------------------------------------


def test_cli_emits_every_transformation(tmp_path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "symgrad", "emit", "examples/transforms.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for header in (
        "Forward-mode derivative of `trajectory`",
        "Jacobian of `reproject`",
    ):
        assert header in out
    assert "Hessian of `rosenbrock`" in out
    for function in ("def f_and_jvp(", "def jacobian(params)", "def grad_and_hvp("):
        assert function in out
    assert "def hessian(x)" in out and "def hvp(x, tangents)" in out


def sines(x):
    return np.sin(x) * 2.0


def scaled_sum(x, y):
    return np.sum(x) * y


def squares(x):
    return np.sum(x**2)


@pytest.mark.parametrize("mode", ["fwd", "rev", None])
def test_jacobians_and_hessians_with_respect_to_an_empty_array(mode) -> None:
    empty = np.zeros(0)
    assert symgrad.jacobian(sines, mode=mode).jacobian(empty).shape == (0, 0)
    jx, jy = symgrad.jacobian(scaled_sum, wrt=("x", "y"), mode=mode).jacobian(
        empty, np.ones(2)
    )
    assert jx.shape == (2, 0)
    np.testing.assert_array_equal(jy, np.zeros((2, 2)))
    assert symgrad.hessian(squares).hessian(empty).shape == (0, 0)


def entry_squared(x):
    return x[()] * x[()] + np.sin(x[...])


def test_a_0d_array_input_read_by_index_in_forward_mode():
    """A 0-d array argument read as x[()] and x[...]: its tangent (given as a
    number, or a basis vector symgrad makes) is a 0-d array, so forward mode,
    Jacobians in every mode and the Hessian index it as the function does."""
    x = np.array(0.6)
    want = 2 * 0.6 + np.cos(0.6)
    for tangent in (1.0, np.float64(1.0), np.array(1.0)):
        _, dot = symgrad.jvp(entry_squared).f_and_jvp(x, tangents=tangent)
        assert dot == pytest.approx(want)
    for mode in ("fwd", "rev", None):
        assert symgrad.jacobian(entry_squared, mode=mode).jacobian(x) == pytest.approx(
            want
        )
    H = symgrad.hessian(entry_squared)
    assert H.hessian(x) == pytest.approx(2 - np.sin(0.6))
    assert H.hvp(x, tangents=1.0) == pytest.approx(2 - np.sin(0.6))


# --- a tuple of parameters (JAX's `params`) -----------------------------------


def layer(params, x):
    W, b = params
    return np.tanh(x @ W + b)


def layer_loss(params, x):
    W, b, s = params
    return np.sum(np.tanh(x @ W + b) ** 2) * s + s**3


def _params(kind=tuple):
    rng = np.random.default_rng(11)
    W, b, x = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(4, 3))
    return kind([W, b, 0.7]), x


def _moved(params, k, value):
    """`params` with entry `k` replaced, of its kind."""
    moved = list(params)
    moved[k] = value
    return type(params)(moved)


@pytest.mark.parametrize("kind", [tuple, list])
def test_jvp_and_hvp_take_a_tuple_of_tangents_for_a_tuple_parameter(kind) -> None:
    """Entries of different shapes: the tangent is a tuple of a tangent for
    each, as jax.jvp takes a pytree (numpy's "inhomogeneous shape" error from
    the emitted code before), and hvp's vector and result are such tuples."""
    params, x = _params(kind)
    rng = np.random.default_rng(5)
    v = (rng.normal(size=(3, 2)), rng.normal(size=2), 0.4)
    grads = symgrad.check.numeric_grad(layer_loss, (params, x), 0)
    assert type(grads) is kind
    value, dot = symgrad.jvp(layer_loss).f_and_jvp(params, x, tangents=v)
    assert value == layer_loss(params, x)
    want = sum(np.sum(g * t) for g, t in zip(grads, v, strict=True))
    assert dot == pytest.approx(want, rel=1e-7)
    two = kind(params[:2])
    _, dots = symgrad.jvp(layer).f_and_jvp(two, x, tangents=v[:2])
    (expected,) = numeric_jacobian(
        lambda h: layer(
            type(two)(p + h * t for p, t in zip(two, v[:2], strict=True)), x
        ),
        (0.0,),
        (0,),
    )
    np.testing.assert_allclose(dots, expected, rtol=1e-7, atol=1e-9)

    H = symgrad.hessian(layer_loss)
    hv = H.hvp(params, x, tangents=v)
    g = symgrad.grad(layer_loss)
    assert type(hv) is kind and [np.shape(e) for e in hv] == [(3, 2), (2,), ()]
    (along,) = numeric_jacobian(
        lambda h: np.concatenate(
            [
                np.ravel(e)
                for e in g.grad(
                    type(params)(p + h * t for p, t in zip(params, v, strict=True)), x
                )
            ]
        ),
        (0.0,),
        (0,),
    )
    np.testing.assert_allclose(
        np.concatenate([np.ravel(e) for e in hv]), along, rtol=1e-6, atol=1e-8
    )


@pytest.mark.parametrize("mode", ["fwd", "rev", None])
def test_the_jacobian_of_a_tuple_parameter_is_a_tuple_of_blocks(mode) -> None:
    """One block per entry, shaped output shape + entry shape (as jax.jacobian
    returns a pytree), also beside an array in a tuple wrt."""
    (W, b, _), x = _params()
    params = (W, b)
    J = symgrad.jacobian(layer, mode=mode).jacobian(params, x)
    assert isinstance(J, tuple) and len(J) == 2
    for k, block in enumerate(J):
        (want,) = numeric_jacobian(
            lambda e, k=k: layer(_moved(params, k, e), x), (params[k],), (0,)
        )
        assert block.shape == (4, 2) + np.shape(params[k])
        np.testing.assert_allclose(block, want, rtol=1e-6, atol=1e-9)
    (JW, Jb), Jx = symgrad.jacobian(layer, wrt=("params", "x"), mode=mode).jacobian(
        params, x
    )
    np.testing.assert_allclose(JW, J[0], rtol=1e-12)
    np.testing.assert_allclose(Jb, J[1], rtol=1e-12)
    (want,) = numeric_jacobian(layer, (params, x), (1,))
    np.testing.assert_allclose(Jx, want, rtol=1e-6, atol=1e-9)


def test_the_hessian_of_a_tuple_parameter_is_a_tuple_of_tuples_of_blocks() -> None:
    """H[q][p] is shaped entry q's shape + entry p's shape, the derivative of
    the gradient's entry q by entry p (as jax.hessian's nested pytree)."""
    params, x = _params()
    H = symgrad.hessian(layer_loss).hessian(params, x)
    g = symgrad.grad(layer_loss)
    assert isinstance(H, tuple) and all(isinstance(row, tuple) for row in H)
    for q in range(3):
        for p in range(3):
            (want,) = numeric_jacobian(
                lambda e, p=p, q=q: g.grad(_moved(params, p, e), x)[q],
                (params[p],),
                (0,),
                h=1e-5,
            )
            assert np.shape(H[q][p]) == np.shape(params[q]) + np.shape(params[p])
            np.testing.assert_allclose(H[q][p], want, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H[0][1], np.moveaxis(H[1][0], 0, -1), rtol=1e-12)


def test_a_tuple_parameters_tangent_must_be_a_tuple_like_it() -> None:
    params, x = _params()
    f = symgrad.jvp(layer_loss)
    with pytest.raises(SymgradError, match="a tuple of a tangent for each; got a nd"):
        f.f_and_jvp(params, x, tangents=np.ones(3))
    with pytest.raises(SymgradError, match="got 2 of them"):
        f.f_and_jvp(params, x, tangents=(np.ones((3, 2)), np.ones(2)))
    with pytest.raises(SymgradError, match=r"tangent has shape \(3,\)"):
        f.f_and_jvp(params, x, tangents=(np.ones((3, 2)), np.ones(3), 1.0))


def nested_layer(params, x):
    (W, b), s = params
    return np.tanh(x @ W + b) * s


def test_a_nested_tuple_parameter_has_nested_blocks_in_forward_mode() -> None:
    """Forward mode carries a nested tuple of tangents, and the Jacobian's
    blocks nest as the parameter does; reverse mode (so the Hessian) refuses
    entries of different shapes that are not unpacked at the top, naming the
    line (a raw numpy error from the Hessian's loop before)."""
    (W, b, s), x = _params()
    params = ((W, b), s)
    (JW, Jb), Js = symgrad.jacobian(nested_layer, mode="fwd").jacobian(params, x)
    for block, (k, entry) in zip((JW, Jb), enumerate((W, b)), strict=True):

        def at(e, k=k):
            return nested_layer((_moved((W, b), k, e), s), x)

        (want,) = numeric_jacobian(at, (entry,), (0,))
        np.testing.assert_allclose(block, want, rtol=1e-6, atol=1e-9)
    (want,) = numeric_jacobian(lambda e: nested_layer(((W, b), e), x), (s,), (0,))
    np.testing.assert_allclose(Js, want, rtol=1e-6, atol=1e-9)
    H = symgrad.hessian(nested_loss)
    with pytest.raises(SymgradError, match=r"(?s)share a shape.*\(W, b\), s = params"):
        H.hessian(params, x)
    with pytest.raises(SymgradError, match="a tuple of a tangent for each"):
        H.hvp(params, x, tangents=np.ones(2))


def nested_loss(params, x):
    (W, b), s = params
    return np.sum(np.tanh(x @ W + b) ** 2) * s


def test_custom_rules_of_another_module_reach_the_gradient_and_the_hessian(
    tmp_path, monkeypatch
) -> None:
    """`R.softplus(x)` of `import softplus_rules as R`, or `softplus` imported by
    name: the gradient calls the rule's derivative function, which the
    differentiated module does not name; the module failed to load through an
    attribute, and the Hessian could not find `softplus_grad` either way."""
    (tmp_path / "softplus_rules.py").write_text(
        "import numpy as np\nimport symgrad\n\n\ndef softplus_grad(x):\n"
        "    return 0.5 * (1.0 + np.tanh(0.5 * x))\n\n\n"
        "@symgrad.rule(grad=softplus_grad)\ndef softplus(x):\n"
        "    return np.logaddexp(0.0, x)\n"
    )
    (tmp_path / "uses_rules.py").write_text(
        "import numpy as np\nimport softplus_rules as R\n"
        "from softplus_rules import softplus\n\n\n"
        "def by_attribute(x):\n    return np.sum(R.softplus(x))\n\n\n"
        "def by_name(x):\n    return np.sum(softplus(x))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import uses_rules

    x = np.array([-1.0, 0.5, 2.0])
    s = 1.0 / (1.0 + np.exp(-x))
    for f in (uses_rules.by_attribute, uses_rules.by_name):
        np.testing.assert_allclose(symgrad.grad(f).grad(x), s)
        np.testing.assert_allclose(symgrad.hessian(f).hessian(x), np.diag(s * (1 - s)))
