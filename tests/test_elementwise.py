"""Entry-wise add, sub, mul modulo p: every backend bit for bit against the NumPy reference, the
reference against Python integers, on random (hypothesis) and edge inputs (0, p - 1, p = 2, the
largest prime below 2**32, empty arrays, broadcasting, strided views, every integer dtype), the
multi-threaded splits of the compiled backends, and clear errors from the public functions."""

import operator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from pyprivml import _poly
from pyprivml.backends import get_backend
from pyprivml.backends import numpy_backend as ref
from pyprivml.field import DEFAULT_PRIME, prev_prime
from pyprivml.linalg import modadd, modmul, modsub

OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}
PUBLIC = {"add": modadd, "sub": modsub, "mul": modmul}
#: 2**32 - 5, the largest prime below 2**32: (p - 1)**2 is just below 2**64.
P_MAX = 4294967291
assert P_MAX == prev_prime(2**32)
#: The backends take 2 <= p < 2**32; the public functions take the field's odd primes only.
PRIMES = [2, 3, 97, 65521, DEFAULT_PRIME, 2**31 - 1, P_MAX]
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
HYPO = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def exact(op, a, b, p):
    """Python-integer reference: object arrays broadcast and never overflow; % is non-negative."""
    out = OPS[op](np.asarray(a).astype(object), np.asarray(b).astype(object)) % p
    return np.asarray(out, dtype=object).astype(np.int64)


def elements(rng, p, shape, dtype=np.int64):
    """Uniform entries in [0, p) with about a fifth set to p - 1 and a tenth to 0."""
    a = rng.integers(0, p, size=shape, dtype=np.int64)
    u = rng.random(shape)
    a = np.where(u < 0.2, p - 1, np.where(u < 0.3, 0, a))
    return np.asarray(a).astype(dtype)


def largest_prime_for(*dtypes):
    """The largest prime p < 2**32 whose elements every dtype holds."""
    return prev_prime(min(min(int(np.iinfo(d).max) + 1 for d in dtypes), 2**32))


def on_backend(backend, to_backend, op, a, b, p):
    """The primitive and the public function on the backend, checked to agree, as NumPy."""
    to_dev, to_host = to_backend
    be = get_backend(backend)
    got = getattr(be, op)(to_dev(a), to_dev(b), p)
    assert got.dtype == np.int64
    got = to_host(got)
    if p > 2:
        assert np.array_equal(to_host(PUBLIC[op](to_dev(a), to_dev(b), p, backend=backend)), got)
    return got


# -- the reference against Python integers ---------------------------------------------------

@pytest.mark.parametrize("op", sorted(OPS))
@given(p=st.sampled_from(PRIMES), shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4),
       dtypes=st.tuples(st.sampled_from(INT_DTYPES), st.sampled_from(INT_DTYPES)), seed=st.integers(0, 2**32))
@settings(max_examples=40, deadline=None)
def test_reference_matches_python_integers(op, p, shapes, dtypes, seed):
    rng = np.random.default_rng(seed)
    p = min(p, largest_prime_for(*dtypes))
    a, b = (elements(rng, p, s, d) for s, d in zip(shapes.input_shapes, dtypes))
    got = getattr(ref, op)(a, b, p)
    assert isinstance(got, np.ndarray) and got.dtype == np.int64 and got.shape == shapes.result_shape
    assert np.array_equal(got, exact(op, a, b, p))


@pytest.mark.parametrize("p", [2, 3, 5])
def test_reference_on_every_pair_of_a_small_field(p):
    a, b = np.meshgrid(np.arange(p), np.arange(p))
    for op in OPS:
        assert np.array_equal(getattr(ref, op)(a, b, p), exact(op, a, b, p))


def test_poly_mulmod_is_the_reference_mul(rng):
    a, b = elements(rng, P_MAX, (5, 7)), elements(rng, P_MAX, (7,))
    assert np.array_equal(_poly.mulmod(a, b, P_MAX), ref.mul(a, b, P_MAX))
    assert np.array_equal(_poly.mulmod(a, b, P_MAX), exact("mul", a, b, P_MAX))


