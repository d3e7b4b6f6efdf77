"""Seed 002: the model update a gradient block carries, its consensus rules, and the objectives
(Definitions 4-5 and 13, Lemma 14, Algorithm 5, eqs. 19-20, Theorem 60)."""

import hashlib

import numpy as np
import pytest

from pyprivml import dp, sketch
from pyprivml.protocols.gradientcoin import payload
from pyprivml.protocols.gradientcoin.losses import (AttentionRegression, LogisticRegression, ObjectiveSum,
                                                    RidgeRegression, finite_difference_gradient,
                                                    finite_difference_hessian, lemma14_weight, local_steps,
                                                    sigma_min_blocks)
from pyprivml.protocols.gradientcoin.payload import (HEADER_SIZE, ConsensusRules, ModelUpdate, desketched,
                                                     make_update, privatize_update, sketch_seed,
                                                     sketch_variance_factor)

PREV = hashlib.sha256(b"parent block").digest()
OTHER = hashlib.sha256(b"another parent").digest()
D = 64
KINDS = list(payload.KIND_CODES)


def sha256d(data):
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


@pytest.fixture
def delta():
    return np.random.default_rng(0).normal(size=D) * 0.01


# -- encoding and hashing --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [None, *KINDS])
def test_round_trip_through_bytes(kind, delta):
    u = make_update(delta, prev_hash=PREV, kind=kind, b=None if kind is None else 16)
    data = u.to_bytes()
    assert len(data) == HEADER_SIZE + 8 * (D if kind is None else 16)
    back = ModelUpdate.from_bytes(data)
    assert back == u and back.to_bytes() == data
    assert np.array_equal(back.values, u.values)
    assert (back.kind, back.b, back.d, back.seed) == (u.kind, u.b, u.d, u.seed)
    assert back.hash() == u.hash() == sha256d(data)
    if kind is None:
        assert np.array_equal(u.values, delta) and u == ModelUpdate.plain(delta)
    else:
        assert u.seed == sketch_seed(PREV)
        assert np.allclose(u.values, sketch.make(kind, 16, D, sketch_seed(PREV)).sk(delta), rtol=0, atol=1e-15)


def test_round_trip_keeps_the_raw_bits_of_odd_values():
    v = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1.5])
    data = ModelUpdate.plain(v).to_bytes()
    back = ModelUpdate.from_bytes(data)
    assert back.values.tobytes() == v.astype("<f8").tobytes()
    assert ModelUpdate.plain([0.0]).hash() != ModelUpdate.plain([-0.0]).hash()   # canonical = raw bits


def test_hash_changes_with_any_value_and_any_field(delta):
    u = make_update(delta, prev_hash=PREV, kind="countsketch", b=16)
    hashes = {u.hash()}
    for i in range(u.values.size):
        v = u.values.copy()
        v[i] = np.nextafter(v[i], np.inf)                      # the smallest possible change
        hashes.add(ModelUpdate(v, u.d, u.kind, u.b, u.seed).hash())
    hashes.add(ModelUpdate(u.values, u.d + 1, u.kind, u.b, u.seed).hash())
    hashes.add(ModelUpdate(u.values, u.d, "sparse1", u.b, u.seed).hash())
    hashes.add(ModelUpdate(u.values, u.d, u.kind, u.b, u.seed ^ 1).hash())
    hashes.add(ModelUpdate.plain(delta).hash())
    assert len(hashes) == u.values.size + 5


def test_truncated_overlong_and_malformed_bytes_are_refused(delta):
    data = make_update(delta, prev_hash=PREV, kind="gaussian", b=8).to_bytes()
    for n in range(len(data)):
        with pytest.raises(ValueError, match="truncated"):
            ModelUpdate.from_bytes(data[:n])
    with pytest.raises(ValueError, match="over-long"):
        ModelUpdate.from_bytes(data + b"\x00")
    header = bytearray(data[:HEADER_SIZE])

    def patched(offset, value: bytes):
        h = bytearray(header)
        h[offset:offset + len(value)] = value
        return bytes(h) + data[HEADER_SIZE:]

    for bad, message in [(patched(0, b"XXXX"), "magic"), (patched(4, b"\x02"), "version"),
                         (patched(5, b"\x07"), "kind code"), (patched(6, bytes(8)), "dimension d is 0"),
                         (patched(14, bytes(8)), "needs b >= 1"), (patched(5, b"\x00"), "plain update must")]:
        with pytest.raises(ValueError, match=message):
            ModelUpdate.from_bytes(bad)
    plain = ModelUpdate.plain(delta).to_bytes()
    with pytest.raises(ValueError, match="plain update must"):
        ModelUpdate.from_bytes(plain[:22] + b"\x01" + plain[23:])    # a seed on a plain update


