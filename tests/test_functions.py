"""Every function in the shared table against central finite differences.

For each case of `functions.CASES` and `flow_functions.FLOW_CASES` at three
random points: the decorated
function computes what the plain one does, `f_and_grad` returns that value and
a gradient with each argument's type and shape, the gradient passes the shared
checker (`symgrad.check.check_grad`), and no call mutates the caller's arrays.

The last section tests the checker itself, without the compiler: it passes a
right gradient, and fails (naming the worst entries) a wrong one.
"""

from __future__ import annotations

import ast
import copy
import functools
import re
import warnings
import zlib
from typing import Any

import numpy as np
import pytest
from flow_functions import FLOW_CASES
from functions import CASES, Case

import symgrad
from symgrad import runtime
from symgrad.check import check_grad, numeric_grad
from symgrad.errors import BadInputError, NoDerivativeError, UnsupportedSyntaxError

SEEDS = (0, 1, 2)
_COMPILED: dict[str, Any] = {}


def compiled(case: Case) -> Any:
    """``symgrad.grad(case.fn, wrt=case.wrt)``, compiled once per case.

    A compile error is remembered too, so a case that fails to compile costs
    one compile, not one per test.
    """
    if case.name not in _COMPILED:
        try:
            if case.wrt is None:
                _COMPILED[case.name] = symgrad.grad(case.fn)
            else:
                _COMPILED[case.name] = symgrad.grad(case.fn, wrt=case.wrt)
        except Exception as exc:  # re-raised below, in every test of the case
            _COMPILED[case.name] = exc
    result = _COMPILED[case.name]
    if isinstance(result, Exception):
        raise result
    return result


def draw(case: Case, seed: int) -> tuple[Any, ...]:
    """The case's arguments at random point ``seed`` (stable across runs)."""
    rng = np.random.default_rng((seed, zlib.crc32(case.name.encode())))
    return case.make_args(rng)


def seed_kwargs(case: Case) -> dict[str, Any]:
    return {} if case.seed is None else {"seed": case.seed}


def as_tuple(g: Any, grads: Any) -> tuple[Any, ...]:
    """The gradient(s) of ``g`` as a tuple in wrt order."""
    if g.wrt_is_tuple:
        assert isinstance(grads, tuple), f"expected a tuple, got {type(grads)}"
        return grads
    return (grads,)


def assert_unchanged(before: tuple[Any, ...], after: tuple[Any, ...]) -> None:
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        assert type(a) is type(b), f"argument {i} changed type"
        assert np.array_equal(a, b), f"argument {i} was mutated"


ALL_CASES = CASES + FLOW_CASES
cases = pytest.mark.parametrize("case", ALL_CASES, ids=[c.name for c in ALL_CASES])
seeds = pytest.mark.parametrize("seed", SEEDS)


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------


@seeds
@cases
def test_value_matches_plain_function(case: Case, seed: int) -> None:
    g = compiled(case)
    args = draw(case, seed)
    expected = case.fn(*copy.deepcopy(args))
    called = g(*args)
    value, _ = g.f_and_grad(*args, **seed_kwargs(case))
    for got in (called, value):
        assert np.shape(got) == np.shape(expected)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@seeds
@cases
def test_gradient_types_and_shapes(case: Case, seed: int) -> None:
    g = compiled(case)
    args = draw(case, seed)
    _, grads = g.f_and_grad(*args, **seed_kwargs(case))
    grads = as_tuple(g, grads)
    assert len(grads) == len(g.wrt_indices)
    for i, gi in zip(g.wrt_indices, grads, strict=True):
        arg = args[i]
        if isinstance(arg, np.ndarray):
            assert isinstance(gi, np.ndarray), f"grad of arg {i}: {type(gi)}"
            assert gi.shape == arg.shape, f"grad of arg {i}: shape {gi.shape}"
            assert np.issubdtype(gi.dtype, np.floating)
        else:
            assert isinstance(gi, float), f"grad of float arg {i}: {type(gi)}"
    only = g.grad(*args, **seed_kwargs(case))
    for a, b in zip(as_tuple(g, only), grads, strict=True):
        np.testing.assert_array_equal(a, b)


@seeds
@cases
def test_gradient_matches_finite_differences(case: Case, seed: int) -> None:
    check_grad(compiled(case), *draw(case, seed), seed=case.seed)


SCALAR_REDUCTIONS = [c for c in CASES if c.name.endswith("_scalar_over_axis")]


@pytest.mark.parametrize("case", SCALAR_REDUCTIONS, ids=lambda c: c.name)
@pytest.mark.parametrize("kind", [np.float64, np.array], ids=["float64", "0-d"])
def test_a_0d_value_reduced_over_axis_0_or_minus_1(case: Case, kind: Any) -> None:
    """numpy reduces a 0-d value over axis 0 or -1 to itself; the gradient and
    the tangent have shape () too (they were (1,), or a broadcasting error)."""
    args = tuple(kind(a) for a in draw(case, 0))
    g = compiled(case)
    _, grads = g.f_and_grad(*args)
    assert all(np.shape(gi) == () for gi in as_tuple(g, grads)), grads
    check_grad(g, *args)
    forward = symgrad.jvp(case.fn, wrt=case.wrt)
    grads = as_tuple(g, grads)
    for i, gi in enumerate(grads):
        tangents = tuple(float(i == j) for j in range(len(grads)))
        tangent = forward.jvp(*args, tangents=tangents if g.wrt_is_tuple else 1.0)
        assert np.shape(tangent) == ()
        np.testing.assert_allclose(tangent, gi, rtol=1e-12)


@seeds
@cases
def test_caller_arrays_unchanged(case: Case, seed: int) -> None:
    g = compiled(case)
    args = draw(case, seed)
    before = copy.deepcopy(args)
    g(*args)
    assert_unchanged(before, args)
    g.f_and_grad(*args, **seed_kwargs(case))
    assert_unchanged(before, args)
    g.grad(*args, **seed_kwargs(case))
    assert_unchanged(before, args)


# np.matmul is printed `a @ b`, and np.diff's definition indexes its argument:
# neither takes a list, where numpy's functions do; nor does the derivative
# code of an argument also read with an operator (`np.abs(x) * x`, where
# numpy's `*` reads the list: its derivative multiplies by `x` as given).
# nondiff_scalar_casts repeats a list (`x * np.int64(k)`, Python's *), whose
# sum is, by chance, the array's: symgrad's check says so (`JoinError`), as
# the README does.
_NOT_ON_LISTS = {"matmul_batched", "np_matmul", "differences", "np_abs", "np_clip"}
_NOT_ON_LISTS |= {"nondiff_scalar_casts"}


def _as_lists(case: Case) -> tuple[Any, ...] | None:
    """The case's arguments at point 0 with every array a (nested) list, where
    the plain function computes on them what it does on the arrays."""
    args = draw(case, 0)
    if not any(isinstance(a, np.ndarray) for a in args):
        return None
    listed = tuple(a.tolist() if isinstance(a, np.ndarray) else a for a in args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            on_lists = case.fn(*copy.deepcopy(listed))
            on_arrays = case.fn(*copy.deepcopy(args))
        except Exception:
            return None
    same = np.shape(on_lists) == np.shape(on_arrays) and np.allclose(
        on_lists, on_arrays, equal_nan=True
    )
    return listed if same else None


LIST_CASES = [
    c for c in ALL_CASES if c.name not in _NOT_ON_LISTS and _as_lists(c) is not None
]


def test_most_array_cases_run_on_lists() -> None:
    assert len(LIST_CASES) >= 100


@pytest.mark.parametrize("case", LIST_CASES, ids=[c.name for c in LIST_CASES])
def test_lists_are_read_as_numpy_reads_them(case: Case) -> None:
    """Where the plain function takes its arrays as lists (numpy reads a list
    as the array), so does f_and_grad: the same value, and the arrays'
    gradients (np.square(x) of a list: its derivative `2.0 * seed * x`
    multiplies the array, `_listed(x)`)."""
    g = compiled(case)
    listed, args = _as_lists(case), draw(case, 0)
    value, grads = g.f_and_grad(*listed, **seed_kwargs(case))
    want_value, want = g.f_and_grad(*args, **seed_kwargs(case))
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    for got, expected in zip(as_tuple(g, grads), as_tuple(g, want), strict=True):
        assert np.shape(got) == np.shape(expected)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)


@cases
def test_emitted_source_is_black_formatted(case: Case) -> None:
    """symgrad runs black only on the statements its printer cannot vouch
    for (`style.formatted`); the whole module must still be black's."""
    import black

    source = compiled(case).source
    assert black.format_str(source, mode=black.Mode()) == source


@cases
def test_a_temporarys_cotangent_is_named_only_beside_it(case: Case) -> None:
    """`t7_bar` is printed only where `t7` is: the cotangent of a temporary
    folded into its use is folded into its own use too (`-seed / _count(t6)`,
    not `t7_bar = -seed` with no `t7` to read it against)."""
    tree = ast.parse(compiled(case).source)
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef) or hasattr(runtime, function.name):
            continue  # (support code)
        names = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
        for name in names:
            if re.fullmatch(r"t\d+_bar", name):
                assert name[: -len("_bar")] in names, (function.name, name)


def test_table_is_large_and_names_are_unique() -> None:
    assert len(CASES) >= 70
    assert len(FLOW_CASES) >= 50
    assert len({c.name for c in ALL_CASES}) == len(ALL_CASES)


def test_check_grad_wraps_plain_function() -> None:
    from functions import mlp_loss

    args = draw(next(c for c in CASES if c.name == "mlp_loss"), 0)
    check_grad(mlp_loss, *args, wrt=(0, 2))


# --------------------------------------------------------------------------
# The checker itself (no compiler involved)
# --------------------------------------------------------------------------


def _quadratic(x, a):
    return np.sum(a * x**2) + 3.0 * np.sum(a)


class _Fake:
    """Quacks like a symgrad-decorated `_quadratic` with wrt=(0, 1)."""

    wrt_indices = (0, 1)
    wrt_is_tuple = True

    def __init__(self, wrong: bool = False, bad_shape: bool = False) -> None:
        self.wrong = wrong
        self.bad_shape = bad_shape
        self.__wrapped__ = _quadratic

    def __call__(self, x, a):
        return _quadratic(x, a)

    def f_and_grad(self, x, a, seed=None):
        gx = 2.0 * a * x
        ga = x**2 + 3.0
        if self.wrong:
            gx = gx.copy()
            gx[1, 2] += 0.5
        if self.bad_shape:
            ga = ga.ravel()
        return _quadratic(x, a), (gx, ga)


def _fake_args() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, (3, 4))


def test_check_grad_passes_right_gradient() -> None:
    assert check_grad(_Fake(), *_fake_args()) is None


def test_check_grad_fails_wrong_gradient_and_names_worst_entry() -> None:
    x, a = _fake_args()
    with pytest.raises(AssertionError) as info:
        check_grad(_Fake(wrong=True), x, a)
    message = str(info.value)
    assert "argument 0 (x)" in message
    assert "1 of 12 entries differ" in message
    assert "index (1, 2)" in message
    assert f"symgrad={2.0 * a[1, 2] * x[1, 2] + 0.5:.10g}" in message
    assert "argument 1" not in message


