"""Irene's multi-task model: ψ = ψ_l ∘ ψ_g, the bootstrapping classifier ϕ, faceprints (seed 001).

The seed's Fig. 1 splits the network into a CNN feature extractor ψ, a bootstrapping classifier
ϕ and a user-specific embedding metric φ; Fig. 2 further splits ψ into a shared part ψ_g and a
per-user local part ψ_l: "the shared parameters include ϕ, ψ_g, but not include ψ_l".

Notation. The seed writes the bootstrapping classifier as ϕ and the embedding metric as φ; here
the classifier ϕ is the attribute ``phi`` of :class:`IreneNet`, and φ, the projection V of the
faceprint, lives with each user and enters only through :func:`faceprint` (§II-D).

* ψ(ℓ) ∈ R^d: :meth:`IreneNet.features`, ψ(ℓ) = ψ_l(ψ_g(ℓ)) (§II-D);
* ϕ(ψ(ℓ)) = Uψ(ℓ) + b ∈ R^n, one fully connected layer: :meth:`IreneNet.forward` returns these
  logits; the softmax of eq. 1 belongs to the loss;
* the faceprint φ(ψ(ℓ)) = Vψ(ℓ)/‖ψ(ℓ)‖₂, V ∈ R^{m×d}: :func:`faceprint` (§II-D, §III-B);
* two extractors: ``make_model("cnn")``, a small CNN for small grey images, and
  ``make_model("vgg")``, the 15-layer VGG of Table II, whose parameter counts after dropout
  (Table III) :func:`table3_parameter_counts` recomputes from the module definition;
* the dropout-thinned exchange of §III-C: :func:`fc_units`, :func:`draw_unit_masks`,
  :func:`exchange_masks`, :func:`pack`, :func:`unpack`, :func:`unpack_into`.

>>> model = make_model("cnn", n_classes=10, image_shape=(1, 8, 8), feature_dim=16)
>>> model(torch.zeros(2, 1, 8, 8)).shape, model.features(torch.zeros(2, 1, 8, 8)).shape
(torch.Size([2, 10]), torch.Size([2, 16]))
>>> masks = exchange_masks(model, draw_unit_masks(model, 0.5, rng=0))
>>> vector = pack(model.shared_parameters(), masks)
>>> vector.dtype, vector.size == exchanged_size(masks)
(dtype('float32'), True)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Mapping

import numpy as np
import torch
from torch import nn

MODEL_KINDS = ("cnn", "vgg")

# Table II, ψ rows 1-18: the thirteen 3×3 convolutions (output channels) and the 2×2 max-pools ("M").
TABLE2_VGG_CONVS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
TABLE2_FC_UNITS = 4096          # rows 19-20: fc-7×7-512-4096 and fc-1×1-4096-4096, so d = 4096
TABLE2_IMAGE_SHAPE = (3, 224, 224)   # row 0: "input 224 × 224 RGB images"
TABLE2_CLASSES = 3000           # ϕ: fc-1×1-4096-3000 (the 3,000 bootstrapping identities, §IV-A)
TABLE2_EMBEDDING_DIM = 128      # φ: fc-1×1-4096-128

CNN_CHANNELS = (16, 32)         # two 3×3 conv + 2×2 max-pool stages
CNN_HIDDEN_UNITS = (256, 256)   # the fully connected layers of ψ_g, each followed by dropout
CNN_IMAGE_SHAPE = (1, 25, 25)   # the face stand-in; digits are (1, 8, 8)
CNN_FEATURE_DIM = 128

FEATURES = "features"           # the unit group of ψ(ℓ), i.e. ϕ's input units


def _check_dropout(dropout: float) -> float:
    if not (isinstance(dropout, (int, float, np.floating)) and 0.0 <= float(dropout) < 1.0):
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
    return float(dropout)


class SharedExtractor(nn.Module):
    """ψ_g, the shared part of ψ (Fig. 2): convolutions, then fully connected layers with dropout.

    ``conv`` maps an image to feature maps; ``fc[k]`` are the hidden fully connected layers, each
    followed by ReLU and dropout. Their output units are the droppable unit groups of §III-C
    (``"psi_g.fc.k"``); the convolutions are never thinned ("in convolution layers, all neurons
    shared a set of parameters, and the benefit of random dropout diminishes").
    """

    def __init__(self, conv: nn.Sequential, flat_dim: int, fc_widths: tuple[int, ...], dropout: float):
        super().__init__()
        self.conv = conv
        widths = (flat_dim, *fc_widths)
        self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x).flatten(1)
        for layer in self.fc:
            h = self.dropout(torch.relu(layer(h)))
        return h


class IreneNet(nn.Module):
    """The model of Fig. 1-2: ψ = ψ_l ∘ ψ_g and the bootstrapping classifier ϕ (``phi``).

    * ``psi_g``: shared with the parameter server (a :class:`SharedExtractor`);
    * ``psi_l``: the user's own fully connected layer(s), never exchanged, ending in ψ(ℓ) ∈ R^d;
    * ``phi``: ϕ(ψ(ℓ)) = Uψ(ℓ) + b, one ``nn.Linear(d, n)``; dropout (``feature_dropout``) acts on
      its input units ψ(ℓ) while training, as in the VGG classifier and in [11].

    The shared parameters are exactly those of ϕ and ψ_g (Fig. 2).
    """

    def __init__(self, psi_g: SharedExtractor, psi_l: nn.Module, phi: nn.Linear,
                 image_shape: tuple[int, int, int], dropout: float):
        super().__init__()
        self.psi_g = psi_g
        self.psi_l = psi_l
        self.phi = phi
        self.feature_dropout = nn.Dropout(dropout)
        self.image_shape = tuple(image_shape)
        self.dropout = dropout
        self.feature_dim = phi.in_features
        self.n_classes = phi.out_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """ψ(x) = ψ_l(ψ_g(x)) ∈ R^{B×d} for images x of shape (B, *image_shape) (§II-D)."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"expected images of shape (B, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x.shape)}")
        return self.psi_l(self.psi_g(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The classification vector ϕ(ψ(x)) (logits; eq. 1's softmax is in the loss)."""
        return self.phi(self.feature_dropout(self.features(x)))

    def shared_parameters(self) -> "OrderedDict[str, nn.Parameter]":
        """name → parameter of ψ_g and ϕ, the parameters held by the server (Fig. 2), in a fixed order."""
        return OrderedDict((name, p) for name, p in self.named_parameters()
                           if name.startswith(("psi_g.", "phi.")))

    def local_parameters(self) -> "OrderedDict[str, nn.Parameter]":
        """name → parameter of ψ_l, which each user keeps to herself (Fig. 2)."""
        return OrderedDict((name, p) for name, p in self.named_parameters() if name.startswith("psi_l."))


def _small_cnn(image_shape: tuple[int, int, int], feature_dim: int, dropout: float):
    channels, height, width = image_shape
    if channels < 1 or height < 8 or width < 8:
        raise ValueError(f"kind='cnn' needs image_shape (C, H, W) with C >= 1 and H, W >= 8, "
                         f"got {image_shape}")
    layers, c_in = [], channels
    for c_out in CNN_CHANNELS:
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c_in = c_out
    flat_dim = c_in * (height // 4) * (width // 4)
    psi_g = SharedExtractor(nn.Sequential(*layers), flat_dim, CNN_HIDDEN_UNITS, dropout)
    psi_l = nn.Linear(CNN_HIDDEN_UNITS[-1], feature_dim)   # a linear head: ψ(ℓ) is never all zero
    return psi_g, psi_l


def _table2_vgg(image_shape: tuple[int, int, int], feature_dim: int, dropout: float):
    """Table II's ψ: 13 conv-3×3 (rows 1-17) and fc-7×7-512-4096 in ψ_g; fc-1×1-4096-4096 is ψ_l.

    "15-layer (not counting the maxpooling layer)" = 13 convolutions + 2 fully connected layers;
    the ReLUs the table omits follow every convolution and fully connected layer. The seed does
    not say where ψ splits; we take ψ_l to be the last layer of ψ (row 20), so that ψ_g and ϕ are
    the server's.
    """
    channels, height, width = image_shape
    if channels < 1 or height < 32 or width < 32:
        raise ValueError(f"kind='vgg' needs image_shape (C, H, W) with C >= 1 and H, W >= 32 "
                         f"(Table II: {TABLE2_IMAGE_SHAPE}), got {image_shape}")
    layers, c_in = [], channels
    for item in TABLE2_VGG_CONVS:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c_in, item, 3, padding=1), nn.ReLU()]
            c_in = item
    flat_dim = c_in * (height // 32) * (width // 32)      # 512 · 7 · 7 for 224 × 224
    psi_g = SharedExtractor(nn.Sequential(*layers), flat_dim, (TABLE2_FC_UNITS,), dropout)
    psi_l = nn.Sequential(nn.Linear(TABLE2_FC_UNITS, feature_dim), nn.ReLU())
    return psi_g, psi_l


def make_model(kind: str = "cnn", *, n_classes: int, image_shape: tuple[int, int, int] | None = None,
               feature_dim: int | None = None, dropout: float = 0.5, seed: int = 0) -> IreneNet:
    """Build an :class:`IreneNet` with ψ of the given kind and ϕ: R^d → R^{n_classes}.

    kind="cnn": two conv-3×3 + max-pool stages, ψ_g's fully connected layers of
    ``CNN_HIDDEN_UNITS`` with dropout, and ψ_l one fully connected layer to d (default
    image_shape (1, 25, 25), d = 128). kind="vgg": Table II (default image_shape (3, 224, 224),
    d = 4096). ``seed`` fixes the initial parameters without touching torch's global generator.
    Build under ``with torch.device("meta"):`` to get the shapes without allocating memory.
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid kinds are {MODEL_KINDS}")
    dropout = _check_dropout(dropout)
    if image_shape is None:
        image_shape = CNN_IMAGE_SHAPE if kind == "cnn" else TABLE2_IMAGE_SHAPE
    if feature_dim is None:
        feature_dim = CNN_FEATURE_DIM if kind == "cnn" else TABLE2_FC_UNITS
    if len(tuple(image_shape)) != 3:
        raise ValueError(f"image_shape must be (channels, height, width), got {image_shape!r}")
    image_shape = tuple(int(s) for s in image_shape)
    if int(n_classes) < 1 or int(feature_dim) < 1:
        raise ValueError(f"n_classes and feature_dim must be positive, got {n_classes}, {feature_dim}")
    build = _small_cnn if kind == "cnn" else _table2_vgg
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        psi_g, psi_l = build(image_shape, int(feature_dim), dropout)
        phi = nn.Linear(int(feature_dim), int(n_classes))
    return IreneNet(psi_g, psi_l, phi, image_shape, dropout)


def table3_parameter_counts(dropout: float) -> dict[str, int]:
    """Table III, "number of parameters after dropout", recomputed from the Table II modules.

    The modules are built on the meta device and their parameters counted with ``numel``:

    ==================================  ===========  ======================================
    part (Table II)                     parameters   after dropout p
    ==================================  ===========  ======================================
    ψ: 13 conv-3×3 (rows 1-17)           14,714,688   all (convolutions are not thinned)
    ψ: fc-7×7-512-4096 (row 19)         102,764,544   × (1 − p)
    ψ: fc-1×1-4096-4096 (row 20)         16,781,312   × (1 − p)
    ϕ: fc-1×1-4096-3000                  12,291,000   × (1 − p)
    φ: fc-1×1-4096-128 (V, with bias)       524,416   all
    total                               147,075,960   15,239,104 + (1 − p) · 131,836,856
    ==================================  ===========  ======================================

    giving 147.08 M, 107.52 M, 94.34 M and 81.16 M at p = 0, 0.3, 0.4, 0.5, which round to the
    table's 147, 108, 94 and 81 million. So the seed counted the whole model of Table II (ψ, ϕ
    and φ, weights and biases) and thinned each fully connected neuron of ψ and ϕ with its own
    parameter set, weights and bias, by one factor (1 − p) -- "fully-connected layers, where each
    neuron has a separate set of parameters" (§III-C) -- not the unit-level (1 − p)² of a layer whose
    inputs are also dropped, and not φ, which users never exchange.

    Rules that do not reproduce the table: without φ the total is 146.55 M and p = 0.3 gives
    107.0 M (→ 107); thinning φ as well gives 107.37 M (→ 107); dropping fc-4096-4096 at both ends,
    (1 − p)², gives 104.0 / 90.3 / 77.0 M. What :func:`exchange_masks` actually sends of the
    Table II model (ψ_g and ϕ, with ψ_l = row 20 kept local) is 129.77 M at p = 0 and, in
    expectation, 95.25 / 83.75 / 72.24 M at p = 0.3 / 0.4 / 0.5.

    Returns the parameter counts of ``"conv"`` (ψ's convolutions), ``"fully_connected"`` (ψ's and
    ϕ's fully connected layers, after thinning, rounded to an integer), ``"embedding"`` (φ) and
    their ``"total"``.

    >>> [round(table3_parameter_counts(p)["total"] / 1e6) for p in (0, 0.3, 0.4, 0.5)]
    [147, 108, 94, 81]
    """
    kept = 1.0 - _check_dropout(dropout)
    with torch.device("meta"):
        model = make_model("vgg", n_classes=TABLE2_CLASSES)
        embedding = nn.Linear(TABLE2_FC_UNITS, TABLE2_EMBEDDING_DIM)   # φ's V (and bias)
    conv = sum(p.numel() for p in model.psi_g.conv.parameters())
    fully_connected = sum(p.numel() for module in model.modules() if isinstance(module, nn.Linear)
                          for p in module.parameters())
    counts = {"conv": conv, "fully_connected": round(kept * fully_connected),
              "embedding": sum(p.numel() for p in embedding.parameters())}
    counts["total"] = sum(counts.values())
    return counts


# ---- the dropout-thinned exchange (§III-C) -------------------------------------------------------

def _shared_fc_layers(model: IreneNet) -> list[tuple[str, str | None, str | None]]:
    """(parameter prefix, input unit group, output unit group) of every shared fully connected layer.

    ψ_g's k-th hidden layer reads group ``psi_g.fc.{k-1}`` (none for k = 0: its inputs are the
    convolution outputs) and writes ``psi_g.fc.k``. ϕ reads :data:`FEATURES`; its outputs, the n
    classes of eq. 1, are not droppable.
    """
    layers = []
    for k in range(len(model.psi_g.fc)):
        layers.append((f"psi_g.fc.{k}", f"psi_g.fc.{k - 1}" if k else None, f"psi_g.fc.{k}"))
    layers.append(("phi", FEATURES, None))
    return layers


def fc_units(model: IreneNet) -> dict[str, int]:
    """The droppable unit groups of §III-C: group name → number of units.

    * ``"psi_g.fc.k"``: the output units of ψ_g's k-th hidden fully connected layer (the layers
      followed by dropout);
    * ``"features"``: the d units of ψ(ℓ), i.e. ϕ's input units. They are droppable because ϕ is a
      parameter-heavy fully connected layer (Table II: 12.3 M parameters) that Table III counts as
      thinned; its output units are the n classes of eq. 1's softmax and are never dropped.

    Dropping a unit of a group removes the parameters of the shared layers that write it (its
    row and bias) and read it (its column); ψ_l is local, so dropping its input or output units
    changes only what is exchanged of ψ_g and ϕ.
    """
    units = {f"psi_g.fc.{k}": layer.out_features for k, layer in enumerate(model.psi_g.fc)}
    units[FEATURES] = model.feature_dim
    return units


def draw_unit_masks(model: IreneNet, dropout: float,
                    rng: np.random.Generator | int | None = None) -> dict[str, np.ndarray]:
    """The server's random dropout (§III-C): group → boolean mask, each unit kept with prob. 1 − p.

    A group whose draw keeps no unit keeps one, chosen uniformly, so every layer stays connected.
    """
    dropout = _check_dropout(dropout)
    rng = np.random.default_rng(rng)
    masks = {}
    for group, n in fc_units(model).items():
        kept = rng.random(n) >= dropout
        if not kept.any():
            kept[rng.integers(n)] = True
        masks[group] = kept
    return masks


def _as_bool_tensor(mask, n: int, group: str) -> torch.Tensor:
    mask = torch.as_tensor(np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask))
    if mask.dtype != torch.bool or mask.shape != (n,):
        raise ValueError(f"unit mask {group!r} must be a boolean vector of length {n}, "
                         f"got dtype {mask.dtype} and shape {tuple(mask.shape)}")
    return mask


def exchange_masks(model: IreneNet, unit_masks: Mapping[str, np.ndarray | torch.Tensor]
                   ) -> "OrderedDict[str, torch.BoolTensor]":
    """Shared parameter name → boolean mask of its shape: which entries the thinned model exchanges.

    Convolution parameters are always exchanged. A fully connected weight entry W[i, j] is
    exchanged iff its output unit i is kept (when the layer's outputs form a droppable group) and
    its input unit j is kept (when its inputs form one); a bias entry iff its output unit is kept.
    ``unit_masks`` must have exactly the groups of :func:`fc_units`.
    """
    units = fc_units(model)
    if set(unit_masks) != set(units):
        raise ValueError(f"unit_masks must have the groups {sorted(units)}, got {sorted(unit_masks)}")
    kept = {group: _as_bool_tensor(unit_masks[group], n, group) for group, n in units.items()}
    params = model.shared_parameters()
    masks = OrderedDict((name, torch.ones(p.shape, dtype=torch.bool)) for name, p in params.items())
    for prefix, in_group, out_group in _shared_fc_layers(model):
        n_out, n_in = params[f"{prefix}.weight"].shape
        rows = kept[out_group] if out_group else torch.ones(n_out, dtype=torch.bool)
        cols = kept[in_group] if in_group else torch.ones(n_in, dtype=torch.bool)
        masks[f"{prefix}.weight"] = rows[:, None] & cols[None, :]
        masks[f"{prefix}.bias"] = rows.clone()
    return masks


def exchanged_size(masks: Mapping[str, torch.Tensor]) -> int:
    """The number of entries :func:`pack` sends for these masks."""
    # np.count_nonzero on the bool buffers is ~100x faster than torch's sum on the VGG's masks
    return int(sum(np.count_nonzero(m.cpu().numpy()) for m in masks.values()))


def _check_same_names(params: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor]) -> None:
    if set(params) != set(masks):
        raise ValueError(f"parameters and masks name different tensors: {sorted(set(params) ^ set(masks))}")
    for name, mask in masks.items():
        if tuple(params[name].shape) != tuple(mask.shape):
            raise ValueError(f"{name}: mask shape {tuple(mask.shape)} != "
                             f"parameter shape {tuple(params[name].shape)}")


def pack(params: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor]) -> np.ndarray:
    """The exchanged entries as one flat float32 vector, in the order of ``masks`` and row-major.

    ``params`` may be the parameters themselves or their gradients (same names and shapes).
    """
    _check_same_names(params, masks)
    pieces = [params[name].detach().cpu()[mask.cpu()].to(torch.float32) for name, mask in masks.items()]
    return torch.cat(pieces).numpy() if pieces else np.zeros(0, dtype=np.float32)


def _pieces(vector, masks: Mapping[str, torch.Tensor]):
    vector = torch.as_tensor(np.asarray(vector, dtype=np.float32).reshape(-1))
    if vector.numel() != exchanged_size(masks):
        raise ValueError(f"vector has {vector.numel()} entries, the masks exchange {exchanged_size(masks)}")
    start = 0
    for name, mask in masks.items():
        count = int(mask.sum())
        yield name, mask, vector[start:start + count]
        start += count


def unpack(vector, masks: Mapping[str, torch.Tensor],
           like: Mapping[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
    """The inverse of :func:`pack`: copies of ``like`` with the exchanged entries taken from ``vector``."""
    _check_same_names(like, masks)
    out = OrderedDict()
    for name, mask, values in _pieces(vector, masks):
        tensor = like[name].detach().clone()
        tensor[mask.to(tensor.device)] = values.to(tensor.device, tensor.dtype)
        out[name] = tensor
    return out


def unpack_into(vector, masks: Mapping[str, torch.Tensor], params: Mapping[str, torch.Tensor]) -> None:
    """Write the exchanged entries of ``vector`` into ``params`` in place (e.g. a model's parameters)."""
    _check_same_names(params, masks)
    with torch.no_grad():
        for name, mask, values in _pieces(vector, masks):
            target = params[name]
            target[mask.to(target.device)] = values.to(target.device, target.dtype)


# ---- faceprints (§II-D, §III-B) ------------------------------------------------------------------

def faceprint(features, V, eps: float = 1e-12):
    """The faceprint φ(ψ(ℓ)) = V ψ(ℓ) / ‖ψ(ℓ)‖₂ with V ∈ R^{m×d} (§II-D; V ψ̂(ℓ) in §III-B).

    ``features`` is ψ(ℓ), shape (B, d) or (d,); the result has shape (B, m) or (m,). NumPy in,
    NumPy out; torch in, torch out (differentiable). ``eps`` bounds the norm away from zero.
    """
    torch_in = isinstance(features, torch.Tensor)
    if torch_in:
        V = torch.as_tensor(V, dtype=features.dtype, device=features.device)
    else:
        features, V = np.asarray(features, dtype=float), np.asarray(V, dtype=float)
    if V.ndim != 2 or features.shape[-1] != V.shape[-1]:
        raise ValueError(f"V must be m × d with d = {features.shape[-1]} (the features' last axis), "
                         f"got V of shape {tuple(V.shape)}")
    if torch_in:
        return (features / features.norm(dim=-1, keepdim=True).clamp_min(eps)) @ V.T
    norms = np.maximum(np.linalg.norm(features, axis=-1, keepdims=True), eps)
    return (features / norms) @ V.T
