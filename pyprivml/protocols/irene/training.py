"""Irene over the transports: the three training stages of Fig. 3 (seed 001, §III).

Rank 0 is the parameter server (and MT-LMNN's coordinator); ranks 1..k are the users. Each user
holds a private photo collection tagged with identity strings of its own choosing, a copy of ψ_g
and ϕ, and its own ψ_l (Fig. 2). The stages, separated by barriers:

1. ``bootstrap`` (§III-A, §III-C): ϕ ∘ ψ by asynchronous EASGD (Algorithm 1, :mod:`.easgd`) with
   the dropout-thinned exchange; every local step is one EM-like round of noisy bootstrapping
   (:mod:`.bootstrap`, eq. 2) on gradients made private by Algorithm 2 (:mod:`.dpsgd`).
2. ``metric`` (§III-B): each user embeds its photos (ψ̂ = ψ/‖ψ‖) and the users solve MT-LMNN
   (eq. 7, :mod:`.metric`) with the coordinator, exchanging only W₀: the commonality metric W₀
   and each user's private M_k = W₀ + W_k.
3. ``tune`` (eq. 8): ψ fine-tuned under W₀ by the triplet loss, again by EASGD, each gradient
   released by the sparse vector technique (Algorithm 3) (:mod:`.tuning`).

What crosses the transport: EASGD's thinned parameters, elastic differences and control dicts;
MT-LMNN's W₀ copies and the coordinator's targets; and at the end each user's summary (held-out
accuracy, verification accuracies, the (ε, δ) it spent, tag statistics: scalars, so the report
can show them). Never images, tags, faceprints, W_k or ψ_l.

>>> from pyprivml.protocols.irene.training import IreneConfig, run_irene
>>> from pyprivml.protocols.irene.data import load_digits_identities
>>> cfg = IreneConfig(users=2, ticks=6, period=3, batch=16, dp=False, seed=0)
>>> result = run_irene(load_digits_identities(), cfg, stages=("bootstrap",), transport="inprocess")
>>> sorted(result.bootstrap.applied.items())        # each user exchanged at ticks 0 and 3
[(1, 2), (2, 2)]
>>> set(result.users[0]) >= {"accuracy", "epsilon", "collisions"}
True
"""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass, field

import numpy as np

from ...comm import launch
from ..config import check_choice, check_int, check_real
from ..tags import tags_for
from .easgd import SERVER, EASGDConfig, easgd_server, easgd_user
from .thinning import ModelThinning, thinned

__all__ = ["IreneConfig", "TorchLearner", "IreneResult", "STAGES", "run_irene", "irene_role"]

TAGS = tags_for("irene")


