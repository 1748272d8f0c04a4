"""Reverse mode: primal IR to adjoint IR.

`reverse(fn, wrt, names)` returns the statements that compute the gradient of
`fn`'s return value with respect to the parameters in `wrt`, given the output
cotangent in the variable `seed`.  Guarantees:

* activity analysis: adjoint code exists only for values that depend on a
  `wrt` parameter *and* reach the output; a max or min the output provably
  does not depend on (the shift of log-sum-exp: `shift.shift_invariant`)
  counts as a constant;
* elementwise trees from one source line are differentiated as one sympy
  expression (see `symbolic.Region`), so `x*x + 3*x + 1` yields `2*x + 3`;
* a partial's constant factor scales the cotangent, `2 * g * x`, where the
  rest of the partial is as large as the result (so never the larger array);
* every contribution has its primal's shape: where a shape analysis cannot
  prove an elementwise result has its operand's shape, the contribution is
  summed back with `_unbroadcast`;
* adjoints are assigned where a value is used once and accumulated
  (`x_bar = x_bar + ...`, or `x_bar += ...` into a buffer the adjoint code
  owns) only where it is used again; none starts as zeros, except the buffer
  an indexing adjoint scatters into and the adjoint of a value defined before
  a branch or loop that adds into it (see `sweeps`);
* the adjoint of a write into an array (`y[i] = v`) zeroes the written
  entries of the adjoint buffer, in place when the buffer is its own;
* the cotangent of a list before an append is the head of the cotangent
  after it (`g[:-1]`, a view), owned where that is: the appended value's,
  `g[-1]`, is no part of it, so a read of the list before (`xs[-1]`) adds
  into it in place, and an append in a loop costs a step, not the list;
* a parameter only unpacked at the top level (`W, b = params`) has the
  cotangents of its entries put together by `_entries_grad`: a tuple (list)
  of them for a tuple (list), whatever their shapes, the stacked array for
  an array; each is owned like a returned gradient.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import sympy as sp

from .analysis import (
    activity,
    dead_merges,
    diff_args,
    float_arrays,
    float_values,
    int_vars,
    is_float_atom,
    maybe_lists,
    numpy_values,
    only_adds_axes,
    reads,
    regions,
    selects_all,
    selects_once,
    shape_classes,
)
from .errors import Loc, NoDerivativeError
from .inplace import ARRAY_WRITES
from .ir import (
    Assign,
    Atom,
    Branch,
    Const,
    Copy,
    For,
    Function,
    If,
    Index,
    Loop,
    SetItem,
    Slice,
    Stmt,
    Var,
    uses,
    walk,
    writes,
)
from .names import Names
from .rules import OPS, Scatter, check_custom
from .shift import shift_invariant
from .sweeps import FlowReverse, Sweeps
from .symbolic import Region, SympyLowering

# Adjoint ops whose result is a new array no other name refers to.
_FRESH = {"add", "zeros", "full", "spread", "zeros_grad", "extremum_grad", "prod_grad"}
_FRESH |= {"zeros_buffer", "roll"}
_FRESH |= {"copy", "copy_arg"}
_FRESH |= {"entries_grad"}  # (of entries made owned one by one)
_FRESH |= {"matmul_lhs_grad", "matmul_rhs_grad", "dot_lhs_grad", "dot_rhs_grad"}
SEED = Var("seed")
# Ops whose result is a boolean mask, which selects each entry at most once,
# and which a numpy scalar takes (`v[v > 0]`: an array of 0 or 1 entries).
_MASKS = {"lt", "le", "gt", "ge", "eq", "ne", "isnan", "isfinite", "isinf"}
_MASKS |= {"logical_and", "logical_or", "logical_not"}


@dataclass
class Adjoint:
    """The adjoint statements and the gradient atom of each `wrt` parameter."""

    body: list[Stmt]
    grads: tuple[Atom, ...]
    bars: dict[str, str]  # primal variable -> its adjoint's name
    # The forward sweep, for functions with branches or loops (plain code that
    # also saves what the reverse sweep reads); None for straight-line code.
    forward: list[Stmt] | None = None


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
        self.shapes = shape_classes(fn)
        constant = frozenset(shift_invariant(fn, self.shapes))
        self.active = activity(fn, wrt, constant=constant)
        self.regions, self.absorbed = regions(fn, self.active)
        self.adj: dict[str, Atom] = {}
        self.bars: dict[str, Var] = {}
        self.owned: set[str] = set()
        self.mark = 0  # where the current statement's adjoint code starts
        self.returned: set[Atom] = set()
        self.sweeps = Sweeps()
        self.ints = int_vars(fn)
        self.numpy = numpy_values(list(fn.body), set(fn.params))
        self.lists = maybe_lists(fn)
        self.made_lists = maybe_lists(fn, params=False)
        self.floats = float_arrays(fn)
        self.is_float = functools.partial(
            is_float_atom, floats=self.active | float_values(fn)
        )
        # how many times each value is read (by `sweeps.sink`; not by merges
        # nothing reads)
        self.dead = dead_merges(fn)
        self.read_counts = reads(fn.body, self.dead)
        self.producers = {
            s.target.name: s.op for s in walk(fn.body) if isinstance(s, Assign)
        }
        # a slice of a list (`layers[1:]`), by name: its cotangent's zeros
        # are the slice of the list's, of the entries' shape where the slice
        # is empty (a loop over it that takes no step); of bounds that are
        # constants, or values the function's top level binds (which the
        # reverse sweep still reads)
        top = set(map(id, fn.body))
        self.slices = {
            s.target.name: s.args
            for s in walk(fn.body)
            if isinstance(s, Assign)
            and s.op == "getitem"
            and isinstance(s.args[0], Var)
            and s.args[0].name in self.lists
            and len(s.args[1].items) == 1
            and isinstance(s.args[1].items[0], Slice)
            and (
                id(s) in top
                or all(
                    b is None or isinstance(b, Const)
                    for b in (s.args[1].items[0].start, s.args[1].items[0].stop)
                    + (s.args[1].items[0].step,)
                )
            )
        }
        self.entry_lists = _entry_lists(fn)
        self.entry_of: dict[str, str] = {}  # entry list -> the parameter
        self.entry_params: dict[str, int] = {}  # parameter -> its entries' count
        # the first entry list of each parameter a derivative flows through
        # (where every later one's entries are known: `W, b = params` twice)
        self.first_entries: set[str] = set()
        for s in fn.body:
            if isinstance(s, Assign) and s.target.name in self.entry_lists:
                param = s.args[0].name
                first = param not in {self.entry_of[t] for t in self.first_entries}
                if s.target.name in self.active and first:
                    self.first_entries.add(s.target.name)
                self.entry_of[s.target.name] = param
                self.entry_params[param] = s.args[1].value
        self.entries: dict[str, dict[int, Atom]] = {}  # by parameter

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
        if name in self.first_entries and self.entry_of[name] in self.entries:
            # every entry's cotangent is known now (`W, b = params` read twice:
            # the later lists' entries are this one's)
            self.adj[name] = self._entries_grad(self.entry_of[name])
        if name not in self.active or name in self.absorbed or name not in self.adj:
            return
        self.b.loc = stmt.loc
        self.mark = len(self.b.body)
        if name in self.regions:
            self.region(self.regions[name])
        else:
            self.structural(stmt)

    def zeros_of(self, name: str, target: Var, op: str = "zeros_buffer") -> None:
        """`target = _zeros_buffer(name)` (or `op`, `_zeros_grad`), the
        cotangent of `name` before anything is added to it; of a slice of a
        list (`slices`), the slice of the list's."""
        if name in self.slices:
            whole, index = self.slices[name]
            zeros = Var(self.names.fresh())
            self.zeros_of(whole.name, zeros, op)
            self.b.body.append(
                Assign(target, "getitem", (zeros, index), (), self.b.loc)
            )
        else:
            self.b.body.append(Assign(target, op, (Var(name),), (), self.b.loc))

    def fitted(self, name: str, buffer: Var, part: Scatter) -> Atom:
        """The value `part` writes into `buffer`; into a slice of a list the
        function makes, `_fit` to the slice's shape: a list popped empty has
        a cotangent of shape (0,), which the empty slice of a list of arrays,
        (0, 2), does not take."""
        if name in self.made_lists and any(
            isinstance(i, Slice) for i in part.index.items
        ):
            place = self.b.op("getitem", buffer, part.index)
            return self.b.op("fit", part.value, place)
        return part.value

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
        shared, partials = region.partials(
            leaves, self.names.fresh, extra=("<cotangent>",)
        )
        lowering = region.lowering(self.b.emit, self.is_float)
        partials = lowering.define(shared, partials)
        root_shape = self.shapes[region.root.target.name]
        classes = {
            sym: self.shapes.get(atom.name) if isinstance(atom, Var) else None
            for sym, atom in region.stand_ins.items()
        }

        def of(expr: sp.Expr) -> frozenset[str] | None:
            return _union(classes[s] for s in expr.free_symbols)

        for sym, expr in shared:
            classes[sym] = of(expr)

        def root_sized(expr: sp.Expr) -> bool:
            return of(expr) == root_shape

        g_sym = region.renamed["<cotangent>"]
        for leaf, partial in zip(leaves, partials, strict=True):
            summed = not self._same_shape(root_shape, leaf)
            contribution = self.times(g, g_sym, partial, lowering, root_sized, summed)
            if summed:
                contribution = self.b.op("unbroadcast", contribution, leaf)
            self.accumulate(leaf.name, contribution)

    def times(
        self,
        g: Atom,
        g_sym: sp.Symbol,
        partial: sp.Expr,
        lowering: SympyLowering,
        root_sized: Callable[[sp.Expr], bool],
        summed: bool = False,
    ) -> Atom:
        """`g * partial`, printed as `g / d` when the partial is `1 / d`.

        A constant factor of a partial as large as the root scales the
        cotangent instead, `2 * g * x` for `g * (2 * x)`: `g` is never larger
        than the root and is often smaller (a float seed, or a reduction's
        cotangent spread lazily), so this is never slower and often one array
        operation fewer.  A product to be `summed` to a smaller leaf is negated
        outside, `-(g * x)`, for `optimize` to negate the sum instead."""
        numer, denom = sp.fraction(partial)
        if lowering.unsafe(partial) or lowering.unsafe(denom):
            return lowering.scaled(g, partial)  # (a mask, integer data: `g / u / u`)
        if denom != 1 and not partial.has(sp.Piecewise):
            op = "truediv" if denom.is_number else "div"  # as symbolic._divide
            numer = self.times(g, g_sym, numer, lowering, root_sized, summed)
            return self.b.op(op, numer, lowering.lower(denom))
        if partial == 1:
            return g
        if partial == -1:
            return self.b.op("neg", g)
        if partial.has(sp.Piecewise):
            lowering.bind(g_sym, g, True)
            return lowering.lower(sp.piecewise_fold(g_sym * partial))
        coeff, rest = partial.as_coeff_Mul()
        if summed and coeff == -1 and root_sized(rest):
            return self.b.op("neg", self.b.op("mul", g, lowering.lower(rest)))
        if rest != 1 and coeff.is_finite and float(coeff) != -1.0 and root_sized(rest):
            if float(coeff) != 1.0:  # (1.0 * r, from `0.5 * r**2`, is r)
                g = self.b.op("mul", lowering.lower(coeff), g)
            return self.b.op("mul", g, lowering.lower(rest))
        return self.b.op("mul", g, lowering.lower(partial))

    def _same_shape(self, root_shape: str, leaf: Var) -> bool:
        return self.shapes[leaf.name] == root_shape

    def structural(self, stmt: Assign) -> None:
        stmt = self._list_indexed(stmt)
        if stmt.op in ARRAY_WRITES:
            self.write(stmt)
            return
        op = OPS[stmt.op]
        params = dict(op.params)
        params.update((k, v) for k, v in stmt.params if k != "fn")
        if op.adjoint is None:
            raise NoDerivativeError(
                f"reverse mode has no rule for '{stmt.op}' (an op of emitted code)",
                stmt.loc,
                "differentiate emitted code in forward mode, as symgrad.hessian does",
            )
        check_custom(stmt, "vjp", "reverse")
        g = self.adj[stmt.target.name]
        contributions = op.adjoint(self.b, g, stmt.target, *stmt.args, **params)
        for i, arg in diff_args(stmt):
            if arg.name in self.active and contributions[i] is not None:
                first = self.adj.get(arg.name) is None
                self.accumulate(arg.name, contributions[i])
                if (  # (the head of an owned cotangent, `g[:-1]`: see above)
                    first
                    and i == 0
                    and stmt.op == "list_append"
                    and stmt.target.name in self.owned
                ):
                    self.owned.add(arg.name)

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
        """The adjoint of `y2 = y1` with `y2[index]` written (`=`, `+=`, `-=`,
        or np.add.at).  When `y2`'s adjoint is a buffer it owns, `y1`'s adjoint
        is that buffer, zeroed at `index` in place."""
        g = self.adj[stmt.target.name]
        old, index, value = stmt.args
        owned = stmt.target.name in self.owned
        if isinstance(value, Var) and value.name in self.active:
            if stmt.op == "add_at":
                part = self.b.op("getitem_copy", g, index)
            else:
                # an integer array truncates a float written: no derivative
                float_target = old.name in self.floats
                dtypes = (Const(0.0),) * 2 if float_target else (old, value)
                part = self.b.op("written_grad", g, index, *dtypes)
            part = self.b.op("unbroadcast", part, value)
            if stmt.op == "setitem_sub":
                part = self.b.op("neg", part)
            self.accumulate(value.name, part)
        if not (isinstance(old, Var) and old.name in self.active):
            return
        if stmt.op == "setitem" and selects_all(index):
            return  # every entry of y1 is overwritten: it passes no derivative
        if stmt.op == "setitem" and owned:
            self.b.body.append(SetItem(g, index, Const(0.0), "set", self.b.loc))
        elif stmt.op == "setitem":
            g, owned = self.b.op("zero_at", g, index), True
        elif stmt.op != "add_at" and old.name not in self.floats:
            # `y[i] += 0.5` into an int array truncates the old entry too
            g = self.b.op("kept_grad", g, index, old, value)
        first = self.adj.get(old.name) is None
        self.accumulate(old.name, g)
        if first and owned:
            self.owned.add(old.name)

    def _list_indexed(self, stmt: Assign) -> Assign:
        """`stmt`, whose one index may be a bool into a list or tuple (a name
        not known to hold an int or a numpy value, a literal bool), indexed
        with `_list_index(items, i)` instead: a list's cotangent is an array,
        which would read a bool as a mask, where the list read it as 0 or 1."""
        if stmt.op not in ("getitem", "setitem", "setitem_add", "setitem_sub"):
            return stmt
        items, index = stmt.args[:2]
        if isinstance(items, Var) and items.name not in self.lists:
            return stmt  # (an array: reading its old version would keep it)
        if len(index.items) != 1 or index.wrapped:
            return stmt
        (i,) = index.items
        if isinstance(i, Var):
            if i.name in self.ints or i.name in self.numpy:
                return stmt
        elif not (isinstance(i, Const) and i.value.__class__ is bool):
            return stmt
        read = self.b.op("list_index", items, i)
        # (a comparison's result indexes as a mask does where it is one)
        self.producers[read.name] = self.producers.get(getattr(i, "name", None))
        return replace(stmt, args=(items, Index((read,)), *stmt.args[2:]))

    def scatter(self, name: str, part: Scatter) -> None:
        if name in self.entry_lists:  # `W, b = params`: one cotangent per entry
            (k,) = part.index.items
            k = k.value % self.entry_lists[name]
            entries = self.entries.setdefault(self.entry_of[name], {})
            entries[k] = (
                part.value
                if k not in entries
                else self.b.op("add", entries[k], part.value)
            )
            return
        if selects_all(part.index):  # x[()] or x[...]: all of x, shape and all
            self.accumulate(name, part.value)
            return
        if only_adds_axes(part.index):  # x[None, :, :]: all of x, axes added
            shape = self.b.op("shape", Var(name))
            self.accumulate(name, self.b.op("reshape", part.value, shape))
            return
        (mask,) = part.index.items if len(part.index.items) == 1 else (None,)
        masked = isinstance(mask, Var) and self.producers.get(mask.name) in _MASKS
        once = masked or selects_once(part.index, self.ints)
        mode = "add" if once else "add_at"
        current = self.adj.get(name)
        # (the cotangent a mask's read adds to may be a numpy scalar, which
        # takes no write: a buffer of its own then, added to it)
        if current is not None and name in self.owned and not masked:
            self.b.body.append(
                SetItem(
                    current,
                    part.index,
                    self.fitted(name, current, part),
                    mode,
                    self.b.loc,
                )
            )
            return
        buffer = self.bar(name) if current is None else Var(self.names.fresh())
        # (in x's dtype, where x is a float array; of unpacked items, also
        # checked to share a shape)
        self.zeros_of(name, buffer)
        first = "set" if mode == "add" else "add_at"
        value = self.fitted(name, buffer, part)
        self.b.body.append(SetItem(buffer, part.index, value, first, self.b.loc))
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
        if atom is None and param in self.entry_params:  # a tuple of zeros
            nothing = (Const(None),) * self.entry_params[param]
            return self.b.op("entries_grad", Var(param), *nothing)
        if atom is None:
            return self.b.op("zeros_grad", Var(param))
        made = [
            i
            for i, s in enumerate(self.b.body)
            if isinstance(s, Assign) and s.target == atom
        ]
        if made and self.b.body[made[-1]].op == "where":  # (np.where of numbers
            # is a 0-d array: a number's gradient is a number, as `_unbroadcast`
            # makes it, `x_bar = _unbroadcast(np.where(...), x)`, right there)
            where = self.b.body[made[-1]]
            inner = Var(self.names.fresh())
            self.b.body[made[-1] : made[-1] + 1] = [
                Assign(inner, "where", where.args, (), where.loc),
                Assign(atom, "unbroadcast", (inner, Var(param)), (), where.loc),
            ]
        return self._owned(atom)

    def _entries_grad(self, param: str) -> Atom:
        """The cotangent of the entry lists unpacked from `param`, from their
        entries' (None for an entry that has none); each is owned, as a
        gradient is."""
        entries = self.entries[param]
        return self.b.op(
            "entries_grad",
            Var(param),
            *(
                self._owned(entries[k]) if k in entries else Const(None)
                for k in range(self.entry_params[param])
            ),
        )

    def _owned(self, atom: Atom) -> Atom:
        """`atom`, copied (`_owned`) unless it is a new array no other
        returned gradient is."""
        roots, fresh = self._origin(atom)
        if not fresh or roots & self.returned:
            atom = self.b.op("owned", atom)
        self.returned |= roots
        return atom

    def _origin(self, atom: Atom) -> tuple[set[Atom], bool]:
        """The arrays `atom` may be where the adjoint ends (looking through
        `_unbroadcast`, which can return its argument, `np.reshape`, which can
        return a view of it, the arms of a branch that each give it a value,
        and the values a loop gives it), and whether each of them is new.  A
        write into an array (`x_bar[i] += g`, `x_bar += g`) keeps it what it
        is."""
        roots: set[Atom] = set()
        seen: set[Atom] = set()

        def new(atom: Atom) -> bool:
            if atom in seen:  # (a loop's value: given by the value before it)
                return True
            seen.add(atom)
            fresh = True
            for made in reaching(self.b.body, atom):  # (a copied value's at
                # the end too: the values copied are temporaries given once)
                if isinstance(made, Copy):
                    fresh = new(made.values[made.targets.index(atom)]) and fresh
                elif isinstance(made, Assign) and made.op in ("unbroadcast", "reshape"):
                    fresh = new(made.args[0]) and fresh
                else:  # (None: an argument's value, or the seed)
                    roots.add(atom)
                    fresh = (
                        fresh
                        and isinstance(made, Assign)
                        and (made.op in _FRESH or OPS[made.op].kind == "elementwise")
                    )
            return fresh

        return roots, new(atom)


