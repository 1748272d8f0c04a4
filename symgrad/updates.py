"""Lowering in-place updates, and the alias rules that keep them exact.

`UpdateLowering` is the part of the frontend's `Lowerer` that handles
`y[i] = v`, `y[i] += v`, `y[i] -= v`, `y[i] *= v` (and `/=`, `**=`...),
`np.add.at(y, i, v)`, `y.append(v)`, `y.pop()` and `x += v`.
Each becomes a new SSA value (`y_2 = setitem(y_1, i, v)`), which is exact as
long as no other name can see the update.  numpy updates arrays in place, so
an update is an error (naming the line) when another name, a view, a list
or tuple holding the array, the caller of a helper, or an enclosing function
could see it (a view made by np.diag, which numpy makes read-only, counts
for a write into the matrix, not for one into the view: `READ_ONLY_VIEWS`).
A write into the caller's array first copies it, so the caller's arrays are
never changed; and since the function itself would also change every other
argument sharing that memory, the generated code first checks the arguments
it writes into against the others (`checked_arguments`, `_unshared`).  A
write into an array of the module or of an enclosing function (which Python
would change) is an error.

`y[mask] = v` where `v` may be a view of `y` is an error too: numpy does not
copy such a right side first, so it reads entries it has already written, and
its result depends on the order it copies in.  (For slices and integer index
arrays numpy copies an overlapping right side, and `+=`, `-=` and `np.add.at`
compute the whole new value before writing: those are exact.)
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

import numpy as np

from .errors import Loc, UnsupportedSyntaxError
from .fence import op_symbol
from .flow import RESULT
from .ir import Assign, Atom, Const, Index, Slice, Stmt, Var, name_of
from .library import BINOPS
from .rules import READ_ONLY_VIEWS, VIEWS

if TYPE_CHECKING:
    from .frontend import Scope


def _sharing(other: str) -> str:
    """What an update may also change (`sharer`'s answer), for a message."""
    if other.startswith("'"):
        return (
            f"may share memory with {other} (one array bound to both names, or "
            "a view of one or the other)"
        )
    return f"may share memory with {other}"


def _items(index: Index) -> list:
    """The items of `index`, a tuple that is the whole index unpacked
    (`B[col]` with `col = (..., 2)` is numpy's `B[..., 2]`)."""
    items = list(index.items)
    if len(items) == 1 and type(getattr(items[0], "value", None)) is tuple:
        return [Const(v) for v in items[0].value]
    return items


def _step(item: Slice) -> object:
    """A slice's step: an int where it is one written (1 where none is),
    else its atom, which compares equal to the same name or constant."""
    if item.step is None:
        return 1
    value = getattr(item.step, "value", None)
    return value if type(value) is int else item.step


def _an_int_item(item: object) -> bool:
    """Could the index item `item` be an int (never a slice or a tuple)?
    A name may hold an int array (advanced indexing, which copies)."""
    if isinstance(item, Var):
        return True
    return isinstance(item, Const) and type(item.value) in (int, bool)


class UpdateLowering:
    """In-place updates, mixed into `frontend.Lowerer`."""

    def augassign(self, stmt: ast.AugAssign, scope: Scope) -> None:
        op = BINOPS.get(type(stmt.op))
        if isinstance(stmt.target, ast.Subscript):
            base = stmt.target.value
            held = (
                self.name(base.id, base, scope) if isinstance(base, ast.Name) else None
            )
            if isinstance(held, Var) and self.is_list(held):  # (a tuple: `write`)
                # `items[i] += v` is `items[i].__iadd__(v)`: an array entry is
                # added to in place, and every other name for it sees that
                symbol = op_symbol(stmt.op)
                if getattr(stmt.target, "row_entry", False):  # (`c[i][j] += v`)
                    raise UnsupportedSyntaxError(
                        f"'{symbol}=' on an entry of an entry of the list "
                        f"'{base.id}': its entries (lists or arrays) are changed "
                        "in place, and other names may hold them",
                        scope.src.loc(stmt),
                        "build each row as a new list and append it, or make it "
                        f"an array: {base.id} = np.zeros((n, m)), then "
                        f"{base.id}[i, j] {symbol}= v",
                    )
                entry = f"{base.id}[{ast.unparse(stmt.target.slice)}]"
                raise UnsupportedSyntaxError(
                    f"'{symbol}=' on an entry of the list '{base.id}' changes an "
                    "array entry in place, which other names may hold",
                    scope.src.loc(stmt),
                    f"write '{entry} = {entry} {symbol} ...' for a new entry",
                )
            loc = scope.src.loc(stmt)
            if op in ("add", "sub"):
                self.write(stmt.target, stmt.value, f"setitem_{op}", scope, loc)
            else:  # `y[i] *= v` is `y[i] = y[i] * v`, the index computed once
                self.write(stmt.target, stmt.value, "setitem", scope, loc, op)
            return
        name = stmt.target.id
        current = self.name(name, stmt.target, scope)
        if self.is_list(current) and op == "add":
            self.local_update(name, scope, scope.src.loc(stmt))
        other = (
            self.sharer(current, name, scope)
            if isinstance(current, Var) and not self.int_scalar(current)
            else None  # (an int: `+=` makes a new one)
        )
        if other is not None:
            raise UnsupportedSyntaxError(
                f"in-place update of '{name}', which {_sharing(other)}",
                scope.src.loc(stmt),
                self.diagonal_hint(current, name, scope)
                or f"write '{name} = {name} {op_symbol(stmt.op)} ...' for a new value",
            )
        right = self.atom(stmt.value, scope)
        loc = scope.src.loc(stmt)
        if isinstance(current, Var):
            self.note_written(current, loc)  # (`a += v` changes the caller's a)
        if self.is_list(current) and op == "add" and not self.is_list(right):
            raise UnsupportedSyntaxError(  # (`+` would add an array to it)
                f"'+=' on the list '{name}' extends it with the entries of a value "
                "that may be an array (Python's list +=), which symgrad does not "
                "follow",
                loc,
                f"write '{name} = {name} + [value]' to append one value",
            )
        self.bind(scope, name, self.binary(op, current, right, loc, name))

    def append(self, call: ast.Call, scope: Scope) -> None:
        """`items.append(value)`: bind `items` to the longer list."""
        receiver = call.func.value
        loc = scope.src.loc(call)
        if not isinstance(receiver, ast.Name) or len(call.args) != 1 or call.keywords:
            raise UnsupportedSyntaxError("only 'name.append(value)' is supported", loc)
        name = receiver.id
        self.local_update(name, scope, loc)
        current = self.literal_list(name, self.name(name, receiver, scope), scope, loc)
        if not (isinstance(current, Var) and self.kinds.get(current.name) == "list"):
            raise _not_a_list(name, loc, f"{name} = {name} + [value]")
        self.note_written(current, loc)
        if self.aliased(current, name, scope):
            raise UnsupportedSyntaxError(
                f"'{name}.append' would also change another name bound to this list",
                loc,
                f"build a new list instead: {name} = {name} + [value]",
            )
        value = self.atom(call.args[0], scope)
        longer = self.emit("list_append", (current, value), loc, hint=name.strip("<>"))
        self.bind(scope, name, longer)

    def pop(self, call: ast.Call, scope: Scope) -> Atom:
        """`items.pop()`: the last entry; `items` is bound to the rest."""
        receiver = call.func.value
        loc = scope.src.loc(call)
        if not isinstance(receiver, ast.Name) or call.args or call.keywords:
            raise UnsupportedSyntaxError("only 'name.pop()' is supported", loc)
        name = receiver.id
        self.local_update(name, scope, loc)
        current = self.literal_list(name, self.name(name, receiver, scope), scope, loc)
        if not (isinstance(current, Var) and self.kinds.get(current.name) == "list"):
            raise _not_a_list(name, loc, f"{name}[-1] and {name}[:-1]")
        if self.aliased(current, name, scope):
            raise UnsupportedSyntaxError(
                f"'{name}.pop' would also change another name bound to this list",
                loc,
                f"take the entry and the rest instead: {name}[-1], {name}[:-1]",
            )
        last = self.emit("getitem", (current, Index((Const(-1),))), loc)
        rest = self.emit("list_pop", (current,), loc, hint=name.strip("<>"))
        self.bind(scope, name, rest)
        return last

    def literal_list(self, name: str, current: Atom, scope: Scope, loc: Loc) -> Atom:
        """A list of constants written in the function (`xs = [0.0, 1.0]`),
        to append to or pop from: the list value it is, once it is `name`'s
        alone (a module's list stays a constant, which is an error)."""
        if (
            isinstance(current, Const)
            and current.name is None
            and self.is_list(current)
        ):
            self.unshared_list(current, name, scope, loc)
            current = self.as_list(current, loc, name)
            scope.env[name] = current
        return current

    def is_add_at(self, node: ast.expr, scope: Scope) -> bool:
        """Is `node` a call of `np.add.at` (numpy under any alias)?"""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return False
        func = node.func
        return (
            func.attr == "at"
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "add"
            and getattr(self.module_ref(func.value.value, scope), "lib", None)
            == "numpy"
        )

    def add_at(self, call: ast.Call, scope: Scope) -> None:
        """`np.add.at(y, index, value)`: repeated indices add up."""
        loc = scope.src.loc(call)
        if len(call.args) != 3 or call.keywords:
            raise UnsupportedSyntaxError("np.add.at takes (array, index, values)", loc)
        array, index, value = call.args
        target = ast.Subscript(array, index, ast.Store())
        ast.copy_location(target, call)
        self.write(target, value, "add_at", scope, loc)

    def write(
        self,
        target: ast.Subscript,
        value: ast.expr | Atom,
        mode: str,
        scope: Scope,
        loc: Loc,
        op: str | None = None,
    ) -> None:
        """`y[index] = value` (or `+=`): bind `y` to the updated array; `value`
        is an expression, or a value already computed (`y[0] = y[1] = v`).
        With `op`, `y[index] op= value`: the entries are read, combined with
        the value by `op` and written back, as numpy does (it updates a view,
        or a fancy index's copy, then writes it: the same entries)."""
        if not isinstance(target.value, ast.Name):
            raise UnsupportedSyntaxError(
                "only a named array can be assigned into", scope.src.loc(target)
            )
        if getattr(target, "row_entry", False):
            self.row_entry(target, scope, loc)
        name = target.value.id
        self.local_update(name, scope, loc)
        self.not_a_tuple(name, target.value, scope, loc)
        written = self.name(name, target.value, scope)  # (before a copy of it)
        if isinstance(written, Var) and self.kinds.get(written.name) == "mixed":
            raise UnsupportedSyntaxError(
                f"assignment into '{name}', a list on one path here and an array "
                "on another (which may truncate what is written, or be a view)",
                loc,
                f"make '{name}' the same kind on every path: a list on each, or "
                "an array on each (np.zeros(n), np.array([...]))",
            )
        current = self.owned_array(name, target.value, scope, loc)
        index = self.index(target.slice, scope)
        if self.is_list(current) and (
            len(index.items) != 1 or isinstance(index.items[0], Slice)
        ):
            raise UnsupportedSyntaxError(
                f"assignment into a slice of the list '{name}', which may change "
                "its length",
                loc,
                "assign its entries one by one, or build a new list",
            )
        old = None if op is None else self.emit("getitem", (current, index), loc)
        right = self.atom(value, scope) if isinstance(value, ast.AST) else value
        if op is not None:
            right = self.binary(op, old, right, loc, None)
        if mode == "setitem" and not getattr(scope.src.resolver, "generated", False):
            self.not_overlapping(target, value, index, right, (written, current), loc)
        updated = self.emit(mode, (current, index, right), loc, hint=name)
        self.sources[updated.name] = (current,)
        self.bind(scope, name, updated)

    def row_entry(self, target: ast.Subscript, scope: Scope, loc: Loc) -> None:
        """Refuse `B[i][j] = v` (read as `B[i, j] = v`, `fence`) unless `i` is
        an int (a number, or a loop's index over a range), B is no list, and
        j holds no index array after its first entry: numpy reads the int i
        as an index array beside one (`B[i, :, idx]` puts idx's axis first,
        where `B[i][:, idx]` keeps it in place)."""
        from .frontend import TupleValue

        first, *rest = target.slice.elts
        held = self.name(target.value.id, target.value, scope)
        name = target.value.id
        if isinstance(held, TupleValue):  # (`t[1][0] = v` changes the array t[1])
            raise UnsupportedSyntaxError(
                f"assignment into an entry of an entry of the tuple '{name}': "
                "the array it holds is changed in place, and other names may "
                "hold it",
                loc,
                "write into the array by its own name",
            )
        if self.is_list(held):
            raise UnsupportedSyntaxError(
                f"assignment into an entry of an entry of the list '{name}': "
                "its entries (lists or arrays) are changed in place, and other "
                "names may hold them",
                loc,
                "build each row as a new list and append it, or make it an array: "
                f"{name} = np.zeros((n, m)), then {name}[i, j] = v",
            )
        if not self.an_int(first, scope) or not all(
            isinstance(e, ast.Slice)
            or isinstance(e, ast.Constant)
            and e.value in (None, Ellipsis)
            or self.an_int(e, scope)
            for e in rest[1:]
        ):
            raise UnsupportedSyntaxError(
                "'B[i][j] = v' is supported where i is an int index (a number, or "
                "a loop's over a range), which makes it the write B[i, j] = v, "
                "and j has no index array after its first entry (B[1:][j] writes "
                "B[1 + j], and B[i][:, idx] keeps idx's axis where B[i, :, idx] "
                "moves it first)",
                loc,
                "index once, as the write you mean: 'B[i, j] = v'",
            )

    def an_int(self, node: ast.expr, scope: Scope) -> bool:
        """Is `node` a Python int: a literal, or a name bound to one or to a
        loop's index over a range?"""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            node = node.operand
        if isinstance(node, ast.Name):
            found = scope.env.get(node.id)
            if isinstance(found, Var):
                return found.name in self.counters
            return isinstance(found, Const) and type(found.value) is int
        return isinstance(node, ast.Constant) and type(node.value) is int

    def not_overlapping(
        self,
        target: ast.Subscript,
        value: ast.expr | Atom,
        index: Index,
        right: Atom,
        written: tuple[Atom, ...],
        loc: Loc,
    ) -> None:
        """`y[index] = v` with `v` a view of `y` is an error where numpy does
        not copy `v` first, so that it reads entries it has already written,
        which symgrad, reading the old values, cannot reproduce: through a
        boolean mask (`b[mask] = b[4:1:-1]` may set an entry from one written
        before it; an index symgrad cannot tell from a mask counts as one),
        and into entries of one axis from a view of other steps (`same_steps`).
        Advanced indexing copies first.  (Emitted code never reaches here:
        see `aliased`.)"""
        masks = [i for i in index.items if self.may_be_mask(i)]
        if not self.overlaps(right, written):
            return
        name = target.value.id
        if masks:
            what = (
                "a boolean mask"
                if any(isinstance(i, Const) for i in masks)
                else ("an index that may be a boolean mask")
            )
            problem = (
                f"the right side overlaps '{name}', the array this assignment "
                f"writes through {what}: numpy does not copy it first, so the "
                "result depends on the order numpy copies the entries in"
            )
        elif self.copying(index) or self.same_steps(index, right, written):
            return
        else:
            problem = (
                f"the right side is a view of '{name}', the array this assignment "
                "writes, whose steps may differ from those of the entries written: "
                "numpy does not copy such a view first, so where the two overlap "
                "the result depends on the order numpy copies the entries in"
            )
        if isinstance(value, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
            copied = f"{ast.unparse(target)} = {ast.unparse(value)}.copy()"
        elif isinstance(value, ast.AST):
            copied = f"{ast.unparse(target)} = ({ast.unparse(value)}).copy()"
        else:
            copied = f"{ast.unparse(target)} = <the value>.copy()"
        raise UnsupportedSyntaxError(
            problem, loc, f"copy the right side first: {copied}"
        )

    def same_steps(self, index: Index, right: Atom, written: tuple[Atom, ...]) -> bool:
        """Does numpy write `right`, a view of the array written, into
        `written[index]` as if it had copied it first?

        numpy copies a view into entries of more than one axis after copying
        it, so that is always so where `index` keeps two axes or more (two
        slices, or a slice and a None; or of an array of known rank,
        `np.zeros((4, 4))[::2]`).  Into entries of one axis it copies
        entry by entry, which goes as if copied first where the view's step
        is the entries' (`y[2:] = y[:-2]`), or of the other sign (numpy then
        copies first: `y[::-1] = y`), and wrong where it is another
        (`y[::2] = y[:3]` reads a y[2] it has written).  So: True where
        `right` is the array itself or `written[index2]` (`written` holds its
        names before and after it is copied to be written) with each axis
        the two indexes keep of one step (of the other sign on the last),
        and each other item an int or an int's name in both."""
        left = _items(index)
        if sum(isinstance(i, Slice) or i == Const(None) for i in left) >= 2:
            return True
        rank = next(  # (of an array made with a known number of axes)
            (self.ranks[a.name] for a in written if name_of(a) in self.ranks), None
        )
        if rank is not None and Const(Ellipsis) not in left:
            dropped = sum(not isinstance(i, Slice) and i != Const(None) for i in left)
            if rank - dropped + left.count(Const(None)) >= 2:
                return True
        if right in written:
            items: list = []
        elif isinstance(right, Var) and right.name in self.indexed:
            base, other = self.indexed[right.name]
            if base not in written:
                return False
            items = _items(other)
        else:
            return False
        ends = (Const(None), Const(Ellipsis))
        if any(i in ends for i in left + items):
            if len(left) != len(items):
                return False
        else:  # (numpy reads missing trailing items as `:`)
            width = max(len(left), len(items))
            left += [Slice()] * (width - len(left))
            items += [Slice()] * (width - len(items))
        steps = []  # (the steps of the axes both keep)
        for a, b in zip(left, items, strict=True):
            if isinstance(a, Slice) and isinstance(b, Slice):
                steps.append((_step(a), _step(b)))
            elif a in ends or b in ends:
                if a != b:
                    return False
            elif not (_an_int_item(a) and _an_int_item(b)):
                return False
        for k, (a, b) in enumerate(steps):
            opposite = (
                k == len(steps) - 1
                and isinstance(a, int)
                and isinstance(b, int)
                and a * b < 0
            )
            if a != b and not opposite:
                return False
        return True

    def may_be_mask(self, item: Atom | Slice) -> bool:
        """Could the index item `item` be a boolean array (or a boolean)?"""
        if isinstance(item, Slice):
            return False
        if isinstance(item, Const):
            if item.value is None or item.value is Ellipsis:
                return False
            try:
                return np.asarray(item.value).dtype == bool
            except ValueError:  # (a ragged list: numpy refuses it as an index)
                return True
        return item.name not in self.integral

    def integer(self, atom: Atom) -> bool:
        """Is `atom` known to be an integer or an integer array (never a
        boolean array)?"""
        if isinstance(atom, Const):
            try:
                return np.asarray(atom.value).dtype.kind in "iu"
            except ValueError:  # (a ragged list)
                return False
        return atom.name in self.integral

    def note_integral(self, target: Var, op: str, args: tuple) -> None:
        """Remember that `target` is never a boolean array: +, -, *, //, %
        with an integer (numpy makes a boolean operand an integer),
        `np.array` of integers, an entry of a shape, or an op that makes
        integers (`np.argmax`, `int`, `len`...)."""
        if (
            op in INDEX_OPS
            or (op in INTEGRAL_OPS and any(self.integer(a) for a in args))
            or (op in ("copy", "asarray") and self.integer(args[0]))
            or (op == "getitem" and self.ops.get(name_of(args[0])) == "shape")
        ):
            self.integral.add(target.name)

    def note_rank(self, target: Var, op: str, args: tuple) -> None:
        """Remember arrays of a known number of axes (`ranks`: np.zeros(n),
        np.full((n, 2), v) and their written versions), the ints that index
        them (`int_scalars`) and tuples of ints (`int_tuples`), for
        `an_entry`."""
        if op in _FILLED and args:
            shape = args[0].value if isinstance(args[0], Const) else None
            if type(shape) is int or self.int_scalar(args[0]):  # (`np.zeros(len(x))`)
                self.ranks[target.name] = 1
            elif isinstance(shape, tuple) and all(type(n) is int for n in shape):
                self.ranks[target.name] = len(shape)
            elif name_of(args[0]) in self.int_tuples:  # (`(n, 2)`)
                self.ranks[target.name] = self.int_tuples[name_of(args[0])]
        elif op in _WRITTEN and name_of(args[0]) in self.ranks:
            self.ranks[target.name] = self.ranks[name_of(args[0])]
        elif op in READ_ONLY_VIEWS and self.ranks.get(name_of(args[0])) in (1, 2):
            self.ranks[target.name] = 3 - self.ranks[name_of(args[0])]  # (np.diag)
        elif op == "tuple" and all(self.int_scalar(a) for a in args):
            self.int_tuples[target.name] = len(args)
        elif op in ("add", "sub", "mul", "floordiv", "mod") and all(
            self.int_scalar(a) for a in args
        ):
            self.int_scalars.add(target.name)
        elif op == "len" or (  # (a Python int: a length, an entry of a shape)
            op == "getitem"
            and self.ops.get(name_of(args[0])) == "shape"
            and len(args[1].items) == 1
            and self.int_scalar(args[1].items[0])
        ):
            self.int_scalars.add(target.name)

    def int_scalar(self, atom: object) -> bool:
        if isinstance(atom, Const):
            return type(atom.value) is int
        if not isinstance(atom, Var):
            return False  # (a slice)
        return atom.name in self.counters or atom.name in self.int_scalars

    def an_entry(self, op: str, args: tuple, loc: Loc) -> bool:
        """Is `op(*args)` an entry of an array of known axes (`y[i]`, `R[i,
        j]`: as many ints as axes), a number numpy copies out, not a view?"""
        if op != "getitem" or name_of(args[0]) not in self.ranks:
            return False
        items = args[1].items
        if (
            len(items) == self.ranks[name_of(args[0])]
            and not args[1].wrapped
            and all(self.int_scalar(item) for item in items)
        ):
            for name in self.roots(args[0], held=False):  # (loop headers among
                self.entries_read.add(name)  # them are checked at the loop's end)
                self.loc_of_entry.setdefault(name, loc)
            return True
        return False

    def overlaps(self, right: Atom, written: tuple[Atom, ...]) -> bool:
        """May `right` be one of the arrays `written`, or a view of one (a
        named constant included)?"""

        def arrays(atom: Atom) -> set[str]:
            names = self.roots(atom, held=False)
            return names | {
                edge.name
                for n in names
                for edge in self.sources.get(n, ())
                if named_constant(edge)
            }

        return bool(arrays(right) & set().union(*(arrays(w) for w in written)))

    def not_a_tuple(self, name: str, node: ast.expr, scope: Scope, loc: Loc) -> None:
        """An entry of a tuple cannot be assigned (Python raises TypeError)."""
        from .frontend import TupleValue

        if isinstance(self.name(name, node, scope), TupleValue):
            raise UnsupportedSyntaxError(
                f"'{name}' is a tuple, whose entries cannot be assigned (Python "
                "raises TypeError)",
                loc,
                "build a new tuple instead",
            )

    def local_update(self, name: str, scope: Scope, loc: Loc) -> None:
        """An in-place update must name a variable of the function itself: from
        a nested function it would change the enclosing function's array
        (`y[i] = v` binds no `y`: a name the function never binds is the
        enclosing one's, though a loop around the write carries it)."""
        from .frontend import local_names

        if scope.parent is not None and name not in local_names(scope.src.tree):
            raise UnsupportedSyntaxError(
                f"in-place update of '{name}', a variable of the enclosing function",
                loc,
                "return the new value from the nested function instead",
            )

    def owned_array(self, name: str, node: ast.expr, scope: Scope, loc: Loc) -> Var:
        """The array `name` holds, safe to update: a copy of the caller's array
        or a constant; an error if another name may see the update.  A list
        argument of ints or bools is copied into floats (`_copy_arg`)."""
        current = self.name(name, node, scope)
        shared = sorted(  # (Python changes such an array, maybe through a merge)
            c
            for c in self.roots(current, held=False, into=True)
            if c in self.constants and isinstance(self.constants[c].value, np.ndarray)
        )
        if shared:
            raise UnsupportedSyntaxError(
                f"assignment into '{name}', which may be the array '{shared[0]}' "
                "of the module (or of an enclosing function), which Python "
                "changes where the generated code could change only a copy",
                loc,
                f"write into a copy of your own (y = np.copy({shared[0]})), or "
                "pass the array as an argument",
            )
        if isinstance(current, Const) and self.is_list(current):
            self.unshared_list(current, name, scope, loc)
            current = self.as_list(current, loc, name)  # (a new list, as written)
        if not isinstance(current, Var):
            current = self.emit("copy", (current,), loc, hint=name)
        other = self.sharer(current, name, scope)
        if other is not None:
            named = other.startswith("'")
            raise UnsupportedSyntaxError(
                f"assignment into '{name}', which {_sharing(other)}",
                loc,
                self.diagonal_hint(current, name, scope)
                or f"to change '{name}' alone, make it a new array first, "
                f"{name} = np.copy({name})"
                + (
                    f" (or make {other} a copy, np.copy(...), where bound)"
                    if named
                    else ""
                )
                + "; to change both, write into the array they share by its own name",
            )
        self.note_written(current, loc)
        if self.roots(current, held=False, into=True) & self.foreign(scope):
            if self.is_list(current):  # (`items[:]`: a list copies as a list)
                index = Index((Slice(),))
                return self.emit("getitem", (current, index), loc, hint=name)
            current = self.emit("copy_arg", (current,), loc, hint=name)
        return current

    def note_written(self, current: Atom, loc: Loc) -> None:
        """Before a write into `current`, which may be (a copy of) an argument
        of the top function: the function changes the caller's array or list,
        and with it any other argument sharing its memory, where the generated
        code writes into a copy.  The first write into each argument is noted
        (`written_args`); `checked_arguments` checks them at run time."""
        for root in self.roots(current, held=False, into=True):
            for name in self.arg_copies.get(root, {root}):  # (copied before a loop)
                if name in self.top.params:
                    self.written_args.setdefault(name, loc)

    def checked_arguments(self) -> list[Stmt]:
        """The run-time checks (`_unshared`) that no argument the function
        writes into shares memory with another argument: the first statements
        of the function, whatever path the write is on.  (Not against a
        module's array the function reads: the generated module holds its own
        copy of it.)"""
        params = self.top.params
        checks: list[Stmt] = []
        for name, loc in sorted(self.written_args.items()):
            others = tuple(p for p in params if p != name)
            args = (Const((name, *others)), Const(loc.line), Var(name))
            args += tuple(Var(p) for p in others)
            checks.append(Assign(Var(self.names.fresh()), "unshared", args, (), loc))
        return checks

    def unshared_list(self, const: Const, name: str, scope: Scope, loc: Loc) -> None:
        """A list constant written into must be `name`'s alone: bound to
        another name too (`g = h`), held in a tuple or a list (`acc.append(h)`,
        `[h, k]`), an entry of a list of lists (`row = m[0]`), or a helper's
        argument, the write would change what those read."""

        def holds(value: object) -> bool:  # (a value, a Const, a TupleValue)
            if value is const.value:
                return True
            if isinstance(value, Const):
                return holds(value.value)
            items = value if isinstance(value, tuple) else getattr(value, "items", ())
            return isinstance(items, tuple) and any(map(holds, items))

        shared = any(other != name and holds(v) for other, v in scope.env.items())
        shared = shared or any(map(holds, self.holds.values()))
        if scope.src is not self.top:  # (the caller's list, in a helper)
            shared = shared or any(map(holds, scope.initial.values()))
        if shared or const in self.held_constants:
            raise UnsupportedSyntaxError(
                f"assignment into '{name}', a list another name or list holds "
                "too, which would see the change",
                loc,
                f"give '{name}' a list of its own, written out: {name} = [...]",
            )

    def foreign(self, scope: Scope) -> set[str]:
        """Arrays this function did not create: the caller's, and constants."""
        return set(self.top.params) | set(self.constants)

    def roots(self, atom: Atom, held: bool = True, into: bool = False) -> set[str]:
        """The arrays and lists `atom` may be, or (with `held`) hold.  With
        `into`, those a write into `atom` may change: not the matrix of an
        `np.diag` (`READ_ONLY_VIEWS`), which a write into it cannot reach."""
        if isinstance(atom, Const):
            return {atom.name} if atom.name is not None else set()
        found, stack = set(), [atom.name]
        while stack:
            name = stack.pop()
            if name in found:
                continue
            found.add(name)
            if into and self.ops.get(name) in READ_ONLY_VIEWS:
                continue
            edges = self.sources.get(name, ())
            if held:
                edges += self.holds.get(name, ())
            stack += [a.name for a in edges if isinstance(a, Var)]
            found.update(a.name for a in edges if named_constant(a))  # (merged)
        return found

    def aliased(self, var: Var, name: str, scope: Scope) -> bool:
        """Could an in-place update of `name` change a value other than its own?"""
        return self.sharer(var, name, scope) is not None

    def sharer(self, var: Var, name: str, scope: Scope) -> str | None:
        """What an in-place update of `name` could change besides its own
        value, for the message: another name (quoted), a tuple or list
        holding it, "an argument of the calling function", or "another array
        it may be a view of"; None where nothing.

        numpy updates arrays in place, so the update also reaches other names
        bound to the same array, arrays it is a view of (`y = x[0:2]`), views
        of it, and, in a helper, the caller's argument.  The top function's
        own parameters are safe: symgrad never writes to the caller's arrays.
        A value returned from inside a loop is not seen: once it is returned,
        no code of the function runs.  In code symgrad emitted, no update
        changes a value read later (the in-place planner made sure of it), so
        none is refused there."""
        if getattr(scope.src.resolver, "generated", False):
            return None
        mine = self.roots(var, held=False, into=True)
        for other, value in scope.env.items():
            if other == name or other == RESULT:
                continue
            if any(self.roots(v) & mine for v in vars_in(value)):
                # (a tuple `t = (y, 1.0)` holds y: `t[0]` sees it)
                if not other.isidentifier():
                    return "another value"
                if not isinstance(value, Var):
                    return f"the tuple '{other}', which holds it"
                if self.is_list(value):
                    return f"the list '{other}', which may hold it"
                return f"'{other}'"
        if scope.src is not self.top:
            caller = {
                r
                for value in scope.initial.values()
                for v in vars_in(value)
                for r in self.roots(v)
            }
            if caller & mine:
                return "an argument of the calling function"
        return "another array it may be a view of" if self.a_view(var) else None

    def diagonal_hint(self, var: Var, name: str, scope: Scope) -> str | None:
        """Where another name may be `np.diag`'s view of the array `name` is
        (numpy's np.diag of a matrix: of a vector it is a new matrix, but
        symgrad does not know which `name` is), the hint that names it."""
        mine = self.roots(var, held=False, into=True)
        for other, value in scope.env.items():
            for v in vars_in(value):
                for made in self.roots(v):
                    viewed = self.sources.get(made, ())  # (none: of a vector)
                    if self.ops.get(made) not in READ_ONLY_VIEWS or not viewed:
                        continue
                    if self.roots(viewed[0], held=False) & mine:
                        return (
                            f"'{other}' may be np.diag's view of '{name}' (np.diag of "
                            "a matrix is a view of its diagonal, which this write "
                            f"would change): take np.diag(np.copy({name}))"
                        )
        return None

    def a_view(self, var: Var) -> bool:
        """May `var` be a view of another value: made by a view op, or a
        merge, a loop's value or a checked name (`_bound`) that may be one
        (a row of a list of lists, written in an inner loop, was written
        into a copy where the row itself was not a view in name)?"""
        seen: set[str] = set()
        pending = [var]
        while pending:
            v = pending.pop()
            if v.name in seen:
                continue
            seen.add(v.name)
            op = self.ops.get(v.name)
            if op is None or op == "bound":  # (the value itself, checked)
                pending += [
                    s for s in self.sources.get(v.name, ()) if isinstance(s, Var)
                ]
            elif (
                op in VIEWS and op not in READ_ONLY_VIEWS and v.name not in self.copies
            ):
                return True  # (a write into np.diag's result changes nothing else)
        return False


# Ops whose result is never a boolean array when an operand is an integer.
INTEGRAL_OPS = {"add", "sub", "mul", "floordiv", "mod"}
# Ops whose values are integers (or integer arrays), never booleans.
INDEX_OPS = {"argmax", "argmin", "argsort", "flatnonzero", "int", "len", "size"}
INDEX_OPS |= {"ndim", "count", "arange"}
# np.zeros and its kin: an array of the shape given (`ranks`)
_FILLED = {"zeros", "ones", "empty", "full"}
_WRITTEN = {"setitem", "setitem_add", "setitem_sub", "add_at", "copy"}


def named_constant(atom: object) -> bool:
    """Is `atom` a named module constant (which may hold an array)?"""
    return isinstance(atom, Const) and atom.name is not None


def vars_in(value: object) -> list[Var]:
    """The variables a value of the environment is or holds: itself, or the
    entries of a tuple of values (`TupleValue`), nested ones included."""
    if isinstance(value, Var):
        return [value]
    items = getattr(value, "items", None)
    if isinstance(items, tuple):
        return [v for item in items for v in vars_in(item)]
    return []


def _not_a_list(name: str, loc: Loc, instead: str) -> UnsupportedSyntaxError:
    """`name.append`/`.pop` on anything but a list the function built itself
    (an argument's list belongs to the caller, who must not see it change)."""
    return UnsupportedSyntaxError(
        f"'{name}' is not a list made in this function; symgrad changes only those",
        loc,
        f"write {instead}",
    )
