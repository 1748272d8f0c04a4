"""The control-flow half of the shared table: branches, loops, exits, calls.

Each entry of `FLOW_CASES` is a `functions.Case`; `test_functions` runs them
exactly like the straight-line table (value, types and shapes, finite
differences at three random points, caller's arrays unchanged).  Arguments are
drawn so that no branch condition sits within finite-difference reach of its
threshold.
"""

from __future__ import annotations

import numpy as np
from functions import Case, avoiding, normal, uniform

# --------------------------------------------------------------------------
# Branches
# --------------------------------------------------------------------------


def if_else(x):
    if x > 0:
        y = x * x
    else:
        y = -x * 3.0
    return y * 2


def if_elif_else(x, a):
    if x > 1.0:
        y = np.sin(x) * a
    elif x > -1.0:
        y = x * a * a
    else:
        y = np.exp(x)
    return y + a


def if_without_else(x, a):
    y = x * a
    if np.sum(y) > 0:
        y = y * 2.0
    return np.sum(y * y)


def branch_on_computed_norm(v):
    n = np.sqrt(np.sum(v * v))
    if n > 1.0:
        v = v / n
    return np.sum(v * np.arange(3.0))


def conditional_expression(x):
    y = x * 2.0 if x > 0.5 else x**3
    return y * x


def and_or_values(x, y):
    big = x > 0 and y > 0
    z = x * y if big else x + y
    w = (x > 1 or y > 1) and 2.0
    return z * (w or 1.0)


def not_condition(x):
    if not x > 0:
        return x * x
    return np.log(1.0 + x)


def return_in_branch(x):
    if x > 1:
        return x * 3.0
    y = x + 1.0
    return y * y


def return_in_both_branches(x, w):
    s = np.dot(w, x)
    if s > 0:
        return np.tanh(s)
    else:
        return s * 0.1


def nested_branches(x, y):
    if x > 0:
        if y > 0:
            z = x * y
        else:
            z = x - y
    else:
        z = x + y * y
    return z * z


def _clip_helper(v, lo):
    if v < lo:
        return lo + 0.0 * v
    return v


def helper_with_branch(x):
    return _clip_helper(x * 2.0, 0.5) * x


def branch_on_array_entry(x):
    y = x * 1.0
    if x[0] > x[1]:
        y = y * x[0]
    return np.sum(y)


# --------------------------------------------------------------------------
# Loops
# --------------------------------------------------------------------------


def for_range_const(x, a, b):
    for i in range(5):
        x = np.sin(x) * a + b
    return np.sum(x)


def for_range_data_bound(x, n):
    s = 0.0
    for i in range(n):
        s = s + x ** (i + 1) / (i + 1)
    return s


def for_range_start_step(x):
    s = x
    for k in range(2, 11, 3):
        s = s * np.cos(x * k) + k
    return np.sum(s)


def for_range_negative_step(x):
    acc = 1.0
    for k in range(4, 0, -1):
        acc = acc * x + k
    return acc


def for_over_rows(X, w):
    s = 0.0
    for row in X:
        s = s + np.tanh(np.dot(row, w))
    return s


def for_zip(X, w):
    s = 0.0
    for row, t in zip(X, w):
        s = s + np.sum(row * t)
    return s


