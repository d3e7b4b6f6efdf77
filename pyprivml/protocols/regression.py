"""The learning task CodedPrivateML and its MPC baselines share (seed 004 sec. II-III, eqs. 2, 13, 17).

Logistic regression (or linear regression, Remark 1) by full-batch gradient descent on quantised
data: the master holds X and y, the workers compute X̄^T s̄(X̄ W̄) privately (each protocol its
own way), and the master updates w in the reals with eq. (17). This module holds everything
about that task that does not depend on *how* the gradient is computed privately:

* :class:`RegressionConfig`: the fields and checks of the task (degree r, scales l_x, l_w, l_c,
  the prime, iterations, learning rate, the sigmoid's fit interval);
* :class:`RegressionMaster`: the master's loop (Algorithm 1 steps 1, 6, 14-15 and the timing of
  every phase), which each protocol completes with how it encodes, exchanges and decodes;
* :func:`lipschitz_lr` (eta = 1/L, Theorem 1), :func:`draw_seed`, :func:`model_metrics`, and the
  float baseline :func:`gradient_descent` that every report carries beside the private run.

>>> import numpy as np
>>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]); y = np.array([1.0, 0.0, 1.0])
>>> w, history = gradient_descent(X, y, lr=1.0, max_iter=3)
>>> [round(h["loss"], 3) for h in history]
[0.693, 0.591, 0.519, 0.464]
"""

from __future__ import annotations

import argparse
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..field import DEFAULT_PRIME, PrimeField
from ..quantization import dequantize, quantize, quantize_stochastic
from .config import ProtocolConfig, check_choice, check_int, check_interval, check_real
from .fixedpoint import FixedPointPlan, PlanChoice, WrapAroundGuard, choose_plan, weight_reach
from .inputs import check_steps, check_X, check_y
from .optim import OPTIMIZERS, MasterUpdate, check_optimizer
from .progress import advance
from .result import PhaseTimer, RunResult, exchange_seconds, traffic_by_phase
from .sigmoid import DEFAULT_INTERVAL, fit_sigmoid, log_loss, sigmoid

__all__ = ["TASKS", "RegressionConfig", "RegressionResult", "RegressionMaster", "gram_pays", "lipschitz_lr", "draw_seed",
           "model_metrics", "gradient_descent", "float_optimum", "float_references", "add_regression_arguments",
           "config_fields", "train_from_args", "OPTIMIZERS"]

TASKS = ("logistic", "linear")


def gram_pays(rows: int, d: int, iterations: int, degree: int, direct_extra: int = 0) -> bool:
    """Whether J iterations from a Gram matrix XᵀX (rows·d² once, then d² each) beat the direct
    Xᵀ(c̄₀ + c̄₁ X w) (2·rows·d per iteration, plus ``direct_extra`` products' worth of other cost,
    such as the MPC baselines' degree-reduction round); only degree r = 1 has that form (issue 13,
    item 6).

    >>> gram_pays(1000, 100, 300, 1), gram_pays(1000, 100, 300, 2), gram_pays(1000, 100, 50, 1)
    (True, False, False)
    """
    return degree == 1 and rows * d * d + iterations * d * d < iterations * (2 * rows * d + direct_extra)


def lipschitz_lr(X, task: str = "logistic", iters: int = 100) -> float:
    """eta = 1/L (Theorem 1): L = lambda_max(X^T X) / (4m) for logistic, / m for linear regression
    (Lemma 2 with the 1/m of eq. 2), lambda_max by power iteration from a fixed start."""
    X = np.asarray(X, dtype=np.float64)
    m, d = X.shape
    v = np.ones(d) / math.sqrt(d)
    lam = 0.0
    for _ in range(iters):
        u = X.T @ (X @ v)
        lam = float(np.linalg.norm(u))
        if lam == 0:
            return 1.0
        v = u / lam
    L = lam / m / (4.0 if task == "logistic" else 1.0)
    return 1.0 / L


