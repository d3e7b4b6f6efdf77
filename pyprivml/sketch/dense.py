"""Dense sketches: random Gaussian (seed 002, Def. 18) and AMS (Def. 20).

Every entry of these R is non-zero, so nothing sparse can be stored; instead R is regenerated
block by block (``block`` columns at a time) from its seed whenever it is applied, and
multiplied with BLAS (or torch/CuPy matmul). Memory stays at b x block values however large d
is; only operators with at most ``cache_entries`` entries keep their whole R after first use.

* Gaussian: R_ij ~ N(0, 1/b) independently; block k comes from its own PCG64 stream
  (SeedSequence spawn key k), so any block is generated alone and always the same.
* AMS: R_ij = h_i(j) in {-1/sqrt(b), +1/sqrt(b)}, h_1..h_b drawn from the 4-wise independent
  family of degree-3 polynomials over F_p, p = 2^31 - 1 (Carter-Wegman), sign = parity.

E[R^T R] = I: the columns have E ||R_:j||^2 = b (1/b) = 1 and distinct columns are (pairwise)
uncorrelated.
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from .base import Sketch

__all__ = ["DenseSketch", "GaussianSketch", "AMSSketch"]

_BLOCK = 4096
_CACHE_ENTRIES = 1 << 21  # 16 MiB of float64


class DenseSketch(Sketch):
    """R generated on demand in column blocks; subclasses define ``_block(k) -> (b, width)``."""

    def __init__(self, b, d, seed=None, block: int = _BLOCK, cache_entries: int = _CACHE_ENTRIES):
        super().__init__(b, d, seed)
        self.block = int(block)
        self._cache_ok = self.b * self.d <= cache_entries
        self._dense = None
        self._device_cache = {}

    def _starts(self):
        return range(0, self.d, self.block)

    def _blocks(self):
        """Yield (start, stop, R[:, start:stop]) as float64 NumPy arrays."""
        if self._dense is not None:
            for j0 in self._starts():
                yield j0, min(self.d, j0 + self.block), self._dense[:, j0 : j0 + self.block]
            return
        parts = [] if self._cache_ok else None
        for j0 in self._starts():
            blk = self._block(j0 // self.block, j0, min(self.d, j0 + self.block))
            if parts is not None:
                parts.append(blk)
            yield j0, min(self.d, j0 + self.block), blk
        if parts is not None:
            self._dense = np.concatenate(parts, axis=1)

    def _sk_numpy(self, X):
        out = np.zeros((X.shape[0], self.b), dtype=X.dtype)
        for j0, j1, blk in self._blocks():
            out += X[:, j0:j1] @ blk.T.astype(X.dtype, copy=False)
        return out

    def _desk_numpy(self, Y):
        out = np.empty((Y.shape[0], self.d), dtype=Y.dtype)
        for j0, j1, blk in self._blocks():
            np.matmul(Y, blk.astype(Y.dtype, copy=False), out=out[:, j0:j1])
        return out

    def _on_device(self, blk, like, lib):
        if lib == "torch":
            import torch

            return torch.as_tensor(blk, dtype=like.dtype, device=like.device)
        import cupy

        return cupy.asarray(blk, dtype=like.dtype)

    def _sk_other(self, X, lib):
        out = None
        for j0, j1, blk in self._blocks():
            part = X[:, j0:j1] @ self._on_device(blk, X, lib).T
            out = part if out is None else out + part
        return out

    def _desk_other(self, Y, lib):
        parts = [Y @ self._on_device(blk, Y, lib) for _, _, blk in self._blocks()]
        if lib == "torch":
            import torch

            return torch.cat(parts, dim=1)
        import cupy

        return cupy.concatenate(parts, axis=1)

    def _sk_torch(self, X):
        return self._sk_other(X, "torch")

    def _desk_torch(self, Y):
        return self._desk_other(Y, "torch")

    def _sk_cupy(self, X):
        return self._sk_other(X, "cupy")

    def _desk_cupy(self, Y):
        return self._desk_other(Y, "cupy")


class GaussianSketch(DenseSketch):
    """Random Gaussian matrix (seed 002, Def. 18): entries i.i.d. N(0, 1/b).

    >>> import numpy as np
    >>> S = GaussianSketch(b=3, d=5, seed=0)
    >>> bool(np.allclose(S.sk(np.eye(5)).T, S.matrix()))  # R x = sum_j x_j R_:j
    True
    """

    kind = "gaussian"

    def __init__(self, b, d, seed=None, **kw):
        super().__init__(b, d, seed, **kw)
        self._key = np.random.SeedSequence(self.seed).generate_state(4)

    def _block(self, k, j0, j1):
        rng = np.random.default_rng(np.random.SeedSequence(self._key, spawn_key=(k,)))
        blk = rng.standard_normal((self.b, j1 - j0))
        blk *= 1.0 / np.sqrt(self.b)
        return blk


class AMSSketch(DenseSketch):
    """AMS sketch matrix (seed 002, Def. 20): R_ij = h_i(j) = +-1/sqrt(b), h_i 4-wise independent.

    >>> import numpy as np
    >>> R = AMSSketch(b=4, d=6, seed=0).matrix()
    >>> bool(np.allclose(np.abs(R), 0.5))
    True
    """

    kind = "ams"
    P = 2**31 - 1

    def __init__(self, b, d, seed=None, **kw):
        super().__init__(b, d, seed, **kw)
        if self.d >= self.P:
            raise ValueError(f"the AMS hash family works over F_(2^31-1), so d must be below {self.P}; got {self.d}")
        self.coef = self._rng.integers(0, self.P, size=(self.b, 4), dtype=np.uint64)

    def _block(self, k, j0, j1):
        blk = np.empty((self.b, j1 - j0), dtype=np.float64)
        _kernels.ams_block(self.coef, j0, j1, 1.0 / np.sqrt(self.b), blk)
        return blk
