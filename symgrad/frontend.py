"""Frontend: a function's AST to primal IR, one operation per statement.

`lower(source)` resolves every name (numpy under any alias, math, builtins,
module constants, other user functions), inlines calls to user functions, and
emits SSA statements: each source name gets a fresh IR variable (`x`, `x_1`,
...) when re-assigned, and nested expressions get temporaries (`t1`, `t2`...).
Every statement carries the `Loc` of the source line it came from.  Errors are
`SymgradError`s naming `file:line:col` of the construct; the fence has already
rejected syntax outside the supported subset.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field, replace

import numpy as np

from . import library, resolve
from .analysis import activity, float_values, maybe_lists
from .cache import describe_value
from .calls import (
    NOT_A_MODULE,
    RANDOM_HINT,
    CallLowering,
    check_line,
    dotted,
    nonzero_outside_an_index,
)
from .errors import (
    Loc,
    NoDerivativeError,
    SymgradError,
    UnknownNameError,
    UnsupportedSyntaxError,
)
from .flow import RESULT, RETURNED, FlowLowering, RankChanged, always_returns
from .ir import (
    Assign,
    Atom,
    Branch,
    Const,
    Function,
    Index,
    ListConst,
    Loop,
    Return,
    Slice,
    Stmt,
    Var,
    name_of,
)
from .library import BINOPS
from .names import RESERVED, Names
from .rules import CHECKS, JOIN_GUARD, OPS, READ_ONLY_VIEWS, VIEWS
from .source import FunctionSource, nodes
from .updates import INTEGRAL_OPS, UpdateLowering, named_constant, vars_in

_CMPOPS = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq"}
_CMPOPS[ast.NotEq] = "ne"
_CMPOPS |= {ast.Is: "is_", ast.IsNot: "is_not", ast.In: "in_", ast.NotIn: "not_in"}
# Comparisons of literals, decided when compiling (`MODE == "fast"` with MODE a
# module's string, `axis == -1` in an inlined call): one branch is emitted.
_FOLDS = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt}
_FOLDS |= {ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne}
_FOLDS |= {ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
_LITERALS = (bool, int, float, str, type(None))


_OBJECTS = ("self", "cls")  # a method's receiver: its attributes are hinted


@dataclass(frozen=True)
class TupleValue:
    """A tuple of values (a helper's `return a, b`), unpacked by assignment."""

    items: tuple[Atom | TupleValue, ...]


@dataclass(frozen=True, eq=False)
class Closure:
    """A function defined inside the one being lowered (`def` or `lambda`):
    inlined where it is called, reading the names of `scope` as they are
    bound at the call, as Python's closures do."""

    source: FunctionSource
    scope: Scope


Value = Atom | TupleValue | Closure


@dataclass
class Scope:
    """One function being lowered: its source and its local names."""

    src: FunctionSource
    env: dict[str, Value] = field(default_factory=dict)
    initial: dict[str, Value] = field(default_factory=dict)
    hint: str | None = None  # a name for the returned value
    partial: set[str] = field(default_factory=set)  # bound on some paths only
    parent: Scope | None = None  # the enclosing function, for closures


def _has_axes(value: object) -> bool:
    """Is `value` a list, tuple or array of at least one axis?"""
    return isinstance(value, list | tuple) or (
        isinstance(value, np.ndarray) and value.ndim > 0
    )


class Lowerer(CallLowering, FlowLowering, UpdateLowering):
    def __init__(self, top: FunctionSource, avoid: set[str], unranked: frozenset):
        self.top = top
        # loop headers whose rank a step may change (`RankChanged`): lowered
        # as of no known rank, their entries read as any array's
        self.unranked = unranked
        self.names = Names(RESERVED | set(top.params), avoid)
        self.body: list[Stmt] = []
        self.stack: list[tuple] = []  # the functions being inlined (`identity`)
        self.constants: dict[str, Const] = {}
        self.constant_names: dict[tuple[str, str], Const] = {}
        self.ops: dict[str, str] = {}  # variable -> the op that computed it
        self.kinds: dict[str, str] = {}  # variable -> "list" for Python lists
        # lists written out, or made by appends outside loops: their entries
        self.made_items: dict[str, tuple[Atom, ...]] = {}
        # constant lists read out of a constant list of lists (`row = m[0]`):
        # the same object as the entry, which a write would change too
        self.held_constants: set[Const] = set()
        # variable -> the values it may be the same object as (views, a name
        # through a merge or a loop, updated versions of an array or list)
        self.sources: dict[str, tuple[Atom, ...]] = {}
        self.copies: set[str] = set()  # results of ops in VIEWS that copy
        # a view made by indexing -> (the array indexed, the index)
        self.indexed: dict[str, tuple[Atom, Index]] = {}
        self.written_args: dict[str, Loc] = {}  # (`note_written`)
        self.arg_copies: dict[str, set[str]] = {}  # a loop's copy -> what it copies
        # list or tuple -> the values it holds references to
        self.holds: dict[str, tuple[Atom, ...]] = {}
        # variables that are never a boolean array: loop indices, and +, -, *,
        # //, % with an integer (numpy makes a boolean operand an integer)
        self.integral: set[str] = set()
        # the indices of loops over a range: Python ints (see `row_entry`)
        self.counters: set[str] = set()
        # arrays of a known number of axes (`np.zeros((n, 2))` and what is
        # written into it), and Python ints computed from loop indices and int
        # constants: an entry `Z[t, 0]` of such an array (an int per axis) is
        # a number, a copy, never a view
        self.ranks: dict[str, int] = {}  # arrays of known axes (`note_rank`)
        # arrays of at least one axis (`np.argsort(x)`, `np.ravel(x)`, +, -, *
        # ... with one): as an index, numpy's advanced indexing, a copy
        self.axis_arrays: set[str] = set()
        self.int_tuples: dict[str, int] = {}  # `(n, 2)` of ints: its length
        self.int_scalars: set[str] = set()
        self.entries_read: set[str] = set()  # (arrays whose entries `an_entry` read)
        self.loc_of_entry: dict[str, Loc] = {}
        # variables that hold None where the source name may be unbound (a
        # loop of no steps binds it never): a read checks them (`flow.loop`)
        self.maybe_unbound: set[str] = set()
        self.checked: set[str] = set()  # (those of them a read checked)
        # functions with custom rules, which the emitted code calls by name
        self.called_by_name: set[str] = set()

    # --- functions ------------------------------------------------------------

    def lower(self, has_aux: bool = False) -> Function:
        scope = Scope(self.top, {p: Var(p) for p in self.top.params})
        result = self.inline(scope, "out")
        return_loc = self._return_loc(self.top)
        aux = None
        if has_aux:
            if not (isinstance(result, TupleValue) and len(result.items) == 2):
                raise UnsupportedSyntaxError(
                    "with has_aux=True the function must return a pair (loss, aux)",
                    return_loc,
                )
            result, aux = result.items
            if isinstance(aux, TupleValue):
                aux = self.pack(aux, return_loc, "aux")
        if isinstance(result, TupleValue):
            raise UnsupportedSyntaxError(
                "the differentiated function must return one value, not a tuple",
                return_loc,
                "return the loss; for (loss, aux) pass has_aux=True",
            )
        self.body.append(Return(result, return_loc, aux))
        return Function(
            self.top.name,
            self.top.params,
            tuple(self.checked_arguments() + self.body),
            self.top.loc(self.top.tree),
        )

    def _return_loc(self, src: FunctionSource) -> Loc:
        last = src.tree.body[-1] if src.tree.body else src.tree
        return src.loc(last)

    def inline(self, scope: Scope, hint: str | None) -> Value:
        """Lower the statements of `scope.src`; return what it returns."""
        self.stack.append(identity(scope.src))
        body = [s for s in scope.src.tree.body if not _is_docstring(s)]
        if not always_returns(body):
            raise UnsupportedSyntaxError(
                f"'{scope.src.name}' must end with a 'return <value>' statement",
                self._return_loc(scope.src),
                "symgrad differentiates the value a function returns",
            )
        scope.hint = hint
        scope.env[RETURNED] = Const(False)
        scope.env[RESULT] = Const(None)  # never returned: every path returns
        self.block(body, scope)
        if RESULT not in scope.env:
            raise UnsupportedSyntaxError(
                f"'{scope.src.name}' returns values of different kinds on different "
                "paths",
                self._return_loc(scope.src),
            )
        if scope.env[RESULT] == Const(None):
            raise UnsupportedSyntaxError(
                f"'{scope.src.name}' returns None",
                self._return_loc(scope.src),
                "symgrad differentiates the number or array a function returns",
            )
        self.stack.pop()
        return scope.env[RESULT]

    # --- statements -----------------------------------------------------------

    def is_check(self, node: ast.expr, scope: Scope) -> bool:
        """Is `node` a call of one of symgrad's run-time checks, which emitted
        code (read again for a Hessian) makes as a statement alone
        (`_same_shapes(parts)`)?"""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return False
        spec = library.RUNTIME.get(node.func.id)
        if spec is None or spec.op not in CHECKS:
            return False
        callee = self.callee(node.func, scope)
        return isinstance(callee, resolve.LibFunction) and callee.lib == "symgrad"

    def is_guarded_check(self, stmt: ast.stmt, scope: Scope) -> bool:
        """Is `stmt` emitted code's `_not_joined(a, b, op)` behind its test
        (`rules.JOIN_GUARD`), read as the check alone?"""
        if not (isinstance(stmt, ast.If) and len(stmt.body) == 1 and not stmt.orelse):
            return False
        check = stmt.body[0]
        if not (isinstance(check, ast.Expr) and self.is_check(check.value, scope)):
            return False
        names = [a.id for a in check.value.args[:2] if isinstance(a, ast.Name)]
        if len(names) != 2:
            return False
        guard = ast.parse(JOIN_GUARD.format(*names), mode="eval").body
        return ast.dump(stmt.test) == ast.dump(guard)

    def statement(self, stmt: ast.stmt, scope: Scope) -> None:
        if isinstance(stmt, ast.Expr) and _is_append(stmt.value):
            self.append(stmt.value, scope)
            return
        if isinstance(stmt, ast.Expr) and _is_pop(stmt.value):
            self.pop(stmt.value, scope)  # the entry is dropped
            return
        if isinstance(stmt, ast.Expr) and self.is_add_at(stmt.value, scope):
            self.add_at(stmt.value, scope)
            return
        if isinstance(stmt, ast.Pass) or _is_docstring(stmt):
            return
        if isinstance(stmt, ast.Expr) and self.is_check(stmt.value, scope):
            self.call(stmt.value, scope, None)  # (kept: a check has no value to use)
            return
        if self.is_guarded_check(stmt, scope):  # (`if w.__class__ not in ...:`)
            self.call(stmt.body[0].value, scope, None)
            return
        if isinstance(stmt, ast.Expr):
            raise UnsupportedSyntaxError(
                "this call's result is not used, so it cannot change the value",
                scope.src.loc(stmt),
                "symgrad supports in-place calls 'name.append(v)' and "
                "'np.add.at(y, i, v)'",
            )
        if isinstance(stmt, ast.FunctionDef):
            self.bind(scope, stmt.name, self.closure(stmt, scope))
            return
        if isinstance(stmt, ast.If):
            self.if_statement(stmt, scope)
            return
        if isinstance(stmt, ast.For):
            self.for_statement(stmt, scope)
            return
        if isinstance(stmt, ast.While):
            self.while_statement(stmt, scope)
            return
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, stmt.value, scope)
            return
        if isinstance(stmt, ast.AugAssign):
            self.augassign(stmt, scope)
            return
        if len(stmt.targets) == 1:
            self.assign(stmt.targets[0], stmt.value, scope)
            return
        first = stmt.targets[0]
        value = self.value(
            stmt.value, scope, first.id if isinstance(first, ast.Name) else None
        )
        for i, target in enumerate(stmt.targets):
            if i + 1 < len(stmt.targets):  # (later targets read the value)
                self.unchanged_by_write(target, [value], scope)
            self.unpack(target, value, scope)

    def assign(self, target: ast.expr, value: ast.expr, scope: Scope) -> None:
        if isinstance(target, ast.Subscript):
            self.write(target, value, "setitem", scope, scope.src.loc(target))
            return
        if isinstance(target, ast.Name):
            self.bind(scope, target.id, self.value(value, scope, hint=target.id))
        elif isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(
            target.elts
        ):
            # `a, b = e1, e2`: evaluate every right-hand side before binding.
            values = [
                self.value(v, scope, t.id if isinstance(t, ast.Name) else None)
                for t, v in zip(target.elts, value.elts, strict=True)
            ]
            for i, (elt, val) in enumerate(zip(target.elts, values, strict=True)):
                self.unchanged_by_write(elt, values[i + 1 :], scope)
                self.unpack(elt, val, scope)
        else:
            self.unpack(target, self.value(value, scope), scope)

    def unpack(self, target: ast.expr, value: Value, scope: Scope) -> None:
        if isinstance(target, ast.Name):
            self.bind(scope, target.id, value)
            return
        if isinstance(target, ast.Subscript):  # `y[0] = y[1] = v`, `y[i], z = ...`
            if not isinstance(value, Var | Const):
                raise UnsupportedSyntaxError(
                    "a tuple cannot be written into an element", scope.src.loc(target)
                )
            self.write(target, value, "setitem", scope, scope.src.loc(target))
            return
        if isinstance(value, Const) and isinstance(value.value, tuple):  # t = (0, 1)
            value = TupleValue(tuple(Const(v) for v in value.value))
        if isinstance(value, Const) and np.ndim(value.value) > 0:  # a module's array
            count = len(value.value)
            if count != len(target.elts):
                raise UnsupportedSyntaxError(
                    f"cannot unpack {count} values into {len(target.elts)} targets",
                    scope.src.loc(target),
                )
            loc = scope.src.loc(target)
            rows = [Index((Const(i),)) for i in range(count)]
            value = TupleValue(
                tuple(self.emit("getitem", (value, row), loc) for row in rows)
            )
        if isinstance(value, Var) and not any(
            isinstance(e, ast.Starred) for e in target.elts
        ):
            # a value symgrad knows no length of (a list entry, an array's
            # rows): checked at run time, as Python does
            loc = scope.src.loc(target)
            n = Const(len(target.elts))
            checked = self.emit("unpacked", (value, n), loc)
            items = tuple(
                self.emit(
                    "getitem",
                    (checked, Index((Const(i),))),
                    loc,
                    hint=elt.id if isinstance(elt, ast.Name) else None,
                )
                for i, elt in enumerate(target.elts)
            )
            value = TupleValue(items)
        if not isinstance(value, TupleValue):
            raise UnsupportedSyntaxError(
                "can only unpack a tuple, a list or an array here (not a number)",
                scope.src.loc(target),
            )
        if len(value.items) != len(target.elts):
            raise UnsupportedSyntaxError(
                f"cannot unpack {len(value.items)} values into {len(target.elts)} "
                "targets",
                scope.src.loc(target),
            )
        for i, (elt, item) in enumerate(zip(target.elts, value.items, strict=True)):
            self.unchanged_by_write(elt, value.items[i + 1 :], scope)
            self.unpack(elt, item, scope)

    def unchanged_by_write(self, target: ast.expr, later, scope: Scope) -> None:
        """In `y[0], y[1] = y[1], y[0]`, the values on the right are taken
        before any write; numpy's `y[0]` of a matrix is a view, which the
        first write would change before the second reads it.  Where `target`
        writes into a named array, a later value that may be (a view of) it is
        refused."""
        if not (
            isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
        ):
            return
        name = target.value.id
        written = self.roots(
            self.name(name, target.value, scope), held=False, into=True
        )
        for item in later:
            for var in vars_in(item):
                if self.roots(var) & written:
                    raise UnsupportedSyntaxError(
                        f"a value on the right may be a view of '{name}' (a row of "
                        "a matrix is one), which numpy would read only after this "
                        f"assignment has written into '{name}'",
                        scope.src.loc(target),
                        "copy the values first (np.copy(...)), or reorder with an "
                        f"index array ({name} = {name}[[1, 0, 2]])",
                    )

    def bind(self, scope: Scope, name: str, value: Value) -> None:
        scope.env[name] = value

    # --- expressions ----------------------------------------------------------

    def value(self, node: ast.expr, scope: Scope, hint: str | None = None) -> Value:
        """Lower an expression that may be a tuple of values or a function."""
        if isinstance(node, ast.Lambda):
            return self.closure(node, scope)
        if isinstance(node, ast.Tuple):
            items = tuple(self.value(e, scope) for e in node.elts)
            if all(isinstance(i, Const) for i in items):
                return Const(tuple(i.value for i in items))
            return TupleValue(items)
        if isinstance(node, ast.Name) and isinstance(
            scope.env.get(node.id), TupleValue
        ):
            return scope.env[node.id]
        if isinstance(node, ast.Call):
            callee = self.callee(node.func, scope)
            if isinstance(callee, resolve.UserFunction | Closure):
                return self.call_user(callee, node, scope, hint)
        if isinstance(node, ast.Subscript):
            base = self.value(node.value, scope)
            if isinstance(base, TupleValue):
                k = self.static(node.slice, scope, "a tuple index")
                if type(k) is not int or not -len(base.items) <= k < len(base.items):
                    raise UnsupportedSyntaxError(
                        f"tuple index {k!r} is not an index into a tuple of "
                        f"{len(base.items)}",
                        scope.src.loc(node.slice),
                    )
                return base.items[k]
            if isinstance(base, Var | Const):
                return self.subscript(node, scope, hint, base)
        return self.atom(node, scope, hint)

    def atom(self, node: ast.expr, scope: Scope, hint: str | None = None) -> Atom:
        """Lower an expression to one atom, emitting statements as needed."""
        loc = scope.src.loc(node)
        if isinstance(node, ast.Constant):
            return self.constant(node.value, loc)
        if isinstance(node, ast.Name):
            found = self.name(node.id, node, scope)
            if isinstance(found, TupleValue):
                return self.pack(found, loc, hint)
            if isinstance(found, Closure):
                raise UnsupportedSyntaxError(
                    f"'{node.id}' is a function (a lambda or a nested def), used "
                    "here as a value; symgrad differentiates calls of it",
                    loc,
                )
            return found
        if isinstance(node, ast.Tuple | ast.List):
            items = tuple(self.atom(e, scope) for e in node.elts)
            if all(isinstance(i, Const) for i in items) and (
                items or isinstance(node, ast.Tuple)
            ):
                kind = ListConst if isinstance(node, ast.List) else tuple
                return Const(kind(i.value for i in items))
            if isinstance(node, ast.List):
                if not items:
                    return self.emit("list_new", (), loc, hint=hint)
                return self.emit("make_list", items, loc, hint=hint)
            return self.emit("tuple", items, loc, hint=hint)
        if isinstance(node, ast.ListComp | ast.GeneratorExp):  # (sum's argument)
            return self.comprehension(node, scope, hint)
        if isinstance(node, ast.Lambda):
            raise UnsupportedSyntaxError(
                "a lambda can only be assigned to a name or called", loc
            )
        if isinstance(node, ast.BinOp):
            left, right = self.atom(node.left, scope), self.atom(node.right, scope)
            return self.binary(BINOPS[type(node.op)], left, right, loc, hint)
        if isinstance(node, ast.IfExp):
            cond = self.atom(node.test, scope)
            return self.choose(
                cond,
                lambda: self.atom(node.body, scope),
                lambda: self.atom(node.orelse, scope),
                scope,
                loc,
            )
        if isinstance(node, ast.BoolOp):
            return self.boolean(node, scope, loc)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.emit("not_", (self.atom(node.operand, scope),), loc, hint=hint)
        if isinstance(node, ast.UnaryOp):
            operand = self.atom(node.operand, scope)
            if isinstance(operand, Const) and isinstance(operand.value, int | float):
                if operand.name is None and not isinstance(node.op, ast.Invert):
                    sign = -1 if isinstance(node.op, ast.USub) else 1
                    return Const(sign * operand.value)
            op = {ast.USub: "neg", ast.UAdd: "pos", ast.Invert: "invert"}
            return self.emit(op[type(node.op)], (operand,), loc, hint=hint)
        if isinstance(node, ast.Compare):
            left = self.atom(node.left, scope)
            return self.compare(left, node.ops, node.comparators, scope, loc, hint)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, scope, hint)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, scope, hint)
        if isinstance(node, ast.Call):
            return self.call(node, scope, hint)
        raise UnsupportedSyntaxError(
            f"'{type(node).__name__}' expressions are not supported here", loc
        )

    def closure(self, node: ast.FunctionDef | ast.Lambda, scope: Scope) -> Closure:
        """A nested `def` or a `lambda`, as a function to inline at calls."""
        if isinstance(node, ast.Lambda):
            ret = ast.copy_location(ast.Return(node.body), node.body)
            node = ast.copy_location(
                ast.FunctionDef(
                    name="<lambda>", args=node.args, body=[ret], decorator_list=[]
                ),
                node,
            )
        if node.decorator_list:
            raise UnsupportedSyntaxError(
                "decorators on nested functions are not supported",
                scope.src.loc(node.decorator_list[0]),
            )
        src = scope.src
        inner = FunctionSource(
            node.name, node, src.file, src.lines, src.col_shift, src.resolver
        )
        return Closure(inner, scope)

    def binary(self, op: str, left: Atom, right: Atom, loc: Loc, hint) -> Atom:
        """`left op right`; on two lists `+` concatenates, as in Python."""
        lists = [self.is_list(a) for a in (left, right)]
        if op == "add" and all(lists):
            items = tuple(self.as_list(a, loc) for a in (left, right))
            return self.emit("list_concat", items, loc, hint=hint)
        made = [isinstance(a, Var) and self.is_list(a) for a in (left, right)]
        # a name that is a made list on one path (`P[0] if c else [1.0]`)
        mixed = any(
            isinstance(a, Var) and self.kinds.get(a.name) == "mixed"
            for a in (left, right)
        )
        if op == "add" and (
            mixed or any(made) and all(isinstance(a, Var) for a in (left, right))
        ):
            # (the other may be a list: checked, as `_checked_joins` checks
            # values it can see may be lists; this one becomes an array)
            line = check_line(loc, self.top)
            self.emit("not_joined", (left, right, Const("+")), loc, line)
        if op == "mul" and mixed:  # (a list there repeats: checked)
            line = check_line(loc, self.top)
            self.emit("not_joined", (left, right, Const("*")), loc, line)
        runtime_list = any(
            isinstance(a, Var) and self.is_list(a) for a in (left, right)
        )
        int_const = any(
            isinstance(a, Const) and type(a.value) is int for a in (left, right)
        )
        items, count = (left, right) if lists[0] else (right, left)
        if (
            op == "mul"
            and any(lists)
            and int_const
            and not runtime_list
            and len(items.value) * count.value <= 64
            and not any(isinstance(v, tuple) for v in items.value)
        ):  # `[0.0] * 3`: the repeated list, a constant too (of numbers, which
            # a write into one entry does not change in the others)
            return Const(ListConst(items.value * max(count.value, 0)))
        if op == "mul" and any(lists) and runtime_list:
            raise UnsupportedSyntaxError(
                "repeating a list of computed values with '*' is not supported",
                loc,
                "write a comprehension: [v for _ in range(n)]",
            )
        if op == "mul" and any(lists) and int_const:
            raise UnsupportedSyntaxError(
                "repeating a constant list with '*' is supported up to 64 entries "
                "of numbers (a list of lists repeated holds one list many times)",
                loc,
                "for numbers, np.zeros(n) or np.full(n, value) is an array that "
                "serves as well",
            )
        return self.emit(op, (left, right), loc, hint=hint)

    def is_list(self, atom: Atom) -> bool:
        if isinstance(atom, Const):
            return isinstance(atom.value, ListConst)
        return self.kinds.get(atom.name) == "list"

    def as_list(self, atom: Atom, loc: Loc, hint: str | None = None) -> Atom:
        """A list constant (`[1.0, 2.0]`) as a list value."""
        if isinstance(atom, Const):
            items = tuple(Const(v) for v in atom.value)
            return (
                self.emit("make_list", items, loc, hint=hint)
                if items
                else self.emit("list_new", (), loc, hint=hint)
            )
        return atom

    def compare(
        self,
        left: Atom,
        ops: list[ast.cmpop],
        comparators: list[ast.expr],
        scope: Scope,
        loc: Loc,
        hint: str | None = None,
    ) -> Atom:
        """`a < b < c` is `a < b and b < c`, with `b` evaluated once and `c`
        only when `a < b` holds, as in Python."""
        right = self.atom(comparators[0], scope)
        if (
            isinstance(ops[0], ast.Is | ast.IsNot)
            and isinstance(left, Const)
            and isinstance(right, Const)
            and (left.value is None or right.value is None)
        ):  # (`w is None` with w a literal: Python warns of `2.0 is None`)
            first = Const((left.value is right.value) == isinstance(ops[0], ast.Is))
        elif (fold := _folded(ops[0], left, right)) is not None:
            first = fold
        else:
            first = self.emit(_CMPOPS[type(ops[0])], (left, right), loc, hint=hint)
        if len(ops) == 1:
            return first

        def rest() -> Atom:
            return self.compare(right, ops[1:], comparators[1:], scope, loc)

        return self.choose(first, rest, lambda: first, scope, loc)

    def boolean(self, node: ast.BoolOp, scope: Scope, loc: Loc) -> Atom:
        """`a and b` is `b if a else a`; `a or b` is `a if a else b`."""
        value = self.atom(node.values[0], scope)
        last = self.body[-1] if self.body else None
        if (
            isinstance(node.op, ast.Or)
            and isinstance(last, Assign)
            and (last.target, last.op, last.params) == (value, "size", ())
            and [type(v) for v in node.values[1:]] == [ast.Constant]
            and type(node.values[1].value) is int
            and node.values[1].value == 1
        ):
            return self.emit("count", last.args, loc)  # `(np.size(x) or 1)`
        for operand in node.values[1:]:

            def other(operand=operand) -> Atom:
                return self.atom(operand, scope)

            first = value
            if isinstance(node.op, ast.And):
                value = self.choose(first, other, lambda f=first: f, scope, loc)
            else:
                value = self.choose(first, lambda f=first: f, other, scope, loc)
        return value

    def pack(self, value: TupleValue, loc: Loc, hint: str | None) -> Atom:
        items = tuple(
            self.pack(i, loc, None) if isinstance(i, TupleValue) else i
            for i in value.items
        )
        return self.emit("tuple", items, loc, hint=hint)

    def constant(self, value: object, loc: Loc, name: str | None = None) -> Const:
        if _complex(value):
            raise UnsupportedSyntaxError(
                f"complex numbers are not supported (constant {value!r})",
                loc,
                "symgrad differentiates real code: carry the real and imaginary "
                "parts as two real values",
            )
        if value is None or value is Ellipsis:
            return Const(value, name)
        if isinstance(value, bool | int | float):
            return Const(value, name)
        if isinstance(value, str):  # (a mode compared, `_check_seed("f", ...)`)
            return Const(value, name)
        if isinstance(value, np.number):  # (a module's keeps its type: numpy
            return Const(value if name else value.item(), name)  # computes in it)
        if isinstance(value, tuple | np.ndarray) and name is not None:
            return Const(value, name)
        raise UnsupportedSyntaxError(f"constant {value!r} is not a number", loc)

    def name(self, ident: str, node: ast.AST, scope: Scope) -> Value:
        if ident in scope.env:
            found = self.checked_read(scope.env[ident], ident, node, scope)
            scope.env[ident] = found  # (once checked, bound on this path)
            return found
        if ident in scope.partial:
            raise UnknownNameError(
                f"'{ident}' is bound only inside a branch or loop, or not on every "
                "path to this line",
                scope.src.loc(node),
                "assign it before the 'if' or loop as well",
            )
        if ident in local_names(scope.src.tree):
            raise UnknownNameError(
                f"local variable '{ident}' is read before it is assigned",
                scope.src.loc(node),
                "Python would raise UnboundLocalError here",
            )
        outer = scope.parent
        while outer is not None:
            if ident in outer.env:  # (a closure's read: Python's NameError)
                return self.checked_read(outer.env[ident], ident, node, scope)
            outer = outer.parent
        found = scope.src.resolver.resolve(ident) if scope.src.resolver else None
        loc = scope.src.loc(node)
        if isinstance(found, resolve.Constant):
            return self.named_constant(found, loc)
        if isinstance(found, resolve.Unreadable):
            raise UnknownNameError(
                found.reason,
                loc,
                "decorate in the running program, or pass the value as an argument",
            )
        captured = getattr(scope.src.resolver, "closure", {})
        module_level = getattr(scope.src.resolver, "globals", {})
        if found is None and (ident in captured or ident in module_level):
            # (a list, a dict, a complex number, an object)
            value = captured[ident] if ident in captured else module_level[ident]
            if _complex(value):
                self.constant(value, loc)  # (refused as a complex number)
            where = (
                "of the enclosing function" if ident in captured else "at module level"
            )
            raise UnknownNameError(
                f"'{ident}', a {type(value).__name__} {where}, is not a value "
                "symgrad can read",
                loc,
                "symgrad reads numbers, tuples of numbers and arrays there: make it "
                "a tuple or an array, or pass it as an argument",
            )
        if found is None:
            raise UnknownNameError(
                f"name '{ident}' is not defined, or is not something symgrad can read",
                loc,
                "symgrad reads numpy, math, module-level constants and functions",
            )
        raise UnsupportedSyntaxError(
            f"'{ident}' is a module or function, not a value", loc
        )

    def checked_read(self, found: Value, ident: str, node: ast.AST, scope) -> Value:
        """`found`, the value of `ident`, checked (`_bound`) where a loop may
        have left the name unbound, as Python raises there."""
        if isinstance(found, Var) and found.name in self.maybe_unbound:
            self.checked.add(found.name)
            loc = scope.src.loc(node)
            checked = self.emit("bound", (found, Const(ident)), loc, hint=ident)
            self.shares(checked, found)
            return checked
        return found

    def named_constant(self, found: resolve.Constant, loc: Loc) -> Const:
        """A module constant, under a name no variable of the emitted code uses
        (one per value: two closures of one `def` may hold two values); None
        is the literal `None` (`np.clip(x, LOW, 1.0)` then takes no bound)."""
        if found.value is None:
            return Const(None)
        if "." in found.name:
            return self.constant(found.value, loc, found.name)
        key = (loc.file, found.name, describe_value(found.value))
        if key in self.constant_names:
            return self.constant_names[key]
        value = found.value
        if isinstance(value, np.ndarray) and value.size > 10_000:
            raise UnsupportedSyntaxError(
                f"module constant '{found.name}' is an array of {value.size} elements",
                loc,
                "pass large arrays as arguments; emitted modules embed constants",
            )
        const = self.constant(value, loc, self.names.fresh(found.name))
        self.constants[const.name] = const
        self.constant_names[key] = const
        return const

    def attribute(self, node: ast.Attribute, scope: Scope, hint: str | None) -> Atom:
        loc = scope.src.loc(node)
        module = self.module_ref(node.value, scope)
        if module is not None:
            found = resolve.module_attribute(module, node.attr)
            if isinstance(found, resolve.Constant):
                return self.constant(found.value, loc, found.name)
            raise UnsupportedSyntaxError(
                f"'{dotted(node)}' is not a value symgrad can use here", loc
            )
        found = self.member(node, scope)
        if isinstance(found, resolve.Constant):  # `L.SCALE`: named as L names it
            return self.named_constant(resolve.Constant(found.value, node.attr), loc)
        if found is not NOT_A_MODULE:
            raise UnsupportedSyntaxError(
                f"'{dotted(node)}' is a module or function, not a value", loc
            )
        op = library.ATTRIBUTES.get(node.attr)
        if op is None and hasattr(np.ndarray, node.attr):
            raise NoDerivativeError(
                f"attribute '.{node.attr}' is not supported",
                loc,
                _attribute_hint(node, scope),
            )
        if op is None:  # (no array's: an object's, a model's parameters)
            raise UnsupportedSyntaxError(
                f"attribute '.{node.attr}' is not an array's: symgrad reads "
                "numbers and arrays, not other objects",
                loc,
                _attribute_hint(node, scope)
                or f"pass {dotted(node)} to the function as an argument",
            )
        return self.emit(op, (self.atom(node.value, scope),), loc, hint=hint)

    def subscript(
        self, node: ast.Subscript, scope: Scope, hint: str | None, base=None
    ) -> Atom:
        """`node`, of `base` if the caller has lowered its subject."""
        held = None if base is not None else self.held_tuple(node.value, scope)
        if (
            held is None
            and base is None
            and isinstance(node.value, ast.Call | ast.Subscript)
        ):
            called = self.value(node.value, scope)  # (`helper(x)[0]`, `[0][1]`)
            if isinstance(called, TupleValue):
                held = called
            else:
                base = called
        if held is not None:  # `r[0]` of `r = helper(x)`: its entry
            k = _literal_int(node.slice)
            if k is None and isinstance(node.slice, ast.Name):  # (`t[K]`: a name
                index = self.atom(node.slice, scope)  # emits nothing to lower again)
                if isinstance(index, Const) and type(index.value) is int:
                    k = index.value
            if k is not None and -len(held.items) <= k < len(held.items):
                item = held.items[k]
                if isinstance(item, TupleValue):
                    return self.pack(item, scope.src.loc(node), hint)
                return item
            if k is not None:
                raise UnsupportedSyntaxError(
                    f"tuple index {k!r} is not an index into a tuple of "
                    f"{len(held.items)}",
                    scope.src.loc(node.slice),
                )
            if isinstance(node.value, ast.Call | ast.Subscript):  # (`helper(x)[i]`)
                base = self.pack(held, scope.src.loc(node.value), None)
        if base is None:
            base = self.atom(node.value, scope)

        index = self.index(node.slice, scope)
        items = index.items
        if (
            isinstance(base, Const)
            and isinstance(base.value, tuple)
            and len(items) == 1
        ):
            if isinstance(index.items[0], Const):
                entry = Const(base.value[index.items[0].value])
                if isinstance(entry.value, ListConst):
                    self.held_constants.add(entry)
                return entry
        return self.emit("getitem", (base, index), scope.src.loc(node), hint=hint)

    def held_tuple(self, node: ast.expr, scope: Scope) -> TupleValue | None:
        """The tuple of values `node` names, or reads at a constant index of
        one (`t[1]` of `t = ((a, b), c)`), with no code emitted; else None."""
        if isinstance(node, ast.Name):
            found = scope.env.get(node.id)
            return found if isinstance(found, TupleValue) else None
        if isinstance(node, ast.Subscript):
            outer = self.held_tuple(node.value, scope)
            k = _literal_int(node.slice)
            if outer is not None and k is not None and -len(outer.items) <= k:
                item = outer.items[k] if k < len(outer.items) else None
                return item if isinstance(item, TupleValue) else None
        return None

    def index(self, node: ast.expr, scope: Scope, checked: bool = True) -> Index:
        """The index `node` of a subscript (`x[node]`); `checked` off for
        emitted code's `np.s_[...]`, whose nonzero calls are already read."""
        items = node.elts if isinstance(node, ast.Tuple) else [node]
        lone = checked and len(items) == 1
        return Index(
            tuple(self.index_item(i, scope, lone) for i in items),
            isinstance(node, ast.Tuple) and len(items) == 1,
        )

    def index_item(
        self, node: ast.expr, scope: Scope, lone: bool = False
    ) -> Atom | Slice:
        """One item of an index; `lone` when it is the whole index."""
        of = self.nonzero_of(node, scope)
        if of is not None:
            if not lone:
                raise nonzero_outside_an_index(scope.src.loc(node))
            # numpy defines x[m] of a boolean m as x[m.nonzero()]
            loc = scope.src.loc(node)
            return self.emit("ne", (self.atom(of, scope), Const(0)), loc)
        if isinstance(node, ast.Slice):
            parts = (node.lower, node.upper, node.step)
            return Slice(*(None if p is None else self.atom(p, scope) for p in parts))
        if self.builtin_call(node, scope) == "slice" and not node.keywords:
            parts = [self.atom(a, scope) for a in node.args]
            if len(parts) == 1:
                parts.insert(0, Const(None))
            if not 2 <= len(parts) <= 3:
                raise UnsupportedSyntaxError(
                    "slice() takes 1 to 3 arguments", scope.src.loc(node)
                )
            return Slice(*(None if p == Const(None) else p for p in parts))
        item = self.atom(node, scope)
        if isinstance(item, Const) and isinstance(item.value, str):
            raise UnsupportedSyntaxError(
                f"an index {item.value!r}: symgrad reads arrays, lists and tuples, "
                "not dictionaries",
                scope.src.loc(node),
                "pass the arrays as separate arguments: def loss(W, b, X, y)",
            )
        return item

    def nonzero_of(self, node: ast.expr, scope: Scope) -> ast.expr | None:
        """`m` of `np.nonzero(m)`, `m.nonzero()` or `np.where(m)` (which is
        np.nonzero(m)), else None."""
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("nonzero", "where")
            and not node.keywords
        ):
            return None
        module = self.module_ref(node.func.value, scope)
        if module is None:
            method = node.func.attr == "nonzero" and not node.args
            return node.func.value if method else None
        if getattr(module, "lib", None) == "numpy" and len(node.args) == 1:
            return node.args[0]
        return None

    def static(self, node: ast.expr, scope: Scope, what: str) -> object:
        """A compile-time constant (an axis, a tuple index), or an error."""
        atom = self.atom(node, scope)
        if not isinstance(atom, Const):
            raise UnsupportedSyntaxError(
                f"{what} must be a constant known when the function is compiled",
                scope.src.loc(node),
            )
        return atom.value

    def emit(
        self,
        op: str,
        args: tuple,
        loc: Loc,
        params: tuple[tuple[str, object], ...] = (),
        hint: str | None = None,
    ) -> Var:
        if op not in _LIST_OPS:
            args = tuple(self.as_array(a, loc) for a in args)
        if op in OPS and OPS[op].kind == "elementwise":  # (compared: a mode)
            for a in args:
                if isinstance(a, Const) and isinstance(a.value, str):
                    raise UnsupportedSyntaxError(
                        f"constant {a.value!r} is not a number",
                        loc,
                        "a string may be compared (==, !=, in), not computed with",
                    )
        target = Var(self.names.fresh(hint))
        self.body.append(Assign(target, op, args, tuple(sorted(params)), loc))
        self.ops[target.name] = op
        if op in ("list_new", "make_list", "list_append", "list_concat") or (
            op == "getitem"
            and self.kinds.get(name_of(args[0])) == "list"
            and any(isinstance(i, Slice) for i in args[1].items)
            or op == "setitem"
            and self.kinds.get(name_of(args[0])) == "list"
        ):
            self.kinds[target.name] = "list"
        if op == "getitem" and not self.is_list(args[0]) and self.copying(args[1]):
            self.copies.add(target.name)  # (numpy's advanced indexing)
        elif op == "getitem" and self.a_vector_entry(args):
            self.copies.add(target.name)  # (a number or numpy's advanced indexing)
        elif op == "getitem" and self.is_list(args[0]) and self.is_list(target):
            # a slice of a list is a new list, holding the list's entries
            self.copies.add(target.name)
            self.holds[target.name] = tuple(
                held
                for name in self.roots(args[0], held=False)
                for held in self.holds.get(name, ())
            )
        elif (
            op in VIEWS
            and args
            and (isinstance(args[0], Var) or named_constant(args[0]))
            and not self.an_entry(op, args, loc)
            and not (op in READ_ONLY_VIEWS and self.ranks.get(name_of(args[0])) == 1)
        ):  # (np.diag of a vector is a new matrix)
            self.sources[target.name] = (args[0],)  # (a constant: see `overlaps`)
            if op == "getitem":
                self.indexed[target.name] = (args[0], args[1])
        elif dict(params).get("fn") in ("max", "min"):
            # Python's max and min return one of their arguments itself
            self.sources[target.name] = tuple(a for a in args if isinstance(a, Var))
        self.note_integral(target, op, args)
        self.note_rank(target, op, args)
        self.note_axes(target, op, args)
        if op == "getitem" and self.is_list(args[0]) and target.name not in self.kinds:
            # an entry of a list is one of the objects it holds, not a view
            # of the list: appending to or popping the list leaves it alone
            self.sources[target.name] = tuple(
                held
                for name in self.roots(args[0], held=False)
                for held in self.holds.get(name, ())
            )
        if op == "make_list":
            self.made_items[target.name] = args
        if op == "list_new":
            self.made_items[target.name] = ()
        if op == "list_append" and name_of(args[0]) in self.made_items:
            # (appended to outside loops: its entries are known, as written out;
            # a loop's list is its header's, whose entries are not)
            self.made_items[target.name] = self.made_items[args[0].name] + args[1:]
        if op in ("make_list", "tuple", "list_concat"):
            self.holds[target.name] = args
        if op == "list_append":
            self.sources[target.name], self.holds[target.name] = args[:1], args[1:]
        if op == "list_pop":
            self.kinds[target.name] = "list"
            self.sources[target.name] = args[:1]
        return target

    def copying(self, index: Index) -> bool:
        """Does an index certainly select a copy (numpy's advanced indexing):
        an item that is a mask, an array or list of indices, or a bool?  (An
        int may be a view of a row: basic indexing.)  A tuple that is the
        whole index is numpy's multi-index: its entries are the items."""
        items = index.items
        if len(items) == 1 and type(getattr(items[0], "value", None)) is tuple:
            items = tuple(Const(v) for v in items[0].value)  # (not a ListConst)
        for item in items:
            if isinstance(item, Const) and (
                isinstance(item.value, list | tuple | bool | np.bool_)
                or (isinstance(item.value, np.ndarray) and item.value.ndim > 0)
            ):
                return True
            if isinstance(item, Var) and (
                self.ops.get(item.name) in _INDEX_ARRAYS
                or self.kinds.get(item.name) == "list"
                or item.name in self.axis_arrays
            ):
                return True
        return False

    def note_axes(self, target: Var, op: str, args: tuple) -> None:
        """Remember that `target` is an array of at least one axis
        (`axis_arrays`): np.argsort, np.flatnonzero, np.arange and np.ravel
        always make one, elementwise arithmetic with one and a reshape to a
        shape of one or more axes keep one."""
        if (
            op in _AXIS_OPS
            or (op in _ARITHMETIC and any(name_of(a) in self.axis_arrays for a in args))
            or (
                op == "copy" and isinstance(args[0], Const) and _has_axes(args[0].value)
            )
        ):  # (`np.array([4, 1, 2])`)
            self.axis_arrays.add(target.name)
        elif op == "reshape" and name_of(args[0]) in self.axis_arrays:
            shape = args[1]
            axes = 0
            if isinstance(shape, Const):  # (an int, or a tuple or array of them)
                axes = 1 if np.ndim(shape.value) == 0 else np.size(shape.value)
            elif self.ops.get(shape.name) == "tuple":  # (written out: `(m, 1)`)
                axes = len(self.holds.get(shape.name, ()))
            if axes:
                self.axis_arrays.add(target.name)

    def a_vector_entry(self, args: tuple) -> bool:
        """Is `args[0][args[1]]` an entry (a number) or entries (numpy's
        advanced indexing) of a flattened array (np.ravel's), by the indices
        np.take reads: a copy either way?"""
        items = args[1].items
        return (
            self.ops.get(name_of(args[0])) == "ravel"
            and len(items) == 1
            and not args[1].wrapped
            and isinstance(items[0], Var)
            and self.ops.get(items[0].name) == "take_indices"
        )

    def as_array(self, atom, loc: Loc):
        """A list passed where an array is expected becomes np.array(list)
        (so does a name that is a list on one path, an array on another)."""
        if isinstance(atom, Var) and self.kinds.get(atom.name) in ("list", "mixed"):
            return self.emit("list_array", (atom,), loc)
        return atom