def draw_seed(seed: int | None, t: int) -> int | None:
    """The seed of iteration t's stochastic quantisation of w (eqs. 6-8), or None (fresh entropy).

    Every protocol uses this one derivation, so that for one ``seed`` CodedPrivateML, BGW and
    BH08 quantise the same weights identically and take the same steps."""
    return None if seed is None else int(seed) * 1_000_003 + t


def model_metrics(task: str, w, X, y, X_test=None, y_test=None) -> dict:
    """Training loss (cross entropy, or MSE for linear regression), training accuracy, and test
    accuracy or R^2 when a test set is given: the per-iteration record of every report."""
    if task == "logistic":
        z = X @ w
        out = {"loss": log_loss(y, sigmoid(z)), "train_accuracy": float(np.mean((z > 0) == (y > 0.5)))}
        if X_test is not None:
            out["accuracy"] = float(np.mean((X_test @ w > 0) == (y_test > 0.5)))
    else:
        out = {"loss": float(np.mean((X @ w - y) ** 2))}
        if X_test is not None:
            resid = float(np.sum((X_test @ w - y_test) ** 2))
            total = float(np.sum((y_test - np.mean(y_test)) ** 2)) or 1.0
            out["r2"] = 1.0 - resid / total
    return out


def gradient_descent(X, y, *, lr: float, max_iter: int, task: str = "logistic", X_test=None, y_test=None,
                     optimizer: str = "gd", momentum: float | None = None):
    """Full-batch first-order training in float64, w^(0) = 0: eq. (2) with the true sigmoid (or
    linear regression), by the master's update rule ``optimizer`` (:mod:`~pyprivml.protocols.optim`).
    Returns (w, history) with the same metrics as a private run: the iteration-matched float
    baseline every report carries."""
    X = check_X(X)
    y = check_y(y, X.shape[0], numeric=True)
    check_steps(max_iter, lr)
    check_choice("task", task, TASKS)
    m, d = X.shape
    opt = MasterUpdate(d, optimizer=optimizer, lr=lr, momentum=momentum)
    w = opt.w
    history = [dict(iteration=0, **model_metrics(task, w, X, y, X_test, y_test))]
    for it in range(max_iter):
        z = X @ opt.point()
        pred = sigmoid(z) if task == "logistic" else z
        w = opt.step(X.T @ (pred - y) / m)
        history.append(dict(iteration=it + 1, **model_metrics(task, w, X, y, X_test, y_test)))
    return w, history


#: The regularisation of the converged float optimum: C of scikit-learn's LogisticRegression.
OPTIMUM_C = 1e6


def float_optimum(X, y, *, task: str = "logistic", X_test=None, y_test=None) -> dict:
    """The converged float optimum of the task's unregularised objective, with the run's metrics.

    Logistic regression: scikit-learn's ``LogisticRegression(C=1e6, fit_intercept=False)`` (X
    carries its own bias column) solved by L-BFGS to ``tol=1e-10``. Not ``penalty=None``: on a
    linearly separable training set (digits 4-vs-9 and breast cancer, in both scalings, are) the
    unregularised log-loss has no minimiser, its infimum 0 is approached as ||w|| grows
    without bound, and where a solver stops, and so the test accuracy it reports, depends on its
    tolerance. With C = 1e6 the objective differs from the unregularised one by ||w||^2 / (2 C),
    has a unique minimiser and every solver that converges finds the same one (its direction tends
    to the maximum-margin one as C grows). Linear regression: the least-squares solution.
    The dict has the metrics of :func:`model_metrics`, ``solver``, ``converged`` and
    ``separable`` (the training set, for the logistic task)."""
    X = check_X(X)
    y = check_y(y, X.shape[0], numeric=True)
    check_choice("task", task, TASKS)
    if task == "linear":
        w = np.linalg.lstsq(X, y, rcond=None)[0]
        out = {"solver": "numpy.linalg.lstsq (least squares)", "converged": True}
    else:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=OPTIMUM_C, fit_intercept=False, solver="lbfgs", tol=1e-10, max_iter=20000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, (y > 0.5).astype(int))
        w = model.coef_.ravel().astype(np.float64)
        iters = int(np.max(model.n_iter_))
        out = {"solver": f"sklearn LogisticRegression(C={OPTIMUM_C:g}, fit_intercept=False, solver='lbfgs', "
                         f"tol=1e-10), {iters} iterations",
               "converged": iters < model.max_iter,
               "separable": bool(np.all((X @ w > 0) == (y > 0.5)))}
    out.update(model_metrics(task, w, X, y, X_test, y_test))
    out["w_norm"] = float(np.linalg.norm(w))
    return out


