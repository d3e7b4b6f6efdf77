"""Alice's two small optimisations per round (seed 003, Algorithm 1 and eq. 5).

1. Gradient assistance weights on the probability simplex P_M = {w ≥ 0, Σ w = 1}:
   ``ŵ = argmin_{w ∈ P_M} E_N ℓ(r, Σ_m w_m f_m(x_m))``. As in the seed's code, w = softmax(θ), so
   every iterate lies on the simplex; θ is found by L-BFGS from θ = 0 (``method="lbfgs"``, ours) or
   by a fixed number of Adam steps with weight decay from θ = 1 (``method="adam"``, the authors'
   recipe: 100 steps, learning rate 0.1, weight decay 5e-4).
2. The assisted learning rate: ``η̂ = argmin_η E_N L₁(y, F + η Σ_m ŵ_m f_m)``, a one-dimensional
   L-BFGS line search (§4.5 'Gradient assisted learning rate'): one call with a strong-Wolfe line
   search (ours), or ``steps`` plain ``LBFGS(lr=1)`` steps with η ← min(|η|, clip) afterwards (the
   authors': 10 steps, clip 300). See :mod:`.recipe`.

>>> import numpy as np
>>> r = np.ones((5, 1)); fits = np.stack([np.zeros((5, 1)), np.ones((5, 1))])
>>> w = assistance_weights(r, fits, q=2.0)
>>> bool(abs(w.sum() - 1) < 1e-12 and w[1] > 0.99)
True
"""

from __future__ import annotations

import numpy as np
import torch

from .losses import OverarchingLoss, lq_loss


def _lbfgs(params, objective, max_iter: int, steps: int = 1, wolfe: bool = True):
    if wolfe:
        opt = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, tolerance_grad=1e-12,
                                tolerance_change=1e-14, line_search_fn="strong_wolfe")
    else:  # the authors' make_optimizer(model, 'linesearch'): torch's defaults but max_iter
        opt = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter)

    def closure():
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)


WEIGHT_METHODS = ("lbfgs", "adam")


def assistance_weights(r: np.ndarray, fits: np.ndarray, q: float = 2.0, max_iter: int = 100, *,
                       method: str = "lbfgs", lr: float = 0.1, weight_decay: float = 0.0,
                       theta0: float = 0.0) -> np.ndarray:
    """ŵ on the simplex for residuals r (N, K) and organisation fits (M, N, K) (Algorithm 1).

    ``method="lbfgs"``: L-BFGS from θ = ``theta0`` for up to ``max_iter`` iterations. ``"adam"``:
    ``max_iter`` Adam steps (learning rate ``lr``, torch's ``weight_decay`` on θ) from θ = ``theta0``.
    """
    fits = np.asarray(fits, dtype=np.float64)
    if fits.ndim != 3 or fits.shape[1:] != np.shape(r):
        raise ValueError(f"fits must have shape (M, N, K) = (M, *{np.shape(r)}), got {fits.shape}")
    if method not in WEIGHT_METHODS:
        raise ValueError(f"unknown weight-fitting method {method!r}; valid: {', '.join(WEIGHT_METHODS)}")
    M = fits.shape[0]
    if M == 1:
        return np.ones(1)
    rt, ft = torch.as_tensor(np.asarray(r, dtype=np.float64)), torch.as_tensor(fits)
    # θ = const is the uniform average whatever the constant (0: ours, 1: the authors' ones).
    theta = torch.full((M,), float(theta0), dtype=torch.float64, requires_grad=True)

    def objective():
        w = torch.softmax(theta, 0)
        return lq_loss(rt, torch.einsum("m,mnk->nk", w, ft), q)

    if method == "lbfgs":
        _lbfgs([theta], objective, max_iter)
    else:
        opt = torch.optim.Adam([theta], lr=lr, weight_decay=weight_decay)
        for _ in range(max_iter):
            opt.zero_grad()
            objective().backward()
            opt.step()
    w = torch.softmax(theta.detach(), 0).numpy()
    return w / w.sum()


def line_search(loss: OverarchingLoss, y: np.ndarray, F: np.ndarray, direction: np.ndarray,
                max_iter: int = 100, eta0: float = 1.0, *, steps: int = 1, wolfe: bool = True,
                clip: float | None = None) -> float:
    """η̂ = argmin_η E_N L₁(y, F + η·direction), starting from ``eta0`` (Algorithm 1).

    ``steps`` L-BFGS steps of up to ``max_iter`` iterations each, with a strong-Wolfe line search
    when ``wolfe``; with ``clip`` the result is min(|η̂|, clip) (the authors' code, clip = 300).
    """
    yt = loss._y(y)
    Ft = torch.as_tensor(F, dtype=torch.float64)
    dt = torch.as_tensor(direction, dtype=torch.float64)
    eta = torch.tensor(float(eta0), dtype=torch.float64, requires_grad=True)
    _lbfgs([eta], lambda: loss.torch_loss(yt, Ft + eta * dt), max_iter, steps=steps, wolfe=wolfe)
    value = float(eta.detach())
    if not np.isfinite(value):
        raise FloatingPointError("the η line search diverged; the fitted direction is not usable")
    if clip is not None:
        value = min(abs(value), float(clip))
    return value


def on_simplex(w: np.ndarray, atol: float = 1e-9) -> bool:
    w = np.asarray(w)
    return bool(np.all(w >= -atol) and abs(w.sum() - 1.0) <= atol)
