"""The CPU this process runs on, as /proc/cpuinfo describes it: model and feature flags.

Routes choose themselves from these at run time (never from the build machine), the autotuner
keys its per-machine cache on them, and :func:`pyprivml.kernel_info` reports them.

>>> from pyprivml.backends.cpu import cpu_info, cpu_flags
>>> sorted(cpu_info())[:3]
['family', 'machine', 'model']
>>> isinstance(cpu_flags(), frozenset)
True
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

__all__ = ["cpu_info", "cpu_flags", "has_exact_int8", "EXACT_INT8_FEATURES"]

#: Flags under which oneDNN's int8 GEMM accumulates without saturation (VNNI, AMX, Arm dot
#: products); its plain AVX2 path multiplies with ``vpmaddubsw``, which saturates pairs at 2^15.
EXACT_INT8_FEATURES = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


@functools.lru_cache(maxsize=None)
def _read() -> tuple[tuple, frozenset]:
    info = {"machine": platform.machine(), "model_name": platform.processor() or "unknown",
            "vendor": "unknown", "family": "", "model": ""}
    names = {"model name": "model_name", "vendor_id": "vendor", "cpu family": "family", "model": "model"}
    flags: frozenset = frozenset()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if not line.strip():
                break                                    # the first processor is enough
            key, _, value = (part.strip() for part in line.partition(":"))
            if key in names:
                info[names[key]] = value
            elif key in ("flags", "Features"):
                flags = frozenset(value.split())
    return tuple(sorted(info.items())), flags


def cpu_info() -> dict:
    """{"machine", "model_name", "vendor", "family", "model"} of the first processor."""
    return dict(_read()[0])


def cpu_flags() -> frozenset:
    """The feature flags of the first processor (/proc/cpuinfo's names; empty where unknown)."""
    return _read()[1]


def has_exact_int8() -> bool:
    """Whether this CPU has an int8 dot-product instruction that accumulates exactly."""
    return bool(cpu_flags().intersection(EXACT_INT8_FEATURES))
