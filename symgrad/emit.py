"""Emit: primal and adjoint IR to a standalone Python module, formatted by black.

Guarantees of the emitted module:

* it imports only numpy (and math when it calls it) and runs without symgrad
  installed: support functions are copied from `symgrad.runtime`, and module
  constants are written out as literals; functions with custom rules are
  named in a `# Supplied by the caller:` line and bound by whoever loads it;
* `grad_function` defines `f_and_grad(<the function's parameters>, *,
  seed=None)` returning `(value, gradient)`, or `(value, (g1, g2, ...))` for a
  tuple `wrt`, plus, for scalar code, `_f_and_grad_floats` (see `floats`);
  scalar code with no numpy call to save gets no second body but checks a
  Python-float value without a seed inline (`seed = 1.0`), as the helper
  `_check_seed` it calls otherwise would, and where the gradient for the
  seed 1.0 is one expression, returns it there (`return out, 2.0 * x`, the
  same bits as the seed 1.0 given); a value that is a reduction over every
  axis, whatever its arguments, checks a missing seed inline too;
  `jvp_function` defines `f_and_jvp(<parameters>, tangents)` returning
  `(value, tangent)`; `module_text` puts functions together in one module;
* temporaries used once are folded back into the expression that uses them, so
  the primal reads like the source; every adjoint block sits under a
  `# grad of: <source line>` comment;
* the text is a pure function of its inputs: same input, same bytes;
* it is black's formatting: the printer writes black's style (quotes,
  `x**2`, blank lines, split conditions) and `style.formatted` runs black on
  the statements that still need it (long lines, complex slices).
"""

from __future__ import annotations

import builtins
import functools
import inspect
import itertools
import keyword
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from . import buffers, custom, floats, inplace, runtime, style
from .analysis import SCALAR, may_be_none, shape_classes
from .errors import Loc
from .ir import (
    Assign,
    Atom,
    Const,
    Copy,
    For,
    Function,
    If,
    Index,
    ListConst,
    Pop,
    Push,
    Return,
    SetItem,
    Slice,
    Stmt,
    Var,
    While,
    bodies,
    for_targets,
    uses,
    walk,
    writes,
)
from .ir import rename as ir_rename
from .names import Names
from .optimize import carry_in_place, optimize
from .reverse import Adjoint
from .rules import CHECKS, JOIN_GUARD, OPS, VIEWS

_HELPERS = [
    name
    for name, obj in vars(runtime).items()
    if inspect.isfunction(obj)
    or (inspect.isclass(obj) and obj.__module__ == runtime.__name__)
    or (name.isupper() and name.startswith("_"))  # (constants: `_NUMBERS`)
]


@dataclass(frozen=True)
class ModuleSpec:
    """Everything the module and function printers need besides the IR."""

    function: str  # the differentiated function's name
    origin: str  # file name it came from, for the docstring
    version: str
    params: tuple[str, ...]
    defaults: tuple[str, ...]  # source text of trailing positional defaults
    wrt: tuple[str, ...]
    wrt_is_tuple: bool
    constants: tuple[Const, ...]
    has_aux: bool = False
    # the keyword-only parameters (the last of `params`) and their defaults'
    # text, None for none
    keyword_only: tuple[tuple[str, str | None], ...] = ()


def emit_module(
    primal: Function, adjoint: Adjoint, spec: ModuleSpec, names: Names
) -> str:
    """The module of `f_and_grad`."""
    text = grad_function(primal, adjoint, spec, names)
    return module_text(spec, [text], supplied=supplied_names(primal))


