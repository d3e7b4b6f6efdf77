"""The BGW baseline of seed 004 (sec. V, appendix D): training and estimators.

Degree reduction: :class:`pyprivml.protocols.mpc.multiply.BGWReducer`; roles:
:mod:`pyprivml.protocols.mpc.training`.
"""

from __future__ import annotations

from .estimators import MPCLinearRegression, MPCLogisticRegression
from .training import MPCConfig, run_mpc

__all__ = ["train", "BGWLogisticRegression", "BGWLinearRegression"]


def train(X, y, *, transport="auto", network=None, X_test=None, y_test=None, progress=None, **params):
    """Train with BGW; ``params`` are :class:`MPCConfig`'s fields (n_workers, T, max_iter, lr, ...)."""
    return run_mpc(X, y, MPCConfig(protocol="bgw", **params), transport=transport, network=network,
                   X_test=X_test, y_test=y_test, progress=progress)


class BGWLogisticRegression(MPCLogisticRegression):
    """Logistic regression trained with the BGW protocol (parameters as :class:`MPCLogisticRegression`)."""

    def __init__(self, n_workers: int = 10, **kwargs):
        super().__init__("bgw", n_workers, **kwargs)


class BGWLinearRegression(MPCLinearRegression):
    """Linear regression trained with the BGW protocol."""

    def __init__(self, n_workers: int = 10, **kwargs):
        super().__init__("bgw", n_workers, **kwargs)
