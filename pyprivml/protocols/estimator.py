"""scikit-learn style linear models over any training routine, and the float baseline estimators.

A protocol's estimator is a :class:`ProtocolLinearModel` with the protocol's parameters and two
methods, ``config()`` (the validated protocol configuration) and ``_train(X, y, config)`` (a
run that returns a :class:`~pyprivml.protocols.regression.RegressionResult`, None on an MPI
worker rank); :class:`ClassifierMixin` or :class:`RegressorMixin` adds ``fit``, ``predict``
and ``score`` for the task. Under MPI every rank calls ``fit`` (the usual SPMD script); rank 0
ends with the weights, the worker ranks return once the master stops them (``coef_`` is None).

:class:`GradientDescentLogisticRegression` is seed 004's comparison: conventional logistic
regression, true sigmoid, no quantisation, the same learning rate and number of iterations.

>>> import numpy as np
>>> X = np.array([[0.0], [0.2], [0.8], [1.0]]); y = np.array([0, 0, 1, 1])
>>> GradientDescentLogisticRegression(max_iter=200, lr=5.0).fit(X, y).predict(X).tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .config import check_interval, is_int
from .inputs import binary_labels, check_steps, check_X, check_y, with_intercept
from .regression import gradient_descent, lipschitz_lr
from .sigmoid import sigmoid

__all__ = ["NotFittedError", "LinearModel", "ProtocolLinearModel", "ClassifierMixin", "RegressorMixin",
           "GradientDescentLogisticRegression", "GradientDescentLinearRegression", "check_common_params",
           "check_protocol_params"]


class NotFittedError(ValueError, AttributeError, RuntimeError):
    """Raised by predict, score and decision_function before ``fit`` (or on an MPI worker rank).

    It has the bases of ``sklearn.exceptions.NotFittedError`` (ValueError, AttributeError), so
    code written for scikit-learn catches it, without importing scikit-learn at startup.
    """


def check_common_params(est) -> None:
    """max_iter, lr and fit_intercept, shared by every estimator (checked in fit, as scikit-learn does)."""
    check_steps(est.max_iter, 1.0 if est.lr is None else est.lr)
    if not isinstance(est.fit_intercept, (bool, np.bool_)):
        raise ValueError(f"fit_intercept must be True or False, got {est.fit_intercept!r}")


def check_protocol_params(est, *, automatic: bool = False) -> None:
    """Parameters every protocol estimator of the task shares: workers, degree, scales, fit interval, seed.

    ``automatic``: lx and lw may be None too (the protocol's master chooses them)."""
    if not is_int(est.n_workers) or est.n_workers < 1:
        raise ValueError(f"n_workers must be a positive integer, got {est.n_workers!r}")
    if not is_int(est.degree) or est.degree < 1:
        raise ValueError(f"degree (r of eq. 13) must be an integer >= 1, got {est.degree!r}")
    for name in ("lx", "lw", "lc"):
        v = getattr(est, name)
        may_be_none = name == "lc" or automatic
        if v is None and may_be_none:
            continue
        if not is_int(v) or not 0 <= v <= 30:
            if name == "lc":
                raise ValueError(f"lc must be an integer in [0, 30] or None (automatic), got {v!r}")
            raise ValueError(f"{name} must be an integer in [0, 30], got {v!r}"
                             + (" (or None: chosen from the data)" if may_be_none else ""))
    check_interval("fit_interval", est.fit_interval)
    if est.random_state is not None and (not is_int(est.random_state) or est.random_state < 0):
        raise ValueError(f"random_state must be None or a non-negative integer, got {est.random_state!r}")


class LinearModel:
    """Weights w of a linear model, with intercept handling and scikit-learn's parameter protocol."""

    _param_names: tuple = ()

    def _check_fitted(self):
        if getattr(self, "coef_", None) is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted (or this is a worker rank of an MPI run): "
                                 f"call fit first and use the estimator on rank 0")

    def decision_function(self, X) -> np.ndarray:
        self._check_fitted()
        Xd = with_intercept(X, self.fit_intercept)
        if Xd.shape[1] != self._w.shape[0]:
            d = self._w.shape[0] - int(self.fit_intercept)
            raise ValueError(f"X has {Xd.shape[1] - int(self.fit_intercept)} features, but this "
                             f"{type(self).__name__} was fitted with {d}")
        return Xd @ self._w

    def get_params(self, deep: bool = True) -> dict:
        return {k: getattr(self, k) for k in self._param_names}

    def set_params(self, **params):
        for k, v in params.items():
            if k not in self._param_names:
                raise ValueError(f"unknown parameter {k!r}; valid: {', '.join(self._param_names)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._param_names)
        return f"{type(self).__name__}({args})"

    def _store(self, w):
        self._w = np.asarray(w, dtype=np.float64)
        if self.fit_intercept:
            self.coef_, self.intercept_ = self._w[:-1], float(self._w[-1])
        else:
            self.coef_, self.intercept_ = self._w, 0.0


class ProtocolLinearModel(LinearModel, ABC):
    """A linear model trained by a private protocol: ``config()`` and ``_train`` come from it."""

    @abstractmethod
    def config(self):
        """The protocol's validated configuration for the estimator's parameters."""

    @abstractmethod
    def _train(self, X, target, config):
        """Run the protocol on (X with intercept, target); returns its result (with ``.w``)."""

    def _fit(self, X, target):
        cfg = self.config()  # validates the parameters first
        Xd = with_intercept(X, self.fit_intercept)
        if cfg.lr is None:
            cfg = cfg.replace(lr=lipschitz_lr(Xd, self._task))
        self.lr_ = cfg.lr
        result = self._train(Xd, target, cfg)
        self.result_ = result
        if result is None:  # an MPI worker rank: it only computed private gradients
            self.coef_ = None
            return self
        self._store(result.w)
        self.history_ = result.history
        return self


class ClassifierMixin:
    """Binary logistic regression: labels of two classes, predictions by the sign of the logit."""

    _task = "logistic"

    def fit(self, X, y):
        X = check_X(X)
        self.classes_, y01 = binary_labels(y, X.shape[0])
        return self._fit(X, y01)

    def predict_proba(self, X) -> np.ndarray:
        """(n, 2) probabilities of the two classes, with the true sigmoid of the learnt logits."""
        p1 = sigmoid(self.decision_function(X))
        return np.column_stack([1 - p1, p1])

    def predict(self, X) -> np.ndarray:
        positive = self.decision_function(X) > 0  # first: it raises if the model is not fitted
        return self.classes_[positive.astype(int)]

    def score(self, X, y) -> float:
        """Mean accuracy."""
        pred = self.predict(X)
        return float(np.mean(pred == check_y(y, pred.shape[0], numeric=False)))


class RegressorMixin:
    """Linear regression: numeric targets, predictions are the linear model itself."""

    _task = "linear"

    def fit(self, X, y):
        X = check_X(X)
        return self._fit(X, check_y(y, X.shape[0], numeric=True))

    def predict(self, X) -> np.ndarray:
        return self.decision_function(X)

    def score(self, X, y) -> float:
        """Coefficient of determination R^2."""
        pred = self.predict(X)
        y = check_y(y, pred.shape[0], numeric=True)
        resid = float(np.sum((pred - y) ** 2))
        total = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - resid / total if total > 0 else 0.0


class _GradientDescent(LinearModel):
    _param_names = ("max_iter", "lr", "fit_intercept")

    def __init__(self, max_iter: int = 50, lr=None, fit_intercept: bool = True):
        self.max_iter, self.lr, self.fit_intercept = max_iter, lr, fit_intercept
        self.coef_ = None

    def _fit(self, X, target):
        check_common_params(self)
        Xd = with_intercept(X, self.fit_intercept)
        self.lr_ = self.lr if self.lr is not None else lipschitz_lr(Xd, self._task)
        w, self.history_ = gradient_descent(Xd, target, lr=self.lr_, max_iter=self.max_iter, task=self._task)
        self._store(w)
        return self


class GradientDescentLogisticRegression(ClassifierMixin, _GradientDescent):
    """The seed's baseline: logistic regression by full-batch gradient descent in float64 with the
    true sigmoid (eq. 2), w^(0) = 0, ``lr=None`` meaning 1/L as for CodedPrivateML."""


class GradientDescentLinearRegression(RegressorMixin, _GradientDescent):
    """Float64 full-batch gradient descent for least squares: the baseline of the linear estimator."""