# -- every backend against the reference -----------------------------------------------------

SHAPES = [
    ((), ()),              # two scalars: a 0-d result
    ((9,), ()),            # an array and a constant, both ways round
    ((), (9,)),
    ((3, 5), (5,)),        # a row against every row
    ((3, 1), (1, 4)),      # an outer broadcast
    ((2, 3, 4), (3, 1)),
    ((1,), (6,)),          # one element as a 1-D array
    ((0,), ()),            # empty arrays
    ((2, 0), (0,)),
    ((0, 3), (1, 3)),
    ((257,), (257,)),
]


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("p", PRIMES)
def test_backends_match_the_reference(backend, to_backend, op, p, rng):
    for sa, sb in SHAPES:
        a, b = elements(rng, p, sa), elements(rng, p, sb)
        want = getattr(ref, op)(a, b, p)
        got = on_backend(backend, to_backend, op, a, b, p)
        assert got.shape == want.shape == np.broadcast_shapes(sa, sb), (sa, sb)
        assert np.array_equal(got, want), (op, p, sa, sb)


@pytest.mark.parametrize("p", [2**31 - 1, P_MAX])
def test_extremes_against_python_integers(backend, to_backend, p):
    """Every pair of the values where sums and products are largest or wrap: exact on every backend."""
    values = np.array(sorted({v % p for v in (0, 1, 2, 2**16, 2**31 - 1, 2**31, p - 2, p - 1)}), dtype=np.int64)
    a, b = values[:, None], values[None, :]
    for op in OPS:
        assert np.array_equal(on_backend(backend, to_backend, op, a, b, p), exact(op, a, b, p)), op


@pytest.mark.parametrize("op", sorted(OPS))
def test_integer_dtypes_and_strided_views(backend, to_backend, op, rng):
    for da, db in zip(INT_DTYPES, INT_DTYPES[::-1]):
        p = largest_prime_for(da, db)
        A = elements(rng, p, (9, 12), da)
        B = elements(rng, p, (12, 9), db)
        cases = [(A, B.T),                       # C order against Fortran order
                 (A[::2, ::3], B[1::3, ::-2].T),  # steps and a negative stride
                 (A[:, 5], B[5:6, ::-1]),         # a column view against a reversed row
                 (A[1, 2], B[::4, 0])]           # a 0-d view
        for a, b in cases:
            got = on_backend(backend, to_backend, op, a, b, p)
            assert np.array_equal(got, getattr(ref, op)(a, b, p)), (da, db, a.shape, b.shape)
            assert np.array_equal(got, exact(op, a, b, p))


@pytest.mark.parametrize("op", sorted(OPS))
@given(p=st.sampled_from(PRIMES), shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=5),
       seed=st.integers(0, 2**32))
