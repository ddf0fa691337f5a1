"""``VideoReader``: decode a frame range of a clip into RGB ``FrameBatch``es.

Frame indices count decoded frames in presentation order from the start of the stream. A range start
is reached exactly:

* constant frame rate (``ClipInfo.is_vfr`` False): seek to the keyframe at or before the start's
  timestamp, decode forward and map each frame's pts to its index on the ``1/fps`` grid. If the first
  frame after a seek is already past the start (mp4 seeks by DTS), seek again further back; if a pts is
  off the grid the mapping is not trusted and the reader decodes from the beginning instead.
* variable frame rate or missing timestamps: decode from the beginning and count (correct, slower).

Timestamps (``ClipInfo.timestamps``): "container" trusts the frames' pts; "slots" (AVI) gives the k-th
presented frame the k-th non-empty packet's slot (AVI's own pts are decode order once there are
B-frames); "rate" (raw streams) puts frame k at ``k / fps``. Either way a frame whose pts does not
increase is an input error (the source's timestamps are broken), never passed on to the encoder.

Corrupt data policy (``DecodeConfig.skip_corrupt``):

* ``False`` (default): the first undecodable packet, or a frame the decoder flags as corrupt, raises
  ``InputError`` naming the frame index and time where it happened.
* ``True``: undecodable packets and corrupt frames are dropped and decoding continues; a demuxer error
  (e.g. a truncated file) ends the stream. Kept frames keep their own pts, so the writer keeps audio in
  sync; the reader counts what it dropped in ``reader.skipped``.

A clip that yields no frame in the requested range raises ``InputError``. Only one batch is held in
memory at a time.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from ..config import DecodeConfig
from ..errors import ConfigError, CorruptMediaError, InputError
from .frames import FrameBatch
from .probe import GRID_TOLERANCE, ClipInfo, open_input, probe

THREAD_TYPES = ("SLICE", "FRAME", "AUTO", "NONE")
SEEK_BACKOFF_SECONDS = (0, 2, 10, 60)  # successive extra distances before the start; then from the top
TRUNCATION_SLACK_FRAMES = 2  # a stream may end this many frame durations (+ seconds) before its
TRUNCATION_SLACK_SECONDS = Fraction(1, 20)  # recorded duration without counting as truncated
MAX_LEADING_FRAMES = 64  # frames tolerated between a seek and its keyframe before giving up on seeking


class _Restart(Exception):
    """Internal: the timestamp-to-index mapping cannot be trusted; decode from the beginning."""


class VideoReader:
    """Iterate ``FrameBatch``es of ``decode.batch_size`` RGB frames over [decode.start, decode.end).

    ``reader.info`` is the source's ``ClipInfo``. Iterating twice decodes twice. Frames are RGB at the
    probed size (a mid-stream resolution change is scaled back to it); a frame without a pts gets its
    CFR-grid pts.
    """

    def __init__(self, src: str | os.PathLike, decode: DecodeConfig | None = None,
                 info: ClipInfo | None = None) -> None:
        self.path = Path(src)
        self.decode = decode or DecodeConfig()
        self.info = info or probe(self.path)
        self.skipped = 0  # packets/frames dropped under skip_corrupt
        self.seeked = False  # whether the last iteration reached its start by seeking
        _check_range(self.decode, self.info)

    def __iter__(self) -> Iterator[FrameBatch]:
        size = (self.info.height, self.info.width, 3)
        batch_size = self.decode.batch_size
        # High bit depth sources (10/12/16-bit) decode to uint16 RGB on the full 16-bit scale.
        dtype, fmt = (np.uint16, "rgb48le") if self.info.high_bit_depth else (np.uint8, "rgb24")
        frames = np.empty((batch_size, *size), dtype)
        pts: list[int] = []
        first_index = self.decode.start
        produced = 0
        last_pts: int | None = None
        for index, frame in self._frames():
            stamp = frame.pts if frame.pts is not None else self.info.pts_of(index)
            if last_pts is not None and stamp <= last_pts:
                self._broken_timestamps(index, stamp, last_pts)
                continue
            last_pts = stamp
            if not pts:
                first_index = index
            frames[len(pts)] = frame.to_ndarray(format=fmt, width=size[1], height=size[0])
            pts.append(stamp)
            produced += 1
            if len(pts) == batch_size:
                yield FrameBatch(frames, np.asarray(pts, np.int64), self.info.time_base, first_index)
                frames, pts = np.empty((batch_size, *size), dtype), []
        if pts:
            yield FrameBatch(frames[: len(pts)], np.asarray(pts, np.int64), self.info.time_base, first_index)
        if not produced:
            where = f" in frames [{self.decode.start}, {self.decode.end})" if self._ranged else ""
            raise InputError(f"{self.path}: no decodable video frames{where}")

    def _broken_timestamps(self, index: int, stamp: int, last: int) -> None:
        """A frame whose pts does not increase: the source's timestamps are unusable there."""
        if self.decode.skip_corrupt:
            self.skipped += 1
            return
        raise InputError(f"{self.path}: the source's timestamps go backwards at frame {index} (pts {stamp} after "
                         f"{last}, time base {self.info.time_base}); the file's timing is broken. Remux it, or "
                         "use skip_corrupt (--skip-corrupt) to drop the out-of-order frames")

    @property
    def _ranged(self) -> bool:
        return self.decode.start > 0 or self.decode.end is not None

    # -- frame sources -------------------------------------------------------------------------------

    def _frames(self) -> Iterator[tuple[int, av.VideoFrame]]:
        """(index, frame) for every frame of the range, by seeking when that is exact."""
        start, end = self.decode.start, self.decode.end
        self.seeked = False
        if start > 0 and not self.info.is_vfr and self.info.timestamps == "container":
            try:
                self.seeked = True
                yield from self._seeked(start, end)
                return
            except _Restart:
                self.seeked = False
        yield from self._counted(start, end)

    def _counted(self, start: int, end: int | None) -> Iterator[tuple[int, av.VideoFrame]]:
        """Decode from the top, counting frames."""
        with self._open() as (container, stream):
            for index, frame in enumerate(self._decoded(container, stream, counting=True)):
                if end is not None and index >= end:
                    return
                if index >= start:
                    yield index, frame

    def _seeked(self, start: int, end: int | None) -> Iterator[tuple[int, av.VideoFrame]]:
        """Seek to a keyframe at or before ``start``, then map pts to indices (CFR only).

        Raises _Restart (before yielding anything) whenever the mapping cannot be trusted.
        """
        info = self.info
        for back in SEEK_BACKOFF_SECONDS:
            target = info.pts_of(start) - round(Fraction(back) / info.time_base)
            if target <= info.start_pts:
                raise _Restart
            with self._open() as (container, stream):
                container.seek(target, stream=stream, backward=True, any_frame=False)
                frames = self._decoded(container, stream)
                key = _first_keyframe(frames)
                if self._index(key) > start:
                    continue  # landed past the start (e.g. mp4 seeks by DTS): seek further back
                yield from self._from_keyframe(key, frames, start, end)
                return
        raise _Restart

    def _from_keyframe(self, key, frames, start: int, end: int | None):
        """Frames from the keyframe on: check the grid up to ``start``, then count."""
        expected = self._index(key)
        for frame in itertools.chain((key,), frames):
            if expected <= start and self._index(frame) != expected:
                raise _Restart  # a gap or duplicate before the start: counting would disagree
            if end is not None and expected >= end:
                return
            if expected >= start:
                yield expected, frame
            expected += 1

    def _index(self, frame) -> int:
        if frame.pts is None:
            raise _Restart
        index, off = self.info.index_of(frame.pts)
        if off > GRID_TOLERANCE:
            raise _Restart
        return index

    # -- decoding with the corrupt-data policy -------------------------------------------------------

    @contextlib.contextmanager
    def _open(self):
        """A fresh demuxer + decoder for one pass (each seek attempt starts clean)."""
        with open_input(self.path, self.info.fps) as container:
            stream = container.streams[self.info.stream_index]
            stream.thread_type = self.decode.thread_type
            stream.thread_count = self.decode.threads
            yield container, stream

    def _decoded(self, container, stream, counting: bool = False) -> Iterator[av.VideoFrame]:
        """Decoded frames in presentation order, applying the corrupt-data policy.

        ``counting``: frames are counted from the top of the stream, so error messages can name the
        exact index; otherwise the index is inferred from the last good frame's pts.
        """
        where = _Where(self.info, counting)
        packets = container.demux(stream)
        slots: collections.deque[int] = collections.deque()  # "slots" timing: non-empty packets' dts, in order
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                self._check_complete(where)
                return
            except av.error.FFmpegError as exc:
                self._corrupt(exc, where)
                return  # the demuxer cannot go on (truncated file): end of stream
            if packet.size and packet.dts is not None:
                slots.append(packet.dts)
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as exc:
                self._corrupt(exc, where)
                continue
            for frame in decoded:
                self._retime(frame, slots, where.count)
                if frame.is_corrupt:
                    self._corrupt(None, where)
                    continue
                where.advance(frame)
                yield frame

    def _retime(self, frame, slots, count: int) -> None:
        """Presentation pts for containers whose own are not (see the module docstring)."""
        mode = self.info.timestamps
        if mode == "slots":
            frame.pts = slots.popleft() if slots else None
        elif mode == "rate":
            frame.pts = self.info.pts_of(count)

    def _check_complete(self, where: "_Where") -> None:
        """At end of stream: fewer frames (or less time) than the container declares means truncation."""
        info = self.info
        if info.frames_exact and where.counting and info.frames is not None:
            short = where.count < info.frames
            declared = f"{info.frames} frames"
        elif info.stream_duration is not None and where.pts is not None:
            shown = (where.pts - info.start_pts) * info.time_base + 1 / info.fps
            short = shown < info.stream_duration - TRUNCATION_SLACK_FRAMES / info.fps - TRUNCATION_SLACK_SECONDS
            declared = f"{float(info.stream_duration):.3f}s"
        else:
            return
        if short:
            self._corrupt(EOFError(f"the stream ends early; the container declares {declared}"), where)

    def _corrupt(self, exc: Exception | None, where: "_Where") -> None:
        """Apply the policy: raise InputError, or count the loss and go on."""
        if self.decode.skip_corrupt:
            self.skipped += 1
            return
        what = f"{exc.__class__.__name__}: {exc}" if exc is not None else "the decoder flagged a corrupt frame"
        raise CorruptMediaError(f"{self.path}: corrupt video data {where} ({what}); "
                         f"use skip_corrupt (--skip-corrupt) to drop damaged frames") from exc


