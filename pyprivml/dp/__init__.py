"""Differential privacy for gradients (seed 001, section III-D): small independent parts.

* :mod:`~pyprivml.dp.clipping`: per-sample L2 clipping g / max(1, ||g||/C), fused with the sum.
* :mod:`~pyprivml.dp.noise`: Gaussian/Laplace noise, fast (PCG64) or secure (``secure=True``).
* :mod:`~pyprivml.dp.gaussian`: Algorithm 2, clipped gradients plus Gaussian noise.
* :mod:`~pyprivml.dp.sparse_vector`: Algorithm 3, the sparse vector technique.
* :mod:`~pyprivml.dp.accounting`: (eps, delta) over many steps with dp-accounting.

Example
-------
>>> import numpy as np
>>> from pyprivml import dp
>>> G = np.random.default_rng(0).standard_normal((32, 1000))       # per-sample gradients
>>> mech = dp.ClippedGaussian(clip=1.0, epsilon=0.5, delta=1e-5, secure=True)
>>> g = mech(G)                                                     # Algorithm 2
>>> acc = dp.PrivacyAccountant("rdp")
>>> acc.add_gaussian(mech.noise_multiplier, steps=100, sampling_rate=32 / 10_000)
>>> bool(acc.epsilon(1e-5) > 0)
True
"""

from .accounting import PrivacyAccountant, gaussian_epsilon
from .clipping import clip_factors, clip_rows, clipped_sum
from .gaussian import ClippedGaussian, check_epsilon_delta, gaussian_sigma, noisy_clipped_mean
from .noise import NoiseSource
from .sparse_vector import SparseVector

__all__ = [
    "clip_factors", "clip_rows", "clipped_sum",
    "NoiseSource",
    "gaussian_sigma", "check_epsilon_delta", "ClippedGaussian", "noisy_clipped_mean",
    "SparseVector",
    "PrivacyAccountant", "gaussian_epsilon",
]
