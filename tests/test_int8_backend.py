"""The int8-limb route's own invariants: its limbs represent every residue, its schemes use the
fewest GEMMs, and its exact int32 blocks hold at the worst case (every limb, or limb sum, at its
most negative value) and across several blocks. Its products against the NumPy reference on
random and edge inputs are in test_linalg.py (the ``backend`` fixture)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyprivml.backends.cpu import has_exact_int8

pytestmark = pytest.mark.skipif(
    not has_exact_int8(), reason="int8 route needs AVX-512 VNNI, AVX-VNNI, AMX-INT8 or Arm dot products")

# 8-bit schoolbook with 1, 2, 3 limbs; 7-bit Karatsuba with 4 and 5 limbs.
PRIMES = [2, 251, 257, 65521, 65537, 2**24 - 3, 2**25 - 39, 2**28 - 57, 2**31 - 1, 2**32 - 5]


@pytest.fixture(scope="module")
def int8():
    from pyprivml.backends import get_backend

    return get_backend("int8")


def test_schemes_take_the_fewest_products(int8):
    got = {p: (s.bits, s.count, s.karatsuba, s.products) for p in PRIMES for s in [int8.limb_scheme(p)]}
    assert got[251] == (8, 1, False, 1)
    assert got[65521] == (8, 2, False, 4)
    assert got[2**24 - 3] == (8, 3, False, 9)
    assert got[2**25 - 39] == (7, 4, True, 10)
    assert got[2**32 - 5] == (7, 5, True, 15)
    for p in PRIMES:
        bits, count = got[p][:2]
        assert 2 ** (bits * count) >= p > 2 ** (bits * (count - 1))


@pytest.mark.parametrize("p", PRIMES)
@given(seed=st.integers(0, 2**32))
@settings(max_examples=10, deadline=None)
def test_planes_represent_every_residue(int8, p, seed):
    rng = np.random.default_rng(seed)
    A = rng.integers(0, p, size=(5, 7), dtype=np.int64)
    A[0, :3] = [0, p - 1, (p - 1) // 2]
    scheme = int8.limb_scheme(p)
    planes = int8.planes(A, p, scheme).astype(object)
    digits = planes[:scheme.count]
    half = 2 ** (scheme.bits - 1)
    assert digits.min() >= -half and digits.max() < half and planes.min() >= -128 and planes.max() < 128
    value = sum(digits[l] * 2 ** (scheme.bits * l) for l in range(scheme.count))
    assert np.array_equal(value % p, A.astype(object))
    pairs = [(i, j) for i in range(scheme.count) for j in range(i + 1, scheme.count)] if scheme.karatsuba else []
    assert len(planes) == scheme.count + len(pairs)
    for g, (i, j) in enumerate(pairs):
        assert np.array_equal(planes[scheme.count + g], digits[i] + digits[j])


def _worst_residue(p, scheme):
    """The residue whose every limb is −2^(bits−1): the representative −2^(bits−1) · S."""
    span = (2 ** (scheme.bits * scheme.count) - 1) // (2**scheme.bits - 1)
    return (-(2 ** (scheme.bits - 1)) * span) % p


@pytest.mark.parametrize("p", [251, 65521, 2**25 - 39, 2**32 - 5])
def test_worst_case_block_is_exact(int8, p):
    """Every limb at its most negative value, k at the block length and past it (two blocks)."""
    scheme = int8.limb_scheme(p)
    a = _worst_residue(p, scheme)
    for k in (int8._BLOCK, int8._BLOCK + 1):
        A = np.full((2, k), a, dtype=np.int64)
        B = np.full((k, 3), a, dtype=np.int64)
        want = k * a * a % p
        assert (int8.matmul(A, B, p) == want).all(), (p, k)


def test_strided_and_unsigned_operands(int8, rng):
    p = 2**25 - 39
    A = rng.integers(0, p, size=(40, 30), dtype=np.int64).astype(np.uint32)
    B = rng.integers(0, p, size=(30, 20), dtype=np.int64)
    want = (A.astype(object).dot(B.astype(object)) % p).astype(np.int64)
    assert np.array_equal(int8.matmul(A, B, p), want)
    assert np.array_equal(int8.matmul(A[::2], B[:, ::2], p), want[::2, ::2])
    assert np.array_equal(int8.matmul(B.T, A.T, p).T, want)
