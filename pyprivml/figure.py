"""One headless figure helper and one save, for every plot of the package (matplotlib's Agg backend).

>>> import os, tempfile
>>> fig, axes = panels(2, 8)
>>> len(axes), os.path.getsize(save(fig, os.path.join(tempfile.mkdtemp(), "x.png"), "two panels")) > 0
(2, True)
"""

from __future__ import annotations

__all__ = ["panels", "save"]


def panels(ncols: int, width: float):
    """A headless figure with one row of ``ncols`` axes (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, 4), squeeze=False)
    return fig, list(axes[0])


def save(fig, out_path: str, title: str | None) -> str:
    """Title, lay out, write the PNG and free the figure."""
    import matplotlib.pyplot as plt

    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return out_path
