"""The transformations beyond the gradient, each a module of emitted code.

* `jvp_module`: `f_and_jvp(*args, tangents)`, forward mode (`forward.py`).
* `jacobian_module`: `f_and_grad`, `f_and_jvp` and `jacobian(*args)`, which
  builds the Jacobian one row (reverse mode, a basis seed per output entry)
  or one column (forward mode, a basis tangent per input entry) at a time.
* `hessian_module`: `f_and_grad`, then `grad_and_hvp(*args, tangents)`, made
  by running forward mode on the emitted `f_and_grad` read back as symgrad
  input (forward over reverse: a Hessian-vector product costs a few gradient
  evaluations and never forms the Hessian), and `hessian(*args)`, which
  stacks the products with the basis vectors.

Every pipeline starts from the frontend `api` runs for the gradient, so control
flow, in-place updates and calls work in each.  Forward mode needs a tangent
rule where reverse mode needs an adjoint (a custom rule with only `vjp=` is
refused), and a Hessian takes one `wrt` parameter.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from . import custom, emit, fence, forward, frontend, loopshapes, reverse
from .errors import BadInputError
from .ir import verify
from .resolve import Resolved, StaticResolver, classify
from .rules import OPS
from .source import FunctionSource, from_module

MODES = (None, "fwd", "rev")


def jvp_function(
    src: FunctionSource,
    wrt: tuple[str, ...],
    spec,
    name: str,
    generated: bool = False,
    summary: str | None = None,
) -> tuple[str, list[str]]:
    """The text of `def <name>(..., tangents)` for `src`, and the functions
    with custom rules it calls; the syntax check is skipped for `generated`
    (emitted) code, whose `seed` parameter it refuses."""
    if not generated:
        fence.check(src)
    primal, _, names = frontend.lower(src, wrt=() if generated else wrt)
    verify(primal, OPS)
    program = forward.jvp(primal, wrt, names, generated)
    verify(program, OPS)
    lowered = reverse.reverse(program, (), names)
    text = emit.jvp_function(program, lowered, spec, names, name, summary)
    return text, emit.supplied_names(primal)


def jvp_module(src: FunctionSource, spec: emit.ModuleSpec) -> str:
    text, supplied = jvp_function(src, spec.wrt, spec, "f_and_jvp")
    return emit.module_text(spec, [text], "Forward-mode derivative", supplied)


def jacobian_module(
    src: FunctionSource, spec: emit.ModuleSpec, grad_text: str, mode: str | None
) -> str:
    """`grad_text` is the emitted gradient module of `src` (from the cache)."""
    functions = [] if mode == "fwd" else [_function_text(grad_text, "f_and_grad")]
    text, supplied = jvp_function(src, spec.wrt, spec, "f_and_jvp")
    functions.append(text)
    grad = "None" if mode == "fwd" else "f_and_grad"
    params = ", ".join(spec.params)
    wrt = tuple(spec.params.index(w) for w in spec.wrt)  # (positional ones)
    summary = (
        f"The Jacobian of {spec.function}({params}) with respect to "
        f"{', '.join(spec.wrt)}, shaped output shape + input shape; "
        + (
            "by the mode needing fewer passes."
            if mode is None
            else f"in {'forward' if mode == 'fwd' else 'reverse'} mode."
        )
    )
    mode_text = "None" if mode is None else f'"{mode}"'  # (black's quotes)
    body = [
        f"return _jacobian({grad}, f_and_jvp, {_tuple(_positional(spec))}, "
        f"{wrt!r}, {spec.wrt_is_tuple}, {mode_text}{_keywords(spec)})"
    ]
    functions.append(
        emit.function_text("jacobian", emit.signature(spec), summary, body)
    )
    return emit.module_text(spec, functions, "Jacobian", supplied)


def hessian_module(src: FunctionSource, spec: emit.ModuleSpec, grad_text: str) -> str:
    """Forward mode over the emitted gradient `grad_text` of `src`."""
    if spec.wrt_is_tuple or len(spec.wrt) != 1:
        raise BadInputError(
            f"{spec.function}: symgrad.hessian takes one parameter in wrt "
            f"(got {', '.join(spec.wrt)})",
            src.loc(src.tree),
            "for several parameters, pack them into one array, or into one "
            "tuple the function unpacks first (W, b = params)",
        )
    (wrt,) = spec.wrt
    params = ", ".join(spec.params)
    gradient = _gradient_source(grad_text, spec.origin, _Reached(src))
    inner = replace(spec, params=gradient.params, defaults=(*spec.defaults, "None"))
    call = emit.call_args(spec)
    functions = [
        _function_text(grad_text, "f_and_grad"),
        jvp_function(
            gradient,
            spec.wrt,
            inner,
            "grad_and_hvp",
            generated=True,
            summary=f"Return the gradient of {emit.called(spec)} with respect to "
            f"{wrt} (times `seed`, default 1.0), read from `f_and_grad` above, and "
            "its derivative along `tangents`: the Hessian-vector product.",
        )[0],
    ]
    functions.append(
        emit.function_text(
            "hvp",
            emit.signature(spec, "*, tangents" if spec.defaults else "tangents"),
            f"The Hessian of {spec.function}({params}) with respect to {wrt} "
            "times `tangents`, without forming the Hessian.",
            [f"return grad_and_hvp({call}, tangents=tangents)[1]"],
        )
    )
    functions.append(
        emit.function_text(
            "hessian",
            emit.signature(spec),
            f"The Hessian of {spec.function}({params}) with respect to {wrt}, "
            f"shaped {wrt}.shape + {wrt}.shape: one Hessian-vector product per "
            "entry.",
            [
                f"return _hessian(grad_and_hvp, {_tuple(_positional(spec))}, "
                f"{spec.params.index(wrt)}{_keywords(spec)})"
            ],
        )
    )
    supplied = custom.listed_names(grad_text)
    return emit.module_text(spec, functions, "Hessian", supplied)


def _positional(spec: emit.ModuleSpec) -> tuple[str, ...]:
    return spec.params[: len(spec.params) - len(spec.keyword_only)]


def _keywords(spec: emit.ModuleSpec) -> str:
    """`, {"l2": l2}`: the keyword-only arguments a helper passes on (none:
    nothing)."""
    if not spec.keyword_only:
        return ""
    pairs = ", ".join(f'"{p}": {p}' for p, _ in spec.keyword_only)
    return f", {{{pairs}}}"


def _tuple(names: tuple[str, ...]) -> str:
    """A tuple of names as black prints it (a trailing comma only for one)."""
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


def _float_dispatch(stmt: ast.stmt) -> bool:
    """Is `stmt` the call of the float body at the start of `f_and_grad`, or
    the return of the gradient for a float value without a seed (`if seed is
    None and out.__class__ is float: return out, 2.0 * x`)?  The numpy body
    after it computes the same numbers on every input."""
    if not isinstance(stmt, ast.If):
        return False
    if "_f_and_grad_floats" in ast.unparse(stmt):
        return True
    return (
        not stmt.orelse
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], ast.Return)
        and ast.unparse(stmt.test).startswith("seed is None and ")
        and ast.unparse(stmt.test).endswith(".__class__ is float")
    )


def _without_float_seed(stmt: ast.stmt) -> ast.stmt:
    """The seed check `emit` inlines for a float or 0-d value, `if seed is None
    and out.__class__ is float: seed = 1.0 else: seed = _check_seed(...)` (or
    `if seed is None:`), as the call alone, which returns the same on every
    input."""
    if (
        isinstance(stmt, ast.If)
        and len(stmt.orelse) == 1
        and "_check_seed(" in ast.unparse(stmt.orelse[0])
        and (
            ast.unparse(stmt.test).endswith(".__class__ is float")
            or ast.unparse(stmt.test) == "seed is None"
        )
    ):
        return stmt.orelse[0]
    return stmt


def _function_text(module: str, name: str) -> str:
    """The source of function `name` in an emitted module, with the float
    body `f_and_grad` may call."""
    tree = ast.parse(module)
    found = [
        ast.get_source_segment(module, node) + "\n"
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name in (name, f"_{name}_floats")
    ]
    if not found:
        raise LookupError(name)
    return "\n\n".join(found)


class _Reached:
    """The names of an emitted gradient of `src` that its module does not
    define: `src`'s own globals, then the functions with custom rules, and
    their derivatives, that `src` reaches (through a module or a helper),
    by the names the emitted code calls them."""

    def __init__(self, src: FunctionSource):
        self.src = src
        self.functions: dict | None = None

    def resolve(self, name: str) -> Resolved | None:
        found = self.src.resolver.resolve(name) if self.src.resolver else None
        if found is None:
            from .api import custom_functions

            if self.functions is None:
                self.functions = custom_functions(self.src)
            function = self.functions.get(name)
            if function is not None:
                return classify(function, name)
        return found


def _gradient_source(grad_text: str, origin: str, fallback) -> FunctionSource:
    """The emitted `f_and_grad` as symgrad input, returning the gradient
    alone: `return value, grad` becomes `return grad`."""
    path = f"<symgrad gradient of {origin}>"
    tree, lines = from_module(path, grad_text)
    resolver = StaticResolver(path, tree, lines, generated=True, fallback=fallback)
    (node,) = [
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name == "f_and_grad"
    ]
    args = node.args  # the keyword-only `seed` read as a plain parameter
    k = [a.arg for a in args.kwonlyargs].index("seed")
    args.args.append(args.kwonlyargs.pop(k))
    args.defaults.append(args.kw_defaults.pop(k))
    last = node.body[-1]
    if isinstance(last, ast.Return) and isinstance(last.value, ast.Tuple):
        last.value = last.value.elts[1]
    node.body = [_without_float_seed(s) for s in node.body if not _float_dispatch(s)]
    loopshapes.ShapeTestsAsCalls().visit(node)
    return resolver.function(node)
