"""Lowering calls: numpy, math and builtin functions, methods, user functions.

`CallLowering` is the part of the frontend's `Lowerer` that handles calls:
it resolves the callee (`np.sin` under any alias, `math.exp`, `abs`, a method
such as `x.sum(axis=0)`, or one of the user's own functions), binds positional
and keyword arguments against the callee's `library.CallSpec` or signature, and
either emits one primitive or inlines the user function's body.  A function
with a custom rule stays a call (`custom`, `opaque`); `range(...)` used as a
value is the `range` primitive.  Errors name `file:line:col` of the call.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import inspect
import math
from typing import TYPE_CHECKING

import numpy as np

from . import library, prelude, resolve, rules
from .cache import constant
from .custom import Rule
from .errors import (
    BadInputError,
    Loc,
    NoDerivativeError,
    SymgradError,
    UnknownNameError,
    UnsupportedSyntaxError,
)
from .ir import Atom, Const, Index, Var, name_of
from .library import CallSpec
from .source import FunctionSource

if TYPE_CHECKING:
    from .frontend import Scope, Value


class CallLowering:
    """Call handling, mixed into `frontend.Lowerer`."""

    def call_user(self, fn, node: ast.Call, scope: Scope, hint: str | None) -> Value:
        """Inline a call of a module-level function or of a closure."""
        from .frontend import identity

        src = fn.source
        if identity(src) in self.stack:
            raise UnsupportedSyntaxError(
                f"recursive call to '{src.name}' is not supported", scope.src.loc(node)
            )
        from .fence import check
        from .frontend import Scope

        _check_fixed(src, node, scope)
        check(src)
        bound = _bind_user_args(src, node, scope.src)
        env: dict[str, Value] = {}
        for name, arg in bound.items():
            env[name] = (
                self.value(arg, scope) if isinstance(arg, ast.AST) else Const(arg)
            )
        parent = getattr(fn, "scope", None)
        return self.inline(Scope(src, env, dict(env), parent=parent), hint)

    def local_function(self, name: str, scope: Scope):
        """The closure `name` is bound to in `scope` or an enclosing one."""
        from .frontend import Closure

        while scope is not None:
            if name in scope.env:
                found = scope.env[name]
                return found if isinstance(found, Closure) else None
            scope = scope.parent
        return None

    def module_ref(self, node: ast.expr, scope: Scope) -> resolve.Module | None:
        if (
            isinstance(node, ast.Name)
            and node.id not in scope.env
            and scope.src.resolver
        ):
            found = scope.src.resolver.resolve(node.id)
            if isinstance(found, resolve.Module):
                return found
        if isinstance(node, ast.Attribute):  # np.linalg, or layers.np
            base = self.module_ref(node.value, scope)
            if base is not None:
                found = resolve.module_attribute(base, node.attr)
            else:
                user = self.user_module_ref(node.value, scope)
                found = None if user is None else user.member(node.attr)
            if isinstance(found, resolve.Module):
                return found
        return None

    def user_module_ref(
        self, node: ast.expr, scope: Scope
    ) -> resolve.UserModule | None:
        """The user's module `node` names (`L` of `import layers as L`, or
        `pkg.sub`), if it names one."""
        if isinstance(node, ast.Name) and node.id not in scope.env:
            if self.local_function(node.id, scope) is None and scope.src.resolver:
                found = scope.src.resolver.resolve(node.id)
                return found if isinstance(found, resolve.UserModule) else None
        if isinstance(node, ast.Attribute):
            base = self.user_module_ref(node.value, scope)
            found = None if base is None else base.member(node.attr)
            return found if isinstance(found, resolve.UserModule) else None
        return None

    def member(self, node: ast.Attribute, scope: Scope) -> object:
        """What `L.dense` or `L.SCALE` means, for `L` a user's module (see
        `user_module_ref`); `NOT_A_MODULE` when `node.value` is not one."""
        module = self.user_module_ref(node.value, scope)
        if module is None:
            return NOT_A_MODULE
        found = module.member(node.attr)
        if module.namespace is not None and node.attr not in module.namespace:
            raise UnknownNameError(  # (Python's AttributeError: a typo?)
                f"module '{module.name}' has no attribute '{node.attr}'",
                scope.src.loc(node),
            )
        value = (module.namespace or {}).get(node.attr)
        if found is None and isinstance(value, list | dict | set):
            raise UnknownNameError(
                f"'{dotted(node)}', a {type(value).__name__} in module "
                f"'{module.name}', is not a value symgrad can read",
                scope.src.loc(node),
                "symgrad reads numbers, tuples and arrays there: make it a tuple "
                "or an array, or pass it as an argument",
            )
        if found is None:
            raise NoDerivativeError(
                f"'{dotted(node)}' is not a function or constant symgrad can read "
                f"(module '{module.name}')",
                scope.src.loc(node),
                RANDOM_HINT if module.name.endswith("random") else None,
            )
        if isinstance(found, resolve.Unreadable):
            raise UnknownNameError(
                found.reason,
                scope.src.loc(node),
                "decorate in the running program, or pass the value as an argument",
            )
        return found

    def callee(self, func: ast.expr, scope: Scope) -> object:
        if isinstance(func, ast.Name):
            local = self.local_function(func.id, scope)
            if local is not None:
                return local
        if isinstance(func, ast.Name) and func.id not in scope.env:
            found = scope.src.resolver.resolve(func.id) if scope.src.resolver else None
            if func.id in scope.partial:
                raise UnsupportedSyntaxError(
                    f"function '{func.id}' is bound inside an if/else or a loop (a "
                    "different function on each path, or not on every path); "
                    "symgrad calls a function it can name where it is called",
                    scope.src.loc(func),
                    "define each with def and choose the call instead: "
                    "y = g1(x) if c else g2(x)",
                )
            if found is None:
                raise _unknown_function(func.id, scope.src.loc(func))
            return found
        if isinstance(func, ast.Attribute):
            module = self.module_ref(func.value, scope)
            if module is not None:
                found = resolve.module_attribute(module, func.attr)
                if found is None:
                    raise _not_known(module, func, scope.src.loc(func))
                return found
            found = self.member(func, scope)
            if found is not NOT_A_MODULE:
                return found
            root = func.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if root is not func.value and self.module_ref(root, scope) is not None:
                random = isinstance(func.value, ast.Attribute) and (
                    func.value.attr == "random"
                )
                raise NoDerivativeError(
                    f"no derivative rule for '{dotted(func)}'",
                    scope.src.loc(func),
                    RANDOM_HINT if random else None,
                )
            return ("method", func.attr)
        raise UnsupportedSyntaxError(
            "only calls of named functions and methods are supported",
            scope.src.loc(func),
        )

    def call(self, node: ast.Call, scope: Scope, hint: str | None) -> Atom:
        loc = scope.src.loc(node)
        callee = self.callee(node.func, scope)
        if isinstance(callee, tuple):
            return self.method(node, callee[1], scope, hint)
        if isinstance(callee, resolve.UserFunction) or hasattr(callee, "scope"):
            result = self.call_user(callee, node, scope, hint)
            return (
                self.pack(result, loc, hint)
                if not isinstance(result, Var | Const)
                else result
            )
        if isinstance(callee, resolve.CustomFunction):
            return self.custom(callee.rule, node, scope, hint)
        if isinstance(callee, resolve.Unreadable):  # (a decorated function)
            raise UnknownNameError(
                callee.reason,
                loc,
                "decorate in the running program, where symgrad reads the "
                "function the decorator returns",
            )
        if not isinstance(callee, resolve.LibFunction):
            raise UnsupportedSyntaxError(
                f"'{dotted(node.func)}' is not callable here", loc
            )
        if (callee.lib, callee.name) in (
            ("numpy", "einsum"),
            ("symgrad", "_einsum_grad"),
        ):
            return self.einsum(node, callee.name, scope, hint)
        table = {
            "numpy": library.NUMPY,
            "numpy.linalg": library.LINALG,
            "math": library.MATH,
            "symgrad": library.RUNTIME,
        }.get(callee.lib)
        spelling = None
        if table is None and callee.name == "range":
            bounds = [self.atom(a, scope) for a in node.args]
            if not 1 <= len(bounds) <= 3 or node.keywords:
                raise UnsupportedSyntaxError("range() takes 1 to 3 arguments", loc)
            bounds = ([Const(0)] if len(bounds) == 1 else []) + bounds
            bounds += [Const(1)] * (3 - len(bounds))
            return self.emit("range", tuple(bounds), loc, hint=hint)
        if table is None and callee.name not in library.BUILTINS:
            raise UnsupportedSyntaxError(
                f"{callee.name}() is supported only where a loop iterates "
                + ("or in an index" if callee.name == "slice" else "over it"),
                loc,
            )
        if table is None and callee.name in ("max", "min") and not node.keywords:
            if len(node.args) == 1 and _written_out(node.args[0]):
                # max([a, b, c]) is max(a, b, c), max([a]) is a: Python compares
                # the entries (`max([])`, which raises, is refused below)
                entries = node.args[0].elts
                if len(entries) == 1:
                    return self.atom(entries[0], scope, hint)
                if entries:
                    pair = ast.Call(node.func, entries, [])
                    return self.call(ast.copy_location(pair, node), scope, hint)
            if len(node.args) == 1:
                raise UnsupportedSyntaxError(
                    f"{callee.name}() of one sequence is not supported",
                    loc,
                    f"for an array, use np.{callee.name}(...), which symgrad "
                    "differentiates",
                )
            if len(node.args) > 2:  # max(a, b, c) is max(max(a, b), c), as Python
                inner = ast.copy_location(ast.Call(node.func, node.args[:-1], []), node)
                pair = ast.Call(node.func, [inner, node.args[-1]], [])
                return self.call(ast.copy_location(pair, node), scope, hint)
        if table is None:
            spec, spelling = library.BUILTINS[callee.name]
            if callee.name == "float" and _literal_text(node):
                return self.constant(float(node.args[0].value), loc)  # float("inf")
        else:
            spec = table.get(callee.name)
            if callee.lib == "numpy" and getattr(np, callee.name, None) is np.float64:
                spec = table["float64"]  # (np.double)
            if callee.lib == "math" and (spec is None or not spec.static):
                # (a call printed as spelled has no keywords: math.isclose's
                # template has them)
                spelling = f"math.{callee.name}"
        if (callee.lib, callee.name) == ("numpy", "nonzero") or (
            (callee.lib, callee.name) == ("numpy", "where")
            and len(node.args) == 1
            and not node.keywords
        ):
            raise nonzero_outside_an_index(loc)
        if spec is None and callee.lib == "numpy" and _is_scalar_type(callee.name):
            return self.scalar_type(node, callee.name, scope, hint)
        if (callee.lib, callee.name) == ("math", "log") and len(node.args) == 2:
            # math.log(x, base) is log(x) / log(base), as CPython computes it
            x, base = (
                ast.copy_location(ast.Call(node.func, [a], []), node) for a in node.args
            )
            ratio = ast.copy_location(ast.BinOp(x, ast.Div(), base), node)
            return self.atom(ratio, scope, hint)
        if spec is None:
            raise NoDerivativeError(
                f"no derivative rule for '{dotted(node.func)}'",
                loc,
                "write it with supported numpy operations in a helper function",
            )
        if (
            callee.lib == "numpy"
            and callee.name in ("array", "asarray")
            and (len(node.args) > 1 or any(k.arg == "dtype" for k in node.keywords))
        ):
            return self.converted(node, callee.name, scope, hint)
        args = list(node.args)
        called = dotted(node.func)
        return self.apply(spec, args, node.keywords, scope, loc, hint, spelling, called)

    def converted(self, node: ast.Call, name: str, scope: Scope, hint: str | None):
        """`np.array(v, dtype=d)` and `np.asarray(v, dtype=d)`.  To float64
        the values are converted and differentiated (`np.asarray` returns a
        float64 array itself, a view).  `np.array` to another dtype is a
        constant, as `.astype(d)` is (refused to a float dtype for a value
        that depends on wrt).  `np.asarray` to another dtype is refused: its
        array may be the argument's, where the cast would copy."""
        loc = scope.src.loc(node)
        named = {"array": "object", "asarray": "a"}[name]  # (numpy's names)
        for kw in node.keywords:
            if kw.arg not in ("dtype", named):
                raise NoDerivativeError(
                    f"keyword argument '{kw.arg}' is not supported here",
                    scope.src.loc(kw.value),
                )
        by_name = {k.arg: k.value for k in node.keywords}
        given = node.args[:1] + [v for k, v in by_name.items() if k == named]
        dtypes = node.args[1:] + [v for k, v in by_name.items() if k == "dtype"]
        if len(given) != 1 or len(dtypes) != 1:
            raise BadInputError(f"np.{name}() takes the values and a dtype here", loc)
        dtype = self.dtype(dtypes[0], scope, f"np.{name}(..., dtype={{}})")
        values = self.atom(given[0], scope)
        listed = self.kinds.get(name_of(values)) in ("list", "mixed")
        if dtype == "float64":
            op = "list_array" if name == "array" or listed else "asarray"
            return self.emit(op, (values,), loc, (("dtype", dtype),), hint)
        if name == "asarray":
            raise BadInputError(
                f"np.asarray(..., dtype={ast.unparse(dtypes[0])}) is read here only "
                "with dtype=float (float64)",
                scope.src.loc(dtypes[0]),
                f"np.array(..., dtype={ast.unparse(dtypes[0])}) makes a copy, "
                "which symgrad reads",
            )
        return self.emit("array_cast", (values,), loc, (("dtype", dtype),), hint)

    def einsum(self, node: ast.Call, name: str, scope: Scope, hint: str | None) -> Atom:
        """`np.einsum("ij,jk->ik", a, b)`, or its adjoint `_einsum_grad(...)`
        read back from emitted code: the subscripts (and the operand index)
        are parameters of the op."""
        loc = scope.src.loc(node)
        args = list(node.args)
        first = None
        if args and isinstance(args[0], ast.Constant | ast.Name):
            first = self.atom(args[0], scope)  # (a literal, or a module's string)
        if (
            not (isinstance(first, Const) and isinstance(first.value, str))
            or node.keywords
        ):
            raise NoDerivativeError(
                "np.einsum takes its subscripts as a string, written in the call or "
                "named at module level, then the operands (no keyword arguments)",
                loc,
            )
        subscripts = first.value.replace(" ", "")
        params: tuple = (("subscripts", subscripts),)
        operands = args[1:]
        if name == "_einsum_grad":
            params += (("k", ast.literal_eval(operands[0])),)
            operands = operands[1:]
        else:
            problem = rules.einsum_problem(subscripts, len(operands))
            if problem:
                raise NoDerivativeError(f"np.einsum('{subscripts}'): {problem}", loc)
        atoms = tuple(self.atom(a, scope) for a in operands)
        letters, _, kept = subscripts.partition("->")
        if (
            name == "einsum"
            and len(atoms) == 1
            and kept
            and sorted(kept) == sorted(letters)
        ):  # ("ij->ji": numpy returns a view, as np.transpose does)
            axes = tuple(letters.index(c) for c in kept)
            return self.emit("transpose", atoms, loc, (("axes", axes),), hint)
        op = "einsum" if name == "einsum" else "einsum_grad"
        return self.emit(op, atoms, loc, params, hint)

    def custom(
        self, rule: Rule, node: ast.Call, scope: Scope, hint: str | None
    ) -> Atom:
        """A call of a function with a custom rule: kept as a call, by name."""
        loc = scope.src.loc(node)
        if node.keywords or len(node.args) != rule.arity:
            raise BadInputError(
                f"'{rule.name}' has a custom rule and takes {rule.arity} positional "
                "argument(s); call it with exactly those",
                loc,
            )
        new = [n for n in rule.names() if n not in self.called_by_name]
        clash = [n for n in new if n in self.names.taken]
        if clash:
            raise BadInputError(
                f"'{clash[0]}' is called by name in the generated code (it has "
                "or is a custom rule) but is also a variable or parameter here",
                loc,
                f"rename the variable or the function '{clash[0]}'",
            )
        self.called_by_name.update(new)
        self.names.taken.update(new)  # no later variable takes these names
        atoms = tuple(self.atom(a, scope) for a in node.args)
        params: tuple = (("fn", rule.name),)
        if rule.nondiff:
            return self.emit("opaque", atoms, loc, params, hint)
        return self.emit("custom", atoms, loc, params + (("rule", rule),), hint)

    def method(self, node: ast.Call, name: str, scope: Scope, hint: str | None) -> Atom:
        loc = scope.src.loc(node)
        if name == "pop":
            return self.pop(node, scope)
        from .frontend import foreign_module_hint

        if name == "astype":
            return self.astype(node, scope, hint)
        if name == "nonzero" and not node.args and not node.keywords:
            raise nonzero_outside_an_index(loc)
        defined = resolve.prelude_method(name)
        if defined is not None and foreign_module_hint(node.func, scope) is None:
            # x.var(axis=0) is np.var(x, axis=0); `stats.var(x)`, of a module
            # symgrad does not read, is not a method
            call = ast.Call(node.func, [node.func.value, *node.args], node.keywords)
            return self.call_user(defined, ast.copy_location(call, node), scope, hint)
        spec = library.METHODS.get(name)
        if spec is None:
            foreign = foreign_module_hint(node.func, scope)  # (not an array's)
            raise NoDerivativeError(
                (
                    f"'{dotted(node.func)}' is not a function symgrad can read"
                    if foreign
                    else f"no derivative rule for the method '.{name}()'"
                ),
                loc,
                foreign,
            )
        receiver = node.func.value
        args = list(node.args)
        if spec.variadic and spec.op == "reshape" and len(args) != 1:
            args = [ast.Tuple(elts=args, ctx=ast.Load())]
        if spec.variadic and spec.op == "transpose" and args:
            axes = args if len(args) > 1 else args[0]
            packed = (
                ast.Tuple(elts=axes, ctx=ast.Load()) if isinstance(axes, list) else axes
            )
            return self.apply(
                spec,
                [receiver],
                [ast.keyword(arg="axes", value=packed)],
                scope,
                loc,
                hint,
            )
        result = self.apply(
            spec, [receiver] + args, node.keywords, scope, loc, hint, called=f".{name}"
        )
        if name == "flatten":  # (always a copy; ravel may be a view)
            return self.emit("copy", (result,), loc, hint=hint)
        return result

    def astype(self, node: ast.Call, scope: Scope, hint: str | None) -> Atom:
        """`v.astype(dtype)`: a constant (a mask as floats, values as ints);
        the dtype is numpy's name for it, read when compiling."""
        loc = scope.src.loc(node)
        given = list(node.args) + [k.value for k in node.keywords if k.arg == "dtype"]
        if len(given) != 1 or any(k.arg != "dtype" for k in node.keywords):
            raise NoDerivativeError(
                ".astype() takes just the dtype here (no copy=, casting=...)", loc
            )
        dtype = self.dtype(given[0], scope)
        receiver = self.atom(node.func.value, scope)
        if dtype == "float64":  # (a copy of np.float64(v), which has a derivative)
            return self.emit("copy", (self.emit("float64", (receiver,), loc),), loc)
        return self.emit("astype", (receiver,), loc, (("dtype", dtype),), hint)

    def scalar_type(
        self, node: ast.Call, name: str, scope: Scope, hint: str | None
    ) -> Atom:
        """`np.int64(v)`, `np.float32(v)`: a constant, as `.astype()` is (to a
        float type, refused for a value depending on wrt, in `analysis`)."""
        loc = scope.src.loc(node)
        if len(node.args) != 1 or node.keywords:
            raise BadInputError(f"np.{name}() takes one value here", loc)
        self.dtype(node.func, scope, "{}()")  # (a kind symgrad computes with)
        value = self.atom(node.args[0], scope)
        return self.emit("scalar_type", (value,), loc, (("scalar", name),), hint)

    def dtype(self, node: ast.expr, scope: Scope, written: str = ".astype({})") -> str:
        """numpy's name of the dtype `node` spells (`float`, `np.float32`,
        `"int64"`), of a kind symgrad computes with (bool, int, float);
        `written` is how an error shows where it was given."""
        spelled = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            spelled = node.value
        elif isinstance(node, ast.Name) and node.id not in scope.env:
            if node.id in ("float", "int", "bool", "complex"):
                spelled = getattr(builtins, node.id)
            elif scope.src.resolver:  # (a module's `DTYPE = np.float32`)
                found = scope.src.resolver.resolve(node.id)
                if isinstance(found, resolve.Constant):
                    spelled = found.value
                elif isinstance(found, resolve.LibFunction):
                    lib = {"numpy": np, "builtins": builtins}.get(found.lib)
                    spelled = getattr(lib, found.name, None)
        elif isinstance(node, ast.Attribute):
            module = self.module_ref(node.value, scope)
            if getattr(module, "lib", None) == "numpy":
                spelled = getattr(np, node.attr, None)
        if spelled is None:
            raise UnsupportedSyntaxError(
                f"{written.format(ast.unparse(node))}: the dtype must be known "
                "when the function is compiled",
                scope.src.loc(node),
                "write it in the call, as float, int, bool, np.float32 or "
                "'float64', or name a numpy one at module level (DTYPE = np.float32)",
            )
        try:
            dtype = np.dtype(spelled)
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in "biuf":
            raise NoDerivativeError(
                f"{written.format(ast.unparse(node))}: symgrad computes with bool, "
                "int and float dtypes",
                scope.src.loc(node),
                "write one as float, int, bool, np.float32 or 'float64' (complex "
                "numbers are not supported)",
            )
        return dtype.name

    def apply(
        self,
        spec: CallSpec,
        args: list[ast.expr],
        keywords: list[ast.keyword],
        scope: Scope,
        loc: Loc,
        hint: str | None,
        spelling: str | None = None,
        called: str = "this function",
    ) -> Atom:
        if spec.variadic and not spec.args:  # (np.arange: its parameters by keyword)
            atoms = tuple(self.atom(a, scope) for a in args)
            allowed = dict(spec.static)
            params = []
            for kw in keywords:
                if (spec.op, kw.arg, len(atoms)) == ("linspace", "num", 2):
                    atoms += (self.atom(kw.value, scope),)  # (numpy's third)
                    continue
                if kw.arg not in allowed:
                    raise NoDerivativeError(
                        f"keyword argument '{kw.arg}' is not supported here",
                        scope.src.loc(kw.value),
                        "pass it by position",
                    )
                value = self.keyword_value(kw.arg, kw.value, scope)
                if value != allowed[kw.arg]:
                    params.append((kw.arg, value))
            return self.emit(spec.op, atoms, loc, tuple(params), hint=hint)
        if spec.op == "clip":
            keywords = _clip_bounds(spec, args, keywords, loc)
        names = list(spec.args) + [k for k, _ in spec.static]
        if spec.positional == 0 and len(args) > len(spec.args):
            keyword = spec.static[0][0]
            raise BadInputError(
                f"{called}() takes {keyword}= by keyword only, as numpy's does",
                loc,
                f"write {keyword}=...",
            )
        if spec.positional is not None and len(args) > len(spec.args) + spec.positional:
            raise BadInputError(
                "only the axis of a reduction may be passed by position (numpy's "
                "next positional parameter is dtype or out, not supported)",
                loc,
                "pass keepdims= by keyword",
            )
        if len(args) > len(names):
            method = called.startswith(".")  # (its receiver is the first argument)
            most = len(names) - method
            raise BadInputError(
                f"{called}() takes at most {most} positional argument"
                f"{'' if most == 1 else 's'} here, not {len(args) - method}",
                loc,
                "symgrad does not read its further parameters",
            )
        given: dict[str, ast.expr] = dict(zip(names, args, strict=False))
        for kw in keywords:
            if kw.arg not in names or kw.arg in given:
                raise NoDerivativeError(
                    f"keyword argument '{kw.arg}' is not supported here",
                    scope.src.loc(kw.value),
                )
            given[kw.arg] = kw.value
        missing = [n for n in spec.args if n not in given]
        if missing:
            raise BadInputError(f"missing argument '{missing[0]}' in this call", loc)
        arrays = _ARRAYS.get(spec.op)  # (a tuple written out is read as a list)
        if arrays is not None and isinstance(given[arrays], ast.Tuple):
            given[arrays] = ast.List(given[arrays].elts, ast.Load())
        atoms = tuple(self.argument(given[n], scope) for n in spec.args)
        op = spec.op
        if op in ("copy", "asarray") and self.kinds.get(name_of(atoms[0])) == "list":
            op = "list_array"
        if op in ("concatenate", "vstack") and name_of(atoms[0]) not in (
            self.made_items
        ):
            axis = given.get("axis")
            at = 0 if axis is None else self.keyword_value("axis", axis, scope)
            return self.joined(op, atoms[0], at, loc, hint)
        if op in ("concatenate", "hstack", "vstack"):
            atoms = self.listed(atoms[0], loc, f"np.{op}")
        if op == "clip" and Const(None) in atoms[1:]:  # a bound left out
            x, lo, hi = atoms
            if lo == hi:  # (both: numpy returns the values as they are)
                return self.emit("copy", (x,), loc, hint=hint)
            # (a bound that is a value may be None when called: clip stays)
            if all(isinstance(b, Const) for b in (lo, hi)):
                op, atoms = (
                    ("minimum", (x, hi)) if lo == Const(None) else ("maximum", (x, lo))
                )
        k = self.atom(given["k"], scope) if op in _DIAGONAL and "k" in given else None
        if k is not None and not isinstance(k, Const):
            # (a diagonal a loop picks: `np.diag(c[j] * np.ones(n - abs(j)), j)`)
            return self.emit(_DIAGONAL[op], (*atoms, k), loc, hint=hint)
        params = []
        for key, default in spec.static:
            if key in given:
                value = self.keyword_value(key, given[key], scope)
                if isinstance(value, list | tuple):
                    value = tuple(value)
                if op == "concatenate" and key == "axis" and value is None:
                    # numpy flattens every part first
                    atoms = tuple(self.emit("ravel", (a,), loc) for a in atoms)
                    continue
                if value != default or type(value) is not type(default):
                    params.append((key, value))  # (axis=0.0 is not 0: numpy raises)
        if op == "pad" and dict(params).get("mode", "constant") not in _PAD_MODES:
            raise NoDerivativeError(
                f"np.pad's mode={dict(params)['mode']!r} is not supported (its "
                "padding is computed from the values, or left unset)",
                scope.src.loc(given["mode"]),
                "symgrad differentiates the modes that copy entries or a constant: "
                + ", ".join(map(repr, _PAD_MODES)),
            )
        if spelling is not None:
            params.append(("fn", spelling))
        return self.emit(op, atoms, loc, tuple(params), hint)

    def keyword_value(self, key: str, node: ast.expr, scope: Scope) -> object:
        """The compile-time value of a parameter (`axis=`): a constant, or for
        `dtype=` numpy's name of the dtype (`np.float32` is "float32")."""
        if key == "dtype" and not (
            isinstance(node, ast.Constant) and node.value is None
        ):
            return self.dtype(node, scope, "dtype={}")
        return self.static(node, scope, f"'{key}'")

    def argument(self, node: ast.expr, scope: Scope) -> Atom | Index:
        """A call's argument: a value, or an index written `np.s_[...]` (as
        emitted code passes indices to `_setitem` and its kin)."""
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "s_"
            and getattr(self.module_ref(node.value.value, scope), "lib", None)
            == "numpy"
        ):
            return self.index(node.slice, scope, checked=False)
        return self.atom(node, scope)

    def joined(self, op: str, items: Atom, axis, loc: Loc, hint) -> Atom:
        """np.concatenate (np.vstack) of a list made at run time (in a loop),
        whose entries share a shape (as a list of arrays' do; numpy's need
        not: an error there): stacked with the new axis just before `axis`,
        then merged with it (numpy's order); axis=None flattens them."""
        # (np.vstack takes entries of any rank, axis=None too: None checks none)
        checked = (("axis", None if op == "vstack" else axis),)
        if op == "concatenate" and isinstance(axis, int) and axis == 0:
            checked = ()
        line = check_line(loc, self.top)
        self.emit("same_shapes", (items, Const(f"np.{op}")), loc, checked + line)
        if axis is not None and not isinstance(axis, int):
            # (the check raises numpy's TypeError for it, first)
            return self.emit("stack", (items,), loc, checked, hint=hint)
        if axis is None:
            stacked = self.emit("stack", (items,), loc)
            return self.emit("ravel", (stacked,), loc, hint=hint)
        at = axis if axis >= 0 else axis - 1  # (the new axis's place)
        params = (("axis", at),) if at else ()
        stacked = self.emit("stack", (items,), loc, params)
        if op == "vstack":  # (numbers and vectors are rows; arrays join on axis 0)
            shape = self.emit("vstack_shape", (stacked,), loc)
        else:
            shape = self.emit("merged_shape", (stacked,), loc, params)
        return self.emit("reshape", (stacked, shape), loc, hint=hint)

    def listed(self, atom: Atom, loc: Loc, function: str) -> tuple[Atom, ...]:
        """The entries of a list written out in the source (`[a, b, c]`)."""
        if isinstance(atom, Var) and atom.name in self.made_items:
            return self.made_items[atom.name]
        raise NoDerivativeError(
            f"{function} needs its arrays written out as a list, like "
            f"{function}([a, b])",
            loc,
            "for a list built in a loop, use np.stack (np.concatenate takes one)",
        )


