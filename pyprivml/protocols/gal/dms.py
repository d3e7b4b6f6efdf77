"""Deep model sharing, GAL_DMS (seed 003, §4.2).

A deep organisation keeps one feature extractor f_{m,e} for all rounds and one small output layer
f_{m,o}^t per round. At round t it trains the extractor and every head jointly on all residuals it
has received so far, ``f_m^{1:t} = argmin E_N ℓ(r^{1:t}, f_{m,o}^{1:t}(f_{m,e}(x_m)))``, and the round-t
model is ``f_{m,o}^t ∘ f_{m,e}``. Memory is one extractor instead of T networks; the price is that a
shared extractor may fit many rounds' residuals less well (the seed's trade-off, Table 2).

>>> import numpy as np
>>> x = np.random.default_rng(0).standard_normal((32, 3)); dms = DeepModelSharing("mlp", epochs=20)
>>> f1 = dms.fit_round(x, x[:, :1]); f2 = dms.fit_round(x, -x[:, :1])
>>> f1.predict(x).shape, len(dms.heads)
((32, 1), 2)
"""

from __future__ import annotations

import numpy as np
import torch

from .losses import check_q, lq_loss
from .models import CNNModel, MLPModel


class _RoundModel:
    """The round-t model: head t on top of the shared extractor (as it is now)."""

    def __init__(self, owner: "DeepModelSharing", t: int):
        self.owner, self.t = owner, t

    def predict(self, x) -> np.ndarray:
        with torch.no_grad():
            return self.owner.heads[self.t](self.owner.features(x)).numpy()


class DeepModelSharing:
    """One shared extractor (the body of an ``mlp`` or ``cnn`` local model) plus a head per round."""

    def __init__(self, name: str = "mlp", q: float = 2.0, seed: int = 0, epochs: int = 200,
                 lr: float = 1e-2, weight_decay: float = 1e-4, **options):
        if name not in ("mlp", "cnn"):
            raise ValueError(f"deep model sharing needs a neural local model ('mlp' or 'cnn'), got {name!r}")
        self.template = (MLPModel if name == "mlp" else CNNModel)(q=q, seed=seed, **options)
        self.q, self.seed, self.epochs, self.lr, self.weight_decay = check_q(q), seed, epochs, lr, weight_decay
        self.extractor: torch.nn.Module | None = None
        self.heads = torch.nn.ModuleList()
        self.residuals: list = []

    def features(self, x) -> torch.Tensor:
        return self.extractor(self.template._inputs(x))

    def fit_round(self, x, r) -> _RoundModel:
        xt = self.template._inputs(x)
        r = torch.as_tensor(np.asarray(r, dtype=np.float64).reshape(len(r), -1))
        torch.manual_seed(self.seed + len(self.heads))
        if self.extractor is None:
            net = self.template._build(xt, r.shape[1]).double()
            self.extractor = net[:-1]  # everything but the last linear layer
            width = net[-1].in_features
        else:
            width = self.heads[0].in_features
        self.heads.append(torch.nn.Linear(width, r.shape[1]).double())
        self.residuals.append(r)
        params = list(self.extractor.parameters()) + list(self.heads.parameters())
        opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        for _ in range(self.epochs):
            opt.zero_grad()
            z = self.extractor(xt)
            loss = sum(lq_loss(rs, head(z), self.q) for rs, head in zip(self.residuals, self.heads))
            loss.backward()
            opt.step()
        return _RoundModel(self, len(self.heads) - 1)
