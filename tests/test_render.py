"""pipeline.render: frame counts/timestamps for every clip kind, ranges, errors from every stage,
Ctrl-C, atomicity, progress, and the no-torch rule."""

from __future__ import annotations

import _thread
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

import media
from conftest import leftovers
from filmgan.config import DecodeConfig, EncodeConfig, RenderConfig
from filmgan.errors import ConfigError, InputError, OutputError
from filmgan.pipeline import ProcessorError, RenderResult, render
from filmgan.video import FrameBatch, IdentityProcessor, MapProcessor, probe

FAST = EncodeConfig(preset="ultrafast")


def cfg(encode=FAST, **decode) -> RenderConfig:
    return RenderConfig(decode=DecodeConfig(**decode), encode=encode)


def times(path):
    _, pts, tb = media.decode_all(path)
    return [p * tb for p in pts]


@pytest.mark.parametrize("name, ext, encode", [
    ("cfr24", ".mp4", FAST), ("cfr25", ".mkv", FAST), ("cfr30", ".mkv", FAST), ("vfr_mkv", ".mkv", FAST),
    ("vfr_mp4", ".mp4", FAST), ("odd", ".mkv", EncodeConfig(codec="ffv1")), ("rotated", ".mp4", FAST),
    ("grey", ".mkv", FAST), ("yuvj", ".mkv", FAST),
])
def test_identity_render_keeps_count_and_timestamps(clips, tmp_path, name, ext, encode):
    src, dst = clips[name].path, tmp_path / f"out{ext}"
    result = render(src, dst, IdentityProcessor(), cfg(encode))
    assert isinstance(result, RenderResult) and result.output == dst
    assert result.frames_in == result.frames_out == len(times(src))
    assert times(dst) == times(src)
    before, after = probe(src), probe(dst)
    assert after.rotation == before.rotation and after.size == before.size
    if before.frames_exact:
        assert after.frames == before.frames
    assert leftovers(tmp_path) == []


def test_ffv1_render_is_pixel_exact(clips, tmp_path):
    render(clips["rgb_ffv1"].path, tmp_path / "out.mkv", IdentityProcessor(), cfg(EncodeConfig(codec="ffv1")))
    frames, _, _ = media.decode_all(tmp_path / "out.mkv")
    assert all(np.array_equal(f, media.pattern(i, 64, 48)) for i, f in enumerate(frames))


@pytest.mark.parametrize("name, ext", [("cfr24", ".mp4"), ("cfr25", ".mkv")])
def test_audio_and_subtitles_survive_render(clips, tmp_path, name, ext):
    src, dst = clips[name].path, tmp_path / f"out{ext}"
    render(src, dst, IdentityProcessor(), cfg())
    assert media.packets(dst) == media.packets(src)
    if clips[name].subtitles:
        assert media.packets(dst, "subtitles") == media.packets(src, "subtitles")


def test_frame_range_render(clips, tmp_path):
    src, dst = clips["cfr24"].path, tmp_path / "range.mp4"
    result = render(src, dst, IdentityProcessor(), cfg(start=10, end=30))
    assert result.frames_out == 20
    frames, pts, tb = media.decode_all(dst)
    assert [media.frame_index(f) for f in frames] == list(range(10, 30))
    info = probe(src)
    assert [p * tb for p in pts] == [(info.pts_of(i) - info.pts_of(10)) * info.time_base for i in range(10, 30)]
    # audio: the source packets overlapping that span, bytes unchanged, shifted so the span starts at zero
    start, end = 10 / info.fps, 30 / info.fps
    shift = round(start * 48000) / Fraction(48000)
    span = [(b, t - shift) for b, t in media.packets(src) if t + Fraction(1024, 48000) > start and t < end]
    assert media.packets(dst) == span and span[0][1] < 0


def test_processor_may_change_size(clips, tmp_path):
    half = MapProcessor(lambda f: np.stack([cv2.resize(x, (32, 24), interpolation=cv2.INTER_AREA) for x in f]))
    render(clips["cfr30"].path, tmp_path / "half.mkv", half, cfg())
    assert probe(tmp_path / "half.mkv").size == (32, 24)


class HoldBack:
    """Returns every batch one call late and the last one on flush (a stateful processor)."""

    def __init__(self):
        self.held = None

    def process(self, batch):
        out, self.held = self.held, batch
        return [] if out is None else [out]

    def flush(self):
        out, self.held = self.held, None
        return [] if out is None else [out]

    def reset(self):
        self.held = None


def test_stateful_processor_with_flush(clips, tmp_path):
    result = render(clips["cfr24"].path, tmp_path / "out.mp4", HoldBack(), cfg())
    assert result.frames_out == 48 and times(tmp_path / "out.mp4") == times(clips["cfr24"].path)


class Boom(IdentityProcessor):
    def __init__(self, error, after=2):
        self.error, self.after, self.calls = error, after, 0

    def process(self, batch):
        self.calls += 1
        if self.calls > self.after:
            raise self.error
        return (batch,)


@pytest.mark.parametrize("error", [ValueError("model exploded"), KeyboardInterrupt()])
def test_failure_midway_leaves_nothing(clips, tmp_path, error):
    before = threading.active_count()
    dst = tmp_path / "out.mp4"
    with pytest.raises(type(error)):
        render(clips["long_mp4"].path, dst, Boom(error), cfg(batch_size=2))
    assert not dst.exists() and leftovers(tmp_path) == []
    assert threading.active_count() == before  # decoder and encoder threads have stopped


