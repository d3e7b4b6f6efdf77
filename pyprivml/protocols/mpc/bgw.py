"""The BGW baseline of seed 004 (sec. V, appendix D): training and estimators.

Degree reduction: :class:`pyprivml.protocols.mpc.multiply.BGWReducer`; roles:
:mod:`pyprivml.protocols.mpc.training`.
"""

from __future__ import annotations

from . import training
from .estimators import protocol_estimators

__all__ = ["train", "BGWLogisticRegression", "BGWLinearRegression"]

train = training.trainer("bgw")
BGWLogisticRegression, BGWLinearRegression = protocol_estimators("bgw", __name__)
