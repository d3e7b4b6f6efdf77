"""MPI transport over mpi4py: NumPy arrays travel as raw buffers, never pickled.

**Wire format.** Every payload starts with one message: the length of a pickled header and the
payload's kind, then the header, padded to 64 bytes. A control object (dicts of scalars, lists of
ints) is its own header. An array up to :data:`ONE_MESSAGE_BYTES` has the header (dtype, shape)
and its bytes follow in the same message; the receiver learns the size from a matched probe and
returns a view of the array part. A larger array's bytes follow as a second message with the same
tag, sent with buffer-based ``Send`` and received straight into an array allocated from the header
(MPI keeps messages between one pair of ranks with one tag in order). So a round trip of the
weights and results of a small iteration costs one message each way, and a large one no copy.

**Waiting.** Receives never block inside MPI: MPICH's blocking receive spins on a core, and with
more ranks than cores (a master and a dozen workers on two cores) spinning receivers take the CPU
from the ranks that work. Ranks on one node (``COMM_TYPE_SHARED``) each own a *doorbell*, a named
pipe: a sender rings the receiver's doorbell after posting a message, and a waiting receiver
sleeps in ``select`` on its own, so it wakes the moment a message is posted and uses no CPU while
it waits (it looks again anyway after 1 ms, 10 ms in a long wait, in case a message needed more
of the sender's progress to be delivered). When the node has a core for every rank, a receive first
spins for 0.2 ms, since a sleeping core takes 0.1 ms or more to wake; with more ranks than cores it
sleeps at once. A receive from a rank on another node (or with doorbells turned off,
``PYPRIVML_MPI_DOORBELLS=0``) polls a matched probe instead: it spins for 0.2 ms (yielding the
core between probes), then sleeps an eighth of the time waited so far, capped at 0.1 ms, and 1 ms
once it has waited 20 ms. Waiting in Python is also what gives receives a timeout, so
a dead worker can never hang the master.

One ``Iprobe`` does not always see a message that has arrived (MPICH's shared-memory progress
polls its peers' mailboxes a few at a time), so a receive probes up to :data:`_PROBES_PER_LOOK`
times before it concludes nothing is there.

mpi4py is imported when a transport is created, never at module import: roles and in-process runs
do not need MPI.
"""

from __future__ import annotations

import functools
import os
import pickle
import select
import shutil
import struct
import tempfile
import time

import numpy as np

from .base import ANY_SOURCE, ANY_TAG, Request, Transport, TransportTimeout

__all__ = ["MPITransport", "launched_under_mpi", "mpi_world", "ONE_MESSAGE_BYTES", "DOORBELL_VARIABLE"]

#: Arrays up to this many bytes travel in one message with their header (one copy on each side).
ONE_MESSAGE_BYTES = 1 << 16
#: The header of a one-message payload is padded to this many bytes, so the array part keeps the
#: alignment of the receive buffer.
_HEADER_ALIGN = 64
#: Every first message starts with the pickled header's length and the payload's kind.
_PREFIX = struct.Struct("<IB")
_OBJECT, _ONE_MESSAGE_ARRAY, _TWO_MESSAGE_ARRAY = 0, 1, 2
#: "0" turns the doorbells off (every receive polls).
DOORBELL_VARIABLE = "PYPRIVML_MPI_DOORBELLS"
#: Ranks on one node beyond which doorbells are not used (each rank holds one pipe per peer).
_MAX_BELL_PEERS = 256
#: How long a receiver waiting on its doorbell sleeps at most before it probes again anyway:
#: 1 ms, and 10 ms once it has waited :data:`_LONG_WAIT` (an idle rank then costs 100 looks a second).
_BELL_TIMEOUT = 1e-3
_LONG_BELL_TIMEOUT = 10e-3
#: Probes before a receive concludes that no matching message has arrived (see the module doc).
_PROBES_PER_LOOK = 16

