"""Scalar functions for the Python-float fast path tests (`test_floats.py`)."""

import math

import numpy as np


def trig(x, a):
    return np.sin(x * a) * np.cos(x) + np.arctan(a / x)


def logs_and_roots(x, a):
    return np.log(x) * np.sqrt(a) + np.log1p(x * a) - np.exp(-x) / a


def powers(x, a):
    return x**2.5 + a ** (-1.5) * x**3 + 2.0**x


def loop_with_branch(x, a, n):
    for i in range(n):
        if x > 0.5:
            x = np.sin(x) * a + 0.1 * i
        else:
            x = x * x + math.exp(-a)
    return x


def uses_tanh(x):
    return np.tanh(x) * np.exp(x)


def divides(x, a):
    return np.exp(x) / (x - a)


def logs(x):
    return np.log(x) * 2.0


def uses_maximum(x):
    return np.maximum(x, 0.0) * np.sin(x)


def numpy_specials(x, y):
    return np.hypot(x, y) * 3.0 + np.power(x, 2) + np.sin(x)


def integer_semantics(x):
    return np.reciprocal(x) + np.sin(x) + np.square(x)


def complex_power(x):
    return x * 4.0 + 0.0 * np.cos(pow(x, 1.5))  # complex for x < 0 in Python


def polynomial(x):
    return x * x + 3 * x + 1


def recurrence(x, a, b):
    for _ in range(30):
        x = np.sin(x) * a + b
    return x


def recurrence_of_cos(x, a):
    for _ in range(10):
        x = np.cos(x) * a + x * 0.5
    return x


def explicit_divide(x, y):
    return np.divide(x, y) + x


def explicit_power(x, y):
    return np.power(x, y) * 1.0


def uses_arctan(x):
    return np.arctan(x)


def uses_arcsinh(x):
    return np.arcsinh(x)


def uses_arctan2(x):
    return np.arctan2(x, 1.0)


def inverse_cube(x):
    return 1.0 / x**3 + 2.0 / x


def arctan_times_array(x, w):
    # not elementwise: no float body, so numpy's body runs on the Python float
    return np.sum(np.arctan(x) * w)


def shadows_sin(x, a):
    """A variable named `sin`: the float body's local for math.sin is another."""
    sin = a
    for _ in range(5):
        x = np.sin(x) * sin + np.cos(x)
    return x


def recurrence_in_math(x, a, b):
    """The loop calls math.sin itself: the float body's local binding is used
    for it as for np.cos."""
    for _ in range(10):
        x = math.sin(x) * a + np.cos(x) * b
    return x


def _cube_root_helper(x, k):
    return x * (pow(k, 40) + 1 - pow(k, 40))  # the builtin pow, on ints


def calls_builtin_pow(x, k):
    """A loop's `x ** 1.5` is `math.pow` in the float body; the local bound to
    it must not be `pow`, which the inlined helper calls as the builtin."""
    acc = 0.0
    for _ in range(2):
        acc = acc + x**1.5
    return acc + _cube_root_helper(x, k)


def two_lines(x):
    y = x * x + 1
    return y * y * y + y


def shared_adjoint(x):
    y = x * x
    w = y + x
    return w * w + y


def negated(x):
    return -x


def scaled_with_aux(x):
    y = x * x
    return y * 3, y


def times_a_line(x):
    y = x + 1
    return x * y


def overflows_to_nan(x):
    y = x * 0.0
    z = y * 1e200
    return z * 1e200


def gelu(x):
    """math.erf and math.erfc (numpy has neither): the exact GELU."""
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))) + math.erfc(x) * 0.25


def erf_beside_a_root(x, y):
    """The derivative in y is erf(x) itself, printed anew where the square
    root's terms join it (it raised InternalError: adversarial tester)."""
    return math.erf(x) * y + math.hypot(x, y) + math.erfc(y) * math.sqrt(1 + x * x)
