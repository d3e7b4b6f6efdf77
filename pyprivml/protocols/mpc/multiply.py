"""Secure multiplication with degree reduction, the BGW way and the BH08 way (seed 004, app. D).

Inside a group of n = 2T+1 parties holding degree-T Shamir shares [a]_T and [b]_T (D.1), the local
product [a]_j [b]_j is a share of ab on a polynomial of degree 2T (D.3; the formulas of appendix D
are numbered in :mod:`.sharing`).
A matrix product of shares, sum_k [A]_ik [B]_kj, is likewise a degree-2T share of (AB)_ij. Before
the next multiplication the degree must come back to T; the two baselines differ only in how:

* :class:`BGWReducer` (Ben-Or, Goldwasser, Wigderson 1988): party i re-shares its degree-2T
  share h_i with a fresh degree-T polynomial, sending one sub-share to every other party; party j
  then holds [h_i]_j for every i and computes sum_i lambda_i [h_i]_j, a degree-T share of
  sum_i lambda_i h_i = ab, lambda being the Lagrange coefficients at 0 for the 2T+1 points.
  n(n-1) messages per multiplication round: O(N^2).
* :class:`BH08Reducer` (Beerliova-Trubiniova and Hirt 2008, and Damgard-Nielsen 2007): an
  offline phase makes random *double sharings* ([rho]_T, [rho]_2T) of the same uniform rho,
  fresh for every multiplied element. Online, party j sends [ab]_2T - [rho]_2T to the king, who
  opens ab - rho from the 2T+1 values (they lie on a degree-2T polynomial, D.4) and broadcasts
  it; every party adds it to [rho]_T (D.5). 2(n-1) messages per multiplication round: O(N). rho is
  uniform and unknown to any T parties, so ab - rho reveals nothing.

  Offline, every party deals a uniform vector rho_i with both a degree-T and a degree-2T sharing;
  each party multiplies the n dealt sharings it holds by the (n-T) x n Vandermonde matrix
  M[a, i] = alpha_i^a. Any n-T columns of M are invertible, so the n-T resulting double sharings
  are uniform even given the T dealings a coalition knows (the semi-honest core of BH08's
  hyper-invertible matrices; the seed's baselines are semi-honest). One offline round of n(n-1)
  messages yields n-T double sharings per dealt element.

Every reducer also counts its offline and online seconds separately (:attr:`DegreeReducer.offline_seconds`,
:attr:`~DegreeReducer.online_seconds`). Masks come from :class:`pyprivml.random.SecureRandom`.

Example (three parties, T = 1, run on the simulated cluster)
-------
>>> import numpy as np
>>> from pyprivml import PrimeField
>>> from pyprivml.shamir import shamir_share
>>> from pyprivml.comm import launch
>>> from pyprivml.protocols.mpc import make_groups, reducer_class, open_shares
>>> F = PrimeField(101); group = make_groups(3, F, groups=1, first_rank=0)[0]
>>> A = shamir_share(np.array([2, 3]), 3, 1, F, points=group.points)
>>> B = shamir_share(np.array([5, 7]), 3, 1, F, points=group.points)
>>> def party(t):
...     red = reducer_class("bh08")(t, group)
...     red.prepare(2)                                   # offline: double sharings for 2 elements
...     return red.multiply(A[t.rank], B[t.rank])        # online: a degree-T share of a * b
>>> out = launch(party, 3, "simulated").results
>>> open_shares(dict(enumerate(out)), group)
array([10, 21])
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from ..._poly import vandermonde
from ...linalg import modadd, modcombine, modmatmul, modmul, modsub
from ...random import SecureRandom
from ...shamir import shamir_reconstruct, shamir_share
from .sharing import TAGS, Group

__all__ = ["DegreeReducer", "BGWReducer", "BH08Reducer", "reducer_class", "open_shares", "REDUCERS"]


def open_shares(shares, group: Group, *, degree: int | None = None) -> np.ndarray:
    """Reconstruct a secret from ``{position: share}`` of one group (degree T unless given)."""
    points = group.points
    return shamir_reconstruct({int(k): np.asarray(v) for k, v in shares.items()}, group.field,
                              points=points, degree=group.T if degree is None else degree)


class DegreeReducer(ABC):
    """One party's side of multiplication in its group, over a transport.

    Subclasses implement :meth:`reduce` (a degree-2T share to a degree-T share of the same
    secret) and, where the protocol has one, the offline :meth:`prepare`.
    """

    name = "abstract"

    def __init__(self, transport, group: Group, rng: SecureRandom | None = None):
        self.transport = transport
        self.group = group
        self.field = group.field
        self.pos = group.position(transport.rank)
        self.rng = rng if rng is not None else SecureRandom()
        self.lam = group.recombination()
        self.offline_seconds = 0.0
        self.online_seconds = 0.0
        self.rounds = 0

    def prepare(self, elements: int) -> None:
        """Offline work for ``elements`` multiplied field elements (none for BGW)."""

    @abstractmethod
    def _reduce(self, h: np.ndarray) -> np.ndarray: ...

    def reduce(self, h) -> np.ndarray:
        """Degree reduction: this party's degree-2T share ``h`` to a degree-T share of the same
        secret. One communication round; every party of the group must call it together."""
        h = np.asarray(h, dtype=np.int64)
        t0 = self.transport.now()
        with self.transport.in_phase("degree_reduction"):
            out = self._reduce(h)
        self.online_seconds += self.transport.now() - t0
        self.rounds += 1
        return out

    def multiply(self, a, b) -> np.ndarray:
        """Element-wise [a*b]_T from [a]_T and [b]_T."""
        return self.reduce(modmul(a, b, self.field, check=False))            # (D.3)

    def matmul(self, A, B) -> np.ndarray:
        """[A @ B]_T from [A]_T and [B]_T (the local product is a degree-2T share)."""
        return self.reduce(modmatmul(A, B, self.field, check=False))          # (D.3), summed

    def _open_degree_2t(self, stacked: np.ndarray) -> np.ndarray:
        """sum_i lambda_i h_i over the n shares stacked on axis 0 (degree <= 2T, all points)."""
        n = stacked.shape[0]
        flat = modcombine(self.lam[None, :], stacked.reshape(n, -1), self.field, check=False)
        return flat.reshape(stacked.shape[1:])


class BGWReducer(DegreeReducer):
    """BGW degree reduction: re-share the degree-2T share, recombine with Lagrange coefficients."""

    name = "bgw"

    def _reduce(self, h):
        g, t, pos = self.group, self.transport, self.pos
        sub = shamir_share(h, g.n, g.T, self.field, rng=self.rng, points=g.points)    # (D.1) of h_i
        reqs = [t.isend(np.ascontiguousarray(sub[k]), g.ranks[k], TAGS.reshare)
                for k in range(g.n) if k != pos]
        held = [sub[pos] if k == pos else t.recv(source=g.ranks[k], tag=TAGS.reshare)[0]
                for k in range(g.n)]
        for r in reqs:
            r.wait()
        return self._open_degree_2t(np.stack(held))


class BH08Reducer(DegreeReducer):
    """BH08 degree reduction: open [ab]_2T - [rho]_2T at a king, add [rho]_T."""

    name = "bh08"

    def __init__(self, transport, group, rng=None):
        super().__init__(transport, group, rng)
        self._pool_t = np.empty(0, dtype=np.int64)
        self._pool_2t = np.empty(0, dtype=np.int64)

    @property
    def available(self) -> int:
        """How many double sharings the offline phase has left for online multiplications."""
        return self._pool_t.size

    def prepare(self, elements: int) -> None:
        """Offline: make at least ``elements`` fresh double sharings ([rho]_T, [rho]_2T)."""
        if not isinstance(elements, (int, np.integer)) or elements < 0:
            raise ValueError(f"elements must be a non-negative integer, got {elements!r}")
        if elements == 0:
            return
        g, t, pos, F = self.group, self.transport, self.pos, self.field
        t0 = self.transport.now()
        with t.in_phase("offline"):
            per_dealing = g.n - g.T
            length = math.ceil(elements / per_dealing)
            rho = self.rng.field_elements(F, (length,))
            low = shamir_share(rho, g.n, g.T, F, rng=self.rng, points=g.points)
            high = shamir_share(rho, g.n, 2 * g.T, F, rng=self.rng, points=g.points)
            reqs = [t.isend(np.stack([low[k], high[k]]), g.ranks[k], TAGS.double)
                    for k in range(g.n) if k != pos]
            dealt = np.stack([np.stack([low[pos], high[pos]]) if k == pos
                              else t.recv(source=g.ranks[k], tag=TAGS.double)[0]
                              for k in range(g.n)])                # (n, 2, length)
            for r in reqs:
                r.wait()
            M = vandermonde(g.points, per_dealing - 1, F.p).T      # M[a, i] = alpha_i**a
            new_t = modmatmul(M, dealt[:, 0, :], F, check=False).ravel()
            new_2t = modmatmul(M, dealt[:, 1, :], F, check=False).ravel()
            self._pool_t = np.concatenate([self._pool_t, new_t])
            self._pool_2t = np.concatenate([self._pool_2t, new_2t])
        self.offline_seconds += self.transport.now() - t0

    def _take(self, size: int):
        if size > self._pool_t.size:
            raise RuntimeError(
                f"BH08 needs {size} double sharings for this multiplication but the offline phase "
                f"left {self._pool_t.size}; call prepare() with the total number of multiplied "
                f"elements before the online phase")
        rho_t, rho_2t = self._pool_t[:size], self._pool_2t[:size]
        self._pool_t, self._pool_2t = self._pool_t[size:], self._pool_2t[size:]
        return rho_t, rho_2t

    def _reduce(self, h):
        g, t, F = self.group, self.transport, self.field
        rho_t, rho_2t = self._take(h.size)
        masked = modsub(h.ravel(), rho_2t, F, check=False)                      # (D.4)
        if t.rank == g.king:
            held = np.stack([masked if r == g.king else t.recv(source=r, tag=TAGS.open_in)[0]
                             for r in g.ranks])
            opened = self._open_degree_2t(held)                    # ab - rho, public
            reqs = [t.isend(opened, r, TAGS.open_out) for r in g.ranks if r != g.king]
            for r in reqs:
                r.wait()
        else:
            t.send(masked, g.king, TAGS.open_in)
            opened = t.recv(source=g.king, tag=TAGS.open_out)[0]
        return modadd(rho_t, opened, F, check=False).reshape(h.shape)         # (D.5)


#: Degree reductions by protocol name.
REDUCERS = {"bgw": BGWReducer, "bh08": BH08Reducer}


def reducer_class(name: str) -> type[DegreeReducer]:
    """The reducer of protocol ``name`` ("bgw" or "bh08")."""
    try:
        return REDUCERS[name]
    except KeyError:
        raise ValueError(f"unknown MPC protocol {name!r}; valid: {', '.join(REDUCERS)}") from None
