"""Differentially private gradients for Irene (seed 001, section III-D, Algorithms 2 and 3).

Per-sample gradients come from ``torch.func`` (``functional_call`` + ``grad`` + ``vmap``): one
vectorised pass over the batch, no Python loop over the samples. The privacy mechanisms are the
shared parts of :mod:`pyprivml.dp` (the calibration of sigma, the noise source, the accountant);
Algorithm 2 clips and sums per parameter tensor while the batch streams through in chunks, so
the (B, D) matrix of per-sample gradients is never built, then adds the noise once per batch.

* :class:`DPGradient`, Algorithm 2 (bootstrapping): clip every sample's gradient to L2 norm
  gamma_1, sum, add N(0, sigma^2 I) with sigma = gamma_1 sqrt(2 ln(1.25/delta)) / eps
  (:class:`pyprivml.dp.ClippedGaussian`), divide by the batch size. Each batch is
  (eps, delta)-DP with respect to that batch, as the seed states; across a run every step is
  recorded in a :class:`pyprivml.dp.PrivacyAccountant` as a Gaussian mechanism with noise
  multiplier sigma / gamma_1 on a sample of rate batch / dataset size, so
  :meth:`DPGradient.epsilon_spent` is the (eps, delta) of the whole run (RDP accounting,
  which assumes Poisson sampling of the batches; with shuffled fixed-size batches this is the
  customary approximation).
* :class:`SparseVectorGradient`, Algorithm 3 (fine-tuning): clip every sample's gradient to L2
  norm gamma_2, average, and release only the coordinates that pass the noisy threshold gamma_3,
  at most gamma_4 of them (:class:`pyprivml.dp.SparseVector`). Each run is (eps, delta)-DP; runs
  are composed by the accountant's PLD method (a run is known only as (eps, delta)-DP, which
  RDP cannot express, and no amplification by subsampling is claimed).

Defaults are the seed's (sections IV-C and IV-H): bootstrapping (eps, delta) = (0.5, 1e-3) per
batch of 94 and gamma_1 = 0.01; fine-tuning (eps, delta) = (1, 1e-3) per batch of 250,
gamma_2 = 0.01, gamma_3 = 0.005 and gamma_4 = 10,000 (section IV-H); gamma_4 is capped at the
number of gradient coordinates, which is sound (a run can answer at most that many queries
positively) and lowers the noise for small models.

Sensitivity of the sparse vector queries: the seed defines adjacency as two batches that differ
in one faceprint. After clipping each row to L2 norm gamma_2, every coordinate of a row lies in
[-gamma_2, gamma_2], so a coordinate of the average over B rows moves by at most 2 gamma_2 / B
(also when a row is added or removed and B changes by one). The seed's Laplace scales assume
sensitivity 1; they are multiplied by 2 gamma_2 / B here (``SparseVector(sensitivity=...)``).
By default the test compares |g_i| with the threshold (``absolute=True``), so large negative
gradients are released too, as in selective SGD; ``absolute=False`` is the seed's printed
one-sided test, which only ever releases positive coordinates.

>>> import torch
>>> torch.manual_seed(0) and None
>>> model = torch.nn.Linear(4, 3)
>>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
>>> grads = per_sample_gradients(model, torch.nn.functional.cross_entropy, x, y)
>>> {name: tuple(g.shape) for name, g in grads.items()}
{'weight': (6, 3, 4), 'bias': (6, 3)}
>>> dp = DPGradient(dataset_size=600, seed=0)
>>> loss = dp.backward(model, torch.nn.functional.cross_entropy, x, y)   # writes .grad
>>> model.weight.grad.shape, dp.steps
(torch.Size([3, 4]), 1)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

from ...dp import ClippedGaussian, PrivacyAccountant, SparseVector, check_epsilon_delta, clip_rows
from ...dp.clipping import check_clip
from ...dp.noise import NoiseSource, as_noise_source

__all__ = [
    "per_sample_gradients", "flatten_per_sample", "clip_factors_of", "unflatten", "write_gradients",
    "DPGradient", "SparseVectorGradient",
    "GAMMA_1", "GAMMA_2", "GAMMA_3", "GAMMA_4",
    "BOOTSTRAP_EPSILON", "BOOTSTRAP_DELTA", "BOOTSTRAP_BATCH",
    "TUNING_EPSILON", "TUNING_DELTA", "TUNING_BATCH", "MINI_BATCH", "STREAM_CHUNK",
]

#: Clipping threshold of Algorithm 2 (section IV-H).
GAMMA_1 = 0.01
#: Clipping threshold, selection threshold and count limit of Algorithm 3 (section IV-H).
GAMMA_2 = 0.01
GAMMA_3 = 0.005
GAMMA_4 = 10_000
#: Bootstrapping: (eps, delta) per batch and the batch size (section IV-C).
BOOTSTRAP_EPSILON, BOOTSTRAP_DELTA, BOOTSTRAP_BATCH = 0.5, 1e-3, 94
#: Fine-tuning: (eps, delta) per batch and the batch size (section IV-C).
TUNING_EPSILON, TUNING_DELTA, TUNING_BATCH = 1.0, 1e-3, 250
#: The seed splits each batch into mini-batches of 25 for memory; pass it as ``chunk_size``.
MINI_BATCH = 25
#: Samples per chunk when :meth:`DPGradient.backward` streams a batch (measured in
#: ``benchmarks/test_bench_irene.py``: 8-16 are fastest for the default CNN on 2 cores).
STREAM_CHUNK = 16


# ---- per-sample gradients ------------------------------------------------------------------
def _selected_names(model: torch.nn.Module, params) -> list[str]:
    named = dict(model.named_parameters())
    if params is None:
        names = [n for n, p in named.items() if p.requires_grad]
    else:
        if isinstance(params, (str, torch.Tensor)):
            params = [params]
        by_id = {id(p): n for n, p in named.items()}
        names = []
        for p in params:
            if isinstance(p, str):
                if p not in named:
                    raise ValueError(f"the model has no parameter named {p!r}; it has {sorted(named)}")
                names.append(p)
            elif isinstance(p, torch.Tensor) and id(p) in by_id:
                names.append(by_id[id(p)])
            else:
                raise TypeError("params must be parameter names or parameters of the model")
        names = list(dict.fromkeys(names))
    if not names:
        raise ValueError("no parameters selected for the per-sample gradients")
    return names


def per_sample_gradients(model: torch.nn.Module, loss_fn, images: torch.Tensor, targets: torch.Tensor,
                         params=None, *, chunk_size: int | None = None, return_loss: bool = False):
    """Gradient of ``loss_fn(model(x_i[None]), y_i[None])`` for every sample i, vectorised.

    ``params``: None (every parameter that requires grad), or names / parameter tensors of the
    ones to differentiate; the others and the buffers are held fixed. ``chunk_size`` bounds how
    many samples ``vmap`` processes at once (the seed's mini-batches of 25). Returns a dict
    name -> tensor of shape (B, *param.shape) in the model's parameter order, and with
    ``return_loss=True`` also the per-sample losses (B,).

    The model runs on one sample at a time, so layers that mix samples (batch norm in training
    mode) are not supported; use eval-mode or per-sample normalisation.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    images, targets = torch.as_tensor(images), torch.as_tensor(targets)
    if images.ndim == 0 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty batch (B, ...), got shape {tuple(images.shape)}")
    if targets.shape[:1] != images.shape[:1]:
        raise ValueError(f"targets must have one entry per image: {tuple(targets.shape)} vs {tuple(images.shape)}")
    names = _selected_names(model, params)
    chosen = set(names)
    named = dict(model.named_parameters())
    selected = {n: named[n].detach() for n in names}
    fixed = {n: p.detach() for n, p in named.items() if n not in chosen}
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def loss_one(sel, x, y):
        out = functional_call(model, (sel, fixed, buffers), (x.unsqueeze(0),))
        loss = loss_fn(out, y.unsqueeze(0))
        return loss, loss.detach()

    grads, losses = vmap(grad(loss_one, has_aux=True), in_dims=(None, 0, 0), chunk_size=chunk_size,
                         randomness="different")(
        selected, images, targets)
    return (grads, losses) if return_loss else grads


def flatten_per_sample(grads: dict) -> torch.Tensor:
    """Concatenate per-sample gradients {name: (B, *shape)} into one (B, D) matrix (dict order)."""
    if not isinstance(grads, dict) or not grads:
        raise ValueError("per-sample gradients must be a non-empty dict name -> tensor (B, *shape)")
    batch = {int(g.shape[0]) if g.ndim else -1 for g in grads.values()}
    if len(batch) != 1 or min(batch) < 1:
        raise ValueError(f"all per-sample gradients need the same batch size B >= 1 as leading dimension, got {batch}")
    return torch.cat([g.reshape(g.shape[0], -1) for g in grads.values()], dim=1)


def clip_factors_of(grads: dict, clip: float) -> torch.Tensor:
    """Per-sample factors 1 / max(1, ||g_i||_2 / clip) over all tensors of {name: (B, *shape)}."""
    if not isinstance(grads, dict) or not grads:
        raise ValueError("per-sample gradients must be a non-empty dict name -> tensor (B, *shape)")
    B = next(iter(grads.values())).shape[0]
    # vector_norm reads each tensor once; .square().sum() would allocate a copy of it
    norms = torch.stack([torch.linalg.vector_norm(g.reshape(B, -1), dim=1) for g in grads.values()]).norm(dim=0)
    finite = torch.isfinite(norms)
    if not bool(finite.all()):
        bad = int(torch.nonzero(~finite)[0])
        raise ValueError(f"per-sample gradient of sample {bad} contains NaN or infinity; clipping needs finite gradients")
    return 1.0 / torch.clamp(norms / clip, min=1.0)


def unflatten(flat: torch.Tensor, like: dict) -> dict:
    """Split a (D,) vector back into {name: tensor of the shape of like[name] without its batch axis}."""
    out, start = {}, 0
    for name, g in like.items():
        shape = tuple(g.shape[1:])
        size = math.prod(shape)
        out[name] = flat[start:start + size].reshape(shape)
        start += size
    if start != flat.numel():
        raise ValueError(f"vector of {flat.numel()} entries does not match gradients of {start} entries")
    return out


def write_gradients(model: torch.nn.Module, grads: dict) -> None:
    """Set ``param.grad`` (overwriting) for every named parameter in `grads`."""
    named = dict(model.named_parameters())
    for name, g in grads.items():
        p = named[name]
        p.grad = g.detach().to(device=p.device, dtype=p.dtype).reshape(p.shape).clone()


def _check_dataset_size(n):
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"dataset_size must be a positive integer or None, got {n!r}")
    return int(n)


