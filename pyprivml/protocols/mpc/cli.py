"""``pyprivml train bgw|bh08``: the MPC baselines from the command line (seed 004 sec. V).

The data, transport and report options are the runner's (:mod:`pyprivml.protocols.runner`), the
task's (workers, T, degree, scales, prime, iterations) :mod:`pyprivml.protocols.regression`'s;
``--groups`` is the baselines' own (the data parallelism is the number of groups G). The result
is a :class:`~pyprivml.report.Report` in the task's format, with the float gradient-descent
baseline beside it.

    pyprivml train bh08 --dataset digits49 --workers 10 --iters 50
    mpiexec -n 11 pyprivml train bgw --dataset digits49 --iters 20 --report bgw.json
    pyprivml train bh08 --dataset digits49 --workers 50 --iters 5 --transport simulated   # EC2 model
"""

from __future__ import annotations

from ..regression import add_regression_arguments, config_fields, train_from_args
from .training import MPCConfig, run_mpc

__all__ = ["add_arguments", "train_bgw", "train_bh08"]

DEFAULT_WORKERS = 10


def add_arguments(parser) -> None:
    """Options of ``pyprivml train bgw|bh08`` beyond the runner's and the task's."""
    add_regression_arguments(parser, default_workers=DEFAULT_WORKERS)
    group = parser.add_argument_group("BGW / BH08 (seed 004 appendix D)")
    group.add_argument("--groups", type=int, default=3, help="G groups of 2T+1 workers (sec. V: 3)")
    group.add_argument("--gram", choices=("auto", "on", "off"), default="auto",
                       help="for r = 1, share X'^T X' once instead of X' (no degree reduction; the same "
                            "weights); auto: where it is cheaper")


def _train(args, ctx, protocol: str):
    def make_config(args, n_workers):
        gram = {"auto": None, "on": True, "off": False}[args.gram]
        return MPCConfig(protocol=protocol, **config_fields(args, n_workers), T=args.T, groups=args.groups,
                         gram=gram)

    return train_from_args(args, ctx, name=protocol, make_config=make_config, run=run_mpc,
                           default_workers=DEFAULT_WORKERS)


def train_bgw(args, ctx):
    """``pyprivml train bgw``: the Report on rank 0 (None on MPI worker ranks)."""
    return _train(args, ctx, "bgw")


def train_bh08(args, ctx):
    """``pyprivml train bh08``: the Report on rank 0 (None on MPI worker ranks)."""
    return _train(args, ctx, "bh08")
