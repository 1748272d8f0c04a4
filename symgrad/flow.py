"""Lowering control flow: `if`, conditional expressions, `and`/`or`, `for`,
`while`, `break`, `continue` and `return` anywhere, to SSA `Branch` and `Loop`.

`FlowLowering` is the part of the frontend's `Lowerer` that handles blocks.
A source name re-bound inside a branch gets a `Merge` after it; one re-bound
inside a loop body gets a `Carry`.  Exits become flags kept in the scope like
variables (`<return>`, `<break>`, `<continue>`): after a statement that may
have set one, the rest of the block runs under `if not <flag>`, and a loop
that may exit early becomes a `while` loop that also tests the flags.  Every
loop and branch keeps the source location of its header line.
"""

from __future__ import annotations

import ast
import functools
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from .errors import Loc, UnsupportedSyntaxError
from .ir import Atom, Branch, Carry, Const, Index, Loop, Merge, Var, name_of
from .source import nodes

if TYPE_CHECKING:
    from .frontend import Scope, Value

RETURNED, RESULT, BROKE, CONTINUED = "<returned>", "<result>", "<broke>", "<continued>"
_UNROLLED = 8  # the most entries of a list written out that a loop is unrolled over
_EXITS = (RETURNED, BROKE, CONTINUED)
_FALSE = Const(False)


class RankChanged(Exception):
    """A loop's step may change the rank of the array `header` holds, whose
    entries were read as numbers (of the rank before the loop): lower the
    function again with the header's rank unknown, or raise `error`."""

    def __init__(self, header: str, error: UnsupportedSyntaxError):
        super().__init__(header)
        self.header = header
        self.error = error


