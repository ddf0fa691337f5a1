"""Style transfer as a frame processor (torch-free: it drives any ``Engine`` whose card says task 'style').

Per batch: frames -> resized so the short side is the render size (aspect kept, multiple of 8, never
upscaled) -> RGB [0, 1] NCHW -> engine (when a frame exceeds the pixel budget: a reduced whole-frame pass
for the low frequencies plus feathered full-size tiles for the detail, see ``tiling``) -> resized back to
the frame size. The return trip to full resolution is plain bicubic upsampling, a joint upsampling
guided by the full-resolution source luminance (the fast guided filter of He & Sun 2015,
arXiv:1505.00996: a local linear model ``out = a * Y + b`` fitted at the render size and applied to the
full-resolution luminance), or ``detail``: bicubic plus the frame's own luminance detail above the render
size's band (``Y_full - up(Y_render)``), which keeps the fine texture the render size cannot carry at the
cost of two resizes. ``scripts/eval_styles.py`` measures them.

Models trained with a palette step (their card has ``extra.palette``) get the frame's colours moved toward
the painting's before the network, by ``palette_strength`` (``processors.palette``).
"""

from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from ..backends.base import InputSpec
from ..config import UPSAMPLERS
from ..errors import CheckpointError, ConfigError
from ..video.frames import FrameBatch
from ..video.geometry import render_dims
from ..video.color import to_uint8_from16
from .padding import STYLE_MIN_SIDE, pad_to_min
from .palette import PaletteTransfer, transfer
from .tiling import run_tiled



