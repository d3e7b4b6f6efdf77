"""scikit-learn style estimators for the MPC baselines (seed 004 sec. V).

``MPCLogisticRegression(protocol="bgw" | "bh08", N=...)`` trains with :func:`.training.train_mpc`
on N in-process workers (threads); the per-protocol classes in :mod:`.bgw` and :mod:`.bh08` fix
``protocol``. After ``fit``: ``coef_``, ``intercept_``, ``history_`` (weights per iteration) and
``result_`` (seconds per phase, traffic, groups, T).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from ...field import DEFAULT_PRIME
from .training import MPCConfig, train_mpc

__all__ = ["MPCLogisticRegression", "MPCLinearRegression"]


class _MPCBase(BaseEstimator):
    _task = "logistic"

    def __init__(self, protocol="bh08", N=10, T=None, iterations=50, lr=0.5, l_x=2, l_w=6,
                 degree=1, prime=DEFAULT_PRIME, fit_intercept=True, seed=None, launcher="inprocess"):
        self.protocol = protocol
        self.N = N
        self.T = T
        self.iterations = iterations
        self.lr = lr
        self.l_x = l_x
        self.l_w = l_w
        self.degree = degree
        self.prime = prime
        self.fit_intercept = fit_intercept
        self.seed = seed
        self.launcher = launcher

    def _design(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (samples x features), got shape {X.shape}")
        return np.hstack([X, np.ones((X.shape[0], 1))]) if self.fit_intercept else X

    def _config(self) -> MPCConfig:
        return MPCConfig(protocol=self.protocol, N=self.N, T=self.T, iterations=self.iterations,
                         lr=self.lr, l_x=self.l_x, l_w=self.l_w, degree=self.degree, task=self._task,
                         prime=self.prime, seed=self.seed)

    def _fit(self, X, y):
        Xd = self._design(X)
        self.result_ = train_mpc(Xd, y, self._config(), launcher=self.launcher)
        w = self.result_["weights"]
        self.coef_ = w[:-1] if self.fit_intercept else w
        self.intercept_ = float(w[-1]) if self.fit_intercept else 0.0
        self.history_ = self.result_["history"]
        self.n_features_in_ = Xd.shape[1] - int(self.fit_intercept)
        return self

    def decision_function(self, X):
        return np.asarray(X, dtype=np.float64) @ self.coef_ + self.intercept_


class MPCLogisticRegression(ClassifierMixin, _MPCBase):
    """Binary logistic regression trained by BGW or BH08 (labels: any two values)."""

    _task = "logistic"

    def fit(self, X, y):
        y = np.asarray(y).ravel()
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            raise ValueError(f"binary classification needs exactly two classes, got {self.classes_.tolist()}")
        return self._fit(X, (y == self.classes_[1]).astype(np.float64))

    def predict_proba(self, X):
        from ..sigmoid import sigmoid

        p = sigmoid(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class MPCLinearRegression(RegressorMixin, _MPCBase):
    """Least-squares linear regression trained by BGW or BH08 (s(z) = z in eq. 14)."""

    _task = "linear"

    def fit(self, X, y):
        return self._fit(X, np.asarray(y, dtype=np.float64).ravel())

    def predict(self, X):
        return self.decision_function(X)
