"""What the kernels know about the machine they run on: ``pp.kernel_info()``.

The C kernels are built for the baseline target with their hot loops cloned for x86-64-v3 (AVX2)
and x86-64-v4 (AVX-512) and picked at load time from CPUID (``kernels/modarith.h``); Numba
compiles for the running CPU on first use; the nonce search picks SHA-NI by CPUID. This module
reports the CPU, the features that matter to these routes, and which route each primitive takes
for each class of prime and shape (the autotuner's choices once it has tuned them).

>>> import pyprivml as pp
>>> info = pp.kernel_info()
>>> sorted(info)
['backends', 'cpu', 'dispatch', 'features', 'route_cache', 'routes']
>>> info["routes"]["modmatmul"]["16-bit"]["reduction"]
'delayed: one reduction per 4297065216 products'
>>> info["routes"]["modmatmul"]["16-bit"]["shapes"]["small"]   # C kernels for tiny calls if built
'cython (tiny), numba (static)'
"""

from __future__ import annotations

from .backends import autotune, available_backends, get_backend
from .backends.bounds import max_delayed_terms
from .backends.cpu import cpu_flags, cpu_info, has_exact_int8

__all__ = ["kernel_info", "cpu_info", "cpu_flags", "RELEVANT_FEATURES"]

#: CPU flags (as /proc/cpuinfo names them) that a route of some kernel uses or could use.
RELEVANT_FEATURES = ("sse4_2", "avx2", "fma", "bmi2", "avx512f", "avx512bw", "avx512dq", "avx512vl",
                     "avx512ifma", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "sha_ni")

_LEVELS = {4: "x86-64-v4 (AVX-512 F/BW/CD/DQ/VL)", 3: "x86-64-v3 (AVX2, FMA, BMI2)", 1: "x86-64 baseline",
           0: "no run-time dispatch (built for the build machine's default target)"}


def _native():
    try:
        from . import _native
    except ImportError:
        return None
    return _native


def kernel_info() -> dict:
    """The CPU, its relevant features, and the route of each primitive per prime and shape class.

    ``routes[primitive][prime class]`` gives the reduction scheme the prime implies (delayed
    reduction in blocks of ``max_delayed_terms(p)`` products, or one reduction per product for
    p above about 2**29.5), the C kernels' clone, and per shape class the backend ``"auto"``
    takes: the autotuner's cached choice (:mod:`pyprivml.backends.autotune`), or the static
    route where the class is small, not tuned yet, or tuning is off. Nothing is tuned here."""
    cpu, flags = cpu_info(), cpu_flags()
    native = _native()
    level = native.dispatch_level() if native is not None and hasattr(native, "dispatch_level") else None
    dispatch = {"c_kernels": "not built" if native is None else _LEVELS.get(level, f"level {level}"),
                "c_ifma_tiles": ("not built" if native is None or not hasattr(native, "ifma_route") else
                                 "on for p < 2**26 (AVX-512 IFMA)" if native.ifma_route() else
                                 "off (this CPU has no AVX-512 IFMA)"),
                "numba": "compiled for this CPU at first use (LLVM, host target)",
                "int8": "oneDNN int8 GEMM (torch) on VNNI/AMX" if has_exact_int8() else
                        "unavailable: no VNNI or AMX (oneDNN's AVX2 int8 path saturates)",
                "nonce_search": (native.pow_resolve_route("auto") if native is not None
                                 and hasattr(native, "pow_resolve_route") else "python (hashlib)")}
    auto = get_backend("auto").NAME
    tuned = autotune.cached_routes() if autotune.tuning_enabled() else {}
    shape_classes = {"modmatmul": ("small", "gemm", "skinny", "thin"), "modmatvec": ("small", "matvec"),
                     "modmatvec_t": ("small", "matvec"), "modcombine": ("small", "encoding"),
                     "quantize": ("element-wise",)}
    routes = {}
    for primitive, shapes in shape_classes.items():
        routes[primitive] = {}
        for name, p in autotune.PRIME_CLASSES.items():
            terms = max_delayed_terms(p)
            reduction = ("element-wise reduction" if primitive == "quantize" else
                         f"delayed: one reduction per {terms} products" if terms >= 32 else
                         "per product: each product reduced on its own (too few delayed terms)")
            chosen = {}
            for sclass in shapes:
                entry = tuned.get(f"{primitive}/{name}/{sclass}")
                chosen[sclass] = (entry["route"] + " (tuned)" if entry else auto if primitive == "quantize"
                                  else f"{autotune.small_route(primitive, (1, 1, 1))} (tiny), "
                                       f"{autotune.STATIC_ROUTE} (static)" if sclass == "small"
                                  else f"{autotune.STATIC_ROUTE} (static)")
            routes[primitive][name] = {"shapes": chosen, "reduction": reduction, "c_clone": dispatch["c_kernels"]}
    return {"cpu": cpu, "features": [f for f in RELEVANT_FEATURES if f in flags], "dispatch": dispatch,
            "backends": {"available": available_backends(), "auto": auto},
            "route_cache": str(autotune.cache_path()), "routes": routes}
