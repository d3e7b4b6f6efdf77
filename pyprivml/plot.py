"""PNG curves from run reports: test accuracy and training cross entropy per iteration against the
float baseline (seed 004 Figures 4 and 5).

>>> import tempfile, os
>>> from pyprivml.report import Report
>>> h = [{"iteration": i, "loss": 0.7 / (i + 1), "accuracy": 0.5 + 0.04 * i} for i in range(5)]
>>> out = os.path.join(tempfile.mkdtemp(), "curves.png")
>>> plot_reports([Report("codedprivateml", {}, "toy", h, h)], out) == out and os.path.getsize(out) > 0
True
"""

from __future__ import annotations

from .figure import panels, save

__all__ = ["plot_reports", "plot_scaling", "panels", "save"]


def plot_reports(reports, out_path: str, *, title: str | None = None) -> str:
    """Draw accuracy (left) and loss (right) per iteration for each report and its baseline."""
    reports = list(reports)
    if not reports:
        raise ValueError("plot_reports needs at least one report")
    if all(r.protocol == "gal" for r in reports):  # GAL has its own panels (seed 003 Figure 4)
        from .protocols.gal.plot import plot_gal_reports

        return plot_gal_reports(reports, out_path, title=title)
    metric = "accuracy" if any("accuracy" in h for r in reports for h in r.history) else "r2"
    fig, (ax_acc, ax_loss) = panels(2, 11)
    baseline_drawn = False
    for r in reports:
        label = r.protocol
        params = r.parameters
        if "N" in params:
            label += f" (N={params['N']}, K={params.get('K')}, T={params.get('T')}, r={params.get('r')})"
        it = [h["iteration"] for h in r.history]
        if any(metric in h for h in r.history):
            ax_acc.plot(it, [100 * h.get(metric, float("nan")) if metric == "accuracy" else h.get(metric)
                             for h in r.history], label=label)
        ax_loss.plot(it, [h["loss"] for h in r.history], label=label)
        if r.baseline_history and not baseline_drawn:
            bit = [h["iteration"] for h in r.baseline_history]
            name = "conventional (float, true sigmoid)"
            if any(metric in h for h in r.baseline_history):
                ax_acc.plot(bit, [100 * h.get(metric, float("nan")) if metric == "accuracy" else h.get(metric)
                                  for h in r.baseline_history], "k--", label=name)
            ax_loss.plot(bit, [h["loss"] for h in r.baseline_history], "k--", label=name)
            baseline_drawn = True
    ax_acc.set_xlabel("iteration")
    ax_acc.set_ylabel("test accuracy (%)" if metric == "accuracy" else "test R^2")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("training cross entropy" if metric == "accuracy" else "training MSE")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save(fig, out_path, title or f"{reports[0].dataset}: {', '.join(sorted({r.protocol for r in reports}))}")


def plot_scaling(rows, out_path: str, *, title: str | None = None) -> str:
    """Total training time against the number of workers N, one panel per dataset and one line per
    protocol (seed 004 Figure 3). ``rows`` are dicts with protocol, N, dataset, total_s (and
    optionally iterations), as written by ``benchmarks/simulate_figure3.py --json``."""
    rows = list(rows)
    if not rows:
        raise ValueError("plot_scaling needs at least one row")
    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = panels(len(datasets), 5.5 * len(datasets))
    for ax, ds in zip(axes, datasets):
        mine = [r for r in rows if r["dataset"] == ds]
        for proto in sorted({r["protocol"] for r in mine}):
            pts = sorted((r["N"], r["total_s"]) for r in mine if r["protocol"] == proto)
            ax.plot(*zip(*pts), marker="o", label=proto.replace("codedprivateml-", "CodedPrivateML case "))
        iterations = mine[0].get("iterations")
        ax.set_title(f"{ds}" + (f", {iterations} iterations" if iterations else ""))
        ax.set_xlabel("N (workers)")
        ax.set_ylabel("total training time (s)")
        ax.grid(alpha=0.3)
        ax.legend()
    return save(fig, out_path, title)
