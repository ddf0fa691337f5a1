"""Reference palettes: a colour distribution over the colorizer's ab bins, turned into a prior on its output.

A reference (a period photograph, a keyframe, a set of hint colours) is reduced to its ab histogram over
the network's ``Q`` in-gamut bins (each pixel to its nearest bin), smoothed with a Gaussian over the bin
centres (``sigma`` ab units, as the soft encoding of Zhang et al., ECCV 2016), and mixed with a little of
the uniform distribution. The colorizer's decode then uses ``p'(q|pixel) ∝ p(q|pixel) · h(q)^β``
(``log_prior = β log h``, see ``filmgan.models.semantic``): each pixel keeps the network's opinion of what
its content allows and shifts toward the reference's colours among those -- the global hints of Zhang et
al., "Real-Time User-Guided Image Colorization with Learned Deep Priors" (SIGGRAPH 2017), applied as a
Bayesian prior on the trained network's distribution instead of a trained input.

numpy only: the prior is built anywhere, and run by an engine whose ``prior_bins`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ..errors import ConfigError, InputError
from ..video.color import rgb_to_lab
from ..video.images import read_image

_MAX_SIDE = 256  # references are measured at this size: a palette needs no detail


@dataclass(frozen=True)
class PaletteConfig:
    """How strongly a palette conditions the network (chosen on the validation split; see the README).

    ``beta``: the prior's exponent (0: no effect); ``sigma``: the histogram's smoothing in ab units;
    ``uniform``: the share of the uniform distribution mixed in, so no colour is ruled out entirely;
    ``bands``: lightness bands (1: one palette for all pixels); ``band_prior``: pseudo-count (in pixels, as a
    share of the image) of the whole-image histogram mixed into each band's, so sparse bands stay sane.
    """

    beta: float = 1.0
    sigma: float = 10.0
    uniform: float = 0.02
    bands: int = 1
    band_prior: float = 0.05

    def __post_init__(self) -> None:
        if self.beta < 0 or self.sigma <= 0 or not 0.0 < self.uniform <= 1.0 or self.bands < 1 or self.band_prior < 0:
            raise ConfigError(f"palette: beta >= 0, sigma > 0, uniform in (0, 1], bands >= 1, band_prior >= 0 needed, got {self}")


def nearest_bins(ab: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Index (...,) of the bin nearest to each ab value (..., 2) (Lab units)."""
    flat = ab.reshape(-1, 2).astype(np.float32)
    d = (flat * flat).sum(1)[:, None] - 2.0 * flat @ bins.T + (bins * bins).sum(1)[None, :]
    return np.argmin(d, axis=1).reshape(ab.shape[:-1])


@lru_cache(maxsize=8)
def _smoothing(bins_key: bytes, count: int, sigma: float) -> np.ndarray:
    bins = np.frombuffer(bins_key, np.float32).reshape(count, 2)
    d2 = ((bins[:, None, :] - bins[None, :, :]) ** 2).sum(-1).astype(np.float64)
    return np.exp(-d2 / (2.0 * sigma * sigma))


def ab_histogram(ab: np.ndarray, bins: np.ndarray, weights: np.ndarray | None = None, sigma: float = 10.0,
                 nearest: np.ndarray | None = None) -> np.ndarray:
    """Smoothed, normalised histogram (Q,) of ab values (..., 2) over ``bins`` (Q, 2), optionally weighted;
    ``nearest`` (the values' ``nearest_bins``) when the caller has it already."""
    if ab.shape[-1] != 2 or ab.size == 0:
        raise InputError(f"ab values must be (..., 2) and not empty, got {ab.shape}")
    nearest = nearest_bins(ab, bins) if nearest is None else nearest
    counts = np.bincount(nearest.ravel(), weights=None if weights is None else weights.ravel(), minlength=len(bins)).astype(np.float64)
    if counts.sum() <= 0:
        raise InputError("a colour histogram needs some weight")
    bins32 = np.ascontiguousarray(bins, np.float32)
    smooth = _smoothing(bins32.tobytes(), len(bins32), float(sigma)) @ counts
    return smooth / smooth.sum()


