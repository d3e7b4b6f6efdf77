"""Stages 2 and 3 of Fig. 3 from a user's side: faceprints, verification, and fine-tuning ψ with
the commonality metric (seed 001, §III-B, eq. 8, Algorithm 3).

After bootstrapping, each user embeds its photos with ψ̂(ℓ) = ψ(ℓ)/‖ψ(ℓ)‖₂ and the users solve
MT-LMNN (:mod:`.metric`, eq. 7) for a shared W₀ and private W_k. Fine-tuning then trains ψ so that
under W₀ = L₀ᵀL₀ an anchor is nearer its positive than its negative by a margin (eq. 8, with the
anchor–negative term the printed equation garbles), by EASGD again, each step's gradient released
by the sparse vector technique (Algorithm 3, :class:`.dpsgd.SparseVectorGradient`).
"""

from __future__ import annotations

import numpy as np
import torch

from .metric import mine_triplets, triplet_loss
from .thinning import thinned

__all__ = ["normalized_features", "verification_pairs", "verify", "Triplets", "TripletLearner"]


def normalized_features(model, images, batch: int = 256) -> np.ndarray:
    """ψ̂(ℓ) = ψ(ℓ)/‖ψ(ℓ)‖₂ for every image, in eval mode (no dropout), as float64."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            f = model.features(torch.as_tensor(images[start:start + batch], dtype=torch.float32))
            out.append(torch.nn.functional.normalize(f, dim=1).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.feature_dim))


def verification_pairs(identities, rng: np.random.Generator, n_pairs: int = 300):
    """Balanced same / different identity pairs (i, j, same) of the photos, the LFW protocol's shape."""
    ids = np.asarray(identities)
    classes = [np.flatnonzero(ids == c) for c in np.unique(ids)]
    multi = [c for c in classes if len(c) >= 2]
    if not multi or len(classes) < 2:
        raise ValueError("verification needs an identity with two photos and at least two identities")
    pairs = []
    for k in range(n_pairs):
        if k % 2 == 0:
            c = multi[rng.integers(len(multi))]
            i, j = rng.choice(c, size=2, replace=False)
        else:
            i, j = rng.choice(len(ids), size=2, replace=False)
            while ids[i] == ids[j]:
                j = rng.integers(len(ids))
        pairs.append((i, j, ids[i] == ids[j]))
    a, b, same = (np.asarray(v) for v in zip(*pairs))
    return a, b, same.astype(bool)


def verify(features, identities, M, rng: np.random.Generator, n_pairs: int = 300, folds: int = 10) -> float:
    """Verification accuracy of the metric M on the photos: balanced pairs, a threshold chosen on
    nine folds and tested on the tenth (:func:`.data.verification_accuracy`), mean over folds."""
    from .data import verification_accuracy

    a, b, same = verification_pairs(identities, rng, n_pairs)
    diff = features[a] - features[b]
    distances = np.einsum("ij,jk,ik->i", diff, np.asarray(M, dtype=np.float64), diff)
    fold = np.arange(len(same)) % folds
    return float(verification_accuracy(distances, same, fold).mean)


class Triplets(torch.nn.Module):
    """ψ applied to (B, 3, C, H, W) triples: (B, 3, d) features, so that per-sample gradients
    (:func:`.dpsgd.per_sample_gradients`) treat one triplet as one sample."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        b = x.shape[0]
        return self.net.features(x.reshape(b * 3, *x.shape[2:])).reshape(b, 3, -1)


class TripletLearner:
    """A user's x^k for the fine-tuning EASGD run: the shared parameters of its model, and one
    triplet step (eq. 8 under the commonality metric's factor L₀) per tick, with ϕ frozen and the
    gradient released by Algorithm 3 when ``svt`` is given (else plain SGD)."""

    def __init__(self, base, L0, labels, images, *, lr: float, batch: int, margin: float, svt=None, seed: int = 0):
        self.base, self.model = base, base.model           # shared()/load_shared() of the bootstrap learner
        self.images = torch.as_tensor(images, dtype=torch.float32)
        self.labels = np.asarray(labels)
        self.L0 = torch.as_tensor(np.asarray(L0), dtype=torch.float32)
        self.batch, self.margin, self.svt = batch, margin, svt
        self.rng = np.random.default_rng(seed)
        for p in self.model.phi.parameters():
            p.requires_grad_(False)                        # "freezing ϕ and training ψ at a lower rate"
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(self.params, lr=lr)
        self.wrapped = Triplets(self.model)

    def shared(self):
        return self.base.shared()

    def load_shared(self, x):
        self.base.load_shared(x)

    def _loss(self, out, _target):
        return triplet_loss(out[:, 0], out[:, 1], out[:, 2], self.L0, self.margin, normalize=True,
                            check=self.svt is None)   # per-sample gradients (vmap) cannot run the checks

    def step(self, tick, units) -> float:
        # random triplets need only the labels (the features argument is for "semihard" mining)
        a, p, n = mine_triplets(np.zeros((len(self.labels), 1)), self.labels, self.rng, self.batch)
        triples = torch.stack([self.images[a], self.images[p], self.images[n]], dim=1)   # (B, 3, C, H, W)
        self.model.train()
        masks = None if units is None else self.base.thinning.split(units)
        self.optimizer.zero_grad(set_to_none=True)
        with thinned(self.model, masks):
            if self.svt is None:
                loss = self._loss(self.wrapped(triples), None)
                loss.backward()
                value = float(loss.detach())
            else:
                names = [f"net.{k}" for k, v in self.model.named_parameters() if v.requires_grad]
                value = self.svt.backward(self.wrapped, self._loss, triples, torch.zeros(len(a)), names)
        self.optimizer.step()
        return value

    def epsilon(self) -> float:
        return 0.0 if self.svt is None else float(self.svt.epsilon_spent())