# ---- Algorithm 2 -------------------------------------------------------------------------------
class DPGradient:
    """Algorithm 2 of seed 001 on per-sample gradients, with the run's privacy accounted.

    ``clip`` gamma_1, ``epsilon``/``delta`` per batch (sigma by the seed's classical calibration,
    or ``calibration="analytic"``), ``dataset_size`` N for the sampling rate B / N of each step
    (None: rate 1, no amplification), ``accountant`` a :class:`pyprivml.dp.PrivacyAccountant`
    to record into (default: a new RDP one), noise from SecureRandom unless ``seed`` asks for a
    reproducible run (see :class:`pyprivml.dp.NoiseSource`).
    """

    def __init__(self, clip: float = GAMMA_1, epsilon: float = BOOTSTRAP_EPSILON, delta: float = BOOTSTRAP_DELTA, *,
                 dataset_size: int | None = None, batch_size: int = BOOTSTRAP_BATCH,
                 accountant: PrivacyAccountant | None = None, calibration: str = "classical",
                 secure: bool | None = None, seed=None, noise: NoiseSource | None = None):
        self.epsilon, self.delta = check_epsilon_delta(epsilon, delta)
        self.clip = check_clip(clip)
        self.mechanism = ClippedGaussian(self.clip, self.epsilon, self.delta, calibration=calibration,
                                         secure=secure, seed=seed, noise=noise)
        self.dataset_size = _check_dataset_size(dataset_size)
        self.batch_size = _check_dataset_size(batch_size)
        if accountant is not None and not isinstance(accountant, PrivacyAccountant):
            raise TypeError(f"accountant must be a pyprivml.dp.PrivacyAccountant, got {type(accountant).__name__}")
        self._accountant = PrivacyAccountant("rdp") if accountant is None else accountant
        self._pending: dict = {}   # (noise multiplier, sampling rate) -> releases not yet composed
        self.steps = 0

    @property
    def accountant(self) -> PrivacyAccountant:
        """The accountant, with every release so far composed into it. Releases are counted per
        step and composed when the accountant is read: composing a subsampled Gaussian costs more
        than a whole non-private step, and n steps at once cost what one does."""
        for (z, q), steps in self._pending.items():
            self._accountant.add_gaussian(z, steps, q)
        self._pending.clear()
        return self._accountant

    @property
    def sigma(self) -> float:
        """Standard deviation of the noise added to the clipped sum."""
        return self.mechanism.sigma

    @property
    def noise_multiplier(self) -> float:
        return self.mechanism.noise_multiplier

    def sampling_rate(self, batch: int) -> float:
        """B / N, or 1 without a dataset size."""
        if self.dataset_size is None:
            return 1.0
        if batch > self.dataset_size:
            raise ValueError(f"batch of {batch} is larger than dataset_size={self.dataset_size}")
        return batch / self.dataset_size

    def clipped_rows(self, grads: dict) -> torch.Tensor:
        """The flattened per-sample gradients, each row clipped to norm gamma_1 (B, D)."""
        return clip_rows(flatten_per_sample(grads), self.clip)

    def clipped_sum(self, grads: dict) -> dict:
        """sum_i g_i / max(1, ||g_i||_2 / gamma_1) per parameter tensor, {name: (*shape)}.

        The norm of sample i runs over all its tensors; the sum is one ``tensordot`` per tensor,
        so the (B, D) matrix of :func:`flatten_per_sample` is never built."""
        factors = clip_factors_of(grads, self.clip)
        return {name: torch.tensordot(factors.to(g.dtype), g, dims=1) for name, g in grads.items()}

    def release(self, total: dict, batch: int, *, noise: bool = True) -> dict:
        """g(x) of Algorithm 2 from the clipped sum of a batch: (sum + N(0, sigma^2 I)) / B, one
        private release (accounted) unless ``noise=False``."""
        if not noise:
            return {name: t / batch for name, t in total.items()}
        rate = self.sampling_rate(batch)                    # checks the batch before anything is drawn
        size = sum(t.numel() for t in total.values())
        z = torch.as_tensor(self.mechanism.noise_source.normal(self.sigma, size)) if self.sigma > 0 else None
        out, start = {}, 0
        for name, t in total.items():
            if z is not None:
                t = t + z[start:start + t.numel()].reshape(t.shape).to(dtype=t.dtype, device=t.device)
            out[name] = t / batch
            start += t.numel()
        key = (self.noise_multiplier, rate)
        self._pending[key] = self._pending.get(key, 0) + 1
        self.steps += 1
        return out

    def privatize(self, grads: dict, *, noise: bool = True) -> dict:
        """g(x) of Algorithm 2 from per-sample gradients {name: (B, *shape)}: returns
        {name: noisy mean gradient}. With noise it is one private release and is accounted;
        ``noise=False`` gives the clipped mean (not private, not accounted; for checks)."""
        batch = {int(g.shape[0]) for g in grads.values()}
        if len(batch) != 1:
            raise ValueError(f"all per-sample gradients need the same batch size, got {sorted(batch)}")
        return self.release(self.clipped_sum(grads), batch.pop(), noise=noise)

    def backward(self, model: torch.nn.Module, loss_fn, images, targets, params=None, *,
                 chunk_size: int | None = None) -> float:
        """Per-sample gradients of `loss_fn` on the batch, Algorithm 2, and ``.grad`` written for
        the selected parameters (others untouched). Returns the (non-private) mean loss.

        The batch streams through in chunks of ``chunk_size`` samples (default
        :data:`STREAM_CHUNK`): each chunk's per-sample gradients are clipped and added to the
        running sum at once, so at most (chunk, D) gradients exist at a time (the (B, D) tensor
        of a batch of 94 is 160 MB for the default CNN, and allocating it each step costs more
        than computing it). Noise and accounting happen once per batch, as Algorithm 2 says."""
        images, targets = torch.as_tensor(images), torch.as_tensor(targets)
        chunk = STREAM_CHUNK if chunk_size is None else int(chunk_size)
        if chunk < 1:
            raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
        total, losses = None, []
        for start in range(0, max(1, images.shape[0]), chunk):
            grads, loss = per_sample_gradients(model, loss_fn, images[start:start + chunk],
                                               targets[start:start + chunk], params, return_loss=True)
            part = self.clipped_sum(grads)
            total = part if total is None else {name: total[name].add_(part[name]) for name in total}
            losses.append(loss)
        write_gradients(model, self.release(total, images.shape[0]))
        return float(torch.cat(losses).mean())

    def epsilon_spent(self, delta: float | None = None) -> float:
        """eps of the whole run so far at `delta` (default: the per-batch delta)."""
        return self.accountant.epsilon(self.delta if delta is None else delta)

    def epsilon_after(self, steps: int, delta: float | None = None, batch: int | None = None) -> float:
        """A forecast: eps after `steps` batches of `batch` (default ``batch_size``) from scratch."""
        acc = PrivacyAccountant(self.accountant.method)
        acc.add_gaussian(self.noise_multiplier, steps, self.sampling_rate(batch or self.batch_size))
        return acc.epsilon(self.delta if delta is None else delta)

    def __repr__(self) -> str:
        return (f"DPGradient(clip={self.clip}, epsilon={self.epsilon}, delta={self.delta}, sigma={self.sigma:.6g}, "
                f"dataset_size={self.dataset_size}, steps={self.steps})")


