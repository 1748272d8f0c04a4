"""Identical computations in the primal computed once, before reverse mode.

A function often computes one value twice: `e = y[t] - l[t - 1]` and then
`l[t] = l[t - 1] + alpha * e` read `l[t - 1]` twice; an LSTM's gates slice
at `3 * H` on two lines.  Computed twice, the value is also differentiated
twice: in a loop each copy is saved for the reverse sweep and each adds its
own cotangent back.  `share(fn)` keeps the
first computation and reads it in place of the later ones, so the emitted
code computes, saves and differentiates it once, as a careful person's code
does.  Guarantees:

* only operations that compute a value from their operands and nothing
  else, with constant partial derivatives or none, are shared.  None: every
  elementwise operation of values no derivative reaches from `wrt` (RK4's
  `-g / L` on four lines).  Constant: `+`, `-`, `*` by a number
  written in the source, comparisons, indexing (a read of one SSA version
  of an array: a write makes a new version, so a read after it is another
  computation), shapes and lengths, sums and means.  A partial that depends
  on the operands (`np.sqrt`, `/`, `a * b`) may be inf or nan where
  `np.where` masks the value or where an arm that alone reads it does not
  run; shared, the value is read there too, and its derivative would be
  nan where the function's is 0.  Nothing that allocates an array a later
  write may go into (`np.zeros`, copies, lists), calls a user's function (a
  custom rule), checks, or writes is shared;
* two computations are the same when the operation, its parameters and its
  operands are: the same variables, and constants of the same type and
  spelling (`0.0` is not `-0.0`, `1` is not `1.0`);
* the first computation runs before every read of the later one: it is
  earlier in the same block, or before the loop whose body holds the later
  one; a value computed in an arm or a loop body is never read outside it,
  an arm reads nothing shared from before its branch (its cotangent would
  then be summed after the branch, on both paths), and a while loop's test
  and body are numbered apart;
* two computations on one line are left two: a line's expression is
  differentiated as one (`symbolic`), and one leaf for both would sum their
  partials into one polynomial (Rosenbrock's two `x[:-1]`: 8% slower);
* no value written into is shared, nor one that may be written through
  another name: a write's array, the arrays it may be a view of (or be, as
  Python's `min` returns an argument), the values a loop carries into it or
  a branch merges into it, and any value held in a list or tuple (the
  in-place planner writes into an array in place when its old version is
  read no more: a second name for it would see that);
* so every value is the one the function computes, bit for bit (numpy's
  functions are deterministic; a later rewrite may round a sum in another
  order, as it does for the function's own `np.sum(a * a)`); what may
  differ is a warning numpy gives once rather than twice.
"""

from __future__ import annotations

import math
from dataclasses import replace

from . import analysis
from .ir import (
    Assign,
    Branch,
    Const,
    Function,
    Index,
    Loop,
    Slice,
    Stmt,
    Var,
    arg_vars,
    rename,
    walk,
)
from .rules import OPS, VIEWS, WRITES_ARGUMENT

# Operations whose value depends on their operands alone and whose partial
# derivatives are constants (`*` only by a number written in the source): a
# value np.where masks, or one an arm alone reads, gets a zero cotangent
# there, and zero times a constant is zero, shared or not.  A partial that
# depends on the operands may be inf or nan where a mask hides it
# (`np.where(x > 0, np.sqrt(x), 0.0)`, `np.where(x != 0, a * (1 / x), 0.0)`
# on two lines: shared, the value is read outside the mask, and the
# derivative there is nan for the function's 0).
_PURE = {"add", "sub", "neg", "pos", "mul"}
_PURE |= {"eq", "ne", "lt", "le", "gt", "ge", "floordiv", "mod"}
_PURE |= {"getitem", "shape", "len", "size", "ndim", "T", "transpose"}
_PURE |= {"sum", "mean"}


# Operations that hold their operands (a write through the list reaches them).
_HOLDING = {"make_list", "list_append", "list_concat", "tuple", "entries_grad"}


def share(fn: Function, wrt: tuple[str, ...] = ()) -> Function:
    """`fn` with each repeated pure computation read from its first."""
    alias: dict[str, str] = {}
    varied = set(wrt)
    analysis.varied(fn.body, varied)
    body = _block(fn.body, {}, alias, _maybe_written(fn), varied)
    return replace(fn, body=body) if alias else fn


