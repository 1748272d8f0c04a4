"""Property test: random straight-line numpy programs, gradients vs finite differences.

Hypothesis writes programs over a scalar `a`, a vector `x` (3,) and a matrix `m`
(2, 3): elementwise arithmetic and smooth functions with broadcasting between
those shapes, reductions with and without `axis`, transposes and indexing.  Each
program is written to a module (symgrad reads source), compiled, and its value
and gradient with respect to every input are checked against the function
itself and central finite differences.
"""

import importlib.util
import itertools
import sys

import black
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_buffers import always_into, assert_same, run_with

import symgrad

SHAPES = {"a": (), "x": (3,), "m": (2, 3)}
UNARY = [
    "np.sin({0})",
    "np.cos({0})",
    "np.tanh({0})",
    "np.log(1.0 + {0} * {0})",
    "{0} / (1.0 + {0} ** 2)",
    "-{0}",
    "np.sqrt(1.0 + {0} ** 2)",
]
BINARY = ["{0} + {1}", "{0} - {1}", "{0} * {1}", "{0} / (2.0 + np.sin({1}))"]
_counter = itertools.count()


def broadcast(s, t):
    try:
        return np.broadcast_shapes(s, t)
    except ValueError:
        return None


@st.composite
def programs(draw):
    shapes = dict(SHAPES)
    lines = []
    for _ in range(draw(st.integers(1, 7))):
        name = f"v{len(lines)}"
        kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce", "shape"]))
        src = draw(st.sampled_from(sorted(shapes)))
        shape = shapes[src]
        if kind == "unary":
            expr = draw(st.sampled_from(UNARY)).format(src)
        elif kind == "binary":
            other = draw(st.sampled_from(sorted(shapes)))
            out = broadcast(shape, shapes[other])
            if out is None:
                continue
            expr, shape = draw(st.sampled_from(BINARY)).format(src, other), out
        elif kind == "reduce":
            if not shape:
                continue
            axis = draw(st.sampled_from([None] + list(range(-len(shape), len(shape)))))
            fn = draw(st.sampled_from(["np.sum", "np.mean"]))
            keep = draw(st.booleans())
            if axis is None:
                expr = f"{fn}({src})"
                shape = ()
            else:
                expr = f"{fn}({src}, axis={axis}, keepdims={keep})"
                shape = list(shape)
                if keep:
                    shape[axis] = 1
                else:
                    del shape[axis]
                shape = tuple(shape)
        else:
            if len(shape) == 2:
                rows, cols = shape
                expr, shape = draw(
                    st.sampled_from(
                        [(f"{src}.T", shape[::-1]), (f"{src}[-1]", (cols,))]
                        + [(f"{src}[None, 0, ::-1]", (1, cols))]
                        + ([(f"{src}[:, 1:]", (rows, cols - 1))] if cols > 1 else [])
                    )
                )
            elif len(shape) == 1:
                expr, shape = draw(
                    st.sampled_from([(f"{src}[::2]", (2,)), (f"{src}[-1]", ())])
                )
            else:
                continue
        lines.append(f"    {name} = {expr}")
        shapes[name] = shape
    last = f"v{len(lines) - 1}" if lines else "a"
    body = "\n".join(lines + [f"    return np.sum({last}) + 0.1 * np.sum(x * m)"])
    return f"def f(a, x, m):\n{body}\n"


def load(source, tmp_path):
    name = f"random_program_{next(_counter)}"
    path = tmp_path / f"{name}.py"
    path.write_text("import numpy as np\n\n\n" + source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.f


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(source=programs(), seed=st.integers(0, 2**16))
def test_random_program_gradients(source, seed, tmp_path):
    f = load(source, tmp_path)
    rng = np.random.default_rng(seed)
    args = (
        float(rng.uniform(-1, 1)),
        rng.uniform(-1, 1, 3),
        rng.uniform(-1, 1, (2, 3)),
    )
    g = symgrad.grad(f, wrt=(0, 1, 2))
    assert black.format_str(g.source, mode=black.Mode()) == g.source
    value, grads = g.f_and_grad(*args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12, atol=1e-12)
    for grad, arg in zip(grads, args, strict=True):
        assert np.shape(grad) == np.shape(arg)
    symgrad.check_grad(g, *args, rtol=1e-5, atol=1e-7)
    # products written into every dead temporary offered (see test_buffers)
    got = run_with(g.module, always_into, "f_and_grad", *args)
    assert_same(got, (value, grads), source)
