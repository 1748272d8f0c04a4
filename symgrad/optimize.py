"""Optimizations on IR that keep the emitted code what a careful person writes.

`dead_code` drops primal statements whose values neither the returned value
nor the adjoint needs (all primitives are pure, so dropping them is exact).
Folding single-use temporaries back into expressions happens in `emit`.
"""

from __future__ import annotations

from .ir import Assign, Function, Stmt, Var, uses
from .reverse import Adjoint


def dead_code(primal: Function, adjoint: Adjoint) -> list[Stmt]:
    """The primal statements (without the Return) that something reads."""
    needed = {v.name for s in adjoint.body for v in uses(s)}
    needed.update(g.name for g in adjoint.grads if isinstance(g, Var))
    needed.update(v.name for v in uses(primal.body[-1]))
    kept: list[Stmt] = []
    for stmt in reversed(primal.body[:-1]):
        if isinstance(stmt, Assign) and stmt.target.name not in needed:
            continue
        kept.append(stmt)
        needed.update(v.name for v in uses(stmt))
    return kept[::-1]
