"""Forward mode: primal IR to a primal IR that also computes tangents.

`jvp(fn, wrt, names)` returns a new SSA `Function` whose body computes every
value of `fn` and, beside each active one (it depends on a `wrt` parameter
and reaches the result), its tangent `x_dot`: the directional derivative
along the tangents given for the `wrt` parameters.  Guarantees:

* the result is ordinary primal IR (`Branch`, `Loop`, `Merge`, `Carry`), so
  the optimizer, the in-place planner and the emitter treat it as they treat
  `fn` (reverse mode cannot differentiate it again: the tangent helpers such
  as `broadcast_tangent` have no adjoints);
* elementwise trees are differentiated as one sympy expression, as in reverse
  mode (`x*x + 3*x + 1` has tangent `(2*x + 3) * x_dot`); every other op has
  a tangent rule in `rules.TANGENTS`, and one without is refused by name;
* a tangent has its value's shape: an elementwise result that may be larger
  than every active operand is spread with `_broadcast_tangent`;
* the tangents of two different values are never one array when either is
  written into, so writing into one tangent in place cannot change another;
* the tangent parameters are new parameters `<name>_dot`; the returned
  tangent is `Return.aux` of the new function (zeros when the result does not
  depend on `wrt`).
"""

from __future__ import annotations

import dataclasses
import functools

import sympy as sp

from . import buffers
from .analysis import (
    SCALAR,
    activity,
    float_arrays,
    float_values,
    is_float_atom,
    regions,
    shape_classes,
)
from .errors import Loc, NoDerivativeError
from .inplace import WRITES
from .ir import (
    Assign,
    Atom,
    Branch,
    Carry,
    Const,
    Function,
    Loop,
    Merge,
    Return,
    Stmt,
    Var,
    name_of,
    walk,
)
from .names import Names
from .rules import OPS, TANGENTS, check_custom
from .symbolic import Region


class _Builder:
    """Appends statements to the block being built; `rules.Builder`."""

    def __init__(self, names: Names, floats: set[str], fn: Function):
        self.names, self.floats = names, floats
        self.body: list[Stmt] = []
        self.loc: Loc | None = None
        self.written = _written(fn)
        # Values made empty: their tangents are made the same way, not read
        # from them (a read would keep their in-place writes copies).
        self.empty = {
            s.target.name: (s.op, s.args)
            for s in walk(fn.body)
            if isinstance(s, Assign)
            and s.op in ("list_new", "zeros", "zeros_grad", "zeros_buffer")
            and not s.params
        }

    def op(self, name: str, *args, **params) -> Atom:
        if name == "float_tangent" and args[1].name in self.floats:
            return args[0]
        if name == "kept_grad" and name_of(args[2]) in self.floats:
            return args[0]
        hint = None
        if name == "zeros_tangent" and name_of(args[0]) in self.written:
            hint = f"{args[0].name}_dot"  # (written into in place: named)
            name, args = self.empty.get(args[0].name, (name, args))
        target = Var(self.names.fresh(hint))
        items = tuple(sorted((k, v) for k, v in params.items()))
        self.body.append(Assign(target, name, tuple(args), items, self.loc))
        return target

    def emit(self, op: str, args: tuple) -> Atom:
        return self.op(op, *args)


