"""Custom rules: a user's own derivative for one of their functions.

    def softplus_grad(x):
        return 0.5 * (1.0 + np.tanh(0.5 * x))      # the logistic sigmoid

    @symgrad.rule(grad=softplus_grad)
    def softplus(x):
        return np.logaddexp(0.0, x)                # symgrad has no rule for this

    @symgrad.nondifferentiable
    def rank(x):
        return np.argsort(np.argsort(x))           # a constant to symgrad

`rule` takes either `grad=`, the elementwise partial derivatives (one
function per argument, called with all the arguments; None for an argument
with no derivative), or `vjp=` and/or `jvp=` for any function:
`vjp(g, *args)` returns the cotangent of each argument (a tuple for several)
and `jvp(tangents, *args)` the output's tangent, given a tuple with one
tangent per argument.  Reverse mode needs `grad` or `vjp`, forward mode `grad`
or `jvp`.  A `nondifferentiable` function's result is a constant.

symgrad never reads the body of a function with a rule: the emitted code
calls it, and its derivative functions, by name (`softplus(x)`,
`softplus_grad(x)`), so they must be pure (same arguments, same result).
Emitted modules list these names in a `# Supplied by the caller:` line; the
decorated function reaches the functions through its names, and `api` binds
them into the module when it loads it.
"""

from __future__ import annotations

import inspect
import linecache
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import BadInputError, Loc


@dataclass(frozen=True)
class Rule:
    """The names of a custom function and of its derivative functions."""

    name: str
    arity: int
    grads: tuple[str | None, ...] | None = None
    vjp: str | None = None
    jvp: str | None = None
    nondiff: bool = False

    def names(self) -> tuple[str, ...]:
        found = (self.name, *(self.grads or ()), self.vjp, self.jvp)
        return tuple(n for n in found if n is not None)


SUPPLIED = "# Supplied by the caller:"


def _named(fun: Any, role: str) -> str:
    if not isinstance(fun, types.FunctionType):
        raise BadInputError(
            f"symgrad.rule: {role} must be a Python function, got {fun!r}"
        )
    if not fun.__name__.isidentifier():
        raise BadInputError(
            f"symgrad.rule: {role} must be a function defined with 'def' (the "
            f"generated code calls it by name), got {fun.__name__}",
            _where(fun),
        )
    return fun.__name__


def _where(fun: types.FunctionType) -> Loc | None:
    """Where `fun` is defined (a lambda: at the word `lambda`), if readable."""
    code = fun.__code__
    text = linecache.getline(code.co_filename, code.co_firstlineno)
    if not text:
        return None
    col = text.find("lambda") if fun.__name__ == "<lambda>" else -1
    col = col if col >= 0 else len(text) - len(text.lstrip())
    return Loc(code.co_filename, code.co_firstlineno, col, text.rstrip("\n"))


def rule(
    fun: Callable[..., Any] | None = None,
    *,
    grad: Any = None,
    vjp: Callable[..., Any] | None = None,
    jvp: Callable[..., Any] | None = None,
) -> Any:
    """Give `fun` its own derivative: `@rule(grad=...)` or `@rule(vjp=..., jvp=...)`.

    Returns `fun` itself, marked; see the module docstring."""
    if fun is None:
        return lambda f: rule(f, grad=grad, vjp=vjp, jvp=jvp)
    if (grad is None) == (vjp is None and jvp is None):
        raise BadInputError(
            "symgrad.rule takes grad= (elementwise partial derivatives) or "
            + (
                "vjp=/jvp=, not both"
                if grad is not None
                else "vjp=/jvp=; none was given"
            )
        )
    name = _named(fun, "the function")
    arity = len(inspect.signature(fun).parameters)
    grads = None
    if grad is not None:
        given = grad if isinstance(grad, tuple | list) else (grad,)
        if len(given) != arity:
            raise BadInputError(
                f"symgrad.rule: {name} takes {arity} argument(s) but grad= gives "
                f"{len(given)} partial derivative(s)"
            )
        grads = tuple(None if g is None else _named(g, "grad") for g in given)
    else:
        given = ()
    marked = Rule(
        name,
        arity,
        grads,
        None if vjp is None else _named(vjp, "vjp"),
        None if jvp is None else _named(jvp, "jvp"),
    )
    functions = [fun, *(g for g in given if g is not None), vjp, jvp]
    fun.__symgrad_rule__ = marked
    fun.__symgrad_bindings__ = {f.__name__: f for f in functions if f is not None}
    return fun


def nondifferentiable(fun: Callable[..., Any]) -> Callable[..., Any]:
    """Mark `fun` as having no derivative: its result is a constant to symgrad."""
    name = _named(fun, "the function")
    arity = len(inspect.signature(fun).parameters)
    fun.__symgrad_rule__ = Rule(name, arity, nondiff=True)
    fun.__symgrad_bindings__ = {name: fun}
    return fun


def supplied(names: list[str]) -> str:
    """The line of an emitted module naming the functions it needs bound."""
    return f"{SUPPLIED} {', '.join(names)}" if names else ""


def listed_names(text: str) -> list[str]:
    """The names an emitted module's `# Supplied by the caller:` line lists."""
    for line in text.splitlines():
        if line.startswith(SUPPLIED):
            return [n.strip() for n in line[len(SUPPLIED) :].split(",")]
    return []


def bindings(text: str, available: dict[str, Any]) -> dict[str, Any]:
    """The functions an emitted module needs, from `available` (what the
    differentiated function's names lead to, see `api`)."""
    names = listed_names(text)
    missing = [n for n in names if n not in available]
    if missing:
        raise BadInputError(
            f"the generated module calls {', '.join(missing)}, which the "
            "differentiated function no longer reaches through a custom rule"
        )
    return {n: available[n] for n in names}