def grad_function(
    primal: Function, adjoint: Adjoint, spec: ModuleSpec, names: Names
) -> str:
    """`def f_and_grad(...)`: the value and the gradient."""
    ret = primal.body[-1]
    assert isinstance(ret, Return)
    body, adjoint_body, grads = optimize(primal, adjoint, names)
    body, adjoint_body, grads = _gradient_names(
        body, adjoint_body, grads, spec.wrt, names, adjoint.bars
    )
    writes = inplace.plan(primal, body, adjoint_body)
    body = inplace.apply(writes, body)
    adjoint_body = inplace.apply(writes, adjoint_body)
    value = inplace.rename_atom(writes, ret.value)
    aux = None if ret.aux is None else inplace.rename_atom(writes, ret.aux)
    check = Assign(
        Var("seed"), "check_seed", (Const(spec.function), Var("seed"), value)
    )
    statements = body + [check] + adjoint_body
    result: list[Atom] = [value, *grads] + ([aux] if aux is not None else [])
    entries = floats.entry_arrays(
        statements, spec.params, [value] + ([aux] if aux is not None else [])
    )

    def printed(on_floats: bool, local: dict[str, str] | None = None) -> list[str]:
        printer = _Printer(
            carry_in_place(
                floats.recomputed(floats.trimmed(statements))
                if on_floats
                else statements
            ),
            len(body),
            result,
            names,
            spec.function,
            adjoint.bars,
            on_floats,
            local,
            entries if on_floats else floats.EMPTY,
        )
        lines = printer.lines()
        # (np.where of numbers is a 0-d array, which may reach a gradient
        # through any path: on floats, every gradient is made a float)
        zero_d = on_floats and any(
            isinstance(s, Assign) and s.op == "where" for s in walk(statements)
        )
        grad_text = ", ".join(_printed_grad(printer, g, zero_d) for g in grads)
        if spec.wrt_is_tuple:
            grad_text = f"({grad_text}{',' if len(grads) == 1 else ''})"
        returned = printer.expr(value)
        if aux is not None:
            returned = f"({returned}, {printer.expr(aux)})"
        return lines + [f"return {returned}, {grad_text}"]

    lines = printed(False)
    # the arguments' checks first, before the float body's dispatch too
    checks = [ln for ln in lines if ln.startswith("_unshared(")]
    lines = checks + [ln for ln in lines if not ln.startswith("_unshared(")]
    fast = ""
    if (  # (a None returned is refused by the seed check: no float body)
        floats.eligible(statements, entries)
        and floats.pays(lines)
        and not may_be_none(primal, ret.value)
    ):
        rest = lines[len(checks) :]
        lines = checks + _float_dispatch(spec, entries) + rest
        float_lines = printed(True)
        looped = floats.looped_math(float_lines)
        if looped:
            code = "\n".join(x for x in float_lines if not x.lstrip().startswith("#"))
            printed_names = set(re.findall(r"(?<![\w.])[A-Za-z_]\w*", code))
            local = {name: _local_name(names, name, printed_names) for name in looped}
            float_lines = [
                f"{', '.join(local.values())} = "
                + ", ".join(f"math.{name}" for name in local)
            ] + printed(True, local)
        fast = "\n\n" + function_text(
            "_f_and_grad_floats",
            ", ".join(spec.params + ("seed",)),
            "`f_and_grad` on Python floats and ints: `math` where it used numpy.",
            float_lines,
        )
    elif isinstance(ret.value, Var) and shape_classes(primal)[ret.value.name] == SCALAR:
        lines = _scalar_seed(lines)
    elif floats.eligible(statements) and isinstance(value, Var):
        unit = _unit_seed(adjoint_body, value, grads)
        returned = None
        if unit is not None:
            unit_body, unit_grads = unit
            printer = _Printer(
                carry_in_place(body + unit_body),
                len(body),
                [value, *unit_grads],
                names,
                spec.function,
                adjoint.bars,
            )
            returned = _unit_return(printer, lines, value, unit_grads, spec, aux)
        lines = _float_seed(lines, returned)
    wrt = ", ".join(spec.wrt)
    summary = f"Return {called(spec)} and its gradient with respect to {wrt}."
    if spec.has_aux:
        summary = (
            f"Return {called(spec)}, a pair (loss, aux), and the gradient of the "
            f"loss with respect to {wrt}."
        )
    return (
        function_text("f_and_grad", signature(spec, "*, seed=None"), summary, lines)
        + fast
    )


def _printed_grad(printer: _Printer, grad: Atom, zero_d: bool) -> str:
    """A gradient as `return` prints it: in the float body, the array of a
    memoryview (`floats.entry_arrays`), and a float where `np.where` of
    numbers may have made a 0-d array."""
    text = printer.expr(grad)
    if isinstance(grad, Var) and grad.name in printer.entries:
        return f"{text}.obj"
    return f"float({text})" if zero_d else text


def _local_name(names: Names, base: str, printed: set[str]) -> str:
    """A fresh name for a local binding of `math.<base>`: no name the source
    uses, none the printed body reads (a helper inlined from another function
    may call the builtin `pow`), and no builtin."""
    name = names.fresh(base)
    while name in names.avoid or name in printed or hasattr(builtins, name):
        name = names.fresh(base)
    return name


def _scalar_seed(lines: list[str]) -> list[str]:
    """A value that is provably a number or 0-d (a reduction over every axis,
    `analysis.shape_classes`): no seed means 1.0, as `_check_seed` would
    return, without calling it."""
    i = next(i for i, line in enumerate(lines) if line.startswith("seed = _check"))
    return [
        *lines[:i],
        "if seed is None:",
        "    seed = 1.0",
        "else:",
        f"    {lines[i]}",
        *lines[i + 1 :],
    ]


def _float_seed(lines: list[str], returned: str | None) -> list[str]:
    """Scalar code that runs on Python floats as it is (no float body): the
    seed check of a float value without a seed, inlined (a call is a third
    of the time of `x**2` and its gradient); where the gradient for the seed
    1.0 is one expression per parameter (`_unit_return`), it is returned
    there."""
    i = next(i for i, line in enumerate(lines) if line.startswith("seed = _check"))
    value = lines[i].rsplit(", ", 1)[1].removesuffix(")")
    test = f"if seed is None and {value}.__class__ is float:"
    if returned is not None:
        return [*lines[:i], test, f"    return {returned}", *lines[i:]]
    return [
        *lines[:i],
        test,
        "    seed = 1.0",
        "else:",
        f"    {lines[i]}",
        *lines[i + 1 :],
    ]


# Operations whose result is a float where one operand is a float, on the
# Python numbers of scalar code.
_FLOAT_ARITHMETIC = {"add", "sub", "mul", "truediv", "neg", "pos"}


