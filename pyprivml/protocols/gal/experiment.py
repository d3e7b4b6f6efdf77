"""One GAL experiment as the seed runs it (§4.1): a data set, M organisations, a model per organisation.

:func:`gal_rank` is the role function every rank runs (rank 0 is Alice, the others assisting
organisations); it is the same under ``mpiexec`` and in-process. Each rank loads the public data set
itself and keeps only its own columns (and Alice the labels), so nothing but residuals and
predictions ever has to travel.

Defaults follow the seed's Table 1 and Table 4: cross-entropy for classification, the squared loss
for regression (evaluated by the MAD; ℓ₁ with ``recipe="authors"``), ℓ₂ local fits for
classification and ℓ₁ for regression, 10 assistance rounds, line-searched η and learned weights.

The 80/20 split (``GALSetup.split``, :data:`SPLITS`):

- ``"per-seed"`` (default): each run seed draws its own split, the first int(0.8 N) rows of
  ``numpy.random.default_rng(split_seed or seed).permutation(N)`` train (:func:`load_tabular`);
- ``"seed"``: the seed authors' split, the first int(0.8 N) rows of
  ``numpy.random.RandomState(split_seed or 0).permutation(N)``. Their data preparation seeds NumPy
  with 0 before every data set but the first, so for Iris, Diabetes, Wine and BreastCancer
  ``split_seed = 0`` is exactly their split. Blob came first and was split unseeded; its
  ``split_seed = 0`` is one fixed, documented draw by the same rule, not theirs;
- ``"random"``: a fresh, unseeded split as the authors' Blob got: ``split_seed`` is drawn from the
  operating system's entropy (by Alice, who tells the other ranks) and recorded in the result.

The same run seed then draws the feature partition and the local models' initialisation.

>>> s = GALSetup(dataset="diabetes", orgs=8, split="seed")
>>> len(s.data.y_train), len(s.data.y_test)
(353, 89)
>>> GALSetup(dataset="iris", split="authors")
Traceback (most recent call last):
...
ValueError: split must be one of 'seed', 'per-seed', 'random', got 'authors'
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property

import numpy as np
import torch

from pyprivml.data.tabular import (CSV_ONLY, TASKS, TabularData, dataset_key, raw_builtin, load_csv_table,
                                   load_tabular, split_features)

from ..config import check_choice
from .losses import get_loss
from .models import assign_models, assign_q
from .privacy import make_residual_privacy, noisy_organisations
from .protocol import ALICE, TAGS, Alice, GALConfig, LocalLearner, Organisation
from .recipe import GALRecipe, get_recipe

SPLITS = ("seed", "per-seed", "random")


def load_seed_split(name: str, split_seed: int = 0, *, csv_path=None, test_fraction: float = 0.2) -> TabularData:
    """The seed authors' 80/20 split: training rows are the first int(0.8 N) of
    ``np.random.RandomState(split_seed).permutation(N)``, the test rows the rest; then the same
    preprocessing as :func:`load_tabular` (features standardised with training statistics)."""
    key = dataset_key(name)
    if csv_path is not None:
        x, y = load_csv_table(csv_path, numeric_labels=TASKS[key] == "regression")
    elif key in CSV_ONLY:
        raise ValueError(f"{name} needs a download: pass csv_path= to the file you downloaded")
    else:
        x, y = raw_builtin(key)
    x = np.asarray(x, dtype=np.float64)
    perm = np.random.RandomState(int(split_seed)).permutation(len(x))
    x, y = x[perm], np.asarray(y)[perm]
    n_train = int(len(x) * (1.0 - test_fraction))
    x_train, x_test = x[:n_train], x[n_train:]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    if TASKS[key] == "regression":
        y, num_classes = y.astype(np.float64), 0
    else:
        _, y = np.unique(y, return_inverse=True)
        y = y.astype(np.int64)
        num_classes = int(y.max()) + 1
    return TabularData(key, TASKS[key], x_train, y[:n_train], x_test, y[n_train:], num_classes)


def torch_feature_blocks(num_features: int, num_orgs: int, seed: int = 0) -> list[np.ndarray]:
    """The authors' feature partition: ``torch.manual_seed(seed); torch.randperm(d)`` cut into blocks
    of d // M, the last organisation taking the rest (drawn from a private generator, so threads
    cannot disturb it)."""
    split_features(num_features, num_orgs)  # the same argument checks
    perm = torch.randperm(num_features, generator=torch.Generator().manual_seed(int(seed))).numpy()
    size = num_features // num_orgs
    blocks = [perm[i * size:(i + 1) * size] for i in range(num_orgs - 1)]
    return [b.astype(np.int64) for b in blocks + [perm[(num_orgs - 1) * size:]]]


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
    split_seed: int | None = None     # seed of the 80/20 split; None: see `split`
    model_options: dict = field(default_factory=dict)  # e.g. {"weight_decay": 1e-3} for torch models
    columns: list | None = field(default=None, repr=False)  # explicit feature blocks, overrides orgs
    split: str = "per-seed"           # "seed" (the authors'), "per-seed" or "random" (module docstring)
    recipe: str | GALRecipe = "ours"  # "ours" or "authors" (see .recipe)

    def __post_init__(self):
        check_choice("split", self.split, SPLITS)
        get_recipe(self.recipe)
        if self.split_seed is not None and (isinstance(self.split_seed, bool) or int(self.split_seed) < 0
                                            or int(self.split_seed) != self.split_seed):
            raise ValueError(f"split_seed must be a non-negative integer or None, got {self.split_seed!r}")

    @property
    def the_recipe(self) -> GALRecipe:
        return get_recipe(self.recipe)

    @property
    def needs_split_draw(self) -> bool:
        """A ``"random"`` split whose seed is still to be drawn."""
        return self.split == "random" and self.split_seed is None

    def resolved(self) -> "GALSetup":
        """This setup with a ``"random"`` split's seed drawn (from OS entropy); others unchanged."""
        return replace(self, split_seed=secrets.randbits(32)) if self.needs_split_draw else self

    @cached_property
    def data(self) -> TabularData:
        if self.split == "per-seed":
            split = self.seed if self.split_seed is None else self.split_seed
            return load_tabular(self.dataset, seed=split, csv_path=self.csv_path)
        if self.needs_split_draw:
            raise RuntimeError("a 'random' split has no seed yet: use setup.resolved() (gal_rank does)")
        return load_seed_split(self.dataset, 0 if self.split_seed is None else self.split_seed,
                               csv_path=self.csv_path)

    @cached_property
    def blocks(self) -> list:
        if self.columns is not None:
            return [np.asarray(c, dtype=np.int64) for c in self.columns]
        if self.the_recipe.partition == "torch":
            return torch_feature_blocks(self.data.num_features, self.orgs, seed=self.seed)
        return split_features(self.data.num_features, self.orgs, seed=self.seed)

    @property
    def num_orgs(self) -> int:
        """M, Alice included (known without loading the data: a 'random' split may not be drawn yet)."""
        return len(self.columns) if self.columns is not None else int(self.orgs)

    @property
    def loss_name(self) -> str:
        if self.loss is not None:
            return self.loss
        return self.the_recipe.regression_loss if self.data.task == "regression" else "cross_entropy"

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
                         privacy=make_residual_privacy(self.privacy, seed=self.noise_seed),
                         recipe=self.the_recipe)

    def local_options(self, name: str) -> dict:
        """The options of organisation class ``name``: the recipe's, then ``model_options``."""
        options = {"init": self.the_recipe.linear_init} if name == "linear" else {}
        return {**options, **self.model_options}

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
                                      options=self.local_options(name), **kw)

    def describe(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "columns"}
        out["recipe"] = self.the_recipe.name
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
    if setup.needs_split_draw:
        # A fresh unseeded split: Alice draws its seed and tells every organisation (a public
        # agreement on which rows are test rows, like the row alignment itself).
        if rank == ALICE:
            setup = setup.resolved()
            for m in range(1, transport.size if transport is not None else 1):
                transport.send({"stage": "split", "split_seed": int(setup.split_seed)}, m, TAGS.control)
        else:
            control, _ = transport.recv(ALICE, TAGS.control, timeout=timeout)
            if control.get("stage") != "split":
                raise ValueError(f"expected the split agreement first, got {control!r}")
            setup = replace(setup, split_seed=int(control["split_seed"]))
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
        "split": setup.split,
        "split_seed": setup.split_seed,
    }
