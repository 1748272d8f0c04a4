"""Support functions copied verbatim into emitted modules that use them.

Emitted modules must run without symgrad installed, so nothing here is
imported by generated code: `emit` copies the source of each function a module
needs (and of the functions those call) below the module's `f_and_grad`.
Keeping them here as real code lets the tests exercise them directly.

Each function takes only numpy values and depends only on numpy.  A local
variable a comprehension reads is a cell, allocated at every call of the
function, also where the comprehension does not run (CPython 3.10 and 3.11
compile every comprehension as a function of its own; 3.12 inlines list, set
and dict comprehensions, not generator expressions).  So no comprehension
reads a local in a helper with a fast path: it iterates over what it is
given, or the slow path is a function of its own (the cells were a sixth of
`_unbroadcast_mul`'s time for a scalar parameter and vector data).
"""

import math

import numpy as np

# The classes emitted code compares a value's class with (`x.__class__ in
# _NUMBERS`): names of symgrad's, which no parameter (`type`, `float`) hides.
_NUMBERS = (float, int, np.float64)  # the Python numbers the float body takes
_JOINLESS = (float, np.ndarray)  # what no `+` or `*` joins or repeats
_ENTRIES = (np.ndarray, list)  # what `_float_entries` may take
_SCALARS = {float, int, bool, np.float64}  # a list's entries it takes
# (helpers test `x.dtype is _F64` first: 20 ns, where `.char` takes 50 and `.kind` 80)
_INF = float("inf")
_F64 = np.dtype("float64")  # (float64 in another byte order: the test after)


def _float_entries(y, ndim=1):
    """`y`, a float64 array of `ndim` axes, as a memoryview, whose entries
    are Python floats (numpy's are np.float64, ~4x slower to compute with),
    or a list of Python numbers (`ndim` 1) as it is; TypeError, which sends
    `f_and_grad` to its numpy body, for anything else: another dtype or
    number of axes, a list holding anything but numbers (an array, whose
    arithmetic the float body does not reduce), and the float64 arrays a
    memoryview cannot index (byte-swapped, unaligned: their buffer formats
    are ">d", "=d", "<d")."""
    if y.__class__ is list:
        if ndim != 1 or not all(v.__class__ in _SCALARS for v in y):
            raise TypeError("not a list of numbers")
        return y
    view = memoryview(y)
    if view.format != "d" or view.ndim != ndim:
        raise TypeError(f"not an aligned, native float64 array of ndim {ndim}")
    return view


def _heaviside(x, h):
    """np.heaviside(x, h) of Python floats, as a float: 0 below 0, `h` at 0
    (and -0.0), 1 above, nan at nan (np.heaviside takes 1 us on a float)."""
    if x > 0:
        return 1.0
    if x < 0:
        return 0.0
    return float(h) if x == 0 else x


def _sign(x):
    """np.sign(x) of a Python float, as a float: -1, 0 (of -0.0 too) or 1,
    nan at nan; numpy's own for anything else (an int's is an int64)."""
    if x.__class__ is not float:
        return np.sign(x)
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return 0.0 if x == 0 else x


class ComplexError(TypeError):
    """A complex value where a derivative holds for real numbers only."""


def _slope(x):
    """`np.sign(x)`, the derivative of `abs` at `x`, of real numbers; `abs`
    of a complex number has no complex derivative (and the real gradient of
    a function of complex values conjugates, which symgrad's rules do not):
    a complex `x` raises ComplexError."""
    if (
        x.dtype.kind == "c"
        if isinstance(x, np.ndarray)  # (np.matrix and masked arrays too)
        else isinstance(x, complex | np.complexfloating)
    ):
        raise ComplexError(
            "abs of a complex value: symgrad differentiates functions of real "
            "numbers (pass the real and imaginary parts as real arrays)"
        )
    return np.sign(x)


def _abs(x):
    """np.abs(x) of a Python float: the builtin's (the same float, 0.0 of
    -0.0, nan of nan); numpy's own for anything else (an int's is an int64)."""
    return abs(x) if x.__class__ is float else np.abs(x)


def _square(x):
    """np.square(x) of a Python float, `x * x` as numpy computes it (where that
    overflows, OverflowError: the float body's caller then runs numpy's,
    which warns); numpy's own for anything else (an int's is an int64, which
    may wrap around)."""
    if x.__class__ is not float:
        return np.square(x)
    square = x * x
    if square == _INF and abs(x) != _INF:
        raise OverflowError("np.square overflows")
    return square


def _reciprocal(x):
    """np.reciprocal(x) of a Python float, `1.0 / x` (ZeroDivisionError at 0,
    OverflowError where a tiny x overflows: the float body's caller then runs
    numpy's, which warns); numpy's own for anything else (an int's is an
    int64: 0 for 2)."""
    if x.__class__ is not float:
        return np.reciprocal(x)
    inverse = 1.0 / x
    if abs(inverse) == _INF:  # (|x| < 2**-1024, a subnormal)
        raise OverflowError("np.reciprocal overflows")
    return inverse


def _minimum(a, b):
    """np.minimum(a, b) of Python numbers (1 us less): where one is a float,
    the smaller as a float, a nan if either is, `b` where they are equal (of
    0.0 and -0.0, as numpy); numpy's own for two ints (int64, which wraps)."""
    if a.__class__ is not float and b.__class__ is not float:
        return np.minimum(a, b)
    if a < b or a != a:
        return a if a.__class__ is float else float(a)
    return b if b.__class__ is float else float(b)


def _maximum(a, b):
    """np.maximum(a, b) of Python numbers, as `_minimum`."""
    if a.__class__ is not float and b.__class__ is not float:
        return np.maximum(a, b)
    if a > b or a != a:
        return a if a.__class__ is float else float(a)
    return b if b.__class__ is float else float(b)


def _pow(a, b):
    """`a ** b` of Python numbers where numpy's float64 would not make a
    complex number: two ints exactly, as Python (`pow(3, n) % 7`), else
    `math.pow`, which raises where `**` makes one of a negative float (the
    float body then gives way to the numpy body)."""
    if a.__class__ is int and b.__class__ is int:
        return a**b
    return math.pow(a, b)


def _logaddexp(x, y):
    """np.logaddexp(x, y) of Python numbers as numpy computes it (the log1p
    and exp are the C library's, as `math`'s: to an ulp of numpy 2's SIMD
    exp), a float; 1 us less."""
    if x == y:  # (infinities of one sign)
        return x + 0.6931471805599453
    d = x - y
    if d > 0:
        return x + math.log1p(math.exp(-d))
    if d <= 0:
        return y + math.log1p(math.exp(d))
    return d  # (a nan)


class SeedError(ValueError):
    """A missing or wrongly shaped seed (the output cotangent)."""


def _check_seed(function, seed, value):
    """Return the cotangent of `value`: `seed`, or 1 for a scalar output (1.0,
    or a one of its dtype for a float32 or float16 output)."""
    if isinstance(value, float) and (seed is None or isinstance(seed, float | int)):
        return 1.0 if seed is None else float(seed)  # (True is 1.0, not True)
    if value is None:
        raise SeedError(
            f"{function}: the function returned None, which has no gradient"
        )
    if isinstance(seed, list | tuple):
        seed = np.asarray(seed, dtype=float)
    if seed is None:
        if np.ndim(value) != 0:
            raise SeedError(
                f"{function}: the output has shape {np.shape(value)}, so a seed of "
                "that shape is required (the cotangent, as in backward(gradient=...))"
            )
        # a float32 (float16) output's seed is of its dtype: np.dot of a
        # Python float and float32 values is float64
        kind = getattr(value, "dtype", None)
        if kind is not None and kind.kind == "f" and kind.itemsize < 8:
            return kind.type(1.0)
        return 1.0
    if not isinstance(
        seed, int | float | complex | np.number | np.bool_ | np.ndarray
    ) or (isinstance(seed, np.ndarray | np.generic) and seed.dtype.kind in "SUVmM"):
        raise SeedError(
            f"{function}: the seed must be a number or an array of numbers, "
            f"got {type(seed).__name__} {seed!r}"[:200]
        )
    if np.shape(seed) != np.shape(value):
        raise SeedError(
            f"{function}: the seed has shape {np.shape(seed)} but the output has "
            f"shape {np.shape(value)}"
        )
    if isinstance(seed, int | np.integer | np.bool_) or (
        isinstance(seed, np.ndarray) and seed.ndim == 0 and seed.dtype.kind in "biu"
    ):
        return float(seed)  # (a Python float: `2.0 * seed` keeps x's float32)
    if isinstance(seed, np.ndarray) and seed.dtype.kind in "biu":
        # adjoints are float (some are added in place): the output's, if it is
        float_output = isinstance(value, np.ndarray) and value.dtype.kind == "f"
        return seed.astype(value.dtype if float_output else float)
    return seed


