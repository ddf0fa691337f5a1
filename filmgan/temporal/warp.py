"""Backward warping of images (and flow fields) with a dense flow, numpy + OpenCV only.

``warp(image, f)`` returns ``out(p) = image(p + f(p))`` (bilinear, border replicated). With the backward
flow ``f = f_{t->t-1}`` (see :mod:`filmgan.temporal.flow`) it brings frame t-1 into frame t.

The training code has a torch ``grid_sample`` twin of this function (normalised coordinates with
``align_corners=True`` and ``padding_mode='border'`` give the same sampling); it lives with the losses so
this module stays importable without torch.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..errors import InputError


@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> np.ndarray:
    """(H, W, 2) float32 pixel coordinates (x, y); cached and read-only."""
    grid = np.empty((h, w, 2), np.float32)
    grid[..., 0] = np.arange(w, dtype=np.float32)[None, :]
    grid[..., 1] = np.arange(h, dtype=np.float32)[:, None]
    grid.flags.writeable = False
    return grid


def warp(image: np.ndarray, f: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Sample ``image`` at ``p + f(p)`` for every pixel p; returns the image's dtype and shape.

    ``image`` is (H, W) or (H, W, C) with C <= 4, uint8 or float (float64 is computed in float32);
    ``f`` is (H, W, 2) in pixels. Out-of-frame samples take the nearest border pixel.
    """
    if f.ndim != 3 or f.shape[2] != 2:
        raise InputError(f"flow must be (H, W, 2), got {f.shape}")
    if image.shape[:2] != f.shape[:2]:
        raise InputError(f"image {image.shape[:2]} and flow {f.shape[:2]} differ in size")
    if image.ndim == 3 and image.shape[2] > 4:
        raise InputError(f"warp supports at most 4 channels, got {image.shape[2]}")
    src = image.astype(np.float32) if image.dtype == np.float64 else image
    coords = cv2.add(_grid(*f.shape[:2]), f.astype(np.float32, copy=False))
    out = cv2.remap(src, coords, None, interpolation, borderMode=cv2.BORDER_REPLICATE)
    if out.ndim == 2 and image.ndim == 3:  # OpenCV drops a trailing singleton channel
        out = out[..., None]
    return out.astype(image.dtype, copy=False)
