"""Groups of 2T+1 workers holding Shamir shares, as in the MPC baselines of seed 004 (sec. V, app. D).

Appendix D states its formulas without numbers; this package numbers them in order of appearance:

* (D.1) sharing: a secret a is embedded in h(xi) = a + xi r_1 + ... + xi^T r_T with uniform r_i,
  and worker i holds [a]_i = h(alpha_i);
* (D.2) addition: [a + b]_i = [a]_i + [b]_i mod p, locally;
* (D.3) multiplication: [a]_i [b]_i is a share of ab on a polynomial of degree 2T;
* (D.4) BH08's masked opening: worker i sends [a]_i [b]_i - [rho]_{2T,i}, and ab - rho is decoded;
* (D.5) BH08's re-sharing: [ab]_{T,i} = (ab - rho) + [rho]_{T,i}.

The seed speeds its BGW and BH08 baselines up by splitting the N workers into G = 3 groups of
2T+1, with T = floor((N-3)/6) (sec. V, "Experiment setup"): group g holds degree-T Shamir shares
P_g(alpha_j) = X'_g + alpha_j Z_g1 + ... + alpha_j^T Z_gT of its row block X'_g of the quantised
dataset, so each worker stores and processes m/G rows. 2T+1 is the smallest group in which a
product of two degree-T sharings (degree 2T) can still be opened, which is what degree reduction
(:mod:`.multiply`) and the master's final reconstruction rely on. Workers beyond G(2T+1) idle.

Evaluation points are alpha_j = 1, ..., 2T+1 inside every group (appendix D: "the secret share of
a at worker i is h(i)").

Example
-------
>>> from pyprivml import PrimeField
>>> groups = make_groups(10, PrimeField(11))      # T = floor(7/6) = 1: three groups of 3
>>> [g.ranks for g in groups], groups[0].T
([(1, 2, 3), (4, 5, 6), (7, 8, 9)], 1)
>>> groups[0].recombination()                     # Lagrange coefficients at 0 for points 1, 2, 3
array([3, 8, 1])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...field import PrimeField, as_field
from ...shamir import recombination_vector
from ..tags import tags_for

__all__ = ["Group", "make_groups", "mpc_threshold", "TAGS", "DEFAULT_GROUPS"]

#: Message tags of the MPC roles (from the one registry, :mod:`pyprivml.protocols.tags`).
TAGS = tags_for("mpc")

#: Number of groups in seed 004's experiments (sec. V: "we set G = 3").
DEFAULT_GROUPS = 3


def mpc_threshold(N: int, groups: int = DEFAULT_GROUPS) -> int:
    """The largest privacy threshold T = floor((N - G) / (2G)) that fits G groups of 2T+1 into N workers;
    for G = 3 this is seed 004's T = floor((N-3)/6)."""
    if not isinstance(N, (int, np.integer)) or isinstance(N, bool):
        raise TypeError(f"N must be an integer number of workers, got {type(N).__name__}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"the number of groups G must be a positive integer, got {groups!r}")
    if N < 3 * groups:
        raise ValueError(
            f"N = {N} workers cannot form G = {groups} groups of 2T+1 >= 3 workers; "
            f"use N >= {3 * groups} (or fewer groups)")
    return (int(N) - groups) // (2 * groups)


@dataclass(frozen=True)
class Group:
    """Group ``index``: the 2T+1 transport ranks that share one row block, threshold T."""

    index: int
    ranks: tuple
    T: int
    field: PrimeField

    @property
    def n(self) -> int:
        return len(self.ranks)

    @property
    def points(self) -> np.ndarray:
        """The evaluation points alpha_1..alpha_n = 1..n of (D.1): "the secret share of a at worker i is h(i)"."""
        return np.arange(1, self.n + 1, dtype=np.int64)

    @property
    def king(self) -> int:
        """The rank that opens values in BH08 (the group's first worker)."""
        return self.ranks[0]

    def position(self, rank: int) -> int:
        try:
            return self.ranks.index(rank)
        except ValueError:
            raise ValueError(f"rank {rank} is not in group {self.index} (ranks {self.ranks})") from None

    def recombination(self) -> np.ndarray:
        """Lagrange coefficients at 0 for all n = 2T+1 points: they open any degree <= 2T sharing."""
        return np.asarray(recombination_vector(self.points, self.field), dtype=np.int64)


def make_groups(N: int, field, *, T: int | None = None, groups: int = DEFAULT_GROUPS,
                first_rank: int = 1) -> list[Group]:
    """Partition workers ``first_rank .. first_rank + N - 1`` into G groups of 2T+1 (sec. V).

    ``T`` defaults to :func:`mpc_threshold`; a larger T than fits raises ``ValueError``.
    """
    F = as_field(field)
    T_max = mpc_threshold(N, groups)
    if T is None:
        T = T_max
    if not isinstance(T, (int, np.integer)) or isinstance(T, bool) or T < 0:
        raise ValueError(f"the privacy threshold T must be a non-negative integer, got {T!r}")
    if T > T_max:
        raise ValueError(f"T = {T} needs G(2T+1) = {groups * (2 * T + 1)} workers but N = {N}; "
                         f"with N = {N} and G = {groups}, T <= {T_max}")
    n = 2 * int(T) + 1
    if n >= F.p:
        raise ValueError(f"groups of {n} workers need {n} distinct nonzero points, but p = {F.p}")
    return [Group(g, tuple(range(first_rank + g * n, first_rank + (g + 1) * n)), int(T), F)
            for g in range(groups)]
