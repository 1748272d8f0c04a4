"""symgrad's intermediate representation: immutable nodes, a verifier, a printer.

Grammar (one operation per statement; every statement knows its source line)::

    Function  ::= name params body            params: tuple[str, ...]
    body      ::= Stmt*
    Stmt      ::= Assign(target: Var, op, args: Arg*, params)   target = op(args)
                | Branch(cond: Atom, body, orelse, Merge*)
                | Loop(index: Var?, bounds: Atom*, test: Stmt*, cond: Atom?,
                       Carry*, body)
                | Return(value: Atom, aux: Atom?)
    Merge     ::= (out: Var, then: Atom, orelse: Atom)
    Carry     ::= (header: Var, init: Atom, next: Atom, out: Var)
    Arg       ::= Atom | Index
    Atom      ::= Var(name) | Const(value, name?)
    Index     ::= (Atom | Slice(start?, stop?, step?))*

`op` is a key of `rules.OPS`; `params` holds static keyword parameters
(`axis=`, `keepdims=`, ...) as a sorted tuple of pairs so nodes stay hashable.

The primal IR the frontend produces is in SSA form: every variable is assigned
once, and a write into an array is a new value (`y_2 = setitem(y_1, i, v)`).
Branches and loops are structured: a `Branch` ends with `Merge`s (phis) of
the values its arms bind; a `Loop` (`for index in range(*bounds)` or a
`while` loop that runs `test` and stops when `cond` is false) threads
`Carry`s from iteration to iteration.  `verify()` checks these rules and
raises `IRError` with a message.

Reverse mode hands `emit` plain statements instead, which may re-assign names
and run in place: `SetItem(target, index, value, mode)`, `If`, `For`
(`for target in iter`), `While`, `Copy` (a parallel `a, b = x, y`), and the
stacks of saved values, `Push` and `Pop`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import Loc


@dataclass(frozen=True, slots=True)
class Var:
    name: str

    def __str__(self) -> str:
        return self.name


class ListConst(tuple):
    """A constant list literal (`x[[0, 0, 1]]`): a tuple that prints as a list."""

    def __repr__(self) -> str:
        return repr(list(self))


@dataclass(frozen=True, slots=True, eq=False)
class Const:
    """A compile-time constant; `name` is set for named module constants.

    Named constants (which may hold arrays) compare by name; others by type
    and value, so `Const(1) != Const(1.0) != Const(True)`."""

    value: object
    name: str | None = None

    def _key(self) -> tuple:
        return (
            ("name", self.name)
            if self.name is not None
            else (type(self.value), self.value)
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Const) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.name if self.name is not None else repr(self.value)


Atom = Var | Const


@dataclass(frozen=True, slots=True)
class Slice:
    start: Atom | None = None
    stop: Atom | None = None
    step: Atom | None = None

    def __str__(self) -> str:
        parts = ["" if p is None else str(p) for p in (self.start, self.stop)]
        text = ":".join(parts)
        return text if self.step is None else f"{text}:{self.step}"


@dataclass(frozen=True, slots=True)
class Index:
    items: tuple[Atom | Slice, ...]
    # written as a tuple of one item, `x[t,]`: `t` is one item even where it
    # holds a tuple at run time (`x[t]` with t = (0, 1) is `x[0, 1]`)
    wrapped: bool = False

    def __str__(self) -> str:
        text = ", ".join(str(item) for item in self.items) or "()"
        return f"[{text}{',' if self.wrapped else ''}]"

    def vars(self) -> Iterator[Var]:
        for item in self.items:
            parts = (
                (item.start, item.stop, item.step)
                if isinstance(item, Slice)
                else (item,)
            )
            yield from (p for p in parts if isinstance(p, Var))


Arg = Atom | Index


@dataclass(frozen=True, slots=True)
class Assign:
    target: Var
    op: str
    args: tuple[Arg, ...]
    params: tuple[tuple[str, object], ...] = ()
    loc: Loc | None = None

    def param(self, key: str, default: object = None) -> object:
        for name, value in self.params:  # (most have none: no dict to build)
            if name == key:
                return value
        return default


@dataclass(frozen=True, slots=True)
class SetItem:
    """`target[index] = value` (mode "set"), `+=` ("add"), `-=` ("sub"), or
    `np.add.at` ("add_at")."""

    target: Var
    index: Index
    value: Atom
    mode: str = "set"
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class Return:
    """The returned value; `aux` is passed through undifferentiated
    (`has_aux=True`)."""

    value: Atom
    loc: Loc | None = None
    aux: Atom | None = None


@dataclass(frozen=True, slots=True)
class Merge:
    """After a `Branch`: `out` is `then` if the condition held, else `orelse`."""

    out: Var
    then: Atom
    orelse: Atom


@dataclass(frozen=True, slots=True)
class Branch:
    """`if cond: body else: orelse` in SSA form; `merges` are its results."""

    cond: Atom
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]
    merges: tuple[Merge, ...]
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class Carry:
    """A loop-carried value: `header` holds it during an iteration; it starts
    as `init`, becomes `next` (computed by the body) for the next iteration,
    and is `out` after the loop."""

    header: Var
    init: Atom
    next: Atom
    out: Var


@dataclass(frozen=True, slots=True)
class Loop:
    """A loop in SSA form.

    With `index` set it is `for index in range(*bounds)`; otherwise it is a
    `while` loop that runs `test` and stops when `cond` is false.  The body
    reads `index`, the headers of `carries`, and values defined before it."""

    index: Var | None
    bounds: tuple[Atom, Atom, Atom]
    test: tuple[Stmt, ...]
    cond: Atom | None
    carries: tuple[Carry, ...]
    body: tuple[Stmt, ...]
    loc: Loc | None = None


# Plain structured statements: what the reverse pass hands to `emit`.


@dataclass(frozen=True, slots=True)
class If:
    cond: Atom
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class For:
    """`for target in iter:`; `iter` is a variable bound by a `range` or
    `reversed_range` statement, which `emit` folds into the header, or by
    `reversed(stack)`, whose entries a tuple `target` unpacks."""

    target: Var | tuple[Var, ...] | None
    iter: Atom
    body: tuple[Stmt, ...]
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class While:
    """`while True: test; if not cond: break; body`."""

    test: tuple[Stmt, ...]
    cond: Atom
    body: tuple[Stmt, ...]
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class Copy:
    """`a, b = x, y`: a parallel copy (loop-carried values, saved values)."""

    targets: tuple[Var, ...]
    values: tuple[Atom, ...]
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class Push:
    """`stack.append((a, b))`: save values the reverse sweep needs."""

    stack: Var
    values: tuple[Atom, ...]
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class Pop:
    """`a, b = stack.pop()`: restore them, in reverse order."""

    stack: Var
    targets: tuple[Var, ...]
    loc: Loc | None = None


Stmt = Assign | SetItem | Return | Branch | Loop | If | For | While | Copy | Push | Pop


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    params: tuple[str, ...]
    body: tuple[Stmt, ...]
    loc: Loc | None = None


class IRError(Exception):
    """An IR invariant is broken: a bug in a symgrad pass, never a user error."""


def arg_vars(args: tuple[Arg, ...]) -> list[Var]:
    """The variables among `args`, those inside indices included (a list built
    in one loop: every pass asks this of every statement)."""
    found = []
    for arg in args:
        if arg.__class__ is Var:
            found.append(arg)
        elif arg.__class__ is Index:
            found.extend(arg.vars())
    return found


def uses(stmt: Stmt) -> Iterable[Var]:
    """Variables a statement reads at its own level.

    For `Branch` and `Loop` that is the condition or bounds and every value
    their merges and carries take; statements in nested bodies are not
    included (`walk` reaches them)."""
    if stmt.__class__ is Assign:  # (most statements: no generator)
        return arg_vars(stmt.args)
    return _other_uses(stmt)


def _other_uses(stmt: Stmt) -> Iterator[Var]:
    if isinstance(stmt, SetItem):
        yield stmt.target
        yield from stmt.index.vars()
        yield from _atoms((stmt.value,))
    elif isinstance(stmt, Return):
        yield from _atoms((stmt.value, stmt.aux))
    elif isinstance(stmt, Branch):
        yield from _atoms((stmt.cond,))
        yield from _atoms(a for m in stmt.merges for a in (m.then, m.orelse))
    elif isinstance(stmt, Loop):
        yield from _atoms(stmt.bounds)
        yield from _atoms((stmt.cond,) if stmt.cond is not None else ())
        yield from _atoms(a for c in stmt.carries for a in (c.init, c.next))
    elif isinstance(stmt, If):
        yield from _atoms((stmt.cond,))
    elif isinstance(stmt, For):
        yield from _atoms((stmt.iter,))
    elif isinstance(stmt, While):
        yield from _atoms((stmt.cond,))
    elif isinstance(stmt, Copy):
        yield from _atoms(stmt.values)
    elif isinstance(stmt, Push):
        yield stmt.stack
        yield from _atoms(stmt.values)
    elif isinstance(stmt, Pop):
        yield stmt.stack


def _atoms(atoms) -> Iterator[Var]:
    return (a for a in atoms if isinstance(a, Var))


def variables(atoms) -> list[Var]:
    """The variables among `atoms` (constants and None left out)."""
    return [a for a in atoms if isinstance(a, Var)]


def name_of(atom: object) -> str | None:
    """A variable's name; None for anything else."""
    return atom.name if isinstance(atom, Var) else None


