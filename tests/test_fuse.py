"""One elementwise chain on adjacent slices, computed once (`symgrad.fuse`):
seen in the emitted source, the value bit for bit the function's, the
gradient against finite differences, and each condition's refusal."""

from __future__ import annotations

import numpy as np
import pytest

import symgrad
from symgrad.check import check_grad
from symgrad.fuse import _FUSABLE
from symgrad.rules import OPS


def gates(W, b, X):
    H = W.shape[0] // 4
    h = np.zeros(H)
    c = np.zeros(H)
    for x in X:
        g = W @ np.concatenate([x, h]) + b
        i = 1.0 / (1.0 + np.exp(-g[:H]))
        f = 1.0 / (1.0 + np.exp(-g[H : 2 * H]))
        o = 1.0 / (1.0 + np.exp(-g[2 * H : 3 * H]))
        u = np.tanh(g[3 * H :])
        c = f * c + i * u
        h = o * np.tanh(c)
    return np.sum(h * h)


def rows(A):
    A = np.asarray(A)  # a numpy value (a list slice is not fused)
    n = A.shape[0] // 2
    top = np.tanh(2.0 * A[:n])
    rest = np.tanh(2.0 * A[n:])  # to the end: the last of the run
    return np.sum(top * rest[: len(top)]) + np.sum(rest)


def body(g: symgrad.GradFunction) -> str:
    return g.source.split("# Support code")[0]


def data(rng, H=3, D=2, T=4):
    return (
        0.5 * rng.normal(size=(4 * H, D + H)),
        rng.normal(size=4 * H),
        rng.normal(size=(T, D)),
    )


def test_gates_on_adjacent_slices_are_one_chain():
    g = symgrad.grad(gates, wrt=(0, 1))
    code = body(g)
    forward = code.split("if seed is None")[0]
    # (2 * H and 3 * H, on two lines each, computed once: `share`)
    assert forward.count("np.exp(") == 1 and "np.exp(-g[:t5]))" in forward
    assert "t4 = 2 * H" in forward and "t5 = 3 * H" in forward
    for line in ("i_1 = t6[:H]", "f = t6[H:t4]", "o = t6[t4:t5]"):
        assert line in forward
    rng = np.random.default_rng(0)
    for args in (data(rng), data(rng, H=1), data(rng, T=1), data(rng, T=0)):
        # the value is the function's, bit for bit
        assert g.f_and_grad(*args)[0] == gates(*args)
        if len(args[2]):
            check_grad(g, *args)


def test_a_run_may_end_with_a_slice_to_the_end():
    g = symgrad.grad(rows)
    assert body(g).split("if seed is None")[0].count("np.tanh(") == 1
    assert "np.tanh(2.0 * A_1)" in body(g)
    for n in (1, 4, 5):  # an odd length: the last slice is the longer
        A = np.random.default_rng(n).normal(size=(n, 2))
        assert g.f_and_grad(A)[0] == rows(A)
        check_grad(g, A)


def gap(g):
    g = np.asarray(g)  # a numpy value (a list slice is not fused)
    H = g.shape[0] // 3
    return np.sum(np.exp(g[:H]) * np.exp(g[H + 1 : 2 * H + 1]))


def other_constant(g):
    g = np.asarray(g)  # a numpy value (a list slice is not fused)
    H = g.shape[0] // 2
    return np.sum(np.exp(2.0 * g[:H]) * np.exp(3.0 * g[H : 2 * H]))


def read_between(g):
    g = np.asarray(g)  # a numpy value (a list slice is not fused)
    H = g.shape[0] // 2
    a = np.exp(g[:H])
    s = np.sum(a)  # a read of the first value before the second chain
    b = np.exp(g[H : 2 * H])
    return s * np.sum(b)


def negative_bounds(g):
    g = np.asarray(g)  # a numpy value (a list slice is not fused)
    return np.sum(np.exp(g[:-2]) * np.exp(g[-2:-1]))


def parameter_bound(g, k):
    g = np.asarray(g)  # a numpy value (a list slice is not fused)
    return np.sum(np.exp(g[:k]) + np.sum(np.exp(g[k : 2 * k])))


def not_first(g):
    g = np.asarray(g)  # a numpy value (a list slice is not fused)
    H = g.shape[0] // 3
    return np.sum(np.exp(g[H : 2 * H]) * np.exp(g[2 * H : 3 * H]))


def written(g):
    g = np.asarray(g)  # a numpy value (a list slice is not fused)
    H = g.shape[0] // 2
    a = np.exp(g[:H])
    b = np.exp(g[H : 2 * H])
    a[0] = 0.0
    return np.sum(a * b)