#: Polling receives (peers without a doorbell) first spin this long, yielding the core between
#: probes: a reply already on its way arrives within one MPI round trip ...
_SPIN_SECONDS = 200e-6
#: ... then sleep this fraction of the time waited so far, between these bounds ...
_SLEEP_FRACTION = 0.125
_MIN_POLL_SLEEP = 1e-6
_MAX_POLL_SLEEP = 1e-4
#: ... until the wait is long (a worker idle while the master encodes or evaluates): then 1 ms, so
#: that a dozen idle ranks on two cores do not take the CPU from the ranks that work.
_LONG_WAIT = 20e-3
_LONG_POLL_SLEEP = 1e-3
#: Environment variables that MPI launchers set in every rank: MPICH/Hydra, Open MPI, PMIx, Slurm.
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MPI_LOCALRANKID")


def launched_under_mpi(min_size: int = 2) -> bool:
    """Whether this process is one of at least ``min_size`` ranks started by mpiexec (no MPI import)."""
    for var in _SIZE_VARIABLES:
        value = os.environ.get(var)
        if value is not None and value.isdigit():
            return int(value) >= min_size
    return False


def mpi_world() -> tuple[int, int] | None:
    """(rank, size) of this process as the MPI launcher announced them, or None outside mpiexec.

    Read from the environment, so a command line can decide what to load (only rank 0 needs
    the data) before MPI is initialised.
    """
    for size_var, rank_var in zip(_SIZE_VARIABLES, _RANK_VARIABLES):
        size, rank = os.environ.get(size_var), os.environ.get(rank_var)
        if size is not None and rank is not None and size.isdigit() and rank.isdigit():
            return int(rank), int(size)
    return None


class Doorbells:
    """One named pipe per rank of a node: ``ring(dest)`` wakes rank ``dest`` if it sleeps in ``wait``.

    Collective over ``comm``: every rank of it creates its transport at the same time. Ranks on
    other nodes are not reachable (:attr:`peers` lists the ones that are). The pipes live in a
    private temporary directory that is removed as soon as every rank of the node has opened them.
    """

    def __init__(self, comm, MPI):
        self._mine, self._bells = None, {}
        me = comm.Get_rank()
        node = comm.Split_type(MPI.COMM_TYPE_SHARED)
        try:
            ranks = node.allgather(me)
            if len(ranks) > _MAX_BELL_PEERS:   # the same on every rank of the node
                raise OSError(f"{len(ranks)} ranks on this node (doorbells for at most {_MAX_BELL_PEERS})")
            shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
            directory = node.bcast(_on_every_rank(
                node, lambda: tempfile.mkdtemp(prefix="pyprivml-bells-", dir=shm) if node.Get_rank() == 0 else None))
            try:
                _on_every_rank(node, lambda: self._open_own(os.path.join(directory, str(me))))
                _on_every_rank(node, lambda: self._open_peers(directory, [r for r in ranks if r != me]))
            finally:
                node.Barrier()                   # every rank has opened every pipe (or failed)
                if node.Get_rank() == 0:
                    shutil.rmtree(directory, ignore_errors=True)
        except OSError:
            self.close()
            raise
        finally:
            node.Free()
        self.peers = frozenset(self._bells)
        self.node_size = len(ranks)

    def _open_own(self, path: str) -> None:
        os.mkfifo(path, 0o600)
        # O_RDWR: a pipe opened for reading only would report end-of-file whenever no writer has it open
        self._mine = os.open(path, os.O_RDWR | os.O_NONBLOCK)

    def _open_peers(self, directory: str, peers) -> None:
        for r in peers:
            self._bells[r] = os.open(os.path.join(directory, str(r)), os.O_WRONLY | os.O_NONBLOCK)

    def ring(self, dest: int) -> None:
        fd = self._bells.get(dest)
        if fd is not None:
            try:
                os.write(fd, b"\0")
            except BlockingIOError:  # the pipe is full: the receiver has wake-ups enough pending
                pass

    def answered(self) -> bool:
        """Take this rank's pending rings; whether there were any."""
        try:
            return bool(os.read(self._mine, 4096))
        except BlockingIOError:
            return False

    def wait(self, seconds: float) -> None:
        """Sleep until this rank's doorbell rings, at most ``seconds``."""
        select.select([self._mine], [], [], seconds)

    def close(self) -> None:
        for fd in [self._mine, *self._bells.values()]:
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._mine, self._bells = None, {}
        self.peers = frozenset()


