"""Estimators for the MPC baselines, in the style of the CodedPrivateML ones (seed 004 sec. V).

``MPCLogisticRegression(protocol="bgw" | "bh08", n_workers=...)`` trains with
:func:`.training.run_mpc`; :mod:`.bgw` and :mod:`.bh08` fix ``protocol``. After ``fit`` (on
rank 0 under MPI): ``coef_``, ``intercept_``, ``classes_``, ``lr_``, ``history_`` and ``result_``
(the task's result type: timings per phase, traffic, parameters).
"""

from __future__ import annotations

from ...field import DEFAULT_PRIME
from ..estimator import (ClassifierMixin, ProtocolLinearModel, RegressorMixin, check_common_params,
                         check_protocol_params)
from ..sigmoid import DEFAULT_INTERVAL
from .training import MPCConfig, run_mpc

__all__ = ["MPCLogisticRegression", "MPCLinearRegression", "protocol_estimators"]


class _MPC(ProtocolLinearModel):
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
        check_common_params(self)
        check_protocol_params(self)
        return MPCConfig(protocol=self.protocol, n_workers=self.n_workers, T=self.T, groups=self.groups,
                         degree=self.degree, task=self._task, lx=self.lx, lw=self.lw, lc=self.lc, p=self.p,
                         max_iter=self.max_iter, lr=self.lr, fit_interval=tuple(self.fit_interval),
                         seed=self.random_state)

    def _train(self, X, target, config):
        return run_mpc(X, target, config, transport=self.transport)


class MPCLogisticRegression(ClassifierMixin, _MPC):
    """Logistic regression trained by the BGW or BH08 baseline with ``n_workers`` workers in G
    groups of 2T+1 (T = floor((N-3)/6) by default); the other parameters as
    :class:`pyprivml.protocols.codedprivateml.CodedPrivateLogisticRegression`."""


class MPCLinearRegression(RegressorMixin, _MPC):
    """Linear regression (s_hat(z) = z) trained by the BGW or BH08 baseline."""


def protocol_estimators(protocol: str, module: str) -> tuple[type, type]:
    """The logistic and linear estimators with ``protocol`` fixed, named as :mod:`.bgw` and
    :mod:`.bh08` export them (``BGWLogisticRegression``, ...), defined in ``module``."""
    label = protocol.upper()

    def fix_protocol(base):
        def __init__(self, n_workers: int = 10, **kwargs):
            base.__init__(self, protocol, n_workers, **kwargs)

        name = f"{label}{base.__name__[len('MPC'):]}"
        what = "Logistic" if base is MPCLogisticRegression else "Linear"
        doc = f"{what} regression trained with the {label} protocol (parameters as :class:`{base.__name__}`)."
        __init__.__qualname__ = f"{name}.__init__"
        return type(name, (base,), {"__init__": __init__, "__doc__": doc, "__module__": module})

    return fix_protocol(MPCLogisticRegression), fix_protocol(MPCLinearRegression)
