"""A shot's typed render settings (preset + the shot's overrides), built the way the render commands build them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import DecodeConfig, EncodeConfig, RenderConfig, TaskConfig
from ..errors import ConfigError
from .jobfile import Shot

SEGMENT_ENCODE = {"ffv1": EncodeConfig(codec="ffv1", copy_audio=False, copy_subtitles=False, closed_gop=True, keep_pts=True),
                  "prores": EncodeConfig(codec="prores", copy_audio=False, copy_subtitles=False, closed_gop=True, keep_pts=True)}


@dataclass(frozen=True)
class ShotConfig:
    task: TaskConfig
    model: Path
    task_name: str  # the model card task: colorize | style
    guide: Any  # filmgan.guide.GuideSpec: the preset's [guide] with the shot's own entries over it (empty: automatic)
    backend: str  # the shot's backend; 'auto' becomes torch when the guide needs a prior on the decode (as the CLI does)

    def render_config(self, start: int, end: int, warmup: int, segment_codec: str) -> RenderConfig:
        """A frame-range render into an intra-only segment that keeps the source pts (no audio)."""
        return RenderConfig(decode=DecodeConfig(start=start, end=end, warmup=warmup, batch_size=1), encode=SEGMENT_ENCODE[segment_codec])


def shot_config(shot: Shot) -> ShotConfig:
    """Preset, overrides and model of ``shot`` (ConfigError / ModelUnavailableError when they do not resolve)."""
    from ..presets import find_preset

    preset = find_preset(shot.preset)
    task = preset.task_config(render_size=shot.render_size, saturation=shot.saturation, temporal=shot.temporal,
                              temporal_strength=shot.temporal_strength)
    from ..guide.keyframes import Keyframe

    try:
        guide = preset.guide_spec(references=shot.references or None, keyframes=[Keyframe(n, p) for n, p in shot.keyframes] or None,
                                  hints=shot.hints)
    except ConfigError as exc:
        raise ConfigError(f"shot '{shot.name}': {exc}") from exc
    from ..guide.build import backend_for_guide

    model = shot.model or preset.model_path()
    return ShotConfig(task, model, preset.task, guide, backend_for_guide(guide, shot.backend, model))
