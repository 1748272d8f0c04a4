"""Reading a function's source: its AST, its file, and locations inside it.

A `FunctionSource` is everything later stages need to know about where a
function came from: the `ast.FunctionDef` with line numbers of the real file,
the file's lines (to quote them in errors and comments), and the resolver that
gives meaning to the names the function uses.  It is built either from a live
function object (`from_function`, used by the decorator) or from a module's
AST without executing it (`from_module`, used by the CLI).
"""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
from dataclasses import dataclass, field
from typing import Any

from .errors import BadInputError, Loc, UnsupportedSyntaxError


@dataclass(frozen=True, eq=False)
class FunctionSource:
    name: str
    tree: ast.FunctionDef
    file: str
    lines: tuple[str, ...]
    col_shift: int = 0
    resolver: Any = field(default=None, repr=False)

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
        args = self.tree.args
        return tuple(a.arg for a in args.args + args.kwonlyargs)

    @property
    def keyword_only(self) -> tuple[str, ...]:
        return tuple(a.arg for a in self.tree.args.kwonlyargs)

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
        end = self.tree.end_lineno or self.tree.lineno
        start = min([self.tree.lineno] + [d.lineno for d in self.tree.decorator_list])
        return "".join(self.lines[start - 1 : end])


def from_function(fn: Any, resolver: Any = None) -> FunctionSource:
    """Read a live function's source from its file; errors name the function."""
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        file = inspect.getsourcefile(fn) or inspect.getfile(fn)
        raw, start, module = _read(fn, file)
    except (OSError, TypeError):
        raise BadInputError(
            f"cannot read the source of {name}",
            hint="symgrad needs functions defined in a .py file, not at the prompt",
        ) from None
    lines = tuple(linecache.getlines(file)) or tuple(raw)
    text = "".join(raw)
    shift = len(text.splitlines()[0]) - len(textwrap.dedent(text).splitlines()[0])
    if module is None:
        raise UnsupportedSyntaxError(
            f"cannot parse the source of {name}",
            Loc(file, start, 0, raw[0].rstrip("\n")),
            "symgrad differentiates functions written with 'def', not lambdas",
        )
    tree = module.body[0] if module.body else None
    if isinstance(tree, ast.AsyncFunctionDef):
        text = lines[tree.lineno - 1] if tree.lineno <= len(lines) else ""
        raise UnsupportedSyntaxError(
            "'async def' functions cannot be differentiated",
            Loc(file, tree.lineno, tree.col_offset + shift, text.rstrip("\n"), name),
        )
    if not isinstance(tree, ast.FunctionDef):
        raise BadInputError(
            f"{name} is not a function defined with 'def'",
            Loc(file, start, 0, raw[0].rstrip("\n")),
        )
    return FunctionSource(tree.name, tree, file, lines, shift, resolver)


def _read(fn: Any, file: str) -> tuple[list[str], int, ast.Module | None]:
    """The function's lines, its first line number, and their parse (None
    where they do not parse)."""
    linecache.checkcache(file)  # (a file edited since it was read, as inspect)
    found = _cut(fn, linecache.getlines(file))
    if found is not None:
        module = _parse(*found)
        body = module.body if module is not None else []
        if (
            body
            and isinstance(body[0], ast.FunctionDef)
            and body[0].name == fn.__code__.co_name
        ):
            return (*found, module)
    # (not inspect.getsourcelines: it follows `__wrapped__`, and a decorator's
    # wrapper made with functools.wraps would read as the function it wraps)
    lines, index = inspect.findsource(fn)
    raw, start = inspect.getblock(lines[index:]), index + 1
    return raw, start, _parse(raw, start)


def _parse(raw: list[str], start: int) -> ast.Module | None:
    try:
        # blank lines in front give the nodes their line numbers in the file
        # (ast.increment_lineno would walk the whole tree)
        return ast.parse("\n" * (start - 1) + textwrap.dedent("".join(raw)))
    except SyntaxError:
        return None


def _cut(fn: Any, lines: list[str]) -> tuple[list[str], int] | None:
    """The function's lines and first line number, read without tokenizing
    (inspect's search costs 2 ms per 100 lines): from the first decorator to
    the last line of its code, then on to the first line indented no deeper
    than the `def`.  A cut that does not parse as that function (a string or
    bracket reaching back to the margin) is left to inspect."""
    code = getattr(fn, "__code__", None)
    if code is None or not lines:
        return None
    start = code.co_firstlineno
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
    return list(lines[start - 1 : end]), start


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
