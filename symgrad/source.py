"""Reading a function's source: its AST, its file, and locations inside it.

A `FunctionSource` is everything later stages need to know about where a
function came from: the `ast.FunctionDef` with line numbers of the real file,
the file's lines (to quote them in errors and comments), and the resolver that
gives meaning to the names the function uses.  It is built either from a live
function object (`from_function`, used by the decorator) or from a module's
AST without executing it (`from_module`, used by the CLI).

A live function's AST is parsed when first read: its text, parameters and
the names its code reads come from the file's lines and the code object, so
a program whose modules come from symgrad's cache parses nothing (the parse
was a quarter of loading a cached function).  The text, the cache key's, is
cut where the function's last instruction ends, so it holds every line the
code depends on; once parsed, it is the parsed function's text (longer only
where dead code after a return ends in a string or bracket at the margin).
"""

from __future__ import annotations

import ast
import functools
import inspect
import linecache
import textwrap
import types
from dataclasses import dataclass, field
from typing import Any

from .errors import BadInputError, Loc, UnsupportedSyntaxError

_VARARGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


@dataclass(frozen=True, eq=False)
class Cut:
    """A live function's lines, cut from its file without parsing them (a
    cache hit never needs its AST): from the first decorator to the last line
    its instructions span, and on over lines indented deeper than the `def`."""

    raw: tuple[str, ...]
    start: int  # the line number of raw[0] in the file
    function: Any = field(repr=False)  # the function object


@dataclass(frozen=True, eq=False)
class FunctionSource:
    name: str
    node: ast.FunctionDef | None  # None: `cut` is parsed when `tree` is read
    file: str
    lines: tuple[str, ...]
    col_shift: int = 0
    resolver: Any = field(default=None, repr=False)
    cut: Cut | None = field(default=None, repr=False)

    @functools.cached_property
    def tree(self) -> ast.FunctionDef:
        """The function's AST, with the line numbers of its file."""
        if self.node is not None:
            return self.node
        assert self.cut is not None  # (one or the other, from the constructors)
        return _parsed(self.cut, self.file, self.lines)

    def loc(self, node: ast.AST) -> Loc:
        line = getattr(node, "lineno", self.tree.lineno)
        col = getattr(node, "col_offset", 0)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if not text.isascii():  # (ast counts UTF-8 bytes, a column characters)
            before = text[self.col_shift :].encode()[:col]
            col = len(before.decode("utf-8", "ignore"))
        return Loc(self.file, line, col + self.col_shift, text.rstrip("\n"), self.name)

    @property
    def params(self) -> tuple[str, ...]:
        """Every parameter: the positional ones, then the keyword-only ones."""
        code = self._plain_code()
        if code is not None:
            return code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        args = self.tree.args
        return tuple(a.arg for a in args.args + args.kwonlyargs)

    @property
    def keyword_only(self) -> tuple[str, ...]:
        code = self._plain_code()
        if code is not None:
            end = code.co_argcount + code.co_kwonlyargcount
            return code.co_varnames[code.co_argcount : end]
        return tuple(a.arg for a in self.tree.args.kwonlyargs)

    def _plain_code(self) -> Any:
        """The code object of a live function not parsed yet whose parameters
        it tells as the AST would (no positional-only ones, no *args or
        **kwargs, which the AST lists apart); else None."""
        if self.node is not None or "tree" in self.__dict__:
            return None
        code = self.cut.function.__code__
        if code.co_posonlyargcount or code.co_flags & _VARARGS:
            return None
        return code

    @property
    def first_line(self) -> int:
        """The line of the `def` or of its first decorator (which, either way,
        tells functions of one file apart)."""
        return self.tree.lineno if self.cut is None else self.cut.start

    def defaults(self) -> dict[str, ast.expr]:
        """The default of each parameter that has one."""
        args = self.tree.args
        positional = args.args[len(args.args) - len(args.defaults) :]
        pairs = list(zip(positional, args.defaults, strict=True))
        pairs += zip(args.kwonlyargs, args.kw_defaults, strict=True)
        return {a.arg: d for a, d in pairs if d is not None}

    @property
    def text(self) -> str:
        """The function's source text, as it stands in the file."""
        if self.cut is not None and "tree" not in self.__dict__:
            # (the parsed function's text, unless the cut does not parse: a
            # string or bracket at the margin after the last instruction,
            # which only dead code after a return can hold)
            return "".join(self.cut.raw)
        end = self.tree.end_lineno or self.tree.lineno
        start = min([self.tree.lineno] + [d.lineno for d in self.tree.decorator_list])
        return "".join(self.lines[start - 1 : end])


