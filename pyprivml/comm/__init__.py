"""Transports: one interface (:class:`Transport`), three kinds of it, one launcher.

A protocol is written as a *role*: a function ``role(transport)`` that looks at ``transport.rank``
and plays the master (rank 0) or a worker. :func:`launch` runs it

* ``"mpi"``, under ``mpiexec``: this process plays its own rank over :class:`~pyprivml.comm.mpi.MPITransport`;
* ``"inprocess"``: every rank plays in its own thread over :class:`~pyprivml.comm.inprocess.InProcessTransport`;
* ``"simulated"``: every rank plays in its own thread, one at a time, over
  :class:`~pyprivml.comm.simulated.SimulatedTransport`, whose clocks charge the real computation
  and a modelled network (``network=NetworkModel(...)``, default seed 004's EC2 cluster).

Roles time themselves with :meth:`Transport.now`, so no protocol needs to know which kind it runs on.

``kind="auto"`` picks MPI when this process was started by ``mpiexec`` with at least two ranks,
in-process otherwise.

>>> def role(t):
...     if t.rank == 0:
...         got = t.gather_first(range(1, t.size), t.size - 1, tag=7, timeout=5)
...         return sorted(msg["hello from"] for msg in got.values())
...     t.send({"hello from": t.rank}, dest=0, tag=7)
>>> launch(role, 3, kind="inprocess").results[0]
[1, 2]
>>> run = launch(role, 3, kind="simulated", network=NetworkModel(bandwidth=1e9, latency=1e-3))
>>> run.master, run.clocks[0] > 1e-3          # the result, and rank 0's virtual finishing time
([1, 2], True)
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import (ANY_SOURCE, ANY_TAG, PhaseStats, Request, TrafficLog, Transport, TransportAborted,
                   TransportTimeout, payload_nbytes)
from .inprocess import InProcessNetwork, InProcessRun, InProcessTransport, run_inprocess
from .mpi import MPITransport, launched_under_mpi, mpi_world
from .simulated import EC2_M3_XLARGE, NetworkModel, SimulatedTransport, run_simulated

__all__ = [
    "ANY_SOURCE", "ANY_TAG", "PhaseStats", "TrafficLog", "Request", "Transport", "TransportTimeout",
    "TransportAborted", "payload_nbytes", "InProcessNetwork", "InProcessTransport", "InProcessRun", "run_inprocess",
    "MPITransport", "launched_under_mpi", "mpi_world", "NetworkModel", "EC2_M3_XLARGE", "SimulatedTransport",
    "run_simulated", "TRANSPORT_KINDS", "resolve_kind", "make_transport", "launch", "LaunchResult",
]

#: The values of ``kind``: "auto" is MPI under mpiexec with >= 2 ranks, else in-process.
TRANSPORT_KINDS = ("auto", "mpi", "inprocess", "simulated")


def resolve_kind(kind: str = "auto") -> str:
    """"mpi", "inprocess" or "simulated": what ``kind`` means in this process ("auto" looks for mpiexec)."""
    if kind not in TRANSPORT_KINDS:
        raise ValueError(f"unknown transport {kind!r}; valid: {', '.join(TRANSPORT_KINDS)}")
    if kind == "auto":
        return "mpi" if launched_under_mpi(2) else "inprocess"
    return kind


def make_transport(kind: str = "auto", size: int | None = None, *, record_payloads: bool = False) -> list:
    """The transports this process drives: ``[its MPI rank]`` under MPI, all ``size`` ranks in-process."""
    kind = resolve_kind(kind)
    if kind == "simulated":
        raise ValueError("simulated transports exist only inside a run: use launch(role, size, 'simulated')")
    if kind == "mpi":
        t = MPITransport(record_payloads=record_payloads)
        if size is not None and t.size != size:
            raise ValueError(f"this run needs {size} MPI ranks but mpiexec started {t.size}; "
                             f"launch it with mpiexec -n {size}")
        return [t]
    if size is None:
        raise ValueError("an in-process transport needs size (the number of ranks)")
    return InProcessNetwork(size, record_payloads=record_payloads).transports


def _share_cores(ranks: int) -> None:
    """Give each MPI rank of this machine its share of the cores for the kernels' thread pools.

    With more ranks than cores, parallel kernels in every rank oversubscribe the machine and
    their spinning threads slow each other down by orders of magnitude (measured: 13 ranks on 2
    cores, worker computation 0.06 s with one thread per rank, 9.8 s with two). An explicit
    ``PYPRIVML_NUM_THREADS`` wins.
    """
    import os

    from ..threads import ENV_VAR, set_num_threads

    if os.environ.get(ENV_VAR) is None:
        set_num_threads(max(1, (os.cpu_count() or 1) // max(int(ranks), 1)))


@dataclass
class LaunchResult:
    """``results[r]`` is rank r's return value for the ranks this process ran (None elsewhere).

    A simulated run also has ``clocks[r]``, rank r's virtual finishing time, and its ``network``."""

    kind: str
    rank: int  # this process's rank under MPI; 0 in-process (the caller sees every rank)
    results: list
    transports: list
    clocks: list | None = None
    network: NetworkModel | None = None

    @property
    def master(self):
        """Rank 0's return value (None on the other ranks of an MPI run)."""
        return self.results[0]


def launch(role, size: int, kind: str = "auto", *, network: NetworkModel | None = None,
           record_payloads: bool = False) -> LaunchResult:
    """Run ``role(transport)`` on ``size`` ranks: over MPI (this process's rank), in threads, or
    in threads on the simulated network ``network`` (only meaningful for ``kind="simulated"``)."""
    kind = resolve_kind(kind)
    if network is not None and kind != "simulated":
        raise ValueError(f"a network model applies to the simulated transport only, not to {kind!r}")
    if kind == "inprocess":
        run = run_inprocess(role, size, record_payloads=record_payloads)
        return LaunchResult("inprocess", 0, run.results, run.transports)
    if kind == "simulated":
        sim = run_simulated(role, size, network=network or EC2_M3_XLARGE, record_payloads=record_payloads)
        return LaunchResult("simulated", 0, sim.results, sim.transports, sim.clocks, sim.network)
    (t,) = make_transport("mpi", size, record_payloads=record_payloads)
    _share_cores(t.size)
    results: list = [None] * size
    transports: list = [None] * size
    transports[t.rank] = t
    try:
        results[t.rank] = role(t)
    except BaseException:
        # One failed rank must bring the whole job down rather than leave the others waiting.
        import sys
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        t.comm.Abort(1)
    t.close()  # the doorbells' pipes; the transport itself still works (polling)
    return LaunchResult("mpi", t.rank, results, transports)