def test_check_grad_fails_wrong_shape() -> None:
    with pytest.raises(AssertionError, match=r"argument 1 \(a\).*shape \(12,\)"):
        check_grad(_Fake(bad_shape=True), *_fake_args())


def test_check_grad_fails_nan_gradient() -> None:
    class NanFake(_Fake):
        def f_and_grad(self, x, a, seed=None):
            value, (gx, ga) = super().f_and_grad(x, a)
            return value, (gx * np.nan, ga)

    with pytest.raises(AssertionError, match="symgrad=nan"):
        check_grad(NanFake(), *_fake_args())


def test_check_grad_rejects_wrt_for_decorated_function() -> None:
    with pytest.raises(TypeError):
        check_grad(_Fake(), *_fake_args(), wrt=0)


def test_numeric_grad_float_argument_gives_float() -> None:
    got = numeric_grad(lambda x, y: x**3 * y, (1.5, 2.0), (0, 1))
    assert all(type(v) is float for v in got)
    np.testing.assert_allclose(got, (3 * 1.5**2 * 2.0, 1.5**3), rtol=1e-8)


def test_numeric_grad_single_index_gives_single_gradient() -> None:
    x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    got = numeric_grad(lambda x: np.sum(np.sin(x)), (x,), 0)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, np.cos(x), rtol=1e-8)


def test_numeric_grad_uses_seed_and_broadcasting() -> None:
    b = np.array([0.5, -1.0, 2.0])
    m = np.arange(6.0).reshape(2, 3)
    seed = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]])
    gb, gm = numeric_grad(lambda b, m: b * m, (b, m), (0, 1), seed=seed)
    np.testing.assert_allclose(gb, np.sum(seed * m, axis=0), rtol=1e-8)
    np.testing.assert_allclose(gm, seed * b, rtol=1e-8)


def test_numeric_grad_never_mutates_arguments() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([0.5, 0.25])
    xc, yc = x.copy(), y.copy()

    def mutating(x, y):
        out = np.sum(x * y)
        x += 100.0  # a badly behaved function must not reach the caller's x
        return out

    gx, gy = numeric_grad(mutating, (x, y), (0, 1))
    np.testing.assert_array_equal(x, xc)
    np.testing.assert_array_equal(y, yc)
    np.testing.assert_allclose(gx, np.broadcast_to(y, x.shape), rtol=1e-8)
    np.testing.assert_allclose(gy, np.sum(xc, axis=0), rtol=1e-8)


def test_check_grad_of_a_function_writing_into_its_argument() -> None:
    """The step is measured before f runs: f may overwrite the perturbed entry."""

    def overwrite(x):
        x[0] = 5.0
        return np.sum(x * x)

    x = np.array([1.0, 2.0])
    check_grad(overwrite, x)  # the gradient is [0, 4]: x[0] is overwritten
    np.testing.assert_array_equal(x, [1.0, 2.0])
    np.testing.assert_allclose(numeric_grad(overwrite, (x,), 0), [0.0, 4.0])


def _tuple_loss(params, x):
    W, b = params
    return np.sum(np.tanh(x @ W + b) ** 2)


@pytest.mark.parametrize("kind", [tuple, list])
def test_numeric_grad_of_a_tuple_argument_is_a_tuple(kind) -> None:
    """JAX's `params`, entries of different shapes: one gradient per entry,
    in a tuple (a list for a list); the caller's entries are never mutated."""
    x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    params = kind([np.full((3, 2), 0.1), np.array([0.2, -0.3])])

    def mutating(params, x):
        params[1][0] += 100.0
        return np.sum(params[0] ** 2) * np.sum(params[1] * x[0, :2])

    got = numeric_grad(mutating, (params, x), 0)
    assert type(got) is kind and [g.shape for g in got] == [(3, 2), (2,)]
    np.testing.assert_allclose(got[0], 2 * params[0] * (100.2 * -1.0 + -0.3 * -0.6))
    np.testing.assert_array_equal(params[1], [0.2, -0.3])


@pytest.mark.parametrize("kind", [tuple, list])
def test_check_grad_compares_each_entry_of_a_tuple_argument(kind) -> None:
    """`check_grad` of a tuple parameter (refused before: "cannot
    differentiate argument 0 of type tuple") checks every entry, and names
    the entry that is wrong."""
    x = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    params = kind([np.full((3, 2), 0.1), np.array([0.2, -0.3])])
    g = symgrad.grad(_tuple_loss)
    check_grad(g, params, x)
    check_grad(_tuple_loss, params, x, wrt=(0, 1))

    class Wrong:
        wrt_indices, wrt_is_tuple = (0,), False
        __wrapped__ = staticmethod(_tuple_loss)

        def f_and_grad(self, params, x):
            value, (gW, gb) = g.f_and_grad(params, x)
            return value, (gW, gb + 0.5)

    with pytest.raises(AssertionError) as info:
        check_grad(Wrong(), params, x)
    assert "argument 0 (params) entry 1, shape (2,): 2 of 2" in str(info.value)
    assert "entry 0" not in str(info.value)


def test_numeric_grad_zero_dim_array_and_int_array() -> None:
    got = numeric_grad(
        lambda s, v: s * np.sum(v**2), (np.array(2.0), np.arange(3)), (0, 1)
    )
    assert isinstance(got[0], np.ndarray) and got[0].shape == ()
    np.testing.assert_allclose(got[0], 5.0, rtol=1e-8)
    np.testing.assert_allclose(got[1], 4.0 * np.arange(3), rtol=1e-8, atol=1e-8)


# Cases whose float32 arguments give a float32 value and, since the cotangent
# of a total (`_spread`), the buffer of an indexed read's cotangent and an
# unused input's zeros (`_zeros_grad`) and a max's tie count take the input's
# dtype, float32 gradients (float64 before).
FLOAT32_CASES = [
    "np_abs",  # the spread seed
    "relu",
    "np_where",
    "sum_axis_keepdims",
    "max_axis",  # the tie count
    "min_all",
    "index_step",  # an indexed read's buffer
    "index_2d_mixed",
    "cross_entropy",
    "mixture_loglik",
    "gaussian_nll",
    "einsum_products",
    "reversed_loop",
    "stack_of_values",
    "prod_all",  # the product of the others, and the seed, in x's dtype
    "prod_axis",
    "method_prod",
    "list_index_and_len",  # (a list's cotangent: zeros of its entries' dtype)
    "reversed_list",
]


@pytest.mark.parametrize("name", FLOAT32_CASES)
def test_float32_arguments_get_float32_gradients(name):
    """A float32 array keeps float32 through the reverse pass, as in torch and
    JAX (a float32 MLP's backward pass ran in float64, twice as slow)."""
    case = next(c for c in ALL_CASES if c.name == name)
    g = compiled(case)
    args = draw(case, 0)
    low = tuple(
        a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == float else a
        for a in args
    )
    seed = {k: np.asarray(v, np.float32) for k, v in seed_kwargs(case).items()}
    value, grads = g.f_and_grad(*low, **seed)  # (a float64 seed would promote)
    assert np.asarray(value).dtype == np.float32
    exact = as_tuple(g, g.f_and_grad(*args, **seed_kwargs(case))[1])
    for i, grad, want in zip(g.wrt_indices, as_tuple(g, grads), exact, strict=True):
        if isinstance(low[i], np.ndarray) and low[i].dtype == np.float32:
            assert np.asarray(grad).dtype == np.float32, f"argument {i}"
        np.testing.assert_allclose(grad, want, rtol=2e-3, atol=2e-4)


def bool_literal_beside_a_mask(x):
    return np.sum(x * (x > 0) * 1.0 + True) + np.sum(np.where(True, x * x, False))


def test_a_bool_literal_beside_a_mask_is_one() -> None:
    # found by review: `+ True` was an InternalError (sympy's BooleanAtom)
    x = np.array([-1.5, 0.5, 2.0])
    value, grad = symgrad.grad(bool_literal_beside_a_mask).f_and_grad(x)
    assert value == bool_literal_beside_a_mask(x)
    np.testing.assert_array_equal(grad, [-3.0, 2.0, 5.0])
    check_grad(bool_literal_beside_a_mask, x)


def _largest(x):
    return np.max(x)


def test_a_float16_tie_count_does_not_overflow():
    # 70000 tied maxima: counted in float16 the count was inf and every
    # share 0; the shares are counted in float32 at least
    grad = symgrad.grad(_largest).grad(np.zeros(70_000, np.float16))
    assert float(np.sum(grad, dtype=np.float64)) == pytest.approx(1.0, rel=1e-6)


def _squared_row_maxima(z):
    return np.sum(np.max(z, axis=1) ** 2)


def test_float32_tangents_through_a_maximum_stay_float32():
    # the tangent of np.max divided by an int64 tie count (float64); the
    # gradient's count was float32 already
    z = np.arange(6, dtype=np.float32).reshape(2, 3)
    ones = np.ones((2, 3), np.float32)
    _, tangent = symgrad.jvp(_squared_row_maxima).f_and_jvp(z, tangents=ones)
    assert np.asarray(tangent).dtype == np.float32 and tangent == 2 * (2 + 5)
    assert symgrad.hessian(_squared_row_maxima).hvp(z, tangents=ones).dtype == (
        np.float32
    )


def _diagonal_matrix(v):
    return np.diag(v)


def _scaled_norm(w, x):
    return w * np.linalg.norm(x)


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.bool_])
def test_the_matrix_of_a_vector_has_the_vectors_dtype(dtype):
    # np.diag of a vector was built in np.zeros, float64 whatever v's dtype
    v = np.array([1, 0, 1], dtype)
    value, _ = symgrad.grad(_diagonal_matrix).f_and_grad(v, seed=np.ones((3, 3)))
    assert value.dtype == np.diag(v).dtype
    np.testing.assert_array_equal(value, np.diag(v))


def test_the_norm_of_integers_is_computed_in_floats():
    # as numpy's: an int8 x * x wrapped around (100 * 100 is 16), in the value
    # and in the gradient, even with x not differentiated
    x = np.array([3, 4, 100], np.int8)
    g = symgrad.grad(_scaled_norm, wrt="w")
    value, grad = g.f_and_grad(1.0, x)
    assert value == _scaled_norm(1.0, x) and grad == np.linalg.norm(x)
    value, grad = symgrad.grad(_scaled_norm, wrt="x").f_and_grad(2.0, x)
    np.testing.assert_allclose(grad, 2.0 * x / np.linalg.norm(x), rtol=1e-15)


def _column_variances(x):
    return np.var(x, axis=0)


def test_the_variance_along_an_axis_of_an_empty_array_is_empty():
    # the count of entries per mean divided by the number of means, 0: a
    # ZeroDivisionError where numpy returns an empty array
    x = np.ones((3, 0))
    value, grad = symgrad.grad(_column_variances).f_and_grad(x, seed=np.ones(0))
    assert value.shape == (0,) and grad.shape == (3, 0)


