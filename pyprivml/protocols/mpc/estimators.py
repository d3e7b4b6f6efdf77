"""Estimators for the MPC baselines, in the style of :mod:`pyprivml.estimators` (seed 004 sec. V).

``MPCLogisticRegression(protocol="bgw" | "bh08", n_workers=...)`` trains with
:func:`.training.run_mpc`; :mod:`.bgw` and :mod:`.bh08` fix ``protocol``. After ``fit`` (on
rank 0 under MPI): ``coef_``, ``intercept_``, ``classes_``, ``lr_``, ``history_`` and ``result_``
(CodedPrivateML's result type: timings per phase, traffic, parameters).
"""

from __future__ import annotations

from ...estimators import (_check_common_params, _check_protocol_params, _ClassifierMixin, _design,
                           _LinearModelBase, _RegressorMixin)
from ...field import DEFAULT_PRIME
from ..codedprivateml import lipschitz_lr
from ..sigmoid import DEFAULT_INTERVAL
from .training import MPCConfig, run_mpc

__all__ = ["MPCLogisticRegression", "MPCLinearRegression"]


class _MPC(_LinearModelBase):
    _param_names = ("protocol", "n_workers", "T", "groups", "degree", "lx", "lw", "lc", "p", "max_iter",
                    "lr", "fit_interval", "fit_intercept", "random_state", "transport")

    def __init__(self, protocol: str = "bh08", n_workers: int = 10, T=None, groups: int = 3, degree: int = 1,
                 lx: int = MPCConfig.lx, lw: int = MPCConfig.lw, lc=None, p: int = DEFAULT_PRIME,
                 max_iter: int = MPCConfig.max_iter, lr=None,
                 fit_interval=DEFAULT_INTERVAL, fit_intercept: bool = True, random_state=None,
                 transport: str = "auto"):
        self.protocol, self.n_workers, self.T, self.groups, self.degree = protocol, n_workers, T, groups, degree
        self.lx, self.lw, self.lc, self.p, self.max_iter, self.lr = lx, lw, lc, p, max_iter, lr
        self.fit_interval, self.fit_intercept, self.random_state = fit_interval, fit_intercept, random_state
        self.transport = transport
        self.coef_ = None

    def config(self) -> MPCConfig:
        _check_common_params(self)
        _check_protocol_params(self)
        return MPCConfig(protocol=self.protocol, n_workers=self.n_workers, T=self.T, groups=self.groups,
                         degree=self.degree, task=self._task, lx=self.lx, lw=self.lw, lc=self.lc, p=self.p,
                         max_iter=self.max_iter, lr=self.lr, fit_interval=tuple(self.fit_interval),
                         seed=self.random_state)

    def _fit(self, X, target):
        cfg = self.config()  # validates the parameters first
        Xd = _design(X, self.fit_intercept)
        self.lr_ = cfg.lr if cfg.lr is not None else lipschitz_lr(Xd, self._task)
        result = run_mpc(Xd, target, MPCConfig(**{**cfg.__dict__, "lr": self.lr_}), transport=self.transport)
        self.result_ = result
        if result is None:  # an MPI worker rank
            self.coef_ = None
            return self
        self._store(result.w)
        self.history_ = result.history
        return self


class MPCLogisticRegression(_ClassifierMixin, _MPC):
    """Logistic regression trained by the BGW or BH08 baseline with ``n_workers`` workers in G
    groups of 2T+1 (T = floor((N-3)/6) by default); the other parameters as
    :class:`pyprivml.estimators.CodedPrivateLogisticRegression`."""


class MPCLinearRegression(_RegressorMixin, _MPC):
    """Linear regression (s_hat(z) = z) trained by the BGW or BH08 baseline."""