def _maybe_written(fn: Function) -> set[str]:
    """Values that may be written into, under their own name or another."""
    found: set[str] = set()
    sources: dict[str, set[str]] = {}  # value -> what it may be (a view of)
    for stmt in walk(fn.body):
        if isinstance(stmt, Assign):
            names = {v.name for v in arg_vars(stmt.args)}
            if (
                stmt.op in WRITES_ARGUMENT
                and stmt.args
                and isinstance(stmt.args[0], Var)
            ):
                found.add(stmt.args[0].name)
            if stmt.op in _HOLDING:
                found |= names
            if (
                stmt.op in VIEWS
                or stmt.op in WRITES_ARGUMENT
                or stmt.param("fn") in ("max", "min")  # (Python's max and min
            ):  # return one of their arguments itself)
                sources.setdefault(stmt.target.name, set()).update(names)
        elif isinstance(stmt, Branch):
            for m in stmt.merges:
                sources.setdefault(m.out.name, set()).update(
                    a.name for a in (m.then, m.orelse) if isinstance(a, Var)
                )
        elif isinstance(stmt, Loop):
            for c in stmt.carries:
                both = {a.name for a in (c.init, c.next) if isinstance(a, Var)}
                for name in (c.header.name, c.out.name):
                    sources.setdefault(name, set()).update(both)
    pending = list(found)
    while pending:
        for name in sources.get(pending.pop(), ()):
            if name not in found:
                found.add(name)
                pending.append(name)
    return found


def _block(
    body: tuple[Stmt, ...],
    outer: dict[tuple, Assign],
    alias: dict[str, str],
    written: set[str],
    varied: set[str],
) -> tuple[Stmt, ...]:
    seen = dict(outer)  # (a nested block sees what encloses it, not the reverse)
    out: list[Stmt] = []
    for stmt in body:
        if isinstance(stmt, Branch):
            stmt = replace(  # (an arm shares nothing from before the branch:
                # a value read there and in the condition would have its
                # cotangent summed after the branch, not in the arm)
                stmt,
                body=_block(stmt.body, {}, alias, written, varied),
                orelse=_block(stmt.orelse, {}, alias, written, varied),
            )
            stmt = rename(stmt, alias)  # (its condition, and merges of the arms')
        elif isinstance(stmt, Loop):
            stmt = replace(
                stmt,
                test=_block(stmt.test, seen, alias, written, varied),
                body=_block(stmt.body, seen, alias, written, varied),
            )
            stmt = rename(stmt, alias)  # (its bounds, and carries of the body's)
        else:
            stmt = rename(stmt, alias)
        if (
            isinstance(stmt, Assign)
            and (
                (
                    stmt.op in _PURE
                    and (stmt.op != "mul" or any(map(_number, stmt.args)))
                )
                or (
                    getattr(OPS.get(stmt.op), "kind", None) == "elementwise"
                    and stmt.target.name not in varied  # (no derivative at all)
                )
            )
            and stmt.target.name not in written
        ):
            params = tuple((k, _key(Const(v))) for k, v in stmt.params)
            key = (stmt.op, params, tuple(_key(a) for a in stmt.args))
            first = seen.get(key)
            if first is not None and not _same_line(first, stmt):
                alias[stmt.target.name] = first.target.name
                continue
            if first is None:
                seen[key] = stmt
        out.append(stmt)
    return tuple(out)


def _number(arg: object) -> bool:
    """A finite number written in the source (`2.0 * y`, `3 * H`)?"""
    return (
        isinstance(arg, Const)
        and arg.name is None
        and type(arg.value) in (int, float)
        and math.isfinite(arg.value)
    )


def _same_line(first: Assign, stmt: Assign) -> bool:
    """Are both on one line?  Its expression is differentiated as one (see
    `symbolic`), which reuses its own values: one leaf for both reads would
    sum their partials into one polynomial, more work than the two."""
    a, b = first.loc, stmt.loc
    return a is not None and b is not None and (a.file, a.line) == (b.file, b.line)


def _key(arg: object) -> object:
    """An operand as compared: a constant by its type and spelling."""
    if isinstance(arg, Const) and arg.name is not None:
        return ("name", arg.name)
    if isinstance(arg, Const):
        return (type(arg.value), repr(arg.value))
    if isinstance(arg, Index):
        return ("index", arg.wrapped, tuple(_key(i) for i in arg.items))
    if isinstance(arg, Slice):
        return ("slice", _key(arg.start), _key(arg.stop), _key(arg.step))
    return arg  # (a Var, or None for a slice's missing bound)
