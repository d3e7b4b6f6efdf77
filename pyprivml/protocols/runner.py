"""One command-line runner for every protocol: ``pyprivml train NAME [options]``.

The runner owns what every protocol's command line shares: the dataset options, the transport
(``auto``, ``mpi``, ``inprocess`` or ``simulated`` with its network model), the timeout, the
progress bar (rank 0 only, off with ``--no-progress``) and the report. A protocol module adds
only its own options with ``add_arguments(parser)`` and provides ``train(args, ctx)``, which
returns a :class:`~pyprivml.report.Report` on the root rank and None elsewhere;
:data:`pyprivml.cli.PROTOCOLS` lists them.

>>> import argparse
>>> parser = argparse.ArgumentParser(); add_common_arguments(parser)
>>> ctx = RunContext.from_args(parser.parse_args(["--transport", "simulated", "--latency-ms", "1"]))
>>> ctx.kind, ctx.network.latency, ctx.is_root
('simulated', 0.001, True)
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import dataclass

from ..comm import TRANSPORT_KINDS, launch, mpi_world, resolve_kind
from ..comm.simulated import EC2_M3_XLARGE, NetworkModel
from .progress import progress_bar

__all__ = ["RunContext", "add_common_arguments", "load_dataset"]


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``pyprivml train`` that every protocol has."""
    g = p.add_argument_group("data, transport and report (every protocol)")
    g.add_argument("--dataset", default="digits49",
                   help="digits49, breast_cancer, synthetic, cifar10, gisette; GAL: its tabular sets")
    g.add_argument("--data-path", default=None, help="directory of the cifar10 / gisette files")
    g.add_argument("--m", type=int, default=1000, help="rows of the synthetic data set")
    g.add_argument("--d", type=int, default=50, help="features of the synthetic data set")
    g.add_argument("--split-seed", type=int, default=0, help="seed of the train/test split")
    g.add_argument("--seed", type=int, default=None, help="seed of the protocol's non-secret randomness")
    g.add_argument("--transport", default="auto", choices=TRANSPORT_KINDS,
                   help="auto = MPI under mpiexec with >= 2 ranks, else in-process threads; simulated = "
                        "real computation on a modelled network (virtual seconds)")
    g.add_argument("--simulated", dest="transport", action="store_const", const="simulated",
                   help="the same as --transport simulated")
    net = EC2_M3_XLARGE
    g.add_argument("--bandwidth-mbit", type=float, default=net.bandwidth * 8 / 1e6,
                   help="simulated link bandwidth, Mbit/s per direction (default: EC2 m3.xlarge)")
    g.add_argument("--latency-ms", type=float, default=net.latency * 1e3, help="simulated one-way latency, ms")
    g.add_argument("--per-message-us", type=float, default=net.per_message * 1e6,
                   help="simulated software cost of one message, µs")
    g.add_argument("--timeout", type=float, default=120.0,
                   help="seconds a rank waits for a message before naming the ranks that did not answer")
    g.add_argument("--report", default=None, metavar="OUT.json", help="write the JSON report here")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def load_dataset(args):
    """The binary classification data set the options name (loaded on the root rank only)."""
    from ..data import get_dataset

    return get_dataset(args.dataset, path=args.data_path, m=args.m, d=args.d, seed=args.split_seed)


@dataclass(frozen=True)
class RunContext:
    """Where this process runs: the transport kind, its MPI (rank, size) if any, the network model
    of a simulated run, and whether to show progress."""

    kind: str
    world: tuple | None = None
    network: NetworkModel | None = None
    show_progress: bool = True

    @classmethod
    def from_args(cls, args) -> "RunContext":
        kind = resolve_kind(args.transport)
        network = None
        if kind == "simulated":
            network = NetworkModel.from_options(args.bandwidth_mbit, args.latency_ms, args.per_message_us)
        return cls(kind, mpi_world() if kind == "mpi" else None, network, bool(getattr(args, "progress", True)))

    @property
    def rank(self) -> int:
        return self.world[0] if self.world else 0

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def ranks(self, requested: int | None, default: int) -> int:
        """``requested`` ranks, else every rank mpiexec started, else ``default``."""
        if requested is not None:
            return requested
        return self.world[1] if self.world else default

    @contextmanager
    def progress(self, total: int, desc: str):
        """A tqdm bar on the root rank (None elsewhere or with --no-progress), closed afterwards."""
        bar = progress_bar(total, desc, enabled=self.show_progress, rank=self.rank)
        try:
            yield bar
        finally:
            if bar is not None:
                bar.close()

    def launch(self, role, size: int, **kwargs):
        """:func:`pyprivml.comm.launch` on this context's transport."""
        return launch(role, size, self.kind, network=self.network, **kwargs)

    def meta(self) -> dict:
        """What the report says about where the run ran."""
        out = {"transport": self.kind}
        if self.network is not None:
            out["network"] = self.network.name
        return out
