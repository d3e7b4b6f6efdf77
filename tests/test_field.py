"""The prime field: primality, the default prime, embedding (seed 004 eqs. 5, 24), wrap-around bounds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyprivml as pp
from pyprivml.field import DEFAULT_PRIME, max_delayed_terms

# Primes and composites that trip weak primality tests.
KNOWN_PRIMES = [
    2, 3, 5, 65521, 2**25 - 39, 2**31 - 1, 4294967291, 4294967311, 2**61 - 1,
    18446744073709551557,  # 2**64 - 59, the largest 64-bit prime
]
KNOWN_COMPOSITES = [
    0, 1, 4, 2**25 - 37,  # the seed's stated prime: 33554395 = 5 * 6710879
    561, 1105, 1729, 2465, 2821, 6601, 8911, 41041, 825265,  # Carmichael numbers
    2047, 3215031751, 2152302898747, 3474749660383, 341550071728321,  # strong pseudoprimes
    3825123056546413051,  # strong pseudoprime to every prime base up to 23
    (2**31 - 1) * (2**32 - 5), 4294967291 * 4294967279, 2**64 - 1, 2**62,
]


def _sieve(n):
    flags = np.ones(n, dtype=bool)
    flags[:2] = False
    for q in range(2, int(n**0.5) + 1):
        if flags[q]:
            flags[q * q::q] = False
    return flags


def test_miller_rabin_matches_sieve():
    flags = _sieve(20000)
    assert [pp.is_prime(n) for n in range(20000)] == flags.tolist()


@pytest.mark.parametrize("n", KNOWN_PRIMES)
def test_known_primes(n):
    assert pp.is_prime(n)


@pytest.mark.parametrize("n", KNOWN_COMPOSITES)
def test_known_composites(n):
    assert not pp.is_prime(n)


@given(st.integers(2, 2**32), st.integers(2, 2**32))
@settings(max_examples=200, deadline=None)
def test_products_are_composite(a, b):
    assert not pp.is_prime(a * b)


def test_next_and_prev_prime():
    assert pp.next_prime(2**25 - 40) == 2**25 - 39
    assert pp.prev_prime(2**25) == 2**25 - 39
    assert pp.next_prime(2**25 - 39) == 33554467
    assert pp.prev_prime(2**32) == 4294967291
    assert pp.next_prime(-5) == 2 and pp.prev_prime(2) is None


def test_default_prime_is_the_largest_below_2_25():
    """Seed 004 states p = 2**25 - 37, which is divisible by 5; the largest prime is 2**25 - 39."""
    assert (2**25 - 37) % 5 == 0
    assert DEFAULT_PRIME == 2**25 - 39 == pp.PrimeField().p
    assert pp.is_prime(DEFAULT_PRIME)
    assert not any(pp.is_prime(n) for n in range(DEFAULT_PRIME + 1, 2**25))


def test_non_prime_names_neighbours():
    with pytest.raises(ValueError, match="33554393 below and 33554467 above"):
        pp.PrimeField(2**25 - 37)
    with pytest.raises(ValueError, match="91 is not prime.*89 below and 97 above"):
        pp.PrimeField(91)


@pytest.mark.parametrize("p", [-7, 0, 1, 2, 2**32 + 15, 2**61 - 1])
def test_out_of_range_prime(p):
    with pytest.raises(ValueError, match="2 < p < 2\\*\\*32|valid primes"):
        pp.PrimeField(p)


def test_largest_valid_prime_and_message_above_range():
    assert pp.PrimeField(4294967291).p == 4294967291
    with pytest.raises(ValueError, match="4294967291 below") as info:
        pp.PrimeField(4294967311)
    assert "above" not in str(info.value)  # no valid prime above 2**32 - 5
    with pytest.raises(ValueError, match="3 above"):
        pp.PrimeField(2)


@pytest.mark.parametrize("p", [7.0, "97", True, None])
def test_prime_must_be_an_integer(p):
    with pytest.raises(TypeError, match="must be an integer"):
        pp.PrimeField(p)


def test_field_equality_and_as_field():
    from pyprivml.field import as_field

    assert pp.PrimeField(97) == pp.PrimeField(np.int64(97)) != pp.PrimeField(101)
    assert hash(pp.PrimeField(97)) == hash(pp.PrimeField(97))
    F = pp.PrimeField(97)
    assert as_field(F) is F and as_field(97) == F
    assert repr(F) == "PrimeField(97)"


@pytest.mark.parametrize("p", [3, 97, 65521, DEFAULT_PRIME, 2**31 - 1, 4294967291])
def test_max_delayed_terms_is_tight(p):
    k = max_delayed_terms(p)
    assert k * (p - 1) ** 2 < 2**64 <= (k + 1) * (p - 1) ** 2
    assert pp.PrimeField(p).max_delayed_terms == k


@pytest.mark.parametrize("p", [3, 97, DEFAULT_PRIME, 4294967291])
@given(data=st.data())
@settings(max_examples=30, deadline=None)
def test_embed_lift_round_trip(p, data):
    F = pp.PrimeField(p)
    x = np.array(data.draw(st.lists(st.integers(-F.half, F.half), max_size=20)), dtype=np.int64)
    a = F.embed(x)
    assert a.dtype == np.int64 and ((a >= 0) & (a < p)).all()
    # eq. (5) by Python integers: x mod p.
    assert a.tolist() == [v % p for v in x.tolist()]
    assert F.lift(a).tolist() == x.tolist()


def test_embed_and_lift_edges():
    F = pp.PrimeField(97)
    assert F.embed([-48, -1, 0, 1, 48]).tolist() == [49, 96, 0, 1, 48]
    assert F.lift([49, 96, 0, 1, 48]).tolist() == [-48, -1, 0, 1, 48]
    for dtype in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64):
        assert F.embed(np.array([0, 5, 48], dtype=dtype)).tolist() == [0, 5, 48]
    with pytest.raises(ValueError, match="would wrap around modulo p = 97.*48"):
        F.embed([49])
    with pytest.raises(ValueError, match="would wrap"):
        F.embed([-49])
    with pytest.raises(TypeError, match="integer arrays"):
        F.embed([0.5])
    with pytest.raises(ValueError, match="outside the field"):
        F.lift([97])
    with pytest.raises(TypeError, match="dtype float64"):
        F.lift(np.array([1.0]))


def test_wrap_around_helpers():
    F = pp.PrimeField(101)  # (p - 1) / 2 = 50
    assert F.signed_fits(50) and not F.signed_fits(51)
    assert F.inner_product_fits(5, 2, 5) and not F.inner_product_fits(6, 3, 3)
    # the helper agrees with exact arithmetic: the worst-case inner product is recovered iff it fits
    for k, a, b in [(5, 2, 5), (2, 5, 5), (6, 3, 3), (1, 7, 7), (1, 8, 7)]:
        worst = k * a * b
        recovered = F.lift(np.array([worst % 101]))[0]  # phi^-1 of the result modulo p
        assert F.inner_product_fits(k, a, b) == (recovered == worst)


def test_largest_safe_scale():
    F = pp.PrimeField(DEFAULT_PRIME)
    l = F.largest_safe_scale(3.0)
    assert np.floor(3.0 * 2.0**l + 0.5) <= F.half < np.floor(3.0 * 2.0 ** (l + 1) + 0.5)
    assert F.largest_safe_scale(0.0) == 62
    assert F.largest_safe_scale(1e30) is None
    l = F.largest_safe_scale(1.0, k=100, other_bound=2**10)
    assert 100 * 2**l * 2**10 <= F.half < 100 * 2 ** (l + 1) * 2**10
