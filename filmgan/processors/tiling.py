"""Run an image-to-image function on frames too large for memory: overlapping tiles, feathered seams.

The frame is covered by tiles of at most ``tile`` x ``tile`` pixels that overlap by ``overlap`` pixels
(tile origins are multiples of ``align`` so a network's stride-2 sampling grid is the same in every tile).
Each tile's result is weighted by a separable cosine ramp across the overlap and the weighted results are
normalised by the summed weights: the weights form a partition of unity, so a smooth transition replaces a
hard seam. The outer quarter of every overlap gets weight zero at the inner tile edge, which discards
the pixels that saw the tile border (padding) instead of image context. For a network whose receptive
field radius is at most that margin the tiled result equals the untiled one.

Networks with instance normalisation see different statistics in every tile, so tiles disagree in colour
and tone, and feathering alone turns that into visible bands. ``reference`` fixes it: a whole-frame
result computed at a reduced size (consistent everywhere) supplies the low frequencies and each tile only
its high frequencies (``tile - blur(tile) + blur(reference)``, Gaussian of ``sigma`` px), the split of
Laplacian-pyramid blending (Burt & Adelson 1983).

numpy + OpenCV only (no torch): the function is usually ``Engine.run``.
"""

from __future__ import annotations

from typing import Callable

import cv2
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


def _spans(length: int, tile: int, overlap: int, align: int) -> list[tuple[int, int]]:
    return [(s, min(length, s + tile)) for s in _starts(length, tile, overlap, align)]


def plan_tiles(height: int, width: int, tile: int, overlap: int, align: int = 8) -> list[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) of every tile; tiles are ``tile`` pixels (or the whole axis when it is shorter)."""
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    return [(y0, y1, x0, x1) for y0, y1 in _spans(height, tile, overlap, align) for x0, x1 in _spans(width, tile, overlap, align)]


def _ramp(n: int, lead: int, trail: int) -> np.ndarray:
    """1-D weights of a tile of length ``n`` that overlaps its neighbours by ``lead`` / ``trail`` pixels:
    zero over the outer quarter of each overlap, then a cosine ramp to one over its middle half. Two
    neighbours' ramps over the same overlap sum to one (0.5 - 0.5 cos t + 0.5 - 0.5 cos(pi - t) = 1)."""
    w = np.ones(n, np.float64)
    d = np.arange(n, dtype=np.float64) + 0.5
    for size, dist in ((lead, d), (trail, d[::-1])):
        if size > 0:
            margin = size / 4.0
            t = np.clip((dist - margin) / (size - 2.0 * margin), 0.0, 1.0)
            w = np.minimum(w, 0.5 - 0.5 * np.cos(np.pi * t))
    return w


def _axis_weights(spans: list[tuple[int, int]]) -> list[np.ndarray]:
    out = []
    for i, (a, b) in enumerate(spans):
        lead = spans[i - 1][1] - a if i > 0 else 0
        trail = b - spans[i + 1][0] if i + 1 < len(spans) else 0
        out.append(_ramp(b - a, lead, trail))
    return out


def tile_weights(height: int, width: int, tile: int, overlap: int, align: int = 8) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """Every tile box with its (h, w) blend weights (separable ramps on the sides with a neighbour)."""
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    ys, xs = _spans(height, tile, overlap, align), _spans(width, tile, overlap, align)
    wy, wx = _axis_weights(ys), _axis_weights(xs)
    return [((y0, y1, x0, x1), np.outer(wy[i], wx[j])) for i, (y0, y1) in enumerate(ys) for j, (x0, x1) in enumerate(xs)]


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of (N, C, h, w) float over h, w (reflected borders)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        hwc = np.ascontiguousarray(x[i].transpose(1, 2, 0))
        blurred = cv2.GaussianBlur(hwc, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        out[i] = (blurred if blurred.ndim == 3 else blurred[..., None]).transpose(2, 0, 1)
    return out


def run_tiled(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, tile: int, overlap: int = 64, align: int = 8,
              reference: np.ndarray | None = None, sigma: float = 8.0) -> np.ndarray:
    """``fn`` over (N, C, H, W) float32 ``x`` in feathered tiles; ``fn`` keeps the spatial size.

    ``reference`` (N, C', H, W), optional: a consistent whole-frame estimate of the output whose low
    frequencies (below a Gaussian of ``sigma`` px) replace each tile's. Returns float32 (N, C', H, W).
    When the frame fits in one tile this is exactly ``fn(x)``.
    """
    n, _, h, w = x.shape
    tiles = tile_weights(h, w, tile, overlap, align)
    if len(tiles) == 1:
        return fn(x)
    acc: np.ndarray | None = None
    total = np.zeros((h, w), np.float64)
    for (y0, y1, x0, x1), weight in tiles:
        out = fn(np.ascontiguousarray(x[:, :, y0:y1, x0:x1]))
        if out.shape[-2:] != (y1 - y0, x1 - x0):
            raise ValueError(f"tiled function changed the tile size {(y1 - y0, x1 - x0)} -> {out.shape[-2:]}")
        if reference is not None:
            out = out - _blur(out, sigma) + _blur(np.ascontiguousarray(reference[:, :, y0:y1, x0:x1]), sigma)
        if acc is None:
            acc = np.zeros((n, out.shape[1], h, w), np.float64)
        acc[:, :, y0:y1, x0:x1] += out * weight
        total[y0:y1, x0:x1] += weight
    return (acc / np.maximum(total, 1e-12)).astype(np.float32)
