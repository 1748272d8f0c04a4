"""The fence: reject syntax symgrad cannot differentiate, before anything else.

`check(source)` walks a function's AST and raises `UnsupportedSyntaxError`
naming `file:line:col` of the first construct outside the supported subset.
It runs when a function is decorated, so mistakes surface at import time, not
in the middle of a training run.  Name resolution happens later, in the
frontend, because module-level names may be defined after the decorator runs.
"""

from __future__ import annotations

import ast
import re
from types import SimpleNamespace
from typing import Any

from .errors import UnsupportedSyntaxError
from .names import RESERVED
from .source import FunctionSource, nodes

_STATEMENTS = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Pass, ast.Expr)
_COMPOUND = (ast.If, ast.For, ast.While)
_EXPRESSIONS = (
    ast.BinOp,
    ast.UnaryOp,
    ast.Call,
    ast.Attribute,
    ast.Subscript,
    ast.Name,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Slice,
    ast.Compare,
    ast.IfExp,
    ast.BoolOp,
    ast.ListComp,
    ast.Lambda,
)
_OTHER = (
    ast.keyword,
    ast.expr_context,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
    ast.comprehension,
    ast.arguments,
    ast.arg,
)
_BINOPS = {ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.MatMult, ast.FloorDiv}
_BINOPS |= {ast.Mod, ast.BitAnd, ast.BitOr, ast.BitXor}
# The node classes an expression may hold (the abstract ones by subclass).
_ALLOWED = frozenset(
    kind for base in _EXPRESSIONS + _OTHER for kind in (base, *base.__subclasses__())
)

_NAMES = {
    ast.Try: "'try' statements are",
    ast.With: "'with' statements are",
    ast.Raise: "'raise' statements are",
    ast.Assert: "'assert' statements are",
    ast.Global: "'global' declarations are",
    ast.Nonlocal: "'nonlocal' declarations are",
    ast.Import: "'import' inside a differentiated function is",
    ast.ImportFrom: "'import' inside a differentiated function is",
    ast.Delete: "'del' statements are",
    ast.ClassDef: "class definitions are",
    ast.AsyncFunctionDef: "'async def' is",
    ast.SetComp: "set comprehensions are",
    ast.DictComp: "dict comprehensions are",
    ast.GeneratorExp: "generator expressions are",
    ast.Yield: "'yield' is",
    ast.YieldFrom: "'yield from' is",
    ast.Await: "'await' is",
    ast.Set: "set literals are",
    ast.Dict: "dict literals are",
    ast.JoinedStr: "f-strings are",
    ast.Starred: "starred expressions are",
    ast.NamedExpr: "assignment expressions (:=) are",
}
_HINTS = {
    ast.Try: "move the try/except outside the differentiated function",
    ast.With: "move the with block outside the differentiated function",
    ast.Import: "import at module level; symgrad resolves module-level names",
    ast.ImportFrom: "import at module level; symgrad resolves module-level names",
    ast.Global: "pass the value as an argument instead",
    ast.Raise: "check the inputs before calling the function (or in a wrapper "
    "around it): the differentiated function itself only computes",
    ast.Assert: "check the inputs before calling the function (or in a wrapper "
    "around it): the differentiated function itself only computes",
    ast.Dict: "use a tuple (an aux of several values: has_aux=True returns it "
    "as it is), or pass the values as separate arguments",
}


def check(src: FunctionSource) -> None:
    """Raise UnsupportedSyntaxError at the first unsupported construct.
    Parameter defaults are literals or name a module's constants (`eps=EPS`,
    `c=np.pi`)."""
    _check_signature(src)
    for stmt in src.tree.body:
        _check_stmt(src, stmt)