def from_function(fn: Any, resolver: Any = None) -> FunctionSource:
    """Read a live function's source from its file; errors name the function.
    Its lines are cut by its code object's line numbers and parsed when
    `tree` is first read (the decorator reads it, unless a cache entry made
    from the same text shows that it parses).  Where the code object does not
    tell the last line (Python 3.10), the cut is parsed now, and read as
    inspect reads it if it is not the function."""
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        file = inspect.getsourcefile(fn) or inspect.getfile(fn)
        linecache.checkcache(file)  # (a file edited since it was read, as inspect)
        # (with the module's globals: its loader's source, a zip archive's)
        lines = tuple(linecache.getlines(file, getattr(fn, "__globals__", None)))
    except (OSError, TypeError):
        raise _unreadable(fn) from None
    found = _cut(fn, lines)
    if found is None:
        raw, start = _inspected(fn)
        lines = lines or ("\n",) * (start - 1) + tuple(raw)  # (at their lines)
        module = _parse(raw, start)
        tree = _function(name, file, lines, raw, start, module, _parameters(fn))
        return FunctionSource(tree.name, tree, file, lines, _shift(raw), resolver)
    raw, start, exact = found
    cut = Cut(tuple(raw), start, fn)
    if exact:
        code = fn.__code__
        return FunctionSource(
            code.co_name, None, file, lines, _shift(raw), resolver, cut
        )
    tree = _parsed(cut, file, lines)  # (its text is then the tree's)
    return FunctionSource(tree.name, tree, file, lines, _shift(raw), resolver)


def _unreadable(fn: Any) -> BadInputError:
    return BadInputError(
        f"cannot read the source of {getattr(fn, '__qualname__', repr(fn))}",
        hint="symgrad needs functions defined in a .py file, not at the prompt",
    )


def _shift(raw: list[str] | tuple[str, ...]) -> int:
    """The columns the function's lines are indented by in the file."""
    text = "".join(raw)
    return len(text.splitlines()[0]) - len(textwrap.dedent(text).splitlines()[0])


def _parsed(cut: Cut, file: str, lines: tuple[str, ...]) -> ast.FunctionDef:
    """The AST of the function `cut` holds; a cut that does not parse as that
    function (a string or bracket reaching back to the margin after the
    last instruction) is read again as inspect reads it."""
    fn, raw, start = cut.function, list(cut.raw), cut.start
    module = _parse(raw, start)
    body = module.body if module is not None else []
    if not (
        body
        and isinstance(body[0], ast.FunctionDef)
        and body[0].name == fn.__code__.co_name
    ):
        raw, start = _inspected(fn)
        module = _parse(raw, start)
    name = getattr(fn, "__qualname__", repr(fn))
    return _function(name, file, lines, raw, start, module, _parameters(fn))


def _parameters(fn: Any) -> tuple[str, ...]:
    """The names of `fn`'s positional parameters."""
    code = fn.__code__
    return code.co_varnames[: code.co_argcount]


def _inspected(fn: Any) -> tuple[list[str], int]:
    """The function's lines and first line number, as inspect finds them
    (not inspect.getsourcelines: it follows `__wrapped__`, and a decorator's
    wrapper made with functools.wraps would read as the function it wraps)."""
    try:
        lines, index = inspect.findsource(fn)
    except (OSError, TypeError):
        raise _unreadable(fn) from None
    return inspect.getblock(lines[index:]), index + 1


def _function(
    name: str,
    file: str,
    lines: tuple[str, ...],
    raw: list[str],
    start: int,
    module: ast.Module | None,
    params: tuple[str, ...],
) -> ast.FunctionDef:
    """The `def` that `module` (the parse of `raw`) holds, or the error
    (`params`: the function's parameters, which locate a lambda)."""
    if module is None:
        raise UnsupportedSyntaxError(
            f"cannot parse the source of {name}",
            Loc(file, start, 0, raw[0].rstrip("\n")),
            "symgrad differentiates functions written with 'def', not lambdas",
        )
    tree = module.body[0] if module.body else None
    if isinstance(tree, ast.AsyncFunctionDef):
        text = lines[tree.lineno - 1] if tree.lineno <= len(lines) else ""
        col = tree.col_offset + _shift(raw)
        raise UnsupportedSyntaxError(
            "'async def' functions cannot be differentiated",
            Loc(file, tree.lineno, col, text.rstrip("\n"), name),
        )
    if not isinstance(tree, ast.FunctionDef):
        where, hint = Loc(file, start, 0, raw[0].rstrip("\n")), None
        lambdas = [n for n in ast.walk(module) if isinstance(n, ast.Lambda)]
        if name.endswith("<lambda>") and lambdas:
            # (the one of the function's parameters: `lambda a: lambda x: ...`)
            at = next(
                (n for n in lambdas if tuple(a.arg for a in n.args.args) == params),
                lambdas[0],
            )
            text = lines[at.lineno - 1] if at.lineno <= len(lines) else ""
            where = Loc(file, at.lineno, at.col_offset + _shift(raw), text.rstrip())
            hint = "define it with def: def f(x): return ..."
        raise BadInputError(f"{name} is not a function defined with 'def'", where, hint)
    return tree


