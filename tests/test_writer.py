"""VideoWriter: codecs, pix_fmts, kept timestamps/colour/rotation, packet-exact audio, atomic output."""

from __future__ import annotations

import errno
import os
from fractions import Fraction

import numpy as np
import pytest

import media
from conftest import leftovers
from filmgan.config import DecodeConfig, EncodeConfig
from filmgan.errors import ConfigError, InputError, OutputError, ProcessorError
from filmgan.video import FrameBatch, VideoReader, VideoWriter, probe
from filmgan.video import atomic, writer as writer_mod

FAST = dict(preset="ultrafast")


def transcode(src, dst, encode=None, **kw):
    info = probe(src)
    with VideoWriter(dst, info, encode or EncodeConfig(**FAST), source=src, **kw) as w:
        for batch in VideoReader(src, DecodeConfig(batch_size=8), info=info):
            w.write(batch)
    return probe(dst)


def times(path):
    _, pts, tb = media.decode_all(path)
    return [p * tb for p in pts]


@pytest.mark.parametrize("codec, ext, pix_fmt, name", [
    ("h264", ".mp4", "yuv420p", "h264"), ("h265", ".mp4", "yuv420p", "hevc"),
    ("prores", ".mov", "yuv422p10le", "prores"), ("ffv1", ".mkv", "bgr0", "ffv1"),
    ("vp9", ".webm", "yuv420p", "vp9"), ("av1", ".mkv", "yuv420p", None),
])
def test_codecs_and_default_pix_fmts(clips, tmp_path, codec, ext, pix_fmt, name):
    out = transcode(clips["cfr24"].path, tmp_path / f"out{ext}", EncodeConfig(codec=codec, preset=None,
                                                                             copy_audio=ext != ".webm"))
    assert out.pix_fmt == pix_fmt and (name is None or out.codec == name)
    assert len(times(tmp_path / f"out{ext}")) == 48 and out.fps == Fraction(24000, 1001)


@pytest.mark.parametrize("codec, pix_fmt", [("h264", "yuv420p10le"), ("h265", "yuv420p10le"),
                                            ("h264", "yuv444p"), ("prores", "yuv444p10le")])
def test_other_pix_fmts(clips, tmp_path, codec, pix_fmt):
    dst = tmp_path / ("out.mov" if codec == "prores" else "out.mkv")
    out = transcode(clips["cfr30"].path, dst, EncodeConfig(codec=codec, pix_fmt=pix_fmt, **FAST))
    assert out.pix_fmt == pix_fmt.replace("444p10", "444p12")  # FFmpeg decodes ProRes 4444 as 12-bit


@pytest.mark.parametrize("name", ["rgb_ffv1", "odd", "cfr30"])
def test_ffv1_round_trip_is_exact(clips, tmp_path, name):
    src = clips[name].path
    transcode(src, tmp_path / "out.mkv", EncodeConfig(codec="ffv1"))
    before, _, _ = media.decode_all(src)
    after, _, _ = media.decode_all(tmp_path / "out.mkv")
    assert len(before) == len(after)
    ref = [f for b in VideoReader(src) for f in b.frames]
    assert all(np.array_equal(a, b) for a, b in zip(ref, after))


@pytest.mark.parametrize("name, ext", [("vfr_mkv", ".mkv"), ("vfr_mp4", ".mp4"), ("cfr24", ".mp4"),
                                       ("cfr25", ".mkv"), ("long_mp4", ".mp4")])
def test_timestamps_survive(clips, tmp_path, name, ext):
    src = clips[name].path
    out = transcode(src, tmp_path / f"out{ext}")
    assert times(tmp_path / f"out{ext}") == times(src)
    info = probe(src)
    assert out.time_base == info.time_base and out.is_vfr == info.is_vfr
    if info.frames_exact:
        assert out.frames == info.frames
        # a VFR clip's last frame has no next timestamp to fix its duration; CFR ones are exact
        assert abs(out.duration - info.duration) <= (1 / info.fps if info.is_vfr else 0)


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".mov"])
def test_colour_tags_and_rotation_survive(clips, tmp_path, ext):
    out = transcode(clips["rotated"].path, tmp_path / f"out{ext}")
    assert out.rotation == 90
    assert (out.color_primaries, out.color_trc, out.colorspace, out.color_range) == (1, 1, 1, 1)


