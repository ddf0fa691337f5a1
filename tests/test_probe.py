"""probe(): ClipInfo fields for every synthetic clip kind, JSON form, and the typed errors."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

import media
from filmgan.errors import InputError
from filmgan.video import ClipInfo, probe


@pytest.mark.parametrize("name, rate, frames, fmt", [
    ("cfr24", Fraction(24000, 1001), 48, "mov,mp4,m4a,3gp,3g2,mj2"),
    ("cfr25", Fraction(25), 24, "matroska,webm"),
    ("cfr30", Fraction(30000, 1001), 30, "matroska,webm"),
])
def test_cfr_fields(clips, name, rate, frames, fmt):
    info = probe(clips[name].path)
    assert isinstance(info, ClipInfo)
    assert info.format == fmt and info.codec == "h264" and info.stream_index == 0
    assert (info.width, info.height) == (64, 48) and info.pix_fmt == "yuv420p"
    assert info.fps == rate and isinstance(info.fps, Fraction) and isinstance(info.time_base, Fraction)
    assert info.frames == frames and not info.is_vfr and info.has_b_frames
    assert info.start_pts == 0 and info.rotation == 0
    assert abs(info.duration - frames / rate) <= Fraction(2, 100)


def test_exact_frame_count_in_mp4(clips):
    info = probe(clips["cfr24"].path)
    assert info.frames_exact and info.duration == Fraction(48) / Fraction(24000, 1001)


def test_vfr_is_detected(clips):
    for name in ("vfr_mkv", "vfr_mp4"):
        info = probe(clips[name].path)
        assert info.is_vfr, name
        assert info.time_base in (Fraction(1, 1000), Fraction(1, 16000))


def test_audio_and_subtitle_streams(clips):
    info = probe(clips["cfr25"].path)
    (audio,) = info.audio
    (subs,) = info.subtitles
    assert (audio.index, audio.codec, audio.sample_rate, audio.channels) == (1, "aac", 48000, 2)
    assert (subs.index, subs.codec, subs.language) == (2, "subrip", "eng")
    assert probe(clips["cfr30"].path).audio == ()


def test_rotation_and_colour_tags(clips):
    info = probe(clips["rotated"].path)
    assert info.rotation == 90
    assert (info.color_primaries, info.color_trc, info.colorspace, info.color_range) == (1, 1, 1, 1)
    assert info.to_dict()["color_names"] == {"primaries": "bt709", "trc": "bt709", "matrix": "bt709", "range": "tv"}


@pytest.mark.parametrize("name, pix_fmt", [("grey", "gray"), ("grey10", "gray10le"), ("yuvj", "yuvj420p"),
                                           ("odd", "yuv444p")])
def test_pix_fmts(clips, name, pix_fmt):
    info = probe(clips[name].path)
    assert info.pix_fmt == pix_fmt
    if name == "yuvj":
        assert info.color_range == 2
    if name == "odd":
        assert info.size == (65, 49)


def test_to_dict_is_json(clips):
    data = json.loads(json.dumps(probe(clips["cfr25"].path).to_dict()))
    assert data["fps"] == "25" and data["audio"][0]["codec"] == "aac" and data["subtitles"][0]["language"] == "eng"


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        probe(tmp_path / "nope.mp4")


def test_folder_is_not_media(tmp_path):
    with pytest.raises(InputError, match="folder"):
        probe(tmp_path)


def test_not_media(tmp_path):
    with pytest.raises(InputError, match="not a readable media file"):
        probe(media.not_media(tmp_path / "fake.mp4"))


def test_no_video_stream(clips):
    with pytest.raises(InputError, match="no video stream"):
        probe(clips["audio_only"])


def test_truncated_mp4_is_not_media(clips, tmp_path):
    # mp4 keeps its index (moov) at the end: cut it off and nothing is readable
    with pytest.raises(InputError):
        probe(media.truncate(clips["cfr24"].path, tmp_path / "cut.mp4", 0.6))


def test_input_error_is_value_error(tmp_path):
    with pytest.raises(ValueError):
        probe(tmp_path / "nope.mkv")


@pytest.mark.realdata
def test_real_clips(real_videos):
    bunny = probe(real_videos / "big_buck_bunny_432_433.webm")
    assert (bunny.codec, bunny.fps, bunny.frames, bunny.size) == ("vp8", 24, 24, (1280, 720))
    assert [a.codec for a in bunny.audio] == ["vorbis"] and not bunny.is_vfr
    plane = probe(real_videos / "airplane_flyby.mp4")
    assert (plane.codec, plane.fps, plane.frames, plane.frames_exact) == ("h264", 25, 280, True)
    assert [a.codec for a in plane.audio] == ["mp3"] and plane.has_b_frames