class FlowLowering:
    """Block and control-flow handling, mixed into `frontend.Lowerer`."""

    # --- blocks ---------------------------------------------------------------

    def block(self, stmts: list[ast.stmt], scope: Scope) -> None:
        """Lower statements in order; after one that may exit, guard the rest
        (an `if` one of whose arms always returns takes the rest into its
        other arm, `_nested_returns`)."""
        stmts = _nested_returns(stmts)
        for i, stmt in enumerate(stmts):
            rest = stmts[i + 1 :]
            if isinstance(stmt, ast.Return | ast.Break | ast.Continue):
                if rest:
                    raise UnsupportedSyntaxError(
                        f"code after '{type(stmt).__name__.lower()}' is not "
                        "supported",
                        scope.src.loc(rest[0]),
                    )
                self.exit(stmt, scope)
                return
            self.statement(stmt, scope)
            flags = [scope.env.get(f, _FALSE) for f in _EXITS]
            if any(f == Const(True) for f in flags):
                return  # the rest is unreachable
            live = [f for f in flags if f != _FALSE]
            if rest and live:
                loc = scope.src.loc(rest[0])
                exited = live[0]
                for flag in live[1:]:
                    exited = self.emit("or_", (exited, flag), loc)

                def guarded(rest=rest) -> None:
                    for flag in _EXITS:
                        if flag in scope.env:
                            scope.env[flag] = _FALSE
                    self.block(rest, scope)

                self.branch(exited, lambda: None, guarded, scope, loc, exits=True)
                return

    def exit(self, stmt: ast.Return | ast.Break | ast.Continue, scope: Scope) -> None:
        if isinstance(stmt, ast.Return):
            if stmt.value is None:
                raise UnsupportedSyntaxError(
                    "a bare 'return' has no value to differentiate",
                    scope.src.loc(stmt),
                )
            scope.env[RESULT] = self.value(stmt.value, scope, scope.hint)
            scope.env[RETURNED] = Const(True)
        elif isinstance(stmt, ast.Break):
            scope.env[BROKE] = Const(True)
        else:
            scope.env[CONTINUED] = Const(True)

    # --- branches -------------------------------------------------------------

    def if_statement(self, stmt: ast.If, scope: Scope) -> None:
        cond = self.atom(stmt.test, scope)
        self.branch(
            cond,
            lambda: self.block(stmt.body, scope),
            lambda: self.block(stmt.orelse, scope),
            scope,
            scope.src.loc(stmt),
        )

    def choose(
        self,
        cond: Atom,
        then: Callable[[], Value],
        orelse: Callable[[], Value],
        scope: Scope,
        loc: Loc,
    ) -> Value:
        """The value of `then() if cond else orelse()`, each lowered in its arm."""
        key = "<choice>"

        def arm(make: Callable[[], Value]) -> Callable[[], None]:
            def run() -> None:
                scope.env[key] = make()

            return run

        self.branch(cond, arm(then), arm(orelse), scope, loc)
        if key not in scope.env:
            raise UnsupportedSyntaxError(
                "the two sides of this expression give values of different kinds", loc
            )
        return scope.env.pop(key)

    def branch(
        self,
        cond: Atom,
        then: Callable[[], None],
        orelse: Callable[[], None],
        scope: Scope,
        loc: Loc,
        exits: bool = False,
    ) -> None:
        """Lower both arms from the current bindings and merge what they bind.
        On an arm that exits (a return, break or continue; with `exits`,
        `then` is the exit path of a guard) nothing after reads what the
        other arm binds (the rest is guarded): None stands in there for a
        name only the other arm binds, which code after may read where it did
        not exit (`if c: return a` / `else: v = w`, then `return v`)."""
        if isinstance(cond, Const) and cond.name is None:
            (then if cond.value else orelse)()
            return
        before = dict(scope.env)
        then_body, then_env = self.capture(then, scope)
        scope.env = dict(before)
        else_body, else_env = self.capture(orelse, scope)
        if exits or _exited(then_env):
            then_env = _stand_ins(then_env, else_env)
        if _exited(else_env):
            else_env = _stand_ins(else_env, then_env)
        merges: list[Merge] = []
        scope.env = self.merge(cond, then_env, else_env, merges, scope)
        self.body.append(Branch(cond, then_body, else_body, tuple(merges), loc))

    def capture(self, lower: Callable[[], None], scope: Scope):
        outer, self.body = self.body, []
        try:
            lower()
            return tuple(self.body), dict(scope.env)
        finally:
            self.body = outer

    def merge(
        self, cond: Atom, a: dict, b: dict, merges: list[Merge], scope: Scope
    ) -> dict:
        env = {}
        for flag in _EXITS:  # an exit flag not set on one side is false there
            if flag in a or flag in b:
                a, b = {flag: _FALSE, **a}, {flag: _FALSE, **b}
        if getattr(scope.src.resolver, "generated", False):
            # emitted code binds a value in one arm and reads it only under
            # the same condition later: None stands in for it on the other
            # (in the arms' order, not a set's: emitted text must not depend
            # on the hash seed)
            one_sided = [n for n in a if n not in b] + [n for n in b if n not in a]
            unset = {n: Const(None) for n in one_sided if n.isidentifier()}
            a, b = {**unset, **a}, {**unset, **b}
        for name, left in a.items():
            if name not in b:
                scope.partial.add(name)
                continue
            if (left, b[name]) == (Const(True), _FALSE) and name in _EXITS:
                env[name] = cond  # `if c: break` leaves the flag equal to c
                continue
            merged = self.merge_value(name, left, b[name], merges)
            if merged is None:
                scope.partial.add(name)
            else:
                env[name] = merged
        scope.partial.update(n for n in b if n not in a)
        return env

    def merge_value(self, name: str, left, right, merges: list[Merge]):
        from .frontend import TupleValue

        if left == right:
            return left
        # not bound yet on one side (a return not reached there): take the
        # other side's shape
        if left == Const(None) and isinstance(right, TupleValue):
            left = _unset_like(right)
        if right == Const(None) and isinstance(left, TupleValue):
            right = _unset_like(left)
        if isinstance(left, Var | Const) and isinstance(right, Var | Const):
            out = Var(self.names.fresh(_hint(name)))
            merges.append(Merge(out, left, right))
            self.shares(out, left, right)
            if self.marked(left) or self.marked(right):
                self.maybe_unbound.add(out.name)
            return out
        if (
            isinstance(left, TupleValue)
            and isinstance(right, TupleValue)
            and len(left.items) == len(right.items)
        ):
            items = [
                self.merge_value(name, x, y, merges)
                for x, y in zip(left.items, right.items, strict=True)
            ]
            return None if None in items else TupleValue(tuple(items))
        return None

    # --- loops ----------------------------------------------------------------

    def for_statement(self, stmt: ast.For, scope: Scope) -> None:
        loc = scope.src.loc(stmt)
        updated = set().union(*(_assigned(s, True) for s in stmt.body))
        for name in sorted(_iterated(stmt.iter) & updated):
            raise UnsupportedSyntaxError(
                f"the loop changes '{name}' in place while it iterates over it",
                scope.src.loc(stmt.iter),
                "iterate over a copy made before the loop",
            )
        exits = _exits(stmt.body)
        written = stmt.iter.elts if isinstance(stmt.iter, ast.List | ast.Tuple) else ()
        held = {n.id for e in written for n in ast.walk(e) if isinstance(n, ast.Name)}
        if (
            0 < len(written) <= _UNROLLED
            and not exits
            and all(_written_for(stmt.target, e) for e in written)
            and not held & updated  # (`a += p` changes the `a` the list holds)
        ):
            # a list or tuple written out: its steps one after another, so its
            # entries may differ in shape (`for p in [W1, b1]`); Python
            # evaluates them all first
            items = [self.written(e, scope) for e in written]
            for item in items:
                self.bind_written(stmt.target, item, scope)
                self.block(stmt.body, scope)
            return
        start, stop, step, element = self.iteration(stmt.iter, scope)

        def bind(index: Var) -> None:
            # The loop's position is an int, so `y[i]` of an array of one
            # axis made here (`for z in y`) is a number, not a view of y.
            if isinstance(index, Var):
                self.counters.add(index.name)
            self.unpack(stmt.target, element(index), scope)

        names = _assigned(stmt)
        if BROKE in exits or RETURNED in exits:
            if not (isinstance(step, Const) and isinstance(step.value, int)):
                raise UnsupportedSyntaxError(
                    "a loop that may 'break' or 'return' needs a constant step",
                    scope.src.loc(stmt.iter),
                )
            counter = "<index>"
            scope.env[counter] = start
            compare = "lt" if step.value > 0 else "gt"

            def test() -> Atom:
                return self.emit(compare, (scope.env[counter], stop), loc)

            def body() -> None:
                index = scope.env[counter]
                bind(index)
                self.block(stmt.body, scope)
                scope.env[counter] = self.emit("add", (index, step), loc, hint="i")

            bound = (names | {counter}, _assigned(stmt, True), self.live(stmt, scope))
            self.loop(None, (), test, body, bound, exits, scope, loc, _nones(stmt))
            scope.env.pop(counter)
            return
        named = isinstance(stmt.target, ast.Name) and _is_range(stmt.iter)
        index = Var(self.names.fresh(stmt.target.id if named else "i"))
        self.integral.add(index.name)

        def plain_body() -> None:
            bind(index)
            self.block(stmt.body, scope)

        bound = (names, _assigned(stmt, True), self.live(stmt, scope))
        self.loop(
            index,
            (start, stop, step),
            None,
            plain_body,
            bound,
            exits,
            scope,
            loc,
            _nones(stmt),
        )

    def written(self, node: ast.expr, scope: Scope) -> Atom | list:
        """An entry of a list written out, evaluated: a tuple written out
        (`(W1, b1)`) as a list of its entries'."""
        if isinstance(node, ast.Tuple | ast.List):
            return [self.written(e, scope) for e in node.elts]
        return self.atom(node, scope)

    def bind_written(self, target: ast.expr, item: Atom | list, scope: Scope) -> None:
        if isinstance(item, list):  # (a tuple target of its length: `_written_for`)
            assert isinstance(target, ast.Tuple | ast.List)
            for inner, part in zip(target.elts, item, strict=True):
                self.bind_written(inner, part, scope)
        else:
            self.unpack(target, item, scope)

    def comprehension(self, node: ast.ListComp, scope: Scope, hint) -> Atom:
        """`[elt for target in iter if cond ...]`: loops (one per `for`, the
        first outermost) that append to a list."""
        loc = scope.src.loc(node)
        key = "<items>"
        outer = scope.env.get(key)
        scope.env[key] = self.emit("list_new", (), loc, hint=hint or "items")
        append = ast.Expr(
            ast.Call(
                ast.Attribute(ast.Name(key, ast.Load()), "append", ast.Load()),
                [node.elt],
                [],
            )
        )
        body: ast.stmt = append
        for gen in reversed(node.generators):
            for cond in reversed(gen.ifs):
                body = ast.If(cond, [body], [])
            body = ast.For(gen.target, gen.iter, [body], [])
        for made in ast.walk(body):
            if not getattr(made, "lineno", None) and "lineno" in made._attributes:
                ast.copy_location(made, node)
        targets = {
            n for gen in node.generators for n in _target_names(gen.target, False)
        }
        hidden = {n: scope.env[n] for n in targets if n in scope.env}
        self.for_statement(body, scope)
        result = scope.env.pop(key)
        for name in targets:
            scope.env.pop(name, None)
        scope.env.update(hidden)
        if outer is not None:
            scope.env[key] = outer
        return result

    def while_statement(self, stmt: ast.While, scope: Scope) -> None:
        loc = scope.src.loc(stmt)
        exits = _exits(stmt.body)

        def test() -> Atom:
            return self.atom(stmt.test, scope)

        def body() -> None:
            self.block(stmt.body, scope)

        bound = (_assigned(stmt), _assigned(stmt, True), self.live(stmt, scope))
        self.loop(None, (), test, body, bound, exits, scope, loc, _nones(stmt))

    def loop(
        self, index, bounds, test, body, names, exits, scope, loc, nones=frozenset()
    ) -> None:
        """Lower a loop whose body binds `names`; carry those bound before.
        None stands in for a name not bound before it; where it may still be
        None (in the body before it binds it, or after the loop: the loop took
        no step, or no step bound it), it is marked maybe unbound, and a read
        checks it as Python would (not a name the loop may bind to None
        itself, `nones`, or to a parameter whose default is None).

        Names the body updates in place (`y[i] = ...`, `y.append(...)`) that
        hold the caller's array or a constant are copied once, before the loop."""
        names, updated, live = names
        generated = getattr(scope.src.resolver, "generated", False)
        unbound = sorted(live - set(scope.env))
        stand_ins = set() if generated else set(unbound) - nones  # (checked)
        for name in unbound:
            scope.env[name] = Const(None)  # not bound yet: read only once it is
        if RETURNED in exits:
            scope.env.setdefault(RESULT, Const(None))
            scope.env[RETURNED] = scope.env.get(RETURNED, _FALSE)
        # break and continue belong to this loop; the enclosing loop's are
        # put back after it.
        outer = {f: scope.env.pop(f) for f in (BROKE, CONTINUED) if f in scope.env}
        if BROKE in exits:
            scope.env[BROKE] = _FALSE
        flags = [f for f in (RETURNED, BROKE) if f in exits]
        if RETURNED in exits:
            flags.append(RESULT)
        carried = [n for n in scope.env if n in names or n in flags]
        for name in [n for n in carried if n in updated]:
            value = scope.env[name]
            if isinstance(value, Const) and (
                isinstance(value.value, _NUMBERS) or value.value is None
            ):
                continue  # (`acc += v` rebinds a number: np.copy(0.0) is a 0-d
                # float64 array, which made a float32 sum float64; None: a name
                # the loop binds before it updates it)
            if self.is_list(value) and isinstance(value, Const):
                self.unshared_list(value, name, scope, loc)
                scope.env[name] = self.as_list(value, loc, name)  # (a list)
            elif isinstance(value, Const):
                scope.env[name] = self.emit("copy", (value,), loc, hint=name)
            elif self.roots(value, held=False, into=True) & self.foreign(scope):
                if not self.aliased(value, name, scope):
                    copied = self.emit("copy_arg", (value,), loc, hint=name)
                    roots = self.roots(value, held=False, into=True)
                    self.arg_copies[copied.name] = roots  # (`note_written`)
                    scope.env[name] = copied
        before = dict(scope.env)
        headers = {}
        for name in carried:
            value = scope.env[name]
            if not isinstance(value, Var | Const):
                raise UnsupportedSyntaxError(
                    f"'{name}' holds a tuple and is re-bound in this loop; "
                    "loop state must be numbers or arrays",
                    loc,
                    "unpack the tuple into separate names before the loop",
                )
            headers[name] = Var(self.names.fresh(_hint(name)))
            scope.env[name] = headers[name]
            self.shares(headers[name], value)
            if headers[name].name in self.unranked:
                self.ranks.pop(headers[name].name, None)
            # (None on the first step where nothing binds it before the loop:
            # a read before the body binds it is checked)
            if name in stand_ins or name not in nones and self.marked(value):
                self.maybe_unbound.add(headers[name].name)
        test_body, cond = (), None
        if test is not None:
            test_body, cond = self.capture_value(
                lambda: self.guarded_test(test, exits, scope, loc), scope
            )
        for flag in exits:  # the body only runs while no exit has happened
            scope.env[flag] = _FALSE
        body_stmts, after = self.capture(body, scope)
        if not generated:  # (see `aliased`)
            self.check_shared(after, before, carried, updated, loc)
        for name in carried:  # an iteration starts with the previous one's value
            value = after.get(name)
            if isinstance(value, Var | Const):
                self.shares(headers[name], before[name], value)
        carries = []
        for name in carried:
            value = after.get(name)
            if not isinstance(value, Var | Const) and name == RESULT:
                raise UnsupportedSyntaxError(
                    "returning a tuple from inside a loop is not supported yet",
                    loc,
                    "assign the values inside the loop and return them after it",
                )
            if not isinstance(value, Var | Const):
                raise UnsupportedSyntaxError(
                    f"'{name}' is not bound the same way on every path of this loop",
                    loc,
                )
            out = Var(self.names.fresh(_hint(name)))
            self.shares(out, headers[name])
            carries.append(Carry(headers[name], before[name], value, out))
            if name in stand_ins or name not in nones and self.marked(before[name]):
                if self.may_be_none(value, headers[name]):
                    if headers[name].name in self.checked:  # (a read raises)
                        raise UnsupportedSyntaxError(
                            f"'{name}' is read where it may be unbound (checked, "
                            "as Python raises there), and this loop may bind it "
                            "to None, which the check cannot tell from unbound",
                            loc,
                            f"bind '{name}' before the loop ({name} = None)",
                        )
                elif not _runs(index, bounds) or self.reaches(value, headers[name]):
                    self.maybe_unbound.add(out.name)
        scope.partial.update(n for n in after if n not in before)
        scope.env = dict(before)
        for carry, name in zip(carries, carried, strict=True):
            scope.env[name] = carry.out
        scope.env.pop(BROKE, None)
        scope.env.pop(CONTINUED, None)
        scope.env.update(outer)
        self.body.append(
            Loop(index, bounds, test_body, cond, tuple(carries), body_stmts, loc)
        )

    def marked(self, value) -> bool:
        """Is `value` None where its source name is unbound?"""
        return isinstance(value, Var) and value.name in self.maybe_unbound

    def reaches(self, value, target: Var) -> bool:
        """May `value` be `target` (through merges, views and loops)?"""
        return target in self.origins(value, set())

    def may_be_none(self, value, header: Var) -> bool:
        """May `value` be None other than through `header`: a None written,
        or a parameter whose default is None (`b = bias`)?"""
        found = self.origins(value, {header})
        optional = [
            p
            for p, default in self.top.defaults().items()
            if isinstance(default, ast.Constant) and default.value is None
        ]
        return Const(None) in found or any(Var(p) in found for p in optional)

    def origins(self, value, stop: set) -> set:
        """The values `value` may be, through `sources`, not past `stop`."""
        seen, pending = set(), [value]
        while pending:
            value = pending.pop()
            if value in seen:
                continue
            seen.add(value)
            if isinstance(value, Var) and value not in stop:
                pending.extend(self.sources.get(value.name, ()))
        return seen

    def live(self, stmt: ast.For | ast.While, scope: Scope) -> set[str]:
        """Names the loop binds that are read before the loop body binds them
        (so an iteration reads the previous one's) or after the loop."""
        bound = _assigned(stmt)
        # (Counter subtraction keeps positive counts only: a comprehension's
        # loop reads "<items>", which the function's tree does not hold)
        outside = _load_counts(scope.src.tree) - _load_counts(stmt)
        return bound & (set(outside) | _exposed(stmt.body, set()))

    def shares(self, var: Var, *values: Atom) -> None:
        """`var` is one of `values` (a merge, a loop-carried value)."""
        self.sources[var.name] = values
        ranks = {self.ranks.get(name_of(v)) for v in values}
        rank = ranks.pop() if len(ranks) == 1 else None
        if var.name in self.entries_read and rank != self.ranks.get(var.name):
            # (a loop's header was taken for an array of its axes before the
            # loop, and its entries read as copies: lowered again as of no
            # known rank, or, if it was, an error)
            raise RankChanged(
                var.name,
                UnsupportedSyntaxError(  # (at the read: the IR's name is not yours)
                    "this entry is read as a number, of an array of "
                    f"{_axes_text(self.ranks[var.name])}, and the loop around it "
                    "may give the array another number of axes",
                    self.loc_of_entry[var.name],
                    "give the array one shape on every step",
                ),
            )
        if rank is not None:
            self.ranks[var.name] = rank
        else:
            self.ranks.pop(var.name, None)
        # (a list on every path; None stands in for a name not bound on one)
        bound = [v for v in values if not (isinstance(v, Const) and v.value is None)]
        lists = [self.is_list(v) for v in bound]
        mixed = any(self.kinds.get(name_of(v)) == "mixed" for v in bound)
        if bound and all(lists):
            self.kinds[var.name] = "list"
        elif any(lists) or mixed:  # (written into: a list, or an array)
            self.kinds[var.name] = "mixed"
        else:  # (a loop's header, first bound to its value before the loop)
            self.kinds.pop(var.name, None)

    def check_shared(self, after: dict, before: dict, carried, updated, loc) -> None:
        """A name updated in place must not end an iteration bound to the
        same array as another name the code may still read (one bound before
        the loop: a name the loop binds first is bound anew before it is read
        again, or is not readable after it): the next iteration's update
        would change both.  (A value returned is no such name: once bound,
        the loop and the function end.)"""
        for name in [n for n in carried if n in updated]:
            value = after.get(name)
            if not isinstance(value, Var):
                continue
            mine = self.roots(value, held=False, into=True)
            for other, theirs in after.items():
                if (
                    other != name
                    and other != RESULT
                    and other in before
                    and isinstance(theirs, Var)
                    and self.roots(theirs) & mine
                ):
                    raise UnsupportedSyntaxError(
                        f"'{name}' is updated in place in this loop and ends an "
                        f"iteration sharing memory with '{other}'",
                        loc,
                        f"bind '{name}' to a copy, for example np.copy(...)",
                    )

    def guarded_test(self, test, exits, scope: Scope, loc: Loc) -> Atom:
        """The loop condition, not evaluated once the body has exited."""
        flags = [scope.env[f] for f in (RETURNED, BROKE) if f in exits]
        if not flags:
            return test()
        exited = flags[0]
        for flag in flags[1:]:
            exited = self.emit("or_", (exited, flag), loc)
        return self.choose(exited, lambda: _FALSE, test, scope, loc)

    def capture_value(self, lower: Callable[[], Atom], scope: Scope):
        result: list[Atom] = []
        stmts, _ = self.capture(lambda: result.append(lower()), scope)
        return stmts, result[0]

    def iteration(self, node: ast.expr, scope: Scope):
        """(start, stop, step, element) for what a `for` loop iterates over;
        `element(index)` lowers the item at `index`."""
        loc = scope.src.loc(node)
        kind = self.builtin_call(node, scope)
        if kind == "range":
            args = [self.atom(a, scope) for a in node.args]
            if not 1 <= len(args) <= 3 or node.keywords:
                raise UnsupportedSyntaxError("range() takes 1 to 3 arguments", loc)
            if len(args) == 1:
                args.insert(0, Const(0))
            if len(args) == 2:
                args.append(Const(1))
            return (*args, lambda index: index)
        if kind == "reversed":
            inner = node.args[0] if len(node.args) == 1 and not node.keywords else None
            if inner is None or self.builtin_call(inner, scope) in _ONE_WAY:
                raise UnsupportedSyntaxError(
                    "reversed() takes one range, list, tuple or array", loc
                )
            start, stop, step, element = self.iteration(inner, scope)
            return (*self.reversed_range(start, stop, step, loc), element)
        if kind in ("zip", "enumerate"):
            args, first, strict = self.zip_options(node, kind, scope)
            parts = [self.iteration(a, scope) for a in args]
            for start, _, step, _ in parts:
                if start != Const(0) or step != Const(1):
                    raise UnsupportedSyntaxError(
                        f"{kind}() over a range with a start or step, or over "
                        "reversed(...), is not supported",
                        loc,
                        "index the sequences with one loop index instead",
                    )
            stop = parts[0][1]
            for k, part in enumerate(parts[1:], 2):
                if strict:  # (the lengths must agree, or Python's ValueError)
                    stop = self.emit("zip_length", (stop, part[1], Const(k)), loc)
                else:
                    stop = self.emit("min_int", (stop, part[1]), loc)
            if kind == "enumerate":
                inner = parts[0][3]

                def counted(i: Atom) -> Atom:
                    return i if first == Const(0) else self.emit("add", (i, first), loc)

                return Const(0), stop, Const(1), lambda i: _tuple(counted(i), inner(i))
            return (
                Const(0),
                stop,
                Const(1),
                lambda i: _tuple(*(p[3](i) for p in parts)),
            )
        if isinstance(node, ast.Tuple):  # `for v in (a, b)` iterates a list
            node = ast.copy_location(ast.List(node.elts, ast.Load()), node)
        sequence = self.atom(node, scope)
        length = self.emit("len", (sequence,), loc)
        return (
            Const(0),
            length,
            Const(1),
            lambda i: self.emit("getitem", (sequence, Index((i,))), loc),
        )

    def zip_options(
        self, node: ast.Call, kind: str, scope: Scope
    ) -> tuple[list[ast.expr], Atom, bool]:
        """The iterables of `zip(...)` or `enumerate(...)`, enumerate's first
        count (`start`, by position or keyword) and zip's `strict=`."""
        loc = scope.src.loc(node)
        args = list(node.args)
        given = {kw.arg: kw.value for kw in node.keywords}
        allowed = "start" if kind == "enumerate" else "strict"
        for name, value in given.items():
            if name != allowed:
                raise UnsupportedSyntaxError(
                    f"{kind}() takes no keyword argument '{name}'", scope.src.loc(value)
                )
        if kind == "enumerate" and len(args) == 2 and "start" not in given:
            given["start"] = args.pop()
        if kind == "enumerate" and len(args) != 1:
            raise UnsupportedSyntaxError(
                "enumerate() takes one iterable (and a start)", loc
            )
        first = self.atom(given["start"], scope) if "start" in given else Const(0)
        strict = "strict" in given and self.static(given["strict"], scope, "strict=")
        return args, first, bool(strict)

    def reversed_range(self, start: Atom, stop: Atom, step: Atom, loc: Loc):
        """reversed(range(start, stop, step)) as a range: from the last element
        down to `start` (inclusive) by `-step`."""
        if start == Const(0) and step == Const(1):
            return self.emit("sub", (stop, Const(1)), loc), Const(-1), Const(-1)
        count = self.emit("len", (self.emit("range", (start, stop, step), loc),), loc)
        before = self.emit("sub", (count, Const(1)), loc)
        last = self.emit("add", (start, self.emit("mul", (before, step), loc)), loc)
        if isinstance(step, Const):
            back = Const(-step.value)
        else:
            back = self.emit("neg", (step,), loc)
        end = self.emit("sub", (start, step), loc)
        return last, end, back

    def builtin_call(self, node: ast.expr, scope: Scope) -> str | None:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("range", "reversed", "zip", "enumerate", "slice")
            and node.func.id not in scope.env
        ):
            found = (
                scope.src.resolver.resolve(node.func.id) if scope.src.resolver else None
            )
            if getattr(found, "lib", None) == "builtins":
                return node.func.id
        return None


