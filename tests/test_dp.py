"""Clipped noisy gradients (Algorithm 2), sparse vector (Algorithm 3) and accounting (seed 001)."""

import math

import dp_accounting
import numpy as np
import pytest

from pyprivml import dp


def _grads(rng, batch=40, params=30):
    G = rng.standard_normal((batch, params))
    G[::3] *= 0.01  # some rows well inside the ball
    return G


# ---- clipping --------------------------------------------------------------------------------
def test_clipping_bounds_and_untouched_rows(rng):
    G = _grads(rng)
    C = 1.5
    out = dp.clip_rows(G, C)
    norms_in = np.linalg.norm(G, axis=1)
    norms_out = np.linalg.norm(out, axis=1)
    assert np.all(norms_out <= C * (1 + 1e-12))
    short = norms_in <= C
    assert short.any() and (~short).any()
    np.testing.assert_array_equal(out[short], G[short])
    np.testing.assert_allclose(norms_out[~short], C, rtol=1e-12)
    # direction kept
    np.testing.assert_allclose(out[~short] / norms_out[~short, None], G[~short] / norms_in[~short, None], rtol=1e-12)


def test_fused_clipped_sum_matches_reference(rng):
    G = _grads(rng, 33, 5000)
    np.testing.assert_allclose(dp.clipped_sum(G, 2.0), dp.clip_rows(G, 2.0).sum(axis=0), rtol=1e-12, atol=1e-12)
    G32 = G.astype(np.float32)
    assert dp.clipped_sum(G32, 2.0).dtype == np.float32


def test_numpy_and_torch_agree_with_noise_off_and_same_seed(rng):
    torch = pytest.importorskip("torch")
    G = _grads(rng)
    Gt = torch.tensor(G)
    np.testing.assert_allclose(dp.clipped_sum(Gt, 1.0).numpy(), dp.clipped_sum(G, 1.0), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dp.clip_rows(Gt, 1.0).numpy(), dp.clip_rows(G, 1.0), rtol=1e-13, atol=0)
    m_np = dp.ClippedGaussian(1.0, 0.5, 1e-5, seed=3)
    m_t = dp.ClippedGaussian(1.0, 0.5, 1e-5, seed=3)
    np.testing.assert_allclose(m_t(Gt, noise=False).numpy(), m_np(G, noise=False), rtol=1e-12, atol=1e-13)
    # the same seed gives the same noise on both paths (drawn once, moved to the tensor)
    np.testing.assert_allclose(m_t(Gt).numpy(), m_np(G), rtol=1e-12, atol=1e-12)


# ---- Algorithm 2 -----------------------------------------------------------------------------
def test_sigma_formula_of_algorithm_2():
    eps, delta, C = 0.5, 1e-3, 0.01  # the seed's bootstrapping setting
    assert dp.gaussian_sigma(eps, delta, C) == pytest.approx(C * math.sqrt(2 * math.log(1.25 / delta)) / eps)


