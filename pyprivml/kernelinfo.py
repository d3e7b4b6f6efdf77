"""What the kernels know about the machine they run on: ``pp.kernel_info()``.

The C kernels are built for the baseline target with their hot loops cloned for x86-64-v3 (AVX2)
and x86-64-v4 (AVX-512) and picked at load time from CPUID (``kernels/modarith.h``); Numba
compiles for the running CPU on first use; the nonce search picks SHA-NI by CPUID. This module
reports the CPU, the features that matter to these routes, and which route each primitive takes
for each class of prime and shape.

>>> import pyprivml as pp
>>> info = pp.kernel_info()
>>> sorted(info)
['backends', 'cpu', 'dispatch', 'features', 'routes']
>>> info["routes"]["modmatmul"]["p < 2**16"]["reduction"]
'delayed: one reduction per 4297065216 products'
"""

from __future__ import annotations

from .backends import available_backends, get_backend
from .backends.bounds import max_delayed_terms
from .backends.cpu import cpu_flags, cpu_info

__all__ = ["kernel_info", "cpu_info", "cpu_flags", "RELEVANT_FEATURES"]

#: CPU flags (as /proc/cpuinfo names them) that a route of some kernel uses or could use.
RELEVANT_FEATURES = ("sse4_2", "avx2", "fma", "bmi2", "avx512f", "avx512bw", "avx512dq", "avx512vl",
                     "avx512ifma", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "sha_ni")

#: Representative primes of each size class.
_PRIMES = {"p < 2**16": 65_521, "p ≈ 2**25 (the default)": 2**25 - 39, "p ≈ 2**31": 2**31 - 1,
           "p ≈ 2**32": 2**32 - 5}
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

    ``routes[primitive][prime class]`` gives the backend that ``"auto"`` uses, the reduction
    scheme the prime implies (delayed reduction in blocks of ``max_delayed_terms(p)`` products,
    or one reduction per product for p above about 2**29.5), and the C kernels' clone."""
    cpu, flags = cpu_info(), cpu_flags()
    native = _native()
    level = native.dispatch_level() if native is not None and hasattr(native, "dispatch_level") else None
    dispatch = {"c_kernels": "not built" if native is None else _LEVELS.get(level, f"level {level}"),
                "numba": "compiled for this CPU at first use (LLVM, host target)",
                "nonce_search": (native.pow_resolve_route("auto") if native is not None
                                 and hasattr(native, "pow_resolve_route") else "python (hashlib)")}
    auto = get_backend("auto").NAME
    routes = {}
    for primitive, shapes in (("modmatmul", "4x4 integer tiles over B transposed; 4x1 and 1x1 at the edges"),
                              ("modmatvec", "rows of 4 against one vector"),
                              ("modcombine", "encoding shape: few rows of coefficients times long rows"),
                              ("quantize", "element-wise, streaming")):
        routes[primitive] = {}
        for name, p in _PRIMES.items():
            terms = max_delayed_terms(p)
            reduction = ("element-wise reduction" if primitive == "quantize" else
                         f"delayed: one reduction per {terms} products" if terms >= 32 else
                         "per product: each product reduced on its own (too few delayed terms)")
            routes[primitive][name] = {"backend": auto, "shapes": shapes, "reduction": reduction,
                                       "c_clone": dispatch["c_kernels"]}
    return {"cpu": cpu, "features": [f for f in RELEVANT_FEATURES if f in flags], "dispatch": dispatch,
            "backends": {"available": available_backends(), "auto": auto}, "routes": routes}