# Python numbers and numpy scalars: immutable, so an in-place update rebinds.
_NUMBERS = (int, float, complex, np.generic)


def _is_range(node: ast.expr) -> bool:
    """Is the loop over `range(...)`, so its target is the index itself?"""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
    )


def _unset_like(value):
    from .frontend import TupleValue

    if isinstance(value, TupleValue):
        return TupleValue(tuple(_unset_like(v) for v in value.items))
    return Const(None)


def _tuple(*items):
    from .frontend import TupleValue

    return TupleValue(tuple(items))


def _exited(env: dict) -> bool:
    """Does every path through the arm that left `env` return, break or
    continue?"""
    return any(env.get(flag) == Const(True) for flag in _EXITS)


def _stand_ins(exited: dict, other: dict) -> dict:
    """`exited`, with None for the names only `other` binds."""
    bound = [n for n in other if n not in exited and n.isidentifier()]
    return {**{n: Const(None) for n in bound}, **exited}


def _nones(loop: ast.For | ast.While) -> frozenset[str]:
    """Names `loop` binds to None itself (a None after it may be a value)."""
    return frozenset(
        t.id
        for n in ast.walk(loop)
        if isinstance(n, ast.Assign)
        and isinstance(n.value, ast.Constant)
        and n.value.value is None
        for t in n.targets
        if isinstance(t, ast.Name)
    )


