"""CodedPrivateML over several primes (issue 13, item 2): the plan picks how many primes the
wrap-around proof needs, the master decodes by the Chinese remainder theorem exactly (against
Python integers and against one large prime, bit for bit), bad primes are refused naming valid
values, and T-privacy holds per field and jointly (independent uniform masks per prime)."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from test_coding_privacy import ALPHA, _contingency_pvalue
from test_privacy_audit import _inv, _received, _Recorder

import pyprivml as pp
from pyprivml.crt import CRT
from pyprivml.data import load_digits49
from pyprivml.field import largest_primes, prev_prime
from pyprivml.protocols.codedprivateml import (CodedPrivateMLConfig, draw_seed, plaintext_gradient_field,
                                               run_codedprivateml)
from pyprivml.protocols.codedprivateml.roles import encode_shares
from pyprivml.protocols.fixedpoint import MAX_PRIME, FixedPointPlan, WrapAroundError, WrapAroundGuard, choose_plan
from pyprivml.protocols.optim import MasterUpdate
from pyprivml.protocols.sigmoid import fit_sigmoid
from pyprivml.random import SecureRandom

P1, P2 = largest_primes(2)                                     # the two largest primes below 2**32


@pytest.fixture(scope="module")
def digits():
    return load_digits49()


# -- the plan: how many primes -----------------------------------------------------------------------


def _data(m=200, d=6, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (m, d))


@pytest.mark.parametrize("degree, lx, lw", [(1, 8, 8), (1, 12, 14), (2, 6, 6), (3, 8, 8), (3, 4, 5)])
def test_auto_picks_the_fewest_primes_the_proof_needs(degree, lx, lw):
    X, R = _data(), 10.0
    c = fit_sigmoid(degree, (-4.0, 6.0))
    choice = choose_plan(X, c, lx=lx, lw=lw, primes="auto", radius=R)
    plan = choice.plan
    k = len(plan.primes)
    assert choice.bound <= plan.half and WrapAroundGuard(X, plan).ball_bound(R) <= plan.half
    assert plan.primes[:k - 1] == largest_primes(k - 1) and 2**16 <= plan.primes[-1] <= MAX_PRIME
    assert "primes" in choice.automatic and f"{k}: the fewest primes" in choice.reasons["primes"]
    # Fewest: the same scales (with the least lc) fail under the k - 1 largest primes...
    if k > 1:
        fewer = largest_primes(k - 1)
        trial = FixedPointPlan(pp.PrimeField(fewer[0]), lx, lw, c, None, fewer if k > 2 else None)
        assert WrapAroundGuard(X, trial).ball_bound(R) > trial.half
    # ... and the last prime is the smallest that completes the proof (down to 2**16).
    if plan.primes[-1] > 2**16 + 1:
        smaller = plan.primes[:-1] + (prev_prime(plan.primes[-1]),)
        trial = FixedPointPlan(plan.field, lx, lw, c, plan.lc, smaller if len(smaller) > 1 else None)
        assert choice.bound > trial.half


def test_a_count_of_primes_buys_resolution():
    X, c = _data(), fit_sigmoid(1)
    plans = [choose_plan(X, c, primes=k, radius=10.0).plan for k in (1, 2, 3)]
    assert [len(p.primes) for p in plans] == [1, 2, 3]
    sizes = [p.lx + p.lw for p in plans]
    assert sizes[0] < sizes[1] < sizes[2]
    assert plans[0] == choose_plan(X, c, radius=10.0).plan           # one prime: the rule for p
    assert choose_plan(X, c, primes="auto", radius=10.0).plan == plans[0]   # floors fit one prime


def test_a_refused_single_prime_names_the_multi_prime_option_and_it_works():
    X, c = _data(), fit_sigmoid(2, (-4.0, 6.0))
    with pytest.raises(WrapAroundError, match=r"beyond \(p-1\)/2 = 2147483645 for p = 4294967291") as info:
        choose_plan(X, c, lx=6, lw=6, p=MAX_PRIME, radius=10.0)
    msg = str(info.value)
    assert "primes='auto' (2 primes below 2**32" in msg
    choice = choose_plan(X, c, lx=6, lw=6, primes="auto", radius=10.0)
    assert len(choice.plan.primes) == 2
    with pytest.raises(WrapAroundError, match="primes='auto'"):   # the automatic single prime says so too
        choose_plan(X, c, lx=6, lw=6, radius=10.0)
    # A configuration refused for every number of primes says what else to change.
    with pytest.raises(WrapAroundError, match=r"must fit the largest prime"):
        choose_plan(X * 2.0**25, c, lx=8, lw=6, primes="auto", radius=10.0)


def test_the_per_iteration_check_under_several_primes_names_more_primes():
    X, c = _data(), fit_sigmoid(1)
    plan = FixedPointPlan(pp.PrimeField(P1), 12, 14, c, None, (P1, P2))
    guard = WrapAroundGuard(X, plan)
    limit = guard.max_safe_weight()
    assert limit > 0 and guard.check(np.full(6, limit)) <= plan.half
    with pytest.raises(WrapAroundError, match=r"iteration 3: .*beyond \(M-1\)/2 = .* for the 2 primes "
                                              r"\(4294967291, 4294967279\).*primes='auto' \(3 primes"):
        guard.check(np.full(6, 2**12 * limit), when="iteration 3")


def test_the_config_resolves_primes_and_reports_them(digits):
    cfg = CodedPrivateMLConfig(n_workers=6, case=1, lx=6, lw=8, degree=2, fit_interval=(-4.0, 6.0), primes="auto",
                               max_iter=5)
    assert cfg.p is None and cfg.primes == "auto" and not cfg.resolved
    resolved, choice = cfg.resolve(digits.X_train, digits.y_train)
    assert isinstance(resolved.primes, tuple) and len(resolved.primes) >= 2
    assert resolved.p == resolved.primes[0] == max(resolved.primes) and resolved.plan() == choice.plan
    params = resolved.public_parameters()
    assert params["primes"] == list(resolved.primes) and params["p"] == resolved.p
    assert choice.as_dict()["primes"] == list(resolved.primes) and choice.as_dict()["half"] == choice.plan.half
    assert f"primes = {resolved.primes}" in choice.describe() and "(M-1)/2" in choice.describe()
    # One prime is one prime: a one-element tuple and a count of 1 are the single-prime config.
    assert CodedPrivateMLConfig(n_workers=6, case=1, primes=(P1,)) == CodedPrivateMLConfig(n_workers=6, case=1, p=P1)
    assert CodedPrivateMLConfig(n_workers=6, case=1, primes=1) == CodedPrivateMLConfig(n_workers=6, case=1, p=None)


@pytest.mark.parametrize("kwargs, match", [
    (dict(primes=(P1, P1)), r"distinct .*4294967291 appears more than once.*e\.g\. primes=\(4294967291, 4294967279\)"),
    (dict(primes=(P1, 4294967293)), r"4294967293 is not prime.*nearest valid primes: 4294967291 below"),
    (dict(primes=(15, 21)), r"15 is not prime.*13 below and 17 above"),            # nor coprime: 15 = 3 * 5, 21 = 3 * 7
    (dict(primes=(P1, 2**32 + 15)), r"outside 2 < p < 2\*\*32.*4294967291 below"),
    (dict(primes=(P1, 7)), r"7 is too small for N \+ K \+ T = 8 .*every prime must exceed it"),
    (dict(primes=()), r"between 1 and 8 primes, got 0"),
    (dict(primes=tuple(largest_primes(9))), r"between 1 and 8 primes, got 9"),
    (dict(primes=(P1, 7.0)), r"must be an integer"),
    (dict(primes="many"), r"'auto', a count k in 1\.\.8 or a tuple"),
    (dict(primes=0), r"count of primes must be in 1\.\.8"),
    (dict(primes=(P1, P2), p=65521), r"give p \(one prime\) or primes \(several\), not both"),
    (dict(primes="auto", p=65521), r"not both"),
])
def test_bad_primes_are_refused_naming_valid_values(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        CodedPrivateMLConfig(n_workers=6, case=1, **kwargs)


# -- the protocol: exact ------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["gd", "nesterov"])
def test_two_primes_give_the_weights_of_one_large_prime_bit_for_bit(digits, optimizer):
    """With the scales fixed (lx, lw, lc, w_bound), the decoded integers of a run over (65537, 65521)
    and of one over 2**31 - 1 are the same, so are the weights, to the last bit."""
    base = dict(n_workers=8, K=2, T=1, max_iter=6, seed=3, lx=3, lw=4, lc=3, w_bound=5.0, optimizer=optimizer)
    one = run_codedprivateml(digits.X_train, digits.y_train, CodedPrivateMLConfig(p=2**31 - 1, **base),
                             transport="inprocess", keep_decoded=True)
    two = run_codedprivateml(digits.X_train, digits.y_train, CodedPrivateMLConfig(primes=(65521, 65537), **base),
                             transport="inprocess", keep_decoded=True)
    assert two.parameters["primes"] == [65537, 65521] and two.plan.plan.half < 2**31
    F = pp.PrimeField(2**31 - 1)
    for a, b in zip(one.decoded, two.decoded, strict=True):
        np.testing.assert_array_equal(F.lift(a), b)
    for a, b in zip(one.weights_history, two.weights_history, strict=True):
        np.testing.assert_array_equal(a, b)
    assert two.used_workers == [u for u in two.used_workers if len(u) == 7]


def _exact_gradient(X, q, plan, seed):
    """G = X̄^T s̄(X̄ W̄) in Python integers (eqs. 4, 6-8, 15, 18), no field anywhere."""
    F = plan.field
    Xbar = F.lift(pp.quantize(X, plan.lx, F)).astype(object)
    W = F.lift(pp.quantize_stochastic(q, plan.lw, F, copies=plan.r, seed=seed)).astype(object)
    Z = Xbar @ W
    c = [int(v) for v in plan.signed_coefficients()]
    s = np.full(X.shape[0], c[0], dtype=object)
    prod = np.ones(X.shape[0], dtype=object)
    for i in range(1, plan.r + 1):
        prod = prod * Z[:, i - 1]
        s = s + c[i] * prod
    return Xbar.T @ s


@pytest.mark.parametrize("degree, workers, lx, lw", [(1, 5, 10, 10), (2, 7, 8, 8), (3, 9, 6, 6)])
def test_decoding_beyond_one_prime_is_exact_against_python_integers(degree, workers, lx, lw):
    """Scales no 32-bit prime holds: every decoded entry equals the Python-integer G (several exceed
    (p-1)/2 of every prime below 2**32), and every weight is w - eta (float(G)/2^l - X̄^T y / 2^lx)/m."""
    rng = np.random.default_rng(degree)
    X = rng.uniform(0.5, 1.0, (60, 5))
    y = (rng.uniform(size=60) > 0.5).astype(float)
    cfg = CodedPrivateMLConfig(n_workers=workers, K=1, T=1, degree=degree, fit_interval=(-4.0, 6.0), lx=lx, lw=lw,
                               primes="auto", max_iter=3, seed=5)
    res = run_codedprivateml(X, y, cfg, transport="inprocess", keep_decoded=True)
    plan = res.plan.plan
    assert len(plan.primes) >= 2 and plan.signed_coefficients()[degree] != 0
    biggest = 0
    for t, got in enumerate(res.decoded):
        G = _exact_gradient(X, res.query_points[t], plan, draw_seed(cfg.seed, t))
        assert [int(v) for v in got] == G.tolist()
        biggest = max(biggest, max(abs(v) for v in G.tolist()))
    assert biggest > (MAX_PRIME - 1) // 2 and biggest <= res.plan.bound
    # plaintext_gradient_field over the same primes gives the same integers, without coding
    fixed = cfg.replace(lx=plan.lx, lw=plan.lw, lc=plan.lc, p=plan.field.p, primes=plan.primes)
    Xbar = pp.quantize(X, plan.lx, plan.field)
    W0 = pp.quantize_stochastic(res.query_points[0], plan.lw, plan.field, copies=degree, seed=draw_seed(cfg.seed, 0))
    assert plaintext_gradient_field(Xbar, W0, fixed).tolist() == [int(v) for v in res.decoded[0]]
    # The master's update from the CRT-decoded gradient, recomputed in plain float64.
    F, m = plan.field, X.shape[0]
    Xty = pp.dequantize(pp.quantize(X, plan.lx, F), plan.lx, F).T @ y
    opt = MasterUpdate(X.shape[1], optimizer="gd", lr=res.parameters["lr"], radius=res.plan.radius)
    for t, got in enumerate(res.decoded):
        g = (np.array([float(v) for v in got]) / 2.0 ** plan.exponent - Xty) / m
        np.testing.assert_array_equal(opt.step(g), res.weights_history[t + 1])


def test_several_primes_with_a_byzantine_worker_and_a_straggler():
    rng = np.random.default_rng(3)
    X = rng.random((120, 6)) * 0.5
    y = (X.sum(axis=1) > 1.5).astype(float)
    base = dict(n_workers=8, K=1, T=1, max_iter=3, seed=0, lx=4, lw=5, lc=3, w_bound=4.0, primes=(P2, 65537))
    honest = run_codedprivateml(X, y, CodedPrivateMLConfig(**base), transport="inprocess")
    got = run_codedprivateml(X, y, CodedPrivateMLConfig(byzantine=1, faults={4: "offset"}, straggle={2: 0.2},
                                                        **base), transport="inprocess")
    np.testing.assert_array_equal(got.w, honest.w)
    assert {int(w.split("rank ")[1].split()[0]) for w in got.warnings if "Byzantine" in w} == {4}


# -- privacy -----------------------------------------------------------------------------------------

Q = (11, 13)          # two small fields, so joint frequencies over both can be counted
DRAWS = 60_000


def _views(K, T, N, data, seeds):
    """What the N workers receive for one-element blocks ``data`` (signed), DRAWS independent
    columns, encoded over both primes by the protocol's encode_shares: (N, 2, DRAWS)."""
    codes = [pp.LagrangeCode(q, N=N, K=K, T=T) for q in Q]
    signed = np.repeat(np.asarray(data, dtype=np.int64), DRAWS)
    residues = CRT(Q).residues(signed)
    return encode_shares(codes, residues, rngs=[SecureRandom(seed=s) for s in seeds])