@dataclass(frozen=True, kw_only=True)
class IreneConfig(EASGDConfig):
    """One Irene run: EASGD's β, λ, ticks and thinning dropout, and the users' learning
    (η = ``lr``; ``momentum`` > 0 runs EAMSGD, the momentum variant of Algorithm 1 in [12]).

    Bootstrapping: ``alpha`` weighs eq. 2 (1: plain cross entropy); ``tag_noise`` the fraction of
    tags replaced by random ones (§IV-D); ``classes`` n of ϕ (None: twice the number of
    identities, so that SHA-1 tags rarely collide); ``dp`` turns on Algorithm 2 with
    (``epsilon``, ``delta``) per batch and clipping ``clip`` (γ₁). Metric: ``feature_dim`` d of
    ψ, ``metric_k`` target neighbours, ``metric_rounds`` MT-LMNN exchanges. Tuning: ``tune_ticks``
    EASGD ticks of ``tune_batch`` triplets at rate ``tune_lr`` with ``margin``; under ``dp``
    Algorithm 3 with (``tune_epsilon``, ``tune_delta``) per batch (§IV-C) and its γ₂, γ₃, γ₄
    defaults (:mod:`.dpsgd`). ``save_dir``: each user writes its model, metric and tagged
    collection there (``user<rank>.pt``, for ``pyprivml irene tag``).
    """

    users: int = 4
    model: str = "cnn"
    feature_dim: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    batch: int = 32
    alpha: float = 0.9
    tag_noise: float = 0.0
    classes: int | None = None
    dp: bool = True
    epsilon: float = 0.5
    delta: float = 1e-3
    clip: float = 0.01                     # γ₁ of §IV-H
    test_fraction: float = 0.25
    metric_k: int = 2
    metric_rounds: int = 30
    tune_ticks: int = 20
    tune_lr: float = 0.01
    tune_batch: int = 32
    margin: float = 0.5
    tune_epsilon: float = 1.0
    tune_delta: float = 1e-3
    save_dir: str | None = None

    def validate(self) -> None:
        super().validate()
        check_int("users", self.users, minimum=1)
        check_choice("model", self.model, ("cnn", "vgg"))
        for name in ("feature_dim", "batch", "metric_k", "metric_rounds", "tune_ticks", "tune_batch"):
            check_int(name, getattr(self, name), minimum=1)
        for name in ("lr", "tune_lr", "margin"):
            check_real(name, getattr(self, name), positive=True)
        check_real("momentum", self.momentum, non_negative=True)
        if not self.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        check_real("alpha", self.alpha, positive=True)
        if self.alpha > 1:
            raise ValueError(f"alpha (eq. 2's weight of the tags) must lie in (0, 1], got {self.alpha!r}")
        check_real("tag_noise", self.tag_noise, non_negative=True)
        if self.tag_noise > 1:
            raise ValueError(f"tag_noise must lie in [0, 1], got {self.tag_noise!r}")
        check_int("classes", self.classes, minimum=2, allow_none=True)
        if self.dp:
            from ...dp import check_epsilon_delta

            check_epsilon_delta(self.epsilon, self.delta)
            check_epsilon_delta(self.tune_epsilon, self.tune_delta)
            check_real("clip", self.clip, positive=True, hint="γ₁ of Algorithm 2")
        check_real("test_fraction", self.test_fraction, positive=True)
        if not self.test_fraction < 1:
            raise ValueError(f"test_fraction must lie in (0, 1), got {self.test_fraction!r}")


class TorchLearner:
    """A user's x^k for :func:`.easgd.easgd_user`: the shared parameters of its model as one
    float32 vector, and one bootstrapping step (E-step, M-step, Algorithm 2 if private) per tick."""

    def __init__(self, model, images, targets, config: IreneConfig, thinning: ModelThinning, *, seed: int):
        import torch

        from .dpsgd import DPGradient

        self.model, self.cfg, self.thinning = model, config, thinning
        self.images = torch.as_tensor(images, dtype=torch.float32)
        self.targets = torch.as_tensor(targets, dtype=torch.long)
        # momentum = 0 is Algorithm 1's plain SGD step; > 0 is EAMSGD, the momentum variant of [12].
        self.optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.dp = (DPGradient(config.clip, config.epsilon, config.delta, dataset_size=len(self.targets),
                              batch_size=min(config.batch, len(self.targets)))
                   if config.dp else None)
        self.changed = 0

    @staticmethod
    def flatten(model) -> np.ndarray:
        """The shared parameters (ψ_g, ϕ) of ``model`` as one float32 vector, in a fixed order."""
        import torch

        with torch.no_grad():
            return torch.cat([p.detach().reshape(-1) for p in model.shared_parameters().values()]
                             ).numpy().astype(np.float32, copy=True)

    def shared(self) -> np.ndarray:
        return self.flatten(self.model)

    def load_shared(self, x) -> None:
        import torch

        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        start = 0
        with torch.no_grad():
            for p in self.model.shared_parameters().values():
                p.copy_(x[start:start + p.numel()].reshape(p.shape))
                start += p.numel()

    def step(self, tick, units) -> float:
        from .bootstrap import bootstrap_step

        batch = self.rng.choice(len(self.targets), size=min(self.cfg.batch, len(self.targets)), replace=False)
        self.model.train()
        masks = None if units is None else self.thinning.split(units)
        with thinned(self.model, masks):
            done = bootstrap_step(self.model, self.optimizer, self.images[batch], self.targets[batch],
                                  self.cfg.alpha, dp=self.dp, generator=self.generator)
        self.changed += done.changed
        return done.loss

    def accuracy(self, images, targets) -> float:
        import torch

        self.model.eval()
        with torch.no_grad():
            pred = self.model(torch.as_tensor(images, dtype=torch.float32)).argmax(1).numpy()
        return float(np.mean(pred == np.asarray(targets)))

    def epsilon(self) -> float:
        return 0.0 if self.dp is None else float(self.dp.epsilon_spent())


