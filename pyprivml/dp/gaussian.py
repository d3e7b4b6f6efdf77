"""Algorithm 2 of seed 001: differentially private g(x) by clipping and additive Gaussian noise.

    g(x) <- (1/B) ( sum_{l in batch} clip(grad L(x, l)) + N(0, sigma^2 I) ),
    clip(v) = v / max(1, ||v||_2 / gamma_1),   sigma(eps) = gamma_1 sqrt(2 ln(1.25/delta)) / eps.

Notes on the seed's text (converted from PDF, partly garbled):

* It prints clip(x) = eps / max{1, ||x||_2 / eps}; the prose just above defines norm clipping as
  g / max(1, ||g||_2 / gamma_1) with gamma_1 the clipping threshold, which is what is used here.
* It writes N(0, sigma(eps) I); sigma(eps) is the classical Gaussian-mechanism calibration of
  Dwork and Roth (Theorem A.1) for L2 sensitivity gamma_1, where sigma is the standard deviation,
  so the noise is N(0, sigma^2 I). "log" is the natural logarithm there.
* Sensitivity: adding or removing one sample changes the sum of clipped gradients by a vector of
  norm at most gamma_1 = C. Dividing by the public batch size B is post-processing.
* Dwork and Roth prove the classical calibration for eps < 1; the seed uses eps up to 1, and the
  tests check against dp-accounting's exact (analytic) calibration that it still suffices at
  eps = 1. Larger eps raises; ``calibration="analytic"`` (Balle and Wang 2018, computed by
  ``dp_accounting.get_sigma_gaussian``) is valid for every eps > 0 and gives less noise.
"""

from __future__ import annotations

import math

from .clipping import _is_torch, check_clip, check_gradients, clipped_sum
from .noise import NoiseSource, as_noise_source

__all__ = ["check_epsilon_delta", "gaussian_sigma", "ClippedGaussian", "noisy_clipped_mean"]


def check_epsilon_delta(epsilon, delta):
    """Validate (eps, delta): eps a finite number > 0, delta in the open interval (0, 1)."""
    try:
        eps, dlt = float(epsilon), float(delta)
    except (TypeError, ValueError):
        raise TypeError(f"epsilon and delta must be real numbers, got {epsilon!r}, {delta!r}") from None
    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"epsilon must be finite and > 0, got {epsilon!r}")
    if not 0 < dlt < 1:
        raise ValueError(f"delta must lie in the open interval (0, 1), got {delta!r}")
    return eps, dlt


def gaussian_sigma(epsilon, delta, sensitivity=1.0, calibration: str = "classical") -> float:
    """Noise standard deviation for (eps, delta)-DP of a query with L2 sensitivity `sensitivity`.

    ``"classical"``: sensitivity * sqrt(2 ln(1.25/delta)) / eps, sigma(eps) of Algorithm 2 of
    seed 001 (eps <= 1). ``"analytic"``: the smallest sigma, from dp-accounting (any eps > 0).

    >>> round(gaussian_sigma(0.5, 1e-3, sensitivity=0.01), 6)
    0.07553
    """
    eps, dlt = check_epsilon_delta(epsilon, delta)
    sens = check_clip(sensitivity)
    if calibration == "classical":
        if eps > 1:
            raise ValueError(
                f"the classical calibration sqrt(2 ln(1.25/delta))/eps of Algorithm 2 holds for eps <= 1, "
                f"got eps = {eps}; use calibration='analytic' for larger eps"
            )
        return sens * math.sqrt(2.0 * math.log(1.25 / dlt)) / eps
    if calibration == "analytic":
        import dp_accounting

        return sens * float(dp_accounting.get_sigma_gaussian(eps, dlt))
    raise ValueError(f"calibration must be 'classical' or 'analytic', got {calibration!r}")


