"""Irene's collaborative bootstrapping over the transports (seed 001, Fig. 2-3, §III-A, §III-C, §III-D).

Rank 0 is the parameter server; ranks 1..k are the users. Each user holds a private photo
collection tagged with identity strings of its own choosing, a copy of ψ_g and ϕ, and its own
ψ_l. Together they bootstrap ϕ ∘ ψ (stage 1 of Fig. 3) by asynchronous EASGD (Algorithm 1,
:mod:`.easgd`) with the dropout-thinned exchange; every local step is one EM-like round of noisy
bootstrapping (:mod:`.bootstrap`, eq. 2) on gradients made private by Algorithm 2
(:mod:`.dpsgd`), accounted over the whole run.

What crosses the transport: EASGD's thinned parameters and elastic differences, its control
dicts, and with each user's ``done`` its summary (held-out accuracy, the ε it spent, tag
statistics: scalars, so the report can show them; never images, tags, faceprints or ψ_l).

>>> import numpy as np
>>> from pyprivml.protocols.irene.training import IreneConfig, run_bootstrap
>>> from pyprivml.protocols.irene.data import load_digits_identities
>>> cfg = IreneConfig(users=2, ticks=6, period=3, batch=16, dp=False, seed=0)
>>> result = run_bootstrap(load_digits_identities(), cfg, transport="inprocess")
>>> sorted(result.server.applied.items())           # each user exchanged at ticks 0 and 3
[(1, 2), (2, 2)]
>>> set(result.users[0]) >= {"accuracy", "epsilon", "collisions"}
True
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np

from ...comm import launch
from ..config import check_choice, check_int, check_real
from ..tags import tags_for
from .easgd import SERVER, EASGDConfig, Thinning, easgd_server, easgd_user

__all__ = ["IreneConfig", "ModelThinning", "TorchLearner", "BootstrapResult", "run_bootstrap",
           "bootstrap_role"]

TAGS = tags_for("irene")


@dataclass(frozen=True, kw_only=True)
class IreneConfig(EASGDConfig):
    """One bootstrapping run: EASGD's β, λ, ticks and thinning dropout, and the users' learning
    (η = ``lr``; ``momentum`` > 0 runs EAMSGD, the momentum variant of Algorithm 1 in [12]).

    ``alpha`` weighs eq. 2 (1: plain cross entropy); ``tag_noise`` the fraction of tags replaced
    by random ones (§IV-D); ``dp`` turns on Algorithm 2 with (``epsilon``, ``delta``) per batch
    and clipping ``clip`` (γ₁; §IV-C, §IV-H defaults); ``classes`` n of ϕ (None: twice the
    number of identities, so that SHA-1 tags rarely collide).
    """

    users: int = 4
    model: str = "cnn"
    lr: float = 0.05
    momentum: float = 0.9
    batch: int = 32
    alpha: float = 0.9
    tag_noise: float = 0.0
    classes: int | None = None
    dp: bool = True
    epsilon: float = 0.5
    delta: float = 1e-3
    clip: float = 1.0
    test_fraction: float = 0.25

    def validate(self) -> None:
        super().validate()
        check_int("users", self.users, minimum=1)
        check_choice("model", self.model, ("cnn", "vgg"))
        check_real("lr", self.lr, positive=True)
        check_real("momentum", self.momentum, non_negative=True)
        if not self.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        check_int("batch", self.batch, minimum=1)
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
            check_real("clip", self.clip, positive=True, hint="γ₁ of Algorithm 2")
        check_real("test_fraction", self.test_fraction, positive=True)
        if not self.test_fraction < 1:
            raise ValueError(f"test_fraction must lie in (0, 1), got {self.test_fraction!r}")


class ModelThinning(Thinning):
    """:class:`.easgd.Thinning` for an :class:`~.model.IreneNet`: the unit groups of
    :func:`~.model.fc_units`, the entries of :func:`~.model.exchange_masks`, flattened in the
    order of ``shared_parameters()``."""

    def __init__(self, model):
        from .model import fc_units

        self.model = model
        size = sum(p.numel() for p in model.shared_parameters().values())
        super().__init__(size, fc_units(model))

    def split(self, units) -> dict:
        units = self.check_units(units)
        out, start = {}, 0
        for group, n in self.groups.items():
            out[group] = units[start:start + n]
            start += n
        return out

    def entries(self, units) -> np.ndarray:
        from .model import exchange_masks

        masks = exchange_masks(self.model, self.split(units))
        return np.concatenate([m.reshape(-1).numpy() for m in masks.values()])


@contextlib.contextmanager
def thinned(model, unit_masks: dict | None):
    """Train the thinned model of §III-C: the server's unit masks replace random dropout in the
    fully connected layers (kept units scaled by 1/(1 − p), dropped units output 0)."""
    import torch

    if unit_masks is None:
        yield
        return
    keep = 1.0 - model.dropout if model.dropout > 0 else 1.0
    scale = {g: torch.as_tensor(m, dtype=torch.float32) / keep for g, m in unit_masks.items()}
    handles = [layer.register_forward_hook(lambda mod, inp, out, s=scale[f"psi_g.fc.{k}"]: out * s)
               for k, layer in enumerate(model.psi_g.fc)]
    handles.append(model.psi_l.register_forward_hook(lambda mod, inp, out: out * scale["features"]))
    rates = (model.psi_g.dropout.p, model.feature_dropout.p)
    model.psi_g.dropout.p = model.feature_dropout.p = 0.0    # the masks are the dropout
    try:
        yield
    finally:
        for h in handles:
            h.remove()
        model.psi_g.dropout.p, model.feature_dropout.p = rates


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

    def shared(self) -> np.ndarray:
        import torch

        with torch.no_grad():
            return torch.cat([p.detach().reshape(-1) for p in self.model.shared_parameters().values()]
                             ).numpy().astype(np.float32, copy=True)

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


@dataclass
class BootstrapResult:
    """The server's side of the run and every user's summary (held-out accuracy, ε, tag statistics)."""

    server: object
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


def bootstrap_role(faceset, config: IreneConfig, *, progress=None):
    """The role of every rank: the parameter server on rank 0, user ``rank`` elsewhere."""
    import torch

    from .identity import TagSpace, add_tag_noise
    from .model import make_model

    n_classes = config.classes or 2 * faceset.n_identities
    shape = tuple(faceset.images.shape[1:])

    def role(transport):
        torch.set_num_threads(1)           # many ranks share the cores; one thread each
        seed = config.seed or 0
        model = make_model(config.model, n_classes=n_classes, image_shape=shape, dropout=config.dropout,
                           seed=seed)      # ψ_g and ϕ start equal everywhere: x^k = x̃
        thinning = ModelThinning(model)
        if transport.rank == SERVER:
            learner = TorchLearner(model, faceset.images[:1], [0], config.replace(dp=False), thinning, seed=seed)
            server = easgd_server(transport, learner.shared(), config, thinning, progress=progress)
            users = [server.summaries[u] for u in sorted(server.summaries)]
            return BootstrapResult(server=server, users=users, config=config)
        torch.manual_seed(seed * 1000 + transport.rank)
        for p in model.local_parameters().values():   # ψ_l is the user's own (Fig. 2)
            torch.nn.init.normal_(p, std=0.05)
        train, test = _user_data(faceset, config, transport.rank)
        space = TagSpace(n_classes, key=b"irene-preshared")
        tags = train.tags                  # the identity strings this user chose for its photos
        noisy = add_tag_noise(tags, config.tag_noise, np.random.default_rng(seed * 1000 + transport.rank))
        learner = TorchLearner(model, train.images, space.indices(noisy.tags), config, thinning,
                               seed=seed * 1000 + transport.rank)
        start = time.perf_counter()

        def summary():
            return {"user": transport.rank, "accuracy": learner.accuracy(test.images, space.indices(test.tags)),
                    "epsilon": learner.epsilon(), "delta": config.delta if config.dp else 0.0,
                    "collisions": space.collisions(sorted(set(tags))), "tags_changed": learner.changed,
                    "noisy_tags": int(noisy.changed.sum()), "photos": len(train),
                    "seconds": time.perf_counter() - start}

        return easgd_user(transport, learner, config, thinning, summary=summary)

    return role


def run_bootstrap(faceset, config: IreneConfig, *, transport="auto", network=None, progress=None,
                  record_payloads=False, return_launch=False):
    """Bootstrap ϕ ∘ ψ with ``config.users`` users; the server's :class:`BootstrapResult` (None on
    MPI user ranks)."""
    from ..result import traffic_by_phase

    start = time.perf_counter()
    run = launch(bootstrap_role(faceset, config, progress=progress), config.users + 1, transport,
                 network=network, record_payloads=record_payloads)
    result = run.master
    if result is not None:
        result.seconds = time.perf_counter() - start
        result.bytes = traffic_by_phase(run.transports[0].log)
    return (result, run) if return_launch else result
