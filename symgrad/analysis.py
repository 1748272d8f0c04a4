"""Analyses reverse mode (and forward mode) runs before writing derivative code.

* `activity`: the values that depend on a `wrt` input *and* reach the
  returned value (loops to a fixed point); values from `wrt` may not serve as
  an index, a shape, or enter an op without a derivative rule, where their
  derivative would be dropped (a `NonDifferentiableError` names the line);
* `shape_classes`: variables that provably share a shape, so a contribution
  needs no `_unbroadcast` (and `optimize` need not spread a cotangent);
* `int_vars`: variables that always hold Python ints (loop indices and
  arithmetic on them), so `x[i]` selects one element and its adjoint is a
  plain `+=`;
* `regions`: elementwise trees of one source line inside one block, which
  `symbolic.Region` differentiates as one sympy expression;
* `numpy_values`: names that certainly hold numpy values (arrays or numpy
  scalars), never Python numbers or lists;
* `SliceBounds`: slice bounds as linear forms in names that hold integers
  >= 0, so two slices can be proved disjoint or adjacent.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

from .errors import Loc, NonDifferentiableError
from .ir import (
    Assign,
    Atom,
    Branch,
    Const,
    Copy,
    For,
    Function,
    Index,
    Loop,
    Pop,
    Push,
    Slice,
    Stmt,
    Var,
    arg_vars,
    bodies,
    for_targets,
    uses,
    variables,
    walk,
    writes,
)
from .rules import OPS, is_elementwise
from .symbolic import MAX_REGION, Region

Shape = frozenset[str]  # the base shapes a value is the broadcast of
SCALAR: Shape = frozenset()


def diff_args(stmt: Assign) -> list[tuple[int, Var]]:
    """(position, variable) of the arguments a derivative can flow into."""
    op = OPS[stmt.op]
    if op.kind == "constant":
        return []
    return [
        (i, a)
        for i, a in enumerate(stmt.args)
        if isinstance(a, Var) and i not in op.nondiff
    ]


def activity(
    fn: Function,
    wrt: tuple[str, ...],
    forward: bool = False,
    constant: frozenset[str] = frozenset(),
    checked: bool = True,
) -> set[str]:
    """Names that depend on a `wrt` parameter and reach the returned value.

    Loops are analysed to a fixed point: a carried value is varied when its
    start or its next value is, and useful when its result or its use in the
    body is.  Forward mode (`forward`) carries tuples of tangents; reverse
    mode refuses a tuple holding a value that depends on `wrt`.  Names in
    `constant` are treated as not depending on `wrt` (the returned value's
    derivative with respect to them is zero: `shift.shift_invariant`).
    Unless `checked` is off (for code symgrad emitted, whose indices are ints
    even where they come out of a stack that also holds values depending on
    `wrt`), a value depending on `wrt` used as an index or shape, or entering
    an op refused on such values (`%`, `.astype(float)`), is an error: found
    by a second pass in which those ops pass a derivative on."""
    varied = set(wrt)
    _varied(fn.body, varied, constant, _derivative_flows)
    ret = fn.body[-1]
    useful = {ret.value.name} if isinstance(ret.value, Var) else set()
    _useful(fn.body, useful, _derivative_flows)
    if checked:
        # the same, with the ops refused on values depending on wrt counted as
        # ones a derivative flows through: a refused op whose result enters
        # only another constant op (`x.astype(float).astype(float)`, `(x % 3)
        # % 5`) still has a derivative the result needs
        flows = functools.partial(_refused_flows, forward=forward)
        reached = set(wrt)
        _varied(fn.body, reached, constant, flows)
        needed = {ret.value.name} if isinstance(ret.value, Var) else set()
        _useful(fn.body, needed, flows)
        for stmt in walk(fn.body):
            if isinstance(stmt, Assign) and stmt.target.name in needed:
                if not (forward and stmt.op == "tuple"):
                    _check_discrete_uses(stmt, reached, wrt)
    return varied & useful


def _derivative_flows(stmt: Assign) -> list[Var]:
    """The arguments of `stmt` a derivative flows into."""
    return [v for _, v in diff_args(stmt)]


def _refused_flows(stmt: Assign, forward: bool) -> list[Var]:
    """`_derivative_flows`, and every argument of an op that is refused on a
    value depending on wrt (`%`, `.astype(float)`...), as if one flowed."""
    refused = stmt.op in _OPAQUE and not (forward and stmt.op == "tuple")
    if refused or (stmt.op in _CASTS and dtype_kind(stmt) == "f"):
        return list(variables(stmt.args))
    return _derivative_flows(stmt)


def varied(body, names: set[str]) -> None:
    """Add to `names` (parameters) the values in `body` a derivative with
    respect to them reaches (not a comparison's, nor `np.floor`'s: their
    derivatives are 0)."""
    _varied(body, names, frozenset(), _derivative_flows)


def _varied(body, varied: set[str], constant: frozenset[str], flows) -> None:
    for stmt in body:
        if isinstance(stmt, Assign):
            if stmt.target.name not in constant and any(
                v.name in varied for v in flows(stmt)
            ):
                varied.add(stmt.target.name)
        elif isinstance(stmt, Branch):
            _varied(stmt.body, varied, constant, flows)
            _varied(stmt.orelse, varied, constant, flows)
            for m in stmt.merges:
                if _any_in((m.then, m.orelse), varied):
                    varied.add(m.out.name)
        elif isinstance(stmt, Loop):
            while True:
                size = len(varied)
                for c in stmt.carries:
                    if _any_in((c.init, c.next), varied):
                        varied.add(c.header.name)
                _varied(stmt.test, varied, constant, flows)
                _varied(stmt.body, varied, constant, flows)
                if len(varied) == size:
                    break
            varied.update(c.out.name for c in stmt.carries if c.header.name in varied)


def _useful(body, useful: set[str], flows) -> None:
    for stmt in reversed(body):
        if isinstance(stmt, Assign):
            if stmt.target.name in useful:
                useful.update(v.name for v in flows(stmt))
        elif isinstance(stmt, Branch):
            for m in stmt.merges:
                if m.out.name in useful:
                    useful.update(v.name for v in variables((m.then, m.orelse)))
            _useful(stmt.body, useful, flows)
            _useful(stmt.orelse, useful, flows)
        elif isinstance(stmt, Loop):
            while True:
                size = len(useful)
                for c in stmt.carries:
                    if c.out.name in useful or c.header.name in useful:
                        useful.update(v.name for v in variables((c.init, c.next)))
                        useful.add(c.header.name)
                _useful(stmt.body, useful, flows)
                if len(useful) == size:
                    break


def _any_in(atoms, names: set[str]) -> bool:
    return any(v.name in names for v in variables(atoms))


# Ops whose listed argument positions take a shape or a count, not a value.
_DISCRETE = {"reshape": (1,), "broadcast_to": (1,), "full": (0,), "zeros": (0,)}
_DISCRETE.update(ones=(0,), empty=(0,), eye=(0,))


# Constant ops that would silently drop a derivative if a `wrt` value entered.
_OPAQUE = {
    "tuple": (
        "a tuple of values that depend on {wrt} is differentiated only unpacked "
        "(a, b = t) or read at a constant index (t[0]), not as a whole"
    ),
    "arange": "np.arange has no derivative rule for bounds that depend on {wrt}",
    "linspace": "np.linspace has no derivative rule for bounds that depend on {wrt}",
    "mod": "the % operator has no derivative rule for values that depend on {wrt}",
}
for _op, _symbol in [("bitand", "&"), ("bitor", "|"), ("bitxor", "^"), ("invert", "~")]:
    _OPAQUE[_op] = (
        f"the {_symbol} operator (of masks and integers) has no derivative for "
        "values that depend on {wrt}"
    )


# `.astype(dtype)`, `np.array(v, dtype=...)` and `np.float32(v)`: refused to a
# float dtype (below), constants (a step function) to an integer or bool one.
_CASTS = ("astype", "array_cast", "scalar_type")


def _check_discrete_uses(stmt: Assign, varied: set[str], wrt: tuple[str, ...]) -> None:
    """A value computed from a `wrt` input may not serve as an index or shape,
    nor enter an op that has no derivative rule for it."""
    if (
        stmt.op in _CASTS
        and dtype_kind(stmt) == "f"
        and any(v.name in varied for v in arg_vars(stmt.args))
    ):
        if stmt.op == "array_cast":
            written = f"np.array(..., dtype={dict(stmt.params)['dtype']!r})"
            hint = "leave the dtype out, or make it float (float64)"
        elif stmt.op == "astype":
            written, hint = f".astype({dict(stmt.params)['dtype']!r})", (
                "cast to float64, .astype(float), which is differentiated, or "
                "leave the cast out; a mask as floats, (x > 0).astype(np.float32), "
                "has no derivative and is fine"
            )
        else:
            written = f"np.{dict(stmt.params)['scalar']}()"
            hint = "leave it out: the value is already floats"
        raise NonDifferentiableError(
            f"no derivative rule for {written} of a value that depends on "
            f"{', '.join(wrt)}",
            stmt.loc,
            hint,
        )
    if stmt.op in _OPAQUE and any(v.name in varied for v in arg_vars(stmt.args)):
        raise NonDifferentiableError(
            _OPAQUE[stmt.op].format(wrt=", ".join(wrt)),
            stmt.loc,
            "symgrad would drop its derivative; build the array with arithmetic "
            "on arrays instead",
        )
    places = [a for a in stmt.args if isinstance(a, Index)]
    used = [v for index in places for v in index.vars()]
    used += [
        a
        for i, a in enumerate(stmt.args)
        if i in _DISCRETE.get(stmt.op, ()) and isinstance(a, Var)
    ]
    for var in used:
        if var.name in varied:
            role = "an index" if places else "a shape"
            # A temporary of symgrad's (x[x[0]]'s `t4`) is not named: the
            # caret shows the expression.
            shown = stmt.loc is not None and re.search(
                rf"\b{re.escape(var.name)}\b", stmt.loc.text
            )
            message = (
                f"'{var.name}' depends on {', '.join(wrt)} but is used as {role}"
                if shown
                else f"{role} here depends on {', '.join(wrt)}"
            )
            raise NonDifferentiableError(
                f"{message}, where no derivative exists",
                stmt.loc,
                "compute indices and shapes from values symgrad does not differentiate "
                "(for example int(...) of a constant, or a shape)",
            )


INT_OPS = {"add", "sub", "mul", "floordiv", "mod", "neg", "pos"}  # (of ints: ints)


def reads(statements: Iterable[Stmt], dead: frozenset[str] = frozenset()) -> Counter:
    """How many times each name is read by `statements` (and the statements
    nested in them), leaving out what the merges named in `dead` take."""
    count: Counter = Counter()
    for stmt in walk(statements):
        if isinstance(stmt, Branch) and dead:
            count.update(v.name for v in variables((stmt.cond,)))
            live = [m for m in stmt.merges if m.out.name not in dead]
            count.update(v.name for m in live for v in variables((m.then, m.orelse)))
        else:
            count.update(v.name for v in uses(stmt))
    return count


def dead_merges(fn: Function) -> frozenset[str]:
    """The merges nothing reads, by the names they bind: an early return's
    branch merges every value bound after it (`t_1 = phi(None, t)`), and a
    merge of those only (a value read only through them is read nowhere)."""
    merges = [m for s in walk(fn.body) if isinstance(s, Branch) for m in s.merges]
    dead: frozenset[str] = frozenset()
    while True:
        count = reads(fn.body, dead)
        more = dead | {m.out.name for m in merges if not count[m.out.name]}
        if more == dead:
            return dead
        dead = frozenset(more)


def int_vars(fn: Function) -> set[str]:
    """Variables that always hold Python ints: loop indices and arithmetic on
    them and on int constants (so `x[i]` selects one element, never two)."""
    ints: set[str] = set()
    shapes = {
        s.target.name
        for s in walk(fn.body)
        if isinstance(s, Assign) and s.op == "shape"
    }
    for stmt in walk(fn.body):
        if isinstance(stmt, Loop) and stmt.index is not None:
            ints.add(stmt.index.name)
        elif isinstance(stmt, Assign) and stmt.op in (
            "len",
            "int",
            "size",
            "count",
            "ndim",
        ):
            ints.add(stmt.target.name)
        elif (
            isinstance(stmt, Assign)
            and stmt.op == "getitem"
            and isinstance(stmt.args[0], Var)
            and stmt.args[0].name in shapes
            and all(
                isinstance(i, Const) and type(i.value) is int
                for i in stmt.args[1].items
            )
        ):
            ints.add(stmt.target.name)  # x.shape[0]
        elif isinstance(stmt, Assign) and stmt.op in INT_OPS:
            if all(
                (isinstance(a, Var) and a.name in ints)
                or (isinstance(a, Const) and type(a.value) is int)
                for a in stmt.args
            ):
                ints.add(stmt.target.name)
    return ints


_FLOAT_ALLOCATIONS = {"zeros", "ones", "empty", "eye", "zeros_grad", "zeros_buffer"}


def dtype_kind(stmt: Assign) -> str | None:
    """numpy's kind ("f", "i", "u", "b") of the `dtype=` a constructor
    (np.zeros, np.full, np.arange...) is given, or None without one."""
    params = dict(stmt.params)
    dtype = params.get("dtype", params.get("scalar"))  # (np.float32(v): "float32")
    return None if dtype is None else np.dtype(dtype).kind


_WRITES = {"setitem", "setitem_add", "setitem_sub", "add_at"}


def float_arrays(fn: Function) -> set[str]:
    """Arrays that are certainly float: made by np.zeros/ones/empty/eye (which
    default to float64, and are given no other dtype) or `_zeros_grad` (x's
    float dtype, or float64) and only written into since.  A write into any
    other array may be truncated to an integer dtype, which its adjoint must
    check."""
    inputs: dict[str, list] = {}
    for stmt in walk(fn.body):
        if (
            isinstance(stmt, Assign)
            and stmt.op in _FLOAT_ALLOCATIONS
            and dtype_kind(stmt) in (None, "f")
        ):
            inputs[stmt.target.name] = []
        elif isinstance(stmt, Assign) and stmt.op in _WRITES:
            inputs[stmt.target.name] = [stmt.args[0]]
        elif isinstance(stmt, Branch):
            for m in stmt.merges:
                inputs[m.out.name] = [m.then, m.orelse]
        elif isinstance(stmt, Loop):
            for c in stmt.carries:
                inputs[c.header.name] = [c.init, c.next]
                inputs[c.out.name] = [c.header]
    found = set(inputs)
    while True:  # the largest set closed under "made only from float arrays"
        keep = {
            n
            for n in found
            if all(isinstance(a, Var) and a.name in found for a in inputs[n])
        }
        if keep == found:
            return found
        found = keep


# Ops whose result is a float whatever their operands are, and ops whose
# result is a float when an operand is: numpy promotes an integer or a
# boolean meeting a float to that float.  (np.exp of an int8 array is
# float16: a float, if a coarse one.)
_FLOAT_RESULTS = (
    set(
        "sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh arccosh "
        "arctanh exp exp2 expm1 log log2 log10 log1p sqrt cbrt logaddexp hypot "
        "heaviside truediv "
        "div divide mean mean_all float float64 linspace inexact".split()
    )
    | _FLOAT_ALLOCATIONS
)
_FLOAT_IF_ANY = set(
    "add sub mul pow power neg pos abs square maximum minimum clip where matmul "
    "dot outer einsum sum sum_squares max min prod cumsum getitem reshape T "
    "transpose ravel squeeze expand_dims moveaxis broadcast_to copy full floor "
    "ceil rint round sign".split()
)


def float_values(fn: Function) -> set[str]:
    """Values that are certainly floats (or float arrays) whatever the inputs:
    results of `np.sin`, `/`, `np.mean`..., and of arithmetic, reductions and
    views with a float operand (a float literal, or such a value).  A loop's
    carried value is one when it starts as one and its next value is one."""
    inputs: dict[str, list[list[Atom]]] = {}
    for stmt in walk(fn.body):
        kind = dtype_kind(stmt) if isinstance(stmt, Assign) else None
        if kind is not None:  # (`dtype=` decides)
            if kind == "f":
                inputs[stmt.target.name] = []
        elif isinstance(stmt, Assign) and stmt.op in _FLOAT_RESULTS:
            inputs[stmt.target.name] = []
        elif isinstance(stmt, Assign) and stmt.op in _FLOAT_IF_ANY:
            operands = stmt.args[1:] if stmt.op == "where" else stmt.args
            inputs[stmt.target.name] = [[a for a in operands if isinstance(a, Atom)]]
        elif isinstance(stmt, Branch):
            for m in stmt.merges:
                inputs[m.out.name] = [[m.then], [m.orelse]]
        elif isinstance(stmt, Loop):
            for c in stmt.carries:
                inputs[c.header.name] = [[c.init], [c.next]]
                inputs[c.out.name] = [[c.header]]
    found = set(inputs)
    while True:  # the largest set closed under "made from a float": a cycle
        # through a loop's carries keeps a float only if it starts as one
        keep = {
            n
            for n in found
            if all(
                any(isinstance(a, Var) and a.name in found for a in group)
                or any(isinstance(a, Const) and type(a.value) is float for a in group)
                for group in inputs[n]
            )
        }
        if keep == found:
            return found
        found = keep


def is_float_atom(atom: Atom, floats: set[str]) -> bool:
    """May `atom` take part in a derivative's arithmetic as a float does?  A
    variable named in `floats` (the values computed from `wrt`, which count
    as floats, and `float_values`); a numpy constant that is one; a Python
    number always (it does not wrap around, and a bool is 1 or 0 to sympy)."""
    if isinstance(atom, Var):
        return atom.name in floats
    if isinstance(atom.value, np.ndarray | np.generic):
        return atom.value.dtype.kind in "fc"
    return True


def selects_all(index: Index) -> bool:
    """Is `index` `[()]` or `[...]`, which selects a whole array (of any rank;
    for a 0-d array `x[()]` is a number, which has no entries to write)?"""
    return index.items == () or index.items == (Const(Ellipsis),)


_WHOLE, _DOTS = Slice(None, None, None), Const(Ellipsis)  # `:` and `...`


def _new_axis(item: object) -> bool:
    """`None` or `np.newaxis` in an index."""
    return isinstance(item, Const) and item.value is None


def only_adds_axes(index: Index) -> bool:
    """Is `index` made of `None`s, whole slices `:` and at most one `...`,
    with a `None` among them (`x[None, :, :]`)?  It selects every entry of
    `x` once, in order, with new axes of length 1 added."""
    items = index.items
    return (
        any(map(_new_axis, items))
        and items.count(_DOTS) <= 1
        and all(item in (_WHOLE, _DOTS) or _new_axis(item) for item in items)
    )


def prepends_axes(stmt: Assign) -> bool:
    """Is `stmt` `x[None, :, :]` (or `x[None]`, `x[None, None, ...]`): a view
    of `x` with new axes of length 1 in front only?  numpy broadcasting lines
    shapes up from the right, so such a view broadcasts to the same entries
    `x` itself does: inside an elementwise tree it is `x`."""
    if stmt.op != "getitem" or not isinstance(stmt.args[1], Index):
        return False
    items = stmt.args[1].items
    new = 0
    while new < len(items) and _new_axis(items[new]):
        new += 1
    rest = items[new:]
    return (
        new > 0
        and rest.count(_DOTS) <= 1
        and all(item in (_WHOLE, _DOTS) for item in rest)
    )


def selects_once(index: Index, ints: set[str]) -> bool:
    """Does `index` select each element at most once (basic indexing)?"""
    for item in index.items:
        parts = (
            (item.start, item.stop, item.step) if isinstance(item, Slice) else (item,)
        )
        for part in parts:
            if isinstance(part, Var):
                if part.name not in ints:
                    return False
            elif part is not None and not (
                part.name is None
                and (
                    part.value is None
                    or part.value is Ellipsis
                    or type(part.value) is int
                )
            ):
                return False
    return True


def shape_classes(fn: Function) -> dict[str, Shape]:
    """What each variable's shape provably is: the broadcast of a set of base
    shapes (parameters, results of non-elementwise ops), so two variables with
    equal sets share a shape and an elementwise result's set is the union of
    its arguments' (for skipping unbroadcast).  Scalars have the empty set.
    A view adding leading axes, `x[None, :]`, has x's bases and one standing
    for ones of its rank (`prepends_axes`): equal sets, equal shapes still.

    Loop-carried values may change shape between iterations, so each gets a
    base of its own; a merge shares its arms' set only when they agree."""
    classes: dict[str, Shape] = {p: frozenset((p,)) for p in fn.params}

    def of(atom) -> Shape:
        if isinstance(atom, Var):
            return classes[atom.name]
        if isinstance(atom, Const) and atom.name is not None and "." not in atom.name:
            return frozenset((f"<const {atom.name}>",))
        if isinstance(atom, Const) and not isinstance(atom.value, int | float | None):
            return frozenset((f"<const {atom.value!r}>",))
        return SCALAR

    def block(body) -> None:
        for stmt in body:
            if isinstance(stmt, Assign):
                classes[stmt.target.name] = shape_of(stmt, of)
            elif isinstance(stmt, Branch):
                block(stmt.body)
                block(stmt.orelse)
                for m in stmt.merges:
                    same = of(m.then) == of(m.orelse) and _NONE not in (
                        m.then,
                        m.orelse,
                    )
                    classes[m.out.name] = of(m.then) if same else _own(m.out.name)
            elif isinstance(stmt, Loop):
                for c in stmt.carries:
                    classes[c.header.name] = _own(c.header.name)
                    classes[c.out.name] = _own(c.out.name)
                if stmt.index is not None:
                    classes[stmt.index.name] = SCALAR
                block(stmt.test)
                block(stmt.body)

    block(fn.body)
    return classes


