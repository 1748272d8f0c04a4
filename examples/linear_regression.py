"""Fit a line by gradient descent, with the gradients written by symgrad.

This follows the "End-to-End SGD Example" of a PyTorch gradient tutorial: the
points lie on y = -5 * x plus a little noise, the model is w * x + b, the loss is
the mean squared error, and gradient descent starts from w = -10, b = -20.

The noise is drawn from ``np.random.default_rng(0)``, so every number printed
here is the same on every run (the tutorial's noise is unseeded).  The line that
fits these points best is w = -4.994, b = 0.033 (least squares, computed at the
end for comparison); gradient descent with step 0.1 gets there in about 60 steps.

The tutorial prints a first loss of 346.03 and gradients (53.95, -32.48).  Those
cannot come from w = -10, b = -20 on these points, whatever the noise: there the
loss is about 600, dL/dw about -81 and dL/db about -40.  They were probably
printed after some training steps.  The numbers below are checked
against finite differences.

    python examples/linear_regression.py
"""

import numpy as np

import symgrad

NOISE_SEED = 0
W0, B0 = -10.0, -20.0
STEP_SIZE = 0.1
STEPS = 60


def make_data(seed: int = NOISE_SEED) -> tuple[np.ndarray, np.ndarray]:
    """100 points x in [-5, 5) and y = -5 * x + 0.4 * N(0, 1) noise."""
    X = np.arange(-5, 5, 0.1)
    rng = np.random.default_rng(seed)
    Y = -5 * X + 0.4 * rng.standard_normal(X.shape)
    return X, Y


def forward(x, w, b):
    return w * x + b


def mse(preds, targets):
    return np.mean((preds - targets) ** 2)


@symgrad.grad(wrt=("w", "b"))
def loss(w, b, X, Y):
    return mse(forward(X, w, b), Y)


def central_difference(f, args: list, i: int, h: float = 1e-6) -> float:
    """(f(.., a + h, ..) - f(.., a - h, ..)) / 2h for the i-th argument."""
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def least_squares(X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    """The (w, b) that minimise the loss, solved directly."""
    A = np.stack([X, np.ones_like(X)], axis=1)
    (w, b), *_ = np.linalg.lstsq(A, Y, rcond=None)
    return float(w), float(b)


def fit(
    w: float,
    b: float,
    X: np.ndarray,
    Y: np.ndarray,
    steps: int = STEPS,
    step_size: float = STEP_SIZE,
    report_every: int = 0,
) -> tuple[float, float, list[float]]:
    """Gradient descent on ``loss``; returns the final w, b and the loss history."""
    history = []
    for step in range(1, steps + 1):
        value, (dw, db) = loss.f_and_grad(w, b, X, Y)
        history.append(float(value))
        w = w - step_size * dw
        b = b - step_size * db
        if report_every and step % report_every == 0:
            print(f"  step {step:3d}: loss {value:10.6f} -> w = {w:8.5f}, b = {b:8.5f}")
    return w, b, history


def main() -> None:
    X, Y = make_data()
    w, b = W0, B0

    value, (dw, db) = loss.f_and_grad(w, b, X, Y)
    print(f"Initial parameters: w = {w}, b = {b}")
    print(f"Initial loss:       {value:.4f}")
    print(f"Gradients (symgrad):            dL/dw = {dw:.6f}, dL/db = {db:.6f}")
    fd_w = central_difference(loss, [w, b, X, Y], 0)
    fd_b = central_difference(loss, [w, b, X, Y], 1)
    print(f"Gradients (finite differences): dL/dw = {fd_w:.6f}, dL/db = {fd_b:.6f}")
    symgrad.check_grad(loss, w, b, X, Y)  # raises AssertionError on a mismatch
    print("symgrad.check_grad: gradients match central finite differences")

    print(f"\nGradient descent, step size {STEP_SIZE}, {STEPS} steps:")
    w, b, history = fit(w, b, X, Y, report_every=5)
    best_w, best_b = least_squares(X, Y)
    print(f"\nFinal:         w = {w:.5f}, b = {b:.5f}, loss = {loss(w, b, X, Y):.6f}")
    print(f"Least squares: w = {best_w:.5f}, b = {best_b:.5f}")
    print("(true line: w = -5, b = 0; the noise moves the best fit slightly)")


if __name__ == "__main__":
    main()