@HYPO
def test_backends_match_the_reference_on_random_shapes(backend, to_backend, op, p, shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = (elements(rng, p, s) for s in shapes.input_shapes)
    got = on_backend(backend, to_backend, op, a, b, p)
    assert got.shape == shapes.result_shape
    assert np.array_equal(got, getattr(ref, op)(a, b, p))


def test_results_are_int64_arrays_even_for_scalars(backend, to_backend):
    to_dev, _ = to_backend
    be = get_backend(backend)
    for op in OPS:
        out = getattr(be, op)(to_dev(np.asarray(5)), to_dev(np.asarray(9, dtype=np.uint8)), 11)
        assert out.shape == () and out.dtype == np.int64
        if backend != "cupy":
            assert isinstance(out, np.ndarray), type(out)
        assert int(out) == OPS[op](5, 9) % 11


# -- the compiled backends' thread splits ------------------------------------------------------

@pytest.mark.parametrize("name", ["numba", "cython"])
def test_split_across_threads_changes_no_bit(name, monkeypatch, rng):
    """Force small inputs through the multi-part paths (3 uneven parts, more parts than entries
    for the shortest) in every broadcast mode, and compare with the reference."""
    be = get_backend(name)
    if name == "numba":
        monkeypatch.setattr(be, "_PARALLEL_MIN", 1)
        monkeypatch.setattr(be, "_parts", lambda size: 3)
    else:
        monkeypatch.setattr(be, "_num_threads", lambda: 3)
        monkeypatch.setattr(be, "_PARALLEL_VALUES", 1)
    p = P_MAX
    for n in (2, 1000, 4099):
        a, b, c = elements(rng, p, n), elements(rng, p, n), elements(rng, p, ())
        for op in OPS:
            for x, y in ((a, b), (a, c), (c, b), (a.reshape(-1, 1)[: n // 2], b[:3])):
                assert np.array_equal(getattr(be, op)(x, y, p), getattr(ref, op)(x, y, p)), (op, n)


# -- the public functions: validation ----------------------------------------------------------

@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("bad", [97, 1000, -1, 2**32])
def test_entries_outside_the_field(op, bad):
    good = np.array([1, 2, 3])
    worse = np.array([1, bad, 3])
    with pytest.raises(ValueError, match=rf"mod{op}: b has entries in \[.*\], outside the field \[0, 97\)"):
        PUBLIC[op](good, worse, 97)
    with pytest.raises(ValueError, match=rf"mod{op}: a has entries .* outside the field \[0, 97\)"):
        PUBLIC[op](worse, 5, 97)
    with pytest.raises(ValueError, match=rf"mod{op}: b .*outside the field"):
        PUBLIC[op](good, bad, 97)  # a plain int too


@pytest.mark.parametrize("op", sorted(OPS))
def test_shapes_that_do_not_broadcast(op):
    with pytest.raises(ValueError, match=rf"mod{op}: a has shape \(2, 3\) and b has shape \(4,\).*must broadcast"):
        PUBLIC[op](np.zeros((2, 3), np.int64), np.zeros(4, np.int64), 97)
    with pytest.raises(ValueError, match=r"\(3, 2\) and b has shape \(2, 3\).*must broadcast"):
        PUBLIC[op](np.zeros((3, 2), np.int64), np.zeros((2, 3), np.int64), 97, check=False)


@pytest.mark.parametrize("op", sorted(OPS))
def test_moduli_outside_the_field(op):
    a = np.array([1, 2])
    with pytest.raises(ValueError, match="91 is not prime.*89 below and 97 above"):
        PUBLIC[op](a, a, 91)
    with pytest.raises(ValueError, match="outside 2 < p < 2\\*\\*32"):
        PUBLIC[op](a % 2, a % 2, 2)  # the backends take p = 2; the field does not
    with pytest.raises(ValueError, match="outside 2 < p < 2\\*\\*32"):
        PUBLIC[op](a, a, 2**32 + 15)


def test_float_arrays_are_refused():
    with pytest.raises(TypeError, match="modmul: a has dtype float64.*integer arrays"):
        modmul(np.ones(3), np.ones(3, np.int64), 97)
    with pytest.raises(TypeError, match="modadd: b has dtype float64"):
        modadd(np.ones(3, np.int64), 1.0, 97)


def test_public_functions_on_a_field_and_plain_values():
    from pyprivml import PrimeField

    F = PrimeField()
    assert modsub(0, 1, F).tolist() == F.p - 1
    assert modmul(np.array([F.p - 1]), F.p - 1, F).tolist() == [1]
    assert modadd(np.array([[F.p - 1], [3]]), np.array([1, 2]), F).tolist() == [[0, 1], [4, 5]]
    assert modadd([1, 2], [3, 4], 5).tolist() == [4, 1]  # lists are arrays too
    # check=False skips the range check only: valid input gives the same result.
    a = np.arange(10) % 7
    assert np.array_equal(modmul(a, a[::-1], 7, check=False), modmul(a, a[::-1], 7))
