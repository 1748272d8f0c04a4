"""PyTorch's ``requires_grad`` and ``backward(gradient=...)``, done with symgrad.

The examples follow "Understanding Gradients in PyTorch Neural Networks":
a model w * x + b with w = 2, b = 1, x = 3 and a mean squared error loss.

(a) The default seed.  ``loss.backward()`` starts backpropagation from a seed of
    1.0; symgrad's ``f_and_grad`` does the same.  The tutorial prints a gradient
    of 2.0 for y_true = 7, but the prediction 2 * 3 + 1 is exactly 7, so the
    loss is 0 at its minimum and dL/dw is 0.0.  With y_true = 10 the gradient is
    dL/dw = 2 * (7 - 10) * 3 = -18.  ``backward(gradient=3)`` is ``seed=3.0``:
    every gradient is scaled by exactly 3.
(b) A weighted loss: the tutorial's ``mse(y_pred * weights, y_true)`` with
    weights [2, 1], and the usual per-sample weighting of squared errors.
(c) ``requires_grad`` is a property of a tensor in PyTorch; in symgrad it is the
    ``wrt`` of the differentiated function: w only, or w and b.
(d) A vector output needs an explicit seed, as ``y.backward(gradient=v)`` does
    for a non-scalar y.  For f(x) = x**2 the result is v * 2 * x, the
    vector-Jacobian product.

    python examples/seeds_and_wrt.py
"""

import numpy as np

import symgrad

W, B, X = 2.0, 1.0, 3.0


def model(x, w, b):
    return w * x + b


def mse(y_pred, y_true):
    return np.mean((y_pred - y_true) ** 2)


def mse_loss(w, b, x, y_true):
    return mse(model(x, w, b), y_true)


@symgrad.grad  # wrt = the first parameter: only w "requires grad"
def loss_w(w, b, x, y_true):
    return mse_loss(w, b, x, y_true)


@symgrad.grad(wrt=("w", "b"))  # both w and b "require grad"
def loss_wb(w, b, x, y_true):
    return mse_loss(w, b, x, y_true)


@symgrad.grad
def weighted_loss(w, b, x, y_true, weights):
    return mse(model(x, w, b) * weights, y_true)


@symgrad.grad
def sample_weighted_loss(w, b, x, y_true, weights):
    return np.mean(weights * (model(x, w, b) - y_true) ** 2)


@symgrad.grad
def squares(x):
    return x**2


def default_and_custom_seed() -> None:
    print("(a) Default seed 1.0, and seed=3.0 like loss.backward(gradient=3)")
    value, dw = loss_w.f_and_grad(W, B, X, 7.0)
    print(f"    y_true = 7:  loss = {value}, dL/dw = {dw}")
    print("                 (the tutorial prints 2.0, but the prediction equals")
    print("                 the target, so the loss is at its minimum: 0.0)")
    value, dw = loss_w.f_and_grad(W, B, X, 10.0)
    print(f"    y_true = 10: loss = {value}, dL/dw = {dw}   (2 * (7 - 10) * 3 = -18)")
    dw3 = loss_w.grad(W, B, X, 10.0, seed=3.0)
    print(f"    seed = 3.0:  dL/dw = {dw3}   (exactly 3 * {dw})")


def weighted_losses() -> None:
    print("\n(b) Weighted losses, weights = [2, 1]")
    weights = np.array([2.0, 1.0])
    value, dw = weighted_loss.f_and_grad(W, B, X, 7.0, weights)
    print("    mse(model(x) * weights, y_true) with x = 3, y_true = 7:")
    print(f"      loss = {value}, dL/dw = {dw}")
    print("      (predictions [14, 7] - 7 = [7, 0]: loss 49 / 2, dL/dw 2*7*2*3 / 2)")
    xs, targets = np.array([3.0, 4.0]), np.array([10.0, 10.0])
    value, dw = sample_weighted_loss.f_and_grad(W, B, xs, targets, weights)
    print("    mean(weights * (model(x) - y_true)**2) with x = [3, 4], y_true = 10:")
    print(f"      loss = {value}, dL/dw = {dw}")
    print("      (errors [-3, -1]: loss (2*9 + 1) / 2, dL/dw (2*2*-3*3 + 2*-1*4) / 2)")


def choosing_wrt() -> None:
    print("\n(c) wrt plays the part of requires_grad (y_true = 10)")
    dw = loss_w.grad(W, B, X, 10.0)
    print(f"    wrt = w:      dL/dw = {dw}")
    dw, db = loss_wb.grad(W, B, X, 10.0)
    print(f"    wrt = (w, b): dL/dw = {dw}, dL/db = {db}   (dL/db = 2 * (7 - 10))")


def vector_output_seed() -> None:
    print("\n(d) A vector output needs a seed, like y.backward(gradient=v)")
    x = np.array([1.0, 2.0, 3.0])
    v = np.array([1.0, 0.1, 0.01])
    print(f"    x = {x}, f(x) = x**2 = {squares(x)}")
    try:
        squares.grad(x)
    except symgrad.SymgradError as error:
        print(f"    without a seed, symgrad raises {type(error).__name__}:")
        print(f"      {error}")
    print(f"    seed v = {v}: gradient = {squares.grad(x, seed=v)}   (2 * x * v)")
    print(f"    seed = ones:  gradient = {squares.grad(x, seed=np.ones(3))}   (2 * x)")


def main() -> None:
    default_and_custom_seed()
    weighted_losses()
    choosing_wrt()
    vector_output_seed()


if __name__ == "__main__":
    main()
