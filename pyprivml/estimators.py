"""scikit-learn style estimators, gathered in one place: CodedPrivateML and the float baseline.

The estimators live beside their protocols (:mod:`pyprivml.protocols.codedprivateml.estimators`,
:mod:`pyprivml.protocols.mpc.estimators`, the shared base :mod:`pyprivml.protocols.estimator`);
this module is the façade ``pp.CodedPrivateLogisticRegression`` and friends come from.

>>> from pyprivml.data import load_digits49
>>> ds = load_digits49()
>>> clf = CodedPrivateLogisticRegression(n_workers=6, case=1, max_iter=20, random_state=0,
...                                      transport="inprocess", fit_intercept=False)
>>> clf.fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test) > 0.95
True
>>> base = GradientDescentLogisticRegression(max_iter=20, lr=clf.lr_, fit_intercept=False)
>>> base.fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test) > 0.95
True
"""

from __future__ import annotations

from .protocols.codedprivateml.estimators import CodedPrivateLinearRegression, CodedPrivateLogisticRegression
from .protocols.estimator import GradientDescentLinearRegression, GradientDescentLogisticRegression, NotFittedError
from .protocols.regression import gradient_descent

__all__ = ["CodedPrivateLogisticRegression", "CodedPrivateLinearRegression", "NotFittedError",
           "GradientDescentLogisticRegression", "GradientDescentLinearRegression", "gradient_descent"]
