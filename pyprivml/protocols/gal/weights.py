"""Alice's two small optimisations per round (seed 003, Algorithm 1 and eq. 5).

1. Gradient assistance weights on the probability simplex P_M = {w ≥ 0, Σ w = 1}:
   ``ŵ = argmin_{w ∈ P_M} E_N ℓ(r, Σ_m w_m f_m(x_m))``. As in the seed's code, w = softmax(θ) and θ
   is found by L-BFGS, so every iterate lies on the simplex.
2. The assisted learning rate: ``η̂ = argmin_η E_N L₁(y, F + η Σ_m ŵ_m f_m)``, a one-dimensional
   L-BFGS line search (§4.5 'Gradient assisted learning rate').

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


def _lbfgs(params, objective, max_iter: int):
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, tolerance_grad=1e-12,
                            tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    opt.step(closure)


def assistance_weights(r: np.ndarray, fits: np.ndarray, q: float = 2.0, max_iter: int = 100) -> np.ndarray:
    """ŵ on the simplex for residuals r (N, K) and organisation fits (M, N, K) (Algorithm 1)."""
    fits = np.asarray(fits, dtype=np.float64)
    if fits.ndim != 3 or fits.shape[1:] != np.shape(r):
        raise ValueError(f"fits must have shape (M, N, K) = (M, *{np.shape(r)}), got {fits.shape}")
    M = fits.shape[0]
    if M == 1:
        return np.ones(1)
    rt, ft = torch.as_tensor(np.asarray(r, dtype=np.float64)), torch.as_tensor(fits)
    theta = torch.zeros(M, dtype=torch.float64, requires_grad=True)  # start at the uniform average

    def objective():
        w = torch.softmax(theta, 0)
        return lq_loss(rt, torch.einsum("m,mnk->nk", w, ft), q)

    _lbfgs([theta], objective, max_iter)
    w = torch.softmax(theta.detach(), 0).numpy()
    return w / w.sum()


def line_search(loss: OverarchingLoss, y: np.ndarray, F: np.ndarray, direction: np.ndarray,
                max_iter: int = 100, eta0: float = 1.0) -> float:
    """η̂ = argmin_η E_N L₁(y, F + η·direction), starting from ``eta0`` (Algorithm 1)."""
    yt = loss._y(y)
    Ft = torch.as_tensor(F, dtype=torch.float64)
    dt = torch.as_tensor(direction, dtype=torch.float64)
    eta = torch.tensor(float(eta0), dtype=torch.float64, requires_grad=True)
    _lbfgs([eta], lambda: loss.torch_loss(yt, Ft + eta * dt), max_iter)
    value = float(eta.detach())
    if not np.isfinite(value):
        raise FloatingPointError("the η line search diverged; the fitted direction is not usable")
    return value


def on_simplex(w: np.ndarray, atol: float = 1e-9) -> bool:
    w = np.asarray(w)
    return bool(np.all(w >= -atol) and abs(w.sum() - 1.0) <= atol)
