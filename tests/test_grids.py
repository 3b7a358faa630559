"""repro.data.grids: one tiling for every grid (study cells and the sample CLI)."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest

from repro.data import grids


@pytest.mark.parametrize("shape", [(10, 784), (10, 28, 28), (10, 1, 28, 28)])
def test_tile_places_each_image_in_its_cell_with_white_borders(shape) -> None:
    x = np.linspace(-1, 1, 10, dtype=np.float32)[:, None] * np.ones((10, 784), np.float32)
    canvas = grids.tile(x.reshape(shape), cols=4)
    assert canvas.shape == (3 * 29 + 1, 4 * 29 + 1)
    for i in range(10):
        r, c = divmod(i, 4)
        cell = canvas[1 + r * 29 : 29 + r * 29, 1 + c * 29 : 29 + c * 29]
        assert np.allclose(cell, (x[i, 0] + 1) / 2)  # [-1, 1] shown as [0, 1]
    assert (canvas[0] == 1).all() and (canvas[:, 0] == 1).all() and (canvas[-29:, -29:] == 1).all()  # empty cells white


def test_save_grid_writes_the_tiling_as_a_png(tmp_path) -> None:
    x = np.random.default_rng(0).uniform(-1, 1, (16, 1, 28, 28)).astype(np.float32)
    grids.save_grid(tmp_path / "g.png", x)
    img = matplotlib.image.imread(tmp_path / "g.png")
    assert img.shape[:2] == (2 * 29 + 1, 8 * 29 + 1)
    np.testing.assert_allclose(img[..., 0], grids.tile(x), atol=2 / 255)  # the gray colour map has 256 levels
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]
