"""Flow-guided temporal blending of per-frame generator outputs (inference side of DESIGN.md section 3).

For frame t with source ``x_t`` and generator output ``G(x_t)``::

    f      = compute_flow(x_t, x_{t-1})                backward flow on source luma (DIS, reduced size)
    M      = not occluded (forward-backward check) and not a motion boundary   (Sundaram et al. 2010)
             -- both ignored where the source is flat --, target inside the frame; eroded and
             feathered, times exp(-(e / tau)^2) where e = max_c |warp(x_{t-1}, f) - x_t|
    out_t  = a*M * warp(out_{t-1}, f) + (1 - a*M) * G(x_t)

as in the short-term consistency of Ruder et al., "Artistic style transfer for videos" (GCPR 2016), applied
as a post-process (cf. Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018). ``out_{t-1}`` is
the previous *blended* output, so the blend is a per-pixel exponential memory along motion paths; ``a`` is
``BlendConfig.strength``. The photometric factor catches flow failures (fast motion, flashes) that the
consistency check misses, so a moving object leaves no ghost trail; it is measured on the source RGB (at
flow size), so it also sees an object whose colour, not luma, differs from the background. In flat
source regions (sky, walls) flow is ill-posed and fails the forward-backward check on compression noise,
yet any flow warps a flat region correctly: there only the photometric check decides, so flat areas --
where flicker shows most -- are blended too. State is reset (``out_t = G(x_t)``) on scene cuts, at the
first frame, when the frame size changes and after :meth:`FlowBlender.reset`.

With ``chroma_only`` (colorization) only the chroma ``RGB - Y'`` is blended; the luma Y' (BT.601 weights
of the gamma-encoded RGB, as in ``cv2.COLOR_RGB2YCrCb``) of ``G(x_t)`` is kept, and blended chroma that
would leave the RGB cube is scaled towards grey, so the output luma equals G(x_t)'s up to uint8 rounding
(|dY'| <= 0.5). Outputs may have another size than the sources: flow and mask are resampled to the output
size with vectors scaled. numpy + OpenCV only: any backend can use it.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..config import BlendConfig
from ..errors import InputError, ProcessorError
from ..video.frames import FrameBatch, FrameProcessor
from .flow import FlowEstimator, flat_mask, flow_size, occlusion_mask, out_of_frame, resize_flow, to_gray
from .scenecut import SceneCutDetector
from .warp import warp


class FlowBlender:
    """Stateful blender: call :meth:`blend` with consecutive (sources, outputs) batches of one clip.

    Holds only the previous frame (the source at flow size and the last blended output), so memory does
    not grow with video length, and returns every frame at once (nothing to flush). Deliberately not a
    :class:`FrameProcessor` (it has no one-argument ``process``), since it needs both the sources and the
    generator outputs: :class:`TemporalProcessor` wraps a processor with it. This is the
    ``FlowBlender.process(frames, outputs)`` step of DESIGN.md section 1, spelled :meth:`blend`.
    """

    def __init__(self, config: BlendConfig | None = None) -> None:
        self.config = config or BlendConfig()
        self._flow = FlowEstimator(self.config.flow_preset, self.config.flow_max_side)
        self._cuts = SceneCutDetector(self.config.scene_cut_threshold)
        self._prev_small: np.ndarray | None = None  # source RGB at flow size
        self._prev_gray: np.ndarray | None = None
        self._prev_out: np.ndarray | None = None
        self.frames = 0  # frames seen since construction
        self.cuts = 0  # scene cuts detected since construction

    def reset(self) -> None:
        """Forget the previous frame (chunk starts, seeks, external cut lists)."""
        self._prev_small = None
        self._prev_gray = None
        self._prev_out = None
        self._cuts.reset()

    def blend(self, sources: FrameBatch, outputs: FrameBatch) -> FrameBatch:
        """Blend a batch of generator ``outputs`` made from ``sources`` (same count and pts, in order)."""
        if len(sources) != len(outputs):
            raise InputError(f"{len(sources)} source frames for {len(outputs)} outputs")
        if not np.array_equal(np.asarray(sources.pts), np.asarray(outputs.pts)):
            raise InputError("sources and outputs carry different pts")
        return outputs.with_frames(self.blend_arrays(sources.frames, outputs.frames))

    def blend_arrays(self, sources: Iterable[np.ndarray], outputs: np.ndarray) -> np.ndarray:
        """Blend (N, H', W', 3) ``outputs`` with an iterable of N source frames; returns a new array."""
        result = np.empty_like(outputs)
        for i, src in enumerate(sources):
            result[i] = self.blend_frame(src, outputs[i])
        return result

    def blend_frame(self, source: np.ndarray, output: np.ndarray) -> np.ndarray:
        """Blend one frame: ``source`` is uint8 (H, W, 3) RGB; ``output`` is uint8 (H', W', 3) RGB, or a
        float32 (H', W', C) map with C <= 4 (e.g. the colorizer's ab chroma), blended linearly.

        Returns a new array, which the blender also keeps as its state until the next frame: copy it
        before modifying it in place (:meth:`blend` does).
        """
        rgb = output.dtype == np.uint8 and output.ndim == 3 and output.shape[2] == 3
        field = output.dtype == np.float32 and output.ndim == 3 and 1 <= output.shape[2] <= 4
        if not (rgb or field):
            raise InputError(f"outputs must be uint8 (H, W, 3) or float32 (H, W, C<=4), got {output.dtype} {output.shape}")
        self.frames += 1
        if not self.config.enabled:
            return output.copy()
        small = self._small(source)
        gray = to_gray(small)
        cut = self._cuts.is_cut(small)  # the detector works at 128 px wide anyway
        self.cuts += int(cut)
        if cut or not self._continues(gray, output):
            result = output.copy()
        else:
            result = self._blend_warm(small, gray, output)
        self._prev_small, self._prev_gray, self._prev_out = small, gray, result
        return result

    def _continues(self, gray: np.ndarray, output: np.ndarray) -> bool:
        """True when there is a previous frame of the same source and output sizes."""
        prev = self._prev_out
        return prev is not None and prev.shape == output.shape and self._prev_gray.shape == gray.shape

    def _small(self, source: np.ndarray) -> np.ndarray:
        """The source at flow size (a copy: the caller may reuse its buffers)."""
        if source.dtype != np.uint8 or source.ndim != 3 or source.shape[2] != 3:
            raise InputError(f"sources must be uint8 (H, W, 3), got {source.dtype} {source.shape}")
        size = flow_size((source.shape[1], source.shape[0]), self.config.flow_max_side)
        if size == (source.shape[1], source.shape[0]):
            return source.copy()
        return cv2.resize(source, size, interpolation=cv2.INTER_AREA)

    def _blend_warm(self, small: np.ndarray, gray: np.ndarray, output: np.ndarray) -> np.ndarray:
        bwd, weight = self._confidence(small, gray)
        size = (output.shape[1], output.shape[0])
        bwd = resize_flow(bwd, size)
        if weight.shape[::-1] != size:
            weight = cv2.resize(weight, size, interpolation=cv2.INTER_LINEAR)
        warped = warp(self._prev_out, bwd)
        if self.config.chroma_only and output.dtype == np.uint8:
            return blend_chroma(warped, output, weight)
        return blend_rgb(warped, output, weight)

    def _confidence(self, small: np.ndarray, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(backward flow f_{t->t-1}, weight a*M) at flow size."""
        cfg = self.config
        bwd = self._flow.calc(gray, self._prev_gray)
        fwd = self._flow.calc(self._prev_gray, gray)
        bad = occlusion_mask(bwd, fwd, cfg.occlusion_slack, mark_out_of_frame=False)
        if cfg.flat_threshold > 0:
            bad &= ~flat_mask(gray, cfg.flat_threshold)
        bad |= out_of_frame(bwd)
        weight = feather((~bad).astype(np.float32), cfg.feather)
        if cfg.photometric_threshold > 0:
            weight *= photometric_weight(warp(self._prev_small, bwd), small, cfg.photometric_threshold)
        weight *= cfg.strength
        return bwd, weight


def feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Soften a {0, 1} float32 mask without leaking weight into its zeros: erode by ~2 sigma, then blur."""
    if sigma <= 0:
        return mask
    radius = int(np.ceil(2 * sigma))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    eroded = cv2.erode(mask, kernel, borderType=cv2.BORDER_REPLICATE)
    return cv2.GaussianBlur(eroded, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


def photometric_weight(warped_prev: np.ndarray, current: np.ndarray, tau: float) -> np.ndarray:
    """``exp(-(e / tau)^2)``, e = the (slightly blurred) largest absolute channel error, in [0, 1]."""
    err = cv2.absdiff(warped_prev, current)
    if err.ndim == 3:
        r, g, b = cv2.split(err)
        err = cv2.max(cv2.max(r, g), b)
    err = cv2.GaussianBlur(err.astype(np.float32), (0, 0), 1.0)
    return cv2.exp(cv2.multiply(err, err, scale=-1.0 / (255.0 * tau) ** 2))


def blend_rgb(warped: np.ndarray, current: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``weight * warped + (1 - weight) * current`` per pixel (uint8 or float32, any channel count)."""
    return cv2.blendLinear(warped, current, weight, 1.0 - weight)


def blend_chroma(warped: np.ndarray, current: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Blend the chroma ``RGB - Y'`` of ``warped`` into ``current``, keeping ``current``'s luma Y' (BT.601).

    Blending the chroma alone equals the RGB blend minus ``weight * (Y'(warped) - Y'(current))`` on every
    channel. Pixels that this pushes out of [0, 255] get their chroma scaled towards grey at the kept luma
    (a luma-preserving gamut clip), so the uint8 result has |Y'(out) - Y'(current)| <= 0.5.
    """
    prev = warped.astype(np.float32)
    cur = current.astype(np.float32)
    y_cur = cv2.cvtColor(cur, cv2.COLOR_RGB2GRAY)
    dy = cv2.multiply(weight, cv2.subtract(cv2.cvtColor(prev, cv2.COLOR_RGB2GRAY), y_cur))
    out = cv2.subtract(cv2.blendLinear(prev, cur, weight, 1.0 - weight), cv2.merge([dy, dy, dy]))
    if out.min() < -0.5 or out.max() > 255.5:
        _gamut_clip(out, y_cur)
    return cv2.convertScaleAbs(out)


def _gamut_clip(rgb: np.ndarray, luma: np.ndarray) -> None:
    """In place: move out-of-range float RGB pixels towards grey at their luma until they fit [0, 255]."""
    bad = (rgb.min(axis=2) < -0.5) | (rgb.max(axis=2) > 255.5)
    y = luma[bad][:, None]
    chroma = rgb[bad] - y
    eps = np.float32(1e-6)
    k_hi = (255.0 - y) / np.maximum(chroma.max(axis=1, keepdims=True), eps)
    k_lo = y / np.maximum(-chroma.min(axis=1, keepdims=True), eps)
    rgb[bad] = y + np.minimum(np.minimum(k_hi, k_lo), 1.0) * chroma


class TemporalProcessor:
    """A :class:`FrameProcessor` that runs ``inner`` and blends its outputs with a :class:`FlowBlender`.

    Outputs are matched to sources by order (their pts must agree), so ``inner`` may hold frames back;
    the sources it has not answered yet are kept (by reference: producers must not reuse a batch's
    array) until it does, and nothing else.
    """

    def __init__(self, inner: FrameProcessor, blender: FlowBlender | None = None) -> None:
        self.inner = inner
        self.blender = blender or FlowBlender()
        self._pending: deque[tuple[np.ndarray, int]] = deque()

    def process(self, batch: FrameBatch) -> list[FrameBatch]:
        self._pending.extend(zip(batch.frames, batch.pts.tolist()))
        return [self._blend(out) for out in self.inner.process(batch)]

    def flush(self) -> list[FrameBatch]:
        result = [self._blend(out) for out in self.inner.flush()]
        if self._pending:
            missing = len(self._pending)
            self._pending.clear()
            raise ProcessorError(f"the wrapped processor dropped {missing} frame(s)")
        return result

    def reset(self) -> None:
        self.inner.reset()
        self.blender.reset()
        self._pending.clear()

    def _take(self, outputs: FrameBatch) -> Iterator[np.ndarray]:
        for pts in outputs.pts.tolist():
            if not self._pending:
                raise ProcessorError("the wrapped processor returned more frames than it received")
            frame, src_pts = self._pending.popleft()
            if src_pts != pts:
                raise ProcessorError(f"output pts {pts} does not match source pts {src_pts}")
            yield frame

    def _blend(self, outputs: FrameBatch) -> FrameBatch:
        sources = list(self._take(outputs))
        return outputs.with_frames(self.blender.blend_arrays(sources, outputs.frames))
