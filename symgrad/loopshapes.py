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

A value is a numpy value (`numpy_values`) when every statement binding it
makes one: a numpy function's result, a Python operator with a numpy
operand, an index of a numpy value, or a copy or a saved entry of such
values.  Parameters, the seed and anything else are not.  Code that may run
on Python numbers alone (a `floats` body) is left alone by the caller."""

from __future__ import annotations

from .ir import Assign, Copy, For, If, Pop, Push, Stmt, Var, While, for_targets, walk
from .rules import OPS

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
    "unbroadcast": (0,),
    "unbroadcast_mul": (0, 1),
}
_INLINE = {"unbroadcast": "same_shape_sum", "unbroadcast_mul": "same_shape_mul"}


def inline(statements: list[Stmt], first_adjoint: int, outside: set[str]) -> list[Stmt]:
    """`statements` with the shape helpers of the adjoint's loop bodies
    inlined where their arguments are numpy values; `outside` names values
    bound before the statements run (parameters, the seed)."""
    arrays = numpy_values(statements, outside)

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


def numpy_values(statements: list[Stmt], outside: set[str]) -> set[str]:
    """Names every binding of which is a numpy value (see the module's
    docstring): the largest set closed under that rule."""
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
    # one (True: always one; an empty list: never)
    sources: dict[str, list[list]] = {}

    def bind(target: Var, atoms: list) -> None:
        sources.setdefault(target.name, []).append(atoms)

    def saved(stack: str, targets) -> None:
        entries = pushed.get(stack, [])
        if any(len(values) != len(targets) for values in entries):
            entries = []  # (not one tuple per step: nothing is known)
        for i, target in enumerate(targets):
            bind(target, [values[i] for values in entries])

    for stmt in walk(statements):
        if isinstance(stmt, Assign):
            positions = _FROM.get(stmt.op, ())
            made = [True] if stmt.op in _ALWAYS else [stmt.args[i] for i in positions]
            bind(stmt.target, made)
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
    found = set(sources) - outside

    def numpy(atom) -> bool:
        return atom is True or (isinstance(atom, Var) and atom.name in found)

    while True:
        keep = {
            name
            for name in found
            if all(any(numpy(a) for a in atoms) for atoms in sources[name])
        }
        if keep == found:
            return found
        found = keep
