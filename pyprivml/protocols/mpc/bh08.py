"""The BH08 baseline of seed 004 (sec. V, appendix D): training and estimators.

Degree reduction: :class:`pyprivml.protocols.mpc.multiply.BH08Reducer`; roles:
:mod:`pyprivml.protocols.mpc.training`.
"""

from __future__ import annotations

from .estimators import MPCLinearRegression, MPCLogisticRegression
from .training import MPCConfig, run_mpc

__all__ = ["train", "BH08LogisticRegression", "BH08LinearRegression"]


def train(X, y, *, transport="auto", network=None, X_test=None, y_test=None, progress=None, **params):
    """Train with BH08; ``params`` are :class:`MPCConfig`'s fields (n_workers, T, max_iter, lr, ...)."""
    return run_mpc(X, y, MPCConfig(protocol="bh08", **params), transport=transport, network=network,
                   X_test=X_test, y_test=y_test, progress=progress)


class BH08LogisticRegression(MPCLogisticRegression):
    """Logistic regression trained with the BH08 protocol (parameters as :class:`MPCLogisticRegression`)."""

    def __init__(self, n_workers: int = 10, **kwargs):
        super().__init__("bh08", n_workers, **kwargs)


class BH08LinearRegression(MPCLinearRegression):
    """Linear regression trained with the BH08 protocol."""

    def __init__(self, n_workers: int = 10, **kwargs):
        super().__init__("bh08", n_workers, **kwargs)
