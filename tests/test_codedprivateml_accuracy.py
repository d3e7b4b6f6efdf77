"""CodedPrivateML beyond Algorithm 1 as written: the master's accelerated updates, the automatic
fixed-point plan proven for the whole run, the float references of every report, and the
accuracy of the defaults against the converged float model (issue 13, deliverables 1 and 5)."""

import math

import numpy as np
import pytest

import pyprivml as pp
from pyprivml.data import load_digits49, make_synthetic
from pyprivml.protocols.codedprivateml import CodedPrivateMLConfig, run_codedprivateml
from pyprivml.protocols.codedprivateml.roles import plaintext_gradient_field
from pyprivml.protocols.fixedpoint import (MAX_PRIME, FixedPointPlan, WrapAroundError, WrapAroundGuard, choose_plan,
                                           weight_reach)
from pyprivml.protocols.inputs import with_intercept
from pyprivml.protocols.optim import MasterUpdate
from pyprivml.protocols.regression import draw_seed, float_optimum, float_references, lipschitz_lr
from pyprivml.protocols.sigmoid import fit_sigmoid

sklearn = pytest.importorskip("sklearn")


def _user_data(name, scaling):
    """A scikit-learn user's preparation: 20 % stratified split, random_state=0, scaler fitted on train."""
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    if name == "digits49":
        d = load_digits()
        keep = np.isin(d.target, (4, 9))
        X, y = d.data[keep], (d.target[keep] == 9).astype(int)
    else:
        X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    scaler = (MinMaxScaler() if scaling == "minmax" else StandardScaler()).fit(X_tr)
    return scaler.transform(X_tr), y_tr, scaler.transform(X_te), y_te


# -- the master's update rules -------------------------------------------------------------------------


def _transcription(kind, grads, lr, beta=None, radius=math.inf):
    """The update rules of optim.py written out directly: (points asked for, iterates)."""
    def proj(v):
        n = np.linalg.norm(v)
        return v if n <= radius * (1 - 1e-9) else v * (radius * (1 - 1e-9) / n)

    d = grads[0].shape[0]
    w_prev, w = np.zeros(d), np.zeros(d)
    points, iterates = [], []
    for t, g in enumerate(grads):
        if kind == "gd":
            q = w
            new = proj(w - lr * g)
        elif kind == "heavy-ball":
            b = 0.9 if beta is None else beta
            q = w
            new = proj(w - lr * g + b * (w - w_prev))
        else:
            b = t / (t + 3) if beta is None else beta
            q = proj(w + b * (w - w_prev))
            new = proj(q - lr * g)
        points.append(q)
        iterates.append(new)
        w_prev, w = w, new
    return points, iterates


@pytest.mark.parametrize("kind, beta, radius", [
    ("gd", None, math.inf), ("heavy-ball", None, math.inf), ("heavy-ball", 0.5, math.inf),
    ("nesterov", None, math.inf), ("nesterov", 0.8, math.inf), ("nesterov", None, 1.5), ("heavy-ball", None, 1.5),
])
def test_updates_equal_a_direct_transcription_on_a_fixed_gradient_sequence(kind, beta, radius):
    rng = np.random.default_rng(7)
    grads = [rng.normal(size=5) for _ in range(25)]
    want_points, want_iterates = _transcription(kind, grads, 0.3, beta, radius)
    opt = MasterUpdate(5, optimizer=kind, lr=0.3, momentum=beta, radius=radius)
    for g, q_want, w_want in zip(grads, want_points, want_iterates, strict=True):
        np.testing.assert_allclose(opt.point(), q_want, rtol=0, atol=1e-12)
        np.testing.assert_allclose(opt.step(g), w_want, rtol=0, atol=1e-12)
        assert np.linalg.norm(opt.w) <= radius
    if math.isfinite(radius):
        assert opt.projected > 0


