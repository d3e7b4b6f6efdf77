"""Plots of a GradientCoin run: the loss gap against block height (Theorem 15's linear rate is a
straight line on this log scale), and every peer's tip height over time with its
reorganisations marked (forks are the steps back)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_run"]


def plot_run(summary, path: str, *, optimum: float | None = None) -> str:
    """``summary``: a :class:`.run.RunSummary` (or anything with ``history`` [(height, loss)] and
    ``peers`` [{"rank", "events"}]); ``optimum``: min L, for the gap."""
    from ...figure import panels, save

    fig, (ax_loss, ax_tips) = panels(2, 11)
    heights = np.array([h for h, _ in summary.history])
    loss = np.array([v for _, v in summary.history])
    if optimum is not None:
        gap = np.maximum(loss - optimum, 1e-16)
        ax_loss.semilogy(heights, gap, "o-", ms=3)
        ax_loss.set_ylabel("L(x_t) − L* (log scale)")
    else:
        ax_loss.plot(heights, loss, "o-", ms=3)
        ax_loss.set_ylabel("L(x_t)")
    ax_loss.set_xlabel("block height t (rank 0's best chain)")
    ax_loss.set_title("loss against height")
    ax_loss.grid(alpha=0.3)
    t0 = min((e[0] for p in summary.peers for e in p.get("events", []) if e[0] is not None), default=0.0)
    for p in summary.peers:
        tips = [(e[0] - t0, e[2]) for e in p.get("events", []) if e[1] == "tip" and e[0] is not None]
        if tips:
            ts, hs = zip(*tips)
            line, = ax_tips.step(ts, hs, where="post", lw=1, label=f"peer {p['rank']}")
            reorgs = [(e[0] - t0, e[2]) for e in p.get("events", []) if e[1] == "reorg"]
            if reorgs:
                rt, rh = zip(*reorgs)
                ax_tips.plot(rt, rh, "x", color=line.get_color(), ms=6)
    ax_tips.set_xlabel("seconds since the first block")
    ax_tips.set_ylabel("tip height (x: a reorganisation, at its fork height)")
    ax_tips.set_title("every peer's tip; forks and reorganisations")
    ax_tips.grid(alpha=0.3)
    ax_tips.legend(fontsize=7, ncol=2)
    return save(fig, path, f"GradientCoin, {len(summary.peers)} peers")
