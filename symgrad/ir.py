"""symgrad's intermediate representation: immutable nodes, a verifier, a printer.

Grammar (one operation per statement; every statement knows its source line)::

    Function  ::= name params body            params: tuple[str, ...]
    body      ::= Stmt*
    Stmt      ::= Assign(target: Var, op, args: Arg*, params)   target = op(args)
                | SetItem(target: Var, index: Index, value: Atom, mode)
                | If(cond: Atom, body, orelse)
                | For(target: Var, iter: Atom, body)
                | While(test: Stmt*, cond: Atom, body)
                | Return(value: Atom)
    Arg       ::= Atom | Index
    Atom      ::= Var(name) | Const(value, name?)
    Index     ::= (Atom | Slice(start?, stop?, step?))*

`op` is a key of `rules.OPS`; `params` holds static keyword parameters
(`axis=`, `keepdims=`, ...) as a sorted tuple of pairs so nodes stay hashable.

The primal IR the frontend produces is in SSA form: every variable is assigned
once.  The adjoint IR reverse mode produces may re-assign a variable only to
accumulate into it (`v = add(v, ...)`) or update it through `SetItem`.
`verify()` checks these rules and raises `IRError` with a message; the
structured control-flow nodes (If, For, While) are part of the grammar so later
passes can keep loops and branches readable instead of lowering to a CFG.
"""

from __future__ import annotations

from collections.abc import Iterator
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

    def __str__(self) -> str:
        return "[" + ", ".join(str(item) for item in self.items) + "]"

    def vars(self) -> Iterator[Var]:
        for item in self.items:
            parts = (
                (item.start, item.stop, item.step)
                if isinstance(item, Slice)
                else (item,)
            )
            yield from (p for p in parts if isinstance(p, Var))

    @property
    def is_basic(self) -> bool:
        """True for numpy basic indexing: constant ints, slices, None, `...`.

        Anything else (a variable, a constant array or list) may select an
        element twice, so adjoints must accumulate with `np.add.at`."""
        for item in self.items:
            parts = (
                (item.start, item.stop, item.step)
                if isinstance(item, Slice)
                else (item,)
            )
            for part in parts:
                if part is None:
                    continue
                if not isinstance(part, Const) or part.name is not None:
                    return False
                value = part.value
                if not (value is None or value is Ellipsis or type(value) is int):
                    return False
        return True


Arg = Atom | Index


@dataclass(frozen=True, slots=True)
class Assign:
    target: Var
    op: str
    args: tuple[Arg, ...]
    params: tuple[tuple[str, object], ...] = ()
    loc: Loc | None = None

    def param(self, key: str, default: object = None) -> object:
        return dict(self.params).get(key, default)


@dataclass(frozen=True, slots=True)
class SetItem:
    """`target[index] = value` (mode "set"), `+=` ("add"), or `np.add.at` ("add_at")."""

    target: Var
    index: Index
    value: Atom
    mode: str = "set"
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class Return:
    value: Atom
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class If:
    cond: Atom
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class For:
    target: Var
    iter: Atom
    body: tuple[Stmt, ...]
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class While:
    test: tuple[Stmt, ...]
    cond: Atom
    body: tuple[Stmt, ...]
    loc: Loc | None = None


Stmt = Assign | SetItem | Return | If | For | While


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    params: tuple[str, ...]
    body: tuple[Stmt, ...]
    loc: Loc | None = None


class IRError(Exception):
    """An IR invariant is broken: a bug in a symgrad pass, never a user error."""


def arg_vars(args: tuple[Arg, ...]) -> Iterator[Var]:
    for arg in args:
        if isinstance(arg, Var):
            yield arg
        elif isinstance(arg, Index):
            yield from arg.vars()


