"""Hashed sparse sketches: count-sketch and the two sparse embeddings (seed 002, Defs. 21-23).

Column i of R has s non-zeros, at rows ``rows[i, :]`` with values ``scale * signs[i, :]``; only
those d*s indices (int32) and signs (int8) are stored, never the b x d matrix.

* Count-sketch (Def. 21): s = 1, R[h(i), i] = sigma(i), scale 1.
* Sparse embedding I (Def. 22): s distinct rows per column, chosen uniformly without
  replacement, values +-1/sqrt(s).
* Sparse embedding II (Def. 23): R is s stacked count-sketches of b/s rows each, scaled by
  1/sqrt(s): row (j-1) b/s + h(i, j) of column i holds sigma(i, j)/sqrt(s).

The hashes and signs are fully independent uniform draws, which in particular are as 2-wise
(h) and 4-wise (sigma) independent as the definitions ask. E[R^T R] = I because the diagonal of
R^T R is exactly 1 and each off-diagonal entry is a sum of products of independent signs.
"""

from __future__ import annotations

import math

import numpy as np

from . import _kernels
from .base import Sketch

__all__ = ["HashedSketch", "CountSketch", "SparseEmbeddingI", "SparseEmbeddingII"]


class HashedSketch(Sketch):
    """A sparse R given by its column hashes: ``rows`` (d, s) int32, ``signs`` (d, s) int8."""

    def _set_hashes(self, rows: np.ndarray, signs: np.ndarray, scale: float):
        self.rows = np.ascontiguousarray(rows, dtype=np.int32)
        self.signs = np.ascontiguousarray(signs, dtype=np.int8)
        self.s = self.rows.shape[1]
        self.scale = float(scale)
        self._device_cache = {}
        if self.s == 1 and self.scale == 1.0:  # count-sketch: contiguous 1-D copies for its kernel
            self._buckets = np.ascontiguousarray(self.rows[:, 0])
            self._signs1 = np.ascontiguousarray(self.signs[:, 0])

    # ---- NumPy: Numba kernels -------------------------------------------------------------
    def _sk_numpy(self, X):
        out = np.zeros((X.shape[0], self.b), dtype=X.dtype)
        if self.s == 1 and self.scale == 1.0:
            _kernels.countsketch_sk(X, self._buckets, self._signs1, out)
        else:
            _kernels.hashed_sk(X, self.rows, self.signs, self.scale, out)
        return out

    def _desk_numpy(self, Y):
        out = np.empty((Y.shape[0], self.d), dtype=Y.dtype)
        _kernels.hashed_desk(Y, self.rows, self.signs, self.scale, out)
        return out

    # ---- NumPy reference (vectorised; also the CuPy code path with xp = cupy) ---------------
    def _sk_xp(self, X, xp, rows, signs):
        out = xp.zeros((X.shape[0], self.b), dtype=X.dtype)
        vals = (X[:, :, None] * (signs * self.scale).astype(X.dtype)).reshape(X.shape[0], -1)
        idx = xp.broadcast_to(rows.reshape(1, -1), vals.shape)
        batch = xp.broadcast_to(xp.arange(X.shape[0])[:, None], vals.shape)
        if xp is np:
            np.add.at(out, (batch, idx), vals)
        else:
            import cupyx

            cupyx.scatter_add(out, (batch, idx), vals)
        return out

    def _desk_xp(self, Y, xp, rows, signs):
        gathered = Y[:, rows] * (signs * self.scale).astype(Y.dtype)
        return gathered.sum(axis=2)

    def sk_reference(self, x):
        """R x by vectorised NumPy (np.add.at): the oracle for the Numba kernel."""
        X = np.atleast_2d(np.asarray(x, dtype=np.float64))
        out = self._sk_xp(X, np, self.rows.astype(np.intp), self.signs.astype(np.float64))
        return out[0] if np.ndim(x) == 1 else out

    # ---- CuPy ------------------------------------------------------------------------------
    def _cupy_hashes(self):
        import cupy

        key = ("cupy", cupy.cuda.Device().id)
        if key not in self._device_cache:
            self._device_cache[key] = (cupy.asarray(self.rows, dtype=cupy.int64),
                                       cupy.asarray(self.signs, dtype=cupy.float64))
        return self._device_cache[key]

    def _sk_cupy(self, X):
        import cupy

        return self._sk_xp(X, cupy, *self._cupy_hashes())

    def _desk_cupy(self, Y):
        import cupy

        return self._desk_xp(Y, cupy, *self._cupy_hashes())

    # ---- torch: index_add_ / gather on the tensor's device -----------------------------------
    def _torch_hashes(self, like):
        import torch

        key = ("torch", str(like.device), like.dtype)
        if key not in self._device_cache:
            rows = torch.as_tensor(self.rows, dtype=torch.int64, device=like.device)
            signs = torch.as_tensor(self.signs * self.scale, dtype=like.dtype, device=like.device)
            self._device_cache[key] = (rows, signs)
        return self._device_cache[key]

    def _sk_torch(self, X):
        import torch

        rows, signs = self._torch_hashes(X)
        out = torch.zeros((X.shape[0], self.b), dtype=X.dtype, device=X.device)
        vals = (X.unsqueeze(2) * signs).reshape(X.shape[0], -1)
        return out.index_add_(1, rows.reshape(-1), vals)

    def _desk_torch(self, Y):
        rows, signs = self._torch_hashes(Y)
        return (Y[:, rows] * signs).sum(dim=2)


