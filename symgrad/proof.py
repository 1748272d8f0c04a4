"""Symbolic verification: show with sympy that an emitted gradient is right.

`verify(f, *args)` runs the module symgrad emitted for `f` on sympy symbols
instead of numbers: Python floats become symbols, float arrays become object
arrays of symbols of the same (small) shapes, other arguments (an int loop
count) are passed as given, and a non-scalar output gets a symbolic seed
`s`.  The emitted code then yields two expressions: the value `F` and the
gradient `G`.  For every input entry `x` the verifier checks `G = d(s . F)/dx`
with `sympy.diff`: first by simplifying the difference to zero, and where
`simplify` gives up, by evaluating it at random points with 40-digit
arithmetic.  The outcome is one of

* `proved`: every input is a scalar and every difference simplified to zero;
* `checked`: every input is a scalar, and some difference vanished only at
  the random points (a float constant `log(3)` printed as a number, ties);
* `checked symbolically on shapes ...`: every difference vanished, for array
  inputs of the shapes given (a proof for those shapes where each simplified,
  evidence for others);
* `not provable (reason)`: the code uses something sympy cannot follow here
  (a branch on an input, ties in max/min, products through `_prod_grad`,
  a custom rule); the gradient is then compared with central finite
  differences instead, at the arguments given (or at random points when
  there are none), and the report says so;
* `FAILED`: a difference that is not zero, with the entry it concerns.

The value `F` is symgrad's transcription of `f`; that it computes what `f`
computes is checked numerically by the test suite, not here.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import math
import os
import random
import traceback
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from . import custom, loopshapes, rules
from .errors import SymgradError
from .source import not_wrapped

_MAX_SIMPLIFY_OPS = 60
_POINTS = 4


class _SymArray(np.ndarray):
    """An object array whose comparisons build sympy relations elementwise."""

    def _compare(op):  # noqa: N805 - builds methods
        def method(self, other):
            return _map(op, self, other)

        return method

    # `x == m` (as in the adjoint of np.max) is an indicator, 1 where equal.
    __eq__ = _compare(lambda a, b: sp.Piecewise((1, sp.Eq(a, b)), (0, True)))
    __hash__ = None
    __lt__ = _compare(sp.StrictLessThan)
    __le__ = _compare(sp.LessThan)
    __gt__ = _compare(sp.StrictGreaterThan)
    __ge__ = _compare(sp.GreaterThan)


def _map(fn, *args):
    """Apply a sympy function elementwise, broadcasting like numpy."""
    if not any(isinstance(a, np.ndarray) for a in args):
        return fn(*args)
    out = np.vectorize(fn, otypes=[object])(*args)
    return out.view(_SymArray) if isinstance(out, np.ndarray) else out


class _Linalg:
    """np.linalg on matrices of symbols (a stack: matrix by matrix): sympy's
    inverse, determinant, solution and Cholesky factor, exact."""

    @staticmethod
    def _matrices(a: Any) -> tuple[list[sp.Matrix], tuple]:
        a = np.asarray(a, dtype=object)
        if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
            raise ValueError(f"np.linalg of an array of shape {a.shape}, not square")
        flat = a.reshape((-1,) + a.shape[-2:])
        if any(sum(map(sp.count_ops, m.flat)) > _MAX_SIMPLIFY_OPS for m in flat):
            # (the exact inverse of a matrix of long expressions can take
            # sympy minutes: `det(inv(L @ L.T))`)
            raise ValueError("np.linalg of a matrix too large for sympy here")
        return [sp.Matrix(m.tolist()) for m in flat], a.shape[:-2]

    @staticmethod
    def _array(items: list, stack: tuple) -> Any:
        """Results matrix by matrix, in the stack's shape."""
        if isinstance(items[0], sp.Matrix):
            out = np.array([m.tolist() for m in items], dtype=object)
        else:
            out = np.empty(len(items), dtype=object)
            out[:] = items
        out = out.reshape(stack + out.shape[1:])
        return out.view(_SymArray) if out.ndim else out.item()

    def inv(self, a: Any) -> np.ndarray:
        matrices, stack = self._matrices(a)
        return self._array([m.inv() for m in matrices], stack)

    def det(self, a: Any) -> Any:
        matrices, stack = self._matrices(a)
        return self._array([m.det() for m in matrices], stack)

    def slogdet(self, a: Any) -> tuple[Any, Any]:
        matrices, stack = self._matrices(a)
        dets = [m.det() for m in matrices]
        signs = self._array([sp.sign(d) for d in dets], stack)
        return signs, self._array([sp.log(sp.Abs(d)) for d in dets], stack)

    def cholesky(self, a: Any, upper: bool = False) -> np.ndarray:
        # (of the symmetric matrix of the lower triangle, as numpy reads it)
        a = np.asarray(a, dtype=object)
        if upper:
            return np.swapaxes(self.cholesky(np.swapaxes(a, -1, -2)), -1, -2)
        matrices, stack = self._matrices(a)
        factors = []
        for m in matrices:
            lower = m.lower_triangular()
            symmetric = lower + lower.T - sp.diag(*m.diagonal())
            factors.append(symmetric.cholesky(hermitian=False))
        return self._array(factors, stack)

    def solve(self, a: Any, b: Any) -> np.ndarray:
        rhs = np.asarray(b, dtype=object)
        if rhs.ndim == 1:  # (a vector, against each matrix of a stack)
            return self.solve(a, rhs[:, None])[..., 0]
        _, stack = self._matrices(a)  # (square, or an error)
        stack = np.broadcast_shapes(stack, rhs.shape[:-2])
        every = np.broadcast_to(
            np.asarray(a, dtype=object), stack + rhs.shape[-2:-1] * 2
        )
        sides = np.broadcast_to(rhs, stack + rhs.shape[-2:])
        solved = [
            sp.Matrix(m.tolist()).LUsolve(sp.Matrix(side.tolist()))
            for m, side in zip(
                every.reshape((-1,) + every.shape[-2:]),
                sides.reshape((-1,) + sides.shape[-2:]),
                strict=True,
            )
        ]
        return self._array(solved, stack)