def test_the_update_is_immutable(delta):
    u = ModelUpdate.plain(delta)
    with pytest.raises(ValueError):
        u.values[0] = 1.0
    delta[0] = 123.0                                               # the caller's array is copied
    assert u.values[0] != 123.0
    with pytest.raises(AttributeError):
        u.d = 3


def test_structural_mistakes_are_refused_at_construction(delta):
    with pytest.raises(ValueError, match="carries d"):
        ModelUpdate(delta, D + 1)
    with pytest.raises(ValueError, match="needs its sketch size"):
        ModelUpdate(delta[:8], D, "countsketch")
    with pytest.raises(ValueError, match="no sketch size"):
        ModelUpdate(delta, D, None, 8)
    with pytest.raises(ValueError, match="unknown sketch kind"):
        make_update(delta, prev_hash=PREV, kind="nope", b=8)
    with pytest.raises(ValueError, match="NaN"):
        make_update(np.full(D, np.nan), prev_hash=PREV)
    with pytest.raises(ValueError, match="32-byte"):
        sketch_seed(b"short")


# -- consensus rules -------------------------------------------------------------------------------

PLAIN = ConsensusRules(max_update_norm=1.0, d=D)
SKETCHED = ConsensusRules(max_update_norm=1.0, sketch_kind="countsketch", sketch_b=16, d=D)


def test_honest_updates_are_accepted(delta):
    PLAIN.check(make_update(delta, prev_hash=PREV), PREV)
    SKETCHED.check(make_update(delta, prev_hash=PREV, kind="countsketch", b=16), PREV)
    SKETCHED.check(SKETCHED.make_update(delta, PREV), PREV)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(bad, delta):
    for rules, u in [(PLAIN, make_update(delta, prev_hash=PREV)),
                     (SKETCHED, make_update(delta, prev_hash=PREV, kind="countsketch", b=16))]:
        v = u.values.copy()
        v[3] = bad
        forged = ModelUpdate.from_bytes(ModelUpdate(v, u.d, u.kind, u.b, u.seed).to_bytes())
        with pytest.raises(ValueError, match="NaN or infinity"):
            rules.check(forged, PREV)


def test_wrong_dimension_is_refused(delta):
    with pytest.raises(ValueError, match="wrong dimension"):
        PLAIN.check(make_update(delta[:-1], prev_hash=PREV), PREV)
    with pytest.raises(ValueError, match="wrong dimension"):
        SKETCHED.check(make_update(delta[:-1], prev_hash=PREV, kind="countsketch", b=16), PREV)


def test_norm_above_the_bound_is_refused(delta):
    big = delta / np.linalg.norm(delta) * 1.0001
    with pytest.raises(ValueError, match="exceeds the bound .* no single miner can move the model far"):
        PLAIN.check(make_update(big, prev_hash=PREV), PREV)
    PLAIN.check(make_update(big / 1.0001 * 0.9999, prev_hash=PREV), PREV)    # just inside: accepted
    with pytest.raises(ValueError, match="exceeds the bound"):
        SKETCHED.check(make_update(10 * big, prev_hash=PREV, kind="countsketch", b=16), PREV)


def test_the_bound_is_on_the_step_actually_applied_not_on_the_sketch(delta):
    # count-sketch: R^T R = diag(bucket sizes) on the range, so ||R^T y|| can exceed ||y|| a lot
    u = make_update(delta, prev_hash=PREV, kind="countsketch", b=16)
    y = u.values / u.norm() * 0.9                              # the carried vector obeys the bound ...
    forged = ModelUpdate(y, D, "countsketch", 16, u.seed)
    step = np.linalg.norm(desketched(forged, PREV))
    assert step > 1.0                                          # ... the step it applies does not
    with pytest.raises(ValueError, match="exceeds the bound"):
        SKETCHED.check(forged, PREV)
    fitted = SKETCHED.make_update(100 * delta, PREV, fit=True)
    SKETCHED.check(fitted, PREV)
    assert 0.999 < np.linalg.norm(desketched(fitted, PREV)) <= 1.0


