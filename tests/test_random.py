"""pyprivml.random: secure uniform field elements, unbiased rejection, reproducible seeded streams."""

import os

import numpy as np
import pytest
from scipy import stats

import pyprivml as pp
from pyprivml.random import SecureRandom, _lemire, as_secure_rng, default_rng

P_SMALL = 11
P_TOP = pp.prev_prime(2**32)              # 4294967291: 2**32 mod p = 5 words rejected
P_MID = pp.next_prime(3 * 2**30)          # 2**32 mod p ~ 2**30: naive w % p badly biased


@pytest.mark.parametrize("p", [P_SMALL, pp.DEFAULT_PRIME, P_MID, P_TOP])
def test_field_elements_shape_dtype_range(p):
    x = SecureRandom(seed=1).field_elements(pp.PrimeField(p), (3, 4, 5))
    assert x.shape == (3, 4, 5) and x.dtype == np.int64
    assert x.min() >= 0 and x.max() < p
    assert SecureRandom().field_elements(p, 0).shape == (0,)
    assert SecureRandom().field_elements(p, ()).shape == ()


def test_small_prime_uniform_chi_square():
    x = SecureRandom(seed=2).field_elements(P_SMALL, 110_000)
    counts = np.bincount(x, minlength=P_SMALL)
    assert stats.chisquare(counts).pvalue > 1e-4


def _bins_mid(values):
    """Three bins of [0, P_MID): [0, 2**30) is where naive w % p puts double weight."""
    edges = np.array([0, 2**30, 2**31, P_MID])
    counts = np.histogram(values, bins=edges)[0]
    expected = np.diff(edges) / P_MID * values.size
    return counts, expected


def test_rejection_unbiased_where_naive_modulo_is_not():
    counts, expected = _bins_mid(SecureRandom(seed=3).field_elements(P_MID, 200_000))
    assert stats.chisquare(counts, expected).pvalue > 1e-4
    # The same test has the power to see the bias of reducing raw 32-bit words modulo p.
    words = SecureRandom(seed=3)._words32(200_000).astype(np.int64)
    counts, expected = _bins_mid(words % P_MID)
    assert stats.chisquare(counts, expected).pvalue < 1e-12


