"""CodedPrivateML logistic and linear regression as scikit-learn style estimators (seed 004).

``CodedPrivateLogisticRegression(n_workers=...).fit(X, y)`` trains with the master and N workers
of Algorithm 1 (:mod:`.roles`), over MPI when the script runs under ``mpiexec`` with at least two
ranks and in-process threads otherwise.

>>> from pyprivml.data import load_digits49
>>> ds = load_digits49()
>>> clf = CodedPrivateLogisticRegression(n_workers=6, case=1, max_iter=20, random_state=0,
...                                      transport="inprocess", fit_intercept=False)
>>> clf.fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test) > 0.95
True
"""

from __future__ import annotations

from ...field import DEFAULT_PRIME
from ..estimator import (ClassifierMixin, ProtocolLinearModel, RegressorMixin, check_common_params,
                         check_protocol_params)
from ..sigmoid import DEFAULT_INTERVAL
from .config import CodedPrivateMLConfig
from .roles import run_codedprivateml

__all__ = ["CodedPrivateLogisticRegression", "CodedPrivateLinearRegression"]


class _CodedPrivate(ProtocolLinearModel):
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

    def config(self) -> CodedPrivateMLConfig:
        check_common_params(self)
        check_protocol_params(self)
        return CodedPrivateMLConfig(
            n_workers=self.n_workers, K=self.K, T=self.T, case=self.case, degree=self.degree, task=self._task,
            lx=self.lx, lw=self.lw, lc=self.lc, p=self.p, max_iter=self.max_iter, lr=self.lr,
            fit_interval=tuple(self.fit_interval), seed=self.random_state, timeout=self.timeout,
            straggle=dict(self.straggle or {}))

    def _train(self, X, target, config):
        return run_codedprivateml(X, target, config, transport=self.transport)


class CodedPrivateLogisticRegression(ClassifierMixin, _CodedPrivate):
    """Logistic regression trained by CodedPrivateML (seed 004) with ``n_workers`` workers.

    K and T come from ``case`` (1: maximum parallelisation, 2: equal split) unless both are given;
    ``degree`` is r of eq. (13); ``lx``, ``lw`` (and ``lc``, automatic by default) are the
    fixed-point scales, ``p`` the prime; ``lr=None`` uses 1/L (Theorem 1). ``random_state`` seeds
    only the stochastic quantisation of w (privacy masks always come from the OS CSPRNG).
    After ``fit`` on the master: ``coef_``, ``intercept_``, ``classes_``, ``lr_``, ``history_``
    and ``result_`` (timings, traffic, workers used per iteration).
    """


class CodedPrivateLinearRegression(RegressorMixin, _CodedPrivate):
    """Linear regression trained by CodedPrivateML (seed 004 Remark 1): s_hat(z) = z, so r = 1 and
    the coded gradient X^T (X w) is exact up to quantisation. Targets should be of order 1."""
