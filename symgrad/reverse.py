"""Reverse mode: primal IR to adjoint IR.

`reverse(fn, wrt, names)` returns the statements that compute the gradient of
`fn`'s return value with respect to the parameters in `wrt`, given the output
cotangent in the variable `seed`.  Guarantees:

* activity analysis: adjoint code exists only for values that depend on a
  `wrt` parameter *and* reach the output;
* elementwise trees from one source line are differentiated as one sympy
  expression (see `symbolic.Region`), so `x*x + 3*x + 1` yields `2*x + 3`;
* every contribution has its primal's shape: where a shape analysis cannot
  prove an elementwise result has its operand's shape, the contribution is
  summed back with `_unbroadcast`;
* adjoints are assigned where a value is used once and accumulated
  (`x_bar = x_bar + ...`) only where it is used again; none starts as zeros,
  except the buffer an indexing adjoint scatters into.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sympy as sp

from .errors import Loc, NonDifferentiableError
from .inplace import WRITES
from .ir import (
    Assign,
    Atom,
    Branch,
    Const,
    Function,
    Index,
    Loop,
    SetItem,
    Slice,
    Stmt,
    Var,
    arg_vars,
    bodies,
    uses,
    walk,
)
from .names import Names
from .rules import OPS, Scatter, is_elementwise
from .sweeps import FlowReverse, Sweeps
from .symbolic import MAX_REGION, Region, SympyLowering

SCALAR = "<scalar>"  # not an identifier, so no variable's class
# Adjoint ops whose result is a new array no other name refers to.
_FRESH = {"add", "zeros", "full", "zeros_grad", "extremum_grad", "prod_grad", "copy"}
_FRESH |= {"matmul_lhs_grad", "matmul_rhs_grad", "dot_lhs_grad", "dot_rhs_grad"}
SEED = Var("seed")


@dataclass
class Adjoint:
    """The adjoint statements and the gradient atom of each `wrt` parameter."""

    body: list[Stmt]
    grads: tuple[Atom, ...]
    bars: dict[str, str]  # primal variable -> its adjoint's name
    # The forward sweep, for functions with branches or loops (plain code that
    # also saves what the reverse sweep reads); None for straight-line code.
    forward: list[Stmt] | None = None


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


def activity(fn: Function, wrt: tuple[str, ...]) -> set[str]:
    """Names that depend on a `wrt` parameter and reach the returned value.

    Loops are analysed to a fixed point: a carried value is varied when its
    start or its next value is, and useful when its result or its use in the
    body is."""
    varied = set(wrt)
    _varied(fn.body, varied)
    ret = fn.body[-1]
    useful = {ret.value.name} if isinstance(ret.value, Var) else set()
    _useful(fn.body, useful)
    for stmt in walk(fn.body):
        if isinstance(stmt, Assign) and stmt.target.name in useful:
            _check_discrete_uses(stmt, varied, wrt)
    return varied & useful


def _varied(body, varied: set[str]) -> None:
    for stmt in body:
        if isinstance(stmt, Assign):
            if any(v.name in varied for _, v in diff_args(stmt)):
                varied.add(stmt.target.name)
        elif isinstance(stmt, Branch):
            _varied(stmt.body, varied)
            _varied(stmt.orelse, varied)
            for m in stmt.merges:
                if _any_in((m.then, m.orelse), varied):
                    varied.add(m.out.name)
        elif isinstance(stmt, Loop):
            while True:
                size = len(varied)
                for c in stmt.carries:
                    if _any_in((c.init, c.next), varied):
                        varied.add(c.header.name)
                _varied(stmt.test, varied)
                _varied(stmt.body, varied)
                if len(varied) == size:
                    break
            varied.update(c.out.name for c in stmt.carries if c.header.name in varied)


def _useful(body, useful: set[str]) -> None:
    for stmt in reversed(body):
        if isinstance(stmt, Assign):
            if stmt.target.name in useful:
                useful.update(v.name for _, v in diff_args(stmt))
        elif isinstance(stmt, Branch):
            for m in stmt.merges:
                if m.out.name in useful:
                    useful.update(v.name for v in _vars((m.then, m.orelse)))
            _useful(stmt.body, useful)
            _useful(stmt.orelse, useful)
        elif isinstance(stmt, Loop):
            while True:
                size = len(useful)
                for c in stmt.carries:
                    if c.out.name in useful or c.header.name in useful:
                        useful.update(v.name for v in _vars((c.init, c.next)))
                        useful.add(c.header.name)
                _useful(stmt.body, useful)
                if len(useful) == size:
                    break


def _vars(atoms) -> list[Var]:
    return [a for a in atoms if isinstance(a, Var)]


def _any_in(atoms, names: set[str]) -> bool:
    return any(v.name in names for v in _vars(atoms))


# Ops whose listed argument positions take a shape or a count, not a value.
_DISCRETE = {"reshape": (1,), "broadcast_to": (1,), "full": (0,), "zeros": (0,)}
_DISCRETE.update(ones=(0,), empty=(0,), eye=(0,))


# Constant ops that would silently drop a derivative if a `wrt` value entered.
_OPAQUE = {
    "tuple": "a tuple or list of values that depend on {wrt} is not supported yet",
    "arange": "np.arange has no derivative rule for bounds that depend on {wrt}",
    "linspace": "np.linspace has no derivative rule for bounds that depend on {wrt}",
}


def _check_discrete_uses(stmt: Assign, varied: set[str], wrt: tuple[str, ...]) -> None:
    """A value computed from a `wrt` input may not serve as an index or shape,
    nor enter an op that has no derivative rule for it."""
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
            raise NonDifferentiableError(
                f"'{var.name}' depends on {', '.join(wrt)} but is used as {role}, "
                "where no derivative exists",
                stmt.loc,
                "compute indices and shapes from values symgrad does not differentiate "
                "(for example int(...) of a constant, or a shape)",
            )


_INT_OPS = {"add", "sub", "mul", "floordiv", "neg", "pos"}


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
        elif isinstance(stmt, Assign) and stmt.op in ("len", "int", "size", "ndim"):
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
        elif isinstance(stmt, Assign) and stmt.op in _INT_OPS:
            if all(
                (isinstance(a, Var) and a.name in ints)
                or (isinstance(a, Const) and type(a.value) is int)
                for a in stmt.args
            ):
                ints.add(stmt.target.name)
    return ints


def _basic(index: Index, ints: set[str]) -> bool:
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


def shape_classes(fn: Function) -> dict[str, str]:
    """Group variables that provably share a shape (for skipping unbroadcast).

    Loop-carried values may change shape between iterations, so each gets a
    class of its own; a merge shares its arms' class only when they agree."""
    classes = {p: p for p in fn.params}

    def of(atom) -> str:
        if isinstance(atom, Var):
            return classes[atom.name]
        if isinstance(atom, Const) and atom.name is not None and "." not in atom.name:
            return f"<const {atom.name}>"
        if isinstance(atom, Const) and not isinstance(atom.value, int | float | None):
            return f"<const {atom.value!r}>"
        return SCALAR

    def block(body) -> None:
        for stmt in body:
            if isinstance(stmt, Assign):
                classes[stmt.target.name] = _shape_of(stmt, of)
            elif isinstance(stmt, Branch):
                block(stmt.body)
                block(stmt.orelse)
                for m in stmt.merges:
                    same = of(m.then) == of(m.orelse)
                    classes[m.out.name] = of(m.then) if same else m.out.name
            elif isinstance(stmt, Loop):
                for c in stmt.carries:
                    classes[c.header.name] = c.header.name
                    classes[c.out.name] = c.out.name
                if stmt.index is not None:
                    classes[stmt.index.name] = SCALAR
                block(stmt.test)
                block(stmt.body)

    block(fn.body)
    return classes