_NONE = Const(None)


def may_be_none(fn: Function, atom: Atom) -> bool:
    """May `atom` be None: a merge of None (`return None if c else x`, a
    helper's `return None` on one path) and another value?"""
    return atom == _NONE or (
        isinstance(atom, Var) and atom.name in constant_merges(fn, _NONE)
    )


def constant_merges(fn: Function, only: Const | None = None) -> set[str]:
    """The merges that are a constant on some path (`only`: that one), None
    standing in for a value an early return's arm alone binds
    (`result_1 = merge(buf_1, None)`), and the merges of those."""
    merges = [m for s in walk(fn.body) if isinstance(s, Branch) for m in s.merges]
    found: set[str] = set()
    grew = True
    while grew:
        grew = False
        for m in merges:
            if m.out.name not in found and any(
                (
                    v.name in found
                    if isinstance(v, Var)
                    else isinstance(v, Const) and (only is None or v == only)
                )
                for v in (m.then, m.orelse)
            ):
                found.add(m.out.name)
                grew = True
    return found


def shape_of(stmt: Assign, of: Callable[[object], Shape]) -> Shape:
    """The shape class of `stmt`'s result, given its arguments' (`of`)."""
    name = stmt.target.name
    op = OPS[stmt.op]
    if op.kind == "elementwise" or stmt.op in ("sign", "slope", "heaviside"):
        # (the last: numpy's elementwise functions of no derivative, in
        # derivatives: `seed * _slope(x)` has x's shape)
        return frozenset().union(*(of(a) for a in stmt.args))
    if stmt.op in ("sum", "mean", "max", "min", "prod") and not stmt.params:
        return SCALAR
    if stmt.op in ("sum_squares", "mean_squares") and not stmt.params:
        return SCALAR
    if stmt.op in ("len", "size", "count", "ndim", "float", "int"):
        return SCALAR
    if prepends_axes(stmt):
        # x[None, :] is the broadcast of x's shape and of ones of one more
        # rank: a base standing for those ones keeps x's own bases visible
        source = of(stmt.args[0])
        new = sum(map(_new_axis, stmt.args[1].items))
        return source | {f"<ones: rank of {sorted(source)} + {new}>"}
    index = stmt.args[1] if stmt.op == "getitem" else None
    if isinstance(index, Index) and selects_once(index, set()):
        # one array indexed by one constant index: `x[:-1]` twice is one shape,
        # and so are `x[1:]` and `x[:-1]`, which leave one length
        lengths = slice_lengths(index)
        key = index if lengths is None else lengths
        return frozenset((f"{sorted(of(stmt.args[0]))}{key}",))
    return _own(name)


