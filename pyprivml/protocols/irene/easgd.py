"""Asynchronous EASGD with a dropout-thinned exchange (seed 001, §III-C, Algorithm 1).

The shared parameters (φ and ψ_g, Fig. 2) travel as one flat float32 vector x. The parameter
server (rank 0) holds the centre x̃; user k holds its own x^k and a local clock i^k.
Algorithm 1, as each user runs it::

    initialise: download x̃; x^k = x̃; i^k = 0
    repeat
        x = x^k
        if λ divides i^k:                   # fetch the centre and pull towards it
            x^k = x^k - β (x - x̃)
            x̃  = x̃  + β (x - x̃)           # the server adds the elastic difference
        x^k = x^k - η g(x^k)                # one SGD step (Algorithm 2 or 3 under DP)
        i^k = i^k + 1

The server is asynchronous: it answers whichever user asks first (``ANY_SOURCE``), with no
barrier, so the x̃ a user pulls towards may already hold other users' differences; the
difference it sends back is added once, to the entries it was computed on.

**Dropout-thinned exchange** (§III-C, Fig. 6): on every request the server draws a dropout mask
over the units of the fully connected layers and sends only the kept units' entries of x̃; the
user trains the thinned model until its next exchange and returns the elastic difference of
those entries only. :class:`Thinning` maps a unit mask to the exchanged entries of x, so that
server and user agree on them from the mask alone (the mask travels, not entry indices).

What crosses the transport, and nothing else: small control dicts (``{"tick": i}`` requests, the
unit mask, ``done``), x̃ restricted to the kept entries (server → user) and β(x − x̃) on the same
entries (user → server). Never images, tags, faceprints or ψ_l.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ...comm import ANY_SOURCE, ANY_TAG
from ..config import ProtocolConfig, check_int, check_real
from ..progress import advance
from ..tags import tags_for

__all__ = ["EASGDConfig", "Thinning", "NoThinning", "easgd_server", "easgd_user", "ServerResult",
           "UserResult", "TAGS", "SERVER"]

SERVER = 0
#: Message tags (from the one registry, :mod:`pyprivml.protocols.tags`).
TAGS = tags_for("irene")


@dataclass(frozen=True, kw_only=True)
class EASGDConfig(ProtocolConfig):
    """Algorithm 1's inputs: moving rate β, communication period λ, local ticks, and the
    dropout rate of the thinned exchange (0: every entry travels). The learning rate η belongs
    to the user's optimiser (its ``step``)."""

    beta: float = 0.1
    period: int = 4
    ticks: int = 40
    dropout: float = 0.5

    def validate(self) -> None:
        super().validate()
        check_real("beta", self.beta, positive=True)
        if not self.beta < 1:
            raise ValueError(f"beta (the moving rate) must lie in (0, 1), got {self.beta!r}")
        check_int("period", self.period, minimum=1, hint="λ, ticks between exchanges")
        check_int("ticks", self.ticks, minimum=1)
        check_real("dropout", self.dropout, non_negative=True)
        if not self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1) (the fraction of fully connected units left "
                             f"out of an exchange), got {self.dropout!r}")


class Thinning(ABC):
    """Which entries of the flat shared vector an exchange carries, given a unit mask.

    ``groups`` lists the droppable unit groups (``name -> number of units``); ``entries`` maps
    a flat boolean unit mask (the groups concatenated in order) to a boolean mask over the
    ``size`` entries of x. Subclasses (the model's) implement ``entries``.
    """

    def __init__(self, size: int, groups: dict[str, int]):
        self.size, self.groups = int(size), dict(groups)
        self.units = sum(self.groups.values())

    def draw(self, dropout: float, rng: np.random.Generator) -> np.ndarray:
        """Keep each unit with probability 1 − dropout, at least one unit per group."""
        masks = []
        for n in self.groups.values():
            keep = rng.random(n) >= dropout
            if not keep.any():
                keep[rng.integers(n)] = True
            masks.append(keep)
        return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)

    @abstractmethod
    def entries(self, units: np.ndarray) -> np.ndarray:
        """The boolean mask over the ``size`` entries of x that the unit mask ``units`` keeps."""

    def check_units(self, units) -> np.ndarray:
        units = np.asarray(units)
        if units.dtype != np.bool_ or units.shape != (self.units,):
            raise ValueError(f"a unit mask must be a boolean vector of {self.units} units, "
                             f"got {units.dtype} {units.shape}")
        return units


class NoThinning(Thinning):
    """Every entry travels (the baseline against which thinning's bytes are compared)."""

    def __init__(self, size: int):
        super().__init__(size, {})
        self._all = np.ones(self.size, dtype=bool)

    def entries(self, units) -> np.ndarray:
        return self._all


@dataclass
class ServerResult:
    """The centre after the run and what the server did: differences applied per user, the
    requests served, updates per second of the server's busy time, and its traffic."""

    centre: np.ndarray
    applied: dict = field(default_factory=dict)
    served: int = 0
    busy_seconds: float = 0.0
    seconds: float = 0.0
    kept_fraction: list = field(default_factory=list)

    @property
    def updates_per_second(self) -> float:
        total = sum(self.applied.values())
        return total / self.busy_seconds if self.busy_seconds > 0 else float("inf")


