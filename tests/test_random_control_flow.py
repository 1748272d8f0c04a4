"""Property test: random programs with branches, loops and in-place updates.

Hypothesis writes programs over a scalar `a`, a vector `x` (3,) and a matrix
`m` (2, 3) that update a few variables (and a buffer `buf`) inside nested
`if`/`elif`/`else`, `for` over ranges and rows, counting and data-dependent
`while` loops, with `break` and `continue`, element and slice reads, and
element, slice, `+=` and `-=` writes into the buffer.  Each program is written to a
module, compiled, and its value and gradient with respect to every input are
checked against the function itself and central finite differences.

A second test puts the same kind of programs through forward mode (the
directional derivative must equal the gradient's dot product with the
direction) and through `symgrad.hessian` (Hessian-vector products against
central differences of the gradient): symgrad reads its own emitted gradient
back as input, so every construct the gradient emits is exercised there.

Branch thresholds are random, so a program's branches are taken differently
at different points; no threshold lies within finite-difference reach of the
value it is compared with, except with negligible probability.
"""

import importlib.util
import itertools
import os
import sys

import black
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_buffers import always_into, assert_same, run_with

import symgrad

_counter = itertools.count()
# Values a program updates, with their shapes; inputs are read-only.
STATE = {"p": (), "q": (3,), "r": (2, 3)}
INPUTS = {"a": (), "x": (3,), "m": (2, 3)}
# `{0}` is the updated variable, `{1}` a value that broadcasts to its shape.
# Each update grows a value by at most a small factor or a bounded step, so a
# dozen updates in nested loops keep values (and finite differences' rounding
# error) small.
UPDATES = [
    "{0} = np.tanh({0} * 0.8 + {1})",
    "{0} = {0} * 0.5 + np.sin({1})",
    "{0} = {0} - 0.3 * {0} * np.tanh({1})",
    "{0} = {0} / (2.5 + np.cos({1}))",
    "{0} += 0.5 * np.tanh({1})",
    "{0} = np.sqrt(1.0 + {0} ** 2) * 0.7 + {1} * 0.1",
]


def fits(small, big):
    try:
        return np.broadcast_shapes(small, big) == big
    except ValueError:
        return False


def readable(shape, names):
    """Expressions of a shape broadcastable to `shape`, from `names`."""
    found = [n for n, s in names.items() if fits(s, shape)]
    if shape == (3,):
        found += ["m[0]", "m[1] * x"]
    if shape == ():
        found += ["np.sum(x) * 0.2", "np.mean(m)", "x[1]", "q[2]"]
    return found


@st.composite
def blocks(draw, depth, loop_index=None, in_loop=False):
    lines = []
    names = dict(STATE) | dict(INPUTS)
    if loop_index is not None:
        names = names | {loop_index: ()}
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                ["update", "update", "write"]
                + (["if", "for", "while"] if depth > 0 else [])
                + (["exit"] if in_loop else [])
            )
        )
        if kind == "update":
            target = draw(st.sampled_from(sorted(STATE)))
            other = draw(st.sampled_from(readable(STATE[target], names)))
            lines.append(draw(st.sampled_from(UPDATES)).format(target, other))
        elif kind == "write":
            lines.append(
                draw(
                    st.sampled_from(
                        [
                            "buf[0] = np.sin(p) + x[2]",
                            "buf[1] += q[0] * a",
                            "buf[0:2] -= x[1:3] * p",
                            "buf[1:3] = q[0:2] * 0.5",
                            "buf[:] = buf * 0.9 + x * 0.1",
                            "p = p + buf[2] * 0.3",
                            "q = q + buf * 0.2",
                        ]
                        + (
                            [f"buf[{loop_index}] = np.tanh(q[{loop_index}])"]
                            if loop_index == "i"
                            else []
                        )
                    )
                )
            )
        elif kind == "exit":
            word = draw(st.sampled_from(["break", "continue"]))
            test = draw(st.sampled_from(["p", "q[0]", "np.sum(r)"]))
            limit = round(draw(st.floats(-1.0, 1.0)), 2)
            lines += [f"if {test} > {limit}:", f"    {word}"]
        elif kind == "if":
            test = draw(st.sampled_from(["p", "np.sum(q)", "r[1, 2]", "a * x[0]"]))
            limit = round(draw(st.floats(-1.0, 1.0)), 2)
            lines.append(f"if {test} > {limit}:")
            lines += _indent(draw(blocks(depth - 1, loop_index, in_loop)))
            if draw(st.booleans()):
                lines.append(f"elif {test} < {limit - 0.5}:")
                lines += _indent(draw(blocks(depth - 1, loop_index, in_loop)))
            if draw(st.booleans()):
                lines.append("else:")
                lines += _indent(draw(blocks(depth - 1, loop_index, in_loop)))
        elif kind == "for":
            head = draw(
                st.sampled_from(["for i in range(3):", "for i in range(1, 3):"])
                if loop_index != "i"
                else st.sampled_from(["for row in m:", "for j in range(2):"])
            )
            inner = "i" if head.startswith("for i") else None
            lines.append(head)
            body = draw(blocks(depth - 1, inner, True))
            if head.startswith("for row"):
                body = ["q = q * 0.7 + row * 0.3"] + body
            lines += _indent(body)
        else:
            limit = draw(st.sampled_from(["2", "3"]))
            counter = f"k{depth}"
            lines += [f"{counter} = 0", f"while {counter} < {limit} and p < 5.0:"]
            body = draw(blocks(depth - 1, loop_index, True))
            lines += _indent([f"{counter} = {counter} + 1"] + body)
    return lines