def _shape_of(stmt: Assign, of) -> str:
    name = stmt.target.name
    op = OPS[stmt.op]
    if op.kind == "elementwise":
        found = {of(a) for a in stmt.args} - {SCALAR}
        return found.pop() if len(found) == 1 else (SCALAR if not found else name)
    if stmt.op in ("sum", "mean", "max", "min", "prod") and not stmt.params:
        return SCALAR
    if stmt.op in ("len", "size", "ndim", "float", "int"):
        return SCALAR
    return name


def regions(fn: Function, active: set[str]) -> tuple[dict[str, Region], set[str]]:
    """Elementwise trees rooted at each active elementwise statement; a tree
    never reaches outside the block (loop body, branch arm) of its root."""
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
        if name not in active or name in absorbed or not is_elementwise(stmt.op):
            continue
        members: dict[str, Assign] = {}
        stack = [stmt]
        while stack:
            for _, arg in diff_args(stack.pop()):
                inner = defs.get(arg.name)
                if (
                    inner is not None
                    and is_elementwise(inner.op)
                    # a Piecewise inside clip's conditions would be mangled
                    and inner.op not in ("where", "clip")
                    and arg.name in active
                    and uses[arg.name] == 1
                    and _same_line(inner.loc, stmt.loc)
                    and len(members) < MAX_REGION
                ):
                    members[arg.name] = inner
                    absorbed.add(arg.name)
                    stack.append(inner)
        found[name] = Region(stmt, members)