def _parse(raw: list[str], start: int) -> ast.Module | None:
    try:
        # blank lines in front give the nodes their line numbers in the file
        # (ast.increment_lineno would walk the whole tree)
        return ast.parse("\n" * (start - 1) + textwrap.dedent("".join(raw)))
    except SyntaxError:
        return None


def _cut(fn: Any, lines: tuple[str, ...]) -> tuple[list[str], int, bool] | None:
    """The function's lines and first line number, read without tokenizing
    (inspect's search costs 2 ms per 100 lines): from the first decorator to
    the last line its instructions span, then on over lines indented deeper
    than the `def` (a trailing `pass`), and whether that last line is exact.
    It is not where the code object keeps only where instructions start
    (Python 3.10, `-X no_debug_ranges`): the last line of a string or
    bracket is then missed, and the cut is checked by parsing it."""
    code = getattr(fn, "__code__", None)
    if code is None or not lines:
        return None
    start = code.co_firstlineno
    last = _last_line(code)
    exact = last is not None
    if last is None:
        last = max((line for _, _, line in code.co_lines() if line), default=start)
    if not 0 < start <= last <= len(lines):
        return None
    first = lines[start - 1]
    margin = len(first) - len(first.lstrip())
    end = last
    while end < len(lines):
        line = lines[end]
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            if len(line) - len(line.lstrip()) <= margin:
                break
        end += 1
    while end > last and lines[end - 1].strip()[:1] in ("", "#"):
        end -= 1  # (blank lines and comments after the body are not its own)
    return list(lines[start - 1 : end]), start, exact


def _last_line(code: types.CodeType) -> int | None:
    """The last line an instruction of `code`, or of a function, lambda or
    comprehension in it, spans; None where the code object does not tell."""
    if not hasattr(code, "co_positions"):  # (Python 3.10)
        return None
    last = 0
    codes = [code]
    while codes:
        inner = codes.pop()
        for line, end, _, _ in inner.co_positions():
            if end is None and line is not None:
                return None  # (-X no_debug_ranges)
            if end is not None and end > last:
                last = end
        codes += [c for c in inner.co_consts if isinstance(c, types.CodeType)]
    return last or None


def from_module(path: str, text: str) -> tuple[ast.Module, tuple[str, ...]]:
    """Parse a module's text (never executing it); errors name path:line."""
    lines = tuple(text.splitlines(keepends=True))
    try:
        return ast.parse(text, filename=path), lines
    except SyntaxError as exc:
        line = exc.lineno or 1
        quoted = lines[line - 1] if 0 < line <= len(lines) else ""
        raise UnsupportedSyntaxError(
            f"invalid Python syntax: {exc.msg}",
            Loc(path, line, (exc.offset or 1) - 1, quoted.rstrip("\n")),
        ) from None


def nodes(root: ast.AST) -> list[ast.AST]:
    """Every node under `root`, `root` first, in `ast.walk`'s breadth-first
    order, but without the shared `Load`/`Store` context nodes: a list built
    in one loop, about twice as fast as `ast.walk` (which the decorator and
    the cache key would otherwise spend a millisecond per 100 lines on)."""
    found = [root]
    for node in found:
        for name in node._fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        found.append(item)
            elif isinstance(value, ast.AST) and name != "ctx":
                found.append(value)
    return found


def not_wrapped(src: FunctionSource, options: dict) -> None:
    """The command line's check of a function it found: a decorator applied
    before symgrad's (`options["wrapped"]`) changes the function symgrad
    differentiates, and the command line does not run it: an error."""
    for kw, reason in options.pop("unread", ()):
        raise UnsupportedSyntaxError(
            reason
            or f"{kw.arg}= must be a literal or a module constant's name for the "
            "command line, which reads the file without running it",
            src.loc(kw.value),
            "decorate in the running program, or write the value in the decorator",
        )
    inner = options.pop("wrapped", None)
    if inner is not None:
        raise UnsupportedSyntaxError(
            f"'{src.name}' is decorated with '@{ast.unparse(inner)}' before symgrad's "
            "decorator, which the command line does not run (it reads the file)",
            src.loc(inner),
            "decorate in the running program, where symgrad reads the function the "
            "decorator returns",
        )
