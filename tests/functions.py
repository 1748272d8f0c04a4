"""The shared table of differentiable functions every gradient test runs over.

Each entry of `CASES` is a `Case`: a plain module-level ``def`` (symgrad reads
its source), a ``make_args(rng)`` that draws arguments inside the function's
domain (positive for log/sqrt, away from kinks for abs/maximum/clip/where,
well-separated values for max/min, away from zero for prod), the ``wrt`` to
differentiate (None means the first parameter) and the output cotangent
``seed`` (None means 1.0; required when the function returns an array).

Only straight-line code lives here: no if/for/while, comprehensions or
subscript assignment.  No function mutates its arguments, so calling one on the
caller's arrays is always safe.

Helpers whose names start with ``_`` are either called by the table's functions
(symgrad inlines them) or build inputs; they are not cases themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# --------------------------------------------------------------------------
# The table's entry type and input generators
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One function to differentiate, with how to draw its arguments."""

    name: str
    fn: Callable[..., Any]
    make_args: Callable[[np.random.Generator], tuple[Any, ...]]
    wrt: Any = None
    seed: Any = None


def _shape(shape: int | tuple[int, ...]) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def uniform(rng: np.random.Generator, shape: Any, lo: float, hi: float) -> Any:
    """Uniform in (lo, hi); a Python float when ``shape`` is ``()``."""
    if shape == ():
        return float(rng.uniform(lo, hi))
    return rng.uniform(lo, hi, _shape(shape))


def normal(rng: np.random.Generator, shape: Any) -> Any:
    """Standard normal; a Python float when ``shape`` is ``()``."""
    if shape == ():
        return float(rng.standard_normal())
    return rng.standard_normal(_shape(shape))


def avoiding(
    rng: np.random.Generator,
    shape: Any,
    lo: float,
    hi: float,
    points: tuple[float, ...] = (0.0,),
    gap: float = 0.15,
) -> Any:
    """Uniform in (lo, hi) but at least ``gap`` away from each of ``points``."""
    x = np.atleast_1d(rng.uniform(lo, hi, _shape(shape) if shape != () else 1))
    while True:
        near = np.zeros(x.shape, dtype=bool)
        for p in points:
            near |= np.abs(x - p) < gap
        if not near.any():
            break
        x[near] = rng.uniform(lo, hi, int(near.sum()))
    return float(x[0]) if shape == () else x


def distinct(rng: np.random.Generator, shape: Any, spacing: float = 0.3) -> Any:
    """Values in random order, any two at least ``spacing`` apart (for max/min)."""
    shape = _shape(shape)
    n = int(np.prod(shape))
    values = (np.arange(n) - n / 2) * spacing + rng.uniform(0.0, 0.1)
    return rng.permutation(values).reshape(shape)


def apart_from(rng: np.random.Generator, x: np.ndarray, gap: float = 0.2) -> Any:
    """An array like ``x`` whose entries differ from ``x``'s by at least ``gap``."""
    step = rng.uniform(gap, 1.0, x.shape) * rng.choice([-1.0, 1.0], x.shape)
    return x + step


def onehot(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """An (n, k) one-hot label matrix."""
    return np.eye(k)[rng.integers(0, k, n)]


def fixed_seed(*shape: int) -> np.ndarray:
    """A deterministic output cotangent with distinct, uneven entries."""
    n = int(np.prod(shape))
    return (np.linspace(-1.0, 2.0, n) + 0.05).reshape(shape)


def _pair(shape_a: Any, shape_b: Any) -> Callable[[np.random.Generator], tuple]:
    return lambda rng: (normal(rng, shape_a), normal(rng, shape_b))


def _one(shape: Any, lo: float = -1.5, hi: float = 1.5) -> Callable[..., tuple]:
    return lambda rng: (uniform(rng, shape, lo, hi),)


# --------------------------------------------------------------------------
# Module-level constants read by the functions
# --------------------------------------------------------------------------

SCALE = 2.5
SINGLE = np.float32  # (a dtype named at module level)
OFFSET = -0.75
COEFFS = np.array([1.0, -2.0, 0.5])
EPSILON = 1e-5

# --------------------------------------------------------------------------
# Helpers called (and inlined) by the functions below
# --------------------------------------------------------------------------


def _square(z):
    return z * z


def _affine(z, scale=2.0, shift=0.0):
    return scale * z + shift


def _exp_neg(z):
    return np.exp(-z)


def _logistic(z):
    return 1.0 / (1.0 + _exp_neg(z))


def _logsumexp_rows(z):
    m = np.max(z, axis=1, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))


def _moments(z):
    m = np.mean(z, axis=-1, keepdims=True)
    return m, np.mean(_square(z - m), axis=-1, keepdims=True)


def _dense(z, w, b, activation_scale=1.0):
    return np.tanh(activation_scale * (z @ w + b))


# --------------------------------------------------------------------------
# Arithmetic on Python floats
# --------------------------------------------------------------------------


def poly_float(x):
    return 3.0 * x**3 - 2.0 * x**2 + x - 5.0


def div_float(x, y):
    return x / y + y / x - 1.0 / (x * y)


def neg_float(x):
    return -x * x + -(x - 1.0) - (-x)


def pow_fractional(x):
    return x**2.5 + x**-0.5


def pow_both(x, y):
    return x**y


def rpow_float(x):
    return 2.0**x + 3**x


def augassign_float(x):
    y = x * 1.0
    y += x * x
    y *= 3.0
    y -= x
    y /= 2.0 + x
    y **= 2
    return y


def augassign_param(x):
    x += x * x
    x *= 2.0
    return x


def tuple_assign(x):
    a, b = x * 2, x + 1
    return a * b


def annotated_assign(x):
    y: float = x * 2.0
    z: float
    z = y * y
    w: float | None = z + x  # (never evaluated, so `|` of types is fine)
    return w


def tuple_swap(x, y):
    a, b = x, y
    a, b = b, a * b
    return a - 3.0 * b


def int_constants(x):
    return 2 * x**2 + 3 * x - 7 + x / 4


# --------------------------------------------------------------------------
# math.* on floats
# --------------------------------------------------------------------------


def math_sin_cos(x):
    return math.sin(x) * math.cos(x)


def math_exp_log(x):
    return math.exp(x) + math.log(x)


def math_sqrt_tanh(x):
    return math.sqrt(x) * math.tanh(x)


def math_tan_atan(x):
    return math.tan(x) + math.atan(x)


def math_asin_acos(x):
    return math.asin(x) * math.acos(x)


def math_sinh_cosh(x):
    return math.sinh(x) / math.cosh(x)


def math_log1p_expm1(x):
    return math.log1p(x) * math.expm1(x)


def math_fabs_abs(x):
    return math.fabs(x) + abs(x) * x


def builtin_max_min(x, y, z):
    """Python's max and min of two and of more numbers (folded left, as
    Python compares them)."""
    return max(x, y, z * 2.0) + min(x, y, z, 0.3) * max(x, 0.0)


def builtin_max_min_of_a_list(x, y, z):
    """max and min of a list or tuple written out: of its entries, as
    Python's max(x, y, z) and min(x, y, z)."""
    return max([x, 2.0 * y, z]) + min((x, z)) * max([y])


def math_log_base(x):
    # math.log with a base, in the value and in the base
    return math.log(x, 2.0) * math.log(3.0, x) + math.log(x * x, x + 1.0)


def math_constants(x):
    return math.pi * x**2 + math.e * x


def np_on_float(x):
    return np.exp(x) * np.sin(x) + np.sqrt(x)


# --------------------------------------------------------------------------
# np.* elementwise functions on arrays
# --------------------------------------------------------------------------


