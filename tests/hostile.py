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


def mp4_half_truncated(path: Path, frames: int = 48) -> Path:
    """An mp4 with its index first (faststart) cut in the middle of its media data: it opens and probes,
    but half its frames are missing."""
    full = path.with_name("full_" + path.name)
    with av.open(str(full), "w", options={"movflags": "faststart"}) as out:
        vs = out.add_stream("libx264", rate=25, options={"g": "12"})
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern(i, 64, 48), format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    data = full.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    full.unlink()
    return path


def broken_pts_mkv(path: Path, frames: int = 12) -> Path:
    """Intra-only video (MJPEG) in Matroska whose timestamps go backwards at frame 6 (a bad remux)."""
    order = list(range(frames))
    order[5], order[6] = order[6], order[5]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mjpeg", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuvj420p"
        vs.codec_context.time_base = Fraction(1, 25)
        packets = []
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern(i, 64, 48), format="rgb24").reformat(format="yuvj420p")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            packets += vs.encode(frame)
        packets += vs.encode(None)
        for i, (packet, stamp) in enumerate(zip(packets, order)):
            packet.pts, packet.dts = stamp + 1, i  # decode order stays monotonic; presentation jumps back
            out.mux(packet)
    return path


def big_png_header(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A PNG whose header declares 20000 x 20000 (the pixel data is cut short): only the header matters."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def gradient10(path: Path, frames: int = 4, size=(1024, 64), codec: str = "ffv1", pix_fmt: str = "yuv444p10le") -> Path:
    """A 10-bit grey horizontal gradient (every one of the 1024 luma levels present), written from 16-bit
    RGB so no 8-bit step is involved."""
    width, height = size
    ramp = (np.arange(width, dtype=np.float64) / (width - 1) * 65535).round().astype(np.uint16)
    rgb = np.repeat(np.repeat(ramp[None, :, None], height, axis=0), 3, axis=2)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=25)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le").reformat(format=pix_fmt)
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def tiff16_sequence(folder: Path, frames: int = 48, first: int = 1001, size=(64, 48)) -> str:
    """``folder/shot_%04d.tif``: 16-bit grey TIFFs numbered from ``first`` (values use all 16 bits)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    h, w = size[1], size[0]
    y, x = np.mgrid[0:h, 0:w]
    for k in range(frames):
        grey = ((x * 900 + y * 37 + k * 301) % 60000 + 2000).astype(np.uint16)
        cv2.imwrite(str(folder / f"shot_{first + k:04d}.tif"), np.dstack([grey] * 3))
    return str(folder / "shot_%04d.tif")
