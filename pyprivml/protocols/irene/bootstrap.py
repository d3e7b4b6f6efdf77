"""Noisy bootstrapping of Irene (seed 001, section III-A, eq. 2): a tag-noise-robust objective.

Users tag their faceprints without agreeing on identities, so the tags t are noisy. The seed
(after Reed et al., "hard" bootstrapping) evaluates, for the predicted distribution q = softmax(z),

    L(q, t) = sum_i alpha t_i log q_i + (1 - alpha) log max_i q_i,          (eq. 2)

a log-likelihood to be *maximised*: the first term is the (negative) cross entropy with the tag,
the second the negative min-entropy H_inf(q) = -log max_i q_i of the prediction, which rewards
confident predictions whatever the tag says. :func:`noisy_bootstrap_loss` returns the quantity
that is *minimised*, the negative of eq. 2 averaged over the batch:

    loss = mean_b [ alpha * CE(q_b, t_b) + (1 - alpha) * H(q_b) ],

with H the min-entropy -log max_i q_i by default (eq. 2 as printed). The brief that asked for
this module described the regulariser as the Shannon entropy -sum_c q_c log q_c (Reed et al.'s
"soft" bootstrapping, also an entropy-minimisation regulariser); ``regularizer="shannon"``
gives that variant. alpha = 1 is plain cross entropy (the seed's baseline); the seed's best is
alpha = 0.85 (section IV-D).

The EM-like procedure: the E-step (:func:`correct_tags`) keeps each tag with probability alpha
and replaces it by the model's current prediction (argmax) with probability 1 - alpha; the
M-step is one SGD step on the corrected tags with the loss above (:func:`bootstrap_step`),
optionally through Algorithm 2 (:class:`.dpsgd.DPGradient`) for differential privacy.

>>> import torch
>>> logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
>>> tags = torch.tensor([0, 1])
>>> ce = torch.nn.functional.cross_entropy(logits, tags)
>>> bool(torch.isclose(noisy_bootstrap_loss(logits, tags, 1.0), ce))
True
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = ["check_alpha", "noisy_bootstrap_loss", "correct_tags", "bootstrap_step", "BootstrapStep",
           "REGULARIZERS"]

REGULARIZERS = ("min-entropy", "shannon")


def check_alpha(alpha) -> float:
    """alpha as a float in (0, 1]."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise TypeError(f"alpha must be a real number, got {alpha!r}") from None
    if not 0.0 < a <= 1.0:  # also refuses NaN
        raise ValueError(f"alpha must lie in (0, 1] (alpha = 1 is plain cross entropy), got {alpha!r}")
    return a


def _check_logits(logits) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch tensor, got {type(logits).__name__}")
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] < 2:
        raise ValueError(f"logits must have shape (batch, n_classes) with batch >= 1, n_classes >= 2, "
                         f"got {tuple(logits.shape)}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be floating point, got {logits.dtype}")
    return logits


def _check_tags(tags, logits: torch.Tensor) -> torch.Tensor:
    tags = torch.as_tensor(tags, device=logits.device)
    if tags.is_floating_point() or tags.is_complex() or tags.dtype == torch.bool:
        raise TypeError(f"tags must be integer class indices, got {tags.dtype}")
    if tags.shape != logits.shape[:1]:
        raise ValueError(f"tags must have shape ({logits.shape[0]},), got {tuple(tags.shape)}")
    n = logits.shape[1]
    try:
        lo, hi = int(tags.min()), int(tags.max())
    except RuntimeError:  # inside torch.func transforms (vmap) values cannot be read; skip the range check
        return tags.long()
    if lo < 0 or hi >= n:
        raise ValueError(f"tags must be class indices in [0, {n}), got values in [{lo}, {hi}]")
    return tags.long()