def _luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of uint8 or uint16 RGB (H, W, 3) as float32 in [0, 1]."""
    scale = np.float32(1.0 / (65535.0 if rgb.dtype == np.uint16 else 255.0))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) * scale


def guided_upsample(small_out: np.ndarray, small_guide: np.ndarray, full_guide: np.ndarray, radius: int = 2, eps: float = 1e-3) -> np.ndarray:
    """Fast guided filter for joint upsampling (He, Sun & Tang, TPAMI 2013; He & Sun 2015).

    ``small_out`` (h, w, 3) float32 is explained locally as ``a * small_guide + b`` (box windows of
    ``radius``, regularised by ``eps``); ``a`` and ``b`` are smoothed, upsampled bilinearly and applied to
    ``full_guide`` (H, W). Returns (H, W, 3) float32.
    """
    size = (2 * radius + 1, 2 * radius + 1)

    def box(img: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(img, -1, size, borderType=cv2.BORDER_REFLECT)

    g = small_guide[..., None]
    mean_g, mean_p = box(small_guide)[..., None], box(small_out)
    var_g = box(small_guide * small_guide)[..., None] - mean_g * mean_g
    a = (box(small_out * g) - mean_g * mean_p) / (var_g + np.float32(eps))
    b = mean_p - a * mean_g
    H, W = full_guide.shape
    A = cv2.resize(box(a), (W, H), interpolation=cv2.INTER_LINEAR)
    B = cv2.resize(box(b), (W, H), interpolation=cv2.INTER_LINEAR)
    A *= full_guide[..., None]
    A += B
    return A


def detail_upsample(small_out: np.ndarray, small_frame: np.ndarray, full_frame: np.ndarray) -> np.ndarray:
    """Bicubic upsampling of ``small_out`` (h, w, 3) float [0, 1] to the size of ``full_frame`` (H, W, 3)
    uint8, plus the luminance detail the render size lost: ``luma(full) - up(luma(small_frame))``, added to
    every channel. Saturating 8-bit arithmetic throughout (the positive and negative parts of the detail
    separately), a few ms for a 720p frame. Returns uint8."""
    H, W = full_frame.shape[:2]
    up = cv2.resize(_to_uint8(small_out), (W, H), interpolation=cv2.INTER_CUBIC)
    coarse = cv2.resize(cv2.cvtColor(small_frame, cv2.COLOR_RGB2GRAY), (W, H), interpolation=cv2.INTER_CUBIC)
    fine = cv2.cvtColor(full_frame, cv2.COLOR_RGB2GRAY)
    brighter = cv2.cvtColor(cv2.subtract(fine, coarse), cv2.COLOR_GRAY2RGB)
    darker = cv2.cvtColor(cv2.subtract(coarse, fine), cv2.COLOR_GRAY2RGB)
    return cv2.subtract(cv2.add(up, brighter), darker)


def _to_uint8(rgb01: np.ndarray) -> np.ndarray:
    return cv2.convertScaleAbs(np.maximum(rgb01, 0.0, out=rgb01), alpha=255.0)  # saturates above 255


class StylizeProcessor:
    """FrameProcessor that restyles frames with an engine whose card says task 'style' (RGB in/out).

    ``render_size``: short side the generator runs at (None: the card's internal size; 0: the frame's own
    size). ``pixel_budget``: most pixels per engine call (default: the engine's ``input_spec.max_pixels``;
    batches are also split to its ``max_batch``); larger frames run in tiles of ``tile`` pixels
    (default: the square root of the budget) overlapping by ``overlap``; ``consistent_tiles`` takes their
    low frequencies from a whole-frame pass at a reduced size (needed with instance normalisation; a
    network without per-image statistics is reproduced exactly by plain feathered tiles). Sizes sent to
    the engine are multiples of its ``input_spec.alignment``.
    """

    def __init__(self, engine, render_size: int | None = None, upsample: str = "bicubic", pixel_budget: int | None = None, tile: int | None = None, overlap: int = 64,
                 consistent_tiles: bool = True, blender=None, palette_strength: float = 1.0):
        card = engine.card
        if card.task not in ("style", "multitask") or card.color_space != "rgb":
            raise CheckpointError(f"model '{card.name}' is a {card.task}/{card.color_space} model, not an RGB style model")
        if upsample not in UPSAMPLERS:
            raise ConfigError(f"unknown upsampling '{upsample}' ({', '.join(UPSAMPLERS)})")
        self.engine = engine
        self.blender = blender  # a temporal.blend.FlowBlender (RGB output against the source), or None
        spec: InputSpec = engine.input_spec
        self.align, self.max_batch = spec.alignment, spec.max_batch or 2**31
        self.render_size = card.internal_size if render_size is None else render_size
        self.upsample = upsample
        budget = pixel_budget or spec.max_pixels
        if budget is None and spec.max_shape is not None:
            budget = spec.max_shape[0] * spec.max_shape[1]
        self.pixel_budget = int(budget or 2**62)
        default_tile = max(256, int(min(self.pixel_budget, 2**40) ** 0.5) // self.align * self.align)
        if spec.max_shape is not None:  # a fixed profile bounds the tile too
            default_tile = min(default_tile, min(spec.max_shape) // self.align * self.align)
        self.tile = int(tile or default_tile)
        self.overlap = int(overlap)
        self.consistent_tiles = consistent_tiles
        self.palette = PaletteTransfer.from_card(card, palette_strength)

    def _run(self, x: np.ndarray) -> np.ndarray:
        """Engine on (N, 3, h, w) float32: whole batch, frame by frame, or tiled, within the pixel budget."""
        n, _, h, w = x.shape
        if n * h * w <= self.pixel_budget and n <= self.max_batch:
            return self.engine.run(x)
        if h * w <= self.pixel_budget:
            return np.concatenate([self.engine.run(x[i : i + 1]) for i in range(n)])
        return np.concatenate([self._run_tiled(x[i : i + 1]) for i in range(n)])

    def _run_tiled(self, x: np.ndarray) -> np.ndarray:
        """One frame over the budget: a whole-frame pass at a reduced size (within the budget) gives the
        consistent low frequencies, full-size feathered tiles the detail (see ``tiling``)."""
        if not self.consistent_tiles:
            return run_tiled(self.engine.run, x, self.tile, self.overlap, align=self.align)
        _, _, h, w = x.shape
        a = self.align
        factor = (h * w / self.pixel_budget) ** 0.5
        sw, sh = max(a, int(w / factor) // a * a), max(a, int(h / factor) // a * a)
        small = cv2.resize(np.ascontiguousarray(x[0].transpose(1, 2, 0)), (sw, sh), interpolation=cv2.INTER_AREA)
        coarse = self.engine.run(np.ascontiguousarray(small.transpose(2, 0, 1)[None]))[0]
        reference = cv2.resize(np.ascontiguousarray(coarse.transpose(1, 2, 0)), (w, h), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)[None]
        return run_tiled(self.engine.run, x, self.tile, self.overlap, align=a, reference=reference, sigma=2.0 * factor)

    def stylize(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 independent images -> (N, H, W, 3) uint8 stylized (no temporal blending)."""
        prepared = self.network_input(frames, sequence=False)
        return self._upsample(frames, prepared[0], self.infer(prepared))

    def network_input(self, frames: np.ndarray, sequence: bool = True) -> tuple[np.ndarray, np.ndarray, list | None]:
        """The frames at the render size, the network's input for them (RGB [0, 1] (N, 3, h, w) float32)
        and, for models with a palette step, each frame's palette statistics (``PaletteTransfer.targets``).

        ``sequence``: the frames follow the previous call's in one shot (the palette statistics are then
        smoothed over time); False for independent images."""
        h, w = frames.shape[1:3]
        native = not self.render_size or min(w, h) <= self.render_size
        aligned = w % self.align == 0 and h % self.align == 0
        rw, rh = (w, h) if native and aligned else render_dims(w, h, None if native else self.render_size, multiple=self.align)
        small = frames if (rw, rh) == (w, h) else np.stack([cv2.resize(f, (rw, rh), interpolation=cv2.INTER_AREA) for f in frames])
        if self.palette is None:
            scale = np.float32(65535.0 if frames.dtype == np.uint16 else 255.0)
            return small, small.transpose(0, 3, 1, 2).astype(np.float32) / scale, None
        small8 = np.stack([to_uint8_from16(f) for f in small]) if small.dtype == np.uint16 else small  # the palette step is 8-bit
        targets = self.palette.targets(small8, stateful=sequence)
        coloured = small8 if self.palette.strength == 0.0 else transfer(small8, targets)
        return small, coloured.transpose(0, 3, 1, 2).astype(np.float32) / 255.0, targets

    # -- the task steps of pipeline.render ------------------------------------------------------------
    def prepare(self, batch: FrameBatch) -> tuple[np.ndarray, np.ndarray, list | None]:
        return self.network_input(batch.frames)

    def infer(self, prepared: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """The engine's RGB output in [0, 1], (N, h, w, 3). Frames too small for the network are mirrored
        out to its minimum size and the output cropped back (see ``padding``); models with a palette step
        get their output's colours restored toward the frame's by ``1 - palette_strength``."""
        x = prepared[1]
        h, w = x.shape[-2:]
        y = np.clip(self._run(pad_to_min(x, self.align, STYLE_MIN_SIDE))[..., :h, :w], 0.0, 1.0).transpose(0, 2, 3, 1)
        if prepared[2] is None or self.palette.strength == 1.0:
            return y
        restored = self.palette.restore(np.stack([_to_uint8(np.ascontiguousarray(f)) for f in y]), prepared[2])
        return restored.astype(np.float32) * np.float32(1.0 / 255.0)

    def finish(self, batch: FrameBatch, prepared: tuple[np.ndarray, np.ndarray], y: np.ndarray) -> list[FrameBatch]:
        """Upsample to the frame size, then blend along the motion (in frame order) when there is a blender."""
        if batch.frames.dtype == np.uint16:
            return [batch.with_frames(self._finish16(batch.frames, prepared[0], y))]
        out = self._upsample(batch.frames, prepared[0], y)
        if self.blender is not None:
            out = self.blender.blend_arrays(batch.frames, out)
        return [batch.with_frames(out)]

    def _finish16(self, frames: np.ndarray, small: np.ndarray, y: np.ndarray) -> np.ndarray:
        """High bit depth: upsampling and blending stay in float, rounded once to 16 bits at the end, so
        the output keeps the smooth gradations an 8-bit intermediate would band."""
        n, h, w = frames.shape[:3]
        out = np.empty_like(frames)
        for i in range(n):
            yi = np.ascontiguousarray(y[i])
            if small.shape[1:3] != (h, w):
                if self.upsample == "guided":
                    yi = guided_upsample(yi, _luma(small[i]), _luma(frames[i]))
                else:
                    yi = cv2.resize(yi, (w, h), interpolation=cv2.INTER_CUBIC)
            if self.blender is not None:
                yi = self.blender.blend_frame(to_uint8_from16(frames[i]), np.ascontiguousarray(yi, np.float32))
            out[i] = np.rint(np.clip(yi, 0.0, 1.0) * 65535.0)
        return out

    def _upsample(self, frames: np.ndarray, small: np.ndarray, y: np.ndarray) -> np.ndarray:
        n, h, w = frames.shape[:3]
        same = small.shape[1:3] == frames.shape[1:3]
        out = np.empty_like(frames)
        for i in range(n):
            if same:
                out[i] = _to_uint8(np.ascontiguousarray(y[i]))
            elif self.upsample == "guided":
                out[i] = _to_uint8(guided_upsample(np.ascontiguousarray(y[i]), _luma(small[i]), _luma(frames[i])))
            elif self.upsample == "detail":
                out[i] = detail_upsample(np.ascontiguousarray(y[i]), small[i], frames[i])
            else:  # upsample the 8-bit result: 4x fewer pixels to convert, saturating bicubic in uint8
                out[i] = cv2.resize(_to_uint8(np.ascontiguousarray(y[i])), (w, h), interpolation=cv2.INTER_CUBIC)
        return out

    # -- as a FrameProcessor (still images, callers without the pipeline) ------------------------------
    def process(self, batch: FrameBatch) -> Iterable[FrameBatch]:
        prepared = self.prepare(batch)
        return self.finish(batch, prepared, self.infer(prepared))

    def flush(self) -> Iterable[FrameBatch]:
        return ()

    def reset(self) -> None:
        if self.blender is not None:
            self.blender.reset()
        if self.palette is not None:
            self.palette.reset()
