"""Name resolution: what a global name in a differentiated function refers to.

Two resolvers answer the same question with the same kinds of answer:

* `LiveResolver` looks in a function's real globals and closure (decorator).
* `StaticResolver` reads a module's AST without running it (CLI): imports,
  top-level `def`s and top-level assignments of literal constants; a name
  imported with `from helpers import relu` from a module file beside it (or
  in a package folder beside it) is read from that file the same way.

Answers: `Module` (numpy under any alias, or math), `UserModule` (any other
module, `import layers as L`, whose functions and constants `L.dense` and
`L.SCALE` resolve as if imported by name), `LibFunction` (a numpy,
math or builtin function, or a support function of an emitted module),
`UserFunction` (plain Python code to inline), `CustomFunction` (a function
with a `symgrad.rule` or marked nondifferentiable, called by name),
`Constant` (a number, tuple, array or None), or None when the name means nothing
symgrad can read.  A `StaticResolver` reading emitted code (`generated`) may
fall back to the resolver of the function the code came from.  Equal
programs resolve equally on both paths, so the CLI emits byte-identical
modules to the decorator's.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import math
import os
import types
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import prelude, runtime
from . import source as source_mod
from .custom import Rule
from .source import FunctionSource

BUILTINS = {
    "abs",
    "len",
    "float",
    "int",
    "max",
    "min",
    "pow",
    "range",
    "reversed",
    "slice",
    "zip",
    "enumerate",
    "sum",
}


def builtin(name: str) -> LibFunction | UserFunction:
    """A Python builtin symgrad reads: `sum` is the prelude's definition."""
    return _prelude(name) if name in prelude.BUILTINS else LibFunction("builtins", name)


@dataclass(frozen=True)
class Module:
    lib: str  # "numpy" | "numpy.linalg" | "math"


@dataclass(frozen=True, eq=False)
class UserModule:
    """A module other than numpy and math (`import layers as L`): `L.dense`
    is what `dense` means in it (`member`).  `namespace` is a live module's
    dict (None for a file read by the command line)."""

    name: str
    resolver: Any  # (a ModuleResolver or the StaticResolver of its file)
    namespace: dict | None = None

    def member(self, attr: str) -> Resolved | None:
        return self.resolver.member(attr)


@dataclass(frozen=True)
class LibFunction:
    lib: str  # "numpy" | "math" | "builtins" | "symgrad" (emitted support code)
    name: str


@dataclass(frozen=True, eq=False)
class UserFunction:
    source: FunctionSource


@dataclass(frozen=True, eq=False)
class Constant:
    value: object
    name: str


@dataclass(frozen=True)
class Unreadable:
    """A name the static resolver sees assigned but cannot evaluate."""

    reason: str


@dataclass(frozen=True)
class CustomFunction:
    """A function with a custom rule or marked nondifferentiable (`custom`);
    `functions` are it and its derivative functions by name (None when read
    from a file)."""

    rule: Rule
    functions: Any = None


Resolved = (
    Module
    | UserModule
    | LibFunction
    | UserFunction
    | Constant
    | Unreadable
    | CustomFunction
)


def member_reads(
    src: FunctionSource,
) -> list[tuple[str, UserModule, str, Resolved | None]]:
    """Every `m.name` in `src` (`pkg.sub.name` too) where `m` resolves to a
    user module, with the dotted name, the module, the attribute and what it
    resolves to there, in the order of the source; each once.  (A live
    function whose global names hold no module of the user's has none: its
    tree is not read, nor parsed; a cache hit reads this for every function.)"""
    found: dict[str, tuple[str, UserModule, str, Resolved | None]] = {}
    modules: dict[str, UserModule | None] = {}  # a base name -> its module
    resolver = src.resolver
    if resolver is None:
        return []
    live = getattr(resolver, "global_names", None)
    if live is not None and not any(_user_module(resolver, n) for n in live()):
        return []
    tree = src.tree

    def module_of(node: ast.expr) -> tuple[str, UserModule] | None:
        if isinstance(node, ast.Name):
            if node.id not in modules:
                modules[node.id] = _user_module(resolver, node.id)
            module = modules[node.id]
            return None if module is None else (node.id, module)
        if isinstance(node, ast.Attribute):
            outer = module_of(node.value)
            if outer is not None:
                inner = member(node, *outer)
                if isinstance(inner, UserModule):
                    return f"{outer[0]}.{node.attr}", inner
        return None

    def member(node: ast.Attribute, base: str, module: UserModule) -> Resolved | None:
        dotted = f"{base}.{node.attr}"
        if dotted not in found:
            found[dotted] = (dotted, module, node.attr, module.member(node.attr))
        return found[dotted][3]

    body = tree.body if isinstance(tree, ast.FunctionDef) else [tree]
    for node in (n for stmt in body for n in ast.walk(stmt)):  # (no decorators)
        if isinstance(node, ast.Attribute):
            module_of(node)
    return sorted(found.values(), key=lambda entry: entry[0])


