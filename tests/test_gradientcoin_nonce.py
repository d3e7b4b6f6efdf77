"""The compiled nonce search of GradientCoin (kernels/pow_nonce.c through pyprivml._native and
``pow.mine(route=...)``) against the hashlib reference, route by route.

Every route ("portable" C, "sha-ni" x86 SHA extensions, and "auto") must return exactly the nonce
the pure-Python loop (``route="python"``) returns: on random headers and easy targets
(hypothesis), at exact-boundary targets (the hash equal to the target passes, one below fails),
at the top of the nonce range (2**32 - 1 is tried, nothing wraps to 0), for max_tries = 0, 1 and
across the kernel's call chunks, and when nothing is found. A route this CPU lacks is skipped
with the reason.
"""

from __future__ import annotations

import hashlib
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyprivml.protocols.gradientcoin import pow as proof
from pyprivml.protocols.gradientcoin.pow import BlockHeader, mine, mine_routes, resolve_mine_route, sha256d

try:
    from pyprivml import _native
except ImportError:
    _native = None

KERNEL_ROUTES = ("portable", "sha-ni")
ALL_ROUTES = ("auto", "python") + KERNEL_ROUTES
REGTEST_BITS = 0x207fffff   # about one nonce in 2 succeeds
EASY_BITS = 0x2000ffff      # about one in 256
HARDER_BITS = 0x200fffff    # about one in 4096
HARD_BITS = 0x1d00ffff      # Bitcoin's limit: none in a few thousand
MAX_TARGET = b"\xff" * 32   # every hash meets it


def _reason_missing(route: str) -> str | None:
    """Why ``route`` cannot run here, or None."""
    if route in ("auto", "python"):
        return None
    if _native is None or not hasattr(_native, "pow_search"):
        return "pyprivml._native is not built (`make build`), so the compiled routes cannot run"
    if route not in _native.pow_routes():
        return (f"this CPU has no {route!r} route (CPUID: no x86 SHA extensions, or not x86-64); "
                f"routes here: {', '.join(_native.pow_routes())}")
    return None


@pytest.fixture(params=ALL_ROUTES)
def route(request):
    reason = _reason_missing(request.param)
    if reason:
        pytest.skip(reason)
    return request.param


@pytest.fixture(params=KERNEL_ROUTES)
def kernel_route(request):
    reason = _reason_missing(request.param)
    if reason:
        pytest.skip(reason)
    return request.param


def reference_hash(prefix: bytes, nonce: int) -> bytes:
    return hashlib.sha256(hashlib.sha256(prefix + nonce.to_bytes(4, "little")).digest()).digest()


def reference_first(prefix: bytes, target: int, start: int, count: int) -> int | None:
    """The first nonce of start .. start + count - 1 (never past 2**32 - 1) that meets target."""
    for nonce in range(start, min(start + count, 2**32)):
        if int.from_bytes(reference_hash(prefix, nonce), "little") <= target:
            return nonce
    return None


def make_header(seed: int, bits: int = EASY_BITS, **changes) -> BlockHeader:
    digest = hashlib.sha512(seed.to_bytes(8, "little", signed=True)).digest()
    fields = dict(version=2, prev_hash=digest[:32], merkle_root=digest[32:],
                  payload_hash=hashlib.sha256(digest).digest(), time=1_700_000_000 + seed % 1000,
                  bits=bits, nonce=0)
    fields.update(changes)
    return BlockHeader(**fields)


headers = st.builds(
    BlockHeader,
    version=st.integers(-(2**31), 2**31 - 1),
    prev_hash=st.binary(min_size=32, max_size=32),
    merkle_root=st.binary(min_size=32, max_size=32),
    payload_hash=st.binary(min_size=32, max_size=32),
    time=st.integers(0, 2**32 - 1),
    bits=st.sampled_from([REGTEST_BITS, EASY_BITS, HARDER_BITS]),
    nonce=st.integers(0, 2**32 - 1),
)
starts = st.one_of(st.integers(0, 2**32 - 1), st.integers(2**32 - 600, 2**32 - 1), st.just(0))


