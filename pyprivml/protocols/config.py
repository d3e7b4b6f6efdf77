"""The base of every protocol's configuration: frozen, validated where it is made, public.

A configuration holds what every rank may know (no data, no keys). It is a frozen dataclass, so
a run can never change it half way; :meth:`ProtocolConfig.replace` makes a changed copy. Each
protocol adds its own fields and ``validate``; the checks below are shared so that the same
mistake gets the same message everywhere: what was wrong and what would be valid.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True, kw_only=True)
... class Toy(ProtocolConfig):
...     rounds: int = 3
...     def validate(self):
...         super().validate()
...         check_int("rounds", self.rounds, minimum=1)
>>> Toy(rounds=2).replace(rounds=5).rounds
5
>>> Toy(rounds=0)
Traceback (most recent call last):
...
ValueError: rounds must be an integer >= 1, got 0
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ProtocolConfig", "check_int", "check_real", "check_choice", "is_int"]


def is_int(v) -> bool:
    """An integer that is not a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None,
              allow_none: bool = False, hint: str = "") -> None:
    """``value`` is an integer in [minimum, maximum] (or None when allowed), else ValueError."""
    if value is None and allow_none:
        return
    if not is_int(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if minimum is not None and maximum is not None:
            valid = f"an integer in [{minimum}, {maximum}]"
        elif minimum is not None:
            valid = f"an integer >= {minimum}"
        else:
            valid = "an integer"
        extra = (" or None" if allow_none else "") + (f" ({hint})" if hint else "")
        raise ValueError(f"{name} must be {valid}{extra}, got {value!r}")


def check_real(name: str, value, *, positive: bool = False, non_negative: bool = False, finite: bool = True,
               allow_none: bool = False, hint: str = "") -> None:
    """``value`` is a real number with the stated sign (and finite unless ``finite=False``)."""
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
    if ok:
        v = float(value)
        ok = not math.isnan(v) and (not finite or math.isfinite(v))
        ok = ok and (not positive or v > 0) and (not non_negative or v >= 0)
    if not ok:
        sign = "positive " if positive else "non-negative " if non_negative else ""
        valid = f"a {'finite ' if finite else ''}{sign}real number"
        extra = (" or None" if allow_none else "") + (f" ({hint})" if hint else "")
        raise ValueError(f"{name} must be {valid}{extra}, got {value!r}")


def check_interval(name: str, value) -> None:
    """``value`` is a pair (lo, hi) of finite reals with lo < hi."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lo, hi) of reals, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} must be finite with lo < hi, got {value!r}")


def check_choice(name: str, value, choices) -> None:
    """``value`` is one of ``choices``."""
    if value not in choices:
        choices = tuple(choices)
        valid = (" or ".join(map(repr, choices)) if len(choices) == 2
                 else "one of " + ", ".join(map(repr, choices)))
        raise ValueError(f"{name} must be {valid}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ProtocolConfig:
    """What every protocol's configuration has: a seed for reproducible non-secret randomness and
    the seconds a rank waits for a message before naming who did not answer.

    ``seed`` never drives privacy masks: those always come from :class:`pyprivml.random.SecureRandom`.
    """

    seed: int | None = None
    timeout: float = 120.0

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first invalid field; subclasses extend it."""
        check_int("seed", self.seed, minimum=0, allow_none=True)
        t = self.timeout
        if isinstance(t, bool) or not isinstance(t, (int, float, np.number)) or not 0 < t < math.inf:
            raise ValueError(f"timeout must be a finite positive number of seconds, got {t!r}")

    def replace(self, **changes) -> "ProtocolConfig":
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)