def _runs(index, bounds) -> bool:
    """Does a loop over `range` of constant bounds take a step?"""
    return (
        index is not None
        and bool(bounds)
        and all(isinstance(b, Const) and type(b.value) is int for b in bounds)
        and len(range(*(b.value for b in bounds))) > 0
    )


def _hint(name: str) -> str:
    return {
        RETURNED: "returned",
        RESULT: "result",
        BROKE: "broke",
        CONTINUED: "skip",
        "<index>": "i",
        "<choice>": "choice",
        "<items>": "items",
    }.get(name, name)


@functools.lru_cache(maxsize=64)
def _load_counts(node: ast.AST) -> Counter:
    """How many times each name is read in `node`, nested nodes included.
    Cached per node: a function's tree is read once for all its loops (each
    loop subtracts its own reads), and the trees are never changed."""
    return Counter(_reads(node))


def _assigned(stmt: ast.stmt, updates_only: bool = False) -> set[str]:
    """Source names a statement may bind or update in place (nested
    statements included); with `updates_only`, just the in-place updates:
    `y[i] = ...`, `y += ...`, `y.append(...)`."""
    names: set[str] = set()
    for node in nodes(stmt):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign):
            targets = [node.target]
            if updates_only and isinstance(node.target, ast.Name):
                names.add(node.target.id)
        elif isinstance(node, ast.AnnAssign | ast.For):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            names |= _updated_by_call(node)
        for target in targets:
            names |= _target_names(target, updates_only)
    return names


