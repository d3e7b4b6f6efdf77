"""Per-sample L2 clipping g / max(1, ||g||_2 / C) (seed 001, section III-D, norm clipping).

The input is a batch of per-sample gradients of shape (batch, params), a NumPy array or a torch
tensor. :func:`clipped_sum` fuses the clipping with the sum over the batch: the NumPy path is one
Numba pass per row (its norm, then the scaled row added to the sum while the row is still in
cache); the torch path is a norm and a matrix-vector product on the tensor's device.
Non-finite gradients are refused, naming the first bad row, since a NaN would silently turn the
whole noisy sum into NaN.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["check_clip", "check_gradients", "clip_factors", "clip_rows", "clipped_sum"]


def check_clip(C) -> float:
    """The clipping threshold as a float; it must be a finite number > 0."""
    try:
        value = float(C)
    except (TypeError, ValueError):
        raise TypeError(f"the clipping threshold C must be a real number, got {C!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"the clipping threshold C must be finite and > 0, got {C!r}")
    return value


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def check_gradients(G):
    """G as a 2-D real floating array/tensor of per-sample gradients (batch, params)."""
    if _is_torch(G):
        import torch

        if G.is_complex() or not (G.is_floating_point() or G.dtype in (torch.int32, torch.int64)):
            raise TypeError(f"gradients must be a real tensor, got dtype {G.dtype}")
        if not G.is_floating_point():
            G = G.to(torch.float64)
    else:
        G = np.asarray(G)
        if G.dtype.kind not in "fiu":
            raise TypeError(f"gradients must be a real-valued array, got dtype {G.dtype}")
        if G.dtype not in (np.float32, np.float64):
            G = G.astype(np.float64)
    if G.ndim != 2 or G.shape[0] == 0 or G.shape[1] == 0:
        raise ValueError(
            f"per-sample gradients must have shape (batch, params) with batch, params >= 1, got shape {tuple(G.shape)}"
        )
    return G


def _raise_bad_row(norms):
    bad = int(np.flatnonzero(~np.isfinite(np.asarray(norms)))[0])
    raise ValueError(f"per-sample gradient row {bad} contains NaN or infinity; clipping needs finite gradients")


@njit(cache=True, fastmath={"reassoc", "contract"})
def _clipped_sum_kernel(G, C, out, norms):
    """out += sum_i G[i] / max(1, ||G[i]|| / C); norms[i] = ||G[i]||. Returns the first
    non-finite row, or -1."""
    for i in range(G.shape[0]):
        row = G[i]
        acc = 0.0
        for j in range(row.shape[0]):
            acc += row[j] * row[j]
        n = math.sqrt(acc)
        norms[i] = n
        if not math.isfinite(n):
            return i
        f = 1.0 / max(1.0, n / C)
        for j in range(row.shape[0]):
            out[j] += f * row[j]
    return -1


def clip_factors(G, C):
    """Per-row factors 1 / max(1, ||g_i||_2 / C) (NumPy array or torch tensor, like G)."""
    G = check_gradients(G)
    C = check_clip(C)
    if _is_torch(G):
        import torch

        norms = torch.linalg.vector_norm(G, dim=1)
        if not bool(torch.isfinite(norms).all()):
            _raise_bad_row(norms.detach().cpu().numpy())
        return 1.0 / torch.clamp(norms / C, min=1.0)
    norms = np.sqrt(np.einsum("ij,ij->i", G, G))
    if not np.isfinite(norms).all():
        _raise_bad_row(norms)
    return 1.0 / np.maximum(1.0, norms / C)


def clip_rows(G, C):
    """Each row g_i replaced by g_i / max(1, ||g_i||_2 / C): norms at most C, short rows unchanged.

    >>> import numpy as np
    >>> clip_rows(np.array([[3.0, 4.0], [0.3, 0.4]]), 1.0)
    array([[0.6, 0.8],
           [0.3, 0.4]])
    """
    G = check_gradients(G)
    f = clip_factors(G, C)
    return G * f[:, None]


def clipped_sum(G, C):
    """sum_i g_i / max(1, ||g_i||_2 / C) over the batch, fused (Algorithm 2 of seed 001, inner sum).

    Returns a vector of length params, same array type and dtype as G.

    >>> import numpy as np
    >>> clipped_sum(np.array([[3.0, 4.0], [0.3, 0.4]]), 1.0)
    array([0.9, 1.2])
    """
    G = check_gradients(G)
    C = check_clip(C)
    if _is_torch(G):
        return clip_factors(G, C) @ G
    G = np.ascontiguousarray(G)
    out = np.zeros(G.shape[1], dtype=np.float64)
    norms = np.empty(G.shape[0], dtype=np.float64)
    bad = _clipped_sum_kernel(G, C, out, norms)
    if bad >= 0:
        _raise_bad_row(norms[: bad + 1])
    return out.astype(G.dtype, copy=False)
