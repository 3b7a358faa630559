"""Image grids: samples tiled into one picture (a study cell's grid.png, ``repro sample --grid``).

Values in [-1, 1] (the generators' range, ``data.to_gan_range``) are shown as [0, 1]; every
image gets a one-pixel white border so that neighbours stay apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from repro.core.atomic import atomic_path


def tile(images: Any, cols: int = 8) -> np.ndarray:
    """(rows · 29 + 1, cols · 29 + 1) canvas in [0, 1] of greyscale images shaped (N, 784),
    (N, 28, 28) or (N, 1, 28, 28), row by row."""
    x = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28)
    rows = max(1, -(-len(x) // cols))
    canvas = np.ones((rows * 29 + 1, cols * 29 + 1), np.float32)
    for i, img in enumerate(x):
        r, c = divmod(i, cols)
        canvas[1 + r * 29 : 1 + r * 29 + 28, 1 + c * 29 : 1 + c * 29 + 28] = np.clip((img + 1) / 2, 0, 1)
    return canvas


def save_grid(path: str | Path, images: Any, cols: int = 8) -> None:
    """PNG of ``tile(images, cols)``, written atomically."""
    import matplotlib  # noqa: PLC0415 - only the writers of grids need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    with atomic_path(path) as tmp:
        plt.imsave(tmp, tile(images, cols), cmap="gray", vmin=0, vmax=1, format="png")
