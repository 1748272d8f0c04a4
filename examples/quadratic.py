"""Derivatives of two polynomials, the way the PyTorch gradient tutorials begin.

``square`` is x**2: at x = 5 its value is 25 and its derivative 2 * x is 10.
``poly`` is x * x + 3 * x + 1: at x = 4 its value is 29 and its derivative
2 * x + 3 is 11.  Decorating a function with ``@symgrad.grad`` leaves it
callable as before and adds ``f_and_grad``, ``grad`` and ``source`` (the Python
module symgrad wrote for the derivative).

    python examples/quadratic.py                   # run it
    python -m symgrad emit examples/quadratic.py   # read the code symgrad writes
"""

import symgrad


@symgrad.grad
def square(x):
    return x**2


@symgrad.grad
def poly(x):
    return x * x + 3 * x + 1


def main() -> None:
    value, slope = square.f_and_grad(5.0)
    print(f"square(5) = {value}   d/dx = {slope}   (2 * x = 10)")
    value, slope = poly.f_and_grad(4.0)
    print(f"poly(4)   = {value}   d/dx = {slope}   (2 * x + 3 = 11)")


if __name__ == "__main__":
    main()
