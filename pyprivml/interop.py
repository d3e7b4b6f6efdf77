"""Other libraries' arrays in and out of the kernels: galois ``FieldArray``, torch tensors, CuPy.

The kernels work on NumPy (or CuPy) integer arrays. :func:`unwrap` turns what a caller passes
into one of those without copying where the memory allows it, and says how to hand the result
back (:func:`wrap`):

* a galois ``FieldArray`` of a prime field GF(p) is an ndarray subclass: its integers are viewed,
  the field's p is the modulus, and the result comes back as the same field type (object-dtype
  fields, p > 2**31 in galois, are converted once each way);
* a torch tensor crosses by DLPack, zero-copy: CPU tensors as NumPy arrays, CUDA tensors as CuPy
  arrays; the result is a torch int64 tensor on the same device;
* NumPy and CuPy arrays pass through unchanged.

>>> import numpy as np, galois, torch, pyprivml as pp
>>> GF = galois.GF(97)
>>> C = pp.modmatmul(GF([[1, 2], [3, 4]]), GF([[5, 6], [7, 8]]))   # p taken from the field
>>> type(C) is GF, C.tolist()
(True, [[19, 22], [43, 50]])
>>> pp.modmatvec(torch.tensor([[1, 2], [3, 4]]), torch.tensor([90, 1]), 97)
tensor([92, 80])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["unwrap", "wrap", "field_from", "Origin"]


@dataclass(frozen=True)
class Origin:
    """Where an operand came from: ``kind`` is "array", "galois" or "torch"; ``like`` is the
    operand, for its field type or device."""

    kind: str
    like: object = None


def _is_galois(x) -> bool:
    return isinstance(x, np.ndarray) and hasattr(type(x), "characteristic") and hasattr(type(x), "degree")


def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch" and hasattr(x, "__dlpack__")


def unwrap(x, name: str = "operand"):
    """(array the kernels take, its Origin)."""
    if _is_galois(x):
        field = type(x)
        if field.degree != 1:
            raise ValueError(f"{name} is an array over {field.name}, an extension field; the kernels "
                             f"work over prime fields GF(p) only")
        plain = x.view(np.ndarray)
        return (plain.astype(np.int64) if plain.dtype == object else plain), Origin("galois", x)
    if _is_torch(x):
        if x.device.type == "cpu":
            return np.from_dlpack(x.detach()), Origin("torch", x)
        try:
            import cupy
        except ImportError:
            raise TypeError(f"{name} is a torch tensor on {x.device}; tensors off the CPU need CuPy "
                            f"(pip install cupy-cuda12x), or move it with .cpu()") from None
        return cupy.from_dlpack(x.detach()), Origin("torch", x)
    return x, Origin("array")


def field_from(origins, field, name: str):
    """The modulus: `field` if given (checked against any galois operand's field), else the
    field of the galois operands."""
    fields = {type(o.like).characteristic for o in origins if o.kind == "galois"}
    if len(fields) > 1:
        raise ValueError(f"{name}: the operands are galois arrays over different fields "
                         f"(characteristics {sorted(fields)}); use arrays of one field")
    if field is None:
        if not fields:
            raise TypeError(f"{name}: give the field (a prime p or a pyprivml.PrimeField), or pass "
                            f"galois FieldArrays, whose field is used")
        return fields.pop()
    p = getattr(field, "p", field)
    if fields and int(p) not in fields:
        raise ValueError(f"{name}: field p = {int(p)} but the galois operands are over GF({fields.pop()}); "
                         f"leave the field out to use the operands' own, or give that p")
    return field


def wrap(out, origins):
    """The result in the type of the first operand that is not a plain array."""
    origin = next((o for o in origins if o.kind != "array"), Origin("array"))
    if origin.kind == "galois":
        field = type(origin.like)
        if np.dtype(origin.like.dtype) == object:
            return field(out.astype(object))
        return out.astype(origin.like.dtype, copy=False).view(field)
    if origin.kind == "torch":
        import torch

        return torch.from_dlpack(out)
    return out
