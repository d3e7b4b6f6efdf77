"""BGW and BH08 multiplication with degree reduction (seed 004 appendix D): exactness, message
counts and the privacy of what T colluding workers see."""

import numpy as np
import pytest
from scipy import stats

from pyprivml import PrimeField
from pyprivml.protocols.mpc import make_groups, mpc_threshold, open_shares, reducer_class
from pyprivml.protocols.mpc.training import expected_messages
from pyprivml.shamir import shamir_share
from pyprivml.simulate import run_simulated

PROTOCOLS = ("bgw", "bh08")


def _run(protocol, group, a_shares, b_shares, op="multiply", record=False):
    size = group.n

    def party(t):
        red = reducer_class(protocol)(t, group)
        red.prepare(int(np.prod(a_shares.shape[1:-1] + b_shares.shape[2:])) if op == "matmul"
                    else a_shares[0].size)
        fn = red.matmul if op == "matmul" else red.multiply
        return fn(a_shares[t.rank], b_shares[t.rank])

    return run_simulated(party, size, record_payloads=record)


def _group(n_parties, p=None):
    F = PrimeField() if p is None else PrimeField(p)
    return make_groups(n_parties, F, groups=1, first_rank=0)[0]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("n", [3, 5, 7])
def test_matmul_exact_and_degree_t(protocol, n, rng):
    g = _group(n)
    F = g.field
    A = rng.integers(0, F.p, (5, 9))
    B = rng.integers(0, F.p, (9, 2))
    As = shamir_share(A, n, g.T, F, points=g.points)
    Bs = shamir_share(B, n, g.T, F, points=g.points)
    out = _run(protocol, g, As, Bs, op="matmul").results
    expected = np.array((A.astype(object) @ B.astype(object)) % F.p, dtype=np.int64)
    np.testing.assert_array_equal(open_shares(dict(enumerate(out)), g), expected)
    # Degree T: any T + 1 of the new shares open the product (a degree-2T sharing would not).
    last = {k: out[k] for k in range(n - g.T - 1, n)}
    np.testing.assert_array_equal(open_shares(last, g), expected)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_elementwise_chain_exact(protocol, rng):
    """Three multiplications in a row (depth beyond one reduction) stay exact."""
    g = _group(5)
    F = g.field
    a, b = rng.integers(0, F.p, 40), rng.integers(0, F.p, 40)
    As = shamir_share(a, g.n, g.T, F, points=g.points)
    Bs = shamir_share(b, g.n, g.T, F, points=g.points)

    def party(t):
        red = reducer_class(protocol)(t, g)
        red.prepare(3 * a.size)
        x = red.multiply(As[t.rank], Bs[t.rank])      # ab
        x = red.multiply(x, Bs[t.rank])                # ab^2
        return red.multiply(x, As[t.rank])             # a^2 b^2

    out = run_simulated(party, g.n).results
    ab = a.astype(object) * b.astype(object) % F.p
    np.testing.assert_array_equal(open_shares(dict(enumerate(out)), g),
                                  np.array(ab * ab % F.p, dtype=np.int64))


def test_bh08_refuses_without_offline_material():
    g = _group(3)
    s = shamir_share(np.arange(4), 3, 1, g.field, points=g.points)

    def party(t):
        red = reducer_class("bh08")(t, g)
        red.prepare(2)
        return red.multiply(s[t.rank], s[t.rank])

    with pytest.raises(RuntimeError, match="double sharings"):
        run_simulated(party, 3)