def _user_module(resolver: Any, name: str) -> UserModule | None:
    found = resolver.resolve(name)
    return found if isinstance(found, UserModule) else None


# np.linalg's functions that are primitives (`library.LINALG`, named here:
# a cached module's load must not import sympy, which `library` does).
LINALG_OPS = ("det", "inv", "solve", "cholesky")
# Modules whose functions a file may import by name (`from numpy import sin`).
_LIBRARIES = ("numpy", "math", "numpy.linalg")


def module_attribute(module: Module, attr: str) -> Resolved | None:
    """`np.sin`, `math.pi`, `np.newaxis`: an attribute of numpy or math; for
    `np.var`, `np.std` and `np.linalg.norm`, their definitions (`prelude`)."""
    if module.lib == "numpy.linalg":
        if attr in LINALG_OPS:
            return LibFunction(module.lib, attr)
        return _prelude(attr) if attr in prelude.LINALG else None
    if module.lib == "numpy" and attr in prelude.NUMPY:
        return _prelude(attr)
    if module.lib == "numpy" and attr == "linalg":
        return Module("numpy.linalg")
    lib = np if module.lib == "numpy" else math
    value = getattr(lib, attr, None)
    prefix = "np" if module.lib == "numpy" else "math"
    if attr == "newaxis" and module.lib == "numpy":
        return Constant(None, "None")
    if isinstance(value, float):
        return Constant(value, f"{prefix}.{attr}")
    if callable(value):
        return LibFunction(module.lib, attr)
    return None


def prelude_method(name: str) -> UserFunction | None:
    """`x.var(...)`, `x.std(...)`, `x.trace(...)`, `x.take(...)`,
    `x.swapaxes(...)`: methods that are the prelude's function called with
    the array first (numpy's own parameter order)."""
    methods = ("var", "std", "trace", "take", "swapaxes")
    return _prelude(name) if name in methods else None


@functools.cache
def _prelude(name: str) -> UserFunction:
    fn = prelude.NUMPY.get(name) or prelude.LINALG.get(name) or prelude.BUILTINS[name]
    return UserFunction(source_mod.from_function(fn, LiveResolver(fn)))


def _classify(value: Any, name: str, resolver_for: Any) -> Resolved | None:
    if value is np:
        return Module("numpy")
    if value is math:
        return Module("math")
    if value is np.linalg:
        return Module("numpy.linalg")
    marked = getattr(value, "__symgrad_rule__", None)
    if isinstance(marked, Rule):
        return CustomFunction(marked, getattr(value, "__symgrad_bindings__", None))
    wrapped = getattr(value, "__symgrad_original__", None)
    if wrapped is not None:
        value = wrapped
    if isinstance(value, types.FunctionType) and value is getattr(
        runtime, value.__name__, None
    ):
        return LibFunction("symgrad", value.__name__)  # (the prelude's `_inexact`)
    if isinstance(value, types.FunctionType):
        return UserFunction(source_mod.from_function(value, resolver_for(value)))
    if isinstance(value, types.ModuleType) and value.__name__ != "symgrad":
        return UserModule(value.__name__, ModuleResolver(value), vars(value))
    fname = getattr(value, "__name__", None)
    if fname is not None and getattr(np, fname, None) is value:
        return module_attribute(Module("numpy"), fname)
    if fname is not None and getattr(np.linalg, fname, None) is value:
        return module_attribute(Module("numpy.linalg"), fname)
    if fname is not None and getattr(math, fname, None) is value:
        return LibFunction("math", fname)
    if fname in BUILTINS and getattr(builtins, fname) is value:
        return builtin(fname)
    if _is_constant(value):
        return Constant(value, name)
    return None


