"""``probe(src) -> ClipInfo``: what a clip is, read once with PyAV (no ffprobe needed).

Besides the container's claims, probe demuxes the first few hundred video packets (no decoding) to tell
constant from variable frame rate, and decodes the first frame to learn its pts, colour tags and display
rotation (FFmpeg attaches the stream's display matrix to decoded frames).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..errors import InputError
from .sequence import DEFAULT_FPS, check_sequence, is_sequence, open_sequence

MAX_DIMENSION = 16384
VFR_SCAN_PACKETS = 300  # packets inspected to decide CFR vs VFR
REORDER_MARGIN = 16  # packets at the end of the scan whose reordered neighbours may be missing
GRID_TOLERANCE = 0.2  # a pts may sit this many frame durations off the CFR grid (ms rounding in mkv)
# Containers whose video timestamps are not presentation timestamps. AVI stores one slot per frame in
# decode order (its "pts" is the slot plus a guessed delay, wrong as soon as there are B-frames): the k-th
# presented frame belongs in the k-th non-empty slot. Raw elementary streams carry no timestamps at all:
# frames sit on the 1/fps grid in presentation order.
SLOT_FORMATS = ("avi",)
RATE_FORMATS = ("h264", "hevc", "m4v", "mpegvideo", "cavsvideo", "vc1", "rawvideo", "mjpeg", "av1", "obu")

# FFmpeg's names for the AVCOL_* values (libavutil/pixfmt.h), for JSON and messages.
PRIMARIES = {1: "bt709", 2: "unspecified", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
             8: "film", 9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213"}
TRANSFERS = {1: "bt709", 2: "unspecified", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m",
             8: "linear", 9: "log100", 10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1",
             14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 17: "smpte428", 18: "arib-std-b67"}
MATRICES = {0: "gbr", 1: "bt709", 2: "unspecified", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
            8: "ycgco", 9: "bt2020nc", 10: "bt2020c", 11: "smpte2085", 14: "ictcp"}
RANGES = {0: "unspecified", 1: "tv", 2: "pc"}


@dataclass(frozen=True)
class StreamInfo:
    """An audio or subtitle stream that the writer copies packet for packet."""

    index: int
    kind: str  # "audio" | "subtitle"
    codec: str  # canonical codec name (as muxers list them: aac, mp3, vorbis, subrip, ...)
    time_base: Fraction
    language: str | None = None
    sample_rate: int | None = None
    channels: int | None = None


@dataclass(frozen=True)
class ClipInfo:
    """Everything the reader, writer and CLI need to know about a source clip.

    Timestamps are integers in ``time_base``; rates and durations are ``Fraction`` (never floats).
    ``frames`` is exact when ``frames_exact`` (container sample count), else an estimate from the
    duration, or ``None``. ``duration`` falls back to the container's (which may include longer audio);
    ``stream_duration`` is only what the video stream itself records. Colour tags are FFmpeg AVCOL_* integers (names via ``to_dict``).
    ``rotation`` is the display rotation in degrees counter-clockwise (PyAV's ``VideoFrame.rotation``).
    ``is_vfr`` is True when the timestamps do not sit on a ``1/fps`` grid (or are missing); the reader
    then never seeks by timestamp.
    """

    path: str
    format: str
    stream_index: int
    codec: str
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frames: int | None
    frames_exact: bool
    duration: Fraction | None
    stream_duration: Fraction | None  # as recorded for the video stream itself (truncation checks)
    start_pts: int
    pix_fmt: str
    color_primaries: int = 2
    color_trc: int = 2
    colorspace: int = 2
    color_range: int = 0
    rotation: int = 0
    is_vfr: bool = False
    has_b_frames: bool = False
    timestamps: str = "container"  # "container" | "slots" (AVI: decode-order slots) | "rate" (index / fps)
    bit_depth: int = 8  # bits per component of the decoded pixels (10/12/16 for high bit depth sources)
    timecode: str | None = None  # the source's start timecode tag (SMPTE 'HH:MM:SS:FF'), if any
    first_number: int | None = None  # image sequences: the number of the first file (kept on output)
    audio: tuple[StreamInfo, ...] = field(default_factory=tuple)
    subtitles: tuple[StreamInfo, ...] = field(default_factory=tuple)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.width, self.height

    @property
    def high_bit_depth(self) -> bool:
        """True for sources with more than 8 bits per component (decoded as uint16 frames)."""
        return self.bit_depth > 8

    def index_of(self, pts: int) -> tuple[int, float]:
        """Frame index for ``pts`` on the CFR grid, and how far off the grid it is (in frames)."""
        exact = (pts - self.start_pts) * self.time_base * self.fps
        index = round(exact)
        return index, abs(float(exact - index))

    def pts_of(self, index: int) -> int:
        """The CFR-grid pts of frame ``index`` (rounded to the time base)."""
        return self.start_pts + round(Fraction(index) / self.fps / self.time_base)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: Fractions as "num/den" strings, colour tags with their names."""
        data = asdict(self)
        for key, value in list(data.items()):
            if isinstance(value, Fraction):
                data[key] = str(value)
        for key in ("audio", "subtitles"):
            data[key] = [{k: (str(v) if isinstance(v, Fraction) else v) for k, v in s.items()} for s in data[key]]
        data["duration_seconds"] = float(self.duration) if self.duration is not None else None
        data["fps_float"] = float(self.fps)
        data["color_names"] = {
            "primaries": PRIMARIES.get(self.color_primaries, str(self.color_primaries)),
            "trc": TRANSFERS.get(self.color_trc, str(self.color_trc)),
            "matrix": MATRICES.get(self.colorspace, str(self.colorspace)),
            "range": RANGES.get(self.color_range, str(self.color_range)),
        }
        return data


def open_input(src: str | os.PathLike, fps: Fraction | None = None) -> av.container.InputContainer:
    """av.open for reading with typed errors: missing file / folder / not media -> InputError. An image
    sequence pattern (``shot_%04d.tif``) opens as a clip at ``fps``."""
    path = Path(src)
    if is_sequence(path):
        return open_sequence(path, fps)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a media file")
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise InputError(f"{path} is not a readable media file ({exc.__class__.__name__}: {exc})") from exc


def video_stream(container, path) -> av.VideoStream:
    """The first real video stream (cover-art pictures are not video) or InputError."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise InputError(f"{path} has no video stream")


def _fps(stream, fmt: str) -> Fraction:
    rates = (stream.average_rate, stream.guessed_rate, stream.base_rate)
    if fmt in SLOT_FORMATS + RATE_FORMATS:  # the header's rate may count empty slots (2x for some AVIs)
        rates = (stream.guessed_rate, *rates)
    for rate in rates:
        if rate:
            return Fraction(rate)
    raise InputError(f"cannot determine the frame rate of stream {stream.index}")


def _mkv_duration(metadata: dict[str, str]) -> Fraction | None:
    """Parse Matroska's per-stream DURATION tag ('00:00:01.001000000')."""
    text = next((v for k, v in metadata.items() if k.upper() == "DURATION"), None)
    match = re.fullmatch(r"(\d+):(\d+):(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    h, m, s, frac = match.groups()
    return Fraction(int(h) * 3600 + int(m) * 60 + int(s)) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)


def _stream_duration(stream) -> Fraction | None:
    """The video stream's own recorded duration (mp4 track / Matroska DURATION tag), if any.

    FFmpeg writes Matroska's DURATION tag as the stream's end time on the file's timeline, so a stream
    that starts at 5 s and lasts 1 s says 6 s: its start is taken off (never below the tag's own reading
    when the tag is smaller than the start, as other muxers write the plain duration)."""
    if stream.duration and stream.time_base:
        return stream.duration * Fraction(stream.time_base)
    tag = _mkv_duration(stream.metadata)
    start = stream.start_time * Fraction(stream.time_base) if stream.start_time and stream.time_base else 0
    return tag - start if tag is not None and start and tag > start else tag


def _duration(container, stream) -> Fraction | None:
    """The video duration: the stream's own, else the container's (which may include longer audio)."""
    own = _stream_duration(stream)
    if own is not None:
        return own
    if container.duration:
        return Fraction(container.duration, av.time_base)
    return None


def _side_streams(container) -> tuple[tuple[StreamInfo, ...], tuple[StreamInfo, ...]]:
    audio, subs = [], []
    for stream in container.streams:
        if stream.type not in ("audio", "subtitle"):
            continue
        cc = stream.codec_context
        info = StreamInfo(
            index=stream.index, kind=stream.type, codec=stream.codec.canonical_name,
            time_base=Fraction(stream.time_base), language=stream.language,
            sample_rate=getattr(cc, "sample_rate", None) if stream.type == "audio" else None,
            channels=getattr(cc, "channels", None) if stream.type == "audio" else None,
        )
        (audio if stream.type == "audio" else subs).append(info)
    return tuple(audio), tuple(subs)


def _scan(container, stream, path) -> tuple[list[int | None], list[int | None], Any]:
    """Demux up to VFR_SCAN_PACKETS video packets; return their pts, dts and the first decoded frame."""
    pts: list[int | None] = []
    dts: list[int | None] = []
    first = None
    try:
        for packet in container.demux(stream):
            if packet.size:
                pts.append(packet.pts)
                dts.append(packet.dts)
            if first is None:
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    frames = []  # a broken first packet is the reader's business, not probe's
                first = frames[0] if frames else None
            if first is not None and len(pts) >= VFR_SCAN_PACKETS:
                break
    except av.error.FFmpegError as exc:
        if not pts:
            raise InputError(f"{path}: cannot read the video stream ({exc})") from exc
    if not pts:
        raise InputError(f"{path}: the video stream has no frames")
    return pts, dts, first


def _is_vfr(pts: list[int | None], time_base: Fraction, fps: Fraction) -> bool:
    """True unless the scanned pts are exactly consecutive slots of the 1/fps grid."""
    if any(p is None for p in pts):
        return True
    ordered = sorted(pts)
    if len(ordered) >= VFR_SCAN_PACKETS:  # B-frames of the last GOP may still be unread: ignore the tail
        ordered = ordered[: len(ordered) - REORDER_MARGIN]
    for slot, p in enumerate(ordered):
        exact = (p - ordered[0]) * time_base * fps
        if abs(exact - slot) > GRID_TOLERANCE:
            return True
    return False


def _frame_count(stream, duration: Fraction | None, fps: Fraction, fmt: str) -> tuple[int | None, bool]:
    """The frame count and whether it is exact. A sample count is exact unless the container counts empty
    slots (AVI) or holds more samples than its own duration shows (an mp4 edit list hides the rest)."""
    own = _stream_duration(stream)
    hidden = stream.frames and own is not None and stream.frames > round(own * fps) + 1
    if stream.frames and fmt not in SLOT_FORMATS and not hidden:
        return int(stream.frames), True
    if duration is not None:
        return round(duration * fps), False
    return None, False


def _timestamps(fmt: str) -> str:
    return "slots" if fmt in SLOT_FORMATS else "rate" if fmt in RATE_FORMATS else "container"


def _start_pts(first, pts: list[int | None], dts: list[int | None], timestamps: str) -> int:
    """The first presented frame's pts (edit lists may hide earlier packets), else the smallest pts; for
    slot-timed containers the first slot."""
    if timestamps == "slots" and any(d is not None for d in dts):
        return min(d for d in dts if d is not None)
    if timestamps == "rate":
        return 0
    if first is not None and first.pts is not None:
        return int(first.pts)
    known = [p for p in pts if p is not None]
    return min(known) if known else 0


def probe(src: str | os.PathLike, fps: Fraction | None = None) -> ClipInfo:
    """Describe ``src``; raises InputError for a missing file, non-media, or a file without video.
    ``fps`` is the frame rate of an image sequence (which has none of its own)."""
    path = Path(src)
    if is_sequence(path):
        return _probe_sequence(path, Fraction(fps or DEFAULT_FPS))
    with open_input(path) as container:
        stream = video_stream(container, path)
        cc = stream.codec_context
        width, height = cc.width, cc.height
        if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
            raise InputError(f"{path}: unusable frame size {width}x{height}")
        fmt = container.format.name
        fps, time_base = _fps(stream, fmt), Fraction(stream.time_base)
        if _timestamps(fmt) == "rate":
            time_base = 1 / fps  # no timestamps: frames are numbered on the 1/fps grid
        duration = _duration(container, stream)
        frames, exact = _frame_count(stream, duration, fps, fmt)
        audio, subs = _side_streams(container)
        tags = (cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range)
        fixed = dict(path=str(path), format=container.format.name, stream_index=stream.index, codec=cc.name,
                     width=width, height=height, fps=fps, time_base=time_base, frames=frames,
                     frames_exact=exact, duration=duration, stream_duration=_stream_duration(stream),
                     has_b_frames=bool(cc.has_b_frames), timestamps=_timestamps(fmt),
                     timecode=_timecode(container, stream), audio=audio, subtitles=subs)
        pix_fmt = cc.pix_fmt
        pts, dts, first = _scan(container, stream, path)
        rotation = 0
        if first is not None:
            tags = (first.color_primaries, first.color_trc, first.colorspace, first.color_range)
            rotation, pix_fmt = int(first.rotation or 0), first.format.name
        start_pts = _start_pts(first, pts, dts, fixed["timestamps"])
    if pix_fmt and pix_fmt.startswith("yuvj") and tags[3] == 0:
        tags = (*tags[:3], 2)  # yuvj* are full range by definition
    return ClipInfo(
        **fixed, start_pts=start_pts, pix_fmt=pix_fmt or "unknown", color_primaries=int(tags[0]),
        color_trc=int(tags[1]), colorspace=int(tags[2]), color_range=int(tags[3]), rotation=rotation,
        is_vfr=_is_vfr(pts, time_base, fps) if fixed["timestamps"] == "container" else False,
        bit_depth=pixel_bit_depth(pix_fmt),
    )


def _probe_sequence(path: Path, fps: Fraction) -> ClipInfo:
    """An image sequence: as a clip, every frame exact, numbered from its first file."""
    first_number, count = check_sequence(path)
    with open_input(path, fps) as container:
        stream = video_stream(container, path)
        cc = stream.codec_context
        index, codec, width, height, pix_fmt = stream.index, cc.name, cc.width, cc.height, cc.pix_fmt
        _, _, first = _scan(container, stream, path)
        if first is not None:
            width, height, pix_fmt = first.width, first.height, first.format.name
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise InputError(f"{path}: unusable frame size {width}x{height} (1..{MAX_DIMENSION} px)")
    pix_fmt = pix_fmt or "unknown"
    return ClipInfo(path=str(path), format="image2", stream_index=index, codec=codec, width=width,
                    height=height, fps=fps, time_base=1 / fps, frames=count, frames_exact=True,
                    duration=count / fps, stream_duration=count / fps, start_pts=0, pix_fmt=pix_fmt,
                    color_primaries=1, color_trc=13, colorspace=1, color_range=1, timestamps="rate",
                    bit_depth=pixel_bit_depth(pix_fmt), first_number=first_number)


def pixel_bit_depth(pix_fmt: str | None) -> int:
    """Bits per component of ``pix_fmt`` (8 when unknown)."""
    try:
        fmt = av.VideoFormat(pix_fmt)
    except (ValueError, TypeError, av.error.FFmpegError):
        return 8
    return max((c.bits for c in fmt.components), default=8)


def _timecode(container, stream) -> str | None:
    """The start timecode tag (mov/mxf/mkv put it on the stream or the container), if any."""
    for meta in (stream.metadata, container.metadata, *(s.metadata for s in container.streams.data)):
        for key, value in meta.items():
            if key.lower() == "timecode" and value:
                return str(value)
    return None
