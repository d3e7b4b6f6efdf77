"""The master's update rule on the decoded gradient: gradient descent, heavy ball, Nesterov.

The master of CodedPrivateML (and of its MPC baselines) decodes the gradient estimate
``g = (X̄^T s̄(X̄ W̄) - X̄^T y) / m`` of eq. (17) in the clear. What it does with g never reaches
a worker except through the next weights, which are Lagrange- or Shamir-encoded with fresh masks
like any others: every first-order rule costs no privacy. With eta the learning rate, the iterate
w_t, the point q_t where the gradient is asked for and Pi the projection onto the ball
``||w||_2 <= R`` the fixed-point plan is proven for (:func:`~pyprivml.protocols.fixedpoint.choose_plan`;
R = inf: no projection):

* ``"gd"`` (Algorithm 1 step 15): q_t = w_t, w_{t+1} = Pi(w_t - eta g(q_t));
* ``"heavy-ball"`` (Polyak): q_t = w_t, w_{t+1} = Pi(w_t - eta g(q_t) + beta (w_t - w_{t-1})),
  beta = ``momentum`` (default 0.9);
* ``"nesterov"``: q_t = Pi(w_t + beta_t (w_t - w_{t-1})), w_{t+1} = Pi(q_t - eta g(q_t)), with
  beta_t = t / (t + 3) (Nesterov's schedule for convex objectives, (k-1)/(k+2) with k = t + 1)
  or a constant ``momentum``.

w_{-1} = w_0 = 0. The projection keeps every point that is ever quantised and sent inside the ball
(the query point q_t of Nesterov too), so the wrap-around proof made before the first iteration
covers every iteration.

>>> import numpy as np
>>> opt = MasterUpdate(2, optimizer="nesterov", lr=0.5)
>>> for g in (np.array([1.0, 0.0]), np.array([0.0, 2.0])):
...     q = opt.point(); w = opt.step(g)
>>> opt.w.tolist()
[-0.625, -1.0]
"""

from __future__ import annotations

import math

import numpy as np

from .config import check_choice, check_real

__all__ = ["OPTIMIZERS", "MasterUpdate", "check_optimizer", "project_ball"]

#: The master's update rules (``optimizer=``).
OPTIMIZERS = ("gd", "heavy-ball", "nesterov")
#: Heavy ball's default beta.
HEAVY_BALL_MOMENTUM = 0.9
#: The projection aims a hair inside the ball, so float rounding never leaves it.
_INSIDE = 1.0 - 1e-9


def check_optimizer(optimizer, momentum=None, tol=None) -> None:
    """Validate ``optimizer``, ``momentum`` (None or in [0, 1)) and ``tol`` (None or >= 0)."""
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_real("momentum", momentum, non_negative=True, allow_none=True,
               hint="beta in [0, 1); None: 0.9 for heavy-ball, Nesterov's t/(t+3) schedule for nesterov")
    if momentum is not None:
        if not float(momentum) < 1.0:
            raise ValueError(f"momentum must lie in [0, 1) (beta = 1 never forgets a step), got {momentum!r}")
        if optimizer == "gd" and float(momentum) != 0.0:
            raise ValueError(f"momentum={momentum!r} needs optimizer='heavy-ball' or 'nesterov' "
                             f"(plain gradient descent has none)")
    check_real("tol", tol, non_negative=True, allow_none=True,
               hint="stop when the decoded gradient's norm ||g||_2 <= tol; None or 0: run every iteration")


def project_ball(w: np.ndarray, radius: float) -> tuple[np.ndarray, bool]:
    """(w projected onto ||w||_2 <= radius, whether it had to move)."""
    if not math.isfinite(radius):
        return w, False
    norm = float(np.linalg.norm(w))
    if norm <= radius * _INSIDE:
        return w, False
    return w * (radius * _INSIDE / norm), True


class MasterUpdate:
    """The state of one of :data:`OPTIMIZERS` on d weights: call :meth:`point` for where the next
    gradient is needed, then :meth:`step` with that gradient. ``w`` is the current iterate,
    ``projected`` counts the iterations in which the projection onto the ball moved a point."""

    def __init__(self, d: int, *, optimizer: str = "gd", lr: float, momentum: float | None = None,
                 radius: float = math.inf, w0=None):
        check_optimizer(optimizer, momentum)
        check_real("lr", lr, positive=True)
        self.optimizer, self.lr, self.radius = optimizer, float(lr), float(radius)
        self.momentum = momentum
        self.w = np.zeros(d) if w0 is None else np.array(w0, dtype=np.float64)
        self.prev = self.w.copy()
        self.t = 0
        self.projected = 0
        self._moved = False
        self._q = None

    def beta(self) -> float:
        """The momentum coefficient of iteration t."""
        if self.optimizer == "gd":
            return 0.0
        if self.momentum is not None:
            return float(self.momentum)
        if self.optimizer == "heavy-ball":
            return HEAVY_BALL_MOMENTUM
        return self.t / (self.t + 3.0)

    def point(self) -> np.ndarray:
        """q_t: where the gradient of iteration t is needed (inside the ball)."""
        if self.optimizer == "nesterov":
            self._q, self._moved = project_ball(self.w + self.beta() * (self.w - self.prev), self.radius)
        else:
            self._q, self._moved = self.w, False
        return self._q

    def step(self, g) -> np.ndarray:
        """Apply iteration t's update with the gradient g = g(q_t); returns w_{t+1}."""
        if self._q is None:
            self.point()
        g = np.asarray(g, dtype=np.float64)
        if self.optimizer == "nesterov":
            new = self._q - self.lr * g
        elif self.optimizer == "heavy-ball":
            new = self.w - self.lr * g + self.beta() * (self.w - self.prev)
        else:
            new = self.w - self.lr * g
        new, moved = project_ball(new, self.radius)
        self.projected += int(moved or self._moved)
        self.prev, self.w = self.w, new
        self.t += 1
        self._q = None
        return self.w
