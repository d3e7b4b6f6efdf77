"""Irene's model (seed 001): ψ = ψ_l ∘ ψ_g, ϕ, Table II/III, the thinned exchange, faceprints."""

import numpy as np
import pytest
import torch

from pyprivml.protocols.irene.model import (
    draw_unit_masks, exchange_masks, exchanged_size, faceprint, fc_units, make_model, pack,
    table3_parameter_counts, unpack, unpack_into)

torch.set_num_threads(1)


@pytest.fixture
def model():
    return make_model("cnn", n_classes=10, image_shape=(1, 25, 25), feature_dim=128, seed=1)


def _ids(params):
    return {id(p) for p in params}


def test_shared_parameters_are_exactly_phi_and_psi_g(model):
    shared, local = model.shared_parameters(), model.local_parameters()
    assert _ids(shared.values()) == _ids(model.psi_g.parameters()) | _ids(model.phi.parameters())
    assert _ids(local.values()) == _ids(model.psi_l.parameters())
    assert not _ids(shared.values()) & _ids(model.psi_l.parameters())
    assert _ids(shared.values()) | _ids(local.values()) == _ids(model.parameters())
    assert all(name.startswith(("psi_g.", "phi.")) for name in shared)
    assert list(shared)[-2:] == ["phi.weight", "phi.bias"]


@pytest.mark.parametrize("shape", [(1, 25, 25), (1, 8, 8), (1, 9, 13)])
def test_forward_is_phi_of_psi_l_of_psi_g(shape):
    model = make_model("cnn", n_classes=7, image_shape=shape, feature_dim=32).eval()
    x = torch.randn(5, *shape, generator=torch.Generator().manual_seed(0))
    features = model.features(x)
    assert features.shape == (5, 32) and model(x).shape == (5, 7)
    assert torch.equal(features, model.psi_l(model.psi_g(x)))
    assert torch.allclose(model(x), features @ model.phi.weight.T + model.phi.bias)


def test_seed_fixes_parameters_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b, c = (make_model(n_classes=3, seed=s) for s in (0, 0, 1))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.phi.weight, b.phi.weight) and not torch.equal(a.phi.weight, c.phi.weight)


def test_table2_vgg_layers_and_shapes():
    with torch.device("meta"):
        vgg = make_model("vgg", n_classes=3000)
        logits, features = vgg(torch.empty(2, 3, 224, 224)), vgg.features(torch.empty(2, 3, 224, 224))
    assert logits.shape == (2, 3000) and features.shape == (2, 4096)
    convs = [m for m in vgg.psi_g.conv if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in [*vgg.psi_g.modules(), *vgg.psi_l.modules()] if isinstance(m, torch.nn.Linear)]
    assert len(convs) + len(linears) == 15        # "15-layer (not counting the maxpooling layer)"
    assert (linears[0].in_features, linears[0].out_features) == (7 * 7 * 512, 4096)   # fc-7×7-512-4096
    assert fc_units(vgg) == {"psi_g.fc.0": 4096, "features": 4096}


def test_table3_counts():
    counts = {p: table3_parameter_counts(p) for p in (0.0, 0.3, 0.4, 0.5)}
    assert counts[0.0] == {"conv": 14_714_688, "fully_connected": 131_836_856, "embedding": 524_416,
                           "total": 147_075_960}
    assert [counts[p]["total"] for p in (0.3, 0.4, 0.5)] == [107_524_903, 94_341_218, 81_157_532]
    assert [round(c["total"] / 1e6) for c in counts.values()] == [147, 108, 94, 81]   # Table III


def _unique_values(model):
    """Shared 'parameters' whose entries are all distinct, so we can tell where each one went."""
    out, start = {}, 0
    for name, p in model.shared_parameters().items():
        out[name] = torch.arange(start, start + p.numel(), dtype=torch.float32).reshape(p.shape)
        start += p.numel()
    return out


def test_exchange_masks_follow_unit_masks(model):
    units = draw_unit_masks(model, 0.4, rng=3)
    assert {g: m.shape[0] for g, m in units.items()} == fc_units(model) == {
        "psi_g.fc.0": 256, "psi_g.fc.1": 256, "features": 128}
    assert all(0 < m.sum() < m.size for m in units.values())
    masks = exchange_masks(model, units)
    shared = model.shared_parameters()
    assert list(masks) == list(shared)
    assert all(masks[n].shape == shared[n].shape for n in shared)
    assert masks["psi_g.conv.0.weight"].all() and masks["psi_g.conv.3.bias"].all()
    out0, out1, feats = (torch.as_tensor(units[g]) for g in ("psi_g.fc.0", "psi_g.fc.1", "features"))
    assert torch.equal(masks["psi_g.fc.0.weight"], out0[:, None].expand(256, 32 * 6 * 6))  # inputs: conv
    assert torch.equal(masks["psi_g.fc.1.weight"], out1[:, None] & out0[None, :])
    assert torch.equal(masks["psi_g.fc.1.bias"], out1)
    assert torch.equal(masks["phi.weight"], feats[None, :].expand(10, 128))   # classes never dropped
    assert masks["phi.bias"].all()