def _mean_of_an_empty_row(x):
    return np.mean(x[..., 1:1], axis=-1) * 2.0


def test_the_mean_along_an_empty_axis_is_nan_with_an_empty_cotangent():
    # the count divided by in the cotangent was 0: a number's ZeroDivisionError
    # where numpy's mean is nan (with its warning)
    x = np.array([0.5, 1.5, 2.0])
    with pytest.warns(RuntimeWarning):
        value, grad = symgrad.grad(_mean_of_an_empty_row).f_and_grad(x)
    assert np.isnan(value) and np.array_equal(grad, np.zeros(3))
    with pytest.warns(RuntimeWarning):
        value, grad = symgrad.grad(_mean_of_an_empty_row).f_and_grad(
            np.ones((2, 0)), seed=np.ones(2)
        )
    assert value.shape == (2,) and grad.shape == (2, 0)


def _einsum_square(x):
    return np.einsum("i,i->", x, x)


def _dot_square(x):
    return np.dot(x, x)


def _doubled(x):
    return 2 * x


def _max_squared(x):
    return np.max(x) ** 2


def _sum_doubled(x):
    return np.sum(x) * 2


@pytest.mark.parametrize(
    "fn, x",
    [
        (_einsum_square, np.arange(3, dtype=np.float32)),
        (_dot_square, np.arange(3, dtype=np.float32)),
        (_doubled, np.float32(3.0)),
        (_doubled, np.array(3.0, np.float32)),
        (_max_squared, np.float32(3.0)),
        (_dot_square, np.arange(3, dtype=np.float16)),
        (_sum_doubled, np.float32(3.0)),
        (_sum_doubled, np.array(3.0, np.float32)),
    ],
)
def test_a_low_precision_scalar_output_is_seeded_in_its_dtype(fn, x):
    # the default seed was the Python float 1.0, and np.einsum and np.dot of
    # it (or `2.0 * seed`) made float64 gradients of a float32 output
    value, grad = symgrad.grad(fn).f_and_grad(x)
    assert np.asarray(value).dtype == np.asarray(fn(x)).dtype == x.dtype
    assert np.asarray(grad).dtype == x.dtype, type(grad)
    assert np.shape(grad) == np.shape(x)


@pytest.mark.parametrize("x", [2.5, np.float64(2.5)])
def test_a_total_of_a_number_has_a_number_for_gradient(x):
    # np.sum of a Python float spread its cotangent with np.full: a 0-d array
    _, grad = symgrad.grad(_sum_doubled).f_and_grad(x)
    assert isinstance(grad, float) and grad == 2.0


def _float32_buffer(x):
    y = np.zeros(3, dtype=np.float32)
    y[0] = x[0] * x[1]
    return y


def _product_times(x):
    return np.prod(x) * x


def _first_only(x, y):
    return np.sum(x * 2.0)


@pytest.mark.parametrize("fn", [_float32_buffer, _product_times])
def test_float32_tangents_of_a_buffer_and_of_a_product_stay_float32(fn):
    # `_zeros_tangent` and `_prod_tangent` made float64 tangents
    x = np.array([0.5, 1.0, 2.0], np.float32)
    value, tangent = symgrad.jvp(fn).f_and_jvp(x, tangents=np.ones(3, np.float32))
    assert value.dtype == tangent.dtype == np.float32


def _product(x):
    return np.prod(x) + np.sum(np.prod(x.reshape(2, 2), axis=0) ** 2)


def test_the_hessian_of_a_float32_product_stays_float32():
    # `_prod_grad_tangent` computed in float64
    x = np.array([0.3, -0.7, 0.9, 1.5], np.float32)
    hvp = symgrad.hessian(_product).hvp(x, tangents=np.ones(4, np.float32))
    assert hvp.dtype == np.float32
    exact = symgrad.hessian(_product).hvp(x.astype(float), tangents=np.ones(4))
    np.testing.assert_allclose(hvp, exact, rtol=1e-6)


def test_an_unused_float32_number_has_a_float32_zero_gradient():
    x = np.ones(3, np.float32)
    _, (_, dy) = symgrad.grad(_first_only, wrt=(0, 1)).f_and_grad(x, np.float32(1.0))
    assert type(dy) is np.float32 and dy == 0.0


def _total_times_single(x):
    return np.sum(x) * np.single(3.0)


def test_a_float32_factor_of_a_float64_total_keeps_float64():
    # `_spread` took the float32 cotangent's dtype: numpy promotes to float64
    x = np.array([0.1, 0.2, 0.3])
    _, grad = symgrad.grad(_total_times_single).f_and_grad(x)
    assert grad.dtype == np.float64


def _unpacked_product(x):
    a, b, c = x
    return a * b * 2.0 + np.sin(c)


def _unpacked_scaled(x, s):
    a, b, c = x * s
    return a * b + c


def test_a_float32_array_unpacked_into_names_has_float32_gradients():
    # the entries' cotangents were stacked as float64, and the buffer of a
    # computed array's was np.zeros (float64): the scalar s was float64 too
    x = np.array([0.5, 1.5, 2.0], np.float32)
    assert symgrad.grad(_unpacked_product).grad(x).dtype == np.float32
    grads = symgrad.grad(_unpacked_scaled, wrt=(0, 1)).grad(x, np.float32(2.0))
    assert [np.asarray(g).dtype for g in grads] == [np.float32, np.float32]
    check = symgrad.grad(_unpacked_scaled, wrt=(0, 1)).grad(x.astype(float), 2.0)
    np.testing.assert_allclose(grads[0], check[0], rtol=1e-6)


def _accumulated(x):
    acc = 0.0
    for i in range(2):
        acc += x[i]
    return acc


def test_a_number_accumulated_in_place_keeps_the_inputs_dtype():
    # `acc += v` on `acc = 0.0` was emitted as np.copy(0.0), a 0-d float64
    # array: the float32 total came back float64
    x = np.array([0.3, 0.5], np.float32)
    value, grad = symgrad.grad(_accumulated).f_and_grad(x)
    assert type(value) is type(_accumulated(x)) and value == _accumulated(x)
    assert grad.dtype == np.float32
    assert "np.copy(0.0)" not in symgrad.grad(_accumulated).source


def _masked_total(x):
    v = x @ x
    return np.sum(v[v > 0])


def _masked_scalar(x):
    return np.sum(x[x > 0]) * 3.0


def _masked_after_a_product(x):
    v = x @ x
    return v * 2 + np.sum(v[v > 0])


def _masked_in_a_loop(x):
    v = x @ x
    s = 0.0
    for _ in range(2):
        s = s + np.sum(v[v > 0]) * v
    return s


@pytest.mark.parametrize(
    "fn, x, expected",
    [
        (_masked_total, np.array([1.0, 2.0]), np.array([2.0, 4.0])),
        (_masked_total, np.zeros(2), np.zeros(2)),
        (_masked_scalar, np.float64(2.0), 3.0),
        (_masked_scalar, np.float64(-2.0), 0.0),
        (_masked_after_a_product, np.array([1.0, 2.0]), np.array([6.0, 12.0])),
        (_masked_in_a_loop, np.array([1.0, 2.0]), np.array([40.0, 80.0])),
    ],
)
def test_a_mask_on_a_numpy_scalar_has_a_gradient(fn, x, expected):
    # `v[v > 0]` on a numpy scalar is an array of 0 or 1 entries; its
    # cotangent buffer, or the cotangent it was added to in place, was a
    # numpy scalar, which np.add.at raised on
    value, grad = symgrad.grad(fn).f_and_grad(x)
    assert value == fn(x)
    np.testing.assert_array_equal(grad, expected)
    assert np.shape(grad) == np.shape(x)


def _rows_dotted(a, B):
    return np.sum(np.einsum("ij,ij->i", a, B) ** 2)


def _scaled_entries(a, B):
    return np.sum(np.einsum("ij,ij->ij", a, B) ** 2)


def _total_over_a_third_letter(a, B):
    return np.einsum("ijk,ij->", a, B) ** 2


@pytest.mark.parametrize(
    "fn, shapes",
    [
        (_rows_dotted, [(1, 3), (4, 3)]),
        (_rows_dotted, [(4, 3), (1, 3)]),
        (_scaled_entries, [(4, 1), (4, 3)]),
        (_scaled_entries, [(1, 1), (4, 3)]),
        (_total_over_a_third_letter, [(1, 3, 2), (4, 3)]),
        (_total_over_a_third_letter, [(4, 3, 2), (1, 3)]),
    ],
)
def test_einsum_over_a_letter_numpy_broadcasts_has_gradients_of_its_shapes(fn, shapes):
    # np.einsum broadcasts a letter of size 1 in one operand: its cotangent
    # came back in the broadcast shape, (4, 3) for a (1, 3) operand
    rng = np.random.default_rng(0)
    a, B = (rng.normal(size=shape) for shape in shapes)
    g = symgrad.grad(fn, wrt=(0, 1))
    value, grads = g.f_and_grad(a, B)
    assert value == pytest.approx(fn(a, B), rel=1e-14)  # (np.sum(y**2): a dot)
    assert [np.shape(grad) for grad in grads] == shapes
    check_grad(g, a, B)
    tangent = np.ones(shapes[0])
    hvp = symgrad.hessian(fn).hvp(a, B, tangents=tangent)
    assert np.shape(hvp) == shapes[0]


def _two_results(x):
    return x * 2.0, x * 3.0


def _entries_of_a_returned_tuple(x):
    pair = _two_results(x)
    t = (x, x * 2.0)
    return pair[0] * pair[-1] + t[0] * t[1] + len(t)


def _with_numpy_predicates(x):
    s = np.identity(3)[0, 0] * x + np.count_nonzero(x > 1.5) * x
    if np.allclose(x, 1.0):
        s = s * 2.0
    s = np.sum(s * np.isclose(x, 2.0, atol=0.1))
    return s + np.maximum(np.sum(x), float("-inf")) * float("1.5")


def test_a_tuple_read_at_a_constant_index_and_numpys_predicates():
    # `pair[0]` of a helper's tuple was refused ("a tuple or list of values
    # ... not supported yet"); np.identity, np.count_nonzero, np.isclose and
    # np.allclose had "no derivative rule"; float("-inf") was "not a number"
    g = symgrad.grad(_entries_of_a_returned_tuple)
    assert g.f_and_grad(2.0) == (_entries_of_a_returned_tuple(2.0), 32.0)
    x = np.array([1.0, 2.0, 3.0])
    g = symgrad.grad(_with_numpy_predicates)
    value, grad = g.f_and_grad(x)
    assert value == _with_numpy_predicates(x)
    np.testing.assert_array_equal(grad, [1.5, 4.5, 1.5])
    check_grad(g, x)


def _listed_at_a_comparison(x):
    entries = [x[0], x[1], x[2]]
    return entries[len(x) == 3] * 2.0


def _listed_at_a_flag(x, b):
    entries = [x[0], x[1], x[2]]
    return entries[b] ** 3


def _appended_at_comparisons(x):
    ys = []
    for i in range(3):
        ys.append(x[i])
    s = 0.0
    for i in range(4):
        s = s + ys[i == 1]
    return s


