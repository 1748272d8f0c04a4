"""Vector-valued functions for the Jacobian tests: forward and reverse mode
must agree on each, and match central differences.

Each `VectorCase` is a module-level function (symgrad reads its source), how to
draw its arguments, and `wrt`.  The table covers elementwise maps, matrix
products, reductions along an axis, indexing, concatenation, writes into a
buffer, branches and loops; outputs are vectors or matrices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class VectorCase:
    name: str
    fn: Callable[..., Any]
    make_args: Callable[[np.random.Generator], tuple[Any, ...]]
    wrt: Any = None


def elementwise(x):
    return np.sin(x) * np.exp(-x * x) + x**3


def affine(W, x, b):
    return W @ x + b


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def normalize(x):
    return x / np.sqrt(np.sum(x * x))


def cumulative(x):
    y = np.zeros(len(x))
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = y[i - 1] * 0.5 + x[i]
    return y


def row_norms(A):
    return np.sqrt(np.sum(A * A, axis=1))


def polar_to_cartesian(p):
    return np.array([p[0] * np.cos(p[1]), p[0] * np.sin(p[1])])


def spherical(p):
    r, theta, phi = p[0], p[1], p[2]
    return np.array(
        [
            r * np.sin(theta) * np.cos(phi),
            r * np.sin(theta) * np.sin(phi),
            r * np.cos(theta),
        ]
    )


def outer_flat(a, b):
    return np.ravel(np.outer(a, b))


def matrix_square(A):
    return A @ A


def tanh_layer(W, x):
    return np.tanh(W @ x)


def differences(x):
    return x[1:] - x[:-1]


def concatenated(x):
    return np.concatenate([x * 2.0, np.cos(x), x[:2] ** 2])


def stacked(x):
    return np.stack([x, x * x, np.sin(x)])


def logistic_map(r, x0):
    xs = []
    x = x0
    for _ in range(5):
        x = r * x * (1.0 - x)
        xs.append(x)
    return np.array(xs)


def clipped_relu(x):
    return np.where(x > 0.0, x, 0.1 * x)


def piecewise_branch(x):
    if np.sum(x) > 0.0:
        y = x * x
    else:
        y = -x
    return y + 1.0


def column_means(A):
    return np.mean(A, axis=0)


def cross_product(a, b):
    return np.array(
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    )


def rotation_2d(theta, v):
    c = np.cos(theta)
    s = np.sin(theta)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def quadratic_form_gradient(A, x):
    return (A + A.T) @ x


def running_max(x):
    m = x[0]
    out = [m]
    for i in range(1, len(x)):
        m = np.maximum(m, x[i])
        out.append(m * x[i])
    return np.array(out)


def reshaped(x):
    return np.reshape(x, (2, 3)).T * np.arange(1.0, 3.0)


def scaled_log(x, scale):
    return scale * np.log1p(x * x)


def _normal(shape):
    return lambda rng: (rng.standard_normal(shape),)


def _distinct(n):
    return lambda rng: (rng.permutation(np.arange(n) * 0.7 + rng.uniform(0, 0.1)),)


VECTOR_CASES = [
    VectorCase("elementwise", elementwise, _normal(5)),
    VectorCase(
        "affine",
        affine,
        lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal(4), np.ones(3)),
        ("W", "x"),
    ),
    VectorCase("softmax", softmax, _normal(6)),
    VectorCase("normalize", normalize, _normal(4)),
    VectorCase("cumulative", cumulative, _normal(5)),
    VectorCase("row_norms", row_norms, _normal((3, 4))),
    VectorCase(
        "polar_to_cartesian",
        polar_to_cartesian,
        lambda rng: (np.array([1.5, rng.uniform(0, 3)]),),
    ),
    VectorCase(
        "spherical",
        spherical,
        lambda rng: (np.array([2.0, rng.uniform(0.3, 2.8), rng.uniform(0, 6)]),),
    ),
    VectorCase(
        "outer_flat",
        outer_flat,
        lambda rng: (rng.standard_normal(3), rng.standard_normal(2)),
        ("a", "b"),
    ),
    VectorCase("matrix_square", matrix_square, _normal((3, 3))),
    VectorCase(
        "tanh_layer",
        tanh_layer,
        lambda rng: (rng.standard_normal((2, 5)), rng.standard_normal(5)),
        ("W", "x"),
    ),
    VectorCase("differences", differences, _normal(6)),
    VectorCase("concatenated", concatenated, _normal(4)),
    VectorCase("stacked", stacked, _normal(3)),
    VectorCase(
        "logistic_map",
        logistic_map,
        lambda rng: (rng.uniform(2.5, 3.5), rng.uniform(0.2, 0.8)),
        ("r", "x0"),
    ),
    VectorCase(
        "clipped_relu",
        clipped_relu,
        lambda rng: (rng.choice([-1.0, 1.0], 6) * rng.uniform(0.2, 2.0, 6),),
    ),
    VectorCase(
        "piecewise_branch",
        piecewise_branch,
        lambda rng: (np.abs(rng.standard_normal(4)) + 0.1,),
    ),
    VectorCase("column_means", column_means, _normal((4, 3))),
    VectorCase(
        "cross_product",
        cross_product,
        lambda rng: (rng.standard_normal(3), rng.standard_normal(3)),
        ("a", "b"),
    ),
    VectorCase(
        "rotation_2d",
        rotation_2d,
        lambda rng: (rng.uniform(0, 3), rng.standard_normal(2)),
        ("theta", "v"),
    ),
    VectorCase(
        "quadratic_form_gradient",
        quadratic_form_gradient,
        lambda rng: (rng.standard_normal((3, 3)), rng.standard_normal(3)),
        ("A", "x"),
    ),
    VectorCase("running_max", running_max, _distinct(5)),
    VectorCase("reshaped", reshaped, _normal(6)),
    VectorCase(
        "scaled_log",
        scaled_log,
        lambda rng: (rng.standard_normal(4), rng.uniform(0.5, 2.0)),
        ("x", "scale"),
    ),
]