def slice_lengths(index: Index) -> tuple | None:
    """What `index` does to the lengths of the axes it slices, as a key equal
    for two indices exactly when they leave equal shapes of every array; None
    unless every item is a slice with int or None bounds and unit step.

    An axis of length n keeps `len(range(n)[a:b])`, a function of n that is
    linear between kinks at n = 0, |a|, |b|, |a| + |b| and ||a| - |b||: the
    key of an axis is its maximal linear pieces, (start, length, slope)."""
    keys = []
    for item in index.items:
        if not isinstance(item, Slice):
            return None
        bounds = [_int_bound(part) for part in (item.start, item.stop)]
        if _NOT_INT in bounds or _int_bound(item.step) not in (None, 1):
            return None
        cut = slice(*bounds)
        a, b = (0 if bound is None else abs(bound) for bound in bounds)
        kinks = sorted({0, a, b, a + b, abs(a - b)})
        pieces: list[tuple[int, int, int]] = []
        for i, start in enumerate(kinks):
            end = kinks[i + 1] if i + 1 < len(kinks) else start + 1
            rise = len(range(end)[cut]) - len(range(start)[cut])
            slope = rise // (end - start)
            if not pieces or pieces[-1][2] != slope:
                pieces.append((start, len(range(start)[cut]), slope))
        keys.append(tuple(pieces))
    while keys and keys[-1] == ((0, 0, 1),):
        keys.pop()  # a trailing `:` leaves its axis as it is
    return tuple(keys)