def _unit_seed(
    adjoint: list[Stmt], value: Var, grads: list[Atom]
) -> tuple[list[Stmt], list[Atom]] | None:
    """The straight-line adjoint of scalar code with the seed 1.0 folded in,
    and its gradients: `2.0 * x` for `2.0 * seed * x`.  Only where `out` is a
    Python float (so 1.0 times a value that is a float is that value, to the
    bit, inf and nan included); None where a `1.0 *` stays, its other factor
    not provably a float (`seed * k` for an int `k` must still be a float),
    or the adjoint has a loop or a branch."""
    one = Const(1.0)
    floats_ = {value.name}
    alias: dict[str, Atom] = {"seed": one}

    def arg(atom: Atom) -> Atom:
        return alias.get(atom.name, atom) if isinstance(atom, Var) else atom

    def is_float(atom: Atom) -> bool:
        if isinstance(atom, Const):
            return atom.name is None and type(atom.value) is float
        return isinstance(atom, Var) and atom.name in floats_

    out: list[Stmt] = []
    for stmt in adjoint:
        if not isinstance(stmt, Assign):
            return None
        args = tuple(arg(a) for a in stmt.args)
        if stmt.op == "mul" and one in args:
            other = args[1] if args[0] == one else args[0]
            if not is_float(other):
                return None
            alias[stmt.target.name] = other
            continue
        numbers = [a.value for a in args if is_float(a) and isinstance(a, Const)]
        if stmt.op in ("mul", "neg") and len(numbers) == len(args):
            # (`2.0 * 3.0 * x` computes 2.0 * 3.0 first: 6.0 * x is the same;
            # but a nan is printed np.nan, whose sign `inf * 0.0`'s is not)
            folded = numbers[0] * numbers[1] if stmt.op == "mul" else -numbers[0]
            if folded == folded:
                alias[stmt.target.name] = Const(folded)
                continue
        if stmt.op in _FLOAT_ARITHMETIC and any(is_float(a) for a in args):
            floats_.add(stmt.target.name)
        out.append(Assign(stmt.target, stmt.op, args, stmt.params, stmt.loc))
    if any(v.name == "seed" for s in walk(out) for v in uses(s)):
        return None
    return out, [arg(g) for g in grads]


def _gradient_names(
    body: list[Stmt],
    adjoint_body: list[Stmt],
    grads: tuple,
    wrt: tuple[str, ...],
    names: Names,
    bars: dict[str, str],
) -> tuple[list[Stmt], list[Stmt], tuple]:
    """A gradient held in a temporary's cotangent (`logits - lmax` passes it
    on as it is: `t4_bar`) printed under its parameter's name, `logits_bar`,
    where no statement and no name of the source (a module constant) is."""
    temp_bars = {bars[t] for t in names.made_temps if t in bars}
    printed = {
        n
        for s in walk(body + adjoint_body)
        for n in itertools.chain(writes(s), (v.name for v in uses(s)))
    }
    rename = {}
    for param, g in zip(wrt, grads, strict=True):
        readable = f"{param}_bar"
        free = readable not in printed and readable not in names.avoid
        if isinstance(g, Var) and g.name in temp_bars and free:
            if g.name not in rename and readable not in rename.values():
                rename[g.name] = readable
    if not rename:
        return body, adjoint_body, grads
    grads = tuple(
        Var(rename.get(g.name, g.name)) if isinstance(g, Var) else g for g in grads
    )
    return (
        [ir_rename(s, rename) for s in body],
        [ir_rename(s, rename) for s in adjoint_body],
        grads,
    )


def _unit_return(
    printer: _Printer,
    lines: list[str],
    value: Var,
    grads: list[Atom],
    spec: ModuleSpec,
    aux: Atom | None,
) -> str | None:
    """What `f_and_grad` returns for a float value without a seed, its
    gradients written out, `out, 2.0 * x`: where the primal prints as in
    `lines` and each of the unit adjoint's lines (but comments) is a
    gradient's assignment; None otherwise (a second copy of longer adjoint
    code would cost more reading than the 13 ns it saves)."""
    printed = printer.lines()
    i = next(i for i, line in enumerate(lines) if line.startswith("seed = _check"))
    if printed[:i] != lines[:i]:
        return None
    names = [printer.expr(g) for g in grads]
    assigned: dict[str, str] = {}
    for line in printed[i:]:
        if line.startswith("#"):
            continue
        name, sep, expr = line.partition(" = ")
        if not sep or name not in names or name in assigned:
            return None
        assigned[name] = expr
    exprs = [assigned.get(name, name) for name in names]
    if any(re.search(rf"\b{re.escape(n)}\b", e) for e in exprs for n in assigned):
        return None
    grad_text = ", ".join(exprs)
    if spec.wrt_is_tuple:
        grad_text = f"({grad_text}{',' if len(exprs) == 1 else ''})"
    returned = printer.expr(value)
    if aux is not None:
        returned = f"({returned}, {printer.expr(aux)})"
    return f"{returned}, {grad_text}"


def _float_dispatch(spec: ModuleSpec, entries: Mapping[str, int]) -> list[str]:
    """The start of `f_and_grad`: Python numbers take the `math` body, and so
    do float64 arrays only read by entries (`floats.entry_arrays`), as
    memoryviews (`_float_entries` raises TypeError for other arrays)."""
    tests = []
    for p in spec.params:
        if p in entries:
            tests.append(f"{p}.__class__ in _ENTRIES")
        else:
            tests.append(f"{p}.__class__ in _NUMBERS")
    tests.append("(seed is None or seed.__class__ in _NUMBERS)")
    call = ", ".join(
        [
            floats.float_entries(p, entries[p]) if p in entries else p
            for p in spec.params
        ]
        + ["seed"]
    )
    return [
        *_condition(tests, indent=4),
        "    try:",
        f"        return _f_and_grad_floats({call})",
        "    except (ArithmeticError, ValueError, TypeError):",
        "        pass  # where math raises, numpy gives inf or nan: use numpy",
    ]