def band_weights(lightness: np.ndarray, bands: int) -> np.ndarray:
    """(K, ...) hat-function weights of L values (0-100) on K bands centred at (k + 0.5) * 100 / K; they sum
    to 1 at every pixel (the same interpolation as ``models.semantic.prior_at``)."""
    pos = np.clip(lightness * (bands / 100.0) - 0.5, 0.0, bands - 1.0)
    return np.stack([np.clip(1.0 - np.abs(pos - k), 0.0, None) for k in range(bands)])


def banded_histogram(lab: np.ndarray, bins: np.ndarray, config: PaletteConfig, weights: np.ndarray | None = None) -> np.ndarray:
    """(Q, K) histograms of Lab pixels (..., 3) per lightness band, each shrunk toward the whole image's."""
    w = np.ones(lab.shape[:-1]) if weights is None else weights
    nearest = nearest_bins(lab[..., 1:], bins)  # once for the whole image and every band
    whole = ab_histogram(lab[..., 1:], bins, w, config.sigma, nearest)
    if config.bands == 1:
        return whole[:, None]
    pseudo = config.band_prior * float(w.sum())
    out = np.empty((len(bins), config.bands))
    for k, band in enumerate(band_weights(lab[..., 0], config.bands)):
        n = float((band * w).sum())
        hist = ab_histogram(lab[..., 1:], bins, band * w, config.sigma, nearest) if n > 0 else whole
        out[:, k] = (n * hist + pseudo * whole) / (n + pseudo) if n + pseudo > 0 else whole
    return out


def image_lab(rgb: np.ndarray, max_side: int = _MAX_SIDE) -> np.ndarray:
    """Lab (h, w, 3) of an RGB uint8 image, downscaled to ``max_side``."""
    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return rgb_to_lab(rgb)


class Palette:
    """A colour distribution over the network's bins, per lightness band: ``hist`` (Q, K), each column
    summing to 1. :meth:`log_prior` is what the engine takes."""

    def __init__(self, hist: np.ndarray, config: PaletteConfig | None = None):
        self.hist = np.asarray(hist, np.float64)
        self.config = config or PaletteConfig()
        if self.hist.ndim != 2 or self.hist.shape[1] != self.config.bands:
            raise ConfigError(f"palette histogram must be (Q, {self.config.bands}), got {self.hist.shape}")

    @classmethod
    def from_images(cls, images: Sequence[np.ndarray], bins: np.ndarray, config: PaletteConfig | None = None) -> "Palette":
        """The mean of the images' histograms (each image counts once, whatever its size)."""
        if not images:
            raise ConfigError("a palette needs at least one reference image")
        config = config or PaletteConfig()
        return cls(np.mean([banded_histogram(image_lab(im), bins, config) for im in images], axis=0), config)

    @classmethod
    def from_files(cls, paths: Sequence[str | Path], bins: np.ndarray, config: PaletteConfig | None = None) -> "Palette":
        return cls.from_images([read_image(p) for p in paths], bins, config)

    @classmethod
    def from_lab(cls, lab: np.ndarray, bins: np.ndarray, weights: np.ndarray | None = None, config: PaletteConfig | None = None) -> "Palette":
        """The palette of Lab pixels (..., 3), optionally weighted (e.g. a keyframe's, or hint colours)."""
        config = config or PaletteConfig()
        return cls(banded_histogram(lab, bins, config, weights), config)

    def log_prior(self) -> np.ndarray:
        """``β log h`` float32, (1, Q) for one band or (1, Q, K), with ``h`` mixed with the uniform
        distribution and each band's maximum at 0."""
        c = self.config
        h = (1.0 - c.uniform) * self.hist + c.uniform / len(self.hist)
        lp = c.beta * np.log(h)
        lp = (lp - lp.max(axis=0, keepdims=True)).astype(np.float32)
        return lp[None, :, 0] if c.bands == 1 else lp[None]