_NOT_A_LITERAL = object()


def _is_scalar_type(name: str) -> bool:
    """Is `np.<name>` one of numpy's scalar types (np.int64, np.float32)?"""
    value = getattr(np, name, None)
    return isinstance(value, type) and issubclass(value, np.generic)


# np.pad's modes whose entries are copies of x's or the constant
_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _clip_bounds(
    spec: CallSpec, args: list[ast.expr], keywords: list[ast.keyword], loc: Loc
) -> list[ast.keyword]:
    """The keywords of a clip with its bounds as numpy binds them: the
    method's `min` and `max` may each be left out; np.clip takes both `a_min`
    and `a_max`, or neither and then `min=`/`max=` (numpy 2.1).  A bound left
    out is None (no bound on that side)."""
    named = {kw.arg for kw in keywords}
    bounds = list(spec.args[1:])
    if bounds == ["a_min", "a_max"]:
        given = [len(args) > i + 1 or b in named for i, b in enumerate(bounds)]
        if any(given):
            if not all(given):
                missing = bounds[given.index(False)]
                raise BadInputError(f"missing argument '{missing}' in this call", loc)
            if named & {"min", "max"}:
                raise BadInputError(
                    "np.clip takes its bounds as a_min and a_max, or as min= and "
                    "max=, not both",
                    loc,
                )
            return keywords
        keywords = [
            ast.keyword(
                arg={"min": "a_min", "max": "a_max"}.get(kw.arg, kw.arg), value=kw.value
            )
            for kw in keywords
        ]
        named = {kw.arg for kw in keywords}
    left_out = [b for b in bounds[max(len(args) - 1, 0) :] if b not in named]
    return keywords + [ast.keyword(arg=b, value=ast.Constant(None)) for b in left_out]