_NOT_INT = object()


def _int_bound(part) -> object:
    """A slice bound's value if it is an int or None; `_NOT_INT` otherwise."""
    if part is None:
        return None
    if isinstance(part, Const) and part.name is None:
        if part.value is None or type(part.value) is int:
            return part.value
    return _NOT_INT


def _own(name: str) -> Shape:
    return frozenset((name,))


def regions(fn: Function, active: set[str]) -> tuple[dict[str, Region], set[str]]:
    """Elementwise trees rooted at each active elementwise statement; a tree
    never reaches outside the block (loop body, branch arm) of its root.  A
    tree sympy finds undefined (`Region.defined`: `sin(x) / (x * 0.0)` is
    zoo * sin(x)) is differentiated one statement at a time, its numbers as
    values: numpy then computes the chain rule, inf or nan as it would."""
    counts = Counter(v.name for s in walk(fn.body) for v in uses(s))
    found: dict[str, Region] = {}
    absorbed: set[str] = set()
    for body in _blocks(fn.body):
        _block_regions(body, active, counts, found, absorbed)
    return found, absorbed


def _blocks(body):
    yield body
    for stmt in body:
        for inner in bodies(stmt):
            yield from _blocks(inner)


def _block_regions(body, active, uses, found, absorbed) -> None:
    assigns = [s for s in body if isinstance(s, Assign)]
    defs = {s.target.name: s for s in assigns}
    for stmt in reversed(assigns):
        name = stmt.target.name
        if name not in active or name in absorbed or name in found:
            continue
        if not is_elementwise(stmt.op):
            continue
        members: dict[str, Assign] = {}
        stack = [stmt]
        while stack:
            for _, arg in diff_args(stack.pop()):
                inner = defs.get(arg.name)
                if (
                    inner is not None
                    and (
                        is_elementwise(inner.op)
                        # a Piecewise inside clip's conditions would be mangled
                        and inner.op not in ("where", "clip")
                        or prepends_axes(inner)  # (`exp(-s)[None, :]`: one tree)
                    )
                    and arg.name in active
                    and uses[arg.name] == 1
                    and _same_line(inner.loc, stmt.loc)
                    and len(members) < MAX_REGION
                ):
                    members[arg.name] = inner
                    stack.append(inner)
        region = Region(stmt, members)
        if region.defined:
            found[name] = region
            absorbed.update(members)
            continue
        # sympy folds it to no number (1/0, log(0)): numpy's chain rule instead
        for part in (stmt, *members.values()):
            if is_elementwise(part.op):  # (a view: its own structural rule)
                found[part.target.name] = Region(part, {}, fold_numbers=False)


