"""Quantisation (seed 004 eqs. 3, 4, 6, 7, 23): Round ties up, Round_stoc unbiased and reproducible,
every backend equal bit for bit to the NumPy reference, and clear errors for unquantisable input."""

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pyprivml as pp
from pyprivml import threads
from pyprivml.backends import numpy_backend as ref
from pyprivml.field import DEFAULT_PRIME

HYPO = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
FINITE = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)


def _q(backend, to_backend, fn, x, *args, **kw):
    to_dev, to_host = to_backend
    out = to_host(fn(to_dev(x), *args, backend=backend, **kw))
    assert out.dtype == np.int64
    return out


# -- Round (eq. 3) -----------------------------------------------------------------------------

def test_round_ties_go_up_not_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 2.4, -2.6])
    assert pp.round_half_up(x).tolist() == [1, 2, 3, 0, -1, -2, 0, 2, -3]
    assert np.round(x).tolist() != pp.round_half_up(x).tolist()  # NumPy rounds half to even


def test_quantize_eq4_by_hand():
    F = pp.PrimeField(97)
    got = pp.quantize(np.array([0.25, -0.25, 0.125, -0.375, 3.0]), 2, F)
    # 2**2 x = [1, -1, 0.5, -1.5, 12] -> Round = [1, -1, 1, -1, 12] -> phi
    assert got.tolist() == [1, 96, 1, 96, 12]


# -- every backend against the reference -------------------------------------------------------

@pytest.mark.parametrize("p", [97, DEFAULT_PRIME, 4294967291])
def test_quantize_matches_reference(backend, to_backend, p):
    @given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=7), elements=FINITE),
           l=st.integers(0, 8))
    @HYPO
    def inner(x, l):
        F = pp.PrimeField(p)
        want, max_abs = ref.quantize(x, 2.0**l, p)
        if math.floor(max_abs + 0.5) > F.half:
            with pytest.raises(ValueError, match="would wrap"):
                _q(backend, to_backend, pp.quantize, x, l, F)
            return
        got = _q(backend, to_backend, pp.quantize, x, l, F)
        assert got.shape == x.shape and np.array_equal(got, want)
        assert np.array_equal(got, F.embed(pp.round_half_up(x * 2.0**l).astype(np.int64)))

    inner()


def test_quantize_ties_and_edges(backend, to_backend):
    F = pp.PrimeField(DEFAULT_PRIME)
    x = np.array([[0.5, -0.5, 1.5, -1.5], [0.0, -0.0, 1e-300, -1e-300]])
    got = _q(backend, to_backend, pp.quantize, x, 0, F)
    assert F.lift(got).tolist() == [[1, 0, 2, -1], [0, 0, 0, 0]]
    for dtype in (np.float32, np.int16, np.uint8, np.int64, np.bool_):
        y = np.arange(-3, 5).astype(dtype)
        got = _q(backend, to_backend, pp.quantize, y, 3, F)
        assert np.array_equal(got, ref.quantize(y, 8.0, F.p)[0])
    assert _q(backend, to_backend, pp.quantize, np.zeros((0, 3)), 5, F).shape == (0, 3)
    strided = np.linspace(-2, 2, 40).reshape(5, 8)[:, ::3].T
    assert np.array_equal(_q(backend, to_backend, pp.quantize, strided, 6, F),
                          ref.quantize(strided, 64.0, F.p)[0])


@pytest.mark.parametrize("copies", [None, 1, 3])
def test_stochastic_matches_reference(backend, to_backend, copies):
    @given(w=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=9), elements=FINITE),
           l=st.integers(0, 8), seed=st.integers(0, 2**63))
    @HYPO
    def inner(w, l, seed):
        F = pp.PrimeField(DEFAULT_PRIME)
        got = _q(backend, to_backend, pp.quantize_stochastic, w, l, F, copies=copies, seed=seed)
        want = pp.quantize_stochastic(w, l, F, copies=copies, seed=seed, backend="numpy")
        assert got.shape == w.shape + (() if copies is None else (copies,))
        assert np.array_equal(got, want)
        # every draw is floor or floor + 1 (eq. 6)
        x = (w * 2.0**l)[..., None] if copies else w * 2.0**l
        assert np.all((F.lift(got) == np.floor(x)) | (F.lift(got) == np.floor(x) + 1))

    inner()