def classify(value: Any, name: str) -> Resolved | None:
    """What a live value `name` is bound to means to symgrad."""
    return _classify(value, name, LiveResolver)


def _module_beside(
    path: str, module: str, level: int, read: dict[str, StaticResolver]
) -> StaticResolver | None:
    """The resolver of the module file `from <module> import ...` names, looked
    for beside `path` (`helpers.py`, `pkg/sub.py`, `pkg/__init__.py`; with
    `level`, relative to `path`'s package), or None where there is none;
    `read` keeps the files read by one resolver (each file read once)."""
    folder = os.path.dirname(os.path.abspath(path))
    for _ in range(max(level - 1, 0)):
        folder = os.path.dirname(folder)
    base = os.path.join(folder, *module.split(".")) if module else folder
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            real = os.path.realpath(candidate)
            if real not in read:
                with open(real, encoding="utf-8") as file:
                    tree, lines = source_mod.from_module(real, file.read())
                read[real] = StaticResolver(real, tree, lines)
                read[real].read = read  # (a file read twice is one resolver)
            return read[real]
    return None


_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With)
_COMPOUND += (
    ast.AsyncWith,
    ast.Match,
    *([ast.TryStar] if hasattr(ast, "TryStar") else []),
)


def _rebound(tree: ast.Module) -> set[str]:
    """Module-level names whose value a reading of the top level in order
    cannot know: augmented (`K += 1.0`), bound inside a top-level `if`, loop,
    `try` or `with` (`if __name__ == "__main__": X = load()`), or declared
    `global` in a function."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            found.add(node.target.id)
        found |= bound_inside(node)
        for inner in ast.walk(node):
            if isinstance(inner, ast.Global):
                found.update(inner.names)
    return found


def bound_inside(node: ast.stmt) -> set[str]:
    """The names a top-level `if`, loop, `try` or `with` may bind."""
    found: set[str] = set()
    if isinstance(node, _COMPOUND):
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                found.add(inner.id)
            elif isinstance(inner, ast.FunctionDef | ast.alias):
                found.add(getattr(inner, "asname", None) or inner.name)
    return found


# Methods of an array that change it, and builtins that change nothing.
_IN_PLACE_METHODS = {"fill", "sort", "resize", "put", "itemset", "partition"}
_PURE_BUILTINS = {"print", "len", "repr", "str", "isinstance", "type", "id"}


def bound_names(node: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds (not inside a
    compound statement: `_rebound` makes those unreadable)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, ast.AnnAssign) and node.value is None:
        return set()  # (`J: float` binds nothing)
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {
            inner.id
            for target in targets
            for inner in ast.walk(target)
            if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store)
        }
    return set()


def _an_array(found: object) -> bool:
    return isinstance(found, Constant) and isinstance(found.value, np.ndarray)


def _changed(name: str) -> Unreadable:
    return Unreadable(
        f"module-level name '{name}' is changed where the command line cannot "
        "follow it (an unpacking, an update in place, maybe through another name "
        "for its array), and the file is read without running it"
    )


def _is_constant(value: Any) -> bool:
    if value is None:  # (a bound or an option left out: `LOW = None`)
        return True
    if isinstance(value, bool | int | float | str | np.number):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    if isinstance(value, tuple):  # (of numbers, or of strings: `MODES`)
        return all(isinstance(v, int | float | str) for v in value)
    return False


class LiveResolver:
    """Resolve names through a function object's globals and closure."""

    def __init__(self, fn: types.FunctionType):
        self.globals = fn.__globals__
        self.code = fn.__code__
        cells = fn.__closure__ or ()
        self.cells = dict(zip(fn.__code__.co_freevars, cells, strict=True))
        # the parameters' defaults, as Python evaluated them at the `def`
        positional = self.code.co_varnames[: self.code.co_argcount]
        values = fn.__defaults__ or ()
        named = positional[len(positional) - len(values) :]
        self.defaults = dict(zip(named, values, strict=True))
        self.defaults.update(fn.__kwdefaults__ or {})

    @property
    def closure(self) -> dict[str, object]:
        """The values the function reads from enclosing functions, as they are
        now (the enclosing function may have rebound one since)."""
        values = {}
        for var, cell in self.cells.items():
            try:
                values[var] = cell.cell_contents
            except ValueError:  # an empty cell: assigned later in the outer scope
                continue
        return values

    def bound(self, name: str) -> bool:
        """Is `name` the function's global or a variable of a scope around it
        (not a builtin, nor an attribute's name, the `sum` of `np.sum`, which
        the code object lists with them)?"""
        return name in self.cells or name in self.globals

    def resolve(self, name: str) -> Resolved | None:
        for scope in (self.closure, self.globals):
            if name in scope:
                return _classify(scope[name], name, LiveResolver)
        if name in BUILTINS:
            return builtin(name)
        return None

    def global_names(self) -> list[str]:
        """The names the function's code reads from its globals (those of its
        nested functions and lambdas too) and from the scopes it is nested in
        (its closure), sorted; a parameter or local variable is never among
        them, whatever the module defines."""
        names: set[str] = set(self.code.co_freevars)
        codes = [self.code]
        while codes:
            code = codes.pop()
            names.update(code.co_names)
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        return sorted(names)

    def module_name(self, name: str) -> str | None:
        """The real name of the module bound to `name` (`hp` for `helpers`)."""
        for scope in (self.closure, self.globals):
            if name in scope:
                value = scope[name]
                return value.__name__ if isinstance(value, types.ModuleType) else None
        return None