def _index(view, radices):
    return np.ravel_multi_index(tuple(view), radices)


@pytest.mark.parametrize("K, T, N", [(1, 1, 3), (2, 2, 4)])
def test_T_workers_see_uniform_shares_per_field_and_jointly(K, T, N):
    A = _views(K, T, N, [0] * K, seeds=(1, 2))
    B = _views(K, T, N, [-5, 7][:K], seeds=(3, 4))
    for S in itertools.combinations(range(N), T):
        for j, q in enumerate(Q):               # per field: uniform on F_q^T, the same for both datasets
            a, b = _index(A[list(S), j], (q,) * T), _index(B[list(S), j], (q,) * T)
            assert stats.chisquare(np.bincount(a, minlength=q**T)).pvalue > ALPHA, (S, q)
            assert _contingency_pvalue(a, b, q**T) > ALPHA, (S, q)
        # jointly, over both fields: uniform on F_11^T x F_13^T (independent masks), whatever the data
        radices = (Q[0],) * T + (Q[1],) * T
        a = _index(np.concatenate([A[list(S), 0], A[list(S), 1]]), radices)
        b = _index(np.concatenate([B[list(S), 0], B[list(S), 1]]), radices)
        cells = math.prod(radices)
        assert stats.chisquare(np.bincount(a, minlength=cells)).pvalue > ALPHA, S
        assert stats.chisquare(np.bincount(b, minlength=cells)).pvalue > ALPHA, S
        assert _contingency_pvalue(a, b, cells) > ALPHA, S


