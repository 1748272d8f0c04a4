"""Maxima the returned value provably does not depend on: the shift of the
log-sum-exp and softmax tricks.

`z - np.max(z, axis=1, keepdims=True)` makes `np.exp` safe, and the max
cancels: `logsumexp(z) = m + log(sum(exp(z - m)))` is the same for every `m`.
Its derivative with respect to `m` is zero, so reverse mode may treat `m` as
a constant (JAX's `logsumexp` does the same with `stop_gradient`), which
drops the adjoint of the max, its tie-splitting, and the cotangents that sum
to zero on the way (up to rounding, which they only add).

`shift_invariant(fn)` proves it by following a perturbation `d` of `m`
through the top-level statements after it.  Each value that depends on `m`
is either `v0 + s * d` ("add", s an int) or `v0 * exp(s * d)` ("mul"), where
`d` is laid out as `m` is:

* "scalar": no axis and no keepdims; `d` is a number and broadcasts anywhere;
* "keep": keepdims over axes A; `d` has the argument's rank and is constant
  along A.  Every other operand must have a shape the argument's shape class
  contains, so no value outgrows that rank and A names the same axes in all;
* "squeezed": the keep layout with A removed (`m[:, 0]`, or a sum over A
  without keepdims); only numbers may join it.

`exp` turns "add" into "mul", a sum over (a subset of) A keeps "mul", `log`
turns "mul" back into "add", and sums and differences of "add" values add
their `s`: at `s = 0` the value no longer depends on `m`.  Anything else
(another op, a use inside a branch or loop, the returned value still
depending on `m`) proves nothing, and the max keeps its adjoint.
"""

from __future__ import annotations

from .analysis import SCALAR, Shape
from .ir import Assign, Const, Function, Index, Return, Slice, Var, uses, walk

Value = tuple[str, int, str]  # ("add" | "mul", s, layout)


def shift_invariant(fn: Function, classes: dict[str, Shape]) -> set[str]:
    """Names of top-level `max`/`min` results the returned value provably
    does not depend on (its derivative with respect to them is zero), given
    the function's shape classes (`analysis.shape_classes`)."""
    return {
        s.target.name
        for i, s in enumerate(fn.body)
        if isinstance(s, Assign)
        and s.op in ("max", "min")
        and isinstance(s.args[0], Var)
        and _cancels(fn.body, i, classes)
    }


def _cancels(body, at: int, classes: dict[str, Shape]) -> bool:
    m = body[at]
    axis, keepdims = m.param("axis"), bool(m.param("keepdims", False))
    axes = frozenset() if axis is None else _axes(axis)
    if axis is None and not keepdims:
        layout = "scalar"
    elif axes and keepdims:  # (axis=() is no max)
        layout = "keep"
    else:
        return False
    shift = _Shift(axes, classes[m.args[0].name], classes)
    values: dict[str, Value] = {m.target.name: ("add", 1, layout)}
    for stmt in body[at + 1 :]:
        if isinstance(stmt, Return):
            return not (isinstance(stmt.value, Var) and stmt.value.name in values)
        if not any(v.name in values for s in walk([stmt]) for v in uses(s)):
            continue
        if not isinstance(stmt, Assign):
            return False  # a branch, loop or array write reads it
        value = shift.apply(stmt, values)
        if value is None:
            return False
        if value[1] != 0:  # (at s = 0 it no longer depends on m)
            values[stmt.target.name] = value
    return False


def _axes(axis: object) -> frozenset[int] | None:
    """The axes as written: every value of the keep layout has the max's
    argument's rank, so equal spellings name equal axes (1 and -1 may be one
    axis too, but are not taken for one)."""
    items = axis if isinstance(axis, tuple) else (axis,)
    if all(type(a) is int for a in items):
        return frozenset(items)
    return None


