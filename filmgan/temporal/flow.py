"""Optical flow (OpenCV DIS) and the masks that say where a flow can be trusted.

Flow convention (used everywhere in filmgan)
--------------------------------------------
``compute_flow(a, b)`` (or a :class:`FlowEstimator`) returns an (H, W, 2) float32 field ``f`` (x then y,
in pixels) such that for each pixel ``p`` of ``a``, ``a(p) ~ b(p + f(p))``: *where the pixel of ``a`` is
found in ``b``*. This is what ``cv2.DISOpticalFlow.calc(a, b)`` returns.

To bring frame t-1's output into frame t you need the **backward** flow
``f_{t->t-1} = compute_flow(x_t, x_{t-1})``; then ``warp(out_{t-1}, f_{t->t-1})`` samples ``out_{t-1}`` at
``p + f(p)`` for every pixel p of frame t (see :func:`filmgan.temporal.warp.warp`). The occlusion mask of
frame t needs the other direction too: ``occlusion_mask(f_{t->t-1}, f_{t-1->t})``.

References: Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV 2016 (DIS);
Sundaram, Brox & Keutzer, "Dense Point Trajectories by GPU-accelerated Large Displacement Optical Flow",
ECCV 2010 (forward-backward consistency and motion boundaries); Ruder, Dosovitskiy & Brox, "Artistic style
transfer for videos", GCPR 2016 (the same checks used to mask a temporal loss).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import ConfigError, InputError
from .warp import warp

PRESETS: dict[str, int] = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def to_gray(frame: np.ndarray) -> np.ndarray:
    """uint8 (H, W) luma of an RGB uint8 frame (BT.601 weights); a 2-D uint8 frame passes through."""
    if frame.dtype != np.uint8:
        raise InputError(f"expected a uint8 frame, got {frame.dtype}")
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    raise InputError(f"expected an (H, W) or (H, W, 3) frame, got shape {frame.shape}")


def flow_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """(width, height) at which to compute flow for a frame of ``size`` = (width, height)."""
    w, h = size
    if max_side is None or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(8, round(w * s)), max(8, round(h * s))


def resize_flow(flow_field: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample a flow field to ``size`` = (width, height), scaling the vectors with the grid."""
    h, w = flow_field.shape[:2]
    if (w, h) == tuple(size):
        return flow_field
    out = cv2.resize(flow_field.astype(np.float32, copy=False), tuple(size), interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(out, (size[0] / w, size[1] / h, 0.0, 0.0))


DIS_MIN_SIDE = 32  # px: OpenCV's DIS needs a few of its patches across the image


class FlowEstimator:
    """Dense flow with one reusable DIS object, optionally computed at a reduced size.

    ``preset`` is ``'ultrafast'``, ``'fast'`` or ``'medium'`` (about 6 / 11 / 51 ms per 720p pair on the
    development machine). With ``max_side`` set, both frames are downscaled so their longer side is at most
    ``max_side``; :meth:`__call__` returns the flow at that size unless ``full_size`` is true, in which
    case it is upsampled with vectors scaled to full-resolution pixels. A DIS object is not thread-safe:
    use one estimator per thread.
    """

    def __init__(self, preset: str = "fast", max_side: int | None = None) -> None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown flow preset '{preset}' (choose one of {', '.join(PRESETS)})")
        self.preset = preset
        self.max_side = max_side
        self._dis = cv2.DISOpticalFlow_create(PRESETS[preset])

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """The uint8 grey image at flow size; pass it to :meth:`calc` to reuse it for several pairs."""
        gray = to_gray(frame)
        size = flow_size((gray.shape[1], gray.shape[0]), self.max_side)
        if size != (gray.shape[1], gray.shape[0]):
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        return gray

    def calc(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow from prepared grey image ``a`` to ``b`` (same size), at flow size."""
        if a.shape != b.shape:
            raise InputError(f"flow needs frames of one size, got {a.shape} and {b.shape}")
        h, w = a.shape[:2]
        if min(h, w) < DIS_MIN_SIDE:  # DIS refuses tiny images: compute on an enlarged pair, scale back
            scale = DIS_MIN_SIDE / min(h, w)
            size = (max(DIS_MIN_SIDE, round(w * scale)), max(DIS_MIN_SIDE, round(h * scale)))
            big = [cv2.resize(g, size, interpolation=cv2.INTER_LINEAR) for g in (a, b)]
            return resize_flow(self._dis.calc(big[0], big[1], None), (w, h))
        return self._dis.calc(a, b, None)

    def __call__(self, a: np.ndarray, b: np.ndarray, full_size: bool = True) -> np.ndarray:
        """Flow from frame ``a`` to frame ``b`` (RGB or grey uint8): ``a(p) ~ b(p + f(p))``."""
        f = self.calc(self.prepare(a), self.prepare(b))
        if full_size:
            f = resize_flow(f, (a.shape[1], a.shape[0]))
        return f


def compute_flow(
    a: np.ndarray, b: np.ndarray, preset: str = "medium", max_side: int | None = None
) -> np.ndarray:
    """One-off flow from ``a`` to ``b`` at full size (see the module docstring for the convention).

    Creates a DIS object per call; for video use a :class:`FlowEstimator`.
    """
    return FlowEstimator(preset, max_side)(a, b)


def _sq_norm(f: np.ndarray) -> np.ndarray:
    return f[..., 0] * f[..., 0] + f[..., 1] * f[..., 1]


def out_of_frame(f: np.ndarray) -> np.ndarray:
    """Boolean (H, W): pixels whose target ``p + f(p)`` lies outside the frame."""
    h, w = f.shape[:2]
    x = np.arange(w, dtype=np.float32)[None, :] + f[..., 0]
    y = np.arange(h, dtype=np.float32)[:, None] + f[..., 1]
    return (x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)


def inconsistent_mask(fwd: np.ndarray, bwd: np.ndarray, slack: float = 0.5) -> np.ndarray:
    """Forward-backward check (Sundaram et al. 2010): True where ``fwd`` is not undone by ``bwd``.

    ``fwd`` maps frame A to B, ``bwd`` maps B to A; with ``w_b~ = bwd`` sampled at ``p + fwd(p)``, pixel p
    of A is inconsistent when ``|fwd + w_b~|^2 > 0.01 (|fwd|^2 + |w_b~|^2) + slack``.
    """
    bwd_at = warp(bwd, fwd)
    lhs = _sq_norm(fwd + bwd_at)
    return lhs > 0.01 * (_sq_norm(fwd) + _sq_norm(bwd_at)) + slack


def motion_boundary_mask(f: np.ndarray) -> np.ndarray:
    """True on motion boundaries: ``|grad u|^2 + |grad v|^2 > 0.01 |f|^2 + 0.002`` (Sundaram et al. 2010).

    Forward differences, zero on the last row/column, as in the reference implementations.
    """
    grad = np.zeros(f.shape[:2], np.float32)
    dx = f[:, :-1] - f[:, 1:]
    dy = f[:-1] - f[1:]
    grad[:, :-1] += _sq_norm(dx)
    grad[:-1] += _sq_norm(dy)
    return grad > 0.01 * _sq_norm(f) + 0.002


def flat_mask(gray: np.ndarray, threshold: float, sigma: float = 2.0) -> np.ndarray:
    """True where a uint8 grey image is flat: local RMS gradient (grey levels/px) below ``threshold``.

    There flow is ill-posed (sky, walls, blurred backgrounds; compression blocks make DIS flow noisy and
    fail the forward-backward check) while any flow warps the image correctly.
    """
    g = gray.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    energy = cv2.GaussianBlur(gx * gx + gy * gy, (0, 0), sigma)
    return energy < threshold * threshold


def occlusion_mask(
    fwd: np.ndarray,
    bwd: np.ndarray,
    slack: float = 0.5,
    motion_boundaries: bool = True,
    mark_out_of_frame: bool = True,
) -> np.ndarray:
    """Boolean (H, W) mask of the pixels of frame A that cannot be followed into frame B.

    ``fwd`` = compute_flow(A, B), ``bwd`` = compute_flow(B, A). A pixel is masked when the
    forward-backward check fails (disocclusions and flow errors), optionally on motion boundaries of
    ``fwd`` (Sundaram et al. 2010; Ruder et al. 2016), and optionally where ``p + fwd(p)`` leaves the
    frame. For blending frame t-1's output into frame t, A = frame t and ``fwd = f_{t->t-1}``.
    """
    if fwd.shape != bwd.shape or fwd.ndim != 3 or fwd.shape[2] != 2:
        raise InputError(f"flows must both be (H, W, 2), got {fwd.shape} and {bwd.shape}")
    mask = inconsistent_mask(fwd, bwd, slack)
    if motion_boundaries:
        mask |= motion_boundary_mask(fwd)
    if mark_out_of_frame:
        mask |= out_of_frame(fwd)
    return mask