def identity(src: FunctionSource) -> tuple:
    """A function as recursion is told by: where it is defined, and the
    cells of its closure (one decorator applied twice inlines its wrapper
    twice, each around its own function: no recursion)."""
    cells = getattr(src.resolver, "cells", {})
    return (src.file, src.tree.lineno, src.name, tuple(map(id, cells.values())))


def _literal_int(node: ast.expr) -> int | None:
    """The int a literal index is (`0`, `-1`), or None."""
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return value if type(value) is int else None


def lower(
    src: FunctionSource, has_aux: bool = False, wrt: tuple[str, ...] = ()
) -> tuple[Function, dict[str, Const], Names]:
    """Lower a function to primal IR, with the named constants it uses and the
    name allocator (later passes draw fresh names from it).  With `has_aux`
    the function returns `(loss, aux)`; `aux` rides along undifferentiated.
    Operations a derivative with respect to `wrt` flows through are checked
    not to join lists (`_checked_joins`)."""
    unranked: set[str] = set()
    first: SymgradError | None = None  # (why a loop header's rank was dropped)
    while True:  # (once more for each loop header found to change its rank)
        lowerer = Lowerer(src, _all_names(src.tree), frozenset(unranked))
        try:
            lowered = lowerer.lower(has_aux)
        except RankChanged as exc:
            if exc.header in unranked:
                raise exc.error from None
            unranked.add(exc.header)
            first = first or exc.error
            continue
        except SymgradError:
            if first is not None:  # (its entries read as views, the code is
                raise first from None  # refused: the first reason says why)
            raise
        fn = _checked_joins(lowered, lowerer.names, wrt, src)
        return fn, lowerer.constants, lowerer.names