# -- the routes this machine has -------------------------------------------------------------------

def test_routes_report_what_this_cpu_has():
    assert mine_routes()[0] == "python"
    assert resolve_mine_route("python") == "python"
    if _reason_missing("portable"):
        assert resolve_mine_route("auto") == "python"
        return
    routes = _native.pow_routes()
    assert "portable" in routes and set(routes) <= set(KERNEL_ROUTES)
    assert mine_routes() == ("python",) + routes
    assert resolve_mine_route("auto") == _native.pow_resolve_route("auto") == (
        "sha-ni" if "sha-ni" in routes else "portable")
    if sys.platform.startswith("linux") and os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            flags = f.read().split()
        if "flags" in flags and os.uname().machine == "x86_64":  # the kernel's own CPUID reading
            assert ("sha-ni" in routes) == ("sha_ni" in flags)


def test_unknown_and_unavailable_routes_are_refused():
    with pytest.raises(ValueError, match="route must be one of"):
        mine(make_header(1), route="gpu")
    with pytest.raises(ValueError, match="route must be one of"):
        resolve_mine_route("SHA-NI")
    for name in KERNEL_ROUTES:
        if _reason_missing(name):
            with pytest.raises(ValueError, match="not available|not built"):
                mine(make_header(1), route=name)


def test_auto_falls_back_to_python_without_the_extension(monkeypatch):
    monkeypatch.setattr(proof, "_native_pow_module", False)   # as if pyprivml._native did not import
    assert resolve_mine_route("auto") == "python" and mine_routes() == ("python",)
    hd = make_header(7)
    want = reference_first(hd.serialize()[:-4], hd.target(), 0, 2**16)
    assert mine(hd).nonce == want
    with pytest.raises(ValueError, match="not built"):
        mine(hd, route="portable")


# -- the kernel's hash against hashlib -------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(prefix=st.binary(min_size=108, max_size=108), nonce=st.integers(0, 2**32 - 1))
def test_kernel_sha256d_equals_hashlib(prefix, nonce):
    for name in KERNEL_ROUTES:
        if not _reason_missing(name):
            assert _native.pow_hash(prefix, nonce, name) == reference_hash(prefix, nonce), name


def test_kernel_sha256d_on_fixed_headers(kernel_route):
    for prefix in (bytes(108), b"\xff" * 108, bytes(range(108)), make_header(3).serialize()[:-4]):
        for nonce in (0, 1, 0x80, 0x12345678, 2**31, 2**32 - 1):
            assert _native.pow_hash(prefix, nonce, kernel_route) == reference_hash(prefix, nonce)
    hd = make_header(4, nonce=99)
    assert _native.pow_hash(hd.serialize()[:-4], 99, kernel_route) == hd.hash() == sha256d(hd.serialize())


# -- the search: the same nonce as the reference ---------------------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hd=headers, start=starts, max_tries=st.one_of(st.none(), st.integers(0, 3000)))
def test_every_route_returns_the_reference_nonce(hd, start, max_tries):
    want = mine(hd, start_nonce=start, max_tries=max_tries, route="python")
    for name in ALL_ROUTES[2:] + ("auto",):
        if _reason_missing(name):
            continue
        got = mine(hd, start_nonce=start, max_tries=max_tries, route=name)
        assert got == want, name
    if want is not None:
        assert want.meets_target() and int.from_bytes(want.hash(), "little") <= want.target()
        assert want.nonce >= start and (max_tries is None or want.nonce < start + max_tries)
        assert want == hd.with_nonce(want.nonce)


def test_many_headers_each_route(route):
    for seed in range(40):
        hd = make_header(seed, bits=(REGTEST_BITS, EASY_BITS, HARDER_BITS)[seed % 3])
        start = (seed * 2654435761) % 2**32
        want = reference_first(hd.serialize()[:-4], hd.target(), start, 2**32)
        mined = mine(hd, start_nonce=start, route=route)
        assert mined is not None and mined.nonce == want, seed
        assert mined.meets_target()


