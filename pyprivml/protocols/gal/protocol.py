"""Gradient Assisted Learning between organisations (seed 003, Algorithm 1, §3.3).

Roles, each driven by a :class:`pyprivml.comm.base.Transport`:

- :class:`Alice` (rank 0) holds the labels y₁, her own feature columns x₁, her loss L₁ and her own
  local model. She runs the learning stage and assembles the prediction Fᵀ.
- :class:`Organisation` (ranks 1..M−1) holds only its own feature columns x_m and its own model class
  and ℓ_q. It fits whatever residuals it is sent and answers prediction requests.

What crosses the transport, and nothing else (``tests/test_gal.py`` checks the recorded payloads):
small control dicts ``{"stage": ..., "round": ...}`` (and, for a ``"random"`` split, Alice's
``{"stage": "split", "split_seed": s}`` before anything else), the pseudo-residuals r (Alice → organisations),
the fitted values f_m^t(x_m) on the training sample and the per-round predictions f_m^{1:T}(x_m*)
(organisations → Alice). Never features, models, losses or labels.

Learning stage, round t (Algorithm 1):
  r^t = −∂L₁(y, F^{t−1})/∂F^{t−1}; broadcast r^t; every organisation solves eq. (3) and returns its
  fitted values; ŵ^t = argmin_{w ∈ P_M} E_N ℓ(r^t, Σ w_m f_m^t); η̂^t by line search;
  F^t = F^{t−1} + η̂^t Σ ŵ_m^t f_m^t.
Prediction stage: Fᵀ(x*) = F⁰ + Σ_t η̂^t Σ_m ŵ_m^t f_m^t(x_m*).
With one organisation this is gradient boosting with line search [10] (§3.3, last paragraph).

Alice and one assisting organisation, in two threads of this process (``launch`` runs the same
roles under ``mpiexec``); each holds half of the columns of a regression task:

>>> import numpy as np
>>> from pyprivml.comm import launch
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(200, 4)); y = x @ [1.0, -2.0, 0.5, 3.0]
>>> def role(transport):
...     columns = x[:, :2] if transport.rank == ALICE else x[:, 2:]
...     learner = LocalLearner.from_spec({"train": columns}, "linear")
...     if transport.rank != ALICE:
...         return Organisation(transport, learner).serve(timeout=60)
...     alice = Alice(transport, learner, y, "squared", GALConfig(rounds=3))
...     result = alice.learn()
...     alice.stop()
...     return result
>>> result = launch(role, 2, kind="inprocess").master
>>> losses = [record.loss for record in result.history]
>>> losses[0] > losses[-1], len(result.weights[0])    # the loss falls; one weight per organisation
(True, 2)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..config import ProtocolConfig, check_choice, check_int, check_real
from ..progress import advance
from ..tags import tags_for
from .losses import OverarchingLoss, get_loss
from .models import make_model
from .privacy import noise_source, noisy_output
from .recipe import GALRecipe, get_recipe
from .weights import assistance_weights, line_search

ALICE = 0
#: Message tags (from the one registry, :mod:`pyprivml.protocols.tags`).
TAGS = tags_for("gal")


@dataclass(frozen=True, kw_only=True)
class GALConfig(ProtocolConfig):
    """Alice's private choices (Algorithm 1's inputs that belong to her).

    ``weighting``: ``"learned"`` (ŵ on the simplex) or ``"average"`` (w_m = 1/M, Table 6's ✗).
    ``eta``: ``"line_search"`` or a constant rate (Figure 4's η = 1 ablation).
    ``alice_q``: the ℓ_q Alice uses to fit the weights. ``privacy``: an object with
    ``apply(r)`` (see :mod:`.privacy`) perturbing the residuals she broadcasts. ``recipe``: how the
    weights and η are fitted (a :class:`~.recipe.GALRecipe` or its name, ``"ours"`` or ``"authors"``).
    """

    rounds: int = 10
    loss: str = "squared"
    alice_q: float = 2.0
    weighting: str = "learned"
    eta: str | float = "line_search"
    privacy: object = None
    recipe: GALRecipe | str = "ours"

    def validate(self) -> None:
        super().validate()
        check_int("rounds", self.rounds, minimum=1, hint="assistance rounds T")
        check_choice("weighting", self.weighting, ("learned", "average"))
        if self.eta != "line_search":
            check_real("eta", self.eta, positive=True, hint="or 'line_search'")
        get_recipe(self.recipe)


class LocalLearner:
    """One organisation's private side: its columns, its model class, its per-round models.

    ``factory(round) -> model`` makes the round's fresh model (model autonomy, eq. 3); a
    :class:`~.dms.DeepModelSharing` object may stand in for the per-round models.
    """

    def __init__(self, data: dict, factory, output_noise: float = 0.0, noise_seed: int | None = None):
        self.data = {k: np.asarray(v, dtype=np.float64) for k, v in data.items()}
        if "train" not in self.data:
            raise ValueError("an organisation needs its 'train' columns")
        self.factory = factory
        self.models: list = []
        self.output_noise = float(output_noise)
        self.noise = noise_source(noise_seed) if self.output_noise else None

    @classmethod
    def from_spec(cls, data, model: str = "linear", q: float = 2.0, seed: int = 0, options=None, **kw):
        """Per-round fresh models of class ``model`` (eq. 3); ``options`` go to the model class."""
        options = dict(options or {})
        if model in ("gb", "svm"):
            options = {}  # these scikit-learn models take their settings from make_model
        return cls(data, lambda t: make_model(model, q=q, seed=seed * 1000 + t, **options), **kw)

    def fit_round(self, r: np.ndarray) -> np.ndarray:
        """Solve eq. (3) on residuals r; return the fitted values on the training sample."""
        if hasattr(self.factory, "fit_round"):
            model = self.factory.fit_round(self.data["train"], r)
        else:
            model = self.factory(len(self.models)).fit(self.data["train"], r)
        self.models.append(model)
        return self._send_form(model.predict(self.data["train"]))

    def predict_rounds(self, split: str) -> np.ndarray:
        """f_m^t(x_m*) for t = 1..T, shape (T, n, K): the prediction stage's message."""
        if split not in self.data:
            raise KeyError(f"this organisation holds no {split!r} split; it holds {sorted(self.data)}")
        x = self.data[split]
        return np.stack([self._send_form(m.predict(x)) for m in self.models])

    def _send_form(self, prediction):
        prediction = np.asarray(prediction, dtype=np.float64).reshape(len(prediction), -1)
        return noisy_output(prediction, self.output_noise, self.noise) if self.noise else prediction


class Organisation:
    """An assisting organisation m ≥ 2: serves Alice's requests until she says stop."""

    def __init__(self, transport, learner: LocalLearner, alice: int = ALICE):
        self.transport, self.learner, self.alice = transport, learner, alice

    def serve(self, timeout: float | None = None) -> int:
        """Answer 'fit' and 'predict' requests; return the number of rounds fitted."""
        tr = self.transport
        while True:
            control, _ = tr.recv(self.alice, TAGS.control, timeout=timeout)
            stage = control.get("stage")
            if stage == "fit":
                with tr.in_phase("residual"):
                    r, _ = tr.recv(self.alice, TAGS.residual, timeout=timeout)
                t0 = time.perf_counter()
                fitted = self.learner.fit_round(r)
                tr.log.phases["local_fit"].seconds += time.perf_counter() - t0
                with tr.in_phase("fitted"):
                    tr.send(fitted, self.alice, TAGS.fitted)
            elif stage == "predict":
                with tr.in_phase("prediction"):
                    tr.send(self.learner.predict_rounds(control["split"]), self.alice, TAGS.prediction)
            elif stage == "stop":
                return len(self.learner.models)
            else:
                raise ValueError(f"organisation got an unknown request {control!r}")


@dataclass
class RoundRecord:
    round: int
    loss: float
    eta: float
    weights: list
    seconds: float


@dataclass
class GALResult:
    """Alice's learned ensemble coefficients and history (never the organisations' models)."""

    F0: np.ndarray
    etas: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    history: list = field(default_factory=list)

    def assemble(self, own: np.ndarray, others: list) -> np.ndarray:
        """F^t(x*) for t = 0..T from per-round predictions, shape (T+1, n, K) (prediction stage)."""
        preds = np.stack([own] + list(others))  # (M, T, n, K)
        M, T, n, K = preds.shape
        out = np.empty((T + 1, n, K))
        out[0] = self.F0
        for t in range(T):
            out[t + 1] = out[t] + self.etas[t] * np.einsum("m,mnk->nk", self.weights[t], preds[:, t])
        return out


class Alice:
    """The assisted organisation (rank 0): Algorithm 1 from her side."""

    def __init__(self, transport, learner: LocalLearner, y_train: np.ndarray, loss: OverarchingLoss | str,
                 config: GALConfig, orgs: list[int] | None = None, output_dim: int | None = None):
        self.transport, self.learner, self.config = transport, learner, config
        self.y = np.asarray(y_train)
        if isinstance(loss, str):
            if output_dim is None:
                output_dim = int(self.y.max()) + 1 if loss in ("cross_entropy", "ce") else 1
            loss = get_loss(loss, output_dim)
        self.loss = loss
        if orgs is None:
            orgs = [] if transport is None else [m for m in range(transport.size) if m != transport.rank]
        if orgs and transport is None:
            raise ValueError("Alice needs a transport to reach the assisting organisations")
        self.orgs = list(orgs)
        self.result: GALResult | None = None
        self.F_train: np.ndarray | None = None

    @property
    def num_orgs(self) -> int:
        """M, Alice included."""
        return 1 + len(self.orgs)

    def _broadcast_control(self, control: dict):
        for m in self.orgs:
            self.transport.send(control, m, TAGS.control)

    def learn(self, progress=None) -> GALResult:
        """The learning stage; ``progress`` (a tqdm bar or None) is advanced once per round."""
        cfg, tr = self.config, self.transport
        recipe = get_recipe(cfg.recipe)
        N = len(self.y)
        F0 = self.loss.init(self.y)
        F = np.tile(F0, (N, 1))
        result = GALResult(F0=F0)
        for t in range(cfg.rounds):
            t0 = time.perf_counter()
            r = self.loss.pseudo_residual(self.y, F)
            # The privacy layer acts on what leaves Alice; she keeps the exact r for herself.
            sent = cfg.privacy.apply(r) if cfg.privacy is not None else r
            if self.orgs:
                self._broadcast_control({"stage": "fit", "round": t + 1})
                with tr.in_phase("residual"):
                    for m in self.orgs:
                        tr.send(sent, m, TAGS.residual)
            own = self.learner.fit_round(r)
            fits = [own]
            if self.orgs:
                with tr.in_phase("fitted"):
                    fits += [tr.recv(m, TAGS.fitted)[0] for m in self.orgs]
            fits = np.stack([np.asarray(f, dtype=np.float64).reshape(r.shape) for f in fits])
            if cfg.weighting == "learned":
                w = assistance_weights(r, fits, q=cfg.alice_q, **recipe.weight_options())
            else:
                w = np.full(len(fits), 1.0 / len(fits))
            direction = np.einsum("m,mnk->nk", w, fits)
            if cfg.eta == "line_search":
                eta = line_search(self.loss, self.y, F, direction, **recipe.line_search_options())
            else:
                eta = float(cfg.eta)
            F = F + eta * direction
            result.etas.append(eta)
            result.weights.append(w)
            result.history.append(RoundRecord(t + 1, self.loss.value(self.y, F), eta, w.tolist(),
                                              time.perf_counter() - t0))
            advance(progress, {"loss": result.history[-1].loss, "eta": eta})
        self.result, self.F_train = result, F
        return result

    def predict(self, split: str = "test") -> np.ndarray:
        """The prediction stage on a split every organisation holds: F^t for t = 0..T, (T+1, n, K)."""
        if self.result is None:
            raise RuntimeError("predict() before learn()")
        others = []
        if self.orgs:
            self._broadcast_control({"stage": "predict", "split": split})
            with self.transport.in_phase("prediction"):
                others = [self.transport.recv(m, TAGS.prediction)[0] for m in self.orgs]
        return self.result.assemble(self.learner.predict_rounds(split), others)

    def stop(self):
        self._broadcast_control({"stage": "stop"})