def _entries_grad(items, *grads):
    """The cotangent of `items` unpacked into names (`W, b = params`), from
    each entry's cotangent (None: one the output does not depend on): for a
    tuple or list, one of its kind holding them, whatever their shapes (as
    JAX returns a pytree); for an array, the entries' cotangents stacked."""
    grads = [
        _zeros_grad(item) if g is None else g
        for item, g in zip(items, grads, strict=True)
    ]
    if isinstance(items, list):
        return grads
    if isinstance(items, tuple):
        return tuple(grads)
    dtype = np.result_type(*grads)  # (a float32 array's: float32, as numpy
    dtype = dtype if dtype.kind in "fc" else np.dtype(float)  # promotes them)
    return np.stack(grads).astype(dtype, copy=False)


def _zeros_grad(x):
    """Zeros of x's shape, for the cotangent of `x` (the gradient of an input
    the output does not depend on, or a loop's adjoint accumulator): in x's
    dtype where `x` is a float array, as a float32 parameter has a float32
    gradient; float64 otherwise."""
    if x.__class__ is np.ndarray:
        return np.zeros(x.shape, x.dtype if x.dtype.kind in "fc" else float)
    if x.__class__ is float:
        return 0.0
    if isinstance(x, np.floating):  # (np.float32(0.0) for an np.float32)
        return x.dtype.type(0.0)
    if isinstance(x, str):  # (wrt= naming a string option: no gradient)
        raise TypeError(f"there is no gradient with respect to the string {x!r}")
    return 0.0 if np.ndim(x) == 0 else np.zeros(np.shape(x))


def _div(a, b):
    """`a / b` with numpy's inf or nan where `b` is 0: Python raises for two
    numbers, where np.divide (15x slower on them) returns a numpy float64;
    a list or tuple is the array numpy reads (`np.log(x)` of a list)."""
    try:
        return a / b
    except ZeroDivisionError:
        return np.divide(a, b)
    except TypeError:
        if isinstance(a, list | tuple) or isinstance(b, list | tuple):
            return np.divide(a, b)
        raise


def _spread(g, x):
    """`np.full(np.shape(x), g)`: the cotangent `g` of a total of all of `x`,
    spread over x's shape; in x's dtype where `x` is a float array and `g` a
    Python number (the seed), so a float32 input keeps float32 cotangents."""
    if x.__class__ is np.ndarray:
        if g.__class__ in (float, int):
            return np.full(x.shape, g, x.dtype if x.dtype.kind in "fc" else float)
        if x.dtype.kind in "fc":  # (a float32 g of a float64 x: float64, as numpy)
            return np.full(x.shape, g, np.result_type(g, x.dtype))
        return np.full(x.shape, g)
    if x.__class__ is float and g.__class__ is float:
        return g
    if np.ndim(x) == 0 == np.ndim(g):
        # a number's: a number (x's float type for a numpy float, np.float32)
        if isinstance(x, np.floating) and g.__class__ in (float, int):
            return x.dtype.type(g)
        return g[()] if g.__class__ is np.ndarray else g
    return np.full(np.shape(x), g)


def _inexact(x):
    """`x` as np.linalg.norm reads it: itself if it is a float (or complex)
    array or number, else in float64, so squaring an int8 `x` cannot wrap;
    a list or tuple as an array."""
    if isinstance(x, list | tuple):
        x = np.asarray(x)
    if x.__class__ is np.ndarray:
        return x if x.dtype.kind in "fcO" else x.astype(float)
    return float(x) if isinstance(x, int | np.integer | np.bool_) else x


def _copy_arg(x):
    """A copy of the argument `x` to write into: np.copy's array, but a list
    of ints or bools is copied into floats, so that an entry holds the float
    (or int) written into it, as the list's own entry would, where an int
    array would truncate it and a bool array make it True (an int array
    argument truncates, as numpy does).  An entry read back is a float: one
    used as an index raises IndexError, where Python's int would index."""
    if x.__class__ is list:
        copied = np.array(x)
        return copied.astype(float) if copied.dtype.kind in "biu" else copied
    return np.copy(x)


