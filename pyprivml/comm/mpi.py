"""MPI transport over mpi4py: NumPy arrays travel as raw buffers, never pickled.

An array is sent as two messages with the same tag: a tiny pickled header ``("nd", dtype, shape)``
with lowercase ``send``, then the bytes with buffer-based ``Send`` (``Isend`` for ``isend``). MPI
keeps messages between one pair of ranks with one tag in order, so the receiver, having matched
the header, receives the buffer from the same source into an array it allocates from the header.
Small control objects (dicts of scalars, lists of ints) go as one pickled message ``("obj", x)``.

Receives poll a matched probe (``improbe``) instead of blocking in ``Recv``: MPICH's blocking
receive spins on a core, and with more ranks than cores (a master and a dozen workers on two
cores) spinning receivers would steal the CPU from the ranks doing work. A receive spins for
0.2 ms (yielding the core between probes, so a reply already on its way is taken at once), then
sleeps an eighth of the time waited so far, capped at 0.1 ms, and 1 ms once it has waited 20 ms:
small round trips cost what MPI costs, and an idle rank costs a thousand cheap probes a second.
Polling is also what gives receives a timeout, so a dead worker can never hang the master.

mpi4py is imported when a transport is created, never at module import: roles and in-process runs
do not need MPI.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .base import ANY_SOURCE, ANY_TAG, Request, Transport, TransportTimeout

__all__ = ["MPITransport", "launched_under_mpi", "mpi_world"]

#: A receive first spins this long (yielding the core between probes): a reply that is already
#: on its way arrives within one MPI round trip (a few µs over shared memory; longer when the
#: sender was itself asleep, hence more than one timer-slack period of 50 µs).
_SPIN_SECONDS = 200e-6
#: Then it sleeps this fraction of the time waited so far, between these bounds: the poll delay
#: stays a small fraction of any wait, and never more than 0.1 ms ...
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
    """This process's rank of an MPI communicator (``COMM_WORLD`` unless one is given)."""

    def __init__(self, comm=None, *, record_payloads: bool = False):
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        super().__init__(self.comm.Get_rank(), self.comm.Get_size(), record_payloads=record_payloads)

    def _src(self, source):
        return self.MPI.ANY_SOURCE if source == ANY_SOURCE else int(source)

    def _tag(self, tag):
        return self.MPI.ANY_TAG if tag == ANY_TAG else int(tag)

    @staticmethod
    def _split(payload):
        if isinstance(payload, np.ndarray) and payload.dtype != object:
            buf = np.ascontiguousarray(payload)
            return ("nd", buf.dtype.str, buf.shape), buf
        return ("obj", payload), None

    def _send(self, payload, dest, tag):
        header, buf = self._split(payload)
        self.comm.send(header, dest=int(dest), tag=int(tag))
        if buf is not None:
            self.comm.Send([buf, self.MPI.BYTE], dest=int(dest), tag=int(tag))

    def _isend(self, payload, dest, tag):
        header, buf = self._split(payload)
        reqs = [self.comm.isend(header, dest=int(dest), tag=int(tag))]
        if buf is not None:
            reqs.append(self.comm.Isend([buf, self.MPI.BYTE], dest=int(dest), tag=int(tag)))
        return _SendRequest(reqs, buf)

    def _recv(self, source, tag, timeout):
        status = self.MPI.Status()
        src, tg = self._src(source), self._tag(tag)
        improbe = self.comm.improbe
        msg = improbe(src, tg, status)  # matched probe: the header cannot be taken by another receive
        if msg is None:
            msg = self._wait(improbe, src, tg, status, source, tag, timeout)
        header = msg.recv()
        src, tg = status.Get_source(), status.Get_tag()
        if header[0] == "obj":
            return header[1], src
        _, dtype, shape = header
        out = np.empty(shape, dtype=np.dtype(dtype))
        self.comm.Recv([out, self.MPI.BYTE], source=src, tag=tg)
        return out, src

    def _wait(self, improbe, src, tg, status, source, tag, timeout):
        """Poll until a matching header arrives: spin (yielding the core) for _SPIN_SECONDS, then
        sleep a growing fraction of the time waited so far, at most _MAX_POLL_SLEEP at a time, and
        _LONG_POLL_SLEEP once the wait is longer than _LONG_WAIT."""
        start = time.monotonic()
        spin_until = start + _SPIN_SECONDS
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
            else:
                waited = now - start
                pause = (_LONG_POLL_SLEEP if waited > _LONG_WAIT
                         else min(max(waited * _SLEEP_FRACTION, _MIN_POLL_SLEEP), _MAX_POLL_SLEEP))
                if deadline is not None:
                    pause = min(pause, max(deadline - now, 0.0))
                time.sleep(pause)
            msg = improbe(src, tg, status)
            if msg is not None:
                return msg

    def _probe(self, source, tag):
        return bool(self.comm.Iprobe(source=self._src(source), tag=self._tag(tag)))

    def barrier(self) -> None:
        self.comm.Barrier()
