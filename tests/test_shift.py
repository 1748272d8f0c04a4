"""The max subtracted in log-sum-exp and softmax is a constant to reverse mode
(`symgrad.shift`): no adjoint of the max where the returned value provably
does not depend on it, and the adjoint kept everywhere else.  Every function
here is also checked against central differences, so a wrong claim of
invariance would fail as a wrong gradient."""

from __future__ import annotations

import numpy as np
import pytest

import symgrad
from symgrad.check import check_grad

RNG = np.random.default_rng(11)


def body(g: symgrad.GradFunction) -> str:
    return g.source.split("# Support code")[0]


def cross_entropy(z, Y):
    s = z - np.max(z, axis=1, keepdims=True)
    logp = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * logp, axis=1))


def logsumexp_rows(a):
    m = np.max(a, axis=1, keepdims=True)
    return np.sum(m[:, 0] + np.log(np.sum(np.exp(a - m), axis=1)))


def logsumexp_all(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def softmax_weights(x, w):
    e = np.exp(x - np.max(x))
    return np.sum(w * (e / np.sum(e)))


def log_softmax_min(x):
    m = np.min(x, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(x - m), axis=1, keepdims=True)) + m)


def log_softmax_last(x):
    s = x - x.max(axis=-1, keepdims=True)
    return np.sum(s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True)))


INVARIANT = [
    (log_softmax_last, lambda: (RNG.normal(size=(2, 3, 4)),)),
    (
        cross_entropy,
        lambda: (RNG.normal(size=(6, 4)), np.eye(4)[RNG.integers(0, 4, 6)]),
    ),
    (logsumexp_rows, lambda: (RNG.normal(size=(5, 3)),)),
    (logsumexp_all, lambda: (RNG.normal(size=7),)),
    (softmax_weights, lambda: (RNG.normal(size=5), RNG.normal(size=5))),
    (log_softmax_min, lambda: (RNG.normal(size=(3, 4)),)),
]


@pytest.mark.parametrize("f, args", INVARIANT, ids=lambda v: getattr(v, "__name__", ""))
def test_a_max_the_value_does_not_depend_on_has_no_adjoint(f, args):
    g = symgrad.grad(f, wrt=(0,))
    assert "_extremum_grad" not in body(g)
    values = args()
    check_grad(g, *values)
    # ties in the max change nothing: its adjoint was zero anyway
    tied = np.round(values[0])
    tied.flat[:2] = tied.max()
    check_grad(g, tied, *values[1:])


def test_the_cross_entropy_gradient_is_softmax_minus_the_targets():
    z, Y = RNG.normal(size=(6, 4)), np.eye(4)[RNG.integers(0, 4, 6)]
    _, (dz,) = symgrad.grad(cross_entropy, wrt=(0,)).f_and_grad(z, Y)
    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    np.testing.assert_allclose(dz, (p - Y) / len(z), atol=1e-15)


def max_plus_sum(x):
    return np.sum(x - np.max(x))  # depends on the max: n * (-1) at the argmax


def exp_shift(x):
    return np.sum(np.exp(x - np.max(x, axis=1, keepdims=True)))


def scaled_shift(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(2 * (x - m)), axis=1, keepdims=True)) + m)


def wrong_axis(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(x - m), axis=0, keepdims=True)) + m)


def unsqueezed(x):
    # (n, 1) + (n,) broadcasts to (n, n): m no longer lines up with its sum
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(m + np.log(np.sum(np.exp(x - m), axis=1)))


def summed_everywhere(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.log(np.sum(np.exp(x - m))) + np.sum(m)


def not_kept(x):
    # without keepdims the row maxima line up with the columns (square x)
    m = np.max(x, axis=1)
    return np.sum(np.log(np.sum(np.exp(x - m), axis=1)) + m)


def other_max(x, y):
    m = np.max(x)
    return np.log(np.sum(np.exp(x - m))) + np.max(y)


def wider_weights(x, w):
    # w may have more axes than x, so the axis of the max may move
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(w * np.exp(x - m), axis=1, keepdims=True)) + m)


def in_a_branch(x):
    m = np.max(x)
    if m > 0:
        return np.log(np.sum(np.exp(x - m))) + m
    return np.log(np.sum(np.exp(x - m)))


def no_axes(x):
    m = np.max(x, axis=(), keepdims=True)  # x itself
    s = np.log(np.sum(np.exp(x - m), axis=(), keepdims=True)) + m
    return np.sum(s) + (x - m)[0] + m[0]


def mixed_spellings(x):
    # axis 1 and axis -1 are one axis of a 2-D x, but not taken for one
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)) + m)


def negative_index(x):
    m = np.max(x, axis=-1, keepdims=True)
    return np.sum(m[:, 0] + np.log(np.sum(np.exp(x - m), axis=-1)))


DEPENDENT = [
    (mixed_spellings, lambda: (RNG.normal(size=(3, 4)),)),
    (negative_index, lambda: (RNG.normal(size=(3, 4)),)),
    (no_axes, lambda: (RNG.normal(size=3),)),
    (max_plus_sum, lambda: (RNG.normal(size=6),)),
    (exp_shift, lambda: (RNG.normal(size=(3, 4)),)),
    (scaled_shift, lambda: (RNG.normal(size=(3, 4)),)),
    (wrong_axis, lambda: (RNG.normal(size=(3, 4)),)),
    (unsqueezed, lambda: (RNG.normal(size=(3, 4)),)),
    (summed_everywhere, lambda: (RNG.normal(size=(3, 4)),)),
    (not_kept, lambda: (RNG.normal(size=(4, 4)),)),
    (other_max, lambda: (RNG.normal(size=5), RNG.normal(size=3))),
    (
        wider_weights,
        lambda: (RNG.normal(size=(3, 4)), RNG.random(size=(2, 3, 4)) + 0.5),
    ),
    (in_a_branch, lambda: (RNG.normal(size=5) + 1,)),
]


@pytest.mark.parametrize("f, args", DEPENDENT, ids=lambda v: getattr(v, "__name__", ""))
def test_a_max_the_value_may_depend_on_keeps_its_adjoint(f, args):
    g = symgrad.grad(f, wrt=(0,))
    assert "_extremum_grad" in body(g)
    check_grad(g, *args())
