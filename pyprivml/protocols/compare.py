"""``pyprivml compare``: CodedPrivateML against its MPC baselines BGW and BH08 (seed 004 Table II).

Trains the same model on the same data with the same quantisation, sigmoid polynomial,
iterations, learning rate and seed under four protocols (CodedPrivateML Case 1 and Case 2,
BH08, BGW; sec. V) at equal N, and prints one table: protocol, N, K, T, accuracy, encoding,
communication, computation, total seconds and the speedup over each baseline. For the MPC rows
K is the number of groups G (the data parallelism: each worker processes m/G rows).

In-process (threads of this process, real time) by default; ``--transport simulated`` runs every
rank one at a time on the simulated network (:mod:`pyprivml.comm.simulated`, default: the seed's
EC2 m3.xlarge) and reports virtual seconds, which is what a cluster would see. Either way each
row's columns are the Table II phases as the roles timed them on the transport's clock, and the
total is their sum: kernel warm-up, the wrap-around proof and metric evaluation never count.

    pyprivml compare --dataset digits49 --workers 10 --iters 20
    pyprivml compare --dataset digits49 --workers 50 --iters 10 --transport simulated
"""

from __future__ import annotations

import argparse

from ..comm.simulated import EC2_M3_XLARGE, NetworkModel
from ..field import DEFAULT_PRIME
from .regression import RegressionConfig, lipschitz_lr

__all__ = ["register", "compare", "comparison_rows", "table_row", "PROTOCOL_LABELS"]

#: Row labels, in the order of the table.
PROTOCOL_LABELS = {"codedprivateml-1": "CodedPrivateML (Case 1)", "codedprivateml-2": "CodedPrivateML (Case 2)",
                   "bh08": "MPC using [BH08]", "bgw": "MPC using [BGW88]"}