STAGES = ("bootstrap", "metric", "tune")


@dataclass
class IreneResult:
    """The server's view of a run: each EASGD stage's :class:`~.easgd.ServerResult`, the MT-LMNN
    coordinator's result, every user's summary, the server's traffic per phase and the seconds."""

    bootstrap: object = None
    metric: object = None
    tune: object = None
    users: list = field(default_factory=list)
    config: IreneConfig | None = None
    bytes: dict = field(default_factory=dict)
    seconds: float = 0.0


def _user_data(faceset, config: IreneConfig, user: int):
    """User ``user``'s private collection (:func:`.data.split_users`), split by views into the
    photos it trains on and held-out photos of the same identities."""
    from .data import split_users, train_test_split

    seed = config.seed or 0
    mine = split_users(faceset, config.users, seed=seed)[user - 1]
    return train_test_split(mine, config.test_fraction, seed=seed * 1000 + user)


def _check_stages(stages) -> tuple:
    stages = tuple(stages)
    if not stages or any(s not in STAGES for s in stages) or list(stages) != sorted(stages, key=STAGES.index):
        raise ValueError(f"stages must be a non-empty ordered selection of {STAGES}, got {stages!r}")
    if "tune" in stages and "metric" not in stages:
        raise ValueError("the tune stage needs the metric stage before it (it tunes under MT-LMNN's W0)")
    return stages


def _server(transport, model, config: IreneConfig, stages, progress) -> IreneResult:
    from .metric import mtlmnn_coordinator

    thinning = ModelThinning(model)
    centre = TorchLearner.flatten(model)
    result = IreneResult(config=config)
    if "bootstrap" in stages:
        result.bootstrap = easgd_server(transport, centre, config, thinning, progress=progress)
        centre = result.bootstrap.centre
        transport.barrier()
    if "metric" in stages:
        result.metric = mtlmnn_coordinator(transport, config.users, _metric_config(config))
        transport.barrier()
    if "tune" in stages:
        result.tune = easgd_server(transport, centre, config.replace(ticks=config.tune_ticks), thinning)
        transport.barrier()
    with transport.in_phase("summary"):
        result.users = [transport.recv(u, TAGS.stage, timeout=config.timeout)[0] for u in range(1, transport.size)]
    return result


def _metric_config(config: IreneConfig):
    from .metric import MTLMNNConfig

    return MTLMNNConfig(k=config.metric_k, rounds=config.metric_rounds, timeout=config.timeout)


