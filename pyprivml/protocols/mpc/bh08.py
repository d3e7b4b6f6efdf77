"""The BH08 baseline of seed 004 (sec. V, appendix D): training and estimators.

Degree reduction: :class:`pyprivml.protocols.mpc.multiply.BH08Reducer`; roles:
:mod:`pyprivml.protocols.mpc.training`.
"""

from __future__ import annotations

from . import training
from .estimators import protocol_estimators

__all__ = ["train", "BH08LogisticRegression", "BH08LinearRegression"]

train = training.trainer("bh08")
BH08LogisticRegression, BH08LinearRegression = protocol_estimators("bh08", __name__)