def np_sin(x):
    return np.sum(np.sin(x))


def np_cos(x):
    return np.cos(x)


def np_tan(x):
    return np.sum(np.tan(x) * x)


def np_arcsin(x):
    return np.arcsin(x)


def np_arccos(x):
    return np.sum(np.arccos(x))


def np_arctan(x):
    return np.sum(np.arctan(x) ** 2)


def np_sinh_cosh(x):
    return np.sinh(x) + np.cosh(x)


def np_tanh(x):
    return np.sum(np.tanh(x))


def np_exp(x):
    return np.exp(x)


def np_log(x):
    return np.sum(np.log(x) * x)


def np_log1p_expm1(x):
    return np.log1p(x) - np.expm1(x)


def np_sqrt(x):
    return np.sum(np.sqrt(x))


def np_abs(x):
    return np.sum(np.abs(x) * x)


def np_square(x):
    return np.square(x)


def np_power_const(x):
    return np.sum(np.power(x, 3) + np.power(x, 0.5))


def np_power_arrays(x, y):
    return np.sum(np.power(x, y))


def relu(x):
    return np.sum(np.maximum(x, 0.0) * x)


def np_maximum(x, y):
    return np.maximum(x, y)


def np_minimum(x, y):
    return np.sum(np.minimum(x, y) ** 2)


def np_where(x):
    return np.sum(np.where(x > 0, x**2, 0.5 * x))


def np_where_two_inputs(x, y):
    return np.where(x < y, x * y, x - y)


def np_clip(x):
    return np.sum(np.clip(x, -0.5, 0.5) * x)


# --------------------------------------------------------------------------
# Reductions
# --------------------------------------------------------------------------


def sum_all(x):
    return np.sum(x**2)


def sum_axis0(x):
    return np.sum(x, axis=0)


def sum_axis_keepdims(x):
    return np.sum(x * np.sum(x * x, axis=1, keepdims=True))


def sum_axis_tuple(x):
    return np.sum(x, axis=(0, 2)) ** 2


def sum_negative_axis(x):
    return np.sum(np.sin(x), axis=-1)


def mean_all(x):
    return np.mean(x**3)


def mean_axis(x):
    return np.mean(x, axis=1) ** 2


def mean_keepdims(x):
    return np.sum((x - np.mean(x, axis=0, keepdims=True)) ** 2)


def mean_axis_tuple_keepdims(x):
    return np.mean(np.exp(x), axis=(1, 2), keepdims=True)


def max_all(x):
    return np.max(x) * np.sum(x)


def max_axis(x):
    return np.max(x, axis=1)


def max_keepdims(x):
    return np.sum(np.exp(x - np.max(x, axis=0, keepdims=True)))


def max_axis_tuple(x):
    return np.max(x, axis=(0, 2))


def min_all(x):
    return np.min(x**3)


def min_axis(x):
    return np.sum(np.min(x, axis=0) * np.arange(4))


def sum_scalar_over_axis(x):
    # numpy reduces a 0-d value over axis 0 or -1 to itself
    return np.sum(np.exp(np.sum(x, axis=-1)) * x) + np.sum(x, axis=0) ** 2


def extrema_scalar_over_axis(x, w):
    return np.max(x, axis=0) * w + np.min(x, axis=-1, keepdims=True) ** 2


def prod_scalar_over_axis(x):
    return np.prod(x, axis=0) * np.sin(x) + np.prod(x, axis=-1, keepdims=True)


def prod_all(x):
    return np.prod(x)


def prod_axis(x):
    return np.prod(x, axis=1)


def prod_keepdims(x):
    return np.sum(np.prod(x, axis=0, keepdims=True) * x)


# --------------------------------------------------------------------------
# Method forms
# --------------------------------------------------------------------------


def method_sum(x):
    return (x * x).sum()


def method_mean_axis(x):
    return x.mean(axis=0)


def method_max_axis(x):
    return x.max(axis=1)


def method_min(x):
    return x.min() + x.sum(axis=1, keepdims=True).sum()


def method_transpose(x, y):
    return np.sum(x.T * y)


def method_reshape(x):
    return x.reshape(2, 6) * x.reshape((6, 2)).T


def method_prod(x):
    return x.prod()


# --------------------------------------------------------------------------
# Linear algebra and shape functions
# --------------------------------------------------------------------------


def matmul_mv(a, x):
    return np.sum((a @ x) ** 2)


def matmul_mm(a, b):
    return a @ b


def matmul_vm(x, a):
    return np.sum(np.sin(x @ a))


def matmul_vv(x, y):
    return x @ y


def matmul_batched(a, b):
    return np.matmul(a, b)


def np_matmul(a, b):
    return np.sum(np.matmul(a, b) ** 2)


def dot_vv(x, y):
    return np.dot(x, y) ** 2


def dot_mv(a, x):
    return np.dot(a, x)


def dot_vv_broadcast(x, y, z):
    # the products' cotangents are arrays (the sum's, over z's shape) that the
    # dot products' adjoints sum to a number
    return np.sum(np.tanh(np.dot(x, y) + z)) + np.sum(np.sin(x @ y * z))


def dot_mm(a, b):
    return np.sum(np.dot(a, b))


def np_outer(x, y):
    return np.outer(x, y)


def np_transpose(x):
    return np.transpose(x) * COEFFS[:, None]


def np_transpose_axes(x):
    return np.transpose(x, (2, 0, 1))


def np_transpose_3d_default(x):
    return np.sum(np.transpose(x) ** 2 * np.arange(4)[:, None, None])


def np_reshape(x):
    return np.reshape(x, (4, 3))


def np_reshape_minus_one(x):
    return np.sum(np.reshape(x, -1) * np.arange(12))


# --------------------------------------------------------------------------
# Read-only indexing
# --------------------------------------------------------------------------


def index_int_slice(x):
    return x[0] * x[1:]


def index_negative(x):
    return np.sum(x[-1] * x[:-1]) + np.sum(x[-2:] ** 2)


def index_step(x):
    return x[::2] * x[1::2]


def index_2d_column(x):
    return x[:, 0] * x[:, -1]


def index_2d_mixed(x):
    return x[1, 2] * np.sum(x[1, :]) + np.sum(x[0:2, 1:3] ** 2)


def index_none(x):
    return x[None, :] * x[:, None]


def view_scale(a, b):
    """A view adding a leading axis inside an elementwise tree: the tree is
    exp(-a) * b to sympy, and a's cotangent sums over the new axis."""
    return np.exp(-a)[None, :] * b


def view_self(x):
    """x[None, :] broadcasts to the entries x does: x * x, and a sine of x."""
    return np.sum(x[None, :] * x + np.sin(x[None, None, ...]) * x[None])


def view_row(a):
    """A tree whose result has the view's shape (1, n), larger than a's."""
    return np.tanh(a[None, :]) * 2.0


def view_affine(a):
    """Its tangent, 3 * a_dot, has a's shape: the view's axis comes back
    only by broadcasting it to the result's shape (1, n)."""
    return a[None, :] * 3.0 + 1.0


def view_matrix(s, w):
    """A view of a matrix, `s[None]`, against a batch of matrices."""
    return np.sum(np.log1p(s[None] ** 2) * w + s[None, :, :] * s)


def index_newaxis(x):
    return np.sum(x[:, np.newaxis] - x[np.newaxis, :] ** 2)


def index_ellipsis(x):
    return x[..., -1] * x[..., 0]


# --------------------------------------------------------------------------
# Broadcasting
# --------------------------------------------------------------------------


def bcast_row_col(r, c):
    return r + c * r


def bcast_scalar_array(s, x):
    return np.sum(s * x**2 + s**2)