def _checked_joins(
    fn: Function, names: Names, wrt: tuple[str, ...], top: FunctionSource
) -> Function:
    """`fn` with a run-time check before each `+` of two values that may both
    be lists or tuples (a parameter, an entry of one) and each `*` of one and
    a value that may be an int, where a derivative flows: Python joins
    (repeats) them there, and symgrad would differentiate numpy's elementwise
    operation.  A name an earlier top-level operation has shown is no list
    (`x * x`, `x + 1.0` raise for one) is not checked again.  In a loop, the
    check runs only where an argument is a list or tuple (`_any_sequence`,
    once a call): a step pays a test of a name, not a call."""
    if not wrt:
        return fn
    lists, floats = maybe_lists(fn), float_values(fn)
    active = activity(fn, wrt, checked=False)
    given: list[Var] = []  # (the name telling whether an argument is a sequence)

    def may_list(atom: Atom) -> bool:
        if isinstance(atom, Const):
            return isinstance(atom.value, ListConst)
        return atom.name in lists

    def may_int(atom: Atom) -> bool:  # (np.sum(x > 0), argmax: numpy's ints)
        if isinstance(atom, Const):
            return isinstance(atom.value, int | np.integer | np.bool_)
        return atom.name not in floats

    def joins(stmt: Assign, shown: set[str]) -> bool:
        if stmt.op not in ("add", "mul") or len(stmt.args) != 2:
            return False
        if stmt.target.name not in active:
            return False  # (`len(g[:2] * 2)`: Python's value, no derivative)
        a, b = stmt.args

        def open_(atom: Atom) -> bool:
            return may_list(atom) and name_of(atom) not in shown

        if stmt.op == "add":
            return open_(a) and open_(b)
        # (a constant list repeated carries no derivative; `x * x` raises for
        # a list x, which cannot be an int as well)
        return a != b and any(
            isinstance(this, Var) and open_(this) and may_int(count)
            for this, count in ((a, b), (b, a))
        )

    def block(body, shown: set[str], in_loop: bool) -> tuple[Stmt, ...]:
        out: list[Stmt] = []
        for stmt in body:
            if isinstance(stmt, Assign) and joins(stmt, shown):
                symbol = Const("+" if stmt.op == "add" else "*")
                check = Assign(
                    Var(names.fresh()),
                    "not_joined",
                    (*stmt.args, symbol),
                    check_line(stmt.loc, top),
                    stmt.loc,
                )
                if in_loop:
                    given[:] = given or [Var(names.fresh("lists"))]
                    check = Branch(given[0], (check,), (), (), stmt.loc)
                out.append(check)
            elif isinstance(stmt, Assign) and stmt.target.name in active:
                shown |= _no_lists(stmt)  # (a line no derivative needs may be dropped)
            if isinstance(stmt, Branch):
                stmt = replace(
                    stmt,
                    body=block(stmt.body, set(shown), in_loop),
                    orelse=block(stmt.orelse, set(shown), in_loop),
                )
            elif isinstance(stmt, Loop):
                stmt = replace(
                    stmt,
                    test=block(stmt.test, set(shown), True),
                    body=block(stmt.body, set(shown), True),
                )
            out.append(stmt)
        return tuple(out)

    body = block(fn.body, set(), False)
    if given:
        params = tuple(Var(p) for p in fn.params)
        body = (Assign(given[0], "any_sequence", params, (), fn.loc),) + body
    return replace(fn, body=body)