class CountSketch(HashedSketch):
    """Count-sketch matrix (seed 002, Def. 21): R[h(i), i] = sigma(i), one non-zero per column.

    >>> import numpy as np
    >>> S = CountSketch(b=4, d=10, seed=1)
    >>> x = np.arange(10.0)
    >>> bool(np.isclose(S.sk(x).sum(), (S.signs[:, 0] * x).sum()))
    True
    """

    kind = "countsketch"

    def __init__(self, b: int, d: int, seed=None):
        super().__init__(b, d, seed)
        buckets = self._rng.integers(0, self.b, size=(self.d, 1))
        signs = 2 * self._rng.integers(0, 2, size=(self.d, 1)) - 1
        self._set_hashes(buckets, signs, 1.0)


_DEFAULT_S = 4


def _check_s(s, b):
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 1 <= s <= b:
        raise ValueError(f"the column sparsity s must be an integer in [1, b={b}], got {s!r}")
    return int(s)


def _distinct_rows(rng, d: int, b: int, s: int) -> np.ndarray:
    """For each of d columns, s distinct rows uniform in [0, b) (a uniform s-subset per column).

    Draw s rows independently and redraw every column that repeats one: conditioned on being
    distinct, independent uniform draws are a uniform random s-subset in random order.
    """
    rows = rng.integers(0, b, size=(d, s))
    while True:
        srt = np.sort(rows, axis=1)
        bad = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1)) if s > 1 else np.empty(0, int)
        if bad.size == 0:
            return rows
        rows[bad] = rng.integers(0, b, size=(bad.size, s))


class SparseEmbeddingI(HashedSketch):
    """Sparse embedding matrix I (seed 002, Def. 22): s non-zeros +-1/sqrt(s) per column, at s
    distinct uniformly random rows.

    >>> S = SparseEmbeddingI(b=8, d=5, s=3, seed=0)
    >>> [len(set(r)) for r in S.rows.tolist()]
    [3, 3, 3, 3, 3]
    """

    kind = "sparse1"

    def __init__(self, b: int, d: int, s: int | None = None, seed=None):
        super().__init__(b, d, seed)
        s = _check_s(min(_DEFAULT_S, self.b) if s is None else s, self.b)
        if 2 * s > self.b + 1 and s > 1:
            # Few free rows: rejection would retry often, so take a random permutation prefix.
            rows = np.argsort(self._rng.random((self.d, self.b)), axis=1)[:, :s]
        else:
            rows = _distinct_rows(self._rng, self.d, self.b, s)
        signs = 2 * self._rng.integers(0, 2, size=(self.d, s)) - 1
        self._set_hashes(rows, signs, 1.0 / math.sqrt(s))


class SparseEmbeddingII(HashedSketch):
    """Sparse embedding matrix II (seed 002, Def. 23): s count-sketches of b/s rows, stacked.

    Row ``j * (b // s) + h(i, j)`` (0-based j) of column i holds sigma(i, j)/sqrt(s).

    >>> S = SparseEmbeddingII(b=8, d=5, s=2, seed=0)
    >>> bool(((S.rows[:, 0] < 4) & (S.rows[:, 1] >= 4)).all())
    True
    """

    kind = "sparse2"

    def __init__(self, b: int, d: int, s: int | None = None, seed=None):
        super().__init__(b, d, seed)
        if s is None:  # the largest divisor of b up to the default
            s = max(k for k in range(1, min(_DEFAULT_S, self.b) + 1) if self.b % k == 0)
        s = _check_s(s, self.b)
        if self.b % s:
            raise ValueError(f"sparse embedding II needs s to divide b (blocks of b/s rows); got b={self.b}, s={s}")
        block = self.b // s
        h = self._rng.integers(0, block, size=(self.d, s))
        rows = h + block * np.arange(s)[None, :]
        signs = 2 * self._rng.integers(0, 2, size=(self.d, s)) - 1
        self._set_hashes(rows, signs, 1.0 / math.sqrt(s))