@dataclass
class UserResult:
    """A user's side: its final x^k, the ticks at which it exchanged, and the unit masks it trained under."""

    x: np.ndarray
    exchanges: list = field(default_factory=list)
    losses: list = field(default_factory=list)


def _check_vector(x, size: int, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1 or x.shape[0] != size or x.dtype != np.float32:
        raise ValueError(f"{what} must be a float32 vector of {size} entries, got {x.dtype} {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} has NaN or infinite entries")
    return x


def easgd_server(transport, x0: np.ndarray, config: EASGDConfig, thinning: Thinning | None = None, *,
                 users=None, progress=None) -> ServerResult:
    """The parameter server: serve requests and apply elastic differences, first come first
    served, until every user has said it is done."""
    x0 = np.asarray(x0, dtype=np.float32)
    thinning = thinning or NoThinning(x0.size)
    centre = _check_vector(x0.copy(), thinning.size, "the initial centre x̃")
    users = set(range(1, transport.size)) if users is None else set(users)
    rng = np.random.default_rng(config.seed)
    result = ServerResult(centre=centre, applied={u: 0 for u in sorted(users)})
    outstanding: dict[int, np.ndarray] = {}   # user -> the entries its next difference covers
    done: set = set()
    start = time.perf_counter()
    while done != users:
        with transport.in_phase("updates"):      # requests, elastic differences, done
            msg, user = transport.recv(ANY_SOURCE, ANY_TAG, timeout=config.timeout)
        t0 = time.perf_counter()
        if user not in users:
            raise ValueError(f"the server heard from rank {user}, which is not one of the users {sorted(users)}")
        if isinstance(msg, np.ndarray):                          # x̃ ← x̃ + β(x − x̃)
            entries = outstanding.pop(user, None)
            if entries is None:
                raise ValueError(f"user {user} sent an elastic difference without a request before it")
            diff = _check_vector(msg, int(entries.sum()), f"user {user}'s elastic difference")
            centre[entries] += diff
            result.applied[user] += 1
            advance(progress)
        elif msg.get("kind") == "request":
            if user in outstanding:
                raise ValueError(f"user {user} asked again before sending its elastic difference")
            initial = msg.get("tick") is None
            units = np.zeros(0, dtype=bool) if initial else thinning.draw(config.dropout, rng)
            entries = np.ones(thinning.size, dtype=bool) if initial else thinning.entries(units)
            with transport.in_phase("centre"):
                transport.send({"units": units}, user, TAGS.centre)
                transport.send(centre[entries], user, TAGS.centre)
            if not initial:
                outstanding[user] = entries
                result.kept_fraction.append(float(entries.mean()))
            result.served += 1
        elif msg.get("kind") == "done":
            if user in outstanding:
                raise ValueError(f"user {user} finished with an elastic difference still owed")
            done.add(user)
        else:
            raise ValueError(f"unexpected message from user {user}: {msg!r}")
        result.busy_seconds += time.perf_counter() - t0
    result.seconds = time.perf_counter() - start
    return result


def _fetch(transport, tick, server):
    with transport.in_phase("centre"):
        transport.send({"kind": "request", "tick": tick}, server, TAGS.request)
        header, _ = transport.recv(server, TAGS.centre)
        values, _ = transport.recv(server, TAGS.centre)
    return np.asarray(header["units"], dtype=bool), values


def easgd_user(transport, learner, config: EASGDConfig, thinning: Thinning | None = None, *,
               server: int = SERVER, download: bool = True) -> UserResult:
    """User k's side of Algorithm 1.

    ``learner`` holds x^k and the private data: ``shared() -> float32 vector`` (a copy of x^k),
    ``load_shared(x)``, and ``step(tick, units) -> loss`` (one SGD step on the model thinned by
    the unit mask of the last exchange; ``units`` is None before any thinning). ``download=False`` continues from the
    learner's own x^k (a later stage of a run) instead of Algorithm 1's initial x^k = x̃."""
    if download:
        _, x_tilde = _fetch(transport, None, server)             # initialise: download x̃
        thinning = thinning or NoThinning(x_tilde.size)
        learner.load_shared(_check_vector(x_tilde, thinning.size, "the downloaded centre x̃"))   # x^k = x̃
    thinning = thinning or NoThinning(learner.shared().size)
    result = UserResult(x=learner.shared())
    units = None
    for tick in range(config.ticks):                             # i^k = 0, 1, ...
        if tick % config.period == 0:                            # λ divides i^k
            units, centre = _fetch(transport, tick, server)
            entries = thinning.entries(thinning.check_units(units))
            x = learner.shared()                                 # x = x^k
            elastic = (config.beta * (x[entries] - centre)).astype(np.float32)   # β(x − x̃)
            x[entries] -= elastic                                # x^k ← x^k − β(x − x̃)
            learner.load_shared(x)
            with transport.in_phase("elastic"):
                transport.send(elastic, server, TAGS.elastic)    # the server: x̃ ← x̃ + β(x − x̃)
            result.exchanges.append(tick)
        result.losses.append(learner.step(tick, units))          # x^k ← x^k − η g(x^k)
    with transport.in_phase("control"):
        transport.send({"kind": "done"}, server, TAGS.done)
    result.x = learner.shared()
    return result
