"""Synthetic media for the tests, made with PyAV (independently of filmgan's writer).

Every frame carries its index in a row of black/white 8x8 blocks at the top (8 bits, robust to lossy
coding), over a gradient with a moving square, so tests can check exact frame identity after seeking.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BLOCK = 8
BITS = 8
LOW, HIGH = 16, 235


def pattern(index: int, width: int, height: int) -> np.ndarray:
    """RGB uint8 (H, W, 3): gradient + moving square + the index coded in the top block row."""
    y, x = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (x * 200 // max(width - 1, 1) + 20).astype(np.uint8)
    img[..., 1] = (y * 200 // max(height - 1, 1) + 20).astype(np.uint8)
    img[..., 2] = (60 + 7 * index) % 200
    side = max(height // 4, 4)
    left = (index * 3) % max(width - side, 1)
    img[height - side - 1: height - 1, left:left + side] = (250, 250, 40)
    for bit in range(BITS):
        value = HIGH if (index >> bit) & 1 else LOW
        img[0:BLOCK, bit * BLOCK:(bit + 1) * BLOCK] = value
    return img


def frame_index(rgb: np.ndarray) -> int:
    """Read back the index that ``pattern`` drew (block centres, luminance threshold)."""
    index = 0
    for bit in range(BITS):
        centre = rgb[BLOCK // 2 - 1:BLOCK // 2 + 1, bit * BLOCK + 3:bit * BLOCK + 5].astype(int)
        if centre.mean() > 128:
            index |= 1 << bit
    return index


@dataclass
class Clip:
    """What a factory wrote: path plus the ground truth tests compare against."""

    path: Path
    frames: int
    size: tuple[int, int]
    rate: Fraction
    pts: list[int]
    time_base: Fraction
    audio: bool = False
    subtitles: bool = False
    extra: dict = field(default_factory=dict)


def _encode_audio(container, stream, seconds: Fraction) -> None:
    rate = stream.codec_context.sample_rate
    total = int(seconds * rate)
    t = np.arange(total, dtype=np.float32) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    pos = 0
    while pos < total:
        chunk = wave[pos:pos + 1024]
        frame = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = rate, pos
        container.mux(stream.encode(frame))
        pos += len(chunk)
    container.mux(stream.encode(None))


SRT = """1
00:00:00,100 --> 00:00:00,400
Hello

2
00:00:00,500 --> 00:00:00,800
World
"""


def make_video(path: Path, *, frames: int = 24, size: tuple[int, int] = (64, 48), rate=Fraction(25),
               codec: str = "libx264", pix_fmt: str = "yuv420p", pts: list[int] | None = None,
               time_base: Fraction | None = None, gop: int = 12, audio: bool = False,
               subtitles: bool = False, rotation: int = 0, color: dict | None = None,
               options: dict | None = None) -> Clip:
    """Write a clip. ``pts`` (with ``time_base``) makes it VFR; default is CFR at ``rate``."""
    rate = Fraction(rate)
    time_base = time_base or 1 / rate
    pts = pts if pts is not None else [round(i / rate / time_base) for i in range(frames)]
    width, height = size
    opts = {"g": str(gop)} if codec in ("libx264", "libx265") else {}
    opts.update({"crf": "12"} if codec == "libx264" else {})
    opts.update(options or {})
    out = av.open(str(path), "w")
    vs = out.add_stream(codec, rate=rate, options=opts)
    vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
    vs.codec_context.time_base = time_base
    if codec not in ("libx264", "libx265"):
        vs.codec_context.gop_size = gop
    for key, value in (color or {}).items():
        setattr(vs.codec_context, key, value)
    if rotation:
        vs.set_display_rotation(rotation)
    aus = out.add_stream("aac", rate=48000) if audio else None
    srt = None
    if subtitles:
        srt_path = path.with_suffix(".srt")
        srt_path.write_text(SRT)
        srt = av.open(str(srt_path))
        ss = out.add_stream_from_template(srt.streams[0])
        ss.metadata["language"] = "eng"
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(pattern(i, width, height), format="rgb24")
        for key, value in (color or {}).items():
            setattr(frame, key, value)
        frame = frame.reformat(format=pix_fmt)
        frame.pts, frame.time_base = pts[i], time_base
        out.mux(vs.encode(frame))
    out.mux(vs.encode(None))
    seconds = (pts[-1] - pts[0]) * time_base + 1 / rate
    if aus is not None:
        _encode_audio(out, aus, seconds)
    if srt is not None:
        for packet in srt.demux(srt.streams[0]):
            if packet.size:
                packet.stream = ss
                out.mux(packet)
        srt.close()
    out.close()
    return Clip(Path(path), frames, size, rate, list(pts), time_base, audio, subtitles)


def make_vfr(path: Path, frames: int = 30, **kw) -> Clip:
    """Irregular frame durations (20..60 ms) in a 1/1000 time base."""
    rng = np.random.default_rng(7)
    steps = rng.choice([20, 33, 40, 60], size=frames - 1)
    pts = [0, *np.cumsum(steps).tolist()]
    return make_video(path, frames=frames, pts=pts, time_base=Fraction(1, 1000), rate=Fraction(25), **kw)


def truncate(src: Path, dst: Path, keep: float = 0.6) -> Path:
    """Copy the first ``keep`` fraction of ``src``'s bytes to ``dst``."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def break_packet(src: Path, dst: Path, index: int = 50) -> Path:
    """Copy an AVCC (mp4) H.264 clip with video packet ``index`` (demux order) made undecodable.

    The packet's first NAL length prefix is set far past the packet's end, which FFmpeg's H.264 decoder
    always rejects (AVERROR_INVALIDDATA). Damaging bytes at a fixed file offset instead depends on what
    the encoder put there: x264's threaded output differs from run to run, and some damage is merely
    concealed.
    """
    with av.open(str(src)) as c:
        stream = c.streams.video[0]
        if stream.codec_context.name != "h264" or not stream.codec_context.extradata:
            raise ValueError(f"{src}: not an AVCC H.264 stream")
        packet = next(itertools.islice((p for p in c.demux(stream) if p.size), index, None))
        position, size = packet.pos, packet.size
    data = bytearray(src.read_bytes())
    data[position:position + 4] = (size * 16).to_bytes(4, "big")
    dst.write_bytes(bytes(data))
    return dst


def not_media(path: Path) -> Path:
    """A file with a video extension that holds text."""
    path.write_text("this is not a video\n" * 50)
    return path


def decode_all(path: Path) -> tuple[list[np.ndarray], list[int], Fraction]:
    """Every frame (RGB) and pts of the first video stream, and its time base."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames, pts = [], []
        for frame in c.decode(s):
            frames.append(frame.to_ndarray(format="rgb24"))
            pts.append(frame.pts)
        return frames, pts, Fraction(s.time_base)


def packets(path: Path, kind: str = "audio") -> list[tuple[bytes, Fraction]]:
    """(payload, pts in seconds) of every packet of the first ``kind`` stream."""
    with av.open(str(path)) as c:
        s = getattr(c.streams, kind)[0]
        return [(bytes(p), p.pts * Fraction(s.time_base)) for p in c.demux(s) if p.size]


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth multi-scale random RGB texture (uint8): trackable by DIS optical flow everywhere."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for sigma, amp in ((8, 1.0), (3, 0.6), (1.2, 0.3)):
        noise = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), sigma)
        img += amp * noise / noise.std()
    img = (img - img.min()) / (img.max() - img.min())
    return np.round(img * 255).astype(np.uint8)
