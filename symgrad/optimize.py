"""Optimizations on IR that keep the emitted code what a careful person writes.

`optimize(primal, adjoint)` returns the statements to emit:

* common subexpressions in the adjoint are computed once (value numbering over
  pure operations; variables that are re-assigned or updated in place never
  take part, so sharing can never alias a buffer that is later written); a
  returned gradient that sharing made another's array is copied;
* dead code is dropped: primal or adjoint statements whose values neither the
  returned value nor a gradient needs (every primitive is pure, so this is
  exact).  The seed check is always kept, and so are the checks that raise
  where Python does (`rules.CHECKS`: an unpacking of the wrong length);
* a number spread over a sum along an axis is spread over the summed array
  at once (`_spread(c, y)`, not `np.broadcast_to` of it with the axis back);
* a cotangent spread over the shape of a reduction's operand (`np.full`,
  `np.broadcast_to`) is not built where it only multiplies a value that
  provably has that shape, nor where a scalar multiple of it (`2 * g_full`,
  see `reverse.times`) only does: numpy broadcasts the scalar or the expanded
  array to the same numbers;
* a product summed back to an operand's shape, `_unbroadcast(g * p, x)`, sums
  before it multiplies (and so do a quotient by such a `p` and a negation):
  `p * _unbroadcast(g, x)` when `p` is a scalar or has x's shape class, and
  `_unbroadcast_mul(g, p, x)` when `p` may be constant along the summed axes
  (`p * g.sum(0)`: one pass over the large array instead of two; the helper
  decides from the run-time shapes); a negation then added is subtracted;
* in a top-level loop, a matrix product's adjoint accumulated into the
  cotangent of a matrix the loop never rebinds (`W_bar += outer(g, x)` every
  step) is summed once after the loop as one product of the stacked pairs
  (`_matmul_lhs_grad_sum`): only where the loop reads that cotangent just to
  add to it and no later write in the step can change an appended value;
* the sum of a cotangent back to a matrix product's shape (`X @ W + b`) is
  left to the product's adjoints (`broadcast=True`), so the primal needs no
  name for the product and prints `np.tanh(X @ W + b)`;
* a top-level reverse loop whose every step starts by popping its own stack
  iterates over it, `for a, b in reversed(saved):`;
* a write into a fresh zero buffer at a slice no earlier write touched (the
  slices' bounds are sums and multiples of shape entries and lengths, so
  their order is known) stores rather than adds;
* `np.mean(x)` over all of `x` is printed `_mean(x)`: for a float array the
  same sum divided by the same count, bit for bit, without np.mean's 1.5 us
  of Python-level dispatch (anything else goes to np.mean itself);
* a square summed at once, `np.sum(a**2, axis=k)` or `np.mean(a * a)`, whose
  array of squares nothing else reads but for its shape (`a`'s), is summed
  in one pass, `_sum_squares(a, axis=k)` (np.vdot, np.einsum): the same sum
  rounded in another order;
* in code that is not all elementwise (so never runs on numbers alone), a
  product with the shape of a temporary nothing reads again is written into
  that temporary's memory when it is large (`buffers`).

* a parameter that numpy's functions alone read in the primal
  (`np.square(x)`), so may be a list or tuple, is read as numpy's array,
  `_listed(x)`, where the adjoint applies an operator to it (`2.0 * seed *
  x`);

* in a reverse loop, `_unbroadcast` and `_unbroadcast_mul` of numpy values
  are printed as their common case behind the shape test (`loopshapes`);
* (printing) a loop step computes its carried value into the carried name
  rather than copying it there at the end (`carry_in_place`).

Folding single-use temporaries back into expressions happens in `emit`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from . import buffers, floats, loopshapes
from .analysis import SCALAR, Shape, SliceBounds, shape_classes, shape_of
from .ir import (
    Assign,
    Atom,
    Const,
    Copy,
    For,
    Function,
    If,
    Index,
    Pop,
    Push,
    Return,
    SetItem,
    Slice,
    Stmt,
    Var,
    While,
    arg_vars,
    for_targets,
    name_of,
    rename,
    uses,
    walk,
    writes,
)
from .names import Names
from .reverse import Adjoint, reaching
from .rules import CHECKS, VIEWS, WRITES_ARGUMENT, is_elementwise

# Ops that allocate a buffer (two calls must stay two buffers) or make a
# one-shot iterator.
_ALLOCATING = {"zeros", "ones", "empty", "copy", "zeros_grad", "owned", "zero_at"}
_ALLOCATING |= {"zeros_buffer"}
_ZEROS = ("zeros", "zeros_grad", "zeros_buffer")
_ALLOCATING |= {
    "copy_arg",
    "getitem_copy",
    "entry_copy",
    "written_grad",
    "reversed_range",
    "reversed",
}
_ALLOCATING |= {"new_stack"}
_ALLOCATING |= {"list_new", "make_list", "list_append", "list_pop"}


def optimize(
    primal: Function, adjoint: Adjoint, names: Names | None = None
) -> tuple[list[Stmt], list[Stmt], tuple]:
    """(primal statements, adjoint statements, gradient atoms) to emit; with
    `names` (for new variables), products accumulated in loops are batched."""
    written = Counter(n for s in walk(adjoint.body) for n in writes(s))
    unstable = {n for n, c in written.items() if c > 1}
    unstable |= {s.target.name for s in walk(adjoint.body) if isinstance(s, SetItem)}
    alias: dict[str, Atom] = {}
    body = _share(adjoint.body, unstable, alias)
    grads = tuple(
        alias.get(g.name, g) if isinstance(g, Var) else g for g in adjoint.grads
    )
    if names is not None:
        body, grads = _distinct_results(body, grads, names)
    ret = primal.body[-1]
    needed = {v.name for v in uses(ret)} | {g.name for g in grads if isinstance(g, Var)}
    shapes = _shapes(primal, adjoint)
    body = _spread_through_sums(body, unstable)
    body = _spread_lazily(body, shapes, unstable, needed)
    body = _live(body, needed, keep={"seed"})
    read = Counter(v.name for s in walk(body) for v in uses(s))
    read.update(g.name for g in grads if isinstance(g, Var))
    products = {
        s.target.name
        for s in walk(primal.body)
        if isinstance(s, Assign) and s.op in _PRODUCT_GRADS
    }
    body = _sum_products(body, read, shapes, products)
    reads = Counter(v.name for s in walk(body) for v in uses(s))
    reads.update(g.name for g in grads if isinstance(g, Var))  # (returned)
    body = _subtractions(body, reads)
    if names is not None:
        body = _batch_products(body, names)
    body = _fold_product_sums(body, primal)
    body = _walk_stacks(body)
    forward = _forward_of(primal, adjoint)
    body = _disjoint_writes(body, SliceBounds(forward + body))
    needed = {v.name for v in uses(ret)} | {g.name for g in grads if isinstance(g, Var)}
    body = _live(body, needed, keep={"seed"})
    primal_body = _fast_means(_live(forward, needed, keep=set()))
    kept = {v.name for v in uses(ret)} | {g.name for g in grads if isinstance(g, Var)}
    kept |= {  # (the entries of a tuple's gradient are returned too)
        a.name
        for s in body
        if isinstance(s, Assign) and s.op == "entries_grad"
        for a in s.args[1:]
        if isinstance(a, Var)
    }
    both = primal_body + _fast_means(body)
    both, split = _fused_squares(both, len(primal_body), kept)
    both = _coalesced_merges(both, kept)
    if names is not None:
        both = _listed_arguments(both, split, primal, names)
    entries = floats.entry_arrays(both, primal.params, list(uses(ret)))
    if not floats.eligible(both, entries):  # (code that may run on numbers
        # allocates none, and tests no shapes)
        both = buffers.reuse(both, _stable_shapes(primal, adjoint), kept)
        both = loopshapes.inline(both, split, {*primal.params, "seed"})
    return both[:split], both[split:], grads


# Operators that raise on a list or tuple with a number or another list (or,
# as `+` and `*` may, are checked for it: `_not_joined`); with an array they
# are numpy's, but a parameter read so is taken for an array or a number.
_ARITHMETIC = {"add", "sub", "mul", "truediv", "pow", "neg", "pos", "matmul"}
# Operators of derivative code: those, and comparisons (of a list with a
# number: a TypeError, or False for `==`); `_div` reads lists as numpy does.
_OPERATORS = _ARITHMETIC | {"lt", "le", "gt", "ge", "eq", "ne"}


def _listed_arguments(
    statements: list[Stmt], split: int, primal: Function, names: Names
) -> list[Stmt]:
    """A parameter that numpy alone reads in the primal (`np.square(x)`) may be
    a list or tuple, which numpy reads as an array; where the adjoint applies
    an operator to it (`2.0 * seed * x`, `x > 1`), it reads
    `_listed(x)`, that array, made once at the adjoint's start (an array or a
    number is itself).  Its other reads (numpy's, the helpers') stay `x`."""
    operated = {  # (an operator's, Python's or math's: an array or a number)
        v.name
        for s in walk(primal.body)
        if isinstance(s, Assign)
        and (s.op in _ARITHMETIC or _builtin(s) or s.op in ("float", "int"))
        for v in arg_vars(s.args)
    }

    def operands(s: Stmt) -> list[str]:
        if not isinstance(s, Assign) or s.op not in _OPERATORS:
            return []
        return [v.name for v in arg_vars(s.args) if v.name in primal.params]

    found = {p for s in walk(statements[split:]) for p in operands(s)} - operated
    if not found:
        return statements
    listed = {p: names.fresh() for p in primal.params if p in found}

    def block(body) -> list[Stmt]:
        return [
            rename(s, listed) if operands(s) else _map_bodies(s, block) for s in body
        ]

    made = [Assign(Var(t), "listed", (Var(p),)) for p, t in listed.items()]
    return statements[:split] + made + block(statements[split:])


def _builtin(stmt: Assign) -> bool:
    """A call of Python's or math's functions (`max(a, b)`, `math.sin(x)`),
    which take no list, as printed (not a custom rule's)."""
    return stmt.param("fn") is not None and stmt.op not in ("custom", "opaque")


def _coalesced_merges(statements: list[Stmt], kept: set[str]) -> list[Stmt]:
    """A branch's value that an arm computes by an elementwise op only to copy
    it into the name both arms give (`y = 3 * x**2`, then `y_1 = y`), or that
    both arms of an inner branch give by copies (of anything) only to copy it
    on (`y_2 = y_1`), is given the last name (`y_2 = 3 * x**2`): where each
    copy is its value's one read, nothing else gives that value, and nothing
    between (nor the inner branch) reads or writes the name copied into.
    Names in `kept` are read after `statements` and never renamed."""
    branches = [s for s in walk(statements) if isinstance(s, If)]
    if not branches:
        return statements
    reads = Counter(v.name for s in walk(statements) for v in uses(s))
    reads.update(kept)
    written = Counter(n for s in walk(statements) for n in writes(s))
    names: dict[str, str] = {}

    def touched(body) -> set[str]:
        return {v.name for s in walk(body) for v in uses(s)} | {
            n for s in walk(body) for n in writes(s)
        }

    def arm(body: tuple[Stmt, ...]) -> None:
        made: dict[str, int] = {}  # name -> the statement in `body` giving it
        for k, stmt in enumerate(body):
            if isinstance(stmt, Assign) and is_elementwise(stmt.op):
                made[stmt.target.name] = k  # (not a view: `inplace` follows
                # the views a name may be by its one statement)
            elif isinstance(stmt, If):  # (given by the inner branch's copies)
                inner = Counter(
                    n for s in walk([stmt]) if isinstance(s, Copy) for n in writes(s)
                )
                made.update((n, k) for n, c in inner.items() if c == written[n])
            if not (isinstance(stmt, Copy) and len(stmt.targets) == 1):
                continue
            (target,), (value,) = stmt.targets, stmt.values
            j = made.get(value.name) if isinstance(value, Var) else None
            if j is None or reads[value.name] != 1:
                continue
            if isinstance(body[j], Assign) and written[value.name] != 1:
                continue
            inner = body[j:k] if isinstance(body[j], If) else body[j + 1 : k]
            if target.name not in touched(inner):
                names[value.name] = target.name

    for branch in branches:
        arm(branch.body)
        arm(branch.orelse)
    if not names:
        return statements
    for name in names:  # (a chain, `y` -> `y_1` -> `y_2`: each to its last)
        for _ in names:
            if names[name] not in names:
                break
            names[name] = names[names[name]]

    def without_self_copies(body) -> list[Stmt]:  # (`a = a`, in arms alone)
        return [
            _map_bodies(s, without_self_copies)
            for s in body
            if not (isinstance(s, Copy) and s.targets == s.values)
        ]

    renamed = [rename(s, names) for s in statements]
    return [_map_bodies(s, without_self_copies) for s in renamed]


def _distinct_results(
    statements: list[Stmt], grads: tuple, names: Names
) -> tuple[list[Stmt], tuple]:
    """Reverse mode copies (`_owned`) a gradient that may be another's array;
    sharing identical computations (`_share`) can make two of them one array
    again (`t = g * x` once, then `_unbroadcast(t, a)` and `_unbroadcast(t,
    b)`, which may return `t` itself), in a branch's arms too.  Copy each
    returned array, and each entry of a tuple's gradient (`entries_grad`,
    at the top level), that may be one returned before it."""

    def roots(atom: Atom, seen: set[Atom]) -> set[Atom]:
        """The arrays `atom` may be at the end (through the arms of
        branches, and ops that may return their argument)."""
        if not isinstance(atom, Var) or atom in seen:
            return {atom}
        seen.add(atom)
        found: set[Atom] = set()
        for made in reaching(statements, atom):
            if isinstance(made, Copy):
                found |= roots(made.values[made.targets.index(atom)], seen)
            elif isinstance(made, Assign) and made.op in _PASSED_ON:
                found |= roots(made.args[0], seen)
            else:
                found.add(atom)
        return found

    seen: set[Atom] = set()
    out: list[Stmt] = []

    def distinct(atom: Atom, loc) -> Atom:
        if not isinstance(atom, Var):
            return atom
        bases = roots(atom, set())
        if bases & seen:
            copy = Var(names.fresh(f"{atom.name}_copy"))
            out.append(Assign(copy, "owned", (atom,), (), loc))
            return copy
        seen.update(bases)
        return atom

    for stmt in statements:
        if isinstance(stmt, Assign) and stmt.op == "entries_grad":
            items, *entries = stmt.args
            entries = [distinct(e, stmt.loc) for e in entries]
            stmt = Assign(
                stmt.target, stmt.op, (items, *entries), stmt.params, stmt.loc
            )
        out.append(stmt)
    grads = tuple(distinct(g, None) for g in grads)
    return out, grads


# Ops whose result may be their first argument, or a view of it.
_PASSED_ON = {"unbroadcast", "reshape", "ravel", "asarray"}


def _forward_of(primal: Function, adjoint: Adjoint) -> list[Stmt]:
    """The primal statements the gradient runs before its adjoint."""
    if adjoint.forward is not None:
        return list(adjoint.forward)
    return list(primal.body[:-1])


def _live(statements, needed: set[str], keep: set[str]) -> list[Stmt]:
    """Drop statements whose targets nothing reads; updates `needed` in place.

    Inside a loop everything the loop reads counts as needed (a value may be
    read by the next iteration); stack pushes and pops are always kept."""
    kept: list[Stmt] = []
    for stmt in reversed(statements):
        if isinstance(stmt, Assign | SetItem):
            target = stmt.target.name
            checks = isinstance(stmt, Assign) and stmt.op in CHECKS
            if target not in needed and target not in keep and not checks:
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
            # Everything the loop reads is needed before, after and inside it;
            # the body adds nothing more to `needed`, so it needs no copy (a
            # copy per loop made this quadratic in the number of loops).
            needed |= {v.name for s in walk([stmt]) for v in uses(s)}
            if isinstance(stmt, For):
                body = _live(stmt.body, needed, keep)
                stmt = For(stmt.target, stmt.iter, tuple(body), stmt.loc)
            else:
                test = _live(stmt.test, needed, keep)
                body = _live(stmt.body, needed, keep)
                stmt = While(tuple(test), stmt.cond, tuple(body), stmt.loc)
        kept.append(stmt)
        needed.update(v.name for v in uses(stmt))
    return kept[::-1]


def _shapes(primal: Function, adjoint: Adjoint) -> dict[str, Shape]:
    """Shape classes (`analysis.shape_classes`) of the primal's variables and
    of the adjoint's: a cotangent has its primal's shape, the seed the
    returned value's, and an adjoint temporary assigned once, at the top
    level or in a branch, the class of its op; anything else a class only it
    has."""
    shapes = _stable_shapes(primal, adjoint)
    count = Counter(n for s in walk(adjoint.body) for n in writes(s))

    def of(atom) -> Shape:
        if isinstance(atom, Var):
            return shapes.get(atom.name, frozenset((atom.name,)))
        return (
            SCALAR
            if not isinstance(atom, Const) or atom.name is None
            else frozenset((f"<const {atom.name}>",))
        )

    for stmt in _unlooped(adjoint.body):
        if isinstance(stmt, Assign) and count[stmt.target.name] == 1:
            shapes.setdefault(stmt.target.name, shape_of(stmt, of))
    return shapes


def _stable_shapes(primal: Function, adjoint: Adjoint) -> dict[str, Shape]:
    """The shape classes of the primal's variables, the seed and the
    cotangents: every value these names take has them, whatever the
    optimizations rewrite (they may give an adjoint temporary a new shape)."""
    shapes = shape_classes(primal)
    ret = primal.body[-1]
    value = ret.value if isinstance(ret, Return) else None
    shapes["seed"] = (
        shapes.get(value.name, SCALAR) if isinstance(value, Var) else SCALAR
    )
    for name, bar in adjoint.bars.items():
        shapes[bar] = shapes.get(name, frozenset((bar,)))
    return shapes


def _spread_through_sums(statements, unstable) -> list[Stmt]:
    """`u = broadcast_to(keepdims(g, y, axis=a), shape(y))`, the cotangent
    of y in `r = np.sum(y, axis=a)`, where `g = spread(c, r)` is one number
    spread over r (the cotangent of a total of r): `u = spread(c, y)`, the
    same array of c's in y's shape and dtype, without np.broadcast_to's
    microseconds of Python and a view of strides 0 (a product with one is
    slower).  `_spread_lazily` may then drop the spread.  Top level only."""
    defs = {s.target.name: s for s in statements if isinstance(s, Assign)}

    def made(atom: Atom, op: str) -> Assign | None:
        stmt = defs.get(atom.name) if isinstance(atom, Var) else None
        ok = stmt is not None and stmt.op == op and stmt.target.name not in unstable
        return stmt if ok else None

    out: list[Stmt] = []
    for stmt in statements:
        if isinstance(stmt, Assign) and stmt.op == "broadcast_to":
            kept = made(stmt.args[0], "keepdims")
            shape = made(stmt.args[1], "shape")
            spread = made(kept.args[0], "spread") if kept is not None else None
            args = (spread.args[0], kept.args[1]) if spread is not None else ()
            if (
                spread is not None
                and shape is not None
                and shape.args == kept.args[1:]
                and not {a.name for a in args if isinstance(a, Var)} & unstable
            ):
                stmt = Assign(stmt.target, "spread", args, (), stmt.loc)
        out.append(stmt)
    return out


def _spread_lazily(
    statements, shapes: dict[str, Shape], unstable, needed: set[str]
) -> list[Stmt]:
    """`g_full = spread(g, x)` (or `full(shape(x), g)`, `broadcast_to(g,
    shape(x))`) in an elementwise op with another argument of x's shape
    class: use `g` itself.
    A scalar multiple `u = c * g_full` whose every read is such an op is
    computed as `c * g`.  At the top level and in branches (not in loops),
    of names given one value (and, in a branch, of a `g` given one)."""
    flat = list(_unlooped(statements))
    defs = {s.target.name: s for s in flat if isinstance(s, Assign)}
    small: dict[str, tuple[Atom, Shape]] = {}
    scaled: dict[str, Shape] = {}  # u = c * g_full, by u
    nested = {id(s) for s in _unlooped(statements, nested_only=True)}
    for stmt in flat:
        if not isinstance(stmt, Assign) or stmt.target.name in unstable:
            continue
        if id(stmt) in nested and any(
            isinstance(a, Var) and a.name in unstable for a in stmt.args
        ):
            continue
        if is_elementwise(stmt.op):
            spread = [
                a.name for a in stmt.args if isinstance(a, Var) and a.name in small
            ]
            rest = [_shape(a, shapes) for a in stmt.args if a.name not in spread]
            if len(spread) == 1 and all(r == SCALAR for r in rest):
                scaled[stmt.target.name] = small[spread[0]][1]
            continue
        if stmt.op == "spread":  # (x's shape, without a `shape` statement)
            value, like = stmt.args
            shape = shapes.get(like.name) if isinstance(like, Var) else None
            if shape is not None:
                small[stmt.target.name] = (value, shape)
            continue
        if stmt.op == "full":
            size, value = stmt.args
        elif stmt.op == "broadcast_to":
            value, size = stmt.args
        else:
            continue
        made = defs.get(size.name) if isinstance(size, Var) else None
        if made is not None and made.op == "shape" and isinstance(made.args[0], Var):
            shape = shapes.get(made.args[0].name)
            if shape is not None:
                small[stmt.target.name] = (value, shape)

    def safe(stmt: Assign, arg: Atom, shape: Shape) -> bool:
        others = {_shape(a, shapes) for a in stmt.args if a != arg}
        return is_elementwise(stmt.op) and shape in others

    reads = Counter(v.name for s in walk(statements) for v in uses(s))
    safe_reads = Counter(
        arg.name
        for stmt in flat
        if isinstance(stmt, Assign)
        for arg in stmt.args
        if isinstance(arg, Var)
        and arg.name in scaled
        and safe(stmt, arg, scaled[arg.name])
    )
    lazy = {u for u in scaled if u not in needed and safe_reads[u] == reads[u]}

    def lazily(stmt: Stmt) -> Stmt:
        if isinstance(stmt, Assign) and is_elementwise(stmt.op):
            args = list(stmt.args)
            for i, arg in enumerate(stmt.args):
                spread = small.get(arg.name) if isinstance(arg, Var) else None
                if spread is not None and (
                    stmt.target.name in lazy or safe(stmt, arg, spread[1])
                ):
                    args[i] = spread[0]
            stmt = Assign(stmt.target, stmt.op, tuple(args), stmt.params, stmt.loc)
            if stmt.target.name in lazy:  # its value is smaller now
                known = [_shape(a, shapes) for a in stmt.args]
                shapes.pop(stmt.target.name, None)
                if None not in known:
                    shapes[stmt.target.name] = frozenset().union(*known)
        return stmt

    def rewrite(body) -> list[Stmt]:
        return [
            lazily(_map_bodies(s, rewrite) if isinstance(s, If) else s) for s in body
        ]

    return rewrite(statements)


def _unlooped(statements, nested_only: bool = False) -> Iterator[Stmt]:
    """The statements of `statements` and of its branches, not of its loops
    (with `nested_only`, those of its branches alone)."""
    for stmt in statements:
        if not nested_only:
            yield stmt
        if isinstance(stmt, If):
            for body in (stmt.body, stmt.orelse):
                yield from _unlooped(body)


def _shape(atom: Atom, shapes: dict[str, Shape]) -> Shape | None:
    if isinstance(atom, Var):
        return shapes.get(atom.name)
    return SCALAR if isinstance(atom, Const) and atom.name is None else None


def _sum_products(
    statements, read: Counter, shapes: dict[str, Shape], products: set[str]
) -> list[Stmt]:
    """`t = mul(g, p)` read only by the next statement, `u = unbroadcast(t, x)`:
    `t = unbroadcast(g, x); u = mul(p, t)` when `p` is a scalar or has x's
    shape class (or `g` is, or has), and again on the new `unbroadcast` if
    `g` is itself such a product; else `u = unbroadcast_mul(g, p, x)` when one
    factor's class is part of the other's (it may be the smaller) or both
    have one class (summed in one pass) but for the sum to a matrix product
    (`products`: `_fold_product_sums` does better there), in every block.
    A quotient `g / p` with such a divisor and a negation `-g` are summed
    first too: `-np.sum(g) / p` is two operations on the small array."""
    out: list[Stmt] = []
    for stmt in statements:
        out.append(
            _map_bodies(stmt, lambda body: _sum_products(body, read, shapes, products))
        )
        at = len(out) - 1
        while at is not None:
            at = _sum_product(out, at, read, shapes, products)
    return out


def _sum_product(
    out: list[Stmt], at: int, read: Counter, shapes, products
) -> int | None:
    """Rewrite `out[at - 1:at + 1]` as `_sum_products` says; the index of a new
    `unbroadcast` to look at next, if any."""
    stmt, prev = out[at], out[at - 1] if at > 0 else None
    if not (
        isinstance(stmt, Assign)
        and stmt.op == "unbroadcast"
        and isinstance(prev, Assign)
        and prev.op in ("mul", "divide", "div", "truediv", "neg")
        and stmt.args[0] == prev.target
        and read[prev.target.name] == 1
    ):
        return None
    x = stmt.args[1]
    x_shape = _shape(x, shapes)

    def moved(cotangent: Atom, op: str, args: tuple) -> int:
        """`t = unbroadcast(cotangent, x); u = op(*args)`: sum, then scale."""
        out[at - 1 : at + 1] = [
            Assign(prev.target, "unbroadcast", (cotangent, x), (), prev.loc),
            Assign(stmt.target, op, args, (), stmt.loc),
        ]
        shapes.pop(prev.target.name, None)  # (now of x's shape)
        if x_shape is not None:
            shapes[prev.target.name] = x_shape
        return at - 1

    def constant(atom: Atom) -> bool:
        """Is `atom` constant along every axis `unbroadcast` sums?"""
        shape = _shape(atom, shapes)
        return shape is not None and shape in (SCALAR, x_shape)

    t = prev.target
    if prev.op == "neg":
        return moved(prev.args[0], "neg", (t,))
    g, p = prev.args
    if prev.op != "mul":  # the divisor alone may move: g / p
        return moved(g, prev.op, (t, p)) if constant(p) else None
    for factor, other in ((p, g), (g, p)):
        if constant(factor):
            return moved(other, "mul", (factor, t))
    g_shape, p_shape = _shape(g, shapes), _shape(p, shapes)
    one = g_shape == p_shape and name_of(x) not in products
    if None not in (g_shape, p_shape) and (
        g_shape < p_shape or p_shape < g_shape or one
    ):
        # one factor may be the smaller, or both of one shape summed in one
        # pass without their product (einsum): the helper decides
        out[at - 1 : at + 1] = [
            Assign(stmt.target, "unbroadcast_mul", (g, p, x), (), stmt.loc)
        ]
    return None


def _subtractions(statements, read: Counter) -> list[Stmt]:
    """`u = -t` read only by the next statement, `w = a + u` (or `u + a`):
    `w = a - t`, the same numbers (IEEE addition of a negation is
    subtraction), one array operation fewer; in every block.  So too a
    negation added into entries, `y[i] += u`: `y[i] -= t`."""
    out: list[Stmt] = []
    for stmt in statements:
        stmt = _map_bodies(stmt, lambda body: _subtractions(body, read))
        prev = out[-1] if out else None
        if (
            isinstance(prev, Assign)
            and prev.op == "neg"
            and read[prev.target.name] == 1
        ):
            u, t = prev.target, prev.args[0]  # (`u = -t`, read here alone)
            if isinstance(stmt, Assign) and stmt.op == "add" and u in stmt.args:
                other = stmt.args[1] if stmt.args[0] == u else stmt.args[0]
                stmt = Assign(stmt.target, "sub", (other, t), (), stmt.loc)
                out.pop()
            elif isinstance(stmt, SetItem) and stmt.mode == "add" and stmt.value == u:
                stmt = SetItem(stmt.target, stmt.index, t, "sub", stmt.loc)
                out.pop()
        out.append(stmt)
    return out


def _walk_stacks(statements: list[Stmt]) -> list[Stmt]:
    """A top-level reverse loop whose every step starts by popping its own
    stack, `for _ in reversed(range(n)): a, b = saved.pop()`, walks the stack
    instead: `for a, b in reversed(saved):`.  The loop's forward sweep pushes
    once per step (a stack popped in one place only is pushed at the end of
    the loop body, never in a branch), so the two visit the same entries; the
    loop index must be unread."""
    pops = Counter(s.stack.name for s in walk(statements) if isinstance(s, Pop))
    read = Counter(v.name for s in walk(statements) for v in uses(s))
    steps = {
        s.target.name: s
        for s in statements
        if isinstance(s, Assign) and s.op in ("range", "reversed_range")
    }
    out: list[Stmt] = []
    for stmt in statements:
        first = stmt.body[0] if isinstance(stmt, For) and stmt.body else None
        if (
            isinstance(first, Pop)
            and pops[first.stack.name] == 1
            and isinstance(stmt.iter, Var)
            and stmt.iter.name in steps
            and read[stmt.iter.name] == 1
            and all(read[t.name] == 0 for t in for_targets(stmt))
            and steps[stmt.iter.name] in out
        ):
            made = steps[stmt.iter.name]
            out[out.index(made)] = Assign(
                made.target, "reversed", (first.stack,), (), made.loc
            )
            stmt = For(first.targets, stmt.iter, stmt.body[1:], stmt.loc)
        out.append(stmt)
    return out


def _disjoint_writes(statements: list[Stmt], bounds: SliceBounds) -> list[Stmt]:
    """`z = zeros(...)` and then `z[s] += v` on a slice no earlier write since
    the zeros touched (`g[:H] += u` after `g[3 * H :] = w`, with `H` a shape
    entry divided by 4): `z[s] = v`, one store instead of a read, an
    addition and a store.  Only while nothing else reads or writes `z`; in
    every block."""
    out: list[Stmt] = []
    written: dict[str, list[Index]] = {}  # fresh zeros -> the indices written
    for stmt in statements:
        stmt = _map_bodies(stmt, lambda body: _disjoint_writes(body, bounds))
        if (
            isinstance(stmt, SetItem)
            and stmt.target.name in written
            and stmt.mode in ("set", "add")
            and not any(v.name == stmt.target.name for v in stmt.index.vars())
            and stmt.value != stmt.target
        ):
            before = written[stmt.target.name]
            if stmt.mode == "add" and all(
                bounds.disjoint(stmt.index, i) for i in before
            ):
                stmt = SetItem(stmt.target, stmt.index, stmt.value, "set", stmt.loc)
            before.append(stmt.index)
        else:
            touched = {v.name for s in walk([stmt]) for v in uses(s)}
            touched |= {n for s in walk([stmt]) for n in writes(s)}
            for name in touched & set(written):
                del written[name]
            if isinstance(stmt, Assign) and stmt.op in _ZEROS:
                written[stmt.target.name] = []
        out.append(stmt)
    return out


# A product's adjoints, by the product's op.
_PRODUCT_GRADS = {
    "matmul": ("matmul_lhs_grad", "matmul_rhs_grad"),
    "dot": ("dot_lhs_grad", "dot_rhs_grad"),
}


def _fold_product_sums(statements: list[Stmt], primal: Function) -> list[Stmt]:
    """`u = unbroadcast(g, t)` with `t = a @ b` (or `np.dot(a, b)`), where every
    read of `u` is as the cotangent of that product's adjoints: they take `g`
    itself, with `broadcast=True`, and sum it back to the product's shape
    where they need it.  The adjoint then no longer reads `t`, so the primal
    prints `np.tanh(X @ W + b)` as one expression, and numpy adds `b` into
    the product's buffer instead of allocating another.  Top level only, on
    names bound once."""
    products = {
        s.target.name: s
        for s in primal.body
        if isinstance(s, Assign) and s.op in _PRODUCT_GRADS
    }
    bound = Counter(n for s in walk(primal.body) for n in writes(s))
    bound.update(n for s in walk(statements) for n in writes(s))
    reads = Counter(v.name for s in walk(statements) for v in uses(s))

    def once(atom: Atom) -> bool:
        return not isinstance(atom, Var) or bound[atom.name] <= 1

    folds: dict[str, Atom] = {}  # u -> g
    for stmt in statements:
        if not (isinstance(stmt, Assign) and stmt.op == "unbroadcast"):
            continue
        (g, t), u = stmt.args, stmt.target.name
        product = products.get(t.name) if isinstance(t, Var) else None
        if product is None or not all(map(once, (stmt.target, g, t, *product.args))):
            continue
        grads = _PRODUCT_GRADS[product.op]
        takers = [
            s
            for s in statements
            if isinstance(s, Assign)
            and s.op in grads
            and s.args == (stmt.target, *product.args)
            and not s.params
        ]
        if takers and reads[u] == len(takers):
            folds[u] = g
    out: list[Stmt] = []
    for stmt in statements:
        if isinstance(stmt, Assign) and stmt.target.name in folds:
            continue  # (an unbroadcast folded into the statements reading it)
        u = stmt.args[0] if isinstance(stmt, Assign) and stmt.args else None
        if isinstance(u, Var) and u.name in folds:
            args = (folds[u.name], *stmt.args[1:])
            stmt = Assign(stmt.target, stmt.op, args, (("broadcast", True),), stmt.loc)
        out.append(stmt)
    return out


# A matmul adjoint by its form summed over loop steps, and the position of the
# operand whose cotangent it is (the same matrix in every step).
_SUMMED = {
    "matmul_lhs_grad": ("matmul_lhs_grad_sum", 1, "bs"),
    "matmul_rhs_grad": ("matmul_rhs_grad_sum", 2, "as"),
}


def _batch_products(statements: list[Stmt], names: Names) -> list[Stmt]:
    """In a top-level loop, `A += matmul_lhs_grad(g, W, x)` (the cotangent of a
    matrix `W` the loop never rebinds, one outer product and one addition per
    step) appends `g` and `x` to two lists, and `A += matmul_lhs_grad_sum(gs,
    W, xs)` after the loop adds them all with one matrix product of the
    stacked pairs; so for `matmul_rhs_grad`.  Only where the loop reads `A`
    just to accumulate into it, and writes no buffer the appended values are
    (or are views of) after appending them, nor before unless the loop
    allocates it anew in every step."""
    read = Counter(v.name for s in walk(statements) for v in uses(s))
    out: list[Stmt] = []
    for stmt in statements:
        if isinstance(stmt, For):
            before, stmt, after = _batch_loop(stmt, read, names)
            out += [*before, stmt, *after]
        else:
            out.append(stmt)
    return out


def _batch_loop(loop: For, read: Counter, names: Names):
    """(statements before `loop`, `loop`, statements after it): see
    `_batch_products`."""
    body = list(loop.body)
    rebound = {n for s in walk(body) for n in writes(s)} | set(writes(loop))
    bound = Counter(
        n
        for s in walk(body)
        if not (isinstance(s, SetItem) or isinstance(s, Assign) and s.op == "iadd")
        for n in writes(s)
    )
    at = {  # the statement binding each name bound once in the loop
        s.target.name: i
        for i, s in enumerate(body)
        if isinstance(s, Assign) and s.op != "iadd" and bound[s.target.name] == 1
    }
    before: list[Stmt] = []
    after: list[Stmt] = []
    replaced: dict[int, list[Stmt]] = {}
    for i, stmt in enumerate(body):
        if not (
            isinstance(stmt, Assign)
            and stmt.op == "iadd"
            and isinstance(stmt.args[1], Var)
            and stmt.args[1].name in at
            and read[stmt.args[1].name] == 1
        ):
            continue
        j = at[stmt.args[1].name]
        product = body[j]
        if j > i or not isinstance(product, Assign) or product.op not in _SUMMED:
            continue  # (j > i: the product of the step before)
        summed, fixed, role = _SUMMED[product.op]
        matrix = product.args[fixed]
        varying = [a for k, a in enumerate(product.args) if k != fixed]
        if (
            isinstance(matrix, Var)
            and matrix.name in rebound
            or not _only_accumulated(stmt.target, loop.body)
            or not _kept(varying[0], j, body, at, made_here=True)
            or not _kept(varying[1], j, body, at, made_here=False)
        ):
            continue
        lists = [Var(names.fresh(f"{stmt.target.name}_{r}")) for r in ("gs", role)]
        before += [Assign(v, "new_stack", (), (), loop.loc) for v in lists]
        replaced[j] = [
            Push(v, (a,), product.loc) for v, a in zip(lists, varying, strict=True)
        ]
        replaced[i] = []
        total = Var(names.fresh())
        args = (lists[0], matrix, lists[1]) if fixed == 1 else (*lists, matrix)
        after += [
            Assign(total, summed, args, (), stmt.loc),
            Assign(stmt.target, "iadd", (stmt.target, total), (), stmt.loc),
        ]
    if not before:
        return [], loop, []
    body = [s for k, stmt in enumerate(body) for s in replaced.get(k, [stmt])]
    return before, For(loop.target, loop.iter, tuple(body), loop.loc), after


def _only_accumulated(acc: Var, body) -> bool:
    """Is every statement of `body` that reads or writes `acc` an `acc += v`?"""
    return all(
        isinstance(s, Assign)
        and s.op == "iadd"
        and s.target == acc
        and s.args[0] == acc
        and acc not in s.args[1:]
        for s in walk(body)
        if acc.name in writes(s) or acc in uses(s)
    )


def _kept(
    value: Atom, j: int, body: list[Stmt], at: dict[str, int], made_here: bool
) -> bool:
    """Does the value `value` has at `body[j]` stay unchanged after the loop?
    Every buffer it may be, following views back through `body`, is written
    by no later statement, and by earlier ones only if `body` allocates it
    (which it does anew each step).  A cotangent (`made_here`) must come from
    a computation in `body`: one carried in from the step before may be a
    buffer this step writes under another name.  (A primal value, restored
    from the stack or computed before the loop, is never written in the
    reverse sweep.)"""
    if not isinstance(value, Var):
        return True
    written: dict[str, list[int]] = {}
    for k, stmt in enumerate(body):
        for s in walk([stmt]):
            if isinstance(s, SetItem) or isinstance(s, Assign) and s.op == "iadd":
                written.setdefault(s.target.name, []).append(k if s is stmt else -1)
    name = value.name
    while True:
        made = body[at[name]] if name in at else None
        if name in written:
            if made is None or made.op not in _ALLOCATING:
                return False
            if any(k < 0 or k > j or k < at[name] for k in written[name]):
                return False
        if made is None or made.op not in VIEWS or not made.args:
            return made is not None or not made_here and name not in written
        if not isinstance(made.args[0], Var):
            return True
        name = made.args[0].name


def _fast_means(statements) -> list[Stmt]:
    """`mean(x)` with no axis as `mean_all(x)`, printed `_mean(x)`, in every block."""
    out: list[Stmt] = []
    for stmt in statements:
        stmt = _map_bodies(stmt, _fast_means)
        if (
            isinstance(stmt, Assign)
            and stmt.op == "mean"
            and stmt.param("axis") is None
            and not stmt.param("keepdims")
        ):
            stmt = Assign(stmt.target, "mean_all", stmt.args, (), stmt.loc)
        out.append(stmt)
    return out


# Ops that read an argument only for its shape (and a scalar's type), and
# the positions of those arguments: `_unbroadcast(g, x)`, `np.size(x)`.
_SHAPE_READS = {"count": (0,), "shape": (0,), "size": (0,), "ndim": (0,), "len": (0,)}
_SHAPE_READS |= {"zeros_grad": (0,), "keepdims": (1,), "unbroadcast": (1,)}
_SHAPE_READS |= {"zeros_buffer": (0,)}
_SHAPE_READS |= {"spread": (1,)}
_SHAPE_READS |= {"unbroadcast_mul": (2,)}


def _fused_squares(
    statements: list[Stmt], split: int, kept: set[str]
) -> tuple[list[Stmt], int]:
    """`t = a**2` (or `a * a`) summed at once, `s = np.sum(t, axis=k)` or
    `np.mean(t)`, as `s = _sum_squares(a, axis=k)` or `_mean_squares(a)`:
    one pass with np.vdot or np.einsum instead of an array of squares and a
    sum of it (the same squares summed in another order).  Only where `t` is
    otherwise read for its shape alone, which is `a`'s: those reads take `a`.
    Returns the top-level statements and the new index of `split`."""
    pairs = [
        at
        for at, stmt in enumerate(statements[:-1])
        if _squared(stmt) is not None and _sums(statements[at + 1], stmt.target)
    ]
    if not pairs:
        return statements, split
    count = Counter(n for s in walk(statements) for n in writes(s))
    count.update(s.target.name for s in walk(statements) if isinstance(s, SetItem))
    readers: dict[str, list[int]] = {}
    for at, stmt in enumerate(statements):
        for name in {v.name for s in walk([stmt]) for v in uses(s)}:
            readers.setdefault(name, []).append(at)
    out = list(statements)
    dropped: list[int] = []
    for at in pairs:
        stmt, total = statements[at], statements[at + 1]
        base, name = _squared(stmt), stmt.target.name
        if count[base.name] > 1 or count[name] != 1 or name in kept:
            continue
        others = [i for i in readers.get(name, ()) if i != at + 1]
        if not all(_shape_only(s, name) for i in others for s in walk([out[i]])):
            continue
        fused = "mean_squares" if total.op == "mean_all" else "sum_squares"
        out[at + 1] = Assign(total.target, fused, (base,), total.params, total.loc)
        for i in others:
            out[i] = rename(out[i], {name: base.name})
        dropped.append(at)
    for at in reversed(dropped):
        del out[at]
    return out, split - sum(1 for at in dropped if at < split)


def _sums(stmt: Stmt, t: Var) -> bool:
    """Whether `stmt` is `np.sum(t)` along no axis or one, or `np.mean(t)`."""
    return (
        isinstance(stmt, Assign)
        and stmt.args == (t,)
        and (
            stmt.op == "mean_all"
            or stmt.op == "sum"
            and type(stmt.param("axis")) in (int, type(None))
        )
    )


def _squared(stmt: Stmt) -> Var | None:
    """`a` for `t = a**2` or `t = a * a`."""
    if not isinstance(stmt, Assign) or not stmt.args:
        return None
    first = stmt.args[0]
    if not isinstance(first, Var):
        return None
    if (
        stmt.op == "pow"
        and stmt.args[1] == Const(2)
        and type(stmt.args[1].value) is int
    ):
        return first
    if stmt.op == "mul" and stmt.args[1] == first:
        return first
    return None


def _shape_only(stmt: Stmt, name: str) -> bool:
    """Whether `stmt` (no nested statements) reads `name` only for its shape."""
    if name not in {v.name for v in uses(stmt)}:
        return True
    if not isinstance(stmt, Assign) or stmt.op not in _SHAPE_READS:
        return False
    places = _SHAPE_READS[stmt.op]
    return all(
        i in places
        for i, a in enumerate(stmt.args)
        if name in {v.name for v in _vars_in(a)}
    )


def _vars_in(atom) -> list[Var]:
    if isinstance(atom, Var):
        return [atom]
    if isinstance(atom, Index):
        return [v for item in atom.items for v in _vars_in(item)]
    if isinstance(atom, Slice):
        return [v for p in (atom.start, atom.stop, atom.step) for v in _vars_in(p)]
    return []


def carry_in_place(statements: list[Stmt]) -> list[Stmt]:
    """(Printing, after `floats.recomputed`, which reads the copies.)  A loop
    step that computes a carried value and ends by copying it,
    `x_2 = t1 * a + b; saved.append(x_1); x_1 = x_2`, computes it into the
    carried name just before the copy: `saved.append(x_1); x_1 = t1 * a + b`
    (a name and a copy less per step; 3% of a 100-step scalar recurrence).
    Only where the value is read by the copy alone, the statements it moves
    past are plain assignments and pushes that write neither what it reads
    nor the carried name (an in-place `+=` only into a buffer nothing views),
    and it reads no other carried name and no other copy reads its name."""
    reads = Counter(v.name for s in walk(statements) for v in uses(s))
    written = Counter(n for s in walk(statements) for n in writes(s))
    viewed = {
        s.args[0].name
        for s in walk(statements)
        if isinstance(s, Assign)
        and s.op in VIEWS
        and s.args
        and isinstance(s.args[0], Var)
    }

    def passes(stmt: Stmt, read: set[str]) -> bool:
        if isinstance(stmt, Push):
            return True
        if not isinstance(stmt, Assign) or stmt.target.name in read:
            return False
        if stmt.op == "iadd":
            return stmt.target.name not in viewed
        return stmt.op not in WRITES_ARGUMENT

    def step(body: list[Stmt]) -> list[Stmt]:
        copy = body[-1] if body else None
        if not isinstance(copy, Copy):
            return body
        targets = {t.name for t in copy.targets}
        made = {s.target.name: i for i, s in enumerate(body) if isinstance(s, Assign)}
        moved: dict[int, Assign] = {}
        for target, value in zip(copy.targets, copy.values, strict=True):
            at = made.get(value.name) if isinstance(value, Var) else None
            if at is None or reads[value.name] != 1 or written[value.name] != 1:
                continue
            stmt = body[at]
            if stmt.op in WRITES_ARGUMENT:  # (read back for a Hessian, a write
                continue  # past the push of its operand may happen in place)
            read = {v.name for v in uses(stmt)} | {target.name}
            if read & targets - {target.name}:
                continue
            if all(passes(s, read) for s in body[at + 1 : -1]):
                moved[at] = Assign(target, stmt.op, stmt.args, stmt.params, stmt.loc)
        names = {s.target.name for s in moved.values()}
        pairs = [
            (t, v)
            for t, v in zip(copy.targets, copy.values, strict=True)
            if t.name not in names
        ]
        if any(isinstance(v, Var) and v.name in names for _, v in pairs):
            return body  # (a copy left would read a value computed early)
        out = [s for i, s in enumerate(body[:-1]) if i not in moved]
        out += [moved[i] for i in sorted(moved)]
        if pairs:
            targets_left, values_left = zip(*pairs, strict=True)
            out.append(Copy(tuple(targets_left), tuple(values_left), copy.loc))
        return out

    def block(body) -> list[Stmt]:
        out = []
        for stmt in body:
            if isinstance(stmt, For):
                stmt = For(
                    stmt.target, stmt.iter, tuple(step(block(stmt.body))), stmt.loc
                )
            elif isinstance(stmt, While):
                test, inner = tuple(block(stmt.test)), tuple(step(block(stmt.body)))
                stmt = While(test, stmt.cond, inner, stmt.loc)
            else:
                stmt = _map_bodies(stmt, block)
            out.append(stmt)
        return out

    return block(statements)


def _map_bodies(stmt: Stmt, f) -> Stmt:
    """`stmt` with `f` applied to each statement list nested in it."""
    if isinstance(stmt, If):
        return If(stmt.cond, tuple(f(stmt.body)), tuple(f(stmt.orelse)), stmt.loc)
    if isinstance(stmt, For):
        return For(stmt.target, stmt.iter, tuple(f(stmt.body)), stmt.loc)
    if isinstance(stmt, While):
        return While(tuple(f(stmt.test)), stmt.cond, tuple(f(stmt.body)), stmt.loc)
    return stmt


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
            return Index(tuple(sub(item) for item in arg.items), arg.wrapped)
        if isinstance(arg, Slice):
            return Slice(
                *(
                    None if p is None else sub(p)
                    for p in (arg.start, arg.stop, arg.step)
                )
            )
        return arg

    if isinstance(stmt, Assign):
        if not any(v.name in alias for v in uses(stmt)):
            return stmt  # (most statements: nothing to rebuild)
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