class ModuleResolver:
    """Resolve the attributes of a user's module object (`L.dense`)."""

    def __init__(self, module: types.ModuleType):
        self.namespace = vars(module)

    def member(self, name: str) -> Resolved | None:
        if name not in self.namespace:
            return None
        return _classify(self.namespace[name], name, LiveResolver)


class StaticResolver:
    """Resolve names by reading a module's top level, never executing it."""

    def __init__(
        self,
        path: str,
        tree: ast.Module,
        lines: tuple[str, ...],
        generated: bool = False,
        fallback: Any = None,
    ):
        """`generated`: the module is one symgrad emitted, whose support
        functions (`_unbroadcast`...) are primitives, not code to inline.
        `fallback` resolves what the module itself does not define (for
        emitted code: the resolver of the function it came from, which knows
        the custom rules' functions and constants the module could not spell)."""
        self.path, self.lines, self.generated = path, lines, generated
        self.fallback = fallback
        self.table: dict[str, Any] = {}
        # how many times the top level binds each name (a parameter's default
        # is the binding before its `def`, which the table does not tell)
        self.times_bound: Counter = Counter()
        self.symgrad: set[str] = set()  # names of the symgrad module
        self.markers: dict[str, str] = {}  # local name -> "rule" | "nondifferentiable"
        self.from_symgrad: set[str] = set()  # `from symgrad import grad`: grad
        self.imported_as: dict[str, str] = {}  # `from m import f as g`: g -> f
        # `import helpers as hp`: hp -> helpers; `from pkg import sub as s`:
        # s -> pkg.sub (what a hint about `s.SCALE` names)
        self.modules: dict[str, str] = {}
        # `from helpers import relu as r`: r -> ("helpers", level 0, "relu")
        self.imports: dict[str, tuple[str, int, str]] = {}
        # `import layers as L`: L -> layers (read from a file beside, if any)
        self.user_modules: dict[str, str] = {}
        self.read: dict[str, StaticResolver] = {}  # module files read, by path
        self.resolving: set[str] = set()  # (an import cycle resolves to None)
        # names whose values may share memory (`B = A`, `V = A.view()`,
        # `L = [A]`): a change in place of one changes all
        self.shared: dict[str, set[str]] = {}
        for node in tree.body:
            for name in bound_names(node):  # (the last binding is the one read)
                for names in (self.table, self.imports, self.user_modules):
                    names.pop(name, None)
            if isinstance(node, ast.ImportFrom) and node.names[0].name == "*":
                for name, found in self.table.items():  # (it may bind them anew)
                    if isinstance(found, Constant | ast.FunctionDef):
                        self.table[name] = Unreadable(
                            f"module-level name '{name}' may be bound anew by "
                            f"'from {node.module} import *', and the command line "
                            "reads the file without running it"
                        )
                continue
            self._bind(node)
        for name in _rebound(tree):
            self.table[name] = Unreadable(
                f"module-level name '{name}' is changed where the command line "
                "cannot follow it (an augmented assignment, a branch or loop, or "
                "a function's `global`), and the file is read without running it"
            )

    def _bind(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            self.symgrad.update(
                a.asname or a.name for a in node.names if a.name == "symgrad"
            )
            for alias in node.names:
                if alias.name in ("numpy", "math"):
                    self.table[alias.asname or alias.name] = Module(alias.name)
                elif alias.name == "numpy.linalg" and alias.asname:
                    self.table[alias.asname] = Module(alias.name)
                elif alias.name.startswith("numpy."):  # (`import numpy.linalg`
                    self.table["numpy"] = Module("numpy")  # binds numpy)
                elif alias.name.split(".")[0] not in ("symgrad", "numpy"):
                    local = alias.asname or alias.name.split(".")[0]
                    self.user_modules[local] = alias.name if alias.asname else local
                if alias.asname:
                    self.modules[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module in _LIBRARIES:
            for alias in node.names:
                found = module_attribute(Module(node.module), alias.name)
                if found is not None:
                    self.table[alias.asname or alias.name] = found
        elif isinstance(node, ast.ImportFrom) and node.module == "symgrad":
            for alias in node.names:
                self.from_symgrad.add(alias.asname or alias.name)
                if alias.name in ("rule", "nondifferentiable"):
                    self.markers[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):  # a function's name where defined
            for alias in node.names:
                self.imports[alias.asname or alias.name] = (
                    node.module or "",
                    node.level,
                    alias.name,
                )
                if alias.asname:
                    self.imported_as[alias.asname] = alias.name
                if node.module and not node.level:  # (`from pkg import sub`)
                    local = alias.asname or alias.name
                    self.modules[local] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.FunctionDef):
            if (
                self.generated
                and node.name.startswith("_")
                and hasattr(runtime, node.name)
            ):
                self.table[node.name] = LibFunction("symgrad", node.name)
            else:
                marked = self._custom(node)
                if marked is None:
                    marked = self._decorated(node)
                self.table[node.name] = node if marked is None else marked
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                self._assign(target, node.value)
            self._share(targets, node.value)
        elif isinstance(node, _COMPOUND):
            self._nested(node)
        self._changes(node)

    def _share(self, targets: list[ast.expr], value: ast.expr) -> None:
        """Record that the names `targets` bind may share memory with the
        arrays `value` may be (`B = A`, `V = A.view()`, `L = [A]`, `row` of
        `for row in [C]`), and that a list written into holds them."""
        bound, holders = set(), set()
        for target in targets:
            for inner in ast.walk(target):
                if isinstance(inner, ast.Name):
                    stored = isinstance(inner.ctx, ast.Store)
                    (bound if stored else holders).add(inner.id)
        for name in bound:  # (bound anew: out of the group it was in)
            self.shared.pop(name, {name}).discard(name)
        group = set(bound)
        for name in holders | self._memory(value):
            group |= self.shared.get(name, {name})
        if len(group) > 1:
            for name in group:
                self.shared[name] = group

    def _memory(self, node: ast.expr) -> set[str]:
        """The names of arrays or lists whose memory `node`'s value may share:
        the array itself, a view (`A[1:]`, `A.T`, `A.reshape(2, 2)`), a
        container (`[A]`), a call's argument or receiver (not a copy's:
        `A.copy()`, `np.copy(A)`, `np.array(A)`); arithmetic makes new arrays."""
        if isinstance(node, ast.Name):
            found = self.table.get(node.id)
            if found is None or isinstance(found, Constant | Unreadable):
                return {node.id}
            return set()
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            parts = node.elts
        elif isinstance(node, ast.Subscript | ast.Attribute | ast.Starred):
            parts = [node.value]
        elif isinstance(node, ast.NamedExpr):
            parts = [node.value]
        elif isinstance(node, ast.IfExp):
            parts = [node.body, node.orelse]
        elif isinstance(node, ast.BoolOp):
            parts = node.values
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and (
                func.attr == "copy"
                or func.attr == "array"
                and isinstance(func.value, ast.Name)
                and self.table.get(func.value.id) == Module("numpy")
            ):
                return set()
            receiver = [func.value] if isinstance(func, ast.Attribute) else []
            parts = receiver + node.args + [kw.value for kw in node.keywords]
        else:
            return set()
        return set().union(*(self._memory(part) for part in parts))

    def _mark_changed(self, name: str) -> None:
        """`name`'s array (or list) changed in place: it, and every array
        that may share its memory, is unreadable."""
        for other in self.shared.get(name, {name}):
            if other == name or _an_array(self.table.get(other)):
                self.table[other] = _changed(other)

    def _nested(self, node: ast.stmt) -> None:
        """What the statements inside a top-level `if`, loop, `try` or `with`
        share and change (the names they bind are `_rebound`'s)."""
        for inner in ast.walk(node):
            if isinstance(inner, ast.Assign | ast.AnnAssign) and inner.value:
                if isinstance(inner, ast.Assign):
                    targets = inner.targets
                else:
                    targets = [inner.target]
                self._share(targets, inner.value)
                for target in targets:  # (`A[0] = 5.0`)
                    if isinstance(target, ast.Subscript | ast.Attribute):
                        self._changes(ast.AugAssign(target, ast.Add(), target))
            elif isinstance(inner, ast.For | ast.AsyncFor):
                self._share([inner.target], inner.iter)
            if isinstance(inner, ast.stmt) and inner is not node:
                self._changes(inner)

    def _changes(self, node: ast.stmt) -> None:
        """Make unreadable what a top-level statement changes where the
        command line cannot follow: an array updated in place (`C[0] += 1.0`,
        `C.fill(2.0)`, `out=C`, `np.copyto(C, D)` as a statement), a name
        deleted or bound by `:=` (`K += 1.0` is `_rebound`'s).  Not what a
        function's body does when called: the decorator reads that."""
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return
        changed: list[ast.expr] = []
        if isinstance(node, ast.AugAssign | ast.Delete):
            changed = node.targets if isinstance(node, ast.Delete) else [node.target]
        for inner in ast.walk(node):
            if isinstance(inner, ast.NamedExpr):
                self.table[inner.target.id] = _changed(inner.target.id)
            if not isinstance(inner, ast.Call):
                continue
            changed += [kw.value for kw in inner.keywords if kw.arg == "out"]
            func = inner.func
            if isinstance(func, ast.Attribute) and func.attr in _IN_PLACE_METHODS:
                changed.append(func.value)
            pure = isinstance(func, ast.Name) and func.id in _PURE_BUILTINS
            if isinstance(node, ast.Expr) and inner is node.value and not pure:
                changed += inner.args  # (a call made for what it changes,
                if isinstance(func, ast.Attribute):  # `A.__iadd__(1.0)`)
                    changed.append(func.value)
        for inner in (n for part in changed for n in ast.walk(part)):
            if not isinstance(inner, ast.Name):
                continue
            found = self.table.get(inner.id)
            if isinstance(inner.ctx, ast.Del) and isinstance(found, Constant):
                self.table[inner.id] = _changed(inner.id)
            elif found is None or isinstance(found, Unreadable) or _an_array(found):
                # (an array's name, or a list's, `L[0][0] = 9.0`; not a
                # number's, `print(K)`, nor a module's, `np.random.seed(0)`)
                self._mark_changed(inner.id)

    def _assign(self, target: ast.expr, node: ast.expr) -> None:
        """Bind `target = node` at the top level: a name, or names unpacked
        from a tuple or list written out; anything else leaves what it
        binds or changes unreadable."""
        if isinstance(target, ast.Name):
            self.times_bound[target.id] += 1
            # `DTYPE = np.float32`: what the decorator reads it as
            scalar = self._scalar_type(node)
            if scalar is not None:
                self.table[target.id] = LibFunction("numpy", scalar)
                return
            try:
                value = self._literal(node)
            except (ValueError, SyntaxError, TypeError):
                self.table[target.id] = Unreadable(
                    f"module-level name '{target.id}' is not a literal constant, "
                    "and the command line reads the file without running it"
                )
                return
            if _is_constant(value):
                self.table[target.id] = Constant(value, target.id)
            return
        if (
            isinstance(target, ast.Tuple | ast.List)
            and isinstance(node, ast.Tuple | ast.List)
            and len(target.elts) == len(node.elts)
            and not any(isinstance(e, ast.Starred) for e in target.elts + node.elts)
        ):
            for part, value in zip(target.elts, node.elts, strict=True):
                self._assign(part, value)
            return
        if isinstance(target, ast.Subscript | ast.Attribute):  # (`C[0] = 9.0`)
            self._changes(ast.AugAssign(target, ast.Add(), target))
            return
        for inner in ast.walk(target):  # (`A, B = pair`: bound to what?)
            if isinstance(inner, ast.Name):
                self.table[inner.id] = _changed(inner.id)

    def _scalar_type(self, node: ast.expr) -> str | None:
        """The name of the numpy scalar type `node` spells (`np.float32`)."""
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and self.table.get(node.value.id) == Module("numpy")
            and isinstance(getattr(np, node.attr, None), type)
            and issubclass(getattr(np, node.attr), np.generic)
        ):
            return node.attr
        return None

    def _literal(self, node: ast.expr) -> Any:
        """A literal, `np.array(<literal>, dtype=<literal>)` (as emitted
        modules write array constants) or a numpy scalar `np.float64(<literal>)`."""
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and self.table.get(node.func.value.id) == Module("numpy")
            and isinstance(getattr(np, node.func.attr, None), type)
            and issubclass(getattr(np, node.func.attr), np.number)
            and len(node.args) == 1
            and not node.keywords
        ):
            value = ast.literal_eval(self._numpy_floats(node.args[0]))
            return getattr(np, node.func.attr)(value)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("array", "asarray")
            and isinstance(node.func.value, ast.Name)
            and self.table.get(node.func.value.id) == Module("numpy")
            and len(node.args) == 1
            and all(kw.arg == "dtype" for kw in node.keywords)
        ):
            dtype = [self._dtype(kw.value) for kw in node.keywords]
            value = ast.literal_eval(self._numpy_floats(node.args[0]))
            return np.array(value, dtype=(dtype or [None])[0])
        return ast.literal_eval(node)

    def _numpy_floats(self, node: ast.expr) -> ast.expr:
        """`node` with `np.inf`, `np.nan` (and other numpy float constants)
        replaced by their values, for `ast.literal_eval`."""

        class Replace(ast.NodeTransformer):
            def visit_Attribute(inner, attribute: ast.Attribute) -> ast.AST:
                base = attribute.value
                if isinstance(base, ast.Name) and self.table.get(base.id) == Module(
                    "numpy"
                ):
                    value = getattr(np, attribute.attr, None)
                    if isinstance(value, float):
                        return ast.copy_location(ast.Constant(value), attribute)
                return attribute

        return Replace().visit(copy.deepcopy(node))

    def _dtype(self, node: ast.expr) -> Any:
        """`"float64"`, `float` or `np.float64` as a dtype argument."""
        if isinstance(node, ast.Name) and node.id in ("float", "int", "bool"):
            return node.id
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and self.table.get(node.value.id) == Module("numpy")
            and isinstance(getattr(np, node.attr, None), type)
        ):
            return getattr(np, node.attr)
        return ast.literal_eval(node)

    def _custom(self, node: ast.FunctionDef) -> CustomFunction | Unreadable | None:
        """The rule a `@symgrad.rule(...)` or `@symgrad.nondifferentiable`
        decorator gives `node`, read from the decorator's source."""
        arity = len(node.args.args)
        for dec in node.decorator_list:
            call = dec if isinstance(dec, ast.Call) else None
            target = call.func if call is not None else dec
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                kind = target.attr if target.value.id in self.symgrad else None
            else:
                kind = self.markers.get(getattr(target, "id", None))
            if kind == "nondifferentiable" and call is None:
                return CustomFunction(Rule(node.name, arity, nondiff=True))
            if kind == "rule" and call is not None:
                named = {}
                for kw in call.keywords:
                    value = kw.value
                    listed = isinstance(value, ast.Tuple | ast.List)
                    items = value.elts if listed else [value]
                    names = [
                        (
                            self.imported_as.get(i.id, i.id)
                            if isinstance(i, ast.Name)
                            else None
                        )
                        for i in items
                    ]
                    if any(
                        n is None
                        for n, i in zip(names, items, strict=True)
                        if not (isinstance(i, ast.Constant) and i.value is None)
                    ):
                        return Unreadable(
                            f"the rule of '{node.name}' must name its derivative "
                            "functions (module-level defs)"
                        )
                    named[kw.arg] = tuple(names) if kw.arg == "grad" else names[0]
                return CustomFunction(
                    Rule(
                        node.name,
                        arity,
                        named.get("grad"),
                        named.get("vjp"),
                        named.get("jvp"),
                    )
                )
        return None

    def _decorated(self, node: ast.FunctionDef) -> Unreadable | None:
        """A function with a decorator that is not symgrad's: what its name
        is bound to is the decorator's result, which reading the file cannot
        tell (the source of the function alone would drop its effect)."""
        for dec in node.decorator_list:
            target = dec.func if isinstance(dec, ast.Call) else dec
            while isinstance(target, ast.Attribute):
                target = target.value
            name = getattr(target, "id", None)
            if name not in self.symgrad and name not in self.from_symgrad:
                return Unreadable(
                    f"'{node.name}' is decorated with '@{ast.unparse(dec)}', which "
                    "the command line does not run (it reads the file), so it "
                    "cannot tell what the decorator makes of the function"
                )
        return None

    def function(self, node: ast.FunctionDef) -> FunctionSource:
        return FunctionSource(node.name, node, self.path, self.lines, 0, self)

    def module_name(self, name: str) -> str | None:
        """The real name of a module imported as `name`, if it has another."""
        return self.modules.get(name)

    def member(self, name: str) -> Resolved | None:
        """What `module.name` means, for the module of this file: a name it
        defines or imports, or a package's module file."""
        if name in self.table or name in self.imports or name in self.user_modules:
            return self.resolve(name)
        return self._submodule(name)

    def _submodule(self, name: str) -> UserModule | None:
        """`pkg.sub` for the `__init__.py` of `pkg`: the module file `sub.py`
        (or folder) beside it."""
        if os.path.basename(self.path) != "__init__.py":
            return None
        other = _module_beside(self.path, name, 0, self.read)
        return None if other is None else UserModule(name, other)

    def resolve(self, name: str) -> Resolved | None:
        found = self.table.get(name)
        if isinstance(found, ast.FunctionDef):
            return UserFunction(self.function(found))
        if found is None and name in self.user_modules:
            other = _module_beside(self.path, self.user_modules[name], 0, self.read)
            if other is not None:
                return UserModule(self.user_modules[name], other)
        if found is None and name in self.imports and name not in self.resolving:
            module, level, original = self.imports[name]
            other = _module_beside(self.path, module, level, self.read)
            self.resolving.add(name)
            try:
                found = None if other is None else other.resolve(original)
                if found is None and other is not None:  # `from pkg import sub`
                    found = other._submodule(original)
            finally:
                self.resolving.discard(name)
            if isinstance(found, Constant):  # named as this module names it
                return Constant(found.value, name)
            if found is not None:
                return found
        if (found is None or isinstance(found, Unreadable)) and self.fallback:
            return self.fallback.resolve(name)
        if found is None and name in BUILTINS:
            return builtin(name)
        return found