class ClippedGaussian:
    """The mechanism of Algorithm 2 (seed 001): clip each sample's gradient to norm C, sum, add
    N(0, sigma^2 I), divide by the batch size.

    Give (epsilon, delta) to calibrate sigma as the seed does, or ``noise_multiplier`` z for
    sigma = z C directly (as DP-SGD accountants count). The noise comes from
    :class:`pyprivml.random.SecureRandom` unless a ``seed`` asks for a reproducible run (then
    NumPy's PCG64, or a seeded, no longer secure ChaCha20 stream with ``secure=True``);
    ``secure=False`` opts out of the secure source.

    >>> import numpy as np
    >>> mech = ClippedGaussian(clip=1.0, epsilon=0.5, delta=1e-5, seed=0)
    >>> round(mech.noise_multiplier, 4)
    9.6896
    >>> G = np.ones((4, 3))
    >>> mech(G, noise=False)  # the clipped mean: each row scaled to norm 1
    array([0.57735027, 0.57735027, 0.57735027])
    """

    def __init__(self, clip, epsilon=None, delta=None, *, noise_multiplier=None,
                 calibration: str = "classical", secure: bool | None = None, seed=None, noise: NoiseSource | None = None):
        self.clip = check_clip(clip)
        if noise_multiplier is not None:
            if epsilon is not None or delta is not None:
                raise ValueError("give either (epsilon, delta) or noise_multiplier, not both")
            z = float(noise_multiplier)
            if not (z >= 0 and math.isfinite(z)):
                raise ValueError(f"noise_multiplier must be finite and >= 0, got {noise_multiplier!r}")
            self.epsilon = self.delta = None
            self.sigma = z * self.clip
        else:
            if epsilon is None or delta is None:
                raise ValueError("ClippedGaussian needs (epsilon, delta) or noise_multiplier")
            self.epsilon, self.delta = check_epsilon_delta(epsilon, delta)
            self.sigma = gaussian_sigma(self.epsilon, self.delta, self.clip, calibration)
        self.calibration = calibration
        self.noise_source = as_noise_source(noise, secure=secure, seed=seed)

    @property
    def noise_multiplier(self) -> float:
        """sigma / C: the noise in units of the sensitivity, what accountants take."""
        return self.sigma / self.clip

    def dp_event(self, sampling_rate: float | None = None):
        """The dp-accounting event of one step (Poisson-subsampled when `sampling_rate` is given)."""
        import dp_accounting

        event = dp_accounting.GaussianDpEvent(self.noise_multiplier)
        if sampling_rate is None:
            return event
        return dp_accounting.PoissonSampledDpEvent(float(sampling_rate), event)

    def noisy_sum(self, G, noise: bool = True):
        """sum_i clip(g_i) + N(0, sigma^2 I), for G of shape (batch, params)."""
        G = check_gradients(G)
        total = clipped_sum(G, self.clip)
        if not noise or self.sigma == 0:
            return total
        z = self.noise_source.normal(self.sigma, G.shape[1])
        if _is_torch(G):
            import torch

            return total + torch.as_tensor(z, dtype=total.dtype, device=total.device)
        return total + z.astype(total.dtype, copy=False)

    def __call__(self, G, noise: bool = True):
        """g(x) of Algorithm 2: the noisy sum divided by the batch size B = G.shape[0]."""
        G = check_gradients(G)
        return self.noisy_sum(G, noise=noise) / G.shape[0]

    def __repr__(self) -> str:
        return (f"ClippedGaussian(clip={self.clip}, epsilon={self.epsilon}, delta={self.delta}, "
                f"sigma={self.sigma:.6g}, secure={self.noise_source.secure})")


def noisy_clipped_mean(G, clip, epsilon, delta, *, calibration="classical", secure=None, seed=None):
    """One-shot Algorithm 2: (sum_i clip(g_i) + N(0, sigma(eps)^2 I)) / B.

    >>> import numpy as np
    >>> noisy_clipped_mean(np.zeros((2, 3)), 1.0, 0.5, 1e-5, seed=0).shape
    (3,)
    """
    return ClippedGaussian(clip, epsilon, delta, calibration=calibration, secure=secure, seed=seed)(G)