def _tile_grad(g, x, reps):
    """The cotangent of x in `np.tile(x, reps)`: g's tiles summed (numpy
    pads the shorter of x's shape and reps with leading ones)."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    shape = np.shape(x)
    d = max(len(shape), len(reps))
    padded = (1,) * (d - len(shape)) + shape
    reps = (1,) * (d - len(reps)) + reps
    tiles = np.reshape(g, [n for pair in zip(reps, padded, strict=True) for n in pair])
    total = np.reshape(np.sum(tiles, axis=tuple(range(0, 2 * d, 2))), shape)
    return total if isinstance(x, np.ndarray) else total[()]  # (a number's: one)


def _fit(value, like):
    """`value`, to be written where `like` is: of like's shape where it is
    empty (the cotangent of a list popped empty has shape (0,), where its
    place in a list of arrays has (0, 2))."""
    return np.reshape(value, np.shape(like)) if np.size(value) == 0 else value


def _lower(x, diagonal=1.0):
    """The lower triangle of x's last two axes, its diagonal times `diagonal`
    (np.linalg.cholesky's derivative halves it, or leaves it out)."""
    out = np.tril(x)
    if diagonal != 1.0:
        i = np.arange(min(np.shape(x)[-2:]))
        out[..., i, i] = out[..., i, i] * diagonal
    return out


def _diag_grad(g, v, k=0):
    """The cotangent of v in `np.diag(v, k)`: g's k-th diagonal (of a vector
    v), or zeros of v's shape with g on that diagonal (of a matrix v)."""
    g = np.asarray(g)
    if np.ndim(v) == 1:
        return np.diagonal(g, k).copy()
    out = _zeros_buffer(v)  # (of v's dtype, as an indexed read's)
    i = np.arange(len(g))
    out[i - min(k, 0), i + max(k, 0)] = g
    return out


def _pad_grad(g, x, pad_width, mode="constant"):
    """The cotangent of x in `np.pad(x, pad_width, mode=mode)`: g's middle
    (a constant padding), or each entry's copies added back (edge, reflect,
    symmetric, wrap), found by padding the entries' numbers the same way."""
    shape = np.shape(x)
    g = np.asarray(g)
    if mode == "constant":
        pairs = np.broadcast_to(np.asarray(pad_width), (len(shape), 2))
        middle = [slice(b, b + n) for (b, _), n in zip(pairs, shape, strict=True)]
        return g[tuple(middle)]
    owner = np.pad(np.arange(np.size(x)).reshape(shape), pad_width, mode=mode)
    total = np.zeros(np.size(x), g.dtype if g.dtype.kind in "fO" else float)
    np.add.at(total, np.ravel(owner), np.ravel(g))
    return total.reshape(shape)[()]  # (of a number x, a number)


def _repeat_grad(g, x, repeats, axis=None):
    """The cotangent of x in `np.repeat(x, repeats, axis)`: each entry's
    copies added back (of the flattened x where axis is None)."""
    x = np.asarray(x)
    n = x.size if axis is None else x.shape[axis]
    owner = np.repeat(np.arange(n), repeats)  # (the entry each copy is of)
    g = np.asarray(g)
    if axis is None:
        total = np.zeros(n, g.dtype if g.dtype.kind in "fc" else float)
        np.add.at(total, owner, g)
        return total.reshape(x.shape) if x.ndim else total[0]
    moved = np.moveaxis(g, axis, 0)
    total = np.zeros((n, *moved.shape[1:]), moved.dtype)
    np.add.at(total, owner, moved)
    return np.moveaxis(total, 0, axis)


def _solve_vec(a, r, b):
    """np.linalg.solve(a, r), reading r as np.linalg.solve(a, b) reads b: as
    vectors (one per matrix of a stack) where b is 1-d, else as matrices."""
    if np.ndim(b) == 1:
        return np.linalg.solve(a, np.asarray(r)[..., None])[..., 0]
    return np.linalg.solve(a, r)


def _solve_apply(m, x, b):
    """m @ x, reading x as np.linalg.solve(a, b) reads b (see `_solve_vec`)."""
    if np.ndim(b) == 1:
        return (m @ np.asarray(x)[..., None])[..., 0]
    return m @ x


def _solve_outer(u, x, b):
    """u @ x^T, reading u and x as np.linalg.solve(a, b) reads b: the outer
    products of vectors where b is 1-d (see `_solve_vec`)."""
    if np.ndim(b) == 1:
        return np.asarray(u)[..., :, None] * np.asarray(x)[..., None, :]
    return u @ np.matrix_transpose(x)


def _logabsdet(a):
    """log |det a|, without the overflow of np.linalg.det (np.linalg.slogdet's)."""
    return np.linalg.slogdet(a)[1]


def _slogdet_sign(a):
    """The sign of det a (np.linalg.slogdet's): no derivative."""
    return np.linalg.slogdet(a)[0]


def _owned(g):
    """A gradient the caller may modify: arrays are copied, numbers kept."""
    return np.array(g) if isinstance(g, np.ndarray) else g


def _mean(x):
    """`np.mean(x)` over all of `x`, bit for bit, without its 1.5 us of Python:
    for a float array numpy computes this very sum and divides it by this
    count (float16 sums in float32, so it, and anything else, takes np.mean)."""
    if x.__class__ is np.ndarray:
        n = x.size
        if n and (x.dtype is _F64 or x.dtype.char == "d"):  # float64: a Python
            # int divides as np.mean's intp
            return np.add.reduce(x, None) / n
        if n and x.dtype.kind == "f" and x.itemsize >= 4:  # (float32 / int: float32)
            total = np.add.reduce(x, None)
            return total.dtype.type(total / np.intp(n))
    return np.mean(x)


def _sum_squares(x, axis=None, keepdims=False):
    """`np.sum(x**2, axis, keepdims)` in one pass for a float64 array: a dot
    product over all of `x` (a vector's `dot` method, 0.15 us faster than
    np.vdot's dispatch), np.einsum along one axis of a large `x` (4x faster
    than squaring into a temporary and summing it).  The same sum of the same
    squares, rounded in another order; anything else is that expression."""
    if (
        x.__class__ is np.ndarray
        and (x.dtype is _F64 or x.dtype.char == "d")
        and x.ndim
    ):
        if axis is None:
            total = x.dot(x) if x.ndim == 1 else np.vdot(x, x)
            return np.reshape(total, (1,) * x.ndim) if keepdims else total
        if axis.__class__ is int and -x.ndim <= axis < x.ndim and x.size >= 512:
            axis %= x.ndim
            axes = "abcdefghijklmnopqrstuvwxyz"[: x.ndim]
            kept = axes[:axis] + axes[axis + 1 :]
            total = np.einsum(f"{axes},{axes}->{kept}", x, x)
            return np.expand_dims(total, axis) if keepdims else total
    return np.sum(x**2, axis=axis, keepdims=keepdims)


def _mean_squares(x):
    """`np.mean(x**2)` in one pass for a float64 array (a dot product, the
    vector's method where it is one, divided by the count as np.mean divides);
    anything else is that expression."""
    if x.__class__ is np.ndarray and (x.dtype is _F64 or x.dtype.char == "d"):
        n = x.size
        if n:
            return (x.dot(x) if x.ndim == 1 else np.vdot(x, x)) / n
    return np.mean(x**2)


def _mul_into(buffer, a, b):
    """`a * b`, written into `buffer` (a temporary nothing reads again, of the
    product's shape) when it is a float array of at least 128 KB and the
    product has its dtype: fresh memory that large faults in page by page."""
    if (
        buffer.__class__ is np.ndarray
        and buffer.nbytes >= 131072  # (malloc maps larger blocks page by page)
        and buffer.dtype.kind == "f"
        and (
            a.__class__ in (float, int)
            or a.__class__ is np.ndarray
            and a.dtype == buffer.dtype
        )
        and (
            b.__class__ in (float, int)
            or b.__class__ is np.ndarray
            and b.dtype == buffer.dtype
        )
        and buffer.shape in (np.shape(a), np.shape(b))
    ):
        return np.multiply(a, b, out=buffer)
    return a * b


def _shape(x):
    """`np.shape(x)`, but a number's shape without converting it (2 us)."""
    return () if isinstance(x, (float, int, np.generic)) else np.shape(x)


def _count(x):
    """`np.size(x) or 1`: what np.mean divides by (1 for an empty array, whose
    mean is nan, so that the division does not raise first); an array's own
    `.size` where `x` is one (np.size costs 0.1 us more)."""
    return (x.size if x.__class__ is np.ndarray else np.size(x)) or 1


def _axis_index(axis, ndim):
    """`axis` of an array of `ndim` axes, from 0, checked as numpy checks it."""
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    return axis % ndim


def _same_shapes(items, function, axis=0, line=None):
    """Check a list `function` (np.concatenate, np.vstack) joins, made at run
    time: its entries share a shape (symgrad joins them by stacking; numpy's
    need not), and they have `axis`, as numpy checks (None: any shape).
    `line`: the source line of the call, for the error."""
    shapes = {np.shape(item) for item in items}
    if len(shapes) > 1:
        listed = ", ".join(_shape_text(item) for item in items)
        raise StackError(
            f"{function} of a list made at run time joins arrays of one shape "
            f"here; these have shapes {listed} (give them one shape, or write "
            f"the list out in the call: {function}([a, b, c]))",
            line,
        )
    if axis is not None and shapes:
        (shape,) = shapes  # (numpy's own checks of `axis`, on an empty array)
        np.concatenate([np.empty((0,) * len(shape))], axis=axis)


def _vstack_shape(y):
    """The shape of np.vstack of the entries `y` stacks: numbers are rows of
    one, vectors rows, and arrays of more axes are joined along their first."""
    shape = np.shape(y)
    if len(shape) == 1:
        return shape + (1,)
    return shape if len(shape) == 2 else (shape[0] * shape[1],) + shape[2:]


def _merged_shape(y, axis=0):
    """The shape of np.concatenate of the entries `y` stacks along `axis` (of
    `y`, checked by `_same_shapes`): that axis merged with the next, in
    numpy's order (entry by entry)."""
    shape = np.shape(y)
    at = axis % len(shape)
    return shape[:at] + (shape[at] * shape[at + 1],) + shape[at + 2 :]


def _ndim_at_least(x, n, function):
    """Check that `x` has the `n` axes numpy's `function` needs, raising its
    error where it has fewer."""
    if np.ndim(x) < n:
        if function in ("triu", "tril"):
            raise TypeError(f"np.{function} of a 0-d value (numpy's raises TypeError)")
        if function == "trace":
            raise ValueError("diag requires an array of at least two dimensions")
        raise ValueError(f"Input must be >= {n}-d.")  # (np.flipud, np.fliplr)


class JoinError(TypeError):
    """Lists or tuples joined with `+` or repeated with `*`, where symgrad
    differentiates numpy's elementwise operation (at source line `line`)."""

    def __init__(self, message, line=None):
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


def _any_sequence(*values):
    """Is one of `values` a list or a tuple (so that `_not_joined` may find
    one joined or repeated)?"""
    for value in values:
        if isinstance(value, (list, tuple)):
            return True
    return False


def _not_joined(a, b, op, line=None):
    """Check that `a op b` (`+` or `*`), at source line `line`, is numpy's
    elementwise operation, as symgrad differentiates it: not Python's join of
    two lists or tuples, nor the repetition of one by an int."""
    if not (isinstance(a, (list, tuple)) or isinstance(b, (list, tuple))):
        return  # (numbers and arrays, in 90 ns: a union type costs twice that)
    if op == "+" and isinstance(a, list | tuple) and isinstance(b, list | tuple):
        raise JoinError(
            f"'+' joins two {type(a).__name__}s here (Python's +), where symgrad "
            "differentiates numpy's elementwise sum: pass arrays (np.asarray), or "
            "join them with np.concatenate",
            line,
        )
    for this, count in ((a, b), (b, a)):
        if op == "*" and isinstance(this, list | tuple):
            if isinstance(count, int | np.integer):
                raise JoinError(
                    f"'*' repeats a {type(this).__name__} here (Python's *), where "
                    "symgrad differentiates numpy's elementwise product: pass an "
                    "array (np.asarray), or repeat it with np.tile",
                    line,
                )


def _take_indices(indices, n, mode):
    """np.take's `indices` into an axis of length `n`, as numpy reads them: a
    list or number as ints (truncated; an empty list is no index), an array
    of floats refused (TypeError), booleans as 0 and 1; clipped into the
    axis (mode "clip") or wrapped around it ("wrap")."""
    if isinstance(indices, np.ndarray | np.generic) and indices.dtype.kind == "f":
        indices.astype(np.intp, casting="same_kind")  # (numpy's TypeError)
    at = np.asarray(indices).astype(np.intp)
    if mode == "clip":
        return np.clip(at, 0, n - 1)
    if mode == "wrap":
        return at % n
    if mode != "raise":
        raise ValueError(
            f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})"
        )
    return at


def _diff_order(n):
    """np.diff's `n`, checked as numpy checks it."""
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n!r}")
    return n


def _clip_bound(bound, unbounded):
    """A bound of np.clip as its derivative compares with it: None (numpy's
    "no bound on this side") as `unbounded`, -inf for the lower bound and inf
    for the upper; a number or an array as it is."""
    return unbounded if bound is None else bound