def test_pack_unpack_round_trip_and_dropped_entries_absent(model):
    masks = exchange_masks(model, draw_unit_masks(model, 0.5, rng=7))
    values = _unique_values(model)
    vector = pack(values, masks)
    assert vector.dtype == np.float32 and vector.ndim == 1 and vector.size == exchanged_size(masks)
    sent = set(vector.tolist())
    for name, mask in masks.items():
        assert set(values[name][mask].tolist()) <= sent
        assert not set(values[name][~mask].tolist()) & sent

    like = make_model(n_classes=10, feature_dim=128, seed=2).shared_parameters()
    received = unpack(vector, masks, like)
    for name, mask in masks.items():
        assert torch.equal(received[name][mask], values[name][mask])
        assert torch.equal(received[name][~mask], like[name].detach()[~mask])
    assert np.array_equal(pack(received, masks), vector)

    target = make_model(n_classes=10, feature_dim=128, seed=3)
    before = {n: p.detach().clone() for n, p in target.shared_parameters().items()}
    unpack_into(vector, masks, target.shared_parameters())
    for name, p in target.shared_parameters().items():
        assert torch.equal(p.detach()[masks[name]], values[name][masks[name]])
        assert torch.equal(p.detach()[~masks[name]], before[name][~masks[name]])


@pytest.mark.parametrize("kept_fraction", [1.0, 0.5, 0.25])
def test_thinned_size_scales_with_kept_fc_fraction(model, kept_fraction):
    units = {g: np.arange(n) < kept_fraction * n for g, n in fc_units(model).items()}
    f, n_flat, n_classes = kept_fraction, 32 * 6 * 6, 10
    conv = sum(p.numel() for p in model.psi_g.conv.parameters())
    expected = (conv
                + f * 256 * (n_flat + 1)           # fc.0: kept output rows, all conv inputs, bias
                + f * 256 * (f * 256 + 1)          # fc.1: kept rows × kept columns, bias
                + n_classes * (f * 128 + 1))       # ϕ: kept feature columns, every class's bias
    masks = exchange_masks(model, units)
    vector = pack(model.shared_parameters(), masks)
    assert vector.size == exchanged_size(masks) == expected and vector.nbytes == 4 * expected
    if f == 1.0:
        assert expected == sum(p.numel() for p in model.shared_parameters().values())


def test_draw_unit_masks_keeps_one_minus_dropout_and_at_least_one(model):
    units = draw_unit_masks(model, 0.3, rng=np.random.default_rng(0))
    kept = np.concatenate(list(units.values()))
    assert kept.dtype == bool and abs(kept.mean() - 0.7) < 0.06
    assert all(m.sum() >= 1 for m in draw_unit_masks(model, 0.999, rng=1).values())
    assert all(m.all() for m in draw_unit_masks(model, 0.0, rng=1).values())
    a, b = draw_unit_masks(model, 0.5, rng=5), draw_unit_masks(model, 0.5, rng=5)
    assert all(np.array_equal(a[g], b[g]) for g in a)


def test_faceprint_matches_direct_computation():
    rng = np.random.default_rng(0)
    features, V = rng.normal(size=(6, 16)), rng.normal(size=(4, 16))
    direct = np.stack([V @ (f / np.sqrt(np.sum(f ** 2))) for f in features])
    assert np.allclose(faceprint(features, V), direct)
    assert np.allclose(faceprint(3.5 * features, V), direct)          # scale-free in ψ(ℓ)
    assert np.allclose(faceprint(features[0], V), direct[0])
    as_torch = faceprint(torch.tensor(features), torch.tensor(V))
    assert isinstance(as_torch, torch.Tensor) and np.allclose(as_torch.numpy(), direct)
    # with V = I the faceprint is ψ̂(ℓ), on the unit sphere
    assert np.allclose(np.linalg.norm(faceprint(features, np.eye(16)), axis=1), 1.0)


def test_bad_inputs_raise_value_error(model):
    with pytest.raises(ValueError, match="cnn"):
        make_model("resnet", n_classes=3)
    for dropout in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            make_model(n_classes=3, dropout=dropout)
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            draw_unit_masks(model, dropout, rng=0)
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            table3_parameter_counts(dropout)
    with pytest.raises(ValueError, match=">= 8"):
        make_model(n_classes=3, image_shape=(1, 7, 25))
    with pytest.raises(ValueError, match="channels, height, width"):
        make_model(n_classes=3, image_shape=(25, 25))
    with pytest.raises(ValueError, match=">= 32"):
        make_model("vgg", n_classes=3, image_shape=(3, 16, 16))
    with pytest.raises(ValueError, match="1, 25, 25"):
        model(torch.zeros(2, 1, 8, 8))
    units = draw_unit_masks(model, 0.5, rng=0)
    with pytest.raises(ValueError, match="groups"):
        exchange_masks(model, {g: m for g, m in units.items() if g != "features"})
    with pytest.raises(ValueError, match="length 128"):
        exchange_masks(model, {**units, "features": np.ones(127, dtype=bool)})
    masks = exchange_masks(model, units)
    vector = pack(model.shared_parameters(), masks)
    with pytest.raises(ValueError, match="entries"):
        unpack(vector[:-1], masks, model.shared_parameters())
    with pytest.raises(ValueError, match="m × d"):
        faceprint(np.ones((2, 16)), np.ones((4, 15)))
