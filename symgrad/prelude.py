"""numpy functions symgrad differentiates through their definitions.

`np.var`, `np.std`, `np.trace`, `np.sort` (along the last axis),
`np.flip` (along every axis), `np.diff`, `np.swapaxes`, `np.triu`, `np.tril`,
`np.empty_like`, `np.flipud`, `np.fliplr`, `np.ptp`, `np.vdot`, `np.inner`,
`np.nansum`, `np.nanmean`, `np.average`, `np.take`, `np.median`, `np.linalg.norm` (its
default `ord`) and `np.linalg.slogdet` are written here
with operations symgrad has rules for; a call of one is inlined like a
helper function of the user's, so its derivative is the chain rule through
these lines, and the emitted code shows them (`# grad of var: ...`).  Each
takes numpy's parameters in numpy's order, so positional calls bind as in
numpy; the parameters in `FIXED` must keep the values given there (`calls`
refuses a call that sets them otherwise, where these definitions would
ignore them).
"""

import numpy as np

from .runtime import (
    _axis_index,
    _diff_order,
    _inexact,
    _logabsdet,
    _ndim_at_least,
    _slogdet_sign,
    _take_indices,
)

# Functions whose `axis=` must be one axis (or None), not a tuple of them.
ONE_AXIS = {"median"}
# Parameters a call must leave at these values.
FIXED = {
    "var": {"dtype": None, "out": None},
    "std": {"dtype": None, "out": None},
    "trace": {"offset": 0, "axis1": 0, "axis2": 1, "dtype": None, "out": None},
    "norm": {"ord": None},
    "sort": {"axis": -1, "kind": None, "order": None},
    "flip": {"axis": None},
    "empty_like": {"dtype": None, "order": "K", "subok": True, "shape": None},
    "ptp": {"out": None},
    "nansum": {"dtype": None, "out": None},
    "nanmean": {"dtype": None, "out": None},
    "average": {"returned": False},
    "take": {"out": None},
    "median": {"out": None, "overwrite_input": False},
}


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    mean = np.mean(a, axis=axis, keepdims=True)
    d = a - mean
    n = np.size(a) // max(np.size(mean), 1)  # (an empty mean: nothing to divide)
    if ddof:  # (a constant ddof=0, the default, leaves no `- 0` behind)
        n = n - ddof
    return np.sum(d * d, axis=axis, keepdims=keepdims) / n


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return np.sqrt(var(a, axis=axis, ddof=ddof, keepdims=keepdims))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _ = _ndim_at_least(a, 2, "trace")
    i = np.arange(min(np.shape(a)[0], np.shape(a)[1]))
    # (over the first two axes, as numpy's; of a list too)
    return np.sum(np.asarray(a)[i, i], axis=0)


def sort(a, axis=-1, kind=None, order=None):
    # along the last axis: each row's entries in argsort's order, read from the
    # flattened rows (a vector is one row; an empty last axis makes no rows)
    n = np.shape(a)[-1]
    m = np.size(a) // max(n, 1)
    rows = np.reshape(a, (m, n))
    at = np.argsort(rows, axis=-1) + np.reshape(np.arange(m) * n, (m, 1))
    return np.reshape(np.ravel(rows)[np.ravel(at)], np.shape(a))


def flip(m, axis=None):
    # reversed along every axis: the reversed entries in C order
    return np.reshape(np.ravel(m)[::-1], np.shape(m))


def norm(x, ord=None, axis=None, keepdims=False):
    y = _inexact(x)  # (as numpy's, in float64 for integers: an int8 x * x wraps)
    return np.sqrt(np.sum(y * y, axis=axis, keepdims=keepdims))


def slogdet(a):
    return _slogdet_sign(a), _logabsdet(a)


def diff(a, n=1, axis=-1):
    # along the last axis (another axis is moved there and back), n times
    d = a if axis == -1 else np.moveaxis(a, axis, -1)
    if n == 1:
        d = d[..., 1:] - d[..., :-1]
    else:
        for _ in range(_diff_order(n)):
            d = d[..., 1:] - d[..., :-1]
    return d if axis == -1 else np.moveaxis(d, -1, axis)


def swapaxes(a, axis1, axis2):
    n = np.ndim(a)  # (each axis checked, as numpy's; one axis: `a` as it is)
    if _axis_index(axis1, n) == _axis_index(axis2, n):
        return np.asarray(a)
    return np.moveaxis(a, (axis1, axis2), (axis2, axis1))


def triu(m, k=0):
    # the entries on and above the k-th diagonal of the last two axes (a
    # vector is broadcast to a square matrix, as numpy's); False, the
    # lowest type, keeps m's dtype (an integer 0 made a boolean mask an
    # integer array, which indexes rows)
    _ = _ndim_at_least(m, 1, "triu")
    return np.where(_diagonals(m) >= k, m, False)


def tril(m, k=0):
    _ = _ndim_at_least(m, 1, "tril")
    return np.where(_diagonals(m) <= k, m, False)


