"""The simulated transport: real computation, modelled network (for seed 004 Fig. 3 and Table II).

``launch(role, size, kind="simulated", network=NetworkModel(...))`` runs any protocol here. Every role (master, workers) runs its real code on a :class:`SimulatedTransport`, one role at a
time: a role holds the *baton* while it computes and hands it over only when it blocks in a
receive or a barrier. Each rank keeps a virtual clock:

* computation between two transport calls is measured with ``time.perf_counter`` (nothing else
  of the simulation runs meanwhile) and added to the clock of the rank that did it;
* a message of B bytes sent at virtual time t leaves once the sender's outgoing link is free,
  occupies it for ``per_message + B / bandwidth`` seconds, arrives ``latency`` seconds later, and
  is then taken in by the receiver's incoming link (``B / bandwidth``, full duplex), so a master
  talking to N workers is limited by its own NIC, as on a star of machines behind one switch;
  ``per_message`` is the fixed software cost of one message (MPI matching, the pickled header,
  the system calls), paid once per message whatever its size;
* a receive moves the receiver's clock forward to the message's arrival when it is later.

Every clock is split into where its time went along the critical path (compute per phase name,
and ``"network"`` for time spent on the wire or queued at a NIC): a rank that waits for a
message inherits the sender's split at send time. The largest clock is the simulated run time
and its split is the Table II style breakdown.

Receives from ``ANY_SOURCE`` are served only when no other rank can run, so that the message with
the earliest *virtual* arrival is taken, as on a real cluster. Payloads are handed over without
copying, as read-only views: a role must not modify a received array in place.

The defaults model seed 004's cluster (sec. V, Amazon EC2 m3.xlarge, MPI4Py over TCP):

* bandwidth 800 Mbit/s per direction: AWS rates m3.xlarge "High"; iperf measurements collected in
  https://stackoverflow.com/questions/18507405 give 700-900 Mbit/s for *.xlarge instances of
  that generation (m3.large about 700 Mbit/s);
* one-way latency 0.2 ms: same-zone ping round trips of 0.26-0.41 ms between EC2 instances
  (https://orensol.com/2009/05/24/network-latency-inside-and-across-amazon-ec2-availability-zones/),
  halved and rounded up for the TCP/MPI software path;
* per-message software cost :data:`EC2_PER_MESSAGE`: what one message through
  :class:`~pyprivml.comm.mpi.MPITransport` costs beyond its bytes over loopback TCP on this
  project's machine: half the intercept of round-trip time against size, 16.6 µs (UCX tcp) and
  21.5 µs (libfabric tcp) with two ranks over loopback, 6.9 µs over shared memory (AMD EPYC Zen 5,
  2026-12-02, ``benchmarks/mpi_roundtrip.py --sweep``; docs/img/mpi_roundtrip.json and
  docs/BENCHMARKS.md). Loopback TCP has no wire, so this is the two ends' software: Python,
  mpi4py, MPICH and the kernel's TCP stack, which a real cluster pays on top of its latency.

Example
-------
>>> import numpy as np
>>> from pyprivml.comm.simulated import NetworkModel, run_simulated
>>> def role(t):                 # ranks 1 and 2 both send 1 MB to rank 0
...     if t.rank > 0:
...         t.send(np.zeros(125_000, dtype=np.int64), dest=0)
...     else:
...         return [t.recv(source=s)[0].shape for s in (1, 2)]
>>> res = run_simulated(role, 3, network=NetworkModel(bandwidth=1e9, latency=1e-3))
>>> res.results[0]
[(125000,), (125000,)]
>>> 3e-3 <= res.clocks[0] < 0.1   # 1 ms on the wire + 1 ms latency, the second queued: 3 ms, plus the
...                               # roles' own (real) computation, which a loaded machine stretches
True
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .base import ANY_SOURCE, ANY_TAG, Request, Transport, payload_nbytes

__all__ = ["NetworkModel", "EC2_M3_XLARGE", "EC2_PER_MESSAGE", "SimulatedTransport", "SimulationResult",
           "run_simulated", "NETWORK"]

#: The breakdown key for time on the wire or queued at a NIC.
NETWORK = "network"


@dataclass(frozen=True)
class NetworkModel:
    """Every link's bandwidth (bytes per second, each direction), one-way latency (seconds) and
    fixed software cost per message (seconds at the sender, whatever the size)."""

    bandwidth: float = 800e6 / 8
    latency: float = 0.2e-3
    name: str = "800 Mbit/s, 0.2 ms"
    per_message: float = 0.0

    def __post_init__(self):
        if not self.bandwidth > 0:
            raise ValueError(f"bandwidth must be positive (bytes per second), got {self.bandwidth!r}")
        if not self.latency >= 0:
            raise ValueError(f"latency must be >= 0 seconds, got {self.latency!r}")
        if not self.per_message >= 0:
            raise ValueError(f"per_message must be >= 0 seconds, got {self.per_message!r}")

    @classmethod
    def from_options(cls, bandwidth_mbit: float, latency_ms: float, per_message_us: float) -> "NetworkModel":
        """The model in the command line's units (Mbit/s, ms, µs), named after them."""
        return cls(bandwidth_mbit * 1e6 / 8, latency_ms * 1e-3,
                   f"{bandwidth_mbit:g} Mbit/s, {latency_ms:g} ms, {per_message_us:g} µs/message",
                   per_message_us * 1e-6)

    def serialisation(self, nbytes: int) -> float:
        """Seconds a message of ``nbytes`` occupies one NIC (without the per-message cost)."""
        return nbytes / self.bandwidth


