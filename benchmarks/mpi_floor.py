"""The least one master-based iteration can cost on this machine (docs/BENCHMARKS.md, issue 13).

Run under mpiexec with N + 1 ranks; rank 0 plays a master that sends every worker a d-vector of
field elements and waits for all N replies, J times. Nothing else happens: no encoding, no
decoding, no metrics. What a worker does with the vector is ``--work``:

* ``none``: it sends the vector straight back (the pure messaging round);
* ``gram``: it answers G w mod p with its own d x d matrix G through ``pyprivml.modmatvec`` (the
  BGW/BH08 Gram variant's whole per-iteration work, and the memory traffic of N matrices);
* ``spin``: it computes for ``--worker-us`` microseconds first (a stand-in for any work).

``--master-us`` makes the master compute that long before each round's sends (its encoding and
decoding), so that waiting strategies can be compared where they matter: with more ranks than
cores, a receiver that spins takes the core from one that works.

``--via raw`` uses mpi4py's blocking ``Send``/``Recv`` on buffers (MPICH's receive busy-polls),
``--via transport`` pyprivml's :class:`~pyprivml.comm.MPITransport`. Prints the median and the
10th/90th percentiles of the master's seconds per round after a warm-up tenth.

    mpiexec -n 10 .venv/bin/python benchmarks/mpi_floor.py --d 100 --work none --via raw
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from mpi4py import MPI

from pyprivml.comm import MPITransport
from pyprivml.field import PrimeField
from pyprivml.linalg import modmatvec
from pyprivml.threads import set_num_threads


def _compute(seconds: float) -> None:
    """Keep a core busy for `seconds` (NumPy arithmetic, not sleep)."""
    end = time.perf_counter() + seconds
    x = np.ones(64)
    while time.perf_counter() < end:
        x *= 1.0000001


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--iters", type=int, default=400)
    parser.add_argument("--p", type=int, default=2**25 - 39)
    parser.add_argument("--work", choices=("none", "gram", "spin"), default="none")
    parser.add_argument("--master-us", type=float, default=0.0)
    parser.add_argument("--worker-us", type=float, default=30.0)
    parser.add_argument("--via", choices=("raw", "transport"), default="raw")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    set_num_threads(1)                       # one rank per core share, as pyprivml's launcher does
    F = PrimeField(args.p)
    G = np.random.default_rng(rank).integers(0, F.p, (args.d, args.d), dtype=np.int64)
    w = np.zeros(args.d, dtype=np.int64)
    modmatvec(G, w, F, check=False)          # compile before timing
    t = MPITransport() if args.via == "transport" else None
    reply = {"none": lambda x: x, "gram": lambda x: modmatvec(G, x, F, check=False),
             "spin": lambda x: (_compute(args.worker_us * 1e-6), x)[1]}[args.work]
    comm.Barrier()
    rounds = []
    for _ in range(args.iters):
        start = time.perf_counter()
        if rank == 0:
            _compute(args.master_us * 1e-6)
            if t is None:
                for r in range(1, size):
                    comm.Send(w, dest=r, tag=1)
                for _ in range(1, size):
                    comm.Recv(w, source=MPI.ANY_SOURCE, tag=2)
            else:
                for r in range(1, size):
                    t.send(w, r, 1)
                t.gather_first(range(1, size), size - 1, 2)
        elif t is None:
            comm.Recv(w, source=0, tag=1)
            comm.Send(reply(w), dest=0, tag=2)
        else:
            x, _ = t.recv(0, 1)
            t.send(reply(x), 0, 2)
        rounds.append(time.perf_counter() - start)
    if rank == 0:
        ms = np.array(rounds[args.iters // 10:]) * 1e3
        print(f"N={size - 1} d={args.d} work={args.work} master {args.master_us:g} us via={args.via}: median {np.median(ms):.3f} ms per round "
              f"(p10 {np.percentile(ms, 10):.3f}, p90 {np.percentile(ms, 90):.3f})")


if __name__ == "__main__":
    main()