def defs(stmt: Stmt) -> tuple[Var, ...]:
    """Variables a statement binds at its own level."""
    if isinstance(stmt, Assign):
        return (stmt.target,)
    if isinstance(stmt, Branch):
        return tuple(m.out for m in stmt.merges)
    if isinstance(stmt, Loop):
        return tuple(c.out for c in stmt.carries)
    if isinstance(stmt, Copy | Pop):
        return stmt.targets
    return ()


def writes(stmt: Stmt) -> list[str]:
    """Names a statement assigns or updates at its own level."""
    if isinstance(stmt, Assign | SetItem):
        return [stmt.target.name]
    if isinstance(stmt, Copy | Pop):
        return [t.name for t in stmt.targets]
    if isinstance(stmt, For):
        return [t.name for t in for_targets(stmt)]
    return []


def for_targets(stmt: For) -> tuple[Var, ...]:
    """The variables a `for` statement binds on each iteration."""
    if stmt.target is None:
        return ()
    return stmt.target if isinstance(stmt.target, tuple) else (stmt.target,)


def bodies(stmt: Stmt) -> tuple[tuple[Stmt, ...], ...]:
    """The nested statement lists of a compound statement."""
    if isinstance(stmt, Branch | If):
        return (stmt.body, stmt.orelse)
    if isinstance(stmt, Loop | While):
        return (stmt.test, stmt.body)
    if isinstance(stmt, For):
        return (stmt.body,)
    return ()


