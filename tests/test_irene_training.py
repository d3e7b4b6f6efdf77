"""Irene's collaborative bootstrapping end to end (seed 001, Fig. 3 stage 1) at small sizes."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pyprivml.protocols.irene.data import load_digits_identities  # noqa: E402
from pyprivml.protocols.irene.model import exchange_masks, make_model  # noqa: E402
from pyprivml.protocols.irene.thinning import ModelThinning, thinned  # noqa: E402
from pyprivml.protocols.irene.training import IreneConfig, run_irene  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_KEYS = {"user", "accuracy", "epsilon", "delta", "collisions", "tags_changed", "noisy_tags", "photos"}


@pytest.fixture(scope="module")
def digits():
    return load_digits_identities()


def test_users_learn_together_without_dp(digits):
    cfg = IreneConfig(users=3, ticks=120, period=4, batch=32, dp=False, dropout=0.0, seed=0)
    result = run_irene(digits, cfg, stages=("bootstrap",), transport="inprocess")
    accuracy = [u["accuracy"] for u in result.users]
    assert np.mean(accuracy) > 0.5, accuracy          # chance is 0.1 (10 identities); runs give 0.7-0.9
    assert result.bootstrap.applied == {1: 30, 2: 30, 3: 30}


def test_private_run_is_accounted_and_sends_only_parameters_and_scalars(digits):
    cfg = IreneConfig(users=2, ticks=6, period=3, batch=16, dp=True, epsilon=0.5, delta=1e-3, seed=1)
    result, run = run_irene(digits, cfg, stages=("bootstrap",), transport="inprocess", record_payloads=True,
                            return_launch=True)
    from pyprivml.dp import PrivacyAccountant
    from pyprivml.protocols.irene.dpsgd import DPGradient

    for summary in result.users:
        assert set(summary) == SUMMARY_KEYS
        # the whole run's (ε, δ): 6 steps of Algorithm 2 at sampling rate B / (the user's photos)
        mech = DPGradient(cfg.clip, cfg.epsilon, cfg.delta)
        acc = PrivacyAccountant("rdp")
        acc.add_gaussian(mech.noise_multiplier, cfg.ticks, cfg.batch / summary["photos"])
        assert summary["epsilon"] == pytest.approx(acc.epsilon(cfg.delta), rel=1e-9)
        assert 0 < summary["epsilon"]
    images = digits.images.reshape(len(digits.images), -1)
    for t in run.transports:
        for _, _, _, payload in t.log.sent:
            if isinstance(payload, np.ndarray):
                assert payload.dtype in (np.float32, np.bool_) and payload.ndim == 1
                # no image (or row of one) ever crosses
                assert payload.size != images.shape[1] or not np.isin(payload, images).all()
            elif set(payload) == SUMMARY_KEYS:                # the user's closing summary: scalars
                assert all(isinstance(v, (int, float)) for v in payload.values())
            else:
                assert set(payload) <= {"kind", "tick", "units"}
                assert not any(isinstance(v, str) and "@" in v for v in payload.values()), "a tag string crossed"


def test_thinned_training_uses_the_server_mask_and_cuts_bytes(digits):
    model = make_model("cnn", n_classes=20, image_shape=digits.image_shape, dropout=0.5, seed=0)
    thinning = ModelThinning(model)
    units = thinning.draw(0.5, np.random.default_rng(0))
    masks = thinning.split(units)
    x = torch.as_tensor(digits.images[:8])
    model.train()
    with thinned(model, masks):
        out = model.psi_g(x)
        dropped = ~torch.as_tensor(masks[f"psi_g.fc.{len(model.psi_g.fc) - 1}"])
        assert torch.all(out[:, dropped] == 0) and torch.any(out[:, ~dropped] != 0)
        again = model.psi_g(x)
        assert torch.equal(out, again)                     # the mask, not random dropout
    assert model.psi_g.dropout.p == 0.5                    # restored afterwards
    expected = np.concatenate([m.reshape(-1).numpy() for m in exchange_masks(model, masks).values()])
    assert np.array_equal(thinning.entries(units), expected)

    cfg = IreneConfig(users=2, ticks=8, period=2, batch=16, dp=False, dropout=0.5, seed=2)
    thin = run_irene(digits, cfg, stages=("bootstrap",), transport="inprocess")
    full = run_irene(digits, cfg.replace(dropout=0.0), stages=("bootstrap",), transport="inprocess")
    kept = np.mean(thin.bootstrap.kept_fraction)
    assert 0.3 < kept < 0.8
    # the initial download is whole in both runs; every later exchange carries the kept fraction
    assert thin.bytes["centre"] < 0.85 * full.bytes["centre"]


@pytest.mark.parametrize("bad, match", [
    (dict(users=0), "users"), (dict(alpha=0.0), "alpha"), (dict(alpha=1.5), "alpha"),
    (dict(epsilon=0.0), "epsilon"), (dict(delta=1.0), "delta"), (dict(dropout=1.0), "dropout"),
    (dict(tag_noise=1.5), "tag_noise"), (dict(model="resnet"), "model"), (dict(momentum=1.0), "momentum"),
])
def test_bad_configuration_is_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        IreneConfig(**bad)


def test_command_line_writes_a_report(tmp_path):
    report = tmp_path / "irene.json"
    proc = subprocess.run([sys.executable, "-m", "pyprivml", "train", "irene", "--dataset", "digits",
                           "--users", "2", "--ticks", "6", "--period", "3", "--batch", "16", "--no-progress", "--stage", "all",
                           "--metric-rounds", "5", "--tune-ticks", "4", "--feature-dim", "16",
                           "--transport", "inprocess", "--report", str(report), "--save", str(tmp_path / "run")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "verification tuned" in proc.stdout
    data = json.loads(report.read_text())
    assert data["protocol"] == "irene" and len(data["meta"]["users"]) == 2
    assert data["meta"]["epsilon"] > 0 and set(data["bytes"]) >= {"centre", "updates"}
    # the app on user 1's device: the astronaut's face gets one of user 1's tags
    tag = subprocess.run([sys.executable, "-m", "pyprivml", "irene", "tag", "astronaut", "--user", "1", "--run",
                          str(tmp_path / "run"), "--min-size", "60", "--max-size", "123"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert tag.returncode == 0, tag.stderr
    assert "1 face(s)" in tag.stdout and "suggest digit" in tag.stdout
    missing = subprocess.run([sys.executable, "-m", "pyprivml", "irene", "tag", "astronaut", "--user", "7", "--run",
                              str(tmp_path / "run")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "no trained state for user 7" in missing.stderr
    bad = subprocess.run([sys.executable, "-m", "pyprivml", "train", "irene", "--users", "2", "--epsilon", "-1",
                          "--transport", "inprocess"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "epsilon" in bad.stderr and "Traceback" not in bad.stderr


def test_metric_and_tune_stages_share_only_w0_and_thinned_parameters(digits):
    """MT-LMNN across users sends only W₀ copies (d × d) and the coordinator's targets; tuning
    sends EASGD's vectors; every user reports its verification accuracies and Algorithm 3's ε."""
    cfg = IreneConfig(users=2, ticks=8, period=4, batch=16, dp=True, feature_dim=8, metric_rounds=4,
                      tune_ticks=4, tune_batch=8, seed=3)
    result, run = run_irene(digits, cfg, transport="inprocess", record_payloads=True, return_launch=True)
    d = cfg.feature_dim
    for summary in result.users:
        for key in ("verification_euclidean", "verification_own_metric", "verification_commonality",
                    "verification_tuned"):
            assert 0.0 <= summary[key] <= 1.0
        assert summary["tune_epsilon"] > 0
    assert result.metric.W0.shape == (d, d) and np.linalg.eigvalsh(result.metric.W0).min() > -1e-9
    for user in (1, 2):
        for dest, _, _, payload in run.transports[user].log.sent:
            assert dest == 0, "users talk only to the server"
            if isinstance(payload, np.ndarray) and payload.ndim == 2:
                assert payload.shape == (d, d)                 # a copy of W₀, never data or faceprints
    assert result.tune.applied == {1: 1, 2: 1}


def test_stages_must_be_an_ordered_selection(digits):
    from pyprivml.protocols.irene.training import irene_role

    with pytest.raises(ValueError, match="ordered selection"):
        irene_role(digits, IreneConfig(users=2), ("tune", "bootstrap"))
    with pytest.raises(ValueError, match="needs the metric stage"):
        irene_role(digits, IreneConfig(users=2), ("bootstrap", "tune"))
    with pytest.raises(ValueError, match="at least 2 users"):
        irene_role(digits, IreneConfig(users=1), ("bootstrap", "metric"))
