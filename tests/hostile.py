"""The hostile corpus: odd, broken and awkward inputs made on the fly with PyAV and numpy (no binary
fixtures). Each factory writes one file and returns its path; ``tests/test_hostile.py`` runs the CLI on
them and asserts exit codes and messages, and the slow corpus test runs all of them end to end."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from media import make_video, pattern


def _encode(path: Path, codec: str, frames, *, rate=Fraction(25), time_base=None, pix_fmt="yuv420p",
            options=None, size=(64, 48), fmt=None, b_frames: int = 0) -> Path:
    """Encode ``frames`` (indices, or None for a skipped slot) with pts on the 1/rate grid."""
    time_base = time_base or 1 / Fraction(rate)
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=rate, options=options or {})
        vs.width, vs.height, vs.pix_fmt = *size, pix_fmt
        vs.codec_context.time_base = time_base
        if b_frames:
            vs.codec_context.max_b_frames = b_frames
        for slot, index in enumerate(frames):
            if index is None:
                continue
            frame = av.VideoFrame.from_ndarray(pattern(index, *size), format="rgb24").reformat(format=pix_fmt)
            frame.pts, frame.time_base = round(Fraction(slot) / rate / time_base), time_base
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def avi_bframes(path: Path, frames: int = 24) -> Path:
    """H.264 with B-frames in AVI, written at a 1/50 time base: AVI keeps no presentation timestamps
    (its pts are decode order), and the header says 50 fps with every other slot empty."""
    return _encode(path, "libx264", range(frames), time_base=Fraction(1, 50),
                   options={"bf": "3", "g": "12", "x264-params": "bframes=3"})


def avi_skipped_slot(path: Path, frames: int = 24, skipped: int = 10) -> Path:
    """MJPEG in AVI with one empty frame slot (a capture that dropped a frame): a valid file."""
    return _encode(path, "mjpeg", [None if i == skipped else i for i in range(frames)], pix_fmt="yuvj420p")


def raw_h264(path: Path, frames: int = 24) -> Path:
    """An H.264 elementary stream (no container timestamps at all)."""
    return _encode(path, "libx264", range(frames), fmt="h264", options={"bf": "2", "g": "12"})


def mkv_late_start(path: Path, frames: int = 25, start_seconds: int = 5) -> Path:
    """A Matroska file whose video starts at 5 s (FFmpeg writes its DURATION tag as the end time, 6 s)."""
    tb = Fraction(1, 1000)
    make_video(path, frames=frames, pts=[start_seconds * 1000 + 40 * i for i in range(frames)], time_base=tb)
    return path


def mp4_edit_list(path: Path, scratch: Path, frames: int = 24, cut: int = 5) -> Path:
    """An mp4 whose edit list hides the first ``cut`` frames (what a stream-copy cut writes): the sample
    count says ``frames``, the presentation ``frames - cut``."""
    src = make_video(scratch, frames=frames, gop=12, audio=True).path
    with av.open(str(src)) as inp, av.open(str(path), "w") as out:
        video, audio = inp.streams.video[0], inp.streams.audio[0]
        ov, oa = out.add_stream_from_template(video), out.add_stream_from_template(audio)
        shift = round(Fraction(cut, 25) / video.time_base)
        for packet in inp.demux(video, audio):
            if not packet.size:
                continue
            if packet.stream is video:
                packet.pts, packet.dts, packet.stream = packet.pts - shift, packet.dts - shift, ov
            else:
                packet.stream = oa
            out.mux(packet)
    return path


def corrupt_jpeg(path: Path, size=(96, 64)) -> Path:
    """A JPEG with garbage in the middle of its entropy-coded data (libjpeg only warns)."""
    import cv2

    ok, data = cv2.imencode(".jpg", pattern(3, *size)[..., ::-1].copy())
    raw = bytearray(data.tobytes())
    sos = raw.find(b"\xff\xda")
    middle = sos + (len(raw) - sos) // 2
    raw[middle:middle + 24] = bytes(range(0xE0, 0xF8))  # no 0xFF: a damaged scan, not a new marker
    path.write_bytes(bytes(raw))
    return path


def grey_png(path: Path, size=(40, 56), level_range=(60, 200)) -> Path:
    import cv2

    h, w = size
    ramp = np.linspace(*level_range, h * w).reshape(h, w).astype(np.uint8)
    cv2.imwrite(str(path), ramp)
    return path