class _Forward:
    def __init__(
        self, fn: Function, wrt: tuple[str, ...], names: Names, generated: bool
    ):
        self.fn, self.names = fn, names
        self.active = activity(fn, wrt, forward=True, checked=not generated)
        self.active |= set(wrt)
        self.regions, self.absorbed = regions(fn, self.active)
        self.shapes = shape_classes(fn)
        self.b = _Builder(names, float_arrays(fn), fn)
        self.is_float = functools.partial(
            is_float_atom, floats=self.active | float_values(fn)
        )
        self.params = tuple(Var(names.fresh(f"{p}_dot")) for p in wrt)
        self.tangent: dict[str, Atom] = dict(zip(wrt, self.params, strict=True))
        self.written = self.b.written
        self.owner: dict[str, str] = {t.name: p for p, t in self.tangent.items()}

    def run(self) -> Function:
        ret = self.fn.body[-1]
        assert isinstance(ret, Return)
        body = self.block(self.fn.body[:-1])
        self.b.body, self.b.loc = body, ret.loc
        out = self.dot(ret.value)
        if out is None:
            out = self.zeros(ret.value)
        elif out in self.params:  # `return x`: never hand back the caller's array
            out = self.b.op("owned", out)
        body.append(Return(ret.value, ret.loc, out))
        params = self.fn.params + tuple(p.name for p in self.params)
        return Function(self.fn.name, params, tuple(body), self.fn.loc)

    # --- blocks ---------------------------------------------------------------

    def block(self, statements) -> list[Stmt]:
        saved = self.b.body
        self.b.body = out = []
        for stmt in statements:
            if isinstance(stmt, Assign):
                out.append(stmt)
                self.assignment(stmt)
            elif isinstance(stmt, Branch):
                out.append(self.branch(stmt))
            elif isinstance(stmt, Loop):
                out.append(self.loop(stmt))
            else:
                out.append(stmt)
        self.b.body = saved
        return out

    def branch(self, stmt: Branch) -> Branch:
        body, orelse = self.block(stmt.body), self.block(stmt.orelse)
        merges = list(stmt.merges)
        for m in stmt.merges:
            if m.out.name not in self.active:
                continue
            then = self.dot_or_zero(m.then, body)
            other = self.dot_or_zero(m.orelse, orelse)
            out = Var(self.names.fresh(f"{m.out.name}_dot"))
            merges.append(Merge(out, then, other))
            self.bind(m.out.name, out)
        return Branch(stmt.cond, tuple(body), tuple(orelse), tuple(merges), stmt.loc)

    def loop(self, stmt: Loop) -> Loop:
        moving = [
            c
            for c in stmt.carries
            if c.header.name in self.active or c.out.name in self.active
        ]
        headers = {}
        for c in moving:
            headers[c.header.name] = Var(self.names.fresh(f"{c.header.name}_dot"))
            self.tangent[c.header.name] = headers[c.header.name]
        inits = [self.dot_or_zero(c.init, self.b.body) for c in moving]
        test = self.block(stmt.test)
        body = self.block(stmt.body)
        carries = list(stmt.carries)
        for c, init in zip(moving, inits, strict=True):
            header = headers[c.header.name]
            following = self.dot_or_zero(c.next, body)
            out = Var(self.names.fresh(f"{c.out.name}_dot"))
            carries.append(Carry(header, init, following, out))
            self.tangent[c.out.name] = out
        return Loop(
            stmt.index,
            stmt.bounds,
            tuple(test),
            stmt.cond,
            tuple(carries),
            tuple(body),
            stmt.loc,
        )

    # --- statements -----------------------------------------------------------

    def assignment(self, stmt: Assign) -> None:
        name = stmt.target.name
        if name not in self.active or name in self.absorbed:
            return
        self.b.loc = stmt.loc
        if name in self.regions:
            result = self.region(self.regions[name])
        else:
            result = self.structural(stmt)
        if result is None:
            return
        last = self.b.body[-1] if self.b.body else None
        temps = self.names.made_temps
        if (
            isinstance(last, Assign)
            and last.target == result
            and result.name in temps
            and name not in temps
        ):
            result = Var(self.names.fresh(f"{name}_dot"))
            self.b.body[-1] = dataclasses.replace(last, target=result)
        self.bind(name, result)

    def region(self, region: Region) -> Atom | None:
        leaves = [
            atom
            for atom in region.leaves.values()
            if isinstance(atom, Var) and self.dot(atom) is not None
        ]
        if not leaves:
            return None
        tangents = tuple(f"<tangent {leaf.name}>" for leaf in leaves)
        shared, partials = region.partials(leaves, self.names.fresh, tangents)
        lowering = region.lowering(self.b.emit, self.is_float)
        partials = lowering.define(shared, partials)
        total = sp.Integer(0)
        for leaf, partial, name in zip(leaves, partials, tangents, strict=True):
            dot = region.renamed[name]
            lowering.bind(dot, self.dot(leaf), True)
            total += partial * dot
        if total == 0:
            return None
        result = lowering.lower(sp.piecewise_fold(total))
        # (a leaf whose partial is 0, `x` of `s + x - x`, gives no shape)
        shaping = [leaf for leaf, p in zip(leaves, partials, strict=True) if p != 0]
        if not self._full_shape(region, total, shared, shaping):
            result = self.b.op("broadcast_tangent", result, region.root.target)
        return result

    def _full_shape(self, region: Region, total, shared, leaves) -> bool:
        """Has the tangent expression `total` surely the region's shape?  It
        has when an active leaf has that shape, or when every leaf that may be
        an array appears in it (numpy broadcasts it as it did the primal)."""
        root = self.shapes[region.root.target.name]
        if any(self.shapes[leaf.name] == root for leaf in leaves):
            return True
        if any(m.op == "getitem" for m in region.members.values()):
            return False  # (a view's leading axes are in no leaf's tangent)
        definitions = dict(shared)
        seen: set[sp.Symbol] = set()
        stack = list(total.free_symbols)
        while stack:
            sym = stack.pop()
            if sym not in seen:
                seen.add(sym)
                stack += definitions.get(sym, sp.Integer(0)).free_symbols
        for sym, atom in region.leaves.items():
            scalar = (
                self.shapes.get(atom.name) == SCALAR
                if isinstance(atom, Var)
                else atom.name is not None and "." in atom.name
            )
            dot = region.renamed.get(f"<tangent {name_of(atom)}>")
            if not scalar and region.renamed[sym.name] not in seen and dot not in seen:
                return False
        return True

    def structural(self, stmt: Assign) -> Atom | None:
        rule = TANGENTS.get(stmt.op)
        op = OPS[stmt.op]
        dots = tuple(
            None if i in op.nondiff or not isinstance(a, Var) else self.dot(a)
            for i, a in enumerate(stmt.args)
        )
        if all(d is None for d in dots):
            return None
        if rule is None:
            raise NoDerivativeError(
                f"'{op.template.split('(')[0].format('')}' has no forward-mode "
                "(tangent) rule",
                stmt.loc,
                "use reverse mode (symgrad.grad), or give the function a custom rule",
            )
        check_custom(stmt, "jvp", "forward")
        params = dict(op.params)
        params.update((k, v) for k, v in stmt.params if k != "fn")
        return rule(self.b, dots, stmt.target, *stmt.args, **params)

    # --- tangents -------------------------------------------------------------

    def dot(self, atom: Atom) -> Atom | None:
        return self.tangent.get(atom.name) if isinstance(atom, Var) else None

    def dot_or_zero(self, atom: Atom, body: list[Stmt]) -> Atom:
        found = self.dot(atom)
        if found is not None:
            return found
        saved, self.b.body = self.b.body, body
        zero = self.zeros(atom)
        self.b.body = saved
        return zero

    def zeros(self, atom: Atom) -> Atom:
        if isinstance(atom, Const) and isinstance(atom.value, bool | int | float):
            return Const(0.0)
        return self.b.op("zeros_tangent", atom)

    def bind(self, name: str, tangent: Atom) -> None:
        """Make `tangent` the tangent of `name`, copying it when it is already
        another value's and either may be written into in place."""
        if isinstance(tangent, Var):
            other = self.owner.get(tangent.name)
            if other is not None and other != name:
                if {name, other} & self.written:
                    tangent = self.b.op("copy", tangent)
            self.owner.setdefault(tangent.name, name)
        self.tangent[name] = tangent


def jvp(
    fn: Function, wrt: tuple[str, ...], names: Names, generated: bool = False
) -> Function:
    """`fn` extended with tangents along its `wrt` parameters (see above);
    `generated`: `fn` is code symgrad emitted (see `analysis.activity`)."""
    if generated:
        fn = dataclasses.replace(fn, body=buffers.plain(fn.body))
    return _Forward(fn, wrt, names, generated).run()


def _written(fn: Function) -> set[str]:
    """Values written into in place, directly or as the start of a loop-carried
    or merged value that is."""
    found = {
        s.args[0].name
        for s in walk(fn.body)
        if isinstance(s, Assign) and s.op in WRITES and isinstance(s.args[0], Var)
    }
    links: list[tuple[str, Atom]] = []
    for s in walk(fn.body):
        if isinstance(s, Branch):
            links += [(m.out.name, a) for m in s.merges for a in (m.then, m.orelse)]
        elif isinstance(s, Loop):
            for c in s.carries:
                links += [(c.header.name, c.init), (c.header.name, c.next)]
                links.append((c.out.name, c.header))
    grown = True
    while grown:
        grown = False
        for out, source in links:
            if out in found and isinstance(source, Var) and source.name not in found:
                found.add(source.name)
                grown = True
    return found
