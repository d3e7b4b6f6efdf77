"""Subsampled randomized Hadamard transform (seed 002, Def. 19) and the fast Walsh-Hadamard transform.

R = sqrt(n/b) S H D with D a diagonal of Rademacher signs, H the normalised n x n Walsh-Hadamard
matrix (Sylvester order, H = H^T, H^2 = I) and S b rows of the identity sampled without
replacement. H needs n a power of two, so for general d the input is zero-padded to
n = 2^ceil(log2 d) and R is the first d columns of the n-dimensional SRHT; then
E[R^T R] = P^T E[sqrt(n/b)^2 D H S^T S H D] P = P^T I_n P = I_d still holds.

With the unnormalised transform W = sqrt(n) H (which :func:`fwht` computes in O(n log n)):
sk(x) = (W D x)[S] / sqrt(b) and desk(y) = D W (S^T y) / sqrt(b).
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from .base import Sketch

__all__ = ["SRHT", "fwht"]


def _check_pow2(n: int):
    if n < 1 or n & (n - 1):
        raise ValueError(f"the Walsh-Hadamard transform needs a power-of-two length, got {n}")


def fwht(x):
    """Unnormalised fast Walsh-Hadamard transform of x (last axis, power-of-two length), O(n log n).

    Equals ``scipy.linalg.hadamard(n) @ x`` (Sylvester order) for a vector x, row by row for a
    batch. NumPy input uses a Numba butterfly (blocked for cache); torch and CuPy inputs use
    log2(n) vectorised butterfly passes on their device. Returns a new array.

    >>> import numpy as np
    >>> fwht(np.array([1.0, 0.0, 1.0, 0.0]))
    array([2., 2., 0., 0.])
    """
    from ._arrays import as_rows, restore

    n = x.shape[-1]
    _check_pow2(n)
    rows, was_1d, kind = as_rows(x, n, "x")
    if kind == "numpy":
        out = rows.copy()
        _kernels.fwht_rows(out)
    else:
        out = _fwht_vectorised(rows)
    return restore(out, was_1d)


def _fwht_vectorised(X):
    """Butterflies as whole-array ops (torch or CuPy): pass h pairs entries h apart."""
    batch, n = X.shape
    h = 1
    while h < n:
        V = X.reshape(batch, n // (2 * h), 2, h)
        a, c = V[:, :, 0, :], V[:, :, 1, :]
        if type(X).__module__.startswith("torch"):
            import torch

            X = torch.stack((a + c, a - c), dim=2).reshape(batch, n)
        else:
            import cupy

            X = cupy.stack((a + c, a - c), axis=2).reshape(batch, n)
        h *= 2
    return X


class SRHT(Sketch):
    """Subsampled randomized Hadamard transform R = sqrt(n/b) S H D (seed 002, Def. 19).

    Stores the d signs of D and the b sampled row indices of S; applies H by the fast transform.

    >>> import numpy as np
    >>> S = SRHT(b=4, d=8, seed=0)
    >>> R = S.matrix()
    >>> bool(np.allclose(R @ R.T, (8 / 4) * np.eye(4)))  # rows orthogonal, norm^2 n/b
    True
    """

    kind = "srht"

    def __init__(self, b: int, d: int, seed=None):
        super().__init__(b, d, seed)
        self.n = 1 << (self.d - 1).bit_length()
        if self.b > self.n:
            raise ValueError(
                f"SRHT samples b rows without replacement from n = {self.n} (d = {self.d} padded to a "
                f"power of two), so b must be at most {self.n}; got b = {self.b}"
            )
        self.signs = (2 * self._rng.integers(0, 2, size=self.d) - 1).astype(np.int8)
        self.sampled = np.sort(self._rng.choice(self.n, size=self.b, replace=False)).astype(np.int64)
        self._scale = 1.0 / np.sqrt(self.b)
        self._device_cache = {}

    def _sk_numpy(self, X):
        buf = np.zeros((X.shape[0], self.n), dtype=X.dtype)
        np.multiply(X, self.signs, out=buf[:, : self.d])
        _kernels.fwht_rows(buf)
        return buf[:, self.sampled] * X.dtype.type(self._scale)

    def _desk_numpy(self, Y):
        buf = np.zeros((Y.shape[0], self.n), dtype=Y.dtype)
        buf[:, self.sampled] = Y
        _kernels.fwht_rows(buf)
        return buf[:, : self.d] * (self.signs * Y.dtype.type(self._scale))

    def _arrays_on(self, like, lib):
        key = (lib, str(getattr(like, "device", "")), str(like.dtype))
        if key not in self._device_cache:
            if lib == "torch":
                import torch

                signs = torch.as_tensor(self.signs * self._scale, dtype=like.dtype, device=like.device)
                idx = torch.as_tensor(self.sampled, device=like.device)
            else:
                import cupy

                signs = cupy.asarray(self.signs * self._scale, dtype=like.dtype)
                idx = cupy.asarray(self.sampled)
            self._device_cache[key] = (signs, idx)
        return self._device_cache[key]

    def _sk_torch(self, X):
        import torch

        signs, idx = self._arrays_on(X, "torch")
        buf = torch.zeros((X.shape[0], self.n), dtype=X.dtype, device=X.device)
        buf[:, : self.d] = X * signs
        return _fwht_vectorised(buf)[:, idx]

    def _desk_torch(self, Y):
        import torch

        signs, idx = self._arrays_on(Y, "torch")
        buf = torch.zeros((Y.shape[0], self.n), dtype=Y.dtype, device=Y.device)
        buf[:, idx] = Y
        return _fwht_vectorised(buf)[:, : self.d] * signs

    def _sk_cupy(self, X):
        import cupy

        signs, idx = self._arrays_on(X, "cupy")
        buf = cupy.zeros((X.shape[0], self.n), dtype=X.dtype)
        buf[:, : self.d] = X * signs
        return _fwht_vectorised(buf)[:, idx]

    def _desk_cupy(self, Y):
        import cupy

        signs, idx = self._arrays_on(Y, "cupy")
        buf = cupy.zeros((Y.shape[0], self.n), dtype=Y.dtype)
        buf[:, idx] = Y
        return _fwht_vectorised(buf)[:, : self.d] * signs
