"""The public decorator and the compiler pipeline, readable top to bottom.

    source --fence--> checked AST --frontend--> primal IR --reverse--> adjoint IR
           --emit--> Python module text (black) --exec--> f_and_grad

`grad(f)` returns a `GradFunction` that calls exactly like `f`; `jvp`,
`jacobian` and `hessian` return its siblings, whose modules `transforms`
builds from the same stages (forward mode: `forward.py`).  Syntax is
checked when the function is decorated; names are resolved, and the module is
generated, on first use of `.f_and_grad`, `.grad`, `.source` or `.module`,
because module-level helpers are often defined below the decorated function.
After that no parsing, lowering or emitting happens again, and a later run of
the program reads the module back from the on-disk cache (`cache.py`).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import itertools
import linecache
import re
import sys
import threading
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import cache, custom, fence, runtime
from .errors import (
    BadInputError,
    ComplexError,
    InternalError,
    JoinError,
    Loc,
    NotANumberError,
    RepeatedIndexError,
    RuleError,
    SeedError,
    SharedArgumentsError,
    StackError,
    SymgradError,
    SymgradWarning,
    UnsupportedSyntaxError,
)
from .ir import Function
from .resolve import (
    Constant,
    CustomFunction,
    LibFunction,
    LiveResolver,
    UserFunction,
    UserModule,
    member_reads,
)
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


# Compiling allocates a few hundred thousand short-lived objects per thousand
# statements, and at Python's default threshold of 700 allocations the cyclic
# collector also runs full collections over everything alive (sympy's and
# black's modules, and the growing IR): 8-20% of compile time, growing faster
# than the function.  While any compilation runs, the first generation's
# threshold is raised to 50,000 (never lowered, and 0, no automatic
# collection, is kept); the last one to finish puts back the thresholds it
# found (a change another thread made meanwhile is undone).
_FEW_COLLECTIONS = 50_000
_collector_lock = threading.Lock()
_compiling = 0
_thresholds: tuple[int, ...] = ()


@contextlib.contextmanager
def _few_collections():
    global _compiling, _thresholds
    with _collector_lock:
        if _compiling == 0:
            _thresholds = gc.get_threshold()
            first, *rest = _thresholds
            if first:
                gc.set_threshold(max(first, _FEW_COLLECTIONS), *rest)
        _compiling += 1
    try:
        yield
    finally:
        with _collector_lock:
            _compiling -= 1
            if _compiling == 0:
                gc.set_threshold(*_thresholds)


def compile_function(src: FunctionSource, wrt: Wrt, has_aux: bool = False) -> Compiled:
    """Run the whole pipeline on one function's source.

    User mistakes raise `SymgradError` subclasses; a failure inside symgrad
    itself is reported as `InternalError` naming the function, chained to the
    original exception for the bug report."""
    try:
        with _few_collections():
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
    from . import emit, frontend, fuse, reverse, share
    from .ir import verify
    from .rules import OPS

    fence.check(src)
    names, is_tuple = normalize_wrt(src, wrt)
    _warn_unread(src, names)
    primal, constants, allocator = frontend.lower(src, has_aux, names)
    primal = fuse.fuse_slices(share.share(primal, names), names=allocator, wrt=names)
    verify(primal, OPS)
    adjoint = reverse.reverse(primal, names, allocator)
    spec = module_spec(src, names, is_tuple, constants, has_aux)
    text = emit.emit_module(primal, adjoint, spec, allocator)
    return Compiled(primal, adjoint, text)


def _def_line(fun: Any) -> Loc | None:
    """Where `fun` is defined, its `def` line, if its source can be read."""
    try:
        src = from_function(fun)
        return src.loc(src.tree)
    except SymgradError:  # (from_function's, for a source it cannot read)
        return None


def module_spec(
    src: FunctionSource,
    wrt: tuple[str, ...],
    wrt_is_tuple: bool,
    constants: dict,
    has_aux: bool = False,
) -> Any:
    from . import emit

    args = src.tree.args
    positional = args.args[len(args.args) - len(args.defaults) :]  # (with defaults)
    return emit.ModuleSpec(
        function=src.name,
        origin=src.file.replace("\\", "/").rsplit("/", 1)[-1],
        version=__version__,
        params=src.params,
        defaults=tuple(
            _default_text(src, a.arg, d)
            for a, d in zip(positional, args.defaults, strict=True)
        ),
        keyword_only=tuple(
            (p, None if d is None else _default_text(src, p, d))
            for p, d in zip(src.keyword_only, src.tree.args.kw_defaults, strict=True)
        ),
        wrt=wrt,
        wrt_is_tuple=wrt_is_tuple,
        constants=tuple(constants[k] for k in sorted(constants)),
        has_aux=has_aux,
    )


def _default_text(src: FunctionSource, name: str, node: ast.expr) -> str:
    """The default of parameter `name` as the emitted signature writes it:
    as written where it is a literal; where it names a module's constant
    (`l2=L2`), that constant's value when the `def` ran, as Python reads it,
    written out (the emitted module does not hold the name)."""
    try:
        ast.literal_eval(node)
    except ValueError:
        pass
    else:
        return ast.unparse(node)
    from .calls import default_value  # (compiling only: it imports sympy)

    text = _literal(default_value(src, name, node))
    if text is None:
        raise UnsupportedSyntaxError(
            f"the default of '{name}' ({ast.unparse(node)}) is not a number, a "
            "string or a tuple of them, which the generated function's signature "
            "needs written out",
            src.loc(node),
            "pass the value at the call, or write the default as a literal",
        )
    return text


def _literal(value: Any) -> str | None:
    """Python source for `value`: a number, string, bool or None of Python's
    or numpy's own types (not a subclass, whose repr may be anything: an
    enum's `<Col.RED: 2>`), or a tuple of them; None for anything else."""
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return repr(value)
    if kind is float or kind in _NUMPY_SCALARS:
        if np.isfinite(value):
            return repr(value)  # (`0.1`, `np.float64(0.5)`, `np.True_`)
        name = "float" if kind is float else f"np.{kind.__name__}"
        return f'{name}("{float(value)!r}")'  # (`float("inf")`)
    if kind is tuple:
        parts = [_literal(v) for v in value]
        if any(p is None for p in parts):
            return None
        return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"
    return None


