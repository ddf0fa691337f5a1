"""VideoReader: batches, frame-exact seeking (B-frames, open GOP, VFR), pix_fmts, corrupt data."""

from __future__ import annotations

import numpy as np
import pytest

import media
from filmgan.config import DecodeConfig
from filmgan.errors import ConfigError, InputError
from filmgan.video import VideoReader


def read(path, **kw):
    reader = VideoReader(path, DecodeConfig(**kw))
    batches = list(reader)
    frames = np.concatenate([b.frames for b in batches]) if batches else np.empty((0,))
    pts = np.concatenate([b.pts for b in batches]) if batches else np.empty((0,))
    return reader, batches, frames, pts


def indices(frames) -> list[int]:
    return [media.frame_index(f) for f in frames]


def test_whole_clip_batches_and_pts(clips):
    clip = clips["cfr24"]
    reader, batches, frames, pts = read(clip.path, batch_size=5)
    assert [len(b) for b in batches] == [5] * 9 + [3]
    assert [b.start_index for b in batches] == list(range(0, 48, 5))
    assert frames.shape == (48, 48, 64, 3) and frames.dtype == np.uint8
    assert indices(frames) == list(range(48))
    _, src_pts, tb = media.decode_all(clip.path)
    assert pts.tolist() == src_pts and batches[0].time_base == tb == reader.info.time_base


def test_batches_are_independent_arrays(clips):
    batches = list(VideoReader(clips["cfr30"].path, DecodeConfig(batch_size=4)))
    first = batches[0].frames.copy()
    assert not np.shares_memory(batches[0].frames, batches[1].frames)
    assert np.array_equal(first, batches[0].frames)


def test_pixels_match_a_plain_decode(clips):
    clip = clips["long_mp4"]
    ref, _, _ = media.decode_all(clip.path)
    _, _, frames, _ = read(clip.path, batch_size=8)
    assert all(np.array_equal(a, b) for a, b in zip(ref, frames))


@pytest.mark.parametrize("name", ["long_mp4", "long_mkv", "open_gop"])
@pytest.mark.parametrize("start, end", [(1, 4), (11, 14), (12, 13), (13, 20), (37, 41), (60, None), (99, None)])
def test_seek_is_frame_exact(clips, name, start, end):
    clip = clips[name]
    reader, batches, frames, pts = read(clip.path, start=start, end=end, batch_size=3)
    stop = end if end is not None else clip.frames
    assert indices(frames) == list(range(start, stop))
    assert batches[0].start_index == start
    assert pts.tolist() == media.decode_all(clip.path)[1][start:stop]
    assert reader.seeked, "a CFR clip should be entered by seeking"


def test_seek_pixels_equal_decode_from_start(clips):
    clip = clips["long_mkv"]
    ref, _, _ = media.decode_all(clip.path)
    _, _, frames, _ = read(clip.path, start=50, end=58)
    assert all(np.array_equal(a, b) for a, b in zip(ref[50:58], frames))


def test_vfr_range_decodes_from_start(clips):
    clip = clips["vfr_mkv"]
    reader, _, frames, pts = read(clip.path, start=7, end=19)
    assert indices(frames) == list(range(7, 19))
    assert pts.tolist() == clip.pts[7:19]
    assert not reader.seeked


@pytest.mark.parametrize("thread_type", ["SLICE", "FRAME", "AUTO"])
def test_thread_types_agree(clips, thread_type):
    _, _, frames, _ = read(clips["long_mp4"].path, start=20, end=30, thread_type=thread_type)
    assert indices(frames) == list(range(20, 30))


def test_odd_size(clips):
    _, _, frames, _ = read(clips["odd"].path)
    assert frames.shape == (12, 49, 65, 3)
    expected = media.pattern(3, 65, 49).astype(int)
    assert np.abs(frames[3].astype(int) - expected).mean() < 3


@pytest.mark.parametrize("name", ["grey", "grey10"])
def test_grey_decodes_to_equal_channels(clips, name):
    _, _, frames, _ = read(clips[name].path)
    assert frames.shape[-1] == 3
    assert np.array_equal(frames[..., 0], frames[..., 1]) and np.array_equal(frames[..., 1], frames[..., 2])
    assert frames.dtype == (np.uint16 if name == "grey10" else np.uint8)  # high bit depth stays 16-bit
    eight = (frames.astype(np.uint32) // 257).astype(np.uint8) if frames.dtype == np.uint16 else frames
    assert indices(eight) == list(range(12))


def test_full_range_yuvj(clips):
    _, _, frames, _ = read(clips["yuvj"].path)
    # frame 5 = bits 0 and 2 set: blocks of 235 and 16. Read as limited range they would become 255 and 0.
    high = frames[5, 2:6, [2, 3, 4, 5, 18, 19, 20, 21]].astype(int)
    low = frames[5, 2:6, [10, 11, 12, 13, 26, 27, 28, 29]].astype(int)
    assert abs(high.mean() - media.HIGH) < 6 and abs(low.mean() - media.LOW) < 6


def test_rgb_source_is_exact(clips):
    _, _, frames, _ = read(clips["rgb_ffv1"].path)
    assert all(np.array_equal(f, media.pattern(i, 64, 48)) for i, f in enumerate(frames))


def test_truncated_fails_by_default_naming_the_frame(clips, tmp_path):
    cut = media.truncate(clips["long_mkv"].path, tmp_path / "cut.mkv", 0.6)
    with pytest.raises(InputError, match=r"at frame \d+ \(just after t="):
        read(cut)


def test_truncated_skip_corrupt_keeps_what_decodes(clips, tmp_path):
    cut = media.truncate(clips["long_mkv"].path, tmp_path / "cut.mkv", 0.6)
    reader, _, frames, _ = read(cut, skip_corrupt=True)
    assert 20 < len(frames) < 100 and reader.skipped >= 1
    assert indices(frames) == list(range(len(frames)))


def test_corrupt_packets(clips, tmp_path):
    bad = media.break_packet(clips["long_mp4"].path, tmp_path / "bad.mp4")
    with pytest.raises(InputError, match="corrupt video data at frame"):
        read(bad)
    reader, _, frames, pts = read(bad, skip_corrupt=True)
    assert reader.skipped >= 1 and 0 < len(frames) < 100
    assert np.all(np.diff(pts) > 0)  # kept frames keep their own timestamps


def test_range_past_the_end(clips):
    with pytest.raises(InputError, match="past the end"):
        VideoReader(clips["cfr24"].path, DecodeConfig(start=48))
    with pytest.raises(InputError, match="no decodable video frames"):
        read(clips["cfr25"].path, start=30)  # mkv: frame count unknown up front


@pytest.mark.parametrize("kw", [dict(start=-1), dict(start=5, end=5), dict(batch_size=0)])
def test_bad_ranges(clips, kw):
    with pytest.raises(ConfigError):
        VideoReader(clips["cfr24"].path, DecodeConfig(**kw))


@pytest.mark.realdata
def test_real_clip_seek(real_videos):
    path = real_videos / "airplane_flyby.mp4"
    ref = VideoReader(path, DecodeConfig(start=0, end=110))
    expected = np.concatenate([b.frames for b in ref])[100:110]
    reader, _, frames, _ = read(path, start=100, end=110)
    assert reader.seeked and np.array_equal(frames, expected)
