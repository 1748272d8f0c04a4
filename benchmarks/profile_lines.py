"""Per-statement cost of symgrad's emitted f_and_grad for one workload.

    python benchmarks/profile_lines.py "GMM"      # any substring of a name

Generated functions are straight-line code, so each top-level statement of
`f_and_grad` can be executed on its own in a namespace, in order, and timed.
Prints the statements costing the most (median microseconds over the runs):
the evidence behind the optimization notes in benchmarks/README.md.
"""

from __future__ import annotations

import ast
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
os.environ["SYMGRAD_CACHE"] = "0"
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import workloads  # noqa: E402

import symgrad  # noqa: E402


def profile(w: workloads.Workload, runs: int = 30, top: int = 12) -> None:
    g = symgrad.grad(w.fun, wrt=w.wrt if len(w.wrt) > 1 else w.wrt[0])
    module = g.module
    tree = ast.parse(g.source)
    fdef = next(n for n in tree.body if getattr(n, "name", "") == "f_and_grad")
    params = [a.arg for a in fdef.args.args]
    stmts = [s for s in fdef.body if not isinstance(s, ast.Expr)]  # no docstring
    codes = []
    for s in stmts:
        if isinstance(s, ast.Return):
            s = ast.Assign([ast.Name("_result", ast.Store())], s.value)
            ast.fix_missing_locations(s)
        codes.append((ast.unparse(s), compile(ast.Module([s], []), "<stmt>", "exec")))
    times: list[list[float]] = [[] for _ in codes]
    for _ in range(runs):
        ns = dict(vars(module))
        ns.update(zip(params[: len(w.args)], w.args, strict=True))
        ns["seed"] = None
        for i, (_, code) in enumerate(codes):
            t0 = time.perf_counter()
            exec(code, ns)
            times[i].append(time.perf_counter() - t0)
    med = [1e6 * statistics.median(t) for t in times]
    total = sum(med)
    print(f"{w.name}: {total:.1f} us in {len(codes)} statements (exec overhead incl.)")
    order = sorted(range(len(codes)), key=lambda i: -med[i])[:top]
    for i in order:
        text = codes[i][0].replace("\n", " ")
        print(f"{med[i]:9.1f} us {100 * med[i] / total:5.1f}%  {text[:90]}")


def main() -> None:
    pattern = sys.argv[1] if len(sys.argv) > 1 else ""
    for w in workloads.build():
        if pattern.lower() in w.name.lower():
            profile(w)
            print()


if __name__ == "__main__":
    main()