def _exposed(stmts: list[ast.stmt], bound: set[str]) -> set[str]:
    """Names read by `stmts` before they are certainly bound (given `bound`)."""
    found: set[str] = set()
    bound = set(bound)
    for stmt in stmts:
        if isinstance(stmt, ast.If):
            found |= _loads(stmt.test) - bound
            arms = [set(bound), set(bound)]
            found |= _exposed(stmt.body, arms[0]) | _exposed(stmt.orelse, arms[1])
            bound |= _certain(stmt.body, bound) & _certain(stmt.orelse, bound)
        elif isinstance(stmt, ast.For | ast.While):
            header = stmt.iter if isinstance(stmt, ast.For) else stmt.test
            found |= _loads(header) - bound
            found |= _exposed(stmt.body, bound)
        elif not isinstance(stmt, ast.FunctionDef):
            found |= _loads(stmt) - bound
            bound |= _assigned(stmt)
    return found


def _certain(stmts: list[ast.stmt], bound: set[str]) -> set[str]:
    """Names certainly bound after `stmts` run (not counting loop bodies)."""
    bound = set(bound)
    for stmt in stmts:
        if isinstance(stmt, ast.If):
            bound |= _certain(stmt.body, bound) & _certain(stmt.orelse, bound)
        elif not isinstance(stmt, ast.For | ast.While | ast.FunctionDef):
            bound |= _assigned(stmt)
    return bound


