"""The Python-float fast path: `f_and_grad` on floats with `math`, not numpy.

numpy spends about half a microsecond on each call with a Python float (it
builds a 0-d array and a numpy scalar); `math.sin` spends a twentieth of that.
A function whose every operation is elementwise or on Python scalars gets a
second body, `_f_and_grad_floats`, which `f_and_grad` runs when every argument
is a Python float or int (or a numpy float64), when that saves a numpy or
support-function call.  Guarantees:

* the operators (`+ - * / **`, comparisons) and `math.sqrt` give numpy's
  bits (IEEE); the other `math` functions are the C library's, which numpy's
  float64 loops match on some builds and not on others: numpy 2's own SIMD
  `exp`, `log`, `tan`, `arctan` and `expm1` differ from it in the last bit
  on some inputs (`exp` on 4.8% of them with numpy 2.4 on x86-64; numpy
  1.x's `sin` did too), so the two bodies agree to an ulp there.  Functions
  where numpy differs by more (its own tanh, special cases in np.hypot and
  np.power) stay numpy calls in both bodies; np.abs, np.square and
  np.reciprocal, whose results on ints are numpy's int64, are helpers
  (`_abs`, ...) that compute a float's with Python (`abs(x)`, `x * x`,
  `1.0 / x`) and leave anything else to numpy;
* where numpy would return inf or nan (and warn), `math` and Python raise
  (`ValueError`, `OverflowError`, `ZeroDivisionError`); a power, `**` or
  the builtin `pow`, whose exponent is a literal that is not a whole number
  is `math.pow`, and one whose exponent is a variable `_pow` (Python's `**`
  of two ints, exact, else `math.pow`): both raise where Python's `**`
  would make a complex number of a negative float (numpy's gives nan).
  `f_and_grad` then runs its numpy body, so results never differ from it.
  That body gets the same arguments (Python floats: the user's `pow` makes
  the complex number), so
  the derivative code both share raises nothing: its integer powers are
  products (`x * x` gives inf; `x ** 2` raises OverflowError), its divisions
  by values `np.divide`;
* an elementwise function without an exact spelling stays the same numpy
  call; anything that is not elementwise (an array op, a write) keeps the
  function on its numpy body alone;
* float64 arrays used only by single entries with as many int indexes as
  they have axes (a series read in a loop, `np.zeros(n)` filled by a
  recurrence, a DP table `R[i, j]`, their cotangent buffers, and slices of
  1-axis ones) are memoryviews in the float body (`entry_arrays`), whose
  entries are Python floats, stored as float64 as numpy stores them; a
  list the function makes and only appends numbers to and reads by entry
  (`level.append(...)`, `level[-1]`) stays a list, of the numbers the float
  body makes (floats, ints, what a numpy call returns, never a bool:
  `_bools`), and its cotangent is such a memoryview;
* a `math` function called in a loop is bound to a local name first
  (`sin = math.sin`): the same function, two lookups fewer per call;
* where a loop saves two floats per step and one is a single operation on
  the other and on names nothing rebinds (`t1 = math.sin(x_1)`), the float
  body saves one (`saved.append(x_1)`, no tuple) and its reverse loop
  computes the other again: the same operation on the same floats, so the
  same bits as saving it, for less than the tuple costs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from .analysis import INT_OPS, largest
from .ir import (
    Assign,
    Atom,
    Const,
    Copy,
    For,
    If,
    Index,
    Pop,
    Push,
    SetItem,
    Slice,
    Stmt,
    Var,
    While,
    for_targets,
    uses,
    walk,
    writes,
)
from .rules import OPS

EMPTY: Mapping[str, int] = MappingProxyType({})  # (no arrays are memoryviews)

# Elementwise ops spelled as Python operators.
_OPERATORS = {"add", "sub", "mul", "truediv", "neg", "pos", "float", "float64"}
_OPERATORS |= {"divide", "div", "pow"}
# numpy functions whose float64 results can differ from the `math` spelling:
# np.hypot and np.power special-case arguments (np.power(x, 2) is x * x),
# np.tanh is numpy's own (3 ulps from math.tanh), and math.exp2 is new in
# Python 3.11.  (np.abs is `_abs`: math.fabs makes a float of an int.)
_NOT_SPELLED = {"hypot", "power", "exp2", "tanh"}
# Ops that take and make only Python scalars, booleans, ranges and lists.
_SCALAR_OPS = {"lt", "le", "gt", "ge", "eq", "ne", "not_", "or_"}
_SCALAR_OPS |= {"range", "reversed_range", "reversed", "new_stack", "int"}
_SCALAR_OPS |= {"floordiv", "mod", "bound", "tuple", "min_int"}  # (`(n + 1, m + 1)`)
# Checks that numbers always pass, left out of the float body (`+` and `*`
# of numbers and memoryviews' entries join no lists; a list argument is
# read only by entries there, `entry_arrays`, so `_any_sequence` is moot).
_DROPPED = {"not_joined", "any_sequence", "unshared"}
# Tests of a float spelled as `math`'s (a bool where numpy's is an np.bool_).
_TESTS = {"isnan", "isfinite", "isinf"}
# Adjoint helpers that are the identity (or a zero) on floats.
_IDENTITIES = {"unbroadcast": 0, "owned": 0, "listed": 0}
# Other adjoint helpers with a float spelling.
_FLOAT_HELPERS = {"zeros_grad", "check_seed", "iadd", "unbroadcast_mul", "mul_into"}


def eligible(statements: list[Stmt], entries: Mapping[str, int] = EMPTY) -> bool:
    """May these statements run on Python floats with the float spellings,
    and the arrays named in `entries` (`entry_arrays`) be memoryviews?"""
    bools = _bools(statements)
    for stmt in walk(statements):
        if isinstance(stmt, Assign) and _bool_arithmetic(stmt, bools):
            return False
        if isinstance(stmt, Push | Pop | Copy | If | For | While):
            continue
        if isinstance(stmt, SetItem) and stmt.target.name in entries:
            continue  # (`entry_arrays`: one entry)
        if not isinstance(stmt, Assign):
            return False  # a write into an array
        if stmt.op in _DROPPED or stmt.target.name in entries:
            continue  # (`entry_arrays`: a new array, a cotangent buffer)
        if stmt.args and isinstance(stmt.args[0], Var) and stmt.args[0].name in entries:
            continue  # (`entry_arrays` allows only reading an entry or the length)
        if any(not _scalar_atom(a) for a in stmt.args):
            return False
        op = OPS[stmt.op]
        if stmt.param("fn") is not None and stmt.op not in ("custom", "opaque"):
            continue  # printed as the user wrote it (`math.sin`, `max`, `abs`)
        if stmt.op in _OPERATORS or stmt.op in _SCALAR_OPS:
            continue
        if stmt.op in _IDENTITIES or stmt.op in _FLOAT_HELPERS:
            continue
        if stmt.op in ("heaviside", "sign", "slope", "math_isclose"):
            continue  # (`_heaviside`, `_sign`: numpy's on floats; math's own)
        if stmt.op in _TESTS:
            continue  # (`math.isnan`)
        if op.kind == "elementwise":
            continue  # with no exact spelling, the same numpy call in both bodies
        return False
    return True


# Ops whose result is Python's bool in the float body, where the function
# may make numpy's np.bool_ (comparing np.float64 values), whose arithmetic
# differs: np.True_ + np.True_ is True (a logical or), -np.True_ raises.
_BOOLS = {"lt", "le", "gt", "ge", "eq", "ne", "not_"} | _TESTS


def _bools(statements: list[Stmt]) -> set[str]:
    """The names that may hold a bool (a comparison's, or a constant): bound
    by one, by any op but an operator that has one as an argument (`min(b,
    2)` and `xs[0]` may return it), a copy of one, a loop over a list of
    them, or restored from a stack where one was saved."""
    seeds: set[str] = set()
    edges: dict[str, list[str]] = {}  # name -> names that may hold its value

    def flows(atoms, target: str) -> None:
        for atom in atoms:
            if isinstance(atom, Var):
                edges.setdefault(atom.name, []).append(target)
            elif isinstance(atom, Const) and type(atom.value) is bool:
                seeds.add(target)

    for stmt in walk(statements):
        if isinstance(stmt, Assign) and stmt.op in _BOOLS:
            seeds.add(stmt.target.name)
        elif isinstance(stmt, Assign) and stmt.op not in _OPERATORS | _INT_RESULTS:
            flows(stmt.args, stmt.target.name)
        elif isinstance(stmt, Copy):
            for target, value in zip(stmt.targets, stmt.values, strict=True):
                flows((value,), target.name)
        elif isinstance(stmt, SetItem) and stmt.mode == "append":
            flows((stmt.value,), stmt.target.name)
        elif isinstance(stmt, For):
            for target in for_targets(stmt):
                flows((stmt.iter,), target.name)
    if not seeds:
        return seeds
    for name, values in _restored(statements).items():
        flows(values, name)
    return _reachable(seeds, edges)


def _reachable(seeds: set[str], edges: dict[str, list[str]]) -> set[str]:
    """The names reachable from `seeds` along `edges` (a worklist: linear)."""
    found = set(seeds)
    work = list(seeds)
    while work:
        for name in edges.get(work.pop(), ()):
            if name not in found:
                found.add(name)
                work.append(name)
    return found


def _bool_arithmetic(stmt: Assign, bools: set[str]) -> bool:
    """Is `stmt` an operator on bools only (`b + c`, `-b`, `b - True`), where
    Python's bools (ints) and numpy's differ?"""
    if stmt.op not in _OPERATORS or stmt.op in ("float", "float64"):
        return False
    return all(
        (isinstance(a, Var) and a.name in bools)
        or (isinstance(a, Const) and type(a.value) is bool)
        for a in stmt.args
    )


def entry_arrays(
    statements: list[Stmt], params: tuple[str, ...], returned: list[Atom]
) -> dict[str, int]:
    """The float64 arrays the float body may hold as memoryviews, whose
    entries are Python floats (numpy's are `np.float64`, with numpy's scalar
    arithmetic, ~4x the cost), each with its number of axes: arrays the
    statements read and write only by an entry, `y[i]` or `R[i, j]` with
    Python int indexes (as many, at every access, as the array has axes),
    and measure only by their shape (`len(y)`, `R.shape[1]`).  A memoryview
    has a length and a `shape`, and is indexed as the array is (negative
    indexes count from the end, the same IndexError past it; a write
    converts the value to a C double as numpy does, and raises where numpy
    raises).  They are

    * parameters never written: `f_and_grad` passes a float64 array of as
      many axes as `_float_entries(y, ndim)`, and a list of numbers as it is
      (Python floats stay numbers; anything else takes the numpy body); a
      parameter nothing reads is left as it is;
    * arrays the function makes, `np.zeros(n)` (`np.ones`, `np.empty`,
      `np.full`), and the cotangent buffers of these and of such parameters
      (`_zeros_grad(y)`, float64 as a float64 parameter's is), as
      `_float_entries(np.zeros(n), ndim)`, which raises TypeError (the numpy
      body runs) if the array has another dtype or shape; a parameter's
      gradient is returned as the array (`y_bar.obj`);
    * slices of these along their one axis (`y[1:]`, `g[:-1]`: a memoryview's
      slice is a view, as the array's);
    * lists the function makes (`[]`, `[a, b]`) and only appends numbers to
      (`_numbers`), read by entries: lists of the float body's numbers,
      whose cotangent buffers are memoryviews as above.

    Never an array in `returned` (the value, aux), read whole (`np.sum(y)`,
    a row `R[i]` of a 2-D array), saved or passed on.  The result also
    names the `y.shape` tuples (with 0 axes), which the float body
    indexes."""
    shapes = {  # `y.shape` -> y
        s.target.name: s.args[0].name
        for s in walk(statements)
        if isinstance(s, Assign) and s.op == "shape" and isinstance(s.args[0], Var)
    }
    binds: dict[str, list] = {}  # name -> the statements and atoms binding it
    for stmt in walk(statements):
        if isinstance(stmt, Copy):
            for target, value in zip(stmt.targets, stmt.values, strict=True):
                binds.setdefault(target.name, []).append(value)
        elif not isinstance(stmt, SetItem):
            for name in writes(stmt):
                binds.setdefault(name, []).append(stmt)
    made = {n for n, how in binds.items() if how and all(map(_allocation, how))}
    written = {s.target.name for s in walk(statements) if isinstance(s, SetItem)}
    written |= {  # (a caller's list appended to)
        s.args[0].name
        for s in walk(statements)
        if isinstance(s, Assign)
        and s.op == "list_append"
        and isinstance(s.args[0], Var)
    }
    read = {  # (a parameter nothing reads stays what the caller passes)
        v.name
        for s in walk(statements)
        if isinstance(s, Assign | SetItem)
        and getattr(s, "op", "") not in _BUFFERS | {"any_sequence"}
        for v in uses(s)
    }
    found = ((set(params) & read) - set(binds) - written) | made
    found -= {a.name for a in returned if isinstance(a, Var)}
    found -= {shapes[t] for t in _shapes_read_otherwise(statements, shapes)}
    possible = found | {t for t, y in shapes.items() if y in found}
    if not eligible(statements, dict.fromkeys(possible, 1)):
        return {}  # (no subset of these arrays makes the function eligible)
    ints = _int_names(statements)
    lists = _lists(binds)
    restored = _restored(statements) if found & lists else {}
    bools = _bools(statements) if found & lists else set()
    sliced = _sliced(statements)
    while True:  # the largest set closed under "used only by entries"
        numbers = (  # (only what is appended to a list need be a number)
            _numbers(binds, restored, set(params), found, ints) - bools
            if found & lists
            else set()
        )
        keep = {
            n
            for n in found
            if n in params or all(_buffer_bind(h, found, numbers) for h in binds[n])
        }
        for stmt in walk(statements):
            for var in uses(stmt):
                if var.name in keep and not _entry_use(
                    stmt, var, ints, keep, (numbers, lists)
                ):
                    keep.discard(var.name)
        axes = _axes(statements, binds, keep)
        keep = {n for n in keep if axes.get(n, 1) is not None}
        # (a memoryview slices along one axis only)
        keep -= {n for n in sliced if axes.get(n, 1) != 1}
        if keep == found:
            break
        found = keep
    entries = {n: axes.get(n) or 1 for n in found}
    return entries | {t: 0 for t, y in shapes.items() if y in found}


def _axes(statements: list[Stmt], binds: dict, found: set[str]) -> dict:
    """The number of indexes each array in `found` is accessed with, the
    same for an array, its copies and its cotangent buffers (None where two
    accesses differ, absent where none indexes it)."""
    group = {n: n for n in found}  # (union-find: an array, copies, buffers)

    def root(n: str) -> str:
        while group[n] != n:
            n = group[n]
        return n

    for name in found:
        for how in binds.get(name, ()):
            other = how if isinstance(how, Var) else None
            if isinstance(how, Assign) and (
                how.op in _BUFFERS or how.op == "list_append" or _slice_read(how)
            ):
                other = how.args[0]
            if isinstance(other, Var) and other.name in found:
                group[root(name)] = root(other.name)
    counts: dict[str, set[int]] = {}
    for stmt in walk(statements):
        appended = isinstance(stmt, SetItem) and stmt.mode == "append"
        index = stmt.index if isinstance(stmt, SetItem) and not appended else None
        if isinstance(stmt, Assign) and stmt.op in _READS:
            index = stmt.args[1]
        array = stmt.target if isinstance(stmt, SetItem) and not appended else None
        if isinstance(stmt, Assign) and stmt.op in _READS:
            array = stmt.args[0]
        if isinstance(array, Var) and array.name in found:
            counts.setdefault(root(array.name), set()).add(len(index.items))
    return {
        n: (None if len(counts[root(n)]) > 1 else min(counts[root(n)]))
        for n in found
        if root(n) in counts
    }


_ALLOCATIONS = {"zeros", "ones", "empty", "full"}  # (float64 without a `dtype=`;
# np.full's is its value's: `_float_entries` checks)


def _allocation(how: object) -> bool:
    """Does `how` bind a new array (of any shape and dtype: `_float_entries`
    checks), or the cotangent of an array, which is float64 if it is?"""
    if not isinstance(how, Assign):
        return isinstance(how, Var)  # (a copy: `_buffer_bind` decides)
    if how.op in _ALLOCATIONS:
        return len(how.args) == (2 if how.op == "full" else 1) and not how.params
    return how.op in _BUFFERS or how.op in _LISTS or _slice_read(how)


def _slice_read(how: Assign) -> bool:
    """Is `how` a slice along one axis, `y[1:]`, `g[:-1]` (a view of an
    array, a memoryview's slice, a copy of a list)?"""
    return (
        how.op == "getitem"
        and isinstance(how.args[1], Index)
        and len(how.args[1].items) == 1
        and isinstance(how.args[1].items[0], Slice)
    )


def _sliced(statements: list[Stmt]) -> set[str]:
    """The arrays and lists sliced (`_slice_read`), and their slices."""
    return {
        v.name
        for s in walk(statements)
        if isinstance(s, Assign) and _slice_read(s)
        for v in (s.target, s.args[0])
        if isinstance(v, Var)
    }


_LISTS = {"list_new", "make_list", "list_append"}  # (a Python list of numbers)


_BUFFERS = {"zeros_grad", "zeros_buffer"}  # (an array's: zeros of its shape)


def _buffer_bind(how: object, found: set[str], numbers: set[str]) -> bool:
    """Is `how` a new array, the cotangent of an array in `found`, a copy
    of an array in `found`, or a list of `numbers` (`[a, b]`, `[]`, a list
    in `found` with a number appended)?"""
    if isinstance(how, Var):
        return how.name in found
    if isinstance(how, Assign) and how.op in _BUFFERS:
        return isinstance(how.args[0], Var) and how.args[0].name in found
    if isinstance(how, Assign) and how.op == "make_list":
        return all(_number(a, numbers) for a in how.args)
    if isinstance(how, Assign) and how.op == "list_append":
        head, value = how.args
        return isinstance(head, Var) and head.name in found and _number(value, numbers)
    if isinstance(how, Assign) and _slice_read(how):
        return isinstance(how.args[0], Var) and how.args[0].name in found
    return _allocation(how)


def _lists(binds: dict) -> set[str]:
    """The names bound to a list the function makes (`[a]`, `[]`, appended
    to), to a copy of one, or to a slice of one."""
    seeds: set[str] = set()
    edges: dict[str, list[str]] = {}
    for name, hows in binds.items():
        for how in hows:
            if isinstance(how, Assign) and how.op in _LISTS:
                seeds.add(name)
            source = how if isinstance(how, Var) else None
            if isinstance(how, Assign) and _slice_read(how):
                source = how.args[0]
            if isinstance(source, Var):
                edges.setdefault(source.name, []).append(name)
    return _reachable(seeds, edges)


def _number(atom: object, numbers: set[str]) -> bool:
    """Is `atom` a number in the float body (never a bool: `_bools`)?"""
    if isinstance(atom, Var):
        return atom.name in numbers
    return isinstance(atom, Const) and type(atom.value) in (int, float)


# Ops whose result is a number where their arguments are numbers (as are
# the elementwise ones'; `len` and `int` make one from anything).
_NUMBER_OPS = {"floordiv", "mod", "min_int"} | _BOOLS  # (and elementwise ops)


def _restored(statements: list[Stmt]) -> dict[str, list[Atom]]:
    """For each name a `Pop` or a reverse loop over a stack binds, the
    values pushed to the stack in its place."""
    pushed: dict[str, list[tuple[Atom, ...]]] = {}
    for stmt in walk(statements):
        if isinstance(stmt, Push):
            pushed.setdefault(stmt.stack.name, []).append(stmt.values)
    walked = _walked(walk(statements))
    found: dict[str, list[Atom]] = {}
    for stmt in walk(statements):
        stack, targets = None, ()
        if isinstance(stmt, Pop):
            stack, targets = stmt.stack.name, stmt.targets
        elif isinstance(stmt, For) and isinstance(stmt.target, tuple):
            stack, targets = walked.get(getattr(stmt.iter, "name", "")), stmt.target
        for values in pushed.get(stack, ()) if stack else ():
            if len(values) == len(targets):  # (a stack may hold tuples of two
                # lengths, each popped where it was pushed, in its branch)
                for target, value in zip(targets, values, strict=True):
                    found.setdefault(target.name, []).append(value)
    return found


def _numbers(
    binds: dict, restored: dict, params: set[str], found: set[str], ints: set[str]
) -> set[str]:
    """The names holding a number or a bool wherever they are bound in the
    float body (the caller takes out those that may be bools, `_bools`),
    given the arrays and lists in `found`, which are memoryviews and lists
    of numbers there: a parameter (the float body gets numbers, or
    memoryviews that stay in `found` only if nothing uses them as a
    number), a Python int (`ints`), the result of an operator, an
    elementwise function or a comparison of those (an operator on a bool
    and a number makes a number alike in Python and numpy; `eligible`
    refuses one on two bools), an entry of an array or list in `found`, a
    copy of those, and what a reverse loop restores of them (`restored`)."""
    needs = {
        n: [
            (
                _number_needs(how, found, ints)
                if not isinstance(how, For | Pop)
                else _atom_needs(restored.get(n) or [None], _number_const)
            )
            for how in binds.get(n, ())
        ]
        for n in binds
        if n not in found and n not in ints
    }
    return _largest(set(needs) | params | (ints - found), needs)


def _number_needs(how: object, found: set[str], ints: set[str]):
    """The names `how` makes a number of where they are numbers (None: never)."""
    if isinstance(how, Var | Const):
        return _atom_needs([how], _number_const)
    if not isinstance(how, Assign) or how.op in ("custom", "opaque"):
        return None
    if how.op in _INT_RESULTS:
        return ()
    if how.op in _NUMBER_OPS or OPS[how.op].kind == "elementwise":
        return _atom_needs(how.args, _number_const)  # (`t + t` joins tuples)
    array = how.args[0] if how.args else None
    if (
        how.op in _READS
        and isinstance(array, Var)
        and array.name in found
        and _int_index(how.args[1], ints)
    ):
        return ()
    return None


def _number_const(atom: Const) -> bool:
    return type(atom.value) in (bool, int, float)


def _atom_needs(atoms, const) -> tuple[str, ...] | None:
    """The names among `atoms`, or None if one is a constant `const` refuses
    (or not an atom)."""
    names = []
    for atom in atoms:
        if isinstance(atom, Var):
            names.append(atom.name)
        elif not (isinstance(atom, Const) and const(atom)):
            return None
    return tuple(names)


def _largest(candidates: set[str], needs: dict) -> set[str]:
    """The largest subset of `candidates` in which each name's every bind
    (`needs[name]`: the names it needs in the subset, None for a bind that
    never qualifies) has what it needs (`analysis.largest`: linear in the
    binds, where repeating a pass until nothing changes is quadratic on a
    long chain)."""
    readers: dict[str, set[str]] = {}
    for name, binds in needs.items():
        for need in binds:
            for other in need or ():
                readers.setdefault(other, set()).add(name)
    found = set(candidates)

    def ok(name: str) -> bool:
        return all(
            need is not None and all(other in found for other in need)
            for need in needs.get(name, ())
        )

    return largest(found, ok, readers)


_READS = {"getitem", "entry_copy", "written_grad"}  # (`y[i]`, the first argument)


def _entry_use(stmt: Stmt, var: Var, ints: set[str], found: set[str], kinds) -> bool:
    """Does `stmt` use `var` only by an entry (`var[i]`, `var[i] = v`, with
    `i` a Python int), by its length or `shape`, to make its cotangent
    buffer, to copy or slice it to another name in `found` (or in the test
    for lists among the arguments, which the float body drops), or, for a
    list, to append a number to it?  (`kinds`: the numbers and the lists.)"""
    numbers, lists = kinds
    if isinstance(stmt, SetItem) and stmt.mode == "append":
        return stmt.target == var and _number(stmt.value, numbers)
    if isinstance(stmt, SetItem):  # (a list is only appended to: a memoryview
        # converts what is written into it to a float, a list holds anything)
        return (
            stmt.target == var
            and stmt.value != var
            and stmt.mode in ("set", "add", "sub")
            and _int_index(stmt.index, ints)
            and var.name not in lists
        )
    if isinstance(stmt, Copy):
        return all(
            t.name in found
            for t, v in zip(stmt.targets, stmt.values, strict=True)
            if v == var
        )
    if not isinstance(stmt, Assign):
        return False
    if stmt.op == "any_sequence":
        return True
    if stmt.op == "written_grad" and stmt.args[2] == var:  # (the array written,
        # float64 as a memoryview: nothing truncates what is written into it)
        g = stmt.args[0]
        return isinstance(g, Var) and g != var and g.name in found
    if stmt.args[0] != var or var in stmt.args[1:]:
        return False
    if stmt.op in ("len", "shape"):
        return len(stmt.args) == 1 and not stmt.params
    if stmt.op in _BUFFERS or stmt.op == "list_append" or _slice_read(stmt):
        return stmt.target.name in found
    return stmt.op in _READS and _int_index(stmt.args[1], ints)


def _int_index(index: object, ints: set[str]) -> bool:
    """Is `index` one or more Python ints (`[t]`, `[i, j - 1]`)?"""
    return (
        isinstance(index, Index)
        and len(index.items) > 0
        and not index.wrapped
        and all(_int_atom(item, ints) for item in index.items)
    )


def _shapes_read_otherwise(statements: list[Stmt], shapes: dict) -> set[str]:
    """The `shape` tuples read otherwise than by an int literal (`R.shape[1]`),
    as a memoryview's `shape` tuple is read alike."""
    return {
        var.name
        for stmt in walk(statements)
        for var in uses(stmt)
        if var.name in shapes
        and not (
            isinstance(stmt, Assign)
            and stmt.op == "getitem"
            and stmt.args[0] == var
            and isinstance(stmt.args[1], Index)
            and len(stmt.args[1].items) == 1
            and _int_atom(stmt.args[1].items[0], set())
        )
    }


def _int_atom(atom: object, ints: set[str]) -> bool:
    if isinstance(atom, Var):
        return atom.name in ints
    return isinstance(atom, Const) and type(atom.value) is int


_INT_RESULTS = {"len", "int"}  # (whatever the argument: Python ints)


def _int_names(statements: list[Stmt]) -> set[str]:
    """Names that hold a Python int wherever they are bound: a `for` over a
    range, `len(...)`, `int(...)`, and arithmetic of those and int literals
    (no `/` or `**`, which may make a float)."""
    ranges = {
        s.target.name
        for s in walk(statements)
        if isinstance(s, Assign) and s.op in ("range", "reversed_range")
    }
    binds: list[tuple[Var, object]] = []  # (name, how: a statement or an atom)
    for stmt in walk(statements):
        if isinstance(stmt, Copy):
            binds += zip(stmt.targets, stmt.values, strict=True)
        elif isinstance(stmt, For) and isinstance(stmt.target, Var):
            ranged = isinstance(stmt.iter, Var) and stmt.iter.name in ranges
            binds.append((stmt.target, Const(0) if ranged else None))
        else:
            binds += ((target, stmt) for target in map(Var, writes(stmt)))
    needs: dict[str, list] = {}
    for var, how in binds:
        needs.setdefault(var.name, []).append(_int_needs(how))
    return _largest(set(needs), needs)


def _int_needs(how: object):
    """The names `how` makes an int of where they are ints (None: never)."""
    if isinstance(how, Var | Const):
        return _atom_needs([how], _int_const)
    if not isinstance(how, Assign):
        return None
    if how.op in _INT_RESULTS:
        return ()
    return _atom_needs(how.args, _int_const) if how.op in INT_OPS else None


def _int_const(atom: Const) -> bool:
    return type(atom.value) is int


def dropped(stmt: Stmt) -> bool:
    """Is `stmt` left out of the float body: a check numbers always pass, the
    test of arguments for lists, a branch on it holding only checks, or an
    identity that leaves a name as it is (`g = _unbroadcast(g, x)`)?"""
    if isinstance(stmt, Assign) and stmt.op in _IDENTITIES:
        return stmt.args[_IDENTITIES[stmt.op]] == stmt.target  # (`a = a`)
    if isinstance(stmt, Assign):
        return stmt.op in _DROPPED
    if isinstance(stmt, If) and not stmt.orelse:
        return all(dropped(s) for s in stmt.body)
    return False


def pays(numpy_body: list[str]) -> bool:
    """Does the numpy body call numpy or a support function (other than the
    seed check, which the float body also makes, and the arguments' check,
    made before either), so that the float body is faster?"""
    calls = re.compile(r"\bnp\.|\b_(?!check_seed\b|unshared\b)[a-z_]+\(")
    return any(calls.search(line) for line in numpy_body)


def _scalar_atom(atom: object) -> bool:
    if isinstance(atom, Var):
        return True
    return isinstance(atom, Const) and (
        atom.value is None or isinstance(atom.value, bool | int | float | str)
    )


def float_entries(array: str, axes: int) -> str:
    """`_float_entries(y)`, or `_float_entries(R, 2)` for an array of 2 axes."""
    return f"_float_entries({array}{'' if axes == 1 else f', {axes}'})"


def spelling(
    stmt: Assign,
    args: list[str],
    local: dict[str, str] | None = None,
    entries: Mapping[str, int] = EMPTY,
) -> str | None:
    """The float spelling of `stmt` given its printed arguments, or None for
    the usual one; `local` names a `math` function bound to a local name,
    `entries` the arrays that are memoryviews (`entry_arrays`)."""
    local = local or {}
    op = stmt.op
    if stmt.target.name in entries and op in _ALLOCATIONS | _BUFFERS:
        axes = entries[stmt.target.name]
        if op in _ALLOCATIONS:
            made = f"np.{op}({', '.join(args)})"
        elif axes == 1:  # (len: a list of numbers has no shape)
            made = f"np.zeros(len({args[0]}))"
        else:
            made = f"np.zeros({args[0]}.shape)"
        return float_entries(made, axes)
    if op in _READS and stmt.args[0].name in entries:
        return f"{args[0]}{args[1]}"  # (a float: nothing to copy or check)
    if op in _IDENTITIES:
        return args[_IDENTITIES[op]]
    if op == "zeros_grad":
        return "0.0"
    if op == "unbroadcast_mul":
        return f"{args[0]} * {args[1]}"
    if op == "mul_into":
        return f"{args[1]} * {args[2]}"
    if op == "check_seed":  # (`float`: an int seed makes float gradients)
        return f"1.0 if {args[1]} is None else float({args[1]})"
    if op in ("divide", "div", "truediv"):
        return f"{args[0]} / {args[1]}"
    if op == "shape":  # (of a memoryview, or of a list of numbers passed as it
        # is, which has no `shape`: np.shape's `(n,)`)
        one_axis = entries.get(stmt.args[0].name) == 1
        return f"(len({args[0]}),)" if one_axis else f"{args[0]}.shape"
    if op == "heaviside":
        return f"_heaviside({args[0]}, {args[1]})"
    if op == "slope" or (op == "sign" and stmt.param("fn") is None):
        # (the derivative of abs, of a float: no complex number takes the
        # float body, so `_slope`'s check is not needed)
        return f"_sign({args[0]})"
    if op in ("minimum", "maximum", "logaddexp") and stmt.param("fn") is None:
        return f"_{op}({args[0]}, {args[1]})"
    if op in ("abs", "square", "reciprocal") and stmt.param("fn") is None:
        return f"_{op}({args[0]})"  # (a float's; an int's stays numpy's)
    if op in _TESTS:
        return f"{local.get(op, 'math.' + op)}({args[0]})"
    if op in ("float", "float64"):
        return f"float({args[0]})"
    builtin_pow = op == "power" and stmt.param("fn") == "pow"
    if (op == "pow" or builtin_pow) and isinstance(stmt.args[1], Var):
        return f"_pow({args[0]}, {args[1]})"  # (ints stay exact; math.pow else)
    if (op == "pow" or builtin_pow) and not _integer(stmt.args[1]):
        pow_ = local.get("pow", "math.pow")
        return f"{pow_}({args[0]}, {args[1]})"  # raises, as `**` need not
    math_name = OPS[op].math_name
    if math_name is not None and op not in _NOT_SPELLED and stmt.param("fn") is None:
        return f"{local.get(math_name, 'math.' + math_name)}({', '.join(args)})"
    return None


def looped_math(lines: list[str]) -> list[str]:
    """The `math` functions a printed body calls in a loop or branch (an
    indented line): bound to local names once, as one writes a hot loop by
    hand (`sin = math.sin`), each call in the loop saves two lookups."""
    called = re.compile(r"\bmath\.(\w+)\(")
    found = {
        name
        for line in lines
        if line.startswith(" ") and not line.lstrip().startswith("#")
        for name in called.findall(line)
    }
    return sorted(found)


def _integer(atom: Atom) -> bool:
    """An exponent for which `x ** n` on a float is a float or an error."""
    return (
        isinstance(atom, Const)
        and isinstance(atom.value, int | float)
        and (float(atom.value).is_integer())
    )


def recomputed(statements: list[Stmt]) -> list[Stmt]:
    """`statements` for the float body, with a saved value computed again in
    the reverse loop where that saves the tuple (see the module docstring):
    a top-level loop that pushes `(t1, x_1)`, with `t1` one spelled operation
    of `x_1`, constants and names nothing writes, and a top-level reverse
    loop `for t1, x_1 in reversed(saved)`, the stack's only reader."""
    written = Counter(n for s in walk(statements) for n in writes(s))
    pushes = Counter(s.stack.name for s in walk(statements) if isinstance(s, Push))
    walked = _walked(statements)
    readers = {  # stack -> the reverse loop walking it
        walked[s.iter.name]: s
        for s in statements
        if isinstance(s, For) and isinstance(s.iter, Var) and s.iter.name in walked
    }
    out = list(statements)
    for at, loop in enumerate(out):
        push = next((s for s in getattr(loop, "body", ()) if isinstance(s, Push)), None)
        if not isinstance(loop, For) or push is None or len(push.values) != 2:
            continue
        reader = readers.get(push.stack.name)
        if pushes[push.stack.name] != 1 or reader is None:
            continue
        if _readers(statements)[push.stack.name] != 1:
            continue
        if reader.target != push.values:
            continue
        order = {
            s.target.name: i for i, s in enumerate(loop.body) if isinstance(s, Assign)
        }
        for value, kept in (push.values, push.values[::-1]):
            made = next(
                (s for s in loop.body if isinstance(s, Assign) and s.target == value),
                None,
            )
            if made is None or not _cheap(made):
                continue
            between = loop.body[loop.body.index(made) + 1 : loop.body.index(push)]
            if kept.name in {n for s in walk(between) for n in writes(s)} or not all(
                _recomputable(a, value, kept, order, written) for a in made.args
            ):
                continue
            body = tuple(
                Push(s.stack, (kept,), s.loc) if s is push else s for s in loop.body
            )
            out[at] = For(loop.target, loop.iter, body, loop.loc)
            i = out.index(reader)
            out[i] = For((kept,), reader.iter, (made,) + reader.body, reader.loc)
            break
    return out


def _walked(statements: Iterable[Stmt]) -> dict[str, str]:
    """The names bound to `reversed(stack)` among `statements`, each with its
    stack's name."""
    return {
        s.target.name: s.args[0].name
        for s in statements
        if isinstance(s, Assign) and s.op == "reversed" and isinstance(s.args[0], Var)
    }


def _readers(statements: list[Stmt]) -> Counter:
    """How many loops walk each stack (`for a, b in reversed(stack)`)."""
    walked = _walked(walk(statements))
    return Counter(
        walked.get(getattr(s.iter, "name", ""))
        for s in walk(statements)
        if isinstance(s, For)
    )


def trimmed(statements: list[Stmt]) -> list[Stmt]:
    """`statements` for the float body, saving only what its reverse loops
    read: the numpy body saves values its shape helpers measure
    (`_unbroadcast(g, sse)`), which are the identity on floats, so a
    top-level loop pushing a tuple to a stack that one top-level reverse loop
    restores, walking it (`for e, f, sse in reversed(saved)`) or popping it
    first in each step (`for t in ...: e, f, sse = saved.pop()`), pushes
    only the values that loop, or anything after it, reads in the float
    spelling."""
    walked = _walked(walk(statements))
    pushes = Counter(s.stack.name for s in walk(statements) if isinstance(s, Push))
    pops = Counter(s.stack.name for s in walk(statements) if isinstance(s, Pop))
    readers = _readers(statements)
    out = list(statements)
    for at, reader in enumerate(out):
        if not isinstance(reader, For):
            continue
        pop = next((s for s in reader.body if isinstance(s, Pop)), None)
        stack = walked.get(getattr(reader.iter, "name", ""))
        if isinstance(reader.target, tuple) and stack is not None:
            targets = reader.target
        elif pop is not None and reader.body[0] is pop:
            stack, targets = pop.stack.name, pop.targets
        else:
            continue
        if pushes[stack] != 1 or readers[stack] + pops[stack] != 1:
            continue
        read = {n for s in walk(list(reader.body) + out[at + 1 :]) for n in _read(s)}
        kept = tuple(t for t in targets if t.name in read) or targets[:1]
        for i, loop in enumerate(out[:at]):
            push = next(
                (s for s in getattr(loop, "body", ()) if isinstance(s, Push)), None
            )
            if not (isinstance(loop, For) and push and push.stack.name == stack):
                continue
            if push.values == targets != kept:
                body = tuple(
                    Push(s.stack, kept, s.loc) if s is push else s for s in loop.body
                )
                out[i] = For(loop.target, loop.iter, body, loop.loc)
                restore = (Pop(pop.stack, kept, pop.loc),) if pop is not None else ()
                out[at] = (
                    For(
                        reader.target,
                        reader.iter,
                        restore + reader.body[1:],
                        reader.loc,
                    )
                    if restore and targets is pop.targets
                    else For(kept, reader.iter, reader.body, reader.loc)
                )
    return out


def _read(stmt: Stmt) -> set[str]:
    """The names `stmt` reads as the float body spells it (`spelling`)."""
    if dropped(stmt):
        return set()
    if isinstance(stmt, Assign) and stmt.op in _IDENTITIES:
        stmt = Assign(stmt.target, stmt.op, stmt.args[_IDENTITIES[stmt.op] :][:1])
    elif isinstance(stmt, Assign) and stmt.op in _SPELLED_ARGS:
        stmt = Assign(stmt.target, stmt.op, stmt.args[_SPELLED_ARGS[stmt.op]])
    return {v.name for v in uses(stmt)}


# The arguments of adjoint helpers that their float spellings print.
_SPELLED_ARGS = {"unbroadcast_mul": slice(0, 2), "mul_into": slice(1, 3)}
_SPELLED_ARGS["check_seed"] = slice(1, 2)


def _recomputable(arg: Atom, value: Var, kept: Var, order: dict, written) -> bool:
    """Has `arg` the same value in the reverse loop as when `value` was made:
    a constant, the value saved beside it (made before it), or a name
    nothing writes?"""
    if isinstance(arg, Const):
        return True
    if arg == kept:
        return order.get(kept.name, -1) < order[value.name]
    return isinstance(arg, Var) and arg != value and written[arg.name] == 0


def _cheap(stmt: Assign) -> bool:
    """Is `stmt` one operator or `math` call on floats (pure, about 30 ns)?"""
    if stmt.param("fn") is not None:
        return False
    if stmt.op in _OPERATORS:
        return True
    return OPS[stmt.op].math_name is not None and stmt.op not in _NOT_SPELLED