def _diagonals(m):
    # which diagonal each entry of the last two axes is on: column - row
    cols = np.shape(m)[-1]
    rows = np.shape(m)[-2] if np.ndim(m) > 1 else cols
    return np.arange(cols)[None, :] - np.arange(rows)[:, None]


def empty_like(prototype, dtype=None, order="K", subok=True, shape=None):
    return np.zeros_like(prototype)  # (any entries will do)


def flipud(m):
    _ = _ndim_at_least(m, 1, "flipud")
    return np.asarray(m)[::-1]


def fliplr(m):
    _ = _ndim_at_least(m, 2, "fliplr")
    return np.asarray(m)[:, ::-1]


def ptp(a, axis=None, out=None, keepdims=False):
    top = np.max(a, axis=axis, keepdims=keepdims)
    return top - np.min(a, axis=axis, keepdims=keepdims)


def vdot(a, b):
    return np.dot(np.ravel(a), np.ravel(b))  # (of real arrays: nothing to conjugate)


def inner(a, b):
    # the sum over the last axes of both: np.dot of vectors (or a number);
    # more axes: each array as the matrix of its last axis's rows (whose
    # lengths must agree, or the product raises as numpy does)
    if np.ndim(a) <= 1 and np.ndim(b) <= 1 or np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.dot(a, b)
    rows = np.reshape(a, (-1, np.shape(a)[-1])) @ np.reshape(b, (-1, np.shape(b)[-1])).T
    return np.reshape(rows, np.shape(a)[:-1] + np.shape(b)[:-1])


def nansum(a, axis=None, dtype=None, out=None, keepdims=False):
    # (an integer 0 keeps an integer array's dtype)
    return np.sum(np.where(np.isnan(a), 0, a), axis=axis, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False):
    kept = np.logical_not(np.isnan(a))
    total = np.sum(np.where(kept, a, 0), axis=axis, keepdims=keepdims)
    # (counted in a's dtype: a float32 mean has a float32 gradient)
    counts = np.where(kept, np.ones_like(a), np.zeros_like(a))
    return total / np.sum(counts, axis=axis, keepdims=keepdims)


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    if weights is None:
        return np.mean(a, axis=axis, keepdims=keepdims)
    a = np.asarray(a)
    w = np.asarray(weights)
    if np.shape(w) != np.shape(a):  # one weight per entry along `axis`
        (_,) = np.shape(w)  # (numpy's rule: a vector, and an axis)
        along = np.shape(np.moveaxis(a, axis, -1))
        w = np.moveaxis(np.broadcast_to(w, along), -1, axis)
    return np.sum(a * w, axis=axis, keepdims=keepdims) / np.sum(
        w, axis=axis, keepdims=keepdims
    )


def take(a, indices, axis=None, out=None, mode="raise"):
    # (numpy's indices: booleans as 0 and 1, which an index array would read
    # as a mask; clipped or wrapped into the axis by `mode`)
    if axis is None:
        flat = np.ravel(a)
        return flat[_take_indices(indices, np.size(flat), mode)]
    rows = np.moveaxis(a, axis, 0)  # (an axis out of range raises AxisError)
    at = _take_indices(indices, np.shape(rows)[0], mode)
    k = axis % np.ndim(a)
    flat = np.moveaxis(rows[np.ravel(at)], 0, k)
    return np.reshape(flat, np.shape(a)[:k] + np.shape(at) + np.shape(a)[k + 1 :])


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    # the mean of the middle one or two sorted entries (of all, or along
    # `axis`, moved last); nan where one is nan, as numpy's (a sort puts
    # nans last)
    s = sort(np.ravel(a) if axis is None else np.moveaxis(a, axis, -1))
    n = np.shape(s)[-1]
    middle = s[..., (n - 1) // 2 : n // 2 + 1]
    if n:
        last = s[..., -1:]
        middle = np.where(np.isnan(last), last, middle)
    middle = np.mean(middle, axis=-1)
    if keepdims:
        like = np.sum(a, axis=axis, keepdims=True)
        middle = np.reshape(middle, np.shape(like))
    return middle


def sum(iterable, start=0):
    # Python's total, left to right: `start + item + item ...` over a list's
    # entries or an array's rows (the builtin; np.sum is numpy's)
    total = start
    for item in iterable:
        total = total + item
    return total


BUILTINS = {"sum": sum}
NUMPY = {"var": var, "std": std, "trace": trace}
NUMPY |= {"sort": sort, "flip": flip}
NUMPY |= {"diff": diff, "swapaxes": swapaxes, "triu": triu, "tril": tril}
NUMPY |= {"empty_like": empty_like, "flipud": flipud, "fliplr": fliplr}
NUMPY |= {"ptp": ptp, "vdot": vdot, "inner": inner}
NUMPY |= {"nansum": nansum, "nanmean": nanmean, "average": average, "take": take}
NUMPY |= {"median": median}
LINALG = {"norm": norm, "slogdet": slogdet}
