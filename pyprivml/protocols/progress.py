"""One progress convention for every protocol: rank 0 shows a tqdm bar, advanced once per round.

Roles take ``progress`` (a tqdm-like object with ``update`` and ``set_postfix``, or None) and call
:func:`advance` after each iteration or round; the command line creates the bar on rank 0 only
and ``--no-progress`` turns it off.

>>> bar = progress_bar(2, "demo", enabled=False)
>>> bar is None
True
>>> advance(bar, {"loss": 0.5})       # a no-op without a bar
"""

from __future__ import annotations

__all__ = ["progress_bar", "advance", "SHOWN"]

#: The metrics shown beside the bar, when the run reports them.
SHOWN = ("loss", "accuracy", "r2", "mad", "eta")


def progress_bar(total: int, desc: str, *, enabled: bool = True, rank: int = 0):
    """A tqdm bar of ``total`` steps on rank 0 when ``enabled``, else None."""
    if not enabled or rank != 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="it", leave=False)


def advance(progress, metrics: dict | None = None) -> None:
    """One step of ``progress`` (if any), with the shown metrics of this step beside it."""
    if progress is None:
        return
    shown = {k: f"{v:.4g}" for k, v in (metrics or {}).items() if k in SHOWN and isinstance(v, (int, float))}
    if shown:
        progress.set_postfix(shown, refresh=False)
    progress.update(1)