def _indent(lines):
    return ["    " + line for line in lines]


@st.composite
def programs(draw):
    body = [
        "p = a * 0.5",
        "q = x * 1.0",
        "r = m * 0.5",
        "buf = np.zeros(3)",
    ]
    body += draw(blocks(2))
    body.append("return p + np.sum(q * q) + np.sum(r * m) + np.sum(buf * x)")
    return "def f(a, x, m):\n" + "\n".join(_indent(body)) + "\n"


def load(source, tmp_path):
    name = f"random_flow_program_{next(_counter)}"
    path = tmp_path / f"{name}.py"
    path.write_text("import numpy as np\n\n\n" + source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.f


@settings(
    max_examples=int(os.environ.get("SYMGRAD_RANDOM_PROGRAMS", 500)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(source=programs(), seed=st.integers(0, 2**16))
def test_random_control_flow_gradients(source, seed, tmp_path):
    f = load(source, tmp_path)
    rng = np.random.default_rng(seed)
    args = (
        float(rng.uniform(-1, 1)),
        rng.uniform(-1, 1, 3),
        rng.uniform(-1, 1, (2, 3)),
    )
    copies = [np.copy(a) for a in args]
    g = symgrad.grad(f, wrt=(0, 1, 2))
    assert black.format_str(g.source, mode=black.Mode()) == g.source
    value, grads = g.f_and_grad(*args)
    for arg, copy in zip(args, copies, strict=True):
        np.testing.assert_array_equal(arg, copy)
    np.testing.assert_allclose(value, f(*args), rtol=1e-10, atol=1e-10)
    for grad, arg in zip(grads, args, strict=True):
        assert np.shape(grad) == np.shape(arg)
    symgrad.check_grad(g, *args)
    # products written into every dead temporary offered (see test_buffers)
    got = run_with(g.module, always_into, "f_and_grad", *args)
    assert_same(got, (value, grads), source)


@settings(
    max_examples=int(os.environ.get("SYMGRAD_RANDOM_HESSIANS", 40)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(source=programs(), seed=st.integers(0, 2**16))
def test_random_control_flow_jvps_and_hessians(source, seed, tmp_path):
    f = load(source, tmp_path)
    rng = np.random.default_rng(seed)
    a, x, m = rng.uniform(-1, 1), rng.uniform(-1, 1, 3), rng.uniform(-1, 1, (2, 3))
    a = float(a)
    value, grads = symgrad.grad(f, wrt=(0, 1, 2)).f_and_grad(a, x, m)
    tangents = (0.3, rng.normal(size=3), rng.normal(size=(2, 3)))
    jvp = symgrad.jvp(f, wrt=(0, 1, 2))
    value_fwd, tangent = run_with(
        jvp.module, always_into, "f_and_jvp", a, x, m, tangents=tangents
    )
    np.testing.assert_allclose(value_fwd, value, rtol=1e-12, atol=1e-12)
    expected = sum(np.sum(g * t) for g, t in zip(grads, tangents, strict=True))
    np.testing.assert_allclose(tangent, expected, rtol=1e-9, atol=1e-9)

    v = rng.normal(size=3)
    H = symgrad.hessian(f, wrt="x")
    hvp = run_with(H.module, always_into, "hvp", a, x, m, tangents=v)
    grad_x = symgrad.grad(f, wrt="x").grad
    h = 1e-6
    expected = (grad_x(a, x + h * v, m) - grad_x(a, x - h * v, m)) / (2 * h)
    np.testing.assert_allclose(hvp, expected, rtol=1e-4, atol=1e-5)