def _same_line(a: Loc | None, b: Loc | None) -> bool:
    return a is not None and b is not None and (a.file, a.line) == (b.file, b.line)


class SliceBounds:
    """Slice bounds as linear forms `{name: coefficient, None: constant}` over
    names that hold integers >= 0 (a shape entry, a length, such a value
    divided by a positive constant) bound once outside every loop, read off
    statements that bind their target once; None for a bound it cannot put
    in that form.  (A name bound in a loop may hold another value in the next
    step; sums and multiples of names bound outside do not.)"""

    def __init__(self, statements: list[Stmt]) -> None:
        count = Counter(n for s in walk(statements) for n in writes(s))
        self.defs = {
            s.target.name: s
            for s in walk(statements)
            if isinstance(s, Assign) and count[s.target.name] == 1
        }
        self.outside = {s.target.name for s in statements if isinstance(s, Assign)}

    def form(self, atom: Atom | None, default: int | None) -> dict | None:
        if atom is None:
            return None if default is None else {None: default}
        if isinstance(atom, Const):
            ok = type(atom.value) is int and atom.value >= 0
            return {None: atom.value} if ok else None
        stmt = self.defs.get(atom.name) if isinstance(atom, Var) else None
        if stmt is None:
            return None
        args = stmt.args
        if stmt.op in ("add", "mul"):
            forms = [self.form(a, None) for a in args]
            if None in forms:
                return None
            if stmt.op == "add":
                return {
                    k: forms[0].get(k, 0) + forms[1].get(k, 0)
                    for k in {*forms[0], *forms[1]}
                }
            for scale, form in (forms, forms[::-1]):
                if set(scale) == {None}:
                    return {k: scale[None] * v for k, v in form.items()}
            return None
        if atom.name in self.outside and self.natural(stmt):
            return {atom.name: 1, None: 0}
        return None

    def natural(self, stmt: Assign) -> bool:
        """Does `stmt` bind an integer >= 0?"""
        if stmt.op in ("len", "size", "count", "ndim"):
            return True
        first = stmt.args[0] if stmt.args else None
        made = self.defs.get(first.name) if isinstance(first, Var) else None
        if stmt.op == "getitem":  # an entry of a shape
            index = stmt.args[1].items
            return (
                made is not None
                and made.op == "shape"
                and len(index) == 1
                and isinstance(index[0], Const)
                and type(index[0].value) is int
            )
        if stmt.op == "floordiv":
            divisor = stmt.args[1]
            return (
                made is not None
                and self.natural(made)
                and isinstance(divisor, Const)
                and type(divisor.value) is int
                and divisor.value > 0
            )
        return False

    def below(self, a: dict | None, b: dict | None) -> bool:
        """Is `a <= b` for every value of the names (both >= 0)?"""
        if a is None or b is None:
            return False
        return all(b.get(k, 0) - a.get(k, 0) >= 0 for k in {*a, *b})

    def disjoint(self, first: Index, second: Index) -> bool:
        """Do two basic indices of the same array select no common element?"""
        if len(first.items) != len(second.items) or not all(
            isinstance(item, Slice)
            or (isinstance(item, Const) and type(item.value) is int)
            for item in first.items + second.items
        ):  # (`...`, `None` and arrays shift or span axes)
            return False
        for p, q in zip(first.items, second.items, strict=True):
            if not (isinstance(p, Slice) and isinstance(q, Slice)):
                continue
            if any(s.step not in (None, Const(1)) for s in (p, q)):
                continue
            starts = self.form(p.start, 0), self.form(q.start, 0)
            stops = self.form(p.stop, None), self.form(q.stop, None)
            if None in starts:
                continue
            if self.below(stops[0], starts[1]) or self.below(stops[1], starts[0]):
                return True
        return False


