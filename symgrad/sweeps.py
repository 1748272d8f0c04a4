"""Reverse mode through branches and loops: the forward and reverse sweeps.

`FlowReverse` is the part of `reverse._Reverse` that handles `Branch` and
`Loop`.  Guarantees:

* the reverse of a branch takes the same arm the forward sweep took, reading
  the condition the forward sweep computed; the adjoint of a value computed
  before the branch and read in one arm alone runs in that arm (`sink`), so
  the other path adds nothing for it (not `0 * partial`, nan where the
  partial is inf);
* the reverse of a loop runs its iterations backwards: `for` loops walk their
  range in reverse, `while` loops count their trips;
* a value computed inside a loop is saved only when the reverse sweep reads
  it: each block (loop body, or branch arm inside a loop) appends a tuple of
  exactly those values to its loop's stack at its end, and the reverse of the
  block pops it first.  Values computed outside every loop are never saved;
  they are still bound when the reverse sweep runs;
* adjoints that cross a block boundary have one name on every path: an outer
  value's adjoint is bound (to zeros, if it has none yet) before the block,
  and contributions inside are added to it.  It is added to in place (as an
  array the gradient owns) after a branch only if both arms leave it owned,
  and after a loop, which may take no step, only if it was before the loop
  or it is the buffer of an array the loop writes into (also in a nested
  loop), which flows owned from the loop's start (copied there if need be).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .analysis import reads
from .inplace import ARRAY_WRITES, WRITES
from .ir import (
    Assign,
    Branch,
    Const,
    Copy,
    For,
    If,
    Loop,
    Pop,
    Push,
    SetItem,
    Stmt,
    Var,
    While,
    arg_vars,
    defs,
    name_of,
    rename,
    uses,
    variables,
    walk,
)


@dataclass
class LoopInfo:
    """What the sweeps of one loop share."""

    stack: Var | None = None  # saved values, when the reverse sweep needs any
    trips: Var | None = None  # a while loop's iteration count


@dataclass
class Sweeps:
    """Per-block saved values and per-loop bookkeeping, filled by the reverse
    sweep and read when the forward sweep is written."""

    # (id(Branch or Loop), arm) -> values saved there; an arm, not its body:
    # every empty body is the one object `()`
    saved: dict[tuple[int, int], tuple[Var, ...]] = field(default_factory=dict)
    loops: dict[int, LoopInfo] = field(default_factory=dict)  # id(Loop)
    stacks: list[Var] = field(default_factory=list)


class FlowReverse:
    """Branch and loop adjoints, mixed into `reverse._Reverse`."""

    def statements(self, body, loop: Loop | None) -> None:
        """The adjoint of `body` (statements in reverse order)."""
        held: set[int] = set()  # statements whose adjoint an arm holds
        for i in range(len(body) - 1, -1, -1):
            stmt = body[i]
            if id(stmt) in held:
                continue
            if isinstance(stmt, Assign):
                self.assignment(stmt)
            elif isinstance(stmt, Branch):
                sunk = self.sink(body, i)
                held.update(id(s) for arm in sunk for s in arm)
                self.branch_adjoint(stmt, loop, sunk)
            elif isinstance(stmt, Loop):
                self.loop_adjoint(stmt, loop)

    def sink(self, body, i: int) -> tuple[list[Assign], list[Assign]]:
        """The statements before the branch `body[i]` whose values one arm
        alone reads (directly, or through others of these), for each arm.

        Their adjoints run at the end of that arm's, so on the other path
        they do not run at all: there their cotangents would be zeros, and a
        zero times a partial derivative that is inf or nan (`log(x)` at 0,
        on a path that does not use it) is nan, where reverse mode adds
        nothing (PyTorch's, JAX's).  Statements passed over on the way add to
        their arguments' cotangents too, which commutes (an entry of a
        parameter only unpacked, `W, b = params`, is one, never moved), and
        so do branches and loops (an early return is a branch before the
        rest of the function); the search stops at a write into an array or
        a list (an append)."""
        branch = body[i]
        arm_reads = []
        for arm, side in ((branch.body, 0), (branch.orelse, 1)):
            count = reads(arm, self.dead)
            count.update(
                v.name
                for m in branch.merges
                if m.out.name not in self.dead
                for v in variables(((m.then, m.orelse)[side],))
            )
            arm_reads.append(count)
        sunk: tuple[list[Assign], list[Assign]] = ([], [])
        for stmt in reversed(body[:i]):
            if isinstance(stmt, Branch | Loop):
                continue  # (an early return's branch before this one)
            if not isinstance(stmt, Assign) or stmt.op in WRITES:
                break
            name = stmt.target.name
            if _entry_read(stmt, self.entry_lists):
                continue  # (its cotangent goes to the parameter's, after the branch)
            for side in (0, 1):
                if 0 < self.read_counts[name] == arm_reads[side][name]:
                    sunk[side].insert(0, stmt)
                    arm_reads[side].update(v.name for v in uses(stmt))
                    break
        return sunk

    def nested(
        self, body, arm, level: set[str], loop: Loop | None, seed, finish=None
    ) -> list[Stmt]:
        """The adjoint of a nested block (arm `arm` of a branch or loop: a key
        of `Sweeps.saved`), with the pops of what it saved.

        `level` names the values the block itself binds; `seed()` adds the
        incoming adjoints before the block's statements, `finish()` runs after
        them, both with the block's statement list current."""
        outer, self.b.body = self.b.body, []
        try:
            seed()
            self.statements(body, loop)
            if finish is not None:
                finish()
            code = self.b.body
        finally:
            self.b.body = outer
        for stmt in body:
            info = self.sweeps.loops.get(id(stmt))
            if info is not None and info.trips is not None:
                level = level | {info.trips.name}
        read = {v.name for s in walk(code) for v in _reads(s)}
        needed = level & read
        redo = self.recomputed(body, level, needed) if loop is not None else []
        saved = tuple(Var(n) for n in sorted(needed - {s.target.name for s in redo}))
        if redo:  # recomputed values get names of their own
            fresh = {s.target.name: self.names.fresh() for s in redo}
            redo = [Assign(s.target, s.op, s.args, s.params) for s in redo]
            code = [rename(s, fresh) for s in redo + code]
        if saved and loop is not None:
            stack = self.stack_of(loop)
            self.sweeps.saved[arm] = saved
            code = [Pop(stack, saved)] + code
        return code

    def recomputed(self, body, level: set[str], needed: set[str]) -> list[Assign]:
        """Statements of `body` whose values the reverse sweep recomputes
        rather than saves: integer arithmetic on loop indices, and reads of an
        input array at such indices (`x[i]`, `x[2 * i + 1]`), with every value
        of the block they are computed from."""
        cheap: dict[str, Assign] = {}
        for stmt in body:
            if not isinstance(stmt, Assign) or not self._cheap(stmt):
                continue
            inputs = [v.name for v in arg_vars(stmt.args)]
            if all(n not in level or n in cheap for n in inputs):
                cheap[stmt.target.name] = stmt
        wanted: set[str] = set()
        pending = [n for n in needed if n in cheap]
        while pending:
            name = pending.pop()
            if name not in wanted:
                wanted.add(name)
                pending += [
                    v.name for v in arg_vars(cheap[name].args) if v.name in cheap
                ]
        return [s for s in body if isinstance(s, Assign) and s.target.name in wanted]

    def _cheap(self, stmt: Assign) -> bool:
        if stmt.target.name in self.ints and (
            stmt.op != "len" or stmt.args[0] in [Var(p) for p in self.fn.params]
        ):
            return True  # (a list's length changes; a parameter's does not)
        return (
            stmt.op == "getitem"
            and isinstance(stmt.args[0], Var)
            and stmt.args[0].name in self.fn.params
            and all(v.name in self.ints for v in stmt.args[1].vars())
        )

    def stack_of(self, loop: Loop) -> Var:
        info = self.sweeps.loops.setdefault(id(loop), LoopInfo())
        if info.stack is None:
            info.stack = Var(self.names.fresh("saved"))
            self.sweeps.stacks.append(info.stack)
        return info.stack

    def bind_outer(
        self, stmt: Branch | Loop, lazy: bool = False, sunk: tuple[Assign, ...] = ()
    ) -> set[str]:
        """Give every outer value that receives a contribution inside `stmt`
        (or in the adjoints of the statements `sunk` into its arms) its
        canonical adjoint name, so each path leaves it under that name.

        With `lazy` (a branch), a value with no adjoint yet gets none here;
        the names returned are left for each arm to bind."""
        inner = {s.target.name for s in sunk}
        for s in walk([stmt]):
            inner.update(v.name for v in defs(s))
            if isinstance(s, Loop):
                inner.update(c.header.name for c in s.carries)
        read = set()
        for s in walk(stmt_bodies(stmt) + list(sunk)):
            if isinstance(s, Assign):
                read.update(v.name for _, v in self.diff_args(s))
            elif isinstance(s, Branch | Loop):
                read.update(v.name for v in uses(s))
        if isinstance(stmt, Branch):  # (a merge nothing reads adds nothing)
            read.update(
                v.name
                for m in stmt.merges
                if m.out.name not in self.dead
                for v in variables((m.then, m.orelse))
            )
        else:
            read.update(v.name for c in stmt.carries for v in variables((c.next,)))
        # (an indexed list's adjoint is the array its entries stack into, which
        # `_zeros_buffer` names the line for where entries differ in shape)
        indexed = {
            s.args[0].name
            for s in walk(stmt_bodies(stmt))
            if isinstance(s, Assign)
            and s.op in ("getitem", "unpacked")
            and isinstance(s.args[0], Var)
        }
        unset = set()
        for name in sorted((read - inner) & self.active):
            current = self.adj.get(name)
            target = self.bar(name)
            if current is None and lazy:
                unset.add(name)
                continue
            if current is None:
                self.zeros_of(
                    name, target, "zeros_buffer" if name in indexed else "zeros_grad"
                )
                self.owned.add(name)
            elif current != target:  # (a new name: an array the cotangent
                # owned, its own alone, stays so under it)
                self.b.body.append(Copy((target,), (current,), self.b.loc))
            self.adj[name] = target
        return unset

    # --- branches -------------------------------------------------------------

    def branch_adjoint(
        self, stmt: Branch, loop: Loop | None, sunk: tuple[list, list]
    ) -> None:
        """The adjoint of a branch, each arm's followed by the adjoints of
        the statements before it that arm alone reads (`sink`)."""
        merges = [
            m
            for m in stmt.merges
            if m.out.name in self.active and m.out.name in self.adj
        ]
        if not merges and not self._has_active(stmt):
            return
        self.b.loc = stmt.loc
        # Values without an adjoint yet get one in each arm: zeros only in an
        # arm that adds nothing to them (so a loop over a branch does not
        # allocate a zero buffer per trip).
        unset = self.bind_outer(stmt, lazy=True, sunk=tuple(sunk[0] + sunk[1]))
        # Each arm starts from what the gradient owns before the branch, and
        # owns an adjoint after it only if both arms leave it owned (one arm
        # making `x_bar` a fresh array does not make the caller's seed, which
        # `x_bar` may be on the other path, the gradient's to add to).
        before = set(self.owned) - unset
        arms, ends = [], []
        for body, pick in ((stmt.body, 0), (stmt.orelse, 1)):
            self.owned.clear()
            self.owned.update(before)
            for name in unset:
                self.adj.pop(name, None)

            def seed(pick=pick) -> None:
                for m in merges:
                    value = (m.then, m.orelse)[pick]
                    if isinstance(value, Var) and value.name in self.active:
                        first = self.adj.get(value.name) is None
                        self.accumulate(value.name, self.adj[m.out.name])
                        if first and m.out.name in self.owned:
                            # (the merge's adjoint passes to one arm's value:
                            # a list appended to in an arm is added to in place)
                            self.owned.add(value.name)

            def finish() -> None:
                for name in sorted(unset):
                    target, got = self.bar(name), self.adj.get(name)
                    if got is None:
                        loc, self.b.loc = self.b.loc, None
                        self.zeros_of(name, target, "zeros_grad")
                        self.b.loc = loc
                        self.owned.add(name)
                    elif got != target:
                        self.b.body.append(Copy((target,), (got,)))

            level = {v.name for s in body for v in defs(s)}
            held = tuple(sunk[pick]) + tuple(body)
            arms.append(self.nested(held, (id(stmt), pick), level, loop, seed, finish))
            ends.append(set(self.owned))
        for name in unset:
            self.adj[name] = self.bar(name)
        self.owned.clear()
        self.owned.update(ends[0] & ends[1])
        self.b.body.append(If(stmt.cond, tuple(arms[0]), tuple(arms[1]), stmt.loc))

    def _has_active(self, stmt: Stmt) -> bool:
        return any(
            v.name in self.active for s in walk(stmt_bodies(stmt)) for v in defs(s)
        )

    # --- loops ----------------------------------------------------------------

    def loop_adjoint(self, stmt: Loop, loop: Loop | None) -> None:
        carries = [c for c in stmt.carries if c.header.name in self.active]
        if not carries and not self._has_active(stmt):
            return
        info = self.sweeps.loops.setdefault(id(stmt), LoopInfo())
        self.b.loc = stmt.loc
        # The adjoint each carried value has at the end of an iteration.
        flowing = [self.bar(c.out.name) for c in carries]
        # An array written in the loop passes a buffer its adjoint owns from
        # iteration to iteration, so each write's adjoint can zero in place.
        buffers = {c.header.name for c in carries if _written(stmt, c)}
        start = []
        for c in carries:
            g = self.adj.get(c.out.name)
            if g is None:
                g = self.zeros(c.out)
            elif c.header.name in buffers and c.out.name not in self.owned:
                g = self.b.op("owned", g)
            start.append(g)
        moved = [(f, g) for f, g in zip(flowing, start, strict=True) if f != g]
        if moved:
            self.b.body.append(
                Copy(tuple(f for f, _ in moved), tuple(g for _, g in moved), stmt.loc)
            )
        self.bind_outer(stmt)
        owned_before = set(self.owned)

        def seed() -> None:
            for c, g in zip(carries, flowing, strict=True):
                if isinstance(c.next, Var) and c.next.name in self.active:
                    first = self.adj.get(c.next.name) is None
                    self.accumulate(c.next.name, g)
                    if first and c.header.name in buffers:
                        self.owned.add(c.next.name)

        def finish() -> None:
            self.b.loc = stmt.loc
            back = []
            for c in carries:
                g = self.adj.get(c.header.name)
                if g is None:
                    g = self.zeros(c.header)
                elif c.header.name in buffers and c.header.name not in self.owned:
                    g = self.b.op("owned", g)
                back.append(g)
            if carries:
                self.b.body.append(Copy(tuple(flowing), tuple(back)))

        level = {v.name for s in stmt.body for v in defs(s)}
        level |= {c.header.name for c in stmt.carries}
        code = self.nested(stmt.body, (id(stmt), 0), level, stmt, seed, finish)
        # The loop may take no step: an outer adjoint is an array of its own
        # after the loop only if it was before (not, say, the caller's seed).
        self.owned &= owned_before | level
        if stmt.index is not None:
            steps = Var(self.names.fresh())
            self.b.body.append(
                Assign(steps, "reversed_range", stmt.bounds, (), stmt.loc)
            )
            self.b.body.append(For(stmt.index, steps, tuple(code), stmt.loc))
        else:
            info.trips = Var(self.names.fresh("trips"))
            steps = Var(self.names.fresh())
            bounds = (Const(0), info.trips, Const(1))
            self.b.body.append(Assign(steps, "range", bounds, (), stmt.loc))
            self.b.body.append(For(None, steps, tuple(code), stmt.loc))
        for c, g in zip(carries, flowing, strict=True):
            if isinstance(c.init, Var) and c.init.name in self.active:
                first = self.adj.get(c.init.name) is None
                self.accumulate(c.init.name, g)
                if first and c.header.name in buffers:
                    # (a buffer flows owned: made so at the start, kept so
                    # by `finish`; it is the init's cotangent if no step ran)
                    self.owned.add(c.init.name)

    def zeros(self, like: Var) -> Var:
        target = Var(self.names.fresh())
        self.b.body.append(Assign(target, "zeros_grad", (like,), (), self.b.loc))
        return target

    # --- the forward sweep ----------------------------------------------------

    def forward(self, body, loop: Loop | None) -> list[Stmt]:
        """The primal statements as plain code, saving what the reverse reads."""
        out: list[Stmt] = []
        for stmt in body:
            if isinstance(stmt, Assign | SetItem):
                out.append(stmt)
            elif isinstance(stmt, Branch):
                arms = []
                for arm, pick in ((stmt.body, 0), (stmt.orelse, 1)):
                    code = self.forward(arm, loop) + self.push((id(stmt), pick), loop)
                    if stmt.merges:
                        values = tuple((m.then, m.orelse)[pick] for m in stmt.merges)
                        outs = tuple(m.out for m in stmt.merges)
                        code.append(Copy(outs, values, stmt.loc))
                    arms.append(tuple(code))
                out.append(If(stmt.cond, arms[0], arms[1], stmt.loc))
            elif isinstance(stmt, Loop):
                out += self.forward_loop(stmt, loop)
        return out

    def push(self, arm: tuple[int, int], loop: Loop | None) -> list[Stmt]:
        saved = self.sweeps.saved.get(arm)
        if not saved or loop is None:
            return []
        return [Push(self.sweeps.loops[id(loop)].stack, saved)]

    def forward_loop(self, stmt: Loop, loop: Loop | None) -> list[Stmt]:
        info = self.sweeps.loops.get(id(stmt), LoopInfo())
        out: list[Stmt] = []
        carries = stmt.carries
        if carries:
            out.append(
                Copy(
                    tuple(c.header for c in carries),
                    tuple(c.init for c in carries),
                    stmt.loc,
                )
            )
        body = self.forward(stmt.body, stmt) + self.push((id(stmt), 0), stmt)
        if info.trips is not None:
            out.append(Copy((info.trips,), (Const(0),), stmt.loc))
            body.append(Assign(info.trips, "add", (info.trips, Const(1)), (), stmt.loc))
        moving = [c for c in carries if c.next != c.header]
        if moving:
            body.append(
                Copy(
                    tuple(c.header for c in moving),
                    tuple(c.next for c in moving),
                    stmt.loc,
                )
            )
        if stmt.index is not None:
            steps = Var(self.names.fresh())
            out.append(Assign(steps, "range", stmt.bounds, (), stmt.loc))
            out.append(For(stmt.index, steps, tuple(body), stmt.loc))
        else:
            test = self.forward(stmt.test, loop)
            out.append(While(tuple(test), stmt.cond, tuple(body), stmt.loc))
        if carries:
            out.append(
                Copy(
                    tuple(c.out for c in carries),
                    tuple(c.header for c in carries),
                    stmt.loc,
                )
            )
        return out