# numpy's scalar types whose repr is the call that makes them (`np.int64(3)`)
_NUMPY_SCALARS = {np.dtype(c).type for c in "?bhilqBHILQefdg"}


def _warn_unread(src: FunctionSource, wrt: tuple[str, ...]) -> None:
    """A `SymgradWarning` at the `def` if the function never reads a `wrt`
    parameter (shown as Python shows warnings: when the function is compiled,
    not when its module comes from the on-disk cache)."""
    unread = fence.unread(src, wrt)
    if unread:
        names = " and ".join(f"'{name}'" for name in unread)
        one = len(unread) == 1
        text = (
            f"{names} {'is' if one else 'are'} never read by {src.name}, so "
            f"{'its derivative is' if one else 'their derivatives are'} 0 (if a "
            f"helper reads {'a ' if one else ''}module-level {names}, pass it the "
            f"parameter{'' if one else 's'} instead)"
        )
        line = src.loc(src.tree).line
        warnings.warn_explicit(SymgradWarning(text), SymgradWarning, src.file, line)


def compile_transform(
    src: FunctionSource, kind: str, wrt: Wrt, mode: str | None = None
) -> str:
    """The module of one transformation: "jvp", "jacobian" or "hessian"."""
    try:
        with _few_collections():
            return _transform(src, kind, wrt, mode)
    except SymgradError:
        raise
    except Exception as exc:
        raise InternalError(
            f"symgrad failed to compile the {kind} of '{src.name}': "
            f"{type(exc).__name__}: {exc}",
            src.loc(src.tree),
            "this is a bug in symgrad; please report it with the function's source",
        ) from exc


def check_mode(src: FunctionSource, mode: Any) -> None:
    """A Jacobian's `mode` is "fwd", "rev" or None."""
    from .transforms import MODES

    if mode not in MODES:
        raise BadInputError(
            f"{src.name}: mode must be 'fwd', 'rev' or None, got {mode!r}",
            src.loc(src.tree),
        )