# ops whose result is a numpy value whatever their arguments: the numpy
# functions (but the three that return Python ints and tuples)
_ALWAYS = {
    name
    for name, op in OPS.items()
    if op.template.startswith("np.") and name not in ("shape", "ndim", "size")
}
# ops whose result is a numpy value when one of the arguments at these
# positions is: Python's operators (a numpy operand makes a numpy result),
# indexing, and helpers returning their first argument or a product with it
# run-time helpers, which return numbers or arrays (not the tuple ones)
_HELPERS = {
    name
    for name, op in OPS.items()
    if op.template.startswith("_") and name not in ("unpacked", "entries_grad")
}
_FROM: dict[str, tuple[int, ...]] = {
    "add": (0, 1),
    "sub": (0, 1),
    "mul": (0, 1),
    "truediv": (0, 1),
    "div": (0, 1),
    "pow": (0, 1),
    "matmul": (0, 1),
    "iadd": (0, 1),
    "neg": (0,),
    "pos": (0,),
    "T": (0,),
    "astype": (0,),
    "getitem": (0,),
    "getitem_copy": (0,),
    "entry_copy": (0,),
    "unbroadcast": (0,),
    "unbroadcast_mul": (0, 1),
}


def numpy_values(
    statements: list[Stmt], outside: set[str], numbers: frozenset[str] = frozenset()
) -> set[str]:
    """Names every binding of which is a numpy value (so it has `.shape`):
    a numpy function's result, a Python operator with a numpy operand, an
    index of a numpy value, or a copy or a saved entry of such values;
    parameters (`outside`) and names bound otherwise (a loop's carried values
    in SSA form, a merge) are not.  A product needs its other operand to be
    no list or tuple (`[1.0] * np.int64(2)` repeats the list): a numpy value,
    a constant, a name in `numbers` (known to hold a number or a numpy value:
    the checked seed) or arithmetic of those.  The largest such sets."""
    pushed: dict[str, list[tuple]] = {}
    for stmt in walk(statements):
        if isinstance(stmt, Push):
            pushed.setdefault(stmt.stack.name, []).append(stmt.values)
    stacks = {  # `for a, b in reversed(saved)` iterates over saved's entries
        s.target.name: s.args[0].name
        for s in walk(statements)
        if isinstance(s, Assign) and s.op == "reversed" and isinstance(s.args[0], Var)
    }
    # name -> for each binding, the values of which one numpy value makes it
    # one (True: always one; an empty list: never), whether the others
    # must be no lists (a product), and whether it is never a list anyway
    # (what a run-time helper returns)
    sources: dict[str, list[tuple[list, bool, bool]]] = {}

    def bind(target: Var, atoms: list, strict=False, listless=False) -> None:
        sources.setdefault(target.name, []).append((atoms, strict, listless))

    def saved(stack: str, targets) -> None:
        entries = pushed.get(stack, [])
        if any(len(values) != len(targets) for values in entries):
            entries = []  # (not one tuple per step: nothing is known)
        for i, target in enumerate(targets):
            for values in entries or [()]:  # (each push a binding; none: unknown)
                bind(target, [values[i]] if values else [])

    for stmt in walk(statements):
        if isinstance(stmt, Assign) and stmt.param("fn") is not None:
            bind(stmt.target, [])  # (printed as called: `math.exp`, `abs`, `max`)
        elif isinstance(stmt, Assign):
            positions = _FROM.get(stmt.op, ())
            made = [True] if stmt.op in _ALWAYS else [stmt.args[i] for i in positions]
            bind(stmt.target, made, stmt.op in ("mul", "iadd"), stmt.op in _HELPERS)
        elif isinstance(stmt, Copy):
            for target, value in zip(stmt.targets, stmt.values, strict=True):
                bind(target, [value])
        elif isinstance(stmt, Pop):
            saved(stmt.stack.name, stmt.targets)
        elif isinstance(stmt, For):
            iterable = stmt.iter.name if isinstance(stmt.iter, Var) else None
            if iterable in stacks and isinstance(stmt.target, tuple):
                saved(stacks[iterable], stmt.target)
            else:
                for target in for_targets(stmt):
                    bind(target, [])
    readers: dict[str, set[str]] = {}  # name -> the names bound from it
    for name, bindings in sources.items():
        for atoms, _, _ in bindings:
            for atom in atoms:
                if isinstance(atom, Var):
                    readers.setdefault(atom.name, set()).add(name)

    def no_list(atom) -> bool:
        return not isinstance(atom, Var) or atom.name in safe

    safe = (set(sources) | numbers) - (outside - numbers)
    safe = largest(
        safe,
        lambda name: name in numbers
        or all(
            listless or (atoms and all(no_list(a) for a in atoms))
            for atoms, _, listless in sources[name]
        ),
        readers,
    )

    def numpy(atom) -> bool:
        return atom is True or (isinstance(atom, Var) and atom.name in found)

    found = set(sources) - outside
    return largest(
        found,
        lambda name: all(
            any(numpy(a) for a in atoms) and (not strict or all(map(no_list, atoms)))
            for atoms, strict, _ in sources[name]
        ),
        readers,
    )