def test_nesterov_run_decodes_exactly_at_its_look_ahead_points():
    ds = load_digits49()
    cfg = CodedPrivateMLConfig(n_workers=8, K=2, T=1, max_iter=4, seed=3, optimizer="nesterov", lx=None, lw=None,
                               p=None)
    res = run_codedprivateml(ds.X_train, ds.y_train, cfg, transport="inprocess", keep_decoded=True)
    plan = res.plan.plan
    fixed = cfg.replace(lx=plan.lx, lw=plan.lw, lc=plan.lc, p=plan.field.p)
    F = plan.field
    Xbar = pp.quantize(ds.X_train, plan.lx, F)
    assert len(res.query_points) == len(res.decoded) == 4
    assert not np.array_equal(res.query_points[2], res.weights_history[2])  # a genuine look-ahead
    for t, (q, got) in enumerate(zip(res.query_points, res.decoded)):
        W = pp.quantize_stochastic(q, plan.lw, F, copies=1, seed=draw_seed(cfg.seed, t))
        np.testing.assert_array_equal(got, plaintext_gradient_field(Xbar, W, fixed))


# -- the automatic plan ----------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["digits49", "breast_cancer-standard", "synthetic"])
def test_automatic_plan_admits_its_bound_and_is_maximal(data):
    if data == "digits49":
        X, y = load_digits49().X_train, load_digits49().y_train
    elif data == "synthetic":
        ds = make_synthetic(300, 40, seed=1)
        X, y = ds.X_train, ds.y_train
    else:
        X_tr, y, _, _ = _user_data("breast_cancer", "standard")
        X = with_intercept(X_tr, True)
    c = fit_sigmoid(1)
    reach, why = weight_reach(X, y, c[0], lipschitz_lr(X), 300, optimizer="nesterov")
    choice = choose_plan(X, c, reach=reach, reach_reason=why)
    plan, R = choice.plan, choice.radius
    assert R == reach and set(choice.automatic) == {"lx", "lw", "lc", "p", "w_bound"}
    assert plan.field.p <= MAX_PRIME and choice.bound <= plan.field.half
    assert WrapAroundGuard(X, plan).ball_bound(R) <= plan.field.half
    # Maximal: one more bit of lx, lw or lc breaks the proof even with the largest prime the kernels take.
    top = pp.PrimeField(MAX_PRIME)
    for lx, lw, lc in ((plan.lx + 1, plan.lw, plan.lc), (plan.lx, plan.lw + 1, plan.lc),
                       (plan.lx, plan.lw, plan.lc + 1)):
        trial = FixedPointPlan(top, lx, lw, c, lc)
        assert WrapAroundGuard(X, trial).ball_bound(R) > top.half
    # ... and the reasons say so.
    assert "lx + 1 would need" in choice.reasons["lx"] and "smallest prime" in choice.reasons["p"]
    # A fixed lx: lw is then the largest for it.
    fixed = choose_plan(X, c, lx=max(plan.lx - 1, 0), reach=reach)
    assert fixed.plan.lx == max(plan.lx - 1, 0) and fixed.plan.lw >= plan.lw
    assert WrapAroundGuard(X, FixedPointPlan(top, fixed.plan.lx, fixed.plan.lw + 1, c, fixed.plan.lc)
                           ).ball_bound(R) > top.half


def test_the_ball_bound_really_bounds_every_weight_of_the_ball():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(30, 5))
    plan = FixedPointPlan(pp.PrimeField(), lx=3, lw=4, coefficients=(0.5, 0.13))
    guard = WrapAroundGuard(X, plan)
    R = 2.5
    Xbar = plan.field.lift(pp.quantize(X, plan.lx, plan.field)).astype(object)
    c = plan.signed_coefficients()
    worst = 0
    for draw in range(40):
        w = rng.normal(size=5)
        w *= R * rng.uniform(0.5, 1.0) / np.linalg.norm(w)
        if draw % 4 == 0:  # all of the norm on one coordinate
            w = np.zeros(5)
            w[draw % 5] = R * 0.999
        W = plan.field.lift(pp.quantize_stochastic(w, plan.lw, plan.field, seed=draw)).astype(object)
        G = Xbar.T @ (int(c[0]) + int(c[1]) * (Xbar @ W))
        worst = max(worst, max(abs(int(v)) for v in G))
        assert guard.bound(w) <= guard.ball_bound(R)
    assert worst <= guard.ball_bound(R)
    assert guard.ball_bound(guard.max_safe_radius()) <= plan.field.half


# -- a plan that holds for the whole run -------------------------------------------------------------


@pytest.fixture(scope="module")
def growing():
    """The issue's m = 1200, d = 1000 set: Algorithm 1's defaults passed the check before training and
    were refused at iteration 5 as the weights grew."""
    return make_synthetic(1200, 1000, seed=0)


