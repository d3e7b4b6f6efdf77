"""What the CodedPrivateML master does per iteration at many workers (issue 13, item 7).

Runs N workers on the simulated cluster (every role's computation for real, one after another;
the network modelled) and reports the master's own seconds per iteration by phase, from its
timers: encoding W (stochastic quantisation, then one combine for all N shares, fresh masks),
decoding (one combine with the decoding matrix cached per responding set, then step 14),
update, and the metric evaluation (loss and accuracy on the training and test data, O(m d)),
with ``eval_every`` 1 and 10. Then a cProfile of the master's thread alone: the functions of
pyprivml (outside the transports, whose waiting it leaves out) and NumPy that take most of its time.

    python benchmarks/master_profile.py --N 50 --m 6000 --d 1000 --iters 10
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats

from pyprivml.backends import autotune
from pyprivml.data import make_synthetic
from pyprivml.protocols.codedprivateml import CodedPrivateMLConfig, run_codedprivateml
from pyprivml.protocols.codedprivateml import roles

PHASES = ("encoding", "decoding", "update", "metrics")


def per_iteration(result, iterations: int) -> dict:
    """The master's seconds per iteration by phase (encoding less its one-time data part)."""
    seconds, once = result.seconds, result.before_iterations
    out = {phase: (seconds.get(phase, 0.0) - once.get(phase, 0.0)) / iterations for phase in PHASES}
    out["total"] = sum(out.values())
    return out


def profile_master(ds, config) -> str:
    """cProfile of the master's run (its own thread only), top functions by own time."""
    profiler = cProfile.Profile()
    run = roles._Master.run

    def profiled(self):
        profiler.enable()
        try:
            return run(self)
        finally:
            profiler.disable()

    roles._Master.run = profiled
    try:
        run_codedprivateml(ds.X_train, ds.y_train, config, X_test=ds.X_test, y_test=ds.y_test,
                           transport="simulated")
    finally:
        roles._Master.run = run
    text = io.StringIO()
    # the master's own work: the transports' waiting (locks, polls) is left out
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(r"pyprivml/(?!comm/)|numpy", 14)
    return text.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--N", type=int, default=50)
    ap.add_argument("--m", type=int, default=6000)
    ap.add_argument("--d", type=int, default=1000)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args(argv)
    autotune.ensure_tuned()   # no kernel route is tuned inside a timed phase
    ds = make_synthetic(args.m, args.d, seed=0)
    rows = {}
    for every in (1, 10):
        config = CodedPrivateMLConfig(n_workers=args.N, case=2, max_iter=args.iters, seed=0, eval_every=every, p=None)
        result = run_codedprivateml(ds.X_train, ds.y_train, config, X_test=ds.X_test, y_test=ds.y_test,
                                    transport="simulated")
        rows[every] = per_iteration(result, args.iters)
    K, T = config.K_T()
    print(f"N = {args.N} (K = {K}, T = {T}), m = {args.m}, d = {args.d}, {args.iters} iterations; "
          f"master ms per iteration")
    print("| eval_every | " + " | ".join(PHASES) + " | total |")
    print("| ---: |" + " ---: |" * (len(PHASES) + 1))
    for every, row in rows.items():
        print(f"| {every} | " + " | ".join(f"{row[k] * 1e3:.2f}" for k in (*PHASES, "total")) + " |")
    print(profile_master(ds, CodedPrivateMLConfig(n_workers=args.N, case=2, max_iter=args.iters, seed=0, p=None)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
