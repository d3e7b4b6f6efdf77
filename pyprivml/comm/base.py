"""The transport interface that every role (master, worker, organisation, peer) talks to.

Roles never import mpi4py: they receive a :class:`Transport` and call ``send``/``recv`` on it, so
the same role code runs under ``mpiexec`` (:mod:`pyprivml.comm.mpi`) and in one process with one
thread per rank (:mod:`pyprivml.comm.inprocess`). Every transport counts messages, bytes and
seconds per *phase* (a label the caller gives, such as ``"encode"`` or ``"gradient"``), which is
what protocol reports are built from.

Payloads are NumPy arrays (sent as raw buffers, never pickled) or small picklable control objects
(dicts of scalars, lists of ints); ``nbytes`` of an array is what is counted for it.
"""

from __future__ import annotations

import pickle
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

ANY_SOURCE = -1
ANY_TAG = -1


class TransportTimeout(TimeoutError):
    """A receive waited longer than its timeout; ``missing`` lists the ranks that never answered."""

    def __init__(self, message: str, missing=()):
        super().__init__(message)
        self.missing = sorted(missing)


class TransportAborted(RuntimeError):
    """Another rank of the same run failed, so this rank's blocked receive was cancelled."""


@dataclass
class PhaseStats:
    """Traffic and time of one phase, as seen by one rank."""

    messages_sent: int = 0
    messages_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class TrafficLog:
    """Per-phase statistics plus, optionally, a record of every payload sent (for privacy tests)."""

    phases: dict = field(default_factory=lambda: defaultdict(PhaseStats))
    record_payloads: bool = False
    sent: list = field(default_factory=list)  # (dest, tag, phase, payload) when record_payloads

    def total(self) -> PhaseStats:
        out = PhaseStats()
        for s in self.phases.values():
            for k, v in s.__dict__.items():
                setattr(out, k, getattr(out, k) + v)
        return out


def payload_nbytes(payload) -> int:
    """Bytes a payload occupies on the wire: the buffer size of an array, else its pickle size."""
    if isinstance(payload, np.ndarray):
        return payload.nbytes
    return len(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


class Request(ABC):
    """A pending non-blocking operation."""

    @abstractmethod
    def wait(self):
        """Block until done; for a receive, return (payload, source)."""

    @abstractmethod
    def test(self) -> bool:
        """True once the operation has completed."""


class PendingRecv(Request):
    """A receive that completes on ``wait``; ``test`` probes for a matching message."""

    def __init__(self, transport: "Transport", source: int, tag: int):
        self.transport, self.source, self.tag = transport, source, tag
        self.done, self.value = False, None

    def wait(self):
        if not self.done:
            self.value = self.transport.recv(self.source, self.tag)
            self.done = True
        return self.value

    def test(self) -> bool:
        return self.done or self.transport._probe(self.source, self.tag)


class Transport(ABC):
    """Point-to-point messaging between ``size`` ranks, this end being ``rank``."""

    rank: int
    size: int

    def __init__(self, rank: int, size: int, *, record_payloads: bool = False):
        self.rank = rank
        self.size = size
        self.log = TrafficLog(record_payloads=record_payloads)
        self.phase = "communication"

    # -- what implementations provide ---------------------------------------------------------

    @abstractmethod
    def _send(self, payload, dest: int, tag: int) -> None: ...

    @abstractmethod
    def _recv(self, source: int, tag: int, timeout: float | None):
        """Return (payload, source); raise TimeoutError after ``timeout`` seconds."""

    @abstractmethod
    def _isend(self, payload, dest: int, tag: int) -> Request: ...

    @abstractmethod
    def _probe(self, source: int, tag: int) -> bool:
        """Whether a matching message is waiting (without receiving it)."""

    @abstractmethod
    def barrier(self) -> None: ...

    def now(self) -> float:
        """This rank's clock in seconds: wall time here, virtual time on the simulated transport.

        Roles time their phases with it, so one role reports real seconds under MPI and in-process
        and the modelled cluster's seconds under simulation."""
        return time.perf_counter()

    # -- counted operations that roles call -------------------------------------------------------

    @contextmanager
    def in_phase(self, name: str):
        """Charge the traffic inside the block to phase ``name``."""
        previous, self.phase = self.phase, name
        try:
            yield
        finally:
            self.phase = previous

    def _count_send(self, payload, dest, tag, seconds):
        s = self.log.phases[self.phase]
        s.messages_sent += 1
        s.bytes_sent += payload_nbytes(payload)
        s.seconds += seconds
        if self.log.record_payloads:
            copy = payload.copy() if isinstance(payload, np.ndarray) else payload
            self.log.sent.append((dest, tag, self.phase, copy))

    def _count_recv(self, payload, seconds):
        s = self.log.phases[self.phase]
        s.messages_received += 1
        s.bytes_received += payload_nbytes(payload)
        s.seconds += seconds

    def send(self, payload, dest: int, tag: int = 0) -> None:
        t0 = time.perf_counter()
        self._send(payload, dest, tag)
        self._count_send(payload, dest, tag, time.perf_counter() - t0)

    def recv(self, source: int = ANY_SOURCE, tag: int = ANY_TAG, timeout: float | None = None):
        """Receive one payload; returns (payload, source)."""
        t0 = time.perf_counter()
        payload, src = self._recv(source, tag, timeout)
        self._count_recv(payload, time.perf_counter() - t0)
        return payload, src

    def isend(self, payload, dest: int, tag: int = 0) -> Request:
        t0 = time.perf_counter()
        req = self._isend(payload, dest, tag)
        self._count_send(payload, dest, tag, time.perf_counter() - t0)
        return req

    def probe(self, source: int = ANY_SOURCE, tag: int = ANY_TAG) -> bool:
        """Whether a message from ``source`` with ``tag`` is waiting (nothing is received)."""
        return self._probe(source, tag)

    def irecv(self, source: int = ANY_SOURCE, tag: int = ANY_TAG) -> Request:
        """Start a receive; ``wait()`` returns (payload, source) and counts it like ``recv``."""
        return PendingRecv(self, source, tag)

    # -- collective helpers built on the counted operations ---------------------------------------

    def gather_first(self, sources, count: int, tag: int, timeout: float | None = None) -> dict:
        """Receive one payload with ``tag`` from each of the first ``count`` of ``sources`` to answer.

        Returns ``{source: payload}`` in arrival order (whichever ranks were fastest, not a fixed
        set). Raises :class:`TransportTimeout` naming the ranks that had not answered when
        ``timeout`` seconds (for the whole gather) ran out.
        """
        pending = set(int(s) for s in sources)
        if not 0 <= count <= len(pending):
            raise ValueError(f"gather_first: count = {count} must lie in [0, {len(pending)}] (the number of sources)")
        got: dict = {}
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(got) < count:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                if len(pending) == 1:
                    payload, src = self.recv(next(iter(pending)), tag, timeout=remaining)
                else:
                    payload, src = self.recv(ANY_SOURCE, tag, timeout=remaining)
            except TransportTimeout:
                raise TransportTimeout(
                    f"rank {self.rank} waited {timeout} s for {count} results with tag {tag} but got "
                    f"{len(got)}; no answer from ranks {sorted(pending)} (slow, dead or crashed workers; "
                    f"received from {list(got)})", missing=pending) from None
            if src not in pending:
                raise RuntimeError(f"rank {self.rank}: unexpected message with tag {tag} from rank {src}")
            pending.discard(src)
            got[src] = payload
        return got
