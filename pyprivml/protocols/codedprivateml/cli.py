"""``pyprivml train codedprivateml``: CodedPrivateML from the command line (seed 004, Algorithm 1).

    pyprivml train codedprivateml --dataset digits49 --workers 12 --case 2 --iters 50 --report out.json
    mpiexec -n 13 pyprivml train codedprivateml --dataset digits49 --case 2 --iters 50
    pyprivml train codedprivateml --workers 50 --case 1 --iters 5 --transport simulated

The data, transport and report options are the runner's (:mod:`pyprivml.protocols.runner`), the
task's (workers, T, degree, scales, prime, iterations) :mod:`pyprivml.protocols.regression`'s;
the options below are CodedPrivateML's own.

>>> parse_straggle("3:0.5,7:inf")
{3: 0.5, 7: inf}
"""

from __future__ import annotations

import argparse

from ..regression import add_regression_arguments, config_fields, train_from_args
from .config import CodedPrivateMLConfig
from .roles import run_codedprivateml

__all__ = ["add_arguments", "train", "parse_straggle"]

DEFAULT_WORKERS = 12


def parse_straggle(text: str | None) -> dict:
    """``"RANK:SECONDS,..."`` -> {rank: seconds}; ``inf`` seconds make a worker that never answers."""
    out: dict = {}
    if not text:
        return out
    for item in text.split(","):
        rank, sep, seconds = item.partition(":")
        try:
            if not sep:
                raise ValueError
            out[int(rank)] = float(seconds)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad straggler {item!r}: expected RANK:SECONDS, e.g. 3:0.5 or 3:inf") from None
        if out[int(rank)] < 0:
            raise argparse.ArgumentTypeError(f"straggler delay must be >= 0, got {item!r}")
    return out


def add_arguments(parser) -> None:
    """Options of ``pyprivml train codedprivateml`` beyond the runner's and the task's."""
    add_regression_arguments(parser, default_workers=DEFAULT_WORKERS)
    g = parser.add_argument_group("CodedPrivateML (seed 004)")
    g.add_argument("--case", type=int, default=2, choices=(1, 2),
                   help="1: maximum parallelisation, 2: equal parallelisation and privacy (sec. V)")
    g.add_argument("--K", type=int, default=None, help="parallelisation K (with --T, overrides --case)")
    g.add_argument("--straggle", type=parse_straggle, default={}, metavar="RANK:SECONDS,...",
                   help="delay these worker ranks by SECONDS per iteration (inf: never answer)")


def _config(args, n_workers: int) -> CodedPrivateMLConfig:
    return CodedPrivateMLConfig(**config_fields(args, n_workers), K=args.K, T=args.T, case=args.case,
                                straggle=args.straggle)


def train(args, ctx):
    """Run CodedPrivateML; the :class:`~pyprivml.report.Report` on rank 0 (None on worker ranks)."""
    return train_from_args(args, ctx, name="codedprivateml", make_config=_config, run=run_codedprivateml,
                           default_workers=DEFAULT_WORKERS,
                           meta=lambda result: {"workers_used_per_iteration": result.used_workers})
