"""The public decorator and the compiler pipeline, readable top to bottom.

    source --fence--> checked AST --frontend--> primal IR --reverse--> adjoint IR
           --emit--> Python module text (black) --exec--> f_and_grad

`grad(f)` returns a `GradFunction` that calls exactly like `f`.  Syntax is
checked when the function is decorated; names are resolved, and the module is
generated, on first use of `.f_and_grad`, `.grad`, `.source` or `.module`,
because module-level helpers are often defined below the decorated function.
After that no parsing, lowering or emitting happens again, and a later run of
the program reads the module back from the on-disk cache (`cache.py`).
"""

from __future__ import annotations

import ast
import functools
import linecache
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import cache, fence
from .errors import BadInputError, InternalError, Loc, SeedError, SymgradError
from .ir import Function
from .resolve import LiveResolver
from .source import FunctionSource, from_function

if TYPE_CHECKING:
    from .reverse import Adjoint

__version__ = "0.1.0"

Wrt = str | int | tuple[str | int, ...] | None


@dataclass(frozen=True)
class Compiled:
    """Every stage of one compilation, for the CLI's `--stage` and for tests."""

    primal: Function
    adjoint: Adjoint
    source: str


def compile_function(src: FunctionSource, wrt: Wrt, has_aux: bool = False) -> Compiled:
    """Run the whole pipeline on one function's source.

    User mistakes raise `SymgradError` subclasses; a failure inside symgrad
    itself is reported as `InternalError` naming the function, chained to the
    original exception for the bug report."""
    try:
        return _pipeline(src, wrt, has_aux)
    except SymgradError:
        raise
    except Exception as exc:
        raise InternalError(
            f"symgrad failed to compile '{src.name}': {type(exc).__name__}: {exc}",
            src.loc(src.tree),
            "this is a bug in symgrad; please report it with the function's source",
        ) from exc


def _pipeline(src: FunctionSource, wrt: Wrt, has_aux: bool = False) -> Compiled:
    # Imported here: sympy and black load only when something is compiled, so
    # a program whose modules all come from the on-disk cache starts fast.
    from . import emit, frontend, reverse
    from .ir import verify
    from .rules import OPS

    fence.check(src)
    names, is_tuple = normalize_wrt(src.name, src.params, wrt, src.loc(src.tree))
    primal, constants, allocator = frontend.lower(src, has_aux)
    verify(primal, OPS)
    adjoint = reverse.reverse(primal, names, allocator)
    defaults = tuple(ast.unparse(d) for d in src.tree.args.defaults)
    spec = emit.ModuleSpec(
        function=src.name,
        origin=src.file.replace("\\", "/").rsplit("/", 1)[-1],
        version=__version__,
        params=src.params,
        defaults=defaults,
        wrt=names,
        wrt_is_tuple=is_tuple,
        constants=tuple(constants[k] for k in sorted(constants)),
        has_aux=has_aux,
    )
    text = emit.emit_module(primal, adjoint, spec, allocator)
    return Compiled(primal, adjoint, text)


def normalize_wrt(
    name: str, params: tuple[str, ...], wrt: Wrt, loc: Loc | None = None
) -> tuple[tuple[str, ...], bool]:
    """Parameter names in `wrt` order, and whether `wrt` was a tuple."""
    if wrt is None:
        if not params:
            raise BadInputError(
                f"{name}: a function without parameters has no gradient", loc
            )
        return (params[0],), False
    is_tuple = isinstance(wrt, tuple | list)
    names: list[str] = []
    for item in tuple(wrt) if is_tuple else (wrt,):
        problem = _wrt_problem(item, params, names)
        if problem:
            raise BadInputError(f"{name}: {problem}", loc)
        names.append(params[item] if isinstance(item, int) else item)
    if not names:
        raise BadInputError(f"{name}: wrt is empty", loc)
    return tuple(names), is_tuple


def _wrt_problem(item: object, params: tuple[str, ...], taken: list[str]) -> str:
    if isinstance(item, bool) or not isinstance(item, int | str):
        return f"wrt entries must be parameter names or indices, got {item!r}"
    if isinstance(item, int) and not -len(params) <= item < len(params):
        count = f"{len(params)} parameter{'s' if len(params) != 1 else ''}"
        return f"wrt={item} but the function has {count}"
    name = params[item] if isinstance(item, int) else item
    if name not in params:
        listed = ", ".join(params) or "none"
        return f"wrt names '{name}', which is not a parameter (parameters: {listed})"
    if name in taken:
        return f"wrt names '{name}' twice"
    return ""