def _transform(src: FunctionSource, kind: str, wrt: Wrt, mode: str | None) -> str:
    from . import frontend, transforms

    fence.check(src)
    names, is_tuple = normalize_wrt(src, wrt)
    check_mode(src, mode)
    if kind == "jvp" or mode == "fwd":  # (else `_pipeline`, below, warns)
        _warn_unread(src, names)
    _, constants, _ = frontend.lower(src)
    spec = module_spec(src, names, is_tuple, constants)
    if kind == "jvp":
        return transforms.jvp_module(src, spec)
    gradient = "" if mode == "fwd" else _pipeline(src, wrt).source
    if kind == "jacobian":
        return transforms.jacobian_module(src, spec, gradient, mode)
    return transforms.hessian_module(src, spec, gradient)


def normalize_wrt(
    src: FunctionSource, wrt: Wrt, located: bool = True
) -> tuple[tuple[str, ...], bool]:
    """Parameter names in `wrt` order, and whether `wrt` was a tuple.  Only a
    positional parameter is differentiated (an index counts those alone): a
    keyword-only one is an option (`*, l2=0.01`).  Errors point at the `def`
    if `located` (reading its AST)."""
    name, keyword_only = src.name, src.keyword_only

    def loc() -> Loc | None:
        return src.loc(src.tree) if located else None

    for item in wrt if isinstance(wrt, tuple | list) else (wrt,):
        if item in keyword_only:
            raise BadInputError(
                f"{name}: wrt names '{item}', a keyword-only parameter; symgrad "
                "differentiates positional parameters",
                loc(),
                f"move '{item}' before the `*` to differentiate with respect to it",
            )
    params = tuple(p for p in src.params if p not in keyword_only)
    if wrt is None:
        if not params:
            raise BadInputError(
                f"{name}: a function without parameters has no gradient", loc()
            )
        return (params[0],), False
    is_tuple = isinstance(wrt, tuple | list)
    names: list[str] = []
    for item in tuple(wrt) if is_tuple else (wrt,):
        problem = _wrt_problem(item, params, names)
        if problem:
            raise BadInputError(f"{name}: {problem}", loc())
        names.append(params[item] if isinstance(item, int) else item)
    if not names:
        raise BadInputError(f"{name}: wrt is empty", loc())
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