def test_sketching_mode_kind_and_size_must_match_the_rules(delta):
    sk = make_update(delta, prev_hash=PREV, kind="countsketch", b=16)
    with pytest.raises(ValueError, match="sketched .* rules carry plain updates"):
        PLAIN.check(sk, PREV)
    with pytest.raises(ValueError, match="plain but this chain's rules require a countsketch"):
        SKETCHED.check(make_update(delta, prev_hash=PREV), PREV)
    with pytest.raises(ValueError, match="wrong sketch kind"):
        SKETCHED.check(make_update(delta, prev_hash=PREV, kind="sparse1", b=16), PREV)
    with pytest.raises(ValueError, match="wrong sketch size"):
        SKETCHED.check(make_update(delta, prev_hash=PREV, kind="countsketch", b=32), PREV)


def test_a_sketch_seed_not_derived_from_the_parent_is_refused(delta):
    replayed = make_update(delta, prev_hash=OTHER, kind="countsketch", b=16)   # built for another parent
    with pytest.raises(ValueError, match="built for another parent"):
        SKETCHED.check(replayed, PREV)
    SKETCHED.check(replayed, OTHER)
    honest = make_update(delta, prev_hash=PREV, kind="countsketch", b=16)
    chosen = ModelUpdate(honest.values, D, "countsketch", 16, 12345)          # a seed the miner picked
    with pytest.raises(ValueError, match="seed 12345"):
        SKETCHED.check(chosen, PREV)
    with pytest.raises(ValueError, match="built for another parent"):
        desketched(chosen, PREV)


def test_rules_refuse_impossible_parameters():
    with pytest.raises(ValueError):
        ConsensusRules(max_update_norm=0.0, d=D)
    with pytest.raises(ValueError, match="needs sketch_b"):
        ConsensusRules(max_update_norm=1.0, sketch_kind="ams", d=D)
    with pytest.raises(ValueError):
        ConsensusRules(max_update_norm=1.0, sketch_kind="srht", sketch_b=2 * D, d=D)   # b > padded d


# -- de-sketching (eq. 20) -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_two_nodes_desketch_identically_and_another_parent_differs(kind, delta):
    miner = make_update(delta, prev_hash=PREV, kind=kind, b=16)
    data = miner.to_bytes()
    payload._operator.cache_clear()
    node_a = desketched(ModelUpdate.from_bytes(data), PREV)
    payload._operator.cache_clear()                            # the second node rebuilds R_t itself
    node_b = desketched(ModelUpdate.from_bytes(data), PREV)
    assert np.array_equal(node_a, node_b)
    R = sketch.make(kind, 16, D, sketch_seed(PREV)).matrix()
    assert np.allclose(node_a, R.T @ (R @ delta), rtol=0, atol=1e-14)
    other = desketched(make_update(delta, prev_hash=OTHER, kind=kind, b=16), OTHER)
    assert not np.allclose(other, node_a)
    assert sketch_seed(PREV) != sketch_seed(OTHER)


def test_desketching_is_unbiased_over_parents(delta):
    # Theorem 60, part 3: E[desk(sk(h))] = h, the expectation over R_t, i.e. over parent hashes here
    parents = [hashlib.sha256(i.to_bytes(4, "little")).digest() for i in range(1500)]
    mean = np.mean([desketched(make_update(delta, prev_hash=p, kind="countsketch", b=16), p) for p in parents],
                   axis=0)
    assert np.linalg.norm(mean - delta) < 0.15 * np.linalg.norm(delta)
    assert np.linalg.norm(desketched(make_update(delta, prev_hash=PREV, kind="countsketch", b=16), PREV)
                          - delta) > 0.5 * np.linalg.norm(delta)              # one sample is far off


@pytest.mark.parametrize("kind", KINDS)
def test_sketch_variance_factor_against_theorem_60(kind):
    d, b = 256, 32
    factor = sketch_variance_factor(kind, d, b, trials=150, seed=1)
    bound = 1 + sketch.TABLE1_A[kind] * d / b
    assert 1 + 0.5 * d / b < factor <= 1.1 * bound             # far from 1 (d/b = 8), within Table 1
    centred = sketch_variance_factor(kind, d, b, trials=150, seed=1, centered=True)
    assert abs(centred - factor) < 0.15 * factor               # same expectation (unbiasedness)
    if kind == "srht":                                         # R R^T = (d/b) I, E||Rv||² = ||v||²: d/b
        assert factor == pytest.approx(d / b, rel=0.1)