def uses(stmt: Stmt) -> Iterator[Var]:
    """Variables a statement reads (not looking inside nested bodies)."""
    if isinstance(stmt, Assign):
        yield from arg_vars(stmt.args)
    elif isinstance(stmt, SetItem):
        yield stmt.target
        yield from stmt.index.vars()
        if isinstance(stmt.value, Var):
            yield stmt.value
    elif isinstance(stmt, Return | If | While):
        atom = stmt.value if isinstance(stmt, Return) else stmt.cond
        if isinstance(atom, Var):
            yield atom
    elif isinstance(stmt, For) and isinstance(stmt.iter, Var):
        yield stmt.iter


def walk(body: tuple[Stmt, ...]) -> Iterator[Stmt]:
    """Every statement in `body`, depth first, nested bodies included."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, If):
            yield from walk(stmt.body)
            yield from walk(stmt.orelse)
        elif isinstance(stmt, For):
            yield from walk(stmt.body)
        elif isinstance(stmt, While):
            yield from walk(stmt.test)
            yield from walk(stmt.body)


def verify(fn: Function, known_ops: object, ssa: bool = True) -> None:
    """Check bound names, single assignment, known ops and arity; raise IRError."""
    bound: set[str] = set(fn.params)
    for stmt in walk(fn.body):
        for var in uses(stmt):
            if var.name not in bound:
                raise IRError(f"{fn.name}: '{var.name}' is used before it is assigned")
        if isinstance(stmt, Assign):
            _verify_assign(fn, stmt, bound, known_ops, ssa)
            bound.add(stmt.target.name)
        elif isinstance(stmt, For):
            bound.add(stmt.target.name)


def _verify_assign(fn: Function, stmt: Assign, bound: set[str], ops, ssa: bool) -> None:
    name = stmt.target.name
    if name in bound:
        accumulates = stmt.op == "add" and stmt.target in stmt.args
        if ssa or not accumulates:
            raise IRError(f"{fn.name}: '{name}' is assigned twice")
    if stmt.op not in ops:
        raise IRError(f"{fn.name}: unknown op '{stmt.op}'")
    arity = ops[stmt.op].arity
    if arity is not None and len(stmt.args) != arity:
        raise IRError(
            f"{fn.name}: op '{stmt.op}' takes {arity} arguments, got {len(stmt.args)}"
        )


def format_stmt(stmt: Stmt, indent: str = "") -> list[str]:
    """Lines of the IR printer for one statement."""
    where = f"  # line {stmt.loc.line}" if stmt.loc is not None else ""
    if isinstance(stmt, Assign):
        args = ", ".join(str(a) for a in stmt.args)
        params = "".join(f", {k}={v!r}" for k, v in stmt.params)
        return [f"{indent}{stmt.target} = {stmt.op}({args}{params}){where}"]
    if isinstance(stmt, SetItem):
        sign = {"set": "=", "add": "+=", "add_at": "+=(at)"}[stmt.mode]
        return [f"{indent}{stmt.target}{stmt.index} {sign} {stmt.value}{where}"]
    if isinstance(stmt, Return):
        return [f"{indent}return {stmt.value}{where}"]
    inner = indent + "    "
    if isinstance(stmt, If):
        lines = [f"{indent}if {stmt.cond}:{where}"]
        lines += format_body(stmt.body, inner)
        if stmt.orelse:
            lines += [f"{indent}else:"] + format_body(stmt.orelse, inner)
        return lines
    if isinstance(stmt, For):
        return [f"{indent}for {stmt.target} in {stmt.iter}:{where}"] + format_body(
            stmt.body, inner
        )
    lines = [f"{indent}while:{where}"] + format_body(stmt.test, inner)
    return lines + [f"{inner}if not {stmt.cond}: break"] + format_body(stmt.body, inner)


def format_body(body: tuple[Stmt, ...], indent: str = "") -> list[str]:
    return [line for stmt in body for line in format_stmt(stmt, indent)] or [
        indent + "pass"
    ]


def format_function(fn: Function) -> str:
    """The IR printer: `python -m symgrad emit FILE --stage ir` shows this."""
    head = f"def {fn.name}({', '.join(fn.params)}):"
    return "\n".join([head] + format_body(fn.body, "    ")) + "\n"