def _check_fixed(src: FunctionSource, node: ast.Call, scope: Scope) -> None:
    """Refuse a call of a `prelude` definition (np.var...) that sets one of
    the parameters the definition ignores (dtype=, out=, norm's ord=) to
    anything but the value it assumes."""
    if src.file != prelude.__file__:
        return
    given = dict(zip(src.params, node.args, strict=False))
    given.update((kw.arg, kw.value) for kw in node.keywords if kw.arg)
    for name, assumed in prelude.FIXED.get(src.name, {}).items():
        value = given.get(name)
        try:  # (a literal: `-1` is a unary minus of 1)
            literal = ast.literal_eval(value) if value is not None else assumed
        except ValueError:
            literal = _NOT_A_LITERAL
        if literal != assumed:
            raise NoDerivativeError(
                f"symgrad differentiates {src.name}() only with {name}={assumed}",
                scope.src.loc(value),
            )
    axis = given.get("axis")
    if src.name in prelude.ONE_AXIS and isinstance(axis, ast.Tuple | ast.List):
        raise NoDerivativeError(
            f"symgrad differentiates {src.name}() along one axis or all of them "
            "(axis= an int or None), not several",
            scope.src.loc(axis),
            "reshape the axes into one first",
        )


# np.diag (and its cotangent's helper) with `k` a value: the op taking it so
_DIAGONAL = {"diag": "diag_k", "diag_grad": "diag_grad_k"}

