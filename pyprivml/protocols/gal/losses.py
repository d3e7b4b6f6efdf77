"""Alice's overarching loss L₁ and the organisations' regression losses ℓ_q (seed 003, §3.3, §4.5).

L₁ is a per-sample loss l(y, F) averaged over the sample, ``E_N L₁``. Its pseudo-residual is the
negative functional gradient of Algorithm 1, ``r = −∂l(y, F)/∂F`` (per sample, not divided by N):

- ``squared``: l = ½(y − F)², r = y − F, F⁰ = E_N y;
- ``l1`` (MAD): l = |y − F|, r = sign(y − F), F⁰ = E_N y (Algorithm 1 starts at the mean);
- ``cross_entropy``: l = −log softmax(F)_y, r = e_y − softmax(F), F⁰ = the class log-priors.

ℓ_q(r, f) = |r − f|^q with q ∈ {1, 1.5, 2, 4} (Table 4) is what an organisation minimises when it fits
the residuals, and what Alice minimises to fit the assistance weights.

>>> import numpy as np
>>> y = np.array([0, 1, 1])
>>> L = get_loss("cross_entropy", 2)
>>> F0 = np.tile(L.init(y), (3, 1))
>>> np.allclose(np.exp(F0[0]), [1/3, 2/3])
True
>>> L.pseudo_residual(y, F0)[0].round(3).tolist()
[0.667, -0.667]
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

LOSS_NAMES = ("squared", "l1", "cross_entropy")
Q_VALUES = (1.0, 1.5, 2.0, 4.0)


def lq_loss(target: torch.Tensor, prediction: torch.Tensor, q: float) -> torch.Tensor:
    """Mean of ℓ_q(r, f) = |r − f|^q over every entry (seed §4.5)."""
    return (target - prediction).abs().pow(q).mean()


def check_q(q: float) -> float:
    q = float(q)
    if not q >= 1.0 or not np.isfinite(q):
        raise ValueError(f"ℓ_q needs a finite q >= 1 (the seed uses {Q_VALUES}), got {q}")
    return q


class OverarchingLoss(ABC):
    """Alice's L₁: initial value, loss and pseudo-residual on (N, K) predictions F."""

    name: str
    task: str

    def __init__(self, output_dim: int):
        self.output_dim = output_dim

    @abstractmethod
    def init(self, y: np.ndarray) -> np.ndarray:
        """F⁰ as a (K,) vector; it is the same for every sample."""

    @abstractmethod
    def torch_loss(self, y: torch.Tensor, F: torch.Tensor) -> torch.Tensor:
        """E_N l(y, F), differentiable in F (for the η line search)."""

    def value(self, y: np.ndarray, F: np.ndarray) -> float:
        with torch.no_grad():
            return float(self.torch_loss(self._y(y), torch.as_tensor(F, dtype=torch.float64)))

    def pseudo_residual(self, y: np.ndarray, F: np.ndarray) -> np.ndarray:
        """r = −∂l(y, F)/∂F, shape (N, K) (Algorithm 1, 'Compute pseudo-residual')."""
        Ft = torch.as_tensor(F, dtype=torch.float64).clone().requires_grad_(True)
        # E_N averages over N samples; undo the 1/N so r is the per-sample gradient.
        (grad,) = torch.autograd.grad(self.torch_loss(self._y(y), Ft) * len(F), Ft)
        return -grad.numpy()

    def _y(self, y):
        return torch.as_tensor(np.asarray(y))


class SquaredLoss(OverarchingLoss):
    name, task = "squared", "regression"

    def init(self, y):
        return np.array([np.mean(y)], dtype=np.float64)

    def torch_loss(self, y, F):
        return 0.5 * (y.to(F.dtype).reshape(F.shape) - F).pow(2).mean()


class AbsoluteLoss(OverarchingLoss):
    """The L1 / mean absolute deviation loss of Table 1's regression columns."""

    name, task = "l1", "regression"

    def init(self, y):
        return np.array([np.mean(y)], dtype=np.float64)

    def torch_loss(self, y, F):
        return (y.to(F.dtype).reshape(F.shape) - F).abs().mean()


class CrossEntropyLoss(OverarchingLoss):
    name, task = "cross_entropy", "classification"

    def init(self, y):
        counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=self.output_dim).astype(np.float64)
        # A class absent from training gets a tiny prior instead of log(0) = −inf.
        priors = np.maximum(counts, 0.5) / max(counts.sum(), 1.0)
        return np.log(priors / priors.sum())

    def torch_loss(self, y, F):
        return torch.nn.functional.cross_entropy(F, y.to(torch.int64))


def get_loss(name: str, output_dim: int) -> OverarchingLoss:
    classes = {"squared": SquaredLoss, "l1": AbsoluteLoss, "mad": AbsoluteLoss,
               "cross_entropy": CrossEntropyLoss, "ce": CrossEntropyLoss}
    if name not in classes:
        raise ValueError(f"unknown overarching loss {name!r}; valid: {', '.join(LOSS_NAMES)}")
    return classes[name](output_dim)
