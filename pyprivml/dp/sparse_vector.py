"""Algorithm 3 of seed 001: differentially private g(x) by the sparse vector technique.

    eps_1 = sqrt(512) / (sqrt(512) + 1) eps,  eps_2 = 2 / (sqrt(512) + 1) eps,
    sigma(e) = sqrt(32 c ln(2/delta)) / e,     c = gamma_4 (the count limit),
    gamma_5 = gamma_3 + Lap(sigma(eps_1)),     count = 0,    clip(v) = v / max(1, |v| / gamma_2),
    repeat: sample a coordinate tmp_i of the averaged gradient;
            if clip(tmp_i) + Lap(2 sigma(eps_1)) >= gamma_5:
                g_i = clip(tmp_i + Lap(sigma(eps_2)));  gamma_5 = gamma_3 + Lap(sigma(eps_1));
                count = count + 1
    until count >= gamma_4.

This is NumericSparse of Dwork and Roth (Algorithm 3 in section 3.6 of "The Algorithmic
Foundations of Differential Privacy"), (eps, delta)-DP for queries of sensitivity 1. Notes on
the seed's text: it prints eps_1 = sqrt(512)/sqrt(512+1) eps, which is the PDF conversion's
rendering of sqrt(512)/(sqrt(512)+1) eps: only then is eps_1 + eps_2 / 2 = eps, the budget split
of the proof (the numeric answers cost eps_2 / 2 by advanced composition). Its clip prints eps
where the clipping threshold gamma_2 belongs, as in Algorithm 2.

Two documented extensions, both off by default so the default is the seed's algorithm:
``sensitivity`` multiplies every Laplace scale (the seed's scales assume sensitivity 1; for
clipped averages over a batch of B pass 2 gamma_2 / B), and ``absolute=True`` compares
|clip(tmp_i)| with the threshold so that large negative gradients are selected too (Shokri and
Shmatikov's selective SGD). Coordinates are sampled without replacement, so a run ends after
visiting every coordinate even if fewer than gamma_4 pass.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .clipping import _is_torch, check_clip
from .gaussian import check_epsilon_delta
from .noise import NoiseSource, as_noise_source

__all__ = ["SparseVector"]

_SQRT512 = math.sqrt(512.0)


@njit(cache=True)
def _scan(values, query_noise, threshold_noise, gamma3, limit):
    """Positions t (in visiting order) with values[t] + query_noise[t] >= the current noisy
    threshold; the threshold is redrawn after each one; stop after `limit`. Returns
    (positions, final noisy threshold)."""
    picked = np.empty(limit, dtype=np.int64)
    k = 0
    threshold = gamma3 + threshold_noise[0]
    for t in range(values.shape[0]):
        if values[t] + query_noise[t] >= threshold:
            picked[k] = t
            k += 1
            threshold = gamma3 + threshold_noise[k]
            if k >= limit:
                break
    return picked[:k], threshold


class SparseVector:
    """The sparse vector technique of Algorithm 3 (seed 001) as a small stateful mechanism.

    Parameters: ``epsilon``, ``delta`` (the run's privacy), ``count_limit`` gamma_4 (c),
    ``threshold`` gamma_3, ``clip`` gamma_2; ``sensitivity`` and ``absolute`` as in the module
    notes; noise from SecureRandom unless ``seed`` asks for a reproducible run or
    ``secure=False`` opts out (see :class:`pyprivml.dp.NoiseSource`).

    Use :meth:`select` for one whole run over a gradient vector, or :meth:`reset` and then
    :meth:`query` one value at a time (it returns the released value or None, and raises once
    ``count_limit`` answers were positive).

    >>> import numpy as np
    >>> svt = SparseVector(epsilon=1e9, delta=1e-3, count_limit=2, threshold=0.5, clip=1.0, seed=0)
    >>> g, idx = svt.select(np.array([0.1, 0.9, 0.2, 0.8, 0.3]))  # noise ~ 0 at this epsilon
    >>> sorted(idx.tolist()), svt.count
    ([1, 3], 2)
    """

    def __init__(self, epsilon, delta, count_limit: int, threshold: float, clip: float, *,
                 sensitivity: float = 1.0, absolute: bool = False, secure: bool | None = None, seed=None,
                 noise: NoiseSource | None = None):
        self.epsilon, self.delta = check_epsilon_delta(epsilon, delta)
        if isinstance(count_limit, bool) or not isinstance(count_limit, (int, np.integer)) or count_limit < 1:
            raise ValueError(f"count_limit (gamma_4) must be a positive integer, got {count_limit!r}")
        self.count_limit = int(count_limit)
        self.threshold = float(threshold)
        if not math.isfinite(self.threshold):
            raise ValueError(f"threshold (gamma_3) must be finite, got {threshold!r}")
        self.clip = check_clip(clip)
        self.sensitivity = check_clip(sensitivity)
        self.absolute = bool(absolute)
        self.noise = as_noise_source(noise, secure=secure, seed=seed)
        self.eps1 = _SQRT512 / (_SQRT512 + 1.0) * self.epsilon
        self.eps2 = 2.0 / (_SQRT512 + 1.0) * self.epsilon
        self.threshold_scale = self.sensitivity * self.sigma(self.eps1)
        self.query_scale = 2.0 * self.threshold_scale
        self.release_scale = self.sensitivity * self.sigma(self.eps2)
        self.reset()

    def sigma(self, e: float) -> float:
        """sigma(e) = sqrt(32 c ln(2/delta)) / e of Algorithm 3 (c = count_limit)."""
        return math.sqrt(32.0 * self.count_limit * math.log(2.0 / self.delta)) / e

    def clip_value(self, v):
        """clip(v) = v / max(1, |v| / gamma_2), elementwise."""
        v = np.asarray(v, dtype=np.float64)
        return v / np.maximum(1.0, np.abs(v) / self.clip)

    # ---- streaming interface -----------------------------------------------------------------
    def reset(self) -> None:
        """Start a run: count = 0 and a fresh noisy threshold gamma_5 = gamma_3 + Lap(sigma(eps_1))."""
        self.count = 0
        self.noisy_threshold = self.threshold + self.noise.laplace(self.threshold_scale)

    @property
    def exhausted(self) -> bool:
        return self.count >= self.count_limit

    def query(self, value: float):
        """One step of the loop: the released clip(value + Lap(sigma(eps_2))) if the noisy test
        passes (then the threshold is refreshed and count grows), else None."""
        if self.exhausted:
            raise RuntimeError(
                f"the sparse vector run already answered {self.count_limit} queries positively "
                f"(count_limit); call reset() to start a new run (and account for it)"
            )
        v = float(self.clip_value(value))
        test = abs(v) if self.absolute else v
        if test + self.noise.laplace(self.query_scale) < self.noisy_threshold:
            return None
        released = float(self.clip_value(float(value) + self.noise.laplace(self.release_scale)))
        self.noisy_threshold = self.threshold + self.noise.laplace(self.threshold_scale)
        self.count += 1
        return released

    # ---- one whole run over a vector -----------------------------------------------------------
    def select(self, tmp, order=None):
        """One run of Algorithm 3 over the averaged gradient `tmp` (a vector, NumPy or torch).

        Visits coordinates in a uniformly random order (or in `order`, a permutation of the
        coordinates, if given) until count_limit are selected (or all are visited). Returns ``(g, indices)``: g is zero except at the selected coordinates,
        which hold clip(tmp_i + Lap(sigma(eps_2))); indices in selection order.
        """
        torch_like = tmp if _is_torch(tmp) else None
        values = (tmp.detach().cpu().numpy() if torch_like is not None else np.asarray(tmp)).astype(np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"select needs a non-empty gradient vector of shape (params,), got shape {values.shape}")
        if not np.isfinite(values).all():
            raise ValueError("the averaged gradient contains NaN or infinity")
        if order is None:
            order = self.noise.permutation(values.size)
        else:
            order = np.asarray(order, dtype=np.int64)
            if order.shape != values.shape or not np.array_equal(np.sort(order), np.arange(values.size)):
                raise ValueError(f"order must be a permutation of range({values.size})")
        tested = self.clip_value(values[order])
        if self.absolute:
            tested = np.abs(tested)
        query_noise = self.noise.laplace(self.query_scale, values.size)
        threshold_noise = self.noise.laplace(self.threshold_scale, self.count_limit + 1)
        positions, self.noisy_threshold = _scan(tested, query_noise, threshold_noise, self.threshold,
                                                self.count_limit)
        self.count = int(positions.size)
        indices = order[positions]
        g = np.zeros_like(values)
        g[indices] = self.clip_value(values[indices] + self.noise.laplace(self.release_scale, indices.size))
        if torch_like is not None:
            import torch

            g = torch.as_tensor(g, dtype=torch_like.dtype if torch_like.is_floating_point() else torch.float64,
                                device=torch_like.device)
        return g, indices

    def __repr__(self) -> str:
        return (f"SparseVector(epsilon={self.epsilon}, delta={self.delta}, count_limit={self.count_limit}, "
                f"threshold={self.threshold}, clip={self.clip}, sensitivity={self.sensitivity})")