# The parameter that takes the list of arrays, of the calls that take one.
_ARRAYS = {"stack": "arrays", "concatenate": "arrays", "hstack": "tup", "vstack": "tup"}


def _written_out(node: ast.expr) -> bool:
    """A list or tuple display with no starred entry: `[a, b, c]`."""
    return isinstance(node, ast.List | ast.Tuple) and not any(
        isinstance(e, ast.Starred) for e in node.elts
    )


def _literal_text(node: ast.Call) -> bool:
    """A call of one string literal that float() reads: float("-inf")."""
    if len(node.args) != 1 or node.keywords:
        return False
    arg = node.args[0]
    if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
        return False
    try:
        float(arg.value)
    except ValueError:
        return False
    return True


def nonzero_outside_an_index(loc: Loc) -> UnsupportedSyntaxError:
    return UnsupportedSyntaxError(
        "np.nonzero(...), and np.where(m) of one argument, is supported only as "
        "the whole index, x[np.nonzero(m)]",
        loc,
        "for the indices of a vector use np.flatnonzero(m); or index by the "
        "mask itself, x[m]",
    )


def _unknown_function(name: str, loc: Loc) -> UnknownNameError:
    """The error for a call of a name symgrad cannot resolve; a Python builtin
    it does not read gets a hint (`sum` -> `np.sum`)."""
    if not hasattr(builtins, name):
        message = f"function '{name}' is not defined, or is not something "
        return UnknownNameError(
            message + "symgrad can read",
            loc,
            "symgrad reads numpy, math and the functions of your program's "
            "files; for another library's, write it with numpy in a helper "
            "function, or give it a derivative with @symgrad.rule",
        )
    known = ", ".join(sorted(resolve.BUILTINS))
    hint = f"the builtins symgrad reads are {known}"
    if name in library.NUMPY:
        hint = f"use np.{name}(...), which symgrad differentiates; {hint}"
    return UnknownNameError(
        f"symgrad does not read Python's builtin '{name}'", loc, hint
    )