def _no_lists(stmt: Assign) -> set[str]:
    """The operands `stmt` shows are no list or tuple, since Python raises
    for one there: of `-x`, `x * x`, and an operation with a number."""
    if stmt.op in ("neg", "pos"):
        return {v.name for v in stmt.args if isinstance(v, Var)}
    if len(stmt.args) != 2 or stmt.op not in _RAISE_ON_LISTS:
        return set()
    a, b = stmt.args
    if stmt.op == "mul" and a == b and isinstance(a, Var):
        return {a.name}
    for this, other in ((a, b), (b, a)):
        number = isinstance(other, Const) and type(other.value) in (int, float)
        if (
            number
            and isinstance(this, Var)
            and not (stmt.op == "mul" and type(other.value) is int)
        ):
            return {this.name}
    return set()


# Python's operators that raise for a list or tuple and a number (but `*`
# by an int repeats one)
_RAISE_ON_LISTS = {"add", "sub", "mul", "truediv", "pow", "floordiv", "mod"}


def _all_names(tree: ast.AST) -> set[str]:
    return {n.id for n in nodes(tree) if isinstance(n, ast.Name)}


_LIST_OPS = {"getitem", "len", "stack", "list_append", "make_list", "setitem"}
_LIST_OPS |= {"list_array", "array_cast"}
_LIST_OPS |= {"concatenate", "list_new", "list_concat", "list_pop", "unpacked"}
_LIST_OPS |= {"tuple"}  # a list in a tuple stays one (emitted code saves lists)
_LIST_OPS |= {"same_shapes"}  # (np.concatenate's check of a list made at run time)
_LIST_OPS |= {"take_indices"}  # (np.take's indices: a list as numpy reads one)
# (the checks that + and * are not on lists, `_checked_joins`)
_LIST_OPS |= {"not_joined", "any_sequence"}
_LIST_OPS |= {"rule_cotangents"}  # (a vjp's list of cotangents, read back)
_LIST_OPS |= {"shape", "size", "ndim", "zeros_grad", "zeros_tangent"}  # as numpy
_LIST_OPS |= {"zeros_buffer", "list_index", "bound"}
_LIST_OPS |= {"matmul_lhs_grad_sum", "matmul_rhs_grad_sum"}  # (of emitted code)