def reaching(body: list[Stmt] | tuple[Stmt, ...], atom: Atom) -> list[Stmt | None]:
    """The statements that may have given `atom` its value at the end of
    `body` (where it is read), or [None] where none in `body` does: its value
    is an argument's, the seed or a primal value.  (A path giving it no value
    in `body` where another does leaves it unbound: not a path it is read on.)"""
    defs, _ = _reaching(body, atom)
    return defs or [None]


def _reaching(body, atom: Atom) -> tuple[list[Stmt], bool]:
    """(`reaching`'s statements, and whether a path gives none): the last
    statement at this level giving a value; or those of both arms of a
    branch, or of a loop, with those before where an arm may give none or
    the loop may not run."""
    for i in range(len(body) - 1, -1, -1):
        stmt = body[i]
        if isinstance(stmt, If):
            (then, past), (orelse, past_else) = (
                _reaching(arm, atom) for arm in (stmt.body, stmt.orelse)
            )
            if not then and not orelse:
                continue
            if not past and not past_else:
                return then + orelse, False
            before, through = _reaching(body[:i], atom)
            return then + orelse + before, through
        if isinstance(stmt, For):
            inside = [s for s in walk([stmt]) if s is not stmt and _binds(s, atom)]
            if inside:
                before, through = _reaching(body[:i], atom)
                return inside + before, through
            continue
        if _binds(stmt, atom):
            return [stmt], False
    return [], True


