"""In-place updates: which array writes may reuse their array's memory.

The primal IR treats `y[i] = v` as a new value, `y_2 = setitem(y_1, i, v)`,
so every pass can reason about values.  Emitted as such, each write would
copy the array.  `plan` finds the arrays whose writes can happen in place:
the versions of one array (linked by writes, loop-carried values and branch
merges) form a group, and a group is updated in place when

* it was created by the function itself (never the caller's array, a
  constant, or a view of another array: `rules.VIEWS` lists the ops whose
  result may share memory with an argument, support functions such as
  `_unbroadcast` that may return it included), and
* it holds one array at a time: not two values one loop carries or one
  branch merges, and not an array made anew in a loop that carries the one
  the step before made (`z = np.zeros(3)`, ..., `y = z`); a merge that is a
  constant on some path (an early return's value, None on the paths that
  go on) is in no group, and
* the reverse sweep reads no version of it that a later write overwrites,
  except for its shape (`np.shape`, `_zeros_grad`, `_unbroadcast`'s target).

Code a user wrote never reads a version after writing into it (the frontend
refuses that), so in a gradient only the reverse sweep's reads matter.  A
forward-mode program is not all the user's: its tangents may be views of
one another (`a_dot = Y_dot[0]` for `a = Y[0] + b`), and the emitted
gradient that `symgrad.hessian` differentiates reads old versions freely.
There (`forward_mode`) an overwritten version may be read, shapes
included, only by the write that takes it, the loop that carries it, the
branch that merges it, and reads that end before that write starts: earlier
in the write's own block, making no view of it (`e = saved[-1]` before
`saved.pop()`).  Each version takes at most one of those steps on any run
(two writes into one array keep copying, unless they are in the two arms
of a branch, of which one runs).

A group updated in place gets one name in the emitted code, and its writes
become `y[i] = v`, `y[i] += v` or `np.add.at(y, i, v)`.  A slice read from
such an array that the reverse sweep needs later is copied when it is read
(`y[:, i].copy()`; `_copy(y[i - 1])` where the index has no slice, which
copies a row and keeps a number: the numbers of float and int arrays are no
views, and copying one costs 0.4 us), so a later write cannot change it (an
entry of a list is no view of the list, so it is never copied).  Every
other write stays a copy (`_setitem`), which is always correct.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .analysis import constant_merges
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
    Pop,
    Push,
    SetItem,
    Stmt,
    Var,
    While,
    bodies,
    rename,
    uses,
    walk,
)
from .ir import writes as assigned
from .rules import READ_ONLY_VIEWS, VIEWS

ARRAY_WRITES = {
    "setitem": "set",
    "setitem_add": "add",
    "setitem_sub": "sub",
    "add_at": "add_at",
}
_LISTS = {"list_new", "make_list", "list_append", "list_pop"}
WRITES = ARRAY_WRITES | {"list_append": "append", "list_pop": "pop"}
# Adjoint ops that read only the shape (and dtype) of the listed arguments;
# an array written in place keeps both, a list appended to does not.
_SHAPE_ONLY = {"shape": {0}, "zeros_grad": {0}, "unbroadcast": {1}, "spread": {1}}
_SHAPE_ONLY["zeros_buffer"] = {0}
_SHAPE_ONLY["unbroadcast_mul"] = {2}
_SHAPE_ONLY.update(same_shape_sum={1}, same_shape_mul={2})  # (`loopshapes`)
_SHAPE_ONLY.update(len={0}, size={0}, ndim={0}, written_grad={2, 3})
_SHAPE_ONLY.update(kept_grad={2, 3})


@dataclass
class Plan:
    rename: dict[str, str] = field(default_factory=dict)
    in_place: set[str] = field(default_factory=set)  # write results
    copied: set[str] = field(default_factory=set)  # getitem results to copy
    unsaved: set[str] = field(default_factory=set)  # saved values not to save


def plan(
    primal: Function,
    forward: list[Stmt],
    adjoint: list[Stmt],
    forward_mode: bool = False,
) -> Plan:
    """Decide which writes happen in place (see the module docstring); with
    `forward_mode`, `forward` is the whole program and `adjoint` is empty."""
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    def union(a: str, b: str) -> None:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        parent[find(a)] = find(b)

    after: dict[str, set[str]] = defaultdict(set)  # value -> values made from it
    ops: dict[str, str] = {}
    writes: set[str] = set()

    def link(source: Atom, result: Var) -> None:
        if isinstance(source, Var):
            union(source.name, result.name)
            after[source.name].add(result.name)

    partial = constant_merges(primal)  # (never an array of a group: the
    # constant's path would bind the group's name to it while it is read)
    for stmt in walk(primal.body):
        if isinstance(stmt, Assign):
            ops[stmt.target.name] = stmt.op
            if stmt.op in WRITES:
                writes.add(stmt.target.name)
                link(stmt.args[0], stmt.target)
        elif isinstance(stmt, Branch):
            for m in stmt.merges:
                if m.out.name not in partial:
                    link(m.then, m.out)
                    link(m.orelse, m.out)
        elif isinstance(stmt, Loop):
            for c in stmt.carries:
                link(c.init, c.header)
                link(c.next, c.header)
                link(c.header, c.out)
    groups: dict[str, set[str]] = defaultdict(set)
    for name in parent:
        groups[find(name)].add(name)
    written = [g for g in groups.values() if g & writes]
    if forward_mode:
        reads = every_read = _value_reads(
            forward, shape_only={}, flows=False, excused=_read_first(forward)
        )
        reads |= _taken_twice(primal)
    else:
        reads = _value_reads(adjoint)
        every_read = _value_reads(adjoint, shape_only={})
    result = Plan()
    made = {n for targets in after.values() for n in targets}
    arrays: set[str] = set()  # the arrays (not lists) updated in place
    views = _views(primal)
    made_as_views = {view for found in views.values() for view, _ in found}
    in_loops = {n for s in walk(primal.body) if isinstance(s, Loop) for n in _made(s)}
    unsaved: set[str] = set()
    read_views = {n for n in made_as_views if _closure(n, views) & reads}
    for group in written:
        if any(n in primal.params or _a_view(ops.get(n)) for n in group):
            continue
        if len(group - made) > 1 or _parallel(primal, group):
            continue  # two arrays at once (double buffering): keep them apart
        if _renewed(primal, group, min(group - made)):
            continue  # last step's array still alive beside this step's
        overwritten = {n for n in group if _reaches(n, writes, after)}
        lists = any(ops.get(n) in _LISTS for n in group)
        if overwritten & (every_read if lists else reads):
            continue
        if not lists and any(
            op != "getitem" and view in read_views
            for n in overwritten
            for view, op in views.get(n, ())
        ):
            continue  # (a reshape or transpose read later: it cannot be copied)
        name = min(group - made)
        result.rename.update((n, name) for n in group)
        result.in_place |= group & writes
        if not lists:  # (an entry of a list is no view of it: never copied)
            arrays |= group
            if name not in in_loops:
                unsaved |= overwritten
    if forward_mode:
        return result  # (no version read is ever written later: nothing to copy)
    result.unsaved = _unsaved(forward, unsaved)
    for stmt in walk(primal.body):
        if (
            isinstance(stmt, Assign)
            and stmt.op == "getitem"
            and isinstance(stmt.args[0], Var)
            and stmt.args[0].name in arrays
            and stmt.target.name in read_views
        ):
            result.copied.add(stmt.target.name)
    return result


def _made(loop: Loop) -> set[str]:
    """The names a loop of the primal IR assigns, its carries' included."""
    found: set[str] = set()
    for stmt in walk([loop]):
        if isinstance(stmt, Assign):
            found.add(stmt.target.name)
        elif isinstance(stmt, Branch):
            found.update(m.out.name for m in stmt.merges)
        elif isinstance(stmt, Loop):
            found.update(n for c in stmt.carries for n in (c.header.name, c.out.name))
    return found