def _condition(tests: list[str], indent: int) -> list[str]:
    """`if <tests joined by and>:` split over lines as black splits it (so
    black has nothing to change, see `style.clean`)."""
    line = f"if {' and '.join(tests)}:"
    if indent + len(line) <= 88:
        return [line]
    last = tests[-1][1:-1]  # the parenthesized seed test
    head = f"if {' and '.join(tests[:-1])} and ("
    if len(tests) == 2 and indent + len(head) <= 88 and indent + 4 + len(last) <= 88:
        return [head, f"    {last}", "):"]
    return ["if (", f"    {tests[0]}", *(f"    and {t}" for t in tests[1:]), "):"]


def jvp_function(
    program: Function,
    lowered: Adjoint,
    spec: ModuleSpec,
    names: Names,
    name: str,
    summary: str | None = None,
) -> str:
    """`def <name>(..., tangents)`: the value and its tangent, from the
    forward-mode program (`forward.jvp`) and its lowering to plain code."""
    ret = program.body[-1]
    assert isinstance(ret, Return) and ret.aux is not None
    body, _, _ = optimize(program, lowered)
    writes = inplace.plan(program, body, [], forward_mode=True)
    body = inplace.apply(writes, body)
    value = inplace.rename_atom(writes, ret.value)
    tangent = inplace.rename_atom(writes, ret.aux)
    printer = _Printer(body, len(body), [value, tangent], names, spec.function, {})
    dots = program.params[len(spec.params) :]
    if not spec.wrt_is_tuple:
        lines = [f"{dots[0]} = tangents"]
    else:
        targets = f"({dots[0]},)" if len(dots) == 1 else ", ".join(dots)
        check = f'_tangent_tuple("{spec.function}", tangents, {len(dots)})'
        lines = [f"{targets} = {check}"]
    for dot, param in zip(dots, spec.wrt, strict=True):
        lines.append(f'{dot} = _check_tangent("{spec.function}", {dot}, {param})')
    lines += printer.lines()
    lines.append(f"return {printer.expr(value)}, {printer.expr(tangent)}")
    wrt = ", ".join(spec.wrt)
    along = "the tuple `tangents`" if spec.wrt_is_tuple else "`tangents`"
    summary = summary or (
        f"Return {called(spec)} and its derivative along {along} (a tangent "
        f"of {wrt}): the Jacobian-vector product."
    )
    tail = "tangents" if not spec.defaults else "*, tangents"
    return function_text(name, signature(spec, tail), summary, lines)


def called(spec: ModuleSpec) -> str:
    """`f(x, y)`: the differentiated function called with its parameters."""
    return f"{spec.function}({call_args(spec)})"


def signature(spec: ModuleSpec, extra: str = "") -> str:
    """The parameters of `spec`'s function with their defaults, then `extra`
    (`*, seed=None`: keyword-only, after the function's own ones)."""
    params = list(spec.params[: len(spec.params) - len(spec.keyword_only)])
    first_default = len(params) - len(spec.defaults)
    for i, default in enumerate(spec.defaults):
        params[first_default + i] += f"={default}"
    if spec.keyword_only:
        params.append("*")
        params += [p if d is None else f"{p}={d}" for p, d in spec.keyword_only]
        extra = extra.removeprefix("*, ")
    return ", ".join(params + ([extra] if extra else []))


def call_args(spec: ModuleSpec) -> str:
    """`spec`'s parameters passed on by a function of the same signature:
    `w, x, l2=l2` (keyword-only ones by name)."""
    named = {p for p, _ in spec.keyword_only}
    return ", ".join(f"{p}={p}" if p in named else p for p in spec.params)


def function_text(name: str, signature: str, summary: str, lines: list[str]) -> str:
    """`def name(signature):` with a docstring and the body `lines`."""
    body = "\n".join("    " + line for line in lines)
    return f"def {name}({signature}):\n{_docstring(summary, '    ')}\n{body}\n"