def _written_at_a_flag(x, b):
    entries = [x[0], x[1], x[2]]
    entries[b] = x[0] * 5.0
    return entries[0] + 2 * entries[1] + 3 * entries[2]


def _written_into_an_int_list(x):
    entries = [1, 2, 3]
    entries[0] = x * 0.5
    return entries[0] + entries[1]


def _filled_int_list(x, k):
    entries = [0, 0, 0]
    for i in range(3):
        entries[i] = x[i] * k
    entries[k == 2] = 7
    return entries[0] + entries[1] * entries[2]


def test_a_written_list_stays_a_list():
    # `entries[0] = v` made the list an array first: a list of ints truncated
    # what was written (value 3, gradient 0 for 3.5 and 0.5), and a bool
    # index wrote every entry
    value, grad = symgrad.grad(_written_into_an_int_list).f_and_grad(3.0)
    assert value == 3.5 and grad == 0.5
    x = np.array([1.0, 2.0, 3.0])
    g = symgrad.grad(_filled_int_list)
    value, grad = g.f_and_grad(x, 2)
    assert value == _filled_int_list(x, 2) == 44.0
    np.testing.assert_array_equal(grad, [2.0, 0.0, 14.0])
    check_grad(g, x, 2)
    tangent = np.array([1.0, 10.0, 100.0])
    value, jvp = symgrad.jvp(_filled_int_list).f_and_jvp(x, 2, tangents=tangent)
    assert value == 44.0 and jvp == 1402.0
    hessian = symgrad.hessian(_filled_int_list).hessian(x, 1)  # 7 + x1 * x2
    np.testing.assert_array_equal(hessian, [[0, 0, 0], [0, 0, 1], [0, 1, 0]])


def _written_int_list_argument(xs, y):
    xs[0] = y * 0.5
    return xs[0] + xs[1] * y


def _filled_int_list_argument(xs, y):
    for i in range(2):
        xs[i] = xs[i] * y + 0.25
    return xs[0] * xs[1]


def _int_then_float_written(x, idx):
    idx[0] = 2
    idx[1] = x * 0.5
    return idx[1] * x + idx[0]


def _int_written_into_bools(x, m):
    m[1] = 3
    return x * m[1]


def _index_list_written(x, idx):
    idx[0] = 2
    return x[idx[0]] + x[idx[1]]


def test_a_list_argument_of_ints_or_bools_holds_what_is_written():
    # an int (or bool) list copied as an int (bool) array truncated the float
    # written into it (2.0 and 0.0 for 2.245 and 0.7), or made 3 True (0.7,
    # 1.0 for 2.1, 3.0)
    g = symgrad.grad(_int_then_float_written)
    assert g.f_and_grad(0.7, [0, 1]) == pytest.approx((2.245, 0.7))
    g = symgrad.grad(_int_written_into_bools)
    assert g.f_and_grad(0.7, [True, False]) == pytest.approx((2.1, 3.0))
    # its entries are floats then: one used as an index raises, loudly
    with pytest.raises(IndexError):
        symgrad.grad(_index_list_written).f_and_grad(np.arange(4.0), [0, 1])


def test_a_list_argument_of_ints_holds_the_float_written_into_it():
    # the argument was copied with np.copy into an int array, which truncated
    # what was written: value 13 and gradient 4 for 13.5 and 4.5
    g = symgrad.grad(_written_int_list_argument, wrt=1)
    value, grad = g.f_and_grad([3, 4], 3.0)
    assert value == _written_int_list_argument([3, 4], 3.0) == 13.5
    assert grad == 4.5
    check_grad(g, [3, 4], 3.0)
    g = symgrad.grad(_filled_int_list_argument, wrt=1)  # (copied before the loop)
    value, grad = g.f_and_grad([1, 2], 1.5)
    assert value == _filled_int_list_argument([1, 2], 1.5) == 5.6875
    assert grad == 1 * 3.25 + 2 * 1.75
    _, jvp = symgrad.jvp(_filled_int_list_argument, wrt=1).f_and_jvp(
        [1, 2], 1.5, tangents=2.0
    )
    assert jvp == 2 * grad
    hessian = symgrad.hessian(_filled_int_list_argument, wrt=1).hessian([1, 2], 1.5)
    assert hessian == 4.0  # 2 * 1 * 2
    # an int array truncates, as numpy does
    value, grad = g.f_and_grad(np.array([1, 2]), 1.5)
    assert value == _filled_int_list_argument(np.array([1, 2]), 1.5) == 3.0
    assert grad == 0.0


def _roughness(x):
    d = x.copy()
    d[1:] -= x[:-1]
    return np.sum(d**2)


def _products_in_place(x):
    y = x.copy()
    y[1:] *= x[:-1]
    y[0] = x[1] * x[2]
    return np.sum(y**2)


def _squares_into_a_buffer(x):
    y = np.zeros_like(x)
    y[:] = x**2
    z = np.zeros_like(x)
    z[1:] = x[1:] * 0.5  # a float into an int buffer: truncated
    b = np.zeros(4, dtype=bool)
    b[0] = x[0]  # an int into a bool array: True, no derivative (reviewer)
    return np.sum(y) + np.sum(z * x) + np.sum(b * x)


def _truncated_in_place(x):
    a = x * 3
    a[1] += 0.5  # int(6.5): the entry keeps no derivative (random tester)
    a[2] -= 1  # an int: kept whole
    return np.sum(a * a)


@pytest.mark.parametrize(
    "fn", [_roughness, _products_in_place, _squares_into_a_buffer, _truncated_in_place]
)
def test_ints_written_into_an_int_array_pass_their_derivative(fn):
    # an int array's write zeroed the derivative of every value written, ints
    # too, which numpy keeps whole: roughness of [1, 2, 4, 7] had gradient
    # [2, 2, 4, 6] for [0, -2, -2, 6] (adversarial tester); only a float is
    # truncated (z's entries, 1, 2 and 3 from 2, 4 and 7)
    x = np.array([1, 2, 4, 7])
    value, grad = symgrad.grad(fn).f_and_grad(x)
    assert value == fn(x)
    tangent = np.array([0.5, -1.0, 2.0, 0.25])
    hvp = symgrad.hessian(fn).hvp(x, tangents=tangent)
    if fn is _squares_into_a_buffer:  # d/dx of sum(x**2) + z * x + b * x
        expected = 2.0 * x + np.array([0.0, 1.0, 2.0, 3.0]) + [1.0, 0.0, 0.0, 0.0]
        expected_hvp = 2.0 * tangent
    elif fn is _truncated_in_place:  # a = [3, 6, 11, 21], a[1] truncated
        expected = np.array([18.0, 0.0, 66.0, 126.0])
        expected_hvp = 18.0 * tangent * [1.0, 0.0, 1.0, 1.0]
    else:  # as at the same numbers in floats
        expected = numeric_grad(fn, (x.astype(float),), 0)
        expected_hvp = symgrad.hessian(fn).hvp(x.astype(float), tangents=tangent)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-6)
    _, jvp = symgrad.jvp(fn).f_and_jvp(x, tangents=tangent)
    np.testing.assert_allclose(jvp, np.dot(grad, tangent), rtol=1e-9)
    np.testing.assert_allclose(hvp, expected_hvp, rtol=1e-9)


def _flagged_array(x, b):
    return np.sum(x[b] * 2.0)


def _passed_list_at_a_comparison(xs, n):
    return xs[n > 1] * 2.0


@pytest.mark.parametrize(
    "fn, args, expected",
    [
        (_listed_at_a_comparison, (), [0.0, 2.0, 0.0]),
        (_listed_at_a_flag, (True,), [0.0, 12.0, 0.0]),
        (_listed_at_a_flag, (False,), [3.0, 0.0, 0.0]),
        (_listed_at_a_flag, (2,), [0.0, 0.0, 27.0]),
        (_appended_at_comparisons, (), [3.0, 1.0, 0.0]),
        (_written_at_a_flag, (True,), [11.0, 0.0, 3.0]),
        (_written_at_a_flag, (2,), [16.0, 2.0, 0.0]),
    ],
)
def test_a_bool_indexes_a_list_as_python_reads_it(fn, args, expected):
    # `entries[True]` is `entries[1]`, but the list's cotangent is an array,
    # which read the bool as a mask over every entry: [2, 2, 2] for [0, 2, 0]
    x = np.array([1.0, 2.0, 3.0])
    value, grad = symgrad.grad(fn).f_and_grad(x, *args)
    assert value == fn(x, *args)
    np.testing.assert_array_equal(grad, expected)
    check_grad(symgrad.grad(fn), x, *args)


def test_a_bool_indexes_a_passed_list_and_its_hessian_as_python_reads_it():
    grad = symgrad.grad(_passed_list_at_a_comparison).grad([1.0, 2.0, 3.0], 3)
    np.testing.assert_array_equal(grad, [0.0, 2.0, 0.0])
    hessian = symgrad.hessian(_listed_at_a_flag).hessian(np.ones(3), True)
    np.testing.assert_array_equal(hessian, np.diag([0.0, 6.0, 0.0]))
    # an array reads a bool as numpy does, a new axis (or none of it)
    grad = symgrad.grad(_flagged_array).grad(np.ones(3), True)
    np.testing.assert_array_equal(grad, [2.0, 2.0, 2.0])


def _scaled_sine(x, s):
    return np.sum(np.sin(x * s))


def _sine_scaled(x, s):
    return np.sum(np.sin(s * x))


@pytest.mark.parametrize("fn", [_scaled_sine, _sine_scaled])
def test_a_float32_array_times_a_python_float_has_a_float32_gradient(fn):
    # `_unbroadcast_mul(s, cos(x * s), x)` made `s` a 0-d float64 array, which
    # numpy 2 promotes float32 with (a Python float does not)
    x = np.array([0.1, 0.2, 0.3], np.float32)
    grad = symgrad.grad(fn).grad(x, 0.5)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, 0.5 * np.cos(0.5 * x), rtol=1e-6)
    tangent = np.ones(3, np.float32)
    assert symgrad.hessian(fn).hvp(x, 0.5, tangents=tangent).dtype == np.float32


def _clipped_tripled(x):
    return np.clip(x, 0.0, 1.0) * 3


@pytest.mark.parametrize("x", [0.5, np.float64(1.5), np.float32(0.5)])
def test_a_clipped_number_whose_value_is_numpys_has_a_number_for_gradient(x):
    # np.clip of a Python float is np.float64, so the float body is not taken,
    # and the gradient was the 0-d array np.where makes of numbers
    value, grad = symgrad.grad(_clipped_tripled).f_and_grad(x)
    assert not isinstance(grad, np.ndarray) and grad == (3.0 if x < 1 else 0.0)
    assert np.asarray(grad).dtype == np.asarray(value).dtype
    _, grads = symgrad.grad(_clipped_tripled).f_and_grad(
        np.array([0.5, 2.0]), seed=np.ones(2)
    )
    np.testing.assert_array_equal(grads, [3.0, 0.0])
    source = symgrad.grad(_clipped_tripled).source
    assert "x_bar = _unbroadcast(np.where(" in source