#: Software cost of one message in seconds (module docstring: measured over loopback TCP).
EC2_PER_MESSAGE = 20e-6
#: The default network: seed 004's EC2 m3.xlarge cluster (sources in the module docstring).
EC2_M3_XLARGE = NetworkModel(name="EC2 m3.xlarge (800 Mbit/s, 0.2 ms, 20 µs/message)", per_message=EC2_PER_MESSAGE)


@dataclass
class _Clock:
    now: float = 0.0
    parts: dict = field(default_factory=lambda: defaultdict(float))
    egress_free: float = 0.0
    ingress_free: float = 0.0

    def snapshot(self) -> dict:
        return dict(self.parts)


@dataclass
class _Message:
    source: int
    tag: int
    payload: object
    nbytes: int
    arrival: float
    parts: dict


class _Aborted(RuntimeError):
    pass


class _Cluster:
    """State shared by the simulated ranks: mailboxes, clocks and the baton."""

    def __init__(self, size: int, network: NetworkModel):
        self.size = size
        self.network = network
        self.cv = threading.Condition()
        self.holder: int | None = None
        self.mail: list[list[_Message]] = [[] for _ in range(size)]
        self.clocks = [_Clock() for _ in range(size)]
        self.waiting: dict[int, tuple] = {r: ("start",) for r in range(size)}
        self.finished: set[int] = set()
        self.failure: str | None = None
        self.barrier_count = 0
        self.barrier_generation = 0
        self.barrier_clock: _Clock | None = None

    # -- scheduling (called with self.cv held) ---------------------------------------------------

    def _match(self, rank, source, tag) -> int | None:
        """Index of the message rank should take: FIFO per source, earliest arrival for ANY_SOURCE."""
        best = None
        for i, m in enumerate(self.mail[rank]):
            if (source in (ANY_SOURCE, m.source)) and (tag in (ANY_TAG, m.tag)):
                if source != ANY_SOURCE:
                    return i
                if best is None or m.arrival < self.mail[rank][best].arrival:
                    best = i
        return best

    def _ready_alone(self, rank) -> bool:
        """Whether rank can run without regard to others (ANY_SOURCE receives excepted)."""
        spec = self.waiting.get(rank)
        if spec is None:
            return rank not in self.finished
        kind = spec[0]
        if kind == "start":
            return True
        if kind == "barrier":
            return self.barrier_generation > spec[1]
        _, source, tag = spec
        return source != ANY_SOURCE and self._match(rank, source, tag) is not None

    def can_proceed(self, rank) -> bool:
        spec = self.waiting[rank]
        if spec[0] == "recv" and spec[1] == ANY_SOURCE:
            if self._match(rank, ANY_SOURCE, spec[2]) is None:
                return False
            return not any(self._ready_alone(r) for r in range(self.size) if r != rank)
        return self._ready_alone(rank)

    def wait_for_baton(self, rank, spec) -> None:
        """Release the baton, wait until rank may proceed (spec says on what), take the baton."""
        self.waiting[rank] = spec
        if self.holder == rank:
            self.holder = None
        self.cv.notify_all()
        while True:
            if self.failure is not None:
                del self.waiting[rank]
                raise _Aborted(self.failure)
            if self.holder is None:
                if self.can_proceed(rank):
                    break
                if not any(self.can_proceed(r) for r in self.waiting):
                    self.failure = "deadlock: " + "; ".join(
                        f"rank {r} waits for {_describe(s)}" for r, s in sorted(self.waiting.items()))
                    self.cv.notify_all()
                    continue
            self.cv.wait()
        del self.waiting[rank]
        self.holder = rank


