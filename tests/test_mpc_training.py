"""BGW and BH08 training (seed 004 sec. V): the same steps as CodedPrivateML and as plaintext
quantised gradient descent, the same accuracy on digits 4-vs-9, estimators, configuration errors."""

import numpy as np
import pytest

from pyprivml.data import load_digits49
from pyprivml.protocols.codedprivateml import CodedPrivateMLConfig, run_codedprivateml
from pyprivml.protocols.fixedpoint import WrapAroundError
from pyprivml.protocols.mpc.bgw import BGWLinearRegression, BGWLogisticRegression
from pyprivml.protocols.mpc.bh08 import BH08LogisticRegression
from pyprivml.protocols.mpc.training import MPCConfig, message_counts, run_mpc

ITERS = 12


@pytest.fixture(scope="module")
def digits():
    return load_digits49()


@pytest.fixture(scope="module")
def runs(digits):
    out = {}
    for protocol, transport in (("bgw", "inprocess"), ("bh08", "simulated")):
        cfg = MPCConfig(protocol=protocol, n_workers=10, max_iter=ITERS, seed=3, gram=False)  # degree reduction
        out[protocol] = run_mpc(digits.X_train, digits.y_train, cfg, X_test=digits.X_test,
                                y_test=digits.y_test, transport=transport, return_launch=True)
    cfg = CodedPrivateMLConfig(n_workers=10, case=2, max_iter=ITERS, seed=3)
    out["codedprivateml"] = (run_codedprivateml(digits.X_train, digits.y_train, cfg, X_test=digits.X_test,
                                                y_test=digits.y_test, transport="inprocess"), None)
    return out


def test_three_protocols_take_identical_steps(runs):
    """Same W-bar draws (same seed), exact field arithmetic and the same decoded X-bar^T s-bar:
    BGW, BH08 and CodedPrivateML produce the same weights bit for bit."""
    ref = runs["codedprivateml"][0].weights_history
    for protocol in ("bgw", "bh08"):
        got = runs[protocol][0].weights_history
        assert len(got) == len(ref) == ITERS + 1
        for a, b in zip(got, ref):
            np.testing.assert_array_equal(a, b)


def test_same_accuracy_on_digits(runs):
    acc = {p: r.history[-1]["accuracy"] for p, (r, _) in runs.items()}
    assert acc["bgw"] == acc["bh08"] == acc["codedprivateml"] > 0.95


def test_report_format_and_traffic(runs):
    (bgw, bgw_run), (bh08, bh08_run) = runs["bgw"], runs["bh08"]
    for res in (bgw, bh08):
        assert {"encoding", "communication", "computation", "decoding", "update", "total",
                "degree_reduction", "offline"} <= set(res.seconds)
        assert res.parameters["T"] == 1 and res.parameters["groups"] == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
        assert res.parameters["rounds_per_iteration"] == 1
    assert bh08.seconds["offline"] > 0 and bgw.seconds["offline"] == 0
    # Counted through the transports: 3 groups of 3 parties, one reduction per iteration:
    # BGW 3 * 3 * 2 = 18 messages per round, BH08 3 * 2 * 2 = 12; BH08's offline round 18.
    bgw_msgs, bh08_msgs = message_counts(bgw_run), message_counts(bh08_run)
    assert bgw_msgs["degree_reduction"] == 18 * ITERS and "offline" not in bgw_msgs
    assert bh08_msgs["degree_reduction"] == 12 * ITERS and bh08_msgs["offline"] == 18


@pytest.mark.parametrize("protocol", ["bgw", "bh08"])
def test_the_gram_variant_takes_the_same_steps_without_degree_reduction(digits, protocol):
    """r = 1: sharing X'^T X' and X'^T 1 once gives the weights of the direct protocol bit for
    bit, with no degree-reduction round (and no BH08 offline phase)."""
    X, y = digits.X_train, digits.y_train
    runs = {gram: run_mpc(X, y, MPCConfig(protocol=protocol, n_workers=10, max_iter=4, seed=5, gram=gram),
                          transport="inprocess", return_launch=True) for gram in (False, True)}
    for a, b in zip(runs[True][0].weights_history, runs[False][0].weights_history):
        np.testing.assert_array_equal(a, b)
    assert runs[True][0].parameters["gram"] and not runs[False][0].parameters["gram"]
    assert runs[True][0].parameters["rounds_per_iteration"] == 0
    counts = message_counts(runs[True][1])
    assert "degree_reduction" not in counts and "offline" not in counts
    # automatic: taken where it pays (many iterations over few features), not otherwise
    assert MPCConfig(max_iter=20).uses_gram(267, 101) and MPCConfig(max_iter=20).uses_gram(320, 1001)
    assert not MPCConfig(max_iter=50).uses_gram(3006, 3073)         # the seed's CIFAR-10 shape
    assert not MPCConfig(degree=2).uses_gram(267, 101)
    with pytest.raises(ValueError, match="Gram variant needs degree r = 1"):
        MPCConfig(gram=True, degree=2)


def test_estimators(digits):
    clf = BH08LogisticRegression(n_workers=9, max_iter=10, random_state=1, transport="inprocess",
                                 fit_intercept=False)
    yl = np.where(digits.y_train > 0, 9, 4)
    clf.fit(digits.X_train, yl)
    assert set(clf.predict(digits.X_test)) <= {4, 9}
    assert clf.score(digits.X_test, np.where(digits.y_test > 0, 9, 4)) > 0.95
    assert clf.predict_proba(digits.X_test[:3]).shape == (3, 2) and clf.lr_ > 0
    rng = np.random.default_rng(0)
    A = rng.uniform(-1, 1, (90, 3))
    b = A @ np.array([0.5, -0.25, 0.125]) + 0.25
    reg = BGWLinearRegression(n_workers=9, max_iter=30, lx=4, lw=5, random_state=2, transport="inprocess")
    assert reg.fit(A, b).score(A, b) > 0.9
    with pytest.raises(ValueError, match="two classes"):
        BGWLogisticRegression(n_workers=9).fit(digits.X_train[:5], np.arange(5))


def test_config_errors(digits):
    with pytest.raises(ValueError, match="valid: bgw, bh08"):
        MPCConfig(protocol="gmw")
    with pytest.raises(ValueError, match="N >= 9"):
        MPCConfig(n_workers=8)
    with pytest.raises(ValueError, match="T <= 1"):
        MPCConfig(n_workers=10, T=2)
    with pytest.raises(WrapAroundError, match="Safe choices"):
        run_mpc(digits.X_train * 1e4, digits.y_train, MPCConfig(n_workers=9, max_iter=1), transport="inprocess")
