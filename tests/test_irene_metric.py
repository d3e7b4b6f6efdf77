"""Irene (seed 001, §III-B): per-user LMNN (eq. 5), MT-LMNN across users (eq. 7), the triplet loss (eq. 8)."""

import time

import numpy as np
import pytest

from pyprivml.comm import launch
from pyprivml.protocols.irene.metric import (TAGS, MTLMNNConfig, _LMNNTerms, embed, knn_accuracy, lmnn,
                                             lmnn_objective, metric_factor, mine_triplets, mtlmnn,
                                             mtlmnn_centralized, mtlmnn_consensus_step, mtlmnn_coordinator,
                                             mtlmnn_coordinator_init, mtlmnn_objective, mtlmnn_user, project_psd,
                                             target_neighbours, triplet_loss)


# -- data ------------------------------------------------------------------------------------------

def noisy_task(n, seed):
    """Three classes in two informative dimensions, plus four noise dimensions of larger variance."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[0.0, 0.0], [1.5, 0.0], [0.75, 1.3]])
    X = np.hstack([centers[y] + 0.45 * rng.normal(size=(n, 2)), 3.0 * rng.normal(size=(n, 4))])
    return X, y


@pytest.fixture(scope="module")
def split():
    return noisy_task(150, 1), noisy_task(300, 2)


@pytest.fixture(scope="module")
def fitted(split):
    (X, y), _ = split
    return lmnn(X, y, k=3)


def shared_subspace_task(n_users=3, n=60, n_test=300, noise=1.0, seed=0):
    """Users with their own identities (class centres) that all live in one hidden 2-D subspace of R⁶,
    span(Q[:, :2]), the other four directions being noise. Returns ([(train, test)] per user, Q)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    users = []
    for _ in range(n_users):
        centers = 1.2 * rng.normal(size=(3, 2))

        def draw(m):
            y = rng.integers(0, 3, m)
            Z = np.hstack([centers[y] + 0.35 * rng.normal(size=(m, 2)), noise * rng.normal(size=(m, 4))])
            return Z @ Q.T, y
        users.append((draw(n), draw(n_test)))
    return users, Q


def brute_triplets(X, y, M, targets):
    """Every (i, j, l) with j a target neighbour of i and y_l ≠ y_i, and its hinge 1 + d(i, j) − d(i, l)."""
    out = {}
    d = lambda a, b: float((X[a] - X[b]) @ M @ (X[a] - X[b]))  # noqa: E731
    for i in range(len(X)):
        for j in targets[i]:
            dij = d(i, j)
            for l in np.flatnonzero(y != y[i]):
                out[(i, int(j), int(l))] = 1.0 + dij - d(i, l)
    return out


# -- LMNN -------------------------------------------------------------------------------------------

def test_lmnn_is_psd_and_its_objective_decreases(split, fitted):
    (X, y), _ = split
    res = fitted
    assert np.allclose(res.M, res.M.T)
    assert np.linalg.eigvalsh(res.M).min() >= -1e-9
    np.testing.assert_allclose(res.L.T @ res.L, res.M, atol=1e-10)
    h = np.asarray(res.objective_history)
    assert np.all(np.diff(h) <= 1e-12 * h[0]), "a recorded step increased the objective"
    assert h[-1] < 0.6 * h[0] and res.converged
    assert h[0] == pytest.approx(lmnn_objective(X, y, np.eye(6)), rel=1e-12)
    # the noise dimensions are shrunk far below the informative ones
    assert min(res.M[0, 0], res.M[1, 1]) > 3 * max(np.diag(res.M)[2:])
    # pull only (μ = 0): the steps overshoot M = 0 and only the projection keeps M on the PSD cone
    pull = lmnn(X, y, k=3, mu=0.0, max_iter=200)
    assert np.linalg.eigvalsh(pull.M).min() >= -1e-9 and np.abs(pull.M).max() < 1e-9