# ---- Algorithm 3 -------------------------------------------------------------------------------
class SparseVectorGradient:
    """Algorithm 3 of seed 001 on per-sample gradients: the clipped average released sparsely.

    ``clip`` gamma_2 (L2, per sample, and per coordinate of the release), ``threshold`` gamma_3,
    ``count_limit`` gamma_4 (capped at the number of coordinates), ``epsilon``/``delta`` per
    batch, ``absolute`` as in the module notes, ``accountant`` a PLD
    :class:`pyprivml.dp.PrivacyAccountant` (default: a new one); noise as for
    :class:`DPGradient`.
    """

    def __init__(self, clip: float = GAMMA_2, threshold: float = GAMMA_3, count_limit: int = GAMMA_4,
                 epsilon: float = TUNING_EPSILON, delta: float = TUNING_DELTA, *, absolute: bool = True,
                 batch_size: int = TUNING_BATCH, accountant: PrivacyAccountant | None = None,
                 secure: bool | None = None, seed=None, noise: NoiseSource | None = None):
        self.epsilon, self.delta = check_epsilon_delta(epsilon, delta)
        self.clip = check_clip(clip)
        self.threshold = float(threshold)
        if not math.isfinite(self.threshold):
            raise ValueError(f"threshold (gamma_3) must be finite, got {threshold!r}")
        if isinstance(count_limit, bool) or not isinstance(count_limit, (int, np.integer)) or count_limit < 1:
            raise ValueError(f"count_limit (gamma_4) must be a positive integer, got {count_limit!r}")
        self.count_limit = int(count_limit)
        self.absolute = bool(absolute)
        self.batch_size = _check_dataset_size(batch_size)
        if accountant is None:
            accountant = PrivacyAccountant("pld")
        elif not isinstance(accountant, PrivacyAccountant):
            raise TypeError(f"accountant must be a pyprivml.dp.PrivacyAccountant, got {type(accountant).__name__}")
        elif accountant.method != "pld":
            raise ValueError("a sparse vector run is accounted as an (eps, delta)-DP mechanism, which needs "
                             "PrivacyAccountant(method='pld')")
        self.accountant = accountant
        self.noise = as_noise_source(noise, secure=secure, seed=seed)
        self.steps = 0
        self.last = None  # the SparseVector of the latest run

    def mechanism(self, batch: int, n_coordinates: int) -> SparseVector:
        """The SparseVector for one run over a batch of `batch` and `n_coordinates` coordinates."""
        return SparseVector(self.epsilon, self.delta, min(self.count_limit, int(n_coordinates)), self.threshold,
                            self.clip, sensitivity=2.0 * self.clip / batch, absolute=self.absolute, noise=self.noise)

    def clipped_mean(self, grads: dict) -> torch.Tensor:
        """(1/B) sum_i clip(g_i), rows clipped to L2 norm gamma_2 (D,)."""
        G = flatten_per_sample(grads)
        return clip_rows(G, self.clip).mean(dim=0)

    def privatize(self, grads: dict, order=None):
        """One run of Algorithm 3: returns ({name: sparse noisy gradient}, flat indices released,
        in selection order). Accounted as one (eps, delta)-DP run."""
        G = flatten_per_sample(grads)
        tmp = clip_rows(G, self.clip).mean(dim=0)
        svt = self.mechanism(G.shape[0], tmp.numel())
        g, indices = svt.select(tmp, order=order)
        self.accountant.add_sparse_vector(svt, 1)
        self.steps += 1
        self.last = svt
        return unflatten(g, grads), indices

    def backward(self, model: torch.nn.Module, loss_fn, images, targets, params=None, *,
                 chunk_size: int | None = None) -> float:
        """Per-sample gradients, Algorithm 3, ``.grad`` written (zero off the released
        coordinates). Returns the (non-private) mean loss."""
        grads, losses = per_sample_gradients(model, loss_fn, images, targets, params,
                                             chunk_size=chunk_size, return_loss=True)
        sparse, _ = self.privatize(grads)
        write_gradients(model, sparse)
        return float(losses.mean())

    def epsilon_spent(self, delta: float | None = None) -> float:
        """eps of all runs so far, composed by the PLD accountant, at the total `delta`.

        k runs that are each only known to be (eps, delta)-DP cannot be composed to a total delta
        below k delta (the answer is then infinite), so the default total delta is (k + 1) delta,
        the per-run deltas plus one more for the composition itself (at most 0.5)."""
        if delta is None:
            delta = min(0.5, self.delta * (self.steps + 1))
        return self.accountant.epsilon(delta)

    def __repr__(self) -> str:
        return (f"SparseVectorGradient(clip={self.clip}, threshold={self.threshold}, count_limit={self.count_limit}, "
                f"epsilon={self.epsilon}, delta={self.delta}, absolute={self.absolute}, steps={self.steps})")
