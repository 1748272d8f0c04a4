"""sympy in and out: region expressions, their partials, and lowering back.

An *elementwise region* is a tree of elementwise statements from one source
line whose inner values are used once (`x * x + 3 * x + 1`).  `Region.partials`
builds the sympy meaning of the tree's root in terms of its leaves, takes
`sympy.diff` for each active leaf, rewrites each partial to reuse primal values
where that makes it smaller (`1 - tanh(x)**2` becomes `1 - y**2` when the
primal computed `y = tanh(x)`), and shares common subexpressions (`sympy.cse`).
`SympyLowering` turns sympy expressions back into IR statements built from the
same primitives, so the emitter prints every derivative with one printer.  A
whole number in a derivative's arithmetic is lowered as a float, `2.0 * x`:
the gradient is a float whatever the inputs (the cotangent is), `2.0 * x` on
an integer array cannot wrap around as `2 * x` can (a power of one, `x * x`,
still does, as the primal's `x**2` does), and CPython multiplies two floats
in half the time of an int and a float (a specialised instruction; 12 ns a
product saved).  Integers compared with stay integers (`x > 0`), as do those
beyond 2**53, which a float may round.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable

import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, log1p, log2, log10
from sympy.codegen.rewriting import expm1_opt, log1p_opt, optimize
from sympy.logic.boolalg import BooleanAtom

from .ir import Assign, Atom, Const, IRError, Var
from .rules import OPS, cbrt, logaddexp

# Regions larger than this are differentiated statement by statement, keeping
# compile time linear in function size (no expression swell).
MAX_REGION = 24

_FUNCTIONS: dict[type, str] = {
    sp.sin: "sin",
    sp.cos: "cos",
    sp.tan: "tan",
    sp.asin: "arcsin",
    sp.acos: "arccos",
    sp.atan: "arctan",
    sp.sinh: "sinh",
    sp.cosh: "cosh",
    sp.tanh: "tanh",
    sp.asinh: "arcsinh",
    sp.acosh: "arccosh",
    sp.atanh: "arctanh",
    sp.exp: "exp",
    exp2: "exp2",
    expm1: "expm1",
    sp.log: "log",
    log2: "log2",
    log10: "log10",
    log1p: "log1p",
    sp.Abs: "abs",
    sp.sign: "slope",  # (the derivative of abs, which refuses complex numbers)
    sp.atan2: "arctan2",
    sp.Max: "maximum",
    sp.Min: "minimum",
    cbrt: "cbrt",
    logaddexp: "logaddexp",
    sp.erf: "erf",  # (a derivative may need erf(x) anew: of y in erf(x) * y)
    sp.erfc: "erfc",
}
_RELATIONS = {
    sp.StrictLessThan: "lt",
    sp.LessThan: "le",
    sp.StrictGreaterThan: "gt",
    sp.GreaterThan: "ge",
    sp.Equality: "eq",
    sp.Unequality: "ne",
}


def symbol(var: Var) -> sp.Symbol:
    return sp.Symbol(var.name, real=True)


def number(const: Const) -> sp.Expr:
    value = const.value
    if const.name is not None:
        return sp.Symbol(const.name, real=True)
    if isinstance(value, bool):
        return sp.true if value else sp.false
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return sp.Integer(int(value))
    if isinstance(value, int | float):
        return sp.Integer(value) if isinstance(value, int) else sp.Float(value)
    raise TypeError(f"no sympy number for {value!r}")


class Region:
    """An elementwise tree: `root` and the statements inlined into it.

    `leaves` maps a sympy symbol per leaf (named as the leaf) to its atom.  The
    tree's meaning is built once per *shape* (`key`: ops and constants, leaves
    by order of first use), on canonical symbols: leaves `_a0`, `_a1`...,
    inner values `_n0`..., so the regions of unrolled or repeated code cost
    sympy one expression and one differentiation between them.  A member
    that is a view adding leading axes (`x[None, :]`) is `x` itself to sympy:
    the leaf is `x`, and its cotangent, summed to x's shape, loses the axes.

    With `fold_numbers` False each number is a leaf, a value sympy cannot fold
    (`x / 0.0` is then `x / c`, not `zoo * x`), as if passed as an argument."""

    def __init__(
        self, root: Assign, members: dict[str, Assign], fold_numbers: bool = True
    ):
        self.root = root
        self.members = members  # inner statements by target name (root excluded)
        self.fold_numbers = fold_numbers
        self.leaves: dict[sp.Symbol, Atom] = {}
        self.inner: list[str] = []  # inner value names, in the key's order
        self._slots: dict[object, int] = {}  # leaf identity -> position
        self.key = self._key(root)
        self.renamed: dict[str, sp.Symbol] = {}  # set by `partials`
        self.stand_ins: dict[sp.Symbol, Atom] = {}

    def _key(self, stmt: Assign) -> object:
        if stmt.op == "getitem":  # `x[None, :]` (`analysis.prepends_axes`) is x
            return self._arg_key(stmt.args[0])
        args = []
        for i, atom in enumerate(stmt.args):
            if stmt.op == "clip" and atom == Const(None):
                args.append(("unbounded", i))  # a bound left out: -oo or oo
            else:
                args.append(self._arg_key(atom))
        key = ("op", stmt.op, tuple(args))
        self.inner.append(stmt.target.name)
        return key

    def _arg_key(self, atom: Atom) -> object:
        if isinstance(atom, Var) and atom.name in self.members:
            return self._key(self.members[atom.name])
        if isinstance(atom, Var):
            return self._leaf(atom.name, symbol(atom), atom)
        value = atom.value
        folded = isinstance(value, bool) or (
            isinstance(value, int | float) and self.fold_numbers
        )
        if atom.name is None and not folded:
            # a tuple or list operand, or a number not folded: opaque to
            # sympy, printed back as written
            sym = sp.Symbol(f"<const {len(self.leaves)}>", real=True)
            return self._leaf(("const", len(self.leaves)), sym, atom)
        if atom.name is not None:
            return self._leaf(atom.name, sp.Symbol(atom.name, real=True), atom)
        return ("number", type(atom.value).__name__, atom.value)

    def _leaf(self, identity: object, sym: sp.Symbol, atom: Atom) -> tuple:
        if identity not in self._slots:
            self._slots[identity] = len(self.leaves)
            self.leaves[sym] = atom
        return ("leaf", self._slots[identity])

    @property
    def defined(self) -> bool:
        """Are the tree's meaning, its inner values and its partials numbers
        wherever its leaves are?  Not where sympy folds a division by zero
        (`sin(x) / (x * 0.0)` is zoo * sin(x)), log(0), 0/0 (nan) or log(-2)
        (complex): those have no derivative to lower, or a wrong one (the
        derivative of nan is 0)."""
        return _defined(self.key)

    def lowering(
        self, emit: Callable[..., Atom], floats: Callable[[Atom], bool] | None = None
    ) -> SympyLowering:
        """A `SympyLowering` of this region's partials, the stand-ins of its
        leaves and inner values bound to their atoms (call `partials` first).
        A clip's bound that is a value may be None when called (numpy: no
        bound on that side), so the comparisons of the derivative read it
        through `_clip_bound`, as -inf or inf then."""
        lowering = SympyLowering(emit, self.stand_ins, floats)
        if self.root.op == "clip":
            for bound, unbounded in zip(
                self.root.args[1:], (-math.inf, math.inf), strict=True
            ):
                if isinstance(bound, Var) and bound.name not in self.members:
                    read = emit("clip_bound", (bound, Const(unbounded)))
                    lowering.bind(self.renamed[bound.name], read)
        return lowering

    def partials(
        self, wrt: list[Var], fresh: Callable[[], str], extra: tuple[str, ...] = ()
    ) -> tuple[list, list]:
        """(shared definitions, one partial per leaf in `wrt`) as sympy.

        The expressions are written in stand-in symbols, one per leaf, inner
        value, shared value (each named by `fresh`) and name in `extra` (the
        caller's own symbols, `<cotangent>`: no Python name, so no value of
        the function's takes it).  `stand_ins` binds them to
        their atoms, and `renamed` maps each name to its stand-in.  Stand-ins
        sort as the names they stand for, so sympy orders every sum and
        product exactly as it would the names themselves; and since they are
        ranks, not names, the renamed partials are computed once per region
        shape and order of names, not once per region (sympy rebuilding
        renamed expressions was a tenth of the compile time)."""
        order = {sym.name: i for i, sym in enumerate(self.leaves)}
        slots = tuple(order[v.name] for v in wrt)
        count = len(_canonical(self.key, slots)[0])
        names = [sym.name for sym in self.leaves] + self.inner
        names += [fresh() for _ in range(count)] + list(extra)
        ranks = [0] * len(names)
        for rank, i in enumerate(sorted(range(len(names)), key=names.__getitem__)):
            ranks[i] = rank  # (a tie, were there one, keeps symbols apart)
        stand_ins = [_stand_in(rank) for rank in ranks]
        self.renamed = dict(zip(names, stand_ins, strict=True))
        self.stand_ins = dict(zip(stand_ins, self.leaves.values(), strict=False))
        self.stand_ins.update((self.renamed[name], Var(name)) for name in self.inner)
        sizes = (len(self.leaves), len(self.inner))
        shared, exprs = _placed(self.key, slots, sizes, tuple(ranks))
        return list(shared), list(exprs)


@functools.lru_cache(maxsize=256)
def _targets(slots: tuple[int, ...]) -> tuple[sp.Symbol, ...]:
    return tuple(sp.Symbol(f"_a{i}", real=True) for i in slots)


_STAND_IN = re.compile(r"_\d{6}")


@functools.lru_cache(maxsize=1024)  # (a sympy Symbol costs microseconds)
def _stand_in(rank: int) -> sp.Symbol:
    return sp.Symbol(f"_{rank:06d}", real=True)


@functools.lru_cache(maxsize=4096)
def _canonical(key: tuple, slots: tuple[int, ...]) -> tuple[tuple, tuple]:
    """The shared values and partials of the region of `key` with respect to
    the leaves at `slots`, on the canonical symbols."""
    expr, inner = _meaning(key)
    return _derive(expr, _targets(slots), inner)


@functools.lru_cache(maxsize=4096)
def _placed(key: tuple, slots: tuple, sizes: tuple[int, int], ranks: tuple) -> tuple:
    """`_canonical(key, slots)` on the stand-ins of `ranks` (of the leaves,
    inner values and shared values, `sizes` giving the first two counts)."""
    shared, exprs = _canonical(key, slots)
    canonical = [sp.Symbol(f"_a{i}", real=True) for i in range(sizes[0])]
    canonical += [sp.Symbol(f"_n{i}", real=True) for i in range(sizes[1])]
    canonical += [sym for sym, _ in shared]
    back = {  # (the ranks of `extra` names come last: no symbol of ours)
        sym: _stand_in(rank) for sym, rank in zip(canonical, ranks, strict=False)
    }
    return (
        tuple((back[sym], e.xreplace(back)) for sym, e in shared),
        tuple(e.xreplace(back) for e in exprs),
    )


@functools.lru_cache(maxsize=4096)
def _meaning(key: tuple) -> tuple[sp.Expr, tuple]:
    """The sympy meaning of a region's `key`, on canonical symbols, and its
    inner values `((_n0, meaning), ...)` in the key's order."""
    inner: list[tuple[sp.Symbol, sp.Expr]] = []

    def build(node: tuple) -> sp.Expr:
        _, op, args = node
        values = [arg(a) for a in args]
        for i, value in enumerate(values):
            if isinstance(value, BooleanAtom) and (op, i) != ("where", 0):
                # numpy reads True and False as 1 and 0 in arithmetic (`x *
                # True`, `np.maximum(x, False)`); sympy's are conditions only
                values[i] = sp.Integer(int(bool(value)))
        expr = OPS[op].meaning(*values)
        inner.append((sp.Symbol(f"_n{len(inner)}", real=True), expr))
        return expr

    def arg(node: tuple) -> sp.Expr:
        if node[0] == "leaf":
            return sp.Symbol(f"_a{node[1]}", real=True)
        if node[0] == "number":
            return number(Const(node[2]))
        if node[0] == "unbounded":
            return -sp.oo if node[1] == 1 else sp.oo
        return build(node)

    return build(key), tuple(inner)


@functools.lru_cache(maxsize=4096)
def _defined(key: tuple) -> bool:
    """`Region.defined` of the region of `key`, its partials taken with
    respect to every leaf."""
    try:
        expr, inner = _meaning(key)
        leaves = sorted(expr.free_symbols, key=lambda s: s.name)
        exprs = [value for _, value in inner] + [_diff(expr, s) for s in leaves]
    except (TypeError, ValueError):  # sympy compares no complex infinity (`zoo
        # * x < 1`), nor nan: `Min(x, nan)`
        return False
    undefined = (sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I, sp.AccumBounds)
    if any(e.has(*undefined) for e in exprs):
        return False
    # a value nan off its domain that sympy simplified away (sqrt(x) *
    # sqrt(x) is x, exp(log(x)) is x): its nan would not reach the derivative
    return all(expr.has(value) for _, value in inner if _partial_domain(value))


def _partial_domain(value: sp.Expr) -> bool:
    """Is `value` nan (in numpy) for some real arguments: a log, a square
    root or other fractional power, an inverse sine, cosine..."""
    if isinstance(value, sp.Pow):
        return not value.exp.is_integer
    return isinstance(value, _PARTIAL_DOMAIN)


_PARTIAL_DOMAIN = (sp.log, sp.asin, sp.acos, sp.acosh, sp.atanh, log1p, log2, log10)


@functools.lru_cache(maxsize=4096)
def _derive(expr: sp.Expr, targets: tuple, inner: tuple) -> tuple[tuple, tuple]:
    """Partials of `expr`, rewritten with primal values, sharing subexpressions.

    Numeric coefficients stay out of the shared subexpressions (`2 * X * r`
    and `2 * r` share `r`, not `2 * r`): reverse mode moves a coefficient
    onto the cotangent, often a scalar (`reverse.times`), where inside a
    shared value it would cost an array operation."""
    exprs = [_reuse(_diff(expr, t), inner) for t in targets]
    if len(exprs) > 1 or any(sp.count_ops(e) > 4 for e in exprs):
        coeffs, rests = zip(*(e.as_coeff_Mul() for e in exprs), strict=True)
        symbols = (sp.Symbol(f"_c{i}", real=True) for i in itertools.count())
        shared, rests = sp.cse(rests, symbols=symbols, order="none")
        return tuple(shared), tuple(c * r for c, r in zip(coeffs, rests, strict=True))
    return (), tuple(exprs)


def _diff(expr: sp.Expr, target: sp.Symbol) -> sp.Expr:
    """`sp.diff`, with a Max or Min of three or more values differentiated as
    `_TiedMax` / `_TiedMin` (ties split evenly), an absolute value as
    `_RealAbs`, and a power whose exponent depends on `target` as
    `_ExponentPow` (no nan from a zero base)."""
    powers = [
        p for p in expr.atoms(sp.Pow) if p.exp.has(target) and not p.base.is_number
    ]
    bases = [  # (`x ** k`, k a value: `k * x ** (k - 1)` is 0 * inf at k = 0;
        # `(x**1.5)**1.5`: sympy's `1.5 * u**1.5 / u * u'` is 0 / 0 where u is 0)
        p
        for p in expr.atoms(sp.Pow)
        if (not p.exp.is_number or isinstance(p.base, sp.Pow) and not p.exp.is_integer)
        and not p.exp.has(target)
        and p.base.has(target)
    ]
    if not powers and not bases and not expr.has(sp.Max, sp.Min, sp.Abs):
        return sp.diff(expr, target)
    tied = expr.replace(
        lambda e: isinstance(e, sp.Max | sp.Min) and len(e.args) > 2,
        lambda e: (_TiedMax if isinstance(e, sp.Max) else _TiedMin)(*e.args),
    ).replace(sp.Abs, _RealAbs)
    if powers or bases:
        tied = tied.xreplace({p: _ExponentPow(p.base, p.exp) for p in powers + bases})
    derivative = sp.diff(tied, target)
    return (
        derivative.replace(_TiedMax, sp.Max)
        .replace(_TiedMin, sp.Min)
        .replace(_RealAbs, sp.Abs)
        .replace(_ExponentPow, sp.Pow)
    )


class _ExponentPow(sp.Function):
    """`b ** e` of an exponent that is a value, not a number.  Differentiated
    in `e` as `b**e * log(b)` with log(b) read as 0 where b is 0 (as JAX and
    torch do): `0 ** e` is 0 for every e > 0, so its derivative is 0, where
    `0 * log(0)` would be nan (the gradient of a Renyi entropy `log(sum(p **
    a))` over a p with zeros).  In `b` as `e * b ** (e - 1 + (e == 0))`:
    where e is 0, `0 * b ** -1` would be nan at b = 0 (a polynomial `c[k] *
    x ** k` at 0), and `b ** 0` is 1; the derivative of that power is again
    one of these, so a Hessian is 0 there too (`x ** 1`)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        b, e = self.args
        if argindex == 1:  # (in b alone: the exponent may depend on b's symbol)
            return e * sp.Pow(b, e - 1 + _IsZero(e))
        return self * _ZeroSafeLog(b)


class _IsZero(sp.Function):
    """1 where `e` is 0, else 0: lowered as `e == 0`; no derivative."""

    @classmethod
    def eval(cls, e: sp.Expr) -> sp.Expr | None:
        # (of a number, 0 or 1: `3 * (t1 * t1)`, not `t1 ** (3 + (3 == 0) - 1.0)`)
        return (sp.S.One if e == 0 else sp.S.Zero) if e.is_number else None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero


class _ZeroSafeLog(sp.Function):
    """log(b), read as 0 where b is 0: lowered as `np.log(b + (b == 0))`,
    which takes no log of 0 (numpy would warn; `math.log` raises)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return 1 / self.args[0]


class _RealAbs(sp.Function):
    """`Abs` of a value numpy computes as a real number, differentiated as
    `sign(u) * u'`.  sympy proves `u` real only for some expressions; of
    others (`a**1.5`, real or nan in numpy) it takes the complex derivative,
    in `re` and `im`, which has no numpy spelling."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.sign(self.args[0])


class _TiedMax(sp.Function):
    """`Max` of three or more values, differentiated as one: a tie splits the
    derivative evenly among the tied values (sympy's `Max.fdiff` gives each
    of them Heaviside(0) = 1/2, so three tied values would sum to 1.5; two
    get 1/2 each either way).  A value counts as a maximum when it is at
    least the maximum of the others: compared with the maximum of all, which
    the emitted code may compute in another order, no value might count
    (0 / 0) where there is no tie at all."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        hits = _hits(self.args, sp.Max, 1)
        return hits[argindex - 1] / sp.Add(*hits)


class _TiedMin(sp.Function):
    """`Min` of three or more values, differentiated as `_TiedMax` is."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        hits = _hits(self.args, sp.Min, -1)
        return hits[argindex - 1] / sp.Add(*hits)


def _hits(args: tuple, extreme: type, sign: int) -> list[sp.Expr]:
    """1 where `args[i]` is the extreme of all (at least that of the others:
    `sign` 1 for Max, -1 for Min), else 0, for each i."""
    return [
        sp.Heaviside(
            sign * (a - extreme(*(b for j, b in enumerate(args) if j != i))), 1
        )
        for i, a in enumerate(args)
    ]


def _reuse(expr: sp.Expr, inner: tuple) -> sp.Expr:
    """Rewrite `expr` with primal values (`inner`) where that makes it cheaper.

    A primal value replaces the very expression it computes (`1 - y**2` for
    `y = tanh(x)`), kept only when it lowers `_cost` and divides by nothing
    the derivative did not already divide by (`y * x**y / x` is shorter than
    `y * x**(y - 1)` but is NaN at x = 0); `log(1 + u)` and `exp(u) - 1`
    become `log1p(u)` and `expm1(u)`; and a logistic `s = 1 / (1 + exp(u))`
    gives `s * (1 - s)` (see `_logistic`).

    Solving for exponentials in general is deliberately not done: `exp(x) =
    y - c` cancels when `c` is large, and `exp(-y)` factors bring back the
    overflow that max-subtraction code avoids."""
    exponents = _exponents(expr)
    best = sp.powsimp(expr)
    if not _exponents(best) <= exponents:
        best = expr
    allowed = _denominators(best)

    def consider(
        candidate: sp.Expr, extra: frozenset = frozenset(), named: set = frozenset()
    ) -> None:
        nonlocal best
        if (
            _cost(candidate) < _cost(best)
            and _denominators(candidate) <= allowed | extra
            and _exponents(candidate) <= exponents | named
        ):
            best = candidate

    consider(sp.factor_terms(best))

    def size(value: sp.Expr) -> tuple[int, int]:  # (the larger value first)
        return -sp.count_ops(value), -sum(1 for _ in sp.preorder_traversal(value))

    for sym, value in sorted(inner, key=lambda kv: size(kv[1])):
        if isinstance(value, sp.Symbol | sp.Number) or not best.has(
            *value.free_symbols
        ):
            continue
        # (an exponential of the primal value's name is the same one:
        # `exp(x - logaddexp(x, y))` is `exp(x - t)` for `t = logaddexp(x, y)`)
        named = {_replace(e, value, sym) for e in exponents}
        consider(_replace(best, value, sym), frozenset({sym}), named)
        if isinstance(value, sp.Add):
            consider(_multiples(best, value, sym), frozenset({sym}))
        # sympy folds a sign into a sum: -(a - b)*c is (b - a)*c, which holds
        # no (a - b)*c to find; its negation does
        consider(-_replace(_negate_sum(best), value, sym), frozenset({sym}))
        consider(_logistic(best, value, sym))
    rewritten = optimize(best, [log1p_opt, expm1_opt])
    # (it also rewrites what holds no `log(1 + u)` or `exp(u) - 1`, into more
    # operations and other exponentials: `(exp(x) - exp(-x)) / t` became
    # `(exp(x) + 1) * exp(-x) * expm1(x) / t`, and `1 - 2 exp(-2a) / (1 +
    # exp(-2a))` became `expm1(2a) / (exp(2a) + 1)`, inf / inf where exp(2a)
    # overflows and the value does not)
    if _cost(rewritten) > _cost(best) or not _exponents(rewritten) <= exponents:
        return best
    return rewritten


def _logistic(expr: sp.Expr, value: sp.Expr, sym: sp.Symbol) -> sp.Expr:
    """For `s = 1 / (1 + exp(u))`, write `exp(u)` as `(1 - s) / s` in `expr`.

    The derivative of a sigmoid then reads `s * (1 - s)`, the textbook form:
    where `exp(u)` overflows, `s` is 0 and so is the gradient, instead of
    `inf * 0 = nan`.  Kept only if no division by `s` remains; `s` lies in
    [0, 1], so `1 - s` loses at most absolute, not relative, precision."""
    base, exp = value.as_base_exp()
    if exp != -1 or not isinstance(base, sp.Add) or len(base.args) != 2:
        return expr
    one, power = sorted(base.args, key=lambda a: not a.is_Number)
    if one != 1 or not isinstance(power, sp.exp) or not expr.has(power):
        return expr
    rewritten = sp.factor(expr.xreplace({power: (1 - sym) / sym}))
    if _denominators(rewritten):
        return expr
    coeff, rest = rewritten.as_coeff_Mul()
    return _negate_sum(rest) if coeff == -1 else rewritten  # s*(1 - s), not -s*(s - 1)


def _negate_sum(product: sp.Expr) -> sp.Expr:
    """`-product` with the minus folded into its first sum factor."""
    factors = list(sp.Mul.make_args(product))
    for i, factor in enumerate(factors):
        if isinstance(factor, sp.Add):
            factors[i] = -factor
            return sp.Mul(*factors)
    return -product


def _replace(expr: sp.Expr, value: sp.Expr, sym: sp.Symbol) -> sp.Expr:
    """`expr` with occurrences of `value` replaced by `sym`, exactly.

    `subs` matches sums and products inside larger ones (`2*p - 2*y` holds
    `p - y`) and powers of powers (`x**(-1/2)` is `t**-1` for `t = sqrt(x)`),
    but it is algebraic: replacing `sqrt(x)` by `t` also turns a bare `x` into
    `t**2`, which is not the same number in floating point.  So every power of
    `sym` in the result must stand for a power that `expr` really contains;
    other values (function calls) are replaced only where they stand whole."""
    if isinstance(value, sp.Pow):
        base, exp = value.args
        mapping = {}
        for power in expr.atoms(sp.Pow):
            ratio = power.exp / exp
            if power.base == base and ratio.is_integer:
                mapping[power] = sym**ratio
        return expr.xreplace(mapping)
    if not isinstance(value, sp.Add | sp.Mul):
        return expr.xreplace({value: sym})
    if not _may_hold(expr, value):
        return expr  # (subs walks all of expr, a second per value of a Horner sum)
    new = expr.subs(value, sym)
    powers = {(p.base, p.exp) for p in expr.atoms(sp.Pow)}
    for power in new.atoms(sp.Pow):
        if power.base == sym and (value, power.exp) not in powers:
            return expr
    return new


def _may_hold(expr: sp.Expr, value: sp.Add | sp.Mul) -> bool:
    """Is `value` worth `expr.subs(value, ...)`: does one sum in `expr` have
    every term of the sum `value` but its number (or every term of its
    negation) among its own, or one product the base of every factor of the
    product `value` but numbers?  A filter: subs finds a few more through
    numbers it takes out (`-2*z/(x + z)` holds `-x`), left unrewritten,
    which is a derivative as right, only less simplified."""
    if isinstance(value, sp.Add):
        _, terms = value.as_coeff_Add()
        wanted = [set(sp.Add.make_args(t)) for t in (terms, -terms)]
        return any(w <= set(a.args) for a in expr.atoms(sp.Add) for w in wanted)
    bases = _bases(value)
    return any(bases <= _bases(m) for m in expr.atoms(sp.Mul))


def _bases(product: sp.Expr) -> set:
    factors = (f.as_base_exp()[0] for f in sp.Mul.make_args(product))
    return {b for b in factors if not b.is_Number}


def _multiples(expr: sp.Expr, value: sp.Add, sym: sp.Symbol) -> sp.Expr:
    """`expr` with each sum that is a number times the sum `value` written as
    that number times `sym`: `2*x - 2` is `-2*s` for `s = 1 - x`, which `subs`
    does not see (sympy distributes a number over a sum, so `-2*(1 - x)` is
    never written as such)."""

    terms = value.as_coefficients_dict()

    def visit(e: sp.Expr) -> sp.Expr:
        if isinstance(e, sp.Add) and len(e.args) == len(value.args):
            ratio = _ratio(e.as_coefficients_dict(), terms)
            if ratio is not None:
                return ratio * sym
        if not e.args or isinstance(e, sp.Piecewise):
            return e
        args = [visit(a) for a in e.args]
        return e.func(*args) if args != list(e.args) else e

    return visit(expr)


def _ratio(terms: dict, of: dict) -> sp.Number | None:
    """The number r with `terms` = r * `of` term by term (sums as their
    coefficient dicts: sympy distributes a number over a sum's terms), or
    None.  (sp.cancel of the quotient found these too, at a tenth of a
    second per sum of a Horner polynomial's derivative.)"""
    if terms.keys() != of.keys():
        return None
    ratio, *others = [terms[k] / of[k] for k in of]
    if not ratio.is_Number or ratio == 0:
        return None
    # (2 and 2.0 are one ratio: `2*x - 2.0` is twice `x - 1`)
    return ratio if all((r - ratio).is_zero for r in others) else None


def _cost(expr: sp.Expr) -> tuple[int, int]:
    """Operations, with each transcendental function counted as four; on a
    tie, those but for a number multiplying the whole, which `reverse.times`
    moves onto the cotangent, often a scalar (`-2 * s` is then no operation
    on an array, `2 * x - 2` two)."""

    def operations(e: sp.Expr) -> int:
        return sp.count_ops(e) + 3 * len(e.atoms(sp.Function))

    _, rest = expr.as_coeff_Mul()
    return operations(expr), operations(rest)


def _exponents(expr: sp.Expr) -> set:
    """The arguments `expr` takes exponentials of (exp, expm1, exp2): a
    rewriting that brings in another (`exp(2a)` for `exp(-2a)`) may overflow
    where the derivative as written does not."""
    return {f.args[0] for f in expr.atoms(sp.exp, expm1, exp2)}


def _denominators(expr: sp.Expr) -> set:
    """Bases `expr` divides by, as sympy writes them (negative powers)."""
    return {p.base for p in expr.atoms(sp.Pow) if p.exp.is_number and p.exp.is_negative}


class SympyLowering:
    """Turn sympy expressions into IR atoms through `emit(op, args) -> Atom`.

    `floats` tells which atoms are certainly floats.  A derivative's own
    arithmetic (the sums, products and powers `sympy.diff` writes, not the
    primal subexpressions inside a function's argument) then never combines
    values none of which is: on boolean masks `m1 + m2` would be an `or` and
    `-m` an error, on an int8 array `k * k` would wrap around.  A product
    with a float factor multiplies it in first and distributes it over the
    rest (`g * m1 + g * m2`, `g * k * k`, `g / k / k`); `scaled` does the
    same for a cotangent or tangent.  Without `floats`, every atom is one."""

    def __init__(
        self,
        emit: Callable[..., Atom],
        atoms: dict[sp.Symbol, Atom],
        floats: Callable[[Atom], bool] | None = None,
    ):
        self.emit = emit
        self.atoms = dict(atoms)
        self.floats = floats
        self._float: dict[sp.Symbol, bool] = {}  # symbols bound with a verdict

    def bind(self, sym: sp.Symbol, atom: Atom, is_float: bool | None = None) -> None:
        self.atoms[sym] = atom
        if is_float is not None:
            self._float[sym] = is_float

    def define(
        self, shared: list[tuple[sp.Symbol, sp.Expr]], exprs: list[sp.Expr]
    ) -> list[sp.Expr]:
        """Bind the shared subexpressions `shared`, and return `exprs` with
        those that cannot be computed alone without mixing non-floats
        (`m1 + m2`) written back in, to be scaled where they are used."""
        inline: dict[sp.Symbol, sp.Expr] = {}
        for sym, expr in shared:
            expr = expr.xreplace(inline)
            if self.unsafe(expr):
                inline[sym] = expr
            else:
                self.bind(sym, self.lower(expr), self.is_float(expr))
        return [e.xreplace(inline) for e in exprs] if inline else exprs

    def is_float(self, expr: sp.Expr) -> bool:
        """Is `expr`, lowered, certainly a float (or a float array)?"""
        if self.floats is None:
            return True
        if isinstance(expr, sp.Symbol):
            if expr not in self._float:
                atom = self.atoms.get(expr, Var(expr.name))
                self._float[expr] = self.floats(atom)
            return self._float[expr]
        if expr.is_Number:
            return not expr.is_Integer or abs(int(expr)) <= 2**53
        if isinstance(expr, sp.Add):  # (a 1 in a sum is printed 1.0)
            return any(self.is_float(a) for a in expr.args)
        if isinstance(expr, sp.Mul):  # (-1 * m is printed -m)
            return any(self.is_float(a) for a in expr.args if a not in (1, -1))
        if isinstance(expr, sp.Pow):
            whole = expr.exp.is_Integer and expr.exp > 0
            return not whole or self.is_float(expr.base)
        if isinstance(expr, sp.Piecewise):
            return any(self.is_float(value) for value, _ in expr.args)
        if isinstance(expr, sp.Abs | sp.sign | sp.Max | sp.Min):
            return any(self.is_float(a) for a in expr.args)
        return not isinstance(expr, sp.logic.boolalg.Boolean)  # sin, exp...

    def unsafe(self, expr: sp.Expr) -> bool:
        """Would `lower(expr)` do arithmetic none of whose operands is a float?"""
        if self.floats is None or expr.is_Atom:
            return False
        if isinstance(expr, sp.Add):
            return not self.is_float(expr) or any(self.unsafe(a) for a in expr.args)
        if isinstance(expr, sp.Mul):
            if self.is_float(expr):
                return False  # (the float is multiplied in first)
            return len(expr.args) > 1 or self.unsafe(expr.args[0])
        if isinstance(expr, sp.Pow):
            n = expr.exp
            whole = n.is_Integer and (n > 1 or n < -1)
            return (whole and not self.is_float(expr.base)) or self.unsafe(expr.base)
        if isinstance(expr, sp.Piecewise):
            return any(self.unsafe(value) for value, _ in expr.args)
        return False  # a function's argument is computed as the primal's

    def scaled(self, acc: Atom, expr: sp.Expr) -> Atom:
        """`acc * expr` for a float `acc`, multiplied in before any arithmetic
        of `expr`'s that would otherwise mix non-floats."""
        if not self.unsafe(expr):
            if expr == 1:
                return acc
            if expr == -1:
                return self.emit("neg", (acc,))
            return self.emit("mul", (acc, self.lower(expr)))
        if isinstance(expr, sp.Add):
            terms = expr.as_ordered_terms()
            plus = [t for t in terms if not _negative(t)]
            minus = [-t for t in terms if _negative(t)]
            total = self.scaled(acc, plus[0]) if plus else None
            for term in plus[1:]:
                total = self.emit("add", (total, self.scaled(acc, term)))
            for term in minus:
                part = self.scaled(acc, term)
                total = (
                    self.emit("neg", (part,))
                    if total is None
                    else self.emit("sub", (total, part))
                )
            return total
        if isinstance(expr, sp.Pow) and expr.exp.is_Integer:  # one factor at a time
            n = int(expr.exp)
            for _ in range(abs(n)):
                acc = (
                    self.scaled(acc, expr.base)
                    if n > 0
                    else self.emit("div", (acc, self.lower(expr.base)))
                )
            return acc
        if isinstance(expr, sp.Mul):
            coeff, rest = expr.as_coeff_Mul()
            acc = self.scaled(acc, coeff)
            for factor in sp.Mul.make_args(rest):
                acc = self.scaled(acc, factor)
            return acc
        if isinstance(expr, sp.Piecewise):  # the float inside each value
            sym = sp.Dummy()
            self.bind(sym, acc, True)
            return self.lower(sp.piecewise_fold(sym * expr))
        return self.emit("mul", (acc, self.lower(expr)))  # (`sqrt(m1 + m2)`)

    def lower(self, expr: sp.Expr) -> Atom:
        if expr in self.atoms:
            return self.atoms[expr]
        if isinstance(expr, sp.Symbol):
            if _STAND_IN.fullmatch(expr.name):
                raise IRError(f"the stand-in {expr.name} is bound to no atom")
            return Var(expr.name)
        if expr.is_Number or not expr.free_symbols:
            return self._number(expr)
        if isinstance(expr, sp.Add):
            return self._add(expr)
        if isinstance(expr, sp.Mul):
            return self._mul(expr)
        if isinstance(expr, sp.Pow):
            return self._pow(expr.base, self._folded(expr.exp))
        if isinstance(expr, sp.Piecewise):
            return self._piecewise(expr.args)
        if isinstance(expr, sp.Heaviside):
            h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
            return self.emit("heaviside", (self.lower(expr.args[0]), self._number(h0)))
        if type(expr) in _RELATIONS:
            return self.emit(
                _RELATIONS[type(expr)],
                tuple(
                    Const(int(a)) if a.is_Integer else self.lower(a) for a in expr.args
                ),
            )
        if isinstance(expr, sp.logic.boolalg.Boolean) and not isinstance(
            expr, sp.Symbol
        ):
            return self._condition(expr)  # And/Or/Not/ITE that cse pulled out
        if type(expr) in _FUNCTIONS:
            return self._function(expr)
        if isinstance(expr, _IsZero):
            return self.emit("eq", (self.lower(expr.args[0]), Const(0)))
        if isinstance(expr, _ZeroSafeLog):
            base = self.lower(expr.args[0])
            zero = self.emit("eq", (base, Const(0)))  # (b + True is 1 where b is 0)
            return self.emit("log", (self.emit("add", (base, zero)),))
        raise NotImplementedError(f"cannot lower {sp.srepr(expr)}")

    def _number(self, expr: sp.Expr) -> Atom:
        if expr is sp.true or expr is sp.false:
            return Const(bool(expr))
        if expr.is_Integer:
            value = int(expr)
            return Const(float(value) if abs(value) <= 2**53 else value)
        if expr.is_Rational:
            if expr.q & (expr.q - 1) == 0 and abs(expr.p) <= 2**53:
                return Const(int(expr.p) / int(expr.q))  # exact: 0.5, not `1 / 2`
            return self.emit("truediv", (Const(int(expr.p)), Const(int(expr.q))))
        if expr == sp.pi:
            return Const(float(expr), "np.pi")
        return Const(float(expr))

    def _function(self, expr: sp.Expr) -> Atom:
        name = _FUNCTIONS[type(expr)]
        args = tuple(self.lower(a) for a in expr.args)
        if name in ("maximum", "minimum") and len(args) > 2:
            head = self.emit(name, args[:2])
            return self._function_chain(name, head, args[2:])
        return self.emit(name, args)

    def _function_chain(self, name: str, head: Atom, rest: tuple[Atom, ...]) -> Atom:
        for arg in rest:
            head = self.emit(name, (head, arg))
        return head

    def _add(self, expr: sp.Add) -> Atom:
        ordered = expr.as_ordered_terms()
        terms = [t for t in ordered if not _negative(t)] + [
            t for t in ordered if _negative(t)
        ]
        if not self.is_float(terms[0]) and (
            _negative(terms[0]) or not self.is_float(terms[1])
        ):
            # a float first: no sum of two non-floats, no non-float negated
            # (`-k - x`, a maximum's derivative, is `-x - k`)
            first = next((i for i, t in enumerate(terms) if self.is_float(t)), 0)
            terms.insert(0, terms.pop(first))
        first = terms[0]
        acc = (
            self.emit("neg", (self.lower(-first),))
            if _negative(first)
            else self.lower(first)
        )
        for term in terms[1:]:
            if _negative(term):
                acc = self.emit("sub", (acc, self.lower(-term)))
            else:
                acc = self.emit("add", (acc, self.lower(term)))
        return acc

    def _mul(self, expr: sp.Mul) -> Atom:
        coeff, rest = expr.as_coeff_Mul()
        if coeff < 0:
            return self.emit("neg", (self.lower(-expr),))
        numer, denom = [], []
        for factor in sp.Mul.make_args(rest):
            base, exp = factor.as_base_exp()
            if exp.is_Number and exp < 0:
                denom.append(base if exp == -1 else sp.Pow(base, -exp))
            else:
                numer.append(factor)
        if coeff.is_Rational:
            if coeff.p != 1:
                numer.insert(0, sp.Integer(coeff.p))
            if coeff.q != 1:
                denom.insert(0, sp.Integer(coeff.q))
        elif coeff != 1:
            numer.insert(0, coeff)
        top = self._product(numer) if numer else Const(1)
        if not denom:
            return top
        if self.unsafe(sp.Mul(*denom)):  # one factor at a time: `g / k / k`
            for factor in denom:
                base, n = factor.as_base_exp()
                for _ in range(int(n) if n.is_Integer and n > 0 else 1):
                    divisor = base if n.is_Integer and n > 0 else factor
                    top = self.emit(_divide([divisor]), (top, self.lower(divisor)))
            return top
        return self.emit(_divide(denom), (top, self._product(denom)))

    def _product(self, factors: list[sp.Expr]) -> Atom:
        if any(self.unsafe(f) for f in factors) or not any(
            self.is_float(f) for f in factors[:2]
        ):
            first = next((i for i, f in enumerate(factors) if self.is_float(f)), None)
            if first is not None:  # that float first, the rest scaled by it
                acc = self.lower(factors[first])
                for factor in factors[:first] + factors[first + 1 :]:
                    acc = self.scaled(acc, factor)
                return acc
        acc = self.lower(factors[0])
        for factor in factors[1:]:
            acc = self.emit("mul", (acc, self.lower(factor)))
        return acc

    def _folded(self, expr: sp.Expr) -> sp.Expr:
        """`expr` with the symbols that stand for numbers replaced by them: an
        exponent `k - 1 + (k == 0)` of a number k is that number less 1."""
        numbers = {
            s: sp.sympify(atom.value)
            for s in expr.free_symbols
            if isinstance(atom := self.atoms.get(s), Const)
            and type(atom.value) in (int, float)
        }
        return expr.xreplace(numbers) if numbers else expr

    def _pow(self, base: sp.Expr, exp: sp.Expr) -> Atom:
        if exp == sp.S.Half:
            return self.emit("sqrt", (self.lower(base),))
        if exp.is_Number and exp < 0:
            return self.emit("div", (Const(1), self._pow(base, -exp)))
        if exp == 1:
            return self.lower(base)
        if exp.is_Integer and exp > 1:
            return self._power_by_products(self.lower(base), int(exp))
        # np.power where the exponent may not be an integer: on a Python float
        # `**` gives a complex number for a negative base (numpy: nan) and
        # raises OverflowError (numpy: inf)
        return self.emit("power", (self.lower(base), self.lower(exp)))

    def _power_by_products(self, base: Atom, n: int) -> Atom:
        """`base ** n` for an integer n > 1 as products, by squaring.  On a
        Python float (an argument, in numpy's body too) `x ** 2` raises
        OverflowError where numpy gives inf, as `x * x` does; on arrays `x * x`
        is numpy's own square, and cheaper than its power from 3 on; on
        Python ints it stays exact."""
        if n == 1:
            return base
        half = self._power_by_products(base, n // 2)
        square = self.emit("mul", (half, half))
        return self.emit("mul", (square, base)) if n % 2 else square

    def _piecewise(self, pieces: tuple) -> Atom:
        (value, cond), rest = pieces[0], pieces[1:]
        if cond is sp.true or not rest:
            return self.lower(value)
        other = self._piecewise(rest)
        return self.emit("where", (self._condition(cond), self.lower(value), other))

    def _condition(self, cond: sp.Basic) -> Atom:
        if cond is sp.true or cond is sp.false:
            return Const(bool(cond))
        if isinstance(cond, sp.Not):
            return self.emit("logical_not", (self._condition(cond.args[0]),))
        if isinstance(cond, sp.ITE):
            c, a, b = (self._condition(arg) for arg in cond.args)
            return self.emit("where", (c, a, b))
        if isinstance(cond, sp.Or | sp.And):
            op = "logical_or" if isinstance(cond, sp.Or) else "logical_and"
            args = [self._condition(a) for a in cond.args]
            acc = args[0]
            for arg in args[1:]:
                acc = self.emit(op, (acc, arg))
            return acc
        return self.lower(cond)


def _divide(denominator: list[sp.Expr]) -> str:
    """Division by a value is printed `_div`: like numpy, it gives inf or nan
    at zero, where Python's `/` on two floats would raise instead."""
    return "truediv" if all(f.is_number for f in denominator) else "div"


def _negative(term: sp.Expr) -> bool:
    return term.could_extract_minus_sign()