def _unbroadcast(g, x):
    """Sum `g` down to the shape of `x`, undoing numpy broadcasting."""
    if x.__class__ is float or x.__class__ is np.float64:  # (a number, as an
        # entry read from a float array is: scalar loops over arrays)
        if g.__class__ is np.ndarray:  # (common; g.sum() without its Python-level
            # wrapper; a 0-d g, as np.where makes, as a number like x)
            return np.add.reduce(g, None) if g.ndim else g[()]
        if g.__class__ is float or g.__class__ is np.float64:
            return g
    elif g.__class__ is x.__class__ is np.ndarray and g.shape == x.shape:
        return g  # (the other common case)
    if isinstance(x, np.ndarray):
        return _sum_to(g, x.shape)
    g = _sum_to(g, _shape(x))
    return g[()] if g.__class__ is np.ndarray and not g.ndim else g  # (a number)


def _sum_to(g, shape):
    """Sum `g` down to `shape`, undoing numpy broadcasting."""
    if (g.shape if isinstance(g, np.ndarray) else _shape(g)) == shape:
        return g
    g = np.asarray(g)  # (the ndarray methods skip np.sum's dispatch: 2x faster)
    if not shape:
        return g.sum()
    if g.ndim > len(shape):
        g = _sum_leading(g, g.ndim - len(shape))
        if g.shape == shape:  # (the common case: a bias's cotangent)
            return g
    # A g of lower rank than x (from `p * _unbroadcast(g, x)`, p of x's shape)
    # lines up with x's last axes and keeps its rank: it broadcasts against x.
    pairs = enumerate(zip(shape[len(shape) - g.ndim :], g.shape, strict=True))
    kept = tuple(i for i, (size, n) in pairs if size == 1 and n != 1)
    g = g.sum(axis=kept, keepdims=True) if kept else g
    lead = len(shape) - g.ndim
    if lead and g.shape == shape[lead:] and shape[:lead] == (1,) * lead:
        # x's leading axes are 1s (numpy drops them writing x into a slot of
        # lower rank, `y[0] = x` for x of shape (1, 3)): g in x's shape
        return g.reshape(shape)
    return g


def _sum_leading(g, k):
    """`g.sum(axis=tuple(range(k)))` for an array `g`; for float rows (the
    first k axes flattened) at least 128 of them and each of two or more
    numbers, one matrix-vector product `ones @ g`, rounded as BLAS sums:
    numpy adds row by row, 2-5x slower on narrow rows (21 us against 6 us
    for a (1000, 25) array)."""
    tail = g.shape[k:]
    cols = 1
    for n in tail:
        cols *= n
    if (
        cols >= 2
        and g.size >= 128 * cols
        and g.dtype.char in "fd"
        and g.flags.c_contiguous
    ):
        rows = g.size // cols
        return (np.ones(rows, g.dtype) @ g.reshape(rows, cols)).reshape(tail)
    return g.sum(axis=tuple(range(k)))


def _unbroadcast_mul(g, p, x):
    """`_unbroadcast(g * p, x)`, summing before multiplying where one factor is
    constant along the summed axes: `p * g.sum(0)` rather than `(g * p).sum(0)`."""
    if x.__class__ is float or x.__class__ is np.float64:
        if g.__class__ is p.__class__ is np.ndarray:  # (the common case of a
            # scalar parameter and vector data: a dot product, by the method,
            # which skips np.dot's dispatch, 0.15 us)
            if (
                g.ndim == 1 == p.ndim
                and len(g) == len(p)
                and (g.dtype is p.dtype is _F64 or g.dtype.kind == p.dtype.kind == "f")
            ):
                return g.dot(p)
        elif g.__class__ in _NUMBERS and p.__class__ in _NUMBERS:
            return g * p  # (scalar loops: the number each step's product is)
    elif (  # arrays of one shape: nothing to sum
        g.__class__ is p.__class__ is x.__class__ is np.ndarray
        and g.shape == p.shape == x.shape
    ):
        return g * p
    return _sum_product(g, p, x)


def _sum_product(g, p, x):
    """`_unbroadcast_mul` past its fast paths."""
    gs = g.shape if g.__class__ is np.ndarray else _shape(g)
    ps = p.shape if p.__class__ is np.ndarray else _shape(p)
    shape = x.shape if x.__class__ is np.ndarray else _shape(x)
    if gs == ps:  # one shape: nothing to sum first
        if gs == shape:
            return g * p
        if _fusable(g, p, len(shape)):
            return _product_sum(g, p, shape)
        return _unbroadcast(g * p, x)
    n = max(len(gs), len(ps))
    if n < len(shape):
        return _unbroadcast(g * p, x)
    gs, ps = (1,) * (n - len(gs)) + gs, (1,) * (n - len(ps)) + ps
    lead = n - len(shape)
    summed = [
        i
        for i in range(n)
        if (i < lead or shape[i - lead] == 1) and (gs[i] != 1 or ps[i] != 1)
    ]
    if all(ps[i] == 1 for i in summed):
        r, keep, rs = g, p, gs
    elif all(gs[i] == 1 for i in summed):
        r, keep, rs = p, g, ps
    else:
        return _unbroadcast(g * p, x)
    # (a Python number stays one: numpy promotes float32 by a 0-d float64
    # array, not by the number)
    number = isinstance(r, float | int)
    r = r if number else np.asarray(r)
    skip = n - (0 if number else r.ndim)  # r's missing leading axes
    inner = tuple(i - skip for i in summed if i >= lead and rs[i] != 1)
    if inner:
        r = r.sum(axis=inner, keepdims=True)
    if lead > skip:
        r = _sum_leading(r, lead - skip)
    out = r * keep
    if np.ndim(out) > len(shape):
        out = out.reshape(np.shape(out)[np.ndim(out) - len(shape) :])[()]
    return out


def _fusable(g, p, ndim):
    """Are `g` and `p` float arrays whose product is better summed in one
    pass, without the product array?  (A dot product always; einsum past a
    few thousand elements, below which its set-up costs more than it saves.)"""
    return (
        isinstance(g, np.ndarray)
        and isinstance(p, np.ndarray)
        and g.dtype.kind == p.dtype.kind == "f"
        and g.ndim >= ndim
        and ((g.ndim == 1 and ndim == 0) or g.size >= 4096)
    )


def _product_sum(g, p, shape):
    """`_unbroadcast(g * p, x)` for `g`, `p` of one shape and `x` of `shape`."""
    if g.ndim == 1 and not shape:
        return g.dot(p)
    lead = g.ndim - len(shape)
    axes = list(range(g.ndim))
    pairs = enumerate(zip(shape, g.shape[lead:], strict=True), lead)
    kept = [i for i, (size, n) in pairs if size == n]
    return np.einsum(g, axes, p, axes, kept).reshape(shape)[()]


def _keepdims(g, x, axis):
    """`g`, the cotangent of a reduction of `x` over `axis` without keepdims,
    with the reduced axes put back at length 1.  numpy reduces a 0-d `x` over
    axis 0 or -1 to itself, so then `g` comes back as it is.  (An int axis of
    arrays skips np.expand_dims's 1.5 us of axis normalisation.)"""
    if (
        isinstance(g, np.ndarray)
        and isinstance(x, np.ndarray)
        and axis.__class__ is int
        and g.ndim == x.ndim - 1
    ):
        axis %= x.ndim
        return g.reshape(g.shape[:axis] + (1,) + g.shape[axis:])
    if np.ndim(x) == 0:
        return g
    if (
        g.__class__ in (float, int)
        and x.__class__ is np.ndarray
        and x.dtype.kind in "fc"
    ):
        g = x.dtype.type(g)  # (the seed of a vector's total: a float32 x keeps float32)
    return np.expand_dims(g, axis)


def _extremum_grad(g, x, out, axis=None, keepdims=False):
    """Adjoint of np.max / np.min: `g` split evenly between tied extrema."""
    if axis is not None and not keepdims:
        out = _keepdims(out, x, axis)
        g = _keepdims(g, x, axis)
    hit = x == out  # (divides the small g, not the large product: 2.5x faster)
    return hit * (g / _tie_counts(hit, x, axis, True))


def _reduced_groups(g, x, axis, keepdims):
    """For a reduction of `x` over `axis`: `g` with the reduced axes kept, the
    reduced axes, where they are moved (last), `x` with them moved last and
    flattened to one (each reduced group a row), and its shape unflattened."""
    if axis is None or x.ndim == 0:  # (numpy reduces a 0-d x over axis 0 or -1)
        axes = tuple(range(x.ndim))
    else:
        axes = tuple(int(a) for a in np.atleast_1d(axis) % x.ndim)
    if not keepdims:
        g = np.expand_dims(g, axes)
    last = tuple(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, last)
    kept = x.ndim - len(axes)
    n = 1  # (a group's size: reshape's -1 is ambiguous for an empty x)
    for size in moved.shape[kept:]:
        n *= size
    flat = moved.reshape(moved.shape[:kept] + (n,))
    return g, axes, last, flat, moved.shape