def test_full_range_survives(clips, tmp_path):
    out = transcode(clips["yuvj"].path, tmp_path / "out.mkv")
    assert out.color_range == 2


@pytest.mark.parametrize("name, ext", [("cfr24", ".mp4"), ("cfr25", ".mkv"), ("cfr24", ".mov"), ("vfr_mp4", ".mp4")])
def test_audio_packets_are_bit_identical(clips, tmp_path, name, ext):
    src = clips[name].path
    transcode(src, tmp_path / f"out{ext}")
    assert media.packets(tmp_path / f"out{ext}") == media.packets(src)


def test_audio_into_another_container_keeps_bytes_and_sync(clips, tmp_path):
    src = clips["cfr24"].path  # mp4 AAC starts at -1024 samples (priming)
    transcode(src, tmp_path / "out.mkv")
    before, after = media.packets(src), media.packets(tmp_path / "out.mkv")
    assert [b for b, _ in before] == [b for b, _ in after]
    # Matroska cannot start before zero: the muxer shifts every stream alike, so A/V sync is kept
    shift_audio = after[0][1] - before[0][1]
    shift_video = times(tmp_path / "out.mkv")[0] - times(src)[0]
    assert abs(shift_audio - shift_video) <= Fraction(1, 1000)
    assert all(abs((a - b) - shift_audio) <= Fraction(1, 1000) for (_, b), (_, a) in zip(before, after))


def test_subtitles_are_copied(clips, tmp_path):
    src = clips["cfr25"].path
    out = transcode(src, tmp_path / "out.mkv")
    assert [s.codec for s in out.subtitles] == ["subrip"] and out.subtitles[0].language == "eng"
    assert media.packets(tmp_path / "out.mkv", "subtitles") == media.packets(src, "subtitles")


def test_side_streams_can_be_dropped(clips, tmp_path):
    out = transcode(clips["cfr25"].path, tmp_path / "out.mp4",
                    EncodeConfig(copy_audio=False, copy_subtitles=False, **FAST))
    assert out.audio == () and out.subtitles == ()


def test_incompatible_audio_names_the_fix(clips, tmp_path):
    with pytest.raises(OutputError, match=r"\.mkv"):
        transcode(clips["cfr24"].path, tmp_path / "out.webm", EncodeConfig(codec="vp9"))
    assert not (tmp_path / "out.webm").exists() and leftovers(tmp_path) == []


def test_incompatible_subtitles_name_the_fix(clips, tmp_path):
    with pytest.raises(OutputError, match="no-subtitles"):
        transcode(clips["cfr25"].path, tmp_path / "out.mp4")
    assert leftovers(tmp_path) == []


def test_codec_container_mismatch(clips, tmp_path):
    with pytest.raises(OutputError, match="cannot hold prores"):
        transcode(clips["cfr30"].path, tmp_path / "out.mp4", EncodeConfig(codec="prores"))
    assert leftovers(tmp_path) == []


def test_unknown_codec_and_pix_fmt(clips, tmp_path):
    with pytest.raises(ConfigError, match="did you mean"):
        transcode(clips["cfr30"].path, tmp_path / "a.mp4", EncodeConfig(codec="h246"))
    with pytest.raises(ConfigError, match="cannot encode pix_fmt"):
        transcode(clips["cfr30"].path, tmp_path / "b.mp4", EncodeConfig(pix_fmt="bgr0"))
    assert leftovers(tmp_path) == []


def test_odd_size_needs_444(clips, tmp_path):
    with pytest.raises(ConfigError, match="yuv444p"):
        transcode(clips["odd"].path, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []
    assert transcode(clips["odd"].path, tmp_path / "ok.mp4", EncodeConfig(pix_fmt="yuv444p", **FAST)).size == (65, 49)


@pytest.mark.parametrize("width, height", [(0, 16), (16385, 2)])
def test_absurd_sizes(width, height):
    with pytest.raises(InputError, match="out of range"):
        writer_mod.check_size(width, height, "yuv444p")


def _batch(info, n=3, start=0):
    frames = np.stack([media.pattern(i, info.width, info.height) for i in range(start, start + n)])
    return FrameBatch(frames, np.array([info.pts_of(i) for i in range(start, start + n)], np.int64), info.time_base)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_leaves_nothing(clips, tmp_path, error):
    info = probe(clips["cfr24"].path)
    dst = tmp_path / "out.mp4"
    with pytest.raises(error):
        with VideoWriter(dst, info, EncodeConfig(**FAST)) as w:
            w.write(_batch(info))
            assert leftovers(tmp_path)  # the temporary file exists while writing, with the real extension
            assert leftovers(tmp_path)[0].endswith(".mp4")
            raise error()
    assert not dst.exists() and leftovers(tmp_path) == []


def test_existing_destination_needs_overwrite(clips, tmp_path):
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"old")
    with pytest.raises(OutputError, match="already exists"):
        transcode(clips["cfr30"].path, dst)
    assert dst.read_bytes() == b"old"
    transcode(clips["cfr30"].path, dst, overwrite=True)
    assert probe(dst).codec == "h264" and leftovers(tmp_path) == []


