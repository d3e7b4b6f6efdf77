"""BGW and BH08 training (seed 004 sec. V): same steps as each other and as plaintext quantised
gradient descent, same accuracy on digits 4-vs-9, estimators, configuration errors."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from pyprivml.protocols.fixedpoint import WrapAroundError
from pyprivml.protocols.mpc.bgw import BGWLinearRegression, BGWLogisticRegression
from pyprivml.protocols.mpc.bh08 import BH08LogisticRegression
from pyprivml.protocols.mpc.training import MPCConfig, train_mpc
from pyprivml.quantization import dequantize, quantize, quantize_stochastic


@pytest.fixture(scope="module")
def digits49():
    X, y = load_digits(return_X_y=True)
    keep = (y == 4) | (y == 9)
    X = np.hstack([X[keep] / 16.0, np.ones((keep.sum(), 1))])
    return X, (y[keep] == 9).astype(float)


@pytest.fixture(scope="module")
def runs(digits49):
    X, y = digits49
    out = {}
    for protocol, launcher in (("bgw", "inprocess"), ("bh08", "simulated")):
        cfg = MPCConfig(protocol=protocol, N=10, iterations=12, lr=0.5, l_w=4, seed=3)
        out[protocol] = train_mpc(X, y, cfg, launcher=launcher)
    return out


def test_bgw_and_bh08_take_identical_steps(runs):
    """Same W-bar draws (seeded) and exact field arithmetic: the weight trajectories agree bit
    for bit, whichever degree reduction and launcher ran."""
    for a, b in zip(runs["bgw"]["history"], runs["bh08"]["history"]):
        np.testing.assert_array_equal(a, b)


def test_steps_equal_plaintext_quantised_gradient(digits49, runs):
    """Each step equals eq. (17) computed in the clear with the same W-bar draw."""
    X, y = digits49
    cfg = MPCConfig(protocol="bgw", N=10, iterations=12, lr=0.5, l_w=4, seed=3)
    plan, F = cfg.plan(), cfg.field
    Xq = F.lift(quantize(X, cfg.l_x, F)).astype(object)
    c = plan.signed_coefficients()
    stream = np.random.SeedSequence(cfg.seed)
    w = np.zeros(X.shape[1])
    for t, got in enumerate(runs["bgw"]["history"]):
        key = int(stream.spawn(1)[0].generate_state(1)[0])
        Wq = F.lift(quantize_stochastic(w, cfg.l_w, F, copies=1, seed=key)).astype(object)
        z = Xq.dot(Wq[:, 0])
        G = Xq.T.dot(int(c[0]) + int(c[1]) * z)  # integers, no wrap
        grad = np.array(G, dtype=np.float64) / 2.0 ** plan.exponent - dequantize(
            quantize(X, cfg.l_x, F), cfg.l_x, F).T @ y
        w = w - cfg.lr / len(y) * grad
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-12)


def test_accuracy_on_digits(digits49, runs):
    X, y = digits49
    accs = {p: ((X @ r["weights"] > 0) == y).mean() for p, r in runs.items()}
    assert accs["bgw"] == accs["bh08"] > 0.95


def test_phases_and_traffic(runs):
    bgw, bh08 = runs["bgw"], runs["bh08"]
    assert bgw["T"] == bh08["T"] == 1 and bgw["groups"] == [(1, 2, 3), (4, 5, 6), (7, 8, 9)]
    assert bgw["rounds_per_iteration"] == bh08["rounds_per_iteration"] == 1
    # 3 groups of 3: BGW 3*3*2 = 18 messages per round, BH08 3*2*2 = 12 (12 iterations)
    assert bgw["messages"]["degree_reduction"] == 18 * 12
    assert bh08["messages"]["degree_reduction"] == 12 * 12
    assert bh08["messages"]["offline"] == 18 and "offline" not in bgw["messages"]
    assert bh08["worker_seconds"]["offline"] > 0 and bgw["worker_seconds"]["offline"] == 0
    assert set(bgw["seconds"]) == {"encode", "communication", "decode", "update"}
    assert bh08["simulated_total"] >= sum(bh08["breakdown"].values()) * 0.999


def test_estimators(digits49):
    X, y = digits49
    Xr, yr = X[:, :-1], np.where(y > 0, 9, 4)
    clf = BH08LogisticRegression(N=9, iterations=10, lr=0.5, l_w=4, seed=1).fit(Xr, yr)
    assert set(clf.predict(Xr)) <= {4, 9} and clf.score(Xr, yr) > 0.95
    assert clf.predict_proba(Xr[:3]).shape == (3, 2)
    rng = np.random.default_rng(0)
    A = rng.uniform(-1, 1, (90, 3))
    b = A @ np.array([0.5, -0.25, 0.125]) + 0.25
    reg = BGWLinearRegression(N=9, iterations=40, lr=0.5, l_x=4, l_w=5, seed=2).fit(A, b)
    assert reg.score(A, b) > 0.9
    with pytest.raises(ValueError, match="two classes"):
        BGWLogisticRegression(N=9).fit(Xr[:5], np.arange(5))


def test_config_errors(digits49):
    with pytest.raises(ValueError, match="valid: bgw, bh08"):
        MPCConfig(protocol="gmw")
    with pytest.raises(ValueError, match="N >= 9"):
        MPCConfig(N=8)
    with pytest.raises(ValueError, match="T <= 1"):
        MPCConfig(N=10, T=2)
    X, y = digits49
    with pytest.raises(WrapAroundError, match="Safe choices"):
        train_mpc(X * 1e4, y, MPCConfig(N=9, iterations=1))