_NESTING = frozenset({Branch, If, Loop, While, For})


def walk(body: tuple[Stmt, ...] | list[Stmt]) -> Iterator[Stmt]:
    """Every statement in `body`, depth first, nested bodies included."""
    for stmt in body:
        yield stmt
        if stmt.__class__ in _NESTING:
            for inner in bodies(stmt):
                yield from walk(inner)


def verify(fn: Function, known_ops: object) -> None:
    """Check the primal IR: bound names, single assignment, known ops and
    arity, and that merges and carries read values their block defines."""
    _verify_block(fn, fn.body, set(fn.params), set(fn.params), known_ops)


def _verify_block(fn, body, bound: set[str], every: set[str], ops) -> set[str]:
    bound = set(bound)
    for stmt in body:
        _check_bound(fn, uses_before(stmt), bound)
        if isinstance(stmt, Assign):
            _verify_assign(fn, stmt, ops)
        elif isinstance(stmt, Branch):
            for arm, pick in ((stmt.body, 0), (stmt.orelse, 1)):
                inner = _verify_block(fn, arm, bound, every, ops)
                atoms = [(m.then, m.orelse)[pick] for m in stmt.merges]
                _check_bound(fn, _atoms(atoms), inner)
        elif isinstance(stmt, Loop):
            headers = {c.header.name for c in stmt.carries}
            index = {stmt.index.name} if stmt.index is not None else set()
            _define(fn, headers | index, every)
            inner = _verify_block(fn, stmt.test, bound | headers, every, ops)
            if stmt.cond is not None:
                _check_bound(fn, _atoms((stmt.cond,)), inner)
            inner = _verify_block(fn, stmt.body, bound | headers | index, every, ops)
            _check_bound(fn, _atoms(c.next for c in stmt.carries), inner)
        names = {v.name for v in defs(stmt)}
        _define(fn, names, every)
        bound |= names
    return bound


