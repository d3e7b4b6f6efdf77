"""CodedPrivateML end to end in-process: exact decoding, accuracy against the float baseline,
stragglers and dead workers, privacy of every payload, the wrap-around proof, linear regression."""

import math

import numpy as np
import pytest

import pyprivml as pp
from pyprivml.comm import TransportTimeout
from pyprivml.data import load_breast_cancer, load_digits49, make_synthetic
from pyprivml.estimators import gradient_descent
from pyprivml.field import prev_prime
from pyprivml.protocols.codedprivateml import (CodedPrivateMLConfig, draw_seed, choose_K_T, lipschitz_lr,
                                               plaintext_gradient_field, run_codedprivateml)
from pyprivml.protocols.fixedpoint import FixedPointPlan, WrapAroundError, WrapAroundGuard, auto_lc, s_bar
from pyprivml.protocols.sigmoid import fit_sigmoid, polyval, sigmoid


@pytest.fixture(scope="module")
def digits():
    return load_digits49()


# -- parameters ------------------------------------------------------------------------------------


@pytest.mark.parametrize("N, case, expected", [
    (50, 1, (16, 1)), (50, 2, (10, 7)),  # seed 004 sec. V with N = 50
    (12, 2, (3, 1)), (9, 2, (2, 1)), (4, 1, (1, 1)), (10, 1, (3, 1)),
])
def test_case_1_and_2_follow_the_seed_formulas(N, case, expected):
    K, T = choose_K_T(N, 1, case)
    assert (K, T) == expected
    if case == 1:
        assert (K, T) == ((N - 1) // 3, 1)
    else:
        assert T == (N - 3) // 6 and K == (N + 2) // 3 - T
    assert N >= 3 * (K + T - 1) + 1


def test_parameter_errors_say_what_would_be_valid():
    with pytest.raises(ValueError, match=r"needs N >= 9"):
        choose_K_T(8, 1, 2)
    with pytest.raises(ValueError, match=r"N >= \(2r\+1\)\(K\+T-1\)\+1 = 10"):
        choose_K_T(6, 1, K=3, T=1)
    with pytest.raises(ValueError, match="T = 0 would give no privacy"):
        choose_K_T(6, 1, K=1, T=0)
    with pytest.raises(ValueError, match="give both K and T"):
        choose_K_T(6, 1, K=1)
    with pytest.raises(ValueError, match=r"workers are ranks 1..6"):
        CodedPrivateMLConfig(n_workers=6, case=1, straggle={7: 1.0})
    with pytest.raises(ValueError, match="degree must be 1"):
        CodedPrivateMLConfig(n_workers=10, case=1, degree=2, task="linear")


# -- fixed point ---------------------------------------------------------------------------------------


def test_coefficient_scale_keeps_small_coefficients_and_the_exponent_adds_up():
    c = fit_sigmoid(1)
    plan = FixedPointPlan(pp.PrimeField(), lx=2, lw=5, coefficients=c)
    # Without lc the degree-1 coefficient 0.131 would round to 0 (the seed's l = lx + r(lx + lw)).
    assert round(c[1]) == 0 and plan.signed_coefficients()[1] != 0
    eff = plan.effective_coefficients()
    assert np.all(np.abs(eff - c) <= 0.1 * np.abs(c))
    assert plan.exponent == plan.lx + plan.lc + plan.r * (plan.lx + plan.lw)
    assert auto_lc((0.5, 0.0, 1.0), a=4) == 0  # zero coefficients need no bits
    assert auto_lc((0.5, 0.0, 0.25), a=4) == 2  # 0.25 * 2^lc must not round to 0


def test_s_bar_matches_eq_15_over_the_integers(rng):
    F = pp.PrimeField(1000003)  # |s̄| < 5 * 30**3 stays below (p-1)/2
    Z_signed = rng.integers(-30, 30, size=(20, 3))
    coeffs = np.array([5, -3, 2, 1])
    got = s_bar(F.embed(Z_signed), F.embed(coeffs), F)
    expect = sum(int(coeffs[i]) * np.prod(Z_signed[:, :i], axis=1) for i in range(4))
    np.testing.assert_array_equal(F.lift(got), expect)


@pytest.mark.parametrize("seed", range(4))
def test_the_wrap_around_bound_really_bounds_the_decoded_values(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(40, 6))
    w = rng.normal(scale=2.0, size=6)
    F = pp.PrimeField(prev_prime(2**31))
    plan = FixedPointPlan(F, lx=3, lw=4, coefficients=(0.5, 0.2, -0.01))
    guard = WrapAroundGuard(X, plan)
    Xbar = F.lift(pp.quantize(X, plan.lx, F))
    c = plan.signed_coefficients()
    worst = 0
    for draw in range(20):  # exact integer G = X̄^T s̄ for several stochastic draws
        W = F.lift(pp.quantize_stochastic(w, plan.lw, F, copies=plan.r, seed=draw)).astype(object)
        Z = Xbar.astype(object) @ W
        s = c[0] + c[1] * Z[:, 0] + c[2] * Z[:, 0] * Z[:, 1]
        worst = max(worst, max(abs(v) for v in Xbar.T.astype(object) @ s))
    assert worst <= guard.bound(w)


def test_wrap_around_check_fires_on_a_crafted_dataset_and_names_safe_parameters():
    X = np.ones((200, 4))  # every entry at the top of its range: the decoded sums are as large as possible
    cfg = CodedPrivateMLConfig(n_workers=4, case=1, lx=7, lw=5, max_iter=1)
    with pytest.raises(WrapAroundError, match="before training") as info:
        run_codedprivateml(X, np.ones(200), cfg, transport="inprocess")
    msg = str(info.value)
    assert "(p-1)/2 = 16777196" in msg and "lx <= " in msg and "p >= " in msg
    # The suggestions are really safe, for every weight of the run (the ball of its reach), not only w = 0.
    radius = float(msg.split("||w||_2 <= ")[1].split()[0])
    assert radius >= 1.0
    safe_lx = int(msg.split("lx <= ")[1].split()[0])
    plan = FixedPointPlan(pp.PrimeField(), safe_lx, 5, cfg.coefficients())
    assert WrapAroundGuard(X, plan).ball_bound(radius) <= plan.field.half
    safe_p = int(msg.split("p >= ")[1].split()[0].rstrip(";"))
    big = FixedPointPlan(pp.PrimeField(pp.next_prime(safe_p - 1)), 7, 5, cfg.coefficients())
    assert WrapAroundGuard(X, big).ball_bound(radius) <= big.field.half


def test_wrap_around_check_fires_when_weights_grow_during_training(digits):
    plan = CodedPrivateMLConfig(n_workers=4, case=1).plan()
    guard = WrapAroundGuard(digits.X_train, plan)
    limit = guard.max_safe_weight()
    assert 0 < limit < 100
    guard.check(np.full(65, limit))
    with pytest.raises(WrapAroundError, match=r"iteration 7: .*lw <= \d+ \(with lx = 3\)"):
        guard.check(np.full(65, 4 * limit), when="iteration 7")


# -- the protocol ------------------------------------------------------------------------------------


def _expected_decoded(X, cfg, res):
    F = pp.PrimeField(cfg.p)
    Xbar = pp.quantize(X, cfg.lx, F)
    out = []
    for t in range(cfg.max_iter):
        W = pp.quantize_stochastic(res.weights_history[t], cfg.lw, F, copies=cfg.degree, seed=draw_seed(cfg.seed, t))
        out.append(plaintext_gradient_field(Xbar, W, cfg))
    return out


@pytest.mark.parametrize("degree, extra", [
    (1, dict(n_workers=8, K=2, T=1)),
    # A genuine quadratic term needs an asymmetric fit interval; p and lw leave room for it.
    (2, dict(n_workers=11, K=2, T=1, lx=2, lw=3, p=prev_prime(2**31), fit_interval=(-4.0, 6.0))),
])
def test_decoded_gradient_equals_the_plaintext_quantised_gradient(digits, degree, extra):
    cfg = CodedPrivateMLConfig(degree=degree, max_iter=3, seed=11, **extra)
    if degree == 2:
        assert cfg.plan().signed_coefficients()[2] != 0
    res = run_codedprivateml(digits.X_train, digits.y_train, cfg, transport="inprocess", keep_decoded=True)
    for got, want in zip(res.decoded, _expected_decoded(digits.X_train, cfg, res), strict=True):
        np.testing.assert_array_equal(got, want)
    assert all(len(u) == cfg.recovery_threshold() for u in res.used_workers)


@pytest.mark.parametrize("loader", [load_digits49, load_breast_cancer])
def test_in_process_training_matches_the_float_baseline(loader):
    ds = loader()
    cfg = CodedPrivateMLConfig(n_workers=12, case=2, max_iter=50, seed=0)
    res = run_codedprivateml(ds.X_train, ds.y_train, cfg, X_test=ds.X_test, y_test=ds.y_test, transport="inprocess")
    lr = lipschitz_lr(ds.X_train)
    assert res.parameters["lr"] == pytest.approx(lr)
    _, base = gradient_descent(ds.X_train, ds.y_train, lr=lr, max_iter=50, X_test=ds.X_test, y_test=ds.y_test)
    assert res.history[-1]["accuracy"] >= base[-1]["accuracy"] - 0.01
    assert res.history[-1]["loss"] < 0.5 * res.history[0]["loss"]
    assert set(res.seconds) >= {"encoding", "communication", "computation", "decoding", "update", "total"}
    N, K = 12, res.parameters["K"]
    Xt_bytes = N * math.ceil(ds.X_train.shape[0] / K) * ds.X_train.shape[1] * 8
    assert res.bytes["data"] == Xt_bytes  # X̃_i sent once to each worker, 1/K of the data each
    assert res.bytes["weights"] == 50 * N * ds.X_train.shape[1] * 8


def test_stragglers_do_not_change_the_result_and_are_not_waited_for(digits):
    base = dict(n_workers=7, K=1, T=1, max_iter=4, seed=5)  # threshold 4: up to 3 slow workers
    ref = run_codedprivateml(digits.X_train, digits.y_train, CodedPrivateMLConfig(**base), transport="inprocess")
    slow = {2: 0.3, 5: 0.3, 7: math.inf}  # two slow workers and a dead one
    res = run_codedprivateml(digits.X_train, digits.y_train, CodedPrivateMLConfig(straggle=slow, **base),
                             transport="inprocess")
    np.testing.assert_array_equal(res.w, ref.w)
    for used in res.used_workers:
        assert not set(used) & set(slow)
    assert any("rank 7" in w for w in res.warnings) or res.warnings == []


def test_too_many_dead_workers_time_out_naming_them(digits):
    cfg = CodedPrivateMLConfig(n_workers=5, K=1, T=1, max_iter=2, timeout=0.5, straggle={3: math.inf, 4: math.inf})
    with pytest.raises(TransportTimeout, match=r"iteration 0: .*needs 4 .*workers \[3, 4\] did not answer") as info:
        run_codedprivateml(digits.X_train, digits.y_train, cfg, transport="inprocess")
    assert info.value.missing == [3, 4]


def test_no_worker_receives_a_raw_data_block_or_weight_vector(digits):
    cfg = CodedPrivateMLConfig(n_workers=8, K=2, T=1, max_iter=3, seed=2)
    res, run = run_codedprivateml(digits.X_train, digits.y_train, cfg, transport="inprocess",
                                  record_payloads=True, return_launch=True)
    F = pp.PrimeField(cfg.p)
    Xbar = pp.quantize(digits.X_train, cfg.lx, F)
    rows = -(-Xbar.shape[0] // 2)
    blocks = [Xbar[:rows], Xbar[rows:]]
    raw_rows = {tuple(r) for r in Xbar if r.any()}
    Ws = [pp.quantize_stochastic(res.weights_history[t], cfg.lw, F, copies=1, seed=draw_seed(cfg.seed, t))
          for t in range(cfg.max_iter)]
    sent = [(dest, phase, payload) for dest, _, phase, payload in run.transports[0].log.sent
            if isinstance(payload, np.ndarray)]
    assert {phase for _, phase, _ in sent} == {"data", "weights"}
    assert len(sent) == cfg.n_workers * (1 + cfg.max_iter)
    for dest, phase, payload in sent:
        assert 1 <= dest <= cfg.n_workers
        if phase == "data":
            assert all(payload.shape != b.shape or not np.array_equal(payload, b) for b in blocks)
            assert not any(tuple(r) in raw_rows for r in payload)
        else:
            for W in Ws:
                assert not np.array_equal(payload, W)
                assert not any(np.array_equal(payload[:, j], W[:, 0]) for j in range(payload.shape[1]))
    # The workers themselves sent nothing but results and their summaries to the master.
    for t in run.transports[1:]:
        assert {dest for dest, *_ in t.log.sent} == {0}


# -- linear regression and the estimators --------------------------------------------------------------


def test_linear_regression_matches_float_gradient_descent():
    rng = np.random.default_rng(0)
    X = np.hstack([rng.uniform(-1, 1, size=(300, 5)), np.ones((300, 1))])
    y = X @ np.array([0.8, -0.5, 0.3, 0.0, 0.6, 0.2]) + 0.05 * rng.standard_normal(300)
    model = pp.CodedPrivateLinearRegression(n_workers=4, case=1, max_iter=60, random_state=0,
                                            transport="inprocess", fit_intercept=False).fit(X, y)
    base = pp.GradientDescentLinearRegression(max_iter=60, lr=model.lr_, fit_intercept=False).fit(X, y)
    assert model.result_.parameters["quantized_coefficients"] == [0, 1]  # s_hat(z) = z exactly
    assert model.score(X, y) > 0.9
    assert model.score(X, y) >= base.score(X, y) - 0.01
    np.testing.assert_allclose(model.coef_, base.coef_, atol=0.05)


def test_logistic_estimator_api_with_arbitrary_labels(digits):
    y = np.where(digits.y_train > 0.5, 9, 4)
    clf = pp.CodedPrivateLogisticRegression(n_workers=4, case=1, max_iter=15, random_state=1, transport="inprocess")
    clf.fit(digits.X_train[:, :-1], y)
    assert clf.coef_.shape == (64,) and isinstance(clf.intercept_, float)
    assert set(clf.predict(digits.X_test[:, :-1])) <= {4, 9}
    proba = clf.predict_proba(digits.X_test[:, :-1])
    assert proba.shape == (len(digits.X_test), 2) and np.allclose(proba.sum(axis=1), 1)
    assert clf.score(digits.X_test[:, :-1], np.where(digits.y_test > 0.5, 9, 4)) > 0.9
    assert clf.get_params()["n_workers"] == 4
    with pytest.raises(RuntimeError, match="not fitted"):
        pp.CodedPrivateLogisticRegression(n_workers=4).predict(digits.X_test)
    with pytest.raises(ValueError, match="exactly two classes"):
        clf.fit(digits.X_train, np.arange(len(digits.X_train)) % 3)


def test_sigmoid_fit_is_least_squares_and_degree_two_is_odd_free():
    c1, c2 = fit_sigmoid(1), fit_sigmoid(2)
    z = np.linspace(-5, 5, 2001)
    err = np.sum((polyval(c1, z) - sigmoid(z)) ** 2)
    for dc in (0.01, -0.01):  # a least-squares fit: perturbing a coefficient makes it worse
        assert np.sum((polyval(c1 + [0, dc], z) - sigmoid(z)) ** 2) > err
    assert c2[2] == 0.0 and c2[1] == pytest.approx(c1[1])
    assert fit_sigmoid(2, (-4, 6))[2] != 0
    with pytest.raises(ValueError, match="degree r >= 1"):
        fit_sigmoid(0)


def test_synthetic_data_scales_and_trains():
    ds = make_synthetic(400, 20, seed=3, noise=0.0)
    clf = pp.CodedPrivateLogisticRegression(n_workers=9, case=2, max_iter=30, random_state=0,
                                            transport="inprocess", fit_intercept=False)
    base = pp.GradientDescentLogisticRegression(max_iter=30, fit_intercept=False).fit(ds.X_train, ds.y_train)
    assert clf.fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test) >= base.score(ds.X_test, ds.y_test) - 0.02
    assert base.score(ds.X_test, ds.y_test) > 0.9


def test_the_degree_one_forms_are_the_same_polynomial_bit_for_bit():
    """Degree 1: c̄0 X̃ᵀ1 + c̄1 X̃ᵀ(X̃ w̃) and the Gram shortcut c̄0 X̃ᵀ1 + c̄1 (X̃ᵀX̃) w̃ equal
    X̃ᵀ s̄(X̃ w̃) over F_p, for random and extreme residues."""
    from pyprivml.protocols.codedprivateml.roles import DegreeOneWorker, worker_compute
    from pyprivml.protocols.regression import gram_pays

    rng = np.random.default_rng(7)
    for p in (65521, 2**25 - 39, 2**32 - 5):
        F = pp.PrimeField(p)
        for rows, d in ((1, 1), (40, 7), (300, 60)):
            Xt = rng.integers(0, p, (rows, d))
            Xt[0] = p - 1
            c = rng.integers(0, p, 2)
            forms = [DegreeOneWorker(Xt, c, F), DegreeOneWorker(Xt, c, F, gram=True)]
            for _ in range(3):
                Wt = rng.integers(0, p, (d, 1))
                want = worker_compute(Xt, Wt, c, F)
                assert all(np.array_equal(f(Wt), want) for f in forms), (p, rows, d)
    with pytest.raises(ValueError, match="degree r = 1"):
        DegreeOneWorker(Xt, np.array([1, 2, 3]), F)
    assert gram_pays(1000, 100, 300, 1) and not gram_pays(1000, 100, 300, 2) and not gram_pays(1000, 100, 50, 1)


def test_a_run_with_the_gram_shortcut_equals_the_run_without(monkeypatch):
    from pyprivml.protocols.codedprivateml import roles
    from pyprivml.protocols.codedprivateml.roles import DegreeOneWorker

    rng = np.random.default_rng(3)
    X = rng.random((200, 8)) * 0.5
    y = (X.sum(axis=1) > 2).astype(float)
    cfg = CodedPrivateMLConfig(n_workers=5, case=1, max_iter=20, seed=0)
    built = []
    monkeypatch.setattr(roles, "DegreeOneWorker", lambda *a, gram: built.append(gram) or DegreeOneWorker(*a, gram=gram))
    with_gram = roles.run_codedprivateml(X, y, cfg, transport="inprocess")
    assert built == [True] * 5                             # every worker took the shortcut
    monkeypatch.setattr(roles, "gram_pays", lambda *a: False)
    without = roles.run_codedprivateml(X, y, cfg, transport="inprocess")
    assert built[5:] == [False] * 5 and np.array_equal(with_gram.w, without.w)


def test_eval_every_thins_the_metrics_not_the_steps():
    """eval_every=3 over 7 iterations evaluates after iterations 0, 3, 6 and 7 only, and the
    weights are those of a run that evaluates every iteration; the CLI takes --eval-every."""
    from pyprivml.cli import train_parser

    ds = make_synthetic(200, 6, seed=4)
    runs = {k: run_codedprivateml(ds.X_train, ds.y_train,
                                  CodedPrivateMLConfig(n_workers=9, max_iter=7, seed=2, eval_every=k),
                                  transport="inprocess") for k in (1, 3)}
    assert [h["iteration"] for h in runs[3].history] == [0, 3, 6, 7]
    assert [h["iteration"] for h in runs[1].history] == list(range(8))
    np.testing.assert_array_equal(runs[3].w, runs[1].w)
    assert runs[3].history[-1] == runs[1].history[-1]
    with pytest.raises(ValueError, match="eval_every"):
        CodedPrivateMLConfig(n_workers=9, eval_every=0)
    assert train_parser("codedprivateml").parse_args(["--eval-every", "5"]).eval_every == 5


@pytest.mark.parametrize("protocol", ["codedprivateml", "bgw"])
def test_metrics_are_evaluated_while_the_workers_compute(monkeypatch, protocol):
    """Each update's metrics are evaluated inside private_gradient, after the next weights are
    sent (off the critical path); only the last one, with no next round, is evaluated after it."""
    import inspect

    from pyprivml.protocols.mpc.training import MPCConfig, run_mpc
    from pyprivml.protocols.regression import RegressionMaster

    where = []
    original = RegressionMaster.while_waiting

    def recording(self):
        if self._deferred is not None:
            where.append(inspect.stack()[1].function)
        original(self)

    monkeypatch.setattr(RegressionMaster, "while_waiting", recording)
    ds = make_synthetic(200, 6, seed=4)
    if protocol == "bgw":
        res = run_mpc(ds.X_train, ds.y_train, MPCConfig(protocol="bgw", n_workers=9, max_iter=5, seed=2),
                      transport="inprocess")
    else:
        res = run_codedprivateml(ds.X_train, ds.y_train, CodedPrivateMLConfig(n_workers=9, max_iter=5, seed=2),
                                 transport="inprocess")
    assert where == ["private_gradient"] * 4 + ["run"]
    assert [h["iteration"] for h in res.history] == list(range(6))
