"""The in-place planner on generated code (forward mode over an emitted
gradient, as `symgrad.hessian` runs it): which writes may reuse memory.

Code a user wrote reaches the planner only after the frontend refused every
read of an array's old version; generated code does not, so the planner
itself must keep every such write a copy.  These tests build the IR by hand
to reach the cases user code cannot produce.
"""

from __future__ import annotations

from symgrad import inplace
from symgrad.ir import (
    Assign,
    Branch,
    Const,
    Copy,
    Function,
    If,
    Index,
    Merge,
    Return,
    Slice,
    Var,
)


def planned(*statements: Assign, result: str) -> set[str]:
    """The writes `inplace.plan` makes in place in generated straight-line
    code that returns `result`."""
    fn = Function("f", ("x",), (*statements, Return(Var(result))))
    return inplace.plan(fn, list(statements), [], forward_mode=True).in_place


def zeros(name: str) -> Assign:
    return Assign(Var(name), "zeros", (Const(2),))


def write(name: str, source: str, i: int) -> Assign:
    return Assign(Var(name), "setitem", (Var(source), Index((Const(i),)), Var("x")))


def add(name: str, a: str, b: str) -> Assign:
    return Assign(Var(name), "add", (Var(a), Var(b)))


def test_a_chain_of_writes_into_a_new_array_happens_in_place() -> None:
    assert planned(
        zeros("y1"), write("y2", "y1", 0), write("y3", "y2", 1), result="y3"
    ) == {
        "y2",
        "y3",
    }


def test_a_version_read_after_a_later_write_keeps_the_writes_copies() -> None:
    body = (
        zeros("y1"),
        write("y2", "y1", 0),
        write("y3", "y2", 1),
        add("s", "y2", "y3"),
    )
    assert planned(*body, result="s") == set()


def test_two_writes_from_one_version_keep_copies() -> None:
    # y2 and y3 are two arrays: in place, each write would land in both
    body = (
        zeros("y1"),
        write("y2", "y1", 0),
        write("y3", "y1", 1),
        add("s", "y2", "y3"),
    )
    assert planned(*body, result="s") == set()


def test_an_array_a_support_function_returned_keeps_its_writes_copies() -> None:
    # `_unbroadcast(g, x)` may return `g` itself: here the caller's array
    made = Assign(Var("y1"), "unbroadcast", (Var("x"), Var("x")))
    assert planned(made, write("y2", "y1", 0), result="y2") == set()


def test_a_list_appended_to_in_a_chain_is_appended_in_place() -> None:
    new = Assign(Var("l1"), "list_new", ())
    appended = Assign(Var("l2"), "list_append", (Var("l1"), Var("x")))
    again = Assign(Var("l3"), "list_append", (Var("l2"), Var("x")))
    assert planned(new, appended, again, result="l3") == {"l2", "l3"}
    length = Assign(Var("n"), "len", (Var("l2"),))
    assert planned(new, appended, again, length, result="n") == set()


def test_a_version_read_before_its_write_is_written_in_place() -> None:
    # the read ends before the write starts: it sees the old values
    body = (zeros("y1"), add("s", "y1", "x"), write("y2", "y1", 0), add("t", "s", "y2"))
    assert planned(*body, result="t") == {"y2"}


def test_a_view_taken_before_a_write_and_read_after_it_keeps_copies() -> None:
    # `v = y1[:1]` shares y1's memory: written in place, v would see the write
    view = Assign(Var("v"), "getitem", (Var("y1"), Index((Slice(None, Const(1)),))))
    body = (zeros("y1"), view, write("y2", "y1", 0), add("t", "v", "y2"))
    assert planned(*body, result="t") == set()


def test_a_list_entry_read_before_the_pop_lets_the_pop_happen_in_place() -> None:
    # `e = l[-1]; l = l[:-1]` is `e = l.pop()`, an entry being no view of l
    new = Assign(Var("l1"), "list_new", ())
    appended = Assign(Var("l2"), "list_append", (Var("l1"), Var("x")))
    last = Assign(Var("e"), "getitem", (Var("l2"), Index((Const(-1),))))
    popped = Assign(Var("l3"), "list_pop", (Var("l2"),))
    length = Assign(Var("n"), "len", (Var("l3"),))
    total = add("t", "e", "n")
    body = (new, appended, last, popped, length, total)
    assert planned(*body, result="t") == {"l2", "l3"}
    late = Assign(Var("e"), "getitem", (Var("l2"), Index((Const(-1),))))
    body = (new, appended, popped, late, length, total)  # read after the pop
    assert planned(*body, result="t") == set()


def branchy(then_writes: int) -> set[str]:
    """`y = zeros(2); if c: y[0] = x (twice if then_writes == 2) else: y[1] = x`:
    the writes planned in place."""
    then = tuple(
        write(f"a{k + 1}", "y1" if k == 0 else f"a{k}", k) for k in range(then_writes)
    )
    orelse = (write("b1", "y1", 1),)
    last = f"a{then_writes}"
    merge = Merge(Var("y2"), Var(last), Var("b1"))
    primal = (zeros("y1"), Branch(Var("c"), then, orelse, (merge,)))
    lowered = [
        zeros("y1"),
        If(
            Var("c"),
            then + (Copy((Var("y2"),), (Var(last),)),),
            orelse + (Copy((Var("y2"),), (Var("b1"),)),),
        ),
    ]
    fn = Function("f", ("x", "c"), (*primal, Return(Var("y2"))))
    return inplace.plan(fn, lowered, [], forward_mode=True).in_place


def test_writes_in_the_two_arms_of_a_branch_happen_in_place() -> None:
    # only one arm runs: each takes y1 once
    assert branchy(then_writes=1) == {"a1", "b1"}
    assert branchy(then_writes=2) == {"a1", "a2", "b1"}
