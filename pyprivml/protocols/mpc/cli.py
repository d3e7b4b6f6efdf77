"""``pyprivml train bgw|bh08``: the MPC baselines from the command line (seed 004 sec. V).

The common options (dataset, --workers, --T, --lx, --lw, --iters, --lr, --seed, --transport,
--report, ...) are :mod:`pyprivml.cli`'s; :func:`add_arguments` adds the baselines' own. ``--K``
and ``--case`` are CodedPrivateML's and are ignored here (the data parallelism is the number of
groups, ``--groups``). The result is a :class:`~pyprivml.report.Report` in CodedPrivateML's
format, with the float gradient-descent baseline beside it.

    pyprivml train bh08 --dataset digits49 --workers 10 --iters 50
    mpiexec -n 11 pyprivml train bgw --dataset digits49 --iters 20 --report bgw.json
    pyprivml train bh08 --dataset digits49 --workers 50 --iters 5 --simulated   # EC2 model
"""

from __future__ import annotations

from ..sigmoid import DEFAULT_INTERVAL

__all__ = ["add_arguments", "train_bgw", "train_bh08", "cli_train"]


def add_arguments(parser) -> None:
    """Options of ``pyprivml train bgw|bh08`` beyond the common ones."""
    parser.add_argument("--groups", type=int, default=3, help="G groups of 2T+1 workers (sec. V: 3)")
    parser.add_argument("--fit-interval", default=None, metavar="LO,HI",
                        help=f"interval of the least-squares sigmoid fit (default {DEFAULT_INTERVAL[0]:g},"
                             f"{DEFAULT_INTERVAL[1]:g})")
    parser.add_argument("--linear", action="store_true", help="linear regression instead of logistic")
    parser.add_argument("--simulated", action="store_true",
                        help="run the ranks one at a time on the simulated network (pyprivml.simulate)")
    parser.add_argument("--bandwidth-mbit", type=float, default=800.0,
                        help="simulated link bandwidth, Mbit/s per direction (default: EC2 m3.xlarge)")
    parser.add_argument("--latency-ms", type=float, default=0.2, help="simulated one-way latency, ms")


def cli_train(args, protocol: str):
    """Run BGW or BH08 from parsed arguments; the Report on rank 0 (None on MPI worker ranks)."""
    from ...comm import mpi_world, resolve_kind
    from ...estimators import gradient_descent
    from ...report import Report
    from ...simulate import NetworkModel
    from ..codedprivateml import lipschitz_lr
    from .training import MPCConfig, run_mpc

    simulated = getattr(args, "simulated", False)
    kind = "simulated" if simulated else resolve_kind(args.transport)
    world = mpi_world() if kind == "mpi" else None
    n_workers = args.workers if args.workers is not None else (world[1] - 1 if world else 10)
    interval = (DEFAULT_INTERVAL if not getattr(args, "fit_interval", None)
                else tuple(float(v) for v in args.fit_interval.split(",")))
    cfg = MPCConfig(protocol=protocol, n_workers=n_workers, T=args.T, groups=getattr(args, "groups", 3),
                    degree=args.degree, task="linear" if getattr(args, "linear", False) else "logistic",
                    lx=args.lx, lw=args.lw, lc=args.lc, p=args.p, max_iter=args.iters, lr=args.lr,
                    fit_interval=interval, seed=args.seed)
    is_master = world is None or world[0] == 0
    X = y = Xte = yte = ds = None
    lr = cfg.lr
    if is_master:
        from ...data import get_dataset

        ds = get_dataset(args.dataset, path=args.data_path, m=args.m, d=args.d, seed=args.split_seed)
        X, y, Xte, yte = ds.X_train, ds.y_train, ds.X_test, ds.y_test
        lr = lr if lr is not None else lipschitz_lr(X, cfg.task)
    cfg = MPCConfig(**{**cfg.__dict__, "lr": lr})
    bar = progress = None
    if is_master and args.progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.max_iter, desc=f"{protocol.upper()} N={n_workers}", unit="it", leave=False)

        def progress(it, metrics):
            bar.update(1)
            bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items() if k in ("loss", "accuracy", "r2")})

    network = (NetworkModel(args.bandwidth_mbit * 1e6 / 8, args.latency_ms * 1e-3,
                            f"{args.bandwidth_mbit:g} Mbit/s, {args.latency_ms:g} ms") if simulated else None)
    result = run_mpc(X, y, cfg, X_test=Xte, y_test=yte, transport=kind, progress=progress, network=network)
    if bar is not None:
        bar.close()
    if result is None:
        return None
    _, baseline = gradient_descent(X, y, lr=cfg.lr, max_iter=cfg.max_iter, task=cfg.task, X_test=Xte, y_test=yte)
    meta = {"transport": kind, "ranks": n_workers + 1, "dataset_info": ds.info}
    if simulated:
        meta["network"] = network.name
    return Report.new(protocol, result.parameters, dataset=ds.name, history=result.history,
                      baseline_history=baseline, seconds=result.seconds, bytes=result.bytes, meta=meta)


def train_bgw(args):
    return cli_train(args, "bgw")


def train_bh08(args):
    return cli_train(args, "bh08")