def noisy_bootstrap_loss(logits: torch.Tensor, targets, alpha: float, *, regularizer: str = "min-entropy",
                         reduction: str = "mean") -> torch.Tensor:
    """The negative of eq. 2, to minimise: alpha * CE(softmax(logits), targets) + (1 - alpha) * H.

    ``targets``: class indices (B,), or target distributions (B, n) (one-hot t of the seed, or
    soft). ``regularizer``: "min-entropy" (H = -log max_c q_c, eq. 2) or "shannon"
    (H = -sum_c q_c log q_c). ``reduction``: "mean" over the batch (default), "sum" or "none".
    """
    a = check_alpha(alpha)
    logits = _check_logits(logits)
    if regularizer not in REGULARIZERS:
        raise ValueError(f"regularizer must be one of {REGULARIZERS}, got {regularizer!r}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    targets = torch.as_tensor(targets, device=logits.device)
    if targets.is_floating_point():
        if targets.shape != logits.shape:
            raise ValueError(f"target distributions must have the shape of the logits {tuple(logits.shape)}, "
                             f"got {tuple(targets.shape)}")
    else:
        targets = _check_tags(targets, logits)
    return _loss(logits, targets, a, regularizer, reduction)


def _loss(logits, targets, a: float, regularizer: str = "min-entropy", reduction: str = "mean"):
    """noisy_bootstrap_loss without validation (no data-dependent checks, so ``vmap`` can run it)."""
    logq = F.log_softmax(logits, dim=1)
    if targets.is_floating_point():
        ce = -(targets.to(logq.dtype) * logq).sum(dim=1)
    else:
        ce = -logq.gather(1, targets[:, None]).squeeze(1)
    if a == 1.0:
        per_sample = ce
    else:
        if regularizer == "min-entropy":
            h = -logq.max(dim=1).values
        else:
            h = -(logq.exp() * logq).sum(dim=1)
        per_sample = a * ce + (1.0 - a) * h
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


def correct_tags(logits: torch.Tensor, tags, alpha: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """E-step: each tag kept with probability alpha, else replaced by argmax of the logits.

    Independent per sample, drawn with ``torch.rand`` from `generator` (on the generator's
    device). Returns the corrected tags (int64, on the logits' device); a tag "replaced" by a
    prediction equal to it does not change.
    """
    a = check_alpha(alpha)
    logits = _check_logits(logits)
    tags = _check_tags(tags, logits)
    prediction = logits.detach().argmax(dim=1)
    device = generator.device if generator is not None else logits.device
    u = torch.rand(tags.shape[0], generator=generator, device=device).to(logits.device)
    return torch.where(u < 1.0 - a, prediction, tags)


class BootstrapStep(NamedTuple):
    """What :func:`bootstrap_step` did."""

    loss: float            # the mean loss on the batch (before the update; not private)
    changed: int           # how many tags the E-step changed
    tags: torch.Tensor     # the corrected tags


def bootstrap_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, tags,
                   alpha: float, *, dp=None, generator: torch.Generator | None = None, params=None,
                   regularizer: str = "min-entropy", chunk_size: int | None = None) -> BootstrapStep:
    """One EM-like round of noisy bootstrapping: E-step then an SGD M-step.

    E-step: the model's predictions on `images` correct the tags (:func:`correct_tags`). M-step:
    gradients of :func:`noisy_bootstrap_loss` on the corrected tags, then ``optimizer.step()``.
    Without `dp` it is ordinary backpropagation; with `dp` (a :class:`.dpsgd.DPGradient`, or
    any object with the same ``backward(model, loss_fn, images, targets, params, chunk_size=)``)
    the gradients are the private ones of Algorithm 2, computed per sample for the parameters
    `params` (default: all that require grad) and accounted by `dp`; other parameters get no
    gradient. `model` maps images to logits; its train/eval mode is left as the caller set it.
    """
    a = check_alpha(alpha)
    if regularizer not in REGULARIZERS:
        raise ValueError(f"regularizer must be one of {REGULARIZERS}, got {regularizer!r}")
    optimizer.zero_grad(set_to_none=True)
    if dp is None:
        logits = model(images)
        corrected = correct_tags(logits, tags, a, generator)
        loss = noisy_bootstrap_loss(logits, corrected, a, regularizer=regularizer)
        value = float(loss.detach())
        if math.isfinite(value):
            loss.backward()
    else:
        with torch.no_grad():
            logits = model(images)
        corrected = correct_tags(logits, tags, a, generator)   # validates the tags
        loss_fn = partial(_loss, a=a, regularizer=regularizer)
        value = dp.backward(model, loss_fn, images, corrected, params, chunk_size=chunk_size)
    if not math.isfinite(value):
        optimizer.zero_grad(set_to_none=True)
        raise FloatingPointError(f"the bootstrapping loss is {value}; no step taken (check the inputs or "
                                 f"lower the learning rate)")
    optimizer.step()
    changed = int((corrected != _check_tags(tags, logits)).sum())
    return BootstrapStep(value, changed, corrected)