def _describe(spec) -> str:
    if spec[0] == "recv":
        src = "any source" if spec[1] == ANY_SOURCE else f"rank {spec[1]}"
        tag = "any tag" if spec[2] == ANY_TAG else f"tag {spec[2]}"
        return f"a message from {src} with {tag}"
    return "a barrier" if spec[0] == "barrier" else "its turn to start"


class _Done(Request):
    def __init__(self, value=None):
        self.value = value

    def wait(self):
        return self.value

    def test(self) -> bool:
        return True


class SimulatedTransport(Transport):
    """A :class:`~pyprivml.comm.base.Transport` whose communication costs virtual time only.

    The per-phase ``seconds`` in :attr:`log` are virtual seconds spent sending (zero: sends are
    buffered) and waiting for messages (until their modelled arrival).
    """

    def __init__(self, cluster: _Cluster, rank: int, *, record_payloads: bool = False):
        super().__init__(rank, cluster.size, record_payloads=record_payloads)
        self._cluster = cluster
        self._mark = time.perf_counter()

    @property
    def clock(self) -> float:
        """This rank's virtual time (seconds since the simulation started)."""
        return self._cluster.clocks[self.rank].now

    def now(self) -> float:
        """Virtual time, charging the computation done since the last transport call first."""
        with self._cluster.cv:
            self._charge_compute()
        self._mark = time.perf_counter()
        return self.clock

    def breakdown(self) -> dict:
        """This rank's virtual time so far, split by phase (compute) and ``"network"``."""
        self.now()
        return dict(self._cluster.clocks[self.rank].parts)

    @contextmanager
    def in_phase(self, name: str):
        """As :meth:`Transport.in_phase`, charging the computation so far to the phase it ran in."""
        self.now()
        previous, self.phase = self.phase, name
        try:
            yield
        finally:
            self.now()
            self.phase = previous

    def _charge_compute(self) -> None:
        dt = time.perf_counter() - self._mark
        c = self._cluster.clocks[self.rank]
        c.now += dt
        c.parts[self.phase] += dt

    # -- the Transport primitives ------------------------------------------------------------------

    def _post(self, payload, dest: int, tag: int) -> None:
        if not 0 <= dest < self.size:
            raise ValueError(f"destination rank {dest} is outside 0..{self.size - 1}")
        cl, net = self._cluster, self._cluster.network
        nbytes = payload_nbytes(payload)
        if isinstance(payload, np.ndarray):
            payload = payload.view()
            payload.flags.writeable = False
        with cl.cv:
            self._charge_compute()
            c = cl.clocks[self.rank]
            start = max(c.now, c.egress_free)
            c.egress_free = start + net.per_message + net.serialisation(nbytes)
            arrival = c.egress_free + net.latency
            parts = c.snapshot()
            parts[NETWORK] = parts.get(NETWORK, 0.0) + (arrival - c.now)
            cl.mail[dest].append(_Message(self.rank, tag, payload, nbytes, arrival, parts))
            cl.cv.notify_all()
        self._mark = time.perf_counter()

    def _take(self, source: int, tag: int):
        cl, net = self._cluster, self._cluster.network
        with cl.cv:
            self._charge_compute()
            if cl._match(self.rank, source, tag) is None or source == ANY_SOURCE:
                cl.wait_for_baton(self.rank, ("recv", source, tag))
            msg = cl.mail[self.rank].pop(cl._match(self.rank, source, tag))
            c = cl.clocks[self.rank]
            done = max(msg.arrival, c.ingress_free + net.serialisation(msg.nbytes))
            c.ingress_free = done
            waited = max(done - c.now, 0.0)
            if done > c.now:
                parts = defaultdict(float, msg.parts)
                parts[NETWORK] += done - msg.arrival
                c.parts, c.now = parts, done
        self._mark = time.perf_counter()
        return msg.payload, msg.source, waited

    def _send(self, payload, dest, tag):
        self._post(payload, dest, tag)

    def _isend(self, payload, dest, tag):
        self._post(payload, dest, tag)
        return _Done()

    def _recv(self, source, tag, timeout):
        payload, src, _ = self._take(source, tag)
        return payload, src

    def _probe(self, source, tag):
        cl = self._cluster
        with cl.cv:
            return cl._match(self.rank, source, tag) is not None

    # Counted entry points: virtual seconds, not the host's.
    def send(self, payload, dest: int, tag: int = 0) -> None:
        self._post(payload, dest, tag)
        self._count_send(payload, dest, tag, 0.0)

    def isend(self, payload, dest: int, tag: int = 0) -> Request:
        self.send(payload, dest, tag)
        return _Done()

    def recv(self, source: int = ANY_SOURCE, tag: int = ANY_TAG, timeout: float | None = None):
        """Receive one payload; returns (payload, source). ``timeout`` is ignored: a receive that
        can never be served is reported as a deadlock instead."""
        payload, src, waited = self._take(source, tag)
        self._count_recv(payload, waited)
        return payload, src

    def barrier(self) -> None:
        cl = self._cluster
        with cl.cv:
            self._charge_compute()
            mine = cl.clocks[self.rank]
            if cl.barrier_clock is None or mine.now > cl.barrier_clock.now:
                cl.barrier_clock = _Clock(mine.now, defaultdict(float, mine.parts))
            cl.barrier_count += 1
            generation = cl.barrier_generation
            if cl.barrier_count == cl.size:
                cl.barrier_count = 0
                cl.barrier_generation += 1
                latest, cl.barrier_clock = cl.barrier_clock, None
                cl._barrier_result = latest
            cl.wait_for_baton(self.rank, ("barrier", generation))
            latest = cl._barrier_result
            if latest.now > mine.now:
                mine.now, mine.parts = latest.now, defaultdict(float, latest.parts)
        self._mark = time.perf_counter()


