"""The dropout-thinned exchange for Irene's model (seed 001, §III-C, Fig. 6).

:class:`ModelThinning` tells EASGD (:mod:`.easgd`) which entries of the flat shared vector an
exchange carries for a unit mask over the fully connected layers; :func:`thinned` trains the
thinned model that mask describes until the next exchange.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .easgd import Thinning

__all__ = ["ModelThinning", "thinned"]


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
