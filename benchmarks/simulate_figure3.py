"""Seed 004 Figure 3 and Table II on the simulated cluster (``launch(..., kind="simulated")``).

Every role's computation runs for real, one role after another, on this machine; communication
is charged to the network model (default: EC2 m3.xlarge, 800 Mbit/s per direction, 0.2 ms latency
and a per-message software cost; see pyprivml/comm/simulated.py for the sources). The data are
synthetic with the seed's shapes. CIFAR-10 plane/car is :func:`pyprivml.data.make_cifar10_like`:
9019 x 3072 pixels in [0, 1] drawn like CIFAR-10's intensities plus the bias column of ones (the
seed's footnote 2), at the seed's l_x = 2, l_w = 6: the wrap-around proof refuses the
default p = 2^25 - 39 for it, so every protocol runs with the prime the fixed-point plan picks
(:func:`plan_prime`, printed and recorded per row). GISETTE (6000 x 5000) keeps small values
(|x| < 0.13) at p = 2^25 - 39. Accuracy is measured on real data elsewhere.

Accounting is the roles' own, as in measured runs: each Table II column (encoding, communication,
computation) is what the master timed on its transport's clock; setup (kernel warm-up, the
wrap-around proof's norms, the learning rate) and the metric evaluation after every update are
their own phases and count in no column; the total is the sum of the three columns. J = 50
iterations are extrapolated from two simulated runs of a < b iterations at the full shape: every
column is affine in the number of iterations (same shapes, same messages each iteration, and
BH08's offline phase prepares double sharings for all iterations of its run, before the first).
From one simulated run of b iterations: encoding = the master's one-time encoding (X) plus J
times its per-iteration encoding (W); computation = J times the per-iteration computation;
communication = the one-time part (the data upload and BH08's offline round, both waited for in
iteration 0) plus J times the steady per-iteration exchange (median over iterations 1..b-1 of the
master's exchange seconds, less the workers' mean computation per iteration). BH08's offline
phase is prepared for the b simulated iterations, so its per-iteration share (the measured
offline seconds / b) is charged J - b more times.

    python benchmarks/simulate_figure3.py --dataset cifar10 gisette --N 10 20 30 40 50 \
        --json docs/img/figure3_simulated.json --plot docs/img/figure3_simulated.png
    python benchmarks/simulate_figure3.py --dataset cifar10 --N 50 --protocols bgw bh08 \
        --per-message-us 0 30 100 300 1000 --json /tmp/per_message.json   # the BGW/BH08 gap
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from pyprivml.backends import autotune
from pyprivml.comm.simulated import EC2_M3_XLARGE, NetworkModel
from pyprivml.data import make_cifar10_like
from pyprivml.field import DEFAULT_PRIME
from pyprivml.plot import plot_scaling
from pyprivml.protocols.codedprivateml import CodedPrivateMLConfig
from pyprivml.protocols.compare import run_protocol
from pyprivml.protocols.mpc.training import message_counts

SHAPES = {"cifar10": (9019, 3073), "gisette": (6000, 5000)}
#: Quantisation of sec. V: (l_x, l_w) = (2, 6) for CIFAR-10 and (2, 5) for GISETTE.
SCALES = {"cifar10": (2, 6), "gisette": (2, 5)}
COLUMNS = ("encoding_s", "communication_s", "computation_s")
PROTOCOLS = ["bgw", "bh08", "codedprivateml-1", "codedprivateml-2"]


#: The learning rate of every simulated run (the plan's reach, J eta ||grad f(0)||, depends on it).
LR = 1e-3


def synthetic(dataset: str, seed: int = 0):
    m, d = SHAPES[dataset]
    if dataset == "cifar10":   # pixels in [0, 1] like CIFAR-10's, and the bias column of ones
        ds = make_cifar10_like(m, 2, seed=seed)
        return ds.X_train, ds.y_train.astype(float)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-0.13, 0.13, (m, d))
    X[:, -1] = 0.0
    return X, (rng.random(m) < 0.5).astype(float)


def plan_prime(dataset: str, iterations: int) -> int:
    """The prime CodedPrivateML's fixed-point plan picks for the dataset at the seed's l_x, l_w and
    J iterations (the smallest one the wrap-around proof admits for the whole run); GISETTE's
    small synthetic values keep the default prime."""
    if dataset != "cifar10":
        return DEFAULT_PRIME
    X, y = synthetic(dataset)
    l_x, l_w = SCALES[dataset]
    config, _ = CodedPrivateMLConfig(n_workers=10, lx=l_x, lw=l_w, p=None, max_iter=iterations, lr=LR).resolve(X, y)
    return config.p


def _traffic(run) -> dict:
    """Bytes sent and messages sent per transport phase, summed over every rank."""
    logs = [t.log for t in run.transports]
    names = sorted({ph for log in logs for ph in log.phases})
    return {"bytes": {ph: sum(log.phases[ph].bytes_sent for log in logs if ph in log.phases) for ph in names},
            "messages": message_counts(run)}


def simulate(protocol, N, dataset, *, iterations=50, simulated=3, network=None, p=DEFAULT_PRIME):
    """Table II columns at ``iterations``, extrapolated from one simulated run of ``simulated`` iterations."""
    X, y = synthetic(dataset)
    l_x, l_w = SCALES[dataset]
    network = network or EC2_M3_XLARGE
    wall = time.perf_counter()

    def run(Xs, ys, iters):
        return run_protocol(protocol, Xs, ys, None, None, n_workers=N, iters=iters, lx=l_x, lw=l_w, p=p, lr=LR,
                            seed=0, transport="simulated", network=network, timeout=1e9)

    run(X[:300], y[:300], 1)   # compile every kernel, untimed
    res, launched = run(X, y, simulated)
    s, once, b, J = res.seconds, res.before_iterations, simulated, iterations
    compute = s["computation"] + s["decoding"] + s["update"]
    steady = float(np.median(res.exchange_per_iteration[1:])) - s["computation"] / b
    first = s["communication"] - (b - 1) * steady - s["computation"] / b      # iteration 0 less a steady one
    offline = s.get("offline", 0.0)
    row = {"protocol": protocol, "N": N, "K": res.parameters.get("K", res.parameters.get("G")), "p": p,
           "T": res.parameters["T"], "dataset": dataset, "iterations": J, "simulated_iterations": b,
           "network": network.name, "per_message_us": network.per_message * 1e6,
           "encoding_s": once["encoding"] + J * (s["encoding"] - once["encoding"]) / b,
           "communication_s": first + J * steady + (J - b) * offline / b,
           "computation_s": J * compute / b, "offline_s": offline * J / b,
           "setup_s": s["setup"], "metrics_s_per_iteration": s["metrics"] / b}
    row["total_s"] = sum(row[c] for c in COLUMNS)
    traffic = _traffic(launched)
    for kind in ("bytes", "messages"):   # per phase over all ranks; "data" and "offline" are one-time
        row[f"{kind}_per_phase"] = traffic[kind]
    row["wall_s"] = time.perf_counter() - wall
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", nargs="+", default=["cifar10", "gisette"], choices=sorted(SHAPES))
    ap.add_argument("--N", nargs="+", type=int, default=[10, 20, 30, 40, 50])
    ap.add_argument("--protocols", nargs="+", default=PROTOCOLS, choices=PROTOCOLS)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--simulate-iterations", type=int, default=3,
                    help="iterations simulated at the full shape (>= 2; the rest is extrapolated)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="simulate each configuration this often and keep the run with the median total")
    ap.add_argument("--bandwidth-mbit", type=float, default=EC2_M3_XLARGE.bandwidth * 8 / 1e6)
    ap.add_argument("--latency-ms", type=float, default=EC2_M3_XLARGE.latency * 1e3)
    ap.add_argument("--per-message-us", nargs="+", type=float, default=[EC2_M3_XLARGE.per_message * 1e6])
    ap.add_argument("--p", type=int, default=None,
                    help="the prime of every run (default: the one the fixed-point plan picks, see plan_prime)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--plot", default=None)
    args = ap.parse_args(argv)
    if args.simulate_iterations < 2:
        ap.error("--simulate-iterations must be >= 2 (the steady iteration is measured from the second on)")
    autotune.ensure_tuned()   # no kernel route is tuned inside a timed phase
    rows = []
    for per_message in args.per_message_us:
        net = NetworkModel.from_options(args.bandwidth_mbit, args.latency_ms, per_message)
        for dataset in args.dataset:
            p = plan_prime(dataset, args.iterations) if args.p is None else args.p
            print(f"{dataset}: p = {p} (l_x, l_w = {SCALES[dataset]})", flush=True)
            for N in args.N:
                for protocol in args.protocols:
                    runs = sorted((simulate(protocol, N, dataset, iterations=args.iterations, simulated=args.simulate_iterations,
                                            network=net, p=p) for _ in range(args.repeats)), key=lambda r: r["total_s"])
                    row = dict(runs[len(runs) // 2], repeats=args.repeats, totals_s=[r["total_s"] for r in runs])
                    rows.append(row)
                    print(f"{dataset:8s} N={N:3d} {protocol:17s} {per_message:6g} us/msg  total {row['total_s']:8.2f} s "
                          f"(enc {row['encoding_s']:.2f}, comm {row['communication_s']:.2f}, "
                          f"comp {row['computation_s']:.2f}; wall {row['wall_s']:.0f} s)", flush=True)
                    if args.json:
                        with open(args.json, "w") as fh:
                            json.dump({"network": net.name, "rows": rows}, fh, indent=1)
    if args.plot:
        plot_scaling(rows, args.plot, title=f"network: {net.name}")


if __name__ == "__main__":
    main()