def _same_line(a: Loc | None, b: Loc | None) -> bool:
    return a is not None and b is not None and (a.file, a.line) == (b.file, b.line)


@dataclass
class _Builder:
    """Appends adjoint statements; the `rules.Builder` adjoint templates use."""

    names: Names
    body: list[Stmt] = field(default_factory=list)
    loc: Loc | None = None

    def op(self, name: str, *args, **params) -> Atom:
        if name == "mul" and Const(1) in args:
            return args[0] if args[1] == Const(1) else args[1]
        target = Var(self.names.fresh())
        items = tuple(sorted((k, v) for k, v in params.items()))
        self.body.append(Assign(target, name, tuple(args), items, self.loc))
        return target

    def emit(self, op: str, args: tuple) -> Atom:
        return self.op(op, *args)


class _Reverse(FlowReverse):
    diff_args = staticmethod(diff_args)

    def __init__(self, fn: Function, wrt: tuple[str, ...], names: Names):
        self.fn, self.wrt, self.names = fn, wrt, names
        self.b = _Builder(names)
        self.active = activity(fn, wrt)
        self.shapes = shape_classes(fn)
        self.regions, self.absorbed = regions(fn, self.active)
        self.adj: dict[str, Atom] = {}
        self.bars: dict[str, Var] = {}
        self.owned: set[str] = set()
        self.mark = 0  # where the current statement's adjoint code starts
        self.returned: set[Atom] = set()
        self.sweeps = Sweeps()
        self.ints = int_vars(fn)

    def run(self) -> Adjoint:
        ret = self.fn.body[-1]
        if isinstance(ret.value, Var) and ret.value.name in self.active:
            self.adj[ret.value.name] = SEED
        self.statements(self.fn.body[:-1], None)
        grads = tuple(self.gradient(p) for p in self.wrt)
        bars = {name: var.name for name, var in self.bars.items()}
        forward = None
        if any(isinstance(s, Branch | Loop) for s in self.fn.body):
            forward = [
                Assign(stack, "new_stack", (), (), None) for stack in self.sweeps.stacks
            ]
            forward += self.forward(self.fn.body[:-1], None)
        return Adjoint(self.b.body, grads, bars, forward)

    def assignment(self, stmt: Assign) -> None:
        name = stmt.target.name
        if name not in self.active or name in self.absorbed or name not in self.adj:
            return
        self.b.loc = stmt.loc
        self.mark = len(self.b.body)
        if name in self.regions:
            self.region(self.regions[name])
        else:
            self.structural(stmt)

    def bar(self, name: str) -> Var:
        if name not in self.bars:
            self.bars[name] = Var(self.names.fresh(f"{name}_bar"))
        return self.bars[name]

    # --- contributions --------------------------------------------------------

    def region(self, region: Region) -> None:
        g = self.adj[region.root.target.name]
        leaves = [
            atom
            for atom in region.leaves.values()
            if isinstance(atom, Var) and atom.name in self.active
        ]
        shared, partials = region.partials(leaves, self.names.fresh)
        atoms = {sym: atom for sym, atom in region.leaves.items()}
        lowering = SympyLowering(self.b.emit, atoms)
        for sym, expr in shared:
            lowering.bind(sym, lowering.lower(expr))
        root_shape = self.shapes[region.root.target.name]
        for leaf, partial in zip(leaves, partials, strict=True):
            contribution = self.times(g, partial, lowering)
            if not self._same_shape(root_shape, leaf):
                contribution = self.b.op("unbroadcast", contribution, leaf)
            self.accumulate(leaf.name, contribution)

    def times(self, g: Atom, partial: sp.Expr, lowering: SympyLowering) -> Atom:
        """`g * partial`, printed as `g / d` when the partial is `1 / d`."""
        numer, denom = sp.fraction(partial)
        if denom != 1 and not partial.has(sp.Piecewise):
            op = "truediv" if denom.is_number else "divide"  # as symbolic._divide
            return self.b.op(op, self.times(g, numer, lowering), lowering.lower(denom))
        if partial == 1:
            return g
        if partial == -1:
            return self.b.op("neg", g)
        if partial.has(sp.Piecewise):
            g_sym = sp.Symbol("__cotangent__", real=True)
            lowering.bind(g_sym, g)
            return lowering.lower(sp.piecewise_fold(g_sym * partial))
        return self.b.op("mul", g, lowering.lower(partial))

    def _same_shape(self, root_shape: str, leaf: Var) -> bool:
        return self.shapes[leaf.name] == root_shape

    def structural(self, stmt: Assign) -> None:
        if stmt.op in WRITES:
            self.write(stmt)
            return
        op = OPS[stmt.op]
        params = dict(op.params)
        params.update((k, v) for k, v in stmt.params if k != "fn")
        g = self.adj[stmt.target.name]
        contributions = op.adjoint(self.b, g, stmt.target, *stmt.args, **params)
        for i, arg in diff_args(stmt):
            if arg.name in self.active and contributions[i] is not None:
                self.accumulate(arg.name, contributions[i])

    def accumulate(self, name: str, contribution: Atom | Scatter) -> None:
        if isinstance(contribution, Scatter):
            self.scatter(name, contribution)
            return
        current = self.adj.get(name)
        if current is None:
            self.adj[name] = self._named(contribution, name)
            return
        target = self.bar(name)
        # An adjoint buffer this value owns is added to in place (`x_bar += c`).
        op = "iadd" if name in self.owned and current == target else "add"
        self.b.body.append(Assign(target, op, (current, contribution), (), self.b.loc))
        self.adj[name] = target
        self.owned.add(name)

    def _named(self, atom: Atom, name: str) -> Atom:
        """Give a freshly computed contribution the adjoint's readable name."""
        if not isinstance(atom, Var) or atom.name not in self.names.made_temps:
            return atom
        body = self.b.body
        for i in range(len(body) - 1, self.mark - 1, -1):
            stmt = body[i]
            if isinstance(stmt, Assign) and stmt.target == atom:
                if name in self.bars or any(atom in uses(s) for s in body[i + 1 :]):
                    return atom
                body[i] = Assign(
                    self.bar(name), stmt.op, stmt.args, stmt.params, stmt.loc
                )
                return self.bars[name]
        return atom

    def write(self, stmt: Assign) -> None:
        """The adjoint of `y2 = y1` with `y2[index]` written (`=`, `+=`, or
        np.add.at).  When `y2`'s adjoint is a buffer it owns, `y1`'s adjoint
        is that buffer, zeroed at `index` in place."""
        g = self.adj[stmt.target.name]
        old, index, value = stmt.args
        owned = stmt.target.name in self.owned
        if isinstance(value, Var) and value.name in self.active:
            read = "getitem_copy" if stmt.op == "add_at" else "written_grad"
            part = self.b.op(read, g, index)
            self.accumulate(value.name, self.b.op("unbroadcast", part, value))
        if not (isinstance(old, Var) and old.name in self.active):
            return
        if stmt.op == "setitem" and owned:
            self.b.body.append(SetItem(g, index, Const(0.0), "set", self.b.loc))
        elif stmt.op == "setitem":
            g, owned = self.b.op("zero_at", g, index), True
        first = self.adj.get(old.name) is None
        self.accumulate(old.name, g)
        if first and owned:
            self.owned.add(old.name)

    def scatter(self, name: str, part: Scatter) -> None:
        mode = "add" if _basic(part.index, self.ints) else "add_at"
        current = self.adj.get(name)
        if current is not None and name in self.owned:
            self.b.body.append(
                SetItem(current, part.index, part.value, mode, self.b.loc)
            )
            return
        buffer = self.bar(name) if current is None else Var(self.names.fresh())
        shape = self.b.op("shape", Var(name))
        self.b.body.append(Assign(buffer, "zeros", (shape,), (), self.b.loc))
        first = "set" if mode == "add" else "add_at"
        self.b.body.append(SetItem(buffer, part.index, part.value, first, self.b.loc))
        if current is None:
            self.adj[name] = buffer
            self.owned.add(name)
        else:
            self.accumulate(name, buffer)

    # --- results --------------------------------------------------------------

    def gradient(self, param: str) -> Atom:
        """The final gradient of `param`, an array the caller owns: never a
        read-only view, the seed, or the same array as another gradient."""
        self.b.loc = None
        atom = self.adj.get(param)
        if atom is None:
            return self.b.op("zeros_grad", Var(param))
        root, fresh = self._origin(atom)
        if not fresh or root in self.returned:
            atom = self.b.op("owned", atom)
        self.returned.add(root)
        return atom

    def _origin(self, atom: Atom) -> tuple[Atom, bool]:
        """The array `atom` may be (looking through `_unbroadcast`, which can
        return its argument), and whether that array is new."""
        producers = {s.target: s for s in self.b.body if isinstance(s, Assign)}
        while True:
            producer = producers.get(atom)
            if producer is None:
                return atom, False
            if producer.op != "unbroadcast":
                kind = OPS[producer.op].kind
                return atom, producer.op in _FRESH or kind == "elementwise"
            atom = producer.args[0]


def reverse(fn: Function, wrt: tuple[str, ...], names: Names) -> Adjoint:
    """The adjoint of `fn` with respect to `wrt`, seeded by the variable `seed`."""
    return _Reverse(fn, wrt, names).run()