def _entry_read(stmt: Assign, entry_lists: dict) -> bool:
    """Does `stmt` read an entry of a parameter only unpacked (`W, b =
    params`), whose cotangents are put together after every other adjoint?"""
    return stmt.target.name in entry_lists or any(
        isinstance(a, Var) and a.name in entry_lists for a in stmt.args
    )


def _written(loop: Loop, carry) -> bool:
    """Is the carried value an array the loop body writes into, or a list it
    appends to (whose cotangent's head, a view, is the list before), also
    through a branch or a nested loop that does?"""
    made = {
        s.target.name
        for s in walk(loop.body)
        if isinstance(s, Assign) and (s.op in ARRAY_WRITES or s.op == "list_append")
    }
    while True:  # (a branch in a loop in a loop...: until nothing is added)
        more = set(made)
        for s in walk(loop.body):
            if isinstance(s, Branch):
                more |= {
                    m.out.name
                    for m in s.merges
                    if {name_of(m.then), name_of(m.orelse)} & more
                }
            elif isinstance(s, Loop):
                more |= {c.out.name for c in s.carries if name_of(c.next) in more}
        if more == made:
            break
        made = more
    return isinstance(carry.next, Var) and carry.next.name in made


def stmt_bodies(stmt: Branch | Loop) -> list[Stmt]:
    if isinstance(stmt, Branch):
        return list(stmt.body) + list(stmt.orelse)
    return list(stmt.test) + list(stmt.body)


def _reads(stmt: Stmt):
    yield from uses(stmt)
    if isinstance(stmt, SetItem):
        yield stmt.target