class GradFunction:
    """`f` with its gradient: calls like `f`; adds `.f_and_grad` and `.grad`."""

    def __init__(self, fun: Callable[..., Any], wrt: Wrt = None, has_aux: bool = False):
        if not isinstance(fun, types.FunctionType):
            raise BadInputError(f"symgrad.grad needs a Python function, got {fun!r}")
        functools.update_wrapper(self, fun)
        self.__symgrad_original__ = fun
        self._src = from_function(fun, LiveResolver(fun))
        fence.check(self._src)
        self._wrt = wrt
        self.has_aux = bool(has_aux)
        self.wrt, self.wrt_is_tuple = normalize_wrt(
            self._src.name, self._src.params, wrt, self._src.loc(self._src.tree)
        )
        self.wrt_indices = tuple(self._src.params.index(w) for w in self.wrt)
        self._compiled: Compiled | None = None
        self._source: str | None = None
        self._module: types.ModuleType | None = None
        self._lock = threading.RLock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__symgrad_original__(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<symgrad.grad of {self.__qualname__} wrt {', '.join(self.wrt)}>"

    @property
    def compiled(self) -> Compiled:
        """Every pipeline stage; always compiles (once), never read from the cache."""
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = compile_function(
                        self._src, self._wrt, self.has_aux
                    )
        return self._compiled

    @property
    def source(self) -> str:
        """The emitted module's text, from the on-disk cache when it holds it."""
        if self._source is None:
            with self._lock:
                if self._source is None:
                    self._source = cache.cached_source(
                        self._src,
                        self.wrt,
                        self.wrt_is_tuple,
                        f"{__version__}{'+aux' if self.has_aux else ''}",
                        lambda: self.compiled.source,
                    )
        return self._source

    @property
    def module(self) -> types.ModuleType:
        """The emitted module, imported."""
        if self._module is None:
            self._module = load_module(self.source, self.__qualname__)
        return self._module

    def f_and_grad(
        self, *args: Any, seed: Any = None, **kwargs: Any
    ) -> tuple[Any, Any]:
        """`(f(*args), gradient)`; `seed` is the output cotangent (default 1.0)."""
        module = self._module or self.module
        repeated = getattr(module, "RepeatedIndexError", ())
        try:
            return module.f_and_grad(*args, seed=seed, **kwargs)
        except module.SeedError as exc:
            raise SeedError(str(exc)) from None
        except repeated as exc:
            raise BadInputError(f"{self.__name__}: {exc}") from None

    def grad(self, *args: Any, seed: Any = None, **kwargs: Any) -> Any:
        """The gradient alone; with `has_aux`, the pair `(gradient, aux)`."""
        value, gradient = self.f_and_grad(*args, seed=seed, **kwargs)
        return (gradient, value[1]) if self.has_aux else gradient


def load_module(text: str, qualname: str) -> types.ModuleType:
    """Execute emitted source as a fresh module; tracebacks show its lines."""
    filename = f"<symgrad:{qualname}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    module = types.ModuleType(f"symgrad_generated_{qualname.replace('.', '_')}")
    module.__file__ = filename
    exec(compile(text, filename, "exec"), module.__dict__)
    return module


def grad(
    fun: Callable[..., Any] | None = None, *, wrt: Wrt = None, has_aux: bool = False
) -> Any:
    """Differentiate `fun` ahead of time: `@grad`, `@grad(wrt=...)`, `grad(f, wrt=...)`.

    `wrt` is a parameter name or index, or a tuple of them (default: the first
    parameter).  The result calls exactly like `fun` and adds
    `.f_and_grad(*args, seed=None)`, `.grad(*args, seed=None)`, `.source`
    and `.module`.  With `has_aux=True`, `fun` returns `(loss, aux)`: the
    gradient is the loss's, `aux` (anything computed along the way, such as an
    accuracy) is passed through, `.f_and_grad` returns `((loss, aux), gradient)`
    and `.grad` returns `(gradient, aux)`, as in JAX.
    """
    if fun is None:
        return functools.partial(grad, wrt=wrt, has_aux=has_aux)
    return GradFunction(fun, wrt, has_aux)
