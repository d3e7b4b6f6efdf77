"""scikit-learn style estimators: CodedPrivateML logistic and linear regression, and the float baseline.

``CodedPrivateLogisticRegression(n_workers=...).fit(X, y)`` trains with the master and N workers
of seed 004's Algorithm 1 (:mod:`pyprivml.protocols.codedprivateml`), over MPI when the script
runs under ``mpiexec`` with at least two ranks and in-process threads otherwise. Under MPI every
rank calls ``fit`` (the usual SPMD script); rank 0 is the master and ends with the weights, the
worker ranks return once the master stops them (their ``coef_`` is None).

:class:`GradientDescentLogisticRegression` is the seed's comparison: conventional logistic
regression, true sigmoid, no quantisation, the same learning rate and number of iterations.

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

import numpy as np

from .field import DEFAULT_PRIME
from .protocols.codedprivateml import CodedPrivateMLConfig, _metrics, lipschitz_lr, run_codedprivateml
from .protocols.sigmoid import DEFAULT_INTERVAL, sigmoid

__all__ = ["CodedPrivateLogisticRegression", "CodedPrivateLinearRegression", "NotFittedError",
           "GradientDescentLogisticRegression", "GradientDescentLinearRegression", "gradient_descent"]


class NotFittedError(ValueError, AttributeError, RuntimeError):
    """Raised by predict, score and decision_function before ``fit`` (or on an MPI worker rank).

    It has the bases of ``sklearn.exceptions.NotFittedError`` (ValueError, AttributeError), so
    code written for scikit-learn catches it, without importing scikit-learn at startup.
    """


def _check_X(X, name: str = "X") -> np.ndarray:
    """X as a finite float64 (m, d) array with m, d >= 1, or a ValueError that says what is wrong."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 2-D array of real numbers (m samples x d features): {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (m samples x d features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must have at least one sample and one feature, got shape {X.shape}")
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} contains NaN or infinity (first at row {bad[0]}, column {bad[1]}); "
                         f"every entry must be a finite real (impute or drop those samples)")
    return X