# -- DP on the update ------------------------------------------------------------------------------

def test_privatize_clips_adds_calibrated_noise_and_accounts(delta):
    acc = dp.PrivacyAccountant("rdp")
    big = 10 * np.ones(D)
    out = privatize_update(big, 1.0, 0.5, 1e-5, acc, dp.NoiseSource(seed=3))
    sigma = dp.gaussian_sigma(0.5, 1e-5, 1.0)
    noise = dp.NoiseSource(seed=3).normal(sigma, D)
    assert np.allclose(out - noise, big / np.linalg.norm(big), atol=1e-12)     # clipped to norm 1
    eps = [acc.epsilon(1e-5)]
    for _ in range(3):
        privatize_update(delta, 1.0, 0.5, 1e-5, acc, dp.NoiseSource(seed=4))
        eps.append(acc.epsilon(1e-5))
    assert all(a < b for a, b in zip(eps, eps[1:]))
    assert sum(count for _, _, count in acc.events) == 4
    wide = privatize_update(np.zeros(20000), 1.0, 0.5, 1e-5, None, dp.NoiseSource(seed=5))
    assert np.std(wide) == pytest.approx(sigma, rel=0.03)


# -- the objectives --------------------------------------------------------------------------------

def _objectives():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(30, 5))
    tokens = np.array([3, 1, 4, 1, 5, 2])
    return {
        "attention-generic": AttentionRegression.random(5, 2, seed=0, structure="generic", w=3.0),
        "attention-kronecker": AttentionRegression.random(4, 3, seed=1, structure="kronecker", w=0.7),
        "attention-sequence": AttentionRegression.from_sequence(tokens, rng.normal(size=(8, 3)),
                                                                teacher=rng.normal(size=(3, 3)), w=0.5),
        "ridge": RidgeRegression(X, X @ rng.normal(size=5) + 0.1 * rng.normal(size=30), lam=0.3),
        "logistic": LogisticRegression(X, np.sign(X @ rng.normal(size=5) + 0.3 * rng.normal(size=30)), lam=0.1),
    }


OBJECTIVES = _objectives()


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_gradients_and_hessians_match_finite_differences(name):
    L = OBJECTIVES[name]
    for s in range(3):
        x = np.random.default_rng(s).normal(size=L.dim)
        g = L.gradient(x)
        assert np.allclose(g, finite_difference_gradient(L, x), rtol=1e-6, atol=1e-7)
        H = L.hessian(x)
        assert np.allclose(H, finite_difference_hessian(L, x), rtol=1e-5, atol=1e-7)
        assert np.abs(g).max() > 1e-3                          # not trivially zero


def test_attention_loss_is_definition_13():
    L = OBJECTIVES["attention-kronecker"]
    x = np.random.default_rng(0).normal(size=L.dim)
    A = np.kron(L.A1, L.A2)                                    # Definition 38
    total = 0.0
    for j in range(L.n):
        z = A[j * L.n:(j + 1) * L.n] @ x                       # A_[j] x
        f = np.exp(z) / np.exp(z).sum()                        # Definitions 41-43
        total += 0.5 * np.sum((f - L.b[j]) ** 2) + 0.5 * np.sum((L.w * z) ** 2)   # Definitions 44-47
    assert L.value(x) == pytest.approx(total, rel=1e-12)
    generic = AttentionRegression(L.b, L.w, A=A)               # the same A given explicitly
    assert generic.value(x) == pytest.approx(total, rel=1e-12)
    assert np.allclose(generic.gradient(x), L.gradient(x), rtol=1e-12, atol=1e-13)
    X = x.reshape(L.d, L.d)                                    # Claim 50: vec(A1 X A2^T) = (A1 ⊗ A2) vec(X)
    assert np.allclose((L.A1 @ X @ L.A2.T).ravel(), A @ x)


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_users_parts_sum_to_the_whole(name):
    L = OBJECTIVES[name]
    parts = L.split(3, seed=2)
    assert len(parts) == 3 and sum(p.n_terms for p in parts) == L.n_terms
    x = np.random.default_rng(1).normal(size=L.dim)
    assert sum(p.value(x) for p in parts) == pytest.approx(L.value(x), rel=1e-12)
    assert np.allclose(sum(p.gradient(x) for p in parts), L.gradient(x), rtol=1e-12, atol=1e-12)
    assert np.allclose(ObjectiveSum(parts).hessian(x), L.hessian(x), rtol=1e-10, atol=1e-10)
    assert not np.allclose(parts[0].gradient(x), L.gradient(x))      # a part is not the whole
    with pytest.raises(ValueError, match="at least one"):
        L.split(L.n_terms + 1)