class _Numpy(types.ModuleType):
    """numpy with elementwise functions replaced by their sympy meanings."""

    def __init__(self) -> None:
        super().__init__("numpy")
        for name, op in rules.OPS.items():
            if op.kind == "elementwise" and op.template.startswith(f"np.{name}("):
                setattr(self, name, self._elementwise(op.meaning))
        self.abs = self.absolute = self._elementwise(sp.Abs)
        self.sign = self._elementwise(sp.sign)
        self.heaviside = self._elementwise(sp.Heaviside)
        self.logical_and = self._elementwise(sp.And)
        self.logical_or = self._elementwise(sp.Or)
        self.logical_not = self._logical_not
        # (a real symbol is neither nan nor infinite)
        self.isnan = self.isinf = lambda x: np.zeros(np.shape(x), bool)
        self.isfinite = lambda x: np.ones(np.shape(x), bool)
        self.pi, self.e = sp.pi, sp.E
        self.zeros = lambda shape, dtype=None: np.zeros(shape, object).view(_SymArray)
        self.zeros_like = lambda x: self.zeros(np.shape(x))
        self.max = self.amax = self._reduction(sp.Max)
        self.min = self.amin = self._reduction(sp.Min)
        self.clip = self._clip
        self.where = self._where
        self.linalg = _Linalg()

    @staticmethod
    def _logical_not(x):
        """np.logical_not: of numpy's booleans (np.isnan's) numpy's, which
        sum to a count; of sympy's conditions sympy's Not."""
        if isinstance(x, np.ndarray) and x.dtype == bool:
            return np.logical_not(x)
        return _map(sp.Not, x)

    @staticmethod
    def _where(c, x, y):
        """np.where, a Python bool among the values being a number (the
        prelude's `np.where(mask, m, False)`: False keeps m's dtype)."""
        x, y = (int(v) if isinstance(v, bool) else v for v in (x, y))
        return _map(rules.OPS["where"].meaning, c, x, y)

    @staticmethod
    def _clip(x, lo, hi):
        """np.clip, a bound None (none on that side) being -oo or oo."""
        lo, hi = -sp.oo if lo is None else lo, sp.oo if hi is None else hi
        return _map(rules.OPS["clip"].meaning, x, lo, hi)

    @staticmethod
    def asarray(x, dtype=None):
        if isinstance(x, np.ndarray) and x.dtype == object:
            return x
        if isinstance(x, sp.Basic):
            return np.asarray(x, dtype=object).view(_SymArray)
        return _Numpy.array(x, dtype) if dtype == "float64" else np.asarray(x, dtype)

    @staticmethod
    def array(x, dtype=None):
        """np.array; to float64, of values that hold symbols, an object array
        of them (a symbol stands for a float)."""
        if dtype == "float64":
            held = np.array(x, dtype=object)
            if any(isinstance(v, sp.Basic) for v in held.flat):
                return held.view(_SymArray)
        return np.array(x, dtype=dtype)

    @staticmethod
    def _reduction(fn):
        """np.max / np.min over symbols: sympy's Max / Min along the axes."""
        ufunc = np.frompyfunc(fn, 2, 1)

        def reduce(x, axis=None, keepdims=False):
            x = np.asarray(x, dtype=object)
            if x.ndim == 0:  # numpy reduces a 0-d x over axis 0 or -1 to itself
                return x.view(_SymArray)  # (whose `==` builds an indicator)
            axes = (
                range(x.ndim) if axis is None else np.atleast_1d(axis) % max(x.ndim, 1)
            )
            for a in sorted((int(a) for a in axes), reverse=True):
                x = ufunc.reduce(x, axis=a, keepdims=True)
            if not keepdims:
                x = x.reshape([n for i, n in enumerate(x.shape) if i not in set(axes)])
            return x.view(_SymArray) if x.ndim else x.item()

        return reduce

    @staticmethod
    def _elementwise(meaning):
        return lambda *args: _map(meaning, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


class _Math(types.ModuleType):
    """math with its functions replaced by their sympy meanings."""

    def __init__(self) -> None:
        super().__init__("math")
        for op in rules.OPS.values():
            if op.math_name is not None:
                setattr(self, op.math_name, op.meaning)
        self.pi, self.e = sp.pi, sp.E

    def __getattr__(self, name: str) -> Any:
        return getattr(math, name)


@dataclass(frozen=True)
class Verdict:
    """The outcome for one function."""

    function: str
    status: str  # "proved" | "checked" | "not provable" | "not checked" | "failed"
    detail: str
    ok: bool

    def __str__(self) -> str:
        mark = "skip" if self.status == "not checked" else "ok  " if self.ok else "FAIL"
        return f"{mark} {self.function}: {self.detail}"


@dataclass
class Report:
    """Verdicts for one or more functions; `ok` when none failed and one at
    least was checked (`assert symgrad.verify(f, x).ok` never passes on a
    function it could not check, as the command line's exit status)."""

    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        checked = any(v.status != "not checked" for v in self.verdicts)
        return checked and all(v.ok for v in self.verdicts)

    def __str__(self) -> str:
        return "\n".join(str(v) for v in self.verdicts)


def verify_source(
    name: str,
    source: str,
    params: tuple[str, ...],
    wrt: tuple[str, ...],
    args: list,
    functions: dict[str, Any] | None = None,
) -> Verdict:
    """Verify an emitted module on example arguments `args`.

    The differentiated inputs, and the other inputs that are floats or float
    arrays, become symbols of their shapes; other arguments (an int loop
    count, an index array, a string) are passed as given, so the result
    holds for those values.  Array inputs are first shrunk to at most 2
    along each axis (broadcasting stays valid); code that needs its real
    shapes (a reshape to (2, 6)) is run on the shapes given.  Where sympy
    cannot run the code, finite differences are taken at `args` themselves,
    so a branch is checked where the caller's values take it.  `functions`
    binds the functions with custom rules that the module calls (see
    `custom.listed_names`): sympy cannot run them, so such a module is
    checked by finite differences."""
    called = custom.listed_names(source)
    if called:
        reason = _custom_reason(called)
        return _fallback_given(name, source, args, wrt, params, reason, functions)
    symbolic = [p in wrt or _is_float(a) for p, a in zip(params, args, strict=True)]
    shapes = [np.shape(a) for a in args]
    small = [tuple(min(n, 2) for n in shape) for shape in shapes]
    for trial in [small, shapes] if small != shapes else [shapes]:
        inputs = [
            _symbols(p, shape, isinstance(a, np.ndarray)) if sym else a
            for p, a, sym, shape in zip(params, args, symbolic, trial, strict=True)
        ]
        centers = {  # (the caller's values; of an array shrunk, its first ones)
            symbol: float(np.asarray(a)[tuple(map(slice, shape))][index])
            for a, sym, shape, held in zip(args, symbolic, trial, inputs, strict=True)
            if sym
            for index, symbol in np.ndenumerate(np.asarray(held, dtype=object))
        }
        try:
            return _symbolic(name, source, params, wrt, inputs, centers)
        except _CannotRun as exc:
            reason = str(exc)
    return _fallback_given(name, source, args, wrt, params, reason)


def _fallback_given(name, source, args, wrt, params, reason, functions=None):
    """`_fallback` at the caller's arguments; where the gradient raises on them
    (the function itself may), a failed verdict that says so."""
    where = "at the arguments given"
    try:
        return _fallback(name, source, [args], where, wrt, params, reason, functions)
    except Exception as exc:  # (any error of the caller's function)
        supplied = _supplied_frame(exc, functions or {})
        detail = (
            f"the gradient raised {type(exc).__name__} ({exc}) {where}; "
            "does the function itself run on them?"
        )
        if supplied is not None:
            detail = (
                f"{supplied}, a function with a custom rule or a derivative given "
                f"for one, raised {type(exc).__name__} ({exc}) {where}"
            )
        return Verdict(name, "failed", detail, False)


def _supplied_frame(exc: BaseException, functions: dict[str, Any]) -> str | None:
    """`name (file.py:line)` of the innermost call of one of `functions` (those
    the emitted code calls by name) that `exc` passed through, if any."""
    codes = {getattr(f, "__code__", None): n for n, f in functions.items()}
    found = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if frame.f_code in codes:
            filename = os.path.basename(frame.f_code.co_filename)
            found = f"{codes[frame.f_code]} ({filename}:{line})"
    return found


def _is_float(value: Any) -> bool:
    """A float or float array: verify makes such an input symbols."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    return isinstance(value, float | np.floating)


def _custom_reason(called: list[str]) -> str:
    listed = ", ".join(called)
    return f"it calls your functions {listed}, which sympy cannot run"


class _CannotRun(Exception):
    """The emitted code cannot run on symbols of these shapes."""


def _symbolic(name, source, params, wrt, inputs, centers=None) -> Verdict:
    """Run the module on `inputs` (symbols, or values passed as given);
    `centers`, the caller's values of the symbols, for `_same`."""
    try:
        namespace = _run(source, symbolic=True)
        value, grads = namespace["f_and_grad"](*inputs)
    except (TypeError, AttributeError, ValueError, IndexError) as exc:
        first = (str(exc).splitlines() or [""])[0]  # (sympy's may be empty)
        raise _CannotRun(
            f"sympy cannot run it ({type(exc).__name__}: {first})"
        ) from None
    if isinstance(value, tuple):  # (loss, aux): the gradient is the loss's
        value = value[0]
    seed = namespace.get("seed_used")  # None: the output is a number
    total = value if np.ndim(value) == 0 else np.sum(seed * np.asarray(value))
    total = _scalar(total)
    if not isinstance(total, sp.Expr):  # (an array written into an entry of
        # an object array, where numpy would raise: not these shapes)
        raise _CannotRun(f"sympy cannot run it (its value is {type(total).__name__})")
    grads = grads if len(wrt) > 1 or isinstance(grads, tuple) else (grads,)
    checked = numeric = 0
    for param, grad in zip(wrt, grads, strict=True):
        x = inputs[params.index(param)]
        for index in np.ndindex(np.shape(x)):
            entry = x[index] if isinstance(x, np.ndarray) else x
            got = _scalar(grad[index] if np.ndim(grad) else grad)
            want = sp.diff(total, entry)
            how = _same(got, want, centers)
            if how is None:
                where = f"{param}{list(index) if index else ''}"
                detail = f"the gradient for {where} is {got}, but d/d{entry} is {want}"
                return Verdict(name, "failed", detail, False)
            checked += 1
            numeric += how == "numeric"
    method = "each difference simplifies to zero"
    if numeric:
        method = (
            f"{checked - numeric} differences simplify to zero, {numeric} vanish at "
            f"{_POINTS} random points to 40 digits"
        )
    partials = f"{checked} partial{'s' if checked != 1 else ''}"
    if all(
        isinstance(x, sp.Symbol) or _made_of_symbols(x) and not x.ndim for x in inputs
    ):
        if numeric:  # (random points are evidence, not a proof)
            return Verdict(name, "checked", f"checked: {partials}; {method}", True)
        return Verdict(name, "proved", f"proved: {partials}; {method}", True)
    pairs = list(zip(params, inputs, strict=True))
    text = ", ".join(f"{p}{np.shape(x)}" for p, x in pairs if _made_of_symbols(x))
    given = ", ".join(f"{p}={_short(x)}" for p, x in pairs if not _made_of_symbols(x))
    text += f" with {given}" if given else ""
    detail = f"checked symbolically on shapes {text}: {partials}; {method}"
    return Verdict(name, "checked", detail, True)


def _made_of_symbols(x: Any) -> bool:
    return isinstance(x, sp.Symbol | _SymArray)


def _short(value: Any) -> str:
    """A value for a report line: its repr, cut to 30 characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 30 else text[:27] + "..."


def _symbols(name: str, shape: tuple, array: bool = False, kind=sp.Symbol) -> Any:
    """Real symbols of `shape`; a number is one symbol, unless `array` asks
    for a 0-d array (the input was one, and the code may index it: x[()]).
    `kind` sp.Dummy makes symbols no other is equal to, whatever its name."""
    if shape == () and not array:
        return kind(name, real=True)
    if shape == ():
        return np.array(kind(name, real=True), dtype=object).view(_SymArray)
    flat = [
        kind(f"{name}_{'_'.join(map(str, i))}", real=True) for i in np.ndindex(shape)
    ]
    return np.array(flat, dtype=object).reshape(shape).view(_SymArray)


def _run(source: str, symbolic: bool, functions: dict[str, Any] | None = None) -> dict:
    """Execute emitted source; with `symbolic`, numpy and math are sympy shims.

    The module's seed check is wrapped so that a non-scalar output gets a seed
    of its shape (symbols `s_...`, or ones), recorded as `seed_used`, and its
    `f_and_grad` takes every parameter by position (keyword-only ones last).
    `functions` are the custom-rule functions the module calls by name."""
    shims = {"numpy": _Numpy(), "math": _Math()} if symbolic else {}

    def importer(name, *args, **kwargs):
        return (
            shims[name] if name in shims else builtins.__import__(name, *args, **kwargs)
        )

    extremes = {
        "max": _extreme(builtins.max, sp.Max),
        "min": _extreme(builtins.min, sp.Min),
    }
    namespace: dict[str, Any] = {
        "__builtins__": {
            **vars(builtins),
            "__import__": importer,
            **(extremes if symbolic else {}),
        },
        "__name__": "symgrad_verify",
        "_indicator": _indicator,
        **(functions or {}),
    }
    code = ast.parse(source)
    if symbolic:  # (sympy's numbers have no `.shape`: the helpers take them)
        code = loopshapes.ShapeTestsAsCalls().visit(_BoolsAsNumbers().visit(code))
        code = ast.fix_missing_locations(code)
    exec(compile(code, "<symgrad verify>", "exec"), namespace)
    check = namespace["_check_seed"]

    def seed_of(function, seed, value):
        if seed is None and np.ndim(value) != 0:
            shape = np.shape(value)
            seed = (
                _symbols("s", shape, kind=sp.Dummy)  # (a parameter may be `s`)
                if symbolic
                else np.linspace(0.5, 1.5, np.size(value))
            )
            seed = np.reshape(seed, shape)
        namespace["seed_used"] = check(function, seed, value)
        return namespace["seed_used"]

    namespace["_check_seed"] = seed_of
    namespace["f_and_grad"] = _positional(namespace["f_and_grad"])
    return namespace


def _positional(f_and_grad: Any) -> Any:
    """`f_and_grad` with its keyword-only parameters (`*, l2=0.01`) taken by
    position after the others, as `verify(f, *args)` passes them."""
    code = f_and_grad.__code__
    n = code.co_argcount
    named = code.co_varnames[n : n + code.co_kwonlyargcount]
    named = tuple(p for p in named if p != "seed")
    if not named:
        return f_and_grad

    def call(*args: Any, seed: Any = None) -> Any:
        keywords = dict(zip(named, args[n:], strict=True))
        return f_and_grad(*args[:n], seed=seed, **keywords)

    return call


class _BoolsAsNumbers(ast.NodeTransformer):
    """`x * True`, `np.maximum(x, False)`: numpy reads a bool in arithmetic
    as 1 or 0; sympy refuses one there (np.where's condition stays a bool).
    So is `x + (x == 0)`, where `==` of a symbol is sympy's structural test:
    it becomes `_indicator(x, 0)`, 1 where they are equal."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.BinOp:
        self.generic_visit(node)
        node.left, node.right = _as_number(node.left), _as_number(node.right)
        return node

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        f = node.func
        if (
            isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name)
            and f.value.id == "np"
            and f.attr != "where"
        ):
            node.args = [_as_number(a) for a in node.args]
        return node


def _indicator(a: Any, b: Any) -> Any:
    """`a == b` read as a number, as numpy reads it in arithmetic."""
    a, b = (int(v) if isinstance(v, bool) else v for v in (a, b))
    if isinstance(a, sp.Basic) or isinstance(b, sp.Basic):
        return sp.Piecewise((1, sp.Eq(a, b)), (0, True))
    return a == b


def _as_number(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return ast.copy_location(ast.Constant(int(node.value)), node)
    if (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.Eq)
    ):
        args = [node.left, node.comparators[0]]
        return ast.copy_location(
            ast.Call(ast.Name("_indicator", ast.Load()), args, []), node
        )
    return node


def _same(got: sp.Expr, want: sp.Expr, centers: dict | None = None) -> str | None:
    """'simplify' or 'numeric' when `got == want`, None when they differ
    (`_CannotRun` when too few random points are in the real domain).

    The difference is evaluated at random points with 40-digit arithmetic
    (exact where it is rational); it must vanish there, to within the
    precision of any decimal constants (`0.5`, `1e-3`) the code contains.
    The points have entries in +-1.5, then, where too few of those are in
    the real domain (a Cholesky factor's), near `centers`, the values the
    caller gave.  Small differences must also simplify to zero for
    'simplify'."""
    delta = got - want
    if delta == 0:
        return "simplify"
    tolerance = sp.Float(10) ** (-12 if delta.has(sp.Float) else -25)
    rng = random.Random(0)
    symbols = sorted(delta.free_symbols | want.free_symbols, key=str)
    near = {
        s: sp.Rational(round(centers[s] * 970), 970)
        for s in symbols
        if s in (centers or {}) and abs(centers[s]) < 1e12  # (finite)
    }
    valid = 0
    for tried in range(40 * _POINTS if near else 20 * _POINTS):
        point = {s: sp.Rational(rng.randint(-150, 150), 97) for s in symbols}
        if tried >= 20 * _POINTS:  # (near the caller's values)
            point.update(
                (s, at + sp.Rational(rng.randint(-30, 30), 9700))
                for s, at in near.items()
            )
        number = delta.xreplace(point).evalf(40)
        reference = want.xreplace(point).evalf(40)
        if not (number.is_real and reference.is_real and number.is_finite):
            continue  # outside the function's real domain (log of a negative...)
        if abs(number) > tolerance * (1 + abs(reference)):
            return None
        valid += 1
        if valid == _POINTS:
            break
    if valid < _POINTS:  # (undecided, not different: a 3 x 3 Cholesky factor
        raise _CannotRun(  # is real on few points with entries in +-1.5)
            f"too few random points in the real domain of its derivatives "
            f"({valid} of {(40 if near else 20) * _POINTS})"
        )
    exact = delta.xreplace({f: _exactly(f) for f in delta.atoms(sp.Float)})
    if sp.count_ops(exact) > _MAX_SIMPLIFY_OPS:
        return "numeric"
    if exact.has(sp.Piecewise, sp.Max, sp.Min, sp.Heaviside):
        # sympy's simplify of case splits can take minutes; a split whose
        # every value is zero is zero, whatever its conditions
        if len(exact.atoms(sp.Piecewise, sp.Max, sp.Min, sp.Heaviside)) > 3:
            return "numeric"
        folded = sp.piecewise_fold(exact.rewrite(sp.Piecewise))
        pieces = folded.args if isinstance(folded, sp.Piecewise) else [(folded, True)]
        zero = True
        for value, condition in pieces:
            if isinstance(condition, sp.Eq):  # (where it holds: `k - 1 + (k
                value = value.subs(condition.lhs, condition.rhs)  # == 0)` at 0)
            zero = zero and not value.has(sp.Piecewise) and sp.simplify(value) == 0
        return "simplify" if zero else "numeric"
    if sp.simplify(exact) == 0:
        return "simplify"
    return "numeric"


def _exactly(number: sp.Float) -> sp.Expr:
    """A float of the code as the rational it is exactly, when that is a
    simple one (`2.0` is 2, `0.25` is 1/4): sympy cancels `1/sqrt(1.0 - x**2)`
    against `1/sqrt(1 - x**2)` only then.  Others (`0.1`, `log(2.0)`) stay
    floats: as rationals of 2**53 they would make `simplify` factor them."""
    exact = sp.Rational(number)
    return exact if exact.q <= 1024 and abs(exact.p) <= 2**53 else number


def _scalar(value: Any) -> sp.Expr:
    """A sympy expression from a symbolic result entry (maybe a 0-d array,
    which may hold another: a 0-d input written into a 0-d object array)."""
    while isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return sp.sympify(value)


def _extreme(python, sympy):
    """Python's max (min) of numbers, sympy's Max (Min) of symbols: the
    builtin of emitted code (`max(x, y)` on floats) as the proof reads it."""

    def extreme(*args):
        if len(args) > 1 and any(isinstance(a, sp.Basic) for a in args):
            return sympy(*args)
        return python(*args)

    return extreme


def _fallback(
    name, source, points, where, wrt, params, reason, functions=None, guessed=False
) -> Verdict:
    """Central finite differences on the emitted value, when sympy cannot run.

    `points` lists argument lists, described by `where` ("at the arguments
    given"); the gradient must agree at every one.  The differentiated
    arguments are taken as floats.  `guessed` points outside the function's
    domain (a value or derivative not finite) are skipped; ValueError if
    every one is."""
    from .check import numeric_grad

    namespace = _run(source, symbolic=False, functions=functions)
    indices = tuple(params.index(p) for p in wrt)
    checked, ok = 0, True
    for given in points:
        args = list(given)
        for i in indices:
            x = np.array(given[i], dtype=float)
            args[i] = x if isinstance(given[i], np.ndarray) or x.ndim else float(x)
        namespace.pop("seed_used", None)
        with np.errstate(all="ignore") if guessed else contextlib.nullcontext():
            _, grads = namespace["f_and_grad"](*_copies(args))
        seed = namespace.get("seed_used")  # None: the output is a number
        grads = grads if len(wrt) > 1 or isinstance(grads, tuple) else (grads,)

        def value(*a, seed=seed):
            result = namespace["f_and_grad"](*a, seed=seed)[0]
            return result[0] if isinstance(result, tuple) else result  # (loss, aux)

        with np.errstate(all="ignore"):
            expected = [numeric_grad(value, args, i, seed=seed) for i in indices]
        if guessed and not all(
            np.all(np.isfinite(a)) for a in [*grads, *expected]
        ):  # a guessed point outside the function's domain (log of a negative)
            continue
        checked += 1
        ok = all(
            np.allclose(g, e, rtol=1e-5, atol=1e-7)
            for g, e in zip(grads, expected, strict=True)
        )
        if not ok:
            break
    if not checked:
        raise ValueError("no point in the domain")  # (the caller tries others)
    outcome = "agree" if ok else "DISAGREE"
    detail = f"not provable ({reason}); finite differences {where} {outcome}"
    return Verdict(name, "not provable", detail, ok)


def _copies(args: list) -> list:
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def verify(f: Any, *args: Any, wrt: Any = None, **options: Any) -> Report:
    """Verify symgrad's gradient of `f` symbolically; print and return a Report.

    `f` is a function or a `symgrad.grad` result.  `args` are example
    arguments: their shapes, and the values of those that are not floats (a
    loop count), are used as described in `verify_source`; `options` are the
    function's keyword-only arguments (left out: their defaults; they may
    also follow `args` in order).  Without `args` the shapes are guessed as
    in `python -m symgrad verify`: all scalars, then vectors, then matrices.
    A failed check, or a function that does not compile, does not raise:
    the report's `ok` is False and its line says `FAIL`.
    """
    from .api import GradFunction, custom_functions

    g = f if isinstance(f, GradFunction) else GradFunction(f, wrt)
    params = g._src.params
    positional = [p for p in params if p not in g._src.keyword_only]
    if args and len(args) < len(positional):  # the others' literal defaults
        known = _literal_defaults(g._src)
        rest = positional[len(args) :]
        args = (*args, *(known[p] for p in rest if p in known))
    if args and len(args) == len(params) - len(g._src.keyword_only):
        args = (*args, *_options(g._src, options))  # (after the positional ones)
    elif args and options:
        raise SymgradError(f"{g.__name__}: options given by name, and positionally")
    if args and len(args) != len(params):
        raise SymgradError(f"{g.__name__}: verify needs all {len(params)} arguments")
    try:
        source = g.source
    except SymgradError as exc:  # reported like the command line's
        report = Report([Verdict(g.__name__, "failed", _uncompiled(exc), False)])
        print(report)
        return report
    functions = custom_functions(g._src) if custom.listed_names(source) else None
    ragged = [p for p, a in zip(params, args, strict=False) if not _has_shape(a)]
    if ragged:  # (`W, b = params` of different shapes: a tuple of gradients)
        detail = (
            f"not checked: the argument '{ragged[0]}' holds arrays of different "
            "shapes, and verify takes arrays; symgrad.check_grad compares each "
            "entry's gradient with finite differences"
        )
        verdict = Verdict(g.__name__, "not checked", detail, True)
    elif args:
        verdict = verify_source(g.__name__, source, params, g.wrt, args, functions)
    else:
        known = _known_options(g._src, options, g.wrt)
        numbers = _float_defaults(g._src)
        verdict = verify_guessing(
            g.__name__, source, params, g.wrt, functions, known, numbers
        )
    report = Report([verdict])
    print(report)
    return report


def _options(src: Any, given: dict[str, Any]) -> list[Any]:
    """The keyword-only arguments of `src`'s function in order (`_known_options`);
    a required one not given is an error."""
    known = _known_options(src, given)
    missing = [p for p in src.keyword_only if p not in known]
    if missing:
        raise SymgradError(f"{src.name}: verify needs the option '{missing[0]}'")
    return [known[p] for p in src.keyword_only]


def _known_options(src: Any, given: dict[str, Any], wrt: tuple = ()) -> dict[str, Any]:
    """The keyword-only arguments of `src`'s function that are `given` or
    have a literal default, and the other parameters not in `wrt` with an
    int, bool or string default (`n=3`, a loop count; a float stays a
    symbol, proved for every value); a name given that is not a
    keyword-only parameter is an error."""
    unknown = [p for p in given if p not in src.keyword_only]
    if unknown:
        raise SymgradError(f"{src.name}: no keyword-only parameter '{unknown[0]}'")
    known = {
        p: value
        for p, value in _literal_defaults(src).items()
        if p in src.keyword_only or p not in wrt and type(value) in (int, bool, str)
    }
    return {**known, **given}


def _literal_defaults(src: Any) -> dict[str, Any]:
    """The parameters of `src`'s function whose default is a literal, and it."""
    known = {}
    for p, default in src.defaults().items():
        try:
            known[p] = ast.literal_eval(default)
        except ValueError:  # (not a literal: guessed, or given)
            continue
    return known


def _float_defaults(src: Any) -> frozenset[str]:
    """The parameters whose default is a float (`alpha=0.3`): numbers, not
    arrays of a guessed shape."""
    return frozenset(p for p, v in _literal_defaults(src).items() if type(v) is float)


def _has_shape(value: Any) -> bool:
    """Does `value` have a shape (not a list of arrays of different shapes)?"""
    try:
        np.shape(value)
    except ValueError:
        return False
    return True


_GUESSES = ((), (2,), (2, 2))


def verify_guessing(
    name: str,
    source: str,
    params: tuple,
    wrt: tuple,
    functions: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    numbers: frozenset[str] = frozenset(),
) -> Verdict:
    """Verify with the first of: all inputs scalars, vectors of 2, 2x2 matrices;
    `options`, keyword-only parameters with literal defaults, take those, and
    `numbers`, parameters whose default is a float, stay numbers.

    Where sympy cannot run the module, finite differences are taken at
    2 * `_POINTS` random points, half with entries in [0.2, 0.9] and half in
    [-0.9, -0.2] (every parameter, a loop count too, which is then not a
    whole number), skipping those outside the function's domain; a branch
    on an input is seen both ways if it splits that set.  A
    module calling custom-rule functions is checked that way, with
    `functions` bound; without them (a file read, never executed) it is not
    checked."""
    called = custom.listed_names(source)
    if called and functions is None:
        detail = (
            f"not checked: {_custom_reason(called)}, and the file is read, never "
            "run; call symgrad.verify(f, *example_args) from Python"
        )
        return Verdict(name, "not checked", detail, True)
    reason = _custom_reason(called) if called else ""
    for shape in _GUESSES if not called else ():
        options = options or {}
        inputs = [
            options[p] if p in options else _symbols(p, () if p in numbers else shape)
            for p in params
        ]
        try:
            return _symbolic(name, source, params, wrt, inputs)
        except _CannotRun as exc:
            reason = reason or str(exc)
    rng = np.random.default_rng(0)
    for shape in _GUESSES:
        points = [
            [
                (
                    options[p]
                    if p in options
                    else sign * rng.uniform(0.2, 0.9, () if p in numbers else shape)[()]
                )
                for p in params
            ]
            for sign in (1, -1) * _POINTS
        ]
        where = f"at {2 * _POINTS} random points, entries in ±[0.2, 0.9]"
        where += f" (shape {shape})" if shape else ""
        args = (name, source, points, where, wrt, params, reason, functions, True)
        try:
            return _fallback(*args)
        except (TypeError, ValueError, IndexError, AttributeError):
            continue
    detail = (
        f"not checked: it does not run on the guessed shapes {list(_GUESSES)} "
        f"({reason}); call symgrad.verify(f, *example_args) with real shapes"
    )
    return Verdict(name, "not checked", detail, True)


def verify_file(found: list, show: Any = None) -> Report:
    """Verify functions read from a file: (FunctionSource, options) pairs.  A
    function that does not compile is a failed verdict; the others are still
    verified.  `show` is called with each verdict as it is reached (the
    command line prints it then: a later function may run long)."""
    from .api import compile_function, normalize_wrt

    report = Report()

    def add(verdict: Verdict) -> None:
        report.verdicts.append(verdict)
        if show is not None:
            show(verdict)

    for src, found_options in found:
        options = dict(found_options)
        kind = options.pop("kind", "grad")
        if kind != "grad":
            detail = (
                f"not checked: verify proves gradients (@symgrad.grad), and this is "
                f"a @symgrad.{kind} function"
            )
            add(Verdict(src.name, "not checked", detail, True))
            continue
        try:
            not_wrapped(src, options)
            names, _ = normalize_wrt(src, options["wrt"], located=False)
            source = compile_function(src, **options).source
        except SymgradError as exc:  # report it, and go on to the next function
            add(Verdict(src.name, "failed", _uncompiled(exc), False))
            continue
        known = _known_options(src, {}, names)
        numbers = _float_defaults(src)
        add(verify_guessing(src.name, source, src.params, names, None, known, numbers))
    return report


def _uncompiled(exc: SymgradError) -> str:
    return f"does not compile:\n{exc.render()}"