def _binds(stmt: Stmt, atom: Atom) -> bool:
    """Does `stmt` bind `atom` to a value (not write into the one it has)?"""
    if isinstance(stmt, Assign):
        return stmt.target == atom and stmt.op != "iadd"
    if isinstance(stmt, SetItem | If | For):
        return False
    return isinstance(atom, Var) and atom.name in writes(stmt)


def reverse(fn: Function, wrt: tuple[str, ...], names: Names) -> Adjoint:
    """The adjoint of `fn` with respect to `wrt`, seeded by the variable `seed`."""
    return _Reverse(fn, wrt, names).run()


def _entry_lists(fn: Function) -> dict[str, int]:
    """`t = unpacked(p, n)` at the top level, for a parameter `p` read only
    so (once or more, with one n), where `t` is read only by constant indices
    (`W, b = params`, which reads them right there): t's cotangent is built
    from one per entry (`entries_grad`), so that a tuple of arrays of
    different shapes has a tuple of gradients.  By t, its n."""
    reads: dict[str, list] = {}
    for stmt in walk(fn.body):
        for var in uses(stmt):
            reads.setdefault(var.name, []).append(stmt)
    top = {id(stmt) for stmt in fn.body}
    found = {}
    for stmt in fn.body:
        if not (isinstance(stmt, Assign) and stmt.op == "unpacked"):
            continue
        (value, n), t = stmt.args, stmt.target
        if (
            isinstance(value, Var)
            and value.name in fn.params
            and all(
                id(r) in top
                and isinstance(r, Assign)
                and r.op == "unpacked"
                and r.args[1] == n
                for r in reads.get(value.name, ())
            )
            and isinstance(n, Const)
            and all(
                id(r) in top
                and isinstance(r, Assign)
                and r.op == "getitem"
                and r.args[0] == t
                and len(r.args[1].items) == 1
                and isinstance(r.args[1].items[0], Const)
                and type(r.args[1].items[0].value) is int
                for r in reads.get(t.name, ())
            )
        ):
            found[t.name] = n.value
    return found


def _union(classes) -> frozenset[str] | None:
    """The shape class of an elementwise result of values of `classes`."""
    out: frozenset[str] = frozenset()
    for c in classes:
        if c is None:
            return None
        out |= c
    return out