def bcast_3x1_1x4(a, b):
    return np.sum(np.exp(a * b))


def bcast_vector_matrix(v, m):
    return (v + m) ** 2


# --------------------------------------------------------------------------
# Module-level constants
# --------------------------------------------------------------------------


def const_scale(x):
    return np.sum(SCALE * x**2 + OFFSET * x)


def const_pi(x):
    return np.sum(np.sin(np.pi * x) + math.pi * x)


def const_array(x):
    return np.sum(COEFFS * x**2)


# --------------------------------------------------------------------------
# Calls to helpers
# --------------------------------------------------------------------------


def helper_call(x):
    return np.sum(_square(x) + _square(x + 1.0))


def helper_kwargs(x):
    return _affine(x) + _affine(x, shift=1.0) * _affine(x, 3.0, shift=x)


def helper_nested(x):
    return np.sum(_logistic(_affine(x, scale=0.5)))


def helper_tuple_return(x):
    m, v = _moments(x)
    return (x - m) / np.sqrt(v + EPSILON)


# --------------------------------------------------------------------------
# Non-differentiable values used as constants
# --------------------------------------------------------------------------


def nondiff_shape(x):
    return np.sum(x) / x.shape[0] + x.shape[1] * np.sum(x**2)


def nondiff_len(x):
    return np.sum(x**2) / len(x)


def nondiff_zeros(x):
    return np.sum((np.zeros(3) + x) * np.ones_like(x) * 2.0)


def nondiff_arange(x):
    return np.sum(np.arange(3) * x + np.arange(3) ** 2)


def nondiff_size_axis(x):
    return np.sum(x) / (np.size(x, 1) or 1) + np.size(x, axis=0) * x[0, 0]


def nondiff_dtypes(x):
    # dtype= as numpy reads it: uint8 entries wrap (- 10 is 246, 247, 248), a
    # float32 0.1 is not float64's, an int full truncates, linspace leaves out
    # its end without endpoint
    k = np.arange(3, dtype=np.uint8) - 10
    z = np.zeros(3, np.float32) + 0.1
    s = np.linspace(0.0, 1.0, 3, endpoint=False)
    i = np.full(3, 2.5, dtype=int) + np.ones_like(x, dtype=np.int8)
    e = np.eye(3, dtype=np.float32)[0] + np.ones(3, dtype=SINGLE) / 3
    return np.sum(x * k * z + x * s + i * x + e * x)


def nondiff_range_keywords(x):
    # (stop 28: these keywords were dropped, a silently wrong gradient)
    s = np.linspace(0.0, 1.0, 3, endpoint=False) + np.linspace(1.0, 2.0, num=3)
    return np.sum(x * s * (np.arange(3, dtype=np.uint8) - 10))


def nondiff_size(x):
    return np.sum(x**2) / x.size + x.ndim


# --------------------------------------------------------------------------
# Composites: the losses people actually write
# --------------------------------------------------------------------------


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def softmax_rows(x):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def softplus(x):
    return np.sum(np.log1p(np.exp(x)))


def l2_normalize(x):
    return x / np.sqrt(np.sum(x**2))


def mse(w, b, x, y):
    return np.mean((x @ w + b - y) ** 2)


def weighted_mse(pred, target, weights):
    return np.sum(weights * (pred - target) ** 2) / np.sum(weights)


def cross_entropy(logits, labels):
    return -np.mean(np.sum(labels * (logits - _logsumexp_rows(logits)), axis=1))


def logistic_loss(w, x, y):
    p = _logistic(x @ w)
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def huber(r):
    a = np.abs(r)
    return np.sum(np.where(a < 1.0, 0.5 * r**2, a - 0.5))


def gaussian_nll(mu, log_sigma, x):
    z = (x - mu) / np.exp(log_sigma)
    return np.sum(0.5 * z**2 + log_sigma + 0.5 * math.log(2.0 * math.pi))


def mlp_loss(w1, b1, w2, b2, x, y):
    h = np.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    return np.mean((out - y) ** 2)


def mixture_loglik(mu, log_s, x):
    """A Gaussian mixture's log-likelihood, vectorised (the GMM benchmark)."""
    diff = (x[:, None, :] - mu[None, :, :]) * np.exp(-log_s)[None, :, :]
    logp = -0.5 * np.sum(diff**2, axis=2) - np.sum(log_s, axis=1)
    m = np.max(logp, axis=1, keepdims=True)
    return np.sum(m[:, 0] + np.log(np.sum(np.exp(logp - m), axis=1)))


def mixture_cosh(mu, log_s, x):
    """The mixture with a cosh kernel: cosh(diff) is dead once summed, so the
    cotangent of diff, a product of its shape, is written into it."""
    diff = (x[:, None, :] - mu[None, :, :]) * np.exp(-log_s)[None, :, :]
    return np.sum(np.log(np.sum(np.cosh(diff), axis=2)))


def mixture_quartic(mu, log_s, x):
    diff = (x[:, None, :] - mu[None, :, :]) * np.exp(-log_s)[None, :, :]
    return np.sum(np.sqrt(np.sum(diff**4, axis=2)))


def running_sum_loss(x, w):
    """np.cumsum over all entries (flattened) and along each axis."""
    flat = np.cumsum(x * w)
    rows = np.cumsum(np.sin(x), axis=1)
    cols = x.cumsum(axis=-2) * w
    return np.sum(flat * flat) + np.sum(rows * cols)


def standardized(x, w):
    """np.var, np.std (with ddof and keepdims) and np.linalg.norm, which
    symgrad differentiates through their definitions (symgrad/prelude.py)."""
    z = (x - np.mean(x, axis=0)) / np.std(x, axis=0, ddof=1)
    spread = np.var(x * w, 1, keepdims=True)
    return np.sum(z * w) + np.sum(spread * x) + np.linalg.norm(x) * np.var(w)


def stacked_columns_moved(x):
    """np.stack along axis 1 (its adjoint moves the axis back: the Hessian
    differentiates that np.moveaxis) and np.moveaxis in the user's code."""
    pairs = np.stack([x, x**2, np.sin(x)], axis=1)
    moved = np.moveaxis(pairs[:, :, None] * pairs[:, None, :], 0, -1)
    return np.sum(moved[0] * np.cos(moved[1])) + np.sum(pairs**2)


def moment_methods(x):
    """x.var(), x.std() and x.trace() as methods, which bind as np.var(x, ...)
    and so on: positional axis, ddof and keepdims by keyword."""
    spread = x.std(0, ddof=1, keepdims=True)
    return x.var() * x.trace() + np.sum(x * spread) + np.sum(x.var(axis=1) ** 2)


PAIR = (0, 1)  # (an index held in a name: x[PAIR] is x[0, 1])


def tuple_held_indices(x, i, j):
    """Indices held in names: a module's tuple, a local one, an argument
    `(slice(None), 1)` (a column) and a tuple of index arrays."""
    here = (1, 2)
    return x[PAIR] ** 2 * x[here] + np.sum(x[i] ** 2) + np.sum(np.sin(x[j]))


def where_of_floats(a, b):
    """np.where and np.clip of Python floats, whose gradients are floats
    (np.where of numbers is a 0-d array)."""
    return np.where(a > b, a * b, b) + np.clip(a, 0.0, b)


WEIGHTS = np.array([1.5, -2.0, 0.5])


def _weighted_or_doubled(x, w=None):
    return x * 2.0 if w is None else x * w


def option_given_an_array(x):
    # (`w is None` with w a module's array, decided when compiling)
    return np.sum(_weighted_or_doubled(x, WEIGHTS) + _weighted_or_doubled(x) ** 2)


ROWS = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])


