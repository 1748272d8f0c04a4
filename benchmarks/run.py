"""Run-time benchmark: symgrad's f_and_grad against hand-written numpy and peers.

    python benchmarks/run.py [--quick]

Everything is measured in one process.  For each workload the script times
runs of many calls of each column (`timeit`, a number of calls chosen
autorange-style so one run lasts at least a few milliseconds), in rounds that
time every column once, and reports the median run in microseconds per call
and the median over rounds of its ratio to the hand-written numpy
`f_and_grad` (the floor).  Before timing, every gradient is checked against the
hand-written one with `np.allclose`, so no column can silently time wrong code.

Peers (HIPS autograd, torch, jax) are used when importable and skipped
otherwise.  Inputs are converted to tensors/arrays once, outside the timing.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import math
import os
import platform
import statistics
import sys
import timeit
import types
from collections.abc import Callable
from typing import Any

os.environ["SYMGRAD_CACHE"] = "0"  # compile in memory; write nothing beside us
# One thread everywhere (numpy's BLAS, torch, XLA) unless the caller set one:
# the machine is shared, and a multithreaded BLAS on a busy 2-core box measures
# the neighbours.  Must happen before numpy is imported.
THREADS = os.environ.setdefault("OMP_NUM_THREADS", "1")
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)
os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=" + THREADS,
)

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import workloads  # noqa: E402

import symgrad  # noqa: E402

COLUMNS = ("f", "hand", "symgrad", "autograd", "torch", "jax", "jax.jit")


# --- timing -------------------------------------------------------------------


def calls_per_run(timer: timeit.Timer, min_time: float) -> int:
    """How many calls make one run last `min_time`: 1, 2, 5, 10, ... (autorange)."""
    number = 1
    while True:
        for step in (1, 2, 5):
            if timer.timeit(number * step) >= min_time:
                return number * step
        number *= 10


def interleaved_us(calls: dict[str, Callable[[], Any]], min_time: float, repeat: int):
    """Microseconds per call of each callable, one list of `repeat` runs each.

    The runs are interleaved (round r times every callable once), so a slow
    stretch of a shared machine lands on all columns alike and the ratios of
    one round stay comparable."""
    timers = {name: timeit.Timer(call) for name, call in calls.items()}
    numbers = {name: calls_per_run(t, min_time) for name, t in timers.items()}
    runs: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, timer in timers.items():
            runs[name].append(1e6 * timer.timeit(numbers[name]) / numbers[name])
    return runs


# --- gradient comparison ------------------------------------------------------


def as_tuple(g: Any) -> tuple:
    return g if isinstance(g, tuple) else (g,)


def check_close(who: str, name: str, value, grads, ref_value, ref_grads) -> None:
    grads, ref_grads = as_tuple(grads), as_tuple(ref_grads)
    assert len(grads) == len(ref_grads), f"{who}/{name}: {len(grads)} gradients"
    assert np.allclose(value, ref_value), f"{who}/{name}: value {value} != {ref_value}"
    for i, (g, r) in enumerate(zip(grads, ref_grads, strict=True)):
        g = np.asarray(g, dtype=float)
        assert g.shape == np.shape(r), f"{who}/{name}: grad {i} shape {g.shape}"
        assert np.allclose(g, r), f"{who}/{name}: gradient {i} differs from hand"


# --- peers --------------------------------------------------------------------


def with_globals(fun: Callable, **names: Any) -> Callable:
    """`fun` re-bound to different globals (np -> autograd.numpy, ...)."""
    return types.FunctionType(
        fun.__code__, {**fun.__globals__, **names}, fun.__name__, fun.__defaults__
    )


def argnums(w: workloads.Workload) -> Any:
    return w.wrt if len(w.wrt) > 1 else w.wrt[0]


def autograd_peer() -> Callable | None:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None

    def make(w: workloads.Workload) -> Callable[[], Any]:
        fun = with_globals(w.fun, np=anp, math=anp)
        vg = autograd.value_and_grad(fun, argnum=argnums(w))
        return lambda: vg(*w.args)

    return make


def torch_peer() -> Callable | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(int(THREADS))
    versions = workloads.torch_versions(torch)

    def make(w: workloads.Workload) -> Callable[[], Any]:
        fun = versions.get(w.name) or with_globals(w.fun, math=torch)
        args = [torch.tensor(a, dtype=torch.float64) for a in w.args]
        params = [args[i] for i in w.wrt]
        for p in params:
            p.requires_grad_(True)

        def call():
            out = fun(*args)
            out.backward()
            grads = tuple(p.grad for p in params)
            for p in params:
                p.grad = None
            return out.detach(), grads if len(grads) > 1 else grads[0]

        return call

    return make


def jax_peers() -> tuple[Callable | None, Callable | None]:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None, None
    jax.config.update("jax_enable_x64", True)

    def make(w: workloads.Workload, jit: bool) -> Callable[[], Any]:
        fun = with_globals(w.fun, np=jnp, math=jnp)
        vg = jax.value_and_grad(fun, argnums=argnums(w))
        if jit:
            vg = jax.jit(vg)
        args = [a if isinstance(a, float) else jnp.asarray(a) for a in w.args]
        return lambda: jax.block_until_ready(vg(*args))

    return (lambda w: make(w, False)), (lambda w: make(w, True))


# --- one workload -------------------------------------------------------------


def callables(w: workloads.Workload, peers: dict) -> dict[str, Callable[[], Any]]:
    g = symgrad.grad(w.fun, wrt=argnums(w))
    g.f_and_grad(*w.args)  # the first call compiles and binds the generated function
    sg = g.f_and_grad  # ... which is what `g.f_and_grad` is from then on
    calls = {
        "f": lambda: w.fun(*w.args),
        "hand": lambda: w.hand(*w.args),
        "symgrad": lambda: sg(*w.args),
    }
    for name, make in peers.items():
        if make is not None and name not in w.skip:
            calls[name] = make(w)
    return calls


def measure(w: workloads.Workload, peers: dict, min_time: float, repeat: int):
    calls = callables(w, peers)
    ref_value, ref_grads = calls["hand"]()
    for name, call in calls.items():
        if name in ("f", "hand"):
            continue
        value, grads = call()  # also warms up (jit compile, caches)
        grads = tuple(np.asarray(g) for g in as_tuple(grads))
        check_close(name, w.name, np.asarray(value), grads, ref_value, ref_grads)
    runs = interleaved_us(calls, min_time, repeat)
    skipped = {c: why for c, why in w.skip.items() if peers.get(c)}
    return runs, skipped


# --- printing -----------------------------------------------------------------


def fmt_us(us: float | None) -> str:
    if us is None:
        return "-"
    return f"{us:.2f}" if us < 10 else f"{us:.1f}" if us < 1000 else f"{us:.0f}"


def ratio(runs: dict[str, list[float]], a: str, b: str) -> float:
    """Median over rounds of a / b, each round's two runs timed side by side."""
    return statistics.median(x / y for x, y in zip(runs[a], runs[b], strict=True))