@settings(max_examples=150, deadline=None)
@given(prefix=st.binary(min_size=108, max_size=108), nonce=st.integers(0, 2**32 - 2),
       lane=st.sampled_from([0, 1]))
def test_exact_boundary_targets(prefix, nonce, lane):
    """A hash equal to the target passes, one below it fails; searched from either of two
    neighbouring nonces, so both lanes of the paired SHA-NI loop meet the boundary."""
    value = int.from_bytes(reference_hash(prefix, nonce), "little")
    start = nonce - lane if nonce >= lane else nonce
    for name in KERNEL_ROUTES:
        if _reason_missing(name):
            continue
        for target in (value, value - 1, value + 1):
            if not 0 <= target < 2**256:
                continue
            want = reference_first(prefix, target, start, 2)
            found, tried, digest = _native.pow_search(prefix, target.to_bytes(32, "little"), start, 2, name)
            assert found == want, (name, target - value)
            if found is None:
                assert tried == 2 and digest is None
            else:
                assert tried == found - start + 1 and digest == reference_hash(prefix, found)
        exact, _, _ = _native.pow_search(prefix, value.to_bytes(32, "little"), nonce, 1, name)
        below, tried, _ = _native.pow_search(prefix, (value - 1).to_bytes(32, "little"), nonce, 1, name) \
            if value else (None, 1, None)
        assert exact == nonce and below is None and tried == 1


def test_chunked_search_matches_one_call(monkeypatch, route):
    """The kernel is called in chunks; small chunks (odd, even, 1) give the same answers."""
    hd = make_header(11, bits=HARDER_BITS)
    want = mine(hd, route="python")
    for chunk in (1, 2, 7, 64, 1000):
        monkeypatch.setattr(proof, "_MINE_CHUNK", chunk)
        assert mine(hd, route=route) == want
        assert mine(hd, max_tries=want.nonce, route=route) is None
        assert mine(hd, start_nonce=want.nonce - 5, max_tries=6, route=route) == want


# -- edges -----------------------------------------------------------------------------------------

def _header_with_top(pattern):
    """A regtest header whose nonces 2**32 - len(pattern) .. 2**32 - 1 succeed as ``pattern``
    says (True: meets the target)."""
    for seed in range(10_000):
        hd = make_header(seed, bits=REGTEST_BITS)
        if all(hd.with_nonce(2**32 - len(pattern) + i).meets_target() == ok for i, ok in enumerate(pattern)):
            return hd
    raise AssertionError("no header found")  # about 2**-len(pattern) of them fit


def test_the_last_nonce_is_tried(route):
    hd = _header_with_top([False, False, True])
    mined = mine(hd, start_nonce=2**32 - 3, route=route)
    assert mined is not None and mined.nonce == 2**32 - 1 and mined.meets_target()
    assert mine(hd, start_nonce=2**32 - 1, route=route).nonce == 2**32 - 1
    assert mine(hd, start_nonce=2**32 - 1, max_tries=1, route=route).nonce == 2**32 - 1
    assert mine(hd, start_nonce=2**32 - 3, max_tries=2, route=route) is None


def test_the_search_stops_at_the_last_nonce_without_wrapping(route):
    """Nonces 2**32 - 2 and 2**32 - 1 fail and nonce 0 succeeds: the search from the top ends in
    None, even with max_tries past the end, and the paired SHA-NI loop's spare lane (2**32 - 1 + 1
    wraps to 0) is ignored."""
    for seed in range(10_000):
        hd = make_header(seed, bits=REGTEST_BITS)
        if hd.with_nonce(0).meets_target() and not any(
                hd.with_nonce(n).meets_target() for n in (2**32 - 3, 2**32 - 2, 2**32 - 1)):
            break
    assert mine(hd, route=route).nonce == 0
    for start in (2**32 - 3, 2**32 - 2, 2**32 - 1):
        assert mine(hd, start_nonce=start, route=route) is None
        assert mine(hd, start_nonce=start, max_tries=10, route=route) is None


