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


# --- data arrays read entry by entry (`floats.entry_arrays`) ----------------


def ar1(phi, sigma, y):
    """A time series read by entries: `y[t]` and `y[t - 1]`."""
    n = len(y)
    s = 0.0
    for t in range(1, n):
        e = y[t] - phi * y[t - 1]
        s = s + e * e
    return 0.5 * s / (sigma * sigma) + (n - 1) * np.log(sigma)


def logistic_map(rate, x0, obs):
    x = x0
    loss = 0.0
    for t in range(obs.shape[0]):
        x = rate * x * (1.0 - x)
        d = x - obs[t]
        loss = loss + d * d
    return loss


def kalman(q, r, y):
    m = 0.0
    p = 1e3
    nll = 0.0
    for t in range(len(y)):
        p = p + q
        s = p + r
        k = p / s
        v = y[t] - m
        nll = nll + 0.5 * (np.log(s) + v * v / s)
        m = m + k * v
        p = (1.0 - k) * p
    return nll


def wraps_around(a, y):
    """`y[t - 1]` at t = 0 is the last entry, as for numpy; `y[-2]` too."""
    s = y[-2] * a
    for t in range(len(y)):
        s = s + np.sin(a * y[t - 1]) * y[t]
    return s


def reads_past_the_end(a, y):
    s = 0.0
    for t in range(len(y) + 1):
        s = s + a * y[t]
    return s


def sums_the_data(a, y):
    """`np.sum(y)` needs the array: no entry reads alone."""
    s = 0.0
    for t in range(len(y)):
        s = s + np.sin(a * y[t])
    return s + np.sum(y)


def indexed_by_a_parameter(a, y, k):
    """`k` may be a float or a bool: `y[k]` is not provably one entry."""
    return np.sin(a * y[k])


def over_entries(a, y):
    """`for v in y` reads entries by a counter."""
    s = 0.0
    for v in y:
        s = s + np.cos(a * v)
    return s


def never_reads_y(x, y):
    """`y` is not read: it may be anything, a number too."""
    return np.sin(x) * x


def smoothed(alpha, y):
    """Exponential smoothing into an array the function makes: written and
    read by entries, and so is its cotangent."""
    n = len(y)
    level = np.zeros(n)
    level[0] = y[0]
    sse = 0.0
    for t in range(1, n):
        e = y[t] - level[t - 1]
        sse += e * e
        level[t] = level[t - 1] + alpha * e
    return sse


def ar1_of_both(phi, y):
    """The gradient with respect to the data too: its buffer is returned."""
    s = 0.0
    for t in range(1, len(y)):
        e = y[t] - phi * y[t - 1]
        s = s + e * e
    return s


def writes_rows(a, y):
    """`np.zeros((n, 2))` has rows: the float body's `_float_entries` refuses
    it (TypeError), and the numpy body runs."""
    n = len(y)
    rows = np.zeros((n, 2))
    s = 0.0
    for t in range(n):
        rows[t] = a * y[t]
        s = s + np.sum(rows[t] * rows[t])
    return s


def writes_its_argument(a, y):
    y[0] = a * y[1]
    s = 0.0
    for t in range(len(y)):
        s = s + np.sin(a * y[t])
    return s


def writes_ints_and_reads_them_back(a, y):
    """An int written into a float64 array is a float when read back: `1 /
    2` and `1 // 2`, or `2 ** 100` exact as an int, are numpy's here."""
    n = len(y)
    buf = np.zeros(n)
    buf[0] = 3
    for t in range(1, n):
        buf[t] = buf[t - 1] * a + y[t]
    return buf[n - 1] ** 3 // 1 + buf[1]


def garch(params, r):
    """GARCH(1, 1): the parameters unpacked from an array, the returns read
    by entries (the first variance given, not `np.var(r)`)."""
    omega, alpha, beta = params[0], params[1], params[2]
    h = 0.1
    nll = 0.0
    for t in range(1, len(r)):
        h = omega + alpha * r[t - 1] ** 2 + beta * h
        nll += 0.5 * (np.log(h) + r[t] ** 2 / h)
    return nll


def builtin_pow_of_an_entry(a, y):
    """Python's pow makes a complex number of a negative float where numpy's
    float64 (an entry of y) gives nan."""
    return a * pow(y[0] - 1.0, 0.5)


def returns_an_entry(a, y):
    return a + y[0]


def _softmin3(a, b, c, gamma):
    m = min(a, b, c)
    s = np.exp(-(a - m) / gamma) + np.exp(-(b - m) / gamma) + np.exp(-(c - m) / gamma)
    return m - gamma * np.log(s)