def test_growing_weights_no_longer_stop_a_fixed_plan_midway(growing):
    ds = growing
    cfg = CodedPrivateMLConfig(n_workers=13, max_iter=10, seed=0)  # gd, lx = 3, lw = 4, p = 2^25 - 39
    res = run_codedprivateml(ds.X_train, ds.y_train, cfg, transport="inprocess")
    assert res.parameters["iterations_run"] == 10 and len(res.history) == 11
    R = res.parameters["w_bound"]
    assert 0 < R < 1 and res.parameters["projected_iterations"] > 0
    assert all(np.linalg.norm(q) <= R for q in res.query_points)
    assert any("prove only ||w||_2 <=" in w for w in res.warnings)
    assert any("were projected back onto it" in w for w in res.warnings)
    # The suggested prime covers the whole run, not one iteration: the ball of the run's reach.
    msg = next(w for w in res.warnings if "prove only" in w)
    p_safe = int(msg.split("p >= ")[1].split(";")[0])
    reach = float(msg.split("below the reach of this run, ")[1].split()[0])
    plan = FixedPointPlan(pp.PrimeField(p_safe), 3, 4, cfg.coefficients(), res.parameters["lc"])
    assert WrapAroundGuard(ds.X_train, plan).ball_bound(reach) <= plan.field.half


def test_growing_weights_with_the_automatic_plan(growing):
    ds = growing
    cfg = CodedPrivateMLConfig(n_workers=13, max_iter=12, seed=0, optimizer="nesterov", lx=None, lw=None, p=None)
    res = run_codedprivateml(ds.X_train, ds.y_train, cfg, transport="inprocess", X_test=ds.X_test, y_test=ds.y_test)
    params = res.parameters
    assert params["iterations_run"] == 12 and params["projected_iterations"] == 0 and not res.warnings
    assert params["p"] > 2**31 and params["plan"]["bound"] <= (params["p"] - 1) // 2
    assert max(np.linalg.norm(q) for q in res.query_points) <= params["w_bound"]
    assert set(params["plan"]["reasons"]) >= {"lx", "lw", "lc", "p", "w_bound"}
    assert res.history[-1]["accuracy"] > 0.6


def test_an_impossible_plan_is_refused_before_training_with_whole_run_suggestions(growing):
    ds = growing
    cfg = CodedPrivateMLConfig(n_workers=4, case=1, lx=6, lw=6, max_iter=30)  # p = 2^25 - 39: refused at w = 0
    with pytest.raises(WrapAroundError, match="before training") as info:
        run_codedprivateml(ds.X_train, ds.y_train, cfg, transport="inprocess")
    msg = str(info.value)
    R = float(msg.split("||w||_2 <= ")[1].split()[0])
    assert R == pytest.approx(weight_reach(ds.X_train, ds.y_train, 0.5, lipschitz_lr(ds.X_train), 30)[0], rel=1e-3)
    assert "p >= " not in msg or int(msg.split("p >= ")[1].split(";")[0]) < 2**32
    # A given w_bound beyond what a fixed plan proves is refused too, before any iteration.
    with pytest.raises(WrapAroundError, match=r"before training: .*\|\|w\|\|_2 <= 1000 \(the given w_bound\)"):
        run_codedprivateml(ds.X_train, ds.y_train, CodedPrivateMLConfig(n_workers=4, case=1, w_bound=1000.0,
                                                                        max_iter=2), transport="inprocess")


# -- reports, stopping, options ------------------------------------------------------------------------


def test_tol_stops_early_and_reports_carry_both_float_references():
    ds = load_digits49()
    cfg = CodedPrivateMLConfig(n_workers=4, case=1, max_iter=60, seed=0, optimizer="heavy-ball", tol=0.05,
                               lx=None, lw=None, p=None)
    res = run_codedprivateml(ds.X_train, ds.y_train, cfg, X_test=ds.X_test, y_test=ds.y_test, transport="inprocess",
                             references=True)
    n = res.parameters["iterations_run"]
    assert res.parameters["stopped_by"] == "tol" and n < 60 and res.history[-1]["grad_norm"] <= 0.05
    assert all(h["grad_norm"] > 0.05 for h in res.history[1:-1])
    report = res.report("codedprivateml", dataset="digits49")
    assert len(report.baseline_history) == len(report.history) == n + 1  # iteration-matched
    assert report.optimum["accuracy"] >= 0.95 and report.optimum["separable"]
    assert "optimum" in report.summary_table()
    assert report.parameters["plan"]["automatic"] == ["lx", "lw", "lc", "p", "w_bound"]