def test_max_tries_zero_and_not_found(route):
    easy = make_header(5, bits=REGTEST_BITS)
    assert mine(easy, max_tries=0, route=route) is None
    assert mine(easy, start_nonce=2**32 - 1, max_tries=0, route=route) is None
    first = mine(easy, route="python")
    assert mine(easy, max_tries=first.nonce + 1, route=route) == first
    assert mine(easy, start_nonce=first.nonce, max_tries=1, route=route) == first
    hard = make_header(5, bits=HARD_BITS)
    assert mine(hard, max_tries=4000, route=route) is None
    assert mine(hard, start_nonce=2**32 - 4000, route=route) is None


def test_mine_argument_errors_are_the_same_on_every_route(route):
    with pytest.raises(ValueError, match="start_nonce"):
        mine(make_header(1), start_nonce=2**32, route=route)
    with pytest.raises(ValueError, match="max_tries"):
        mine(make_header(1), max_tries=-1, route=route)
    with pytest.raises(ValueError, match="zero target"):
        mine(make_header(1, bits=0x01003456), route=route)
    with pytest.raises(TypeError):
        mine(make_header(1).serialize(), route=route)


def test_kernel_search_counts_and_clamps(kernel_route):
    prefix = make_header(9).serialize()[:-4]
    assert _native.pow_search(prefix, MAX_TARGET, 123, 0, kernel_route) == (None, 0, None)
    assert _native.pow_search(prefix, MAX_TARGET, 123, 5, kernel_route) == (123, 1, reference_hash(prefix, 123))
    top = _native.pow_search(prefix, MAX_TARGET, 2**32 - 1, 2**40, kernel_route)
    assert top == (2**32 - 1, 1, reference_hash(prefix, 2**32 - 1))
    assert _native.pow_search(prefix, bytes(32), 0, 1001, kernel_route) == (None, 1001, None)
    for start in (2**32 - 7, 2**32 - 2, 2**32 - 1):   # count clamped to the nonces left
        assert _native.pow_search(prefix, bytes(32), start, 2**40, kernel_route) == (None, 2**32 - start, None)


def test_kernel_search_argument_errors(kernel_route):
    prefix = bytes(108)
    with pytest.raises(ValueError, match="prefix must be 108 bytes"):
        _native.pow_search(bytes(112), MAX_TARGET, 0, 1, kernel_route)
    with pytest.raises(ValueError, match="target must be 32 bytes"):
        _native.pow_search(prefix, bytes(31), 0, 1, kernel_route)
    with pytest.raises(TypeError, match="prefix"):
        _native.pow_search("x" * 108, MAX_TARGET, 0, 1, kernel_route)
    with pytest.raises(ValueError, match="start_nonce"):
        _native.pow_search(prefix, MAX_TARGET, 2**32, 1, kernel_route)
    with pytest.raises(ValueError, match="count"):
        _native.pow_search(prefix, MAX_TARGET, 0, -1, kernel_route)
    with pytest.raises(ValueError, match="route must be one of"):
        _native.pow_search(prefix, MAX_TARGET, 0, 1, "python")
    with pytest.raises(ValueError, match="nonce"):
        _native.pow_hash(prefix, 2**32, kernel_route)


def test_gil_is_released_during_the_search(kernel_route, gil_probe):
    """The main thread keeps running Python while another thread is inside one search call."""
    count = 1 << 21 if kernel_route == "sha-ni" else 1 << 18   # about 0.1 s either way
    result, steps, seconds = gil_probe(
        lambda: _native.pow_search(bytes(108), bytes(32), 0, count, kernel_route))
    assert result == (None, count, None)
    assert steps > 10, f"main thread ran only {steps} times during {seconds:.3f} s"