@pytest.mark.parametrize("eps", [0.2, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("delta", [1e-3, 1e-5, 1e-8])
def test_classical_sigma_suffices_per_dp_accounting(eps, delta):
    # the exact (analytic) calibration needs no more noise than the seed's formula, up to eps = 1
    assert dp.gaussian_sigma(eps, delta) >= dp.gaussian_sigma(eps, delta, calibration="analytic")
    assert dp.gaussian_sigma(eps, delta, calibration="analytic") == pytest.approx(
        dp_accounting.get_sigma_gaussian(eps, delta))


@pytest.mark.parametrize("secure", [False, True])
def test_noise_scale_matches_sigma(secure, rng):
    G = np.zeros((4, 200_000))
    mech = dp.ClippedGaussian(clip=0.7, epsilon=0.5, delta=1e-5, secure=secure, seed=None if secure else 1)
    noise = mech.noisy_sum(G)  # the clipped sum is 0, so this is the noise alone
    assert noise.mean() == pytest.approx(0.0, abs=5 * mech.sigma / math.sqrt(noise.size))
    # std of the sample std ~ sigma / sqrt(2n) = 0.16% of sigma here
    assert noise.std() == pytest.approx(mech.sigma, rel=0.01)
    assert mech.sigma == pytest.approx(mech.noise_multiplier * 0.7)
    mean = mech(G)  # Algorithm 2 divides the noisy sum by B = 4
    assert mean.shape == (200_000,) and mean.std() == pytest.approx(mech.sigma / 4, rel=0.01)


def test_algorithm_2_mean_is_clipped_mean_plus_scaled_noise(rng):
    G = _grads(rng)
    a = dp.ClippedGaussian(1.0, 0.5, 1e-5, seed=9)
    b = dp.ClippedGaussian(1.0, 0.5, 1e-5, seed=9)
    z = dp.NoiseSource(seed=9).normal(a.sigma, G.shape[1])
    np.testing.assert_allclose(a(G), (dp.clip_rows(G, 1.0).sum(axis=0) + z) / G.shape[0], rtol=1e-12)
    assert not np.allclose(b(G), b(G))  # fresh noise every call


def test_secure_noise_comes_from_secure_random():
    from pyprivml.random import SecureRandom

    src = dp.NoiseSource(secure=True)
    assert isinstance(src._gen, SecureRandom) and not src._gen.seeded
    seeded = dp.NoiseSource(secure=True, seed=5).normal(1.0, 8)
    np.testing.assert_array_equal(seeded, SecureRandom(seed=5).normal(0.0, 1.0, size=8))


def test_clear_errors(rng):
    G = _grads(rng)
    with pytest.raises(ValueError, match="clipping threshold C must be finite and > 0"):
        dp.clip_rows(G, 0.0)
    with pytest.raises(ValueError, match="clipping threshold"):
        dp.ClippedGaussian(-1.0, 0.5, 1e-5)
    with pytest.raises(ValueError, match="epsilon must be finite and > 0"):
        dp.ClippedGaussian(1.0, 0.0, 1e-5)
    with pytest.raises(ValueError, match=r"delta must lie in the open interval \(0, 1\)"):
        dp.ClippedGaussian(1.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="calibration='analytic'"):
        dp.gaussian_sigma(2.0, 1e-5)
    assert dp.gaussian_sigma(2.0, 1e-5, calibration="analytic") > 0
    bad = G.copy()
    bad[7, 3] = np.nan
    for f in (dp.clipped_sum, dp.clip_rows):
        with pytest.raises(ValueError, match="row 7 contains NaN"):
            f(bad, 1.0)
    with pytest.raises(ValueError, match=r"shape \(batch, params\)"):
        dp.clipped_sum(G[0], 1.0)
    with pytest.raises(TypeError, match="real-valued"):
        dp.clipped_sum(G.astype(complex), 1.0)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="row 7"):
        dp.clipped_sum(torch.tensor(bad), 1.0)


# ---- Algorithm 3 -----------------------------------------------------------------------------
def _oracle(values, order, threshold, clip, limit):
    """Noiseless Algorithm 3: the first `limit` coordinates (in visiting order) with clip(v) >= threshold."""
    picked = []
    for i in order:
        if values[i] / max(1.0, abs(values[i]) / clip) >= threshold:
            picked.append(i)
            if len(picked) == limit:
                break
    return picked


def test_sparse_vector_matches_noiseless_oracle_as_noise_vanishes(rng):
    values = rng.uniform(-1, 1, 500)
    for limit in (1, 7, 10_000):
        svt = dp.SparseVector(1e12, 1e-3, count_limit=limit, threshold=0.3, clip=0.8, seed=4)
        order = rng.permutation(values.size)
        g, idx = svt.select(values, order=order)
        assert idx.tolist() == _oracle(values, order, 0.3, 0.8, limit)
        np.testing.assert_allclose(g[idx], svt.clip_value(values[idx]), atol=1e-6)
        assert np.count_nonzero(g) == len(idx) and svt.count == len(idx)


def test_sparse_vector_stops_at_count_limit(rng):
    values = np.full(1000, 5.0)  # everything far above the threshold
    svt = dp.SparseVector(1.0, 1e-3, count_limit=5, threshold=0.0, clip=100.0, sensitivity=1e-3, seed=0)
    g, idx = svt.select(values)
    assert len(idx) == 5 and svt.exhausted
    svt.reset()
    answers = [svt.query(5.0) for _ in range(5)]
    assert all(a is not None for a in answers)
    with pytest.raises(RuntimeError, match="count_limit"):
        svt.query(5.0)


def test_sparse_vector_refreshes_threshold_only_after_positive_answers():
    svt = dp.SparseVector(1.0, 1e-3, count_limit=50, threshold=0.0, clip=100.0, sensitivity=1e-3, seed=1)
    first = svt.noisy_threshold
    assert first != 0.0  # gamma_5 = gamma_3 + Lap(...)
    assert svt.query(-50.0) is None and svt.noisy_threshold == first  # negative: no refresh
    seen = {first}
    for _ in range(10):
        assert svt.query(50.0) is not None
        assert svt.noisy_threshold not in seen  # positive: fresh Laplace draw
        seen.add(svt.noisy_threshold)
    assert svt.count == 10
    # threshold noise has the stated scale: std of Lap(b) is sqrt(2) b
    draws = []
    for _ in range(4000):
        svt.reset()
        draws.append(svt.noisy_threshold)
    assert np.std(draws) == pytest.approx(math.sqrt(2) * svt.threshold_scale, rel=0.1)


def test_sparse_vector_parameters_follow_algorithm_3():
    eps, delta, c = 1.0, 1e-3, 10_000  # the seed's tuning setting
    svt = dp.SparseVector(eps, delta, count_limit=c, threshold=0.005, clip=0.01)
    s512 = math.sqrt(512)
    assert svt.eps1 == pytest.approx(s512 / (s512 + 1) * eps)
    assert svt.eps2 == pytest.approx(2 / (s512 + 1) * eps)
    assert svt.eps1 + svt.eps2 / 2 == pytest.approx(eps)  # the budget split of the proof
    sigma = lambda e: math.sqrt(32 * c * math.log(2 / delta)) / e  # noqa: E731
    assert svt.threshold_scale == pytest.approx(sigma(svt.eps1))
    assert svt.query_scale == pytest.approx(2 * sigma(svt.eps1))
    assert svt.release_scale == pytest.approx(sigma(svt.eps2))


def test_sparse_vector_absolute_selects_negative_gradients():
    values = np.array([-0.9, 0.1, 0.05, -0.02])
    svt = dp.SparseVector(1e12, 1e-3, count_limit=3, threshold=0.5, clip=1.0, absolute=True, seed=0)
    _, idx = svt.select(values)
    assert idx.tolist() == [0]
    svt = dp.SparseVector(1e12, 1e-3, count_limit=3, threshold=0.5, clip=1.0, seed=0)
    assert svt.select(values)[1].size == 0


def test_sparse_vector_torch_and_errors():
    torch = pytest.importorskip("torch")
    svt = dp.SparseVector(1e12, 1e-3, count_limit=2, threshold=0.5, clip=1.0, seed=0)
    g, idx = svt.select(torch.tensor([0.1, 0.9, 0.2, 0.8]))
    assert isinstance(g, torch.Tensor) and sorted(idx.tolist()) == [1, 3]
    with pytest.raises(ValueError, match="count_limit"):
        dp.SparseVector(1.0, 1e-3, count_limit=0, threshold=0.0, clip=1.0)
    with pytest.raises(ValueError, match="NaN"):
        svt.select(np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        svt.select(np.ones((2, 2)))


# ---- accounting ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["rdp", "pld"])
def test_epsilon_monotone_in_steps(method):
    eps = [dp.gaussian_epsilon(1.2, steps, 1e-5, sampling_rate=0.05, method=method) for steps in (1, 10, 100)]
    assert eps[0] < eps[1] < eps[2]


def test_rdp_matches_dp_accounting_directly():
    acc = dp.PrivacyAccountant("rdp")
    acc.add_gaussian(1.1, steps=500, sampling_rate=0.01)
    acc.add_laplace(3.0, count=4)
    ref = dp_accounting.rdp.RdpAccountant()
    ref.compose(dp_accounting.PoissonSampledDpEvent(0.01, dp_accounting.GaussianDpEvent(1.1)), 500)
    ref.compose(dp_accounting.LaplaceDpEvent(3.0), 4)
    assert acc.epsilon(1e-5) == ref.get_epsilon(1e-5)
    assert acc.delta(1.0) == ref.get_delta(1.0)


def test_pld_matches_dp_accounting_directly():
    acc = dp.PrivacyAccountant("pld", value_discretization_interval=1e-3)
    acc.add_gaussian(1.1, steps=50, sampling_rate=0.05)
    ref = dp_accounting.pld.PLDAccountant(value_discretization_interval=1e-3)
    ref.compose(dp_accounting.PoissonSampledDpEvent(0.05, dp_accounting.GaussianDpEvent(1.1)), 50)
    assert acc.epsilon(1e-5) == pytest.approx(ref.get_epsilon(1e-5), rel=1e-9)


def test_algorithm_2_mechanism_accounts_as_its_own_epsilon():
    # One step of Algorithm 2 at (eps, delta) must account to at most eps at that delta.
    mech = dp.ClippedGaussian(1.0, 0.5, 1e-5)
    acc = dp.PrivacyAccountant("pld")
    acc.add_gaussian(mech.noise_multiplier)
    assert acc.epsilon(1e-5) <= 0.5
    assert mech.dp_event(0.01) == dp_accounting.PoissonSampledDpEvent(0.01, dp_accounting.GaussianDpEvent(mech.noise_multiplier))


def test_sparse_vector_accounting():
    svt = dp.SparseVector(0.5, 1e-6, count_limit=10, threshold=0.0, clip=1.0)
    acc = dp.PrivacyAccountant("pld")
    acc.add_sparse_vector(svt, runs=1)
    assert acc.epsilon(1e-6) == pytest.approx(0.5, abs=2e-3)
    acc.add_sparse_vector(svt, runs=9)
    assert 0.5 < acc.epsilon(1e-4) < 10 * 0.5  # better than basic composition
    with pytest.raises(ValueError, match="method='pld'"):
        dp.PrivacyAccountant("rdp").add_sparse_vector(svt)


def test_privacy_md_examples():
    """The examples of docs/privacy.md run and print what the page shows."""
    import doctest
    import pathlib
    import re

    pytest.importorskip("torch")
    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "privacy.md").read_text()
    source = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    test = doctest.DocTestParser().get_doctest(source, {}, "privacy.md", "docs/privacy.md", 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 20 and result.failed == 0


def test_noise_is_secure_unless_a_seed_or_an_opt_out_asks_otherwise():
    from pyprivml.dp import NoiseSource
    from pyprivml.random import SecureRandom

    assert NoiseSource().secure and isinstance(NoiseSource()._gen, SecureRandom)
    assert not NoiseSource(seed=3).secure
    assert NoiseSource(secure=True, seed=3).secure
    assert not NoiseSource(secure=False).secure
    assert dp.ClippedGaussian(clip=1.0, epsilon=0.5, delta=1e-5).noise_source.secure