def test_the_joint_test_catches_masks_shared_between_primes():
    """One keystream for both primes (the same seed): each field alone still looks uniform, but the
    two fields' shares are dependent and the joint test sees it, so it has power."""
    A = _views(1, 1, 3, [0], seeds=(9, 9))
    a0, a1 = A[0, 0], A[0, 1]
    assert stats.chisquare(np.bincount(a0, minlength=11)).pvalue > ALPHA
    assert stats.chisquare(np.bincount(a1, minlength=13)).pvalue > ALPHA
    joint = _index(np.stack([a0, a1]), Q)
    assert stats.chisquare(np.bincount(joint, minlength=143)).pvalue < 1e-12


def test_a_real_run_masks_every_prime_with_its_own_fresh_secure_draw(digits):
    """Recorded from a run over two primes: worker i's share over prime q is sum_k U_q[i,k] X_k +
    U_q[i,K] R_q (eq. 10) with R_q an unseeded SecureRandom draw, a different draw per prime, and
    fresh weight masks V_q per prime and iteration."""
    mp = pytest.MonkeyPatch()
    try:
        rec = _Recorder(mp)
        cfg = CodedPrivateMLConfig(n_workers=5, K=1, T=1, max_iter=2, seed=1, lx=3, lw=4, lc=3, w_bound=5.0,
                                   primes=(65537, 65521))
        res, run = run_codedprivateml(digits.X_train, digits.y_train, cfg, transport="inprocess",
                                      record_payloads=True, return_launch=True)
    finally:
        mp.undo()
    assert rec.seeds and all(s is None for s in rec.seeds)
    primes = res.plan.plan.primes
    F0 = res.plan.plan.field
    signed = F0.lift(pp.quantize(digits.X_train, cfg.lx, F0)).astype(object)
    masks = []
    for j, q in enumerate(primes):
        U = pp.LagrangeCode(q, 5, 1, 1).encoding_matrix.astype(object)
        R = None
        for i in range(5):
            got = _received(run, i + 1)
            assert got[0][3]["primes"] == list(primes)
            Xt = got[1][3][j].astype(object)
            clear = U[i, 0] * (signed % q) % q
            if R is None:
                R = (Xt - clear) * _inv(U[i, 1], q) % q
                assert rec.drawn(R.astype(np.int64)), f"the data mask over {q} is not a SecureRandom draw"
            np.testing.assert_array_equal(Xt, (clear + U[i, 1] * R) % q)
            for t in range(cfg.max_iter):
                Wbar = F0.lift(pp.quantize_stochastic(res.query_points[t], cfg.lw, F0, copies=1,
                                                      seed=draw_seed(cfg.seed, t))).astype(object)
                Vt = (got[2 + t][3][j].astype(object) - U[i, 0] * (Wbar % q)) * _inv(U[i, 1], q) % q
                assert rec.drawn(Vt.astype(np.int64))
                masks.append(Vt.astype(np.int64).tobytes())
        masks.append(R.astype(np.int64).tobytes())
    # every mask (data, and weights per iteration) is a different draw per prime
    assert len(set(masks)) == len(primes) * (1 + cfg.max_iter)


# -- the estimators and the command line ---------------------------------------------------------------


def test_the_estimator_and_the_command_line_take_primes(digits):
    from pyprivml.protocols.codedprivateml.cli import parse_primes

    clf = pp.CodedPrivateLogisticRegression(n_workers=7, K=1, T=1, degree=2, fit_interval=(-4.0, 6.0), lx=6, lw=6,
                                            primes="auto", max_iter=15, random_state=0, transport="inprocess",
                                            fit_intercept=False)
    assert clf.get_params()["primes"] == "auto"
    clf.fit(digits.X_train, digits.y_train)
    assert len(clf.plan_.plan.primes) >= 2 and clf.score(digits.X_test, digits.y_test) > 0.9
    assert parse_primes("auto") == "auto" and parse_primes(" 2 ") == 2
    assert parse_primes(f"{P1},{P2}") == (P1, P2)
    with pytest.raises(Exception, match=r"expected auto, a count k or P1,P2"):
        parse_primes("two")
