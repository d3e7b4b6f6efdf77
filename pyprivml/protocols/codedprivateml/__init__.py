"""CodedPrivateML (seed 004): Lagrange-coded, information-theoretically private logistic and linear
regression by a master and N workers, private against T colluding workers.

* :mod:`.config`: N, K, T, the recovery threshold (2r+1)(K+T-1)+1, stragglers;
* :mod:`.roles`: the master and the workers of Algorithm 1, and :func:`run_codedprivateml`;
* :mod:`.estimators`: ``CodedPrivateLogisticRegression`` and ``CodedPrivateLinearRegression``;
* :mod:`.cli`: ``pyprivml train codedprivateml``.
"""

from ..regression import draw_seed, lipschitz_lr
from ..result import PHASES
from .config import CodedPrivateMLConfig, choose_K_T, recovery_threshold
from .estimators import CodedPrivateLinearRegression, CodedPrivateLogisticRegression
from .roles import (CodedPrivateMLResult, master_role, plaintext_gradient_field, run_codedprivateml, worker_compute,
                    worker_role)

__all__ = ["CodedPrivateMLConfig", "CodedPrivateMLResult", "choose_K_T", "recovery_threshold", "run_codedprivateml",
           "master_role", "worker_role", "worker_compute", "plaintext_gradient_field", "lipschitz_lr", "draw_seed",
           "PHASES", "CodedPrivateLogisticRegression", "CodedPrivateLinearRegression"]