def test_never_overwrites_the_input(clips, tmp_path):
    src = tmp_path / "src.mkv"
    src.write_bytes(clips["cfr30"].path.read_bytes())
    with pytest.raises(OutputError, match="input"):
        transcode(src, src, overwrite=True)
    os.symlink(src, tmp_path / "link.mkv")
    with pytest.raises(OutputError, match="input"):
        transcode(src, tmp_path / "link.mkv", overwrite=True)
    assert src.read_bytes() == clips["cfr30"].path.read_bytes()


def test_missing_or_unwritable_folder(clips, tmp_path, monkeypatch):
    with pytest.raises(OutputError, match="does not exist"):
        transcode(clips["cfr30"].path, tmp_path / "nope" / "out.mp4")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    if os.geteuid() == 0:  # root ignores folder permissions: pretend
        monkeypatch.setattr(atomic.os, "access", lambda path, mode: False)
    with pytest.raises(OutputError, match="not writable"):
        transcode(clips["cfr30"].path, locked / "out.mp4")


def test_disk_full_is_an_output_error(clips, tmp_path, monkeypatch):
    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "fsync_file", full)
    with pytest.raises(OutputError, match="disk full"):
        transcode(clips["cfr30"].path, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []


def test_non_increasing_pts_is_refused(clips, tmp_path):
    info = probe(clips["cfr24"].path)
    with pytest.raises(ProcessorError, match="does not increase"):  # the reader guarantees increasing pts
        with VideoWriter(tmp_path / "out.mp4", info, EncodeConfig(**FAST)) as w:
            w.write(_batch(info, 3, 0))
            w.write(_batch(info, 3, 1))
    assert leftovers(tmp_path) == []


def test_nothing_written_is_an_error(clips, tmp_path):
    with pytest.raises(OutputError, match="no frames"):
        with VideoWriter(tmp_path / "out.mp4", probe(clips["cfr24"].path), EncodeConfig(**FAST)):
            pass
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.mp4").exists()


# -- still images ------------------------------------------------------------------------------------

def test_image_round_trip_png_is_exact(tmp_path):
    from filmgan.video import images

    rgb = media.pattern(3, 40, 30)
    path = images.write_image(tmp_path / "still ü.png", rgb)
    assert np.array_equal(images.read_image(path), rgb) and leftovers(tmp_path) == []
    assert images.is_image(path) and not images.is_image(tmp_path / "clip.mp4")


def test_image_grey_16bit_and_alpha(tmp_path):
    import cv2

    from filmgan.video import images

    cv2.imwrite(str(tmp_path / "g16.png"), np.full((4, 5), 65535, np.uint16))
    assert images.read_image(tmp_path / "g16.png").tolist() == np.full((4, 5, 3), 255).tolist()
    bgra = np.zeros((2, 2, 4), np.uint8)  # fully transparent black -> white page
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    assert (images.read_image(tmp_path / "a.png") == 255).all()


def test_image_errors(tmp_path):
    from filmgan.video import images

    with pytest.raises(InputError, match="no such file"):
        images.read_image(tmp_path / "none.png")
    (tmp_path / "bad.png").write_text("no")
    with pytest.raises(InputError, match="not a readable image"):
        images.read_image(tmp_path / "bad.png")
    with pytest.raises(OutputError, match="extension"):
        images.write_image(tmp_path / "x.mp4", np.zeros((2, 2, 3), np.uint8))
    (tmp_path / "keep.png").write_bytes(b"x")
    with pytest.raises(OutputError, match="already exists"):
        images.write_image(tmp_path / "keep.png", np.zeros((2, 2, 3), np.uint8), overwrite=False)