class _Transformed:
    """`f` with a derivative module: calls exactly like `f`.

    Syntax is checked at decoration; the module is built (or read from the
    on-disk cache) on first use of `.source`, `.module` or a derivative."""

    kind = ""  # "grad", "jvp", "jacobian", "hessian"

    def __init__(self, fun: Callable[..., Any], wrt: Wrt = None):
        fun = getattr(fun, "__symgrad_original__", fun)  # grad(f) given for f
        if not isinstance(fun, types.FunctionType):
            got = repr(fun)  # (a partial's may hold whole arrays)
            if len(got) > 80 or "\n" in got:
                got = got.split("\n")[0][:76] + " ..."
            hint, loc = None, None
            if isinstance(fun, types.MethodType):
                hint = (
                    "differentiate a plain function and pass the arrays the "
                    "method reads as arguments"
                )
                loc = _def_line(fun.__func__)
            elif isinstance(fun, functools.partial):
                hint = (
                    "differentiate the function itself with wrt=, and pass the "
                    "bound values at each call: g.f_and_grad(w, X, y)"
                )
            raise BadInputError(
                f"symgrad.{self.kind} needs a Python function, got {got}", loc, hint
            )
        functools.update_wrapper(self, fun)
        self.__symgrad_original__ = fun
        self._src = from_function(fun, LiveResolver(fun))
        if not self._cached(wrt):
            fence.check(self._src)
        scopes = fun.__qualname__.split(".")
        in_class = len(scopes) > 1 and scopes[-2] != "<locals>"
        params = self._src.params
        if in_class and params[:1] in (("self",), ("cls",)):
            raise BadInputError(
                f"symgrad.{self.kind} of the method {fun.__qualname__}: its "
                f"first argument '{params[0]}' is an object, not numbers",
                self._src.loc(self._src.tree),
                "differentiate a module-level function of the arrays the method "
                "reads, and call it from the method",
            )
        self._wrt = wrt
        self.wrt, self.wrt_is_tuple = normalize_wrt(self._src, wrt)
        self.wrt_indices = tuple(self._src.params.index(w) for w in self.wrt)
        self._source: str | None = None
        self._entry: Path | None = None  # the cache entry of `_source`, if any
        # the module-level names `_source` was built from (see global_bindings)
        self._bindings: tuple[Binding, ...] = ()
        self._module: types.ModuleType | None = None
        self._serial = next(_serials)
        self._lock = threading.RLock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__symgrad_original__(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<symgrad.{self.kind} of {self.__qualname__} wrt {', '.join(self.wrt)}>"

    def _tag(self) -> str:
        """What besides the source and `wrt` decides the module (cache key)."""
        return f"{__version__}+{self.kind}"

    def _cached(self, wrt: Wrt) -> bool:
        """Does the on-disk cache hold a module made from the function's text
        and names as they are now?  Then the text passed the fence (the
        compiler checks it before building any), and the decorator need not
        parse it again."""
        try:
            names, is_tuple = normalize_wrt(self._src, wrt, located=False)
        except SymgradError:
            return False  # (raised again below, after the fence's errors)
        entry = cache.entry_for(self._src, names, is_tuple, self._tag())
        return entry is not None and entry.path.is_file()

    def _build(self) -> str:
        raise NotImplementedError

    @property
    def source(self) -> str:
        """The emitted module's text, from the on-disk cache when it holds it."""
        if self._source is None:
            with self._lock:
                if self._source is None:
                    self._bindings = global_bindings(self._src)
                    try:
                        self._source, self._entry = cache.cached_source(
                            self._src,
                            self.wrt,
                            self.wrt_is_tuple,
                            self._tag(),
                            self._build,
                        )
                    except InternalError:
                        raise  # (a bug in symgrad: its frames are the report)
                    except SymgradError as exc:  # the message names the line;
                        raise exc.with_traceback(None) from None  # not our frames
        return self._source

    @property
    def module(self) -> types.ModuleType:
        """The emitted module, imported."""
        if self._module is None:
            source = self.source
            module = load_module(
                source,
                f"{self.__qualname__}.{self.kind}",
                self._src,
                self._entry,
                self._serial,
            )
            errors = _bad_input_errors(self.__name__, self.kind, self._src)
            module.__dict__.update(errors)
            self._module = module
        return self._module

    def _run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the module's function `name`, compiled again first if a
        module-level name it was built from has changed since."""
        module = self._module or self.module
        if self._bindings and not unchanged(self._bindings):
            module = self._recompiled()
        return getattr(module, name)(*args, **kwargs)

    def _recompiled(self) -> types.ModuleType:
        """The module built anew from the program as it stands now."""
        with self._lock:
            self._source = self._module = self._entry = None
            self._bindings = ()
            if hasattr(self, "_compiled"):
                self._compiled = None
            return self.module


# (the dict a function reads a global from, or the cell of a name it reads
# from an enclosing function, its name, the object it was, and for an array a
# copy of its entries)
Binding = tuple[dict | types.CellType, str, Any, Any]
_MISSING = object()


def global_bindings(src: FunctionSource) -> tuple[Binding, ...]:
    """The names the code emitted for `src` is built from, outside it: the
    module-level constants, helper functions and custom rules it and its
    helpers read (their code objects' global names, so a parameter `x` never
    stands for a global `x`), and every value they read from an enclosing
    function (a closure's cells), and the functions and constants read from
    a module of the user's (`L.dense`), each with what it is now.  A running
    program may rebind them (the next minibatch `X = ...`, a redefined
    helper, `act = np.sin` for `act = np.tanh`) or change an array in place;
    `unchanged` tells."""
    found: list[Binding] = []
    pending, seen = [src], set()
    while pending:
        fn = pending.pop()
        resolver = fn.resolver
        if not isinstance(resolver, LiveResolver):
            continue
        # a function is its code and its closure's cells, which live as long
        # as the function (a FunctionSource is made anew by every lookup)
        ident = (id(resolver.code), *map(id, resolver.cells.values()))
        if ident in seen:
            continue
        seen.add(ident)
        for name in resolver.global_names():
            if not resolver.bound(name):
                continue  # (a builtin: the prelude's `sum` is symgrad's own)
            resolved = resolver.resolve(name)
            if isinstance(resolved, UserFunction):
                pending.append(resolved.source)
            if name in resolver.cells:
                value = resolver.closure.get(name, _MISSING)
                namespace: dict | types.CellType = resolver.cells[name]
            elif name in resolver.globals and (
                isinstance(
                    resolved, Constant | CustomFunction | UserFunction | UserModule
                )
                # (an alias, `act = np.tanh`, may be rebound; `from numpy import
                # tanh` is checked by none, so calls keep their fast path)
                or (isinstance(resolved, LibFunction) and resolved.name != name)
            ):
                value, namespace = resolver.globals[name], resolver.globals
            else:
                continue
            found.append((namespace, name, value, _entries(value)))
        for _, module, attr, resolved in member_reads(fn):
            if isinstance(resolved, UserFunction):
                pending.append(resolved.source)
            if module.namespace is not None and resolved is not None:
                value = module.namespace.get(attr, _MISSING)
                found.append((module.namespace, attr, value, _entries(value)))
    return tuple(found)


def _entries(value: Any) -> Any:
    """What an array holds, to tell whether it changed in place: its shape
    and its bytes (so -0.0 is not 0.0, which `np.arctan2` tells apart, and a
    nan is itself), or for an object array a copy; None for anything else."""
    if not isinstance(value, np.ndarray):
        return None
    if value.dtype.hasobject:
        return np.array(value)
    return value.shape, value.tobytes()


def unchanged(bindings: tuple[Binding, ...]) -> bool:
    """Is every name still bound to the object it was, with the entries it
    had?  (An array compares bit for bit; one of objects, entry by entry.)"""
    for namespace, name, value, copy in bindings:
        if namespace.__class__ is dict:
            now = namespace.get(name, _MISSING)
        else:
            try:
                now = namespace.cell_contents
            except ValueError:  # (emptied: `del name` in the enclosing function)
                now = _MISSING
        if now is not value:
            return False
        if copy is None:
            continue
        if isinstance(copy, tuple):
            if now.shape != copy[0] or now.tobytes() != copy[1]:
                return False
        elif not np.array_equal(now, copy):
            return False
    return True


def _bad_input_errors(function: str, kind: str, src: FunctionSource) -> dict[str, Any]:
    """symgrad's errors, to replace the standalone module's own classes: code
    loaded by symgrad raises a bad seed as `SeedError` and a bad tangent as
    `BadInputError` (their messages name the function), and a write to a
    repeated index, a list of unstackable arrays, joined lists, a custom
    rule's derivative of the wrong shape, arguments sharing memory or `abs`
    of a complex number as the `symgrad.errors` classes of those names, with
    no wrapper catching them: each of those names here is a function that
    makes one, naming `function` and the line of `src` it comes from.  A
    Hessian's module is never given a seed: its only seed error is an output
    that is not a number."""

    def at_line(line: int) -> Loc:
        text = src.lines[line - 1].rstrip("\n") if line <= len(src.lines) else ""
        col = len(text) - len(text.lstrip())
        return Loc(src.file, line, col, text, src.name)

    def at_running_line(cls: type[BadInputError]) -> Callable[..., BadInputError]:
        def make(message: str, line: int | None = None) -> BadInputError:
            loc = _running_line(src) if line is None else at_line(line)
            return cls(f"{function}: {message}", loc)

        return make

    def shared(message: str, line: int) -> SharedArgumentsError:
        return SharedArgumentsError(f"{function}: {message}", at_line(line))

    def not_a_number(message: str) -> NotANumberError:
        shape = re.search(r"the output has shape \([^)]*\)", message)
        return NotANumberError(
            f"{function}: symgrad.hessian needs a function whose output is a "
            f"number ({shape[0] if shape else message}); for a vector "
            "output, take the Hessian of a weighted sum, np.dot(w, f(x))"
        )

    return {
        "SeedError": not_a_number if kind == "hessian" else SeedError,
        "TangentError": BadInputError,
        "RepeatedIndexError": at_running_line(RepeatedIndexError),
        "StackError": at_running_line(StackError),
        "JoinError": at_running_line(JoinError),
        "RuleError": at_running_line(RuleError),
        "ComplexError": at_running_line(ComplexError),
        "SharedArgumentsError": shared,
    }


class GradFunction(_Transformed):
    """`f` with its gradient: calls like `f`; adds `.f_and_grad` and `.grad`."""

    kind = "grad"

    def __init__(self, fun: Callable[..., Any], wrt: Wrt = None, has_aux: bool = False):
        self.has_aux = bool(has_aux)
        super().__init__(fun, wrt)
        self._compiled: Compiled | None = None

    def _tag(self) -> str:
        return f"{__version__}{'+aux' if self.has_aux else ''}"

    def _build(self) -> str:
        return self.compiled.source

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

    def f_and_grad(
        self, *args: Any, seed: Any = None, **kwargs: Any
    ) -> tuple[Any, Any]:
        """`(f(*args), gradient)`; `seed` is the output cotangent (default 1.0)."""
        generated = self.module.f_and_grad
        if seed is not None:  # (passed only if given, as the generated
            kwargs["seed"] = seed  # function's own errors then say)
        if self._bindings:  # (module-level names: checked at every call)
            return self._run("f_and_grad", *args, **kwargs)
        # Later calls skip this method: the generated function itself is bound
        # in its place (a wrapper's call costs more than x**2's gradient).
        self.f_and_grad = generated  # type: ignore[method-assign]
        return generated(*args, **kwargs)

    def grad(self, *args: Any, seed: Any = None, **kwargs: Any) -> Any:
        """The gradient alone; with `has_aux`, the pair `(gradient, aux)`."""
        if seed is not None:
            kwargs["seed"] = seed
        try:
            value, gradient = self.f_and_grad(*args, **kwargs)
        except TypeError:
            taken = len(self._src.params) - len(self._src.keyword_only)
            if len(args) > taken:  # (Python's message names f_and_grad alone)
                raise TypeError(
                    f"{self.__name__}.grad() takes {taken} positional argument"
                    f"{'s' * (taken != 1)} but {len(args)} were given (the seed "
                    "is keyword-only: seed=...)"
                ) from None
            raise
        return (gradient, value[1]) if self.has_aux else gradient


class JvpFunction(_Transformed):
    """`f` with forward mode: adds `.f_and_jvp(*args, tangents)` and `.jvp`."""

    kind = "jvp"

    def _build(self) -> str:
        return compile_transform(self._src, "jvp", self._wrt)

    def f_and_jvp(self, *args: Any, tangents: Any, **kwargs: Any) -> tuple[Any, Any]:
        """`(f(*args), J @ tangents)`: `tangents` has the shape of the `wrt`
        parameter (a tuple of them for a tuple `wrt`; for a tuple of arrays of
        different shapes, a tuple of the entries' tangents)."""
        return self._run("f_and_jvp", *args, tangents=tangents, **kwargs)

    def jvp(self, *args: Any, tangents: Any, **kwargs: Any) -> Any:
        """The Jacobian-vector product alone."""
        return self.f_and_jvp(*args, tangents=tangents, **kwargs)[1]


class JacobianFunction(_Transformed):
    """`f` with its Jacobian: adds `.jacobian(*args)`."""

    kind = "jacobian"

    def __init__(
        self, fun: Callable[..., Any], wrt: Wrt = None, mode: str | None = None
    ):
        self.mode = mode
        super().__init__(fun, wrt)
        check_mode(self._src, mode)

    def _tag(self) -> str:
        return f"{__version__}+jacobian-{self.mode}"

    def _build(self) -> str:
        return compile_transform(self._src, "jacobian", self._wrt, self.mode)

    def jacobian(self, *args: Any, **kwargs: Any) -> Any:
        """The Jacobian, shaped output shape + input shape (a tuple of them for
        a tuple `wrt`; for a tuple of arrays of different shapes, a tuple of
        blocks shaped output shape + entry shape)."""
        return self._run("jacobian", *args, **kwargs)


class HessianFunction(_Transformed):
    """`f` with second derivatives: adds `.hessian(*args)` and `.hvp`, and
    the first ones its module holds, `.f_and_grad` and `.grad` (Newton's
    method takes both)."""

    kind = "hessian"

    def _build(self) -> str:
        return compile_transform(self._src, "hessian", self._wrt)

    def hessian(self, *args: Any, **kwargs: Any) -> Any:
        """The Hessian, shaped x.shape + x.shape for the `wrt` parameter x; for
        a tuple of arrays of different shapes, a tuple of tuples of blocks,
        H[q][p] shaped x[q].shape + x[p].shape, as JAX's."""
        return self._run("hessian", *args, **kwargs)

    def hvp(self, *args: Any, tangents: Any, **kwargs: Any) -> Any:
        """The Hessian times `tangents` (shaped like x, or a tuple like it),
        without forming it."""
        return self._run("hvp", *args, tangents=tangents, **kwargs)

    def f_and_grad(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """`(f(*args), gradient)`, as `symgrad.grad`'s."""
        return self._run("f_and_grad", *args, **kwargs)

    def grad(self, *args: Any, **kwargs: Any) -> Any:
        """The gradient alone."""
        return self.f_and_grad(*args, **kwargs)[1]


def _running_line(src: FunctionSource) -> Loc | None:
    """The line of `src` whose derivative the emitted code is running: the
    `# grad of: ...` comment above the current line of the innermost emitted
    frame that is not support code (`_written_grad`, copied from the runtime
    below the derivative code, raises), found among the function's lines
    (None where it is not there: a line of a helper function, or an
    ambiguous one)."""
    frame = sys._getframe(1)
    while frame is not None and not (
        frame.f_globals.get("__name__", "").startswith(_EMITTED)
        and not _support_code(frame.f_code.co_name)
    ):
        frame = frame.f_back
    if frame is None:
        return None
    emitted = linecache.getlines(frame.f_code.co_filename)[: frame.f_lineno]
    comment = next(
        (ln.strip() for ln in reversed(emitted) if ln.strip().startswith("# grad of")),
        "",
    )
    if not comment.startswith("# grad of: "):
        return None
    text = comment.removeprefix("# grad of: ")
    first, last = src.tree.lineno, src.tree.end_lineno or src.tree.lineno
    found = [n for n in range(first, last + 1) if src.lines[n - 1].strip() == text]
    if len(found) != 1:
        return None
    line = src.lines[found[0] - 1].rstrip("\n")
    return Loc(src.file, found[0], len(line) - len(line.lstrip()), line, src.name)


def _support_code(name: str) -> bool:
    """Is `name` a support function the emitted module copies from the
    runtime (as `resolve` tells them from emitted code)?"""
    return name.startswith("_") and hasattr(runtime, name)


def custom_functions(src: FunctionSource) -> dict[str, Any]:
    """The functions with custom rules `src` reaches through its names (and
    the functions it calls, transitively), with their derivative functions,
    by the names the emitted code calls them."""
    from .cache import global_names

    found: dict[str, Any] = {}
    seen: set[int] = set()
    pending = [src]
    while pending:
        fn = pending.pop()
        if id(fn.tree) in seen or fn.resolver is None:
            continue
        seen.add(id(fn.tree))
        targets = [fn.resolver.resolve(name) for name in global_names(fn.tree)]
        targets += [found for *_, found in member_reads(fn)]
        for target in targets:
            if isinstance(target, UserFunction):
                pending.append(target.source)
            elif isinstance(target, CustomFunction) and target.functions:
                for key, function in target.functions.items():
                    if found.setdefault(key, function) is not function:
                        raise BadInputError(
                            f"{src.name}: two different functions named '{key}' "
                            "have custom rules; the generated code calls them by "
                            "name, so give one another name",
                            src.loc(src.tree),
                        )
    return found


# How the name of an emitted module begins: a frame whose globals are such a
# module's runs emitted code.
_EMITTED = "symgrad_generated_"
_serials = itertools.count(1)  # (one per derivative object: see load_module)


def load_module(
    text: str,
    qualname: str,
    src: FunctionSource | None = None,
    entry: Path | None = None,
    serial: int = 0,
) -> types.ModuleType:
    """Execute emitted source as a fresh module; tracebacks show its lines.
    Functions with custom rules are bound from what `src` reaches.  With the
    path of the cache `entry` the text came from, its code object is cached
    beside it, and is that file's, numbered as the file is: Python's own
    traceback (which reads no `linecache`) shows the line that raised.
    Without one, the text is the `linecache` lines of a name that holds the
    `serial` of the derivative object loading it (`<symgrad:loss.grad:3>`:
    two functions named `loss`, or one differentiated for two `wrt`, keep
    their own lines; one object built again replaces its own)."""
    if entry is None:
        filename = f"<symgrad:{qualname}:{serial}>"
        lines = text.splitlines(True)
        linecache.cache[filename] = (len(text), None, lines, filename)
    else:
        filename = str(entry)  # (linecache reads the file if asked)
    module = types.ModuleType(f"{_EMITTED}{qualname.replace('.', '_')}")
    module.__file__ = filename
    if custom.listed_names(text):
        available = custom_functions(src) if src is not None else {}
        module.__dict__.update(custom.bindings(text, available))
    first_line = 1 if entry is None else cache.HEADER_LINES + 1
    exec(cache.compiled(text, filename, entry, first_line), module.__dict__)
    owner = qualname.rsplit(".", 1)[0]
    for name in ("f_and_grad", "f_and_jvp", "grad_and_hvp"):
        if name in module.__dict__:  # (Python's TypeError for a missing
            # argument names it: `loss.f_and_grad() missing 1 required ...`)
            module.__dict__[name].__qualname__ = f"{owner}.{name}"
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
    return _decorated(GradFunction, fun, wrt, has_aux)


def jvp(fun: Callable[..., Any] | None = None, *, wrt: Wrt = None) -> Any:
    """Forward mode: `@jvp`, `@jvp(wrt=...)`, `jvp(f, wrt=...)`.

    The result calls like `fun` and adds `.f_and_jvp(*args, tangents=v)`,
    returning `(fun(*args), J v)`, and `.jvp(*args, tangents=v)`.  `v` has the
    shape of the `wrt` parameter, or is a tuple of such for a tuple `wrt`."""
    if fun is None:
        return functools.partial(jvp, wrt=wrt)
    return _decorated(JvpFunction, fun, wrt)


def jacobian(
    fun: Callable[..., Any] | None = None, *, wrt: Wrt = None, mode: str | None = None
) -> Any:
    """The Jacobian of a function returning an array: `.jacobian(*args)`.

    `mode="fwd"` builds it a column per input entry, `mode="rev"` a row per
    output entry, and None (the default) picks the mode with fewer passes."""
    if fun is None:
        return functools.partial(jacobian, wrt=wrt, mode=mode)
    return _decorated(JacobianFunction, fun, wrt, mode)


def hessian(fun: Callable[..., Any] | None = None, *, wrt: Wrt = None) -> Any:
    """Second derivatives of a scalar function: `.hessian(*args)` and
    `.hvp(*args, tangents=v)`, by forward mode over the emitted gradient."""
    if fun is None:
        return functools.partial(hessian, wrt=wrt)
    return _decorated(HessianFunction, fun, wrt)


def _decorated(kind: type[_Transformed], *args: Any) -> Any:
    """`kind(*args)`; an error in what symgrad reads when decorating (syntax it
    refuses, a bad `wrt`) is raised without symgrad's frames, as a compile
    error is: the message names the user's line."""
    try:
        return kind(*args)
    except SymgradError as exc:
        raise exc.with_traceback(None) from None