def float_references(X, y, config, iterations: int, *, lr: float | None = None, X_test=None, y_test=None):
    """(iteration-matched float baseline history, converged float optimum) of a run of ``config``:
    the same update rule, learning rate and number of iterations in float64 with the true sigmoid,
    and :func:`float_optimum`."""
    lr = lr if lr is not None else (config.lr if config.lr is not None else lipschitz_lr(X, config.task))
    _, baseline = gradient_descent(X, y, lr=lr, max_iter=max(int(iterations), 1), task=config.task,
                                   X_test=X_test, y_test=y_test, optimizer=config.optimizer,
                                   momentum=config.momentum)
    return baseline[:int(iterations) + 1], float_optimum(X, y, task=config.task, X_test=X_test, y_test=y_test)


@dataclass(frozen=True, kw_only=True)
class RegressionConfig(ProtocolConfig):
    """The task's public parameters: N workers, sigmoid degree r (eq. 13), the fixed-point scales
    l_x, l_w, l_c (eqs. 4, 6, 23), the prime p, J iterations and the learning rate (None: 1/L),
    and the master's update rule (:mod:`~pyprivml.protocols.optim`): ``optimizer`` ("gd",
    "heavy-ball", "nesterov"), ``momentum`` (None: the optimiser's default), ``tol`` (stop once the
    decoded gradient's norm is at most tol; protocols whose workers can stop early only) and
    ``w_bound`` (the weights are kept in the ball ||w||_2 <= w_bound, the range the wrap-around
    proof covers; None: chosen by :meth:`resolve`). ``eval_every``: the master evaluates loss and
    accuracy (O(m d) each, its largest per-iteration cost at many workers) after every that many
    iterations and after the last, each while the workers compute the next iteration
    (:meth:`RegressionMaster.while_waiting`); the history then holds those iterations only.

    ``lx``, ``lw``, ``lc``, ``p`` = None (protocols with :attr:`automatic_plan` only) are chosen
    from the data before the first iteration by :meth:`resolve`
    (:func:`~pyprivml.protocols.fixedpoint.choose_plan`).

    ``seed`` drives only the stochastic quantisation of w (eqs. 6-8, through :func:`draw_seed`);
    privacy masks always come from fresh, unseeded :class:`~pyprivml.random.SecureRandom` streams.
    """

    #: whether the protocol's master may choose lx, lw, p from the data (its workers learn p and
    #: the coefficients from the master) rather than every rank reading them from the config
    automatic_plan: ClassVar[bool] = False
    #: whether the protocol's workers stop when the master says so (needed for ``tol``)
    early_stop: ClassVar[bool] = False

    n_workers: int
    degree: int = 1
    task: str = "logistic"
    lx: int | None = 3
    lw: int | None = 4
    lc: int | None = None
    p: int | None = DEFAULT_PRIME
    max_iter: int = 50
    lr: float | None = None
    fit_interval: tuple = DEFAULT_INTERVAL
    optimizer: str = "gd"
    momentum: float | None = None
    tol: float | None = None
    w_bound: float | None = None
    eval_every: int = 1

    def validate(self) -> None:
        super().validate()
        check_int("n_workers", self.n_workers, minimum=1, hint="the number of workers N")
        check_int("eval_every", self.eval_every, minimum=1,
                  hint="evaluate the model's loss and accuracy every this many iterations (and after the last)")
        check_choice("task", self.task, TASKS)
        check_int("degree", self.degree, minimum=1, hint="r of eq. 13")
        if self.task == "linear" and self.degree != 1:
            raise ValueError("linear regression (Remark 1) uses s_hat(z) = z: degree must be 1")
        check_int("max_iter", self.max_iter, minimum=0, hint="the iterations J")
        check_real("lr", self.lr, positive=True, allow_none=True, hint="None means 1/L, Theorem 1")
        auto = type(self).automatic_plan
        for name in ("lx", "lw"):
            if getattr(self, name) is None and not auto:
                raise ValueError(f"{name}=None (chosen from the data) needs a protocol whose master picks the "
                                 f"plan (CodedPrivateML); give {name} as an integer in [0, 30]")
            check_int(name, getattr(self, name), minimum=0, maximum=30, allow_none=True,
                      hint="None chooses it" if auto else "")
        check_int("lc", self.lc, minimum=0, maximum=30, allow_none=True, hint="None chooses it")
        check_interval("fit_interval", self.fit_interval)
        check_optimizer(self.optimizer, self.momentum, self.tol)
        if self.tol and not type(self).early_stop:
            raise ValueError(f"tol={self.tol!r}: this protocol's workers run all max_iter iterations, so the "
                             f"master cannot stop early; use tol=None")
        check_real("w_bound", self.w_bound, positive=True, allow_none=True,
                   hint="the radius of the ball ||w||_2 <= w_bound the weights are kept in; None chooses it")
        if self.p is None:
            if not auto:
                raise ValueError("p=None (chosen from the data) needs a protocol whose master picks the plan "
                                 "(CodedPrivateML); give a prime below 2**32")
        else:
            PrimeField(self.p)  # a prime the kernels accept, or a ValueError that says which are

    @property
    def resolved(self) -> bool:
        """Whether lx, lw and p are all fixed (no choice left for :meth:`resolve`)."""
        return self.lx is not None and self.lw is not None and self.p is not None

    def _need_resolved(self, what: str) -> None:
        if not self.resolved:
            raise ValueError(f"{what}: lx, lw or p is None (chosen from the data): call resolve(X, y) first, "
                             f"or give all three")

    @property
    def field(self) -> PrimeField:
        self._need_resolved("field")
        return PrimeField(self.p)

    def resolve(self, X, y) -> tuple["RegressionConfig", PlanChoice]:
        """(this configuration with lr, lx, lw, lc, p and w_bound fixed, the plan's proof and reasons).

        lr = 1/L when None (Theorem 1). The fixed-point plan covers the whole run: the weights are
        kept in the ball ||w||_2 <= w_bound (the reach of :func:`~pyprivml.protocols.fixedpoint.weight_reach`
        from lr, max_iter and the data unless given), and the parameters left None are the largest
        the wrap-around proof admits for that ball (:func:`~pyprivml.protocols.fixedpoint.choose_plan`)."""
        X = np.asarray(X, dtype=np.float64)
        lr = self.lr if self.lr is not None else lipschitz_lr(X, self.task)
        coefficients = self.coefficients()
        reach, why = weight_reach(X, y, coefficients[0], lr, max(int(self.max_iter), 1), optimizer=self.optimizer,
                                  momentum=self.momentum)
        choice = choose_plan(X, coefficients, lx=self.lx, lw=self.lw, lc=self.lc, radius=self.w_bound,
                             reach=reach, reach_reason=why, **self._modulus_options())
        return self.replace(lr=lr, **self._resolved_fields(choice)), choice

    def _modulus_options(self) -> dict:
        """How :func:`~pyprivml.protocols.fixedpoint.choose_plan` is given the modulus: the prime p
        (a protocol that runs over several primes passes them instead)."""
        return {"p": self.p}

    def _resolved_fields(self, choice: PlanChoice) -> dict:
        """The fields :meth:`resolve` fixes from the plan's choice."""
        plan = choice.plan
        return dict(lx=plan.lx, lw=plan.lw, lc=plan.lc, p=plan.field.p, w_bound=choice.radius)

    def coefficients(self) -> tuple:
        """Real coefficients c_0..c_r of s_hat: the least-squares sigmoid fit (eq. 13), or z itself
        for linear regression."""
        if self.task == "linear":
            return (0.0, 1.0)
        return tuple(fit_sigmoid(self.degree, self.fit_interval))

    def plan(self) -> FixedPointPlan:
        """The fixed-point scales and quantised coefficients of every protocol of this task."""
        self._need_resolved("plan")
        return FixedPointPlan(self.field, self.lx, self.lw, self.coefficients(), self.lc)

    def task_parameters(self) -> dict:
        """The public parameters every protocol of the task reports."""
        plan = self.plan()
        return {"N": self.n_workers, "r": self.degree, "task": self.task, "lx": self.lx, "lw": self.lw,
                "lc": plan.lc, "l": plan.exponent, "p": self.p, "iterations": self.max_iter,
                "fit_interval": list(self.fit_interval), "coefficients": list(plan.coefficients),
                "quantized_coefficients": plan.signed_coefficients().tolist(), "optimizer": self.optimizer,
                "momentum": self.momentum, "tol": self.tol, "w_bound": self.w_bound}


