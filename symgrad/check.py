"""The one shared gradient checker: symgrad's gradient against finite differences.

Every test that checks a gradient goes through this module (as HIPS autograd's
tests all go through ``check_grads``), so there is exactly one notion of "the
gradient is right".

Guarantees:

- `numeric_grad` differentiates ``sum(seed * f(*args))`` (``seed`` defaults to
  1.0) by central differences, one entry at a time, with a step of
  ``eps * max(1, |x|)`` and the step actually taken (``(x + h) - (x - h)``) as
  the divisor (taken before ``f`` runs: ``f`` may write into its arguments).
  A Python number argument gives a ``float``; an array argument
  gives a float array of the same shape; a tuple or list argument (JAX's
  ``params``) gives a tuple (list) of its entries' gradients, each entry
  differentiated as if it were an argument.  The caller's arguments are never
  mutated: every evaluation gets fresh copies.
- `check_grad` returns ``None`` when, for every ``wrt`` argument, symgrad's
  gradient has the argument's shape and ``np.allclose(symgrad, fd, rtol, atol)``
  holds (for a tuple or list argument, entry by entry); otherwise it raises
  ``AssertionError`` whose message names each failing argument (and entry) and
  lists its worst entries (index, symgrad value, finite-difference value,
  absolute error).  It never passes on a NaN or a shape mismatch.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["check_grad", "numeric_grad"]

_WORST = 5  # entries listed per failing argument


def numeric_grad(
    f: Callable[..., Any],
    args: Sequence[Any],
    wrt: int | tuple[int, ...],
    seed: Any = None,
    eps: float = 1e-6,
) -> Any:
    """Central finite differences of ``sum(seed * f(*args))`` w.r.t. ``args[i]``.

    ``wrt`` is a tuple of argument indices (the result is a tuple in that
    order) or a single index (the result is that argument's gradient alone).
    """
    args = tuple(args)
    single = isinstance(wrt, (int, np.integer))
    indices = (int(wrt),) if single else tuple(int(i) for i in wrt)
    for i in indices:
        if not -len(args) <= i < len(args):
            raise IndexError(f"wrt index {i} out of range for {len(args)} args")
    grads = tuple(_partial(f, args, i, seed, eps) for i in indices)
    return grads[0] if single else grads


def _objective(f: Callable[..., Any], args: tuple[Any, ...], seed: Any) -> float:
    """``sum(seed * f(*args))``, summed exactly (math.fsum) to damp round-off."""
    out = np.asarray(f(*args), dtype=float)
    weight = np.asarray(1.0 if seed is None else seed, dtype=float)
    return math.fsum(np.ravel(weight * out).tolist())


def _with(args: tuple[Any, ...], i: int, value: Any) -> tuple[Any, ...]:
    """A copy of ``args`` with ``args[i]`` replaced and every array copied."""
    fresh = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    fresh[i] = value
    return tuple(fresh)


def _partial(
    f: Callable[..., Any], args: tuple[Any, ...], i: int, seed: Any, eps: float
) -> Any:
    """The finite-difference gradient for the single argument ``args[i]``."""
    arg = args[i]
    if isinstance(arg, tuple | list):
        return type(arg)(
            _partial(_of_entry(f, i, arg, k), _with(args, i, arg[k]), i, seed, eps)
            for k in range(len(arg))
        )
    if isinstance(arg, np.ndarray):
        base = np.array(arg, dtype=float)  # a copy, float even for int input
        out = np.empty(base.shape, dtype=float)
        for k in range(base.size):
            out.flat[k] = _central(f, args, i, base, k, seed, eps)
        return out
    if isinstance(arg, (bool, np.bool_)) or not isinstance(
        arg, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"cannot differentiate argument {i} of type {type(arg).__name__}; "
            "expected a float, a numpy array, or a tuple or list of them"
        )
    x0 = float(arg)
    h = eps * max(1.0, abs(x0))
    xp, xm = x0 + h, x0 - h
    fp = _objective(f, _with(args, i, xp), seed)
    fm = _objective(f, _with(args, i, xm), seed)
    return (fp - fm) / (xp - xm)


def _of_entry(
    f: Callable[..., Any], i: int, arg: tuple | list, k: int
) -> Callable[..., Any]:
    """``f`` as a function of entry ``k`` of its tuple or list argument
    ``args[i]``, given in that argument's place; the other entries are fresh
    copies at every call."""

    def at(*a: Any) -> Any:
        items = [e.copy() if isinstance(e, np.ndarray) else e for e in arg]
        items[k] = a[i]
        return f(*_with(a, i, type(arg)(items)))

    return at


def _central(
    f: Callable[..., Any],
    args: tuple[Any, ...],
    i: int,
    base: np.ndarray,
    k: int,
    seed: Any,
    eps: float,
) -> float:
    """One entry ``k`` (flat index) of the gradient w.r.t. array ``args[i]``."""
    x0 = float(base.flat[k])
    h = eps * max(1.0, abs(x0))
    xp, xm = x0 + h, x0 - h
    plus, minus = base.copy(), base.copy()
    plus.flat[k], minus.flat[k] = xp, xm
    step = float(plus.flat[k]) - float(minus.flat[k])  # before f may write to them
    fp = _objective(f, _with(args, i, plus), seed)
    fm = _objective(f, _with(args, i, minus), seed)
    return (fp - fm) / step


def check_grad(
    f: Callable[..., Any],
    *args: Any,
    wrt: Any = None,
    seed: Any = None,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    eps: float = 1e-6,
    **options: Any,
) -> None:
    """Assert that symgrad's gradient of ``f`` at ``args`` matches finite differences.

    ``f`` is a function returned by ``symgrad.grad`` (then ``wrt`` must be left
    out: the decorated function fixes it) or a plain function, which is wrapped
    with ``symgrad.grad(f, wrt=wrt)``.  ``seed`` is the output cotangent, as
    for ``f_and_grad``; ``options`` are ``f``'s keyword-only arguments.  Raises
    ``AssertionError`` listing the worst entries of every argument whose
    gradient is wrong; returns ``None`` otherwise.
    """
    if hasattr(f, "f_and_grad") and hasattr(f, "wrt_indices"):
        if wrt is not None:
            raise TypeError("wrt is fixed by the decorated function; leave it out")
        g = f
    else:
        from symgrad.api import grad  # lazy: symgrad.api may import this module

        g = grad(f) if wrt is None else grad(f, wrt=wrt)
    kwargs = {} if seed is None else {"seed": seed}
    fresh = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    _, grads = g.f_and_grad(*fresh, **kwargs, **options)
    indices = tuple(g.wrt_indices)
    grads = tuple(grads) if g.wrt_is_tuple else (grads,)
    if len(grads) != len(indices):
        raise AssertionError(
            f"check_grad: symgrad returned {len(grads)} gradients "
            f"for {len(indices)} wrt arguments {indices}"
        )
    plain = getattr(g, "__wrapped__", g)
    loss = _loss_of(g, functools.partial(plain, **options) if options else plain)
    fds = numeric_grad(loss, args, indices, seed=seed, eps=eps)
    names = _param_names(plain)
    reports = []
    for i, gi, fi in zip(indices, grads, fds, strict=True):
        label = f"argument {i}" + (f" ({names[i]})" if i < len(names) else "")
        report = _compare(label, gi, fi, rtol, atol)
        if report:
            reports.append(report)
    if reports:
        head = (
            "check_grad: symgrad's gradient differs from central finite "
            f"differences (rtol={rtol:g}, atol={atol:g}, eps={eps:g})"
        )
        raise AssertionError("\n".join([head, *reports]))


def _loss_of(g: Any, plain: Callable[..., Any]) -> Callable[..., Any]:
    """The differentiated value: the loss of a `has_aux` function's (loss, aux)."""
    if not getattr(g, "has_aux", False):
        return plain
    return lambda *a: plain(*a)[0]


def _param_names(fn: Callable[..., Any]) -> list[str]:
    """Parameter names of ``fn`` for messages; empty when they can't be read."""
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


def _compare(label: str, g: Any, fd: Any, rtol: float, atol: float) -> str | None:
    """A report of the worst entries of ``g`` against ``fd``; None if they agree.
    A tuple or list ``fd`` (of a tuple argument) is compared entry by entry."""
    if isinstance(fd, tuple | list):
        count = len(g) if isinstance(g, tuple | list) or np.ndim(g) else None
        if count != len(fd):
            return (
                f"{label}: symgrad's gradient is a {type(g).__name__}"
                + ("" if count is None else f" of {count} entries")
                + f", the argument a {type(fd).__name__} of {len(fd)}"
            )
        reports = [
            _compare(f"{label} entry {k}", gk, fk, rtol, atol)
            for k, (gk, fk) in enumerate(zip(g, fd, strict=True))
        ]
        return "\n".join(r for r in reports if r) or None
    g_arr = np.asarray(g, dtype=float)
    fd_arr = np.asarray(fd, dtype=float)
    if g_arr.shape != fd_arr.shape:
        return (
            f"{label}: symgrad's gradient has shape {g_arr.shape}, "
            f"the argument has shape {fd_arr.shape}"
        )
    if np.allclose(g_arr, fd_arr, rtol=rtol, atol=atol):
        return None
    err = np.abs(g_arr - fd_arr)
    excess = err - (atol + rtol * np.abs(fd_arr))
    excess = np.where(np.isnan(excess), np.inf, excess).ravel()
    bad = int(np.count_nonzero(excess > 0))
    order = np.argsort(-excess, kind="stable")[: min(_WORST, bad)]
    lines = [
        f"{label}, shape {g_arr.shape}: {bad} of {g_arr.size} entries differ; worst:"
    ]
    for k in order:
        index = tuple(int(j) for j in np.unravel_index(int(k), g_arr.shape))
        lines.append(
            f"  index {index}: symgrad={g_arr.flat[k]:.10g}  "
            f"finite-diff={fd_arr.flat[k]:.10g}  abs err={err.flat[k]:.3g}"
        )
    return "\n".join(lines)