def _not_known(module: resolve.Module, func: ast.Attribute, loc: Loc) -> SymgradError:
    """The error for `np.tahn(x)` (no such function: the functions symgrad
    differentiates whose names are closest are offered) or
    `np.linalg.eigh(a)` (numpy's, without a rule)."""
    lib = {"numpy": np, "numpy.linalg": np.linalg, "math": math}[module.lib]
    value = getattr(lib, func.attr, None)
    if value is not None:
        plain = inspect.isroutine(value) or isinstance(value, np.ufunc)
        return NoDerivativeError(
            f"'{dotted(func)}' is not a function symgrad knows",
            loc,
            (
                "write it with supported numpy operations in a helper function, or "
                "give it a derivative with @symgrad.rule (the README's Custom rules)"
                if plain
                else None
            ),
        )
    known = {
        "numpy": [*library.NUMPY, *prelude.NUMPY],
        "numpy.linalg": [*library.LINALG, *prelude.LINALG],
        "math": list(library.MATH),
    }[module.lib]
    close = difflib.get_close_matches(func.attr, sorted(set(known)), n=3)
    spelled = [f"{dotted(func.value)}.{n}" for n in close]
    listed = " or ".join(
        [", ".join(spelled[:-1]), spelled[-1]] if close[1:] else spelled
    )
    return UnknownNameError(
        f"'{dotted(func)}' does not exist: {module.lib} has no '{func.attr}'",
        loc,
        f"did you mean {listed}?" if close else None,
    )