def unpacked_module_arrays(x):
    """A module's arrays unpacked into rows and entries; np.double is
    np.float64."""
    a, b = ROWS
    c, d, e = WEIGHTS
    return np.sum(np.double(x) * a + x * b * c) + d * x[0] * e


def _corner():
    return 0, 1


def unpacked_int_tuples(x):
    """Tuples of ints unpacked into names: a helper's and a local one."""
    i, j = _corner()
    t = (1, 2)
    k, m = t
    return x[i, j] ** 2 * x[k, m]


def moments_of_lists(x, v, m):
    """np.linalg.norm, np.trace and np.diag of lists, as numpy takes them."""
    return np.sum(x) * (np.linalg.norm(v) + np.trace(m) + np.sum(np.diag(m)))


def nondiff_scalar_casts(x, k):
    """numpy's scalar types called on values that do not depend on x."""
    return np.sum(x * np.int64(k * 1.5)) + np.float32(k / 3) * x[0] * np.int32(k > 2)


def row_norms_loss(x):
    return np.sum(np.linalg.norm(x, axis=1, keepdims=True) * x)


def einsum_products(a, b, c):
    """np.einsum as a matrix product, a batched one, an outer product, and a
    sum over a letter one operand has alone (its cotangent is spread)."""
    ab = np.einsum("ij,jk->ik", a, b)
    batched = np.einsum("nij,jk->nik", c, b)
    outer = np.einsum("i,k->ik", a[0], b[1])
    rows = np.einsum("ij->j", a * a)
    return np.sum(ab * ab) + np.sum(np.tanh(batched)) + np.sum(outer) * np.sum(rows)


def einsum_contract_all(x, w):
    return np.einsum("ij,ij->", x, w) * np.einsum("i,i->", x[0], x[1])


def trace_and_diag(a, v):
    """np.trace (of a matrix, and over the first two axes of a 3-d array),
    and np.diag both ways: a (3, 4) matrix's diagonal and the matrix of a
    vector, and off the main diagonal (k above it, below it)."""
    stacked = np.trace(a[:, :, None] * a[:, None, :2])  # (over axes 0 and 1)
    off = np.sum(np.diag(a, 1) ** 2) + np.sum(np.diag(a, k=-1) * v[:2])
    return (
        np.trace(a @ a.T)
        + np.sum(np.diag(a) * v)
        + np.sum(np.diag(v) @ a**2)
        + np.sum(stacked * stacked)
        + off
        + np.sum(np.diag(v, -1)[:, :4] @ a.T)
    )


def running_sum_scalar(x):
    return np.sum(np.cumsum(x) ** 2)


def _mixture_args(rng: np.random.Generator) -> tuple:
    return normal(rng, (3, 2)), normal(rng, (3, 2)) * 0.3, normal(rng, (5, 2))


def mlp_helper_loss(w1, b1, w2, b2, x, labels):
    h = _dense(x, w1, b1, activation_scale=0.8)
    logits = h @ w2 + b2
    return cross_entropy(logits, labels)


# --------------------------------------------------------------------------
# Input generators for the composite cases
# --------------------------------------------------------------------------


def _mse_args(rng: np.random.Generator) -> tuple:
    return (normal(rng, 3), normal(rng, ()), normal(rng, (6, 3)), normal(rng, 6))


def _weighted_mse_args(rng: np.random.Generator) -> tuple:
    return (normal(rng, 5), normal(rng, 5), uniform(rng, 5, 0.2, 2.0))


def _logistic_args(rng: np.random.Generator) -> tuple:
    x = normal(rng, (8, 3))
    return (0.5 * normal(rng, 3), x, (rng.uniform(size=8) < 0.5).astype(float))


def _gaussian_args(rng: np.random.Generator) -> tuple:
    return (normal(rng, 4), uniform(rng, 4, -0.5, 0.5), normal(rng, (3, 4)))


def _mlp_args(rng: np.random.Generator) -> tuple:
    return (
        0.5 * normal(rng, (3, 4)),
        0.1 * normal(rng, 4),
        0.5 * normal(rng, (4, 2)),
        0.1 * normal(rng, 2),
        normal(rng, (5, 3)),
        normal(rng, (5, 2)),
    )


def _mlp_ce_args(rng: np.random.Generator) -> tuple:
    args = _mlp_args(rng)
    return (*args[:5], onehot(rng, 5, 2))


def _max_pair(shape: Any) -> Callable[[np.random.Generator], tuple]:
    def make(rng: np.random.Generator) -> tuple:
        x = normal(rng, shape)
        return (x, apart_from(rng, x))

    return make


def _pos_pair(rng: np.random.Generator) -> tuple:
    return (uniform(rng, (), 0.5, 2.0), uniform(rng, (), 0.5, 2.0))


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------

# --------------------------------------------------------------------------
# Regressions found in review: each was once a wrong gradient or a crash
# --------------------------------------------------------------------------

REPEATED = np.array([0, 0, 1])
SHADOWED = np.array([2.0, -1.0, 0.5])
EXPONENT = 2.0


def gather_constant_repeats(x):
    return np.sum(x[REPEATED] * np.arange(1.0, 4.0))


def gather_list_literal(x):
    return np.sum(x[[0, 0, 1]] * np.arange(1.0, 4.0))


def _times_shadowed(a):
    return a * SHADOWED


def constant_shadowed_by_param(SHADOWED, x):
    return np.sum(_times_shadowed(SHADOWED) * x)


def constant_shadowed_by_local(x):
    SHADOWED = x * 3.0
    y = _times_shadowed(x)
    return np.sum(y + SHADOWED)


def clip_of_where(d, k):
    return np.sum(np.clip(np.where(k > 0.0, d, 0.5 * d), -0.5, 0.8))


def power_named_exponent_at_zero(x):
    return np.sum(x**EXPONENT)


def list_literal_operand(x):
    return np.sum(x * [1.0, 2.0, 3.0])


def clip_of_difference(x, y):
    return np.sum(np.clip(x - y, -0.5, 0.8))


def float64_constant(x):
    return np.sum(np.float64(2.0) * x + np.float64(x) ** 2)


def arrays_of_a_dtype(x, y):
    # np.array and np.asarray with a float dtype (by name, spelled any way):
    # the values, converted (`constant_masks` has other dtypes)
    a = np.array(x, dtype=float)
    b = np.asarray(a=y, dtype=np.float64)
    c = np.array([x[0], y[1], 2], dtype="float64")
    return np.sum(a * b) + np.sum(c**2) + np.sum(np.asarray(x, float) ** 3)


def bool_literals(x):
    # numpy reads True and False as 1 and 0 in arithmetic
    y = x * True + False + x**True * 1.0 + True
    return np.sum(y * np.maximum(x, False) + np.minimum(x, True) + x**False)


def bool_literals_float(x):
    return x * True - (x + False) ** True + np.maximum(x, False) * x - True / x


def clip_of_clip(x):
    return np.sum(np.clip(np.clip(x, -1.0, 1.0), -0.5, 0.8))


def differences(x, X):
    """np.diff along the last axis, along another, and twice (the prelude's
    definitions, as np.swapaxes, np.triu and np.tril below)."""
    d = np.sum(np.diff(x) ** 2) + np.sum(np.sin(np.diff(X, axis=0)))
    return d + np.sum(np.diff(X, n=2) ** 2) + np.sum(np.diff(X, 2, 0) * 3.0)


def rolled(x, X):
    weights = np.arange(12.0).reshape(3, 4)
    r = np.sum(np.roll(x, 2) * np.arange(5.0)) + np.sum(np.roll(x, -6) ** 3)
    return r + np.sum(np.roll(X, 1, axis=0) * weights) + np.sum(np.roll(X, 5) ** 2)


