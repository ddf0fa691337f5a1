"""Build a :class:`~filmgan.guide.guide.ColourGuide` from what the user names: reference images, coloured
keyframes of a video, a hints file (the CLI's ``--reference``, ``--keyframe``, ``--hints``, or a preset's
``[guide]`` table). The keyframe pre-pass decodes the video once at the colorizer's render size."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..config import DecodeConfig
from ..errors import ConfigError
from ..video.images import read_image
from ..video.reader import VideoReader
from .exemplar import Exemplar
from .guide import ColourGuide
from .hints import load_hints
from .keyframes import Keyframe, KeyframeTrack, PropagationConfig, check_keyframes, decode_range, track_frames
from .reference import Palette, PaletteConfig

# Chosen on the validation split (scripts/eval_guided.py --tune; README "Guided colorization"): one palette
# per lightness band over 5 bands, prior exponent 1.
DEFAULT_PALETTE = PaletteConfig(beta=1.0, bands=5)


@dataclass(frozen=True)
class GuideSpec:
    """The guidance a user asked for (paths as given); empty: automatic colorization."""

    references: tuple[Path, ...] = ()
    keyframes: tuple[Keyframe, ...] = ()
    hints: Path | None = None
    palette: PaletteConfig = field(default_factory=lambda: DEFAULT_PALETTE)

    def __bool__(self) -> bool:
        return bool(self.references or self.keyframes or self.hints)

    @property
    def needs_prior(self) -> bool:
        return bool(self.references or self.keyframes)


def takes_guidance_inputs(model_path: str | Path) -> bool:
    """Whether the model was trained with guidance inputs (a palette, hints): every backend runs its guide."""
    from ..card import read_card
    from ..errors import CheckpointError

    try:
        return bool(read_card(model_path).args.get("guided"))
    except CheckpointError:
        return False  # not a readable model file: loading the engine says what is wrong with it


def backend_for_guide(spec: GuideSpec, backend: str, model_path: str | Path) -> str:
    """The backend to load: ``auto`` becomes torch when references or keyframes must enter as a prior on the
    decode of a colorizer without guidance inputs (only the torch backend runs the prior)."""
    if spec.needs_prior and backend == "auto" and not takes_guidance_inputs(model_path):
        return "torch"
    return backend


def track_video(src: str | Path, keyframes: Sequence[Keyframe], render_frames: Callable, bins: np.ndarray,
                frame_range: tuple[int, int | None] | None = None, palette: PaletteConfig | None = None,
                propagation: PropagationConfig | None = None) -> KeyframeTrack:
    """The keyframe pre-pass over ``src``: ``render_frames(frames)`` resizes decoded frames as the colorizer
    does (``ColorizeProcessor.render_frames``); ``frame_range`` = (start, end) of a chunk, None for all."""
    keyframes = check_keyframes(keyframes)
    start, end = decode_range(keyframes, frame_range)
    reader = VideoReader(src, DecodeConfig(start=start, end=end, batch_size=8))
    for k in keyframes:
        if reader.info.frames_exact and reader.info.frames is not None and k.index >= reader.info.frames:
            raise ConfigError(f"keyframe {k.index} ({k.path}): {src} has {reader.info.frames} frames (0-{reader.info.frames - 1})")
    images = {k.index: read_image(k.path) for k in keyframes}

    def frames():
        for batch in reader:
            yield from render_frames(batch.frames)

    return track_frames(frames(), start, keyframes, images, (reader.info.width, reader.info.height), propagation, palette, bins)


def build_guide(spec: GuideSpec, bins: np.ndarray | None, video: Path | None = None, render_frames: Callable | None = None,
                frame_range: tuple[int, int | None] | None = None) -> ColourGuide | None:
    """The guide of ``spec`` (None when it asks for nothing); ``bins`` are the engine's ``prior_bins``.
    Keyframes need the ``video`` they belong to and the processor's ``render_frames``."""
    if not spec:
        return None
    if spec.needs_prior and bins is None:
        raise ConfigError("reference palettes and keyframes need a colorizer that takes a palette (one trained with guidance "
                          "inputs, on any backend; an automatic semantic colorizer on --backend torch)")
    images = [read_image(p) for p in spec.references]
    palette = Palette.from_images(images, bins, spec.palette) if images else None
    exemplar = Exemplar.from_images(images) if images else None
    hints = load_hints(spec.hints) if spec.hints else None
    track = None
    if spec.keyframes:
        if video is None or render_frames is None:
            raise ConfigError("keyframes belong to one video: give exactly one video input with --keyframe")
        track = track_video(video, spec.keyframes, render_frames, bins, frame_range, spec.palette)
    return ColourGuide(palette, track, hints, exemplar=exemplar)