def _prod_grad(g, x, axis=None, keepdims=False):
    """Adjoint of np.prod: products of all other entries, exact at zeros (in
    x's float dtype; float64 for integers)."""
    x = np.asarray(x)
    if x.dtype.kind not in "fcO":  # (objects: the symbols `verify` runs it on)
        x = x.astype(float)
    if g.__class__ in (float, int):  # (the seed: an array of it would be float64)
        g = x.dtype.type(g)
    g, axes, last, flat, shape = _reduced_groups(g, x, axis, keepdims)
    if not flat.shape[-1]:  # empty groups (their product is 1): no entries
        return g * np.zeros(x.shape, x.dtype)
    ones = np.ones(flat.shape[:-1] + (1,), x.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)
    others = (left * right[..., ::-1]).reshape(shape)
    return g * np.moveaxis(others, last, axes)


def _prod_grad_tangent(g, x, t, axis=None, keepdims=False):
    """Tangent of `_prod_grad(g, x, ...)` along `t` for `x`: g times, for each
    entry j, the sum over k != j of t_k times the product of the entries
    other than j and k.  Products of n - 2 entries, never quotients, so it is
    exact at zeros; it takes n^2 products per reduced group of n entries (in
    x's and t's float dtype; float64 for integers)."""
    x, t = np.asarray(x), np.asarray(t)
    x = x if x.dtype.kind in "fc" else x.astype(float)
    t = np.broadcast_to(t if t.dtype.kind in "fc" else t.astype(float), x.shape)
    if g.__class__ in (float, int):  # (the seed: an array of it would be float64)
        g = x.dtype.type(g)
    g, axes, last, flat, shape = _reduced_groups(g, x, axis, keepdims)
    n = flat.shape[-1]
    diagonal = np.arange(n)
    rows = np.repeat(flat[..., None, :], n, axis=-2)  # row j: x with x_j = 1
    rows[..., diagonal, diagonal] = 1.0
    ones = np.ones(rows.shape[:-1], x.dtype)
    pairs = _prod_grad(ones, rows, -1)  # [j, k]: x without j, k
    pairs[..., diagonal, diagonal] = 0.0
    tangent = pairs @ np.moveaxis(t, axes, last).reshape(flat.shape + (1,))
    return g * np.moveaxis(tangent.reshape(shape), last, axes)


def _as_matrices(g, a, b):
    """Promote 1-D matmul operands, and the cotangent with them, to matrices."""
    if np.ndim(b) == 1:
        g = np.expand_dims(g, -1)
        b = np.reshape(b, (-1, 1))
    if np.ndim(a) == 1:
        g = np.expand_dims(g, -2)
        a = np.reshape(a, (1, -1))
    return g, a, b


def _listed(x):
    """`x`, or the array numpy reads a list or tuple `x` as (`np.dot([1.0,
    2.0], y)`: its adjoint multiplies and transposes it)."""
    return np.asarray(x) if x.__class__ is list or x.__class__ is tuple else x


def _ranks(a, b):
    """`(np.ndim(a), np.ndim(b))`, read off the arrays where they are (faster)."""
    if a.__class__ is b.__class__ is np.ndarray:
        return a.ndim, b.ndim
    return np.ndim(a), np.ndim(b)


def _product_cotangent(g, a, b):
    """`g`, the cotangent of a value `a @ b` was broadcast to, summed back to
    the shape of `a @ b`."""
    sa = a.shape if a.__class__ is np.ndarray else np.shape(a)
    sb = b.shape if b.__class__ is np.ndarray else np.shape(b)
    if len(sb) == 1:
        shape = sa[:-1]
    elif len(sa) == 1:
        shape = sb[:-2] + sb[-1:]
    elif len(sa) == len(sb) == 2:
        shape = (sa[0], sb[1])
    else:
        shape = np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])
    g = _sum_to(g, shape)
    if g.__class__ is np.ndarray and g.shape == shape:
        return g
    return np.broadcast_to(g, shape)  # (a g of lower rank)


def _matmul_lhs_grad(g, a, b, broadcast=False):
    """Adjoint of `a @ b` with respect to `a`, for every rank matmul accepts.
    With `broadcast`, `g` is the cotangent of a value `a @ b` was broadcast
    to (`a @ b + c`), summed back to the product's shape here."""
    a, b = _listed(a), _listed(b)
    ranks = _ranks(a, b)
    if ranks == (1, 1):  # (a dot product: g is a number, or summed to one)
        return (_sum_to(g, ()) if broadcast else g) * b
    if broadcast:
        g = _product_cotangent(g, a, b)
    if ranks == (2, 2):
        return g @ b.T
    if ranks == (2, 1):
        return np.outer(g, b)
    if ranks == (1, 2):
        return b @ g
    g2, a2, b2 = _as_matrices(g, a, b)
    return np.reshape(_unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2), np.shape(a))


def _matmul_rhs_grad(g, a, b, broadcast=False):
    """Adjoint of `a @ b` with respect to `b`, for every rank matmul accepts.
    With `broadcast`, `g` is the cotangent of a value `a @ b` was broadcast
    to (`a @ b + c`), summed back to the product's shape here."""
    a, b = _listed(a), _listed(b)
    ranks = _ranks(a, b)
    if ranks == (1, 1):
        return (_sum_to(g, ()) if broadcast else g) * a
    if broadcast:
        g = _product_cotangent(g, a, b)
    if ranks == (2, 2):
        return a.T @ g
    if ranks == (2, 1):
        return g @ a
    if ranks == (1, 2):
        return np.outer(a, g)
    g2, a2, b2 = _as_matrices(g, a, b)
    return np.reshape(_unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2), np.shape(b))


def _stacked_product(us, vs):
    """sum_t us[t] @ vs[t].T as one product of the stacked pairs (vectors as
    columns, matrices side by side), or None where the pairs are not all
    vectors or all matrices of one height (shapes that change between steps)."""
    if not len(us) or np.ndim(us[0]) not in (1, 2):
        return None
    try:
        if np.ndim(us[0]) == 1:  # U (M, T), V (N, T)
            u, v = np.stack(us, axis=-1), np.stack(vs, axis=-1)
        else:  # U (M, K T), V (N, K T)
            u, v = np.concatenate(us, axis=1), np.concatenate(vs, axis=1)
    except ValueError:  # (numpy's AxisError is one)
        return None
    return u @ v.T if u.ndim == v.ndim == 2 else None


def _matmul_lhs_grad_sum(gs, a, bs):
    """`_matmul_lhs_grad(g, a, b)` summed over the pairs of `gs` and `bs` (one
    pair per loop step): for a matrix `a`, one product of the stacked pairs,
    sum_t g_t @ b_t.T, instead of an outer product per step."""
    total = _stacked_product(gs, bs) if np.ndim(a) == 2 else None
    if total is None:
        total = np.zeros(np.shape(a))
        for g, b in zip(gs, bs, strict=True):
            total = total + _matmul_lhs_grad(g, a, b)
    return total


def _matmul_rhs_grad_sum(gs, as_, b):
    """`_matmul_rhs_grad(g, a, b)` summed over the pairs of `gs` and `as_`: for
    a matrix `b`, one product of the stacked pairs, sum_t a_t.T @ g_t, instead
    of an outer product per step."""
    total = None
    if np.ndim(b) == 2:
        total = _stacked_product(
            [np.transpose(a) for a in as_], [np.transpose(g) for g in gs]
        )
    if total is None:
        total = np.zeros(np.shape(b))
        for g, a in zip(gs, as_, strict=True):
            total = total + _matmul_rhs_grad(g, a, b)
    return total


def _dot_ranks(ranks):
    if ranks[0] > 2 or ranks[1] > 2:
        raise ValueError(
            "the gradient of np.dot is defined here for arrays of up to 2 "
            "dimensions; use @ (np.matmul) for stacks of matrices"
        )


def _dot_lhs_grad(g, a, b, broadcast=False):
    """Adjoint of np.dot(a, b) with respect to `a` (scalars, vectors, matrices);
    `broadcast` as for the matmul adjoints."""
    a, b = _listed(a), _listed(b)
    ranks = _ranks(a, b)
    if 0 in ranks:
        return _unbroadcast(g * b, a)
    _dot_ranks(ranks)
    return _matmul_lhs_grad(g, a, b, broadcast)


def _dot_rhs_grad(g, a, b, broadcast=False):
    """Adjoint of np.dot(a, b) with respect to `b` (scalars, vectors, matrices);
    `broadcast` as for the matmul adjoints."""
    a, b = _listed(a), _listed(b)
    ranks = _ranks(a, b)
    if 0 in ranks:
        return _unbroadcast(g * a, b)
    _dot_ranks(ranks)
    return _matmul_rhs_grad(g, a, b, broadcast)