def _user(transport, model, spec: dict, faceset, config: IreneConfig, stages, n_classes: int) -> dict:
    import torch

    from .dpsgd import SparseVectorGradient
    from .identity import TagSpace, add_tag_noise
    from .metric import metric_factor, mtlmnn_user
    from .tuning import TripletLearner, normalized_features, verify

    seed, rank = config.seed or 0, transport.rank
    torch.manual_seed(seed * 1000 + rank)
    for p in model.local_parameters().values():      # ψ_l is the user's own (Fig. 2)
        torch.nn.init.normal_(p, std=0.05)
    train, test = _user_data(faceset, config, rank)
    space = TagSpace(n_classes, key=b"irene-preshared")
    tags = train.tags                                # the identity strings this user chose
    noisy = add_tag_noise(tags, config.tag_noise, np.random.default_rng(seed * 1000 + rank))
    targets = space.indices(noisy.tags)
    thinning = ModelThinning(model)
    learner = TorchLearner(model, train.images, targets, config, thinning, seed=seed * 1000 + rank)
    rng = np.random.default_rng(seed * 1000 + rank)
    summary = {"user": rank, "photos": len(train), "collisions": space.collisions(sorted(set(tags))),
               "noisy_tags": int(noisy.changed.sum())}
    if "bootstrap" in stages:
        easgd_user(transport, learner, config, thinning)
        transport.barrier()
        summary.update(accuracy=learner.accuracy(test.images, space.indices(test.tags)),
                       epsilon=learner.epsilon(), delta=config.delta if config.dp else 0.0,
                       tags_changed=learner.changed)
    if "metric" in stages:
        features = normalized_features(model, train.images)
        mine = mtlmnn_user(transport, features, targets, _metric_config(config))   # sends only W₀
        transport.barrier()
        held_out = normalized_features(model, test.images)
        identity = np.eye(held_out.shape[1])
        summary.update(verification_euclidean=verify(held_out, test.identities, identity, rng),
                       verification_own_metric=verify(held_out, test.identities, mine.M, rng),
                       verification_commonality=verify(held_out, test.identities, mine.W0, rng))
    if "tune" in stages:
        svt = (SparseVectorGradient(epsilon=config.tune_epsilon, delta=config.tune_delta,
                                    batch_size=config.tune_batch) if config.dp else None)
        tuner = TripletLearner(learner, metric_factor(mine.W0), targets, train.images,
                               lr=config.tune_lr, batch=config.tune_batch, margin=config.margin, svt=svt,
                               seed=seed * 1000 + rank)
        # each user continues from its own x^k, the server from its centre
        easgd_user(transport, tuner, config.replace(ticks=config.tune_ticks), thinning, download=False)
        transport.barrier()
        held_out = normalized_features(model, test.images)
        summary.update(verification_tuned=verify(held_out, test.identities, mine.W0, rng),
                       tune_epsilon=tuner.epsilon(), tune_delta=config.tune_delta if config.dp else 0.0)
    if config.save_dir is not None:
        from .app import save_user_state

        L = metric_factor(mine.M) if "metric" in stages else np.eye(model.feature_dim)
        save_user_state(Path(config.save_dir) / f"user{rank}.pt", model, spec, L, train.images, noisy.tags)
    with transport.in_phase("summary"):
        transport.send(summary, SERVER, TAGS.stage)
    return summary


def irene_role(faceset, config: IreneConfig, stages=STAGES, *, progress=None):
    """The role of every rank: the parameter server on rank 0, user ``rank`` elsewhere."""
    import torch

    from .model import make_model

    stages = _check_stages(stages)
    if "metric" in stages and config.users < 2:
        raise ValueError(f"the metric stage (MT-LMNN) needs at least 2 users to share W0, got users = {config.users}")
    n_classes = config.classes or 2 * faceset.n_identities

    def role(transport):
        torch.set_num_threads(1)           # many ranks share the cores; one thread each
        spec = dict(kind=config.model, n_classes=n_classes, image_shape=faceset.image_shape,
                    feature_dim=config.feature_dim, dropout=config.dropout, seed=config.seed or 0)
        model = make_model(**spec)         # ψ_g and ϕ start equal everywhere: x^k = x̃
        if transport.rank == SERVER:
            return _server(transport, model, config, stages, progress)
        return _user(transport, model, spec, faceset, config, stages, n_classes)

    return role


def run_irene(faceset, config: IreneConfig, stages=STAGES, *, transport="auto", network=None, progress=None,
              record_payloads=False, return_launch=False):
    """Run the ``stages`` with ``config.users`` users; the server's :class:`IreneResult` (None on
    MPI user ranks)."""
    from ..result import traffic_by_phase

    start = time.perf_counter()
    run = launch(irene_role(faceset, config, stages, progress=progress), config.users + 1, transport,
                 network=network, record_payloads=record_payloads)
    result = run.master
    if result is not None:
        result.seconds = time.perf_counter() - start
        result.bytes = traffic_by_phase(run.transports[0].log)
    return (result, run) if return_launch else result