def test_stochastic_float32_and_large(backend, to_backend):
    """Float32 input, and an input large enough that the Numba kernels split it across threads."""
    F = pp.PrimeField(DEFAULT_PRIME)
    w = np.random.default_rng(3).normal(size=300_001)
    for x in (w, w.astype(np.float32)):
        for copies in (1, 2):
            got = _q(backend, to_backend, pp.quantize_stochastic, x, 10, F, copies=copies, seed=9)
            want = pp.quantize_stochastic(x, 10, F, copies=copies, seed=9, backend="numpy")
            assert np.array_equal(got, want)
        assert np.array_equal(_q(backend, to_backend, pp.quantize, x, 10, F),
                              pp.quantize(x, 10, F, backend="numpy"))


def test_numba_same_bits_for_every_thread_count():
    F = pp.PrimeField(DEFAULT_PRIME)
    w = np.random.default_rng(4).normal(size=400_000)
    before = threads.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            threads.set_num_threads(n)
            results.append((pp.quantize_stochastic(w, 12, F, copies=2, seed=5, backend="numba"),
                            pp.quantize(w, 12, F, backend="numba")))
    finally:
        threads.set_num_threads(before)
    assert np.array_equal(results[0][0], results[1][0])
    assert np.array_equal(results[0][1], results[1][1])


# -- Round_stoc (eq. 6): unbiased and reproducible ---------------------------------------------

