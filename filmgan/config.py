"""Frozen configuration dataclasses, built once at the edge (CLI flags > preset > defaults)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from .errors import ConfigError

VIDEO_CODECS = ("h264", "h265", "prores", "ffv1", "vp9", "av1")


@dataclass(frozen=True)
class DecodeConfig:
    """How to read the source: frame range [start, end) and batch size."""

    start: int = 0
    end: int | None = None  # exclusive; None = to the end of the stream
    batch_size: int = 4
    threads: int = 0  # 0 = let FFmpeg choose
    skip_corrupt: bool = False  # drop undecodable packets (keeps A/V sync by timestamps) instead of failing


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


def did_you_mean(word: str, choices) -> str:
    """' (did you mean 'x'?)' or '' -- for error messages."""
    hint = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{hint[0]}'?)" if hint else ""
