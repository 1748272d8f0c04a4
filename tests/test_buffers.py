"""Products written into dead temporaries (`symgrad/buffers.py`).

The emitted `_mul_into(t, a, b)` writes `a * b` into `t` only for large
float arrays, which the function tables do not use.  So these tests also run
every table function, gradient and Hessian, with a `_mul_into` that writes
into every buffer it is given, and check that it was given only buffers of
the product's shape that nothing reads again: the numbers must be the same
to the last bit.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from flow_functions import FLOW_CASES
from functions import CASES
from test_functions import draw, seed_kwargs
from test_transforms import _hessian_cases

import symgrad
from symgrad.runtime import _mul_into

ALL_CASES = CASES + FLOW_CASES


def gmm(mu, log_s, x):
    diff = (x[:, None, :] - mu[None, :, :]) * np.exp(-log_s)[None, :, :]
    logp = -0.5 * np.sum(diff**4, axis=2) - np.sum(log_s, axis=1)
    m = np.max(logp, axis=1, keepdims=True)
    return np.sum(m[:, 0] + np.log(np.sum(np.exp(logp - m), axis=1)))


def gmm_args(n: int) -> tuple:
    rng = np.random.default_rng(0)
    return (
        rng.normal(size=(25, 10)),
        rng.normal(size=(25, 10)) * 0.1,
        rng.normal(size=(n, 10)),
    )


def test_a_dead_temporary_takes_the_product_of_its_shape():
    g = symgrad.grad(gmm, wrt=("mu", "log_s"))
    # diff**4 is dead once summed: the cotangent of diff, of its shape, goes
    # there (diff itself is read again: log_s's partial is -diff; diff**2
    # would be summed in one pass, with no temporary: _sum_squares)
    assert "t2 = diff**4" in g.source
    assert (
        "diff_bar = _mul_into(t2, 4.0 * _keepdims(t3_bar, t2, axis=2), "
        "diff * diff * diff)" in g.source
    )


def always_into(buffer, a, b):
    """`_mul_into` for any size and dtype, checking the compiler's proof."""
    shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    assert np.shape(buffer) == shape, "the product's shape is not the buffer's"
    if isinstance(buffer, np.ndarray) and buffer.dtype == np.result_type(a, b):
        always_into.writes += 1
        return np.multiply(a, b, out=buffer)
    return a * b


always_into.writes = 0


def run_with(module, helper, name, *args, **kwargs):
    """`module.name(*args)` with `_mul_into` replaced by `helper`."""
    saved = module.__dict__.get("_mul_into")
    if saved is not None:
        module._mul_into = helper
    try:
        return getattr(module, name)(*args, **kwargs)
    finally:
        if saved is not None:
            module._mul_into = saved


def assert_same(a, b, label):
    if isinstance(a, tuple):
        for x, y in zip(a, b, strict=True):
            assert_same(x, y, label)
    else:
        assert type(a) is type(b), label
        np.testing.assert_array_equal(a, b, err_msg=label)


def test_the_table_is_bit_identical_with_every_buffer_written():
    """Gradients of every table function, with each buffer written into."""
    always_into.writes = used = 0
    for case in ALL_CASES:
        g = symgrad.grad(case.fn, wrt=case.wrt) if case.wrt else symgrad.grad(case.fn)
        if "_mul_into(" not in g.source:
            continue
        used += 1
        for seed in (0, 1):
            args, kwargs = draw(case, seed), seed_kwargs(case)
            want = g.module.f_and_grad(*draw(case, seed), **kwargs)
            got = run_with(g.module, always_into, "f_and_grad", *args, **kwargs)
            assert_same(got, want, case.name)
    assert used >= 8 and always_into.writes >= 8


def test_hessians_are_bit_identical_with_every_buffer_written():
    """Hessian-vector products, whose forward mode writes products into its
    own dead temporaries (and reads `_mul_into` in the gradient as `a * b`)."""
    always_into.writes = used = 0
    for case in _hessian_cases():
        H = symgrad.hessian(case.fn, wrt=case.wrt)
        if "_mul_into(" not in inspect.getsource(H.module.grad_and_hvp):
            continue
        used += 1
        args = draw(case, 0)
        v = np.random.default_rng(1).normal(size=np.shape(args[H.wrt_indices[0]]))
        want = H.module.grad_and_hvp(*draw(case, 0), tangents=v)
        got = run_with(H.module, always_into, "grad_and_hvp", *args, tangents=v)
        assert_same(got, want, case.name)
    assert used >= 4 and always_into.writes >= 3


def product_of_a_product(x, m):
    q = x * 1.0
    r = m * 0.5
    r = r * 0.5 + np.sin(q)
    r = r / (2.5 + np.cos(q))
    return np.sum(q * q) + np.sum(r * m)


def test_a_product_written_into_a_buffer_is_freed_once():
    """A product that was itself a dead temporary's candidate was freed
    twice, so two later products took its memory while the first was still
    read: the Hessian-vector product of this function was wrong for arrays
    of 128 KB and more (here every buffer is written, at any size)."""
    x = np.linspace(-1.0, 1.0, 7)
    m = np.cos(np.arange(14.0)).reshape(2, 7)
    v = np.sin(np.arange(7.0))
    H = symgrad.hessian(product_of_a_product, wrt="x")
    assert "_mul_into(" in inspect.getsource(H.module.grad_and_hvp)
    want = H.module.grad_and_hvp(x, m, tangents=v)
    got = run_with(H.module, always_into, "grad_and_hvp", x, m, tangents=v)
    assert_same(got, want, "grad_and_hvp")
    g = symgrad.grad(product_of_a_product, wrt="x")
    want = g.module.f_and_grad(x, m)
    assert_same(run_with(g.module, always_into, "f_and_grad", x, m), want, "grad")


def test_a_large_gradient_is_the_same_and_written_in_place():
    g = symgrad.grad(gmm, wrt=("mu", "log_s"))
    args = gmm_args(1000)
    calls = []

    def counting(buffer, a, b):
        out = _mul_into(buffer, a, b)
        calls.append(out is buffer)
        return out

    got = run_with(g.module, counting, "f_and_grad", *args)
    want = run_with(g.module, lambda buffer, a, b: a * b, "f_and_grad", *args)
    assert_same(got, want, "gmm")
    assert calls and all(calls[:1])  # the (1000, 25, 10) cotangent of diff


@pytest.mark.parametrize(
    "buffer, a, b, into",
    [
        (np.zeros((200, 100)), 2.0, np.ones((200, 100)), True),
        (np.zeros((200, 100)), np.ones((200, 1)), np.ones((200, 100)), True),
        (np.zeros((10, 10)), 2.0, np.ones((10, 10)), False),  # small: malloc's
        (np.zeros((400, 100), np.float32), 2.0, np.ones((400, 100), np.float32), True),
        # a float64 product does not fit a float32 buffer
        (np.zeros((200, 100), np.float32), np.ones((200, 100)), 2.0, False),
        (np.zeros((200, 100), int), 2, np.ones((200, 100), int), False),
        (np.zeros((200, 100)), np.ma.ones((200, 100)), 2.0, False),  # a subclass
        (2.0, 3.0, 4.0, False),
    ],
)
def test_mul_into_writes_only_into_a_large_float_array_of_the_products_dtype(
    buffer, a, b, into
):
    out = _mul_into(buffer, a, b)
    assert (out is buffer) == into
    expected = a * b
    assert type(out) is type(expected) and np.shape(out) == np.shape(expected)
    assert np.result_type(out) == np.result_type(expected)
    np.testing.assert_array_equal(out, expected)