@pytest.mark.parametrize(
    "fn, args",
    [
        (gap, (np.linspace(-1, 1, 9),)),
        (other_constant, (np.linspace(-1, 1, 8),)),
        (read_between, (np.linspace(-1, 1, 8),)),
        (negative_bounds, (np.linspace(-1, 1, 8),)),
        (parameter_bound, (np.linspace(-1, 1, 8), 3)),
        (not_first, (np.linspace(-1, 1, 9),)),
        (written, (np.linspace(-1, 1, 8),)),
    ],
)
def test_chains_that_may_differ_are_left_apart(fn, args):
    # a gap between the slices, other constants, a read before the last
    # chain, bounds that are not provably >= 0 (negative, a parameter), a
    # run not starting at 0, a write into a value: each chain keeps its call
    g = symgrad.grad(fn, wrt=0)
    assert body(g).split("if seed is None")[0].count("np.exp(") == 2
    assert g.f_and_grad(*args)[0] == fn(*args)
    check_grad(g, *args)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_computes_each_element_alone(dtype):
    # what the fusion rests on: an elementwise function gives an element the
    # same bits in a long array as in any slice of it (lengths and offsets
    # across numpy's SIMD widths and their tails)
    rng = np.random.default_rng(1)
    checked = 0
    for name in sorted(_FUSABLE):
        template = OPS[name].template
        if not template.startswith("np."):
            continue  # (Python's operators: IEEE arithmetic, exact)
        fn = getattr(np, template[3 : template.index("(")])
        for n in (1, 7, 8, 9, 16, 17, 33, 96, 130):
            x = rng.uniform(0.05, 0.95, size=n).astype(dtype)  # every domain
            x = x + 1 if name == "arccosh" else x  # (but arccosh's: >= 1)
            with np.errstate(all="ignore"):
                whole = fn(x) if OPS[name].arity == 1 else fn(x, 1.5)
                for a, b in (
                    (0, n // 3),
                    (n // 3, n),
                    (1, n - 1),
                    (n // 2, n // 2 + 5),
                ):
                    part = fn(x[a:b]) if OPS[name].arity == 1 else fn(x[a:b], 1.5)
                    np.testing.assert_array_equal(whole[a:b], part)
        checked += 1
    assert checked >= 25


def signed_zeros(g):
    g = np.asarray(g)  # a numpy value (a list slice is not fused)
    H = g.shape[0] // 2
    a = 1.0 / (g[:H] + 0.0)
    b = 1.0 / (g[H : 2 * H] + -0.0)  # -0.0 + -0.0 is -0.0: 1 / -0.0 is -inf
    return np.sum(a) + np.sum(b)


def repeated(x, g):
    H = len(g) // 2
    a = g[:H] * 2  # on a list, `*` repeats it
    b = g[H : 2 * H] * 2
    return x * len(a) + x * len(b)


def one_gate_unused(g):
    g = np.asarray(g)  # a numpy value (a list slice is not fused)
    H = g.shape[0] // 2
    i = np.exp(g[:H])
    f = np.exp(g[H : 2 * H])  # read only by a comparison: no cotangent
    return np.sum(i * (f > 0.5))


def test_what_the_adversarial_tester_found_stays_apart():
    # -0.0 is not 0.0 as a constant
    g = symgrad.grad(signed_zeros)
    z = np.array([-0.0, -0.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.isnan(g.f_and_grad(z)[0]) and np.isnan(signed_zeros(z))
    # a list slice times an int is a repetition
    g = symgrad.grad(repeated, wrt=0)
    assert g.f_and_grad(1.0, [1.0, 2.0, 3.0, 4.0])[0] == 8.0
    # a gate without a cotangent gets no zeros times its inf derivative
    g = symgrad.grad(one_gate_unused)
    x = np.array([0.5, 1000.0])
    with np.errstate(over="ignore"):
        _, grad = g.f_and_grad(x)
    np.testing.assert_array_equal(grad, [np.exp(0.5), 0.0])


def first_chain_ends_last(g):
    g = np.asarray(g)  # a numpy value (a list slice is not fused)
    H = g.shape[0] // 2
    t = -g[:H]
    b = np.exp(-g[H : 2 * H])
    a = np.exp(t)  # the first chain ends after the second
    return np.sum(a + b)


def test_a_run_is_computed_where_its_last_statement_was():
    g = symgrad.grad(first_chain_ends_last)
    assert body(g).split("if seed is None")[0].count("np.exp(") == 1
    x = np.linspace(-1, 1, 6)
    assert g.f_and_grad(x)[0] == first_chain_ends_last(x)
    check_grad(g, x)


def repeated_by_a_numpy_int(x, lst):
    m = lst * (np.argmax(x) + 1)  # a list: `*` by a numpy int repeats it
    H = len(m) // 2
    a = m[:H] * 2
    b = m[H : 2 * H] * 2
    return x[0] * len(a) + x[1] * len(b)


def builtin_max(g):
    H = g.shape[0] // 2
    return np.sum(max(g[:H], 0.5) * max(g[H : 2 * H], 0.5))  # one number each


def mixed_list(x, g):
    H = len(g) // 2
    return x * np.sum(np.exp(g[:H])) + x * np.sum(np.exp(g[H : 2 * H]))


def test_what_the_reviewer_found_stays_apart():
    x = np.array([0.5, 0.1])
    g = symgrad.grad(repeated_by_a_numpy_int, wrt=0)
    assert g.f_and_grad(x, [1.0, 2.0])[0] == repeated_by_a_numpy_int(x, [1.0, 2.0])
    g = symgrad.grad(builtin_max)
    assert g.f_and_grad(np.array([0.3, 0.7]))[0] == builtin_max(np.array([0.3, 0.7]))
    # a list's union would take its dtype from every entry
    entries = [np.float32(0.3), 0.7]
    g = symgrad.grad(mixed_list, wrt=0)
    assert g.f_and_grad(1.0, entries)[0] == mixed_list(1.0, entries)