@pytest.mark.parametrize("frac", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_stochastic_rounding_is_unbiased(backend, to_backend, frac):
    """The mean of r draws of Round_stoc(x) is x: binomial with variance f(1 - f) / r per value.
    Five standard errors (plus one count of slack) make a false failure rarer than 1e-6."""
    F = pp.PrimeField(DEFAULT_PRIME)
    r = 20000
    x = np.array([-3.0 + frac, 7.0 + frac])
    draws = F.lift(_q(backend, to_backend, pp.quantize_stochastic, x, 0, F, copies=r, seed=11))
    mean = draws.mean(axis=1)
    tol = 5 * math.sqrt(frac * (1 - frac) / r) + 1 / r
    assert np.all(np.abs(mean - x) <= tol), (mean, x, tol)
    if frac == 0.0:
        assert np.all(draws == x[:, None])  # integers never move


def test_round_stochastic_real_valued_helper():
    x = np.array([0.25, -1.75, 2.0])
    draws = pp.round_stochastic(x, seed=1, copies=40000)
    assert draws.shape == (3, 40000)
    assert np.allclose(draws.mean(axis=1), x, atol=0.02)
    assert pp.round_stochastic(x, seed=1).shape == (3,)


def test_seed_reproducible_and_streams_differ():
    F = pp.PrimeField(DEFAULT_PRIME)
    w = np.linspace(-1, 1, 1000)
    a = pp.quantize_stochastic(w, 3, F, copies=2, seed=123)
    assert np.array_equal(a, pp.quantize_stochastic(w, 3, F, copies=2, seed=123))
    assert not np.array_equal(a, pp.quantize_stochastic(w, 3, F, copies=2, seed=124))
    assert not np.array_equal(a[:, 0], a[:, 1])  # the r copies are independent draws
    # seed=None takes a fresh key from the OS: two calls differ (1000 fair-ish coins)
    assert not np.array_equal(pp.quantize_stochastic(w, 3, F), pp.quantize_stochastic(w, 3, F))


def test_uniforms_are_the_documented_splitmix64_stream():
    """u_j = top53(mix64(key + (j + 1) gamma)) 2**-53, checked against Python integers."""
    key, M = 0x1234567890ABCDEF, 2**64 - 1

    def mix(z):
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & M
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB & M
        return z ^ (z >> 31)

    want = [(mix((key + (j + 1) * 0x9E3779B97F4A7C15) & M) >> 11) * 2.0**-53 for j in range(5, 9)]
    assert ref.uniforms(key, 4, start=5).tolist() == want


# -- dequantize (eq. 23) -----------------------------------------------------------------------

@given(x=hnp.arrays(np.float64, st.integers(0, 30), elements=FINITE), l=st.integers(0, 12))
@settings(max_examples=50, deadline=None)
def test_dequantize_round_trip(x, l):
    F = pp.PrimeField(DEFAULT_PRIME)
    back = pp.dequantize(pp.quantize(x, l, F), l, F)
    assert np.all(np.abs(back - x) <= 2.0 ** -(l + 1))
    dyadic = np.floor(x * 2.0**l) / 2.0**l  # exactly representable at scale 2**l
    assert np.array_equal(pp.dequantize(pp.quantize(dyadic, l, F), l, F), dyadic)
    stoc = pp.dequantize(pp.quantize_stochastic(x, l, F, seed=0), l, F)
    assert np.all(np.abs(stoc - x) < 2.0**-l)


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the reference's inf - inf
@pytest.mark.parametrize("fn", [pp.quantize, pp.quantize_stochastic])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input(backend, to_backend, fn, bad):
    x = np.array([1.0, bad, 2.0])
    with pytest.raises(ValueError, match="NaN or infinity"):
        _q(backend, to_backend, fn, x, 4, DEFAULT_PRIME)


def test_wrap_around_names_the_largest_safe_l(backend, to_backend):
    F = pp.PrimeField(DEFAULT_PRIME)  # (p - 1) / 2 = 16777196 < 2**24
    x = np.array([0.1, -3.0, 2.5])
    with pytest.raises(ValueError, match="would wrap around.*use l <= 22") as info:
        _q(backend, to_backend, pp.quantize, x, 30, F)
    assert "2**30" in str(info.value)
    _q(backend, to_backend, pp.quantize, x, 22, F)  # the advertised l works ...
    with pytest.raises(ValueError, match="use l <= 22"):
        _q(backend, to_backend, pp.quantize, x, 23, F)  # ... and the next one does not
    with pytest.raises(ValueError, match="use l <= 22"):
        _q(backend, to_backend, pp.quantize_stochastic, x, 23, F, seed=0)
    with pytest.raises(ValueError, match="no l >= 0 fits; use a larger prime"):
        _q(backend, to_backend, pp.quantize, np.array([1e12]), 0, F)


@pytest.mark.parametrize("l", [-1, 63, 2.0, True, "3"])
def test_bad_scale(l):
    with pytest.raises(ValueError, match="integer in \\[0, 62\\]"):
        pp.quantize(np.ones(2), l, 97)


@pytest.mark.parametrize("copies", [0, -2, 1.5])
def test_bad_copies(copies):
    with pytest.raises(ValueError, match="positive integer"):
        pp.quantize_stochastic(np.ones(2), 1, 97, copies=copies)


def test_bad_inputs():
    with pytest.raises(TypeError, match="real-valued"):
        pp.quantize(np.array(["a"]), 1, 97)
    with pytest.raises(TypeError, match="real-valued"):
        pp.quantize_stochastic(np.array([1 + 2j]), 1, 97)
    with pytest.raises(TypeError, match="seed must be an int"):
        pp.quantize_stochastic(np.ones(2), 1, 97, seed=1.5)
    with pytest.raises(ValueError, match="not prime"):
        pp.quantize(np.ones(2), 1, 91)


@pytest.mark.parametrize("stochastic", [False, True])
def test_the_suggested_l_and_prime_really_fit(stochastic):
    F = pp.PrimeField(97)
    quant = (lambda x, l, f: pp.quantize_stochastic(x, l, f, seed=0)) if stochastic else pp.quantize
    x = np.array([5.9, -5.9])
    with pytest.raises(ValueError, match=r"use l <= (\d+)") as err:
        quant(x, 6, F)
    safe = int(re.search(r"use l <= (\d+)", str(err.value)).group(1))
    quant(x, safe, F)                       # the suggestion works...
    with pytest.raises(ValueError):
        quant(x, safe + 1, F)               # ...and is the largest that does
    with pytest.raises(ValueError, match=r"p >= (\d+)") as err:
        quant(np.array([100.0]), 0, F)
    quant(np.array([100.0]), 0, pp.PrimeField(int(re.search(r"p >= (\d+)", str(err.value)).group(1))))
