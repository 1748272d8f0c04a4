"""The in-place planner on generated code (forward mode over an emitted
gradient, as `symgrad.hessian` runs it): which writes may reuse memory.

Code a user wrote reaches the planner only after the frontend refused every
read of an array's old version; generated code does not, so the planner
itself must keep every such write a copy.  These tests build the IR by hand
to reach the cases user code cannot produce.
"""

from __future__ import annotations

from symgrad import inplace
from symgrad.ir import Assign, Const, Function, Index, Return, Var


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
