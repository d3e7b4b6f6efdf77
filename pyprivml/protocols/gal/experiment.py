"""One GAL experiment as the seed runs it (§4.1): a data set, M organisations, a model per organisation.

:func:`gal_rank` is the role function every rank runs (rank 0 is Alice, the others assisting
organisations); it is the same under ``mpiexec`` and in-process. Each rank loads the public data set
itself and keeps only its own columns (and Alice the labels), so nothing but residuals and
predictions ever has to travel.

Defaults follow the seed's Table 1 and Table 4: cross-entropy for classification, the squared loss
for regression (evaluated by the MAD), ℓ₂ local fits for classification and ℓ₁ for regression,
10 assistance rounds, line-searched η and learned weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np

from pyprivml.data.tabular import TabularData, load_tabular, split_features

from .losses import get_loss
from .models import assign_models, assign_q
from .privacy import make_residual_privacy, noisy_organisations
from .protocol import Alice, GALConfig, LocalLearner, Organisation


@dataclass
class GALSetup:
    """Everything needed to rebuild one run on any rank (plain values, so it pickles and prints)."""

    dataset: str = "diabetes"
    orgs: int = 8
    model: str = "linear"
    rounds: int = 10
    seed: int = 0
    loss: str | None = None           # None: squared (regression) or cross_entropy (classification)
    q: float | tuple | None = None    # one ℓ_q for all, (q1, q2) for the two halves; None: by task
    alice_q: float | None = None      # ℓ_q of the weight fit; None: Alice's own local ℓ_q
    weighting: str = "learned"
    eta: str | float = "line_search"
    privacy: str | None = None        # None, "dp" or "ip" (Table 5)
    noise_sigma: float = 0.0          # Table 6: N(0, σ²) on half of the organisations' outputs
    noise_seed: int | None = None     # None: privacy/robustness noise from a CSPRNG; int: reproducible
    dms: bool = False                 # deep model sharing for mlp / cnn organisations
    csv_path: str | None = None
    split_seed: int | None = None     # seed of the 80/20 split; None: the run's seed
    model_options: dict = field(default_factory=dict)  # e.g. {"weight_decay": 1e-3} for torch models
    columns: list | None = field(default=None, repr=False)  # explicit feature blocks, overrides orgs

    @cached_property
    def data(self) -> TabularData:
        split = self.seed if self.split_seed is None else self.split_seed
        return load_tabular(self.dataset, seed=split, csv_path=self.csv_path)

    @cached_property
    def blocks(self) -> list:
        if self.columns is not None:
            return [np.asarray(c, dtype=np.int64) for c in self.columns]
        return split_features(self.data.num_features, self.orgs, seed=self.seed)

    @property
    def num_orgs(self) -> int:
        return len(self.blocks)

    @property
    def loss_name(self) -> str:
        if self.loss is not None:
            return self.loss
        return "squared" if self.data.task == "regression" else "cross_entropy"

    @property
    def local_q(self) -> float | tuple:
        """The organisations' ℓ_q. Default by task, as in the seed's Table 1: ℓ₁ for regression (Table 1's
        Diabetes/BostonHousing GAL entries are Table 4's ℓ₁ row, and the seed's code makes ℓ₁ the
        regression default), ℓ₂ for classification (Table 4's ℓ₂ row)."""
        if self.q is not None:
            return self.q
        return 1.0 if self.data.task == "regression" else 2.0

    @property
    def weights_q(self) -> float:
        """Algorithm 1 fits ŵ with ℓ₁, Alice's (organisation 1's) own local loss."""
        return assign_q(self.local_q, self.num_orgs)[0] if self.alice_q is None else self.alice_q

    def config(self) -> GALConfig:
        return GALConfig(rounds=self.rounds, loss=self.loss_name, alice_q=self.weights_q,
                         weighting=self.weighting, eta=self.eta,
                         privacy=make_residual_privacy(self.privacy, seed=self.noise_seed))

    def learner(self, m: int) -> LocalLearner:
        """Organisation m's private side: its columns only, its model class and ℓ_q."""
        cols = self.blocks[m]
        d = self.data
        name = assign_models(self.model, self.num_orgs)[m]
        q = assign_q(self.local_q, self.num_orgs)[m]
        noisy = self.noise_sigma > 0 and m in noisy_organisations(self.num_orgs, self.seed)
        columns = {"train": d.x_train[:, cols], "test": d.x_test[:, cols]}
        kw = dict(output_noise=self.noise_sigma if noisy else 0.0,
                  noise_seed=None if self.noise_seed is None else self.noise_seed * 7919 + m)
        if self.dms:
            from .dms import DeepModelSharing

            return LocalLearner(columns, DeepModelSharing(name, q=q, seed=self.seed * 1000 + m), **kw)
        return LocalLearner.from_spec(columns, name, q=q, seed=self.seed * 1000 + m,
                                      options=self.model_options, **kw)

    def describe(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "columns"}
        out["blocks"] = [b.tolist() for b in self.blocks]
        out["loss"] = self.loss_name
        out["q"], out["alice_q"] = self.local_q, self.weights_q
        return out


def metric(data: TabularData, F: np.ndarray) -> float:
    """Table 1's measure: MAD for regression (↓), accuracy in % for classification (↑)."""
    if data.task == "regression":
        return float(np.mean(np.abs(F.reshape(-1) - data.y_test)))
    return float(100.0 * np.mean(F.argmax(axis=1) == data.y_test))


def metric_name(data: TabularData) -> str:
    return "MAD" if data.task == "regression" else "accuracy"


def gal_rank(transport, setup: GALSetup, progress=None, timeout: float | None = None):
    """Run this rank's role; Alice (rank 0) returns the run's summary, the others ``None``."""
    if transport is not None and transport.size != setup.num_orgs:
        raise ValueError(f"{setup.num_orgs} organisations need {setup.num_orgs} ranks, got {transport.size}")
    rank = 0 if transport is None else transport.rank
    learner = setup.learner(rank)
    if rank != 0:
        Organisation(transport, learner).serve(timeout=timeout)
        return None
    data = setup.data
    alice = Alice(transport, learner, data.y_train, get_loss(setup.loss_name, data.output_dim),
                  setup.config())
    try:
        result = alice.learn(progress=progress)
        F_test = alice.predict("test")
    finally:
        if alice.orgs:
            alice.stop()
    test_metric = [metric(data, F) for F in F_test]
    return {
        "metric": metric_name(data),
        "test_metric": test_metric[-1],
        "test_metric_per_round": test_metric,
        "train_loss_per_round": [h.loss for h in result.history],
        "eta_per_round": result.etas,
        "weights_per_round": [w.tolist() for w in result.weights],
        "round_seconds": [h.seconds for h in result.history],
    }
