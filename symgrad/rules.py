"""The primitive table: what each operation means and how it differentiates.

Three kinds of primitive:

* **elementwise**: defined once by its meaning as a sympy expression of its
  arguments (`sin` means `sympy.sin(x)`).  Reverse mode never looks up a
  hand-written derivative for these: it differentiates the meaning with
  `sympy.diff` (see `partial`) and lowers the result back to primitives.
* **structural**: reductions, matrix products, reshapes, indexing.  Each has an
  adjoint template written with the `Builder` that reverse mode passes in,
  returning one contribution per argument, and a tangent rule in `TANGENTS`
  for forward mode.  Ops that appear only in emitted code (`_unbroadcast`...)
  have tangent rules but no adjoint: emitted code is read back only by
  forward mode (Hessians).  `custom` calls a user's function with its own rule
  (`symgrad.rule`).
* **constant**: shapes, comparisons, `np.zeros`...  Their outputs carry no
  derivative; a value computed by one is a constant to reverse mode.

`template` says how `emit` prints the operation: `{0}`, `{1}` are arguments,
`{params}` expands to the non-default keyword parameters, and a parameter's
name to its value (a string as it is: `{dtype!r}` quotes it).  `lib="math"` on an
elementwise statement prints the `math` spelling the user wrote.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, log1p, log2, log10

from .errors import NoDerivativeError
from .ir import Atom, Const, Index, Slice


@dataclass(frozen=True)
class Op:
    name: str
    arity: int | None
    kind: str  # "elementwise" | "structural" | "constant"
    template: str
    params: tuple[tuple[str, object], ...] = ()  # names and defaults
    meaning: Callable[..., sp.Expr] | None = None
    nondiff: tuple[int, ...] = ()  # argument positions with no derivative
    adjoint: Callable[..., tuple[Any, ...]] | None = None
    math_name: str | None = None


OPS: dict[str, Op] = {}


def _define(op: Op) -> Op:
    OPS[op.name] = op
    return op


# --- elementwise: meaning as sympy, derivatives by sympy.diff ----------------


class logaddexp(sp.Function):  # noqa: N801 - numpy's name
    """np.logaddexp(x, y), `log(exp(x) + exp(y))` computed without overflow.
    Its partials are written `exp(x - logaddexp(x, y))` (and in y), which
    do not overflow either: sympy's derivative of the log of the sum,
    `exp(x) / (exp(x) + exp(y))`, is inf / inf = nan from x = 710 on."""

    nargs = 2

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.exp(self.args[argindex - 1] - self)

    def _eval_is_real(self) -> bool | None:
        return True if all(a.is_real for a in self.args) else None

    def _eval_evalf(self, prec: int) -> sp.Expr:
        x, y = self.args
        return sp.log(sp.exp(x) + sp.exp(y))._eval_evalf(prec)


class cbrt(sp.Function):  # noqa: N801 - numpy's name
    """np.cbrt(x), the real cube root (negative for a negative x, where
    sympy's `x ** (1/3)` is the complex principal root); its derivative is
    `1 / (3 * cbrt(x) ** 2)`, inf at 0 as np.sqrt's is."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return 1 / (3 * self**2)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr:
        x = self.args[0]
        return (sp.sign(x) * sp.Abs(x) ** sp.Rational(1, 3))._eval_evalf(prec)


def defelementwise(
    name: str,
    meaning: Callable[..., sp.Expr],
    template: str | None = None,
    math: str | None = None,
    nondiff: tuple[int, ...] = (),
) -> None:
    code = getattr(meaning, "__code__", None)
    arity = code.co_argcount if code is not None else min(meaning.nargs)
    if template is None:
        template = f"np.{name}(" + ", ".join(f"{{{i}}}" for i in range(arity)) + ")"
    _define(Op(name, arity, "elementwise", template, (), meaning, nondiff, None, math))


defelementwise("add", lambda x, y: x + y, "{0} + {1}")
defelementwise("sub", lambda x, y: x - y, "{0} - {1}")
defelementwise("mul", lambda x, y: x * y, "{0} * {1}")
defelementwise("truediv", lambda x, y: x / y, "{0} / {1}")
defelementwise("divide", lambda x, y: x / y)  # np.divide: inf, not an exception, at 0
# a derivative's division by a value: `/`, and np.divide where `/` raises (two
# Python numbers, one 0); np.divide of two Python numbers is a numpy float64,
# 15x slower, whose strong type makes a float32 gradient float64
defelementwise("div", lambda x, y: x / y, "_div({0}, {1})")
defelementwise("pow", lambda x, y: x**y, "{0} ** {1}")
defelementwise("neg", lambda x: -x, "-{0}")
defelementwise("pos", lambda x: x, "+{0}")
defelementwise("float", lambda x: x, "float({0})")
defelementwise("float64", lambda x: x)
defelementwise("sin", sp.sin, math="sin")
defelementwise("cos", sp.cos, math="cos")
defelementwise("tan", sp.tan, math="tan")
defelementwise("arcsin", sp.asin, math="asin")
defelementwise("arccos", sp.acos, math="acos")
defelementwise("arctan", sp.atan, math="atan")
defelementwise("sinh", sp.sinh, math="sinh")
defelementwise("cosh", sp.cosh, math="cosh")
defelementwise("tanh", sp.tanh, math="tanh")
defelementwise("arcsinh", sp.asinh, math="asinh")
defelementwise("arccosh", sp.acosh, math="acosh")
defelementwise("arctanh", sp.atanh, math="atanh")
defelementwise("exp", sp.exp, math="exp")
defelementwise("exp2", exp2, math="exp2")
defelementwise("expm1", expm1, math="expm1")
defelementwise("log", sp.log, math="log")
defelementwise("log2", log2, math="log2")
defelementwise("log10", log10, math="log10")
defelementwise("log1p", log1p, math="log1p")
defelementwise("sqrt", lambda x: sp.sqrt(x), math="sqrt")
defelementwise("cbrt", cbrt)  # (math.cbrt is new in Python 3.11)
# (numpy's own: its float32 loop multiplies by a float32 constant of its own)
defelementwise("deg2rad", lambda x: x * sp.pi / 180, math="radians")
defelementwise("rad2deg", lambda x: x * 180 / sp.pi, math="degrees")
# (numpy has no erf: math's, of Python numbers; of an array a TypeError, as
# the source's)
defelementwise("erf", sp.erf, "math.erf({0})", math="erf")
defelementwise("erfc", sp.erfc, "math.erfc({0})", math="erfc")
defelementwise("logaddexp", logaddexp)
defelementwise("abs", sp.Abs, math="fabs")
defelementwise("square", lambda x: x**2)
defelementwise("reciprocal", lambda x: 1 / x)
defelementwise("power", lambda x, y: x**y, math="pow")
defelementwise("arctan2", sp.atan2, math="atan2")
defelementwise("hypot", lambda x, y: sp.sqrt(x**2 + y**2), math="hypot")
defelementwise("maximum", lambda x, y: sp.Max(x, y))
defelementwise("minimum", lambda x, y: sp.Min(x, y))
defelementwise("where", lambda c, x, y: sp.Piecewise((x, c), (y, True)), nondiff=(0,))
# np.clip is np.minimum(np.maximum(x, lo), hi): hi wherever lo > hi, and
# where lo = hi (a constant in x, even at x = hi)
defelementwise(
    "clip",
    lambda x, lo, hi: sp.Piecewise(
        (hi, sp.Or(x > hi, lo >= hi)), (lo, x < lo), (x, True)
    ),
)


@functools.cache
def partial(name: str, i: int) -> sp.Expr:
    """d op(x0, x1, ...) / d x_i as a sympy expression in symbols x0, x1, ..."""
    op = OPS[name]
    symbols = arg_symbols(op.arity or 0)
    return sp.diff(op.meaning(*symbols), symbols[i])


def arg_symbols(n: int) -> tuple[sp.Symbol, ...]:
    return tuple(sp.Symbol(f"x{i}", real=True) for i in range(n))


# --- constant ops: no derivative flows through them --------------------------


# A constructor's `dtype=`: numpy's name of it ("float32"), None for numpy's
# default.
_DTYPE = [("dtype", None)]


def _truncates(dtype: str | None) -> bool:
    """Does a constructor given `dtype=` turn floats into integers or bools?"""
    return dtype is not None and np.dtype(dtype).kind != "f"


def _const(name: str, arity: int | None, template: str, params=()) -> None:
    _define(Op(name, arity, "constant", template, tuple(params)))


for _name, _sym in [("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">=")]:
    _const(_name, 2, f"{{0}} {_sym} {{1}}")
_const("eq", 2, "{0} == {1}")
_const("ne", 2, "{0} != {1}")
_const("bitand", 2, "{0} & {1}")  # (of masks or integers: no derivative)
_const("bitor", 2, "{0} | {1}")
_const("bitxor", 2, "{0} ^ {1}")
_const("invert", 1, "~{0}")
_const("is_", 2, "{0} is {1}")  # (`w is None`: a default left out)
_const("is_not", 2, "{0} is not {1}")
_const("in_", 2, "{0} in {1}")  # (`mode in (0, 1)`)
_const("not_in", 2, "{0} not in {1}")
_const("floordiv", 2, "{0} // {1}")
_const("mod", 2, "{0} % {1}")  # for indices (`i % n`); refused on wrt values
_const("logical_and", 2, "np.logical_and({0}, {1})")
_const("logical_or", 2, "np.logical_or({0}, {1})")
_const("logical_not", 1, "np.logical_not({0})")
_const("sign", 1, "np.sign({0})")
_const("slope", 1, "_slope({0})")  # (the derivative of abs: of real numbers)
_const("heaviside", 2, "np.heaviside({0}, {1})")
_const("slogdet_sign", 1, "_slogdet_sign({0})")
_const("floor", 1, "np.floor({0})")
_const("ceil", 1, "np.ceil({0})")
_const("rint", 1, "np.rint({0})")
_const("round", 1, "np.round({0}{params})", [("decimals", 0)])
_const("isnan", 1, "np.isnan({0})")
_const("isfinite", 1, "np.isfinite({0})")
_const("isinf", 1, "np.isinf({0})")
# (Python numbers' test, not numpy's: relative to the larger, rel_tol=1e-09)
_const(
    "math_isclose",
    2,
    "math.isclose({0}, {1}{params})",
    [("rel_tol", 1e-09), ("abs_tol", 0.0)],
)
_const("shape", 1, "np.shape({0})")
_const("size", 1, "np.size({0}{params})", [("axis", None)])
# The count a mean's cotangent is divided by: an empty array's is 1 (its
# cotangent spreads to nothing; dividing by 0 would raise).
_const("count", 1, "_count({0})")
# A bound of np.clip passed as a value, which may be None (no bound on that
# side), as the comparisons of clip's derivative read it: -inf or inf then.
_const("clip_bound", 2, "_clip_bound({0}, {1})")
_const("diff_order", 1, "_diff_order({0})")
_const("take_indices", 3, "_take_indices({0}, {1}, {2})")
_const("axis_index", 2, "_axis_index({0}, {1})")
_const("merged_shape", 1, "_merged_shape({0}{params})", [("axis", 0)])
_const(
    "same_shapes", 2, "_same_shapes({0}, {1}{params})", [("axis", 0), ("line", None)]
)
_const("ndim_at_least", 3, "_ndim_at_least({0}, {1}, {2})")
_const("not_joined", 3, "_not_joined({0}, {1}, {2}{params})", [("line", None)])
# An argument written into (a copy of), checked against the other arguments.
_const("unshared", None, "_unshared({args})")
# The test emitted code makes before `_not_joined(a, b, op)` of two names: a
# float or an array on either side joins nothing (30 ns, where the call costs
# 170, a twentieth of linear regression's gradient).
JOIN_GUARD = "{0}.__class__ not in _JOINLESS and {1}.__class__ not in _JOINLESS"
_const("any_sequence", None, "_any_sequence({args})")
_const("vstack_shape", 1, "_vstack_shape({0})")
_const("ndim", 1, "np.ndim({0})")
_const("len", 1, "len({0})")
_const("int", 1, "int({0})")
_const("zeros", 1, "np.zeros({0}{params})", _DTYPE)
_const("ones", 1, "np.ones({0}{params})", _DTYPE)
_const("empty", 1, "np.empty({0}{params})", _DTYPE)
_const("zeros_like", 1, "np.zeros_like({0}{params})", _DTYPE)
_const("ones_like", 1, "np.ones_like({0}{params})", _DTYPE)
_const("eye", 1, "np.eye({0}{params})", [("M", None), ("k", 0), *_DTYPE])
_const("count_nonzero", 1, "np.count_nonzero({0}{params})", [("axis", None)])
_TOLERANCES = [("rtol", 1e-05), ("atol", 1e-08)]
_const("isclose", 2, "np.isclose({0}, {1}{params})", _TOLERANCES)
_const("allclose", 2, "np.allclose({0}, {1}{params})", _TOLERANCES)
_const("arange", None, "np.arange({args}{params})", _DTYPE)
_const("linspace", None, "np.linspace({args}{params})", [("endpoint", True), *_DTYPE])
_const("argmax", 1, "np.argmax({0}{params})", [("axis", None)])
_const("argmin", 1, "np.argmin({0}{params})", [("axis", None)])
_const("argsort", 1, "np.argsort({0}{params})", [("axis", -1)])
_const("flatnonzero", 1, "np.flatnonzero({0})")
_const("any", 1, "np.any({0}{params})", [("axis", None), ("keepdims", False)])
_const("all", 1, "np.all({0}{params})", [("axis", None), ("keepdims", False)])
# `.astype(dtype)` (dtype a name numpy gives, "float64"): of a mask, or to an
# integer or bool dtype; of a value depending on wrt to a float dtype it is
# refused (analysis), not a constant.
_const("astype", 1, "{0}.astype({dtype!r})", [("dtype", "float64")])
# `np.array(v, dtype=d)` to a dtype but float64, as `.astype(d)` (numpy's
# conversion of a list's Python numbers raises where the cast would wrap)
_const("array_cast", 1, "np.array({0}, dtype={dtype!r})", [("dtype", "int64")])
# `np.int64(v)`, `np.float32(v)`: numpy's scalar type named `scalar` called on
# a value (np.float64, a float's identity, is the differentiable "float64")
_const("scalar_type", 1, "np.{scalar}({0})", [("scalar", "int64")])
_const("not_", 1, "not {0}")
_const("new_stack", 0, "[]")
_const("or_", 2, "{0} or {1}")
_const("min_int", None, "min({args})")
_const("zip_length", 3, "_zip_length({0}, {1}, {2})")  # (zip(..., strict=True))
_const("range", 3, "range({0}, {1}, {2})")
_const("reversed_range", 3, "reversed(range({0}, {1}, {2}))")
_const("reversed", 1, "reversed({0})")  # (of a stack of saved values)


# --- structural ops: adjoint templates ---------------------------------------


class Builder(Protocol):
    """What an adjoint template may do: add one statement, get its result.

    Ops whose template calls a `_helper` make `emit` copy that helper from
    `symgrad.runtime` into the generated module."""

    def op(self, name: str, *args: Any, **params: object) -> Atom:
        """Append `t = name(*args, **params)` to the adjoint; return `t`."""


@dataclass(frozen=True)
class Scatter:
    """A contribution that adds `value` into `x[index]` of an adjoint buffer."""

    index: Index
    value: Atom


def structural(name: str, arity: int | None, template: str, params=(), nondiff=()):
    """Register a structural op; the decorated function is its adjoint."""

    def register(adjoint: Callable[..., tuple[Any, ...]]):
        op = Op(
            name, arity, "structural", template, tuple(params), None, nondiff, adjoint
        )
        _define(op)
        return adjoint

    return register


_REDUCE = [("axis", None), ("keepdims", False)]


@structural("sum", 1, "np.sum({0}{params})", _REDUCE)
def _sum_adjoint(b: Builder, g, out, x, *, axis, keepdims):
    return (_spread(b, g, x, axis, keepdims),)


@structural("mean", 1, "np.mean({0}{params})", _REDUCE)
def _mean_adjoint(b: Builder, g, out, x, *, axis, keepdims):
    if axis is None:
        count = b.op("count", x)
    else:
        # (`_count`: 1 for an empty x, whose empty cotangent is then no
        # division by 0, which raises for a number g)
        count = b.op("truediv", b.op("count", x), b.op("count", g))
    return (_spread(b, b.op("truediv", g, count), x, axis, keepdims),)


def _spread(b: Builder, g, x, axis, keepdims) -> Atom:
    """Broadcast the cotangent of a reduction back over the reduced axes."""
    if axis is None:
        return b.op("spread", g, x)
    shape = b.op("shape", x)
    if not keepdims:
        g = b.op("keepdims", g, x, axis=axis)
    return b.op("broadcast_to", g, shape)


@structural("max", 1, "np.max({0}{params})", _REDUCE)
def _max_adjoint(b: Builder, g, out, x, *, axis, keepdims):
    return (b.op("extremum_grad", g, x, out, axis=axis, keepdims=keepdims),)


@structural("min", 1, "np.min({0}{params})", _REDUCE)
def _min_adjoint(b: Builder, g, out, x, *, axis, keepdims):
    return (b.op("extremum_grad", g, x, out, axis=axis, keepdims=keepdims),)


# A running sum: each entry of x adds to its own and every later partial sum,
# so its cotangent is the running sum of g taken from the end.
@structural("cumsum", 1, "np.cumsum({0}{params})", [("axis", None)])
def _cumsum_adjoint(b: Builder, g, out, x, *, axis):
    return (b.op("cumsum_grad", g, x, axis=axis),)


# Entries moved `shift` places along an axis (or the flattened array),
# cyclically: their cotangents move back.
@structural("roll", 2, "np.roll({0}, {1}{params})", [("axis", None)], nondiff=(1,))
def _roll_adjoint(b: Builder, g, out, x, shift, *, axis):
    if isinstance(shift, Const):  # (-3, or (-1, -2) for shifts along two axes)
        back = np.negative(np.asarray(shift.value, dtype=np.int64)).tolist()
        shift = Const(tuple(back) if isinstance(back, list) else back)
    else:
        shift = b.op("neg", shift)
    return b.op("roll", g, shift, axis=axis), None


# Each entry (along an axis, or of the flattened array) `repeats` times in a
# row; the cotangent adds each entry's copies back.
@structural("repeat", 2, "np.repeat({0}, {1}{params})", [("axis", None)], nondiff=(1,))
def _repeat_adjoint(b: Builder, g, out, x, repeats, *, axis):
    return b.op("repeat_grad", g, x, repeats, axis=axis), None


@structural("prod", 1, "np.prod({0}{params})", _REDUCE)
def _prod_adjoint(b: Builder, g, out, x, *, axis, keepdims):
    return (b.op("prod_grad", g, x, axis=axis, keepdims=keepdims),)


# np.einsum with explicit subscripts, each operand's letters distinct (no
# diagonals) and no "...": the cotangent of an operand is the einsum of the
# output's cotangent with the other operands into its letters, spread over
# the letters only it has (`_einsum_grad`).
@structural("einsum", None, "np.einsum({subscripts!r}, {args})", [("subscripts", "")])
def _einsum_adjoint(b: Builder, g, out, *operands, subscripts):
    return tuple(
        b.op("einsum_grad", g, *operands, subscripts=subscripts, k=k)
        for k in range(len(operands))
    )


def einsum_problem(subscripts: str, operands: int) -> str | None:
    """Why symgrad cannot differentiate `np.einsum(subscripts, ...)` with this
    many operands, or None."""
    if "->" not in subscripts:
        return "the subscripts need an explicit output ('->')"
    inputs, output = subscripts.split("->", 1)
    terms = inputs.split(",")
    if len(terms) != operands:
        return f"the subscripts name {len(terms)} operands, the call gives {operands}"
    for term in [*terms, output]:
        if not all(c.isalpha() and c.isascii() for c in term):
            return "only letters are supported in the subscripts (no '...')"
        if len(set(term)) != len(term):
            return f"a letter repeats within '{term}' (a diagonal)"
    if not set(output) <= set("".join(terms)):
        return "the output has a letter no operand has"
    return None


@structural("matmul", 2, "{0} @ {1}")
def _matmul_adjoint(b: Builder, g, out, x, y):
    return b.op("matmul_lhs_grad", g, x, y), b.op("matmul_rhs_grad", g, x, y)


@structural("dot", 2, "np.dot({0}, {1})")
def _dot_adjoint(b: Builder, g, out, x, y):
    return b.op("dot_lhs_grad", g, x, y), b.op("dot_rhs_grad", g, x, y)


@structural("outer", 2, "np.outer({0}, {1})")
def _outer_adjoint(b: Builder, g, out, x, y):
    gx = b.op("matmul", g, b.op("ravel", y))
    gy = b.op("matmul", b.op("ravel", x), g)
    return b.op("reshape", gx, b.op("shape", x)), b.op("reshape", gy, b.op("shape", y))


@structural("transpose", 1, "np.transpose({0}{params})", [("axes", None)])
def _transpose_adjoint(b: Builder, g, out, x, *, axes):
    if axes is None:
        return (b.op("transpose", g),)
    if all(a >= 0 for a in axes):
        inverse = tuple(sorted(range(len(axes)), key=lambda i: axes[i]))
        return (b.op("transpose", g, axes=inverse),)
    return (b.op("transpose_grad", g, axes=tuple(axes)),)


@structural("T", 1, "{0}.T")
def _T_adjoint(b: Builder, g, out, x):
    return (b.op("transpose", g),)


def _reshape_back(b: Builder, g, out, x, *rest, **params):
    return (b.op("reshape", g, b.op("shape", x)),) + (None,) * len(rest)


structural("reshape", 2, "np.reshape({0}, {1})", nondiff=(1,))(_reshape_back)
structural("ravel", 1, "np.ravel({0})")(_reshape_back)
structural("squeeze", 1, "np.squeeze({0}{params})", [("axis", None)])(_reshape_back)
structural("expand_dims", 1, "np.expand_dims({0}{params})", [("axis", None)])(
    _reshape_back
)


# --- np.linalg: stacks of square matrices in the last two axes ------------


@structural("mT", 1, "np.matrix_transpose({0})")
def _mT_adjoint(b: Builder, g, out, x):
    return (b.op("mT", g),)


@structural("inv", 1, "np.linalg.inv({0})")
def _inv_adjoint(b: Builder, g, out, a):
    # d(A^-1) = -A^-1 dA A^-1, so the cotangent of A is -A^-T g A^-T
    transposed = b.op("mT", out)
    left = b.op("matmul", transposed, g)
    return (b.op("neg", b.op("matmul", left, transposed)),)


def _log_det_adjoint(b: Builder, g, out, a):
    # d log|det A| = trace(A^-1 dA): the cotangent of A is g A^-T
    scale = b.op("expand_dims", g, axis=(-2, -1))
    return (b.op("mul", scale, b.op("mT", b.op("inv", a))),)


structural("logabsdet", 1, "_logabsdet({0})")(_log_det_adjoint)


@structural("det", 1, "np.linalg.det({0})")
def _det_adjoint(b: Builder, g, out, a):
    # d det A = det A trace(A^-1 dA)
    return _log_det_adjoint(b, b.op("mul", g, out), out, a)


@structural("solve", 2, "np.linalg.solve({0}, {1})")
def _solve_adjoint(b: Builder, g, out, a, rhs):
    # X = A^-1 B: the cotangent of B is A^-T g, that of A minus it times X^T
    # (numpy reads a 1-d B as a vector, solved against each matrix of a
    # stack: `_solve_vec` and `_solve_outer` read it so; each cotangent is
    # summed over the axes its argument was broadcast along)
    full = b.op("solve_vec", b.op("mT", a), g, rhs)
    a_bar = b.op("neg", b.op("solve_outer", full, out, rhs))
    return b.op("unbroadcast", a_bar, a), b.op("unbroadcast", full, rhs)


@structural("cholesky", 1, "np.linalg.cholesky({0}{params})", [("upper", False)])
def _cholesky_adjoint(b: Builder, g, out, a, *, upper):
    # numpy reads A's lower triangle as a symmetric S = L L^T (upper=True: the
    # upper one, U = L^T).  With phi(X) X's lower triangle, its diagonal
    # halved, dL = L phi(L^-1 dS L^-T); L's upper entries are zeros, not
    # values, so only g's lower triangle counts, and S's cotangent is the
    # symmetric part of M = L^-T phi(L^T g) L^-1.  A's entry (i, j), i > j,
    # stands for S's (i, j) and (j, i): its cotangent is M + M^T there, and
    # M's on the diagonal, which is phi(M + M^T)
    if upper:  # (U = L^T is the factor's transpose itself)
        g, factor_t = b.op("mT", g), out
    else:
        factor_t = b.op("mT", out)
    inner = b.op("lower", b.op("matmul", factor_t, b.op("lower", g)), diagonal=0.5)
    left = b.op("solve", factor_t, inner)  # L^-T phi(L^T g)
    m = b.op("mT", b.op("solve", factor_t, b.op("mT", left)))  # ... L^-1
    a_bar = b.op("lower", b.op("add", m, b.op("mT", m)), diagonal=0.5)
    return (b.op("mT", a_bar) if upper else a_bar,)


@structural("lower", 1, "_lower({0}{params})", [("diagonal", 1.0)])
def _lower_adjoint(b: Builder, g, out, x, *, diagonal):
    # (a mask: its own adjoint)
    return (b.op("lower", g, diagonal=diagonal),)


@structural("item", 1, "{0}.item()")
def _item_adjoint(b: Builder, g, out, x):
    # (x holds one entry: the cotangent is g in x's shape and float dtype)
    return (b.op("mul", b.op("ones_like", x), g),)


@structural(
    "pad",
    2,
    "np.pad({0}, {1}{params})",
    [("mode", "constant"), ("constant_values", 0)],
    nondiff=(1,),
)
def _pad_adjoint(b: Builder, g, out, x, pad_width, *, mode, constant_values):
    return b.op("pad_grad", g, x, pad_width, mode=mode), None


@structural("diag", 1, "np.diag({0}{params})", [("k", 0)])
def _diag_adjoint(b: Builder, g, out, v, *, k):
    return (b.op("diag_grad", g, v, k=k),)


@structural("diag_k", 2, "np.diag({0}, {1})", nondiff=(1,))
def _diag_k_adjoint(b: Builder, g, out, v, k):
    return b.op("diag_grad_k", g, v, k), None


@structural("tile", 2, "np.tile({0}, {1})", nondiff=(1,))
def _tile_adjoint(b: Builder, g, out, x, reps):
    return b.op("tile_grad", g, x, reps), None


@structural("copy", 1, "np.copy({0})")
def _copy_adjoint(b: Builder, g, out, x):
    return (g,)


# (`dtype="float64"`: the values, converted where they are not floats)
@structural("asarray", 1, "np.asarray({0}{params})", [("dtype", None)])
def _asarray_adjoint(b: Builder, g, out, x, *, dtype):
    return (g,)


structural("copy_arg", 1, "_copy_arg({0})")(_copy_adjoint)
structural("inexact", 1, "_inexact({0})")(_copy_adjoint)

# Ops whose result may share memory with their first argument.
VIEWS = {"getitem", "reshape", "ravel", "T", "transpose", "squeeze", "expand_dims"}
VIEWS |= {"broadcast_to", "asarray", "inexact"}
# np.diag of a matrix is numpy's read-only view of its diagonal (of a vector,
# a new matrix): a write into the matrix changes it, a write into it raises.
READ_ONLY_VIEWS = {"diag", "diag_k"}
VIEWS |= READ_ONLY_VIEWS
# np.int64(x), np.float32(x) of an array of that dtype is the array itself.
VIEWS |= {"scalar_type"}
# Emitted-code ops that may return their first argument itself.
VIEWS |= {"unbroadcast", "broadcast_tangent", "float_tangent", "check_seed"}
VIEWS |= {"kept_grad", "listed"}
VIEWS |= {"same_shape_sum"}  # (`loopshapes`: returns its first argument)
VIEWS |= {"pad_grad"}  # (of the constant mode: a slice of the cotangent)
# Ops that raise where Python would (an unpacking of the wrong length, a name
# a loop left unbound): kept where nothing reads their value.
CHECKS = {"unpacked", "bound", "zip_length", "diff_order", "same_shapes"}
CHECKS |= {"ndim_at_least", "not_joined", "unshared"}
# Ops that write into their first argument's buffer (or may, once `inplace`
# makes them in place): nothing reading it may move past them.
WRITES_ARGUMENT = {"mul_into", "iadd", "setitem", "setitem_add", "setitem_sub"}
WRITES_ARGUMENT |= {"add_at", "zero_at", "list_append", "list_pop", "written_grad"}
VIEWS |= {"concat_grad", "moveaxis", "transpose_grad", "unpacked", "keepdims"}
VIEWS |= {"hstack_grad", "vstack_grad"}
VIEWS |= {"bound", "mT"}
VIEWS |= {"float64"}  # (np.float64 of a float64 array is that array)
VIEWS |= {"entries_grad"}  # (holds its arguments)
# A user's function may return its argument itself (`stop_gradient`).
VIEWS |= {"custom", "opaque", "call"}


@structural("broadcast_to", 2, "np.broadcast_to({0}, {1})", nondiff=(1,))
def _broadcast_to_adjoint(b: Builder, g, out, x, shape):
    return b.op("unbroadcast", g, x), None


@structural("full", 2, "np.full({0}, {1}{params})", _DTYPE, nondiff=(0,))
def _full_adjoint(b: Builder, g, out, shape, value, *, dtype):
    if _truncates(dtype):  # (np.full(n, x, dtype=int): a constant)
        return None, None
    return None, b.op("unbroadcast", g, value)


@structural("getitem", 2, "{0}{1}", nondiff=(1,))
def _getitem_adjoint(b: Builder, g, out, x, index):
    return Scatter(index, g), None


# --- lists and writes into arrays -------------------------------------------
# A list's adjoint is the array np.stack would make of its entries' adjoints,
# so indexing, slicing and accumulating adjoints work as they do for arrays.

_const("list_new", 0, "[]")


@structural("make_list", None, "[{args}]")
def _make_list_adjoint(b: Builder, g, out, *items):
    return tuple(b.op("getitem", g, Index((Const(k),))) for k in range(len(items)))


@structural("list_append", 2, "{0} + [{1}]")
def _list_append_adjoint(b: Builder, g, out, items, value):
    head = b.op("getitem", g, Index((Slice(None, Const(-1)),)))
    return head, b.op("getitem", g, Index((Const(-1),)))


@structural("list_concat", 2, "{0} + {1}")
def _list_concat_adjoint(b: Builder, g, out, first, second):
    n = b.op("len", first)
    head = b.op("getitem", g, Index((Slice(None, n),)))
    return head, b.op("getitem", g, Index((Slice(n, None),)))


@structural("list_pop", 1, "{0}[:-1]")
def _list_pop_adjoint(b: Builder, g, out, items):
    return (Scatter(Index((Slice(None, Const(-1)),)), g),)


@structural("bound", 2, "_bound({0}, {1})", nondiff=(1,))
def _bound_adjoint(b: Builder, g, out, value, name):
    return g, None


@structural("unpacked", 2, "_unpacked({0}, {1})", nondiff=(1,))
def _unpacked_adjoint(b: Builder, g, out, value, n):
    return g, None


# A tuple of values: forward mode carries a tuple of tangents; reverse mode
# refuses one that holds a value depending on `wrt` (analysis._OPAQUE).
_define(Op("tuple", None, "structural", "({args},)"))


@structural("stack", 1, "np.stack({0}{params})", [("axis", 0)])
def _stack_adjoint(b: Builder, g, out, items, *, axis):
    return (g if axis == 0 else b.op("moveaxis", g, Const(axis), Const(0)),)


# `np.array(items)`: a list used as an array (`np.asarray(items)`,
# `np.sum(items)`).  np.stack along axis 0 but for an empty list, which numpy
# makes an empty float array where np.stack raises.
@structural("list_array", 1, "np.array({0}{params})", [("dtype", None)])
def _list_array_adjoint(b: Builder, g, out, items, *, dtype):
    return (g,)


@structural("concatenate", None, "np.concatenate([{args}]{params})", [("axis", 0)])
def _concatenate_adjoint(b: Builder, g, out, *parts, axis):
    if not (type(axis) is int and axis == 0):
        return tuple(
            b.op("concat_grad", g, Const(i), Const(axis), *parts)
            for i in range(len(parts))
        )
    # along the first axis each part is a run of g's rows: g[:len(a)],
    # g[len(a):len(a) + len(b)], ..., the last one g[start:]
    grads, start = [], None
    for k, part in enumerate(parts):
        stop = None
        if k < len(parts) - 1:
            size = b.op("len", part)
            stop = size if start is None else b.op("add", start, size)
        grads.append(b.op("getitem", g, Index((Slice(start, stop),))))
        start = stop
    return tuple(grads)


# np.hstack and np.vstack of a list written out: each part's cotangent is its
# slice of g (along the first axis for vectors, else the second; along the
# first for vstack), in the part's shape.
for _name in ["hstack", "vstack"]:

    def _stack_adjoint(b: Builder, g, out, *parts, _name=_name):
        return tuple(
            b.op(f"{_name}_grad", g, Const(i), *parts) for i in range(len(parts))
        )

    structural(_name, None, f"np.{_name}([{{args}}])")(_stack_adjoint)


# Writes into an array, `y2 = _setitem(y1, np.s_[i], v)` (printed `y[i] = v`
# where the array is owned): their adjoints and tangents need the written
# array's dtype and whether its adjoint buffer is owned, so `reverse.write`
# and the shared write rule below derive them, not an adjoint here.
for _name, _spelling in [
    ("setitem", "_setitem"),
    ("setitem_add", "_setitem_add"),
    ("setitem_sub", "_setitem_sub"),
    ("add_at", "_add_at"),
]:
    _define(
        Op(_name, 3, "structural", _spelling + "({0}, np.s_{1}, {2})", (), None, (1,))
    )


# Ops that appear only in emitted code.  Emitted code is valid symgrad input
# (second derivatives differentiate an emitted `f_and_grad` in forward mode),
# so those a derivative flows through are structural, with a tangent rule
# below and no adjoint: reverse mode refuses them by name.
_const("zeros_grad", 1, "_zeros_grad({0})")
_const("zeros_buffer", 1, "_zeros_buffer({0})")  # (an indexed read's cotangent)
_const("list_index", 2, "_list_index({0}, {1})")  # (a bool reads a list as an int)
_const("zeros_tangent", 1, "_zeros_tangent({0})")
_const("check_tangent", 3, "_check_tangent({0}, {1}, {2})")


def _emitted(name: str, arity: int | None, template: str, params=(), nondiff=()):
    _define(Op(name, arity, "structural", template, tuple(params), None, nondiff))


_emitted("unbroadcast", 2, "_unbroadcast({0}, {1})", nondiff=(1,))
_emitted("unbroadcast_mul", 3, "_unbroadcast_mul({0}, {1}, {2})", nondiff=(2,))
# (the two above in a loop, where the arguments are numpy values: `loopshapes`)
_emitted(
    "same_shape_sum",
    2,
    "{0} if {0}.shape == {1}.shape else _sum_to({0}, {1}.shape)",
    nondiff=(1,),
)
_emitted(
    "same_shape_mul",
    3,
    "{0} * {1} if {0}.shape == {1}.shape == {2}.shape"
    " else _unbroadcast_mul({0}, {1}, {2})",
    nondiff=(2,),
)
_emitted("owned", 1, "_owned({0})")
_emitted("listed", 1, "_listed({0})")  # (a list or tuple as numpy reads it)
_emitted("tile_grad", 3, "_tile_grad({0}, {1}, {2})", nondiff=(1, 2))
_emitted("diag_grad", 2, "_diag_grad({0}, {1}{params})", [("k", 0)], nondiff=(1,))
_emitted("diag_grad_k", 3, "_diag_grad({0}, {1}, {2})", nondiff=(1, 2))
_emitted(
    "pad_grad",
    3,
    "_pad_grad({0}, {1}, {2}{params})",
    [("mode", "constant")],
    nondiff=(1, 2),
)
# np.linalg.solve's adjoint and tangent, with its B reading as numpy reads it
_emitted("solve_vec", 3, "_solve_vec({0}, {1}, {2})", nondiff=(2,))
_emitted("solve_apply", 3, "_solve_apply({0}, {1}, {2})", nondiff=(2,))
_emitted("solve_outer", 3, "_solve_outer({0}, {1}, {2})", nondiff=(2,))
_emitted("keepdims", 2, "_keepdims({0}, {1}{params})", nondiff=(1,))
_emitted("spread", 2, "_spread({0}, {1})", nondiff=(1,))  # a total's cotangent
_emitted("mean_all", 1, "_mean({0})")  # np.mean(x), see optimize._fast_means
_emitted("sum_squares", 1, "_sum_squares({0}{params})", _REDUCE)  # np.sum(x**2)
_emitted("mean_squares", 1, "_mean_squares({0})")  # np.mean(x**2), see optimize
_emitted("mul_into", 3, "_mul_into({0}, {1}, {2})", nondiff=(0,))  # see buffers
_emitted("check_seed", 3, "_check_seed({0}, {1}, {2})", nondiff=(0, 2))
_emitted("iadd", 2, "{0} + {1}")  # printed `a += b`: `a` is a buffer the adjoint owns
_emitted("getitem_copy", 2, "{0}{1}.copy()", nondiff=(1,))
_emitted("entry_copy", 2, "_copy({0}{1})", nondiff=(1,))  # (a number kept)
# (a tuple parameter's cotangent from its entries': see reverse._entries_grad)
_emitted("entries_grad", None, "_entries_grad({args})", nondiff=(0,))


@structural("moveaxis", 3, "np.moveaxis({0}, {1}, {2})", nondiff=(1, 2))
def _moveaxis_adjoint(b: Builder, g, out, x, source, destination):
    return b.op("moveaxis", g, destination, source), None, None


_emitted("written_grad", 4, "_written_grad({0}, np.s_{1}, {2}, {3})", nondiff=(1, 2, 3))
_emitted("zero_at", 2, "_zero_at({0}, np.s_{1})", nondiff=(1,))
_emitted("kept_grad", 4, "_kept_grad({0}, np.s_{1}, {2}, {3})", nondiff=(1, 2, 3))
_emitted(
    "einsum_grad",
    None,
    "_einsum_grad({subscripts!r}, {k}, {args})",
    [("subscripts", ""), ("k", 0)],
)
_emitted("cumsum_grad", 2, "_cumsum_grad({0}, {1}{params})", [("axis", None)], (1,))
_emitted("fit", 2, "_fit({0}, {1})", nondiff=(1,))
_emitted(
    "repeat_grad",
    3,
    "_repeat_grad({0}, {1}, {2}{params})",
    [("axis", None)],
    (1, 2),
)
_emitted("concat_grad", None, "_concat_grad({args})")
_emitted("hstack_grad", None, "_hstack_grad({args})")
_emitted("vstack_grad", None, "_vstack_grad({args})")
_emitted("broadcast_tangent", 2, "_broadcast_tangent({0}, {1})", nondiff=(1,))
_emitted("float_tangent", 3, "_float_tangent({0}, {1}, {2})", nondiff=(1, 2))
for _name in [
    "extremum_grad",
    "extremum_tangent",
    "prod_grad",
    "prod_grad_tangent",
    "prod_tangent",
    "transpose_grad",
    "matmul_lhs_grad_sum",
    "matmul_rhs_grad_sum",
]:
    _emitted(_name, None, f"_{_name}({{args}}{{params}})")
# (with broadcast=True, `g` is the cotangent of a value the product was
# broadcast to, see optimize._fold_product_sums)
for _name in ["matmul_lhs_grad", "matmul_rhs_grad", "dot_lhs_grad", "dot_rhs_grad"]:
    _emitted(_name, 3, f"_{_name}({{args}}{{params}})", [("broadcast", False)])


def is_elementwise(name: str) -> bool:
    return OPS[name].kind == "elementwise"


# --- forward mode: tangent rules ----------------------------------------------
# `TANGENTS[op](b, dots, out, *args, **params)` returns the tangent of
# `out = op(*args)` given `dots[i]`, the tangent of argument i (None when it is
# zero), or None when the result's tangent is zero.  Elementwise ops need no
# entry: forward mode differentiates their meaning with sympy, as reverse does.

Tangent = Callable[..., Atom | None]
TANGENTS: dict[str, Tangent] = {}


def _zero_filled(b: Builder, dots, args, positions) -> list:
    filled = list(args)
    for i in positions:
        filled[i] = dots[i] if dots[i] is not None else b.op("zeros_tangent", args[i])
    return filled


def linear(name: str, positions: tuple[int, ...] | None = (0,)) -> None:
    """`name` is linear in the arguments at `positions` taken together (None:
    all of them), so its tangent is `name` applied to their tangents."""

    def tangent(b: Builder, dots, out, *args, **params) -> Atom | None:
        where = range(len(args)) if positions is None else positions
        if all(dots[i] is None for i in where):
            return None
        return b.op(name, *_zero_filled(b, dots, args, where), **params)

    TANGENTS[name] = tangent


def bilinear(name: str, first: int, second: int) -> None:
    """`name` is linear in each of two arguments: d(xy) = dx y + x dy."""

    def tangent(b: Builder, dots, out, *args, **params) -> Atom | None:
        terms = []
        for i in (first, second):
            if dots[i] is not None:
                moved = list(args)
                moved[i] = dots[i]
                terms.append(b.op(name, *moved, **params))
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else b.op("add", *terms)

    TANGENTS[name] = tangent


for _name in ["sum", "mean", "transpose", "T", "reshape", "ravel", "squeeze"]:
    linear(_name)
for _name in ["expand_dims", "copy", "asarray", "inexact", "broadcast_to", "getitem"]:
    linear(_name)
for _name in ["owned", "listed", "copy_arg", "item"]:  # (`item`: a number)
    linear(_name)
for _name in ["unbroadcast", "extremum_grad", "transpose_grad", "written_grad"]:
    linear(_name)
for _name in ["cumsum", "cumsum_grad", "roll", "repeat", "repeat_grad", "fit"]:
    linear(_name)
for _name in ["zero_at", "kept_grad", "concat_grad", "hstack_grad", "vstack_grad"]:
    linear(_name)
for _name in ["moveaxis", "getitem_copy", "entry_copy", "keepdims"]:
    linear(_name)
for _name in ["broadcast_tangent", "extremum_tangent", "prod_tangent"]:
    linear(_name)


def _full_tangent(b: Builder, dots, out, shape, value, *, dtype) -> Atom | None:
    if dots[1] is None or _truncates(dtype):
        return None
    return b.op("full", shape, dots[1], dtype=dtype)


TANGENTS["full"] = _full_tangent
linear("spread", (0,))
linear("check_seed", (1,))
_LISTED = ["make_list", "list_append", "list_concat", "stack", "list_array"]
for _name in [*_LISTED, "concatenate", "hstack", "vstack"]:
    linear(_name, None)
linear("tuple", None)
linear("list_pop")
linear("unpacked")
linear("bound")
linear("rule_checked")
linear("rule_cotangents")
linear("rule_partial")
linear("iadd", None)
for _name in ["matmul", "dot", "outer"]:
    bilinear(_name, 0, 1)
bilinear("unbroadcast_mul", 0, 1)
bilinear("matmul_lhs_grad", 0, 2)
bilinear("matmul_rhs_grad", 0, 1)
bilinear("matmul_lhs_grad_sum", 0, 2)  # (of lists: the pairs of a loop)
bilinear("matmul_rhs_grad_sum", 0, 1)
bilinear("dot_lhs_grad", 0, 2)
bilinear("dot_rhs_grad", 0, 1)


def _entries_grad_tangent(b: Builder, dots, out, items, *grads) -> Atom | None:
    """Linear in the entries' cotangents; `items` gives only the structure."""
    if all(d is None for d in dots[1:]):
        return None
    return b.op(
        "entries_grad", items, *(Const(None) if d is None else d for d in dots[1:])
    )


TANGENTS["entries_grad"] = _entries_grad_tangent


def _extremum_tangent(b: Builder, dots, out, x, **params) -> Atom | None:
    if dots[0] is None:
        return None
    return b.op("extremum_tangent", dots[0], x, out, **params)


def _prod_tangent(b: Builder, dots, out, x, **params) -> Atom | None:
    if dots[0] is None:
        return None
    return b.op("prod_tangent", dots[0], x, out, **params)


def _prod_grad_tangent(b: Builder, dots, out, g, x, **params) -> Atom | None:
    # `_prod_grad(g, x)` is g times the products of the other entries of x:
    # linear in g; along x, g times the tangent of those products
    terms = []
    if dots[0] is not None:
        terms.append(b.op("prod_grad", dots[0], x, **params))
    if dots[1] is not None:
        terms.append(b.op("prod_grad_tangent", g, x, dots[1], **params))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else b.op("add", *terms)


TANGENTS.update(max=_extremum_tangent, min=_extremum_tangent, prod=_prod_tangent)
TANGENTS["prod_grad"] = _prod_grad_tangent


def _squares_tangent(reduce: str) -> Tangent:
    """`sum(x**2)` (or mean) changes by `2 * sum(x * dx)` (or mean)."""

    def tangent(b: Builder, dots, out, x, **params) -> Atom | None:
        if dots[0] is None:
            return None
        return b.op("mul", Const(2), b.op(reduce, b.op("mul", x, dots[0]), **params))

    return tangent


def _einsum_tangent(b: Builder, dots, out, *operands, subscripts) -> Atom | None:
    # linear in each operand: the sum over operands of the einsum with that
    # operand replaced by its tangent
    terms = [
        b.op("einsum", *operands[:i], dot, *operands[i + 1 :], subscripts=subscripts)
        for i, dot in enumerate(dots)
        if dot is not None
    ]
    return _sum_terms(b, terms)


def _einsum_grad_tangent(
    b: Builder, dots, out, g, *operands, subscripts, k
) -> Atom | None:
    # linear in g and in each operand but the k-th (read for its shape only)
    args = (g, *operands)
    terms = [
        b.op(
            "einsum_grad",
            *args[:p],
            dots[p],
            *args[p + 1 :],
            subscripts=subscripts,
            k=k,
        )
        for p in range(len(args))
        if p != k + 1 and dots[p] is not None
    ]
    return _sum_terms(b, terms)


def _sum_terms(b: Builder, terms: list) -> Atom | None:
    if not terms:
        return None
    total = terms[0]
    for term in terms[1:]:
        total = b.op("add", total, term)
    return total


def _inv_tangent(b: Builder, dots, out, a) -> Atom | None:
    if dots[0] is None:
        return None
    return b.op("neg", b.op("matmul", b.op("matmul", out, dots[0]), out))


def _log_det_tangent(b: Builder, dots, out, a) -> Atom | None:
    if dots[0] is None:
        return None
    product = b.op("mul", b.op("mT", b.op("inv", a)), dots[0])
    return b.op("sum", product, axis=(-2, -1), keepdims=False)


def _det_tangent(b: Builder, dots, out, a) -> Atom | None:
    log_tangent = _log_det_tangent(b, dots, out, a)
    return None if log_tangent is None else b.op("mul", out, log_tangent)


def _solve_tangent(b: Builder, dots, out, a, rhs) -> Atom | None:
    # dX = A^-1 (dB - dA X)
    if dots[0] is None and dots[1] is None:
        return None
    moved = None if dots[0] is None else b.op("solve_apply", dots[0], out, rhs)
    if dots[1] is None:
        change = b.op("neg", moved)
    else:
        change = dots[1] if moved is None else b.op("sub", dots[1], moved)
    return b.op("solve_vec", a, change, rhs)


def _cholesky_tangent(b: Builder, dots, out, a, *, upper) -> Atom | None:
    # dL = L phi(L^-1 dS L^-T), dS the symmetric matrix of dA's lower
    # triangle (see the adjoint)
    if dots[0] is None:
        return None
    change, factor = dots[0], out
    if upper:
        change, factor = b.op("mT", change), b.op("mT", out)
    strict = b.op("lower", change, diagonal=0.0)
    symmetric = b.op("add", b.op("lower", change), b.op("mT", strict))
    half = b.op("solve", factor, b.op("mT", b.op("solve", factor, symmetric)))
    tangent = b.op("matmul", factor, b.op("lower", half, diagonal=0.5))
    return b.op("mT", tangent) if upper else tangent


def _solve_vec_tangent(b: Builder, dots, out, a, r, rhs) -> Atom | None:
    # Y = A^-1 R, R read as B is: dY = A^-1 (dR - dA Y)
    return _solve_tangent(b, dots[:2], out, a, rhs)


TANGENTS["inv"] = _inv_tangent
TANGENTS["logabsdet"] = _log_det_tangent
TANGENTS["det"] = _det_tangent
TANGENTS["solve"] = _solve_tangent
TANGENTS["solve_vec"] = _solve_vec_tangent
TANGENTS["cholesky"] = _cholesky_tangent


def _pad_tangent(b: Builder, dots, out, x, pad_width, *, mode, constant_values):
    # (the constant's tangent is 0)
    return None if dots[0] is None else b.op("pad", dots[0], pad_width, mode=mode)


TANGENTS["pad"] = _pad_tangent
linear("lower")
linear("mT")
linear("tile")
linear("tile_grad")
linear("diag")
linear("diag_grad")
linear("diag_k")
linear("diag_grad_k")
linear("pad_grad")
bilinear("solve_apply", 0, 1)
bilinear("solve_outer", 0, 1)
TANGENTS["einsum"] = _einsum_tangent
TANGENTS["einsum_grad"] = _einsum_grad_tangent
TANGENTS["sum_squares"] = _squares_tangent("sum")
TANGENTS["mean_squares"] = _squares_tangent("mean")


def _write_tangent(name: str) -> Tangent:
    """`y = x` with `x[index]` set to (or increased by) `value`: the tangent
    writes the value's tangent into the target's.  A float written into an
    integer array is truncated, so `float_tangent` zeroes its tangent then
    (as the adjoint, `written_grad`, zeroes its cotangent)."""

    def tangent(b: Builder, dots, out, x, index, value) -> Atom | None:
        if dots[0] is None and dots[2] is None:
            return None
        target = dots[0]
        if target is not None and name in ("setitem_add", "setitem_sub"):
            # (`y[i] += 0.5` into an int array truncates the old entry too)
            target = b.op("kept_grad", target, index, x, value)
        if dots[2] is None and name != "setitem":
            return target
        written = Const(0.0)
        if dots[2] is not None:
            written = b.op("float_tangent", dots[2], out, value)
        target = target if target is not None else b.op("zeros_tangent", x)
        return b.op(name, target, index, written)

    return tangent


for _name in ["setitem", "setitem_add", "setitem_sub", "add_at"]:
    TANGENTS[_name] = _write_tangent(_name)


# --- custom rules (`symgrad.rule`, `symgrad.nondifferentiable`) ---------------
# Printed through their `fn` parameter as calls of the user's functions by name.

_const("opaque", None, "{args}")  # a nondifferentiable function: a constant
_const("call", None, "{args}")  # a user's derivative function


@structural("custom", None, "{args}")
def _custom_adjoint(b: Builder, g, out, *args, rule):
    if rule.grads is not None:
        return tuple(
            (
                None
                if name is None
                else b.op(
                    "unbroadcast", b.op("mul", g, _partial(b, name, args, out)), x
                )
            )
            for name, x in zip(rule.grads, args, strict=True)
        )
    result = b.op("call", g, *args, fn=rule.vjp)
    if len(args) == 1:
        return (_checked(b, result, args[0], f"the cotangent {rule.vjp} returned"),)
    result = b.op("rule_cotangents", result, Const(len(args)), Const(rule.vjp))
    return tuple(
        _checked(
            b,
            b.op("getitem", result, Index((Const(i),))),
            x,
            f"the cotangent {rule.vjp} returned for argument {i}",
        )
        for i, x in enumerate(args)
    )


def _checked(b: Builder, value, like, what: str) -> Atom:
    """`value`, a derivative a user's rule returned, checked at run time to
    have the shape of `like` (its argument, or the output), as JAX checks it:
    a wrong one would be broadcast or summed into a wrong gradient."""
    return b.op("rule_checked", value, like, Const(what))


def _partial(b: Builder, name: str, args, out) -> Atom:
    """The partial derivative the function `name` of a `grad=` rule returns,
    checked at run time to broadcast to the output's shape (an elementwise
    partial: `unbroadcast` would otherwise sum a wrong one into place)."""
    partial = b.op("call", *args, fn=name)
    what = Const(f"the partial derivative {name} returned")
    return b.op("rule_partial", partial, out, what)


@structural("rule_checked", 3, "_rule_checked({0}, {1}, {2})", nondiff=(1, 2))
def _rule_checked_adjoint(b: Builder, g, out, value, like, what):
    return g, None, None


# (a grad= rule's partial, checked to broadcast to the output's shape)
structural("rule_partial", 3, "_rule_partial({0}, {1}, {2})", nondiff=(1, 2))(
    _rule_checked_adjoint
)
# (a vjp's tuple, checked to hold one cotangent per argument)
structural("rule_cotangents", 3, "_rule_cotangents({0}, {1}, {2})", nondiff=(1, 2))(
    _rule_checked_adjoint
)


def _custom_tangent(b: Builder, dots, out, *args, rule) -> Atom | None:
    if rule.grads is not None:
        terms = [
            b.op("mul", _partial(b, name, args, out), dot)
            for name, dot in zip(rule.grads, dots, strict=True)
            if name is not None and dot is not None
        ]
        if not terms:
            return None
        total = terms[0]
        for term in terms[1:]:
            total = b.op("add", total, term)
        return b.op("broadcast_tangent", total, out)
    filled = _zero_filled(b, dots, args, range(len(args)))
    tangent = b.op("call", b.op("tuple", *filled), *args, fn=rule.jvp)
    return _checked(b, tangent, out, f"the tangent {rule.jvp} returned")


TANGENTS["custom"] = _custom_tangent


def check_custom(stmt: Any, needs: str, mode: str) -> None:
    """Refuse a custom rule that lacks what `mode` mode needs."""
    rule = dict(stmt.params).get("rule")
    if rule is not None and rule.grads is None and getattr(rule, needs) is None:
        raise NoDerivativeError(
            f"the custom rule of '{rule.name}' gives no {needs}=, which {mode} "
            "mode needs",
            stmt.loc,
            f"add {needs}= (or grad=, for an elementwise function) to its symgrad.rule",
        )