def _root_of_square(x):
    return np.sum(np.sqrt(x * x))


def test_the_root_of_a_square_is_an_absolute_value_with_gradient_0_at_0():
    # as the README says: sympy's |x|, where numpy's chain rule gives nan
    grad = symgrad.grad(_root_of_square).grad(np.array([0.0, 1.0, -2.0]))
    np.testing.assert_array_equal(grad, [0.0, 1.0, -1.0])


def _row_scaled(B, c):
    B[1, :] *= c
    return np.sum(B * B)


def _positives_doubled(y):
    z = y * 1.0
    z[z > 0] *= 2.0
    return np.sum(np.sin(z))


def _column_divided_row_squared(B):
    C = B + 0.0
    C[:, 1] /= 3.0
    C[0] **= 2
    return np.sum(C * np.arange(C.size).reshape(C.shape))


def _fancy_scaled(x):
    y = x * 1.0
    y[[2, 0]] *= x[1]
    return np.sum(y**2)


@pytest.mark.parametrize(
    "fn, shapes",
    [
        (_row_scaled, [(3, 4), ()]),
        (_positives_doubled, [(6,)]),
        (_column_divided_row_squared, [(3, 4)]),
        (_fancy_scaled, [(3,)]),
    ],
)
def test_multiplying_an_element_or_slice_in_place(fn, shapes):
    # `y[i] *= v` (and `/=`, `**=`) was refused; it is `y[i] = y[i] * v`
    rng = np.random.default_rng(3)
    args = [rng.normal(size=s) if s else 1.7 for s in shapes]
    kept = [np.copy(a) for a in args]
    g = symgrad.grad(fn, wrt=tuple(range(len(args))))
    value, _ = g.f_and_grad(*args)
    assert all(np.array_equal(a, b) for a, b in zip(args, kept, strict=True))
    np.testing.assert_allclose(value, fn(*[np.copy(a) for a in args]), rtol=1e-14)
    check_grad(g, *args)


def _filled_like(x):
    z = np.empty_like(x)
    z[:] = x * 2.0
    z[0] = np.sin(x[1])
    return np.sum(z * z)


def test_an_empty_like_buffer_filled_in_has_the_gradient_of_its_entries():
    x = np.array([0.5, -1.0, 2.0])
    g = symgrad.grad(_filled_like)
    assert g.f_and_grad(x)[0] == _filled_like(x)
    check_grad(g, x)


def _total_of_squares(x):
    return sum(x[i] ** 2 for i in range(3)) + sum([x[i] * x[0] for i in range(3)])


def _mean_squared_error(w, data):
    return sum((w * u - t) ** 2 for u, t in data) / len(data)


def _rows_total(X):
    return sum(X) @ sum(X, np.ones(3))


def _empty_total(x):
    return sum([]) + np.sum(x * 2.0)


@pytest.mark.parametrize(
    "fn, args",
    [
        (_total_of_squares, (np.array([0.5, -1.0, 2.0]),)),
        (_mean_squared_error, (0.7, [(0.5, 1.0), (1.5, -0.5), (2.0, 3.0)])),
        (_rows_total, (np.arange(6.0).reshape(2, 3),)),
        (_empty_total, (np.array([1.0, 2.0]),)),
    ],
)
def test_pythons_sum_adds_left_to_right(fn, args):
    # builtin sum() was refused, and a generator expression with it
    g = symgrad.grad(fn)
    assert g.f_and_grad(*args)[0] == fn(*args)
    check_grad(g, *args)


def _square_plus_clipped(x):
    return np.sum(x * x) + np.sum(np.clip(x, 0.0, 1.0))


def _clipped_plus_product(y, z):
    return np.sum(np.clip(y, 0.0, 1.0)) + np.sum(z * y)


@pytest.mark.parametrize(
    "fn, args",
    [
        (_square_plus_clipped, (np.array([0.3, -0.6, 1.4]),)),
        (
            _clipped_plus_product,
            (np.array([0.3, -0.6, 1.4]), np.array([2.0, 1.0, 3.0])),
        ),
    ],
)
def test_a_gradient_np_where_makes_then_adds_to_is_summed_back_in_place(fn, args):
    # the `_unbroadcast` of a where-made gradient was appended at the end of
    # the adjoint, after statements that read the gradient: UnboundLocalError
    g = symgrad.grad(fn)
    assert g.f_and_grad(*args)[0] == fn(*args)
    check_grad(g, *args)


SHIFTS = (1, 2)


def _rolled_by_a_named_tuple(x):
    return np.sum(np.roll(x, SHIFTS) * np.arange(2.0))


def _swapped_with_itself(X):
    return np.sum(np.swapaxes(X, 1, -1) * np.swapaxes(X, 0, -2))


def _rolled_along_two_axes(X):
    return np.sum(np.roll(X, (1, 2), axis=(0, 1)) * np.arange(12.0).reshape(3, 4))


def _rolled_by_an_argument(X, k):
    return np.sum(np.roll(X, k, axis=1) ** 3)


@pytest.mark.parametrize(
    "fn, args",
    [
        (_rolled_by_a_named_tuple, (np.array([1.0, 2.0]),)),
        (_rolled_along_two_axes, (np.arange(12.0).reshape(3, 4),)),
        (_rolled_by_an_argument, (np.arange(12.0).reshape(3, 4), -5)),
    ],
)
def test_np_roll_takes_numpys_shifts_and_rolls_its_cotangent_back(fn, args):
    # np.roll was a prelude gather by one shift (its adjoint np.add.at, about
    # 20x slower than rolling back; a tuple of shifts in a name gave a wrong
    # value); now an op whose cotangent is np.roll by the negated shift
    g = symgrad.grad(fn)
    assert g.f_and_grad(*args)[0] == fn(*args)
    check_grad(g, *args)
    assert "np.add.at" not in g.source
    assert "_bar = np.roll(" in g.source


def test_prelude_edge_cases_match_numpy_or_raise():
    # np.swapaxes of one axis with itself was a raw ValueError; np.triu of
    # integers was float64
    X = np.arange(6.0).reshape(2, 3)
    g = symgrad.grad(_swapped_with_itself)
    assert g.f_and_grad(X)[0] == _swapped_with_itself(X)
    check_grad(g, X)
    A = np.arange(9).reshape(3, 3)
    value, _ = symgrad.grad(_triangle_of_integers, wrt=1).f_and_grad(A, 2.0)
    assert value == _triangle_of_integers(A, 2.0)
    # np.diff of a negative order returned its input (gradient ones)
    g = symgrad.grad(_differenced)
    with pytest.raises(ValueError, match="order must be non-negative but got -1"):
        g.f_and_grad(np.ones(3), -1)
    assert g.f_and_grad(np.arange(4.0) ** 2, 2)[0] == 4.0


def _flipped_up(x):
    return np.sum(np.flipud(x))


def _flipped_left(x):
    return np.sum(np.fliplr(x))


def _upper_triangle(x):
    return np.sum(np.triu(x))


def _lower_triangle(x):
    return np.sum(np.tril(x))


def _traced(x):
    return np.trace(x) * 2.0


@pytest.mark.parametrize(
    "fn, x",
    [
        (_flipped_up, np.float64(2.0)),
        (_flipped_left, np.ones(3)),
        (_flipped_left, 2.0),
        (_upper_triangle, np.float64(2.0)),
        (_lower_triangle, 2.0),
        (_traced, np.ones(3)),
    ],
)
def test_prelude_functions_of_too_few_axes_raise_numpys_error(fn, x):
    # each raised an IndexError from the lines defining it
    with pytest.raises(Exception) as numpys:
        fn(x)
    with pytest.raises(numpys.type) as ours:
        symgrad.grad(fn).f_and_grad(x)
    assert ours.type is numpys.type  # (not a subclass: IndexError is a LookupError)
    if numpys.type is ValueError:
        assert str(ours.value) == str(numpys.value)


def _differenced(x, n):
    return np.sum(np.diff(x, n=n))


def _triangle_of_integers(A, s):
    return np.sum(np.triu(A) // 2) * s + np.sum(np.tril(A).astype(float)) * 0.0


def _triangle_masks(A):
    lower = np.tril(np.ones((3, 3), dtype=bool), k=-1)
    return np.sum(A[np.triu(A > 0)]) + np.sum(A[lower] ** 2)


def test_a_triangle_of_a_boolean_mask_is_a_mask():
    # np.where(..., m, 0) made a boolean m an integer array, which indexes
    # rows: 11.9 + 39.99 for 3.9 + 3.1 (adversarial tester)
    A = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, 0.9, 1.1]])
    value, grad = symgrad.grad(_triangle_masks).f_and_grad(A)
    assert value == _triangle_masks(A)
    expected = np.triu(A > 0) + 2.0 * np.tril(A, -1)
    np.testing.assert_allclose(grad, expected, rtol=1e-15)


def _extremum_with_nan(x):
    return np.sum(np.minimum(x, float("nan")) + np.maximum(x, np.nan))


def test_a_nan_bound_of_an_extremum_compiles_to_nan():
    # sympy refuses Min(x, nan) ("not comparable"): an InternalError
    value, grad = symgrad.grad(_extremum_with_nan).f_and_grad(np.ones(2))
    assert np.isnan(value)
    assert np.isnan(grad).all()


def _softplus(x):
    return np.sum(np.logaddexp(0.0, x))