def _unsaved(forward: list[Stmt], candidates: set[str]) -> set[str]:
    """The `candidates` the loops' stacks need not save: versions of an array
    made outside every loop and written in place, which the reverse sweep
    reads only for their shape (they are overwritten later): one object
    throughout, whose shape in-place writes keep.  A stack keeps them where
    a push would save nothing else."""
    pushes: dict[str, list[Push]] = defaultdict(list)
    for stmt in walk(forward):
        if isinstance(stmt, Push):
            pushes[stmt.stack.name].append(stmt)
    found: set[str] = set()
    for stack in pushes.values():
        saved = [{v.name for v in p.values if isinstance(v, Var)} for p in stack]
        if all(
            len(p.values) > len(names & candidates)
            for p, names in zip(stack, saved, strict=True)
        ):
            found.update(n for names in saved for n in names & candidates)
    return found


def _a_view(op: str | None) -> bool:
    """Is an array made by `op` a view, which a write into would change
    another array?  (np.diag of a matrix is a view numpy makes read-only: a
    write into it raises, in place or not.)"""
    return op in VIEWS and op not in READ_ONLY_VIEWS


def _views(fn: Function) -> dict[str, list[tuple[str, str]]]:
    """value -> the values made as views of it (`rules.VIEWS`: slices,
    reshapes, transposes, support functions that may return it), with ops."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    made: dict[str, str] = {}
    for stmt in walk(fn.body):
        if isinstance(stmt, Assign) and stmt.op in VIEWS and stmt.args:
            made[stmt.target.name] = stmt.op
            if isinstance(stmt.args[0], Var):
                found[stmt.args[0].name].append((stmt.target.name, stmt.op))
    for stmt in walk(fn.body):  # (`y[:2] if c else y[1:]`: a view either way)
        if isinstance(stmt, Branch):
            for m in stmt.merges:
                for arm in (m.then, m.orelse):
                    if isinstance(arm, Var) and arm.name in made:
                        found[arm.name].append((m.out.name, made[arm.name]))
    return found


def _closure(name: str, views: dict[str, list[tuple[str, str]]]) -> set[str]:
    """`name` and every view of it, of its views, and so on."""
    seen, stack = set(), [name]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack += [view for view, _ in views.get(current, ())]
    return seen


def _parallel(fn: Function, group: set[str]) -> bool:
    """Does the group hold two arrays alive together: two values carried by
    one loop, or two results of one branch?"""
    for stmt in walk(fn.body):
        if isinstance(stmt, Loop):
            names = [c.header.name for c in stmt.carries]
        elif isinstance(stmt, Branch):
            names = [m.out.name for m in stmt.merges]
        else:
            continue
        if sum(n in group for n in names) > 1:
            return True
    return False


def _renewed(fn: Function, group: set[str], root: str) -> bool:
    """Is the group's array made anew in a loop that carries the previous
    one (`z = np.zeros(3)` each step, `y = z` carried)?  With one name for
    both, the new array would replace the one the step still reads, or the
    reverse sweep reads (its shape, a saved copy)."""
    for stmt in walk(fn.body):
        if not isinstance(stmt, Loop):
            continue
        inside = [*walk(stmt.test), *walk(stmt.body)]
        if any(isinstance(s, Assign) and s.target.name == root for s in inside):
            if any(c.header.name in group for c in stmt.carries):
                return True
    return False


def _reaches(name: str, writes: set[str], after: dict[str, set[str]]) -> bool:
    """Is some write made from `name` (so it overwrites its memory)?"""
    seen, stack = set(), list(after.get(name, ()))
    while stack:
        current = stack.pop()
        if current in writes:
            return True
        if current not in seen:
            seen.add(current)
            stack += after.get(current, ())
    return False


def _taken_twice(fn: Function) -> set[str]:
    """Values two steps may start from on one run: a write's array, a value a
    loop carries or a branch merges (two writes into one array would share
    its memory).  The two arms of a branch never both run, so a value each
    arm takes once is taken once."""

    def taken(body) -> Counter[str]:
        counts: Counter[str] = Counter()
        for stmt in body:
            atoms: list[Atom] = []
            if isinstance(stmt, Assign) and stmt.op in WRITES:
                atoms = [stmt.args[0]]
            elif isinstance(stmt, Loop):
                atoms = [a for c in stmt.carries for a in (c.init, c.next)]
                counts += taken(stmt.test) + taken(stmt.body)
            elif isinstance(stmt, Branch):
                then = taken(stmt.body) + _names(m.then for m in stmt.merges)
                orelse = taken(stmt.orelse) + _names(m.orelse for m in stmt.merges)
                counts += then | orelse  # (the larger count of each name)
            counts += _names(atoms)
        return counts

    return {name for name, count in taken(fn.body).items() if count > 1}


def _names(atoms) -> Counter[str]:
    return Counter(a.name for a in atoms if isinstance(a, Var))


def _read_first(body: list[Stmt]) -> dict[int, set[str]]:
    """Reads that end before the write that takes their value starts, so
    they see it unchanged: reads earlier in the write's own block (or in a
    statement nested there) of a value a loop around the write makes anew
    on each trip.  Only reads whose result is no view of the value qualify,
    or any read of a list (its entries and slices are no views of it).
    Maps id(statement) to the names it reads first."""
    excused: dict[int, set[str]] = defaultdict(set)

    def block(statements, made: set[str] | None) -> None:
        # made: the names the innermost loop around assigns (None: no loop)
        readers: dict[str, list[Stmt]] = defaultdict(list)
        for stmt in statements:
            if isinstance(stmt, For | While):
                inner = {n for s in walk([stmt]) for n in assigned(s)}
                for body in bodies(stmt):
                    block(body, inner)
            else:
                for body in bodies(stmt):
                    block(body, made)
            if isinstance(stmt, Assign) and stmt.op in WRITES:
                value = stmt.args[0]
                lists = stmt.op in ("list_append", "list_pop")
                if isinstance(value, Var) and (made is None or value.name in made):
                    for reader in readers.pop(value.name, ()):
                        if lists or not (
                            isinstance(reader, Assign) and reader.op in VIEWS
                        ):
                            excused[id(reader)].add(value.name)
            for inner in walk([stmt]):
                for var in uses(inner):
                    readers[var.name].append(inner)

    block(body, None)
    return excused


def _value_reads(
    body: list[Stmt],
    shape_only: dict = _SHAPE_ONLY,
    flows: bool = True,
    excused: dict[int, set[str]] | None = None,
) -> set[str]:
    """Names `body` reads for more than their shape.  Without `flows`, the
    steps from one version of an array to the next are not reads: a write's
    array, the values a loop carries and a branch merges.  `excused` maps
    id(statement) to names whose reads there do not count."""
    found: set[str] = set()
    excused = excused or {}
    for stmt in walk(body):
        if isinstance(stmt, Pop):
            continue
        if not flows and isinstance(stmt, Copy):
            continue  # (the lowered code's loop-carried and merged values)
        first = excused.get(id(stmt), set())
        if isinstance(stmt, Assign):
            skipped = shape_only.get(stmt.op, set())
            if not flows and stmt.op in WRITES:
                skipped = {0}
            for i, arg in enumerate(stmt.args):
                if isinstance(arg, Var) and i not in skipped and arg.name not in first:
                    found.add(arg.name)
                elif isinstance(arg, Index):
                    found.update(v.name for v in arg.vars() if v.name not in first)
            continue
        found.update(v.name for v in uses(stmt) if v.name not in first)
    return found


def apply(plan: Plan, statements: list[Stmt]) -> list[Stmt]:
    """`statements` with in-place writes, one name per group, copied reads."""
    out: list[Stmt] = []
    for stmt in statements:
        stmt = _rename(stmt, plan)
        if isinstance(stmt, Copy):
            pairs = [
                (t, v) for t, v in zip(stmt.targets, stmt.values, strict=True) if t != v
            ]
            if not pairs:
                continue
            stmt = Copy(
                tuple(t for t, _ in pairs), tuple(v for _, v in pairs), stmt.loc
            )
        out.append(stmt)
    return out


def _entries(index: object) -> bool:
    """Is `index` free of slices, None and `...` (`y[i - 1]`, `R[i, j]`):
    what it reads may be a number?  (A name in it may hold an index array,
    whose read is an array, which `_copy` copies.)"""
    return isinstance(index, Index) and all(
        isinstance(item, Var)
        or (isinstance(item, Const) and type(item.value) in (int, bool))
        for item in index.items
    )


def _rename(stmt: Stmt, plan: Plan) -> Stmt:
    stmt = _unsave(stmt, plan.unsaved)
    if isinstance(stmt, Assign) and stmt.target.name in plan.in_place:
        stmt = rename(stmt, plan.rename)
        if stmt.op == "list_append":
            target, value = stmt.args
            return SetItem(target, Index(()), value, "append", stmt.loc)
        if stmt.op == "list_pop":
            return SetItem(stmt.args[0], Index(()), Const(None), "pop", stmt.loc)
        target, index, value = stmt.args
        return SetItem(target, index, value, WRITES[stmt.op], stmt.loc)
    if isinstance(stmt, Assign) and stmt.target.name in plan.copied:
        op = "entry_copy" if _entries(stmt.args[1]) else "getitem_copy"
        stmt = Assign(stmt.target, op, stmt.args, stmt.params, stmt.loc)
    if isinstance(stmt, If | For | While):
        # the header renamed alone: each body is renamed once, by `apply`
        parts = [tuple(apply(plan, list(b))) for b in bodies(stmt)]
        if isinstance(stmt, If):
            head = rename(If(stmt.cond, (), (), stmt.loc), plan.rename)
            return If(head.cond, parts[0], parts[1], stmt.loc)
        if isinstance(stmt, For):
            head = rename(For(stmt.target, stmt.iter, (), stmt.loc), plan.rename)
            return For(head.target, head.iter, parts[0], stmt.loc)
        head = rename(While((), stmt.cond, (), stmt.loc), plan.rename)
        return While(parts[0], head.cond, parts[1], stmt.loc)
    return rename(stmt, plan.rename)


def _unsave(stmt: Stmt, unsaved: set[str]) -> Stmt:
    """`stmt` without the values `unsaved` in what it pushes, pops or walks."""

    def kept(atoms) -> tuple:
        return tuple(a for a in atoms if not (isinstance(a, Var) and a.name in unsaved))

    if isinstance(stmt, Push):
        return Push(stmt.stack, kept(stmt.values), stmt.loc)
    if isinstance(stmt, Pop):
        return Pop(stmt.stack, kept(stmt.targets), stmt.loc)
    if isinstance(stmt, For) and isinstance(stmt.target, tuple):
        return For(kept(stmt.target), stmt.iter, stmt.body, stmt.loc)
    return stmt


def rename_atom(plan: Plan, atom: Atom) -> Atom:
    if isinstance(atom, Var):
        return Var(plan.rename.get(atom.name, atom.name))
    return atom
