"""Custom rules: your own derivative for a function, in the form you choose,
or for code symgrad cannot read.

``softplus`` calls ``np.logaddexp`` (which symgrad also differentiates
itself); ``@symgrad.rule(grad=softplus_grad)`` gives it a derivative of your
choosing, the logistic sigmoid written with tanh, which neither overflows
nor loses precision.
``ranks`` weights the residuals by their rank, a step function: it is
marked ``@symgrad.nondifferentiable``, so its result is a constant.
``solve`` wraps ``np.linalg.solve`` (which symgrad also differentiates)
with a reverse rule (``vjp``) and a forward rule (``jvp``) from the identity
d(A^-1 b) = A^-1 (db - dA A^-1 b): the pattern for a function of your own.
The emitted code calls these functions by name: read it with

    python -m symgrad emit examples/custom_rules.py
"""

import numpy as np

import symgrad


def softplus_grad(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@symgrad.rule(grad=softplus_grad)
def softplus(x):
    return np.logaddexp(0.0, x)


@symgrad.nondifferentiable
def ranks(r):
    return np.argsort(np.argsort(np.abs(r))) / len(r)


@symgrad.grad
def robust_loss(w, X, y):
    r = X @ w - y
    return np.mean(softplus(r * r - 1.0) * (1.0 + ranks(r)))


def solve_vjp(g, A, b):
    x = np.linalg.solve(A, b)
    gb = np.linalg.solve(A.T, g)
    return -np.outer(gb, x), gb


def solve_jvp(tangents, A, b):
    dA, db = tangents
    return np.linalg.solve(A, db - dA @ np.linalg.solve(A, b))


@symgrad.rule(vjp=solve_vjp, jvp=solve_jvp)
def solve(A, b):
    return np.linalg.solve(A, b)


@symgrad.grad(wrt=("A", "b"))
def solution_norm(A, b):
    x = solve(A, b)
    return np.sum(x * x)


@symgrad.jvp(wrt="b")
def solution_direction(A, b):
    return solve(A, b)


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(50)
    w = np.zeros(3)
    for _ in range(200):
        w -= 0.1 * robust_loss.grad(w, X, y)
    print(f"robust fit: w = {np.round(w, 3)}   loss = {robust_loss(w, X, y):.4f}")
    print(f"softplus(1000.0) = {softplus(1000.0)}  slope = {softplus_grad(1000.0)}")
    A = np.array([[3.0, 1.0], [0.5, 2.0]])
    b = np.array([1.0, -1.0])
    value, (dA, db) = solution_norm.f_and_grad(A, b)
    print(f"|A^-1 b|^2 = {value:.6f}   d/db = {np.round(db, 6)}")
    x, dx = solution_direction.f_and_jvp(A, b, tangents=np.array([1.0, 0.0]))
    print(f"A^-1 b = {np.round(x, 6)}   along b + t e0: {np.round(dx, 6)}")


if __name__ == "__main__":
    main()
