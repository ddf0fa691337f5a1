"""Reference photos as exemplars: their colours carried to where a frame shows the same content.

A palette (:mod:`.reference`) says which colours a reference has, not where they belong. This module finds,
for every position of a frame, the positions of the reference photos that look like it -- in the
colorizer's own encoder features of both grey images (strides 8 and 16, each mean-centred and L2-normalised
per position, upsampled to one grid and concatenated), compared by cosine similarity -- and takes their
colour: a softmax over the similarities with a low ``temperature`` averages the ab of the best matches.
The best match's similarity is the confidence: at ``confident_at`` and above the reference's colour
replaces the network's, below ``confident_from`` the network's stays, linearly in between. A photo of the
same scene lends its colours almost everywhere; a different photo of similar content only where its
features agree closely, and the palette prior does the rest.

This is the correspondence step of exemplar-based colorization (Zhang et al., "Deep Exemplar-based Video
Colorization", CVPR 2019, who match VGG features of the grey target and the reference), without a trained
colorization network after it: the colorizer's own prediction fills what the reference does not show.

numpy and OpenCV only; the features come from the engine (``engine.match_features``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from ..errors import ConfigError
from ..video.color import normalize_l, rgb_to_lab

FeatureFn = Callable[[np.ndarray], dict]  # network input (N, 1, h, w) -> {stride: (N, C, h/s, w/s)}


@dataclass(frozen=True)
class ExemplarConfig:
    """Chosen on the validation split (README, "Guided colorization"). ``stride``: the matching grid, in
    render pixels, coarser where an image would have more than ``max_positions`` grid positions (the
    matching costs their product: at most ~7 GFLOP a frame against one reference, whatever the render
    size); ``temperature``: of the softmax over cosine similarities; ``confident_from`` /
    ``confident_at``: the similarities where the reference's colour starts to / fully replaces the
    network's; ``max_side``: references are matched at this size (multiples of ``align``)."""

    stride: int = 4
    temperature: float = 0.02
    confident_from: float = 0.7
    confident_at: float = 0.95
    max_side: int = 256
    max_positions: int = 5120
    align: int = 32
    chunk_elements: int = 1 << 23  # similarities held at once (32 MB), whatever the number of references

    def __post_init__(self) -> None:
        if self.stride < 1 or self.max_positions < 1 or self.temperature <= 0 or not -1.0 <= self.confident_from < self.confident_at or self.max_side < self.align:
            raise ConfigError(f"exemplar: stride >= 1, max_positions >= 1, temperature > 0, -1 <= confident_from < confident_at, max_side >= align needed, got {self}")


