"""CodedPrivateML logistic and linear regression as scikit-learn style estimators (seed 004).

``CodedPrivateLogisticRegression(n_workers=...).fit(X, y)`` trains with the master and N workers
of Algorithm 1 (:mod:`.roles`), over MPI when the script runs under ``mpiexec`` with at least two
ranks and in-process threads otherwise.

The defaults aim at the converged float model's accuracy: Nesterov's accelerated update on the
decoded gradient (the master sees it in the clear, so the update rule costs no privacy) for up to
300 iterations, and a fixed-point plan chosen from the data before the first iteration: the
largest l_x, l_w, l_c and a prime up to 2^32 - 5 that the wrap-around proof admits for every
weight the run can reach (``plan_`` says what was chosen and why). Pass ``optimizer="gd"``,
``lx=3, lw=4, p=2**25 - 39`` for the seed's Algorithm 1 as written.

>>> from pyprivml.data import load_digits49
>>> ds = load_digits49()
>>> clf = CodedPrivateLogisticRegression(n_workers=6, case=1, max_iter=20, random_state=0,
...                                      transport="inprocess", fit_intercept=False)
>>> clf.fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test) > 0.95
True
>>> clf.plan_.plan.field.p < 2**32 and clf.n_iter_ == 20
True
"""

from __future__ import annotations

from ..estimator import (ClassifierMixin, ProtocolLinearModel, RegressorMixin, check_common_params,
                         check_protocol_params)
from ..sigmoid import DEFAULT_INTERVAL
from .config import CodedPrivateMLConfig
from .roles import run_codedprivateml

__all__ = ["CodedPrivateLogisticRegression", "CodedPrivateLinearRegression", "DEFAULT_MAX_ITER", "DEFAULT_TOL"]

#: The estimators' iteration budget: Nesterov's method reaches the converged accuracy of digits
#: 4-vs-9 and breast cancer (both scalings) well within it (docs/RESULTS.md).
DEFAULT_MAX_ITER = 300
#: Stop once the decoded gradient's norm is at most this.
DEFAULT_TOL = 1e-4


class _CodedPrivate(ProtocolLinearModel):
    _param_names = ("n_workers", "K", "T", "case", "degree", "lx", "lw", "lc", "p", "max_iter", "lr",
                    "optimizer", "momentum", "tol", "w_bound", "fit_interval", "fit_intercept", "random_state",
                    "transport", "timeout", "straggle", "primes")

    def __init__(self, n_workers: int, K=None, T=None, case: int = 2, degree: int = 1, lx=None, lw=None,
                 lc=None, p=None, max_iter: int = DEFAULT_MAX_ITER, lr=None, optimizer: str = "nesterov",
                 momentum=None, tol=DEFAULT_TOL, w_bound=None, fit_interval=DEFAULT_INTERVAL,
                 fit_intercept: bool = True, random_state=None, transport: str = "auto", timeout: float = 120.0,
                 straggle=None, primes=None):
        self.n_workers, self.K, self.T, self.case, self.degree = n_workers, K, T, case, degree
        self.lx, self.lw, self.lc, self.p, self.max_iter, self.lr = lx, lw, lc, p, max_iter, lr
        self.optimizer, self.momentum, self.tol, self.w_bound = optimizer, momentum, tol, w_bound
        self.fit_interval, self.fit_intercept, self.random_state = fit_interval, fit_intercept, random_state
        self.transport, self.timeout, self.straggle = transport, timeout, straggle
        self.primes = primes
        self.coef_ = None

    def config(self) -> CodedPrivateMLConfig:
        check_common_params(self)
        check_protocol_params(self, automatic=True)
        return CodedPrivateMLConfig(
            n_workers=self.n_workers, K=self.K, T=self.T, case=self.case, degree=self.degree, task=self._task,
            lx=self.lx, lw=self.lw, lc=self.lc, p=self.p, max_iter=self.max_iter, lr=self.lr,
            optimizer=self.optimizer, momentum=self.momentum, tol=self.tol, w_bound=self.w_bound,
            fit_interval=tuple(self.fit_interval), seed=self.random_state, timeout=self.timeout,
            straggle=dict(self.straggle or {}), primes=self.primes)

    def _train(self, X, target, config):
        result = run_codedprivateml(X, target, config, transport=self.transport)
        if result is not None:
            self.plan_ = result.plan
            self.n_iter_ = int(result.parameters["iterations_run"])
        return result


class CodedPrivateLogisticRegression(ClassifierMixin, _CodedPrivate):
    """Logistic regression trained by CodedPrivateML (seed 004) with ``n_workers`` workers.

    K and T come from ``case`` (1: maximum parallelisation, 2: equal split) unless both are given;
    ``degree`` is r of eq. (13). ``lx``, ``lw``, ``lc`` (the fixed-point scales) and ``p`` (the
    prime) are chosen from the data when None, as the largest the wrap-around proof admits for
    every weight of the run; ``w_bound`` is the radius of the ball ||w||_2 <= w_bound the weights
    are kept in (None: how far ``max_iter`` gradient steps can go, or what a fixed plan proves).
    ``lr=None`` uses 1/L (Theorem 1); ``optimizer`` is the master's update rule ("nesterov",
    "heavy-ball" or "gd"), ``momentum`` its beta (None: its default), ``tol`` stops once the
    decoded gradient's norm is at most tol. ``primes`` runs the protocol over several primes and
    decodes by the Chinese remainder theorem, for scales no 32-bit prime holds: a tuple of distinct
    primes below 2^32, a count, or ``"auto"`` (the fewest the proof needs; p is then unused).
    ``random_state`` seeds only the stochastic
    quantisation of w (privacy masks always come from the OS CSPRNG).
    After ``fit`` on the master: ``coef_``, ``intercept_``, ``classes_``, ``lr_``, ``n_iter_``,
    ``plan_`` (the plan, its proof and why each value was chosen), ``history_`` and ``result_``
    (timings, traffic, workers used per iteration).
    """


class CodedPrivateLinearRegression(RegressorMixin, _CodedPrivate):
    """Linear regression trained by CodedPrivateML (seed 004 Remark 1): s_hat(z) = z, so r = 1 and
    the coded gradient X^T (X w) is exact up to quantisation. Targets should be of order 1."""