def test_bad_options_get_clear_errors():
    from pyprivml.protocols.mpc.training import MPCConfig

    with pytest.raises(ValueError, match=r"optimizer must be one of 'gd', 'heavy-ball', 'nesterov', got 'adam'"):
        CodedPrivateMLConfig(n_workers=4, case=1, optimizer="adam")
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\)"):
        CodedPrivateMLConfig(n_workers=4, case=1, optimizer="nesterov", momentum=1.0)
    with pytest.raises(ValueError, match="needs optimizer='heavy-ball' or 'nesterov'"):
        CodedPrivateMLConfig(n_workers=4, case=1, momentum=0.5)
    with pytest.raises(ValueError, match="tol must be"):
        CodedPrivateMLConfig(n_workers=4, case=1, tol=-1.0)
    with pytest.raises(ValueError, match="w_bound must be"):
        CodedPrivateMLConfig(n_workers=4, case=1, w_bound=0.0)
    with pytest.raises(ValueError, match="call resolve"):
        CodedPrivateMLConfig(n_workers=4, case=1, lx=None).plan()
    with pytest.raises(ValueError, match="workers run all max_iter iterations"):
        MPCConfig(n_workers=9, tol=0.1)
    with pytest.raises(ValueError, match="needs a protocol whose master picks the plan"):
        MPCConfig(n_workers=9, lx=None)
    with pytest.raises(ValueError, match=r"lx must be an integer in \[0, 30\], got 31 \(or None: chosen from the data\)"):
        pp.CodedPrivateLogisticRegression(n_workers=4, case=1, lx=31).fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="p = 100 is not prime"):
        pp.CodedPrivateLogisticRegression(n_workers=4, case=1, p=100).fit(np.eye(4), [0, 1, 0, 1])


def test_cli_options(capsys):
    from pyprivml import cli

    assert cli.main(["train", "codedprivateml", "--dataset", "digits49", "--workers", "4", "--case", "1", "--iters",
                     "5", "--optimizer", "heavy-ball", "--momentum", "0.5", "--transport", "inprocess",
                     "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "optimum" in out and "p=" in out
    with pytest.raises(SystemExit):
        cli.main(["train", "codedprivateml", "--optimizer", "adam"])
    with pytest.raises(SystemExit):
        cli.main(["train", "codedprivateml", "--w-bound", "-1"])
    assert "expected a finite positive number" in capsys.readouterr().err


# -- accuracy at the defaults ----------------------------------------------------------------------------


@pytest.mark.parametrize("name, scaling", [("digits49", "minmax"), ("digits49", "standard"),
                                           ("breast_cancer", "minmax"), ("breast_cancer", "standard")])
def test_defaults_reach_the_converged_float_accuracy(name, scaling):
    X_tr, y_tr, X_te, y_te = _user_data(name, scaling)
    clf = pp.CodedPrivateLogisticRegression(n_workers=9, random_state=0, transport="inprocess").fit(X_tr, y_tr)
    optimum = float_optimum(with_intercept(X_tr, True), y_tr.astype(float), X_test=with_intercept(X_te, True),
                            y_test=y_te.astype(float))
    ours = clf.score(X_te, y_te)
    assert ours >= optimum["accuracy"] - 0.005, (ours, optimum)
    assert clf.result_.parameters["projected_iterations"] == 0  # the ball was never in the way


def test_defaults_on_a_synthetic_set():
    ds = make_synthetic(1000, 50, seed=0)
    clf = pp.CodedPrivateLogisticRegression(n_workers=9, random_state=0, transport="inprocess", fit_intercept=False)
    clf.fit(ds.X_train, ds.y_train)
    baseline, optimum = float_references(ds.X_train, ds.y_train, clf.config(), clf.n_iter_, lr=clf.lr_,
                                         X_test=ds.X_test, y_test=ds.y_test)
    assert len(baseline) == clf.n_iter_ + 1
    # 200 test points: one is 0.5 points. At random_state=0 ours is 81.0 % against 80.5 %; over
    # other seeds of the stochastic quantisation it ranges 79.5-81.0 %, hence three points of slack.
    assert clf.score(ds.X_test, ds.y_test) >= optimum["accuracy"] - 0.015