def test_lmnn_margins_and_slacks_are_what_the_objective_says(split, fitted):
    (X, y), _ = split
    res = fitted
    T = target_neighbours(X, y, 3)
    np.testing.assert_array_equal(res.targets, T)
    for i in range(len(X)):                           # targets: the 3 nearest Euclidean points of the class
        same = np.flatnonzero((y == y[i]) & (np.arange(len(X)) != i))
        dist = np.sum((X[same] - X[i]) ** 2, axis=1)
        assert set(T[i]) == set(same[np.argsort(dist, kind="stable")[:3]])
    hinge = brute_triplets(X, y, res.M, T)
    active = {t: v for t, v in hinge.items() if v > 0}
    claimed = {tuple(map(int, t)): s for t, s in zip(res.active_triplets, res.slacks)}
    assert res.n_active == len(active) == len(claimed) and set(claimed) == set(active)
    for t, s in claimed.items():
        assert s == pytest.approx(active[t], abs=1e-9)     # ξ_apn = hinge of the margin constraint (eq. 5)
    pull = sum(float((X[i] - X[j]) @ res.M @ (X[i] - X[j])) for i in range(len(X)) for j in T[i])
    assert res.objective == pytest.approx(0.5 * pull + 0.5 * sum(active.values()), rel=1e-10)
    assert res.objective == pytest.approx(lmnn_objective(X, y, res.M), rel=1e-10)


def test_working_set_with_safety_radius_is_exact():
    """Inside the safety radius the working set holds every active triplet, outside it is recomputed."""
    rng = np.random.default_rng(3)
    X, y = noisy_task(40, 7)
    yi = np.unique(y, return_inverse=True)[1]
    terms = _LMNNTerms(X, yi, 2, 0.3, buffer=0.2)
    Mc = project_psd(np.diag([1.0, 1.0, 0.1, 0.1, 0.1, 0.1]) + 0.01 * rng.normal(size=(6, 6)))
    terms.refresh(Mc)
    assert 0 < terms.radius < np.inf
    for scale in (0.3, 0.9, 3.0, 30.0):                   # within and beyond the radius
        A = rng.normal(size=(6, 6))
        delta = (A + A.T) * (scale * terms.radius / np.linalg.norm(A + A.T))
        M = project_psd(Mc + delta)
        before = terms.refreshes
        f, G, n_act, exact = terms.evaluate(M)
        assert f == exact == pytest.approx(lmnn_objective(X, y, M, k=2, mu=0.3, targets=terms.targets), rel=1e-10)
        if scale < 1:
            assert terms.refreshes == before
        # the subgradient is the gradient of the piecewise-linear ε: a directional derivative
        B = rng.normal(size=(6, 6))
        E = 1e-7 * (B @ B.T)
        fe = lmnn_objective(X, y, M + E, k=2, mu=0.3, targets=terms.targets)
        assert fe - f == pytest.approx(np.sum(G * E), rel=1e-4)


def _metric_learn_lmnn():
    """metric-learn 0.7.0 calls scikit-learn with force_all_finite, which scikit-learn >= 1.8 renamed."""
    import metric_learn
    import metric_learn._util as mlu
    import sklearn.utils.validation as skv

    def rename(f):
        def call(*args, **kwargs):
            if "force_all_finite" in kwargs:
                kwargs["ensure_all_finite"] = kwargs.pop("force_all_finite")
            return f(*args, **kwargs)
        return call
    import inspect
    if "force_all_finite" not in inspect.signature(skv.check_array).parameters:
        mlu.check_array, mlu.check_X_y = rename(skv.check_array), rename(skv.check_X_y)
    return metric_learn.LMNN


