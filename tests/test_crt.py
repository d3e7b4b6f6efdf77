"""The Chinese remainder reconstruction (pyprivml.crt) against Python integers, bit for bit."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyprivml.crt import CRT
from pyprivml.field import prev_prime

#: The eight largest primes below 2**32, and a few small and mid-sized ones.
TOP = []
_q = 2**32
while len(TOP) < 8:
    _q = prev_prime(_q)
    TOP.append(_q)
SMALL = [3, 5, 7, 11, 13, 65521, 65537, 2**25 - 39, 2**31 - 1]
ALL = sorted(set(TOP + SMALL))


def _reference(residues, moduli):
    """The centred CRT value by the textbook formula, in Python integers."""
    M = math.prod(moduli)
    x = sum(int(r) * (M // m) * pow(M // m, -1, m) for r, m in zip(residues, moduli)) % M
    return x - M if x > (M - 1) // 2 else x


moduli_sets = st.lists(st.sampled_from(ALL), min_size=1, max_size=8, unique=True)


@settings(max_examples=150, deadline=None)
@given(moduli=moduli_sets, data=st.data())
def test_lift_inverts_residues_for_every_centred_integer(moduli, data):
    crt = CRT(moduli)
    M = crt.modulus
    lo, hi = -(M - 1 - crt.half), crt.half
    edge = [lo, lo + 1, -1, 0, 1, hi - 1, hi]
    xs = data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=20)) + [v for v in edge if lo <= v <= hi]
    x = np.array(xs, dtype=object)
    r = crt.residues(x)
    assert r.dtype == np.int64 and r.shape == (len(moduli), len(xs))
    for j, m in enumerate(moduli):
        assert r[j].tolist() == [v % m for v in xs]
    got = crt.lift(r)
    assert got.dtype == (object if M >= 2**64 else np.int64)
    assert [int(v) for v in got] == xs
    # lift_float: the correctly rounded double of x / 2**s, exactly as Python rounds it
    s = data.draw(st.integers(0, 80))
    assert crt.lift_float(r, scale_bits=s).tolist() == [float(v) / 2.0**s for v in xs]


@settings(max_examples=150, deadline=None)
@given(moduli=moduli_sets, data=st.data())
def test_lift_of_arbitrary_residues_is_the_textbook_formula(moduli, data):
    """Any residue tuple (not only those of small integers) lifts to the one centred representative."""
    crt = CRT(moduli)
    rows = [data.draw(st.lists(st.integers(0, m - 1), min_size=3, max_size=3)) for m in moduli]
    rows[0][0] = moduli[0] - 1                              # extremes of the residues
    for row in rows:
        row[1] = 0
    r = np.array(rows, dtype=np.int64)
    got = crt.lift(r)
    for c in range(3):
        assert int(got[c]) == _reference(r[:, c], moduli)


def test_the_boundary_values_and_one_modulus():
    for moduli in ([TOP[0]], TOP[:2], TOP[:3], TOP, [3, 5, 7], [2, 3], [4, 9, 25]):
        crt = CRT(moduli)
        M = crt.modulus
        for x in (crt.half, -crt.half, 0, -(M - 1 - crt.half)):
            assert int(crt.lift(crt.residues(np.array([x], dtype=object)))[0]) == x
        # one above half wraps to the most negative value: the range is exactly M integers wide
        assert int(crt.lift(crt.residues(np.array([crt.half + 1], dtype=object)))[0]) == crt.half + 1 - M
    one = CRT([TOP[0]])  # one modulus: the lift of PrimeField (phi^-1, eq. 24)
    a = np.array([0, 1, (TOP[0] - 1) // 2, (TOP[0] + 1) // 2, TOP[0] - 1])
    assert one.lift(a[None]).tolist() == [0, 1, (TOP[0] - 1) // 2, -((TOP[0] - 1) // 2), -1]


def test_two_32_bit_primes_stay_in_int64_and_three_go_to_python_ints():
    two, three = CRT(TOP[:2]), CRT(TOP[:3])
    assert two.modulus < 2**64 and three.modulus > 2**64
    x = np.array([two.half, -two.half, 12345], dtype=object)
    assert two.lift(two.residues(x)).dtype == np.int64
    assert two.lift(two.residues(x)).tolist() == x.tolist()
    assert three.lift(three.residues(np.array([5]))).dtype == object


def test_shapes_and_int64_input():
    crt = CRT((65521, 65537, 2**25 - 39))
    rng = np.random.default_rng(0)
    x = rng.integers(-2**62, 2**62, size=(3, 4, 5))
    r = crt.residues(x)
    assert r.shape == (3, 3, 4, 5)
    assert crt.lift(r).tolist() == [[[_reference([v % m for m in crt.moduli], crt.moduli) for v in row]
                                     for row in plane] for plane in x.tolist()]
    assert crt.lift(crt.residues(np.int64(-7))).shape == ()
    assert int(crt.lift(crt.residues(np.int64(-7)))) == -7


@pytest.mark.parametrize("moduli, error, match", [
    ([], ValueError, "at least one modulus"),
    ([7, 7], ValueError, "distinct: 7 appears more than once"),
    ([6, 9], ValueError, r"pairwise coprime: gcd\(6, 9\) = 3.*4294967291"),
    ([2**32 + 15, 7], ValueError, r"outside \[2, 2\*\*32 - 1\].*4294967291"),
    ([1, 7], ValueError, r"outside \[2, 2\*\*32 - 1\]"),
    ([7.0, 11], TypeError, "must be an integer"),
    ("711", TypeError, "sequence of integers"),
])
def test_bad_moduli_are_refused_naming_valid_values(moduli, error, match):
    with pytest.raises(error, match=match):
        CRT(moduli)


def test_bad_residues_are_refused():
    crt = CRT((7, 11))
    with pytest.raises(ValueError, match=r"shape \(k = 2, \.\.\.\)"):
        crt.lift(np.zeros((3, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=r"residues\[1\] has entries in \[0, 11\], outside \[0, 11\)"):
        crt.lift(np.array([[0, 1], [11, 0]]))
    with pytest.raises(TypeError, match="integer array"):
        crt.lift(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="takes integers"):
        crt.residues(np.array([1.5]))
