"""Run an image-to-image function on frames too large for memory: overlapping tiles, feathered seams.

The frame is covered by tiles of at most ``tile`` x ``tile`` pixels that overlap by ``overlap`` pixels
(tile origins are multiples of ``align`` so a network's stride-2 sampling grid is the same in every tile).
Each tile's result is weighted by a separable cosine ramp across the overlap and the weighted results are
normalised by the summed weights: the weights form a partition of unity, so a smooth transition replaces a
hard seam. The outermost ``overlap / 4`` pixels of each inner tile edge get weight zero, which discards
the pixels that saw the tile border (padding) instead of image context. For a network whose receptive
field radius is at most that margin the tiled result equals the untiled one; networks with instance
normalisation see slightly different statistics per tile, which the feathering turns into a gentle
gradient instead of a grid.

numpy only (no torch): the function is usually ``Engine.run``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def _starts(length: int, tile: int, overlap: int, align: int) -> list[int]:
    """Tile origins along one axis, spread evenly, multiples of ``align``, neighbours overlapping by at
    least ``overlap``; the last tile ends at the frame edge (it may be up to ``align - 1`` pixels short)."""
    if length <= tile:
        return [0]
    step = max(align, tile - overlap - align)
    count = 1 + -(-(length - tile) // step)
    starts = [i * (length - tile) // (count - 1) // align * align for i in range(count - 1)]
    return [*starts, -(-(length - tile) // align) * align]


def plan_tiles(height: int, width: int, tile: int, overlap: int, align: int = 8) -> list[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) of every tile; tiles are ``tile`` pixels (or the whole axis when it is shorter)."""
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    out = []
    for y0 in _starts(height, tile, overlap, align):
        for x0 in _starts(width, tile, overlap, align):
            out.append((y0, min(height, y0 + tile), x0, min(width, x0 + tile)))
    return out


def _ramp(n: int, lead: bool, trail: bool, overlap: int) -> np.ndarray:
    """1-D weights of a tile of length ``n``: cosine ramps over ``overlap`` on sides with a neighbour."""
    w = np.ones(n, np.float64)
    margin = overlap // 4
    span = max(1, overlap - 2 * margin)
    d = np.arange(n, dtype=np.float64)
    r = np.clip((d - margin + 0.5) / span, 0.0, 1.0)
    ramp = 0.5 - 0.5 * np.cos(np.pi * r)
    if lead:
        w = np.minimum(w, ramp)
    if trail:
        w = np.minimum(w, ramp[::-1])
    return w


def feather_weights(box: tuple[int, int, int, int], height: int, width: int, overlap: int) -> np.ndarray:
    """(h, w) blend weights of one tile: ramps only on the sides that are inside the frame."""
    y0, y1, x0, x1 = box
    wy = _ramp(y1 - y0, y0 > 0, y1 < height, overlap)
    wx = _ramp(x1 - x0, x0 > 0, x1 < width, overlap)
    return np.outer(wy, wx)


def run_tiled(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, tile: int, overlap: int = 64, align: int = 8) -> np.ndarray:
    """``fn`` over (N, C, H, W) float32 ``x`` in feathered tiles; ``fn`` keeps the spatial size.

    Returns float32 (N, C', H, W). When the frame fits in one tile this is exactly ``fn(x)``.
    """
    n, _, h, w = x.shape
    boxes = plan_tiles(h, w, tile, overlap, align)
    if len(boxes) == 1:
        return fn(x)
    acc: np.ndarray | None = None
    total = np.zeros((h, w), np.float64)
    for box in boxes:
        y0, y1, x0, x1 = box
        out = fn(np.ascontiguousarray(x[:, :, y0:y1, x0:x1]))
        if out.shape[-2:] != (y1 - y0, x1 - x0):
            raise ValueError(f"tiled function changed the tile size {(y1 - y0, x1 - x0)} -> {out.shape[-2:]}")
        if acc is None:
            acc = np.zeros((n, out.shape[1], h, w), np.float64)
        weight = feather_weights(box, h, w, overlap)
        acc[:, :, y0:y1, x0:x1] += out * weight
        total[y0:y1, x0:x1] += weight
    return (acc / np.maximum(total, 1e-12)).astype(np.float32)
