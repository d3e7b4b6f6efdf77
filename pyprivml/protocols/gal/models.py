"""Local model classes F_m of the organisations (seed 003, §4.1 'Model autonomy', eq. 3).

Every organisation picks its own class and its own regression loss ℓ_q and solves eq. (3),
``f_m = argmin_{f ∈ F_m} E_N ℓ_q(r, f(x_m))``, on the residuals Alice broadcasts. A model here is
anything with ``fit(x, r) -> self`` and ``predict(x) -> (n, K) array``; nobody but its organisation
ever sees it.

- ``linear``: f(x) = xW + b fitted in torch on ℓ_q, by the seed's full-batch SGD (100 epochs) or
  by L-BFGS;
- ``mlp``: a two-layer perceptron (torch, Adam on ℓ_q);
- ``cnn``: a small convolutional network (torch); a tabular row is read as a 1-channel sequence,
  an image patch (n, C, H, W) as an image;
- ``gb``: scikit-learn gradient boosting, one booster per output; q = 2 is the squared error,
  q = 1 the absolute error (the two ℓ_q scikit-learn boosting offers);
- ``tree``: one scikit-learn regression tree per output (depth 3), the classical booster's base
  learner: with it and one organisation GAL is scikit-learn's gradient boosting;
- ``svm``: scikit-learn's RBF support vector regression, one per output. Its ε-insensitive loss is
  an ℓ₁-type loss fixed by the method, so q does not change it (stated, not silently dropped:
  :func:`make_model` says so in ``LocalModelSpec.describe``).

Mixtures such as ``gb-svm`` assign the classes in turn: organisation m gets ``names[m % len(names)]``
(the seed's 'GB-SVM': half GB, half SVM).

>>> import numpy as np
>>> x = np.arange(12.0).reshape(6, 2); r = x @ np.array([[1.0], [-2.0]]) + 0.5
>>> m = make_model("linear", q=2.0, seed=0, weight_decay=0.0, optimizer="lbfgs").fit(x, r)
>>> bool(np.allclose(m.predict(x), r, atol=1e-4))
True
>>> assign_models("gb-svm", 4)
['gb', 'svm', 'gb', 'svm']
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

from .losses import check_q, lq_loss

MODEL_NAMES = ("linear", "mlp", "cnn", "gb", "svm", "tree")


def _as_2d(r: np.ndarray) -> np.ndarray:
    r = np.asarray(r, dtype=np.float64)
    return r.reshape(len(r), -1)


class TorchModel(ABC):
    """Common fitting loop of the torch models: full batch, ℓ_q loss, float64."""

    def __init__(self, q: float = 2.0, seed: int = 0, weight_decay: float = 1e-4):
        self.q = check_q(q)
        self.seed = seed
        self.weight_decay = weight_decay
        self.net: torch.nn.Module | None = None

    @abstractmethod
    def _build(self, x: torch.Tensor, out_dim: int) -> torch.nn.Module:
        """The untrained network for inputs like ``x`` and ``out_dim`` outputs."""

    def _inputs(self, x) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float64))

    def _objective(self, x, r):
        loss = lq_loss(r, self.net(x), self.q)
        if self.weight_decay:
            loss = loss + self.weight_decay * sum((p * p).sum() for n, p in self.net.named_parameters()
                                                  if "weight" in n)
        return loss

    def fit(self, x, r):
        xt, rt = self._inputs(x), torch.as_tensor(_as_2d(r))
        torch.manual_seed(self.seed)  # the network's initial weights, reproducibly
        self.net = self._build(xt, rt.shape[1]).double()
        self._optimise(xt, rt)
        return self

    def _optimise(self, x, r):
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        for _ in range(self.epochs):
            opt.zero_grad()
            loss = self._objective(x, r)
            loss.backward()
            opt.step()

    def predict(self, x) -> np.ndarray:
        if self.net is None:
            raise RuntimeError("predict() before fit()")
        with torch.no_grad():
            return self.net(self._inputs(x)).numpy()


class LinearModel(TorchModel):
    """f(x) = xW + b on ℓ_q.

    ``optimizer="sgd"`` (default) is the seed's published recipe for its linear local models on the
    UCI tables: full batch (the seed's batch of 1024 holds every training row), SGD with learning rate
    0.1, momentum 0.9 and weight decay 5e-4 (torch's, on every parameter), gradient norm clipped at 1,
    ``epochs = 100`` local epochs with the rate cut tenfold after epoch 50. ``init="zero"`` (ours)
    starts from W = 0, b = 0; ``init="default"`` (the authors' code) from torch's ``nn.Linear``
    initialisation, drawn from ``seed``. ``optimizer="lbfgs"`` solves eq. (3) to convergence (for
    exact tests).
    """

    INITS = ("zero", "default")

    def __init__(self, q=2.0, seed=0, weight_decay=5e-4, optimizer: str = "sgd", epochs: int = 100,
                 lr: float = 0.1, milestones: tuple = (50, 100), max_iter: int = 200, init: str = "zero"):
        super().__init__(q, seed, weight_decay)
        if optimizer not in ("sgd", "lbfgs"):
            raise ValueError(f"linear model optimizer must be 'sgd' or 'lbfgs', got {optimizer!r}")
        if epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs}")
        if init not in self.INITS:
            raise ValueError(f"linear model init must be 'zero' or 'default' (torch's), got {init!r}")
        self.optimizer, self.epochs, self.lr, self.max_iter = optimizer, epochs, lr, max_iter
        self.milestones, self.init = tuple(milestones), init

    def _build(self, x, out_dim):
        net = torch.nn.Linear(x.shape[1], out_dim)
        if self.init == "zero":
            torch.nn.init.zeros_(net.weight)
            torch.nn.init.zeros_(net.bias)
        else:
            # torch's nn.Linear.reset_parameters (Kaiming-uniform with a = √5, i.e. U(±1/√fan_in) for
            # W and b), drawn from this model's own generator: organisations fit in threads of one
            # process, and the global RNG seeded in fit() could be reseeded by another thread.
            g = torch.Generator().manual_seed(int(self.seed))
            bound = 1.0 / np.sqrt(x.shape[1])
            with torch.no_grad():
                torch.nn.init.uniform_(net.weight, -bound, bound, generator=g)
                torch.nn.init.uniform_(net.bias, -bound, bound, generator=g)
        return net

    def _optimise(self, x, r):
        if self.optimizer == "sgd":
            opt = torch.optim.SGD(self.net.parameters(), lr=self.lr, momentum=0.9,
                                  weight_decay=self.weight_decay)
            schedule = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(self.milestones), gamma=0.1)
            for _ in range(self.epochs):
                opt.zero_grad()
                lq_loss(r, self.net(x), self.q).backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                opt.step()
                schedule.step()
            return
        opt = torch.optim.LBFGS(self.net.parameters(), lr=1.0, max_iter=self.max_iter,
                                tolerance_grad=1e-10, tolerance_change=1e-12,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = self._objective(x, r)
            loss.backward()
            return loss

        opt.step(closure)


class MLPModel(TorchModel):
    def __init__(self, q=2.0, seed=0, weight_decay=1e-4, hidden: int = 64, epochs: int = 300,
                 lr: float = 1e-2):
        super().__init__(q, seed, weight_decay)
        self.hidden, self.epochs, self.lr = hidden, epochs, lr

    def _build(self, x, out_dim):
        return torch.nn.Sequential(torch.nn.Linear(x.shape[1], self.hidden), torch.nn.ReLU(),
                                   torch.nn.Linear(self.hidden, out_dim))


class CNNModel(TorchModel):
    """Two convolutions, global average pooling, one linear layer (a scaled-down Table 8 CNN)."""

    def __init__(self, q=2.0, seed=0, weight_decay=1e-4, channels: int = 16, epochs: int = 200,
                 lr: float = 1e-2):
        super().__init__(q, seed, weight_decay)
        self.channels, self.epochs, self.lr = channels, epochs, lr

    def _inputs(self, x):
        x = torch.as_tensor(np.asarray(x, dtype=np.float64))
        return x.unsqueeze(1) if x.dim() == 2 else x  # a tabular row as a 1-channel sequence

    def _build(self, x, out_dim):
        conv = torch.nn.Conv1d if x.dim() == 3 else torch.nn.Conv2d
        pool = torch.nn.AdaptiveAvgPool1d(1) if x.dim() == 3 else torch.nn.AdaptiveAvgPool2d(1)
        c = self.channels
        return torch.nn.Sequential(conv(x.shape[1], c, 3, padding=1), torch.nn.ReLU(),
                                   conv(c, 2 * c, 3, padding=1), torch.nn.ReLU(), pool,
                                   torch.nn.Flatten(), torch.nn.Linear(2 * c, out_dim))


class SklearnModel:
    """One scikit-learn regressor per output column of r."""

    def __init__(self, make_estimator):
        self.make_estimator = make_estimator
        self.estimators = None

    def fit(self, x, r):
        r = _as_2d(r)
        x = np.asarray(x, dtype=np.float64).reshape(len(r), -1)
        self.estimators = [self.make_estimator().fit(x, r[:, k]) for k in range(r.shape[1])]
        return self

    def predict(self, x):
        if self.estimators is None:
            raise RuntimeError("predict() before fit()")
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        return np.stack([e.predict(x) for e in self.estimators], axis=1)


def _gb(q, seed):
    from sklearn.ensemble import GradientBoostingRegressor

    losses = {1.0: "absolute_error", 2.0: "squared_error"}
    if q not in losses:
        raise ValueError(f"gradient boosting (scikit-learn) offers ℓ_q for q in (1, 2) only, got q={q}")
    return SklearnModel(lambda: GradientBoostingRegressor(loss=losses[q], n_estimators=50, max_depth=3,
                                                          random_state=seed))


def _tree(q, seed, max_depth: int = 3):
    from sklearn.tree import DecisionTreeRegressor

    criteria = {1.0: "absolute_error", 2.0: "squared_error"}
    if q not in criteria:
        raise ValueError(f"a regression tree (scikit-learn) offers ℓ_q for q in (1, 2) only, got q={q}")
    return SklearnModel(lambda: DecisionTreeRegressor(criterion=criteria[q], max_depth=max_depth,
                                                      random_state=seed))


def _svm(q, seed):
    from sklearn.svm import SVR

    return SklearnModel(lambda: SVR(kernel="rbf", C=1.0, epsilon=0.1))


@dataclass(frozen=True)
class LocalModelSpec:
    """What one organisation uses: model class name and its ℓ_q."""

    name: str
    q: float = 2.0

    def describe(self) -> str:
        if self.name == "svm":
            return "svm (ε-insensitive loss; q does not apply)"
        return f"{self.name} (ℓ_{self.q:g})"


def make_model(name: str, q: float = 2.0, seed: int = 0, **options):
    """A fresh, unfitted local model of class ``name`` with regression loss ℓ_q."""
    q = check_q(q)
    if name == "linear":
        return LinearModel(q, seed, **options)
    if name == "mlp":
        return MLPModel(q, seed, **options)
    if name == "cnn":
        return CNNModel(q, seed, **options)
    if name == "gb":
        return _gb(q, seed)
    if name == "svm":
        return _svm(q, seed)
    if name == "tree":
        return _tree(q, seed, **options)
    raise ValueError(f"unknown local model {name!r}; valid: {', '.join(MODEL_NAMES)} or a mixture "
                     f"such as 'gb-svm'")


def assign_models(spec: str, num_orgs: int) -> list[str]:
    """Model class per organisation from ``'linear'`` or a mixture ``'gb-svm'`` (taken in turn)."""
    names = spec.lower().split("-")
    for n in names:
        if n not in MODEL_NAMES:
            raise ValueError(f"unknown local model {n!r} in {spec!r}; valid: {', '.join(MODEL_NAMES)}")
    return [names[m % len(names)] for m in range(num_orgs)]


def assign_q(spec, num_orgs: int) -> list[float]:
    """ℓ_q per organisation: one q for all, or a pair (q₁, q₂) for the two halves (Table 4)."""
    qs = [spec] if np.isscalar(spec) else list(spec)
    if not 1 <= len(qs) <= 2:
        raise ValueError(f"give one q or a pair (q1, q2), got {spec!r}")
    qs = [check_q(q) for q in qs]
    half = (num_orgs + 1) // 2
    return [qs[0] if (m < half or len(qs) == 1) else qs[1] for m in range(num_orgs)]