def _on_every_rank(node, action):
    """``action()`` on this rank; an OSError on every rank of ``node`` if it failed on any, so that
    all of them take the same branch of the collective set-up."""
    try:
        result, error = action(), None
    except OSError as exc:
        result, error = None, f"rank {node.Get_rank()} of the node: {exc}"
    errors = [e for e in node.allgather(error) if e]
    if errors:
        raise OSError(errors[0])
    return result


class _SendRequest(Request):
    def __init__(self, requests, keep):
        self._requests = requests
        self._keep = keep  # the buffer must outlive the Isend

    def wait(self):
        for r in self._requests:
            r.Wait()
        self._keep = None
        return None

    def test(self) -> bool:
        return all(r.Test() for r in self._requests)


class MPITransport(Transport):
    """This process's rank of an MPI communicator (``COMM_WORLD`` unless one is given).

    Collective: every rank of the communicator creates its transport at the same time (the
    doorbells are set up then). ``doorbells=None`` uses them unless ``PYPRIVML_MPI_DOORBELLS=0``
    or the node cannot make named pipes (then every receive polls)."""

    def __init__(self, comm=None, *, record_payloads: bool = False, doorbells: bool | None = None):
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        super().__init__(self.comm.Get_rank(), self.comm.Get_size(), record_payloads=record_payloads)
        if doorbells is None:
            doorbells = os.environ.get(DOORBELL_VARIABLE, "1") != "0"
        self.bells = None
        if doorbells and self.size > 1:
            try:
                self.bells = Doorbells(self.comm, MPI)
            except OSError:
                self.bells = None  # no named pipes here: receives poll
        self._bell_peers = self.bells.peers if self.bells is not None else frozenset()
        self._all_ring = len(self._bell_peers) == self.size - 1
        # Spinning first is free when every rank of the node has a core of its own, and a sleeping
        # core (a virtual one especially) takes 100 µs or more to wake; with more ranks than cores
        # a spinning rank takes the core from one that works, so it sleeps on its doorbell at once.
        self._spin_seconds = _SPIN_SECONDS
        if self.bells is not None and self.bells.node_size > len(os.sched_getaffinity(0)):
            self._spin_seconds = 0.0

    def close(self) -> None:
        """Release the doorbells (the transport still works, polling)."""
        if self.bells is not None:
            self.bells.close()
            self.bells, self._bell_peers, self._all_ring = None, frozenset(), False

    def _src(self, source):
        return self.MPI.ANY_SOURCE if source == ANY_SOURCE else int(source)

    def _tag(self, tag):
        return self.MPI.ANY_TAG if tag == ANY_TAG else int(tag)

    # -- the wire format (module doc) ------------------------------------------------------------

    @staticmethod
    def _pack(payload):
        """(the first message's bytes, the array to send after it or None)."""
        if isinstance(payload, np.ndarray) and payload.dtype != object and payload.dtype.fields is None:
            array = np.ascontiguousarray(payload).reshape(payload.shape)  # (ascontiguousarray makes 0-d 1-d)
            if array.nbytes > ONE_MESSAGE_BYTES:
                return _array_header(_TWO_MESSAGE_ARRAY, array.dtype.str, array.shape), array
            head = _array_header(_ONE_MESSAGE_ARRAY, array.dtype.str, array.shape)
            message = np.empty(head.size + array.nbytes, dtype=np.uint8)
            message[:head.size] = head
            message[head.size:] = array.reshape(-1).view(np.uint8)
            return message, None
        return _frame(_OBJECT, payload), None

    def _send(self, payload, dest, tag):
        first, rest = self._pack(payload)
        dest, tag = int(dest), int(tag)
        self.comm.Send([first, self.MPI.BYTE], dest=dest, tag=tag)
        if self.bells is not None:
            self.bells.ring(dest)  # after the header is posted: the receiver will find it
        if rest is not None:
            self.comm.Send([rest, self.MPI.BYTE], dest=dest, tag=tag)

    def _isend(self, payload, dest, tag):
        first, rest = self._pack(payload)
        dest, tag = int(dest), int(tag)
        reqs = [self.comm.Isend([first, self.MPI.BYTE], dest=dest, tag=tag)]
        if rest is not None:
            reqs.append(self.comm.Isend([rest, self.MPI.BYTE], dest=dest, tag=tag))
        if self.bells is not None:
            self.bells.ring(dest)
        return _SendRequest(reqs, (first, rest))

    def _recv(self, source, tag, timeout):
        status = self.MPI.Status()
        src, tg = self._src(source), self._tag(tag)
        msg = self._look(src, tg, status)
        if msg is None:
            msg = self._wait(src, tg, status, source, tag, timeout)
        buf = np.empty(status.Get_count(self.MPI.BYTE), dtype=np.uint8)
        msg.Recv([buf, self.MPI.BYTE])
        src, tg = status.Get_source(), status.Get_tag()
        length, kind = _PREFIX.unpack_from(buf)
        body = buf[_PREFIX.size:_PREFIX.size + length]
        if kind == _OBJECT:
            return pickle.loads(body), src
        dtype, shape = _parse_array_header(body.tobytes())   # the same few recur every iteration
        if kind == _ONE_MESSAGE_ARRAY:
            return buf[_padded(length):].view(dtype).reshape(shape), src
        out = np.empty(shape, dtype=dtype)
        self.comm.Recv([out, self.MPI.BYTE], source=src, tag=tg)
        return out, src

    def _look(self, src, tg, status):
        """A matched probe, repeated: one probe may miss a message that has arrived (module doc)."""
        improbe = self.comm.improbe
        for _ in range(_PROBES_PER_LOOK):
            msg = improbe(src, tg, status)  # matched: no other receive can take it from us
            if msg is not None:
                return msg
        return None

    def _wait(self, src, tg, status, source, tag, timeout):
        """Wait for a matching message: on the doorbell when every rank that may send it has one,
        else by polling (the module doc)."""
        bell = self.bells is not None and (self._all_ring if source == ANY_SOURCE else source in self._bell_peers)
        start = time.monotonic()
        spin_until = start + self._spin_seconds
        deadline = None if timeout is None else start + timeout
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                who = "any rank" if source == ANY_SOURCE else f"rank {source}"
                raise TransportTimeout(f"rank {self.rank}: no message from {who} with tag {tag} "
                                       f"within {timeout} s",
                                       missing=[] if source == ANY_SOURCE else [source])
            if now < spin_until:
                os.sched_yield()
            elif bell:
                if not self.bells.answered():  # rung since we last looked: look again at once
                    pause = _LONG_BELL_TIMEOUT if now - start > _LONG_WAIT else _BELL_TIMEOUT
                    self.bells.wait(pause if deadline is None else min(pause, deadline - now))
            else:
                waited = now - start
                pause = (_LONG_POLL_SLEEP if waited > _LONG_WAIT
                         else min(max(waited * _SLEEP_FRACTION, _MIN_POLL_SLEEP), _MAX_POLL_SLEEP))
                if deadline is not None:
                    pause = min(pause, max(deadline - now, 0.0))
                time.sleep(pause)
            msg = self._look(src, tg, status)
            if msg is not None:
                return msg

    def _probe(self, source, tag):
        return bool(self.comm.Iprobe(source=self._src(source), tag=self._tag(tag)))

    def barrier(self) -> None:
        self.comm.Barrier()


def _padded(length: int) -> int:
    """Where the array part of a one-message payload starts: after the prefix and header, aligned."""
    return -(-(_PREFIX.size + length) // _HEADER_ALIGN) * _HEADER_ALIGN


def _frame(kind: int, header) -> bytes:
    """The prefix (length, kind) and the pickled header, padded to :data:`_HEADER_ALIGN` bytes."""
    body = pickle.dumps(header, protocol=pickle.HIGHEST_PROTOCOL)
    return (_PREFIX.pack(len(body), kind) + body).ljust(_padded(len(body)), b"\0")


@functools.lru_cache(maxsize=512)
def _array_header(kind: int, dtype: str, shape: tuple) -> np.ndarray:
    """The framed header of an array message, as bytes to copy (cached: shapes recur)."""
    return np.frombuffer(_frame(kind, (dtype, shape)), dtype=np.uint8)


@functools.lru_cache(maxsize=512)
def _parse_array_header(body: bytes):
    dtype, shape = pickle.loads(body)
    return np.dtype(dtype), tuple(shape)
