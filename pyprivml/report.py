"""Run reports shared by every protocol: parameters, per-iteration metrics, seconds and bytes per phase.

A :class:`Report` is what ``pyprivml train ... --report out.json`` writes and ``pyprivml plot``
reads. ``history`` and ``baseline_history`` are lists of per-iteration dicts with at least
``iteration`` and ``loss`` (cross entropy for classification) and, when a test set exists,
``accuracy``; ``seconds`` uses the phase names of seed 004 Table II (encoding, communication,
computation, decoding, update) plus ``total``; ``bytes`` is the master's traffic per transport phase.

>>> r = Report("demo", {"N": 3}, dataset="toy",
...            history=[{"iteration": 0, "loss": 0.69, "accuracy": 0.5}],
...            baseline_history=[{"iteration": 0, "loss": 0.69, "accuracy": 0.5}],
...            seconds={"encoding": 0.1, "total": 0.2})
>>> Report.from_json(r.to_json()) == r
True
>>> print(r.summary_table().splitlines()[0])
protocol  dataset  accuracy  baseline  setup s  encoding s  communication s  computation s  decoding s  update s  total s
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["Report", "PHASES", "machine_description", "format_table"]

#: Seed 004 Table II columns, the phases every protocol reports seconds for.
PHASES = ("encoding", "communication", "computation", "decoding", "update")


def machine_description() -> str:
    """A one-line description of this machine for benchmark tables."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def _plain(x):
    """JSON-able copies of NumPy scalars and arrays."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


@dataclass
class Report:
    """One protocol run, serialisable to JSON."""

    protocol: str
    parameters: dict
    dataset: str = ""
    history: list = field(default_factory=list)
    baseline_history: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    bytes: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    #: the converged float optimum of the same objective (metrics, solver), when the run has one
    optimum: dict = field(default_factory=dict)

    @classmethod
    def new(cls, protocol: str, parameters: dict, **kwargs) -> "Report":
        """A report stamped with the date, the machine and the command line."""
        import sys

        meta = {"date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "machine": machine_description(), "command": " ".join(sys.argv)}
        meta.update(kwargs.pop("meta", {}))
        return cls(protocol, parameters, meta=meta, **kwargs)

    # -- final numbers ---------------------------------------------------------------------

    def final(self, key: str = "accuracy", baseline: bool = False):
        hist = self.baseline_history if baseline else self.history
        return hist[-1].get(key) if hist else None

    # -- JSON --------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return _plain(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def save(self, path) -> None:
        with open(path, "w") as fh:
            fh.write(self.to_json())

    @classmethod
    def from_json(cls, text: str) -> "Report":
        data = json.loads(text)
        missing = {"protocol", "parameters"} - set(data)
        if missing:
            raise ValueError(f"not a pyprivml report: missing {sorted(missing)}")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    @classmethod
    def load(cls, path) -> "Report":
        with open(path) as fh:
            return cls.from_json(fh.read())

    # -- tables ------------------------------------------------------------------------------

    def summary_row(self) -> dict:
        metric = next((m for m in ("accuracy", "r2", "mad") if self.final(m) is not None), "accuracy")

        def pct(v):
            return "-" if v is None else (f"{100 * v:.2f}%" if metric == "accuracy" else f"{v:.4f}")

        row = {"protocol": self.protocol, "dataset": self.dataset,
               metric: pct(self.final(metric)), "baseline": pct(self.final(metric, baseline=True))}
        if self.optimum:
            row["optimum"] = pct(self.optimum.get(metric))
        for phase in ("setup", *PHASES, "total"):  # setup: warm-up and the wrap-around proof, outside Table II
            v = self.seconds.get(phase)
            row[f"{phase} s"] = "-" if v is None else f"{v:.3f}"
        return row

    def summary_table(self) -> str:
        return format_table([self.summary_row()])


def format_table(rows: list) -> str:
    """Left-aligned plain-text table of dicts sharing their keys (the first row's order)."""
    if not rows:
        return ""
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r.get(k, ""))) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys).rstrip()]
    for r in rows:
        lines.append("  ".join(str(r.get(k, "")).ljust(widths[k]) for k in keys).rstrip())
    return "\n".join(lines)