def uses_before(stmt: Stmt) -> Iterator[Var]:
    """What a statement reads before any nested body runs."""
    if isinstance(stmt, Branch):
        return _atoms((stmt.cond,))
    if isinstance(stmt, Loop):
        return _atoms((*stmt.bounds, *(c.init for c in stmt.carries)))
    return uses(stmt)


def _check_bound(fn: Function, used, bound: set[str]) -> None:
    for var in used:
        if var.name not in bound:
            raise IRError(f"{fn.name}: '{var.name}' is used before it is assigned")


def _define(fn: Function, names: set[str], every: set[str]) -> None:
    for name in names:
        if name in every:
            raise IRError(f"{fn.name}: '{name}' is assigned twice")
        every.add(name)


def _verify_assign(fn: Function, stmt: Assign, ops) -> None:
    if stmt.op not in ops:
        raise IRError(f"{fn.name}: unknown op '{stmt.op}'")
    arity = ops[stmt.op].arity
    if arity is not None and len(stmt.args) != arity:
        raise IRError(
            f"{fn.name}: op '{stmt.op}' takes {arity} arguments, got {len(stmt.args)}"
        )


def rename(stmt: Stmt, names: dict[str, str]) -> Stmt:
    """`stmt` (nested bodies, merges and carried values included) with
    variables renamed by `names`."""
    if not names:
        return stmt

    def var(v: Var) -> Var:
        return Var(names.get(v.name, v.name))

    def arg(a):
        if isinstance(a, Var):
            return var(a)
        if isinstance(a, Index):
            return Index(tuple(arg(i) for i in a.items), a.wrapped)
        if isinstance(a, Slice):
            parts = (a.start, a.stop, a.step)
            return Slice(*(None if p is None else arg(p) for p in parts))
        return a

    def body(stmts) -> tuple[Stmt, ...]:
        return tuple(rename(s, names) for s in stmts)

    if isinstance(stmt, Assign):
        args = tuple(arg(a) for a in stmt.args)
        return Assign(var(stmt.target), stmt.op, args, stmt.params, stmt.loc)
    if isinstance(stmt, SetItem):
        return SetItem(
            var(stmt.target), arg(stmt.index), arg(stmt.value), stmt.mode, stmt.loc
        )
    if isinstance(stmt, Copy):
        targets = tuple(var(t) for t in stmt.targets)
        return Copy(targets, tuple(arg(v) for v in stmt.values), stmt.loc)
    if isinstance(stmt, Push):
        return Push(stmt.stack, tuple(arg(v) for v in stmt.values), stmt.loc)
    if isinstance(stmt, Pop):
        return Pop(stmt.stack, tuple(var(t) for t in stmt.targets), stmt.loc)
    if isinstance(stmt, If):
        return If(arg(stmt.cond), body(stmt.body), body(stmt.orelse), stmt.loc)
    if isinstance(stmt, For):
        target = stmt.target
        if target is not None:
            target = (
                tuple(map(var, target)) if isinstance(target, tuple) else var(target)
            )
        return For(target, arg(stmt.iter), body(stmt.body), stmt.loc)
    if isinstance(stmt, While):
        return While(body(stmt.test), arg(stmt.cond), body(stmt.body), stmt.loc)
    if isinstance(stmt, Return):
        aux = None if stmt.aux is None else arg(stmt.aux)
        return Return(arg(stmt.value), stmt.loc, aux)
    if isinstance(stmt, Branch):
        merges = tuple(
            Merge(var(m.out), arg(m.then), arg(m.orelse)) for m in stmt.merges
        )
        return Branch(
            arg(stmt.cond), body(stmt.body), body(stmt.orelse), merges, stmt.loc
        )
    if isinstance(stmt, Loop):
        carries = tuple(
            Carry(var(c.header), arg(c.init), arg(c.next), var(c.out))
            for c in stmt.carries
        )
        return Loop(
            None if stmt.index is None else var(stmt.index),
            tuple(arg(b) for b in stmt.bounds),
            body(stmt.test),
            None if stmt.cond is None else arg(stmt.cond),
            carries,
            body(stmt.body),
            stmt.loc,
        )
    return stmt