def register(subparsers) -> None:
    """Add ``compare`` to the ``pyprivml`` command line (:data:`pyprivml.cli.COMMANDS`)."""
    p = subparsers.add_parser("compare", help="CodedPrivateML vs BGW and BH08: one table (seed 004 Table II)")
    p.add_argument("--dataset", default="digits49", help="digits49, breast_cancer, synthetic, cifar10 or gisette")
    p.add_argument("--data-path", default=None, help="directory of the cifar10 / gisette files")
    p.add_argument("--m", type=int, default=1000, help="rows of the synthetic data set")
    p.add_argument("--d", type=int, default=50, help="features of the synthetic data set")
    p.add_argument("--workers", type=int, default=10, help="N, the same for every protocol (>= 9)")
    p.add_argument("--iters", type=int, default=20, help="iterations J")
    p.add_argument("--lx", type=int, default=RegressionConfig.lx, help="data quantisation bits (eq. 4)")
    p.add_argument("--lw", type=int, default=RegressionConfig.lw, help="weight quantisation bits (eq. 6)")
    p.add_argument("--p", type=int, default=DEFAULT_PRIME)
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 1/L, Theorem 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weight quantisation (same for all)")
    p.add_argument("--protocols", nargs="+", default=list(PROTOCOL_LABELS), choices=list(PROTOCOL_LABELS))
    p.add_argument("--transport", default="inprocess", choices=("inprocess", "simulated"))
    p.add_argument("--simulated", dest="transport", action="store_const", const="simulated",
                   help="the same as --transport simulated (virtual seconds)")
    p.add_argument("--bandwidth-mbit", type=float, default=EC2_M3_XLARGE.bandwidth * 8 / 1e6)
    p.add_argument("--latency-ms", type=float, default=EC2_M3_XLARGE.latency * 1e3)
    p.add_argument("--per-message-us", type=float, default=EC2_M3_XLARGE.per_message * 1e6)
    p.add_argument("--json", default=None, metavar="OUT.json", help="also write the rows as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data import get_dataset

    ds = get_dataset(args.dataset, path=args.data_path, m=args.m, d=args.d)
    network = (NetworkModel.from_options(args.bandwidth_mbit, args.latency_ms, args.per_message_us)
               if args.transport == "simulated" else None)
    rows = comparison_rows(ds.X_train, ds.y_train, ds.X_test, ds.y_test, n_workers=args.workers,
                           iters=args.iters, lx=args.lx, lw=args.lw, p=args.p, lr=args.lr, seed=args.seed,
                           protocols=args.protocols, network=network)
    where = f"simulated cluster, {network.name}" if network else "in-process threads, this machine"
    print(f"{ds.name}: m = {ds.X_train.shape[0]}, d = {ds.X_train.shape[1]}, {args.iters} iterations, {where}")
    print(compare(rows))
    if args.json:
        import json

        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


def table_row(name, parameters, seconds, accuracy) -> dict:
    """One row of the table from a run's phase seconds (Table II columns).

    Encoding, communication and computation (the slowest decoded worker plus the master's
    decoding and update) as the master timed them on its transport's clock, and their sum as the
    total, so neither setup (kernel warm-up, the wrap-around proof) nor per-iteration metric
    evaluation counts, in measured and simulated runs alike. For the MPC rows K is the number of
    groups G.
    """
    computation = seconds["computation"] + seconds["decoding"] + seconds["update"]
    total = seconds["encoding"] + seconds["communication"] + computation
    return {"protocol": name, "N": parameters["N"], "K": parameters.get("K", parameters.get("G")),
            "T": parameters["T"], "accuracy": accuracy, "encoding_s": seconds["encoding"],
            "communication_s": seconds["communication"], "computation_s": computation, "total_s": total}


def run_protocol(name, X, y, X_test, y_test, *, n_workers, iters, lx=3, lw=4, p=DEFAULT_PRIME, lr, seed=0,
                 transport="inprocess", network=None, **kwargs):
    """One training run of protocol ``name`` (a key of :data:`PROTOCOL_LABELS`): (result, launch)."""
    from .codedprivateml import CodedPrivateMLConfig, run_codedprivateml
    from .mpc.training import MPCConfig, run_mpc

    common = dict(n_workers=n_workers, lx=lx, lw=lw, p=p, max_iter=iters, lr=lr, seed=seed, **kwargs)
    if name.startswith("codedprivateml"):
        cfg, run = CodedPrivateMLConfig(case=int(name[-1]), **common), run_codedprivateml
    else:
        cfg, run = MPCConfig(protocol=name, **common), run_mpc
    return run(X, y, cfg, X_test=X_test, y_test=y_test, transport=transport, network=network,
               return_launch=True)


def comparison_rows(X, y, X_test, y_test, *, n_workers, iters, lx=3, lw=4, p=DEFAULT_PRIME, lr=None,
                    seed=0, protocols=tuple(PROTOCOL_LABELS), network=None, warm_up=True) -> list:
    """Run each protocol once (on the simulated ``network`` if one is given); one dict per
    protocol with its accuracy and seconds per phase.

    ``warm_up`` first runs every protocol for one untimed iteration, so that no row pays for
    compiling or loading the kernels."""
    lr = lr if lr is not None else lipschitz_lr(X)
    if warm_up:
        comparison_rows(X, y, X_test, y_test, n_workers=n_workers, iters=1, lx=lx, lw=lw, p=p, lr=lr,
                        seed=seed, protocols=protocols, network=None, warm_up=False)
    rows = []
    for name in protocols:
        result, _ = run_protocol(name, X, y, X_test, y_test, n_workers=n_workers, iters=iters, lx=lx, lw=lw, p=p,
                                 lr=lr, seed=seed, transport="inprocess" if network is None else "simulated",
                                 network=network)
        rows.append(table_row(name, result.parameters, result.seconds, result.history[-1].get("accuracy")))
    return rows


def compare(rows: list) -> str:
    """The table: one line per protocol, speedups over BH08 and BGW (baseline total / row total)."""
    from ..report import format_table

    base = {r["protocol"]: r["total_s"] for r in rows if r["protocol"] in ("bh08", "bgw")}
    out = []
    for r in rows:
        acc = r.get("accuracy")
        line = {"protocol": PROTOCOL_LABELS.get(r["protocol"], r["protocol"]), "N": r["N"], "K": r["K"],
                "T": r["T"], "accuracy": "-" if acc is None else f"{100 * acc:.2f}%",
                "encoding s": f"{r['encoding_s']:.3f}", "communication s": f"{r['communication_s']:.3f}",
                "computation s": f"{r['computation_s']:.3f}", "total s": f"{r['total_s']:.3f}"}
        for b in ("bh08", "bgw"):
            if b in base:
                line[f"vs {b.upper()}"] = f"{base[b] / r['total_s']:.2f}x"
        out.append(line)
    return format_table(out)