class _Printer:
    """Statement printer that folds single-use temporaries into their use.

    A temporary is folded only into a statement of its own block (never into
    a loop or branch body, which may run it a different number of times), and
    only when nothing between the two changes what it reads."""

    def __init__(
        self,
        statements: list[Stmt],
        first_adjoint: int,
        result: list[Atom],
        names: Names,
        top_function: str,
        bars: dict[str, str],
        on_floats: bool = False,
        local: dict[str, str] | None = None,
        entries: Mapping[str, int] = floats.EMPTY,
    ):
        self.on_floats = on_floats  # print the Python-float body (`floats`)
        self.loops = 0  # the loops around the statement printed
        self.local = local  # math functions bound to local names (`floats`)
        self.entries = entries  # arrays that are memoryviews (`floats`)
        self.statements = statements
        self.first_adjoint = first_adjoint
        self.top_function = top_function
        self.temps = names.made_temps
        # a temporary's cotangent is folded as a temporary is where the
        # temporary itself is not printed (no `t7_bar` without a `t7`)
        self.bar_of = {bars[t]: t for t in names.made_temps if t in bars}
        self.assigned = {
            s.target.name for s in walk(statements) if isinstance(s, Assign)
        }
        self.counts = Counter(v.name for s in walk(statements) for v in uses(s))
        self.counts.update(a.name for a in result if isinstance(a, Var))
        self.counts.update(  # (an argument a template prints twice is not folded)
            a.name
            for s in walk(statements)
            if isinstance(s, Assign) and s.op in OPS
            for i, a in enumerate(s.args)
            if isinstance(a, Var) and OPS[s.op].template.count(f"{{{i}}}") > 1
        )
        self.defined = Counter(n for s in walk(statements) for n in writes(s))
        self.views = {  # a view -> the array it is a view of
            s.target.name: s.args[0].name
            for s in walk(statements)
            if isinstance(s, Assign)
            and s.op in VIEWS
            and s.args
            and isinstance(s.args[0], Var)
        }
        self.inline: dict[str, Assign] = {}
        self._scan(statements)
        unread = {  # checks printed as calls alone (`_same_shapes(parts)`)
            s.target.name
            for s in walk(statements)
            if isinstance(s, Assign)
            and s.op in CHECKS
            and not self.counts[s.target.name]
        }
        self.rename = _renumber(statements, self.inline.keys() | unread, names, bars)

    def _scan(self, statements, tail: Atom | None = None) -> None:
        """Choose the temporaries of one block to fold; `tail` is read after
        its last statement (a while loop's condition)."""
        for i, stmt in enumerate(statements):
            for inner in bodies(stmt):
                self._scan(
                    inner,
                    (
                        stmt.cond
                        if isinstance(stmt, While) and inner is stmt.test
                        else None
                    ),
                )
            if (
                isinstance(stmt, Assign)
                and self._temporary(stmt.target.name)
                and self._used_once(stmt.target)
                and self._stable(stmt, itertools.islice(statements, i + 1, None), tail)
            ):
                self.inline[stmt.target.name] = stmt

    def _temporary(self, name: str) -> bool:
        """Is `name` a temporary, or the cotangent of one not printed?  (A
        temporary is computed, so scanned, before its cotangent: whether it
        is folded is known here.)"""
        if name in self.temps:
            return True
        temp = self.bar_of.get(name)
        return temp is not None and (temp in self.inline or temp not in self.assigned)

    def _used_once(self, target: Var) -> bool:
        """Is `target` defined once and read once?"""
        return self.defined[target.name] == 1 and self.counts[target.name] == 1

    def _stable(self, stmt: Assign, later: Iterable[Stmt], tail: Atom | None) -> bool:
        """Is `stmt`'s one use in `later` (at block level), with nothing in
        between changing what it reads?"""
        reads = set(self._reads(stmt))
        name = stmt.target.name
        for other in later:
            if name in {v.name for v in _level_uses(other)}:
                return True
            if name in {v.name for s in walk([other]) for v in uses(s)}:
                return False  # used inside a nested block
            if reads & {w for s in walk([other]) for w in buffers.changed(s)}:
                return False
        return tail is not None and tail == stmt.target

    def _reads(self, stmt: Assign):
        """Names whose values `stmt` reads: its arguments, what folded
        temporaries read, and the arrays its arguments are views of (a write
        into `y` changes `t = y[:2]`)."""
        for var in uses(stmt):
            name = var.name
            yield name
            seen = {name}  # (`x_1 = x_1[1:]` in a loop: a name its own view)
            while self.views.get(name, name) not in seen:
                name = self.views[name]
                seen.add(name)
                yield name
            if var.name in self.inline:
                yield from self._reads(self.inline[var.name])

    def lines(self) -> list[str]:
        head = self.statements[: self.first_adjoint]
        tail = self.statements[self.first_adjoint :]
        return self.block(head, "", False) + self.block(tail, "", True)

    def block(self, statements, indent: str, commented: bool) -> list[str]:
        out: list[str] = []
        last_loc = None
        skip = 0
        for i, stmt in enumerate(statements):
            if skip:
                skip -= 1
                continue
            if isinstance(stmt, Assign) and stmt.target.name in self.inline:
                continue
            if self.on_floats and floats.dropped(stmt):
                continue
            loc = stmt.loc if stmt.loc is not None else self._inlined_loc(stmt)
            if (
                commented
                and (i > 0 or indent)
                and loc is not None
                and (loc.file, loc.line) != last_loc
                and not isinstance(stmt, Pop)
            ):
                where = "" if loc.function == self.top_function else f" {loc.function}"
                out.append(f"{indent}# grad of{where}: {loc.text.strip()}")
                last_loc = (loc.file, loc.line)
            unpacking, skip = self._unpacking(statements, i)
            if unpacking:
                out += [indent + line for line in unpacking]
                continue
            out += self.compound(stmt, indent, commented)
        return out

    def _inlined_loc(self, stmt: Stmt) -> Loc | None:
        """The line of the value a statement of no line of its own prints (a
        branch's cotangent, `a_bar = t8`, printed `a_bar = _unbroadcast(g *
        t1, a)`): its first inlined operand's, that one's own or inlined."""
        for var in uses(stmt):
            inlined = self.inline.get(var.name)
            if inlined is not None:
                return inlined.loc or self._inlined_loc(inlined)
        return None

    def _unpacking(self, statements, start: int) -> tuple[list[str], int]:
        """`a, b = v` for `t = _unpacked(v, 2)`, `a = t[0]`, `b = t[1]`: a run
        of such statements starting at `start` (a Hessian's loop unpacks a
        value and its tangent together) where each `t` is read by its items
        alone, each named.  Returns the lines and how many statements after
        the first they stand for (no lines: print the statements)."""
        items: dict[str, dict[int, str]] = {}  # t -> item -> name
        sources: list[Assign] = []
        end = start
        while end < len(statements):
            stmt = statements[end]
            if not isinstance(stmt, Assign) or stmt.target.name in self.inline:
                break
            if stmt.op == "unpacked":
                sources.append(stmt)
                items[stmt.target.name] = {}
            elif (
                stmt.op == "getitem"
                and isinstance(stmt.args[0], Var)
                and stmt.args[0].name in items
                and len(stmt.args[1].items) == 1
                and isinstance(stmt.args[1].items[0], Const)
            ):
                taken = items[stmt.args[0].name]
                taken[stmt.args[1].items[0].value] = self.name(stmt.target)
            else:
                break
            end += 1
        if not sources or sources[0] is not statements[start]:
            return [], 0
        lines = []
        for made in sources:
            taken, n = items[made.target.name], made.args[1].value
            if sorted(taken) != list(range(n)) or self.counts[made.target.name] != n:
                return [], 0
            names = ", ".join(taken[k] for k in range(n))
            lines.append(f"{names} = {self.expr(made.args[0])}")
        return lines, end - start - 1

    def compound(self, stmt: Stmt, indent: str, commented: bool) -> list[str]:
        inner = indent + "    "
        if isinstance(stmt, If):
            lines = [f"{indent}if {self.expr(stmt.cond)}:"]
            lines += self.block(stmt.body, inner, commented) or [inner + "pass"]
            if stmt.orelse:
                lines.append(f"{indent}else:")
                lines += self.block(stmt.orelse, inner, commented) or [inner + "pass"]
            return lines
        if isinstance(stmt, For):
            names = [self.name(t) for t in for_targets(stmt)]
            iterable = self.expr(stmt.iter)
            stack = _reversed_name(iterable)
            if len(names) > 1 and stack is not None:
                lines = _in_body(style.reversed_loop, indent, names, stack)
            else:
                lines = [f"{indent}for {', '.join(names) or '_'} in {iterable}:"]
            self.loops += 1
            body = self.block(stmt.body, inner, commented) or [inner + "pass"]
            self.loops -= 1
            return lines + body
        if isinstance(stmt, While):
            self.loops += 1
            test = self.block(stmt.test, inner, False)
            body = self.block(stmt.body, inner, commented) or [inner + "pass"]
            self.loops -= 1
            if not test:
                return [f"{indent}while {self.expr(stmt.cond)}:"] + body
            check = f"{inner}if not {_wrap(self.expr(stmt.cond))}:"
            return [f"{indent}while True:"] + test + [check, inner + "    break"] + body
        if isinstance(stmt, Push) and len(stmt.values) > 1:
            values = [self.expr(v) for v in stmt.values]
            if all(v.isidentifier() for v in values):
                stack = self.name(stmt.stack)
                return _in_body(style.appended_tuple, indent, stack, values)
        if (  # (in a loop, `if lists:` guards it)
            isinstance(stmt, Assign)
            and stmt.op == "not_joined"
            and not self.counts[stmt.target.name]
            and not self.loops
        ):
            a, b = (self.expr(v) for v in stmt.args[:2])
            guard = f"{indent}if {JOIN_GUARD.format(a, b)}:"
            fits = len(guard) + 4 <= style.WIDTH  # (in the function's body)
            if _is_name(a) and _is_name(b) and fits:
                return [guard, f"{inner}{self.statement(stmt)}"]
        return [indent + self.statement(stmt)]

    def statement(self, stmt: Stmt) -> str:
        if isinstance(stmt, Assign) and stmt.op == "iadd":
            return f"{self.name(stmt.target)} += {self.expr(stmt.args[1])}"
        if isinstance(stmt, Assign):
            value = self.expr(stmt.target, top=stmt)
            if stmt.op in CHECKS and not self.counts[stmt.target.name]:
                return value
            return f"{self.name(stmt.target)} = {value}"
        if isinstance(stmt, Copy):
            targets = ", ".join(self.name(t) for t in stmt.targets)
            return f"{targets} = {', '.join(self.expr(v) for v in stmt.values)}"
        if isinstance(stmt, Push):
            values = ", ".join(self.expr(v) for v in stmt.values)
            packed = values if len(stmt.values) == 1 else f"({values})"
            return f"{self.name(stmt.stack)}.append({packed})"
        if isinstance(stmt, Pop):
            targets = ", ".join(self.name(t) for t in stmt.targets)
            return f"{targets} = {self.name(stmt.stack)}.pop()"
        assert isinstance(stmt, SetItem)
        value = self.expr(stmt.value)
        target = self.name(stmt.target)
        if stmt.mode == "append":
            return f"{target}.append({value})"
        if stmt.mode == "pop":
            return f"{target}.pop()"
        if stmt.mode == "add_at":
            index = style.clean(self.index_tuple(stmt.index))
            return f"np.add.at({target}, {index}, {value})"
        sign = {"set": "=", "add": "+=", "sub": "-="}[stmt.mode]
        return f"{style.clean(target + self.index(stmt.index))} {sign} {value}"

    def name(self, var: Var) -> str:
        return self.rename.get(var.name, var.name)

    def expr(self, atom: Atom, top: Assign | None = None) -> str:
        stmt = top or (self.inline.get(atom.name) if isinstance(atom, Var) else None)
        if stmt is None:
            return _const(atom) if isinstance(atom, Const) else self.name(atom)
        return style.clean(self._render(stmt))

    def _raw(self, atom: Atom) -> str:
        """`atom` as `expr` prints it but not yet cleaned: an operand, which
        is cleaned with the whole expression (once, not once per level)."""
        stmt = self.inline.get(atom.name) if isinstance(atom, Var) else None
        if stmt is None:
            return _const(atom) if isinstance(atom, Const) else self.name(atom)
        return self._render(stmt)

    def _render(self, stmt: Assign) -> str:
        op = OPS.get(stmt.op)
        args = [self._arg(a) for a in stmt.args]
        if self.on_floats:
            spelled = floats.spelling(stmt, args, self.local, self.entries)
            if spelled is not None:
                return spelled
        if stmt.op in ("range", "reversed_range"):
            return op.template.replace("{0}, {1}, {2}", _range_args(args))
        params = dict(stmt.params)
        if "fn" in params:
            called = params.pop("fn")
            if self.local and called.startswith("math."):  # (`floats.looped_math`)
                called = self.local.get(called[len("math.") :], called)
            return f"{called}({', '.join(args)})"
        defaults = dict(op.params)
        shown = [
            f"{k}={_value(v)}"
            for k, v in stmt.params
            if k not in defaults or defaults[k] != v or type(defaults[k]) is not type(v)
        ]
        named = {k: v if isinstance(v, str) else _value(v) for k, v in params.items()}
        return op.template.format(
            *args,
            args=", ".join(args),
            params="".join(", " + s for s in shown),
            **named,
        )

    def _arg(self, arg) -> str:
        if isinstance(arg, Index):
            return self.index(arg)
        return f"({self._raw(arg)})"

    def index(self, index: Index) -> str:
        if not index.items:
            return "[()]"  # y[()]: the one entry of a 0-d array
        wrapped = "," if index.wrapped and len(index.items) == 1 else ""
        return "[" + ", ".join(self._item(i) for i in index.items) + wrapped + "]"

    def index_tuple(self, index: Index) -> str:
        one = len(index.items) == 1 and not isinstance(index.items[0], Slice)
        if one and not index.wrapped:
            # the item itself, as `x[i]` reads it: `i` may hold a tuple
            # (`x[IDX]` with IDX = (0, 1) is `x[0, 1]`, not rows 0 and 1)
            return self._item(index.items[0])
        items = []
        for item in index.items:
            if isinstance(item, Slice):
                parts = [self._part(p) for p in (item.start, item.stop, item.step)]
                items.append(f"slice({', '.join(parts)})")
            else:
                items.append(self._item(item))
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"

    def _item(self, item: Atom | Slice) -> str:
        if isinstance(item, Slice):
            text = f"{self._part(item.start, '')}:{self._part(item.stop, '')}"
            return text if item.step is None else f"{text}:{self._part(item.step)}"
        if isinstance(item, Const) and item.value is Ellipsis:
            return "..."
        return f"({self._raw(item)})"

    def _part(self, atom: Atom | None, empty: str = "None") -> str:
        return empty if atom is None else f"({self._raw(atom)})"