def test_the_derivative_of_logaddexp_does_not_overflow():
    # sympy's derivative of log(1 + exp(x)), exp(x) / (1 + exp(x)), is
    # inf / inf = nan at x = 800; symgrad's is exp(x - out), the sigmoid
    x = np.array([-800.0, -2.0, 0.0, 3.0, 800.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no overflow on the way either)
        value, grad = symgrad.grad(_softplus).f_and_grad(x)
        hvp = symgrad.hessian(_softplus).hvp(x, tangents=np.ones(5))
    assert value == pytest.approx(np.sum(np.logaddexp(0.0, x)), rel=1e-15)
    sigmoid = np.array([0.0, 1 / (1 + np.exp(2.0)), 0.5, 1 / (1 + np.exp(-3.0)), 1])
    np.testing.assert_allclose(grad, sigmoid, rtol=1e-15, atol=0)
    np.testing.assert_allclose(hvp, sigmoid * (1 - sigmoid), rtol=1e-12, atol=0)


def _polynomial(x, c):
    s = 0.0
    for k in range(c.shape[0]):
        s = s + c[k] * x**k
    return s


def _power_of_a_value(x, n):
    return x**n


def _powers_of_an_array(x):
    return np.sum(np.power(x, np.array([0, 1, 2])))


def test_a_power_of_a_value_differentiates_to_zero_where_its_exponent_is():
    # `k * x ** (k - 1)` is 0 * inf = nan at x = 0, k = 0: a polynomial's
    # gradient at 0 was nan (JAX: 2.0), and the Hessian of x ** 1 there
    value, grad = symgrad.grad(_polynomial).f_and_grad(0.0, np.array([1.0, 2.0, 3.0]))
    assert (value, grad) == (1.0, 2.0)
    value, grad = symgrad.grad(_powers_of_an_array).f_and_grad(np.zeros(3))
    np.testing.assert_array_equal(grad, [0.0, 1.0, 0.0])
    power = symgrad.grad(_power_of_a_value)
    hessian = symgrad.hessian(_power_of_a_value)
    for n, first, second in [(0, 0.0, 0.0), (1, 1.0, 0.0), (2, 0.0, 2.0), (3, 0, 0)]:
        assert power.grad(0.0, n) == first
        assert hessian.hvp(0.0, n, tangents=1.0) == second
    symgrad.check_grad(power, 1.7, 2.5)
    symgrad.check_grad(power, 1.7, 0)


def _float64_of_an_array(x):
    y = x * 1.0
    z = np.float64(y)  # (y itself)
    z[0] = 5.0 * x[1]
    return np.sum(y * x)


def _transposed_by_einsum(X):
    Y = X * 1.0
    t = np.einsum("ij->ji", Y)  # (a view of Y)
    Y[0, 1] = 5.0 * X[0, 0]
    return np.sum(t * X)


def _einsums_of_one_operand(X):
    return np.sum(np.einsum("ij->ji", X) * X) + np.sum(np.einsum("ij->i", X) ** 2)


def test_np_float64_and_an_einsum_that_keeps_every_letter_are_views():
    # numpy returns the array itself (np.float64 of float64 values) or a view
    # of it (np.einsum("ij->ji", Y)), which symgrad took for new arrays: a
    # write through one did not reach the other (value 4.27 for 2.38)
    for fn in (_float64_of_an_array, _transposed_by_einsum):
        with pytest.raises(UnsupportedSyntaxError, match="may share memory"):
            symgrad.grad(fn).f_and_grad(np.ones((2, 2)))
    X = np.array([[0.3, -1.2], [0.7, 1.5]])
    g = symgrad.grad(_einsums_of_one_operand)
    assert g.f_and_grad(X)[0] == _einsums_of_one_operand(X)
    check_grad(g, X)
    assert "np.transpose(X, axes=(1, 0))" in g.source


def _diagonal_then_matrix_written(X):
    K = X @ X.T
    d = np.diag(K)  # (a view of K's diagonal)
    K += 0.5 * np.eye(3)
    return np.sum(np.log(d)) + np.sum(K)


def _off_diagonal_then_entry_written(A):
    B = A * 1.0
    d = np.diag(B, k=1)
    B[1, 2] = 7.0 * A[0, 0]
    return np.sum(d * d)


def _diagonal_then_loop_writes(A):
    B = A * 1.0
    d = np.diag(B)
    for i in range(3):
        B[i, i] += 1.0
    return np.sum(d * A[0])


def _diagonal_matrix_written_into(v):
    D = np.diag(v)  # (of a vector: a new matrix)
    D[0, 1] = v[0] * 2.0
    return np.sum(D * D)


def _diagonal_then_matrix_rebound(A, c):
    B = A * 1.0
    d = np.diag(B, 1)
    B = B * c  # (a new array: d keeps B's old diagonal)
    B[0, 0] = 1.0
    return np.sum(d * d) + np.sum(B)


def _scalar_type_then_written(x, k):
    kk = k * 1
    c = np.int64(kk)  # (kk itself, for an int64 kk)
    kk[0] = 5
    return np.sum(x * c)


def _tridiagonal(a, n):
    D = np.diag(np.ones(n) * 2.0)  # (a new matrix: filled in place)
    for i in range(n - 1):
        D[i, i + 1] = a[i]
        D[i + 1, i] = a[i]
    return np.sum(D @ D)


def _diagonal_of_a_buffer_then_written(x):
    v = np.zeros(3)
    v[0] = x[0]
    D = np.diag(v)  # (v is a vector: D is a new matrix)
    v[1] = 2.0 * x[1]
    return np.sum(D * D) + np.sum(v)


def test_np_diag_of_a_matrix_is_a_view():
    # numpy's np.diag of a matrix is a (read-only) view of the diagonal, which
    # symgrad took for a copy: a later write into the matrix did not reach it
    # (value 28.85 for 29.73, and a wrong gradient; adversarial tester).  A
    # write into the matrix while the diagonal is still read is refused; a
    # write into np.diag of a vector (a new matrix) is not.
    X = np.arange(1.0, 7.0).reshape(3, 2) / 3
    A = np.arange(1.0, 10.0).reshape(3, 3) / 4
    for fn, args in [
        (_diagonal_then_matrix_written, (X,)),
        (_off_diagonal_then_entry_written, (A,)),
        (_diagonal_then_loop_writes, (A,)),
    ]:
        with pytest.raises(UnsupportedSyntaxError, match="may share memory") as info:
            symgrad.grad(fn).f_and_grad(*args)
        assert "may be np.diag's view of " in str(info.value)  # (the hint)
        assert "take np.diag(np.copy(" in str(info.value)
        with pytest.raises(UnsupportedSyntaxError, match="may share memory"):
            symgrad.jvp(fn).jvp(*args, tangents=np.ones_like(args[0]))
    v = np.array([1.0, -2.0, 3.0])
    g = symgrad.grad(_diagonal_matrix_written_into)
    assert g.f_and_grad(v)[0] == _diagonal_matrix_written_into(v)
    check_grad(g, v)
    assert "_copy_arg" not in g.source  # (np.diag(v) is v's matrix, not v)
    g = symgrad.grad(_diagonal_then_matrix_rebound)
    assert g.f_and_grad(A, 2.0)[0] == _diagonal_then_matrix_rebound(A, 2.0)
    check_grad(g, A, 2.0)
    g = symgrad.grad(_diagonal_of_a_buffer_then_written)
    assert g.f_and_grad(v)[0] == _diagonal_of_a_buffer_then_written(v)
    check_grad(g, v)
    # np.int64(k) of an int64 array is that array (tester: 14 for 18)
    with pytest.raises(UnsupportedSyntaxError, match="may share memory"):
        symgrad.grad(_scalar_type_then_written).f_and_grad(v, np.array([1, 2, 3]))
    # a matrix made by np.diag is written in place, not copied per write
    # (taking np.diag for a view had the loop save a matrix per step)
    g = symgrad.grad(_tridiagonal)
    a = np.linspace(0.0, 1.0, 5)
    assert g.f_and_grad(a, 6)[0] == _tridiagonal(a, 6)
    check_grad(g, a, 6)
    body = g.source.split("# Support")[0]
    assert "_setitem(" not in body and "D[i, i + 1] = a[i]" in body


def _gaussian_log_density(S, r):
    sign, logdet = np.linalg.slogdet(S)
    return -0.5 * (logdet + r @ np.linalg.solve(S, r))


def test_linear_algebra_differentiates_as_a_textbook_writes_it():
    # np.linalg.inv, det, solve and slogdet: cotangents -A^-T g A^-T,
    # g det(A) A^-T, (solve(A^T, g), -solve(A^T, g) x^T), g A^-T
    S = np.array([[2.0, 0.3], [0.3, 1.0]])
    r = np.array([0.5, -1.0])
    g = symgrad.grad(_gaussian_log_density, wrt=(0, 1))
    value, (S_bar, r_bar) = g.f_and_grad(S, r)
    inverse = np.linalg.inv(S)
    x = inverse @ r
    assert value == pytest.approx(-0.5 * (np.log(np.linalg.det(S)) + r @ x))
    np.testing.assert_allclose(S_bar, -0.5 * inverse + 0.5 * np.outer(x, x))
    np.testing.assert_allclose(r_bar, -x)
    assert "_solve_vec(np.matrix_transpose(S), " in g.source
    (verdict,) = symgrad.verify(g, S, r).verdicts
    assert verdict.status == "checked" and verdict.ok  # (by sympy, exactly)
    # the derivative of a determinant reads the inverse: a singular matrix
    # raises where numpy's inverse does
    det = symgrad.grad(_stacked_determinants)
    with pytest.raises(np.linalg.LinAlgError, match="Singular"):
        det.f_and_grad(np.ones((2, 2, 2)))


_WEIGHTS = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0], [2.0, 1.0, 4.0]])


def _weighted_factor(S):
    return np.sum(np.linalg.cholesky(S) * _WEIGHTS)


def _weighted_upper_factor(S):
    return np.sum(np.linalg.cholesky(S, upper=True) * _WEIGHTS.T)


def test_a_cholesky_factor_differentiates_as_numpy_reads_its_matrix():
    # numpy's factor reads the lower triangle only (upper=True: the upper):
    # the other's entries have derivative 0, and an entry below the diagonal
    # counts twice, as both of the symmetric matrix's (JAX and PyTorch give
    # the derivative of the symmetric matrix's factor instead, halved there)
    S = np.array([[4.0, 9.0, -7.0], [1.0, 3.0, 5.0], [0.5, -0.2, 2.0]])
    g = symgrad.grad(_weighted_factor)
    value, S_bar = g.f_and_grad(S)
    assert value == _weighted_factor(S)
    assert np.all(np.triu(S_bar, 1) == 0.0) and np.all(S_bar[np.tril_indices(3)] != 0)
    check_grad(g, S)
    upper = symgrad.grad(_weighted_upper_factor)
    _, U_bar = upper.f_and_grad(S.T.copy())
    np.testing.assert_allclose(U_bar, S_bar.T, rtol=1e-14)
    check_grad(upper, S.T.copy())
    # against the derivative of the symmetric matrix's factor, JAX's formula
    # (Murray 2016): M = L^-T phi(L^T g) L^-1, whose symmetric part is S's
    L = np.linalg.cholesky(S)
    W = np.array([[1.0, 0.0, 0.0], [3.0, 0.25, 0.0], [2.0, 1.0, 4.0]])
    phi = np.tril(L.T @ W) - 0.5 * np.diag(np.diag(L.T @ W))
    M = np.linalg.inv(L).T @ phi @ np.linalg.inv(L)
    symmetric = 0.5 * (M + M.T)
    np.testing.assert_allclose(
        S_bar, np.tril(2.0 * symmetric) - np.diag(np.diag(symmetric))
    )
    assert "_lower(" in g.source  # (the triangles, in the emitted support code)
    # a 3 x 3 factor is real at few random points of sympy's check (it said
    # FAILED): points near the arguments given are, where it is checked
    (verdict,) = symgrad.verify(g, S).verdicts
    assert verdict.ok and verdict.status == "checked", verdict


def _literal_nan_and_inf(x):
    low = np.minimum(x, np.array([float("inf"), 0.5, -np.inf]))
    return np.nansum(x * np.array([1.0, np.nan, 2.0])) + np.sum(low[:2])


def test_a_literal_array_holding_nan_and_inf_is_spelled_as_numpys():
    # the emitted module wrote `[1.0, nan, 2.0]`: a NameError when it ran
    x = np.array([0.3, -0.7, 0.9])
    value, grad = symgrad.grad(_literal_nan_and_inf).f_and_grad(x)
    assert value == _literal_nan_and_inf(x)
    assert "np.copy([1.0, np.nan, 2.0])" in symgrad.grad(_literal_nan_and_inf).source
    np.testing.assert_array_equal(grad, [2.0, np.nan, 2.0])


