"""Quality and temporal-consistency metrics.

numpy-only here (``image`` imports scikit-image lazily, inside its functions); FID/IS, which need a feature
network and torch, live in their own module and are never imported from this package's ``__init__``.
"""

from .flicker import CDC, WarpError, WarpErrors, colour_histograms, flicker_report, js_divergence, read_video_frames
from .hue import green_share, hue_divergence, hue_histogram
from .image import colorfulness, colourfulness, delta_e, psnr, ssim

__all__ = [
    "CDC",
    "WarpError",
    "WarpErrors",
    "colorfulness",
    "colour_histograms",
    "colourfulness",
    "delta_e",
    "flicker_report",
    "green_share",
    "hue_divergence",
    "hue_histogram",
    "js_divergence",
    "psnr",
    "read_video_frames",
    "ssim",
]