def _loads(node: ast.AST) -> set[str]:
    return set(_reads(node))


def _reads(node: ast.AST) -> Iterator[str]:
    """The names `node` reads, once per read: loads, and the target of `v +=
    e` (which reads `v`, though Python's tree marks it stored)."""
    for n in nodes(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            yield n.id
        elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            yield n.target.id


# Iterables Python cannot reverse (no length, or an iterator).
_ONE_WAY = ("zip", "enumerate", "reversed")


def _iterated(node: ast.expr) -> set[str]:
    """Names of the sequences a `for` header iterates over, themselves or
    through a view (`x[1:]`, `x.T`); not those that only give a bound, as in
    `range(len(y))`, nor those of a new value (`np.sin(y)`, `y.copy()`)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in _ONE_WAY:
            return set().union(*map(_iterated, node.args))
        return set()
    while isinstance(node, ast.Subscript | ast.Attribute):
        node = node.value
    return {node.id} if isinstance(node, ast.Name) else set()


def _updated_by_call(node: ast.Call) -> set[str]:
    """`y` for `y.append(v)`, `y.pop()` and `np.add.at(y, i, v)`."""
    func = node.func
    if func.attr in ("append", "pop") and isinstance(func.value, ast.Name):
        return {func.value.id}
    if (
        func.attr == "at"
        and getattr(func.value, "attr", None) == "add"
        and node.args
        and isinstance(node.args[0], ast.Name)
    ):
        return {node.args[0].id}
    return set()


def _target_names(target: ast.expr, updates_only: bool) -> set[str]:
    if isinstance(target, ast.Name):
        return set() if updates_only else {target.id}
    if isinstance(target, ast.Tuple | ast.List):
        return {n for e in target.elts for n in _target_names(e, updates_only)}
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        return {target.value.id}
    return set()


def _written_for(target: ast.expr, entry: ast.expr) -> bool:
    """Can a loop over a list written out bind `target` to `entry` as it
    stands: no starred entry, and a tuple written out only to a tuple target
    of its length (`for W, b in [(W1, b1), (W2, b2)]`)?"""
    if isinstance(entry, ast.Starred):
        return False
    if not isinstance(entry, ast.Tuple | ast.List):
        return True
    return (
        isinstance(target, ast.Tuple | ast.List)
        and len(target.elts) == len(entry.elts)
        and all(
            _written_for(t, e) for t, e in zip(target.elts, entry.elts, strict=True)
        )
    )


def _exits(body: list[ast.stmt]) -> set[str]:
    """Which of return/break/continue can leave this loop body."""
    found: set[str] = set()

    def visit(stmts: list[ast.stmt], nested: bool) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.Return):
                found.add(RETURNED)
            elif isinstance(stmt, ast.Break) and not nested:
                found.add(BROKE)
            elif isinstance(stmt, ast.Continue) and not nested:
                found.add(CONTINUED)
            elif isinstance(stmt, ast.If):
                visit(stmt.body, nested)
                visit(stmt.orelse, nested)
            elif isinstance(stmt, ast.For | ast.While):
                visit(stmt.body, True)

    visit(body, False)
    return found


def _axes_text(count: int) -> str:
    """'one axis', '2 axes' (for messages)."""
    return "one axis" if count == 1 else f"{count} axes"


def _nested_returns(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """`stmts` with the statements after an `if` one of whose arms always
    returns moved into its other arm, where they run exactly when they ran
    before: `if c: return a` then `return b` is `if c: return a` / `else:
    return b`, one branch with a value on each side, where a `<returned>`
    flag would test `c` again in a second branch and start the adjoint from
    zeros on the path that returned early."""
    for i, stmt in enumerate(stmts):
        rest = stmts[i + 1 :]
        if not isinstance(stmt, ast.If) or not rest:
            continue
        then, orelse = always_returns(stmt.body), always_returns(stmt.orelse)
        if then and not orelse:
            nested = ast.If(stmt.test, stmt.body, [*stmt.orelse, *rest])
        elif orelse and not then:
            nested = ast.If(stmt.test, [*stmt.body, *rest], stmt.orelse)
        else:  # (after an `if` both of whose arms return, the rest is dead)
            continue
        return [*stmts[:i], ast.copy_location(nested, stmt)]
    return stmts


def always_returns(body: list[ast.stmt]) -> bool:
    """Does every path through `body` end in a `return`?  (A `while True:`
    loop that no `break` of its own leaves ends only in one.)"""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Return):
        return True
    if isinstance(last, ast.While):
        forever = isinstance(last.test, ast.Constant) and bool(last.test.value)
        return forever and not _breaks(last.body)
    return (
        isinstance(last, ast.If)
        and always_returns(last.body)
        and always_returns(last.orelse)
    )


def _breaks(body: list[ast.stmt]) -> bool:
    """Can a `break` of the loop whose body is `body` leave it (not one of a
    loop inside it)?"""
    return any(
        isinstance(stmt, ast.Break)
        or isinstance(stmt, ast.If)
        and (_breaks(stmt.body) or _breaks(stmt.orelse))
        for stmt in body
    )
