"""What every protocol run returns, and the one way its seconds and bytes are counted.

Roles time their phases with :class:`PhaseTimer` on the transport's clock
(:meth:`pyprivml.comm.Transport.now`: wall time under MPI and in-process, virtual time on the
simulated cluster), so measured and simulated runs are accounted identically. The phases of seed
004 Table II are :data:`PHASES`; ``setup`` (kernel warm-up, the wrap-around proof's norms, the
learning rate) and ``metrics`` (loss and accuracy after each update, for the report) are timed
as their own phases and are never part of a Table II column.

>>> from pyprivml.comm import launch
>>> def role(t):
...     timer = PhaseTimer(t)
...     with timer("encoding"):
...         pass
...     return timer.seconds
>>> sorted(launch(role, 1, "inprocess").master)
['communication', 'computation', 'decoding', 'encoding', 'metrics', 'setup', 'update']
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

from ..report import PHASES

__all__ = ["RunResult", "PhaseTimer", "PHASES", "OWN_PHASES", "traffic_by_phase", "exchange_seconds"]

#: Timed, reported, and outside every Table II column.
OWN_PHASES = ("setup", "metrics")


class PhaseTimer:
    """Seconds per phase on ``transport.now()``; ``with timer("encoding"): ...`` adds to a phase."""

    def __init__(self, transport, phases=PHASES + OWN_PHASES):
        self.transport = transport
        self.seconds = dict.fromkeys(phases, 0.0)

    @contextmanager
    def __call__(self, phase: str):
        start = self.transport.now()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + self.transport.now() - start


def traffic_by_phase(log) -> dict:
    """Bytes sent plus received per transport phase of one rank's :class:`~pyprivml.comm.TrafficLog`."""
    return {name: s.bytes_sent + s.bytes_received for name, s in log.phases.items()}


def exchange_seconds(log, phases=("data", "weights", "results")) -> float:
    """Seconds one rank spent in the transport phases that move the training data and its results."""
    return sum(log.phases[p].seconds for p in phases if p in log.phases)


@dataclass(kw_only=True)
class RunResult:
    """A finished run as the root rank (master, Alice, server) sees it.

    ``parameters`` are the public parameters, ``history`` one dict per iteration or round (at
    least ``iteration`` and ``loss``), ``seconds`` per phase plus ``total``, ``bytes`` the root
    rank's traffic per transport phase, ``warnings`` what the run noticed but survived.
    """

    parameters: dict
    history: list
    seconds: dict
    bytes: dict
    warnings: list = field(default_factory=list)

    def report(self, protocol: str, *, dataset: str = "", baseline_history=None, optimum=None, meta=None):
        """The :class:`~pyprivml.report.Report` of this run, stamped with date, machine and command.

        ``baseline_history`` and ``optimum`` default to the result's own (if it has them)."""
        from ..report import Report

        meta = dict(meta or {})
        if self.warnings:
            meta.setdefault("warnings", list(self.warnings))
        if baseline_history is None:
            baseline_history = getattr(self, "baseline_history", None)
        if optimum is None:
            optimum = getattr(self, "optimum", None)
        return Report.new(protocol, self.parameters, dataset=dataset, history=self.history,
                          baseline_history=list(baseline_history or []), optimum=dict(optimum or {}),
                          seconds=self.seconds, bytes=self.bytes, meta=meta)
