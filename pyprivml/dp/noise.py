"""Noise sources for the DP mechanisms: fast and reproducible, or cryptographically secure.

``NoiseSource(secure=None, seed=None)`` draws Gaussian and Laplace noise as float64 NumPy arrays.

* ``secure=True``: :class:`pyprivml.random.SecureRandom` (ChaCha20 keystream; Box-Muller for
  the Gaussian, inverse CDF for the Laplace). Unseeded it is keyed from ``os.urandom``; a seed
  makes it reproducible and, as its docstring says, no longer secure.
* ``secure=False``: NumPy's PCG64 (fast). PCG64's state can be recovered from its output, so use
  it for experiments, not deployments.
* ``secure=None`` (the default): secure unless a ``seed`` asks for a reproducible run, in which
  case PCG64 with that seed. Noise that protects privacy is therefore cryptographic unless the
  caller opts out.

Noise for torch tensors is drawn here and moved to the tensor's device and dtype, so the NumPy
and torch paths of a mechanism give the same numbers for the same seed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NoiseSource", "as_noise_source"]


class NoiseSource:
    """Gaussian and Laplace samples from SecureRandom (``secure=True``) or PCG64 (``secure=False``);
    by default secure unless a reproducible ``seed`` is given.

    >>> NoiseSource(seed=1).normal(2.0, 3).shape
    (3,)
    >>> NoiseSource(secure=True, seed=1).laplace(1.0, (2, 2)).shape  # seeded: reproducible, not secure
    (2, 2)
    """

    def __init__(self, secure: bool | None = None, seed: int | None = None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        self.secure = seed is None if secure is None else bool(secure)
        self.seed = seed
        if self.secure:
            from ..random import SecureRandom

            self._gen = SecureRandom(seed=seed)
        else:
            self._gen = np.random.default_rng(seed)

    def normal(self, std: float, size) -> np.ndarray:
        """N(0, std^2) samples of the given size (float64)."""
        return np.asarray(self._gen.normal(0.0, float(std), size=size), dtype=np.float64)

    def laplace(self, scale: float, size=None):
        """Laplace(0, scale) samples, density exp(-|x|/scale) / (2 scale); a float for size=None."""
        out = np.asarray(self._gen.laplace(0.0, float(scale), size=1 if size is None else size), dtype=np.float64)
        return float(out.reshape(-1)[0]) if size is None else out

    def permutation(self, n: int) -> np.ndarray:
        """A uniformly random permutation of range(n) (for sampling coordinates in random order)."""
        if self.secure:
            return np.argsort(self._gen.uniform(size=n), kind="stable")
        return self._gen.permutation(n)

    def __repr__(self) -> str:
        return f"NoiseSource(secure={self.secure}, seed={self.seed})"


def as_noise_source(noise=None, secure: bool | None = None, seed: int | None = None) -> NoiseSource:
    """`noise` if it is a NoiseSource already, else a new one from (secure, seed)."""
    if noise is None:
        return NoiseSource(secure=secure, seed=seed)
    if not isinstance(noise, NoiseSource):
        raise TypeError(f"noise must be a pyprivml.dp.NoiseSource or None, got {type(noise).__name__}")
    return noise
