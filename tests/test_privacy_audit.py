"""Privacy as a correctness property (seed 004 Theorem 1, appendix D; DESIGN.md "Finite field conventions").

Every test here reconstructs the masks from what was actually sent and compares them with what
:class:`pyprivml.random.SecureRandom` produced during the run, so a protocol that seeded its masks
from the quantisation seed, reused a mask, drew it from another generator (the SplitMix64 stream of
the stochastic quantisation included) or sent a worker anything but its own share fails.
"""

import itertools

import numpy as np
import pytest

import pyprivml as pp
from pyprivml.data import load_digits49
from pyprivml.protocols.codedprivateml import CodedPrivateMLConfig, draw_seed, choose_K_T, run_codedprivateml
from pyprivml.protocols.mpc import make_groups, reducer_class
from pyprivml.protocols.mpc.sharing import TAGS as MPC_TAGS
from pyprivml.protocols.mpc.training import MPCConfig, run_mpc
from pyprivml.random import SecureRandom
from pyprivml.simulate import run_simulated


class _Recorder:
    """Every SecureRandom made and every field_elements draw taken while installed (thread-safe:
    list.append is atomic)."""

    def __init__(self, monkeypatch):
        self.seeds, self.draws = [], []
        init, draw = SecureRandom.__init__, SecureRandom.field_elements
        rec = self

        def recording_init(self, seed=None):
            rec.seeds.append(seed)
            init(self, seed)

        def recording_draw(self, field, shape):
            out = draw(self, field, shape)
            rec.draws.append((self.seeded, out.copy()))
            return out

        monkeypatch.setattr(SecureRandom, "__init__", recording_init)
        monkeypatch.setattr(SecureRandom, "field_elements", recording_draw)

    def drawn(self, values) -> bool:
        """Whether ``values`` (flattened) is the first row of some recorded draw, or one of its
        equal consecutive parts (the BGW/BH08 master shares the same-shape secrets of all groups
        in one call, so one draw holds every group's masks side by side)."""
        v = np.asarray(values).reshape(-1)
        for _, d in self.draws:
            row = d.reshape(d.shape[0], -1)[0] if d.ndim >= 1 and d.size else None
            if row is not None and v.size and row.size % v.size == 0:
                if any(np.array_equal(part, v) for part in row.reshape(-1, v.size)):
                    return True
        return False


def _received(run, rank):
    """(source, tag, phase, payload) of every message sent to ``rank``, in send order per source."""
    return [(src, tag, phase, payload) for src, t in enumerate(run.transports)
            for dest, tag, phase, payload in t.log.sent if dest == rank]


def _inv(a, p):
    return pow(int(a) % p, -1, p)


# -- CodedPrivateML ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_digits49()


CPML = dict(n_workers=8, K=2, T=1, max_iter=3, seed=2)  # r = 1: threshold 3 (K + T - 1) + 1 = 7 of 8


@pytest.fixture(scope="module")
def cpml_runs(digits):
    """Two runs with the same quantisation seed, every SecureRandom draw recorded."""
    mp = pytest.MonkeyPatch()
    try:
        rec = _Recorder(mp)
        cfg = CodedPrivateMLConfig(**CPML)
        runs = [run_codedprivateml(digits.X_train, digits.y_train, cfg, transport="inprocess",
                                   record_payloads=True, return_launch=True) for _ in range(2)]
    finally:
        mp.undo()
    return cfg, rec, runs


def test_cpml_quantisation_seed_never_seeds_a_mask(cpml_runs):
    """seed= drives the weight quantisation only: both runs take identical steps, yet every
    SecureRandom of the runs is unseeded and the encoded data blocks differ between them."""
    cfg, rec, ((res1, run1), (res2, run2)) = cpml_runs
    assert rec.seeds and all(s is None for s in rec.seeds), rec.seeds
    assert rec.draws and not any(seeded for seeded, _ in rec.draws)
    for a, b in zip(res1.weights_history, res2.weights_history):
        np.testing.assert_array_equal(a, b)
    data = [[p for dest, _, ph, p in run.transports[0].log.sent if ph == "data" and dest == 1]
            for run in (run1, run2)]
    assert not np.array_equal(data[0][0], data[1][0])