def _check_y(y, m: int, *, numeric: bool) -> np.ndarray:
    """y as a 1-D array of m entries (finite float64 if ``numeric``), or a ValueError."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array with one target per row of X, got shape {y.shape} "
                         f"(use y.ravel() for a column vector)")
    if y.shape[0] != m:
        raise ValueError(f"X has {m} samples but y has {y.shape[0]}; they must have the same length")
    if numeric or y.dtype.kind == "f":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"y must hold real numbers: {exc}") from None
        if not np.isfinite(y).all():
            raise ValueError(f"y contains NaN or infinity (first at index {int(np.argmin(np.isfinite(y)))}); "
                             f"every target must be finite")
    return y


def _design(X, fit_intercept: bool) -> np.ndarray:
    X = _check_X(X)
    return np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X


def _binary_labels(y, m: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y) if m is None else _check_y(y, m, numeric=False)
    classes = np.unique(y)
    if classes.size != 2:
        raise ValueError(f"binary logistic regression needs exactly two classes in y, got "
                         f"{classes.size}: {classes[:10].tolist()}{' ...' if classes.size > 10 else ''}")
    return classes, (y == classes[1]).astype(np.float64)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check_steps(max_iter, lr) -> None:
    """max_iter >= 1 gradient steps and a finite lr > 0 (None, where allowed, is checked by the caller)."""
    if not _is_int(max_iter) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer (the number of gradient steps), got {max_iter!r}")
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, (int, float, np.number)) or not 0 < lr < np.inf:
        raise ValueError(f"lr must be a finite positive learning rate, or None for 1/L (Theorem 1), got {lr!r}")


def _check_common_params(est) -> None:
    """max_iter, lr and fit_intercept, shared by every estimator (checked in fit, as scikit-learn does)."""
    _check_steps(est.max_iter, 1.0 if est.lr is None else est.lr)
    if not isinstance(est.fit_intercept, (bool, np.bool_)):
        raise ValueError(f"fit_intercept must be True or False, got {est.fit_intercept!r}")


def _check_protocol_params(est) -> None:
    """Parameters the coded and MPC estimators share: degree, scales, fit interval and seed."""
    if not _is_int(est.n_workers) or est.n_workers < 1:
        raise ValueError(f"n_workers must be a positive integer, got {est.n_workers!r}")
    if not _is_int(est.degree) or est.degree < 1:
        raise ValueError(f"degree (r of eq. 13) must be an integer >= 1, got {est.degree!r}")
    for name in ("lx", "lw") + (() if est.lc is None else ("lc",)):
        v = getattr(est, name)
        if not _is_int(v) or not 0 <= v <= 30:
            raise ValueError(f"{name} must be an integer in [0, 30]{' or None (automatic)' if name == 'lc' else ''}, "
                             f"got {v!r}")
    try:
        lo, hi = (float(v) for v in est.fit_interval)
    except (TypeError, ValueError):
        raise ValueError(f"fit_interval must be a pair (lo, hi) of reals, got {est.fit_interval!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"fit_interval must be finite with lo < hi, got {est.fit_interval!r}")
    if est.random_state is not None and (not _is_int(est.random_state) or est.random_state < 0):
        raise ValueError(f"random_state must be None or a non-negative integer, got {est.random_state!r}")


def gradient_descent(X, y, *, lr: float, max_iter: int, task: str = "logistic", X_test=None, y_test=None):
    """Full-batch gradient descent in float64, w^(0) = 0: eq. (2) with the true sigmoid (or linear
    regression). Returns (w, history) with the same metrics as a CodedPrivateML run."""
    X = _check_X(X)
    y = _check_y(y, X.shape[0], numeric=True)
    _check_steps(max_iter, lr)
    if task not in ("logistic", "linear"):
        raise ValueError(f"task must be 'logistic' or 'linear', got {task!r}")
    m, d = X.shape
    w = np.zeros(d)
    history = [dict(iteration=0, **_metrics(task, w, X, y, X_test, y_test))]
    for it in range(max_iter):
        z = X @ w
        pred = sigmoid(z) if task == "logistic" else z
        w = w - lr / m * (X.T @ (pred - y))
        history.append(dict(iteration=it + 1, **_metrics(task, w, X, y, X_test, y_test)))
    return w, history


class _LinearModelBase:
    def _check_fitted(self):
        if getattr(self, "coef_", None) is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted (or this is a worker rank of an MPI run): "
                               f"call fit first and use the estimator on rank 0")

    def decision_function(self, X) -> np.ndarray:
        self._check_fitted()
        Xd = _design(X, self.fit_intercept)
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


class _ClassifierMixin:
    """Binary logistic regression: labels of two classes, predictions by the sign of the logit."""

    _task = "logistic"

    def fit(self, X, y):
        X = _check_X(X)
        self.classes_, y01 = _binary_labels(y, X.shape[0])
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
        return float(np.mean(pred == _check_y(y, pred.shape[0], numeric=False)))


class _RegressorMixin:
    """Linear regression: numeric targets, predictions are the linear model itself."""

    _task = "linear"

    def fit(self, X, y):
        X = _check_X(X)
        return self._fit(X, _check_y(y, X.shape[0], numeric=True))

    def predict(self, X) -> np.ndarray:
        return self.decision_function(X)

    def score(self, X, y) -> float:
        """Coefficient of determination R^2."""
        pred = self.predict(X)
        y = _check_y(y, pred.shape[0], numeric=True)
        resid = float(np.sum((pred - y) ** 2))
        total = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - resid / total if total > 0 else 0.0


class _CodedPrivate(_LinearModelBase):
    _param_names = ("n_workers", "K", "T", "case", "degree", "lx", "lw", "lc", "p", "max_iter", "lr",
                    "fit_interval", "fit_intercept", "random_state", "transport", "timeout", "straggle")

    def __init__(self, n_workers: int, K=None, T=None, case: int = 2, degree: int = 1, lx: int = 3, lw: int = 4,
                 lc=None, p: int = DEFAULT_PRIME, max_iter: int = 50, lr=None, fit_interval=DEFAULT_INTERVAL,
                 fit_intercept: bool = True, random_state=None, transport: str = "auto", timeout: float = 120.0,
                 straggle=None):
        self.n_workers, self.K, self.T, self.case, self.degree = n_workers, K, T, case, degree
        self.lx, self.lw, self.lc, self.p, self.max_iter, self.lr = lx, lw, lc, p, max_iter, lr
        self.fit_interval, self.fit_intercept, self.random_state = fit_interval, fit_intercept, random_state
        self.transport, self.timeout, self.straggle = transport, timeout, straggle
        self.coef_ = None

    def _validate_params(self) -> None:
        _check_common_params(self)
        _check_protocol_params(self)
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float, np.number)) \
                or not 0 < self.timeout < np.inf:
            raise ValueError(f"timeout must be a finite positive number of seconds, got {self.timeout!r}")
        for rank, delay in dict(self.straggle or {}).items():
            if isinstance(delay, bool) or not isinstance(delay, (int, float, np.number)) or not delay >= 0:
                raise ValueError(f"straggle: worker {rank!r} must wait a non-negative number of seconds "
                                 f"(math.inf for a dead worker), got {delay!r}")

    def config(self) -> CodedPrivateMLConfig:
        self._validate_params()
        return CodedPrivateMLConfig(
            n_workers=self.n_workers, K=self.K, T=self.T, case=self.case, degree=self.degree, task=self._task,
            lx=self.lx, lw=self.lw, lc=self.lc, p=self.p, max_iter=self.max_iter, lr=self.lr,
            fit_interval=tuple(self.fit_interval), seed=self.random_state, timeout=self.timeout,
            straggle=dict(self.straggle or {}))

    def _fit(self, X, target, X_test=None, y_test=None):
        cfg = self.config()  # validates the parameters first
        Xd = _design(X, self.fit_intercept)
        if cfg.lr is None:
            cfg.lr = lipschitz_lr(Xd, self._task)
        self.lr_ = cfg.lr
        result = run_codedprivateml(Xd, target, cfg, transport=self.transport, X_test=X_test, y_test=y_test)
        self.result_ = result
        if result is None:  # an MPI worker rank: it only computed coded gradients
            self.coef_ = None
            return self
        self._store(result.w)
        self.history_ = result.history
        return self


class CodedPrivateLogisticRegression(_ClassifierMixin, _CodedPrivate):
    """Logistic regression trained by CodedPrivateML (seed 004) with ``n_workers`` workers.

    K and T come from ``case`` (1: maximum parallelisation, 2: equal split) unless both are given;
    ``degree`` is r of eq. (13); ``lx``, ``lw`` (and ``lc``, automatic by default) are the
    fixed-point scales, ``p`` the prime; ``lr=None`` uses 1/L (Theorem 1). ``random_state`` seeds
    only the stochastic quantisation of w (privacy masks always come from the OS CSPRNG).
    After ``fit`` on the master: ``coef_``, ``intercept_``, ``classes_``, ``lr_``, ``history_``
    and ``result_`` (timings, traffic, workers used per iteration).
    """


class CodedPrivateLinearRegression(_RegressorMixin, _CodedPrivate):
    """Linear regression trained by CodedPrivateML (seed 004 Remark 1): s_hat(z) = z, so r = 1 and
    the coded gradient X^T (X w) is exact up to quantisation. Targets should be of order 1."""


class _GradientDescent(_LinearModelBase):
    _param_names = ("max_iter", "lr", "fit_intercept")

    def __init__(self, max_iter: int = 50, lr=None, fit_intercept: bool = True):
        self.max_iter, self.lr, self.fit_intercept = max_iter, lr, fit_intercept
        self.coef_ = None

    def _fit(self, X, target):
        _check_common_params(self)
        Xd = _design(X, self.fit_intercept)
        self.lr_ = self.lr if self.lr is not None else lipschitz_lr(Xd, self._task)
        w, self.history_ = gradient_descent(Xd, target, lr=self.lr_, max_iter=self.max_iter, task=self._task)
        self._store(w)
        return self


class GradientDescentLogisticRegression(_ClassifierMixin, _GradientDescent):
    """The seed's baseline: logistic regression by full-batch gradient descent in float64 with the
    true sigmoid (eq. 2), w^(0) = 0, ``lr=None`` meaning 1/L as for CodedPrivateML."""


class GradientDescentLinearRegression(_RegressorMixin, _GradientDescent):
    """Float64 full-batch gradient descent for least squares: the baseline of the linear estimator."""