def grid_shape(h: int, w: int, config: ExemplarConfig) -> tuple[int, int]:
    """The matching grid (gh, gw) of an h x w image: every ``stride`` pixels, coarser past ``max_positions``."""
    stride = max(config.stride, math.ceil(math.sqrt(h * w / config.max_positions)))
    return max(1, h // stride), max(1, w // stride)


def feature_grid(features: dict, size: tuple[int, int]) -> np.ndarray:
    """(N, C, h, w) unit-length features on the ``size`` = (h, w) grid from {stride: (N, C_s, ., .)}:
    each tap mean-centred over the image and normalised per position, resized, concatenated, renormalised."""
    parts = []
    for stride in sorted(features):
        f = np.asarray(features[stride], np.float32)
        f = f - f.mean(axis=(2, 3), keepdims=True)
        f = f / (np.linalg.norm(f, axis=1, keepdims=True) + 1e-6)
        parts.append(np.stack([_resize_channels(x, size) for x in f]))
    grid = np.concatenate(parts, axis=1)
    return grid / (np.linalg.norm(grid, axis=1, keepdims=True) + 1e-6)


def _resize_channels(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(C, h, w) -> (C, H, W), bilinear with half-pixel centres, in slices OpenCV accepts."""
    h, w = size
    if x.shape[1:] == (h, w):
        return x
    out = [cv2.resize(np.ascontiguousarray(x[i:i + 256].transpose(1, 2, 0)), (w, h), interpolation=cv2.INTER_LINEAR) for i in range(0, len(x), 256)]
    return np.concatenate([o.reshape(h, w, -1) for o in out], axis=2).transpose(2, 0, 1)


def matching_size(shape: tuple[int, int], config: ExemplarConfig) -> tuple[int, int]:
    """(w, h) a reference of ``shape`` = (h, w) is matched at: at most ``max_side``, multiples of ``align``."""
    h, w = shape
    s = min(1.0, config.max_side / max(h, w))
    return tuple(max(config.align, int(round(v * s)) // config.align * config.align) for v in (w, h))


def frame_grid(x: np.ndarray, features_of: FeatureFn, config: "ExemplarConfig") -> np.ndarray:
    """The unit features (N, C, gh, gw) on the matching grid (:func:`grid_shape`) of frames whose network
    input is ``x`` (N, 1, h, w)."""
    return feature_grid(features_of(x), grid_shape(x.shape[2], x.shape[3], config))


class Exemplar:
    """Reference images' features and colours on the matching grid; :meth:`transfer` carries them to frames.

    Built from Lab images (L 0-100, ab; :meth:`from_images` for RGB photos). The references' features are
    computed on first use with the engine's ``match_features`` (the same network as the frames'), so a guide
    is built before the engine exists and works with any engine that gives them.
    """

    def __init__(self, labs: Sequence[np.ndarray], config: ExemplarConfig | None = None):
        if not labs:
            raise ConfigError("an exemplar needs at least one reference image")
        self.config = config or ExemplarConfig()
        self._labs = [cv2.resize(np.asarray(lab, np.float32), matching_size(lab.shape[:2], self.config), interpolation=cv2.INTER_AREA)
                      for lab in labs]
        self._features: np.ndarray | None = None  # (C, M) over every reference position
        self._ab: np.ndarray | None = None  # (M, 2)

    @classmethod
    def from_images(cls, images: Sequence[np.ndarray], config: ExemplarConfig | None = None) -> "Exemplar":
        """From RGB reference photos (uint8 or uint16)."""
        return cls([rgb_to_lab(im) for im in images], config)

    def _prepare(self, features_of: FeatureFn) -> None:
        if self._features is not None:
            return
        feats, abs_ = [], []
        for lab in self._labs:
            h, w = grid_shape(lab.shape[0], lab.shape[1], self.config)
            x = normalize_l(lab[None, None, :, :, 0]).astype(np.float32)
            feats.append(feature_grid(features_of(x), (h, w))[0].reshape(-1, h * w))
            abs_.append(cv2.resize(np.ascontiguousarray(lab[..., 1:]), (w, h), interpolation=cv2.INTER_AREA).reshape(-1, 2))
        self._features = np.concatenate(feats, axis=1)
        self._ab = np.concatenate(abs_).astype(np.float32)

    def transfer(self, grid: np.ndarray, size: tuple[int, int], features_of: FeatureFn) -> tuple[np.ndarray, np.ndarray]:
        """For one frame of unit features ``grid`` (C, gh, gw) (:func:`frame_grid`): the references' ab
        (h, w, 2) carried to it and its weight (h, w) in [0, 1], at ``size`` = (h, w)."""
        self._prepare(features_of)
        c = self.config
        h, w = size
        _, gh, gw = grid.shape
        ab_grid, best = self._match(grid.reshape(grid.shape[0], -1).T)
        ab = cv2.resize(ab_grid.reshape(gh, gw, 2), (w, h), interpolation=cv2.INTER_LINEAR)
        sim = cv2.resize(best.reshape(gh, gw), (w, h), interpolation=cv2.INTER_LINEAR)
        return ab, np.clip((sim - c.confident_from) / (c.confident_at - c.confident_from), 0.0, 1.0)

    def _match(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P, C) unit features -> the softmax-weighted reference ab (P, 2) and the best similarity (P,)."""
        ab = np.empty((len(queries), 2), np.float32)
        best = np.empty(len(queries), np.float32)
        rows = max(1, self.config.chunk_elements // self._features.shape[1])
        for start in range(0, len(queries), rows):
            p = queries[start:start + rows] @ self._features  # cosine similarities
            top = p.max(axis=1, keepdims=True)
            p -= top
            p *= 1.0 / self.config.temperature
            np.exp(p, out=p)  # in place: the (chunk, M) array is the largest thing here
            ab[start:start + len(p)] = (p @ self._ab) / p.sum(axis=1, keepdims=True)
            best[start:start + len(p)] = top[:, 0]
        return ab, best