def log_add_exp(x, Y):
    """np.logaddexp (softplus, a two-term log-sum-exp broadcast against a
    matrix) and np.cbrt, the real cube root, of both signs."""
    softplus = np.sum(np.logaddexp(0.0, x) * x)
    pairs = np.sum(np.logaddexp(x[:4], Y) ** 2)
    return softplus + pairs + np.sum(np.cbrt(Y * 2.0 + 0.5) * Y)


def linear_algebra(A, b):
    """np.linalg.inv, det, solve (of a vector and of a matrix) and slogdet,
    a Gaussian log-density's terms, and matrix transposes."""
    S = A @ A.mT + np.eye(3)
    sign, logdet = np.linalg.slogdet(S)
    quadratic = b @ np.linalg.solve(S, b) + np.sum(np.linalg.solve(A, S) ** 2)
    inverse = np.sum(np.linalg.inv(A) * np.matrix_transpose(S))
    return 0.5 * logdet * sign + quadratic + inverse + np.linalg.det(A) ** 2


def stacked_inverses(A, b):
    """np.linalg over a stack of matrices (the last two axes); a vector b
    solved against each matrix of the stack, and a matrix B against each."""
    total = np.sum(np.linalg.inv(A) ** 2) + np.sum(np.linalg.det(A) ** 3)
    B = np.outer(b, b)
    return total + np.sum(np.linalg.solve(A, b) ** 2) + np.sum(np.linalg.solve(A, B))


def cholesky_factors(A, y):
    """np.linalg.cholesky: a Gaussian process's log-likelihood through
    K = A A^T + I; a factor of a matrix whose upper triangle is not its lower
    one's mirror (numpy reads the lower: the upper has no derivative); the
    upper factor (from the upper triangle); a stack of factors."""
    K = A @ A.mT + np.eye(2)
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L, y)
    fit = np.sum(np.log(np.diag(L))) + 0.5 * alpha @ alpha
    lopsided = np.linalg.cholesky(K + np.triu(A, 1))
    U = np.linalg.cholesky(K.T + np.tril(A, -1) ** 2, upper=True)
    stack = np.linalg.cholesky(np.stack([K, 2.0 * K + np.outer(y, y)]))
    return fit + np.sum(lopsided * A) + np.sum(U**2 * A) + np.sum(stack[1] @ y)


def padded(x, W):
    """np.pad with zeros, a constant, and the modes that copy entries (edge,
    reflect, symmetric, wrap): each copy's cotangent is added back."""
    zeros = np.sum(np.pad(x, 2) * np.arange(8.0)) + np.sum(np.pad(W, (1, 0)) ** 2)
    constant = np.sum(np.pad(W, ((0, 1), (2, 1)), constant_values=-1.5) * 2.0)
    copies = np.pad(x, (2, 3), mode="edge") + np.pad(x, (2, 3), "reflect")
    more = np.pad(W, 1, mode="symmetric") * np.pad(W, ((1, 1), (1, 1)), "wrap")
    return zeros + constant + np.sum(copies**2 * np.arange(9.0)) + np.sum(more)


def one_entry(x, W):
    """`.item()` of an array of one entry (and of one entry of a matrix): a
    number, whose cotangent is the array's, of its shape."""
    return x.item() ** 3 + np.sin(W[1:, :1].item()) * np.sum(W)


def tiled(x, W):
    """np.tile of a vector and a matrix, with reps shorter and longer than
    the array's dimensions: the cotangent sums the tiles."""
    r = np.sum(np.tile(x, 3) * np.arange(12.0)) + np.sum(np.tile(W, (2, 1, 3)) ** 2)
    return r + np.sum(np.tile(x, (2, 2)) ** 3) + np.sum(np.tile(W[0, 0], 2) * x[:2])


def stacked_sideways(A, B):
    """np.hstack and np.vstack of lists written out: matrices side by side,
    vectors end to end, a row under a matrix."""
    side = np.sum(np.hstack([A, B]) ** 3) + np.sum(np.hstack((A[0], B[1])) ** 2)
    return side + np.sum(np.vstack([A, A[1] * 2.0]) ** 2 * 1.5)


def triangles_and_swaps(X):
    weights = np.arange(12.0).reshape(4, 3)
    upper = np.sum(np.triu(X) ** 2) + np.sum(np.tril(X, -1) * 3.0)
    upper = upper + np.sum(np.tril(X[0], 1) ** 2)  # (a vector: a square matrix)
    return (
        upper
        + np.sum(np.triu(X, 1) * np.tril(X, 1))
        + np.sum(np.swapaxes(X, 0, 1) * weights)
    )


def flips_and_angles(x, W):
    """np.flipud, np.fliplr and np.ptp (definitions of the prelude's; a list
    flipped too), np.deg2rad/np.radians and np.rad2deg/np.degrees."""
    flips = np.sum(np.flipud(W) * W) + np.sum(np.fliplr(W) ** 2)
    flips = flips + np.sum(np.flipud([x[0], x[1] * 2.0]) * x[:2])
    angles = np.sum(np.sin(np.deg2rad(x * 30.0)) * np.radians(x))
    angles = angles + np.sum(np.rad2deg(x) * np.degrees(x[::-1]) * 1e-4)
    return flips + angles + np.sum(np.ptp(W, axis=0) ** 2) + np.ptp(x) * 3.0


def inner_products(x, W):
    """np.vdot, and np.inner of vectors, matrices, a stack and a number."""
    products = np.vdot(W, W) + np.inner(x, W[0]) + np.sum(np.inner(W, W) ** 2)
    products = products + np.sum(np.inner(W, x) * 2.0) + np.sum(np.inner(x, 1.5))
    stack = np.reshape(W, (3, 2, 2))
    return products + np.sum(np.inner(stack, W[:2, :2]) ** 2)


def averages_and_takes(x, W):
    """np.average (plain, weighted along an axis, weighted entry by entry),
    np.nansum and np.nanmean (of values without nan), np.take (flattened,
    along an axis, at one index, an index array of two axes, booleans read
    as 0 and 1; `W.take(...)` as a method)."""
    means = np.average(x) + np.sum(np.average(W, axis=1, weights=x * x + 0.5))
    means = means + np.average(W, weights=W * W) + np.sum(np.average(W, 0, x[:3] ** 2))
    nans = np.nansum(W * x) + np.sum(np.nanmean(W, axis=1) ** 2)
    taken = np.sum(np.take(W, [5, 0, 11])) + np.sum(np.take(W, [3, 1], axis=1) ** 2)
    taken = taken + np.sum(np.take(W, 1, axis=0) * x) + np.sum(W.take([2, 2], 0))
    taken = taken + np.sum(np.take(W, np.array([[0, 2], [1, 1]]), axis=-1) ** 3)
    return means + nans + taken + np.sum(np.take(x, [True, False]) * 4.0)


def repeated(x, W):
    """np.repeat of a vector, of a matrix flattened and along an axis with a
    count per entry (0 too), of a number, and the method."""
    a = np.sum(np.repeat(x, 2) * np.arange(8.0)) + np.sum(np.repeat(W, 2) ** 3)
    b = np.sum(np.repeat(W, [1, 0, 2], axis=1) ** 2)
    return a + b + np.sum(W.repeat(2, axis=0) * 3.0) + np.sum(np.repeat(x[0], 4) * x)


def _log_add_exp_args(rng):
    Y = avoiding(rng, (3, 4), -2.0, 2.0, (-0.25,), gap=0.2)  # (cbrt's kink)
    return (normal(rng, 5), Y)


def _linear_algebra_args(rng):
    return (np.eye(3) * 2.0 + 0.4 * normal(rng, (3, 3)), normal(rng, 3))


