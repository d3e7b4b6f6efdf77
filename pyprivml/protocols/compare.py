"""``pyprivml compare``: CodedPrivateML against its MPC baselines BGW and BH08 (seed 004 Table II).

Trains the same model on the same data with the same quantisation, sigmoid polynomial,
iterations, learning rate and seed under four protocols (CodedPrivateML Case 1 and Case 2,
BH08, BGW; sec. V) at equal N, and prints one table: protocol, N, K, T, accuracy, encoding,
communication, computation, total seconds and the speedup over each baseline. For the MPC rows
K is the number of groups G (the data parallelism: each worker processes m/G rows).

In-process (threads of this process, real time) by default; ``--simulated`` runs every rank one
at a time on :mod:`pyprivml.simulate`'s network model (default: the seed's EC2 m3.xlarge) and
reports virtual seconds, which is what a cluster would see.

    pyprivml compare --dataset digits49 --workers 10 --iters 20
    pyprivml compare --dataset digits49 --workers 50 --iters 10 --simulated
"""

from __future__ import annotations

import argparse

from ..field import DEFAULT_PRIME

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
    from .codedprivateml import CodedPrivateMLConfig

    p.add_argument("--lx", type=int, default=CodedPrivateMLConfig.lx, help="data quantisation bits (eq. 4)")
    p.add_argument("--lw", type=int, default=CodedPrivateMLConfig.lw, help="weight quantisation bits (eq. 6)")
    p.add_argument("--p", type=int, default=DEFAULT_PRIME)
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 1/L, Theorem 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weight quantisation (same for all)")
    p.add_argument("--protocols", nargs="+", default=list(PROTOCOL_LABELS), choices=list(PROTOCOL_LABELS))
    p.add_argument("--simulated", action="store_true", help="simulated EC2 cluster (virtual seconds)")
    p.add_argument("--bandwidth-mbit", type=float, default=800.0)
    p.add_argument("--latency-ms", type=float, default=0.2)
    p.add_argument("--json", default=None, metavar="OUT.json", help="also write the rows as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data import get_dataset
    from ..simulate import NetworkModel

    ds = get_dataset(args.dataset, path=args.data_path, m=args.m, d=args.d)
    network = (NetworkModel(args.bandwidth_mbit * 1e6 / 8, args.latency_ms * 1e-3,
                            f"{args.bandwidth_mbit:g} Mbit/s, {args.latency_ms:g} ms")
               if args.simulated else None)
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


def table_row(name, parameters, seconds, accuracy, *, total=None) -> dict:
    """One row of the table from a run's phase seconds (Table II columns).

    Measured runs: encoding, communication and computation (the slowest decoded worker plus the
    master's decoding and update) as the master timed them, and their sum as the total, so neither
    the kernel warm-up nor per-iteration metric evaluation counts. Simulated runs pass the virtual
    ``total`` of the cluster clock; communication is then what the other phases leave of it.
    """
    computation = seconds["computation"] + seconds["decoding"] + seconds["update"]
    if total is None:
        communication = seconds["communication"]
        total = seconds["encoding"] + communication + computation
    else:
        communication = total - seconds["encoding"] - computation
    return {"protocol": name, "N": parameters["N"], "K": parameters["K"], "T": parameters["T"],
            "accuracy": accuracy, "encoding_s": seconds["encoding"], "communication_s": communication,
            "computation_s": computation, "total_s": total}


def comparison_rows(X, y, X_test, y_test, *, n_workers, iters, lx=3, lw=4, p=DEFAULT_PRIME, lr=None,
                    seed=0, protocols=tuple(PROTOCOL_LABELS), network=None, warm_up=True) -> list:
    """Run each protocol once; one dict per protocol with its accuracy and seconds per phase.

    ``warm_up`` first runs every protocol for one untimed iteration, so that no row pays for
    compiling or loading the kernels."""
    from .codedprivateml import CodedPrivateMLConfig, lipschitz_lr, master_role, worker_role
    from .mpc.training import MPCConfig, mpc_role

    lr = lr if lr is not None else lipschitz_lr(X)
    if warm_up:
        comparison_rows(X, y, X_test, y_test, n_workers=n_workers, iters=1, lx=lx, lw=lw, p=p, lr=lr,
                        seed=seed, protocols=protocols, network=None, warm_up=False)
    rows = []
    for name in protocols:
        if name.startswith("codedprivateml"):
            cfg = CodedPrivateMLConfig(n_workers=n_workers, case=int(name[-1]), lx=lx, lw=lw, p=p, max_iter=iters,
                                       lr=lr, seed=seed)

            def role(t, cfg=cfg):
                return (master_role(t, X, y, cfg, X_test=X_test, y_test=y_test) if t.rank == 0
                        else worker_role(t, cfg))
        else:
            role = mpc_role(MPCConfig(protocol=name, n_workers=n_workers, lx=lx, lw=lw, p=p, max_iter=iters,
                                      lr=lr, seed=seed), X, y, X_test=X_test, y_test=y_test)
        if network is not None:
            from ..simulate import run_simulated

            run = run_simulated(role, n_workers + 1, network=network)
            result, total = run.results[0], run.total
        else:
            from ..comm import launch

            result, total = launch(role, n_workers + 1, "inprocess").master, None
        rows.append(table_row(name, result.parameters, result.seconds, result.history[-1].get("accuracy"),
                              total=total))
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