class Slow(IdentityProcessor):
    def process(self, batch):
        time.sleep(0.02)
        return (batch,)


def test_ctrl_c_stops_promptly_and_leaves_nothing(clips, tmp_path):
    """A real SIGINT (as from Ctrl-C) delivered to the main thread while it waits on a queue."""
    before = threading.active_count()
    # Python's own Ctrl-C handler, also where the test process inherited SIGINT ignored (a shell's
    # background job), in which case interrupt_main would do nothing
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    try:
        timer.start()
        started = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            render(clips["long_mp4"].path, tmp_path / "out.mp4", Slow(), cfg(batch_size=1))
            time.sleep(5)  # not reached unless the render finished before the signal
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.perf_counter() - started < 3
    assert not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []
    assert threading.active_count() == before


class Lossy(IdentityProcessor):
    def process(self, batch):
        return (FrameBatch(batch.frames[:-1], batch.pts[:-1], batch.time_base, batch.start_index),)


def test_lost_frames_are_an_error(clips, tmp_path):
    with pytest.raises(ProcessorError, match="exactly once"):
        render(clips["cfr24"].path, tmp_path / "out.mp4", Lossy(), cfg())
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.mp4").exists()


def test_encoder_error_reaches_the_caller(clips, tmp_path):
    odd = MapProcessor(lambda f: np.ascontiguousarray(f[:, :47, :63]))
    with pytest.raises(ConfigError, match="yuv444p"):
        render(clips["cfr24"].path, tmp_path / "out.mp4", odd, cfg())
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.mp4").exists()


def test_decoder_error_reaches_the_caller(clips, tmp_path):
    cut = media.truncate(clips["long_mkv"].path, tmp_path / "cut.mkv", 0.6)
    with pytest.raises(InputError, match="corrupt"):
        render(cut, tmp_path / "out.mkv", IdentityProcessor(), cfg())
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.mkv").exists()
    result = render(cut, tmp_path / "out.mkv", IdentityProcessor(), cfg(skip_corrupt=True))
    assert result.skipped >= 1 and result.frames_out == len(times(tmp_path / "out.mkv"))


def test_destination_rules(clips, tmp_path):
    src = tmp_path / "src.mp4"
    src.write_bytes(clips["cfr24"].path.read_bytes())
    with pytest.raises(OutputError, match="input"):
        render(src, src, IdentityProcessor(), RenderConfig(overwrite=True))
    (tmp_path / "out.mp4").write_bytes(b"x")
    with pytest.raises(OutputError, match="already exists"):
        render(src, tmp_path / "out.mp4", IdentityProcessor(), cfg())
    render(src, tmp_path / "out.mp4", IdentityProcessor(), RenderConfig(encode=FAST, overwrite=True))
    assert probe(tmp_path / "out.mp4").frames == 48


def test_bad_config_fails_before_work(clips, tmp_path):
    with pytest.raises(ConfigError):
        render(clips["cfr24"].path, tmp_path / "o.mp4", IdentityProcessor(), RenderConfig(queue_depth=0))
    with pytest.raises(InputError, match="no such file"):
        render(tmp_path / "missing.mp4", tmp_path / "o.mp4", IdentityProcessor())


def test_progress_callback(clips, tmp_path):
    calls = []
    render(clips["cfr24"].path, tmp_path / "o.mp4", IdentityProcessor(), cfg(batch_size=8),
           progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (8, 48) and calls[-1] == (48, 48)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_render_imports_no_torch(clips, tmp_path):
    code = (
        "import sys; from filmgan.pipeline import render; from filmgan.video import IdentityProcessor;"
        "from filmgan.config import RenderConfig, EncodeConfig;"
        f"render({str(clips['cfr30'].path)!r}, {str(tmp_path / 'o.mkv')!r}, IdentityProcessor(),"
        " RenderConfig(encode=EncodeConfig(preset='ultrafast')));"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    root = Path(__file__).parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=60)


@pytest.mark.realdata
@pytest.mark.parametrize("ext, codec", [(".mkv", "h264"), (".webm", "vp9")])
def test_real_bunny_keeps_vorbis(real_videos, tmp_path, ext, codec):
    src, dst = real_videos / "big_buck_bunny_432_433.webm", tmp_path / f"bunny{ext}"
    encode = EncodeConfig(codec=codec, preset="ultrafast" if codec == "h264" else "8", crf=40)
    result = render(src, dst, IdentityProcessor(), RenderConfig(encode=encode))
    assert result.frames_out == 24 and probe(dst).size == (1280, 720)
    assert media.packets(dst) == media.packets(src)
    assert times(dst) == times(src)


@pytest.mark.realdata
def test_real_airplane_range_keeps_mp3(real_videos, tmp_path):
    src, dst = real_videos / "airplane_flyby.mp4", tmp_path / "plane.mp4"
    result = render(src, dst, IdentityProcessor(), cfg(start=100, end=150))
    assert result.frames_out == 50 and probe(dst).frames == 50
    start, end = Fraction(4), Fraction(6)
    span = [(b, t - start) for b, t in media.packets(src) if t + Fraction(1152, 44100) > start and t < end]
    assert [a.codec for a in probe(dst).audio] == ["mp3"]
    out = media.packets(dst)
    assert [b for b, _ in out] == [b for b, _ in span]
    assert all(abs(a - b) < Fraction(1, 10000) for (_, a), (_, b) in zip(out, span))
