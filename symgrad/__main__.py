"""Command line: `python -m symgrad emit FILE.py [--function NAME] [-o OUT.py]`
and `python -m symgrad cache info|clear [--dir DIR]`.

`emit` reads FILE.py's AST (it never executes the file), finds every function
decorated with `@symgrad.grad`, `@symgrad.jvp`, `@symgrad.jacobian` or
`@symgrad.hessian` (with or without options), and prints the module symgrad
generates for each.  `--stage ir|adjoint` prints an earlier
pipeline stage instead.  `emit` always compiles afresh and never reads the
on-disk cache; `cache info` reports on it and `cache clear` empties it.  Exit
codes: 0 success, 1 a compile error (printed in the compiler format, after the
modules of the functions that do compile), 2 a usage error (missing file, no
decorated function, a --dir that is a file).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import cache
from .api import compile_function, compile_transform
from .errors import SymgradError
from .ir import Function, format_function
from .resolve import Constant, StaticResolver, bound_inside, bound_names
from .source import FunctionSource, from_module, not_wrapped


class UsageError(Exception):
    """A mistake in how the command was called (exit code 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    script = os.path.basename(sys.argv[0]) == "symgrad"  # (the console script)
    parser = argparse.ArgumentParser(
        prog="symgrad" if script else "python -m symgrad",
        description="symgrad: source-to-source symbolic differentiation for Python.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    emit = commands.add_parser(
        "emit",
        help="print the module generated for each @symgrad function in a file",
        description="Print the module symgrad generates for each function in FILE "
        "decorated with @symgrad.grad, .jvp, .jacobian or .hessian (FILE is read, "
        "never executed).",
    )
    emit.add_argument("file", metavar="FILE.py")
    emit.add_argument("--function", metavar="NAME", help="only this function")
    emit.add_argument(
        "-o",
        "--output",
        metavar="OUT.py",
        help="write to this file (one function: use --function if FILE has several)",
    )
    emit.add_argument(
        "--stage",
        choices=["ir", "adjoint", "python"],
        default="python",
        help="pipeline stage to print (default: python, the emitted module)",
    )
    _add_cache_parser(commands)
    check = commands.add_parser(
        "verify",
        help="prove each @symgrad.grad function's gradient with sympy",
        description="Run each generated gradient module of FILE on sympy symbols and "
        "check the gradient against sympy.diff (FILE is read, never executed). "
        "Exit code 1 when a check fails.",
    )
    check.add_argument("file", metavar="FILE.py")
    check.add_argument("--function", metavar="NAME", help="only this function")
    args = parser.parse_args(argv)
    if args.command == "cache":
        return run_cache(args.action, args.dir)
    try:
        if args.command == "verify":
            from .proof import verify_file

            found = load_decorated(args.file, args.function)
            report = verify_file(found, lambda verdict: print(verdict, flush=True))
            if all(v.status == "not checked" for v in report.verdicts):
                print("symgrad: nothing was checked", file=sys.stderr)
                return 1
            return 0 if report.ok else 1
        texts, errors = run_emit(
            args.file, args.function, args.stage, args.output is not None
        )
    except UsageError as exc:
        print(f"symgrad: error: {exc}", file=sys.stderr)
        return 2
    except SymgradError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    if texts and args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(texts[0][1])
        except OSError as exc:
            reason = exc.strerror or exc
            print(
                f"symgrad: error: cannot write {args.output}: {reason}", file=sys.stderr
            )
            return 2
    elif texts:
        sys.stdout.write("\n\n".join(_headed(texts)))
    for error in errors:
        print(error.render(), file=sys.stderr)
    return 1 if errors else 0


def _add_cache_parser(commands: argparse._SubParsersAction) -> None:
    cache_parser = commands.add_parser(
        "cache",
        help="inspect or clear the on-disk cache of generated modules",
        description=f"The on-disk cache of generated modules. Location: {cache.RULE}.",
    )
    actions = cache_parser.add_subparsers(dest="action", required=True)
    where = (
        "cache directory, or a source directory whose __pycache__/symgrad/ is meant "
        "(default: $SYMGRAD_CACHE_DIR, else ./__pycache__/symgrad/)"
    )
    for action, text in [
        ("info", "print where the cache lives and the entries in one directory"),
        ("clear", "remove the symgrad cache files in one directory"),
    ]:
        sub = actions.add_parser(action, help=text, description=text + ".")
        sub.add_argument("--dir", metavar="DIR", help=where)


def run_cache(action: str, given: str | None) -> int:
    """`cache info` and `cache clear`; a DIR that is a file is a usage error."""
    directory = cache.directory_for_cli(given)
    if directory.exists() and not directory.is_dir():
        print(f"symgrad: error: {directory} is not a directory", file=sys.stderr)
        return 2
    if action == "clear":
        removed, freed = cache.clear(directory)
        print(f"removed {removed} cache file(s), {freed} bytes, from {directory}")
        return 0
    found = cache.entries(directory)
    files = found + cache.entries(directory, code=True)
    size = sum(_size(path) for path in files)
    state = "on" if cache.enabled() else f"off ({cache.SWITCH_ENV}=0)"
    print(f"location: {cache.RULE}")
    print(f"cache: {state}")
    print(f"directory: {directory}")
    print(f"entries: {len(found)}")
    print(f"files: {len(files)} (the entries and their compiled code)")
    print(f"bytes: {size}")
    return 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def load_decorated(
    path: str, only: str | None, labels: list[str] | None = None
) -> list[tuple[FunctionSource, object]]:
    """The @symgrad functions of a file (read, never executed), with options;
    `labels`, if given, gets the name that picks each alone (a wrapping's
    name, `g` of `g = symgrad.grad(loss, wrt="w")`, else the function's)."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    tree, lines = from_module(path, text)
    resolver = StaticResolver(path, tree, lines)
    found = decorated_functions(tree)
    nested = _nested_decorated(tree)
    if nested is not None and ((only is None and not found) or only == nested[0].name):
        node, outer = nested
        if isinstance(outer, ast.ClassDef):
            raise UsageError(
                f"{path}:{node.lineno}: '{node.name}' is a method of the class "
                f"'{outer.name}': symgrad differentiates functions of numbers "
                "and arrays (write it as a module-level function of its "
                "parameters)"
            )
        raise UsageError(
            f"{path}:{node.lineno}: '{node.name}' is decorated inside the "
            f"function '{outer.name}': emit reads the file without running it, "
            "so it finds the module-level functions alone (the function is "
            "differentiated when it runs)"
        )
    if only is not None:  # the function's name, or the name a wrapping is bound to
        found = [
            (node, opts)
            for node, opts in found
            if only in (node.name, opts.get("bound_to"))
        ]
        if not found:
            raise UsageError(f"{path} has no @symgrad function named '{only}'")
    if labels is not None:
        labels += [opts.get("bound_to") or node.name for node, opts in found]
    found = [
        (
            node,
            _read_options(
                {k: v for k, v in opts.items() if k != "bound_to"}, resolver, tree
            ),
        )
        for node, opts in found
    ]
    if not found:
        raise UsageError(
            f"{path} has no function decorated with symgrad.grad, .jvp, .jacobian "
            "or .hessian"
        )
    return [(resolver.function(node), opts) for node, opts in found]


def run_emit(
    path: str, only: str | None, stage: str, single: bool
) -> tuple[list[tuple[str, str]], list[SymgradError]]:
    """The name and text of each function that compiles, and the error of
    each that does not: one function's error does not hide the others'."""
    labels: list[str] = []
    found = load_decorated(path, only, labels)
    if single and len(found) > 1:
        names = ", ".join(labels)
        raise UsageError(
            f"{path} has several functions ({names}); choose one with --function"
        )
    texts, errors = [], []
    for (src, opts), label in zip(found, labels, strict=True):
        try:
            texts.append((label, _stage_text(src, dict(opts), stage)))
        except SymgradError as exc:
            errors.append(exc)
    return texts, errors


def _headed(texts: list[tuple[str, str]]) -> list[str]:
    """The texts printed one after another, each after the first under a
    comment that says whose it is (the modules look alike)."""
    return [
        (
            text
            if i == 0
            else f"# ---- {name} (--function {name} prints it alone) ----\n\n\n{text}"
        )
        for i, (name, text) in enumerate(texts)
    ]


def _stage_text(src: FunctionSource, options: dict, stage: str) -> str:
    not_wrapped(src, options)
    kind = options.pop("kind", "grad")
    if kind != "grad":
        if stage == "adjoint":
            raise UsageError(f"--stage adjoint is for @symgrad.grad ({src.name})")
        if stage == "python":
            return compile_transform(src, kind, **options)
        options = {"wrt": options["wrt"]}
    compiled = compile_function(src, **options)
    if stage == "python":
        return compiled.source
    if stage == "ir":
        return format_function(compiled.primal)
    primal = compiled.primal
    adjoint = Function(
        f"{primal.name}_adjoint",
        primal.params + ("seed",),
        tuple(compiled.adjoint.body),
    )
    grads = ", ".join(str(g) for g in compiled.adjoint.grads)
    return format_function(adjoint) + f"    # gradients: {grads}\n"


# The decorators the command line reads, and the options each takes.
TRANSFORMS = {
    "grad": {"wrt": None, "has_aux": False},
    "jvp": {"wrt": None},
    "jacobian": {"wrt": None, "mode": None},
    "hessian": {"wrt": None},
}


def _nested_decorated(tree: ast.Module) -> tuple[ast.FunctionDef, ast.AST] | None:
    """The first function (by line) decorated with symgrad inside a class or
    a function of the file, with what it is inside, or None."""
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    found = []
    for outer in ast.walk(tree):
        if isinstance(outer, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            inner = ast.Module(body=[*imports, *outer.body], type_ignores=[])
            found += [(node, outer) for node, _ in decorated_functions(inner)]
    return min(found, key=lambda pair: pair[0].lineno, default=None)


def decorated_functions(tree: ast.Module) -> list[tuple[ast.FunctionDef, dict]]:
    """Top-level functions decorated with symgrad.grad, .jvp, .jacobian or
    .hessian, or passed to one at the top level (`g = symgrad.grad(loss,
    wrt="w")`, `g = symgrad.grad(wrt="w")(loss)`), each with the options
    (`kind` says which; `bound_to`, the name `g` a wrapping is bound to)."""
    modules, functions = {"symgrad"}, {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            modules.update(
                a.asname or a.name for a in node.names if a.name == "symgrad"
            )
        elif isinstance(node, ast.ImportFrom) and node.module == "symgrad":
            functions.update(
                (a.asname or a.name, a.name) for a in node.names if a.name in TRANSFORMS
            )

    def kind_of(target: ast.expr) -> str | None:
        if (
            isinstance(target, ast.Attribute)
            and target.attr in TRANSFORMS
            and isinstance(target.value, ast.Name)
            and target.value.id in modules
        ):
            return target.attr
        return functions.get(target.id) if isinstance(target, ast.Name) else None

    defs: dict[str, ast.FunctionDef] = {}  # (each name's def where it is read)
    found = []
    for at, node in enumerate(tree.body):
        if at:  # (the line before binds its names: `loss = grad(loss)` reads
            before = tree.body[at - 1]  # the def before it)
            for name in bound_names(before) | bound_inside(before):
                defs.pop(name, None)
            if isinstance(before, ast.FunctionDef):
                defs[before.name] = before
        if isinstance(node, ast.FunctionDef):
            for i, dec in enumerate(node.decorator_list):
                call = dec if isinstance(dec, ast.Call) else None
                kind = kind_of(call.func if call else dec)
                if kind is not None:
                    options = {"kind": kind, "at": at, **_options(call, kind)}
                    for inner in node.decorator_list[i + 1 :]:  # (applied first)
                        if kind_of(
                            inner.func if isinstance(inner, ast.Call) else inner
                        ):
                            continue
                        options["wrapped"] = inner
                        break
                    found.append((node, options))
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            call = node.value  # `g = symgrad.grad(loss, wrt="w")`
            first = call.args[0] if len(call.args) == 1 else None
            if isinstance(call.func, ast.Call) and not call.func.args:
                call = call.func  # `g = symgrad.grad(wrt="w")(loss)`
            kind = kind_of(call.func)
            if kind is None or not isinstance(first, ast.Name) or first.id not in defs:
                continue
            options = {"kind": kind, "at": at, **_options(call, kind)}
            for inner in defs[first.id].decorator_list:  # (all applied before)
                if not kind_of(inner.func if isinstance(inner, ast.Call) else inner):
                    options["wrapped"] = inner
                    break
            if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                options["bound_to"] = node.targets[0].id
            found.append((defs[first.id], options))
    return found


def _options(call: ast.Call | None, kind: str) -> dict:
    """The decorator's options (`wrt=`, `has_aux=`, `mode=`): literals; one
    that is not is kept as its node under "unread" (`_read_options`)."""
    options: dict = dict(TRANSFORMS[kind])
    for kw in call.keywords if call is not None else ():
        if kw.arg in options:
            try:
                options[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                options.setdefault("unread", []).append(kw)
    return options


def _read_options(options: dict, resolver: StaticResolver, tree: ast.Module) -> dict:
    """`options` with each option given as a module constant's name
    (`wrt=WRT`) read as it is bound where the decorator runs (a binding
    after it changes nothing); another expression stays "unread", with why
    (a name's), for `not_wrapped` to report at its line."""
    unread, at = [], options.pop("at")
    if options.get("unread"):  # (the module's lines before the decorator's)
        before = ast.Module(body=tree.body[:at], type_ignores=[])
        resolver = StaticResolver(resolver.path, before, resolver.lines)
    for kw in options.pop("unread", ()):
        found = (
            resolver.resolve(kw.value.id) if isinstance(kw.value, ast.Name) else None
        )
        if isinstance(found, Constant):
            options[kw.arg] = found.value
        else:
            unread.append((kw, getattr(found, "reason", None)))
    return {**options, "unread": unread} if unread else options


if __name__ == "__main__":
    sys.exit(main())
