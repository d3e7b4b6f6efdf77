"""The BH08 baseline of seed 004 (sec. V, appendix D): training and estimators.

Degree reduction: :class:`pyprivml.protocols.mpc.multiply.BH08Reducer`; training roles:
:mod:`pyprivml.protocols.mpc.training`.
"""

from __future__ import annotations

from .estimators import MPCLinearRegression, MPCLogisticRegression
from .training import MPCConfig, train_mpc

__all__ = ["train", "BH08LogisticRegression", "BH08LinearRegression"]


def train(X, y, **params) -> dict:
    """Train with BH08: ``params`` are :class:`MPCConfig`'s fields (N, T, iterations, lr, ...)
    plus ``launcher`` and ``network`` of :func:`train_mpc`."""
    run = {k: params.pop(k) for k in ("launcher", "network") if k in params}
    return train_mpc(X, y, MPCConfig(protocol="bh08", **params), **run)


class BH08LogisticRegression(MPCLogisticRegression):
    """Logistic regression trained with the BH08 protocol."""

    def __init__(self, N=10, T=None, iterations=50, lr=0.5, l_x=2, l_w=6, degree=1, prime=None,
                 fit_intercept=True, seed=None, launcher="inprocess"):
        super().__init__("bh08", N, T, iterations, lr, l_x, l_w, degree,
                         prime if prime is not None else MPCConfig.prime, fit_intercept, seed, launcher)


class BH08LinearRegression(MPCLinearRegression):
    """Linear regression trained with the BH08 protocol."""

    def __init__(self, N=10, T=None, iterations=50, lr=0.5, l_x=2, l_w=6, degree=1, prime=None,
                 fit_intercept=True, seed=None, launcher="inprocess"):
        super().__init__("bh08", N, T, iterations, lr, l_x, l_w, degree,
                         prime if prime is not None else MPCConfig.prime, fit_intercept, seed, launcher)
