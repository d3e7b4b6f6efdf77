"""The BGW baseline of seed 004 (sec. V, appendix D): training and estimators.

Degree reduction: :class:`pyprivml.protocols.mpc.multiply.BGWReducer`; training roles:
:mod:`pyprivml.protocols.mpc.training`.
"""

from __future__ import annotations

from .estimators import MPCLinearRegression, MPCLogisticRegression
from .training import MPCConfig, train_mpc

__all__ = ["train", "BGWLogisticRegression", "BGWLinearRegression"]


def train(X, y, **params) -> dict:
    """Train with BGW: ``params`` are :class:`MPCConfig`'s fields (N, T, iterations, lr, ...)
    plus ``launcher`` and ``network`` of :func:`train_mpc`."""
    run = {k: params.pop(k) for k in ("launcher", "network") if k in params}
    return train_mpc(X, y, MPCConfig(protocol="bgw", **params), **run)


class BGWLogisticRegression(MPCLogisticRegression):
    """Logistic regression trained with the BGW protocol."""

    def __init__(self, N=10, T=None, iterations=50, lr=0.5, l_x=2, l_w=6, degree=1, prime=None,
                 fit_intercept=True, seed=None, launcher="inprocess"):
        super().__init__("bgw", N, T, iterations, lr, l_x, l_w, degree,
                         prime if prime is not None else MPCConfig.prime, fit_intercept, seed, launcher)


class BGWLinearRegression(MPCLinearRegression):
    """Linear regression trained with the BGW protocol."""

    def __init__(self, N=10, T=None, iterations=50, lr=0.5, l_x=2, l_w=6, degree=1, prime=None,
                 fit_intercept=True, seed=None, launcher="inprocess"):
        super().__init__("bgw", N, T, iterations, lr, l_x, l_w, degree,
                         prime if prime is not None else MPCConfig.prime, fit_intercept, seed, launcher)