def print_tables(results: dict[str, tuple[dict, dict]], columns: list[str]) -> None:
    width = max(len(n) for n in results) + 2
    print("\nmicroseconds per call (median of the runs)")
    print("workload".ljust(width) + "".join(c.rjust(10) for c in columns))
    for name, (runs, _) in results.items():
        cells = "".join(
            fmt_us(statistics.median(runs[c]) if c in runs else None).rjust(10)
            for c in columns
        )
        print(name.ljust(width) + cells)

    print(
        "\nratio to hand-written f_and_grad (lower is faster; median over rounds of"
        "\nthe ratio of runs timed side by side); sg/f = symgrad / f"
    )
    ratio_cols = [c for c in columns if c != "hand"]
    print("workload".ljust(width) + "".join(c.rjust(10) for c in ratio_cols + ["sg/f"]))
    for name, (runs, _) in results.items():
        cells = ""
        for c in ratio_cols:
            cells += (f"{ratio(runs, c, 'hand'):.2f}x" if c in runs else "-").rjust(10)
        cells += f"{ratio(runs, 'symgrad', 'f'):.2f}x".rjust(10)
        print(name.ljust(width) + cells)
    for name, (_, skipped) in results.items():
        for column, why in skipped.items():
            print(f"{name}: {column} skipped: {why}")

    ratios = [ratio(runs, "symgrad", "hand") for runs, _ in results.values()]
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"\ngeometric mean of symgrad / hand-written: {geo:.2f}x")


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if "model name" in ln)
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument("--only", default="", help="workloads whose name has this")
    opts = parser.parse_args(argv)
    min_time, repeat = (0.005, 3) if opts.quick else (0.02, 7)

    jax_eager, jax_jit = jax_peers()
    peers = {
        "autograd": autograd_peer(),
        "torch": torch_peer(),
        "jax": jax_eager,
        "jax.jit": jax_jit,
    }
    print(machine())
    versions = []
    for mod in ("autograd", "torch", "jax"):
        if peers.get(mod) is not None:
            version = importlib.metadata.version(mod)
            versions.append(f"{mod} {version}")
        else:
            versions.append(f"{mod}: not installed, skipped")
    print("peers: " + ", ".join(versions))
    if peers["torch"] is not None:
        print(f"torch threads: {sys.modules['torch'].get_num_threads()}")
    print(f"BLAS/OMP threads: {THREADS} (set OMP_NUM_THREADS to change)")

    columns = [c for c in COLUMNS if c in ("f", "hand", "symgrad") or peers[c]]
    results: dict[str, tuple[dict, dict]] = {}
    for w in [w for w in workloads.build() if opts.only in w.name]:
        results[w.name] = measure(w, peers, min_time, repeat)
        print(f"  measured {w.name}", file=sys.stderr, flush=True)
    print_tables(results, columns)


if __name__ == "__main__":
    main()