def for_enumerate(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s + v * v * (i + 1)
    return s


def for_enumerate_from(x, k):
    """enumerate's start, by position and by keyword; zip with strict=."""
    s = 0.0
    for i, v in enumerate(x, 10):
        s = s + v * i
    for i, (a, b) in enumerate(zip(x, x[::-1], strict=True), start=k):
        s = s + a * b * i
    for a, b in zip(x, x[1:], strict=False):
        s = s + a * b
    return s


def for_over_len(x):
    s = 0.0
    for i in range(len(x)):
        s = s + x[i] * x[len(x) - 1 - i]
    return s


def loop_with_index_in_body(x):
    y = x * 0.0
    for i in range(3):
        y = y + x**i
    return np.sum(y)


def two_carried_values(a, b):
    for i in range(3):
        a, b = b, a * b
    return a + 2 * b


def loop_invariant_reads(x, W):
    h = x
    for k in range(4):
        h = np.tanh(W @ h) + x
    return np.sum(h)


def nested_loops(x, W):
    h = x
    for k in range(3):
        for j in range(2):
            h = np.tanh(W @ h) + h * 0.5
    return np.sum(h**2)


def nested_loops_data_inner(x, n):
    s = 0.0
    for i in range(n):
        for j in range(i):
            s = s + x * (j + 1)
    return s * x


def shape_changing_carry(x):
    s = 0.0
    for k in range(3):
        s = s + x * k
    return np.sum(s * s)


def loop_zero_trips(x, n):
    y = x * 2.0
    for i in range(n):
        y = y * y
    return np.sum(y)


def while_doubling(x):
    k = 0
    while x < 100:
        x = x * 2
        k = k + 1
    return x * k


def while_newton_sqrt(a):
    x = a
    for _ in range(2):
        x = 0.5 * (x + a / x)
    while np.abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def while_with_counter(x, n):
    i = 0
    s = x
    while i < n:
        s = np.sin(s) + x
        i = i + 1
    return np.sum(s)


# --------------------------------------------------------------------------
# Exits
# --------------------------------------------------------------------------


def break_on_threshold(x, n):
    s = 0.0
    for i in range(n):
        if s > 10:
            break
        s = s + x * i
    return s


def while_true_break(x):
    y = x
    while True:
        y = y * 1.5
        if y > 4.0:
            break
    return y * x


def continue_skips(x):
    s = 0.0
    for i in range(5):
        if i == 2:
            continue
        s = s + x**i
    return s


def continue_on_data(x):
    s = 0.0
    for v in x:
        if v < 0:
            continue
        s = s + v * v
    return s


def return_from_loop(x):
    for i in range(10):
        x = x * 1.5
        if x > 5:
            return x * i
    return -x


def return_from_nested_loop(x):
    for i in range(4):
        for j in range(4):
            x = x + 0.3 * x * (i - j)
            if x > 3.0:
                return x * x
    return x


def break_inner_loop_only(x):
    s = 0.0
    for i in range(3):
        t = x
        for j in range(10):
            t = t * 1.2
            if t > 2.0:
                break
        s = s + t
    return s


# --------------------------------------------------------------------------
# Calls and tuples inside loops
# --------------------------------------------------------------------------


def _cell(h, c, x, W, U):
    z = W @ x + U @ h
    c = c * 0.5 + np.tanh(z)
    h = np.tanh(c) * 0.9
    return h, c


def helper_tuple_in_loop(X, W, U):
    h = np.zeros(W.shape[0])
    c = np.zeros(W.shape[0])
    for x in X:
        h, c = _cell(h, c, x, W, U)
    return np.sum(h * h) + np.sum(c)


def _softplus(v):
    return np.log1p(np.exp(v))


def helper_in_loop(x, n):
    s = x
    for i in range(n):
        s = _softplus(s) - 0.5
    return np.sum(s)


# --------------------------------------------------------------------------
# Larger programs
# --------------------------------------------------------------------------


def _cross(k, X):
    """k x X for one vector k and rows X."""
    a = k[1] * X[:, 2] - k[2] * X[:, 1]
    b = k[2] * X[:, 0] - k[0] * X[:, 2]
    c = k[0] * X[:, 1] - k[1] * X[:, 0]
    return np.stack([a, b, c], axis=1)


def rodrigues_reproject(r, X, f):
    """Rotate points by the axis-angle vector r (Rodrigues) and project them;
    small angles take the first-order branch, as bundle adjusters do."""
    theta2 = np.dot(r, r)
    if theta2 > 1e-8:
        theta = np.sqrt(theta2)
        k = r / theta
        c = np.cos(theta)
        s = np.sin(theta)
        kx = k * (X @ k)[:, None]
        Xr = X * c + _cross(k, X) * s + kx * (1.0 - c)
    else:
        Xr = X + _cross(r, X)
    z = Xr[:, 2] + 4.0
    u = f * Xr[:, 0] / z
    v = f * Xr[:, 1] / z
    return np.sum(u * u + v * v)


def lstm_recurrence(X, Wx, Wh, b):
    H = Wh.shape[1]
    h = np.zeros(H)
    c = np.zeros(H)
    for x in X:
        g = Wx @ x + Wh @ h + b
        i = 1.0 / (1.0 + np.exp(-g[:H]))
        f = 1.0 / (1.0 + np.exp(-g[H : 2 * H]))
        o = 1.0 / (1.0 + np.exp(-g[2 * H : 3 * H]))
        u = np.tanh(g[3 * H :])
        c = f * c + i * u
        h = o * np.tanh(c)
    return np.sum(h * h)


def gmm_loglik_loops(X, mu, logw):
    total = 0.0
    for x in X:
        best = -1e300
        for k in range(mu.shape[0]):
            d = x - mu[k]
            score = logw[k] - 0.5 * np.dot(d, d)
            if score > best:
                best = score
        acc = 0.0
        for k in range(mu.shape[0]):
            d = x - mu[k]
            acc = acc + np.exp(logw[k] - 0.5 * np.dot(d, d) - best)
        total = total + best + np.log(acc)
    return total


# --------------------------------------------------------------------------
# In-place updates
# --------------------------------------------------------------------------


def add_into_element(x):
    """Tangent's known wrong case: `y[0] += x[1]`."""
    y = np.zeros(3)
    y[0] += x[1]
    y[1] = x[0] * x[2]
    return np.sum(y * np.arange(1.0, 4.0))


def write_into_int_buffer(x):
    """A buffer made with an integer dtype truncates what is written: no
    derivative flows through its entries."""
    y = np.zeros(3, dtype=int)
    y[:] = x * 2.5
    z = np.ones_like(x, dtype=np.int8)
    z[1] = x[0] * 3.0
    return np.sum(y * x) + np.sum(z * x)


def where_of_a_float_in_a_branch(x, c):
    """np.where of Python floats (a 0-d array) reaching the gradient through
    a branch: the gradient of a float is a float."""
    if c > 0:
        y = np.where(x > 0, x, 0.0)
    else:
        y = x * 3.0
    return y


def write_with_leading_ones(x, w):
    """Values with leading axes of 1 written into slots of lower rank: numpy
    drops those axes, and the gradients keep them (x's was (3,) for (1, 3),
    w's (2, 2) for (2, 1))."""
    B = np.zeros((2, 3))
    B[0] = x
    C = np.zeros(2)
    C[:] = np.tanh(w).T
    return np.sum(B * np.arange(6.0).reshape(2, 3)) + np.sum(C**2)


PAIR = (0, 1)


def wrapped_tuple_indices(x):
    """A tuple as the one item of an index (`y[PAIR,]`: rows 0 and 1) and as
    the whole index (`y[PAIR]`: entry [0, 1]), in reads, writes and
    np.add.at."""
    y = np.zeros((2, 3))
    np.add.at(y, (PAIR,), 2.0 * x[0, 0])
    y[PAIR,] += x[1] * 3.0
    y[PAIR] = x[1, 2] ** 2
    return np.sum(y * x) + np.sum(x[PAIR,] ** 2) + x[PAIR] ** 3


def fill_buffer(x):
    y = np.zeros(len(x))
    for i in range(len(x)):
        y[i] = np.sin(x[i]) * (i + 1)
    return np.sum(y * y)


def fill_slices(x):
    y = np.ones(6)
    y[0:3] = x * 2.0
    y[3:] = x[::-1] ** 2
    y[1:4] += x
    return np.sum(y * np.arange(6.0))


def fill_matrix(x):
    A = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            A[i, j] = x[i] * x[j] + i - j
    return np.sum(A @ x)


def recurrence_in_buffer(x, a):
    y = np.zeros(len(x))
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = y[i - 1] * a + x[i]
    return np.sum(y * y)


def rows_of_matrix_buffer(X, w):
    H = np.empty((X.shape[0], w.shape[0]))
    h = np.zeros(w.shape[0])
    for t in range(X.shape[0]):
        h = np.tanh(X[t] * w + h * 0.5)
        H[t] = h
    return np.sum(H**2)


def write_floats_into_buffer(x, a, c):
    """Python floats written into entries: their gradients are floats."""
    y = np.zeros(3)
    y[0] = x
    y[1] = x * a
    y[2] += c
    z = np.arange(2)
    z[0] = a  # truncated to an integer: no derivative
    return np.sum(y * y) + z[0]


def write_zero_d_entry(x):
    """The one entry of a 0-d array, written as y[()] and as y[...]; the
    output is that 0-d array."""
    y = np.zeros(())
    y[()] = x * x
    z = np.zeros(())
    z[...] = np.sin(x)
    y[...] += z * x
    return y


def overwrite_zero_d_array(x, v):
    """0-d arrays made by np.array, np.ones and np.copy of a number, each
    overwritten entirely: the written entry carries every derivative."""
    y = np.array(1.0)
    y[()] = x * x
    z = np.ones(())
    z[...] = np.sin(x)
    w = np.copy(v)
    w[()] += y * z
    return w * x


def whole_array_entries(x, v):
    """x[()] and x[...] select a whole array: read from a 0-d array and a
    vector, and written over a 0-d array and a vector whose cotangents are
    new arrays (numbers, for the 0-d one)."""
    c = np.copy(x)
    s = np.sin(c[()]) * c
    c[()] = s * s
    w = v[...] * c
    w[...] = np.cos(w) * s
    return np.sum(np.sin(w) * w) + np.sin(c) * 2.0


def subtract_into_elements(x):
    """`-=` on an element, a slice and in a loop, read back through y[i - 1]."""
    y = np.ones(3)
    y[1] -= x[0]
    y[1:] -= x[1] * x[1:]
    for i in range(3):
        y[i] -= np.sin(x[i]) * y[i - 1]
    return np.sum(y * y)


def write_into_argument(x):
    x[0] = x[1] * 3.0
    return np.sum(x * x)


def augmented_array_updates(x, w):
    y = x * 1.0
    y += w
    y *= x
    y -= 0.5
    return np.sum(y * y)


def mask_assignment(x):
    y = x * 1.0
    y[x > 0] = 0.0
    return np.sum(y * x)


def gather_repeated_then_write(x):
    idx = np.array([0, 0, 2, 1, 0])
    y = np.zeros(3)
    np.add.at(y, idx, x[idx] * 2.0)
    return np.sum(y * y)


def write_in_branch(x):
    y = np.zeros(3)
    if x[0] > 0:
        y[0] = x[0] * 2.0
    else:
        y[1] = x[1] * x[0]
    y[2] = np.sum(y) + x[2]
    return np.sum(y * y)


# --------------------------------------------------------------------------
# Lists
# --------------------------------------------------------------------------


def list_append_then_stack(x):
    hs = []
    h = x
    for i in range(4):
        h = np.tanh(h * 1.5 + i)
        hs.append(h)
    H = np.stack(hs)
    return np.sum(H * np.arange(4.0)[:, None])


def list_index_and_len(x):
    items = [x, x * 2.0, np.sin(x)]
    s = 0.0
    for i in range(len(items)):
        s = s + np.sum(items[i] * items[len(items) - 1 - i])
    return s


def list_comprehension_asarray(x, w):
    ys = np.asarray([np.dot(x, w) * k for k in range(3)])
    return np.sum(ys**2)


def nested_comprehension(x, W):
    """A list comprehension with two `for`s (the second reading the first's
    target) and a filter; its names stay its own (`i` after it is the
    function's)."""
    i = 2.0
    pairs = [x[i] * x[j] for i in range(3) for j in range(i + 1) if j != 1]
    rows = np.stack([w * v for w in W for v in x[:2]])
    return sum(pairs) * i + np.sum(rows**2)


def concatenated_list(x, W):
    """np.concatenate of lists made at run time (in a loop, by a
    comprehension): along axis 0, 1, -1, and flattened; np.vstack of them
    (of matrices, vectors and numbers)."""
    parts = []
    for i in range(3):
        parts.append(np.tanh(W * (i + 1.0)))
    rows, cols = np.concatenate(parts), np.concatenate(parts, axis=1)
    last, flat = np.concatenate(parts, -1), np.concatenate(parts, axis=None)
    pieces = np.concatenate([x * k for k in range(2)], axis=-1)
    pieces = pieces + np.ravel(np.vstack([x * k for k in range(2)]))
    stacked = np.vstack(parts) * np.vstack([x[k % 3] * 2.0 for k in range(6)])
    total = np.sum(rows * np.arange(rows.size).reshape(rows.shape)) + np.sum(cols**2)
    total = total + np.sum(stacked**2)
    return total + np.sum(last * cols) + np.sum(flat**3) + np.sum(pieces * pieces)


def list_comprehension_with_filter(x):
    parts = [v * v for v in x if v > 0]
    return np.sum(np.array(parts + [0.0]))


def sorted_and_flipped(x, m):
    """np.sort of a vector (a gather by np.argsort: which entry goes where
    depends on the values, like a branch) and np.flip of a matrix along every
    axis."""
    ranked = np.sort(x * x) * np.arange(1.0, 5.0)
    return np.sum(ranked) + np.sum(np.flip(m) * m * np.sort(x)[:3])


def sorted_rows(x, y):
    """np.sort along the last axis of a matrix and of a 3-d array: each row
    in its own order (a gather from the flattened rows); `axis=-1` written
    out was refused as another axis."""
    first = np.sum(np.sort(x) * np.arange(1.0, 4.0))
    return first + np.sum(np.sort(y * y, axis=-1)[..., 0])


def medians(x):
    """np.median of all entries (an odd count: the middle one), along an axis
    (an even count: the mean of the middle two) and with keepdims: which
    entries are in the middle depends on the values, as in np.sort."""
    whole = np.median(x) * 3.0 + np.sum(np.median(x, axis=1) ** 2)
    return whole + np.sum(np.median(x, axis=0, keepdims=True) * x)


def string_mode(x, mode="square"):
    """A string compared to choose a branch (a keyword's default, or passed)."""
    if mode in ("square", "sq"):
        y = x * x
    elif mode != "abs":
        y = np.sin(x)
    else:
        y = np.abs(x)
    return np.sum(y) if mode == "square" else np.sum(y * 2.0)


def one_sided_clips(x):
    """np.clip with a bound left out (None): a maximum or a minimum, or the
    values themselves when both are."""
    low = np.clip(x, None, 0.5) ** 2
    return np.sum(low + np.clip(x, -0.5, None) * x + x.clip(None, None) * 3.0)


_NO_BOUND = None


def clip_bounds_passed(x, lo=None, hi=0.8):
    """np.clip with bounds that are values, None (no bound on that side) or
    numbers, known only when called; and a module constant None."""
    return np.sum(np.clip(x, lo, hi) * x + x.clip(_NO_BOUND, hi))


def clip_keyword_bounds(x):
    """One-sided clips with numpy's keywords: the method's min=/max=, np.clip's
    a_min=/a_max= (one None) and its min=/max= (numpy 2.1)."""
    low = x.clip(min=-0.5) * x + x.clip(max=0.8) ** 2 + x.clip(-0.5)
    high = np.clip(x, a_min=-0.5, a_max=None) * 3.0 + np.clip(x, min=-0.5) * x
    return np.sum(low + high + np.clip(x, max=0.8) + np.clip(x, min=-0.5, max=0.8))


def entry_of_a_carry_of_any_rank(x):
    """A loop reading an entry of the array it carries, which `+ x` may give
    another rank on a later step (numpy broadcasts a matrix `x`): the entry
    is read as any array's, not as a number."""
    y = np.zeros(3)
    for _ in range(3):
        y = y * y[-1] + x
    z = np.zeros(3)
    for _ in range(2):
        z = np.where(z > 0.5, z, z[0] * x + 0.4)
    return np.sum(y) + np.sum(z * z)


def constant_masks(x, y):
    """Values with no derivative, used as constants: a mask as floats
    (.astype, np.array of a dtype), np.any/np.all and their methods,
    np.nonzero and np.where of one argument as an index (of a vector and of a
    matrix), np.flatnonzero as indices."""
    mask = (x > 0.0).astype(float) + (y > 0.5).astype("float32")[0, :3]
    mask = mask + np.array(x < 0.0, dtype=int) + np.array(y > 0.0, np.float32)[1]
    some = np.any(x > 1.0) * 2.0 + (x < -1.0).any() + np.all(y > -3.0, axis=1)[0]
    picked = np.sum(x[np.nonzero(x > 0.0)] ** 2) + np.sum(y[(y > 0.5).nonzero()])
    picked = picked + np.sum(y[np.where(y < 0.0)]) * _weighted(x[0], 2.0)
    at = np.flatnonzero(x < 0.0)
    total = np.sum(mask * x) * some + picked + np.sum(np.sin(x[at]))
    return total * (1.0 + (y < 0.0).all() + np.sum((x > 0.0).astype(int)))


def _weighted(a, w=None):
    # (called with a literal w: `2.0 is None` is decided when compiling, so the
    # emitted code has no `is` of a literal, which Python warns of)
    if w is None:
        w = 1.0
    return a * w


def _mask_args(rng):
    x = avoiding(rng, 3, -2.0, 2.0, (-1.0, 0.0, 1.0))
    return (x, avoiding(rng, (2, 3), -2.0, 2.0, (0.0, 0.5)))


_PICK = np.array([2, 0])


def copies_then_writes(x, y):
    """Copies numpy makes (.flatten(), a mask index, an index by a list, an
    int array, a module constant array or a comparison), then writes into the
    array they were read from, and into them: neither sees the other."""
    a = x * 1.0
    flat = a.flatten()
    kept = a[a > 0.0]
    some = a[[0, 1]]
    order = a[np.argsort(a)]
    picked = a[_PICK]
    a[0] = 0.0
    a[1] += 2.0 * x[2]
    flat[2] = 0.0
    some[0] -= 3.0 * x[1]
    m = y * 2.0
    rows = m[[1, 0]]
    rows_mask = m[m[:, 0] > 0.0]
    m[0, 1] = 5.0
    rows[0, 0] = 1.0
    first = np.sum(flat * x) + np.sum(kept**2) + np.sum(some * x[:2])
    second = np.sum(order * np.arange(3.0)) + np.sum(picked * x[:2]) + np.sum(a * a)
    return first + second + np.sum(rows * m) + np.sum(rows_mask**2)


def concatenate_flattened(x, y):
    """np.concatenate with axis=None: every part flattened first."""
    flat = np.concatenate([x, y * y, x[0]], axis=None)
    return np.sum(flat * np.arange(1.0, 1.0 + np.size(flat)))


def comprehension_may_be_empty(x):
    # with every entry negative the list is empty: np.array([]) is an empty
    # float array (np.stack would raise), and its sum 0.0
    positives = np.array([v * v for v in x if v > 0])
    return np.sum(positives) + np.sum(np.sin(x))


def concatenate_parts(x, y):
    z = np.concatenate([x * 2.0, y, x * y], axis=0)
    return np.sum(z**2)


def lstm_list_state(X, W):
    H = W.shape[0] // 4
    state = [np.zeros(H), np.zeros(H)]
    for x in X:
        h, c = state[0], state[1]
        g = W @ np.concatenate([x, h])
        i = 1.0 / (1.0 + np.exp(-g[:H]))
        f = 1.0 / (1.0 + np.exp(-g[H : 2 * H]))
        o = 1.0 / (1.0 + np.exp(-g[2 * H : 3 * H]))
        c = f * c + i * np.tanh(g[3 * H :])
        state = [o * np.tanh(c), c]
    return np.sum(state[0] ** 2)


def _log_gauss(x, m, logw):
    d = x - m
    return logw - 0.5 * np.dot(d, d)


def gmm_loglik_comprehension(X, mu, logw):
    total = 0.0
    for x in X:
        scores = np.asarray([_log_gauss(x, mu[k], logw[k]) for k in range(mu.shape[0])])
        top = np.max(scores)
        total = total + top + np.log(np.sum(np.exp(scores - top)))
    return total


def iterate_list_and_tuple(x, y):
    hs = [x * 2.0, np.sin(y), x**2]
    s = 0.0
    for h in hs:
        s = s + np.sum(h * h)
    for v in (x, y):
        s = s + np.sum(v * y)
    return s


def fill_like_buffers(x):
    y = np.zeros_like(x)
    z = np.ones(3)
    e = np.empty(2)
    for i in range(3):
        y[i] = x[i] ** 2
        z[i] = z[i] * x[i]
    e[0] = np.sum(y)
    e[1] = np.sum(z)
    return np.sum(e * e)


def return_from_while_true(x):
    k = 0
    while True:
        x = x * 1.3
        k = k + 1
        if x > 3.0:
            return x * k
        if k > 50:
            break
    return x


# --------------------------------------------------------------------------
# Closures
# --------------------------------------------------------------------------


def nested_def_and_lambda(x, w):
    scale = w * 2.0

    def squash(v):
        return np.tanh(v * scale)

    mix = lambda v: squash(v) + scale * v
    s = 0.0
    for k in range(3):
        s = s + mix(x * k)
    return np.sum(s)


def lambda_reads_late_binding(x):
    a = x
    times_a = lambda v: v * a
    a = x * 3.0
    return times_a(2.0) + a


def _away(rng, lo, hi, gap):
    """A float in (lo, hi) at least `gap` from every integer and half."""
    while True:
        v = float(rng.uniform(lo, hi))
        if abs(v * 2 - round(v * 2)) > gap:
            return v


def _clip_points(rng):
    """Five floats in (-2, 2), each at least 0.05 from the bounds -0.5 and 0.8
    of `clip_bounds_passed` (a kink of its derivative)."""
    points = []
    while len(points) < 5:
        v = float(rng.uniform(-2.0, 2.0))
        if min(abs(v + 0.5), abs(v - 0.8)) > 0.05:
            points.append(v)
    return np.array(points)


FLOW_CASES = [
    Case("add_into_element", add_into_element, lambda r: (normal(r, 3),)),
    Case(
        "write_with_leading_ones",
        write_with_leading_ones,
        lambda r: (normal(r, (1, 3)), normal(r, (2, 1))),
        wrt=(0, 1),
    ),
    Case(
        "where_of_a_float_in_a_branch",
        where_of_a_float_in_a_branch,
        lambda r: (uniform(r, (), 0.2, 1.0), 1.0),
        wrt=0,
    ),
    Case(
        "wrapped_tuple_indices", wrapped_tuple_indices, lambda r: (normal(r, (2, 3)),)
    ),
    Case(
        "write_into_int_buffer",
        write_into_int_buffer,
        lambda r: (uniform(r, 3, 0.6, 2.9),),
    ),
    Case("fill_buffer", fill_buffer, lambda r: (normal(r, 5),)),
    Case("fill_slices", fill_slices, lambda r: (normal(r, 3),)),
    Case("fill_matrix", fill_matrix, lambda r: (normal(r, 3),)),
    Case(
        "recurrence_in_buffer",
        recurrence_in_buffer,
        lambda r: (normal(r, 6), uniform(r, (), 0.3, 0.9)),
        wrt=(0, 1),
    ),
    Case(
        "rows_of_matrix_buffer",
        rows_of_matrix_buffer,
        lambda r: (normal(r, (4, 3)), normal(r, 3)),
        wrt=(0, 1),
    ),
    Case(
        "augmented_array_updates",
        augmented_array_updates,
        lambda r: (normal(r, 4), normal(r, 4)),
        wrt=(0, 1),
    ),
    Case("write_zero_d_entry", write_zero_d_entry, lambda r: (normal(r, ()),)),
    Case(
        "whole_array_entries",
        whole_array_entries,
        lambda r: (normal(r, ()), normal(r, 3)),
        wrt=(0, 1),
    ),
    Case(
        "overwrite_zero_d_array",
        overwrite_zero_d_array,
        lambda r: (normal(r, ()), normal(r, ())),
        wrt=(0, 1),
    ),
    Case(
        "write_floats_into_buffer",
        write_floats_into_buffer,
        lambda r: (normal(r, ()), uniform(r, (), 1.5, 2.5), normal(r, ())),
        wrt=(0, 1, 2),
    ),
    Case("subtract_into_elements", subtract_into_elements, lambda r: (normal(r, 3),)),
    Case("mask_assignment", mask_assignment, lambda r: (normal(r, 5),)),
    Case(
        "gather_repeated_then_write",
        gather_repeated_then_write,
        lambda r: (normal(r, 3),),
    ),
    Case("write_in_branch_pos", write_in_branch, lambda r: (uniform(r, 3, 0.2, 1.0),)),
    Case(
        "write_in_branch_neg", write_in_branch, lambda r: (uniform(r, 3, -1.0, -0.2),)
    ),
    Case("list_append_then_stack", list_append_then_stack, lambda r: (normal(r, 3),)),
    Case("list_index_and_len", list_index_and_len, lambda r: (normal(r, 3),)),
    Case(
        "list_comprehension_asarray",
        list_comprehension_asarray,
        lambda r: (normal(r, 3), normal(r, 3)),
        wrt=(0, 1),
    ),
    Case(
        "list_comprehension_with_filter",
        list_comprehension_with_filter,
        lambda r: (np.array([_away(r, -2.0, 2.0, 0.05) for _ in range(5)]),),
    ),
    Case(
        "sorted_and_flipped",
        sorted_and_flipped,
        lambda r: (normal(r, 4), normal(r, (2, 3))),
        wrt=(0, 1),
    ),
    Case(
        "sorted_rows",
        sorted_rows,
        lambda r: (normal(r, (2, 3)), normal(r, (2, 2, 4))),
        wrt=(0, 1),
    ),
    Case("medians", medians, lambda r: (normal(r, (3, 4)),)),
    Case(
        "concatenated_list",
        concatenated_list,
        lambda r: (normal(r, 3), normal(r, (2, 3))),
        wrt=(0, 1),
    ),
    Case(
        "nested_comprehension",
        nested_comprehension,
        lambda r: (normal(r, 3), normal(r, (2, 4))),
        wrt=(0, 1),
    ),
    Case("string_mode", string_mode, lambda r: (normal(r, 3),), wrt="x"),
    Case("string_mode_abs", string_mode, lambda r: (normal(r, 3), "abs"), wrt="x"),
    Case("string_mode_sin", string_mode, lambda r: (normal(r, 3), "sin"), wrt="x"),
    Case(
        "one_sided_clips",
        one_sided_clips,
        lambda r: (np.array([_away(r, -2.0, 2.0, 0.05) for _ in range(5)]),),
    ),
    Case("clip_bounds_passed", clip_bounds_passed, lambda r: (_clip_points(r),)),
    Case(
        "clip_bounds_passed_none",
        clip_bounds_passed,
        lambda r: (_clip_points(r), None, None),
    ),
    Case(
        "clip_bounds_passed_low",
        clip_bounds_passed,
        lambda r: (_clip_points(r), -0.5, None),
        wrt=(0, 1),
    ),
    Case(
        "clip_bounds_passed_both",
        clip_bounds_passed,
        lambda r: (_clip_points(r), -0.5, 0.8),
        wrt=(0, 1, 2),
    ),
    Case("constant_masks", constant_masks, _mask_args, wrt=(0, 1)),
    Case(
        "entry_of_a_carry_of_any_rank",
        entry_of_a_carry_of_any_rank,
        lambda r: (avoiding(r, 3, 0.1, 0.7, (0.25,)),),
    ),
    Case(
        "entry_of_a_carry_of_any_rank_2d",
        entry_of_a_carry_of_any_rank,
        lambda r: (avoiding(r, (2, 3), 0.1, 0.7, (0.25,)),),
    ),
    Case(
        "copies_then_writes",
        copies_then_writes,
        lambda r: (
            avoiding(r, 3, -2.0, 2.0, (0.0,)),
            avoiding(r, (2, 2), -2.0, 2.0, (0.0,)),
        ),
        wrt=(0, 1),
    ),
    Case("clip_keyword_bounds", clip_keyword_bounds, lambda r: (_clip_points(r),)),
    Case(
        "concatenate_flattened",
        concatenate_flattened,
        lambda r: (normal(r, (2, 3)), normal(r, 4)),
        wrt=(0, 1),
    ),
    Case(
        "comprehension_may_be_empty",
        comprehension_may_be_empty,
        lambda r: (uniform(r, 4, -1.0, -0.2),),
    ),
    Case(
        "concatenate_parts",
        concatenate_parts,
        lambda r: (normal(r, 2), normal(r, 2)),
        wrt=(0, 1),
    ),
    Case(
        "lstm_list_state",
        lstm_list_state,
        lambda r: (normal(r, (5, 2)), 0.5 * normal(r, (12, 5))),
        wrt=(0, 1),
    ),
    Case(
        "gmm_loglik_comprehension",
        gmm_loglik_comprehension,
        lambda r: (normal(r, (6, 2)), normal(r, (3, 2)), normal(r, 3)),
        wrt=(0, 1, 2),
    ),
    Case(
        "nested_def_and_lambda",
        nested_def_and_lambda,
        lambda r: (normal(r, 3), uniform(r, (), 0.3, 1.0)),
        wrt=(0, 1),
    ),
    Case(
        "lambda_reads_late_binding",
        lambda_reads_late_binding,
        lambda r: (normal(r, ()),),
    ),
    Case("if_else_pos", if_else, lambda r: (uniform(r, (), 0.2, 2.0),)),
    Case("if_else_neg", if_else, lambda r: (uniform(r, (), -2.0, -0.2),)),
    Case(
        "if_elif_else",
        if_elif_else,
        lambda r: (_away(r, -3.0, 3.0, 0.05), normal(r, ())),
        wrt=(0, 1),
    ),
    Case(
        "if_without_else",
        if_without_else,
        lambda r: (normal(r, 4), normal(r, 4)),
        wrt=(0, 1),
    ),
    Case("branch_on_computed_norm", branch_on_computed_norm, lambda r: (normal(r, 3),)),
    Case(
        "conditional_expression",
        conditional_expression,
        lambda r: (_away(r, -1.0, 2.0, 0.05),),
    ),
    Case(
        "and_or_values",
        and_or_values,
        lambda r: (_away(r, -2.0, 2.0, 0.05), _away(r, -2.0, 2.0, 0.05)),
        wrt=(0, 1),
    ),
    Case("not_condition", not_condition, lambda r: (_away(r, -2.0, 2.0, 0.05),)),
    Case("return_in_branch", return_in_branch, lambda r: (_away(r, -1.0, 3.0, 0.05),)),
    Case(
        "return_in_both_branches",
        return_in_both_branches,
        lambda r: (normal(r, 3), normal(r, 3)),
        wrt=(0, 1),
    ),
    Case(
        "nested_branches",
        nested_branches,
        lambda r: (_away(r, -2.0, 2.0, 0.05), _away(r, -2.0, 2.0, 0.05)),
        wrt=(0, 1),
    ),
    Case(
        "helper_with_branch", helper_with_branch, lambda r: (_away(r, -1.0, 2.0, 0.05),)
    ),
    Case("branch_on_array_entry", branch_on_array_entry, lambda r: (normal(r, 3),)),
    Case(
        "for_range_const",
        for_range_const,
        lambda r: (normal(r, 3), uniform(r, (), 0.5, 1.5), normal(r, ())),
        wrt=(0, 1, 2),
    ),
    Case(
        "for_range_data_bound",
        for_range_data_bound,
        lambda r: (uniform(r, (), 0.2, 0.9), int(r.integers(1, 6))),
    ),
    Case("for_range_start_step", for_range_start_step, lambda r: (normal(r, 2),)),
    Case(
        "for_range_negative_step", for_range_negative_step, lambda r: (normal(r, ()),)
    ),
    Case(
        "for_over_rows",
        for_over_rows,
        lambda r: (normal(r, (5, 3)), normal(r, 3)),
        wrt=(0, 1),
    ),
    Case("for_zip", for_zip, lambda r: (normal(r, (4, 3)), normal(r, 5)), wrt=(0, 1)),
    Case("for_enumerate", for_enumerate, lambda r: (normal(r, 4),)),
    Case("for_enumerate_from", for_enumerate_from, lambda r: (normal(r, 4), -3)),
    Case("for_over_len", for_over_len, lambda r: (normal(r, 5),)),
    Case("loop_with_index_in_body", loop_with_index_in_body, lambda r: (normal(r, 3),)),
    Case(
        "two_carried_values",
        two_carried_values,
        lambda r: (uniform(r, (), 0.5, 1.5), uniform(r, (), 0.5, 1.5)),
        wrt=(0, 1),
    ),
    Case(
        "loop_invariant_reads",
        loop_invariant_reads,
        lambda r: (normal(r, 3), 0.5 * normal(r, (3, 3))),
        wrt=(0, 1),
    ),
    Case(
        "nested_loops",
        nested_loops,
        lambda r: (normal(r, 3), 0.5 * normal(r, (3, 3))),
        wrt=(0, 1),
    ),
    Case(
        "nested_loops_data_inner",
        nested_loops_data_inner,
        lambda r: (normal(r, ()), int(r.integers(0, 5))),
    ),
    Case("shape_changing_carry", shape_changing_carry, lambda r: (normal(r, 3),)),
    Case("loop_zero_trips", loop_zero_trips, lambda r: (normal(r, 3), 0)),
    Case("while_doubling", while_doubling, lambda r: (_away(r, 1.0, 10.0, 0.01),)),
    Case("while_newton_sqrt", while_newton_sqrt, lambda r: (uniform(r, (), 0.5, 4.0),)),
    Case(
        "while_with_counter",
        while_with_counter,
        lambda r: (normal(r, 2), int(r.integers(0, 5))),
    ),
    Case(
        "break_on_threshold",
        break_on_threshold,
        lambda r: (uniform(r, (), 0.3, 2.0), 12),
    ),
    Case("while_true_break", while_true_break, lambda r: (uniform(r, (), 0.5, 3.0),)),
    Case("continue_skips", continue_skips, lambda r: (normal(r, ()),)),
    Case("continue_on_data", continue_on_data, lambda r: (normal(r, 6),)),
    Case(
        "return_from_loop_early",
        return_from_loop,
        lambda r: (uniform(r, (), 0.3, 2.0),),
    ),
    Case(
        "return_from_loop_late",
        return_from_loop,
        lambda r: (uniform(r, (), -2.0, -0.1),),
    ),
    Case(
        "return_from_nested_loop",
        return_from_nested_loop,
        lambda r: (uniform(r, (), 0.5, 1.5),),
    ),
    Case(
        "break_inner_loop_only",
        break_inner_loop_only,
        lambda r: (uniform(r, (), 0.3, 1.5),),
    ),
    Case(
        "helper_tuple_in_loop",
        helper_tuple_in_loop,
        lambda r: (normal(r, (4, 3)), 0.5 * normal(r, (2, 3)), 0.5 * normal(r, (2, 2))),
        wrt=(0, 1, 2),
    ),
    Case("helper_in_loop", helper_in_loop, lambda r: (normal(r, 3), 3)),
    Case(
        "rodrigues_reproject",
        rodrigues_reproject,
        lambda r: (0.3 * normal(r, 3), normal(r, (5, 3)), uniform(r, (), 0.5, 2.0)),
        wrt=(0, 1, 2),
    ),
    Case(
        "rodrigues_reproject_small",
        rodrigues_reproject,
        lambda r: (1e-5 * normal(r, 3), normal(r, (5, 3)), uniform(r, (), 0.5, 2.0)),
        wrt=(0, 1, 2),
    ),
    Case(
        "lstm_recurrence",
        lstm_recurrence,
        lambda r: (
            normal(r, (6, 3)),
            0.5 * normal(r, (8, 3)),
            0.5 * normal(r, (8, 2)),
            normal(r, 8),
        ),
        wrt=(0, 1, 2, 3),
    ),
    Case(
        "gmm_loglik_loops",
        gmm_loglik_loops,
        lambda r: (normal(r, (5, 2)), normal(r, (3, 2)), normal(r, 3)),
        wrt=(0, 1, 2),
    ),
]
FLOW_CASES += [
    Case(
        "iterate_list_and_tuple",
        iterate_list_and_tuple,
        lambda r: (normal(r, 3), normal(r, 3)),
        wrt=(0, 1),
    ),
    Case("fill_like_buffers", fill_like_buffers, lambda r: (normal(r, 3),)),
    Case(
        "return_from_while_true",
        return_from_while_true,
        lambda r: (_away(r, 0.2, 2.5, 0.01),),
    ),
]


# Found by review: each was silently wrong once.


def index_arithmetic_chains(x):
    s = 0.0
    for i in range(2):
        s = s + x[2 * i + 1] ** 2 + x[i] * x[-i - 1]
    return s


def double_buffering(x):
    cur = np.zeros(3)
    nxt = np.zeros(3)
    cur[0] = x[0]
    for k in range(3):
        for i in range(3):
            nxt[i] = cur[i - 1] * 0.5 + x[i]
        cur, nxt = nxt, cur
    return np.sum(cur**2) + np.sum(nxt * x)


def previous_iteration_value(x):
    s = 0.0
    for i in range(3):
        if i > 0:
            s = s + prev * x  # noqa: F821 (bound by the previous iteration)
        prev = x * (i + 1.0)
    return s + prev


def first_bound_in_a_loop_branch(x):
    out = 0.0
    for i in range(3):
        if i == 0:
            a = x
        else:
            a = a * x
        out = out + a
    return out + a * i


def _two_returns(x, c):
    if c > 0:
        return (x * 2.0, x + 1.0)
    return (x * 3.0, x - 1.0)


def helper_returns_tuples_on_two_paths(x):
    a, b = _two_returns(x, x)
    return a * b


FLOW_CASES += [
    Case("index_arithmetic_chains", index_arithmetic_chains, lambda r: (normal(r, 4),)),
    Case("double_buffering", double_buffering, lambda r: (normal(r, 3),)),
    Case(
        "previous_iteration_value",
        previous_iteration_value,
        lambda r: (normal(r, ()),),
    ),
    Case(
        "first_bound_in_a_loop_branch",
        first_bound_in_a_loop_branch,
        lambda r: (normal(r, ()),),
    ),
    Case(
        "helper_returns_tuples_on_two_paths",
        helper_returns_tuples_on_two_paths,
        lambda r: (_away(r, -2.0, 2.0, 0.05),),
    ),
]


# Found by the second review.


def list_concatenation(x):
    items = [x[0]]
    for v in x:
        items = [v * 2.0] + items
    items += [x[1], x[2]]
    return np.sum(np.array(items) ** 2) + len(items)


def write_into_integer_array(x):
    y = np.arange(3)
    y[1] = x[1] * 3.7  # truncated to an integer, so no derivative flows
    z = np.full(3, 2)
    z[0] += x[2] * 0.0 + 1.0
    return np.sum(y * x) + np.sum(z * x)


def append_in_a_loop(x):
    products = []
    for i in range(1, len(x)):
        products.append(x[i] * x[i - 1])
    return np.sum(np.array(products) ** 2)


def fill_in_a_while_loop(x):
    y = np.zeros(len(x))
    i = 1
    while i < len(x):
        y[i] = 0.5 * y[i - 1] + x[i] ** 2
        if y[i] > 1e9:
            break
        i = i + 1
    return np.sum(y)


FLOW_CASES += [
    Case("list_concatenation", list_concatenation, lambda r: (normal(r, 3),)),
    Case(
        "write_into_integer_array",
        write_into_integer_array,
        lambda r: (normal(r, 3),),
    ),
    Case("append_in_a_loop", append_in_a_loop, lambda r: (normal(r, 5),)),
    Case("fill_in_a_while_loop", fill_in_a_while_loop, lambda r: (normal(r, 5),)),
]


def ring_buffer_index(x):
    acc = np.zeros(3)
    for i in range(7):
        acc[i % 3] += x[(2 * i) % len(x)] * (i + 1)
    return np.sum(acc * acc)


FLOW_CASES += [Case("ring_buffer_index", ring_buffer_index, lambda r: (normal(r, 4),))]


# Constructs emitted gradient code uses, so emitted code is valid input too.


def reversed_loop(x):
    acc = 0.0
    for i in reversed(range(len(x))):
        acc = acc * 0.5 + x[i] * (i + 1.0)
    return acc


def reversed_loop_with_step(x):
    acc = 1.0
    for i in reversed(range(1, len(x), 2)):
        acc = acc * x[i] + x[i - 1]
    return acc


def stack_of_values(x):
    saved = []
    h = 1.0
    for i in range(len(x)):
        saved.append(h * x[i])
        h = np.tanh(h * x[i])
    total = h
    for _ in range(len(x)):
        total = total * 0.5 + saved.pop()
    return total


def reversed_rows(A):
    acc = np.zeros(A.shape[1])
    for row in reversed(A):
        acc = np.sin(acc) * 0.5 + row
    return np.sum(acc**2)


def reversed_list(x):
    values = []
    h = 1.0
    for i in range(len(x)):
        values.append(h * x[i])
        h = np.tanh(h * x[i])
    total = h
    for v in reversed(values):
        total = total * 0.5 + v
    return total


def reversed_tuple(a):
    s = 1.0
    for v in reversed((a, 2 * a, a * a)):
        s = s * v + 1
    return s


def unpack_rows(A):
    first, second = A
    return np.sum(first * np.sin(second))


def unpack_vector(p):
    r, theta = p
    return r * np.cos(theta) + r * r


FLOW_CASES += [
    Case("reversed_loop", reversed_loop, lambda r: (normal(r, 5),)),
    Case("reversed_loop_with_step", reversed_loop_with_step, lambda r: (normal(r, 6),)),
    Case("stack_of_values", stack_of_values, lambda r: (normal(r, 4),)),
    Case("reversed_rows", reversed_rows, lambda r: (normal(r, (4, 3)),)),
    Case("reversed_list", reversed_list, lambda r: (normal(r, 4),)),
    Case("reversed_tuple", reversed_tuple, lambda r: (float(normal(r, ())),)),
    Case("unpack_rows", unpack_rows, lambda r: (normal(r, (2, 3)),)),
    Case("unpack_vector", unpack_vector, lambda r: (normal(r, 2),)),
]


# Found by the review of forward mode.


def overwrite_slice_with_itself(x):
    y = x * 1.0
    y[:2] = np.sin(y[:2])
    y[1:] = y[1:] ** 2
    return np.sum(y * x)


def rows_from_previous_rows(X):
    Y = X * 1.0
    for i in range(1, len(Y)):
        Y[i] += np.tanh(Y[i - 1]) * Y[i]
    return np.sum(Y**2)


FLOW_CASES += [
    Case(
        "overwrite_slice_with_itself",
        overwrite_slice_with_itself,
        lambda r: (normal(r, 3),),
    ),
    Case(
        "rows_from_previous_rows",
        rows_from_previous_rows,
        lambda r: (normal(r, (3, 2)),),
    ),
]


def pop_statement(x):
    items = [x[0], x[1] * 2.0, x[2] ** 2]
    items.pop()
    return items[0] * items[-1] + len(items)


FLOW_CASES += [Case("pop_statement", pop_statement, lambda r: (normal(r, 3),))]


# --- an array made anew each step while last step's is still read --------------
# (one name for both would make the new array replace the one still read)


def previous_buffer(x):
    y = 0.0
    s = 0.0
    for i in range(3):
        z = np.zeros(3)
        s = s + np.sum(y)
        z[i] = x[i] ** 2
        y = z
    return s * x[0]


def previous_list(x):
    prev = [0.0]
    s = 0.0
    for i in range(3):
        cur = []
        cur.append(1.0)
        s = s + np.sum(np.stack(cur)) * x[0]
        cur.append(x[i] ** 2)
        s = s + np.sum(np.stack(prev)) * x[2]
        prev = cur
    return s


def previous_buffer_read_twice(x):
    # the Hessian code's tangent of z is made anew the same way
    y = 0.0
    s = 0.0
    for i in range(3):
        z = np.zeros(3)
        z[0] = 1.0
        s = s + np.sum(z * x)
        z[1] = x[i] ** 2
        s = s + np.sum(y * x)
        y = z
    return s


FLOW_CASES += [
    Case("previous_buffer", previous_buffer, lambda r: (normal(r, 3),)),
    Case("previous_list", previous_list, lambda r: (normal(r, 3),)),
    Case(
        "previous_buffer_read_twice",
        previous_buffer_read_twice,
        lambda r: (normal(r, 3),),
    ),
]


def list_of_numbers(a, n):
    # the entries are Python floats: reading one copies nothing
    xs = []
    x = a
    for _ in range(n):
        x = x * a + 1.0
        xs.append(x)
    t = 0.0
    for v in xs:
        t = t + v * v
    return t


FLOW_CASES += [
    Case("list_of_numbers", list_of_numbers, lambda r: (0.7, 3), wrt="a"),
]


def empty_loop_body_then_branch(x, n):
    # the first loop's body and the branch's else arm are both empty: each
    # keeps its own saved values
    a = x[:2] * 1.0
    b = np.zeros(2)
    s = 0.0
    for _ in range(n):
        b = a
    for j in range(n):
        if x[j % 3] > 0:
            s = s + x[j % 3] ** 2 * np.sum(b)
    return s + np.sum(b * b)


FLOW_CASES += [
    Case(
        "empty_loop_body_then_branch",
        empty_loop_body_then_branch,
        lambda r: (np.array([0.8, -0.6, 1.3]) + 0.1 * normal(r, 3), 3),
        wrt="x",
    ),
]


def growing_buffer(x):
    # last step's z is carried (its shape read by the reverse sweep) while
    # this step's is made: two arrays, two names
    y = 0.0
    s = 0.0
    for i in range(3):
        z = np.zeros(i + 2)
        z[0] = x[i] ** 2
        s = s + np.sum(z * z) * x[1]
        y = z
    return s + np.sum(y) * x[0]


FLOW_CASES += [Case("growing_buffer", growing_buffer, lambda r: (normal(r, 3),))]


# --- a view made before a write into its array, read by the reverse sweep -------


def reshape_then_write(x):
    y = x * 1.0
    s = np.sum(np.sin(y.reshape(3)))
    y[0] = 5.0
    return s + np.sum(y)


def row_slice_then_write(X):
    Y = X * 1.0
    s = 0.0
    for i in range(2):
        s = s + np.sum(Y[i][:2] ** 3)
        Y[i] = 0.5
    return s


def transpose_then_write(X):
    Y = X * 1.0
    s = np.sum(np.sin(Y.T) * Y.T)
    Y[1, 0] = 2.0
    return s + np.sum(Y * Y)


FLOW_CASES += [
    Case("reshape_then_write", reshape_then_write, lambda r: (normal(r, 3),)),
    Case("row_slice_then_write", row_slice_then_write, lambda r: (normal(r, (2, 3)),)),
    Case("transpose_then_write", transpose_then_write, lambda r: (normal(r, (2, 3)),)),
]


def row_plus_parameter(X, b):
    # forward mode: a's tangent is a view of Y's (b's tangent may be zero),
    # so Y's tangent must not be written in place while a_dot is read
    Y = X * 1.0
    a = Y[0] + b
    Y[0, 0] = 5.0
    return np.sum(a * a) + np.sum(Y * Y)


FLOW_CASES += [
    Case("row_plus_parameter", row_plus_parameter, lambda r: (normal(r, (2, 3)), 0.5)),
    Case(
        "row_plus_parameter_wrt_X",
        row_plus_parameter,
        lambda r: (normal(r, (2, 3)), 0.5),
        wrt="X",
    ),
]


def list_kept_from_the_step_before(x):
    # the gradient saves the list `prev` (empty in the first step) in a tuple;
    # the Hessian reads that tuple back: a list in a tuple stays a list
    prev = []
    s = 0.0
    for i in range(3):
        if len(prev) > 0:
            s = s + prev[0] * x[i]
        prev = [x[i] ** 2]
    return s


FLOW_CASES += [
    Case(
        "list_kept_from_the_step_before",
        list_kept_from_the_step_before,
        lambda r: (normal(r, 3),),
    ),
]


# --- chained comparisons ----------------------------------------------------------


def chained_comparisons(x):
    """`a < b <= c` is `a < b and b <= c`: the middle value computed once, the
    last comparison made only when the first holds; in a loop and an `if`."""
    total = 0.0
    for i in range(len(x)):
        if -0.5 < x[i] <= np.sum(x) * 0.0 + 0.5 < 1.0:
            total = total + x[i] ** 3
        elif 2.0 > x[i] > 0.5:
            total = total + np.sin(x[i])
        else:
            total = total - x[i]
    return total


FLOW_CASES += [
    Case(
        "chained_comparisons",
        chained_comparisons,
        lambda r: (np.array([-1.2, -0.3, 0.2, 0.8, 1.4, 2.5]) + 0.05 * normal(r, 6),),
    ),
]


# --- views that only add axes, read in a loop -------------------------------------


def new_axes_in_a_loop(x, n):
    """`x[None, ...]` and `x[:, None]` select all of x with axes added: their
    cotangents are reshaped back, and added to across iterations."""
    s = 0.0
    for i in range(n):
        outer = x[:, None] * x[None, ...]
        s = s + np.sum(np.sin(outer) * (i + 1)) + np.sum(x[None, :, None] ** 2)
    return s


FLOW_CASES += [
    Case(
        "new_axes_in_a_loop", new_axes_in_a_loop, lambda r: (normal(r, 3), 3), wrt="x"
    ),
]


# --- identity and membership tests; several targets ---------------------------------


def optional_weight_and_mode(x, w=None, mode=1):
    """`w is None` (a default left out), `mode in (0, 1)`, `is not`, `not in`;
    and `y[0] = y[1] = v`, one value written through two targets."""
    y = np.zeros(3)
    y[0] = y[2] = x[1] * x[2]
    if w is None:
        w = np.ones(3)
    if mode in (0, 1) and w is not None:
        s = np.sum(w * x**2 + y)
    elif mode not in (2, 3):
        s = np.sum(x * 3.0)
    else:
        s = np.sum(np.sin(x))
    return s


FLOW_CASES += [
    Case(
        "optional_weight_and_mode",
        optional_weight_and_mode,
        lambda r: (normal(r, 3),),
    ),
    Case(
        "optional_weight_and_mode_given",
        optional_weight_and_mode,
        lambda r: (normal(r, 3), normal(r, 3), 2),
        wrt=(0, 1),
    ),
]


# --- masks combined with bit operators ----------------------------------------------
# (a selection like a branch; sympy's stand-in for numpy has no meaning for
# `&`, `|`, `~`, so verify checks these by finite differences)


def masks_combined(x):
    """Masks combined with `&`, `|`, `^` and `~` (numpy's elementwise logic,
    no derivative) select where each piece applies; integers too."""
    inside = (x > -1.0) & (x < 1.0)
    outside = ~inside | (x == 0.5)
    odd = (np.arange(len(x)) ^ 1) % 2 == 0
    k = ~2 + (5 & 3) + (4 | 1)
    pieces = np.where(inside, x**2, 0.0) + np.where(outside, np.sin(x), 0.0)
    return np.sum(pieces) + np.sum(np.where(odd, x, 0.0)) * k


FLOW_CASES += [
    Case(
        "masks_combined",
        masks_combined,
        lambda r: (avoiding(r, 6, -2.0, 2.0, (-1.0, 0.5, 1.0)),),
    ),
]


# --- a name bound after an early exit in one arm --------------------------------------


def bound_after_a_return(a, w):
    """`v` is bound in both arms of the `if`, in the second after a return:
    the merge of that arm's guarded rest left `v` unbound (the loop read
    None: a raw TypeError)."""
    if a > 5.0:
        v = a * w
    else:
        if a > 0.0:
            return a * a
        v = w * 3.0
    for _ in range(2):
        v = v / 2.0 + np.sin(v)
    return v


def bound_after_a_continue(a, w):
    """As `bound_after_a_return`, with `continue` (and `break`) in a loop:
    `s + v` was refused as reading a name not bound on every path."""
    s = 0.0
    for i in range(3):
        if a > 5.0:
            v = a * w
        else:
            if a > 1.5 + i:
                continue
            if a < -1.5:
                break
            v = w * a
        s = s + v * v
    return s + a


FLOW_CASES += [
    Case(
        f"bound_after_a_{name}_{where}",
        fn,
        lambda r, a=a: (a + 0.1 * float(r.uniform()), float(r.normal())),
        wrt=(0, 1),
    )
    for name, fn in [
        ("return", bound_after_a_return),
        ("continue", bound_after_a_continue),
    ]
    for where, a in [("first_arm", 6.0), ("exit", 0.5 if name == "return" else 2.0)]
    + [("second_arm", -0.8)]
]
