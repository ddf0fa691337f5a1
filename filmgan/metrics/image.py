"""Per-image quality metrics on uint8 RGB numpy frames.

PSNR, SSIM and CIEDE2000 use scikit-image (in the ``dev`` and ``train`` extras), imported inside the
functions so that importing this module costs nothing. Colourfulness is plain numpy.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError, require


def _check_rgb(*images: np.ndarray) -> None:
    for img in images:
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise InputError(f"expected a uint8 (H, W, 3) RGB image, got {img.dtype} {img.shape}")
    if len({img.shape for img in images}) > 1:
        raise InputError(f"images differ in shape: {[img.shape for img in images]}")


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels (data range 255).

    Range [0, inf): ``inf`` for identical images; ~20-30 dB is visibly degraded, > 40 dB near-lossless.
    """
    _check_rgb(reference, image)
    mse = float(np.mean(np.square(reference.astype(np.float64) - image.astype(np.float64))))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """Mean structural similarity (Wang et al. 2004), per channel then averaged; skimage defaults
    (7x7 uniform window, K1=0.01, K2=0.03), data range 255. Range [-1, 1]; 1 for identical images."""
    _check_rgb(reference, image)
    metrics = require("skimage.metrics", "dev")
    return float(metrics.structural_similarity(reference, image, channel_axis=-1, data_range=255))


def delta_e(reference: np.ndarray, image: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference (Sharma et al. 2005) in CIELAB (sRGB, D65).

    Range [0, ~100+]: 0 identical; < 1 imperceptible; 2-10 perceptible at a glance; > 20 different colours.
    """
    _check_rgb(reference, image)
    color = require("skimage.color", "dev")
    lab_a = color.rgb2lab(reference)
    lab_b = color.rgb2lab(image)
    return float(np.mean(color.deltaE_ciede2000(lab_a, lab_b)))


def colourfulness(image: np.ndarray) -> float:
    """Colourfulness M of Hasler & Suesstrunk, "Measuring colourfulness in natural images" (SPIE 2003).

    ``rg = R - G``, ``yb = (R + G)/2 - B`` (on 0-255 values), ``M = sigma_rgyb + 0.3 mu_rgyb`` with
    ``sigma_rgyb = sqrt(sigma_rg^2 + sigma_yb^2)`` and ``mu_rgyb = sqrt(mu_rg^2 + mu_yb^2)``. Range
    [0, ~180]: 0 for any grey image; the paper's scale reads ~15 slightly, ~33 moderately, ~45 averagely,
    ~59 quite, ~82 highly, > 109 extremely colourful.
    """
    _check_rgb(image)
    rgb = image.astype(np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    sigma = math.hypot(float(rg.std()), float(yb.std()))
    mu = math.hypot(float(rg.mean()), float(yb.mean()))
    return sigma + 0.3 * mu


colorfulness = colourfulness
