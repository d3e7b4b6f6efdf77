"""In-process transport: every rank is a thread of this process, messages go through shared inboxes.

The same role code that runs under ``mpiexec`` runs here unchanged, which is what tests and small
runs use. Semantics follow MPI's where roles can notice them:

* messages between one pair of ranks with one tag arrive in the order they were sent;
* a sent array is copied at send time (MPI's buffer semantics): the sender may reuse it at once;
* a receive with a timeout raises :class:`~pyprivml.comm.base.TransportTimeout`, and when any rank's
  role raises, every blocked receive of the run raises :class:`~pyprivml.comm.base.TransportAborted`
  so a failure never leaves the other threads hanging.

>>> import numpy as np
>>> def role(t):
...     if t.rank == 0:
...         return [int(t.recv(source=r)[0].sum()) for r in (1, 2)]
...     t.send(np.full(3, t.rank), dest=0)
>>> run_inprocess(role, 3).results[0]
[3, 6]
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from .base import ANY_SOURCE, ANY_TAG, Request, Transport, TransportAborted, TransportTimeout

__all__ = ["InProcessNetwork", "InProcessTransport", "InProcessRun", "run_inprocess"]


def _describe(source: int, tag: int) -> str:
    who = "any rank" if source == ANY_SOURCE else f"rank {source}"
    what = "any tag" if tag == ANY_TAG else f"tag {tag}"
    return f"{who} with {what}"


class InProcessNetwork:
    """The shared state of ``size`` in-process ranks: one inbox per rank and one condition."""

    def __init__(self, size: int, *, record_payloads: bool = False):
        if int(size) < 1:
            raise ValueError(f"an in-process network needs at least one rank, got size = {size}")
        self.size = int(size)
        self._cond = threading.Condition()
        self._inboxes: list[list] = [[] for _ in range(self.size)]  # (source, tag, payload)
        self._barrier = threading.Barrier(self.size)
        self.failure: str | None = None
        self.transports = [InProcessTransport(self, r, record_payloads=record_payloads)
                           for r in range(self.size)]

    def abort(self, reason: str) -> None:
        """Cancel every blocked and future receive and barrier of this run."""
        with self._cond:
            if self.failure is None:
                self.failure = reason
            self._cond.notify_all()
        self._barrier.abort()

    def post(self, source: int, dest: int, tag: int, payload) -> None:
        if not 0 <= dest < self.size:
            raise ValueError(f"rank {source}: destination {dest} is outside [0, {self.size})")
        if isinstance(payload, np.ndarray):
            payload = payload.copy()
        with self._cond:
            self._inboxes[dest].append((source, tag, payload))
            self._cond.notify_all()

    def _match(self, rank, source, tag):
        for i, (src, tg, _) in enumerate(self._inboxes[rank]):
            if source in (ANY_SOURCE, src) and tag in (ANY_TAG, tg):
                return i
        return None

    def take(self, rank: int, source: int, tag: int, timeout: float | None):
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                i = self._match(rank, source, tag)
                if i is not None:
                    src, _, payload = self._inboxes[rank].pop(i)
                    return payload, src
                if self.failure is not None:
                    raise TransportAborted(f"rank {rank}: run aborted while waiting for a message "
                                           f"from {_describe(source, tag)}: {self.failure}")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    missing = [] if source == ANY_SOURCE else [source]
                    raise TransportTimeout(f"rank {rank}: no message from {_describe(source, tag)} "
                                           f"within {timeout} s", missing=missing)
                self._cond.wait(remaining)

    def probe(self, rank: int, source: int, tag: int) -> bool:
        with self._cond:
            return self._match(rank, source, tag) is not None

    def barrier(self, rank: int) -> None:
        try:
            self._barrier.wait()
        except threading.BrokenBarrierError:
            raise TransportAborted(f"rank {rank}: barrier broken: {self.failure}") from None


class _Done(Request):
    def wait(self):
        return None

    def test(self) -> bool:
        return True


class InProcessTransport(Transport):
    """One rank of an :class:`InProcessNetwork`."""

    def __init__(self, network: InProcessNetwork, rank: int, *, record_payloads: bool = False):
        super().__init__(rank, network.size, record_payloads=record_payloads)
        self.network = network

    def _send(self, payload, dest, tag):
        self.network.post(self.rank, dest, tag, payload)

    def _recv(self, source, tag, timeout):
        return self.network.take(self.rank, source, tag, timeout)

    def _isend(self, payload, dest, tag):
        self.network.post(self.rank, dest, tag, payload)
        return _Done()

    def _probe(self, source, tag):
        return self.network.probe(self.rank, source, tag)

    def barrier(self) -> None:
        self.network.barrier(self.rank)


@dataclass
class InProcessRun:
    """What :func:`run_inprocess` returns: each rank's return value and its transport (with logs)."""

    results: list
    transports: list


def run_inprocess(role, size: int, *, record_payloads: bool = False) -> InProcessRun:
    """Run ``role(transport)`` once per rank, each in its own thread, and wait for all of them.

    If a role raises, the run is aborted (blocked receives elsewhere raise TransportAborted) and the
    first exception that was not such a consequence is re-raised here.
    """
    net = InProcessNetwork(size, record_payloads=record_payloads)
    results: list = [None] * net.size
    errors: list = []  # (rank, exception) in the order they happened

    def body(rank):
        try:
            results[rank] = role(net.transports[rank])
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append((rank, exc))
            net.abort(f"rank {rank} raised {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=body, args=(r,), name=f"pyprivml-rank-{r}", daemon=True)
               for r in range(net.size)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        root = [e for e in errors if not isinstance(e[1], TransportAborted)] or errors
        raise root[0][1]
    return InProcessRun(results, net.transports)
