"""GradientCoin's nonce search (issue 11, "Performance"): hashes per second on one core for each
route of ``pow.mine`` against the pure-Python hashlib loop and against OpenSSL's own SHA-256.

Run:  .venv/bin/python -m pytest benchmarks/test_bench_gradientcoin_nonce.py --benchmark-only \\
          --benchmark-columns=median,iqr,rounds
Quick mode (a smoke run of well under a second): PYPRIVML_BENCH_QUICK=1.
``PYPRIVML_BENCH_NONCES`` sets the nonces per timed call (default 2**20; quick 2**12).

Every benchmark does the same work, so the ratios of the medians in the table at the end are
ratios of hashes per second (``extra_info["hashes_per_s"]`` holds the rate itself):

* ``python``: ``mine(route="python")``, the hashlib reference loop (baseline);
* ``portable``, ``sha-ni``: ``mine(route=...)``, the C kernel (kernels/pow_nonce.c) on one thread,
  its FIPS 180-4 C SHA-256 and its x86 SHA-extensions route; a route this CPU lacks is skipped;
* ``openssl``: ``hashlib.sha256`` (OpenSSL) over 2 x 64 bytes per nonce of one large buffer, i.e.
  the same number of 64-byte SHA-256 compressions as the nonces' two SHA-256 each (the header's
  second block, then the 32-byte digest), fed 1 MiB at a time. Its "hashes/s" is OpenSSL's
  compressions per second / 2, the rate of a sha256d nonce built from OpenSSL's compression
  function with nothing saved. (The kernel skips the first rounds of the header's second block,
  which do not depend on the nonce; the per-header midstate of the first block is hashed once on
  every route.)

The header's bits encode target 1, so no nonce succeeds and each call tries all its nonces.
"""

from __future__ import annotations

import hashlib
import os
import ssl

import pytest

from pyprivml.protocols.gradientcoin.pow import BlockHeader, mine, mine_routes

QUICK = os.environ.get("PYPRIVML_BENCH_QUICK", "") not in ("", "0")
NONCES = int(os.environ.get("PYPRIVML_BENCH_NONCES", 2**12 if QUICK else 2**20))
GROUP = f"gradientcoin-nonce ({NONCES} nonces, 1 thread)"
IMPOSSIBLE_BITS = 0x03000001   # target 1: no hash meets it
HEADER = BlockHeader(version=1, prev_hash=hashlib.sha256(b"prev").digest(),
                     merkle_root=hashlib.sha256(b"merkle").digest(),
                     payload_hash=hashlib.sha256(b"payload").digest(), time=1_700_000_000,
                     bits=IMPOSSIBLE_BITS, nonce=0)
CHUNK = 1 << 20                # OpenSSL is fed 1 MiB at a time (cache-resident, as the kernel)


def _rounds(route):
    return 1 if QUICK else (3 if route == "python" else 7)


@pytest.mark.parametrize("route", ["python", "portable", "sha-ni"])
def test_nonce_search(benchmark, timed, route):
    if route not in mine_routes():
        pytest.skip(f"route {route!r} is not available here (routes: {', '.join(mine_routes())})")
    benchmark.group = GROUP
    result = timed(benchmark, lambda: mine(HEADER, max_tries=NONCES, route=route), rounds=_rounds(route),
                   baseline=route == "python", route=route, nonces=NONCES)
    assert result is None
    if benchmark.stats is not None:   # None under --benchmark-disable
        benchmark.extra_info["hashes_per_s"] = NONCES / benchmark.stats.stats.median


def test_openssl_sha256_same_compressions(benchmark, timed):
    total = 2 * 64 * NONCES               # two 64-byte compressions per nonce
    size = min(CHUNK, total)
    buffer, reps = bytes(size), total // size

    def hash_buffer():
        h = hashlib.sha256()
        for _ in range(reps):
            h.update(buffer)
        return h.digest()

    benchmark.group = GROUP
    timed(benchmark, hash_buffer, rounds=_rounds("openssl"), route="openssl", nonces=NONCES,
          compressions=2 * NONCES, hashlib=hashlib.sha256().name, implementation=hashlib.sha256.__name__,
          openssl=ssl.OPENSSL_VERSION)
    if benchmark.stats is not None:
        median = benchmark.stats.stats.median
        benchmark.extra_info["compressions_per_s"] = 2 * NONCES / median
        benchmark.extra_info["hashes_per_s"] = NONCES / median
