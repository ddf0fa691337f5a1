"""sRGB <-> CIE Lab (D65) in numpy, the colour space of the colorizer.

L is in [0, 100], a and b roughly in [-128, 127]. Conversions use float32 and the exact sRGB transfer
function, so a round trip is accurate to ~1e-5 in float. The torch twin used in training lives in
``filmgan.models.lab`` and follows the same constants.
"""

from __future__ import annotations

import cv2
import numpy as np

# sRGB (D65) -> XYZ, and the D65 white point.
RGB_TO_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
    dtype=np.float64,
)
XYZ_TO_RGB = np.linalg.inv(RGB_TO_XYZ)
WHITE_D65 = RGB_TO_XYZ.sum(axis=1)
# The colorizer network's I/O scaling (torch twin: filmgan.models.lab): L/50 - 1 in [-1, 1]; ab/110 in ~[-1, 1].
L_SCALE, AB_SCALE = 50.0, 110.0
_EPS = (6.0 / 29.0) ** 3
_KAPPA = (29.0 / 6.0) ** 2 / 3.0


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, None)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1.0 / 2.4) - 0.055)


def _f(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t)
    if t.dtype == np.float32 and t.ndim <= 2:  # cv2.pow: ~9x faster than np.cbrt, within 2e-7 of it
        root = cv2.pow(np.maximum(t, 0.0), 1.0 / 3.0)
    else:
        root = np.cbrt(t)
    return np.where(t > _EPS, root, t * _KAPPA + 4.0 / 29.0)


def _f_inv(t: np.ndarray) -> np.ndarray:
    return np.where(t > 6.0 / 29.0, t * t * t, (t - 4.0 / 29.0) / _KAPPA)  # t*t*t: ~20x faster than t**3


def unit_rgb(rgb: np.ndarray) -> np.ndarray:
    """RGB as float32 in [0, 1]: uint8 / 255, uint16 / 65535 (high bit depth), float as it is."""
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32) / np.float32(255.0)
    if rgb.dtype == np.uint16:
        return rgb.astype(np.float32) / np.float32(65535.0)
    return rgb.astype(np.float32)


def to_uint8_from16(rgb16: np.ndarray) -> np.ndarray:
    """uint16 (full 16-bit scale) -> uint8 with rounding (what 8-bit-precision stages see)."""
    return ((rgb16.astype(np.uint32) + 128) // 257).astype(np.uint8)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """RGB (uint8 0-255, uint16 0-65535 or float 0-1), shape (..., 3) -> Lab float32 (..., 3)."""
    c = unit_rgb(rgb)
    xyz = srgb_to_linear(c) @ (RGB_TO_XYZ / WHITE_D65[:, None]).T.astype(np.float32)
    f = _f(xyz)
    L = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], axis=-1).astype(np.float32)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Lab float (..., 3) -> RGB float32 in [0, 1] (clipped: out-of-gamut colours are clamped)."""
    lab = lab.astype(np.float32)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    xyz = _f_inv(np.stack([fx, fy, fz], axis=-1)) * WHITE_D65.astype(np.float32)
    rgb = linear_to_srgb(xyz @ XYZ_TO_RGB.T.astype(np.float32))
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def rgb_to_luminance_l(rgb: np.ndarray) -> np.ndarray:
    """The Lab L channel (0-100) of RGB frames (..., 3): what the colorizer sees."""
    c = unit_rgb(rgb)
    y = srgb_to_linear(c) @ RGB_TO_XYZ[1].astype(np.float32)
    return (116.0 * _f(y / np.float32(WHITE_D65[1])) - 16.0).astype(np.float32)


def normalize_l(lightness):
    """Lab L (0-100) -> the colorizer's input scale, -1 to 1 (numpy arrays and torch tensors alike)."""
    return lightness / L_SCALE - 1.0


