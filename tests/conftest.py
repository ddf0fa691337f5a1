"""Shared fixtures: synthetic clips (made once per session) and the real clips in ../shared/data."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/media.py

import media  # noqa: E402

REAL_VIDEOS = Path(__file__).parents[1].parent / "shared/data/videos"

# name -> (file name, factory keyword arguments); built lazily, once per session.
CLIP_SPECS = {
    "cfr24": ("cfr24.mp4", dict(frames=48, rate=Fraction(24000, 1001), audio=True)),
    "cfr25": ("cfr25.mkv", dict(frames=24, rate=Fraction(25), audio=True, subtitles=True)),
    "cfr30": ("cfr30.mkv", dict(frames=30, rate=Fraction(30000, 1001))),
    "long_mp4": ("long.mp4", dict(frames=100, rate=Fraction(25), gop=12)),
    "long_mkv": ("long.mkv", dict(frames=100, rate=Fraction(30000, 1001), gop=12)),
    "open_gop": ("open_gop.mkv", dict(frames=100, gop=24, options={"x264-params": "open-gop=1:bframes=3"})),
    "odd": ("odd.mkv", dict(frames=12, size=(65, 49), codec="ffv1", pix_fmt="yuv444p")),
    "rotated": ("rotated.mp4", dict(frames=12, rotation=90, color=dict(
        color_primaries=1, color_trc=1, colorspace=1, color_range=1))),
    "grey": ("grey.mkv", dict(frames=12, codec="ffv1", pix_fmt="gray")),
    "grey10": ("grey10.mkv", dict(frames=12, codec="ffv1", pix_fmt="gray10le")),
    "yuvj": ("yuvj.mkv", dict(frames=12, codec="mjpeg", pix_fmt="yuvj420p")),
    "rgb_ffv1": ("rgb.mkv", dict(frames=12, codec="ffv1", pix_fmt="bgr0")),
}


class ClipFactory:
    """``clips["cfr24"]`` -> media.Clip, written on first use into a session temp folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._made: dict[str, media.Clip] = {}

    def __getitem__(self, name: str) -> media.Clip:
        if name not in self._made:
            self._made[name] = self._make(name)
        return self._made[name]

    def _make(self, name: str) -> media.Clip:
        if name == "vfr_mkv":
            return media.make_vfr(self.folder / "vfr.mkv")
        if name == "vfr_mp4":
            return media.make_vfr(self.folder / "vfr.mp4", audio=True)
        if name == "audio_only":
            return _audio_only(self.folder / "audio_only.mka")
        file_name, kwargs = CLIP_SPECS[name]
        return media.make_video(self.folder / file_name, **kwargs)


def _audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        media._encode_audio(out, stream, Fraction(1, 2))
    return path


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> ClipFactory:
    return ClipFactory(tmp_path_factory.mktemp("clips"))


@pytest.fixture
def real_videos() -> Path:
    if not REAL_VIDEOS.is_dir():
        pytest.skip(f"real clips not found at {REAL_VIDEOS}")
    return REAL_VIDEOS


def leftovers(folder: Path) -> list[str]:
    """Temporary '.partial' files left in ``folder`` (must always be none)."""
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)
