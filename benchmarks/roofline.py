"""A measured roofline of this machine: the peaks that bound the kernels of issue 12.

Measures, with the threads the kernels use (``PYPRIVML_NUM_THREADS``, default all cores):

* float64 FMA rate as BLAS reaches it (``A @ B``, n = 2048): the ceiling of the float64 routes;
* int8 multiply-add rate of oneDNN's int8 GEMM (``torch._int_mm``, 4096 x 2048 x 4096), where
  the CPU has VNNI or AMX: the ceiling of the int8-limb route, divided by its GEMMs per product;
* integer 32x32->64 multiply-add lanes per second against float64 FMA lanes, both as 64
  independent chains per thread compiled by Numba the same way (chains bound by latency, so the
  figures are below the units' peaks; their ratio compares the units);
* memory bandwidth: reading (``X.sum()``), copying (``np.copyto``) and writing (``fill``) arrays
  far larger than the caches;

and prints the bounds they imply for each primitive next to the issue's targets. Medians of
several runs (the machine is shared); every line names the CPU.

Run: ``.venv/bin/python benchmarks/roofline.py [--json out.json] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from numba import njit, prange

from pyprivml import threads
from pyprivml.backends.cpu import cpu_flags, cpu_info, has_exact_int8
from pyprivml.backends.int8_backend import limb_scheme


def _median(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


_LANES = 64  # 8 AVX-512 registers of 64-bit lanes: independent chains


@njit(parallel=True, cache=True)
def _chains_int32(x, y, rounds, out):
    """Per thread, _LANES independent chains acc = low32(acc) * x + y: the 32 x 32 -> 64
    multiply-add of the integer tiles (vpmuludq + vpaddq)."""
    for c in prange(out.shape[0]):
        acc = out[c].copy()
        for _ in range(rounds):
            for j in range(_LANES):
                acc[j] = np.uint64(np.uint32(acc[j])) * np.uint64(x[c, j]) + y[c, j]
        out[c] = acc


@njit(parallel=True, cache=True, fastmath=True)
def _chains_fma(x, y, rounds, out):
    """The same chains in float64 (vfmadd): the yardstick the integer chains are compared with."""
    for c in prange(out.shape[0]):
        acc = out[c].copy()
        for _ in range(rounds):
            for j in range(_LANES):
                acc[j] = acc[j] * x[c, j] + y[c, j]
        out[c] = acc


def measure(quick: bool = False) -> dict:
    nthreads = threads.get_num_threads()
    threads.set_num_threads(nthreads)
    repeats = 3 if quick else 7
    rng = np.random.default_rng(0)
    peaks = {}

    n = 512 if quick else 2048
    A = rng.random((n, n))
    peaks["float64 FMA (BLAS dgemm), GMAC/s"] = n**3 / _median(lambda: A @ A, repeats) / 1e9

    if has_exact_int8():
        import torch

        torch.set_num_threads(nthreads)
        m, k = (512, 512) if quick else (4096, 2048)
        a = torch.randint(-128, 128, (m, k), dtype=torch.int8)
        b = torch.randint(-128, 128, (k, m), dtype=torch.int8)
        out = torch.empty((m, m), dtype=torch.int32)
        peaks["int8 GEMM (oneDNN), GMAC/s"] = m * k * m / _median(lambda: torch._int_mm(a, b, out=out), repeats) / 1e9

    rounds = 20_000 if quick else 400_000
    lanes = nthreads * _LANES * rounds
    x32 = rng.integers(1, 2**32, (nthreads, _LANES), dtype=np.uint64).astype(np.uint32)
    y64, acc = np.ones((nthreads, _LANES), dtype=np.uint64), np.ones((nthreads, _LANES), dtype=np.uint64)
    peaks["int 32x32->64 multiply-add chains, G lane-MAC/s"] = lanes / _median(
        lambda: _chains_int32(x32, y64, rounds, acc), repeats) / 1e9
    xf, yf, accf = np.full((nthreads, _LANES), 0.999), np.full((nthreads, _LANES), 1e-3), np.ones((nthreads, _LANES))
    peaks["float64 FMA chains, G lane-FMA/s"] = lanes / _median(
        lambda: _chains_fma(xf, yf, rounds, accf), repeats) / 1e9

    size = (1 << 22) if quick else (1 << 25)         # 32 MiB or 256 MiB of float64
    X = rng.random(size // 8)
    Y = np.empty_like(X)
    Y.fill(0.0)
    with threads.limit_blas_threads():
        peaks["memory read (X.sum()), GB/s"] = X.nbytes / _median(X.sum, repeats) / 1e9
        peaks["memory copy (np.copyto), GB/s"] = 2 * X.nbytes / _median(lambda: np.copyto(Y, X), repeats) / 1e9
        peaks["memory write (fill), GB/s"] = Y.nbytes / _median(lambda: Y.fill(1.0), repeats) / 1e9
    return {"cpu": cpu_info(), "flags": sorted(cpu_flags()), "threads": nthreads, "peaks": peaks}


def bounds(result: dict) -> list[tuple[str, str]]:
    """What the peaks imply for the primitives of issue 12."""
    peaks = result["peaks"]
    fma = peaks["float64 FMA (BLAS dgemm), GMAC/s"]
    lines = []
    # The integer tiles spend one 32 x 32 -> 64 multiply-add per modular MAC (delayed reduction):
    # their ceiling is the integer chains' rate, against what BLAS reaches of the FMA units.
    chains_int = peaks["int 32x32->64 multiply-add chains, G lane-MAC/s"]
    chains_fma = peaks["float64 FMA chains, G lane-FMA/s"]
    lines.append(("float64 BLAS: dgemm's share of the FMA units' rate", f"{fma / chains_fma:.2f}"))
    lines.append(("modmatmul, integer tiles vs float64 BLAS",
                  f"<= {chains_int / fma:.2f}x (integer chains / dgemm rate)"))
    if "int8 GEMM (oneDNN), GMAC/s" in peaks:
        int8 = peaks["int8 GEMM (oneDNN), GMAC/s"]
        for p in (251, 65521, 2**25 - 39, 2**32 - 5):
            products = limb_scheme(p).products
            lines.append((f"modmatmul p = {p}, int8 route ({products} GEMMs) vs float64 BLAS",
                          f"<= {int8 / products / fma:.2f}x"))
    read, copy = peaks["memory read (X.sum()), GB/s"], peaks["memory copy (np.copyto), GB/s"]
    lines.append(("matvec (uint32 A) vs float64 dgemv, both memory-bound", "<= 2.00x (half the bytes)"))
    lines.append(("encoding U(50x20) X(20xL) memory floor",
                  f"reads 4 B x 20 L at {read:.1f} GB/s, writes 8 B x 50 L at the write rate"))
    lines.append(("stochastic quantisation vs np.copyto",
                  f"copy rate {copy:.1f} GB/s: 8 B read + 8 B written per weight, as copyto"))
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default=None, help="also write the measurements to this file")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args(argv)
    result = measure(args.quick)
    cpu = result["cpu"]
    print(f"CPU: {cpu.get('model_name')} (family {cpu.get('family')}, model {cpu.get('model')}), "
          f"{result['threads']} threads")
    print("| peak | measured |\n| --- | ---: |")
    for name, value in result["peaks"].items():
        print(f"| {name} | {value:.1f} |")
    print("\n| primitive | bound |\n| --- | --- |")
    for name, bound in bounds(result):
        print(f"| {name} | {bound} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