def _transpose_grad(g, axes):
    """Adjoint of np.transpose(x, axes) when `axes` has negative entries."""
    return np.transpose(g, np.argsort(np.mod(axes, np.ndim(g))))


def _setitem(x, index, value):
    """`x[index] = value` on a copy of `x` (the caller's arrays stay as they are);
    the copy keeps `x`'s dtype, so an integer array truncates as numpy does,
    and a list stays a list, which holds what is written as it is."""
    x = list(x) if x.__class__ is list else np.array(x)
    x[index] = value
    return x


def _setitem_add(x, index, value):
    """`x[index] += value` on a copy of `x`."""
    x = np.array(x)
    x[index] += value
    return x


def _setitem_sub(x, index, value):
    """`x[index] -= value` on a copy of `x`."""
    x = np.array(x)
    x[index] -= value
    return x


def _add_at(x, index, value):
    """`np.add.at(x, index, value)` on a copy of `x`: repeated indices add up."""
    x = np.array(x)
    np.add.at(x, index, value)
    return x


def _unpacked(value, n):
    """`value`, checked to unpack into `n` names, as Python checks."""
    if len(value) != n:
        raise ValueError(f"expected {n} values to unpack, got {len(value)}")
    return value


def _bound(value, name):
    """`value`, which a loop binds to `name`, where code after the loop reads
    it: None (what stands in before the loop) if the loop bound it never,
    where Python raises."""
    if value is None:
        raise UnboundLocalError(
            f"cannot access local variable '{name}' where it is not associated "
            "with a value"
        )
    return value


def _list_index(items, i):
    """`i` as `items[i]` reads it, for writing the cotangent of that read into
    an array: a list or tuple reads a bool as an int (`items[True]` is
    `items[1]`), where an array would read it as a mask."""
    return int(i) if i.__class__ is bool and isinstance(items, list | tuple) else i


def _zip_length(n, m, k):
    """The count of `zip(..., strict=True)` whose first iterables have `n`
    items and whose `k`-th has `m`: `n`, or Python's ValueError."""
    if m != n:
        before = "argument 1" if k == 2 else f"arguments 1-{k - 1}"
        longer = "longer" if m > n else "shorter"
        raise ValueError(f"zip() argument {k} is {longer} than {before}")
    return n


class RuleError(ValueError):
    """A custom rule's derivative of the wrong shape."""


def _rule_cotangents(value, n, vjp):
    """What the custom rule's `vjp` returned for a function of `n` arguments,
    if it is a tuple (or list) of `n` cotangents."""
    if not isinstance(value, tuple | list) or len(value) != n:
        raise RuleError(
            f"{vjp} returned {type(value).__name__} {value!r}"[:120]
            + f", not a tuple of {n} cotangents, one per argument"
        )
    return value


def _rule_partial(value, out, what):
    """`value`, a partial derivative a custom rule's grad= returned (`what`),
    if it broadcasts to the output's shape, as an elementwise one does."""
    shape = np.shape(value)
    if shape != np.shape(out) and shape:
        try:
            fits = np.broadcast_shapes(shape, np.shape(out)) == np.shape(out)
        except ValueError:
            fits = False
        if not fits:
            raise RuleError(
                f"{what} has shape {shape}, which does not broadcast to the "
                f"output's shape {np.shape(out)}"
            )
    return value


def _rule_checked(value, like, what):
    """`value`, a derivative a custom rule returned (`what`), if it has the
    shape of `like`: its argument's (a cotangent) or the output's (a tangent);
    None is zeros."""
    if isinstance(like, tuple | list):  # (a rule whose output is a tuple)
        if not isinstance(value, tuple | list) or len(value) != len(like):
            raise RuleError(f"{what} is not a tuple of {len(like)} entries")
        for part, entry in zip(value, like, strict=True):
            _rule_checked(part, entry, f"an entry of {what}")
        return value
    if value.__class__ is tuple and len(value) == 1:  # (JAX's vjp of one argument)
        value = value[0]
    if value is None:  # (no derivative, as JAX's custom_vjp allows: zeros)
        return _zeros_grad(like)
    if np.shape(value) != np.shape(like):
        raise RuleError(
            f"{what} has shape {np.shape(value)}, where {np.shape(like)} is needed"
        )
    return value


class StackError(ValueError):
    """A list or tuple of arrays of different shapes, differentiated (joined
    at source line `line`, where that is known)."""

    def __init__(self, message, line=None):
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


def _zeros_buffer(x):
    """Zeros that an indexed read's cotangent is written into (`x_bar[i] = g`,
    `np.add.at(x_bar, i, g)`): as `_zeros_grad`, but always a writable array,
    0-d for a numpy scalar (which `v[v > 0]` indexes); for a list or tuple
    indexed or unpacked, the array its entries would stack into, which
    entries of different shapes have none."""
    if x.__class__ is np.ndarray:
        return np.zeros(x.shape, x.dtype if x.dtype.kind in "fc" else float)
    if isinstance(x, list | tuple):
        try:
            ragged = len({np.shape(item) for item in x}) > 1
        except ValueError:  # (an entry of arrays of different shapes itself)
            ragged = True
        if ragged:
            listed = ", ".join(_shape_text(item) for item in x)
            raise StackError(
                f"a list or tuple read here holds arrays of shapes {listed}; "
                "symgrad differentiates one whose entries share a shape (pass "
                "the arrays as separate arguments, or unpack the list first: "
                "W1, W2 = params)"
            )
        kinds = {getattr(item, "dtype", None) for item in x}  # (float32 entries:
        kind = kinds.pop() if len(kinds) == 1 else None  # float32 zeros)
        float_kind = kind is not None and kind.kind in "fc"
        return np.zeros(np.shape(x), kind if float_kind else float)
    return np.asarray(_zeros_grad(x))


def _shape_text(x):
    """np.shape(x) as text; for a list or tuple of arrays of different
    shapes, theirs: "((3, 4), (4,))"."""
    try:
        return str(np.shape(x))
    except ValueError:
        return "(" + ", ".join(_shape_text(item) for item in x) + ")"


class RepeatedIndexError(ValueError):
    """An assignment wrote one element twice through repeated indices."""


class SharedArgumentsError(ValueError):
    """Arguments that share memory, where the function writes into one."""

    def __init__(self, message, line):
        super().__init__(message)
        self.line = line


def _unshared(names, line, written, *others):
    """Raise SharedArgumentsError if the argument `written` (`names[0]`),
    which the function writes into at `line`, may share memory with one of
    `others` (`names[1:]`, the other arguments), or holds two arrays that may
    (one array twice) or one list twice: the function's write would change
    that one too, where the generated code writes into a copy and never into
    the caller's arrays.  Lists are compared by identity, arrays by the
    bounds of their bytes (`np.may_share_memory`; so two columns of one
    matrix count as sharing), inside lists and tuples too; numbers share
    nothing."""
    if written.__class__ is float or written.__class__ is int:
        return
    found = None
    if written.__class__ is np.ndarray and not any(
        o.__class__ is list or o.__class__ is tuple for o in others
    ):  # (arrays and numbers: the common case, in pairs)
        for k, other in enumerate(others, 1):
            if isinstance(other, np.ndarray) and np.may_share_memory(written, other):
                found = (0, k)
                break
    else:
        arrays, lists = [], {}
        for k, value in enumerate((written, *others)):
            _held(value, k, arrays, lists)
        found = lists.get(None) or _overlapping(arrays)
    if found is not None:
        a, b = sorted(found)
        shared = (
            f"the argument '{names[a]}' holds one array or list twice, or two "
            "arrays that share memory"
            if a == b
            else f"the arguments '{names[a]}' and '{names[b]}' share memory"
        )
        raise SharedArgumentsError(
            f"{shared}, and line {line} writes into '{names[a]}', which would "
            "change the other too; symgrad writes into a copy of an argument, "
            "never into the caller's array: pass arrays that do not overlap "
            "(np.copy)",
            line,
        )


def _held(value, owner, arrays, lists):
    """Add the arrays `value` is or holds, in lists and tuples, to `arrays` as
    (array, owner), and its lists to `lists` (id -> owners), noting under
    None the first pair of owners that hold one list, one of them 0 (the
    argument written)."""
    pending, seen = [value], set()
    while pending:
        value = pending.pop()
        if isinstance(value, np.ndarray):
            arrays.append((value, owner))
        elif isinstance(value, list | tuple):
            if isinstance(value, list):
                owners = lists.setdefault(id(value), [])
                if owner == 0 and owners or 0 in owners:
                    lists.setdefault(None, (0, owner or owners[0]))
                owners.append(owner)
            if id(value) not in seen:  # (a list holding itself: walked once)
                seen.add(id(value))
                pending += [v for v in value if v.__class__ not in _NUMBERS]


