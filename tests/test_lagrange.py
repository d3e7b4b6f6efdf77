"""Lagrange coded computing (seed 004 eqs. 9-12, 19-21) and the polynomial helpers behind it."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyprivml as pp
from pyprivml import _poly
from pyprivml.random import SecureRandom

P = pp.DEFAULT_PRIME
F = pp.PrimeField(P)


# -- Python-integer references ----------------------------------------------------------------

def ref_basis(points, at, p):
    """l_j(z) = prod_{k != j} (z - x_k) / (x_j - x_k) mod p with Python ints."""
    out = []
    for z in at:
        row = []
        for j, xj in enumerate(points):
            num = den = 1
            for k, xk in enumerate(points):
                if k != j:
                    num = num * (z - xk) % p
                    den = den * (xj - xk) % p
            row.append(num * pow(den, -1, p) % p)
        out.append(row)
    return out


def ref_combine(C, X, p):
    """C @ X mod p with Python ints (object arrays)."""
    return (np.asarray(C, dtype=object) @ np.asarray(X, dtype=object)) % p


# -- _poly helpers ----------------------------------------------------------------------------

@pytest.mark.parametrize("p", [11, 65537, P, pp.prev_prime(2**32)])
@pytest.mark.parametrize("n", [1, 2, 7, 50])
def test_batch_inverse(p, n, rng):
    a = rng.integers(1, p, size=n)
    inv = _poly.batch_inverse(a, p)
    assert inv.tolist() == [pow(int(v), -1, p) for v in a]
    assert _poly.batch_inverse(a.reshape(1, -1), p).shape == (1, n)


def test_batch_inverse_zero_raises():
    with pytest.raises(ZeroDivisionError, match="no inverse"):
        _poly.batch_inverse(np.array([3, 22, 5]), 11)
    assert _poly.batch_inverse(np.zeros(0, dtype=np.int64), 11).shape == (0,)


@pytest.mark.parametrize("p", [13, P, pp.prev_prime(2**32)])
def test_lagrange_basis_matches_reference(p, rng):
    pts = rng.choice(min(p, 10**6), size=6, replace=False)
    at = rng.integers(0, p, size=9).tolist() + [int(pts[2])]  # last row coincides with a point
    L = _poly.lagrange_basis(pts, np.array(at), p)
    assert L.tolist() == ref_basis([int(v) for v in pts], at, p)
    assert L[-1].tolist() == [0, 0, 1, 0, 0, 0]


def test_mulmod_prod_vandermonde():
    big = pp.prev_prime(2**32)
    assert _poly.mulmod(np.array([big - 1]), np.array([big - 1]), big).tolist() == [1]
    assert _poly.prod_mod(np.array([[2, 3, 4], [10, 10, 10]]), 11, axis=1).tolist() == [2, 10]
    assert _poly.vandermonde(np.array([2, 3]), 3, 11).tolist() == [[1, 2, 4, 8], [1, 3, 9, 5]]


# -- construction and validation ----------------------------------------------------------------

def test_default_points_and_encoding_matrix():
    code = pp.LagrangeCode(F, N=6, K=2, T=2)
    assert code.betas.tolist() == [1, 2, 3, 4]
    assert code.alphas.tolist() == [5, 6, 7, 8, 9, 10]
    U = code.encoding_matrix
    assert U.shape == (6, 4)
    assert U.tolist() == ref_basis([1, 2, 3, 4], list(range(5, 11)), P)  # eq. 10
    assert not U.flags.writeable
    assert repr(code) == f"LagrangeCode(PrimeField({P}), N=6, K=2, T=2)"


def test_int_field_and_custom_points():
    code = pp.LagrangeCode(101, N=3, K=2, T=1, alphas=[50, 60, 70], betas=[0, 1, 100])
    assert code.field == pp.PrimeField(101)
    assert code.encoding_matrix.tolist() == ref_basis([0, 1, 100], [50, 60, 70], 101)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(alphas=[1, 5, 6], betas=[1, 2, 3]), ValueError, r"disjoint.*\[1\]"),
        (dict(alphas=[4, 4, 6], betas=[1, 2, 3]), ValueError, r"distinct.*\[4\]"),
        (dict(alphas=[4, 5, 6], betas=[1, 2, 2]), ValueError, r"betas must be distinct"),
        (dict(alphas=[4, 5], betas=[1, 2, 3]), ValueError, r"exactly 3"),
        (dict(alphas=[4, 5, 6], betas=[1, 2]), ValueError, r"betas needs exactly 3"),
        (dict(alphas=[4, 5, 101], betas=[1, 2, 3]), ValueError, r"outside the field \[0, 101\)"),
        (dict(alphas=[4, 5, -1], betas=[1, 2, 3]), ValueError, r"outside"),
        (dict(alphas=[4.5, 5, 6], betas=[1, 2, 3]), TypeError, r"integers"),
    ],
)
def test_bad_points_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        pp.LagrangeCode(101, N=3, K=2, T=1, **kwargs)


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="N must be >= 1"):
        pp.LagrangeCode(F, N=0, K=1, T=0)
    with pytest.raises(ValueError, match="K must be >= 1"):
        pp.LagrangeCode(F, N=3, K=0, T=0)
    with pytest.raises(ValueError, match="T must be >= 0"):
        pp.LagrangeCode(F, N=3, K=1, T=-1)
    with pytest.raises(TypeError, match="K must be an integer"):
        pp.LagrangeCode(F, N=3, K=1.0, T=0)
    with pytest.raises(ValueError, match=r"too small for the default evaluation points 1\.\.12"):
        pp.LagrangeCode(11, N=8, K=2, T=2)
    with pytest.raises(ValueError, match="not prime"):
        pp.LagrangeCode(12, N=3, K=1, T=1)


# -- encoding ---------------------------------------------------------------------------------

def test_encode_is_U_times_blocks_and_masks_bit_for_bit(rng):
    code = pp.LagrangeCode(F, N=5, K=2, T=2)
    X = rng.integers(0, P, size=(6, 3))
    Xt = code.encode(X, rng=SecureRandom(seed=11))
    masks = SecureRandom(seed=11).field_elements(F, (2, 9))  # the same draw encode made
    blocks = np.vstack([X.reshape(2, 9), masks])
    assert Xt.shape == (5, 3, 3) and Xt.dtype == np.int64
    assert Xt.reshape(5, 9).tolist() == ref_combine(code.encoding_matrix, blocks, P).tolist()


def test_encode_replicated_bit_for_bit(rng):
    code = pp.LagrangeCode(F, N=6, K=3, T=2)
    W = rng.integers(0, P, size=(4, 2))
    Wt = code.encode_replicated(W, rng=SecureRandom(seed=12))
    masks = SecureRandom(seed=12).field_elements(F, (2, 8))
    blocks = np.vstack([W.reshape(1, 8)] * 3 + [masks])  # eq. 12: W at all K data points
    assert Wt.shape == (6, 4, 2)
    assert Wt.reshape(6, 8).tolist() == ref_combine(code.encoding_matrix, blocks, P).tolist()


def test_fresh_masks_every_call(rng):
    code = pp.LagrangeCode(F, N=4, K=2, T=1)
    X = rng.integers(0, P, size=(4, 5))
    assert not np.array_equal(code.encode(X), code.encode(X))
    r = SecureRandom(seed=3)
    assert not np.array_equal(code.encode(X, rng=r), code.encode(X, rng=r))
    assert not np.array_equal(code.encode_replicated(X), code.encode_replicated(X))
    assert np.array_equal(code.encode(X, rng=SecureRandom(seed=3)), code.encode(X, rng=SecureRandom(seed=3)))
    plain = pp.LagrangeCode(F, N=4, K=2, T=0)  # no masks: deterministic
    assert np.array_equal(plain.encode(X), plain.encode(X))


def test_encode_input_checks():
    code = pp.LagrangeCode(11, N=4, K=2, T=1)
    with pytest.raises(ValueError, match=r"outside the field \[0, 11\)"):
        code.encode(np.array([[1, 11]]))
    with pytest.raises(TypeError, match="dtype float64"):
        code.encode(np.ones((2, 2)))
    with pytest.raises(TypeError, match="dtype float64"):
        code.encode(np.ones((2, 2)), check=False)
    with pytest.raises(ValueError, match="at least one axis"):
        code.encode(np.int64(3))
    with pytest.raises(TypeError, match="SecureRandom"):
        code.encode(np.ones((2, 2), dtype=np.int64), rng=np.random.default_rng(0))


# -- decoding ---------------------------------------------------------------------------------

def _subset(rng, N, size):
    """A random subset of workers in random order: the first results to arrive."""
    return [int(i) for i in rng.permutation(N)[:size]]


def test_decode_degree_1_recovers_blocks_from_any_subset(rng):
    code = pp.LagrangeCode(F, N=7, K=3, T=2)
    X = rng.integers(0, P, size=(7, 2))  # 7 rows: padded to 3 blocks of 3
    Xt = code.encode(X)
    need = code.recovery_threshold(1)
    assert need == 5
    for S in itertools.islice(itertools.permutations(range(7), need), 0, None, 97):
        dec = code.decode({i: Xt[i] for i in S}, degree=1)
        assert dec.shape == (3, 3, 2)
        assert np.array_equal(code.unpad(dec, 7), X)
        assert (dec[2, 1:] == 0).all()  # the zero padding rows


def _f(kind, B, W=None, M=None, backend=None):
    """Polynomials of degree 1, 2, 3 applied blockwise with pyprivml kernels."""
    if kind == "linear":    # degree 1: B @ M, a public matrix
        return pp.modmatmul(B, M, F, backend=backend)
    if kind == "gram":      # degree 2: B^T B
        return pp.modmatmul(B.T, B, F, backend=backend)
    if kind == "gradient":  # degree 3 in (B, W): B^T (B W), eq. 18 with r = 1 (deg f = 2r + 1)
        return pp.modmatmul(B.T, pp.modmatmul(B, W, F, backend=backend), F, backend=backend)
    raise ValueError(kind)


@pytest.mark.parametrize("kind, degree", [("linear", 1), ("gram", 2), ("gradient", 3)])
def test_round_trip_every_backend(backend, to_backend, kind, degree, rng):
    to, back = to_backend
    N, K, T = 12, 2, 2
    code = pp.LagrangeCode(F, N=N, K=K, T=T)
    m, d = 9, 4
    X = rng.integers(0, P, size=(m, d))
    W = rng.integers(0, P, size=(d, 1))
    M = rng.integers(0, P, size=(d, 3))
    Xt = code.encode(to(X), backend=backend)
    Wt = code.encode_replicated(to(W), backend=backend)
    results = {i: _f(kind, Xt[i], Wt[i], to(M), backend) for i in range(N)}
    rows = code.block_rows(m)
    Xpad = np.zeros((K * rows, d), dtype=np.int64)
    Xpad[:m] = X
    expected = np.stack([_f(kind, B, W, M, backend="numpy") for B in Xpad.reshape(K, rows, d)])
    need = code.recovery_threshold(degree)
    assert need == degree * (K + T - 1) + 1
    for _ in range(4):
        S = _subset(rng, N, need)
        dec = code.decode({i: results[i] for i in S}, degree, backend=backend)
        assert np.array_equal(back(dec), expected)


def test_decode_uses_first_threshold_results_in_mapping_order(rng):
    code = pp.LagrangeCode(F, N=6, K=2, T=1)
    X = rng.integers(0, P, size=(4, 3))
    Xt = code.encode(X)
    # Workers 5, 1 arrive first; a corrupted late result (worker 0) must be ignored.
    results = {5: Xt[5], 1: Xt[1], 3: Xt[3], 0: (Xt[0] + 1) % P}
    assert np.array_equal(code.unpad(code.decode(results, 1), 4), X)
    results = {0: (Xt[0] + 1) % P, 5: Xt[5], 1: Xt[1], 3: Xt[3]}
    assert not np.array_equal(code.unpad(code.decode(results, 1), 4), X)


@pytest.mark.parametrize("p", [251, 2**25 - 39, 4294967291])
def test_decode_summed_is_the_sum_of_the_blocks(p, rng):
    """summed=True folds eq. (22)'s sum into the decoding matrix: the same field elements as
    summing the K decoded blocks, for any order of the responding workers."""
    code = pp.LagrangeCode(p, N=20, K=4, T=2)
    need = code.recovery_threshold(3)
    workers = list(rng.permutation(20)[:need])
    results = {int(w): rng.integers(0, p, size=(7, 3), dtype=np.int64) for w in workers}
    blocks = code.decode(results, 3)
    want = np.zeros((7, 3), dtype=object)
    for k in range(code.K):
        want = (want + blocks[k].astype(object)) % p
    got = code.decode(results, 3, summed=True)
    assert got.shape == (7, 3) and got.dtype == np.int64
    assert np.array_equal(got.astype(object), want)


def test_decoding_matrix_cached_and_order_independent():
    code = pp.LagrangeCode(F, N=6, K=2, T=1)
    D = code.decoding_matrix([4, 1, 2])
    assert code.decoding_matrix([1, 2, 4]) is code.decoding_matrix([1, 2, 4])
    assert D.tolist() == ref_basis([int(code.alphas[i]) for i in (4, 1, 2)], [1, 2], P)  # eq. 21


def test_too_few_results_names_threshold():
    code = pp.LagrangeCode(F, N=10, K=2, T=2)
    with pytest.raises(ValueError, match=r"recovery_threshold\(2\) = 7 workers .* got 6"):
        code.decode({i: np.zeros(3, dtype=np.int64) for i in range(6)}, degree=2)
    with pytest.raises(ValueError, match=r"needs 10 = 3\*\(K\+T-1\)\+1 results but this code has only N = 9"):
        pp.LagrangeCode(F, N=9, K=2, T=2).decode({}, degree=3)


def test_decode_bad_inputs():
    code = pp.LagrangeCode(F, N=4, K=1, T=1)
    z = np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match=r"unknown worker index 4"):
        code.decode({0: z, 4: z}, degree=1)
    with pytest.raises(ValueError, match=r"unknown worker index '1'"):
        code.decode({0: z, "1": z}, degree=1)
    with pytest.raises(ValueError, match="result of worker 1 has shape"):
        code.decode({0: z, 1: np.zeros(3, dtype=np.int64)}, degree=1)
    with pytest.raises(ValueError, match="result of worker 1 has entries .* outside the field"):
        code.decode({0: z, 1: z + P}, degree=1)          # the worker whose result is wrong is named
    with pytest.raises(TypeError, match="result of worker 0 has dtype float64"):
        code.decode({0: z.astype(float), 1: z}, degree=1)
    with pytest.raises(TypeError, match="mapping"):
        code.decode([z, z], degree=1)
    with pytest.raises(ValueError, match="degree must be >= 0"):
        code.recovery_threshold(-1)
    with pytest.raises(ValueError, match="distinct"):
        code.decoding_matrix([1, 1])
    with pytest.raises(ValueError, match="unknown worker index 7"):
        code.decoding_matrix([1, 7])
    with pytest.raises(ValueError, match="do not fit"):
        code.unpad(np.zeros((1, 2)), 3)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    N=st.integers(1, 9), K=st.integers(1, 4), T=st.integers(0, 3),
    m=st.integers(1, 9), d=st.integers(1, 3), seed=st.integers(0, 2**32 - 1),
)
def test_property_round_trip(N, K, T, m, d, seed):
    """Any N, K, T, m: degree-1 and (where N allows) degree-2 elementwise maps decode exactly."""
    g = np.random.default_rng(seed)
    code = pp.LagrangeCode(F, N=N, K=K, T=T)
    X = g.integers(0, P, size=(m, d))
    Xt = code.encode(X, rng=SecureRandom(seed=seed))
    for degree in (1, 2):
        need = code.recovery_threshold(degree)
        if need > N:
            with pytest.raises(ValueError, match="only N"):
                code.decode({i: Xt[i] for i in range(N)}, degree)
            continue
        S = [int(i) for i in g.permutation(N)[:need]]
        res = {i: Xt[i] if degree == 1 else Xt[i] * Xt[i] % P for i in S}
        got = code.unpad(code.decode(res, degree), m)
        assert np.array_equal(got, X if degree == 1 else X * X % P)


def test_docs_coding_examples():
    """docs/coding.md is runnable: its examples pass as a doctest."""
    import doctest
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "docs" / "coding.md"
    result = doctest.testfile(str(path), module_relative=False, verbose=False)
    assert result.attempted > 20 and result.failed == 0