def _padded_by_mean(x):
    return np.sum(np.pad(x, 1, mode="mean"))


def _padded_by_a_value(x, c):
    return np.sum(np.pad(x, 1, constant_values=c))


def _padded_number(x):
    return np.sum(np.pad(x, 1, mode="edge") ** 2)


def _median_of_two_axes(x):
    return np.median(x, axis=(0, 1))


def _factor_by_position(S):
    return np.sum(np.linalg.cholesky(S, True))


def test_review_findings_on_pad_median_and_cholesky():
    # a number padded by copies had a 0-d array for gradient (and Hessian);
    # a median over a tuple of axes raised numpy's ValueError from inside
    # the generated code; cholesky's `upper` by position spoke of reductions;
    # the upper factor's adjoint transposed a transpose
    value, grad = symgrad.grad(_padded_number).f_and_grad(2.0)
    assert (value, grad) == (4.0, 4.0) and np.ndim(grad) == 0
    assert not isinstance(grad, np.ndarray)
    with pytest.raises(NoDerivativeError, match="median.. along one axis or all"):
        symgrad.grad(_median_of_two_axes).f_and_grad(np.ones((2, 2)))
    with pytest.raises(symgrad.SymgradError, match="takes upper= by keyword only"):
        symgrad.grad(_factor_by_position).f_and_grad(np.eye(2))
    source = symgrad.grad(_weighted_upper_factor).source
    assert "np.matrix_transpose(np.matrix_transpose(" not in source


def _ragged_parts(x):
    parts = [x[: i + 1] for i in range(3)]
    return np.sum(np.concatenate(parts) ** 2)


def _parts_past_the_axes(x):
    parts = [x * k for k in range(2)]
    return np.sum(np.concatenate(parts, axis=1))


def test_a_list_made_at_run_time_is_concatenated_when_its_entries_share_a_shape():
    # (it was refused: "np.concatenate needs its arrays written out")
    x = np.array([0.3, -0.7, 1.1])
    with pytest.raises(BadInputError, match="shapes .1,., .2,., .3,.") as info:
        symgrad.grad(_ragged_parts).f_and_grad(x)
    assert info.value.loc.line == _ragged_parts.__code__.co_firstlineno + 2
    with pytest.raises(np.exceptions.AxisError, match="axis 1 is out of bounds"):
        symgrad.grad(_parts_past_the_axes).f_and_grad(x)
    # the shape check is a call alone (it was `t2 = _same_shapes(parts)`, a
    # name nothing reads), and takes no temporary's number (with the line of
    # the call, which the error points at)
    body = symgrad.grad(_ragged_parts).source.split("# Support")[0]
    line = _ragged_parts.__code__.co_firstlineno + 2
    assert (
        f'\n    _same_shapes(parts, "np.concatenate", line={line})\n'
        "    t1 = np.stack(parts)\n" in body
    )


def _parts(x, E):
    items = []
    for i in range(3):
        items.append(E * x[i])
    return items


def _joined_0(x, E):
    return np.sum(np.concatenate(_parts(x, E))) + x[0]


def _joined_1(x, E):
    return np.sum(np.concatenate(_parts(x, E), axis=1)) + x[0]


def _joined_last(x, E):
    return np.sum(np.concatenate(_parts(x, E), axis=-1)) + x[0]


def _joined_float(x, E):
    return np.sum(np.concatenate(_parts(x, E), axis=0.0))


def _joined_text(x, E):
    return np.sum(np.concatenate(_parts(x, E), axis="0"))


def _joined_past(x, E):
    return np.sum(np.concatenate(_parts(x, E), axis=-3))


def _stacked_rows(x, E):
    return np.sum(np.vstack(_parts(x, E))) + x[0]


def _joined_numbers(x):
    return np.sum(np.concatenate([x[i] * 2.0 for i in range(2)]))


def test_a_list_made_at_run_time_is_joined_or_refused_as_numpy_does():
    # entries with an axis of length 0 raised a raw ValueError from reshape
    # (a -1 in the merged shape); a float axis was read as 0 (numpy raises
    # TypeError), a string one was an InternalError; a negative axis past
    # the entries' named the stacked array's axes, numbers an AxisError
    x = np.array([1.0, 2.0, 3.0])
    for fn, E in [
        (_joined_1, np.zeros((0, 2))),
        (_joined_0, np.zeros((2, 0))),
        (_joined_last, np.zeros((2, 0))),
        (_stacked_rows, np.zeros((2, 0, 3))),
    ]:
        value, grad = symgrad.grad(fn, wrt=0).f_and_grad(x, E)
        assert value == 1.0
        np.testing.assert_array_equal(grad, [1.0, 0.0, 0.0])
    for fn, error, message in [
        (_joined_float, TypeError, "'float' object cannot be interpreted as an int"),
        (_joined_text, TypeError, "'str' object cannot be interpreted as an integer"),
        (_joined_past, np.exceptions.AxisError, "axis -3 is out of bounds for array"),
    ]:
        with pytest.raises(error, match=message):
            fn(x, np.ones((2, 2)))
        with pytest.raises(error, match=message):
            symgrad.grad(fn, wrt=0).f_and_grad(x, np.ones((2, 2)))
    with pytest.raises(ValueError, match="zero-dimensional arrays cannot be conc"):
        symgrad.grad(_joined_numbers).f_and_grad(x)
    with pytest.raises(BadInputError, match="np.vstack of a list made at run time"):
        symgrad.grad(_stacked_ragged).f_and_grad(x)


def _stacked_ragged(x):
    return np.sum(np.vstack([x[: i + 1] for i in range(2)]))


def _rows_of_a_list_swapped(x):
    y = np.swapaxes([[x, 2.0]], 1, 1)
    return y[0, 0] * 3.0


def _diagonal_times_a_constant(A):
    return np.sum(np.diag(A) * np.arange(3.0))


def _diagonal_of_three(A):
    return np.sum(np.diag(A, 1, 2))


def test_np_diag_and_swapaxes_edge_cases():
    # np.swapaxes of a list and one axis returned the list (a raw TypeError
    # at y[0, 0]); np.diag's gradient took the cotangent's dtype (float64
    # for a float32 matrix, as an indexed read's does not); np.diag(A, 1, 2)
    # spoke of reductions
    assert symgrad.grad(_rows_of_a_list_swapped).f_and_grad(1.5) == (4.5, 3.0)
    A = np.ones((3, 3), np.float32)
    assert symgrad.grad(_diagonal_times_a_constant).grad(A).dtype == np.float32
    with pytest.raises(BadInputError, match=r"np.diag\(\) takes at most 2 positional"):
        symgrad.grad(_diagonal_of_three).f_and_grad(A)


def _swapped_past_the_axes(A):
    return np.sum(np.swapaxes(A, 0, 2) * 2.0)


def _log_diagonal(L):
    return np.sum(np.log(np.diag(L)))


def test_np_diag_is_one_operation_in_the_emitted_code():
    # (it was a definition with both ways inlined: a branch on np.ndim(L) in
    # every module that read a diagonal)
    g = symgrad.grad(_log_diagonal)
    body = g.source.split("# Support")[0]
    assert "t1 = np.diag(L)" in body and "L_bar = _diag_grad(t1_bar, L)" in body
    assert "np.ndim" not in body
    check_grad(g, np.array([[2.0, 0.5], [0.3, 1.5]]))


def test_swapaxes_checks_its_axes_as_numpy_does():
    # axes were read modulo the array's: (0, 2) of a matrix returned it as it
    # was, and a 0-d value raised a ZeroDivisionError
    g = symgrad.grad(_swapped_past_the_axes)
    for x in (np.ones((2, 3)), np.float64(0.5)):
        with pytest.raises(np.exceptions.AxisError):
            g.f_and_grad(x)
    assert g.f_and_grad(np.ones((2, 3, 4)))[0] == 48.0


def test_np_pad_refuses_what_it_would_not_differentiate():
    # a mode whose padding is computed from the values, and a padding value
    # that is a variable (its derivative would be dropped)
    x = np.ones(3)
    with pytest.raises(NoDerivativeError, match="np.pad's mode='mean' is not"):
        symgrad.grad(_padded_by_mean).f_and_grad(x)
    with pytest.raises(UnsupportedSyntaxError, match="'constant_values' must be a"):
        symgrad.grad(_padded_by_a_value).f_and_grad(x, 2.0)


def test_verify_guesses_square_matrices_for_linear_algebra():
    # with no arguments, verify's first guess of a shape is not square:
    # sympy's NonSquareMatrixError (an empty message) was an IndexError
    for fn in (_gaussian_log_density, _stacked_determinants):
        for verdict in symgrad.verify(symgrad.grad(fn)).verdicts:
            assert verdict.ok and verdict.status == "checked", verdict


def _determinant_of_an_inverse(L):
    S = L @ L.T + np.eye(3)
    return np.linalg.det(np.linalg.inv(S))


def test_verify_leaves_long_matrices_to_finite_differences():
    # sympy's exact inverse and determinant of matrices of long expressions
    # ran for minutes
    L = np.random.default_rng(0).normal(size=(3, 3))
    g = symgrad.grad(_determinant_of_an_inverse)
    (verdict,) = symgrad.verify(g, L).verdicts
    assert verdict.ok and verdict.status == "not provable"
    assert "too large for sympy" in verdict.detail


def test_the_linalg_primitives_are_named_where_names_resolve():
    from symgrad import library, resolve

    assert set(resolve.LINALG_OPS) == set(library.LINALG)


def _stacked_determinants(A):
    return np.sum(np.linalg.det(A))


def _clipped_to_a_point(x, c):
    return np.sum(np.clip(x, c, c) * 2.0)


def test_a_clip_to_one_value_is_a_constant_in_x():
    # lo = hi makes np.clip constant in x: its derivative was 1 at x = hi
    g = symgrad.grad(_clipped_to_a_point, wrt=(0, 1))
    value, (x_bar, c_bar) = g.f_and_grad(np.array([0.5, 0.2, 0.9]), 0.5)
    assert value == 3.0
    np.testing.assert_array_equal(x_bar, [0.0, 0.0, 0.0])
    assert c_bar == 6.0


def _pair(x):
    return x * 2.0, np.sin(x)


def _nested_pair(x):
    return (x, x * 3.0), x[0]


FIRST, SECOND = 0, 1


def _entries_of_a_helpers_tuple(x):
    a = np.sum(_pair(x)[0] * _pair(x)[SECOND]) + _nested_pair(x)[0][1][2]
    t = _pair(x)
    b = 2.0 * np.sum(_nested_pair(x)[0][1]) + _nested_pair(x)[0][0][1] + 1.0
    return a + b + _nested_pair(x)[1] + np.sum(t[FIRST] ** 2)


def test_a_helpers_tuple_is_read_at_a_constant_index_where_it_is_called():
    # `helper(x)[0]` (and `[0][1]` inside an expression, and `t[K]` with K a
    # module constant) was refused: "a tuple of values ... differentiated
    # only unpacked"
    x = np.array([0.3, -1.0, 2.0])
    g = symgrad.grad(_entries_of_a_helpers_tuple)
    assert g.f_and_grad(x)[0] == _entries_of_a_helpers_tuple(x)
    check_grad(g, x)


