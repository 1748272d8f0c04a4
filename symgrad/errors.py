"""Errors symgrad raises, formatted like a compiler's diagnostics.

Every error a user can cause is a `SymgradError`.  When it concerns a place in
the user's source it reads::

    model.py:14:8: error: 'try' statements are not supported by symgrad
        try:
        ^
    hint: move the try/except outside the differentiated function

Subclasses name the kind of mistake so callers (and tests) can tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Loc:
    """A place in user source: file, 1-based line, 0-based column, line text."""

    file: str
    line: int
    col: int
    text: str
    function: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col + 1}"


class SymgradError(Exception):
    """Base class of every error symgrad raises for a user's mistake."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str | None = None):
        self.message = message
        self.loc = loc
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        """The full diagnostic: location, message, source line, caret, hint."""
        if self.loc is None:
            head = f"error: {self.message}"
        else:
            head = f"{self.loc}: error: {self.message}"
        lines = [head]
        if self.loc is not None and self.loc.text:
            raw = self.loc.text.rstrip("\n")
            stripped = raw.lstrip()
            indent = len(raw) - len(stripped)
            caret_col = max(self.loc.col - indent, 0)
            lines.append("    " + stripped)
            lines.append("    " + " " * caret_col + "^")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class SymgradWarning(UserWarning):
    """Code symgrad compiles that is likely a mistake (a `wrt` parameter the
    function never reads); Python shows the file, line and source line."""


class UnsupportedSyntaxError(SymgradError):
    """A construct symgrad cannot differentiate (yet)."""


class UnknownNameError(SymgradError):
    """A name that resolves to nothing symgrad can read."""


class NoDerivativeError(SymgradError):
    """A call to a function with no derivative rule."""


class NonDifferentiableError(SymgradError):
    """A differentiable value flows where no derivative exists."""


class SeedError(SymgradError):
    """A missing or wrongly shaped output cotangent (`seed`)."""


class BadInputError(SymgradError):
    """A bad `wrt`, a bad argument, or an unreadable function."""


class RepeatedIndexError(BadInputError):
    """A differentiated write into one entry twice, through repeated indices."""


class StackError(BadInputError):
    """A list or tuple of arrays of different shapes, differentiated as one array."""


class JoinError(BadInputError):
    """Lists joined with + or repeated with *, differentiated as arrays."""


class SharedArgumentsError(BadInputError):
    """Arguments that share memory, where the function writes into one of them."""


class RuleError(BadInputError):
    """A custom rule's derivative of the wrong shape."""


class ComplexError(BadInputError):
    """A complex value where symgrad's derivative holds for real numbers only
    (`abs` of a complex number)."""


class NotANumberError(BadInputError):
    """A Hessian asked of a function whose output is not a number."""


class InternalError(SymgradError):
    """A bug in symgrad itself, reported with the function it was compiling."""