def soft_dtw(x, y, gamma):
    """A table of two axes filled cell by cell (`np.full`, `R[i, j]`)."""
    n = len(x)
    m = len(y)
    R = np.full((n + 1, m + 1), np.inf)
    R[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d = (x[i - 1] - y[j - 1]) ** 2
            R[i, j] = d + _softmin3(R[i - 1, j - 1], R[i - 1, j], R[i, j - 1], gamma)
    return R[n, m]


def rows_and_entries(a, y):
    """`y[t]` is a row of a 2-D y and `y[t, 0]` an entry: two numbers of axes,
    so no memoryview (a row of one would raise NotImplementedError)."""
    s = 0.0
    for t in range(len(y)):
        s = s + a * y[t, 0] + np.sum(y[t])
    return s


def clipped(a, y):
    s = 0.0
    for t in range(len(y)):
        s = s + np.minimum(a * y[t], 1.0) - np.maximum(a * y[t], -1.0)
    return s


def maximum_with_an_int(x):
    """np.maximum(1.0, 2**53 + 1) is the float 2**53: + 1 rounds back to it
    (Python's ints would give 2**53 + 2)."""
    return np.maximum(x, 2**53 + 1) + 1


def hmm(p_stay, mu, obs):
    """A two-state HMM's forward recursion in logs (np.logaddexp of floats)."""
    lp_s = np.log(p_stay)
    lp_m = np.log(1.0 - p_stay)
    a0 = -0.5 * (obs[0] - mu[0]) ** 2
    a1 = -0.5 * (obs[0] - mu[1]) ** 2
    for t in range(1, len(obs)):
        e0 = -0.5 * (obs[t] - mu[0]) ** 2
        e1 = -0.5 * (obs[t] - mu[1]) ** 2
        n0 = np.logaddexp(a0 + lp_s, a1 + lp_m) + e0
        n1 = np.logaddexp(a0 + lp_m, a1 + lp_s) + e1
        a0 = n0
        a1 = n1
    return np.logaddexp(a0, a1)


def with_missing_data(q, y):
    """Entries that are nan are skipped (np.isnan of floats: math.isnan)."""
    m = 0.0
    s = 0.0
    for t in range(len(y)):
        if np.isnan(y[t]) or not np.isfinite(y[t]):
            continue
        v = y[t] - m
        s = s + v * v
        m = m + q * v
    return s


def with_missing_data_math(q, y):
    """As `with_missing_data`, with math's tests and np.isinf: an infinite
    entry is skipped too, and so is an entry equal to the last one kept, to
    math.isclose's tolerance."""
    m = 0.0
    s = 0.0
    last = math.inf
    for t in range(len(y)):
        if (
            not math.isfinite(y[t])
            or np.isinf(y[t])
            or math.isnan(y[t])
            or math.isinf(-y[t])
            or math.isclose(y[t], last, rel_tol=1e-6)
        ):
            continue
        v = y[t] - m
        s = s + v * v
        m = m + q * v
        last = y[t]
    return s


def power_of_ints(x, n):
    """`3 ** n` of Python ints is exact (math.pow's float is not, past 2**53)."""
    return x * (pow(3, n) % 7) + x * (3 ** (n + 1) % 5)


def fit_on_lists(w, b, xs, ts):
    """A regression on Python lists of numbers (zip: entries by a counter)."""
    loss = 0.0
    for x, t in zip(xs, ts):  # noqa: B905 (as most write it)
        p = w * x + b
        loss = loss + (p - t) ** 2
    return loss / len(xs)


def huber_like(a, y):
    """abs differentiates to np.sign: `_sign` of floats in the float body."""
    s = 0.0
    for t in range(len(y)):
        r = y[t] - a
        s = s + abs(r) + 0.1 * abs(r) * r
    return s


def holt(alpha, y):
    """Holt's linear trend: two lists grown by `append`, read at [-1]."""
    level = [y[0]]
    trend = [y[1] - y[0]]
    sse = 0.0
    for t in range(1, len(y)):
        f = level[-1] + trend[-1]
        e = y[t] - f
        sse = sse + e * e
        trend.append(trend[-1] + alpha * 0.3 * e)
        level.append(f + alpha * e)
    return sse


def running_mean_from_empty(a, y):
    """A list from `[]`, read at t - 1, iterated at the end."""
    means = []
    for t in range(len(y)):
        previous = means[t - 1] if t else 0.0
        means.append(previous + (a * y[t] - previous) / (t + 1))
    total = means[0] * means[-1]
    for m in means:
        total = total + np.sin(m) * a
    return total


def window_of_a_list(a, y):
    """A slice of a list read by entries (its adjoint adds a slice)."""
    means = [y[0]]
    for t in range(1, len(y)):
        means.append(means[-1] * a + y[t])
    window = means[-3:]
    return window[0] * window[2]


def sets_a_list_entry(a, y):
    """A list entry assigned (a list holds anything written into it)."""
    xs = [a, a * 2.0]
    for t in range(len(y)):
        xs[t % 2] = xs[t % 2] * a + y[t]
    return xs[0] * xs[1]


def appends_rows(a, y):
    """A list of arrays, each row the sum of the last and an entry."""
    rows = [np.zeros(2)]
    for t in range(len(y)):
        rows.append(rows[-1] * a + y[t])
    return np.sum(rows[-1]) + rows[-2][0]


def reads_slices(a, y):
    """Slices of a parameter (memoryview slices in the float body)."""
    rest, back = y[1:], y[::-1]
    s = 0.0
    for t in range(len(rest)):
        s = s + a * rest[t] * back[t]
    return s


def slices_a_table(a, y):
    """A slice of a 2-D table (a memoryview slices one axis only)."""
    R = np.zeros((3, len(y)))
    for t in range(len(y)):
        R[t % 3, t] = a * y[t]
    S = R[1:]
    return S[0, 1] * S[1, 2] + R[0, 0]


def absolute_squares(a, y):
    """np.abs, np.square and np.reciprocal in a loop over entries."""
    total = 0.0
    for t in range(len(y)):
        r = y[t] - a * t * 0.1
        total = total + np.abs(r) + np.square(a * r) * np.reciprocal(1.0 + a * a)
    return total


def appends_in_a_branch(a, y):
    """A list appended to in one arm of a branch (the reverse sweep pops
    tuples of two lengths from one stack)."""
    highs = [y[0]]
    for t in range(1, len(y)):
        if y[t] > highs[-1] * 0.9:
            highs.append(a * y[t] + (1 - a) * highs[-1])
    return highs[-1] * len(highs)


def adds_comparisons(x, a):
    """Arithmetic on comparisons: numpy's bools (np.sin gives np.float64) add
    as a logical or, Python's as ints."""
    b = np.sin(x) > 0.0
    c = b + b
    return c * x * a


def counts_comparisons(a, y):
    """A count of comparisons started from a comparison (bool + bool)."""
    count = y[0] > 0.0
    for t in range(1, len(y)):
        count = count + (y[t] > 0.0)
    return count * a


def masks_by_a_comparison(a, y):
    """A comparison times a number (the same in both): the float body."""
    total = 0.0
    for t in range(len(y)):
        total = total + (y[t] > 0.0) * a * y[t]
    return total


def adds_listed_comparisons(a, y):
    """Comparisons kept in a list and added (never numbers of the float body)."""
    flags = [np.sin(y[0]) > 0.0]
    for t in range(1, len(y)):
        flags.append(np.sin(y[t]) > 0.0)
    c = flags[0]
    for f in flags:
        c = c + f
    return c * a


def adds_a_comparison_through_min(a, x):
    """`min` returns its bool argument itself."""
    b = min(np.sin(x) > 0.0, 2)
    c = np.cos(x) > 0.0
    return (b + c) * a


def subtracts_true(a, x):
    """numpy refuses to subtract bools (TypeError), Python does not."""
    b = np.sin(x) > 0.0
    return (b - True) * a + a


def measures_a_list_argument(a, y):
    """np.shape of a list argument (passed to the float body as it is)."""
    n = np.shape(y)[0]
    s = 0.0
    for t in range(n):
        s = s + a * y[t]
    return s


def holt_textbook(alpha, beta, y):
    """Holt's method as textbooks write it: the reverse loop reads y[t], so it
    pops its saved values (`e, pred = saved.pop()`) rather than walking them."""
    level = [y[0]]
    trend = [y[1] - y[0]]
    sse = 0.0
    for t in range(1, len(y)):
        pred = level[-1] + trend[-1]
        e = y[t] - pred
        sse = sse + e * e
        level.append(alpha * y[t] + (1 - alpha) * pred)
        trend.append(beta * (level[-1] - level[-2]) + (1 - beta) * trend[-1])
    return sse


def appends_in_both_arms(a, y):
    """A list appended to in both arms of a branch: the reverse sweep pops
    one saved number per arm and the branch's condition, a bool, from one
    stack (an operator on either is a number)."""
    xs = [y[0]]
    for t in range(1, len(y)):
        if y[t] > 0:
            xs.append(xs[-1] * a + y[t])
        else:
            xs.append(xs[-1] - a * y[t])
    return xs[-1] * a
