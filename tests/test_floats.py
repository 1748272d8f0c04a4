"""The Python-float fast path (`symgrad/floats.py`).

On Python floats `f_and_grad` runs a body that uses `math` instead of numpy;
it must give numpy's numbers (exactly at the points below; `exp`, `log`,
`tan`, `arctan` and `expm1` may differ from numpy 2's SIMD code by an ulp
elsewhere), fall back to numpy where `math` raises (numpy gives inf or nan
there), and not exist where no close spelling does.
"""

from __future__ import annotations

import ctypes
import re
import warnings

import float_functions as ff
import numpy as np
import pytest

import symgrad
from symgrad.errors import SeedError

CASES = [
    (ff.trig, ("x", "a"), (0.7, 1.3)),
    (ff.logs_and_roots, ("x", "a"), (0.7, 1.3)),
    (ff.powers, ("x", "a"), (0.7, 1.3)),
    (ff.loop_with_branch, ("x", "a"), (0.7, 0.9, 20)),
    (ff.uses_tanh, "x", (0.3,)),
    (ff.recurrence, ("x", "a", "b"), (0.3, 0.9, 0.2)),
    (ff.recurrence_of_cos, ("x", "a"), (0.3, 0.7)),
    (ff.gelu, "x", (0.7,)),
    (ff.erf_beside_a_root, ("x", "y"), (0.7, 1.3)),
    (ff.uses_maximum, "x", (0.7,)),  # (`_maximum`, `_heaviside`: numpy's)
    (ff.uses_maximum, "x", (-0.7,)),
]


def numpy_path(g, args):
    """The numpy body: the same call with 0-d arrays, which never take the fast
    path, converted back to floats."""
    zero_d = [np.array(a) if isinstance(a, float) else a for a in args]
    value, grads = g.f_and_grad(*zero_d)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return float(value), tuple(float(x) for x in grads)


