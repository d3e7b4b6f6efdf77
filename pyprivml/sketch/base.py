"""The common interface of the sketching operators of seed 002 (appendix A.2 and E.2).

A sketch is a seeded random matrix R in R^{b x d}. ``sk(x) = R x`` compresses a vector (eq. 19)
and ``desk(y) = R^T y`` maps it back (eq. 20); both are linear, accept one vector of shape (d,) /
(b,) or a batch of row vectors (batch, d) / (batch, b), and return the same array type as their
input: NumPy (Numba kernels), torch tensors (torch ops, on the tensor's device) or CuPy arrays.
Every family here satisfies E[R^T R] = I, so E[desk(sk(g))] = g (Theorem 60, part 3).

The random draws (hashes, signs, sampled rows) are made once at construction from
``numpy.random.SeedSequence(seed)``; ``seed=None`` draws fresh OS entropy, and ``.seed`` then
holds the entropy used, so any operator can be rebuilt. These sketches compress; they are not
privacy masks, so a fast reproducible generator is the right one.
"""

from __future__ import annotations

import numpy as np

from ._arrays import as_rows, restore

__all__ = ["Sketch"]


def _check_dim(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class Sketch:
    """Base class: validation, array-type dispatch and batching; subclasses supply the maths.

    Subclasses implement ``_sk_numpy/_desk_numpy`` (C-contiguous float rows in, rows out) and
    ``_sk_torch/_desk_torch`` and ``_sk_cupy/_desk_cupy`` likewise.
    """

    kind = "sketch"

    def __init__(self, b: int, d: int, seed=None):
        self.b = _check_dim(b, "the sketch size b")
        self.d = _check_dim(d, "the dimension d")
        ss = np.random.SeedSequence(seed)
        self.seed = ss.entropy
        self._rng = np.random.default_rng(ss)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.b, self.d)

    def sk(self, x):
        """R x, for x of shape (d,) or (batch, d); the result has shape (b,) or (batch, b)."""
        rows, was_1d, kind = as_rows(x, self.d, "x")
        return restore(getattr(self, f"_sk_{kind}")(rows), was_1d)

    def desk(self, y):
        """R^T y, for y of shape (b,) or (batch, b); the result has shape (d,) or (batch, d)."""
        rows, was_1d, kind = as_rows(y, self.b, "y")
        return restore(getattr(self, f"_desk_{kind}")(rows), was_1d)

    __call__ = sk

    def matrix(self) -> np.ndarray:
        """R as a dense float64 NumPy array (b, d): for tests and small d only."""
        return np.ascontiguousarray(self.desk(np.eye(self.b)))  # row k is R^T e_k

    def __repr__(self) -> str:
        return f"{type(self).__name__}(b={self.b}, d={self.d}, seed={self.seed})"
