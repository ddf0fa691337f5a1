"""Which hues a colorizer uses, against the truth's.

A colorizer can score a fair mean ΔE while painting everything in two hues (sepia and sky blue). These
metrics look at the hue distribution of the coloured pixels (CIELAB chroma above a threshold) in 15-degree
sectors of the Lab hue angle ``atan2(b, a)``:

* ``hue_histogram``: sector counts of one image (sum them over images to pool);
* ``hue_divergence``: Jensen-Shannon divergence (natural log, so in [0, ln 2]) between two histograms;
* ``green_share``: the share of coloured pixels in the green sectors (Lab hue 105-180 degrees), whose
  absence is the signature of a sepia toner (grass olive, foliage straw).
"""

from __future__ import annotations

import numpy as np

from .flicker import js_divergence

SECTOR_DEGREES = 15
CHROMA_MIN = 10.0
GREEN_DEGREES = (105.0, 180.0)


def hue_histogram(image: np.ndarray, chroma_min: float = CHROMA_MIN, sector: int = SECTOR_DEGREES) -> np.ndarray:
    """Counts (360 / sector,) of the pixels of a uint8 RGB image with Lab chroma > ``chroma_min``, by hue."""
    from ..video.color import rgb_to_lab

    lab = rgb_to_lab(image)
    a, b = lab[..., 1], lab[..., 2]
    coloured = np.hypot(a, b) > chroma_min
    hue = np.degrees(np.arctan2(b[coloured], a[coloured])) % 360.0
    return np.bincount((hue // sector).astype(np.int64) % (360 // sector), minlength=360 // sector).astype(np.float64)


def _normalised(hist: np.ndarray) -> np.ndarray:
    total = hist.sum()
    return hist / total if total > 0 else np.full_like(hist, 1.0 / hist.size, dtype=np.float64)


def hue_divergence(hist: np.ndarray, truth: np.ndarray) -> float:
    """Jensen-Shannon divergence (nats) between two hue histograms; 0 = same hue distribution.
    An empty histogram (a grey output) counts as uniform: no hue preferred."""
    return float(js_divergence(_normalised(hist), _normalised(truth)))


def green_share(hist: np.ndarray, sector: int = SECTOR_DEGREES) -> float:
    """Share of the coloured pixels whose hue lies in 105-180 degrees (0 for a histogram with none)."""
    total = hist.sum()
    lo, hi = (int(d // sector) for d in GREEN_DEGREES)
    return float(hist[lo:hi].sum() / total) if total > 0 else 0.0
