"""Colorization as a frame processor (torch-free: it drives any ``Engine``).

Per batch: frames -> Lab L at the render size (short side) -> engine -> ab at the render size ->
(temporal blending of ab along the motion, when a blender is given) -> bilinear upsampling to full
resolution -> recombined with the full-resolution source luminance. The output's luminance is the input's
(see ``video.color.recombine_luminance_chroma``), and the cost of the network and of the blending does not
depend on the output resolution. Colour input is re-colorized from its luminance.

Blending the chroma map itself, rather than the RGB output, keeps luminance exact and works on ~8x fewer
pixels at 720p (DESIGN.md: "temporal blending touches chroma only").

With a ``guide`` (``filmgan.guide.ColourGuide``: reference photos, keyframes, hints) the network's decode
is conditioned on the guide's colour prior for each frame; right after the network (``infer``) the
reference photos' and the shot's keyframes' colours go where the frame shows their content (on engines that
give encoder features, ``engine.match_features``); then the guide corrects each frame's chroma at the
render size (keyframe propagation, hints) before the temporal blend. Frames are known by their index in
the clip (``FrameBatch.start_index``); a still image is frame 0.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Iterable

import cv2
import numpy as np

from ..errors import CheckpointError, ConfigError
from ..video.color import AB_SCALE, L_SCALE, normalize_l, recombine_luminance_chroma, rgb_to_luminance_l, to_uint8_from16
from .padding import padded_dims
from ..video.geometry import render_dims
from ..video.frames import FrameBatch
from .overlap import OneBehind

@lru_cache(maxsize=1)
def _recombine_pool() -> ThreadPoolExecutor:
    """Threads that recombine the frames of a batch side by side (numpy and OpenCV release the GIL)."""
    return ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="filmgan-recombine")


class ColorizeProcessor:
    """FrameProcessor that colorizes frames with an engine whose card says task 'colorize' (Lab)."""

    def __init__(self, engine, render_size: int | None = None, blender=None, saturation: float | None = None, guide=None):
        card = engine.card
        if card.task not in ("colorize", "multitask") or card.color_space != "lab":
            raise CheckpointError(f"model '{card.name}' is a {card.task}/{card.color_space} model, not a Lab colorizer")
        self.engine = engine
        self.palette_bands = int(getattr(engine, "palette_bands", 0))  # > 0: the network takes guidance inputs
        self._source_size = (0, 0)  # (W, H) of the frames being rendered, for the hints' coordinates
        self.set_guide(guide)
        self.align = engine.input_spec.alignment
        self.render_size = render_size or card.internal_size or 256
        self.blender = blender  # a temporal.blend.FlowBlender, or None for per-frame output
        # Gain on the predicted chroma: the model's card carries the value calibrated on its validation split.
        self.saturation = float(saturation if saturation is not None else card.extra.get("saturation", 1.0))
        self._finisher = OneBehind()

    def set_guide(self, guide) -> None:
        """Steer the colours with a ``filmgan.guide.ColourGuide`` (None: automatic)."""
        if guide is not None and guide.needs_prior and getattr(self.engine, "prior_bins", None) is None and not self.palette_bands:
            raise ConfigError(f"reference palettes and keyframes condition the network's colour distribution: the {self.engine.name} "
                              f"engine of '{self.engine.card.name}' takes no palette (a colorizer trained with guidance inputs takes it on "
                              f"every backend; an automatic semantic colorizer only on --backend torch)")
        self.guide = guide

    def colorize(self, frames: np.ndarray, start_index: int = 0) -> np.ndarray:
        """(N, H, W, 3) uint8 or uint16 -> colorized, same shape and dtype (frames ``start_index`` ... of their clip)."""
        prepared = self.network_input(frames, start_index)
        return self._finish(frames, prepared, self.infer(prepared))

    def render_frames(self, frames) -> list[np.ndarray]:
        """The frames (RGB uint8) at the render size: what the network, the blender and the guide see."""
        h, w = frames[0].shape[:2]
        rw, rh = padded_dims(*render_dims(w, h, self.render_size, multiple=self.align), self.align)
        return [cv2.resize(f, (rw, rh), interpolation=cv2.INTER_AREA) for f in frames]

    def network_input(self, frames: np.ndarray, start_index: int = 0) -> tuple[list[np.ndarray], np.ndarray, range]:
        """The frames at the render size, the network's input for them (their normalised Lab L,
        (N, 1, h, w) float32) and their indices in the clip."""
        small = self.render_frames(frames)
        self._source_size = (frames[0].shape[1], frames[0].shape[0])
        L = normalize_l(np.stack([rgb_to_luminance_l(s) for s in small])[:, None])
        if small[0].dtype == np.uint16:  # the network, the blender and the guide work at 8-bit precision; L keeps more
            small = [to_uint8_from16(s) for s in small]
        return small, L.astype(np.float32), range(start_index, start_index + len(small))

    def _finish(self, frames: np.ndarray, prepared: tuple, ab: np.ndarray) -> np.ndarray:
        """Guide, blend (in frame order: the blender carries its state), upsample and recombine with the
        source L."""
        small, L, indices = prepared
        h, w = frames.shape[1:3]
        chroma = []
        for i in range(len(frames)):
            ab_small = np.ascontiguousarray(ab[i].transpose(1, 2, 0))
            if self.guide is not None:
                ab_small = self.guide.apply(indices[i], (w, h), (L[i, 0] + 1.0) * L_SCALE, ab_small)
            if self.blender is not None:
                ab_small = self.blender.blend_frame(small[i], ab_small)
            chroma.append(cv2.resize(ab_small, (w, h), interpolation=cv2.INTER_LINEAR))
        if len(frames) == 1:
            return recombine_luminance_chroma(frames[0], chroma[0])[None]
        return np.stack(list(_recombine_pool().map(recombine_luminance_chroma, frames, chroma)))

    # -- the task steps of pipeline.render ------------------------------------------------------------
    def prepare(self, batch: FrameBatch) -> tuple[list[np.ndarray], np.ndarray, range]:
        return self.network_input(batch.frames, batch.start_index)

    def infer(self, prepared: tuple[list[np.ndarray], np.ndarray, range]) -> np.ndarray:
        """The network's ab (N, 2, h, w) in Lab units, conditioned on the guide: through the guidance inputs
        of a network trained with them, else as a prior on the decode."""
        conditioning = {}
        if self.guide is not None and self.palette_bands:
            L = prepared[1]
            conditioning = self.guide.network_inputs(prepared[2], self._source_size, (L.shape[3], L.shape[2]), self.palette_bands)
        elif self.guide is not None:
            prior = self.guide.log_priors(prepared[2])
            conditioning = {} if prior is None else {"log_prior": prior}
        ab = self.engine.run(prepared[1], **conditioning) * (AB_SCALE * self.saturation)
        if self.guide is not None:
            features_of = self.engine.match_features if getattr(self.engine, "matches_features", False) else None
            ab = self.guide.with_references(prepared[1], ab, prepared[2], features_of)
        return ab

    def finish(self, batch: FrameBatch, prepared: tuple[list[np.ndarray], np.ndarray, range], ab: np.ndarray) -> list[FrameBatch]:
        return [batch.with_frames(self._finish(batch.frames, prepared, ab))]

    # -- as a FrameProcessor (still images, callers without the pipeline) ------------------------------
    def process(self, batch: FrameBatch) -> Iterable[FrameBatch]:
        """Batch k's network runs here while batch k-1 is finished in a worker thread; returns batch k-1."""
        prepared = self.prepare(batch)
        ab = self.infer(prepared)
        return self._finisher.submit(lambda: batch.with_frames(self._finish(batch.frames, prepared, ab)))

    def flush(self) -> Iterable[FrameBatch]:
        return self._finisher.drain()

    def reset(self) -> None:
        """Forget the temporal state; a batch still being finished (from a failed render) is dropped."""
        self._finisher.discard()
        if self.blender is not None:
            self.blender.reset()