def _scaled_twice(f):
    @functools.wraps(f)
    def wrapper(y):
        return 2.0 * f(y)

    return wrapper


@_scaled_twice
@_scaled_twice
def _quadrupled(y):
    return y * 3.0


def _through_two_decorators(x):
    return _quadrupled(x) + np.sin(x)


def test_one_decorator_applied_twice_is_no_recursion():
    # the wrapper, inlined around itself with another closure, was refused
    # as "recursive call to 'wrapper'"
    g = symgrad.grad(_through_two_decorators)
    value, grad = g.f_and_grad(0.7)
    assert value == _through_two_decorators(0.7)
    assert grad == pytest.approx(12.0 + np.cos(0.7))


def _nan_reductions(x):
    return np.nansum(x) * 2.0 + np.nanmean(x) * 3.0


def _weighted(W, w):
    return np.sum(np.average(W, axis=1, weights=w))


def _inner_of(a, b):
    return np.sum(np.inner(a, b))


def _taken_along(X, axis):
    return np.sum(np.take(X, np.array([0, 1, 1]), axis=axis))


def _taken(x, i):
    return np.sum(np.take(x, i) * 2.0)


def test_numpys_nan_reductions_average_inner_and_take_match_numpy():
    # np.nansum and np.nanmean skip nan (its gradient is 0 there, as JAX's);
    # np.average takes numpy's weights or raises; np.inner of last axes of
    # different lengths raises as numpy does; np.take reads bools as 0 and 1
    x = np.array([1.5, np.nan, -2.0, 0.5])
    value, grad = symgrad.grad(_nan_reductions).f_and_grad(x)
    assert value == _nan_reductions(x)
    np.testing.assert_array_equal(grad, [3.0, 0.0, 3.0, 3.0])
    x32 = np.array([1.5, -2.0], dtype=np.float32)
    value, grad = symgrad.grad(_nan_reductions).f_and_grad(x32)
    assert value.dtype == grad.dtype == np.float32
    W = np.arange(6.0).reshape(2, 3)
    g = symgrad.grad(_weighted, wrt=(0, 1))
    w = np.array([1.0, 2.0, 3.0])
    assert g.f_and_grad(W, w)[0] == _weighted(W, w)
    check_grad(g, W, w)
    for bad in (np.ones((1, 3)), np.ones(2)):  # numpy: TypeError, ValueError
        with pytest.raises((TypeError, ValueError)):
            _weighted(W, bad)
        with pytest.raises((TypeError, ValueError)):
            g.f_and_grad(W, bad)
    with pytest.raises(ValueError):
        symgrad.grad(_inner_of).f_and_grad(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(np.exceptions.AxisError):  # (the axis was wrapped around)
        symgrad.grad(_taken_along).f_and_grad(np.ones((3, 2)), 2)
    g = symgrad.grad(_taken)
    for i in ([True, False], 2, np.array([[0, 3], [-1, 1]])):
        x = np.array([1.0, 2.0, 3.0, 4.0])
        value, grad = g.f_and_grad(x, i)
        assert value == _taken(x, i)
        check_grad(g, x, i)


def _log_cosh(r):
    a = np.abs(r)
    return np.sum(a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0))


def _log_two_exps(x):
    return np.sum(np.log(np.exp(x) + np.exp(-x)))


def _squared_sech(x):
    return np.sum(4.0 / (np.exp(x) + np.exp(-x)) ** 2)


def _power_of_a_power(x):
    return np.sum((x**1.5) ** 1.5)


def test_derivatives_overflow_no_sooner_than_their_functions():
    # sympy's rewriting for expm1 wrote `1 - 2 e / (1 + e)` (e = exp(-2a)) as
    # `expm1(2a) / (exp(2a) + 1)`, inf / inf for a > 355 where the value is
    # finite (nan for tanh, adversarial tester); a power of a power divided
    # by its base: 0 / 0 at 0
    r = np.array([10.0, -360.0, 400.0, 700.0])
    np.testing.assert_allclose(symgrad.grad(_log_cosh).grad(r), np.tanh(r))
    np.testing.assert_allclose(symgrad.grad(_log_two_exps).grad(r), np.tanh(r))
    r32 = r[:3].astype(np.float32) / 8.0  # (exp(90) overflows in float32)
    grad32 = symgrad.grad(_log_cosh).grad(r32)
    assert grad32.dtype == np.float32
    np.testing.assert_allclose(grad32, np.tanh(r32), rtol=1e-6)
    x = np.array([0.5, 360.0])
    with np.errstate(over="ignore"):
        grad = symgrad.grad(_squared_sech).grad(x)
    with np.errstate(over="ignore"):  # (cosh(360) ** 2 is inf: sech' is -0.0)
        np.testing.assert_allclose(grad, -2.0 * np.tanh(x) / np.cosh(x) ** 2)
    grad = symgrad.grad(_power_of_a_power).grad(np.array([0.0, 4.0]))
    np.testing.assert_allclose(grad, [0.0, 2.25 * 4.0**1.25])


def _cast_to_floats(x):
    return np.sum(x.astype(np.float64) ** 2) + np.sum(x.astype(float) * 3.0)


def test_astype_float64_of_a_value_is_differentiated_as_np_float64():
    # it was refused ("no derivative rule for .astype() to a float dtype"),
    # where np.float64(x) is differentiated (adversarial tester)
    x = np.array([1.0, 2.0])
    g = symgrad.grad(_cast_to_floats)
    assert g.f_and_grad(x)[0] == _cast_to_floats(x)
    np.testing.assert_array_equal(g.grad(x), 2.0 * x + 3.0)
    check_grad(g, np.array([0.3, -1.2, 2.5]))


def _taken_empty(x):
    idx = [i for i in range(5) if i > 9]
    return np.sum(x.take([]) * 2.0) + np.sum(x.take(idx)) + x[0]


def _taken_by_floats(x):
    return np.sum(np.take(x, [2.7, 0.2]) * np.arange(2.0))


def _taken_clipped_and_wrapped(x):
    clipped = x.take([-7, 9], mode="clip") * np.arange(1.0, 3.0)
    return np.sum(clipped) + np.sum(np.take(x, [-7, 9], mode="wrap") * 10.0)


def _swapped_by_the_method(A):
    return np.sum(A.swapaxes(0, 1)[0] * np.arange(1.0, 3.0))


def test_np_take_reads_indices_as_numpy_and_takes_its_modes():
    # an empty list of indices was a float array (a raw IndexError), a list
    # of floats too (numpy truncates); mode="clip" and "wrap" were refused,
    # and so was the method x.swapaxes (random programs)
    x = np.arange(5.0)
    for fn in (_taken_empty, _taken_by_floats, _taken_clipped_and_wrapped):
        g = symgrad.grad(fn)
        assert g.f_and_grad(x)[0] == fn(x)
        check_grad(g, x + 0.5)
    np.testing.assert_array_equal(
        symgrad.grad(_taken_clipped_and_wrapped).grad(x), [1.0, 0.0, 0.0, 10.0, 12.0]
    )
    with pytest.raises(TypeError, match="Cannot cast array data from dtype"):
        symgrad.grad(_taken).f_and_grad(x, np.array([1.0, 2.0]))
    A = np.arange(6.0).reshape(2, 3)
    value, grad = symgrad.grad(_swapped_by_the_method).f_and_grad(A)
    assert value == _swapped_by_the_method(A)
    np.testing.assert_array_equal(grad, [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])


def _banded(c, x):
    n = x.shape[0]
    A = sum(np.diag(c[j + 1] * np.ones(n - abs(j)), j) for j in range(-1, 2))
    return x @ A @ x


def _diagonals(A):
    return sum(np.sum(np.diag(A, k) ** 2) for k in (-1, 0, 1))


def test_np_diag_takes_a_diagonal_a_loop_picks():
    # k had to be a constant known when compiling: a tridiagonal matrix
    # built in a loop over its diagonals was refused (random programs)
    c, x = np.array([0.5, 2.0, -1.0]), np.array([1.0, 2.0, 3.0])
    g = symgrad.grad(_banded, wrt=(0, 1))
    assert g.f_and_grad(c, x)[0] == _banded(c, x)
    np.testing.assert_allclose(g.grad(c, x)[0], [8.0, 14.0, 8.0])
    check_grad(g, c, x)
    A = np.arange(9.0).reshape(3, 3)
    band = np.abs(np.subtract.outer(range(3), range(3))) <= 1
    np.testing.assert_array_equal(symgrad.grad(_diagonals).grad(A), 2.0 * A * band)
    hessian = symgrad.hessian(_diagonals).hessian(A).reshape(9, 9)
    band = np.abs(np.subtract.outer(range(3), range(3))) <= 1
    np.testing.assert_array_equal(hessian, np.diag(2.0 * band.ravel()))


def _dot_of_a_list(y):
    return np.dot([1.0, 2.0, 3.0], y) + np.inner([1.0, 2.0, 3.0], y)


def _dot_of_a_tuple_broadcast(y):
    return np.sum(np.dot(y, (1.0, 2.0, 3.0)) + np.ones(3))


def _product_with_a_list_matrix(y):
    return np.sum(y @ [[1.0, 2.0], [3.0, 4.0]]) + np.sum(
        np.tanh(np.dot([[1.0, 2.0], [3.0, 4.0]], y))
    )


@pytest.mark.parametrize(
    "fn, y",
    [
        (_dot_of_a_list, np.array([0.5, 1.0, 2.0])),
        (_dot_of_a_tuple_broadcast, np.array([0.5, 1.0, 2.0])),
        (_product_with_a_list_matrix, np.array([[0.1, 0.2], [-0.3, 0.4]])),
    ],
)
def test_a_list_operand_of_a_product_is_read_as_its_array(fn, y):
    # the adjoints multiplied (`g * [1.0, 2.0, 3.0]`: TypeError) or
    # transposed (`[[...]].T`: AttributeError) the list itself (tester H)
    check_grad(symgrad.grad(fn), y)


def log_total(x):
    return np.sum(np.log(x))


def decayed(w, X, y):
    return np.sum(np.square(np.dot(X, w) - y)) + 0.1 * np.sum(np.square(w))


def test_a_list_argument_s_derivative_reads_the_array_numpy_read():
    """`_div(seed, x)` of a list divides as np.divide; an operator reads
    `_listed(w)`, and the other reads stay `w` (the printed code changes no
    more than that)."""
    value, grad = symgrad.grad(log_total).f_and_grad([0.5, 2.0])
    assert value == 0.0 and np.array_equal(grad, [2.0, 0.5])
    g = symgrad.grad(decayed)
    assert "* _listed(w)\n" in g.source and "_dot_rhs_grad(t1_bar, X, w)" in g.source
    X, y = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([0.3, 0.1])
    want = g.grad(np.array([1.0, 2.0]), X, y)
    assert np.array_equal(g.grad([1.0, 2.0], X, y), want)
    assert np.array_equal(g.grad((1.0, 2.0), X, y), want)
