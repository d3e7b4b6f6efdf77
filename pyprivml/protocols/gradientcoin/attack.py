"""The attacker race of the Bitcoin whitepaper §11 (seed 002 appendix B builds on it): an attacker
with a share q of the hash power tries to replace the last z blocks (say, to undo a payment the
merchant accepted after z confirmations) by mining a longer branch in private.

* :func:`attacker_success_probability` is the whitepaper's formula: while the honest network
  finds its z blocks the attacker finds k ~ Poisson(λ = z q / p) of its own, and from z − k
  blocks behind it catches up with probability (q / p)^(z − k) (the gambler's ruin), so

      P = 1 − Σ_{k=0}^{z} e^{−λ} λ^k / k! · (1 − (q/p)^(z − k)).

* :func:`simulate_attacker_race` plays the race block by block with a seeded generator: each next
  block is the attacker's with probability q; the attacker starts with the merchant's payment
  block, and wins when its branch catches up with the honest one (the paper's success event:
  equal length, from which it out-grows the honest branch with probability 1 in the paper's
  model) at any time after the honest branch has z confirmations; it gives up when it falls
  ``give_up`` blocks behind (a finite stand-in for "never"; the error is at most (q/p)^give_up).
  The only modelling difference from the formula: while the honest network finds its z blocks
  the simulated attacker's count is negative binomial (the exact race), where the paper
  approximates it by a Poisson of the same mean. From z = 2 on the simulated probabilities are
  therefore higher than the paper's (at z = 1 slightly lower), as Rosenfeld (2014) and Grunspan
  and Pérez-Marco (2017) showed analytically.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["attacker_success_probability", "simulate_attacker_race", "WHITEPAPER_TABLE"]

#: The whitepaper's own table (§11): {q: {z: P}}.
WHITEPAPER_TABLE = {
    0.1: {0: 1.0, 1: 0.2045873, 2: 0.0509779, 3: 0.0131722, 4: 0.0034552, 5: 0.0009137, 6: 0.0002428,
          7: 0.0000647, 8: 0.0000173, 9: 0.0000046, 10: 0.0000012},
    0.3: {0: 1.0, 5: 0.1773523, 10: 0.0416605, 15: 0.0101008, 20: 0.0024804, 25: 0.0006132, 30: 0.0001522,
          35: 0.0000379, 40: 0.0000095, 45: 0.0000024, 50: 0.0000006},
}


def _check(q, z):
    if not 0 <= q < 1:
        raise ValueError(f"the attacker's hash share q must lie in [0, 1), got {q}")
    if isinstance(z, bool) or int(z) != z or z < 0:
        raise ValueError(f"z (confirmations) must be a non-negative integer, got {z!r}")
    return float(q), int(z)


def attacker_success_probability(q: float, z: int, *, model: str = "poisson") -> float:
    """The probability that an attacker with hash share q ever catches up after z confirmations.

    ``model="poisson"``: the whitepaper's formula (its table to all 7 printed digits);
    ``model="negative-binomial"``: the exact race, the attacker's blocks during the z honest
    ones counted as NB(z, p): P = 1 − Σ_{k≤z} C(k+z−1, k) p^z q^k (1 − (q/p)^(z−k))."""
    q, z = _check(q, z)
    if model not in ("poisson", "negative-binomial"):
        raise ValueError(f"model must be 'poisson' or 'negative-binomial', got {model!r}")
    p = 1.0 - q
    if q >= p:
        return 1.0
    if z == 0:
        return 1.0
    total = 1.0
    if model == "poisson":
        lam = z * q / p
        weight = math.exp(-lam)
        for k in range(z + 1):
            if k > 0:
                weight *= lam / k
            total -= weight * (1 - (q / p) ** (z - k))
    else:
        for k in range(z + 1):
            total -= math.comb(k + z - 1, k) * p ** z * q ** k * (1 - (q / p) ** (z - k))
    return max(total, 0.0)


def simulate_attacker_race(q: float, z: int, trials: int = 100_000, *, seed=0, give_up: int = 60) -> float:
    """The fraction of ``trials`` seeded races the attacker wins (vectorised over trials)."""
    q, z = _check(q, z)
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    rng = np.random.default_rng(seed)
    # Phase 1: blocks until the honest branch has z blocks after the payment; the attacker's blocks
    # meanwhile are negative binomial (failures before z successes, success = an honest block).
    attacker = rng.negative_binomial(z, 1 - q, size=trials) if z > 0 else np.zeros(trials, dtype=np.int64)
    lead = attacker - z                     # attacker blocks minus honest blocks
    won = lead >= 0
    # Phase 2: the random walk from there, +1 with probability q, until lead >= 0 or lead <= -give_up
    live = ~won & (lead > -give_up)
    while live.any():
        step = np.where(rng.random(live.sum()) < q, 1, -1)
        lead[live] += step
        won[live] |= lead[live] >= 0
        live = ~won & (lead > -give_up)
    return float(won.mean())
