"""Sketching operators of seed 002 (Defs. 18-23, Theorem 60, Table 1)."""

import numpy as np
import pytest
import scipy.linalg

from pyprivml import sketch

SKETCH_KINDS = list(sketch.SKETCH_KINDS)


def _cuda_available():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@pytest.mark.parametrize("kind", SKETCH_KINDS)
@pytest.mark.parametrize("b,d", [(8, 50), (16, 64), (1, 7)])
def test_sk_desk_match_dense_matrix_and_are_adjoint(kind, b, d, rng):
    S = sketch.make(kind, b, d, seed=11)
    R = S.matrix()
    assert R.shape == (b, d)
    X = rng.standard_normal((5, d))
    Y = rng.standard_normal((5, b))
    np.testing.assert_allclose(S.sk(X), X @ R.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(S.desk(Y), Y @ R, rtol=1e-12, atol=1e-12)
    # <R x, y> = <x, R^T y>
    np.testing.assert_allclose(np.einsum("ij,ij->i", S.sk(X), Y), np.einsum("ij,ij->i", X, S.desk(Y)), rtol=1e-10)
    # batch versus one row at a time, and the 1-D shapes
    for i in range(X.shape[0]):
        np.testing.assert_allclose(S.sk(X[i]), S.sk(X)[i], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(S.desk(Y[i]), S.desk(Y)[i], rtol=1e-12, atol=1e-13)
    assert S.sk(X[0]).shape == (b,) and S.desk(Y[0]).shape == (d,)


@pytest.mark.parametrize("kind", SKETCH_KINDS)
def test_same_seed_same_operator_and_dense_blocks(kind):
    a, b = sketch.make(kind, 8, 300, seed=3), sketch.make(kind, 8, 300, seed=3)
    np.testing.assert_array_equal(a.matrix(), b.matrix())
    assert not np.array_equal(a.matrix(), sketch.make(kind, 8, 300, seed=4).matrix())
    rebuilt = sketch.make(kind, 8, 300, seed=sketch.make(kind, 8, 300).seed)  # .seed rebuilds it
    assert rebuilt.matrix().shape == (8, 300)


@pytest.mark.parametrize("kind", ["gaussian", "ams"])
def test_dense_sketches_regenerate_blocks_consistently(kind, rng):
    # Small blocks and no cache: R is regenerated on every call and must be the same R each time.
    S = sketch.make(kind, 6, 100, seed=5, block=16, cache_entries=0)
    full = sketch.make(kind, 6, 100, seed=5, block=16)
    x = rng.standard_normal(100)
    np.testing.assert_allclose(S.sk(x), full.sk(x), rtol=1e-12)
    np.testing.assert_allclose(S.sk(x), S.sk(x), rtol=0)
    assert S._dense is None


@pytest.mark.parametrize("kind", SKETCH_KINDS)
def test_torch_inputs_match_numpy(kind, rng):
    torch = pytest.importorskip("torch")
    S = sketch.make(kind, 8, 40, seed=2)
    X = rng.standard_normal((3, 40))
    Y = rng.standard_normal((3, 8))
    out = S.sk(torch.tensor(X))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), S.sk(X), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(S.desk(torch.tensor(Y)).numpy(), S.desk(Y), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(S.sk(torch.tensor(X[0], dtype=torch.float32)).numpy(), S.sk(X[0]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["countsketch", "sparse1", "sparse2"])
def test_numba_hashed_kernels_match_vectorised_reference(kind, rng):
    S = sketch.make(kind, 32, 20_000, seed=9)
    X = rng.standard_normal((3, 20_000))
    np.testing.assert_allclose(S.sk(X), S.sk_reference(X), rtol=1e-10, atol=1e-10)
    Y = rng.standard_normal((3, 32))
    np.testing.assert_allclose(S.desk(Y), S._desk_xp(Y, np, S.rows, S.signs.astype(float)), rtol=1e-12)


def test_float32_stays_float32(rng):
    for kind in SKETCH_KINDS:
        S = sketch.make(kind, 4, 16, seed=0)
        assert S.sk(rng.standard_normal(16).astype(np.float32)).dtype == np.float32
        assert S.desk(rng.standard_normal(4).astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("n", [1, 2, 8, 64, 8192])
def test_fwht_matches_scipy_hadamard(n, rng):
    x = rng.standard_normal((2, n))
    H = scipy.linalg.hadamard(n) if n <= 1024 else None
    out = sketch.fwht(x)
    if H is not None:
        np.testing.assert_allclose(out, x @ H.T, rtol=1e-12, atol=1e-9)
    # W W = n I for any n
    np.testing.assert_allclose(sketch.fwht(out) / n, x, rtol=1e-9, atol=1e-9)
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(sketch.fwht(torch.tensor(x)).numpy(), out, rtol=1e-12, atol=1e-9)


def test_fwht_rejects_non_power_of_two():
    with pytest.raises(ValueError, match="power-of-two"):
        sketch.fwht(np.ones(12))


def _desk_sk_samples(kind, b, d, g, trials, **kw):
    seeds = np.random.SeedSequence(2024).spawn(trials)
    return np.stack([sketch.make(kind, b, d, seed=int(s.generate_state(1)[0]), **kw).desk(
        sketch.make(kind, b, d, seed=int(s.generate_state(1)[0]), **kw).sk(g)) for s in seeds])


def _predicted_variance(kind, b, d, g):
    """Var[(R^T R g)_i] from the definitions (derivations in pyprivml.sketch.embedding)."""
    sq = g @ g
    if kind == "gaussian":
        return (sq + g**2) / b
    base = (sq - g**2) / b
    if kind == "srht":
        n = 1 << (d - 1).bit_length()
        return base * (n - b) / (n - 1)
    return base


def _within_standard_errors(samples, g, var_pred, k=5.0):
    return bool(np.all(np.abs(samples.mean(axis=0) - g) <= k * np.sqrt(var_pred / len(samples)) + 1e-12))


@pytest.mark.parametrize("kind", SKETCH_KINDS)
def test_unbiased_with_predicted_variance(kind):
    b, d, trials = 8, 32, 3000
    g = np.linspace(-1.0, 2.0, d)
    samples = _desk_sk_samples(kind, b, d, g, trials)
    var_pred = _predicted_variance(kind, b, d, g)
    # E[desk(sk(g))] = g: every coordinate within 5 standard errors ...
    assert _within_standard_errors(samples, g, var_pred)
    # ... a check with the power to see a 10% bias in the same samples
    assert not _within_standard_errors(1.1 * samples, g, var_pred)
    # variance matches the prediction summed over coordinates (sampling error ~ 2%)
    var_emp = ((samples - g) ** 2).mean(axis=0)
    assert var_emp.sum() == pytest.approx(var_pred.sum(), rel=0.08)


@pytest.mark.parametrize("kind", SKETCH_KINDS)
def test_embedding_parameter_against_table_1(kind):
    est = sketch.estimate_embedding_parameter(kind, b=16, d=64, trials=1500, seed=1)
    # Table 1 gives upper bounds on a; the measured worst-probe a must not exceed them beyond
    # sampling error, and must be near the exact value 2 (SRHT: 2 (n-b)/(n-1)) for spread probes.
    assert est.a <= est.table_a * 1.1
    exact = 2 * (64 - 16) / 63 if kind == "srht" else 2.0
    assert est.a == pytest.approx(exact, rel=0.15)
    # Theorem 60's alpha: E||R^T R g||^2 <= (1 + a d / b) ||g||^2
    assert 0 < est.alpha <= est.table_a * 64 / 16


def test_make_and_errors():
    assert isinstance(sketch.make("Count-Sketch", 4, 8), sketch.CountSketch)
    with pytest.raises(ValueError, match="valid kinds"):
        sketch.make("fourier", 4, 8)
    with pytest.raises(ValueError, match="positive integer"):
        sketch.make("gaussian", 0, 8)
    with pytest.raises(ValueError, match="at most 8"):
        sketch.make("srht", 16, 8)
    with pytest.raises(ValueError, match="divide b"):
        sketch.make("sparse2", 10, 8, s=4)
    with pytest.raises(ValueError, match=r"\[1, b=4\]"):
        sketch.make("sparse1", 4, 8, s=5)
    S = sketch.make("countsketch", 4, 8, seed=0)
    with pytest.raises(ValueError, match="last dimension 8"):
        S.sk(np.ones(7))
    with pytest.raises(ValueError, match="shape"):
        S.sk(np.ones((2, 2, 8)))
    with pytest.raises(TypeError, match="real-valued"):
        S.sk(np.ones(8, dtype=complex))


def test_sparse_embedding_structure():
    S1 = sketch.make("sparse1", 8, 1000, s=3, seed=0)
    assert all(len(set(r)) == 3 for r in S1.rows.tolist())
    R = S1.matrix()
    assert np.all((np.abs(R) > 0).sum(axis=0) == 3)
    np.testing.assert_allclose(np.abs(R[R != 0]), 1 / np.sqrt(3))
    S2 = sketch.make("sparse2", 8, 1000, s=2, seed=0)
    assert np.all(S2.rows[:, 0] < 4) and np.all(S2.rows[:, 1] >= 4)


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="CuPy sketches need CUDA and a GPU; none here")
@pytest.mark.parametrize("kind", SKETCH_KINDS)
def test_cupy_matches_numpy(kind, rng):
    import cupy

    S = sketch.make(kind, 8, 300, seed=1)
    X = rng.standard_normal((3, 300))
    Y = rng.standard_normal((3, 8))
    np.testing.assert_allclose(cupy.asnumpy(S.sk(cupy.asarray(X))), S.sk(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cupy.asnumpy(S.desk(cupy.asarray(Y))), S.desk(Y), rtol=1e-10, atol=1e-12)


def test_former_registry_name_still_works_and_warns():
    with pytest.warns(DeprecationWarning, match="SKETCH_KINDS"):
        assert sketch.KINDS is sketch.SKETCH_KINDS
    with pytest.raises(AttributeError):
        sketch.NO_SUCH_NAME
