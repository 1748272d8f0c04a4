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

from .ir import Assign, Atom, Function, Index, SetItem, Slice, Stmt, Var, uses
from .reverse import Adjoint

# Ops that allocate a buffer: two calls must stay two buffers.
_ALLOCATING = {"zeros", "ones", "empty", "copy"}


def optimize(
    primal: Function, adjoint: Adjoint
) -> tuple[list[Stmt], list[Stmt], tuple]:
    """(primal statements, adjoint statements, gradient atoms) to emit."""
    body, grads = _share(adjoint.body, adjoint.grads)
    ret = primal.body[-1]
    needed = {v.name for v in uses(ret)} | {g.name for g in grads if isinstance(g, Var)}
    body = _live(body, needed, keep={"seed"})
    primal_body = _live(list(primal.body[:-1]), needed, keep=set())
    return primal_body, body, grads


def _live(statements: list[Stmt], needed: set[str], keep: set[str]) -> list[Stmt]:
    """Drop statements whose targets nothing reads; updates `needed` in place."""
    kept: list[Stmt] = []
    for stmt in reversed(statements):
        target = stmt.target.name if isinstance(stmt, Assign | SetItem) else None
        if target is not None and target not in needed and target not in keep:
            continue
        kept.append(stmt)
        needed.update(v.name for v in uses(stmt))
    return kept[::-1]


def _share(statements: list[Stmt], grads: tuple) -> tuple[list[Stmt], tuple]:
    """Reuse the first of identical pure computations (value numbering)."""
    writes = Counter(s.target.name for s in statements if isinstance(s, Assign))
    unstable = {n for n, c in writes.items() if c > 1}
    unstable |= {s.target.name for s in statements if isinstance(s, SetItem)}
    seen: dict[tuple, Var] = {}
    alias: dict[str, Atom] = {}
    out: list[Stmt] = []
    for stmt in statements:
        stmt = _substitute(stmt, alias)
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
    grads = tuple(alias.get(g.name, g) if isinstance(g, Var) else g for g in grads)
    return out, grads


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
    return stmt