@dataclass
class SimulationResult:
    """What :func:`run_simulated` returns.

    ``clocks[r]`` is rank r's virtual finishing time, ``breakdowns[r]`` its split (phase name ->
    compute seconds, plus ``"network"``), ``results[r]`` what its role returned, and
    ``transports[r]`` its transport (with the traffic log).
    """

    network: NetworkModel
    clocks: list
    breakdowns: list
    results: list
    transports: list

    @property
    def total(self) -> float:
        """The simulated run time: the latest finishing clock."""
        return max(self.clocks)

    @property
    def critical_path(self) -> dict:
        """The breakdown of the rank that finished last."""
        return self.breakdowns[int(np.argmax(self.clocks))]


def run_simulated(role, size: int, *, network: NetworkModel = EC2_M3_XLARGE,
                  record_payloads: bool = False) -> SimulationResult:
    """Run ``role(transport)`` for ranks 0..size-1, one at a time, on a simulated network.

    Raises the first exception a role raised (other ranks are stopped), or ``RuntimeError`` on a
    deadlock, naming what every rank was waiting for.
    """
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive number of ranks, got {size!r}")
    cl = _Cluster(int(size), network)
    transports = [SimulatedTransport(cl, r, record_payloads=record_payloads) for r in range(size)]
    results: list = [None] * size
    errors: list = [None] * size

    def body(rank):
        t = transports[rank]
        try:
            with cl.cv:
                cl.wait_for_baton(rank, ("start",))
            t._mark = time.perf_counter()
            results[rank] = role(t)
            with cl.cv:
                t._charge_compute()
        except _Aborted:
            pass
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors[rank] = exc
            with cl.cv:
                if cl.failure is None:
                    cl.failure = f"rank {rank} raised {type(exc).__name__}: {exc}"
        finally:
            with cl.cv:
                cl.finished.add(rank)
                if cl.holder == rank:
                    cl.holder = None
                cl.cv.notify_all()

    threads = [threading.Thread(target=body, args=(r,), name=f"sim-rank-{r}", daemon=True)
               for r in range(size)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for exc in errors:
        if exc is not None:
            raise exc
    if cl.failure is not None:
        raise RuntimeError(f"simulated run failed: {cl.failure}")
    return SimulationResult(network, [c.now for c in cl.clocks], [dict(c.parts) for c in cl.clocks],
                            results, transports)