@pytest.mark.parametrize("fn, wrt, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_the_float_body_gives_numpys_numbers(fn, wrt, args) -> None:
    g = symgrad.grad(fn, wrt=wrt)
    assert "def _f_and_grad_floats(" in g.source
    value, grads = g.f_and_grad(*args)
    assert (value, grads) == g.module._f_and_grad_floats(*args, None)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert (value, grads) == numpy_path(g, args)  # bit for bit
    symgrad.check_grad(g, *args)


def test_tanh_keeps_numpys_own_implementation() -> None:
    source = symgrad.grad(ff.uses_tanh).source
    fast = source.split("def _f_and_grad_floats")[1]
    assert "np.tanh(" in fast and "math.exp(" in fast


@pytest.mark.parametrize(
    "fn, args",
    [
        (ff.divides, (1.0, 1.0)),
        (ff.explicit_divide, (1.0, 0.0)),
        (ff.explicit_power, (10.0, 400.0)),
        (ff.explicit_power, (-8.0, 1.0 / 3.0)),
        (ff.logs, (0.0,)),
        (ff.logs, (-1.0,)),
        (ff.uses_arctan, (1e200,)),
        (ff.uses_arcsinh, (1e200,)),
        (ff.uses_arctan2, (1e200,)),
        (ff.inverse_cube, (1e80,)),
    ],
    ids=[
        "division by zero",
        "np.divide by zero",
        "np.power overflows",
        "np.power of a negative base",
        "log(0)",
        "log(-1)",
        "arctan's derivative squares x: overflows",
        "arcsinh's derivative squares x: overflows",
        "arctan2's derivative squares x: overflows",
        "1 / x**3's derivative: x**4 overflows",
    ],
)
def test_where_math_raises_numpy_answers(fn, args) -> None:
    g = symgrad.grad(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(all="ignore"):
            value, grad = g.f_and_grad(*args)
            expected = numpy_path(g, args)
            plain = fn(*args)
    np.testing.assert_equal((float(value), (float(grad),)), expected)
    np.testing.assert_equal(float(value), float(plain))


def test_a_derivative_power_of_a_python_float_overflows_to_inf() -> None:
    # no float body; numpy's body squares the Python float x in the
    # derivative: inf, as for a numpy float, not Python's OverflowError
    g = symgrad.grad(ff.arctan_times_array, wrt=(0, 1))
    w = np.array([1.0, 2.0])
    with np.errstate(all="ignore"):
        value, (gx, gw) = g.f_and_grad(1e200, w)
        expected = g.f_and_grad(np.float64(1e200), w)
    assert value == ff.arctan_times_array(1e200, w)
    assert gx == expected[1][0] == 0.0
    np.testing.assert_equal(gw, expected[1][1])


def test_arrays_never_take_the_float_body() -> None:
    g = symgrad.grad(ff.trig, wrt=("x", "a"))
    x = np.array([0.7, 0.2])
    value, (gx, ga) = g.f_and_grad(x, 1.3, seed=np.ones(2))
    assert gx.shape == (2,)
    assert value.shape == (2,)


def test_numpy_special_cases_stay_numpy_calls() -> None:
    g = symgrad.grad(ff.numpy_specials, wrt=("x", "y"))
    fast = g.source.split("def _f_and_grad_floats")[1]
    assert "np.hypot(" in fast and "np.power(" in fast
    for args in [(-4.186084199078185, 106.43291877879233), (43.35944017088697, 2.0)]:
        value, grads = g.f_and_grad(*args)
        assert (float(value), tuple(map(float, grads))) == numpy_path(g, args)
        assert value == ff.numpy_specials(*args)


def test_integer_arguments_keep_numpys_integer_arithmetic() -> None:
    g = symgrad.grad(ff.integer_semantics)
    value, _ = g.f_and_grad(3)
    assert value == ff.integer_semantics(3)


def test_a_type_error_in_the_float_body_falls_back() -> None:
    # math.cos of a complex raises TypeError; the numpy body computes what
    # the plain function does, and its gradient is the array's: nan, since
    # `0.0 * np.cos(t1)` is nan where t1 is (sympy's 0 is not used there)
    g = symgrad.grad(ff.complex_power)
    with np.errstate(all="ignore"):
        value, grad = g.f_and_grad(-2.0)
        assert value == ff.complex_power(-2.0)
        assert np.isnan(grad) and np.isnan(g.f_and_grad(np.array(-2.0))[1])
        assert g.f_and_grad(4.0)[1] == g.f_and_grad(np.array(4.0))[1] == 4.0


def test_plain_arithmetic_checks_a_float_seed_inline() -> None:
    # no numpy call to save, so no float body; the seed check of a float
    # output without a seed is the one call left, and it is inlined (here
    # with `seed = 1.0`: the adjoint for the seed 1.0 is more than the
    # gradient's expression, see below)
    g = symgrad.grad(ff.shared_adjoint)
    assert "_f_and_grad_floats" not in g.source
    assert (
        "    if seed is None and out.__class__ is float:\n"
        "        seed = 1.0\n"
        "    else:\n"
        '        seed = _check_seed("shared_adjoint", seed, out)\n'
    ) in g.source
    assert g.f_and_grad(2.0) == (40.0, 64.0)
    assert g.f_and_grad(2.0, seed=2.0) == (40.0, 128.0)


@pytest.mark.parametrize(
    "fn, returned",
    [
        (ff.polynomial, "return out, 2.0 * x + 3.0"),
        (ff.two_lines, "return out, 2.0 * (3.0 * t1 + 1.0) * x"),
        (ff.negated, "return out, -1.0"),
        (ff.scaled_with_aux, "return (t1, y), 6.0 * x"),
        (ff.overflows_to_nan, "return out, np.inf * 0.0"),
    ],
)
def test_a_float_value_without_a_seed_returns_its_gradient_at_once(fn, returned):
    # the adjoint for the seed 1.0, folded (`1.0 * v` is v for a float v, to
    # the bit, and `2.0 * 3.0 * x` computes 6.0 first), where it is the
    # gradient's expression alone: returned from the seed check (13 ns of
    # x**2's 150); the same numbers as the seed 1.0 given
    g = symgrad.grad(fn, has_aux=fn is ff.scaled_with_aux)
    check = "    if seed is None and " if fn is not ff.scaled_with_aux else "    if "
    assert check in g.source and f"        {returned}\n" in g.source
    assert "seed = 1.0" not in g.source
    for x in (4.0, -0.5, 0.0, -0.0, 1e300, float("inf"), float("nan"), 3):
        with np.errstate(all="ignore"):
            fast, general = g.f_and_grad(x), g.f_and_grad(x, seed=1.0)
        assert repr(fast) == repr(general)  # types, -0.0 and inf alike
        bits = np.array([fast[1], general[1]], dtype=float).view(np.uint64)
        assert bits[0] == bits[1]  # (the sign of a nan too: not np.nan)
    x = np.array([1.0, 4.0])  # the numpy body, which checks the seed
    with pytest.raises(SeedError, match="a seed of that shape is required"):
        g.f_and_grad(x)
    with pytest.raises(SeedError):
        g.f_and_grad(4.0, seed=np.ones(2))


def test_a_unit_seed_times_a_value_not_proved_float_keeps_the_seed() -> None:
    # d/dy of x * y is seed * x: 1.0 * x is a float for an int x and x is
    # not, so the seed stays (`seed = 1.0`)
    g = symgrad.grad(ff.times_a_line)
    assert "        seed = 1.0\n" in g.source
    assert g.f_and_grad(2.0) == (6.0, 5.0) and g.f_and_grad(2) == (6, 5.0)
    assert type(g.f_and_grad(2)[1]) is float


@pytest.mark.parametrize(
    "fn, wrt", [(ff.recurrence, ("a", "b")), (ff.recurrence_of_cos, ("x", "a"))]
)
def test_a_value_one_op_from_the_other_saved_is_computed_again(fn, wrt) -> None:
    # the numpy body saves (t, x) per step; the float body saves x alone (no
    # tuple) and calls math again in the reverse loop: the same bits, above
    g = symgrad.grad(fn, wrt=wrt)
    numpy_body, float_body = g.source.split("def _f_and_grad_floats")
    assert ".append((" in numpy_body and ".append((" not in float_body
    assert "for x_1 in reversed(saved):" in float_body


def test_math_functions_called_in_a_loop_are_bound_to_locals() -> None:
    g = symgrad.grad(ff.recurrence, wrt=("a", "b"))
    fast = g.source.split("def _f_and_grad_floats")[1].split("\n\n\n")[0]
    assert "cos, sin = math.cos, math.sin" in fast
    assert "math.sin(" not in fast.split("math.sin\n")[1]
    # a name the function uses is not taken for the local
    g = symgrad.grad(ff.shadows_sin, wrt=("x", "a"))
    fast = g.source.split("def _f_and_grad_floats")[1].split("\n\n\n")[0]
    assert "cos, sin_1 = math.cos, math.sin" in fast
    assert "t1 = sin_1(x_1)" in fast
    value, grads = g.f_and_grad(0.3, 0.8)
    assert (value, grads) == numpy_path(g, (0.3, 0.8))
    symgrad.check_grad(g, 0.3, 0.8)


def test_a_math_call_the_source_makes_uses_the_local_binding_too() -> None:
    g = symgrad.grad(ff.recurrence_in_math, wrt=("a", "b"))
    fast = g.source.split("def _f_and_grad_floats")[1].split("\n\n\n")[0]
    assert "cos, sin = math.cos, math.sin" in fast
    code = [line for line in fast.splitlines() if not line.lstrip().startswith("#")]
    assert not any("math.sin(" in line for line in code)
    assert "t1 = sin(x_1)" in fast
    assert (g.f_and_grad(0.3, 0.8, 0.5)) == numpy_path(g, (0.3, 0.8, 0.5))
    symgrad.check_grad(g, 0.3, 0.8, 0.5)


def test_a_local_binding_never_hides_a_builtin_the_body_calls() -> None:
    g = symgrad.grad(ff.calls_builtin_pow, wrt="x")
    fast = g.source.split("def _f_and_grad_floats")[1].split("\n\n\n")[0]
    assert "pow(k, 40)" in fast and "pow = math.pow" not in fast
    assert "pow_1 = math.pow" in fast
    value, grad = g.f_and_grad(2.0, 3)
    assert value == ff.calls_builtin_pow(2.0, 3)
    assert (value, grad) == numpy_path(g, (2.0, 3))
    symgrad.check_grad(g, 2.0, 3)


def test_math_erf_is_math_s_of_numbers_only() -> None:
    # numpy has no erf: math.erf of an array raises TypeError in the source,
    # and so it does in the emitted code; its second derivative is exact
    with pytest.raises(TypeError):
        ff.gelu(np.ones(2))
    with pytest.raises(TypeError):
        symgrad.grad(ff.gelu).f_and_grad(np.ones(2), seed=np.ones(2))
    g = symgrad.grad(ff.gelu)
    h = 1e-5
    second = (g.grad(0.7 + h) - g.grad(0.7 - h)) / (2 * h)
    assert symgrad.hessian(ff.gelu).hessian(0.7) == pytest.approx(second, rel=1e-8)


# --- data arrays read entry by entry: memoryviews in the float body ---------

SERIES = np.random.default_rng(7).normal(size=40).cumsum() * 0.1

# nan, inf and -inf entries, and entries that repeat the one before
GAPPED = np.where(SERIES > 0.1, np.nan, SERIES)
GAPPED[[3, 9]], GAPPED[[5, 13]] = np.inf, -np.inf
GAPPED[[20, 21]] = GAPPED[19]

ENTRY_CASES = [
    (ff.ar1, ("phi", "sigma"), (0.6, 1.3, SERIES)),
    (ff.logistic_map, ("rate", "x0"), (3.2, 0.3, np.abs(SERIES) % 1.0)),
    (ff.kalman, ("q", "r"), (0.3, 0.8, SERIES)),
    (ff.wraps_around, "a", (0.7, SERIES)),
    (ff.over_entries, "a", (0.7, SERIES)),
    (ff.smoothed, "alpha", (0.4, SERIES)),
    (ff.ar1_of_both, ("phi", "y"), (0.6, SERIES)),
    (ff.garch, "params", (np.array([0.05, 0.1, 0.8]), SERIES)),
    (ff.soft_dtw, "x", (SERIES[:7], SERIES[10:16], 0.5)),
    (ff.clipped, "a", (0.7, SERIES * 20)),
    (ff.hmm, ("p_stay", "mu"), (0.9, np.array([-0.8, 1.2]), SERIES * 10)),
    (ff.with_missing_data, "q", (0.3, np.where(SERIES > 0.1, np.nan, SERIES))),
    (ff.with_missing_data_math, "q", (0.3, GAPPED)),
    (ff.huber_like, "a", (0.05, SERIES)),
    (ff.holt, "alpha", (0.4, SERIES)),
    (ff.running_mean_from_empty, "a", (0.7, SERIES)),
    (ff.reads_slices, "a", (0.7, SERIES)),
    (ff.absolute_squares, "a", (0.7, SERIES)),
    (ff.appends_in_a_branch, "a", (0.7, SERIES)),
    (ff.holt_textbook, ("alpha", "beta"), (0.4, 0.2, SERIES)),
    (ff.appends_in_both_arms, "a", (0.7, SERIES - 0.2)),
]


@pytest.mark.parametrize(
    "fn, wrt, args", ENTRY_CASES, ids=[c[0].__name__ for c in ENTRY_CASES]
)
def test_arrays_read_by_entries_are_memoryviews_in_the_float_body(
    fn, wrt, args
) -> None:
    g = symgrad.grad(fn, wrt=wrt)
    data = [np.copy(a) for a in args]
    assert re.search(r"_float_entries\((y|obs|r|x)\)", g.source)
    fast = g.source.split("def _f_and_grad_floats")[1].split("# Support code")[0]
    code = [line for line in fast.splitlines() if not line.lstrip().startswith("#")]
    made = re.compile(r"_float_entries\(np\.(zeros|ones|empty|full)\(")
    calls = [made.sub("", line).replace("np.inf", "") for line in code]
    assert not [line for line in calls if "np." in line]
    value, grads = g.f_and_grad(*args)
    seen = {}
    real = g.module._f_and_grad_floats

    def spy(*a):
        seen["args"] = a
        return real(*a)

    g.module._f_and_grad_floats = spy  # (the module's global, which f_and_grad reads)
    try:
        again = g.f_and_grad(*args)
    finally:
        g.module._f_and_grad_floats = real
    assert any(isinstance(arg, memoryview) for arg in seen["args"])
    assert type(value) is float
    # the numpy body: the same data byte-swapped never takes the fast path
    swapped = [a.astype(">f8") if np.ndim(a) else a for a in args]
    numpy_value, numpy_grads = g.f_and_grad(*swapped)
    grads = grads if isinstance(grads, tuple) else (grads,)
    again = again[1] if isinstance(again[1], tuple) else (again[1],)
    numpy_grads = numpy_grads if isinstance(numpy_grads, tuple) else (numpy_grads,)
    for fast_grad, other, slow in zip(grads, again, numpy_grads, strict=True):
        assert np.array_equal(fast_grad, other)
        assert type(fast_grad) is (np.ndarray if np.ndim(slow) else float)
        if fn in (ff.kalman, ff.garch, ff.soft_dtw, ff.hmm):  # (math.log,
            # math.exp may differ from numpy's by an ulp)
            np.testing.assert_allclose(fast_grad, slow, rtol=1e-13)
        else:
            assert np.array_equal(fast_grad, slow)  # bit for bit
    assert value == pytest.approx(float(numpy_value), rel=1e-14)
    assert value == pytest.approx(fn(*args), rel=1e-14)
    symgrad.check_grad(g, *args)
    for before, after in zip(data, args, strict=True):
        assert np.array_equal(before, after)  # (read, never written)


@pytest.mark.parametrize(
    "data",
    [
        SERIES.astype(np.float32),
        SERIES.astype(">f8"),  # (a memoryview cannot index it)
        np.stack([SERIES, SERIES]),
        list(SERIES),
        np.arange(40),
        SERIES[::3],  # strided: a memoryview reads it, as the array
        # float64, but a memoryview cannot index these: unaligned (a packed
        # record's field, a buffer read past a 4-byte header: format "=d"),
        # and a dtype with an explicit byte order, ctypes' ("<d")
        np.rec.fromarrays([SERIES, np.arange(40, dtype=np.int8)], names="y,k").y,
        np.frombuffer(b"HDR!" + SERIES.tobytes(), dtype=np.float64, offset=4),
        np.ctypeslib.as_array((ctypes.c_double * 40)(*SERIES)),
    ],
    ids=[
        "float32",
        "big-endian",
        "2-D",
        "list",
        "int",
        "strided",
        "unaligned field",
        "unaligned buffer",
        "ctypes",
    ],
)
def test_data_of_every_kind_gives_the_functions_numbers(data) -> None:
    g = symgrad.grad(ff.wraps_around, wrt="a")
    expected = ff.wraps_around(0.7, data)
    seed = None if np.ndim(expected) == 0 else np.ones(np.shape(expected))
    value, grad = g.f_and_grad(0.7, data, seed=seed)
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    exact = np.asarray(data, dtype=np.float64)  # (differences in float64)
    eps = 1e-6
    diff = ff.wraps_around(0.7 + eps, exact) - ff.wraps_around(0.7 - eps, exact)
    np.testing.assert_allclose(grad, np.sum(diff) / (2 * eps), rtol=1e-5)


def test_reading_past_the_end_raises_index_error() -> None:
    g = symgrad.grad(ff.reads_past_the_end, wrt="a")
    assert "_float_entries(y)" in g.source
    with pytest.raises(IndexError):
        ff.reads_past_the_end(0.5, SERIES)
    with pytest.raises(IndexError):
        g.f_and_grad(0.5, SERIES)


@pytest.mark.parametrize("fn", [ff.sums_the_data, ff.indexed_by_a_parameter])
def test_arrays_read_otherwise_stay_arrays(fn) -> None:
    assert "_float_entries" not in symgrad.grad(fn, wrt="a").source


def test_a_parameter_never_read_may_still_be_a_number() -> None:
    g = symgrad.grad(ff.never_reads_y, wrt="x")
    assert "_float_entries" not in g.source
    seen = []
    real = g.module._f_and_grad_floats
    g.module._f_and_grad_floats = lambda *a: seen.append(a) or real(*a)
    try:
        assert g.f_and_grad(0.7, 1.0) == real(0.7, 1.0, None)
    finally:
        g.module._f_and_grad_floats = real
    assert seen  # (the float body ran)


@pytest.mark.parametrize(
    "fn, wrt, args",
    CASES + ENTRY_CASES,
    ids=[c[0].__name__ for c in CASES + ENTRY_CASES],
)
def test_no_name_is_assigned_to_itself(fn, wrt, args) -> None:
    """`g = _unbroadcast(g, x)` is `g = g` on floats: not printed."""
    source = symgrad.grad(fn, wrt=wrt).source
    assert not re.findall(r"^ *(\w+) = \1$", source, flags=re.M)


@pytest.mark.parametrize(
    "fn, fast",
    [
        (ff.writes_rows, False),
        (ff.writes_its_argument, False),
        (ff.writes_ints_and_reads_them_back, True),
    ],
    ids=lambda x: getattr(x, "__name__", str(x)),
)
def test_arrays_written_give_the_functions_numbers(fn, fast) -> None:
    g = symgrad.grad(fn, wrt="a")
    assert ("_float_entries" in g.source) == fast
    y = SERIES[:6]
    mine = y.copy()
    value, grad = g.f_and_grad(0.7, mine)
    assert value == fn(0.7, y.copy())
    assert np.array_equal(mine, y)  # (the caller's arrays are never modified)
    numpy_value, numpy_grad = g.f_and_grad(np.array(0.7), y.copy())
    assert (value, grad) == (numpy_value, numpy_grad)
    symgrad.check_grad(g, 0.7, y.copy())


def test_a_power_of_a_negative_entry_is_numpys_nan_not_a_complex_number() -> None:
    g = symgrad.grad(ff.builtin_pow_of_an_entry, wrt="a")
    assert "math.pow(" in g.source.split("def _f_and_grad_floats")[1]
    y = np.array([0.5, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(ff.builtin_pow_of_an_entry(2.0, y))
        value, grad = g.f_and_grad(2.0, y)
    assert np.isnan(value) and np.isnan(grad)


def test_an_int_seed_makes_a_float_gradient_in_the_float_body() -> None:
    g = symgrad.grad(ff.returns_an_entry, wrt="a")
    value, grad = g.f_and_grad(0.4, SERIES, seed=2)
    assert grad == 2.0 and type(grad) is float


def test_a_table_of_two_axes_is_a_memoryview_of_two() -> None:
    source = symgrad.grad(ff.soft_dtw, wrt="x").source
    fast = source.split("def _f_and_grad_floats")[1].split("# Support code")[0]
    assert "_float_entries(np.full((n + 1, m + 1), np.inf), 2)" in fast
    assert "_float_entries(np.zeros(R.shape), 2)" in fast
    assert "np.minimum" not in fast and "np.heaviside" not in fast


def test_lists_grown_by_append_are_python_lists_in_the_float_body() -> None:
    fast = symgrad.grad(ff.holt, wrt="alpha").source.split("_f_and_grad_floats(")[2]
    assert "level.append(" in fast and "level[-1]" in fast
    # (the cotangent of a list: a memoryview of zeros, sliced as it shrinks)
    assert "_float_entries(np.zeros(len(level)))" in fast
    assert re.search(r"level_\w*bar = level_\w*bar\[:-1\]", fast)


@pytest.mark.parametrize(
    "fn, restored",
    [(ff.holt, "for {} in reversed(saved):"), (ff.holt_textbook, "{} = saved.pop()")],
    ids=["walked", "popped"],
)
def test_the_float_body_saves_only_what_its_reverse_loop_reads(fn, restored):
    # (the numpy body also saves what its shape helpers measure)
    source = symgrad.grad(fn, wrt="alpha").source
    numpy_body, fast = source.split("def _f_and_grad_floats")
    saved = re.compile(r"saved\.append\(\(?([^()]*)\)?\)")
    wide, narrow = (saved.findall(body)[0].split(", ") for body in (numpy_body, fast))
    assert set(narrow) < set(wide)
    assert restored.format(", ".join(narrow)) in fast


@pytest.mark.parametrize(
    "fn, array",
    [
        (ff.window_of_a_list, None),  # (its adjoint adds into a slice)
        (ff.sets_a_list_entry, None),  # (a list holds anything written)
        (ff.appends_rows, "rows"),  # (a list of arrays)
        (ff.slices_a_table, "R"),  # (a memoryview slices one axis only)
    ],
    ids=lambda x: getattr(x, "__name__", str(x)),
)
def test_lists_and_slices_the_float_body_cannot_hold_stay_numpy(fn, array) -> None:
    g = symgrad.grad(fn, wrt="a")
    if array is not None:
        assert not re.search(rf"{array}\w* = _float_entries", g.source)
        assert f"_float_entries(np.zeros(len({array}" not in g.source
    value, grad = g.f_and_grad(0.7, SERIES)
    assert value == fn(0.7, SERIES)
    numpy_value, numpy_grad = g.f_and_grad(0.7, SERIES.astype(">f8"))
    assert value == numpy_value and np.isclose(grad, numpy_grad, rtol=1e-13)
    symgrad.check_grad(g, 0.7, SERIES)


def test_an_array_read_by_rows_and_entries_stays_an_array() -> None:
    g = symgrad.grad(ff.rows_and_entries, wrt="a")
    assert "_float_entries" not in g.source
    symgrad.check_grad(g, 0.7, np.eye(3, 2) + SERIES[:6].reshape(3, 2))


EDGES = [0.0, -0.0, 1.0, -1.0, 1.5, 5e-324, -5e-324, np.inf, -np.inf, np.nan]
EDGES += [0, 2, -3, 2**53 + 1, True]  # (an int meeting a float makes a float)


def test_sign_of_floats_is_numpys() -> None:
    from symgrad.runtime import _sign

    for x in EDGES:
        if type(x) is bool:
            continue  # (np.sign has no loop for booleans: TypeError in both)
        mine, theirs = _sign(x), np.sign(x)
        assert type(mine) is (float if type(x) is float else type(theirs)), x
        if np.isnan(theirs):
            assert np.isnan(mine)
        else:
            assert mine == theirs and np.copysign(1, mine) == np.copysign(1, theirs)


def test_overflow_in_a_helper_runs_numpy_which_warns() -> None:
    from symgrad.runtime import _reciprocal, _square

    with pytest.raises(OverflowError):
        _square(-1e200)
    with pytest.raises(OverflowError):
        _reciprocal(1e-310)
    assert _square(np.inf) == np.inf and np.isnan(_reciprocal(np.nan))
    g = symgrad.grad(ff.absolute_squares, wrt="a")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", RuntimeWarning)
        value, grad = g.f_and_grad(1e200, SERIES[:3])
        np.testing.assert_equal(value, ff.absolute_squares(1e200, SERIES[:3]))
    assert any("overflow encountered in square" in str(w.message) for w in seen)


@pytest.mark.parametrize(
    "fn, wrt, args, fast",
    [
        (ff.adds_comparisons, "a", (0.5, 2.0), False),
        (ff.counts_comparisons, "a", (0.7, SERIES), False),
        (ff.masks_by_a_comparison, "a", (0.7, SERIES), True),
        (ff.adds_listed_comparisons, "a", (0.7, SERIES), False),
        (ff.adds_a_comparison_through_min, "a", (0.7, 0.5), False),
        (ff.subtracts_true, "a", (0.7, 0.5), False),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_arithmetic_on_two_comparisons_keeps_numpys_bools(fn, wrt, args, fast):
    g = symgrad.grad(fn, wrt=wrt)
    assert ("def _f_and_grad_floats" in g.source) == fast
    try:
        expected = fn(*args)
    except TypeError:  # (numpy's bools)
        with pytest.raises(TypeError):
            g.f_and_grad(*args)
    else:
        value, grad = g.f_and_grad(*args)
        assert value == expected


def test_the_shape_of_a_list_argument_is_its_length() -> None:
    g = symgrad.grad(ff.measures_a_list_argument, wrt="a")
    assert "_f_and_grad_floats" in g.source
    for y in (list(SERIES[:5]), SERIES[:5]):
        value, grad = g.f_and_grad(0.7, y)
        assert value == pytest.approx(ff.measures_a_list_argument(0.7, y), rel=1e-15)
        assert grad == pytest.approx(float(np.sum(SERIES[:5])), rel=1e-15)


@pytest.mark.parametrize("name", ["abs", "square", "reciprocal"])
def test_the_float_helpers_of_one_number_give_numpys_numbers(name) -> None:
    from symgrad import runtime

    ours, numpys = getattr(runtime, f"_{name}"), getattr(np, name)
    for x in EDGES + [2**40, -(2**62), 1e200, 1e-310]:
        if type(x) is bool and name == "reciprocal":
            continue  # (np.reciprocal has no loop for booleans: TypeError in both)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            theirs = numpys(x)
            try:
                mine = ours(x)
            except (ZeroDivisionError, OverflowError):  # (the float body's
                # caller runs numpy's: inf, with numpy's warning)
                assert name != "abs" and np.isinf(theirs), x
                continue
        assert type(mine) is (float if type(x) is float else type(theirs)), x
        if np.isnan(theirs):
            assert np.isnan(mine), x
        else:
            assert mine == theirs and np.copysign(1, mine) == np.copysign(1, theirs), x


@pytest.mark.parametrize("name", ["minimum", "maximum", "heaviside"])
def test_the_float_helpers_give_numpys_numbers(name) -> None:
    from symgrad import runtime

    ours, numpys = getattr(runtime, f"_{name}"), getattr(np, name)
    for a in EDGES:
        for b in EDGES:
            if name == "heaviside" and type(a) is type(b) is bool:
                continue  # (float16 of two bools; the rules' second is 1.0)
            mine, theirs = ours(a, b), numpys(a, b)
            if float in (type(a), type(b)) or name == "heaviside":
                assert type(mine) is float and theirs.dtype == np.float64, (a, b)
            else:  # (two ints: numpy's int64, or its bool)
                assert type(mine) is type(theirs), (a, b)
            if np.isnan(theirs):
                assert np.isnan(mine), (a, b)
            else:
                assert mine == theirs, (a, b)
                assert np.copysign(1, mine) == np.copysign(1, theirs), (a, b)


def test_a_maximum_with_an_int_is_numpys_float() -> None:
    g = symgrad.grad(ff.maximum_with_an_int)
    assert "_maximum(" in g.source
    value, grad = g.f_and_grad(1.0)
    assert value == ff.maximum_with_an_int(1.0) == 2.0**53 + 1.0
    assert type(value) is float and grad == 0.0


def test_logaddexp_of_floats_is_numpys() -> None:
    from symgrad.runtime import _logaddexp

    special = [0.0, -0.0, 1.0, -1.0, 700.0, -745.0, np.inf, -np.inf, np.nan]
    for a in special + [2, -3]:
        for b in special + [2, -3]:
            with np.errstate(invalid="ignore"):  # (numpy warns at a nan)
                mine, theirs = _logaddexp(a, b), np.logaddexp(a, b)
            assert type(mine) is float
            if np.isnan(theirs):
                assert np.isnan(mine), (a, b)
            else:
                assert mine == pytest.approx(theirs, rel=4e-16, abs=0), (a, b)
    rng = np.random.default_rng(3)
    for a, b in rng.normal(scale=30, size=(2000, 2)).tolist():
        assert _logaddexp(a, b) == pytest.approx(np.logaddexp(a, b), rel=4e-16)


def test_the_module_imports_math_for_a_helper_that_calls_it() -> None:
    g = symgrad.grad(ff.hmm, wrt="p_stay")
    assert "import math" in g.source and "def _logaddexp" in g.source


def test_a_power_of_ints_stays_exact_in_the_float_body() -> None:
    g = symgrad.grad(ff.power_of_ints, wrt="x")
    assert "_pow(3, n)" in g.source.split("def _f_and_grad_floats")[1]
    value, grad = g.f_and_grad(0.5, 40)
    assert value == ff.power_of_ints(0.5, 40) == 0.5 * (4 + 3)
    assert grad == 7.0


def test_a_differentiated_parameter_nothing_reads_may_be_a_number() -> None:
    g = symgrad.grad(ff.never_reads_y, wrt=("x", "y"))
    assert "_float_entries" not in g.source
    value, (gx, gy) = g.f_and_grad(0.7, 1.0)
    assert (value, gx, gy) == g.module._f_and_grad_floats(0.7, 1.0, None)[:1] + (
        g.module._f_and_grad_floats(0.7, 1.0, None)[1][0],
        0.0,
    )


XS = [0.5, -1.0, 2.0, 0.25, 3]  # (an int among the floats)
TS = [1.2, -1.5, 4.1, 0.7, 6.5]


def test_lists_of_numbers_take_the_float_body_as_they_are() -> None:
    g = symgrad.grad(ff.fit_on_lists, wrt=("w", "b"))
    assert "_float_entries(xs)" in g.source
    seen = []
    real = g.module._f_and_grad_floats
    g.module._f_and_grad_floats = lambda *a: seen.append(a) or real(*a)
    try:
        value, grads = g.f_and_grad(0.5, 0.1, XS, TS)
    finally:
        g.module._f_and_grad_floats = real
    assert seen and seen[0][2] is XS  # (the list itself: nothing copied)
    assert value == ff.fit_on_lists(0.5, 0.1, XS, TS)
    # bit for bit the numpy body's (a 0-d w never takes the float body)
    numpy_value, numpy_grads = g.f_and_grad(np.array(0.5), 0.1, XS, TS)
    assert (value, grads) == (numpy_value, numpy_grads)
    symgrad.check_grad(g, 0.5, 0.1, XS, TS)


def test_a_list_holding_an_array_takes_the_numpy_body() -> None:
    g = symgrad.grad(ff.over_entries, wrt="a")
    y = [0.5, np.array([1.0, 2.0]), -0.3]
    value, grad = g.f_and_grad(0.7, y, seed=np.ones(2))
    np.testing.assert_allclose(value, ff.over_entries(0.7, y))
    eps = 1e-6
    diff = ff.over_entries(0.7 + eps, y) - ff.over_entries(0.7 - eps, y)
    np.testing.assert_allclose(grad, np.sum(diff) / (2 * eps), rtol=1e-6)


def test_the_gradient_of_a_list_read_by_entries_is_an_array() -> None:
    g = symgrad.grad(ff.ar1_of_both, wrt=("phi", "y"))
    value, (g_phi, g_y) = g.f_and_grad(0.6, XS)
    numpy_value, (numpy_phi, numpy_y) = g.f_and_grad(np.array(0.6), XS)
    assert type(g_y) is np.ndarray and g_y.dtype == np.float64
    assert np.array_equal(g_y, numpy_y) and g_phi == numpy_phi
    symgrad.check_grad(g, 0.6, [float(x) for x in XS])


def test_the_largest_closed_set_drops_chains_and_keeps_cycles() -> None:
    from symgrad.floats import _largest

    chain = {f"t{i}": [(f"t{i - 1}",)] for i in range(1, 5000)} | {"t0": [None]}
    cycle = {"x": [("x_1",), ()], "x_1": [("x",)]}  # (a loop's carried number)
    other = {"u": [("x", "v")], "w": [("x",), ("t7",)]}  # (v: no candidate)
    needs = chain | cycle | other
    assert _largest(set(needs) | {"p"}, needs) == {"x", "x_1", "p"}
