"""``pyprivml train codedprivateml``: CodedPrivateML from the command line (seed 004, Algorithm 1).

    pyprivml train codedprivateml --dataset digits49 --workers 12 --case 2 --iters 50 --report out.json
    mpiexec -n 13 pyprivml train codedprivateml --dataset digits49 --case 2 --iters 50
    pyprivml train codedprivateml --workers 50 --case 1 --iters 5 --transport simulated
    pyprivml train codedprivateml --optimizer gd --lx 3 --lw 4 --p 33554393   # Algorithm 1 as written
    pyprivml train codedprivateml --lx 8 --lw 8 --degree 3 --primes auto       # several primes (CRT)

The data, transport and report options are the runner's (:mod:`pyprivml.protocols.runner`), the
task's (workers, T, degree, scales, prime, iterations) :mod:`pyprivml.protocols.regression`'s;
the options below are CodedPrivateML's own.

>>> parse_straggle("3:0.5,7:inf")
{3: 0.5, 7: inf}
>>> parse_primes("auto"), parse_primes("3"), parse_primes("4294967291,4294967279")
('auto', 3, (4294967291, 4294967279))
"""

from __future__ import annotations

import argparse

from ..optim import OPTIMIZERS
from ..regression import add_regression_arguments, config_fields, train_from_args
from .config import FAULT_MODES, CodedPrivateMLConfig, parse_fault
from .estimators import DEFAULT_MAX_ITER, DEFAULT_TOL
from .roles import run_codedprivateml

__all__ = ["add_arguments", "train", "parse_straggle", "parse_faults", "parse_primes"]

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


def parse_faults(text: str | None) -> dict:
    """``"RANK:MODE,..."`` -> {rank: mode}, MODE one of random, offset, scale, poly (Byzantine workers),
    optionally ``@ITERATION``, the first iteration the worker lies in.

    >>> parse_faults("3:random,5:poly@2")
    {3: 'random', 5: 'poly@2'}
    """
    out: dict = {}
    for item in (text or "").split(",") if text else []:
        rank, sep, mode = item.partition(":")
        try:
            if not sep or not rank.strip().isdigit():
                raise ValueError("no RANK:")
            parse_fault(mode)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad Byzantine worker {item!r}: expected RANK:MODE with MODE one of "
                                             f"{', '.join(FAULT_MODES)}, optionally @ITERATION, e.g. 3:random "
                                             f"or 5:offset@2") from None
        out[int(rank)] = mode
    return out


def parse_primes(text: str):
    """``auto``, a count ``k`` or ``P1,P2,...`` (several primes, decoded by the CRT); the config
    checks the values (distinct primes below 2**32, a count in 1..8)."""
    text = text.strip()
    if text == "auto":
        return "auto"
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad --primes {text!r}: expected auto, a count k or P1,P2,... "
                                         f"(e.g. 4294967291,4294967279)") from None
    return values[0] if len(values) == 1 else tuple(values)


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}")
    return v


def add_arguments(parser) -> None:
    """Options of ``pyprivml train codedprivateml`` beyond the runner's and the task's.

    Unlike the MPC baselines' commands, l_x, l_w and p default to the automatic plan (the master
    chooses the largest the wrap-around proof admits for the whole run) and the update to Nesterov's,
    for the estimators' iteration budget: pass ``--optimizer gd --lx 3 --lw 4 --p 33554393`` for
    the seed's Algorithm 1 as written."""
    add_regression_arguments(parser, default_workers=DEFAULT_WORKERS)
    parser.set_defaults(lx=None, lw=None, p=None, iters=DEFAULT_MAX_ITER)
    g = parser.add_argument_group("CodedPrivateML (seed 004)")
    g.add_argument("--optimizer", default="nesterov", choices=OPTIMIZERS,
                   help="the master's update on the decoded gradient (default nesterov)")
    g.add_argument("--momentum", type=float, default=None,
                   help="beta in [0, 1) (default: 0.9 for heavy-ball, Nesterov's t/(t+3) schedule)")
    g.add_argument("--tol", type=float, default=DEFAULT_TOL,
                   help=f"stop once the decoded gradient's norm is <= TOL (default {DEFAULT_TOL:g}; 0: never)")
    g.add_argument("--w-bound", type=_positive, default=None, metavar="R",
                   help="keep the weights in ||w||_2 <= R, the range the plan is proven for (default: chosen)")
    g.add_argument("--primes", type=parse_primes, default=None, metavar="auto|K|P1,P2,...",
                   help="run over several primes and decode by the Chinese remainder theorem: auto (the fewest "
                        "the wrap-around proof needs), a count K, or the primes (default: one prime, --p)")
    g.add_argument("--case", type=int, default=2, choices=(1, 2),
                   help="1: maximum parallelisation, 2: equal parallelisation and privacy (sec. V)")
    g.add_argument("--K", type=int, default=None, help="parallelisation K (with --T, overrides --case)")
    g.add_argument("--straggle", type=parse_straggle, default={}, metavar="RANK:SECONDS,...",
                   help="delay these worker ranks by SECONDS per iteration (inf: never answer)")
    g.add_argument("--byzantine", type=parse_faults, default={}, metavar="RANK:MODE,...",
                   help="make these worker ranks return wrong results (random, offset, scale, poly; "
                        "MODE@ITERATION: from that iteration on)")
    g.add_argument("--tolerate", type=int, default=None, metavar="A",
                   help="wrong results corrected per iteration (default: the number of --byzantine workers)")


def _config(args, n_workers: int) -> CodedPrivateMLConfig:
    return CodedPrivateMLConfig(**config_fields(args, n_workers), K=args.K, T=args.T, case=args.case,
                                straggle=args.straggle, optimizer=args.optimizer, momentum=args.momentum,
                                tol=args.tol or None, w_bound=args.w_bound, faults=args.byzantine,
                                byzantine=len(args.byzantine) if args.tolerate is None else args.tolerate,
                                primes=args.primes)


def train(args, ctx):
    """Run CodedPrivateML; the :class:`~pyprivml.report.Report` on rank 0 (None on worker ranks)."""
    return train_from_args(args, ctx, name="codedprivateml", make_config=_config, run=run_codedprivateml,
                           default_workers=DEFAULT_WORKERS,
                           meta=lambda result: {"workers_used_per_iteration": result.used_workers})