class _Shift:
    """The transfer function: a statement's value from its operands'."""

    def __init__(self, axes: frozenset[int], argument: Shape, classes) -> None:
        self.axes, self.argument, self.classes = axes, argument, classes

    def apply(self, stmt: Assign, values: dict[str, Value]) -> Value | None:
        args = [values.get(a.name) if isinstance(a, Var) else None for a in stmt.args]
        known = [a for a in args if a is not None]
        layouts = {a[2] for a in known}
        if len(layouts) != 1 or len(known) != sum(
            isinstance(a, Var) and a.name in values for a in uses(stmt)
        ):
            return None  # two layouts, or a value in an index or parameter
        (layout,) = layouts
        for atom, arg in zip(stmt.args, args, strict=True):
            if (
                arg is None
                and not isinstance(atom, Index)
                and not self._fits(atom, layout)
            ):
                return None
        kinds = [a[0] if a else None for a in args]
        s = [a[1] if a else 0 for a in args]
        op = stmt.op
        if op in ("add", "sub") and "mul" not in kinds:
            total = s[0] + s[1] if op == "add" else s[0] - s[1]
            return ("add", total, layout)
        if op == "neg" and kinds[0] == "add":
            return ("add", -s[0], layout)
        if op in ("neg", "pos"):  # -(x0 * exp(s * d)) is (-x0) * exp(s * d)
            return (kinds[0], s[0], layout)
        if op == "mul" and "add" not in kinds:
            return ("mul", s[0] + s[1], layout)
        if op in ("truediv", "divide", "div") and "add" not in kinds:
            return ("mul", s[0] - s[1], layout)
        if op == "exp" and kinds == ["add"]:
            return ("mul", s[0], layout)
        if op == "log" and kinds == ["mul"]:
            return ("add", s[0], layout)
        if op in ("sum", "mean") and kinds == ["mul"]:
            return self._reduced(stmt, s[0], layout)
        if op == "getitem" and kinds[0] is not None:
            return self._indexed(stmt, kinds[0], s[0], layout)
        return None

    def _fits(self, atom: object, layout: str) -> bool:
        """May an operand that does not depend on `m` join a value of `layout`?"""
        if isinstance(atom, Var):
            shape = self.classes.get(atom.name)
        elif isinstance(atom, Const) and atom.name is None:
            shape = SCALAR if type(atom.value) in (int, float) else None
        else:
            shape = None
        if layout == "scalar":
            return True
        if layout == "keep":
            return shape is not None and shape <= self.argument
        return shape == SCALAR

    def _reduced(self, stmt: Assign, s: int, layout: str) -> Value | None:
        if set(dict(stmt.params)) - {"axis", "keepdims"}:
            return None  # dtype=, where=, ...
        if layout == "scalar":
            return ("mul", s, layout)  # exp(s * d) is one number: it factors out
        axes = stmt.param("axis")
        summed = None if axes is None else _axes(axes)
        if layout != "keep" or summed is None or not summed <= self.axes:
            return None
        if stmt.param("keepdims"):
            return ("mul", s, "keep")
        return ("mul", s, "squeezed") if summed == self.axes else None

    def _indexed(self, stmt: Assign, kind: str, s: int, layout: str) -> Value | None:
        if layout == "scalar":
            return (kind, s, layout)  # any entry of x0 + s * d, d one number
        index = stmt.args[1]
        if layout != "keep" or not isinstance(index, Index) or min(self.axes) < 0:
            return None
        # `m[:, 0]`: index 0 on exactly the axes of A, a full slice elsewhere
        if len(index.items) != max(self.axes) + 1:
            return None
        for position, item in enumerate(index.items):
            if position in self.axes:
                if not (isinstance(item, Const) and type(item.value) is int):
                    return None
                if item.value != 0:
                    return None
            elif not (isinstance(item, Slice) and _full(item)):
                return None
        return (kind, s, "squeezed")


def _full(item: Slice) -> bool:
    return all(
        part is None or (isinstance(part, Const) and part.value is None)
        for part in (item.start, item.stop, item.step)
    )