# Ops whose results, used as an index, are masks or arrays of indices.
_INDEX_ARRAYS = {"lt", "le", "gt", "ge", "eq", "ne", "isnan", "isfinite", "isinf"}
_INDEX_ARRAYS |= {"logical_and", "logical_or", "logical_not", "argsort", "flatnonzero"}
# Ops that make an array of at least one axis; arithmetic that keeps one.
_AXIS_OPS = {"argsort", "flatnonzero", "arange", "ravel"}
_ARITHMETIC = INTEGRAL_OPS | {"neg"}


def _complex(value: object) -> bool:
    """Is `value` a complex number, a complex array, or a tuple holding one?"""
    if isinstance(value, complex | np.complexfloating):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "c"
    return isinstance(value, tuple) and any(_complex(v) for v in value)


def _attribute_hint(node: ast.Attribute, scope: Scope) -> str | None:
    """A hint for `self.w` (a method's receiver) and for `helpers.SCALE`."""
    root = node.value
    if isinstance(root, ast.Name) and root.id in _OBJECTS:
        return f"pass {dotted(node)} to the function as an argument"
    return foreign_module_hint(node, scope)


_NOTHING = object()


def foreign_module_hint(node: ast.Attribute, scope: Scope) -> str | None:
    """A hint for `helpers.SCALE` or `helpers.f(x)`: an attribute of a global
    name symgrad cannot read (an object, a module the command line finds no
    file of, a name not defined)."""
    root = node.value
    if not isinstance(root, ast.Name):
        return None
    outer: Scope | None = scope
    while outer is not None:
        if root.id in outer.env or root.id in local_names(outer.src.tree):
            return None
        outer = outer.parent
    resolver = scope.src.resolver
    if resolver is not None and resolver.resolve(root.id):
        return None
    module = resolver.module_name(root.id) if resolver else None
    bound = {**getattr(resolver, "globals", {}), **getattr(resolver, "closure", {})}
    value = bound.get(root.id, _NOTHING)
    if module is None and value is not _NOTHING:  # an object: `rng.random(...)`
        return (
            f"'{root.id}' is a {type(value).__name__} object, which symgrad does "
            "not read; pass what the function needs from it as an argument (draw "
            "random numbers outside the function)"
        )
    if module is not None and module.split(".")[-1] == "random":
        return RANDOM_HINT
    if not isinstance(resolver, resolve.StaticResolver):
        return f"'{root.id}' is not defined (Python would raise NameError)"
    module = module or root.id
    return (
        f"the command line reads module '{module}' from "
        f"{module.replace('.', '/')}.py beside the file, and there is none; pass "
        "the value as an argument, or use the decorator in the running program"
    )


