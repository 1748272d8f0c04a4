"""Compile-time benchmark: how symgrad's compile time grows with function size.

    python benchmarks/compile_time.py [--quick]

Generates functions of 100, 200, 400, 800 and 1600 statements, of two kinds:
straight-line (a chain of elementwise numpy ops with a reduction every few
lines) and with loops (the same statements in `for` loops of 10, each loop
line counted as a statement).  Each is written to a module in a temporary
directory, and a fresh `symgrad.grad(f).source` is timed (the whole
pipeline, nothing cached; median of 3, fewer for the largest sizes once a
size has used its time budget, --budget).  Prints, per kind, the times, the
scaling exponent k of time ~ statements**k (least squares on log-log), the
time interpolated at 1000 statements, and, per function, the time to load the
already-generated module (compile + exec of the emitted source), a hit in
symgrad's on-disk cache in this process, and the same hit in a fresh Python
process (`symgrad.grad(f).module` after importing symgrad and the function;
interpreter start and imports are not counted).  A 10-statement function is
compiled first, and its time printed apart: the first compile in a process
also imports sympy and black.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402

import symgrad  # noqa: E402
from symgrad.api import load_module  # noqa: E402

SIZES = (100, 200, 400, 800, 1600)
TEMPLATES = (
    "y = np.sin(y) * a + b",
    "y = np.tanh(y) + a * y",
    "y = y * np.exp(-0.1 * y * y) + b",
    "y = np.cos(y) * b - a",
    "y = y - np.sum(y * a) / 100.0",  # a reduction, broadcast back
)


LOOP_BODY = 10  # statements in each loop of the `loops` kind


def write_module(tmpdir: str, kind: str, n: int, tag: int) -> str:
    """A module defining `<kind>_<n>(y, a, b)` with `n` statements; its path."""
    lines = ["import numpy as np", "", "", f"def {kind}_{n}(y, a, b):"]
    lines.append(f"    y = y * {1.0 + tag * 1e-6!r}")  # unique per repeat
    body = n - 1
    if kind == "loops":
        while body > LOOP_BODY:
            lines.append("    for _ in range(3):")
            lines += [
                "        " + TEMPLATES[i % len(TEMPLATES)] for i in range(LOOP_BODY)
            ]
            body -= LOOP_BODY + 1
    lines += ["    " + TEMPLATES[i % len(TEMPLATES)] for i in range(body)]
    lines += ["    return np.sum(y)", ""]
    path = os.path.join(tmpdir, f"{kind}_{n}_{tag}.py")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
    return path


def import_function(path: str, name: str):
    module_name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


FRESH_PROCESS = """
import importlib.util, sys, time
import numpy, symgrad
spec = importlib.util.spec_from_file_location("bench_fn", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
f = getattr(module, sys.argv[2])
t0 = time.perf_counter()
symgrad.grad(f).module
print(time.perf_counter() - t0)
"""


def fresh_process_hit(path: str, name: str, cache_dir: str) -> float:
    """Seconds for `symgrad.grad(f).module` in a new process, from the cache."""
    env = {**os.environ, "SYMGRAD_CACHE": "1", "SYMGRAD_CACHE_DIR": cache_dir}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [sys.path[0], env.get("PYTHONPATH")])
    )
    out = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, path, name],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def fit_exponent(sizes, times) -> tuple[float, float]:
    """Least squares on log t = c + k log n; returns (k, c)."""
    xs = [math.log(n) for n in sizes]
    ys = [math.log(t) for t in times]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return k, my - k * mx


def measure_size(tmpdir: str, kind: str, n: int, repeats: int, budget: float) -> dict:
    """Fresh compiles of an n-statement function (the first also fills a
    private on-disk cache, if this symgrad has one), then loads and cache hits."""
    cache_dir = os.path.join(tmpdir, f"cache_{kind}_{n}")
    name = f"{kind}_{n}"
    compiles, source = [], ""
    for tag in range(repeats):
        os.environ.update(SYMGRAD_CACHE="1" if tag == 0 else "0")
        os.environ.update(SYMGRAD_CACHE_DIR=cache_dir)
        f = import_function(write_module(tmpdir, kind, n, tag), name)
        seconds, source = timed(lambda f=f: symgrad.grad(f).source)
        compiles.append(seconds)
        if sum(compiles) > budget:  # keep the whole run short on big sizes
            break
    loads = [timed(lambda: load_module(source, name))[0] for _ in range(5)]

    # sanity: the generated module runs and gives a finite gradient
    rng = np.random.default_rng(0)
    y, a, b = rng.uniform(-1, 1, 50), 0.5, 0.1
    _, g = load_module(source, name).f_and_grad(y, a, b)
    assert np.all(np.isfinite(g)) and g.shape == y.shape

    cached = fresh = None
    if os.path.isdir(cache_dir) and os.listdir(cache_dir):
        os.environ["SYMGRAD_CACHE"] = "1"
        first = os.path.join(tmpdir, f"{name}_0.py")
        f0 = import_function(first, name)
        cached = statistics.median(
            timed(lambda: symgrad.grad(f0).source)[0] for _ in range(3)
        )
        fresh = statistics.median(
            fresh_process_hit(first, name, cache_dir) for _ in range(3)
        )
    os.environ["SYMGRAD_CACHE"] = "0"
    return {
        "compile": statistics.median(compiles),
        "runs": len(compiles),
        "load": statistics.median(loads),
        "cached": cached,
        "fresh": fresh,
        "emitted_lines": source.count("\n"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="sizes up to 800, 1 repeat"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=15.0,
        help="stop repeating a size once its compiles took this many seconds",
    )
    opts = parser.parse_args(argv)
    sizes = SIZES[:-1] if opts.quick else SIZES
    repeats = 1 if opts.quick else 3

    # The first compile in a process also imports sympy and black and warms
    # their caches: a fixed cost, reported here and kept out of the fit (in
    # --quick it would otherwise all land on the 100-statement point).
    os.environ.update(SYMGRAD_CACHE="0")
    with tempfile.TemporaryDirectory() as tmpdir:
        f = import_function(write_module(tmpdir, "chain", 10, 0), "chain_10")
        seconds, _ = timed(lambda: symgrad.grad(f).source)
    print(f"first compile in this process (imports, warm-up): {seconds:.2f} s\n")

    for kind, title in [("chain", "straight-line"), ("loops", "with loops")]:
        rows = {}
        with tempfile.TemporaryDirectory() as tmpdir:
            for n in sizes:
                rows[n] = measure_size(tmpdir, kind, n, repeats, opts.budget)
                print(f"  measured {n} statements {title}", file=sys.stderr, flush=True)
        print_rows(
            f"{title}: symgrad compile time (fresh .source, median of up to "
            f"{repeats} runs)",
            rows,
        )


def print_rows(title: str, rows: dict) -> None:
    print(title)
    print(
        f"{'statements':>10} {'emitted lines':>14} {'runs':>5} {'compile s':>10} "
        f"{'ms/stmt':>8} {'load ms':>8} {'cache-hit ms':>13} {'new process ms':>15}"
    )

    def ms(seconds: float | None) -> str:
        return "-" if seconds is None else f"{1e3 * seconds:.1f}"

    for n, r in rows.items():
        print(
            f"{n:>10} {r['emitted_lines']:>14} {r['runs']:>5} {r['compile']:>10.2f} "
            f"{1e3 * r['compile'] / n:>8.2f} {ms(r['load']):>8} "
            f"{ms(r['cached']):>13} {ms(r['fresh']):>15}"
        )
    k, c = fit_exponent(list(rows), [r["compile"] for r in rows.values()])
    print(f"scaling exponent (time ~ statements^k, log-log least squares): k = {k:.2f}")
    print(f"fitted compile time at 1000 statements: {math.exp(c) * 1000**k:.2f} s\n")


if __name__ == "__main__":
    main()
