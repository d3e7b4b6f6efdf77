"""GAL's Figure 4: test performance, assisted learning rate η and assistance weights per round.

Reads the :class:`pyprivml.report.Report` that ``pyprivml train gal --report`` writes (its history
holds ``loss``, ``accuracy`` or ``mad``, ``eta`` and ``weights`` per round).

>>> import tempfile, os
>>> from pyprivml.report import Report
>>> h = [{"iteration": 0, "loss": None, "mad": 60.0, "eta": None, "weights": None}] + [
...     {"iteration": t, "loss": 1.0 / t, "mad": 50.0 - t, "eta": 1.0 / t, "weights": [0.5, 0.5]}
...     for t in (1, 2)]
>>> out = os.path.join(tempfile.mkdtemp(), "gal.png")
>>> plot_gal_reports([Report("gal", {}, "diabetes", h)], out) == out and os.path.getsize(out) > 0
True
"""

from __future__ import annotations

import numpy as np

from ...figure import panels, save


def plot_gal_reports(reports, out_path: str, *, title: str | None = None) -> str:
    """Three panels per seed Figure 4 (a-c): metric, η and weights against the assistance round."""
    reports = list(reports)
    if not reports:
        raise ValueError("plot_gal_reports needs at least one report")
    fig, (ax_m, ax_eta, ax_w) = panels(3, 15)
    for r in reports:
        h = r.history
        key = "accuracy" if any("accuracy" in x for x in h) else "mad"
        scale = 100.0 if key == "accuracy" else 1.0
        label = f"{r.protocol} {r.parameters.get('model', '')} M={r.parameters.get('orgs', '?')}"
        ax_m.plot([x["iteration"] for x in h], [scale * x[key] for x in h], marker="o", label=label)
        ax_m.set_ylabel("test accuracy (%)" if key == "accuracy" else "test MAD")
        rounds = [x["iteration"] for x in h if x.get("eta") is not None]
        ax_eta.plot(rounds, [x["eta"] for x in h if x.get("eta") is not None], marker="o", label=label)
        weights = np.array([x["weights"] for x in h if x.get("weights") is not None])
        if len(reports) == 1 and weights.size:
            for m in range(weights.shape[1]):
                ax_w.plot(rounds, weights[:, m], marker=".", label=f"m={m + 1}")
    ax_m.set_title("performance")
    ax_eta.set_title("gradient assisted learning rate η")
    ax_w.set_title("gradient assistance weights")
    ax_w.set_ylim(0, 1)
    for ax in (ax_m, ax_eta, ax_w):
        ax.set_xlabel("assistance round t")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save(fig, out_path, title or f"GAL on {reports[0].dataset}")