# Ops that make a list or tuple, or may return one (a user's function).
_LIST_MAKERS = {"make_list", "list_new", "list_append", "list_concat", "list_pop"}
_LIST_MAKERS |= {"tuple", "call", "custom", "opaque"}
# Ops whose result may be a list where their first argument may be one: an
# entry (of a list of lists) or a slice, a list written into, itself checked.
_LIST_KEEPERS = {"getitem", "setitem", "setitem_add", "setitem_sub", "unpacked"}
_LIST_KEEPERS |= {"bound"}


def maybe_lists(fn: Function, params: bool = True) -> set[str]:
    """Names that may hold a Python list or tuple when the function runs:
    its parameters, what list operations make, and what is bound from those
    (entries, slices, copies, a loop's carried values, a branch's merges).
    Every other name holds a number or a numpy value.  Without `params`:
    the names that hold a list the function makes."""
    found = set(fn.params) if params else set()
    statements = list(walk(fn.body))

    def may(atom: object) -> bool:
        return isinstance(atom, Var) and atom.name in found

    size = -1
    while size != len(found):
        size = len(found)
        for stmt in statements:
            if isinstance(stmt, Assign) and (
                stmt.op in _LIST_MAKERS
                or stmt.op in _LIST_KEEPERS
                and may(stmt.args[0])
            ):
                found.add(stmt.target.name)
            elif isinstance(stmt, Copy):
                found.update(
                    t.name
                    for t, v in zip(stmt.targets, stmt.values, strict=True)
                    if may(v)
                )
            elif isinstance(stmt, Pop):
                found.update(t.name for t in stmt.targets)
            elif isinstance(stmt, For) and may(stmt.iter):
                found.update(t.name for t in for_targets(stmt))
            elif isinstance(stmt, Loop):
                for c in stmt.carries:
                    if may(c.init) or may(c.next) or may(c.header):
                        found.update((c.header.name, c.out.name))
            elif isinstance(stmt, Branch):
                found.update(
                    m.out.name for m in stmt.merges if may(m.then) or may(m.orelse)
                )
    return found


def largest(found: set[str], ok: Callable[[str], bool], readers: dict) -> set[str]:
    """The largest subset of `found` whose every name is `ok` (which reads
    the set itself): a name dropped puts its readers back on the worklist, so
    the work is linear in the bindings, not quadratic."""
    work = list(found)
    while work:
        name = work.pop()
        if name in found and not ok(name):
            found.discard(name)
            work += readers.get(name, set()) & found
    return found