class _Where:
    """Where decoding is, for error messages: last good frame's index and time."""

    def __init__(self, info: ClipInfo, counting: bool) -> None:
        self.info, self.counting = info, counting
        self.count, self.pts = 0, None

    def advance(self, frame) -> None:
        self.count += 1
        self.pts = frame.pts if frame.pts is not None else self.pts

    def __str__(self) -> str:
        if self.count == 0:
            return "at frame 0 (t=0s)"
        index = self.count if self.counting or self.pts is None else self.info.index_of(self.pts)[0] + 1
        if self.pts is None:
            return f"at frame {index}"
        seconds = float((self.pts - self.info.start_pts) * self.info.time_base)
        return f"at frame {index} (just after t={seconds:.3f}s)"


def _first_keyframe(frames: Iterator[av.VideoFrame]) -> av.VideoFrame:
    """Skip leading (open-GOP) frames output before the keyframe a seek landed on."""
    for count, frame in enumerate(frames):
        if frame.key_frame:
            return frame
        if count >= MAX_LEADING_FRAMES:
            break
    raise _Restart


def _check_range(decode: DecodeConfig, info: ClipInfo) -> None:
    if decode.batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {decode.batch_size}")
    if decode.thread_type not in THREAD_TYPES:
        raise ConfigError(f"decode thread_type must be one of {', '.join(THREAD_TYPES)}, got '{decode.thread_type}'")
    if decode.start < 0 or (decode.end is not None and decode.end <= decode.start):
        raise ConfigError(f"bad frame range [{decode.start}, {decode.end})")
    if info.frames_exact and info.frames is not None and decode.start >= info.frames:
        raise InputError(f"{info.path} has {info.frames} frames; range start {decode.start} is past the end")
