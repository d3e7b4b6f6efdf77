"""The sigmoid and its least-squares polynomial approximation (seed 004 eq. 13).

Lagrange coding computes polynomials only, so the workers replace s(z) = 1 / (1 + e^-z) by
s_hat(z) = sum_i c_i z^i, the degree-r polynomial closest to s in least squares on a grid of
``points`` equally spaced z in ``interval`` (seed 004 sec. III-C: "fitting the sigmoid function via
least squares estimation"; the seed does not give the interval).

We fit on [-5, 5] by default: the logits x . w of our scaled data sets stay mostly inside it
during 50 iterations, and on it the degree-1 fit s_hat(z) = 0.5 + 0.1312 z stays within 0.163 of
s. Because s(z) - 1/2 is odd, on any interval symmetric about 0 the fit's even coefficients
beyond c_0 vanish: degree 2 gives c_2 = 0 (up to rounding) and the same curve as degree 1, while
still costing the larger recovery threshold of eq. 21. Pass an asymmetric interval to get a
genuine quadratic term.

>>> c = fit_sigmoid(1)
>>> [round(float(v), 4) for v in c]
[0.5, 0.1312]
>>> float(fit_sigmoid(2)[2])
0.0
>>> round(float(polyval(c, 0.0)), 3)
0.5
"""

from __future__ import annotations

import numpy as np

__all__ = ["sigmoid", "fit_sigmoid", "polyval", "DEFAULT_INTERVAL", "log_loss"]

#: The interval the least-squares fit of eq. 13 covers unless told otherwise.
DEFAULT_INTERVAL = (-5.0, 5.0)


def sigmoid(z):
    """s(z) = 1 / (1 + exp(-z)), elementwise, without overflow for large |z|."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def fit_sigmoid(degree: int, interval=DEFAULT_INTERVAL, points: int = 2001) -> np.ndarray:
    """Coefficients c_0, ..., c_r (lowest degree first) of the least-squares fit of eq. (13)."""
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"the sigmoid approximation needs an integer degree r >= 1, got {degree!r}")
    lo, hi = (float(v) for v in interval)
    if not lo < hi:
        raise ValueError(f"the fit interval must be (lo, hi) with lo < hi, got {interval!r}")
    if points <= degree:
        raise ValueError(f"a degree-{degree} fit needs more than {degree} points, got {points}")
    z = np.linspace(lo, hi, int(points))
    # Fitted on the grid mapped to [-1, 1] (well conditioned), then converted to powers of z.
    coef = np.polynomial.Polynomial.fit(z, sigmoid(z), int(degree)).convert().coef
    # Coefficients that vanish in exact arithmetic (even ones on a symmetric interval) come out as
    # ~1e-17; left in, they would demand ~50 extra bits of coefficient scale (fixedpoint.auto_lc).
    coef[np.abs(coef) < 1e-12 * np.abs(coef).max()] = 0.0
    out = np.zeros(int(degree) + 1)
    out[:coef.size] = coef
    return out


def polyval(coefficients, z):
    """s_hat(z) = sum_i c_i z^i (eq. 13), elementwise (Horner)."""
    z = np.asarray(z, dtype=np.float64)
    out = np.zeros_like(z)
    for c in np.asarray(coefficients, dtype=np.float64)[::-1]:
        out = out * z + c
    return out


def log_loss(y, prob) -> float:
    """The cross entropy of eq. (1), with probabilities clipped away from 0 and 1."""
    prob = np.clip(np.asarray(prob, dtype=np.float64), 1e-12, 1 - 1e-12)
    y = np.asarray(y, dtype=np.float64)
    return float(np.mean(-y * np.log(prob) - (1 - y) * np.log(1 - prob)))
