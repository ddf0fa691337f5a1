"""Tiny frames: the networks need a minimum input size (reflection padding and instance/group
normalisation fail on 1-2 pixel feature maps at their deepest level), so a render smaller than
``MIN_SIDE`` on a side is brought up to it here, in the task layer, and the result is brought back: the
exported engines keep their contract and every frame size works, down to 1x1."""

from __future__ import annotations

import math

import cv2
import numpy as np

MIN_SIDE = 64  # px: a stride-32 network (the colorizers' encoders) still sees a 2x2 map at its bottleneck
STYLE_MIN_SIDE = 24  # px: the style nets downsample 4x; 6x6 at the bottom keeps reflection pads and norms valid


def padded_dims(width: int, height: int, align: int, min_side: int = MIN_SIDE) -> tuple[int, int]:
    """(w, h) scaled up, aspect kept, so that both sides are at least ``min_side`` (multiples of
    ``align``); unchanged when they already are."""
    short = min(width, height)
    if short >= min_side:
        return width, height
    scale = min_side / short
    return (max(min_side, math.ceil(width * scale / align) * align),
            max(min_side, math.ceil(height * scale / align) * align))


def pad_to_min(x: np.ndarray, align: int, min_side: int = MIN_SIDE) -> np.ndarray:
    """(N, C, h, w) network input mirrored out to at least ``min_side`` per side (multiples of ``align``);
    crop the output back with ``[..., :h, :w]``."""
    h, w = x.shape[-2:]
    th = h if h >= min_side else max(min_side, math.ceil(h / align) * align)
    tw = w if w >= min_side else max(min_side, math.ceil(w / align) * align)
    if (th, tw) == (h, w):
        return x
    out = np.empty((*x.shape[:2], th, tw), x.dtype)
    border = cv2.BORDER_REFLECT_101 if min(h, w) > 1 else cv2.BORDER_REPLICATE
    for i in range(x.shape[0]):
        hwc = np.ascontiguousarray(x[i].transpose(1, 2, 0))
        padded = cv2.copyMakeBorder(hwc, 0, th - h, 0, tw - w, border)
        out[i] = (padded if padded.ndim == 3 else padded[..., None]).transpose(2, 0, 1)
    return out