def _overlapping(arrays):
    """The owners of two arrays whose bytes' bounds overlap, one of them of
    owner 0, or None: pairwise for a few arrays, else sorted by address."""
    if len(arrays) <= 16:
        for i, (x, a) in enumerate(arrays):
            for y, b in arrays[i + 1 :]:
                if 0 in (a, b) and np.may_share_memory(x, y):
                    return a, b
        return None
    bounds = sorted((*_bounds(x), owner) for x, owner in arrays if x.size)
    end_any = end_written = None  # (the farthest end so far: of any, of owner 0)
    for lo, hi, owner in bounds:
        if owner == 0 and end_any is not None and lo < end_any[0]:
            return end_any[1], 0
        if owner != 0 and end_written is not None and lo < end_written:
            return 0, owner
        if end_any is None or hi > end_any[0]:
            end_any = (hi, owner)
        if owner == 0 and (end_written is None or hi > end_written):
            end_written = hi
    return None


def _bounds(x):
    """The first and one past the last byte of the array `x`."""
    lo = hi = x.__array_interface__["data"][0]
    for n, step in zip(x.shape, x.strides, strict=True):
        if step < 0:
            lo += (n - 1) * step
        else:
            hi += (n - 1) * step
    return lo, hi + x.itemsize


def _written_grad(g, index, target, value):
    """The cotangent of `value` written by `target[index] = value` (or +=, -=).

    numpy keeps only the last of repeated writes to one element, so a value
    written to a repeated index has no single derivative; symgrad refuses.
    A value an integer or boolean array (not a list) changes when it is
    written, a float into an int array or anything but a bool into a bool
    array, has derivative zero (an int written into an int array is kept
    whole, as into the float array the derivative treats it as).  One
    entry's cotangent is a number, not a 0-d array: the gradient of a Python
    float is a float.  (`g` is a number for a 0-d array output, `y[()] =
    value`.)"""
    part = (g if isinstance(g, np.ndarray) else np.asarray(g))[index]
    cls = target.__class__
    if cls is not float and cls is not list and _truncates(target, value):
        return np.zeros(part.shape) if isinstance(part, np.ndarray) else 0.0
    if index.__class__ is not int:  # (an int writes one entry once: common)
        _refuse_repeats(g, index)
    return part.copy() if isinstance(part, np.ndarray) else part


def _refuse_repeats(g, index):
    """Raise RepeatedIndexError if `index` selects an entry of `g` twice."""
    parts = index if isinstance(index, tuple) else (index,)
    if all(p.__class__ is int or p.__class__ is slice for p in parts):
        return  # (`R[i, j]`, `y[i, :]`: each entry once)
    arrays = [np.asarray(p) for p in parts if isinstance(p, list | tuple | np.ndarray)]
    if any(a.dtype.kind in "iu" and a.size > 1 for a in arrays):
        seen = np.zeros(np.shape(g), dtype=int)
        np.add.at(seen, index, 1)
        if seen.max(initial=0) > 1:
            raise RepeatedIndexError(
                "an assignment writes one element twice through repeated indices; "
                "its derivative is not defined (use np.add.at to accumulate)"
            )


def _einsum_grad(subscripts, k, g, *operands):
    """The cotangent of operand `k` of `np.einsum(subscripts, *operands)`,
    given the output's cotangent `g`: `g` contracted with the other operands
    into operand k's letters (summed over a letter of size 1 in operand k
    that numpy broadcast, spread over one of size 1 in the others), spread
    over the letters only it has."""
    inputs, output = subscripts.split("->")
    terms = inputs.split(",")
    others = [t for i, t in enumerate(terms) if i != k]
    seen = set(output).union(*others)
    kept = "".join(c for c in terms[k] if c in seen)
    rest = [x for i, x in enumerate(operands) if i != k]
    grad = np.einsum(",".join([output, *others]) + "->" + kept, g, *rest)
    shape = np.shape(operands[k])
    sizes = [n for c, n in zip(terms[k], shape, strict=True) if c in seen]
    if np.shape(grad) != tuple(sizes):  # numpy broadcast a letter of size 1:
        wide = tuple(i for i, n in enumerate(sizes) if n == 1 != np.shape(grad)[i])
        grad = np.sum(grad, axis=wide, keepdims=True)  # here, or in the others
        grad = np.array(np.broadcast_to(grad, sizes))
    if len(kept) < len(terms[k]):  # letters summed in operand k alone
        spread = [n if c in seen else 1 for c, n in zip(terms[k], shape, strict=True)]
        grad = np.array(np.broadcast_to(np.reshape(grad, spread), shape))
    return grad


def _cumsum_grad(g, x, axis=None):
    """The cotangent of `x` for `np.cumsum(x, axis)`: the running sum of `g`
    from the end (over all of `x`, flattened, for no axis), in `x`'s shape."""
    if axis is None:
        flat = np.ravel(g)[::-1].cumsum()[::-1]
        return flat.reshape(np.shape(x)) if np.ndim(x) else flat[0]
    return np.flip(np.flip(g, axis).cumsum(axis), axis)


def _kept_grad(g, index, target, value):
    """The cotangent of `target` before `target[index] += value` (or -=):
    `g`, zero at `index` where the array changes what it holds there (an
    int array and a float `value`: the sum is truncated, `_truncates`)."""
    if target.__class__ is list or not _truncates(target, value):
        return g
    return _zero_at(g, index)


def _copy(x):
    """`x`, copied if it is an array: an entry read from an array a later
    line writes into (`_copy(y[i - 1])`), a view if it is a row; a number
    is kept (copying numpy's costs 0.4 us; the one numpy scalar that is a
    view, np.void of a structured array, symgrad refuses)."""
    return x.copy() if isinstance(x, np.ndarray) else x


def _zero_at(g, index):
    """`g` with the entries at `index` set to zero (a copy)."""
    g = np.array(g)
    g[index] = 0.0
    return g


def _concat_grad(g, i, axis, *parts):
    """The slice of `g` that came from `parts[i]` in np.concatenate(parts, axis)."""
    sizes = []
    for p in parts:
        sizes.append(p.shape[axis] if isinstance(p, np.ndarray) else np.shape(p)[axis])
    start = sum(sizes[:i])
    if axis == 0:
        return g[start : start + sizes[i]]
    index = [slice(None)] * np.ndim(g)
    index[axis] = slice(start, start + sizes[i])
    return g[tuple(index)]


def _hstack_grad(g, i, *parts):
    """The slice of `g` that came from `parts[i]` in np.hstack(parts): along
    the first axis for numbers and vectors, the second otherwise."""
    vectors = [np.atleast_1d(p) for p in parts]
    axis = 0 if vectors[0].ndim == 1 else 1
    return np.reshape(_concat_grad(g, i, axis, *vectors), np.shape(parts[i]))


def _vstack_grad(g, i, *parts):
    """The slice of `g` that came from `parts[i]` in np.vstack(parts)."""
    rows = [np.atleast_2d(p) for p in parts]
    return np.reshape(_concat_grad(g, i, 0, *rows), np.shape(parts[i]))


# --- forward mode ---------------------------------------------------------------


class TangentError(ValueError):
    """A tangent whose shape is not its input's."""


def _tangent_tuple(function, tangents, n):
    """`tangents` for a tuple `wrt`: a tuple (or list) of `n` tangents."""
    if not isinstance(tangents, tuple | list) or len(tangents) != n:
        given = (
            f"{len(tangents)} of them"
            if isinstance(tangents, tuple | list)
            else f"a {type(tangents).__name__}"
        )
        raise TangentError(
            f"{function}: tangents must be a tuple of {n}, one per wrt input; "
            f"got {given}"
        )
    return tangents


def _check_tangent(function, tangent, x):
    """Return `tangent` as the tangent of input `x`: same shape, float.  For
    a tuple or list of arrays of different shapes (JAX's `params`), a tuple
    of the same length holding a tangent of each entry."""
    if _ragged(x):
        if not isinstance(tangent, list | tuple) or len(tangent) != len(x):
            given = (
                f"{len(tangent)} of them"
                if isinstance(tangent, list | tuple)
                else f"a {type(tangent).__name__}"
            )
            raise TangentError(
                f"{function}: the tangent of a {type(x).__name__} of {len(x)} "
                "arrays of different shapes is a tuple of a tangent for each; "
                f"got {given}"
            )
        return tuple(
            _check_tangent(function, t, e) for t, e in zip(tangent, x, strict=True)
        )
    if isinstance(tangent, list | tuple):
        tangent = np.asarray(tangent, dtype=float)
    if np.shape(tangent) != np.shape(x):
        raise TangentError(
            f"{function}: a tangent has shape {np.shape(tangent)} but its input "
            f"has shape {np.shape(x)}"
        )
    if isinstance(tangent, np.ndarray) and tangent.dtype.kind in "biu":
        return tangent.astype(float)
    if isinstance(x, np.ndarray) and not isinstance(tangent, np.ndarray):
        return np.array(tangent, dtype=float)  # (a 0-d array's: x_dot[()] works)
    return tangent


