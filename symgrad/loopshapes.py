"""In a reverse loop, the shape test of a cotangent's sum printed inline.

`_unbroadcast(g, x)` sums a cotangent back to the shape of the operand `x`
that numpy broadcast; `_unbroadcast_mul(g, p, x)` does so for the product
`g * p`.  Almost always there is nothing to sum: the shapes are equal.  A
call costs 0.2-0.6 us of Python, paid on every step of a loop (the LSTM's
reverse loop made eight a step).  In the body of a loop of the adjoint,
where every argument is provably a numpy value (so it has `.shape`), such a
call is printed as its common case behind the test, and the helper in the
other arm:

    t9 if t9.shape == o.shape else _sum_to(t9, o.shape)
    g * p if g.shape == p.shape == x.shape else _unbroadcast_mul(g, p, x)

Both arms compute what the helper computes for those arguments (it returns
`g`, or `g * p`, when the shapes are equal), so the values are the same.

Which values are numpy values is `analysis.numpy_values`.  Code that may
run on Python numbers alone (a `floats` body) is left alone by the caller."""

from __future__ import annotations

import ast

from .analysis import numpy_values
from .ir import Assign, For, If, Stmt, Var, While

_INLINE = {"unbroadcast": "same_shape_sum", "unbroadcast_mul": "same_shape_mul"}


def inline(statements: list[Stmt], first_adjoint: int, outside: set[str]) -> list[Stmt]:
    """`statements` with the shape helpers of the adjoint's loop bodies
    inlined where their arguments are numpy values; `outside` names values
    bound before the statements run (parameters; the seed, which the
    adjoint reads only after `_check_seed` made it a number or an array)."""
    arrays = numpy_values(statements, outside - {"seed"}, frozenset({"seed"}))

    def rewrite(stmt: Stmt, in_loop: bool) -> Stmt:
        if isinstance(stmt, Assign):
            if (
                in_loop
                and stmt.op in _INLINE
                and all(isinstance(a, Var) and a.name in arrays for a in stmt.args)
            ):
                return Assign(stmt.target, _INLINE[stmt.op], stmt.args, (), stmt.loc)
            return stmt
        if isinstance(stmt, For):
            return For(stmt.target, stmt.iter, block(stmt.body, True), stmt.loc)
        if isinstance(stmt, While):
            test, body = block(stmt.test, True), block(stmt.body, True)
            return While(test, stmt.cond, body, stmt.loc)
        if isinstance(stmt, If):
            body, orelse = block(stmt.body, in_loop), block(stmt.orelse, in_loop)
            return If(stmt.cond, body, orelse, stmt.loc)
        return stmt

    def block(body, in_loop: bool) -> tuple[Stmt, ...]:
        return tuple(rewrite(s, in_loop) for s in body)

    adjoint = [rewrite(s, False) for s in statements[first_adjoint:]]
    return statements[:first_adjoint] + adjoint


class ShapeTestsAsCalls(ast.NodeTransformer):
    """Emitted code read back (a Hessian's forward mode, `verify`'s sympy
    run): the shape tests printed in a loop, `g if g.shape ==
    x.shape else _sum_to(g, x.shape)` and `g * p if ... else
    _unbroadcast_mul(g, p, x)`, as the calls they stand for,
    `_unbroadcast(g, x)` and `_unbroadcast_mul(g, p, x)`: the same numbers on
    every input, and calls the forward mode has rules for."""

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        self.generic_visit(node)
        call = node.orelse
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            return node
        if call.func.id == "_unbroadcast_mul":
            return call
        shape = call.args[1] if call.func.id == "_sum_to" else None
        if isinstance(shape, ast.Attribute) and shape.attr == "shape":
            return ast.Call(
                ast.Name("_unbroadcast", ast.Load()), [call.args[0], shape.value], []
            )
        return node