def _stacked_matrices(rng):
    return (np.eye(2) * 2.0 + 0.4 * normal(rng, (4, 2, 2)), normal(rng, 2))


def _clip_args(rng):
    x = avoiding(rng, 6, -2.0, 2.0, (-1.0, -0.5, 0.8, 1.0))
    return (x,)


def _clip_diff_args(rng):
    y = normal(rng, 6)
    return (y + avoiding(rng, 6, -2.0, 2.0, (-0.5, 0.8)), y)


CASES: list[Case] = [
    # arithmetic on floats
    Case("poly_float", poly_float, _one(())),
    Case("div_float", div_float, _pos_pair, wrt=(0, 1)),
    Case("neg_float", neg_float, _one(())),
    Case("pow_fractional", pow_fractional, _one((), 0.3, 2.0)),
    Case("pow_both", pow_both, _pos_pair, wrt=(0, 1)),
    Case("pow_both_wrt_exponent", pow_both, _pos_pair, wrt="y"),
    Case("rpow_float", rpow_float, _one(())),
    Case("augassign_float", augassign_float, _one((), 0.2, 1.5)),
    Case("augassign_param", augassign_param, _one(())),
    Case("tuple_assign", tuple_assign, _one(())),
    Case("annotated_assign", annotated_assign, _one(())),
    Case("tuple_swap", tuple_swap, _pair((), ()), wrt=(0, 1)),
    Case("int_constants", int_constants, _one(())),
    # math.* on floats
    Case("math_sin_cos", math_sin_cos, _one(())),
    Case("math_log_base", math_log_base, _one((), 1.5, 3.0)),
    Case("math_exp_log", math_exp_log, _one((), 0.2, 3.0)),
    Case("math_sqrt_tanh", math_sqrt_tanh, _one((), 0.2, 3.0)),
    Case("math_tan_atan", math_tan_atan, _one((), -1.2, 1.2)),
    Case("math_asin_acos", math_asin_acos, _one((), -0.9, 0.9)),
    Case("math_sinh_cosh", math_sinh_cosh, _one(())),
    Case("math_log1p_expm1", math_log1p_expm1, _one((), -0.5, 2.0)),
    Case("math_fabs_abs", math_fabs_abs, lambda rng: (avoiding(rng, (), -2, 2),)),
    Case(
        "builtin_max_min",
        builtin_max_min,
        lambda r: tuple(float(v) for v in distinct(r, 3, 0.3)),
        wrt=(0, 1, 2),
    ),
    Case(
        "builtin_max_min_of_a_list",
        builtin_max_min_of_a_list,
        lambda r: tuple(float(v) for v in distinct(r, 3, 0.3)),
        wrt=(0, 1, 2),
    ),
    Case("math_constants", math_constants, _one(())),
    Case("np_on_float", np_on_float, _one((), 0.2, 3.0)),
    # np.* elementwise
    Case("np_sin_vector", np_sin, _one(5)),
    Case("np_sin_matrix", np_sin, _one((3, 4))),
    Case("np_sin_3d", np_sin, _one((2, 3, 4))),
    Case("np_cos", np_cos, _one((3, 4)), seed=fixed_seed(3, 4)),
    Case("np_tan", np_tan, _one((3, 4), -1.2, 1.2)),
    Case("np_arcsin", np_arcsin, _one(6, -0.9, 0.9), seed=fixed_seed(6)),
    Case("np_arccos", np_arccos, _one((2, 3), -0.9, 0.9)),
    Case("np_arctan", np_arctan, _one((3, 4), -3.0, 3.0)),
    Case("np_sinh_cosh", np_sinh_cosh, _one((2, 3)), seed=fixed_seed(2, 3)),
    Case("np_tanh", np_tanh, _one((4, 3), -2.0, 2.0)),
    Case("np_exp", np_exp, _one(5), seed=fixed_seed(5)),
    Case("np_log", np_log, _one((3, 4), 0.2, 3.0)),
    Case("np_log1p_expm1", np_log1p_expm1, _one(4, -0.5, 2.0), seed=fixed_seed(4)),
    Case("np_sqrt", np_sqrt, _one((3, 4), 0.2, 3.0)),
    Case("np_abs", np_abs, lambda rng: (avoiding(rng, (3, 4), -2, 2),)),
    Case("np_square", np_square, _one((2, 5)), seed=fixed_seed(2, 5)),
    Case("np_power_const", np_power_const, _one((3, 4), 0.2, 2.0)),
    Case(
        "np_power_arrays",
        np_power_arrays,
        lambda rng: (uniform(rng, 5, 0.5, 2.0), uniform(rng, 5, -1.5, 2.5)),
        wrt=(0, 1),
    ),
    Case("relu", relu, lambda rng: (avoiding(rng, (3, 4), -2, 2),)),
    Case(
        "np_maximum", np_maximum, _max_pair((3, 4)), wrt=(0, 1), seed=fixed_seed(3, 4)
    ),
    Case("np_minimum", np_minimum, _max_pair(6), wrt=(0, 1)),
    Case("np_where", np_where, lambda rng: (avoiding(rng, (3, 4), -2, 2),)),
    Case(
        "np_where_two_inputs",
        np_where_two_inputs,
        _max_pair((2, 3)),
        wrt=(0, 1),
        seed=fixed_seed(2, 3),
    ),
    Case(
        "np_clip",
        np_clip,
        lambda rng: (avoiding(rng, (3, 4), -1.5, 1.5, points=(-0.5, 0.5)),),
    ),
    # reductions
    Case("sum_all", sum_all, _one((3, 4))),
    Case("sum_axis0", sum_axis0, _one((3, 4)), seed=fixed_seed(4)),
    Case("sum_axis_keepdims", sum_axis_keepdims, _one((3, 4))),
    Case("sum_axis_tuple", sum_axis_tuple, _one((2, 3, 4)), seed=fixed_seed(3)),
    Case(
        "sum_negative_axis", sum_negative_axis, _one((2, 3, 4)), seed=fixed_seed(2, 3)
    ),
    Case("sum_scalar_over_axis", sum_scalar_over_axis, _one(())),
    Case(
        "extrema_scalar_over_axis",
        extrema_scalar_over_axis,
        lambda rng: (normal(rng, ()), normal(rng, ())),
        wrt=(0, 1),
    ),
    Case("prod_scalar_over_axis", prod_scalar_over_axis, _one(())),
    Case("mean_all", mean_all, _one((3, 4))),
    Case("mean_axis", mean_axis, _one((3, 4)), seed=fixed_seed(3)),
    Case("mean_keepdims", mean_keepdims, _one((3, 4))),
    Case(
        "mean_axis_tuple_keepdims",
        mean_axis_tuple_keepdims,
        _one((2, 3, 4)),
        seed=fixed_seed(2, 1, 1),
    ),
    Case("max_all", max_all, lambda rng: (distinct(rng, (3, 4)),)),
    Case(
        "max_axis", max_axis, lambda rng: (distinct(rng, (3, 4)),), seed=fixed_seed(3)
    ),
    Case("max_keepdims", max_keepdims, lambda rng: (distinct(rng, (3, 4)),)),
    Case(
        "max_axis_tuple",
        max_axis_tuple,
        lambda rng: (distinct(rng, (2, 3, 4)),),
        seed=fixed_seed(3),
    ),
    Case("min_all", min_all, lambda rng: (distinct(rng, 7),)),
    Case("min_axis", min_axis, lambda rng: (distinct(rng, (3, 4)),)),
    Case(
        "prod_all", prod_all, lambda rng: (avoiding(rng, (2, 3), -1.5, 1.5, gap=0.4),)
    ),
    Case(
        "prod_axis",
        prod_axis,
        lambda rng: (avoiding(rng, (3, 4), -1.5, 1.5, gap=0.4),),
        seed=fixed_seed(3),
    ),
    Case(
        "prod_keepdims",
        prod_keepdims,
        lambda rng: (avoiding(rng, (3, 4), -1.5, 1.5, gap=0.4),),
    ),
    # method forms
    Case("method_sum", method_sum, _one((3, 4))),
    Case("method_mean_axis", method_mean_axis, _one((3, 4)), seed=fixed_seed(4)),
    Case(
        "method_max_axis",
        method_max_axis,
        lambda rng: (distinct(rng, (3, 4)),),
        seed=fixed_seed(3),
    ),
    Case("method_min", method_min, lambda rng: (distinct(rng, (3, 4)),)),
    Case("method_transpose", method_transpose, _pair((3, 4), (4, 3)), wrt=(0, 1)),
    Case("method_reshape", method_reshape, _one(12), seed=fixed_seed(2, 6)),
    Case(
        "method_prod", method_prod, lambda rng: (avoiding(rng, 5, -1.5, 1.5, gap=0.4),)
    ),
    # linear algebra and shapes
    Case("matmul_mv", matmul_mv, _pair((3, 4), 4), wrt=(0, 1)),
    Case(
        "matmul_mm", matmul_mm, _pair((3, 4), (4, 2)), wrt=(0, 1), seed=fixed_seed(3, 2)
    ),
    Case("matmul_vm", matmul_vm, _pair(3, (3, 5)), wrt=(0, 1)),
    Case("matmul_vv", matmul_vv, _pair(4, 4), wrt=(0, 1)),
    Case(
        "matmul_batched",
        matmul_batched,
        _pair((2, 3, 4), (2, 4, 2)),
        wrt=(0, 1),
        seed=fixed_seed(2, 3, 2),
    ),
    Case("np_matmul", np_matmul, _pair((2, 3), (3, 4)), wrt=(0, 1)),
    Case("dot_vv", dot_vv, _pair(5, 5), wrt=(0, 1)),
    Case("dot_mv", dot_mv, _pair((3, 4), 4), wrt=(0, 1), seed=fixed_seed(3)),
    Case(
        "dot_vv_broadcast",
        dot_vv_broadcast,
        lambda rng: (normal(rng, 5), normal(rng, 5), normal(rng, 3)),
        wrt=(0, 1, 2),
    ),
    Case("dot_mm", dot_mm, _pair((2, 3), (3, 4)), wrt=1),
    Case("np_outer", np_outer, _pair(3, 4), wrt=(0, 1), seed=fixed_seed(3, 4)),
    Case("np_transpose", np_transpose, _one((4, 3)), seed=fixed_seed(3, 4)),
    Case(
        "np_transpose_axes",
        np_transpose_axes,
        _one((2, 3, 4)),
        seed=fixed_seed(4, 2, 3),
    ),
    Case("np_transpose_3d_default", np_transpose_3d_default, _one((2, 3, 4))),
    Case("np_reshape", np_reshape, _one((2, 6)), seed=fixed_seed(4, 3)),
    Case("np_reshape_minus_one", np_reshape_minus_one, _one((3, 4))),
    # read-only indexing
    Case("index_int_slice", index_int_slice, _one(5), seed=fixed_seed(4)),
    Case("index_negative", index_negative, _one(5)),
    Case("index_step", index_step, _one(6), seed=fixed_seed(3)),
    Case("index_2d_column", index_2d_column, _one((3, 4)), seed=fixed_seed(3)),
    Case("index_2d_mixed", index_2d_mixed, _one((3, 4))),
    Case("index_none", index_none, _one(3), seed=fixed_seed(3, 3)),
    Case("view_scale", view_scale, _pair(3, (2, 3)), wrt=(0, 1), seed=fixed_seed(2, 3)),
    Case("view_self", view_self, _one(4)),
    Case("view_row", view_row, _one(3), seed=fixed_seed(1, 3)),
    Case("view_affine", view_affine, _one(3), seed=fixed_seed(1, 3)),
    Case("view_matrix", view_matrix, _pair((2, 3), (4, 2, 3)), wrt=(0, 1)),
    Case("index_newaxis", index_newaxis, _one(4)),
    Case("index_ellipsis", index_ellipsis, _one((2, 3, 4)), seed=fixed_seed(2, 3)),
    # broadcasting
    Case(
        "bcast_row_col",
        bcast_row_col,
        _pair((1, 4), (3, 1)),
        wrt=(0, 1),
        seed=fixed_seed(3, 4),
    ),
    Case("bcast_scalar_array", bcast_scalar_array, _pair((), (3, 4))),
    Case("bcast_scalar_array_both", bcast_scalar_array, _pair((), (3, 4)), wrt=(0, 1)),
    Case("bcast_3x1_1x4", bcast_3x1_1x4, _pair((3, 1), (1, 4)), wrt=(0, 1)),
    Case(
        "bcast_vector_matrix",
        bcast_vector_matrix,
        _pair(4, (2, 4)),
        seed=fixed_seed(2, 4),
    ),
    Case(
        "bcast_vector_matrix_both",
        bcast_vector_matrix,
        _pair(4, (2, 4)),
        wrt=(0, 1),
        seed=fixed_seed(2, 4),
    ),
    # module-level constants
    Case("const_scale", const_scale, _one((3, 4))),
    Case("const_pi", const_pi, _one(5)),
    Case("const_array", const_array, _one((2, 3))),
    # helpers
    Case("helper_call", helper_call, _one((3, 4))),
    Case("helper_call_float", helper_call, _one(())),
    Case("helper_kwargs", helper_kwargs, _one(4), seed=fixed_seed(4)),
    Case("helper_nested", helper_nested, _one((2, 3))),
    Case(
        "helper_tuple_return", helper_tuple_return, _one((2, 5)), seed=fixed_seed(2, 5)
    ),
    # non-differentiable values
    Case("nondiff_shape", nondiff_shape, _one((3, 4))),
    Case("nondiff_len", nondiff_len, _one(5)),
    Case("nondiff_zeros", nondiff_zeros, _one(3)),
    Case("nondiff_arange", nondiff_arange, _one((2, 3))),
    Case("nondiff_size", nondiff_size, _one((3, 4))),
    Case("nondiff_dtypes", nondiff_dtypes, _one(3)),
    Case("nondiff_size_axis", nondiff_size_axis, _one((2, 3))),
    Case("nondiff_range_keywords", nondiff_range_keywords, _one(3)),
    # composites
    Case("sigmoid", sigmoid, _one((3, 4), -3.0, 3.0), seed=fixed_seed(3, 4)),
    Case("softmax", softmax, _one(5, -2.0, 2.0), seed=fixed_seed(5)),
    Case("softmax_rows", softmax_rows, _one((3, 4), -2.0, 2.0), seed=fixed_seed(3, 4)),
    Case("logsumexp", logsumexp, _one(6, -2.0, 2.0)),
    Case("softplus", softplus, _one((3, 4), -3.0, 3.0)),
    Case("l2_normalize", l2_normalize, _one(4, 0.2, 1.5), seed=fixed_seed(4)),
    Case("mse", mse, _mse_args, wrt=("w", "b")),
    Case("mse_wrt_data", mse, _mse_args, wrt=(2, 3)),
    Case("weighted_mse", weighted_mse, _weighted_mse_args),
    Case("weighted_mse_wrt_weights", weighted_mse, _weighted_mse_args, wrt=(0, 2)),
    Case(
        "cross_entropy",
        cross_entropy,
        lambda rng: (normal(rng, (4, 3)), onehot(rng, 4, 3)),
    ),
    Case("logistic_loss", logistic_loss, _logistic_args, wrt="w"),
    Case("huber", huber, lambda rng: (avoiding(rng, (3, 4), -2.5, 2.5, (-1, 0, 1)),)),
    Case("gaussian_nll", gaussian_nll, _gaussian_args, wrt=(0, 1)),
    Case("mlp_loss", mlp_loss, _mlp_args, wrt=(0, 1, 2, 3)),
    Case("mlp_loss_wrt_input", mlp_loss, _mlp_args, wrt="x"),
    Case("mlp_loss_wrt_w1", mlp_loss, _mlp_args, wrt="w1"),
    Case("mixture_loglik", mixture_loglik, _mixture_args, wrt=("mu", "log_s")),
    Case("mixture_loglik_wrt_mu", mixture_loglik, _mixture_args, wrt="mu"),
    Case("mixture_loglik_wrt_log_s", mixture_loglik, _mixture_args, wrt="log_s"),
    Case("mixture_cosh", mixture_cosh, _mixture_args, wrt=("mu", "log_s")),
    Case(
        "running_sum_loss",
        running_sum_loss,
        lambda r: (normal(r, (3, 4)), normal(r, 4)),
        wrt=(0, 1),
    ),
    Case(
        "running_sum_wrt_x",
        running_sum_loss,
        lambda r: (normal(r, (3, 4)), normal(r, 4)),
    ),
    Case("running_sum_scalar", running_sum_scalar, lambda r: (normal(r, ()),)),
    Case(
        "standardized",
        standardized,
        lambda r: (normal(r, (5, 3)), normal(r, 3)),
        wrt=(0, 1),
    ),
    Case("moment_methods", moment_methods, lambda r: (normal(r, (4, 3)),)),
    Case("stacked_columns_moved", stacked_columns_moved, lambda r: (normal(r, 4),)),
    Case(
        "standardized_wrt_x", standardized, lambda r: (normal(r, (5, 3)), normal(r, 3))
    ),
    Case("row_norms_loss", row_norms_loss, lambda r: (normal(r, (4, 3)),)),
    Case(
        "tuple_held_indices",
        tuple_held_indices,
        lambda r: (
            normal(r, (3, 4)),
            (slice(None), 1),
            (np.array([0, 2, 0]), np.array([3, 3, 3])),
        ),
        wrt=0,
    ),
    Case("unpacked_int_tuples", unpacked_int_tuples, _one((2, 3))),
    Case("option_given_an_array", option_given_an_array, _one(3)),
    Case("unpacked_module_arrays", unpacked_module_arrays, _one(3)),
    Case("where_of_floats", where_of_floats, _pair((), ()), wrt=(0, 1)),
    Case(
        "where_of_floats_a", where_of_floats, _pair((), (3,)), wrt=0, seed=fixed_seed(3)
    ),
    Case(
        "moments_of_lists",
        moments_of_lists,
        lambda r: (normal(r, 3), [1.5, -2.0, 3], [[1.0, 2.5], [3.0, -4.0]]),
        wrt=0,
    ),
    Case(
        "nondiff_scalar_casts",
        nondiff_scalar_casts,
        lambda r: (normal(r, 3), int(r.integers(1, 6))),
        wrt=0,
    ),
    Case(
        "einsum_products",
        einsum_products,
        lambda r: (normal(r, (2, 3)), normal(r, (3, 4)), normal(r, (2, 2, 3))),
        wrt=(0, 1, 2),
    ),
    Case(
        "einsum_products_wrt_b",
        einsum_products,
        lambda r: (normal(r, (2, 3)), normal(r, (3, 4)), normal(r, (2, 2, 3))),
        wrt=1,
    ),
    Case(
        "trace_and_diag",
        trace_and_diag,
        lambda r: (normal(r, (3, 4)), normal(r, 3)),
        wrt=(0, 1),
    ),
    Case(
        "trace_and_diag_wrt_a",
        trace_and_diag,
        lambda r: (normal(r, (3, 4)), normal(r, 3)),
    ),
    Case(
        "einsum_contract_all",
        einsum_contract_all,
        lambda r: (normal(r, (2, 3)), normal(r, (2, 3))),
    ),
    Case("mixture_cosh_wrt_mu", mixture_cosh, _mixture_args, wrt="mu"),
    Case("mixture_quartic_wrt_log_s", mixture_quartic, _mixture_args, wrt="log_s"),
    Case(
        "mlp_helper_loss", mlp_helper_loss, _mlp_ce_args, wrt=("w1", "b1", "w2", "b2")
    ),
    # regressions
    Case("gather_constant_repeats", gather_constant_repeats, _one(3)),
    Case("gather_list_literal", gather_list_literal, _one(3)),
    Case("constant_shadowed_by_param", constant_shadowed_by_param, _pair(3, 3), (0, 1)),
    Case("constant_shadowed_by_local", constant_shadowed_by_local, _one(3)),
    Case(
        "clip_of_where",
        clip_of_where,
        lambda rng: (
            np.array([-0.31, 1.2, 0.3, 2.0]),
            np.array([-1.0, -1.0, 1.0, 1.0]),
        ),
    ),
    Case(
        "power_named_exponent_at_zero",
        power_named_exponent_at_zero,
        lambda rng: (np.array([0.0, 1.0, rng.uniform(0.5, 2.0)]),),
    ),
    Case("list_literal_operand", list_literal_operand, _one(3)),
    Case("clip_of_difference", clip_of_difference, _clip_diff_args, wrt=(0, 1)),
    Case("clip_of_clip", clip_of_clip, _clip_args),
    Case("float64_constant", float64_constant, _one(4)),
    Case(
        "arrays_of_a_dtype",
        arrays_of_a_dtype,
        _pair(3, 3),
        wrt=(0, 1),
    ),
    Case(
        "bool_literals",
        bool_literals,
        lambda rng: (avoiding(rng, (3, 4), -2, 2, (0.0, 1.0)),),
    ),
    Case(
        "bool_literals_float",
        bool_literals_float,
        lambda rng: (avoiding(rng, (), -2, 2, (0.0,), gap=0.3),),
    ),
    Case("differences", differences, _pair(5, (4, 3)), wrt=(0, 1)),
    Case("rolled", rolled, _pair(5, (3, 4)), wrt=(0, 1)),
    Case("triangles_and_swaps", triangles_and_swaps, _one((3, 4))),
    Case("stacked_sideways", stacked_sideways, _pair((2, 3), (2, 2)), wrt=(0, 1)),
    Case("log_add_exp", log_add_exp, _log_add_exp_args, wrt=(0, 1)),
    Case("tiled", tiled, _pair(4, (2, 3)), wrt=(0, 1)),
    Case("linear_algebra", linear_algebra, _linear_algebra_args, wrt=(0, 1)),
    Case("stacked_inverses", stacked_inverses, _stacked_matrices, wrt=(0, 1)),
    Case("flips_and_angles", flips_and_angles, _pair(4, (3, 4)), wrt=(0, 1)),
    Case("inner_products", inner_products, _pair(4, (3, 4)), wrt=(0, 1)),
    Case("averages_and_takes", averages_and_takes, _pair(4, (3, 4)), wrt=(0, 1)),
    Case("repeated", repeated, _pair(4, (2, 3)), wrt=(0, 1)),
    Case("cholesky_factors", cholesky_factors, _pair((2, 2), 2), wrt=(0, 1)),
    Case("one_entry", one_entry, _pair(1, (2, 3)), wrt=(0, 1)),
    Case("padded", padded, _pair(4, (2, 3)), wrt=(0, 1)),
]
