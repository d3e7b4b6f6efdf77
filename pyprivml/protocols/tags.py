"""One registry of message tags: every protocol's tags in one table, distinct from all others.

MPI matches a receive by (source, tag), and a tag a role did not expect is a protocol error, so
two protocols (or a protocol and its sub-protocol) must never share a tag. The table below gives
each protocol a block of fixed tags; a protocol that tags messages by iteration (CodedPrivateML's
results, so that a straggler's late answer is never taken for the current one) also gets a
rolling window. The table is the only place tags are made, so the numbers are the same in every
rank whatever it imported first, and all of them stay below 32767, the smallest MPI_TAG_UB that
the MPI standard allows.

>>> tags = tags_for("codedprivateml")
>>> tags.setup, tags.result(0), tags.result(tags.window)      # the window wraps around
(100, 16384, 16384)
>>> tags_for("mpc").reshare != tags_for("gal").control
True
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["tags_for", "TagSet", "TABLE", "MPI_TAG_UB_MIN"]

#: The smallest upper bound for tags that every MPI implementation must support.
MPI_TAG_UB_MIN = 32767

#: protocol -> (fixed tag names, rolling window name or None, window size)
TABLE = MappingProxyType({
    "codedprivateml": (("setup", "data", "weights", "control", "summary"), "result", 16384),
    "mpc": (("control", "data", "weights", "result", "reshare", "open_in", "open_out", "double"), None, 0),
    "gal": (("control", "residual", "fitted", "prediction"), None, 0),
    "irene": (("request", "centre", "elastic", "done", "stage", "metric_hello", "metric_control", "metric_target",
               "metric_w0", "metric_final"), None, 0),
    "gradientcoin": (("gradient", "block", "gossip", "control", "final"), None, 0),
})
_BLOCK = 100        # fixed tags of the i-th protocol: 100 (i + 1) + 0, 1, ...
_ROLLING = 16384    # rolling windows are laid out from here upwards


class TagSet:
    """The tags of one protocol: an attribute per fixed tag, and ``<window>(t)`` for rolling ones."""

    def __init__(self, protocol: str, fixed: dict, rolling: str | None, start: int, window: int):
        self.protocol, self.window = protocol, window
        self._start = start
        for name, tag in fixed.items():
            setattr(self, name, tag)
        if rolling is not None:
            setattr(self, rolling, self._rolling)
        self.fixed = MappingProxyType(fixed)

    def _rolling(self, t: int) -> int:
        return self._start + int(t) % self.window

    def __repr__(self) -> str:
        return f"TagSet({self.protocol!r}, {dict(self.fixed)})"


def _build() -> dict:
    out, rolling_start = {}, _ROLLING
    for i, (protocol, (names, rolling, window)) in enumerate(TABLE.items()):
        fixed = {name: _BLOCK * (i + 1) + k for k, name in enumerate(names)}
        assert len(names) < _BLOCK and max(fixed.values()) < _ROLLING
        out[protocol] = TagSet(protocol, fixed, rolling, rolling_start, window)
        rolling_start += window
    assert rolling_start <= MPI_TAG_UB_MIN + 1, "rolling tag windows exceed MPI's smallest tag bound"
    return out


_SETS = _build()


def tags_for(protocol: str) -> TagSet:
    """The tags of ``protocol`` (a key of :data:`TABLE`)."""
    try:
        return _SETS[protocol]
    except KeyError:
        raise ValueError(f"no message tags registered for {protocol!r}; registered: {', '.join(TABLE)} "
                         f"(add the protocol to pyprivml/protocols/tags.py)") from None
