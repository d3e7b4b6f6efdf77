"""Seed 004 Figure 3 and Table II on the simulated cluster (pyprivml.simulate).

Every role's computation runs for real, one role after another, on this machine; communication
is charged to the network model (default: EC2 m3.xlarge, 800 Mbit/s per direction, 0.2 ms; see
pyprivml/simulate.py for the sources). The data are synthetic with the seed's shapes (CIFAR-10
plane/car 9019 x 3073, GISETTE 6000 x 5000): the dense field kernels cost the same whatever the
values, and the values are drawn small (|x| < 0.13, so Round(2^2 x) is mostly 0) so that the
worst-case wrap-around proof (pyprivml.protocols.fixedpoint) holds at p = 2^25 - 39 for these
shapes. Accuracy is measured on real data elsewhere (tests, `pyprivml compare`).

Only ``--simulate-iterations`` iterations (default 2) are simulated at the full shape; the seed's
J = 50 iterations are extrapolated from them as described in :func:`simulate` (iterations cost the
same every time: same shapes, same messages). The protocols run with CodedPrivateML's
defaults (r = 1, p = 2^25 - 39, (l_x, l_w) of sec. V) and a fixed learning rate.

    python benchmarks/simulate_figure3.py --dataset cifar10 gisette --N 10 20 30 40 50 \
        --json docs/img/figure3_simulated.json --plot docs/img/figure3_simulated.png
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from pyprivml.plot import plot_scaling
from pyprivml import PrimeField, modcombine, modmatmul, modmatvec, quantize_stochastic
from pyprivml.lagrange import LagrangeCode
from pyprivml.protocols.mpc import make_groups
from pyprivml.shamir import shamir_share
from pyprivml.protocols.codedprivateml import CodedPrivateMLConfig, master_role, worker_role
from pyprivml.protocols.mpc.training import MPCConfig, mpc_role
from pyprivml.simulate import NetworkModel, run_simulated

SHAPES = {"cifar10": (9019, 3073), "gisette": (6000, 5000)}
#: Quantisation of sec. V: (l_x, l_w) = (2, 6) for CIFAR-10 and (2, 5) for GISETTE.
SCALES = {"cifar10": (2, 6), "gisette": (2, 5)}


def synthetic(dataset: str, seed: int = 0):
    m, d = SHAPES[dataset]
    rng = np.random.default_rng(seed)
    X = rng.uniform(-0.13, 0.13, (m, d))
    X[:, -1] = 0.0   # the bias column of the seed's footnote 2 (kept 0 here: timing only)
    return X, (rng.random(m) < 0.5).astype(float)


def warm_up():
    """Compile/load every kernel once so no JIT time is charged to a role."""
    F = PrimeField()
    a = np.ones((4, 4), dtype=np.int64)
    modmatmul(a, a, F), modcombine(a, a, F), modmatvec(a, a[0], F), modmatvec(a, a[0], F, transpose=True)


def _weight_encoding_seconds(protocol, N, d, lw, T, K, repeats=5) -> float:
    """Median seconds of the master's per-iteration weight encoding, measured on its own."""
    F = PrimeField()
    W = quantize_stochastic(np.full(d, 0.01), lw, F, copies=1, seed=0)
    if protocol in ("bgw", "bh08"):
        groups = make_groups(N, F)
        fn = lambda: [shamir_share(W, g.n, g.T, F, points=g.points) for g in groups]   # noqa: E731
    else:
        code = LagrangeCode(F, N, K, T)
        fn = lambda: code.encode_replicated(W)   # noqa: E731
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def simulate(protocol, N, dataset, *, iterations=50, simulated=2, network=None):
    """Simulate `simulated` iterations at the full shape and extrapolate to `iterations`.

    * total: the master's simulated clock at the end, plus (iterations - simulated) times one
      iteration's simulated time (the clock difference between the last two iterations);
    * computation (workers' local work, plus the master's decoding and update): per-iteration
      quantities, scaled by iterations / simulated;
    * encoding: the run's encoding plus (iterations - simulated) times the weight encoding of one
      iteration, measured on its own (median of 5);
    * communication: the rest (network, waiting, BGW/BH08 degree-reduction rounds).
    Each role's computation is measured exactly: one role runs at a time.
    """
    X, y = synthetic(dataset)
    l_x, l_w = SCALES[dataset]
    network = network or NetworkModel()
    marks, holder = [], {}

    def progress(it, metrics):
        marks.append(holder["t"].now())

    if protocol in ("bgw", "bh08"):
        cfg = MPCConfig(protocol=protocol, n_workers=N, max_iter=simulated, lx=l_x, lw=l_w, lr=1e-3, seed=0)
        inner = mpc_role(cfg, X, y, progress=progress)
    else:
        cfg = CodedPrivateMLConfig(n_workers=N, case=int(protocol[-1]), lx=l_x, lw=l_w, max_iter=simulated,
                                   lr=1e-3, seed=0, timeout=1e9)

        def inner(t):
            return master_role(t, X, y, cfg, progress=progress) if t.rank == 0 else worker_role(t, cfg)

    def role(t):
        if t.rank == 0:
            holder["t"] = t
        return inner(t)

    wall = time.perf_counter()
    run = run_simulated(role, N + 1, network=network)
    wall = time.perf_counter() - wall
    res = run.results[0]
    K, T = res.parameters["K"], res.parameters["T"]
    extra = iterations - simulated
    total = run.total + extra * (marks[-1] - marks[-2])
    scale = iterations / simulated
    comp = scale * (res.seconds["computation"] + res.seconds["decoding"] + res.seconds["update"])
    enc = res.seconds["encoding"] + extra * _weight_encoding_seconds(protocol, N, X.shape[1], l_w, T, K)
    return {"protocol": protocol, "N": N, "K": K, "T": T, "dataset": dataset, "iterations": iterations,
            "simulated_iterations": simulated, "encoding_s": enc, "communication_s": total - enc - comp,
            "computation_s": comp, "total_s": total, "wall_s": wall}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", nargs="+", default=["cifar10", "gisette"], choices=sorted(SHAPES))
    ap.add_argument("--N", nargs="+", type=int, default=[10, 20, 30, 40, 50])
    ap.add_argument("--protocols", nargs="+", default=["bgw", "bh08", "codedprivateml-1", "codedprivateml-2"],
                    choices=["bgw", "bh08", "codedprivateml-1", "codedprivateml-2"])
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--simulate-iterations", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3,
                    help="simulate each configuration this often and keep the run with the median total "
                         "(measured computation is noisy on a shared machine)")
    ap.add_argument("--bgw-N", nargs="+", type=int, default=[50],
                    help="N at which to run BGW (Table II has it at N = 50 only)")
    ap.add_argument("--bandwidth-mbit", type=float, default=800.0)
    ap.add_argument("--latency-ms", type=float, default=0.2)
    ap.add_argument("--json", default=None)
    ap.add_argument("--plot", default=None)
    args = ap.parse_args(argv)
    if args.simulate_iterations < 2:
        ap.error("--simulate-iterations must be >= 2 (one iteration's time is a clock difference)")
    net = NetworkModel(args.bandwidth_mbit * 1e6 / 8, args.latency_ms * 1e-3,
                       f"{args.bandwidth_mbit:g} Mbit/s, {args.latency_ms:g} ms")
    warm_up()
    rows = []
    for dataset in args.dataset:
        for N in args.N:
            for protocol in args.protocols:
                if protocol == "bgw" and N not in args.bgw_N:
                    continue
                runs = sorted((simulate(protocol, N, dataset, iterations=args.iterations,
                                        simulated=args.simulate_iterations, network=net)
                               for _ in range(args.repeats)), key=lambda r: r["total_s"])
                row = dict(runs[len(runs) // 2], repeats=args.repeats,
                           totals_s=[r["total_s"] for r in runs])   # the run with the median total
                rows.append(row)
                print(f"{dataset:8s} N={N:3d} {protocol:17s} total {row['total_s']:9.1f} s  "
                      f"(enc {row['encoding_s']:.1f}, comm {row['communication_s']:.1f}, "
                      f"comp {row['computation_s']:.1f}; wall {row['wall_s']:.0f} s)", flush=True)
                if args.json:
                    with open(args.json, "w") as fh:
                        json.dump({"network": net.name, "rows": rows}, fh, indent=1)
    if args.plot:
        plot_scaling(rows, args.plot, title=f"network: {net.name}")


if __name__ == "__main__":
    main()