def test_cpml_workers_receive_their_own_encodings_and_control_only(digits, cpml_runs):
    """Worker i (rank i+1) receives exactly: the public setup (p, the coefficients, d), X~_i = sum_k U[i,k] X_k + U[i,K] R
    (eq. 10) with R one SecureRandom draw common to all workers, one W~_i = C[i,0] W-bar_t +
    C[i,1] V_t per iteration (eq. 12) with V_t a fresh SecureRandom draw, and the stop message."""
    cfg, rec, runs = cpml_runs
    F = pp.PrimeField(cfg.p)
    p, (K, T), N, it = F.p, cfg.K_T(), cfg.n_workers, cfg.max_iter
    U = pp.LagrangeCode(F, N, K, T).encoding_matrix.astype(object)
    C0 = [sum(U[i, :K]) % p for i in range(N)]
    Xbar = pp.quantize(digits.X_train, cfg.lx, F)
    rows = -(-Xbar.shape[0] // K)
    blocks = np.zeros((K * rows, Xbar.shape[1]), dtype=np.int64)
    blocks[: Xbar.shape[0]] = Xbar
    blocks = blocks.reshape(K, rows, -1).astype(object)
    setup = {"p": p, "coefficients": cfg.plan().field_coefficients().tolist(), "columns": Xbar.shape[1]}
    for res, run in runs:
        Wbars = [pp.quantize_stochastic(res.weights_history[t], cfg.lw, F, copies=cfg.degree,
                                        seed=draw_seed(cfg.seed, t)).astype(object) for t in range(it)]
        R = V = None
        for i in range(N):
            got = _received(run, i + 1)
            assert [src for src, *_ in got] == [0] * (it + 3), "a worker heard from another worker"
            assert [ph for _, _, ph, _ in got] == ["control", "data"] + ["weights"] * it + ["control"]
            assert got[0][3] == setup and got[-1][3] == {"stop": True}
            Xt = got[1][3].astype(object)
            clear = sum(U[i, k] * blocks[k] for k in range(K)) % p
            if R is None:   # worker 0 fixes the mask; every other worker must be consistent with it
                R = (Xt - clear) * _inv(U[i, K], p) % p
                assert rec.drawn(R.astype(np.int64)), "the data mask R is not a SecureRandom draw"
                V = [(got[2 + t][3].astype(object) - C0[i] * Wbars[t]) * _inv(U[i, K], p) % p
                     for t in range(it)]
            np.testing.assert_array_equal(Xt, (clear + U[i, K] * R) % p)
            for t in range(it):
                np.testing.assert_array_equal(got[2 + t][3].astype(object), (C0[i] * Wbars[t] + U[i, K] * V[t]) % p)
        for t in range(it):
            assert rec.drawn(V[t].astype(np.int64)), f"the weight mask V of iteration {t} is not a SecureRandom draw"
        for a, b in itertools.combinations(V, 2):
            assert not np.array_equal(a, b), "a weight mask V was reused across iterations"
        # The workers' traffic: only results and their timing summaries, all to rank 0.
        for t in run.transports[1:]:
            for dest, _, phase, payload in t.log.sent:
                assert dest == 0
                assert (phase == "results" and payload.shape == (Xbar.shape[1],)
                        or isinstance(payload, dict) and set(payload) == {"rank", "answered", "compute"})


def test_evaluation_points_distinct_disjoint_nonzero():
    """alpha and beta of every configuration the protocol picks are distinct, disjoint and nonzero;
    Shamir points of every MPC group are distinct and nonzero, and 0 is refused wherever it is given."""
    F = pp.PrimeField()
    for N in range(4, 41):
        for degree, case in itertools.product((1, 2), (1, 2)):
            try:
                K, T = choose_K_T(N, degree, case)
            except ValueError:
                continue
            code = pp.LagrangeCode(F, N, K, T)
            pts = code.alphas.tolist() + code.betas.tolist()
            assert len(set(pts)) == N + K + T and 0 not in pts and T >= 1
    for N in range(9, 61):
        for g in make_groups(N, F):
            assert g.T >= 1 and 0 not in g.points.tolist() and len(set(g.points.tolist())) == g.n
    with pytest.raises(ValueError, match="may not contain 0"):
        pp.shamir_share(np.array([1]), 3, 1, F, points=[0, 1, 2])
    with pytest.raises(ValueError, match="disjoint"):
        pp.LagrangeCode(F, 3, 1, 1, alphas=[2, 3, 4], betas=[1, 2])
    with pytest.raises(ValueError, match="T = 0 would give no privacy"):
        CodedPrivateMLConfig(n_workers=4, K=1, T=0)
    with pytest.raises(ValueError, match="T = 0 would give no privacy"):
        MPCConfig(n_workers=9, T=0)


# -- BGW and BH08 --------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[("bgw", False), ("bh08", False), ("bgw", True), ("bh08", True)],
                ids=["bgw", "bh08", "bgw-gram", "bh08-gram"])
def mpc_run(request, digits):
    mp = pytest.MonkeyPatch()
    protocol, gram = request.param
    try:
        rec = _Recorder(mp)
        cfg = MPCConfig(protocol=protocol, n_workers=10, max_iter=2, seed=3, gram=gram)  # T = 1, rank 10 idles
        res, run = run_mpc(digits.X_train, digits.y_train, cfg, transport="inprocess",
                           record_payloads=True, return_launch=True)
    finally:
        mp.undo()
    return cfg, rec, res, run