@dataclass(kw_only=True)
class RegressionResult(RunResult):
    """The master's result: the weights, per-iteration metrics and weights, time and traffic per
    phase, the workers whose results were decoded each iteration, and (if kept) the decoded field
    sums of eq. (22)."""

    w: np.ndarray
    used_workers: list
    weights_history: list
    decoded: list = field(default_factory=list)
    #: per iteration: the point the gradient was asked for (w_t, or Nesterov's look-ahead point)
    query_points: list = field(default_factory=list)
    #: the fixed-point plan proven for the whole run, with what was chosen and why
    plan: PlanChoice | None = None
    #: the iteration-matched float baseline and the converged float optimum (float_references)
    baseline_history: list = field(default_factory=list)
    optimum: dict = field(default_factory=dict)
    iteration_ends: list = field(default_factory=list)  # the master's clock after each update, from the start
    iterations_start: float = 0.0                       # the master's clock when iteration 0 began
    #: seconds per phase spent before the first iteration (the one-time part), "exchange" included
    before_iterations: dict = field(default_factory=dict)
    #: per iteration: the master's seconds in the data, weights and results phases
    exchange_per_iteration: list = field(default_factory=list)


class RegressionMaster(ABC):
    """The master's loop of the task, shared by CodedPrivateML and its MPC baselines.

    A protocol subclasses it and supplies how the data and weights are encoded and exchanged and
    how the gradient is decoded: :meth:`distribute` (Algorithm 1 steps 2-3), :meth:`warm_up`,
    :meth:`private_gradient` (steps 6-13: returns the field sum of eq. 22), :meth:`finish`
    (stops the workers; returns the worker computation on the critical path) and
    :meth:`parameters`. Everything else, and all the timing, is here.

    ``early_stop`` (class attribute): whether :meth:`finish` can stop the workers before
    ``max_iter`` iterations, which ``tol`` needs.
    """

    early_stop = False

    def __init__(self, transport, config: RegressionConfig, X, y, *, X_test=None, y_test=None, progress=None):
        self.transport, self.cfg = transport, config
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64).reshape(-1)
        if self.X.ndim != 2 or self.y.shape[0] != self.X.shape[0]:
            raise ValueError(f"X must be (m, d) and y (m,), got {self.X.shape} and {self.y.shape}")
        if transport.size != config.n_workers + 1:
            raise ValueError(f"{config.n_workers} workers need {config.n_workers + 1} ranks (the master and N "
                             f"workers), the transport has {transport.size}")
        self.X_test, self.y_test, self.progress = X_test, y_test, progress
        self.timer = PhaseTimer(transport)
        self.started = transport.now()   # the total counts the plan's set-up below as well
        with self.timer("setup"):
            # lr, and the fixed-point plan proven for every iteration of the run (fixedpoint.choose_plan).
            self.cfg, self.choice = config.resolve(self.X, self.y)
        self.lr = self.cfg.lr
        self.F = self.cfg.field
        self.plan = self.cfg.plan()
        self.warnings: list = []
        self.used: list = []
        self.decoded: list = []

    # -- what each protocol supplies -----------------------------------------------------------

    def announce(self) -> None:
        """Send the workers the public set-up they need to warm up (default: nothing)."""

    def warm_up(self) -> None:
        """Run the master's kernels once on tiny inputs (JIT compilation stays out of the phases)."""

    @abstractmethod
    def distribute(self, Xbar: np.ndarray) -> None:
        """Encode the quantised data and send every worker its share (timed phases inside)."""

    @abstractmethod
    def private_gradient(self, it: int, Wbar: np.ndarray) -> np.ndarray:
        """The field sum X̄^T s̄(X̄ W̄) of eq. (22) for iteration ``it``, computed privately."""

    @abstractmethod
    def finish(self) -> float:
        """Stop the workers; return the seconds of worker computation on the critical path."""

    def parameters(self) -> dict:
        return self.cfg.task_parameters()

    def real_gradient(self, total) -> np.ndarray:
        """Step 14, eqs. (23)-(24): the decoded field sum X̄ᵀs̄ as reals, phi^-1(X̄ᵀs̄) / 2^l.
        Protocols that decode something else (several primes) override it."""
        return dequantize(total, self.plan.exponent, self.F)

    # -- the loop ------------------------------------------------------------------------------

    def metrics(self, it: int, w=None) -> dict:
        with self.timer("metrics"):
            return dict(iteration=it, **model_metrics(self.cfg.task, self.w if w is None else w, self.X, self.y,
                                                      self.X_test, self.y_test))

    def while_waiting(self) -> None:
        """Evaluate the metrics deferred from the last update. Protocols call it in
        :meth:`private_gradient` once the weights are sent and before they wait for the results,
        so that the O(m d) evaluation overlaps the workers' computation instead of delaying it;
        the loop calls it again after :meth:`private_gradient` (a no-op if done)."""
        if self._deferred is not None:
            it, w, grad_norm = self._deferred
            self._deferred = None
            self.history.append(dict(self.metrics(it, w), grad_norm=grad_norm))

    def run(self) -> RegressionResult:
        cfg, F, timer, t = self.cfg, self.F, self.timer, self.transport
        start = self.started
        with timer("setup"):
            # The proof (made in resolve) covers the ball ||w||_2 <= w_bound; the update keeps
            # every point it asks a gradient for inside it, and the guard re-checks each in O(d).
            self.guard = WrapAroundGuard(self.X, self.plan, radius=cfg.w_bound)
            self.opt = MasterUpdate(self.X.shape[1], optimizer=cfg.optimizer, lr=self.lr, momentum=cfg.momentum,
                                    radius=cfg.w_bound)
            self.w = self.opt.w
            self.guard.check(self.w, when="before training")
            self.warnings.extend(self.choice.warnings)
        with timer("encoding"):
            Xbar = quantize(self.X, cfg.lx, F)                                 # step 1, eq. (4)
        with timer("setup"):
            # X̄^T y in the reals, once: the label part of eq. (17) never leaves the master.
            self.Xty = dequantize(Xbar, cfg.lx, F).T @ self.y
        with timer("setup"):
            self.announce()
            self.warm_up()
            t.barrier()  # every rank compiled its kernels before any data moves
        # The upload is communication: the workers' first results wait for it (iteration 0).
        self.distribute(Xbar)                                                  # steps 2-3
        self.history, self._deferred = [self.metrics(0)], None
        history, weights, ends, exchanged = self.history, [self.w.copy()], [], []
        points, first_projected, stopped = [], None, "max_iter"
        before = dict(timer.seconds, exchange=exchange_seconds(t.log))
        iterations_start = t.now() - start
        exchanged_so_far = before["exchange"]
        for it in range(cfg.max_iter):
            with timer("setup"):
                q = self.opt.point()                                           # w_t, or Nesterov's look-ahead
                self.guard.check(q, when=f"iteration {it}")                    # O(d), norms from setup
            with timer("encoding"):
                Wbar = quantize_stochastic(q, cfg.lw, F, copies=self.plan.r,
                                           seed=draw_seed(cfg.seed, it))       # step 6, eqs. (6)-(8)
            total = self.private_gradient(it, Wbar)                            # steps 7-13
            self.while_waiting()
            with timer("decoding"):
                Xs = self.real_gradient(total)                                 # step 14, eqs. (23)-(24)
            with timer("update"):
                g = (Xs - self.Xty) / self.X.shape[0]                          # the gradient of eq. (17)
                before_projections = self.opt.projected
                self.w = self.opt.step(g)                                      # step 15 (optim.py)
                grad_norm = float(np.linalg.norm(g))
            if first_projected is None and self.opt.projected > before_projections:
                first_projected = it
            ends.append(t.now() - start)
            exchanged_so_far, previous = exchange_seconds(t.log), exchanged_so_far
            exchanged.append(exchanged_so_far - previous)
            points.append(q.copy())
            weights.append(self.w.copy())
            converged = bool(cfg.tol and grad_norm <= cfg.tol and type(self).early_stop)
            if (it + 1) % cfg.eval_every == 0 or converged or it + 1 == cfg.max_iter:
                self._deferred = (it + 1, self.w.copy(), grad_norm)            # O(m d): while waiting
                if converged or it + 1 == cfg.max_iter:
                    self.while_waiting()                                       # no next round to hide it in
            advance(self.progress, history[-1])
            if converged:
                stopped = "tol"
                break
        if first_projected is not None:
            self.warnings.append(
                f"the weights reached the ball ||w||_2 <= {cfg.w_bound:.4g} the wrap-around proof covers at "
                f"iteration {first_projected} and were projected back onto it in {self.opt.projected} of "
                f"{len(points)} iterations: the model is the best found inside the ball. For more room pass "
                f"a larger w_bound (the automatic plan then trades lx, lw for it) or a larger p")
        seconds = timer.seconds
        seconds["computation"] = self.finish()
        # The master waited for data, weights and results; what the workers' computation does not
        # explain of that wait is communication (network, queueing, MPC rounds between workers).
        seconds["communication"] = max(exchange_seconds(t.log) - seconds["computation"], 0.0)
        seconds["total"] = t.now() - start
        params = self.parameters()
        params.update(lr=self.lr, m=int(self.X.shape[0]), d=int(self.X.shape[1]),
                      max_safe_weight=self.guard.max_safe_weight(), iterations_run=len(points), stopped_by=stopped,
                      projected_iterations=self.opt.projected, plan=self.choice.as_dict())
        return RegressionResult(w=self.w, parameters=params, history=history, seconds=seconds,
                                bytes=traffic_by_phase(t.log), warnings=self.warnings,
                                used_workers=self.used, weights_history=weights, decoded=self.decoded,
                                iteration_ends=ends, iterations_start=iterations_start, before_iterations=before,
                                exchange_per_iteration=exchanged,
                                query_points=points, plan=self.choice)


