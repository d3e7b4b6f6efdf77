"""Shamir sharing (seed 004 appendix D): shares, reconstruction from any T + 1 (or 2T + 1) shares."""

import itertools

import numpy as np
import pytest

import pyprivml as pp
from pyprivml.random import SecureRandom
from pyprivml.shamir import default_points, recombination_vector

P = pp.DEFAULT_PRIME
F = pp.PrimeField(P)


def test_shares_are_the_polynomial_of_appendix_d(rng):
    """[a]_i = a + r_1 x_i + ... + r_T x_i**T with the r_t drawn from the given stream."""
    secret = rng.integers(0, P, size=(2, 3))
    shares = pp.shamir_share(secret, N=5, T=2, field=F, rng=SecureRandom(seed=4))
    r = SecureRandom(seed=4).field_elements(F, (2, 6)).reshape(2, 2, 3)
    assert shares.shape == (5, 2, 3) and shares.dtype == np.int64
    for i, x in enumerate(range(1, 6)):
        expected = [(int(a) + int(r1) * x + int(r2) * x * x) % P
                    for a, r1, r2 in zip(secret.ravel(), r[0].ravel(), r[1].ravel())]
        assert shares[i].ravel().tolist() == expected


def test_any_T_plus_1_shares_reconstruct(backend, to_backend, rng):
    to, back = to_backend
    N, T = 6, 2
    secret = rng.integers(0, P, size=(4, 5))
    shares = pp.shamir_share(to(secret), N, T, F, backend=backend)
    for S in itertools.combinations(range(N), T + 1):
        got = pp.shamir_reconstruct({i: shares[i] for i in S[::-1]}, F, degree=T, backend=backend)
        assert np.array_equal(back(got), secret)
    # T shares are not enough: the interpolation through them gives a different value.
    wrong = pp.shamir_reconstruct({i: shares[i] for i in range(T)}, F, backend=backend)
    assert not np.array_equal(back(wrong), secret)


def test_products_need_2T_plus_1(backend, to_backend, rng):
    to, back = to_backend
    N, T = 7, 2
    a = rng.integers(0, P, size=8)
    b = rng.integers(0, P, size=8)
    A = back(pp.shamir_share(to(a), N, T, F, backend=backend))
    B = back(pp.shamir_share(to(b), N, T, F, backend=backend))
    AB = {i: to(A[i] * B[i] % P) for i in (6, 0, 2, 5, 3)}  # 2T + 1 = 5 local products (BGW)
    got = pp.shamir_reconstruct(AB, F, degree=2 * T, backend=backend)
    assert np.array_equal(back(got), a * b % P)
    with pytest.raises(ValueError, match="degree-4 sharing needs 5 shares to reconstruct, got 4"):
        pp.shamir_reconstruct({i: AB[i] for i in (6, 0, 2, 5)}, F, degree=2 * T)


def test_addition_is_local(rng):
    a, b = rng.integers(0, P, size=3), rng.integers(0, P, size=3)
    A, B = pp.shamir_share(a, 4, 1, F), pp.shamir_share(b, 4, 1, F)
    assert np.array_equal(pp.shamir_reconstruct((A + B) % P, F, degree=1), (a + b) % P)


def test_array_input_and_degree_none(rng):
    secret = rng.integers(0, P, size=3)
    shares = pp.shamir_share(secret, 5, 3, F)
    assert np.array_equal(pp.shamir_reconstruct(shares, F), secret)          # all 5 shares
    assert np.array_equal(pp.shamir_reconstruct(shares[:4], F), secret)      # first 4
    assert np.array_equal(pp.shamir_reconstruct(shares, F, degree=3), secret)


def test_scalar_secret_and_T0():
    s = pp.shamir_share(np.int64(9), 3, 0, 11)
    assert s.shape == (3,) and s.tolist() == [9, 9, 9]  # degree 0: every share is the secret
    s = pp.shamir_share(np.int64(9), 3, 1, 11, rng=SecureRandom(seed=0))
    assert int(pp.shamir_reconstruct({2: s[2], 0: s[0]}, 11)) == 9


def test_custom_points(rng):
    pts = [7, 3, 100, 55]
    secret = rng.integers(0, 101, size=6)
    shares = pp.shamir_share(secret, 4, 2, 101, points=pts)
    got = pp.shamir_reconstruct({3: shares[3], 1: shares[1], 2: shares[2]}, 101, points=pts, degree=2)
    assert np.array_equal(got, secret)


def test_recombination_vector():
    lam = recombination_vector([2, 5, 9], 101)
    ref = []
    for i, xi in enumerate([2, 5, 9]):
        num = den = 1
        for j, xj in enumerate([2, 5, 9]):
            if j != i:
                num, den = num * xj % 101, den * (xj - xi) % 101
        ref.append(num * pow(den, -1, 101) % 101)
    assert lam.tolist() == ref
    assert recombination_vector([1, 2, 3], pp.PrimeField(11)).tolist() == [3, 8, 1]
    assert default_points(3).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="may not contain 0"):
        recombination_vector([0, 1], 11)
    with pytest.raises(ValueError, match="distinct"):
        recombination_vector([1, 1], 11)


def test_bad_arguments():
    x = np.array([1, 2])
    with pytest.raises(ValueError, match=r"0 <= T < N = 3"):
        pp.shamir_share(x, 3, 3, F)
    with pytest.raises(ValueError, match="N must be >= 1"):
        pp.shamir_share(x, 0, 0, F)
    with pytest.raises(ValueError, match="too small for the default points 1..11"):
        pp.shamir_share(x, 11, 2, 11)
    with pytest.raises(ValueError, match="outside the field"):
        pp.shamir_share(np.array([11]), 3, 1, 11)
    with pytest.raises(TypeError, match="field elements"):
        pp.shamir_share(np.array([1.5]), 3, 1, 11, check=False)
    with pytest.raises(ValueError, match="points needs exactly 3"):
        pp.shamir_share(x, 3, 1, F, points=[1, 2])
    with pytest.raises(TypeError, match="SecureRandom"):
        pp.shamir_share(x, 3, 1, F, rng=np.random.default_rng())
    with pytest.raises(ValueError, match="at least one share"):
        pp.shamir_reconstruct({}, F)
    with pytest.raises(ValueError, match="unknown worker index -1"):
        pp.shamir_reconstruct({-1: x}, F)
    with pytest.raises(ValueError, match="unknown worker index 3: points has only 3"):
        pp.shamir_reconstruct({3: x}, F, points=[1, 2, 3])
    with pytest.raises(ValueError, match="has shape"):
        pp.shamir_reconstruct({0: x, 1: np.array([1])}, F)
    with pytest.raises(ValueError, match="degree must be >= 0"):
        pp.shamir_reconstruct({0: x}, F, degree=-1)
