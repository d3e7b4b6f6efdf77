"""Array-type dispatch for the sketches: NumPy, torch and CuPy inputs, batched over rows.

torch and CuPy are imported only when the caller hands over one of their arrays, so the
package imports (and the NumPy path runs) without either installed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["array_kind", "as_rows", "restore"]


def array_kind(x) -> str:
    """"numpy", "torch" or "cupy", from the type of `x` (anything else is treated as NumPy input)."""
    if isinstance(x, np.ndarray):
        return "numpy"
    module = type(x).__module__
    if module.startswith("torch"):
        return "torch"
    if module.startswith("cupy"):
        return "cupy"
    return "numpy"


def as_rows(x, n: int, name: str):
    """`x` as a C-contiguous real floating 2-D array of rows of length `n`.

    Returns ``(rows, was_1d, kind)``. Integer and boolean inputs become float64; float32 stays
    float32 so GPU and torch users keep their precision; complex input is refused.
    """
    kind = array_kind(x)
    if kind == "numpy":
        x = np.asarray(x)
        if x.dtype.kind == "c" or x.dtype.kind not in "fiub":
            raise TypeError(f"{name} must be a real-valued array, got dtype {x.dtype}")
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
    elif kind == "torch":
        import torch

        if x.is_complex():
            raise TypeError(f"{name} must be a real-valued tensor, got dtype {x.dtype}")
        if x.dtype not in (torch.float32, torch.float64):
            x = x.to(torch.float64)
    else:
        import cupy

        if x.dtype.kind not in "fiub":
            raise TypeError(f"{name} must be a real-valued array, got dtype {x.dtype}")
        if x.dtype not in (cupy.float32, cupy.float64):
            x = x.astype(cupy.float64)
    if x.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape ({n},) or (batch, {n}), got shape {tuple(x.shape)}")
    if x.shape[-1] != n:
        raise ValueError(
            f"{name} must have last dimension {n} (shape ({n},) or (batch, {n})), got shape {tuple(x.shape)}"
        )
    was_1d = x.ndim == 1
    rows = x.reshape(1, n) if was_1d else x
    if kind == "numpy":
        rows = np.ascontiguousarray(rows)
    elif kind == "torch":
        rows = rows.contiguous()
    else:
        import cupy

        rows = cupy.ascontiguousarray(rows)
    return rows, was_1d, kind


def restore(out, was_1d: bool):
    """Undo the row batching of :func:`as_rows`."""
    return out[0] if was_1d else out