def _in_body(split, indent: str, *args) -> list[str]:
    """The lines of `split(indent, *args)` (a statement split as black splits
    it), where the function body's own 4 spaces, which `function_text` adds,
    count against black's width."""
    return [line[len(_BODY) :] for line in split(_BODY + indent, *args)]


_BODY = "    "


def _is_name(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


def _reversed_name(iterable: str) -> str | None:
    """`saved` for the text `reversed(saved)`."""
    inner = iterable.removeprefix("reversed(").removesuffix(")")
    return inner if iterable.startswith("reversed(") and inner.isidentifier() else None


def _level_uses(stmt: Stmt):
    """What a statement reads where a folded temporary would be printed."""
    return () if isinstance(stmt, While) else uses(stmt)


def _range_args(args: list[str]) -> str:
    start, stop, step = (style.clean(a) for a in args)
    if step != "1":
        return f"{start}, {stop}, {step}"
    return stop if start == "0" else f"{start}, {stop}"


def _wrap(text: str) -> str:
    return text if text.isidentifier() else f"({text})"


def _renumber(
    statements: list[Stmt], unnamed: set[str], names: Names, bars: dict[str, str]
) -> dict[str, str]:
    """Number the temporaries that are printed under a name (not folded, not a
    check printed alone) t1, t2, ... in order; the adjoint of a temporary
    follows it (`t3_bar`), unless the temporary is not printed under a name:
    then the adjoint is a temporary of its own (`t5 = seed * 3.0`)."""
    bar_of = {bars[t]: t for t in names.made_temps if t in bars}
    others = (names.taken | names.avoid) - names.made_temps - bar_of.keys()
    printed = {
        s.target.name
        for s in walk(statements)
        if isinstance(s, Assign) and s.target.name not in unnamed
    }
    rename: dict[str, str] = {}
    count = 0

    def number() -> int:
        nonlocal count
        count += 1
        while f"t{count}" in others or f"t{count}_bar" in others:
            count += 1
        return count

    for stmt in walk(statements):
        for name in writes(stmt):
            if name in rename or name in unnamed:
                continue
            if (
                isinstance(stmt, Assign)
                and name in printed
                and name in names.made_temps
            ):
                rename[name] = f"t{number()}"
                if name in bars:
                    rename[bars[name]] = f"{rename[name]}_bar"
            elif name in bar_of and bar_of[name] not in printed:
                rename[name] = f"t{number()}"
    return rename


def _const(const: Const) -> str:
    if const.name is not None:
        return const.name
    return _value(const.value)


def _value(value: object) -> str:
    if value is Ellipsis:
        return "..."
    if isinstance(value, list | tuple):  # ([1.0, nan]: np.nan, not `nan`)
        return _literal(value)
    if isinstance(value, float) and not np.isfinite(value):
        return "np.nan" if np.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
    return style.number(repr(value)) if isinstance(value, float) else repr(value)


def _constant_line(const: Const) -> str:
    value = const.value
    if isinstance(value, np.ndarray):
        return (
            f"{const.name} = np.array({_literal(value.tolist())}, "
            f'dtype="{value.dtype.name}")'
        )
    if isinstance(value, np.number):  # (np.float64(1e40) * a float32 array
        kind = type(value).__name__  # is float64, 1e40 * it is float32)
        return f"{const.name} = np.{kind}({_literal(value.item())})"
    return f"{const.name} = {_literal(value)}"


def _literal(value: object) -> str:
    """Python source for a number, or a list or tuple of them (nested),
    spelling inf and nan as numpy's."""
    if isinstance(value, list | ListConst):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        items = [_literal(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return _value(value)


def supplied_names(fn: Function) -> list[str]:
    """The user's functions with custom rules that code made from `fn` calls."""
    found: list[str] = []
    for stmt in walk(fn.body):
        if isinstance(stmt, Assign) and stmt.op in ("custom", "opaque"):
            rule = stmt.param("rule")
            names = rule.names() if rule is not None else (stmt.param("fn"),)
            found += [n for n in names if n not in found]
    return found


def module_text(
    spec: ModuleSpec, functions: list[str], title: str = "", supplied=()
) -> str:
    """The module holding `functions`, its imports, constants and helpers;
    `supplied` names the custom-rule functions the caller binds."""
    code = "\n\n".join(functions)
    helpers = _helpers(code)
    uses_math = re.search(r"\bmath\.", "\n".join([code, *helpers]))
    imports = ["import math"] if uses_math else []  # (`_logaddexp` calls it)
    title = title or "Gradient"
    head = (
        f"{title} of `{spec.function}` from {spec.origin}, generated by symgrad "
        f"{spec.version}.\n\nDo not edit: symgrad regenerates it from the source."
    )
    # each part with the blank lines black puts before it: two before a
    # function or class (or the comment over one), else one
    parts = [_docstring(head, ""), "\n".join(imports + ["import numpy as np"])]
    if supplied:
        parts.append(custom.supplied(list(supplied)))
    # the constants the code reads (a comparison of constants, `MODE ==
    # "tanh"`, was decided when compiling; comments quote the source)
    read = re.sub(r"(?m)^\s*#.*$", "", code)
    constants = [c for c in spec.constants if re.search(rf"\b{c.name}\b", read)]
    if constants:
        parts.append("\n".join(_constant_line(c) for c in constants))
    parts += [f"\n{function.strip()}" for function in functions]
    text = style.formatted("\n\n".join(part.rstrip("\n") for part in parts) + "\n")
    if helpers:  # (black's already: the runtime's source is kept black-formatted)
        support = "\n\n".join(helpers).rstrip("\n")
        text += f"\n\n# Support code copied from symgrad.runtime.\n\n\n{support}\n"
    return text


def _docstring(text: str, indent: str) -> str:
    """A docstring whose lines fit black's 88 columns, quotes included (black
    keeps a one-line docstring on one line however long, so a line too long
    with its quotes is wrapped into two)."""
    width = 84 - len(indent)
    paragraphs = [textwrap.fill(p, width) for p in text.split("\n\n")]
    body = "\n\n".join(paragraphs)
    if "\n" not in body and len(indent) + len(body) + 6 > 88:
        body = textwrap.fill(body, width - 6)
    if "\n" not in body:
        return f'{indent}"""{body}"""'
    lines = f'"""{body}\n"""'.split("\n")
    return "\n".join((indent + line) if line else "" for line in lines)


def _helpers(code: str) -> list[str]:
    """Sources of the runtime helpers `code` calls, with their dependencies."""
    needed: set[str] = set()
    frontier = [code]
    while frontier:
        words = set(re.findall(r"\w+", frontier.pop()))
        for name in _HELPERS:
            if name not in needed and name in words:
                needed.add(name)
                frontier.append(_helper_source(name))
    return [_helper_source(n) for n in _HELPERS if n in needed]


@functools.cache
def _helper_source(name: str) -> str:
    """The source of runtime helper `name`, read once per process (for a
    class, inspect parses all of runtime.py: 8 ms each time); of a constant,
    its line."""
    if name.isupper():
        lines = inspect.getsource(runtime).splitlines(keepends=True)
        return next(line for line in lines if line.startswith(f"{name} = "))
    return inspect.getsource(getattr(runtime, name))