# -- the command line of the task (``pyprivml train codedprivateml|bgw|bh08``) ----------------------


def _interval(text: str) -> tuple:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI (two reals), got {text!r}") from None
    return lo, hi


def add_regression_arguments(parser, *, default_workers: int) -> None:
    """The task's options, shared by CodedPrivateML and its MPC baselines."""
    g = parser.add_argument_group("the learning task (seed 004)")
    g.add_argument("--workers", type=int, default=None,
                   help=f"number of workers N (default: ranks - 1 under mpiexec, else {default_workers})")
    g.add_argument("--T", type=int, default=None, help="privacy threshold T (colluding workers tolerated)")
    g.add_argument("--degree", type=int, default=1, help="degree r of the sigmoid approximation (eq. 13)")
    g.add_argument("--lx", type=int, default=RegressionConfig.lx, help="data quantisation bits (eq. 4)")
    g.add_argument("--lw", type=int, default=RegressionConfig.lw, help="weight quantisation bits (eq. 6)")
    g.add_argument("--lc", type=int, default=None, help="extra coefficient bits (default: automatic)")
    g.add_argument("--p", type=int, default=DEFAULT_PRIME, help="the field prime")
    g.add_argument("--iters", type=int, default=RegressionConfig.max_iter, help="iterations J")
    g.add_argument("--lr", type=float, default=None, help="learning rate (default 1/L, Theorem 1)")
    g.add_argument("--fit-interval", type=_interval, default=DEFAULT_INTERVAL, metavar="LO,HI",
                   help=f"interval of the least-squares sigmoid fit (default {DEFAULT_INTERVAL[0]:g},"
                        f"{DEFAULT_INTERVAL[1]:g})")
    g.add_argument("--linear", action="store_true", help="linear regression (Remark 1) instead of logistic")
    g.add_argument("--eval-every", type=int, default=1, metavar="K",
                   help="evaluate loss and accuracy every K iterations and after the last (default 1)")


