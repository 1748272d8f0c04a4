"""Reusing the memory of dead temporaries: a product written into a buffer.

A large array costs more to allocate than to compute into: numpy takes memory
over 128 KB straight from the operating system, and touching it the first time
faults every page in (650 us for a (1000, 25, 10) float array here, against
200 us for the product itself).  So where a top-level product of two arrays,
`s = a * b`, has provably the shape of a temporary `t` that nothing reads
after it, `s` is printed `_mul_into(t, a, b)`, which multiplies into `t`'s
memory.  (A number times an array, as in `seed * (1 - t1**2)`, is left as it
reads.)  Guarantees:

* `t` is made by an elementwise op (a fresh array, or a number), assigned
  once and read more than once (so it has a name anyway); every read of `t`,
  and of every view of it, is a top-level statement before `s` whose result
  is a fresh value (an elementwise op, a reduction, a product) or another
  view of `t`, so no value read later shares `t`'s memory; `t` is neither
  returned nor a gradient, and is not one of `a`, `b` (forward mode reads
  those after `s` for its tangent);
* `s` is printed on a line of its own (a named value, or a temporary read
  more than once), never as a call inside an expression;
* the shapes are proved from the shape classes (`analysis.shape_classes`):
  `s` has one operand's class, the other broadcasts into it (a reduction's
  cotangent with its axes put back, `_keepdims(g, x)`, broadcasts into `x`),
  and that class is `t`'s;
* `_mul_into` writes into `t` only when `t` is a float array of at least
  128 KB and `a * b` has its dtype (arrays of it, or Python numbers); anything
  else is `a * b`.  The numbers are numpy's multiply either way, bit for bit.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from dataclasses import replace

from .analysis import SCALAR, Shape
from .ir import Assign, Atom, Branch, Const, Loop, Stmt, Var, uses, walk, writes
from .rules import OPS, VIEWS

# Ops whose results never share memory with their arguments.
_FRESH = {
    n
    for n, op in OPS.items()
    if op.kind == "elementwise" and n not in ("float", "float64")
}
_FRESH |= {"sum", "mean", "mean_all", "max", "min", "prod", "prod_grad"}
_FRESH |= {"sum_squares", "mean_squares"}
_FRESH |= {"matmul", "dot", "outer", "unbroadcast_mul", "extremum_grad"}
_FRESH |= {"matmul_lhs_grad", "matmul_rhs_grad", "dot_lhs_grad", "dot_rhs_grad"}
_FRESH |= {"shape", "size", "count", "len", "ndim", "zeros_grad", "written_grad"}
_FRESH |= {"zeros_buffer", "roll"}
_FRESH |= {"getitem_copy", "entry_copy", "mul_into"}
# Ops that may return their first argument (or a view of it), and only it.
_VIEWING = VIEWS - {"custom", "opaque", "call", "check_seed"}
# Ops that make a new array (or a number) a later product may be written into.
_BUFFERS = _FRESH & ({n for n, op in OPS.items() if op.kind == "elementwise"} - {"pos"})
_BUFFERS |= {"mul_into"}


def reuse(
    statements: list[Stmt], shapes: dict[str, Shape], kept: set[str]
) -> list[Stmt]:
    """`statements` (the top level of an emitted function) with products
    written into dead temporaries, as the module docstring says.  `shapes`
    are the classes of names whose every value has them (the primal's values,
    the cotangents); `kept` are the names the function returns."""
    count: dict[str, int] = {}
    for stmt in walk(statements):
        for name in writes(stmt):
            count[name] = count.get(name, 0) + 1
    defs = {
        s.target.name: s
        for s in statements
        if isinstance(s, Assign) and count[s.target.name] == 1
    }
    named = set(shapes) | kept  # the primal's values and the cotangents
    shapes = _derived(statements, shapes, defs)
    reads = Counter(v.name for s in walk(statements) for v in uses(s))
    readers: dict[str, list[int]] = defaultdict(list)  # name -> statements
    for at, stmt in enumerate(statements):
        for name in {v.name for s in walk([stmt]) for v in uses(s)}:
            readers[name].append(at)
    dead: dict[int, list[str]] = defaultdict(list)  # index -> buffers read last
    freed: set[str] = set()  # the names in `dead`: each is freed once
    for name, stmt in defs.items():
        # (a value read once is printed inside its reader: naming it for its
        # memory would cost a line and, for a small array, a call)
        if stmt.op in _BUFFERS and reads[name] > 1 and shapes.get(name, SCALAR):
            end = _last_read(statements, readers, name, kept)
            if end is not None:
                dead[end].append(name)
                freed.add(name)
    free: dict[Shape, list[str]] = defaultdict(list)  # heaps of names
    memo: dict[str, frozenset] = {}  # see _within
    out = list(statements)
    for at, stmt in enumerate(statements):
        for name in dead.pop(at - 1, ()):
            heapq.heappush(free[shapes[name]], name)
        if not (
            isinstance(stmt, Assign) and stmt.op == "mul" and stmt.target.name in defs
        ):
            continue
        if stmt.target.name not in named and reads[stmt.target.name] < 2:
            continue  # printed inside its reader: a call there reads badly
        shape = _product_shape(stmt.args, shapes, defs, memo)
        if shape is None or not free.get(shape):
            continue
        buffer = heapq.heappop(free[shape])
        out[at] = Assign(
            stmt.target, "mul_into", (Var(buffer), *stmt.args), (), stmt.loc
        )
        defs[stmt.target.name] = out[at]
        shapes[stmt.target.name] = shape
        end = _last_read(statements, readers, stmt.target.name, kept)
        if end is not None and reads[stmt.target.name] > 1:
            # (a product that was a buffer candidate itself is already in
            # `dead`: freed twice, its memory would hold two live values)
            if stmt.target.name not in freed:
                dead[end].append(stmt.target.name)
                freed.add(stmt.target.name)
    return out


def _derived(statements, shapes: dict[str, Shape], defs: dict) -> dict[str, Shape]:
    """`shapes` and the classes of the temporaries assigned once at the top
    level, from their ops: an elementwise result the union of its operands',
    `_unbroadcast(g, x)` x's; any other has none (it is not compared)."""
    shapes = dict(shapes)
    for stmt in statements:
        if not isinstance(stmt, Assign) or stmt.target.name in shapes:
            continue
        if stmt.target.name not in defs:
            continue
        known = [_class(a, shapes) for a in stmt.args]
        if stmt.op == "unbroadcast" and known[1] is not None:
            shapes[stmt.target.name] = known[1]
        elif OPS[stmt.op].kind == "elementwise" and None not in known:
            shapes[stmt.target.name] = frozenset().union(*known)
    return shapes