NOT_A_MODULE = object()  # (`member` of an attribute of something else)

RANDOM_HINT = (
    "draw random numbers outside the function and pass them in as an argument "
    "(a gradient is taken of the function at those numbers)"
)


def dotted(node: ast.AST) -> str:
    """`np.linalg.norm` for an attribute chain; the source text otherwise."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ast.unparse(node)


def _bind_user_args(
    src: FunctionSource, node: ast.Call, caller: FunctionSource
) -> dict:
    """Map a user function's parameters to call arguments (AST) or defaults
    (keyword-only parameters take keywords only)."""
    params = src.params
    positional = params[: len(params) - len(src.keyword_only)]
    defaults = src.defaults()
    bound: dict[str, object] = {}
    if len(node.args) > len(positional):
        raise BadInputError(
            f"'{src.name}' takes {len(positional)} positional arguments, "
            f"{len(node.args)} given",
            caller.loc(node),
        )
    for name, arg in zip(positional, node.args, strict=False):
        bound[name] = arg
    for kw in node.keywords:
        if kw.arg is None or kw.arg not in params or kw.arg in bound:
            raise BadInputError(
                f"bad keyword argument '{kw.arg}' in call to '{src.name}'",
                caller.loc(kw.value),
            )
        bound[kw.arg] = kw.value
    for name in params:
        if name not in bound:
            if name not in defaults:
                raise BadInputError(
                    f"missing argument '{name}' in call to '{src.name}'",
                    caller.loc(node),
                )
            bound[name] = default_value(src, name, defaults[name])
    return bound


def default_value(src: FunctionSource, name: str, node: ast.expr) -> object:
    """The default value of parameter `name`: a literal, or a module's
    constant it names (a live function's own, as Python evaluated it where
    the function was defined)."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    live = getattr(src.resolver, "defaults", {})
    if name in live and constant(live[name]):
        return live[name]
    times = getattr(src.resolver, "times_bound", {})  # (read without running it)
    if isinstance(node, ast.Name) and times.get(node.id, 0) > 1:
        raise UnsupportedSyntaxError(
            f"the default of '{name}' names '{node.id}', which the module binds "
            "more than once: read without running it, the value at the `def` "
            "is not known",
            src.loc(node),
            "pass the value at the call, or bind the name once",
        )
    found = _named_constant(src, node)
    if found is None:
        raise UnsupportedSyntaxError(
            f"the default of '{name}' is not a number, string, tuple or array",
            src.loc(node),
            "pass the value at the call",
        )
    return found.value


def _named_constant(src: FunctionSource, node: ast.expr) -> resolve.Constant | None:
    """The module constant `node` (`EPS`, `np.pi`, `cfg.EPS`) names, read
    where `src` is defined; None for anything else."""
    if isinstance(node, ast.Name):
        found = src.resolver.resolve(node.id) if src.resolver else None
        return found if isinstance(found, resolve.Constant) else None
    if not isinstance(node, ast.Attribute) or not isinstance(node.value, ast.Name):
        return None
    base = src.resolver.resolve(node.value.id) if src.resolver else None
    if isinstance(base, resolve.Module):
        found = resolve.module_attribute(base, node.attr)
    elif isinstance(base, resolve.UserModule):
        found = base.member(node.attr)
    else:
        return None
    return found if isinstance(found, resolve.Constant) else None


def check_line(loc: Loc, top: FunctionSource) -> tuple[tuple[str, int], ...]:
    """The `line=` a run-time check in the forward code passes to its error,
    which symgrad then shows at that line of `top`'s file: the check's own
    line where it is in that file (a helper's elsewhere, or a line of emitted
    code a Hessian reads, has none: its error names no line)."""
    generated = top.file.startswith("<symgrad")
    return () if generated or loc.file != top.file else (("line", loc.line),)
