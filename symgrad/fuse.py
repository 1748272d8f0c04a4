"""One elementwise chain on adjacent slices of an array, computed once.

An LSTM's gates apply one chain of elementwise operations to slices that
tile an array:

    i = 1.0 / (1.0 + np.exp(-g[:H]))
    f = 1.0 / (1.0 + np.exp(-g[H : 2 * H]))
    o = 1.0 / (1.0 + np.exp(-g[2 * H : 3 * H]))

A numpy call costs about a microsecond of dispatch whatever the length of a
small array, so on the primal IR, before reverse mode, `fuse_slices`
computes the chain once on the union and takes the values as slices of it:

    t5 = 1.0 / (1.0 + np.exp(-g[: 3 * H]))
    i, f, o = t5[:H], t5[H : 2 * H], t5[2 * H : 3 * H]

and reverse mode differentiates the one chain (the LSTM's gradient: 1.14x
-> 1.00x of the hand-written code, which fuses its gates this way).  Each
value is the same, element for element, because:

* the chains apply the same operations with the same constants (`-0.0` is
  not `0.0`) in the same positions; every other operand is a Python number,
  and every value in between is read once, by the next operation;
* the sliced array is a numpy value (`analysis.numpy_values`): on a list,
  `*` repeats, and the union's dtype comes from all its entries;
* no operation is a builtin or `math` function called by name (`max(x,
  0.5)` takes one number);
* every value of the run gets a cotangent or none does (`analysis.activity`
  for the function's `wrt`): a value without one must not get zeros times
  its derivative, which is nan where the derivative is inf;
* the slices are of the first axis with unit step, and their bounds are
  sums and multiples of names holding integers >= 0 (shape entries,
  lengths; `analysis.SliceBounds`): the first starts at 0, each stops where
  the next starts, the stops never decrease.  So the union's result, sliced
  at a chain's bounds, holds that chain's elements, on every input;
* nothing reads a chain's value before the last chain, nothing writes into
  one (they become views of one array), and nothing in between writes at
  all;
* numpy's elementwise functions compute each element alone: the same bits
  for an element of a long array as of a short one (tested, for the
  functions in the rules table, in float64 and float32, on lengths from 1
  to 130 across the SIMD widths and slices at both ends and inside).

What may differ: where two chains would each warn (`np.log` of negative
numbers), numpy warns once; where a statement between the chains raises,
it raises before the chains' own error; and the cotangent buffer of the
union has its dtype, so for integer arrays of 8 or 16 bits (whose `np.cos`
is float16 or float32) the gradient is computed in that precision.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from .analysis import SliceBounds, activity, numpy_values
from .ir import (
    Assign,
    Branch,
    Const,
    Function,
    Index,
    Loop,
    SetItem,
    Slice,
    Stmt,
    Var,
    uses,
    walk,
)
from .names import Names
from .rules import OPS, WRITES_ARGUMENT

# Elementwise ops that apply to every element alone (not `float()`, which
# takes one number, nor the three-operand ones)
_FUSABLE = {
    name
    for name, op in OPS.items()
    if op.kind == "elementwise"
    and op.arity in (1, 2)
    and name not in ("float", "float64", "div")
}
_HOLE = "<chain>"  # where a chain's value goes in an operation's arguments


@dataclass(frozen=True)
class _Chain:
    array: Var  # the sliced array
    cut: Slice
    steps: tuple[Assign, ...]  # the slice, then the operations
    at: tuple[int, ...]  # their positions in the block

    @property
    def value(self) -> Var:
        return self.steps[-1].target

    @property
    def key(self) -> tuple:
        """Equal for two chains of the same operations on the same array."""
        ops = tuple(
            (
                s.op,
                s.params,
                tuple(_HOLE if isinstance(a, Var) else _number(a) for a in s.args),
            )
            for s in self.steps[1:]
        )
        return (self.array, ops)


def _number(const: Const) -> tuple:
    """A constant by type and spelling: `0.0` and `-0.0` (equal as numbers,
    as `Const`s) differ in `1 / (x + c)` at x = -0.0."""
    return (type(const.value), repr(const.value))


def fuse_slices(fn: Function, names: Names, wrt: tuple[str, ...]) -> Function:
    """`fn` with each run of chains on adjacent slices computed once."""
    sliced = Counter(s.args[0] for s in walk(fn.body) if _takes_slice(s))
    if all(count < 2 for count in sliced.values()):
        return fn  # (no array sliced twice: nothing to fuse, nothing to analyse)
    active = activity(fn, wrt, checked=False)
    arrays = numpy_values(list(fn.body), set(fn.params))
    reads = Counter(v.name for s in walk(fn.body) for v in uses(s))
    written = {s.target.name for s in walk(fn.body) if isinstance(s, SetItem)}
    written |= {  # (a functional write may become one in place: `inplace`)
        s.args[0].name
        for s in walk(fn.body)
        if isinstance(s, Assign)
        and s.op in WRITES_ARGUMENT
        and isinstance(s.args[0], Var)
    }
    bounds = SliceBounds(list(fn.body))

    def block(body: tuple[Stmt, ...]) -> tuple[Stmt, ...]:
        inner = []
        for stmt in body:
            if isinstance(stmt, Loop):
                stmt = replace(stmt, test=block(stmt.test), body=block(stmt.body))
            elif isinstance(stmt, Branch):
                stmt = replace(stmt, body=block(stmt.body), orelse=block(stmt.orelse))
            inner.append(stmt)
        return _fuse_block(inner, reads, written, bounds, names, arrays, active)

    return replace(fn, body=block(fn.body))


def _fuse_block(
    body, reads: Counter, written, bounds, names, arrays, active
) -> tuple[Stmt, ...]:
    chains = [c for i in range(len(body)) if (c := _chain(body, i, reads))]
    chains = [c for c in chains if c.array.name in arrays]
    runs: dict[tuple, list[_Chain]] = {}
    found: list[list[_Chain]] = []
    for chain in chains:
        run = runs.get(chain.key)
        if (  # (a value without a cotangent must not get one: 0 * inf)
            run
            and _follows(run[-1], chain, bounds)
            and (chain.value.name in active) == (run[0].value.name in active)
        ):
            run.append(chain)
            continue
        if run and len(run) > 1:
            found.append(run)
        starts = chain.cut.start in (None, Const(0))
        runs[chain.key] = [chain] if starts else []
    found += [run for run in runs.values() if len(run) > 1]
    out = list(body)
    fused: dict[int, list[Stmt]] = {}  # position -> the statements put there
    for run in found:
        end = max(i for chain in run for i in chain.at)
        if _movable(body, run, end, written):
            at = {i for chain in run for i in chain.at}
            if not at & set(fused) and all(out[i] is not None for i in at):
                for i in at:
                    out[i] = None
                fused[end] = _fused(run, names)
    result: list[Stmt] = []
    for i, stmt in enumerate(out):
        result += fused.get(i, [])
        if stmt is not None:
            result.append(stmt)
    return tuple(result)


def _takes_slice(stmt: Stmt) -> bool:
    """Is `stmt` `x[a:b]` of a variable `x` (a chain's first step)?"""
    return (
        isinstance(stmt, Assign)
        and stmt.op == "getitem"
        and isinstance(stmt.args[0], Var)
        and len(stmt.args[1].items) == 1
        and isinstance(stmt.args[1].items[0], Slice)
        and stmt.args[1].items[0].step is None
    )


def _chain(body, start: int, reads: Counter) -> _Chain | None:
    """The chain whose slice `body[start]` takes, or None."""
    stmt = body[start]
    if not _takes_slice(stmt):
        return None
    steps, at = [stmt], [start]
    value = stmt.target
    while reads[value.name] == 1:
        user = next(
            (j for j in range(at[-1] + 1, len(body)) if value in uses(body[j])), None
        )
        step = body[user] if user is not None else None
        if not (
            isinstance(step, Assign)
            and step.op in _FUSABLE
            and step.param("fn") is None  # (`max(x, 0.5)`: one number)
            and [a for a in step.args if isinstance(a, Var)] == [value]
            and all(
                isinstance(a, Var) or (a.name is None and type(a.value) in (int, float))
                for a in step.args
            )
        ):
            break
        steps.append(step)
        at.append(user)
        value = step.target
    if len(steps) == 1:
        return None
    return _Chain(stmt.args[0], stmt.args[1].items[0], tuple(steps), tuple(at))


def _follows(before: _Chain, chain: _Chain, bounds: SliceBounds) -> bool:
    """Does `chain`'s slice start where `before`'s stops, and stop no earlier?"""
    stop = bounds.form(before.cut.stop, None)
    start = bounds.form(chain.cut.start, 0)
    if stop is None or start is None or stop != start:
        return False
    return chain.cut.stop is None or bounds.below(
        stop, bounds.form(chain.cut.stop, None)
    )


def _movable(body, run: list[_Chain], end: int, written: set[str]) -> bool:
    """May the run's chains all be computed at `end`?  Nothing before it may
    read a chain's value, nothing write into one, nothing in between write."""
    values = {chain.value.name for chain in run}
    if values & written:
        return False
    first = min(run[0].at)
    for i in range(first, end):
        if any(i in chain.at for chain in run):
            continue
        for stmt in walk([body[i]]):
            if not isinstance(stmt, Assign) or stmt.op in WRITES_ARGUMENT:
                return False
            if values & {v.name for v in uses(stmt)}:
                return False
    return True


def _fused(run: list[_Chain], names: Names) -> list[Stmt]:
    """The chain on the union of the run's slices, then each value a slice."""
    first = run[0]
    value, out = first.array, []
    if run[-1].cut.stop is not None:  # (else the union is all of the array)
        whole = Index((Slice(first.cut.start, run[-1].cut.stop, None),))
        value = Var(names.fresh())
        out.append(
            Assign(value, "getitem", (first.array, whole), (), first.steps[0].loc)
        )
    for step in first.steps[1:]:
        made = Var(names.fresh())
        args = tuple(value if isinstance(a, Var) else a for a in step.args)
        out.append(Assign(made, step.op, args, step.params, step.loc))
        value = made
    for chain in run:
        out.append(
            Assign(
                chain.value,
                "getitem",
                (value, Index((chain.cut,))),
                (),
                chain.steps[-1].loc,
            )
        )
    return out
