"""Privacy accounting over many steps with Google's dp-accounting (no hand-written composition).

:class:`PrivacyAccountant` records what a training run did and reports (eps, delta):

* ``add_gaussian(z, steps, sampling_rate)``: steps of Algorithm 2 (seed 001) with noise
  multiplier z = sigma / C, optionally on Poisson-subsampled batches (rate q = B / N);
* ``add_laplace(b, count)``: Laplace mechanisms with scale/sensitivity b;
* ``add_sparse_vector(svt, runs)``: runs of Algorithm 3, each (eps, delta)-DP (Dwork and Roth,
  NumericSparse), composed optimally as generic (eps, delta) mechanisms.

``method="rdp"`` uses ``dp_accounting.rdp.RdpAccountant`` on DpEvents (Gaussian, subsampled
Gaussian, Laplace). ``method="pld"`` composes privacy loss distributions from
``dp_accounting.pld`` (the same PLDs ``PLDAccountant`` builds, plus ``from_privacy_parameters``
for the sparse vector runs, which RDP cannot express); it is tighter and slower.

>>> acc = PrivacyAccountant("rdp")
>>> acc.add_gaussian(noise_multiplier=1.1, steps=100, sampling_rate=0.01)
>>> 0 < acc.epsilon(1e-5) < 2
True
"""

from __future__ import annotations

import math

__all__ = ["PrivacyAccountant", "gaussian_epsilon"]


def _positive(value, name, allow_zero=False):
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


class PrivacyAccountant:
    """Accumulates mechanisms and converts to (eps, delta) with dp-accounting."""

    def __init__(self, method: str = "rdp", value_discretization_interval: float = 1e-3):
        if method not in ("rdp", "pld"):
            raise ValueError(f"method must be 'rdp' or 'pld', got {method!r}")
        self.method = method
        self.value_discretization_interval = _positive(value_discretization_interval, "value_discretization_interval")
        self.events = []  # (description, DpEvent or None, count) in the order added
        self._rdp = None
        self._pld = None
        if method == "rdp":
            from dp_accounting.rdp import RdpAccountant

            self._rdp = RdpAccountant()

    def _compose_pld(self, pld):
        self._pld = pld if self._pld is None else self._pld.compose(pld)

    def add_gaussian(self, noise_multiplier: float, steps: int = 1, sampling_rate: float = 1.0) -> None:
        """`steps` Gaussian mechanisms with noise multiplier z (sigma / sensitivity), each on a
        Poisson sample of rate `sampling_rate` of the data (1.0: the whole batch every step)."""
        import dp_accounting

        z = _positive(noise_multiplier, "noise_multiplier")
        steps = _count(steps, "steps")
        q = float(sampling_rate)
        if not 0 < q <= 1:
            raise ValueError(f"sampling_rate must lie in (0, 1], got {sampling_rate!r}")
        event = dp_accounting.GaussianDpEvent(z)
        if q < 1:
            event = dp_accounting.PoissonSampledDpEvent(q, event)
        self.events.append(("gaussian", event, steps))
        if steps == 0:
            return
        if self._rdp is not None:
            self._rdp.compose(event, steps)
        else:
            from dp_accounting.pld import privacy_loss_distribution as pld

            self._compose_pld(pld.from_gaussian_mechanism(
                standard_deviation=z, sampling_prob=q,
                value_discretization_interval=self.value_discretization_interval).self_compose(steps))

    def add_laplace(self, noise_multiplier: float, count: int = 1) -> None:
        """`count` Laplace mechanisms with scale / sensitivity = `noise_multiplier`."""
        import dp_accounting

        b = _positive(noise_multiplier, "noise_multiplier")
        count = _count(count, "count")
        event = dp_accounting.LaplaceDpEvent(b)
        self.events.append(("laplace", event, count))
        if count == 0:
            return
        if self._rdp is not None:
            self._rdp.compose(event, count)
        else:
            from dp_accounting.pld import privacy_loss_distribution as pld

            self._compose_pld(pld.from_laplace_mechanism(
                parameter=b, value_discretization_interval=self.value_discretization_interval).self_compose(count))

    def add_approx_dp(self, epsilon: float, delta: float, count: int = 1) -> None:
        """`count` mechanisms known only to be (eps, delta)-DP (PLD method only)."""
        from .gaussian import check_epsilon_delta

        eps, dlt = check_epsilon_delta(epsilon, delta)
        count = _count(count, "count")
        if self._rdp is not None:
            raise ValueError(
                "a mechanism known only as (eps, delta)-DP (such as a sparse vector run) has no RDP curve; "
                "use PrivacyAccountant(method='pld')"
            )
        self.events.append((f"({eps}, {dlt})-DP", None, count))
        if count == 0:
            return
        from dp_accounting.pld import common, privacy_loss_distribution as pld

        self._compose_pld(pld.from_privacy_parameters(
            common.DifferentialPrivacyParameters(eps, dlt),
            value_discretization_interval=self.value_discretization_interval).self_compose(count))

    def add_sparse_vector(self, svt, runs: int = 1) -> None:
        """`runs` runs of Algorithm 3 with the parameters of the :class:`SparseVector` `svt`."""
        self.add_approx_dp(svt.epsilon, svt.delta, runs)

    def epsilon(self, delta: float) -> float:
        """The smallest eps with (eps, delta)-DP for everything added so far."""
        dlt = float(delta)
        if not 0 < dlt < 1:
            raise ValueError(f"delta must lie in the open interval (0, 1), got {delta!r}")
        if self._rdp is not None:
            return float(self._rdp.get_epsilon(dlt))
        return 0.0 if self._pld is None else float(self._pld.get_epsilon_for_delta(dlt))

    def delta(self, epsilon: float) -> float:
        """The smallest delta with (eps, delta)-DP for everything added so far."""
        eps = _positive(epsilon, "epsilon", allow_zero=True)
        if self._rdp is not None:
            return float(self._rdp.get_delta(eps))
        return 0.0 if self._pld is None else float(self._pld.get_delta_for_epsilon(eps))

    def __repr__(self) -> str:
        parts = ", ".join(f"{name} x{count}" for name, _, count in self.events) or "nothing"
        return f"PrivacyAccountant(method={self.method!r}: {parts})"


def gaussian_epsilon(noise_multiplier: float, steps: int, delta: float, sampling_rate: float = 1.0,
                     method: str = "rdp") -> float:
    """eps after `steps` (subsampled) Gaussian steps at the given delta.

    >>> gaussian_epsilon(1.0, 10, 1e-5) < gaussian_epsilon(1.0, 20, 1e-5)
    True
    """
    acc = PrivacyAccountant(method)
    acc.add_gaussian(noise_multiplier, steps, sampling_rate)
    return acc.epsilon(delta)
