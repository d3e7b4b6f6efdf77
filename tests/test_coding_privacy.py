"""T-privacy, measured: any T workers' view has the same distribution for any two datasets, T + 1 do not.

Seed 004 Theorem 1 (and Shamir 1979): in F_p with p = 11 and one-element blocks, each column of an
encoding is an independent draw of the workers' joint view, so one encode call gives many
samples. Chi-square tests compare the observed joint frequencies (p**T cells) with the uniform
law and with each other across two datasets. The streams are seeded, so the outcome is fixed.
"""

import itertools

import numpy as np
import pytest
from scipy import stats

import pyprivml as pp
from pyprivml.random import SecureRandom

p = 11
DRAWS = 30_000
ALPHA = 1e-4   # threshold on p-values; the streams are seeded, so no flakiness


def _joint(view):
    """Rows are workers, columns samples: the index of each column's joint value in [0, p**rows)."""
    return np.ravel_multi_index(tuple(view), (p,) * view.shape[0])


def _contingency_pvalue(a, b, cells):
    table = np.stack([np.bincount(a, minlength=cells), np.bincount(b, minlength=cells)])
    table = table[:, table.sum(axis=0) > 0]
    return stats.chi2_contingency(table).pvalue


def _lcc_views(code, data, seed):
    X = np.repeat(np.asarray(data), DRAWS)  # K one-element blocks, DRAWS independent columns
    return code.encode(X, rng=SecureRandom(seed=seed))  # (N, DRAWS)


@pytest.mark.parametrize("K, T, N", [(1, 1, 3), (2, 2, 4), (3, 1, 4)])
def test_lcc_T_private_and_not_T_plus_1(K, T, N):
    code = pp.LagrangeCode(p, N=N, K=K, T=T)
    A = _lcc_views(code, [0] * K, seed=1)
    B = _lcc_views(code, list(range(3, 3 + 2 * K, 2)), seed=2)  # a different dataset: 3, 5, ...
    for S in itertools.combinations(range(N), T):
        a, b = _joint(A[list(S)]), _joint(B[list(S)])
        assert stats.chisquare(np.bincount(a, minlength=p**T)).pvalue > ALPHA, S
        assert stats.chisquare(np.bincount(b, minlength=p**T)).pvalue > ALPHA, S
        assert _contingency_pvalue(a, b, p**T) > ALPHA, S
    # T + 1 workers learn one nonzero linear combination of the K data blocks (their view has
    # one dimension more than the T masks fill), so some dataset differing from A in a single
    # block is told apart from A.
    singles = [_lcc_views(code, [4 * (j == k) for j in range(K)], seed=10 + k) for k in range(K)]
    for S in itertools.combinations(range(N), T + 1):
        a = _joint(A[list(S)])
        best = min(_contingency_pvalue(a, _joint(Bk[list(S)]), p ** (T + 1)) for Bk in singles)
        assert best < 1e-12, S


def test_lcc_mask_columns_invertible_for_every_T_subset():
    """The algebra behind T-privacy: for every T workers the T x T block of U on the mask
    columns is invertible, so their view is a bijective image of the uniform masks."""
    for K, T, N in [(2, 2, 6), (1, 3, 6), (3, 2, 5)]:
        U = pp.LagrangeCode(p, N=N, K=K, T=T).encoding_matrix[:, K:]
        for S in itertools.combinations(range(N), T):
            M = [[int(v) for v in row] for row in U[list(S)]]
            assert _det_mod(M, p) != 0, (K, T, N, S)


def _det_mod(M, q):
    """Determinant modulo q by Gaussian elimination with Python ints."""
    M = [row[:] for row in M]
    n, det = len(M), 1
    for c in range(n):
        piv = next((r for r in range(c, n) if M[r][c] % q), None)
        if piv is None:
            return 0
        if piv != c:
            M[c], M[piv] = M[piv], M[c]
            det = -det
        det = det * M[c][c] % q
        inv = pow(M[c][c], -1, q)
        for r in range(c + 1, n):
            f = M[r][c] * inv % q
            M[r] = [(x - f * y) % q for x, y in zip(M[r], M[c])]
    return det % q


def test_lcc_replicated_weights_T_private():
    code = pp.LagrangeCode(p, N=4, K=2, T=2)
    A = code.encode_replicated(np.zeros(DRAWS, dtype=np.int64), rng=SecureRandom(seed=5))
    B = code.encode_replicated(np.full(DRAWS, 7, dtype=np.int64), rng=SecureRandom(seed=6))
    for S in itertools.combinations(range(4), 2):
        a, b = _joint(A[list(S)]), _joint(B[list(S)])
        assert stats.chisquare(np.bincount(b, minlength=p**2)).pvalue > ALPHA
        assert _contingency_pvalue(a, b, p**2) > ALPHA
    for S in itertools.combinations(range(4), 3):
        assert _contingency_pvalue(_joint(A[list(S)]), _joint(B[list(S)]), p**3) < 1e-12


@pytest.mark.parametrize("T, N", [(1, 3), (2, 5)])
def test_shamir_T_private_and_not_T_plus_1(T, N):
    A = pp.shamir_share(np.zeros(DRAWS, dtype=np.int64), N, T, p, rng=SecureRandom(seed=7))
    B = pp.shamir_share(np.full(DRAWS, 6, dtype=np.int64), N, T, p, rng=SecureRandom(seed=8))
    for S in itertools.combinations(range(N), T):
        a, b = _joint(A[list(S)]), _joint(B[list(S)])
        assert stats.chisquare(np.bincount(a, minlength=p**T)).pvalue > ALPHA, S
        assert stats.chisquare(np.bincount(b, minlength=p**T)).pvalue > ALPHA, S
        assert _contingency_pvalue(a, b, p**T) > ALPHA, S
    for S in itertools.combinations(range(N), T + 1):
        assert _contingency_pvalue(_joint(A[list(S)]), _joint(B[list(S)]), p ** (T + 1)) < 1e-12, S


def test_the_privacy_test_can_fail(monkeypatch):
    """The same statistics catch an encoder whose masks are not uniform (only 0 or 1)."""
    def weak_masks(self, field, shape):
        return self.integers(0, 2, size=shape)

    monkeypatch.setattr(SecureRandom, "field_elements", weak_masks)
    code = pp.LagrangeCode(p, N=3, K=1, T=1)
    A, B = _lcc_views(code, [0], seed=1), _lcc_views(code, [4], seed=2)
    a, b = _joint(A[[0]]), _joint(B[[0]])
    assert stats.chisquare(np.bincount(a, minlength=p)).pvalue < 1e-12
    assert _contingency_pvalue(a, b, p) < 1e-12
