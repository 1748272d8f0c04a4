"""numpy functions symgrad differentiates through their definitions.

`np.var`, `np.std` and `np.linalg.norm` (its default `ord`) are written
here with operations symgrad has rules for; a call of one is inlined like a
helper function of the user's, so its derivative is the chain rule through
these lines, and the emitted code shows them (`# grad of var: ...`).  Each
takes numpy's parameters in numpy's order, so positional calls bind as in
numpy; the parameters in `FIXED` must keep their defaults (`calls` refuses a
call that sets them, where these definitions would ignore them).
"""

import numpy as np

# Parameters that must keep their default (None) in a call.
FIXED = {"var": ("dtype", "out"), "std": ("dtype", "out"), "norm": ("ord",)}


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    mean = np.mean(a, axis=axis, keepdims=True)
    d = a - mean
    return np.sum(d * d, axis=axis, keepdims=keepdims) / (
        np.size(a) // np.size(mean) - ddof
    )


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return np.sqrt(var(a, axis=axis, ddof=ddof, keepdims=keepdims))


def norm(x, ord=None, axis=None, keepdims=False):
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


NUMPY = {"var": var, "std": std}
LINALG = {"norm": norm}