def _is_pop(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "pop"
        and isinstance(node.func.value, ast.Name)
    )


def _is_append(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "append"
    )


def local_names(tree: ast.FunctionDef) -> frozenset[str]:
    """Names a function binds anywhere (so they are local everywhere in it)."""
    args = tree.args
    found = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    found |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    stack = list(tree.body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ast.FunctionDef):
            found.add(stmt.name)
            continue
        targets = []
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AugAssign | ast.AnnAssign | ast.For):
            targets = [stmt.target]
        for target in targets:
            found.update(
                n.id
                for n in ast.walk(target)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            )
        for part in ("body", "orelse"):
            stack += getattr(stmt, part, [])
    return frozenset(found)


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _folded(op: ast.cmpop, left: Atom, right: Atom) -> Const | None:
    """`left op right` decided now, for literal numbers, strings, None and
    tuples of them; None where it is left to run time (a TypeError there)."""
    if type(op) not in _FOLDS or not (_literal(left) and _literal(right)):
        return None
    try:
        return Const(bool(_FOLDS[type(op)](left.value, right.value)))
    except TypeError:
        return None


def _literal(atom: Atom) -> bool:
    if not isinstance(atom, Const):
        return False
    if type(atom.value) is tuple:
        return all(type(v) in _LITERALS for v in atom.value)
    return type(atom.value) in _LITERALS