def test_mpc_masks_are_unseeded_secure_draws(mpc_run):
    cfg, rec, _, _ = mpc_run
    assert rec.seeds and all(s is None for s in rec.seeds), rec.seeds
    assert rec.draws and not any(seeded for seeded, _ in rec.draws)


def test_mpc_parties_receive_only_shares(digits, mpc_run):
    """Each group's data and weight payloads are a degree-T Shamir sharing (T = 1, points 1..3)
    whose slope is a fresh SecureRandom draw; no payload is the secret; workers talk only inside
    their group during degree reduction (and not at all in the Gram variant, whose data payload
    shares H_g = [X'_g^T X'_g | X'_g^T 1]); the idle worker hears nothing."""
    cfg, rec, res, run = mpc_run
    F, groups = cfg.field, cfg.make_groups()
    p = F.p
    assert groups[0].T == 1 and [g.n for g in groups] == [3, 3, 3]
    Xq = pp.quantize(digits.X_train, cfg.lx, F)
    bounds = np.linspace(0, Xq.shape[0], len(groups) + 1).round().astype(int)
    Wbars = [pp.quantize_stochastic(res.weights_history[t], cfg.lw, F, copies=cfg.degree,
                                    seed=draw_seed(cfg.seed, t)) for t in range(cfg.max_iter)]
    assert _received(run, 10) == []
    slopes = []
    for g, a, b in zip(groups, bounds[:-1], bounds[1:]):
        from_master = [[(ph, pl) for src, _, ph, pl in _received(run, r) if src == 0] for r in g.ranks]
        for msgs in from_master:
            assert [ph for ph, _ in msgs] == ["control", "data"] + ["weights"] * cfg.max_iter
            assert msgs[0][1] == {"rows": b - a, "gram": cfg.gram}   # public: block height, variant
        block = Xq[a:b].astype(object)
        H = np.column_stack([block.T.dot(block) % p, block.sum(axis=0) % p]).astype(np.int64)
        secrets = [H if cfg.gram else Xq[a:b]] + Wbars
        for step, secret in enumerate(secrets):
            h1, h2, h3 = (msgs[step + 1][1].astype(object) for msgs in from_master)
            np.testing.assert_array_equal((2 * h1 - h2) % p, secret)        # h(0) from h(1), h(2)
            np.testing.assert_array_equal(h3, (2 * h2 - h1) % p)            # degree 1: h(3) on the line
            assert not any(np.array_equal(h.astype(np.int64), secret) for h in (h1, h2, h3))
            slope = ((h1 - secret) % p).astype(np.int64)
            assert rec.drawn(slope), "a Shamir mask is not a SecureRandom draw"
            slopes.append(slope)
        for r in g.ranks:
            for src, tag, ph, pl in _received(run, r):
                if src != 0:
                    assert not cfg.gram and src in g.ranks and ph in ("degree_reduction", "offline"), (src, r, ph)
    for s, u in itertools.combinations(slopes, 2):
        assert s.shape != u.shape or not np.array_equal(s, u), "a Shamir mask was reused"
    stats = {"computation", "degree_reduction", "offline", "rounds", "active"}
    for t in run.transports[1:]:     # to the master: degree-2T result shares and timing summaries
        for dest, _, phase, payload in t.log.sent:
            assert dest != 0 or (phase == "results" and payload.shape == (Xq.shape[1],)
                                 or isinstance(payload, dict) and set(payload) == stats)


@pytest.mark.parametrize("protocol", ["bgw", "bh08"])
def test_degree_reduction_masks_are_fresh_per_multiplication(protocol):
    """Multiplying the same shares twice must send different values: BGW re-shares with fresh
    coefficients, BH08 opens ab - rho with a new rho from the offline pool each time."""
    F = pp.PrimeField()
    g = make_groups(3, F, groups=1, first_rank=0)[0]
    a, b = np.arange(1, 201), np.arange(201, 401)
    A, B = (pp.shamir_share(v, 3, 1, F, points=g.points) for v in (a, b))

    def party(t):
        red = reducer_class(protocol)(t, g)
        red.prepare(2 * a.size)
        return [red.multiply(A[t.rank], B[t.rank]) for _ in range(2)]

    run = run_simulated(party, 3, record_payloads=True)
    tag = MPC_TAGS.reshare if protocol == "bgw" else MPC_TAGS.open_out
    sent = [pl for dest, tg, _, pl in run.transports[0].log.sent if tg == tag and dest == 1]
    assert len(sent) == 2
    assert not np.array_equal(sent[0], sent[1]), f"{protocol} reused its degree-reduction mask"
    for out in zip(*run.results):   # and both products are still right
        np.testing.assert_array_equal(pp.shamir_reconstruct(dict(enumerate(out)), F, points=g.points, degree=1),
                                      a * b % F.p)