@pytest.mark.parametrize("bound", [P_SMALL, pp.DEFAULT_PRIME, P_MID, P_TOP, 2**32, 2**31 + 1])
def test_lemire_matches_its_definition(bound):
    """v = floor(w * bound / 2**32), rejected iff (w * bound mod 2**32) < 2**32 mod bound."""
    edge = [0, 1, 2, bound - 1, bound % 2**32, 2**31, 2**32 - 2, 2**32 - 1]
    edge += [(2**32 - k) // 5 for k in range(1, 6)]  # words near the rejected ones for P_TOP
    words = np.concatenate([np.array([w % 2**32 for w in edge], dtype=np.uint32),
                            SecureRandom(seed=4)._words32(5000)])
    threshold = 2**32 % bound
    expected = [w * bound >> 32 for w in words.tolist() if (w * bound) % 2**32 >= threshold]
    got = _lemire(words, bound)
    assert got.dtype == np.int64 and got.tolist() == expected
    assert all(0 <= v < bound for v in expected)


def test_lemire_rejects_exactly_the_low_products():
    # For bound = 2**32 - 5, w = 0 gives product 0 < 5 = 2**32 mod bound: rejected.
    assert _lemire(np.array([0, 1], dtype=np.uint32), P_TOP).tolist() == [0]


def test_shortfall_is_redrawn(monkeypatch):
    """When a round keeps too few words the sampler draws again, preserving stream order."""
    r = SecureRandom(seed=5)
    ref = SecureRandom(seed=5)
    stream = ref._words32(10_000)
    pos = [0]

    def stingy(n):  # hand out at most 3 words per call, from the same keystream
        out = stream[pos[0]:pos[0] + min(n, 3)]
        pos[0] += out.size
        return out

    monkeypatch.setattr(r, "_words32", stingy)
    got = r.field_elements(P_MID, 40)
    expected = _lemire(stream[:pos[0]], P_MID)
    assert got.shape == (40,) and got.tolist() == expected.tolist()[:40]
    assert pos[0] > 40  # about half the words are rejected for P_MID


def test_seeded_streams_reproducible_unseeded_fresh():
    a = SecureRandom(seed=42).field_elements(pp.DEFAULT_PRIME, 1000)
    b = SecureRandom(seed=42).field_elements(pp.DEFAULT_PRIME, 1000)
    c = SecureRandom(seed=43).field_elements(pp.DEFAULT_PRIME, 1000)
    assert (a == b).all() and not (a == c).all()
    u = SecureRandom().field_elements(pp.DEFAULT_PRIME, 1000)
    v = SecureRandom().field_elements(pp.DEFAULT_PRIME, 1000)
    assert not (u == v).all()
    assert SecureRandom(seed=42).seeded and not SecureRandom().seeded
    assert repr(SecureRandom(seed=42)) == "SecureRandom(seed=42)"
    assert not default_rng().seeded
    assert default_rng().random_bytes(32) != default_rng().random_bytes(32)


def test_successive_draws_differ():
    r = SecureRandom(seed=6)
    assert r.random_bytes(64) != r.random_bytes(64)
    assert len(r.random_bytes(0)) == 0 and len(r.random_bytes(1000)) == 1000


def test_forked_child_rekeys():
    r = SecureRandom()
    r._pid = os.getpid() + 1  # what a forked child sees: a pid other than its creator's
    before = r._cipher
    r.random_bytes(8)
    assert r._cipher is not before and r._pid == os.getpid()
    s = SecureRandom(seed=1)
    s._pid = os.getpid() + 1
    before = s._cipher
    s.random_bytes(8)
    assert s._cipher is before  # a seeded stream stays reproducible


def test_uniform_53_bits():
    u = SecureRandom(seed=7).uniform(100_000)
    assert u.dtype == np.float64 and u.min() >= 0 and u.max() < 1
    assert np.array_equal(u * 2**53, np.floor(u * 2**53))
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    assert SecureRandom(seed=7).uniform((2, 3)).shape == (2, 3)


def test_normal_and_laplace_distributions():
    r = SecureRandom(seed=8)
    z = r.normal(loc=1.0, scale=2.0, size=50_001)
    assert z.shape == (50_001,)
    assert stats.kstest(z, "norm", args=(1.0, 2.0)).pvalue > 1e-4
    lap = r.laplace(loc=-1.0, scale=0.5, size=(200, 250))
    assert lap.shape == (200, 250) and np.isfinite(lap).all()
    assert stats.kstest(lap.ravel(), "laplace", args=(-1.0, 0.5)).pvalue > 1e-4
    # The tests can fail: a wrong scale is rejected.
    assert stats.kstest(lap.ravel(), "laplace", args=(-1.0, 0.6)).pvalue < 1e-6


def test_integers():
    r = SecureRandom(seed=9)
    x = r.integers(-3, 4, size=70_000)
    assert x.min() == -3 and x.max() == 3
    assert stats.chisquare(np.bincount(x + 3)).pvalue > 1e-4
    assert r.integers(5, size=(2, 2)).max() < 5
    assert r.integers(2**32, size=10).max() < 2**32
    with pytest.raises(ValueError, match="high - low"):
        r.integers(3, 3)
    with pytest.raises(ValueError, match="high - low"):
        r.integers(0, 2**32 + 1)


def test_bad_arguments():
    with pytest.raises(TypeError, match="seed"):
        SecureRandom(seed=1.5)
    with pytest.raises(TypeError, match="seed"):
        SecureRandom(seed=True)
    with pytest.raises(ValueError, match="negative"):
        SecureRandom().field_elements(11, (2, -1))
    with pytest.raises(ValueError, match="not prime"):
        SecureRandom().field_elements(12, 3)
    with pytest.raises(ValueError, match="n >= 0"):
        SecureRandom().random_bytes(-1)


def test_as_secure_rng_refuses_predictable_generators():
    r = SecureRandom(seed=1)
    assert as_secure_rng(r) is r
    assert isinstance(as_secure_rng(None), SecureRandom)
    with pytest.raises(TypeError, match="SecureRandom"):
        as_secure_rng(np.random.default_rng(0))


def test_chunked_generation(monkeypatch):
    import pyprivml.random as prandom

    monkeypatch.setattr(prandom, "_CHUNK", 7)
    a = SecureRandom(seed=10).field_elements(P_MID, (10, 10))
    b = SecureRandom(seed=10).field_elements(P_MID, (10, 10))
    assert a.shape == (10, 10) and np.array_equal(a, b)
    assert a.min() >= 0 and a.max() < P_MID and np.unique(a).size > 90
