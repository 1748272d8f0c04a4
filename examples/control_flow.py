"""Gradients through loops, branches and arrays filled in place.

``recurrence`` runs ``x = sin(x) * a + b`` for ``steps`` steps: symgrad runs
the loop backwards in the reverse sweep, saving one value per step.
``huber`` branches on the data: the derivative follows the branch taken.
``smooth`` fills a buffer element by element (``y[i] = ...``) and
``y[0] += x[1]``-style updates, which symgrad turns into in-place writes in
the forward sweep and in-place zeroing in the reverse sweep.

    python examples/control_flow.py                   # run it
    python -m symgrad emit examples/control_flow.py   # read the code symgrad writes
"""

import numpy as np

import symgrad


@symgrad.grad(wrt=("a", "b"))
def recurrence(x, a, b, steps):
    for _ in range(steps):
        x = np.sin(x) * a + b
    return x


@symgrad.grad
def huber(r, delta):
    if abs(r) <= delta:
        loss = 0.5 * r * r
    else:
        loss = delta * (abs(r) - 0.5 * delta)
    return loss


@symgrad.grad
def smooth(x):
    y = np.zeros(len(x))
    y[0] += x[1]
    for i in range(1, len(x)):
        y[i] = 0.5 * y[i - 1] + x[i] ** 2
    return np.sum(y)


def main() -> None:
    value, (da, db) = recurrence.f_and_grad(0.5, 0.9, 0.1, 100)
    print(f"recurrence: x_100 = {value:.6f}   d/da = {da:.6f}   d/db = {db:.6f}")
    for r in (0.5, 3.0):
        value, slope = huber.f_and_grad(r, 1.0)
        print(f"huber({r}) = {value}   d/dr = {slope}   (r inside, delta outside)")
    x = np.array([1.0, 2.0, 3.0, 4.0])
    value, grad = smooth.f_and_grad(x)
    print(f"smooth([1, 2, 3, 4]) = {value}   gradient = {grad}")
    symgrad.check_grad(recurrence, 0.5, 0.9, 0.1, 100)
    symgrad.check_grad(smooth, x)
    print("gradients match central finite differences")


if __name__ == "__main__":
    main()