def changed(stmt: Stmt) -> list[str]:
    """The names `stmt` assigns or updates (`ir.writes`), and the buffer a
    product is written into: nothing reading the buffer may move past it."""
    found = writes(stmt)
    if isinstance(stmt, Assign) and stmt.op == "mul_into":
        found.append(stmt.args[0].name)
    return found


def plain(body: tuple[Stmt, ...]) -> tuple[Stmt, ...]:
    """`body` (emitted code read back, as symgrad.hessian does) with every
    `_mul_into(t, a, b)` as the pure product `a * b` it computes: forward
    mode may read `t` later, in the derivative of an expression of `t`."""
    out = []
    for stmt in body:
        if isinstance(stmt, Assign) and stmt.op == "mul_into":
            stmt = Assign(stmt.target, "mul", stmt.args[1:], (), stmt.loc)
        elif isinstance(stmt, Branch):
            stmt = replace(stmt, body=plain(stmt.body), orelse=plain(stmt.orelse))
        elif isinstance(stmt, Loop):
            stmt = replace(stmt, test=plain(stmt.test), body=plain(stmt.body))
        out.append(stmt)
    return tuple(out)


def _last_read(
    statements: list[Stmt], readers: dict[str, list[int]], name: str, kept: set[str]
) -> int | None:
    """The index of the last top-level statement reading `name` or a view of
    it, or None when a read may keep its memory alive (see the docstring);
    `readers` lists the statements reading each name."""
    group, pending, end = {name}, [name], -1
    while pending:
        member = pending.pop()
        for at in readers.get(member, ()):
            stmt = statements[at]
            if not isinstance(stmt, Assign):
                return None
            for i, arg in enumerate(stmt.args):
                if not (isinstance(arg, Var) and arg.name == member):
                    continue
                if stmt.op in _VIEWING and i == 0:
                    if stmt.target.name not in group:
                        group.add(stmt.target.name)
                        pending.append(stmt.target.name)
                elif stmt.op not in _FRESH and stmt.op not in _VIEWING:
                    return None
            end = max(end, at)
    return None if group & kept else end


def _product_shape(
    args, shapes: dict[str, Shape], defs: dict, memo: dict
) -> Shape | None:
    """The shape class of `a * b` when one operand's class is it and the
    other broadcasts into it; None when that is not proved, or when one is a
    number (`seed * (1 - t1**2)` stays as it reads: a scaled cotangent)."""
    if any(_within(x, shapes, defs, memo) == SCALAR for x in args):
        return None
    for x, y in (args, args[::-1]):
        shape = _class(y, shapes)
        if shape is not None and _within(x, shapes, defs, memo) <= shape:
            return shape
    return None


def _class(atom: Atom, shapes: dict[str, Shape]) -> Shape | None:
    if isinstance(atom, Var):
        return shapes.get(atom.name)
    return SCALAR if isinstance(atom, Const) and atom.name is None else None


def _within(atom: Atom, shapes: dict[str, Shape], defs: dict, memo: dict) -> frozenset:
    """Base shapes whose broadcast `atom`'s shape broadcasts into: a number
    none, `_keepdims(g, x)` x's, an elementwise result its operands', any
    other value its own class (or a set nothing contains).  Remembered in
    `memo`, so a chain of n statements costs n."""
    unknown = frozenset({object()})
    if isinstance(atom, Const):
        return SCALAR if atom.name is None else unknown
    if atom.name in memo:
        return memo[atom.name]
    stmt = defs.get(atom.name)
    if isinstance(stmt, Assign) and stmt.op == "keepdims":
        found = _class(stmt.args[1], shapes) or unknown
    elif (
        isinstance(stmt, Assign)
        and stmt.op in _FRESH
        and OPS[stmt.op].kind == "elementwise"
    ):
        found = frozenset().union(*(_within(a, shapes, defs, memo) for a in stmt.args))
    else:
        found = shapes.get(atom.name, unknown)
    memo[atom.name] = found
    return found