def test_lemma_14_strong_convexity_on_a_small_instance():
    n, d, mu = 5, 2, 2.0                                        # A_[j] ∈ R^{5×4}: full column rank
    base = AttentionRegression.random(n, d, seed=3, structure="generic")
    blocks = base.A_blocks()
    assert np.all(sigma_min_blocks(blocks) > 0)
    w_min = lemma14_weight(blocks, mu)                          # min w_i² = 4 + μ / (σ_min² n), exactly
    L = AttentionRegression(base.b, np.full(n, w_min), A=base.A)
    assert L.lemma14_mu() == pytest.approx(mu, rel=1e-9)
    rng = np.random.default_rng(0)
    points = [rng.normal(size=L.dim) * scale for scale in (0.0, 1.0, 10.0, 100.0) for _ in range(5)]
    for x in points:
        assert np.linalg.eigvalsh(L.hessian(x))[0] >= mu * (1 - 1e-9)
        for part in L.split(2, seed=1):                         # a user's m blocks: ≥ m μ / n
            assert np.linalg.eigvalsh(part.hessian(x))[0] >= part.n_terms * mu / n * (1 - 1e-9)
    # without the regulariser the softmax loss alone is not convex: the condition is doing work
    bare = AttentionRegression(base.b, np.zeros(n), A=base.A)
    assert min(np.linalg.eigvalsh(bare.hessian(x))[0] for x in points) < 0


def test_lemma_14_is_vacuous_for_a_kronecker_A_but_the_summed_bound_holds():
    L = AttentionRegression.random(4, 2, seed=5, structure="kronecker", w=2.5)
    assert np.all(sigma_min_blocks(L.A_blocks()) == 0)          # rank(A1[j] ⊗ A2) ≤ d < d²
    assert lemma14_weight(L.A_blocks(), 1.0) == np.inf and L.lemma14_mu() == 0.0
    bound = L.strong_convexity_bound()
    assert bound > 0
    for s in range(5):
        x = np.random.default_rng(s).normal(size=L.dim) * 10
        assert np.linalg.eigvalsh(L.hessian(x))[0] >= bound * (1 - 1e-9)


def test_local_steps_on_ridge_equal_k_explicit_steps():
    L = OBJECTIVES["ridge"]
    part = L.split(2, seed=0)[0]
    x0 = np.random.default_rng(4).normal(size=L.dim)
    K, lr = 7, 0.01
    u = x0.copy()
    for _ in range(K):
        u = u - lr * (part.X.T @ (part.X @ u - part.y) + part.lam * u)
    delta = local_steps(part, x0, K, lr)
    assert np.allclose(delta, u - x0, rtol=0, atol=1e-14)
    assert np.linalg.norm(delta) > 1e-3
    assert part.value(x0 + delta) < part.value(x0)
    assert np.array_equal(local_steps(part, x0, 0, lr), np.zeros(L.dim))
    with pytest.raises(ValueError):
        local_steps(part, x0, -1, lr)


def test_a_gradient_block_round_trip_trains_the_model():
    # Algorithm 5 end to end on the attention loss: users' local steps, sketched, checked, applied
    L = AttentionRegression.random(5, 2, seed=0, structure="generic", w=2.5)
    users = L.split(5, seed=0)
    rules = ConsensusRules(max_update_norm=5.0, sketch_kind="sparse1", sketch_b=4, d=L.dim)
    x, prev = np.zeros(L.dim), PREV
    start = L.value(x)
    for t in range(30):
        user = users[t % len(users)]
        u = rules.make_update(local_steps(user, x, K=3, lr=0.05), prev, fit=True)
        rules.check(ModelUpdate.from_bytes(u.to_bytes()), prev)
        x = x + desketched(u, prev)
        prev = hashlib.sha256(prev + u.hash()).digest()         # stands in for the new block's hash
    assert L.value(x) < start