def unread(src: FunctionSource, wrt: tuple[str, ...]) -> list[str]:
    """The parameters of `wrt` the function never reads (nested functions and
    lambdas included): their derivatives are 0, likely by mistake, as when a
    helper reads a module-level name of theirs instead."""
    read = set()
    for node in nodes(src.tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            read.add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            read.add(node.target.id)  # (`w += 1.0` reads w)
    return [name for name in wrt if name not in read]


def _check_signature(src: FunctionSource) -> None:
    args = src.tree.args
    for arg in args.args + args.kwonlyargs:
        if arg.arg in RESERVED:
            raise UnsupportedSyntaxError(
                f"a parameter named '{arg.arg}' would clash with a name the generated "
                "module uses",
                src.loc(arg),
                "rename the parameter",
            )
    if args.vararg or args.kwarg or args.posonlyargs:
        node = args.vararg or args.kwarg or args.posonlyargs[0]
        raise UnsupportedSyntaxError(
            "*args, **kwargs and positional-only parameters are not supported",
            src.loc(node),
            "give the function plain parameters (keyword-only ones after `*` too)",
        )
    for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
        if _dotted(default):
            continue
        try:
            ast.literal_eval(default)
        except ValueError:
            raise UnsupportedSyntaxError(
                "parameter defaults must be literal constants, or names of a "
                "module's constants",
                src.loc(default),
            ) from None


def _dotted(node: ast.expr) -> bool:
    """A name, or a chain of attributes of one (`EPS`, `np.pi`)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _check_stmt(src: FunctionSource, stmt: ast.stmt) -> None:
    if isinstance(stmt, ast.Break | ast.Continue):
        return
    if isinstance(stmt, ast.FunctionDef):
        _check_signature(FunctionSource(stmt.name, stmt, src.file, src.lines))
        for inner in stmt.body:
            _check_stmt(src, inner)
        return
    if isinstance(stmt, _COMPOUND):
        _check_compound(src, stmt)
        return
    if not isinstance(stmt, _STATEMENTS):
        _reject(src, stmt)
    targets = stmt.targets if isinstance(stmt, ast.Assign) else []
    if isinstance(stmt, ast.AugAssign | ast.AnnAssign):
        targets = [stmt.target]
    for target in targets:
        _check_target(src, target)
    if (
        isinstance(stmt, ast.AugAssign)
        and isinstance(stmt.target, ast.Subscript)
        and isinstance(stmt.op, ast.MatMult)
    ):
        raise UnsupportedSyntaxError(
            "'@=' on an element or slice is not supported",
            src.loc(stmt),
            "write 'y[i] = y[i] @ ...' instead",
        )
    if isinstance(stmt, ast.AnnAssign):  # (Python never evaluates the annotation)
        if stmt.value is not None:
            _check_expr(src, stmt.value)
    else:
        _check_expr(src, stmt)
    if (
        isinstance(stmt, ast.Expr)
        and not (
            isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)
        )
        and not _is_append(stmt.value)
    ):
        call = stmt.value
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "print":
            raise UnsupportedSyntaxError(
                "print() is not supported in a differentiated function",
                src.loc(stmt),
                "print the value f_and_grad returns, or return what you want to "
                "see with it, has_aux=True (return loss, aux)",
            )
        out = [k for k in getattr(call, "keywords", ()) if k.arg == "out"]
        if out:  # `np.exp(x, out=y)`
            target = out[0].value
            if isinstance(target, ast.Tuple) and len(target.elts) == 1:
                target = target.elts[0]  # (`out=(y,)`, as ufuncs take it)
            raise UnsupportedSyntaxError(
                "out= is not supported: symgrad differentiates the value a call "
                "returns",
                src.loc(out[0].value),
                f"assign the result instead: {ast.unparse(target)} = "
                + ast.unparse(
                    ast.Call(
                        call.func, call.args, [k for k in call.keywords if k not in out]
                    )
                ),
            )
        method = getattr(getattr(call, "func", None), "attr", None)
        if isinstance(call, ast.Call) and method in _LIST_METHODS:
            items = ast.unparse(call.func.value)
            raise UnsupportedSyntaxError(
                f"'{items}.{method}(...)' changes '{items}' in place, which symgrad "
                "follows only for a list's append and pop",
                src.loc(stmt),
                "build a new value instead, for example "
                + _LIST_METHODS[method].format(items),
            )
        if isinstance(call, ast.Call):  # (made for what it changes?)
            raise UnsupportedSyntaxError(
                "the result of this call is not used, and symgrad does not follow "
                "what a call changes in place (a helper appending to a list)",
                src.loc(stmt),
                "return the new value from the function and assign it, or remove "
                "the line",
            )
        raise UnsupportedSyntaxError(
            "an expression statement has no effect on the result here",
            src.loc(stmt),
            "symgrad differentiates pure code: assign the value or remove the line",
        )


# A list's methods that change it in place, with a way to write each anew.
_LIST_METHODS = {
    "extend": "{0} = {0} + more",
    "insert": "{0} = {0}[:i] + [value] + {0}[i:]",
    "remove": "a comprehension with an if",
    "reverse": "{0} = {0}[::-1]",
    "sort": "{0} = np.sort({0})",
    "clear": "{0} = []",
}


def _check_compound(src: FunctionSource, stmt: ast.If | ast.For | ast.While) -> None:
    if isinstance(stmt, ast.For | ast.While) and stmt.orelse:
        raise UnsupportedSyntaxError(
            f"'else' on a '{'for' if isinstance(stmt, ast.For) else 'while'}' loop "
            "is not supported",
            src.loc(_else_keyword(src, stmt)),
            "use a flag variable set before 'break' instead",
        )
    if isinstance(stmt, ast.For):
        _check_target(src, stmt.target)
        _check_expr(src, stmt.iter)
    else:
        _check_expr(src, stmt.test)
    for inner in stmt.body + stmt.orelse:
        _check_stmt(src, inner)


def _check_expr(src: FunctionSource, root: ast.AST) -> None:
    found = nodes(root)  # (one walk: this is a fifth of a cached function's load)
    for node in found:
        kind = node.__class__
        if kind is ast.Lambda:
            _check_signature(FunctionSource("<lambda>", node, src.file, src.lines))
        elif kind in (ast.BinOp, ast.AugAssign) and node.op.__class__ not in _BINOPS:
            _reject(src, node, node.op)
        if kind not in _ALLOWED and node is not root and id(node) not in _totals(found):
            _reject(src, node)


def _totals(found: list[ast.AST]) -> set[int]:
    """The ids of the generators `sum` reads among `found` (`sum(x[i] ** 2 for
    i in ...)`: read as a list)."""
    return {
        id(node.args[0])
        for node in found
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "sum"
        and node.args
        and isinstance(node.args[0], ast.GeneratorExp)
    }


def _is_append(node: ast.expr) -> bool:
    """`name.append(...)`, `name.pop()` or `np.add.at(...)`: calls that update
    in place."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    func = node.func
    if func.attr in ("append", "pop"):
        return isinstance(func.value, ast.Name)
    return func.attr == "at" and getattr(func.value, "attr", None) == "add"


def _check_target(src: FunctionSource, target: ast.expr) -> None:
    if isinstance(target, ast.Name):
        return
    if isinstance(target, ast.Tuple | ast.List):
        for elt in target.elts:
            _check_target(src, elt)
        return
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        return
    if (
        isinstance(target, ast.Subscript)
        and isinstance(target.value, ast.Subscript)
        and isinstance(target.value.value, ast.Name)
    ):
        _one_subscript(target)
        return
    what = {
        ast.Subscript: "assignment into something other than a named array",
        ast.Attribute: "assignment to an attribute",
        ast.Starred: "starred assignment",
    }.get(type(target), "this assignment target")
    raise UnsupportedSyntaxError(
        f"{what} is not supported yet",
        src.loc(target),
        "build a new array instead (for example with np.where or arithmetic)",
    )


def _one_subscript(target: ast.Subscript) -> None:
    """`B[i][j] = v` written `B[i, j] = v` in place, marked `row_entry`: where
    `i` is an int and B an array, B[i] is a view of row i and the two are one
    write (`updates.write` checks that; `B[1:][j]` is `B[1 + j]`)."""
    outer = target.value
    entry = target.slice.elts if isinstance(target.slice, ast.Tuple) else [target.slice]
    target.slice = ast.copy_location(
        ast.Tuple([outer.slice, *entry], ast.Load()), target
    )
    target.value = outer.value
    target.row_entry = True


def _reject(src: FunctionSource, node: ast.AST, kind: ast.AST | None = None) -> None:
    key = type(kind if kind is not None else node)
    what = _NAMES.get(key, f"'{key.__name__}' syntax is")
    if key in _SYMBOLS:  # (an operator: as it is written)
        what = f"the operator '{_SYMBOLS[key]}' is"
    raise UnsupportedSyntaxError(
        f"{what} not supported by symgrad",
        src.loc(node),
        _HINTS.get(key),
    )


_SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
}


def op_symbol(op: ast.operator) -> str:
    """How an operator is written: `ast.Mult()` -> "*"."""
    return _SYMBOLS[type(op)]


def _else_keyword(src: FunctionSource, loop: ast.For | ast.While) -> Any:
    """Where a loop's `else:` stands (the AST keeps no place for it): the last
    line from its first statement's back to the loop body's end that starts
    with `else`; that statement where none does."""
    first = loop.orelse[0]
    for line in range(first.lineno, (loop.body[-1].end_lineno or 0), -1):
        text = src.lines[line - 1] if 0 < line <= len(src.lines) else ""
        found = re.match(r"(\s*)else\s*:", text)
        if found:
            col = len(found.group(1)) - src.col_shift
            return SimpleNamespace(lineno=line, col_offset=col)
    return first
