"""Privacy enhancement and robustness of GAL (seed 003, §4.5, Tables 5 and 6).

The residuals Alice broadcasts say something about her labels. §4.5 perturbs them before they leave
her, "in hindsight" (Alice herself keeps the exact residuals for the weights and the line search):

- :class:`LaplaceResiduals` — differential privacy by the Laplace mechanism [39]. Each residual entry
  is clipped to [−c, c], so replacing one sample changes an entry by at most Δ = 2c, and released
  as ``clip(r) + Laplace(Δ/α)``; the seed uses α = ε = 1.
- :class:`IntervalResiduals` — interval privacy [40]. For each entry the releaser draws k random cut
  points uniformly in the public range [lo, hi] and reveals only the cell that holds the value; the
  organisation regresses on the cell's midpoint. The seed uses k = 1 (two cells).

And for robustness (Table 6), :func:`noisy_output` adds N(0, σ²) to what a noisy organisation sends,
during learning and prediction; learned weights are then compared with a plain average.

Laplace and Gaussian noise come from :class:`pyprivml.dp.NoiseSource`: its ChaCha20 CSPRNG when
no seed is given, a reproducible PCG64 stream when an experiment passes one. The interval cut points
come from a NumPy generator keyed from the operating system's CSPRNG unless a seed is given.

>>> import numpy as np
>>> r = np.linspace(-1, 1, 8).reshape(4, 2)
>>> out = IntervalResiduals(cuts=1, seed=0).apply(r)
>>> bool(np.all((out >= -1) & (out <= 1)))
True
"""

from __future__ import annotations


import numpy as np

from pyprivml.dp import NoiseSource


def noise_source(seed: int | None = None) -> NoiseSource:
    """Gaussian/Laplace noise: secure (ChaCha20) unless a reproducible ``seed`` is asked for."""
    return NoiseSource(secure=seed is None, seed=seed)


def noise_rng(seed: int | None = None):
    """Uniforms for privacy noise: ChaCha20 (SecureRandom), reproducible only when ``seed`` is given."""
    from pyprivml.random import SecureRandom

    return SecureRandom(seed=seed)


class LaplaceResiduals:
    """ε-DP release of each residual entry with the Laplace mechanism (Table 5, GAL_DP)."""

    name = "dp"

    def __init__(self, epsilon: float = 1.0, clip: float | None = None, seed: int | None = None):
        if not epsilon > 0:
            raise ValueError(f"the privacy parameter ε (α in the seed) must be > 0, got {epsilon}")
        if clip is not None and not clip > 0:
            raise ValueError(f"the clipping bound must be > 0, got {clip}")
        self.epsilon, self.clip = float(epsilon), clip
        self.noise = noise_source(seed)

    def apply(self, r: np.ndarray) -> np.ndarray:
        # Without a given bound Alice uses the round's largest |r|: for cross-entropy residuals that
        # is at most 1, the natural bound; for regression it is her own public choice of scale.
        c = self.clip if self.clip is not None else float(np.max(np.abs(r))) or 1.0
        sensitivity = 2.0 * c
        return np.clip(r, -c, c) + self.noise.laplace(sensitivity / self.epsilon, np.shape(r))


class IntervalResiduals:
    """Interval privacy with ``cuts`` random cut points per entry (Table 5, GAL_IP)."""

    name = "ip"

    def __init__(self, cuts: int = 1, seed: int | None = None):
        if int(cuts) < 1:
            raise ValueError(f"interval privacy needs at least one cut point, got {cuts}")
        self.cuts = int(cuts)
        self.rng = noise_rng(seed)

    def apply(self, r: np.ndarray) -> np.ndarray:
        r = np.asarray(r, dtype=np.float64)
        lo, hi = r.min(axis=0), r.max(axis=0)  # the public range, per output column
        u = lo + (hi - lo) * self.rng.uniform((self.cuts,) + r.shape)
        below = np.where(u < r, u, lo).max(axis=0)  # the cell's edges: nearest cut on each side
        above = np.where(u >= r, u, hi).min(axis=0)
        return 0.5 * (below + above)


def make_residual_privacy(name: str | None, **options):
    """A residual perturbation by name, ``options`` passed on (epsilon, clip, cuts, seed).

    ``None``/``'none'`` gives None (no perturbation).
    """
    if name in (None, "none"):
        return None
    if name == "dp":
        return LaplaceResiduals(**options)
    if name == "ip":
        return IntervalResiduals(**options)
    raise ValueError(f"unknown residual privacy {name!r}; valid: none, dp, ip")


def noisy_output(prediction: np.ndarray, sigma: float, noise: NoiseSource) -> np.ndarray:
    """What a noisy organisation sends: its prediction plus N(0, σ²) noise (Table 6)."""
    if sigma < 0:
        raise ValueError(f"σ must be >= 0, got {sigma}")
    return prediction + noise.normal(sigma, np.shape(prediction)) if sigma else prediction


def noisy_organisations(num_orgs: int, seed: int = 0) -> list[int]:
    """A random half of the organisations (Table 6: 'a randomly chosen half of the clients')."""
    rng = np.random.default_rng(seed)
    return sorted(int(m) for m in rng.choice(num_orgs, size=num_orgs // 2, replace=False))