def to_uint8(rgb01: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] -> uint8 with rounding."""
    return np.clip(np.rint(rgb01 * 255.0), 0, 255).astype(np.uint8)


# --- fast full-resolution recombination (the colorizer's output path) -------------------------------

_SRGB_TO_LINEAR_LUT = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
_LIN_LUT_SIZE = 1 << 16
_LINEAR_TO_SRGB8_LUT = to_uint8(linear_to_srgb(np.arange(_LIN_LUT_SIZE, dtype=np.float64) / (_LIN_LUT_SIZE - 1)))
_XYZ_TO_RGB32 = XYZ_TO_RGB.astype(np.float32)
_WHITE32 = WHITE_D65.astype(np.float32)
_Y_ROW = RGB_TO_XYZ[1:2].astype(np.float32)
_GAMUT_TOL = 1e-4  # float error on in-gamut colours; the LUT clips it


def linear_luminance(rgb8: np.ndarray) -> np.ndarray:
    """Relative luminance Y in [0, 1] of uint8 sRGB frames (..., 3), via an exact 256-entry LUT."""
    lin = cv2.LUT(rgb8, _SRGB_TO_LINEAR_LUT.reshape(1, 256))  # = _SRGB_TO_LINEAR_LUT[rgb8], ~4x faster
    return cv2.transform(lin.reshape(-1, 1, 3), _Y_ROW).reshape(rgb8.shape[:-1])


def _linear_rgb_from_y_ab(y: np.ndarray, fy: np.ndarray, ab: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    fx = fy + ab[..., 0] * (scale / 500.0)
    fz = fy - ab[..., 1] * (scale / 200.0)
    x = (_f_inv(fx) * _WHITE32[0]).astype(np.float32, copy=False).reshape(-1, 1)
    z = (_f_inv(fz) * _WHITE32[2]).astype(np.float32, copy=False).reshape(-1, 1)
    xyz = cv2.merge([x, y.astype(np.float32, copy=False).reshape(-1, 1), z])  # interleaves ~3x faster than np.stack
    return cv2.transform(xyz, _XYZ_TO_RGB32).reshape(*y.shape, 3)


_SRGB16_TO_LINEAR_LUT = srgb_to_linear(np.arange(65536, dtype=np.float64) / 65535.0).astype(np.float32)


def linear_luminance16(rgb16: np.ndarray) -> np.ndarray:
    """Relative luminance Y in [0, 1] of uint16 sRGB frames (..., 3), via an exact 65536-entry LUT."""
    lin = np.take(_SRGB16_TO_LINEAR_LUT, rgb16)
    return cv2.transform(lin.reshape(-1, 1, 3), _Y_ROW).reshape(rgb16.shape[:-1])


def recombine_luminance_chroma(luma_rgb: np.ndarray, ab: np.ndarray, bisection_steps: int = 7) -> np.ndarray:
    """RGB with the luminance of ``luma_rgb`` and the chroma ``ab`` (Lab a, b; same H x W), in the
    source's own depth: uint8 in, uint8 out; uint16 (high bit depth) in, uint16 out.

    The CIE Y of every output pixel is the source's Y exactly (before rounding to the output depth), so
    Lab L is kept. Colours outside the sRGB gamut are brought inside by shrinking their chroma toward
    grey (bisection on the chroma scale), never by clipping channels, which would change luminance and hue.
    """
    if luma_rgb.dtype == np.uint16:
        lin = _recombine_linear(linear_luminance16(luma_rgb).astype(np.float32), ab, bisection_steps)
        return np.rint(linear_to_srgb(lin) * np.float32(65535.0)).clip(0, 65535).astype(np.uint16)
    lin = _recombine_linear(linear_luminance(luma_rgb).astype(np.float32), ab, bisection_steps)
    idx = (lin * (_LIN_LUT_SIZE - 1) + 0.5).astype(np.int32)
    return np.take(_LINEAR_TO_SRGB8_LUT, idx, mode="clip")  # clip mode clamps the index: 2x faster than np.clip + []


def _recombine_linear(y: np.ndarray, ab: np.ndarray, bisection_steps: int) -> np.ndarray:
    """Linear RGB (H, W, 3) float32 with luminance ``y`` and chroma ``ab``, brought into gamut."""
    fy = _f(y / _WHITE32[1]).astype(np.float32)
    ab = ab.astype(np.float32, copy=False)
    lin = _linear_rgb_from_y_ab(y, fy, ab, 1.0)
    bad = cv2.inRange(lin.reshape(-1, 1, 3), (-_GAMUT_TOL,) * 3, (1.0 + _GAMUT_TOL,) * 3).reshape(y.shape) == 0
    if bad.any():
        # Black and white pixels admit grey only: set them directly (a fade to black is all such pixels).
        extreme = bad & ((y <= 0.0) | (y >= 1.0))
        if extreme.any():
            lin[extreme] = np.clip(y[extreme], 0.0, 1.0)[:, None]
            bad &= ~extreme
        if bad.any():
            lin[bad] = _shrink_into_gamut(y[bad], fy[bad], ab[bad], bisection_steps)
    return lin


def _shrink_into_gamut(y: np.ndarray, fy: np.ndarray, ab: np.ndarray, steps: int) -> np.ndarray:
    """Largest chroma scale s in [0, 1] (to 2**-steps) keeping linear RGB in [0, 1]; grey (s=0) always is."""
    lo = np.zeros(y.shape, np.float32)
    hi = np.ones(y.shape, np.float32)
    for _ in range(steps):
        mid = (lo + hi) * 0.5
        lin = _linear_rgb_from_y_ab(y, fy, ab, mid[..., None].squeeze(-1))
        ok = np.all((lin >= 0.0) & (lin <= 1.0), axis=-1)
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return np.clip(_linear_rgb_from_y_ab(y, fy, ab, lo), 0.0, 1.0)


def gamut_bins(grid: int = 10) -> np.ndarray:
    """Centres (Q, 2) of the ab grid cells that some sRGB colour falls into (Zhang et al.'s Q = 313 at
    grid 10; 261 with this Lab), from a dense sampling of the RGB cube. Deterministic: the same on every
    machine. The semantic colorizer's output bins, and the bins of a guide's colour histograms."""
    v = np.linspace(0.0, 1.0, 48, dtype=np.float32)
    rgb = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(1, -1, 3)
    ab = rgb_to_lab(rgb)[0, :, 1:]
    cells = np.unique(np.round(ab / grid).astype(np.int64), axis=0)
    return (cells * grid).astype(np.float32)