def config_fields(args, n_workers: int) -> dict:
    """The :class:`RegressionConfig` fields the task's options give."""
    return dict(n_workers=n_workers, degree=args.degree, task="linear" if args.linear else "logistic",
                lx=args.lx, lw=args.lw, lc=args.lc, p=args.p, max_iter=args.iters, lr=args.lr,
                fit_interval=tuple(args.fit_interval), seed=args.seed, timeout=args.timeout,
                eval_every=args.eval_every)


def train_from_args(args, ctx, *, name: str, make_config, run, default_workers: int, meta=None):
    """Train one protocol of the task from the command line; the Report on the root rank.

    ``make_config(args, n_workers)`` builds the protocol's configuration; ``run(X, y, cfg, ...)``
    is its ``run_*`` function. Only the root rank loads the data; the report carries the float
    baseline of :func:`gradient_descent` with the same update rule, learning rate and number of
    iterations, and the converged float optimum (:func:`float_references`).
    """
    from .runner import load_dataset

    cfg = make_config(args, ctx.ranks(args.workers + 1 if args.workers is not None else None,
                                      default_workers + 1) - 1)
    X = y = X_test = y_test = ds = None
    if ctx.is_root:
        ds = load_dataset(args)
        X, y, X_test, y_test = ds.X_train, ds.y_train, ds.X_test, ds.y_test
        if cfg.lr is None:
            cfg = cfg.replace(lr=lipschitz_lr(X, cfg.task))
    with ctx.progress(cfg.max_iter, f"{name} N={cfg.n_workers}") as bar:
        result = run(X, y, cfg, X_test=X_test, y_test=y_test, transport=ctx.kind, network=ctx.network,
                     progress=bar)
    if result is None:  # a worker rank of an MPI run
        return None
    # The iteration-matched float baseline (same rule, lr and iterations run) and the converged optimum.
    baseline, optimum = float_references(X, y, cfg, len(result.history) - 1, X_test=X_test, y_test=y_test)
    # The master's clock between consecutive updates (metrics included where they were not hidden):
    # what a user compares against another implementation's per-iteration time.
    per_iteration = np.diff([result.iterations_start, *result.iteration_ends]).tolist()
    info = {**ctx.meta(), "ranks": cfg.n_workers + 1, "dataset_info": ds.info, "iteration_seconds": per_iteration,
            **(meta(result) if meta else {})}
    return result.report(name, dataset=ds.name, baseline_history=baseline, optimum=optimum, meta=info)