def format_stmt(stmt: Stmt, indent: str = "") -> list[str]:
    """Lines of the IR printer for one statement."""
    where = f"  # line {stmt.loc.line}" if stmt.loc is not None else ""
    inner = indent + "    "
    if isinstance(stmt, Assign):
        args = ", ".join(str(a) for a in stmt.args)
        params = "".join(f", {k}={v!r}" for k, v in stmt.params)
        return [f"{indent}{stmt.target} = {stmt.op}({args}{params}){where}"]
    if isinstance(stmt, SetItem):
        signs = {"set": "=", "add": "+=", "sub": "-=", "add_at": "+=(at)"}
        signs["append"] = "<<"
        sign = signs.get(stmt.mode, stmt.mode)
        return [f"{indent}{stmt.target}{stmt.index} {sign} {stmt.value}{where}"]
    if isinstance(stmt, Return):
        aux = "" if stmt.aux is None else f", aux={stmt.aux}"
        return [f"{indent}return {stmt.value}{aux}{where}"]
    if isinstance(stmt, Branch | If):
        lines = [f"{indent}if {stmt.cond}:{where}"] + format_body(stmt.body, inner)
        lines += [f"{indent}else:"] + format_body(stmt.orelse, inner)
        for m in getattr(stmt, "merges", ()):
            lines.append(f"{indent}{m.out} = merge({m.then}, {m.orelse})")
        return lines
    if isinstance(stmt, Loop):
        carries = ", ".join(f"{c.header}={c.init}" for c in stmt.carries)
        if stmt.index is not None:
            bounds = ", ".join(str(b) for b in stmt.bounds)
            lines = [f"{indent}for {stmt.index} in range({bounds}) [{carries}]:{where}"]
        else:
            lines = [f"{indent}while [{carries}]:{where}"] + format_body(
                stmt.test, inner
            )
            lines.append(f"{inner}if not {stmt.cond}: break")
        lines += format_body(stmt.body, inner)
        nexts = ", ".join(f"{c.header}={c.next}" for c in stmt.carries)
        lines.append(f"{inner}next [{nexts}]")
        return lines + [f"{indent}{c.out} = {c.header}" for c in stmt.carries]
    if isinstance(stmt, For):
        targets = ", ".join(str(t) for t in for_targets(stmt)) or "_"
        head = f"for {targets} in {stmt.iter}:{where}"
        return [indent + head] + format_body(stmt.body, inner)
    if isinstance(stmt, While):
        lines = [f"{indent}while True:{where}"] + format_body(stmt.test, inner)
        return (
            lines
            + [f"{inner}if not {stmt.cond}: break"]
            + format_body(stmt.body, inner)
        )
    if isinstance(stmt, Copy):
        targets = ", ".join(str(t) for t in stmt.targets)
        return [f"{indent}{targets} = {', '.join(str(v) for v in stmt.values)}"]
    if isinstance(stmt, Push):
        values = ", ".join(str(v) for v in stmt.values)
        return [f"{indent}{stmt.stack}.append(({values}))"]
    targets = ", ".join(str(t) for t in stmt.targets)
    return [f"{indent}{targets} = {stmt.stack}.pop()"]


def format_body(body: tuple[Stmt, ...], indent: str = "") -> list[str]:
    return [line for stmt in body for line in format_stmt(stmt, indent)] or [
        indent + "pass"
    ]


def format_function(fn: Function) -> str:
    """The IR printer: `python -m symgrad emit FILE --stage ir` shows this."""
    head = f"def {fn.name}({', '.join(fn.params)}):"
    return "\n".join([head] + format_body(fn.body, "    ")) + "\n"
