"""The autotuner: which exact route runs each linear-algebra primitive on this machine.

The fastest route depends on the CPU (integer SIMD tiles win on one machine, int8 GEMM or
float64 BLAS on limbs on another), on the prime (fewer limbs below 2^8 and 2^16) and on the
shape. So ``"auto"`` asks :func:`route`, which on first use for a *(machine, primitive, prime
class, shape class)* times every available candidate briefly on a representative problem,
checks that each gives the reference's result bit for bit, and caches the fastest in the user's
cache directory (``$PYPRIVML_CACHE_DIR``, else ``$XDG_CACHE_HOME/pyprivml``, else
``~/.cache/pyprivml``), in a file keyed by the CPU's model and features, the versions of the
libraries the routes run on and the number of threads. The cache is locked while a class is tuned, so concurrent MPI
ranks tune it once and the others wait and read the result.

Controls, strongest first: a per-call ``backend=`` (any backend name), ``set_backend`` or
``PYPRIVML_BACKEND`` other than ``"auto"``; ``PYPRIVML_ROUTE`` (``int8`` for every primitive or
``modmatmul=int8,modmatvec=numba``); then the tuned route. ``PYPRIVML_AUTOTUNE=0`` turns tuning
off (routes are then the static default, Numba's tiles), as the test suite does unless a test
asks for tuning. Problems below :data:`SMALL_WORK` multiply-adds are never tuned: call overheads
dominate them, so the tiniest and every small combination take the C kernels and the rest the
static default (:func:`small_route`). ``pyprivml bench kernels`` re-tunes every class
and prints the table.

>>> from pyprivml.backends.autotune import prime_class, shape_class
>>> prime_class(251), prime_class(65521), prime_class(2**25 - 39), prime_class(2**32 - 5)
('8-bit', '16-bit', '28-bit', '32-bit')
>>> shape_class("modmatmul", (1024, 1024, 1024)), shape_class("modmatmul", (4, 4, 4))
('gemm', 'small')
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import threads
from .cpu import cpu_flags, cpu_info

__all__ = ["route", "tune", "tune_all", "ensure_tuned", "forced_route", "tuning_enabled", "cache_path", "prime_class",
           "shape_class", "small_route", "PRIMITIVES", "PRIME_CLASSES", "SMALL_WORK", "TINY_WORK", "STATIC_ROUTE"]

PRIMITIVES = ("modmatmul", "modmatvec", "modmatvec_t", "modcombine")
#: Prime classes by bit length, each tuned at its largest prime (the most limbs of its class).
PRIME_CLASSES = {"8-bit": 251, "16-bit": 65521, "24-bit": 16777213, "28-bit": 268435399, "32-bit": 4294967291}
#: Below this many multiply-adds a call is not tuned: the static route is fastest there.
SMALL_WORK = 1 << 22
#: The route of untuned classes (and of every class with tuning off).
STATIC_ROUTE = "numba"
#: Below this many multiply-adds (and for every small modcombine) the C kernels' call costs
#: least: 11-25 µs against Numba's 20-70 µs for a parallel launch, measured at the shapes of one
#: protocol iteration with d = 100 (docs/BENCHMARKS.md); Numba's threads pay from about 2**20.
TINY_WORK = 1 << 17
#: Representative (n, k, m) per (primitive, shape class): big enough to be past call overheads
#: (the int8 route overtakes the integer tiles only from about n = 1024), small enough that a
#: class tunes in a second or two.
_PROBLEMS = {("modmatmul", "gemm"): (1024, 1024, 1024), ("modmatmul", "skinny"): (16, 2048, 2048),
             ("modmatmul", "thin"): (2048, 2048, 1),
             ("modmatvec", "matvec"): (2048, 2048, 1), ("modmatvec_t", "matvec"): (2048, 2048, 1),
             ("modcombine", "encoding"): (32, 16, 1 << 16)}
_CANDIDATES = ("numba", "cython", "blas", "int8")
_REPEATS = 5

_routes: dict = {}  # in-process memo of the cache: {key: route}


def tuning_enabled() -> bool:
    return os.environ.get("PYPRIVML_AUTOTUNE", "1") not in ("0", "false", "no", "off")


def prime_class(p: int) -> str:
    """The smallest class whose bit length covers p."""
    bits = int(p).bit_length()
    for name in PRIME_CLASSES:
        if bits <= int(name.split("-")[0]):
            return name
    raise ValueError(f"p = {p} is above 2**32; valid primes are below 2**32")


def shape_class(primitive: str, shape: tuple) -> str:
    """``small`` below :data:`SMALL_WORK` multiply-adds; else for modmatmul ``gemm``, ``skinny``
    (an outer dimension below 64) or ``thin`` (below 8: a matrix times a few vectors, as a
    worker's X̃ W̃), and ``matvec`` or ``encoding`` for the others."""
    n, k, m = (int(v) for v in shape)
    if n * k * m < SMALL_WORK:          # on every call of the products: plain integers, no NumPy
        return "small"
    if primitive == "modmatmul":
        outer = min(n, m)
        return "gemm" if outer >= 64 else "skinny" if outer >= 8 else "thin"
    return "encoding" if primitive == "modcombine" else "matvec"


def forced_route(primitive: str) -> str | None:
    """The route ``PYPRIVML_ROUTE`` forces for `primitive`, if any."""
    text = os.environ.get("PYPRIVML_ROUTE", "").strip()
    if not text:
        return None
    if "=" not in text:
        return text
    forced = {}
    for item in text.split(","):
        name, sep, value = (part.strip() for part in item.partition("="))
        if not sep or name not in PRIMITIVES or not value:
            raise ValueError(f"PYPRIVML_ROUTE: cannot read {item!r}; write one backend name (e.g. int8) "
                             f"or PRIMITIVE=NAME pairs separated by commas, PRIMITIVE one of {', '.join(PRIMITIVES)}")
        forced[name] = value
    return forced.get(primitive)


def _versions() -> dict:
    versions = {"python": platform.python_version()}
    for package in ("pyprivml", "numpy", "numba", "torch", "scipy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def cache_path() -> Path:
    """This machine's route file: one per CPU model, feature set, library versions and thread
    count (a route that wins on two threads may lose on one, as under mpiexec with a rank per core)."""
    root = os.environ.get("PYPRIVML_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pyprivml"
    identity = json.dumps({"cpu": cpu_info(), "flags": sorted(cpu_flags()), "versions": _versions(),
                           "threads": threads.get_num_threads()}, sort_keys=True)
    return Path(root) / f"routes-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.json"


@contextlib.contextmanager
def _locked_cache():
    """The cache's contents under an exclusive lock (fcntl where it exists); what the body leaves
    in the dict is written back atomically (temporary file, then os.replace)."""
    path = cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # not POSIX: the atomic replace still keeps the file whole
            pass
        try:
            data = json.loads(path.read_text()) if path.is_file() else {}
        except (OSError, ValueError):
            data = {}                                   # a damaged cache is re-tuned, not fatal
        data.setdefault("machine", {"cpu": cpu_info(), "versions": _versions()})
        data.setdefault("routes", {})
        before = json.dumps(data, sort_keys=True)
        yield data
        if json.dumps(data, sort_keys=True) != before:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=1, sort_keys=True)
            os.replace(tmp, path)


def _key(primitive: str, pclass: str, sclass: str) -> str:
    return f"{primitive}/{pclass}/{sclass}"


def _call(module, primitive):
    return {"modmatmul": module.matmul, "modcombine": module.combine,
            "modmatvec": lambda A, B, p: module.matvec(A, B[:, 0], p),
            "modmatvec_t": lambda A, B, p: module.matvec_t(A, B[:, 0], p)}[primitive]  # n = k


def _best_seconds(fn, *args) -> float:
    """The fastest of a few runs after a warm-up (JIT compilation, workspaces): on a shared
    machine other work only ever adds time, so the minimum is the steadiest estimate."""
    fn(*args)
    times = []
    for _ in range(_REPEATS):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def tune(primitive: str, p: int, sclass: str) -> dict:
    """Time every available candidate on the class's representative problem; returns
    {"route", "seconds": {name: best time}, "inexact": [names], "float64_seconds", "problem", "p"}."""
    from . import available_backends, get_backend

    n, k, m = _PROBLEMS[(primitive, sclass)]
    rng = np.random.default_rng(0)
    A = rng.integers(0, p, size=(n, k), dtype=np.int64).astype(np.uint32)
    B = rng.integers(0, p, size=(k, m), dtype=np.int64).astype(np.uint32)
    want = _call(get_backend("numpy"), primitive)(A, B, p)
    seconds, inexact = {}, []
    for name in (c for c in _CANDIDATES if c in available_backends()):
        fn = _call(get_backend(name), primitive)
        if not np.array_equal(fn(A, B, p), want):
            inexact.append(name)                        # never chosen; reported by bench kernels
            continue
        seconds[name] = _best_seconds(fn, A, B, p)
    Af, Bf = A.astype(np.float64), B.astype(np.float64)
    baseline = (lambda: Af.T @ Bf[:, 0]) if primitive == "modmatvec_t" else (
        (lambda: Af @ Bf[:, 0]) if primitive == "modmatvec" else (lambda: Af @ Bf))
    return {"route": min(seconds, key=seconds.get), "seconds": seconds, "inexact": inexact,
            "float64_seconds": _best_seconds(baseline), "problem": [n, k, m], "p": p}


def route(primitive: str, p: int, shape: tuple) -> str:
    """The backend name that ``"auto"`` uses for `primitive` at prime p and operand shape
    (n, k, m): forced by ``PYPRIVML_ROUTE``, else tuned (and cached) on first use."""
    forced = forced_route(primitive)
    if forced is not None:
        return forced
    sclass = shape_class(primitive, shape)
    if sclass == "small":
        return small_route(primitive, shape)
    if not tuning_enabled():
        return STATIC_ROUTE
    pclass = prime_class(p)
    key = _key(primitive, pclass, sclass)
    if key not in _routes:
        with _locked_cache() as data:
            if key not in data["routes"]:
                data["routes"][key] = tune(primitive, PRIME_CLASSES[pclass], sclass)
            _routes[key] = data["routes"][key]["route"]
    return _routes[key]


def small_route(primitive: str, shape: tuple) -> str:
    """The route of a call below :data:`SMALL_WORK`: the C kernels for tiny products and small
    combinations (their call costs least, :data:`TINY_WORK`), else :data:`STATIC_ROUTE`."""
    n, k, m = (int(v) for v in shape)
    if (primitive == "modcombine" or n * k * m < TINY_WORK) and has_c_kernels():
        return "cython"
    return STATIC_ROUTE


@functools.lru_cache(maxsize=1)
def has_c_kernels() -> bool:
    """Whether the C extension (the "cython" backend) is built and loads."""
    from . import get_backend

    try:
        get_backend("cython")
    except ImportError:
        return False
    return True


def cached_routes() -> dict:
    """What the cache holds for this machine (without tuning anything)."""
    path = cache_path()
    try:
        return json.loads(path.read_text()).get("routes", {}) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def ensure_tuned() -> None:
    """Tune every class the cache does not hold yet (nothing if tuning is off): for timing
    scripts, so that no first use tunes inside a timed phase."""
    if not tuning_enabled():
        return
    with _locked_cache() as data:
        for (prim, sclass) in _PROBLEMS:
            for pclass, p in PRIME_CLASSES.items():
                key = _key(prim, pclass, sclass)
                if key not in data["routes"]:
                    data["routes"][key] = tune(prim, p, sclass)
    _routes.clear()


def tune_all(progress=None) -> dict:
    """Re-tune every (primitive, prime class, shape class) and cache the results."""
    results = {}
    classes = [(prim, pclass, sclass) for (prim, sclass) in _PROBLEMS for pclass in PRIME_CLASSES]
    for prim, pclass, sclass in (progress(classes) if progress else classes):
        results[_key(prim, pclass, sclass)] = tune(prim, PRIME_CLASSES[pclass], sclass)
    with _locked_cache() as data:
        data["routes"].update(results)
    _routes.clear()
    return results


# -- pyprivml bench kernels --------------------------------------------------------------------

def register(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="benchmarks of this machine")
    what = bench.add_subparsers(dest="bench", required=True)
    kernels = what.add_parser("kernels", help="re-tune the kernels' routes on this machine and print them")
    kernels.add_argument("--json", default=None, help="also write the results to this file")
    kernels.set_defaults(func=_bench_kernels)


def _bench_kernels(args) -> int:
    from tqdm import tqdm

    cpu = cpu_info()
    results = tune_all(progress=lambda items: tqdm(items, desc="tuning", unit="class", file=sys.stderr))
    print(f"CPU: {cpu.get('model_name')} ({cpu.get('machine')}); cache: {cache_path()}")
    names = sorted({name for r in results.values() for name in r["seconds"]})
    header = ["primitive / prime / shape (n, k, m)", *names, "route", "route vs float64"]
    print(" | ".join(header))
    for key, r in results.items():
        cells = [f"{key} {tuple(r['problem'])}"]
        cells += [f"{r['seconds'][n] * 1e3:.2f} ms" if n in r["seconds"] else
                  ("INEXACT" if n in r["inexact"] else "-") for n in names]
        cells += [r["route"], f"{r['float64_seconds'] / r['seconds'][r['route']]:.2f}x"]
        print(" | ".join(cells))
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu, "flags": sorted(cpu_flags()),
                                               "results": results}, indent=1))
    return 0