def test_unknown_protocol_and_too_large_threshold():
    with pytest.raises(ValueError, match="valid: bgw, bh08"):
        reducer_class("spdz")
    with pytest.raises(ValueError, match="T <= 1"):
        make_groups(10, PrimeField(11), T=2)
    assert mpc_threshold(50) == 7 and mpc_threshold(10) == 1   # T = floor((N-3)/6)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_message_counts_per_multiplication(protocol):
    """Counted through the transport: n(n-1) messages per reduction for BGW (O(N^2)), 2(n-1)
    for BH08 (O(N)); BH08's offline round costs n(n-1), once for all multiplications."""
    counts = {}
    for n in (3, 5, 7, 9, 11):
        g = _group(n)
        s = shamir_share(np.arange(6), n, g.T, g.field, points=g.points)
        res = _run(protocol, g, s, s)
        logs = [t.log.phases for t in res.transports]
        counts[n] = sum(ph["degree_reduction"].messages_sent for ph in logs)
        assert counts[n] == expected_messages(protocol, g.T, groups=1)
        received = sum(ph["degree_reduction"].messages_received for ph in logs)
        assert received == counts[n]
        offline = sum(ph["offline"].messages_sent for ph in logs)
        assert offline == (n * (n - 1) if protocol == "bh08" else 0)
    ns = np.array(list(counts))
    slope = np.polyfit(np.log(ns), np.log([counts[n] for n in ns]), 1)[0]
    # log-log growth: n(n-1) -> slope near 2, 2(n-1) -> slope near 1
    assert (1.8 < slope < 2.6) if protocol == "bgw" else (0.9 < slope < 1.4)


def _view(res, colluder):
    """Everything rank `colluder` received: one 1-D column per payload row."""
    cols = []
    for t in res.transports:
        for dest, _tag, _phase, payload in t.log.sent:
            if dest == colluder and isinstance(payload, np.ndarray):
                cols.extend([payload] if payload.ndim == 1 else list(payload.reshape(payload.shape[0], -1)))
    return cols


def _chi_square_pvalue(columns, p):
    """Chi-square test that the tuples formed by `columns` are uniform on F_p^len(columns)."""
    idx = np.zeros(columns[0].size, dtype=np.int64)
    for c in columns:
        idx = idx * p + c
    observed = np.bincount(idx, minlength=p ** len(columns))
    return stats.chisquare(observed).pvalue


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("colluder", [0, 2])
def test_colluding_view_uniform(protocol, colluder):
    """T = 1 of n = 3 parties (p = 11): its input shares and every element it receives during a
    multiplication are uniform on F_11, pairwise and (BGW) jointly, whatever the secrets."""
    p, n_el = 11, 30_000
    g = _group(3, p)
    pvalues = []
    for secret in (0, 7):
        a = np.full(n_el, secret)
        b = np.full(n_el, (secret * 3 + 1) % p)
        As = shamir_share(a, 3, 1, g.field, points=g.points)
        Bs = shamir_share(b, 3, 1, g.field, points=g.points)
        res = _run(protocol, g, As, Bs, record=True)
        view = [As[colluder], Bs[colluder]] + _view(res, colluder)
        assert len(view) >= 4
        for i in range(len(view)):
            for j in range(i + 1, len(view)):
                if view[i].size == view[j].size:       # BH08's offline columns are shorter
                    pvalues.append(_chi_square_pvalue([view[i], view[j]], p))
        if protocol == "bgw":                      # (a_j, b_j, [h_1]_j, [h_2]_j): 11^4 cells
            big = np.full(80_000, secret)
            As = shamir_share(big, 3, 1, g.field, points=g.points)
            res = _run(protocol, g, As, As, record=True)
            pvalues.append(_chi_square_pvalue([As[colluder]] + _view(res, colluder), p))
    # Bonferroni over all tests at a 1e-4 family-wise level: a correlated or biased component
    # (e.g. a reshare without fresh randomness) gives p-values of 0.
    assert min(pvalues) > 1e-4 / len(pvalues)


def test_chi_square_detects_leak():
    """The test above can fail: a share of a with zero randomness is the secret itself."""
    p = 11
    secret = np.full(20_000, 7)
    noise = np.random.default_rng(0).integers(0, p, 20_000)
    assert _chi_square_pvalue([secret, noise], p) < 1e-10


def test_docs_mpc_md_is_runnable():
    """docs/mpc.md's examples pass as a doctest."""
    import doctest
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "docs" / "mpc.md"
    failed, attempted = doctest.testfile(str(path), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert attempted > 0 and failed == 0