def test_lmnn_matches_metric_learn_accuracy_and_is_faster(split, monkeypatch):
    import metric_learn._util as mlu

    monkeypatch.setattr(mlu, "check_array", mlu.check_array)       # undone after the test
    monkeypatch.setattr(mlu, "check_X_y", mlu.check_X_y)
    LMNN = _metric_learn_lmnn()
    (X, y), (Xt, yt) = split
    t0 = time.perf_counter()
    ours = lmnn(X, y, k=3, mu=0.5)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = LMNN(n_neighbors=3, regularization=0.5, init="identity").fit(X, y)   # same objective, eq. 5
    t_theirs = time.perf_counter() - t0
    M_theirs = theirs.get_mahalanobis_matrix()
    acc_ours = knn_accuracy(X, y, Xt, yt, ours.M, 3)
    acc_theirs = knn_accuracy(X, y, Xt, yt, M_theirs, 3)
    acc_euclid = knn_accuracy(X, y, Xt, yt, np.eye(6), 3)
    print(f"\nLMNN k-NN accuracy: ours {acc_ours:.4f}, metric-learn {acc_theirs:.4f}, Euclidean {acc_euclid:.4f}; "
          f"time ours {t_ours:.3f} s, metric-learn {t_theirs:.3f} s (ratio {t_ours / t_theirs:.3f}); objective "
          f"ours {ours.objective:.4f}, metric-learn {lmnn_objective(X, y, M_theirs):.4f}")
    assert acc_euclid < 0.6 < acc_theirs
    assert acc_ours >= acc_theirs - 0.01
    assert ours.objective <= lmnn_objective(X, y, M_theirs) * (1 + 1e-4)
    assert t_ours <= 1.5 * t_theirs


def test_knn_accuracy_is_scikit_learn_knn_in_the_transformed_space():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(4)
    X, y = noisy_task(120, 5)
    Xt, yt = noisy_task(80, 6)
    A = rng.normal(size=(6, 6))
    M = A.T @ A
    L = metric_factor(M)
    for k, two_classes in ((1, False), (3, True), (5, True)):   # no ties: 1-NN, or an odd k with two classes
        ytr, yte = (y % 2, yt % 2) if two_classes else (y, yt)
        ref = KNeighborsClassifier(k).fit(X @ L.T, ytr).score(Xt @ L.T, yte)
        assert knn_accuracy(X, ytr, Xt, yte, M, k) == pytest.approx(ref)
    # a tie goes to the class of the nearest neighbour
    Xtr = np.array([[0.0], [1.0], [-1.5], [5.0]])
    assert knn_accuracy(Xtr, [0, 1, 2, 1], [[0.1]], [0], np.eye(1), 3) == 1.0
    assert knn_accuracy(Xtr, [0, 1, 2, 1], [[0.9]], [1], np.eye(1), 3) == 1.0


def test_metric_factor_and_embed():
    rng = np.random.default_rng(8)
    A = rng.normal(size=(3, 5))
    M = A.T @ A                                             # rank 3
    L = metric_factor(M)
    np.testing.assert_allclose(L.T @ L, M, atol=1e-10)
    V0 = metric_factor(M, dim=3)                            # V₀ ∈ R^{m×d} of eq. 8
    assert V0.shape == (3, 5)
    np.testing.assert_allclose(V0.T @ V0, M, atol=1e-10)
    F = rng.normal(size=(4, 5))
    E = embed(F, V0)
    np.testing.assert_allclose(E, (F / np.linalg.norm(F, axis=1, keepdims=True)) @ V0.T)
    np.testing.assert_allclose(np.linalg.norm(embed(F, V0, normalize_output=True), axis=1), 1.0)


# -- validation -------------------------------------------------------------------------------------

