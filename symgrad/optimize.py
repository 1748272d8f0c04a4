"""Optimizations on IR that keep the emitted code what a careful person writes.

`optimize(primal, adjoint)` returns the statements to emit:

* common subexpressions in the adjoint are computed once (value numbering over
  pure operations; variables that are re-assigned or updated in place never
  take part, so sharing can never alias a buffer that is later written);
* dead code is dropped: primal or adjoint statements whose values neither the
  returned value nor a gradient needs (every primitive is pure, so this is
  exact).  The seed check is always kept.

Folding single-use temporaries back into expressions happens in `emit`.
"""

from __future__ import annotations

from collections import Counter

from .ir import (
    Assign,
    Atom,
    Copy,
    For,
    Function,
    If,
    Index,
    Push,
    SetItem,
    Slice,
    Stmt,
    Var,
    While,
    uses,
    walk,
    writes,
)
from .reverse import Adjoint

# Ops that allocate a buffer (two calls must stay two buffers) or make a
# one-shot iterator.
_ALLOCATING = {"zeros", "ones", "empty", "copy", "zeros_grad", "owned", "zero_at"}
_ALLOCATING |= {"getitem_copy", "written_grad", "reversed_range", "new_stack"}
_ALLOCATING |= {"list_new", "make_list", "list_append", "list_pop"}


def optimize(
    primal: Function, adjoint: Adjoint
) -> tuple[list[Stmt], list[Stmt], tuple]:
    """(primal statements, adjoint statements, gradient atoms) to emit."""
    written = Counter(n for s in walk(adjoint.body) for n in writes(s))
    unstable = {n for n, c in written.items() if c > 1}
    unstable |= {s.target.name for s in walk(adjoint.body) if isinstance(s, SetItem)}
    alias: dict[str, Atom] = {}
    body = _share(adjoint.body, unstable, alias)
    grads = tuple(
        alias.get(g.name, g) if isinstance(g, Var) else g for g in adjoint.grads
    )
    ret = primal.body[-1]
    needed = {v.name for v in uses(ret)} | {g.name for g in grads if isinstance(g, Var)}
    body = _live(body, needed, keep={"seed"})
    forward = adjoint.forward if adjoint.forward is not None else primal.body[:-1]
    primal_body = _live(list(forward), needed, keep=set())
    return primal_body, body, grads


def _live(statements, needed: set[str], keep: set[str]) -> list[Stmt]:
    """Drop statements whose targets nothing reads; updates `needed` in place.

    Inside a loop everything the loop reads counts as needed (a value may be
    read by the next iteration); stack pushes and pops are always kept."""
    kept: list[Stmt] = []
    for stmt in reversed(statements):
        if isinstance(stmt, Assign | SetItem):
            target = stmt.target.name
            if target not in needed and target not in keep:
                continue
        elif isinstance(stmt, Copy):
            pairs = [
                (t, v)
                for t, v in zip(stmt.targets, stmt.values, strict=True)
                if t.name in needed
            ]
            if not pairs:
                continue
            stmt = Copy(
                tuple(t for t, _ in pairs), tuple(v for _, v in pairs), stmt.loc
            )
        elif isinstance(stmt, If):
            arms = [_live(arm, set(needed), keep) for arm in (stmt.body, stmt.orelse)]
            if not arms[0] and not arms[1]:
                continue
            stmt = If(stmt.cond, tuple(arms[0]), tuple(arms[1]), stmt.loc)
            needed.update(v.name for s in walk(arms[0] + arms[1]) for v in uses(s))
        elif isinstance(stmt, For | While):
            inside = needed | {v.name for s in walk([stmt]) for v in uses(s)}
            inner = {v.name for s in walk([stmt]) for v in uses(s)}
            needed |= inner
            if isinstance(stmt, For):
                stmt = For(
                    stmt.target,
                    stmt.iter,
                    tuple(_live(stmt.body, set(inside), keep)),
                    stmt.loc,
                )
            else:
                test = _live(stmt.test, set(inside), keep)
                body = _live(stmt.body, set(inside), keep)
                stmt = While(tuple(test), stmt.cond, tuple(body), stmt.loc)
        kept.append(stmt)
        needed.update(v.name for v in uses(stmt))
    return kept[::-1]


def _share(statements, unstable: set[str], alias: dict[str, Atom]) -> list[Stmt]:
    """Reuse the first of identical pure computations (value numbering), within
    one statement list; nested lists are numbered separately."""
    seen: dict[tuple, Var] = {}
    out: list[Stmt] = []
    for stmt in statements:
        stmt = _substitute(stmt, alias)
        if isinstance(stmt, If):
            stmt = If(
                stmt.cond,
                tuple(_share(stmt.body, unstable, alias)),
                tuple(_share(stmt.orelse, unstable, alias)),
                stmt.loc,
            )
        elif isinstance(stmt, For):
            body = tuple(_share(stmt.body, unstable, alias))
            stmt = For(stmt.target, stmt.iter, body, stmt.loc)
        if not isinstance(stmt, Assign):
            out.append(stmt)
            continue
        key = (stmt.op, stmt.args, stmt.params)
        stable = stmt.target.name not in unstable and stmt.op not in _ALLOCATING
        reads = {v.name for v in uses(stmt)}
        if stable and not reads & unstable and key in seen:
            alias[stmt.target.name] = seen[key]
            continue
        if stable and not reads & unstable:
            seen[key] = stmt.target
        out.append(stmt)
    return out


def _substitute(stmt: Stmt, alias: dict[str, Atom]) -> Stmt:
    if not alias:
        return stmt

    def sub(arg):
        if isinstance(arg, Var):
            return alias.get(arg.name, arg)
        if isinstance(arg, Index):
            return Index(tuple(sub(item) for item in arg.items))
        if isinstance(arg, Slice):
            return Slice(
                *(
                    None if p is None else sub(p)
                    for p in (arg.start, arg.stop, arg.step)
                )
            )
        return arg

    if isinstance(stmt, Assign):
        return Assign(
            stmt.target,
            stmt.op,
            tuple(sub(a) for a in stmt.args),
            stmt.params,
            stmt.loc,
        )
    if isinstance(stmt, SetItem):
        return SetItem(
            stmt.target, sub(stmt.index), sub(stmt.value), stmt.mode, stmt.loc
        )
    if isinstance(stmt, Copy):
        return Copy(stmt.targets, tuple(sub(v) for v in stmt.values), stmt.loc)
    if isinstance(stmt, Push):
        return Push(stmt.stack, tuple(sub(v) for v in stmt.values), stmt.loc)
    if isinstance(stmt, If):
        return If(sub(stmt.cond), stmt.body, stmt.orelse, stmt.loc)
    if isinstance(stmt, For):
        return For(stmt.target, sub(stmt.iter), stmt.body, stmt.loc)
    return stmt
