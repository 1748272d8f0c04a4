"""Forward mode against reverse mode and finite differences, on every case.

For each function of the shared tables (`functions.CASES`,
`flow_functions.FLOW_CASES`) at one random point and a random tangent `v`:

* `f_and_jvp` returns the function's value, and a tangent with the output's
  shape;
* it agrees with reverse mode: <seed, J v> = <J^T seed, v>, with the case's
  seed (1.0 for a scalar output);
* it agrees with a central difference (f(x + h v) - f(x - h v)) / 2h;
* the caller's arrays and tangents are unchanged, and the tangent returned
  is a writable array of the caller's.
"""

from __future__ import annotations

import copy
import zlib
from typing import Any

import numpy as np
import pytest
from flow_functions import FLOW_CASES
from functions import CASES, Case
from test_functions import as_tuple, assert_unchanged, compiled, draw

import symgrad

ALL_CASES = CASES + FLOW_CASES
_JVP: dict[str, Any] = {}


def forward(case: Case) -> Any:
    if case.name not in _JVP:
        _JVP[case.name] = symgrad.jvp(case.fn, wrt=case.wrt)
    return _JVP[case.name]


def tangents_for(g: Any, args: tuple, rng: np.random.Generator) -> tuple:
    out = []
    for i in g.wrt_indices:
        x = args[i]
        out.append(
            rng.standard_normal(np.shape(x)) if np.ndim(x) else float(rng.normal())
        )
    return tuple(out)


def shifted(args: tuple, indices: tuple, tangents: tuple, h: float) -> list:
    moved = list(args)
    for i, t in zip(indices, tangents, strict=True):
        moved[i] = args[i] + h * t
    return moved


def inner(a: Any, b: Any) -> float:
    return float(np.sum(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.name for c in ALL_CASES])
def test_jvp_matches_reverse_mode_and_differences(case: Case) -> None:
    f = forward(case)
    args = draw(case, 0)
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    dots = tangents_for(f, args, rng)
    packed = dots if f.wrt_is_tuple else dots[0]
    before = copy.deepcopy((args, dots))
    value, tangent = f.f_and_jvp(*args, tangents=packed)
    assert_unchanged(before[0], args)
    assert_unchanged(before[1], dots)
    expected = case.fn(*copy.deepcopy(args))
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)
    assert np.shape(tangent) == np.shape(expected)
    # the tangent is the caller's to change, as a gradient is
    assert not isinstance(tangent, np.ndarray) or tangent.flags.writeable

    seed = case.seed if case.seed is not None else 1.0
    g = compiled(case)
    grads = as_tuple(g, g.grad(*args, **({} if case.seed is None else {"seed": seed})))
    by_reverse = sum(inner(gk, vk) for gk, vk in zip(grads, dots, strict=True))
    by_forward = inner(seed, tangent)
    assert by_forward == pytest.approx(by_reverse, rel=1e-8, abs=1e-8)

    h = 1e-6
    up = case.fn(*shifted(copy.deepcopy(args), f.wrt_indices, dots, h))
    down = case.fn(*shifted(copy.deepcopy(args), f.wrt_indices, dots, -h))
    difference = (np.asarray(up) - np.asarray(down)) / (2 * h)
    scale = 1.0 + np.max(np.abs(difference), initial=0.0)
    assert np.max(np.abs(difference - tangent), initial=0.0) <= 1e-5 * scale