def test_validation_errors():
    X, y = noisy_task(30, 0)
    with pytest.raises(ValueError, match="2-D array"):
        lmnn(X[:, 0], y)
    with pytest.raises(ValueError, match="one label per row"):
        lmnn(X, y[:-1])
    Xn = X.copy(); Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lmnn(Xn, y)
    with pytest.raises(ValueError, match="k >= class size"):
        lmnn(X, y, k=int(np.bincount(y).min()))
    with pytest.raises(ValueError, match="at least two classes"):
        lmnn(X, np.zeros(30, dtype=int))
    with pytest.raises(ValueError, match="positive semidefinite"):
        lmnn(X, y, init=np.diag([1.0, 1.0, -0.5, 1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="symmetric"):
        lmnn(X, y, init=np.eye(6) + np.triu(np.ones((6, 6)), 1))
    with pytest.raises(ValueError, match=r"\(6, 6\)"):
        lmnn(X, y, init=np.eye(5))
    with pytest.raises(ValueError, match="mu"):
        lmnn(X, y, mu=1.5)
    with pytest.raises(ValueError, match="exceeds"):
        knn_accuracy(X, y, X, y, np.eye(6), k=31)
    with pytest.raises(ValueError, match="same number of columns"):
        knn_accuracy(X, y, X[:, :5], y, np.eye(6), k=3)
    with pytest.raises(ValueError, match="at least 2 users"):
        mtlmnn([X], [y])
    with pytest.raises(ValueError, match="at least 2 users"):
        mtlmnn_coordinator_init([1], 6, MTLMNNConfig())
    with pytest.raises(ValueError, match="same number of features"):
        mtlmnn([X, X[:, :5]], [y, y])
    with pytest.raises(ValueError, match="gamma0"):
        MTLMNNConfig(gamma0=0.0)
    with pytest.raises(ValueError, match="at least 2 users"):
        launch(lambda t: mtlmnn_coordinator(t, 1, MTLMNNConfig()), 2, kind="inprocess")
    st, _ = mtlmnn_coordinator_init([1, 2], 6, MTLMNNConfig())
    with pytest.raises(ValueError, match="expected W0 copies"):
        mtlmnn_consensus_step(st, {1: np.eye(6)}, MTLMNNConfig())
    with pytest.raises(ValueError, match="shape"):
        mtlmnn_consensus_step(st, {1: np.eye(6), 2: np.eye(5)}, MTLMNNConfig())


# -- MT-LMNN across users ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mt_subspace():
    return shared_subspace_task()


@pytest.fixture(scope="module")
def mt_task(mt_subspace):
    return mt_subspace[0]


@pytest.fixture(scope="module")
def mt_run(mt_task):
    """Coordinator (rank 0) and three users (ranks 1-3) in threads."""
    cfg = MTLMNNConfig()
    train = [u[0] for u in mt_task]

    def role(t):
        if t.rank == 0:
            return mtlmnn_coordinator(t, 3, cfg)
        X, y = train[t.rank - 1]
        return mtlmnn_user(t, X, y, cfg, coordinator=0)
    run = launch(role, 4, kind="inprocess", record_payloads=True)
    return cfg, run


def test_mtlmnn_only_w0_shaped_matrices_and_control_dicts_cross(mt_task, mt_run):
    cfg, run = mt_run
    users = run.results[1:]
    data_rows = [X for (X, _), _ in mt_task]
    private = [u.W for u in users] + [u.M for u in users]
    assert all(np.linalg.norm(W) > 1e-3 for W in private)     # W_k is not trivially zero
    arrays = 0
    for rank, tr in enumerate(run.transports):
        assert tr.log.sent, f"rank {rank} sent nothing"
        for dest, tag, _, payload in tr.log.sent:
            assert tag in TAGS.values()
            assert (dest == 0) if rank else (dest in (1, 2, 3))
            if isinstance(payload, dict):
                assert set(payload) <= {"d", "round", "stop", "rho"}, payload
                assert all(isinstance(v, (int, float)) for v in payload.values())
                continue
            arrays += 1
            assert isinstance(payload, np.ndarray) and payload.shape == (6, 6), payload.shape
            for X in data_rows:                              # no row of a payload is a data point
                assert np.min(np.linalg.norm(payload[:, None, :] - X[None], axis=2)) > 1e-6
            for P in private:
                assert not np.allclose(payload, P, rtol=1e-3, atol=1e-6), f"rank {rank} sent a private metric"
    assert arrays >= 2 * 3 * run.results[0].rounds


def test_mtlmnn_reaches_consensus_with_psd_metrics(mt_run):
    cfg, run = mt_run
    res, users = run.results[0], run.results[1:]
    assert res.converged and res.rounds < cfg.rounds
    for u in users:
        np.testing.assert_array_equal(u.W0, res.W0)               # the broadcast consensus
        # each user's own last copy of W₀ agrees with the consensus (ADMM's primal residual)
        assert np.linalg.norm(u.W0_local - res.W0) <= 1e-2 * np.linalg.norm(res.W0)
        for M in (u.M, u.W, u.W0):
            assert np.linalg.eigvalsh(M).min() >= -1e-9
        np.testing.assert_allclose(u.M, u.W0 + u.W)
        np.testing.assert_allclose(u.L.T @ u.L, u.M, atol=1e-9)
    np.testing.assert_allclose(res.L0.T @ res.L0, res.W0, atol=1e-9)
    assert res.primal_residuals[-1] < 0.05 * res.primal_residuals[0]


def test_mtlmnn_over_transport_is_the_serial_solver_and_near_the_central_optimum(mt_task, mt_run):
    cfg, run = mt_run
    Xs = [u[0][0] for u in mt_task]
    ys = [u[0][1] for u in mt_task]
    serial = mtlmnn(Xs, ys, cfg)
    np.testing.assert_allclose(serial.W0, run.results[0].W0, rtol=0, atol=1e-12)
    for a, b in zip(serial.users, run.results[1:]):
        np.testing.assert_allclose(a.W, b.W, rtol=0, atol=1e-12)
    ours = mtlmnn_objective(Xs, ys, serial.W0, [u.W for u in serial.users], cfg)
    start = mtlmnn_objective(Xs, ys, np.eye(6), [np.zeros((6, 6))] * 3, cfg)
    W0c, Wsc, hist = mtlmnn_centralized(Xs, ys, cfg)
    central = mtlmnn_objective(Xs, ys, W0c, Wsc, cfg)
    assert central == pytest.approx(hist[-1], rel=1e-10)
    assert ours < 0.5 * start
    assert ours <= central * 1.01, (ours, central)


def test_mtlmnn_metrics_beat_euclidean_knn(mt_subspace, mt_run):
    mt_task, Q = mt_subspace
    _, run = mt_run
    res, users = run.results[0], run.results[1:]
    for ((X, y), (Xt, yt)), u in zip(mt_task, users):
        acc_mk = knn_accuracy(X, y, Xt, yt, u.M, 3)
        acc_id = knn_accuracy(X, y, Xt, yt, np.eye(6), 3)
        assert acc_mk >= acc_id, (acc_mk, acc_id)
    mean_gain = np.mean([knn_accuracy(X, y, Xt, yt, u.M, 3) - knn_accuracy(X, y, Xt, yt, np.eye(6), 3)
                         for ((X, y), (Xt, yt)), u in zip(mt_task, users)])
    assert mean_gain > 0.03
    # the commonality metric W₀ puts its weight on the users' shared relevant subspace (identity: 2/6)
    P = Q[:, :2] @ Q[:, :2].T
    assert np.trace(P @ res.W0) / np.trace(res.W0) > 0.8


# -- eq. 8: triplet loss and mining ------------------------------------------------------------------

def test_triplet_loss_against_numpy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    a, p, n = (rng.normal(size=(32, 6)) for _ in range(3))
    W0 = project_psd(rng.normal(size=(6, 6)) + 3 * np.eye(6))
    L = metric_factor(W0, dim=4)
    for margin in (0.0, 1.0, 5.0):
        d_ap = np.einsum("ij,jk,ik->i", a - p, L.T @ L, a - p)
        d_an = np.einsum("ij,jk,ik->i", a - n, L.T @ L, a - n)
        ref = np.mean(np.maximum(0.0, margin + d_ap - d_an))
        got = triplet_loss(*(torch.tensor(v) for v in (a, p, n)), L, margin)
        assert float(got) == pytest.approx(ref, rel=1e-12)
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    pn = p / np.linalg.norm(p, axis=1, keepdims=True)
    nn = n / np.linalg.norm(n, axis=1, keepdims=True)
    ref = np.mean(np.maximum(0.0, 1.0 + np.sum(((an - pn) @ L.T) ** 2, 1) - np.sum(((an - nn) @ L.T) ** 2, 1)))
    got = triplet_loss(*(torch.tensor(v) for v in (a, p, n)), torch.tensor(L), 1.0, normalize=True)
    assert float(got) == pytest.approx(ref, rel=1e-12)
    # gradients flow to the features (ψ is what eq. 8 tunes), and match finite differences
    ta = torch.tensor(a, requires_grad=True)
    loss = triplet_loss(ta, torch.tensor(p), torch.tensor(n), L, 5.0)
    loss.backward()
    e = np.zeros_like(a); e[3, 2] = 1e-6
    up = triplet_loss(torch.tensor(a + e), torch.tensor(p), torch.tensor(n), L, 5.0)
    assert float(ta.grad[3, 2]) == pytest.approx((float(up) - float(loss.detach())) / 1e-6, rel=1e-4)
    with pytest.raises(ValueError, match="share one"):
        triplet_loss(torch.tensor(a), torch.tensor(p[:5]), torch.tensor(n), L)
    with pytest.raises(ValueError, match="L must be"):
        triplet_loss(torch.tensor(a), torch.tensor(p), torch.tensor(n), L[:, :5])
    with pytest.raises(ValueError, match="NaN"):
        triplet_loss(torch.tensor(a), torch.tensor(p), torch.tensor(n), np.full_like(L, np.nan))


def test_mine_triplets():
    rng = np.random.default_rng(12)
    X, y = noisy_task(60, 13)
    y = np.where(np.arange(60) == 0, 7, y)                 # a singleton class never anchors nor is positive
    for strategy in ("random", "semihard"):
        a, p, n = mine_triplets(X, y, np.random.default_rng(0), 200, strategy=strategy)
        assert len(a) == len(p) == len(n) == 200
        assert np.all(y[a] == y[p]) and np.all(a != p) and np.all(y[a] != y[n])
        assert not np.any(a == 0) and not np.any(p == 0)
    a, p, n = mine_triplets(X, y, rng, 300, strategy="semihard", margin=2.0)
    dp = np.sum((X[a] - X[p]) ** 2, 1)
    dn = np.sum((X[a] - X[n]) ** 2, 1)
    semi = (dn > dp) & (dn < dp + 2.0)
    exists = np.array([np.any((y != y[i]) & (np.sum((X - X[i]) ** 2, 1) > dp[t])
                              & (np.sum((X - X[i]) ** 2, 1) < dp[t] + 2.0)) for t, i in enumerate(a)])
    assert exists.any() and np.all(semi[exists])          # a semi-hard negative whenever there is one
    ar, pr, nr = mine_triplets(X, y, rng, 300)
    dpr, dnr = np.sum((X[ar] - X[pr]) ** 2, 1), np.sum((X[ar] - X[nr]) ** 2, 1)
    assert semi.mean() > 2 * ((dnr > dpr) & (dnr < dpr + 2.0)).mean()
    np.testing.assert_array_equal(mine_triplets(X, y, np.random.default_rng(5), 50)[2],
                                  mine_triplets(X, y, np.random.default_rng(5), 50)[2])
    with pytest.raises(ValueError, match="two classes"):
        mine_triplets(X, np.zeros(60), rng, 10)
    with pytest.raises(ValueError, match="no class has two members"):
        mine_triplets(X[:3], [0, 1, 2], rng, 10)
