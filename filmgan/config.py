"""Frozen configuration dataclasses, built once at the edge (CLI flags > preset > defaults)."""

from __future__ import annotations

import difflib
from fractions import Fraction
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from .errors import ConfigError

VIDEO_CODECS = ("h264", "h265", "prores", "dnxhr", "ffv1", "vp9", "av1")


@dataclass(frozen=True)
class DecodeConfig:
    """How to read the source: frame range [start, end) and batch size."""

    start: int = 0
    end: int | None = None  # exclusive; None = to the end of the stream
    warmup: int = 0  # frames before ``start`` decoded into the temporal state but not encoded (farm chunks)
    batch_size: int = 4
    threads: int = 0  # 0 = let FFmpeg choose
    thread_type: str = "SLICE"  # FFmpeg decoder threading: SLICE | FRAME | AUTO (see scripts/bench_pipeline.py)
    skip_corrupt: bool = False  # drop undecodable packets (keeps A/V sync by timestamps) instead of failing
    fps: Fraction | None = None  # frame rate of an image sequence input (None: video.sequence.DEFAULT_FPS)


@dataclass(frozen=True)
class EncodeConfig:
    """How to write the output video. ``None`` fields take the codec's sensible default."""

    codec: str = "h264"
    crf: int | None = None
    preset: str | None = None  # x264/x265 speed preset
    pix_fmt: str | None = None  # e.g. yuv420p, yuv420p10le, yuv422p10le, yuv444p
    bitrate: int | None = None
    copy_audio: bool = True
    copy_subtitles: bool = True
    gop: int | None = None
    closed_gop: bool = False  # farm segments need closed GOPs
    keep_pts: bool = False  # a frame range keeps the source pts instead of starting at 0 (farm segments)


@dataclass(frozen=True)
class RenderConfig:
    """Everything ``pipeline.render`` needs besides source, destination and processor."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)
    encode: EncodeConfig = field(default_factory=EncodeConfig)
    queue_depth: int = 4  # batches in flight between stages; memory ~ 2 * queue_depth * batch_size frames
    overwrite: bool = False


def check_keys(data: Mapping[str, Any], cls: type, where: str) -> None:
    """Raise ConfigError for keys that are not fields of ``cls``, with a did-you-mean."""
    known = [f.name for f in fields(cls)]
    for key in data:
        if key not in known:
            hint = difflib.get_close_matches(key, known, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else f" (known keys: {', '.join(known)})"
            raise ConfigError(f"{where}: unknown key '{key}'{suggestion}")


def read_toml(path, what: str) -> dict[str, Any]:
    """The TOML document at ``path``; ConfigError naming ``what`` (e.g. 'preset') when missing or malformed."""
    import tomllib
    from pathlib import Path

    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} file not found: {path}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path}: not valid TOML ({exc})") from exc


def did_you_mean(word: str, choices) -> str:
    """' (did you mean 'x'?)' or '' -- for error messages."""
    hint = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


FLOW_PRESETS = ("ultrafast", "fast", "medium")


@dataclass(frozen=True)
class BlendConfig:
    """Flow-guided temporal blending at inference (``filmgan.temporal.blend.FlowBlender``).

    ``out_t = a*M*warp(out_{t-1}) + (1 - a*M)*G(x_t)`` with ``a = strength`` and M the per-pixel
    confidence (non-occluded, not a motion boundary, small photometric error). See DESIGN.md section 3.
    """

    enabled: bool = True
    strength: float = 0.8  # a in [0, 1): 0 = per-frame output; 0.8 ~ an exponential memory of ~5 frames
    flow_preset: str = "fast"  # OpenCV DIS preset: ultrafast | fast | medium
    flow_max_side: int | None = 640  # compute flow with the longer side at most this (px); None = full size
    occlusion_slack: float = 0.5  # additive term (px^2) of the forward-backward check (Sundaram et al. 2010)
    photometric_threshold: float = 0.08  # source-warp error (0..1) where the weight falls to 1/e; 0 = off
    scene_cut_threshold: float = 0.5  # SceneCutDetector score (0..1) that starts a new shot
    chroma_only: bool = False  # blend chroma only, keep G(x_t)'s luma exactly (colorization)
    feather: float = 1.5  # Gaussian sigma (px at flow size) softening the confidence mask
    flat_threshold: float = 1.0  # RMS source gradient (grey levels/px at flow size) below which the
    # forward-backward check is ignored (flat regions: only the photometric check applies); 0 = never

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength < 1.0:
            raise ConfigError(f"blend.strength must be in [0, 1), got {self.strength}")
        if self.flow_preset not in FLOW_PRESETS:
            raise ConfigError(
                f"blend.flow_preset must be one of {', '.join(FLOW_PRESETS)}, got '{self.flow_preset}'"
                + did_you_mean(str(self.flow_preset), FLOW_PRESETS)
            )
        if self.flow_max_side is not None and self.flow_max_side < 16:
            raise ConfigError(f"blend.flow_max_side must be >= 16 or None, got {self.flow_max_side}")
        for name in ("occlusion_slack", "photometric_threshold", "feather", "flat_threshold"):
            if getattr(self, name) < 0:
                raise ConfigError(f"blend.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 < self.scene_cut_threshold <= 1.0:
            raise ConfigError(f"blend.scene_cut_threshold must be in (0, 1], got {self.scene_cut_threshold}")


UPSAMPLERS = ("bicubic", "guided", "detail")


@dataclass(frozen=True)
class ColorizeConfig:
    """Options of the colorize task (built once at the edge: flags > preset > defaults)."""

    render_size: int | None = None  # short side the network runs at; None: the model card's internal size
    saturation: float | None = None  # gain on the predicted chroma; None: the card's calibrated value
    blend: BlendConfig = field(default_factory=lambda: BlendConfig(chroma_only=True))
    task = "colorize"  # class attribute (not a field): the model card task this config runs

    def __post_init__(self) -> None:
        if self.render_size is not None and self.render_size < 1:
            raise ConfigError(f"render_size must be >= 1, got {self.render_size}")
        if self.saturation is not None and self.saturation < 0:
            raise ConfigError(f"saturation must be >= 0, got {self.saturation}")


@dataclass(frozen=True)
class StylizeConfig:
    """Options of the style task (built once at the edge: flags > preset > defaults)."""

    render_size: int | None = None  # short side the network runs at; None: the card's; 0: the frame's own
    upsample: str = "bicubic"  # bicubic | guided | detail (see processors.stylize)
    palette_strength: float = 1.0  # 0: the frame's colours, 1: the painting's (models with a palette step)
    blend: BlendConfig = field(default_factory=BlendConfig)
    task = "style"

    def __post_init__(self) -> None:
        if self.render_size is not None and self.render_size < 0:
            raise ConfigError(f"render_size must be >= 0, got {self.render_size}")
        if self.upsample not in UPSAMPLERS:
            raise ConfigError(f"unknown upsampling '{self.upsample}' ({', '.join(UPSAMPLERS)}){did_you_mean(self.upsample, UPSAMPLERS)}")
        if not 0.0 <= self.palette_strength <= 1.0:
            raise ConfigError(f"palette_strength must be between 0 (the frame's colours) and 1 (the painting's), got {self.palette_strength}")


TaskConfig = ColorizeConfig | StylizeConfig