def _ragged(x):
    """Is `x` a list or tuple of arrays of different shapes (`W, b = params`),
    which numpy cannot make one array of?"""
    if not isinstance(x, list | tuple):
        return False
    try:
        np.shape(x)
    except ValueError:
        return True
    return False


def _zeros_tangent(x):
    """The tangent of a value that does not depend on the inputs: zeros of its
    shape, entry by entry for a list or tuple.  A 0-d array gets a 0-d array,
    which a later `y[()] = v` can write into; a number gets 0.0."""
    if isinstance(x, list | tuple):
        return type(x)(_zeros_tangent(item) for item in x)
    if isinstance(x, np.ndarray):  # (in x's float dtype, as `_zeros_grad`)
        return np.zeros(x.shape, x.dtype if x.dtype.kind in "fc" else float)
    return 0.0 if np.ndim(x) == 0 else np.zeros(np.shape(x))


def _broadcast_tangent(t, y):
    """`t` spread to the shape of `y` (an operand broadcast to a larger result),
    as an array of its own: np.broadcast_to's view is read-only, and it may
    be the tangent `f_and_jvp` returns."""
    shape = np.shape(y)
    return t if np.shape(t) == shape else np.broadcast_to(t, shape).copy()


def _float_tangent(t, y, value):
    """The tangent `t` of `value` written into the array `y`, or zeros where
    `y` changes it (`_truncates`: it passes no derivative)."""
    if isinstance(y, np.ndarray) and _truncates(y, value):
        return np.zeros(np.shape(t))
    return t


def _truncates(target, value):
    """Does an integer or boolean array `target` change `value` written into
    it: a float into an int array, anything but a bool into a bool array?"""
    kind = (target if target.__class__ is np.ndarray else np.asarray(target)).dtype.kind
    if kind == "f":
        return False  # (the common case: a float array)
    if kind == "b":
        return np.asarray(value).dtype.kind != "b"
    return kind in "iu" and np.asarray(value).dtype.kind not in "biu"


def _extremum_tangent(t, x, out, axis=None, keepdims=False):
    """Tangent of np.max / np.min: the mean of `t` over tied extrema."""
    full = out if axis is None or keepdims else _keepdims(out, x, axis)
    hit = x == full
    count = _tie_counts(hit, x, axis, keepdims)
    return np.sum(t * hit, axis=axis, keepdims=keepdims) / count


def _tie_counts(hit, x, axis, keepdims):
    """How many entries of `x` tie for its extremum (`hit`), along `axis`: in
    x's float dtype, float32 at least (an int64 count makes a float32
    derivative float64; a float16 count past 65504 ties is inf)."""
    numpy = x.__class__ is np.ndarray or isinstance(x, np.generic)
    floats = numpy and x.dtype.kind in "fc"
    dtype = np.promote_types(x.dtype, np.float32) if floats else None
    return np.sum(hit, axis=axis, keepdims=keepdims, dtype=dtype)


def _prod_tangent(t, x, out, axis=None, keepdims=False):
    """Tangent of np.prod: each entry's tangent times the product of the others."""
    floats = isinstance(out, np.ndarray | np.generic) and out.dtype.kind in "fc"
    ones = np.ones(np.shape(out), out.dtype if floats else float)  # (float32 stays)
    others = _prod_grad(ones, x, axis, keepdims)
    return np.sum(others * t, axis=axis, keepdims=keepdims)


def _basis(x, j):
    """The j-th basis vector of the space of `x` (a float, or an array; a 0-d
    array's is a 0-d array)."""
    if np.ndim(x) == 0:
        return np.ones(()) if isinstance(x, np.ndarray) else 1.0
    e = np.zeros(np.shape(x))
    e.flat[j] = 1.0
    return e


def _parts(x):
    """The arrays whose derivatives make one block each, with their paths of
    indices into `x`: `x` itself (the path ()), or the entries of a list or
    tuple of arrays of different shapes (JAX's `params`), each entry's parts
    in turn."""
    if not _ragged(x):
        return [((), x)]
    return [((k, *path), e) for k, item in enumerate(x) for path, e in _parts(item)]


def _part_of(value, path):
    """The part of `value` (a derivative, structured as its input) at `path`."""
    for k in path:
        value = value[k]
    return value


def _packed(x, blocks):
    """`blocks`, one per part of `x` in `_parts` order, in the structure of
    `x`: the block alone, or a tuple (list) of them for a tuple (list), as
    JAX returns a pytree."""
    remaining = iter(blocks)

    def build(x):
        if not _ragged(x):
            return next(remaining)
        return type(x)(build(item) for item in x)

    return build(x)


def _basis_tangent(x, path, j):
    """The tangent of `x` that is the j-th basis vector of its part at `path`."""
    if not path:
        return _basis(x, j)
    return tuple(
        _basis_tangent(item, path[1:], j) if k == path[0] else _zeros_tangent(item)
        for k, item in enumerate(x)
    )


def _jacobian(f_and_grad, f_and_jvp, args, wrt, is_tuple, mode, keywords=None):
    """Jacobians of `f(*args)` with respect to `args[i]` for `i` in `wrt`, each
    shaped output shape + input shape (for a tuple of arrays of different
    shapes, a tuple of such blocks, one per entry): one column per input
    entry (forward mode, "fwd") or one row per output entry (reverse mode,
    "rev").  The first column tells the output's shape; with mode None the
    rest are computed by whichever mode needs fewer passes.  `keywords`: the
    function's keyword-only arguments, passed on by name."""
    keywords = keywords or {}
    inputs = [args[i] for i in wrt]
    parts = [(k, path, e) for k, x in enumerate(inputs) for path, e in _parts(x)]

    def pack(items):
        return tuple(items) if is_tuple else items[0]

    def column(k, path, j):
        tangents = [_zeros_tangent(x) for x in inputs]
        tangents[k] = _basis_tangent(inputs[k], path, j)
        return f_and_jvp(*args, tangents=pack(tangents), **keywords)

    if np.size(parts[0][2]):
        value, first = column(*parts[0][:2], 0)
    else:  # (an empty input has no columns; the value still has a shape)
        zero = pack([_zeros_tangent(x) for x in inputs])
        value, first = f_and_jvp(*args, tangents=zero, **keywords)[0], None
    n_out = int(np.size(value))
    if mode == "rev" or (mode is None and n_out < sum(np.size(e) for *_, e in parts)):
        rows = [
            f_and_grad(*args, seed=_basis(value, i), **keywords)[1]
            for i in range(n_out)
        ]
        rows = rows if is_tuple else [(row,) for row in rows]
        flat = [
            _stacked(
                [np.ravel(_part_of(row[k], path)) for row in rows], 0, (0, np.size(e))
            )
            for k, path, e in parts
        ]
    else:
        flat = []
        for n, (k, path, e) in enumerate(parts):
            cols = [first] if n == 0 and first is not None else []
            cols += [column(k, path, j)[1] for j in range(len(cols), int(np.size(e)))]
            flat.append(_stacked([np.ravel(c) for c in cols], -1, (n_out, 0)))
    blocks = [
        np.reshape(f, np.shape(value) + np.shape(e))
        for f, (_, _, e) in zip(flat, parts, strict=True)
    ]
    return pack(
        [
            _packed(
                x, [b for b, (kb, _, _) in zip(blocks, parts, strict=True) if kb == k]
            )
            for k, x in enumerate(inputs)
        ]
    )


def _hessian(grad_and_hvp, args, i, keywords=None):
    """The Hessian with respect to `args[i]`, one Hessian-vector product per
    entry of `args[i]`, shaped args[i].shape * 2; for a tuple of arrays of
    different shapes, a tuple of tuples of blocks, H[q][p] shaped entry q's
    shape + entry p's shape (as JAX's).  `keywords`: the function's
    keyword-only arguments, passed on by name."""
    keywords = keywords or {}
    x = args[i]
    parts = _parts(x)
    blocks = [[None] * len(parts) for _ in parts]
    for p, (path, e) in enumerate(parts):
        cols = [
            grad_and_hvp(*args, tangents=_basis_tangent(x, path, j), **keywords)[1]
            for j in range(int(np.size(e)))
        ]
        for q, (row_path, d) in enumerate(parts):
            flat = [np.ravel(_part_of(c, row_path)) for c in cols]
            stacked = _stacked(flat, -1, (np.size(d), 0))
            blocks[q][p] = np.reshape(stacked, np.shape(d) + np.shape(e))
    return _packed(x, [_packed(x, row) for row in blocks])


def _stacked(vectors, axis, empty):
    """`np.stack(vectors, axis)`; zeros of shape `empty` when there are none
    (the derivatives with respect to an empty array, or of an empty result)."""
    return np.stack(vectors, axis=axis) if vectors else np.zeros(empty)
