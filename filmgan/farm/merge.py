"""Merge a shot's segments into its output: stream copy (or one final encode), source audio/subtitles by
packet copy, verification against the source, then an atomic rename.

Every planned chunk must have a complete, valid segment (``manifest.check_segment``); a missing or invalid
one is named and nothing is written. The video packets of the segments are copied in order (they are
intra-only and carry the source pts), so the pixels are the chunks' exactly; with a delivery codec the
segments are decoded and encoded once by ``VideoWriter``. Audio and subtitle packets come from the source
(``remux.PacketCopier``), never re-encoded. Before the rename the written file is read back: its frame count
must equal the shot's, its pts the source pts (shifted like a frame-range render, rescaled to the output's
time base), its video span the source's within a frame. A merge record in the work folder makes a merge of
unchanged segments into an unchanged output a no-op.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..config import EncodeConfig
from ..errors import InputError, OutputError
from ..video import atomic
from ..video.frames import FrameBatch
from ..video.probe import ClipInfo, probe
from ..video.remux import PacketCopier, copied_streams
from .chunk import chunk_segment, expected_manifest
from .jobfile import Job, Shot
from .manifest import check_segment, read_json, source_identity, write_json
from .plan import ShotPlan

DECODE_BATCH = 8


@dataclass(frozen=True)
class MergeResult:
    shot: str
    output: str
    frames: int
    mode: str  # copy | encode
    skipped: bool
    seconds: float

    def to_dict(self) -> dict:
        return {"shot": self.shot, "output": self.output, "frames": self.frames, "mode": self.mode, "skipped": self.skipped, "seconds": round(self.seconds, 3)}


def segments_of(job: Job, shot: Shot, plan: ShotPlan) -> list[Path]:
    """The shot's segments in order; InputError naming every missing or invalid one."""
    problems, paths = [], []
    for chunk in plan.chunks:
        path = chunk_segment(job, shot, chunk)
        why = check_segment(path, expected_manifest(job, shot, chunk))
        if why is not None:
            problems.append(f"{chunk.id} ({path}): {why}")
        paths.append(path)
    if problems:
        raise InputError(f"shot '{shot.name}' cannot be merged: {len(problems)} of {len(plan.chunks)} segments are missing or invalid: "
                         + "; ".join(problems) + f"; render them with: filmgan batch run {job.path}")
    return paths


def _record(job: Job, shot: Shot, segments: list[Path]) -> dict:
    return {"output": str(shot.output), "delivery": shot.delivery, "source": source_identity(shot.input),
            "segments": [read_json(p.with_suffix(".json"))["segment"]["sha256"] for p in segments]}


def merge_shot(job: Job, shot: Shot, plan: ShotPlan) -> MergeResult:
    """Merge ``shot``; a no-op when the output was merged from the same segments and is untouched."""
    started = time.perf_counter()
    segments = segments_of(job, shot, plan)
    record_path = job.settings.work_dir / "merged" / f"{shot.name}.json"
    record, mode = _record(job, shot, segments), "encode" if shot.delivery else "copy"
    done = read_json(record_path)
    if done is not None and shot.output.is_file() and done.get("record") == record and done.get("output") == source_identity(shot.output):
        return MergeResult(shot.name, str(shot.output), plan.end - plan.start, mode, True, 0.0)
    info = probe(shot.input)
    trim = shot.start > 0 or shot.end is not None
    shot.output.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(shot.output, overwrite=True, source=shot.input) as tmp:
        if shot.delivery:
            _encode(tmp, segments, info, shot, trim)
        else:
            _copy(tmp, segments, info, shot, plan, trim)
        verify_output(tmp, info, plan, trim)
    record_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(record_path, {"record": record, "output": source_identity(shot.output)})
    return MergeResult(shot.name, str(shot.output), plan.end - plan.start, mode, False, time.perf_counter() - started)


def _encode_config(shot: Shot) -> EncodeConfig:
    return EncodeConfig(**{k: v for k, v in (shot.delivery or {}).items()})


def _copy(tmp: Path, segments: list[Path], info: ClipInfo, shot: Shot, plan: ShotPlan, trim: bool) -> None:
    """Stream-copy the segments' video and the source's side streams into ``tmp``."""
    offset = plan.pts[0] if trim else 0
    end = (plan.pts[-1] * info.time_base + 1 / info.fps) if trim else None
    encode = _encode_config(shot)
    out = av.open(str(tmp), "w")
    copier = None
    try:
        with av.open(str(segments[0])) as first:
            template = first.streams.video[0]
            extradata = template.codec_context.extradata
            video = out.add_stream_from_template(template)
        if info.rotation:
            video.set_display_rotation(info.rotation)
        copier = PacketCopier(shot.input, out, copied_streams(info, encode), shot.output)
        copier.begin(offset * info.time_base if trim else None)
        for path in segments:
            _copy_segment(path, out, video, copier, extradata, offset * info.time_base)
        copier.finish(end)
        out.close()
    except av.error.FFmpegError as exc:
        raise OutputError(f"cannot write {shot.output}: {exc}") from exc
    finally:
        if copier is not None:
            copier.close()
        out.close()


def _copy_segment(path: Path, out, video, copier: PacketCopier, extradata, offset_seconds: Fraction) -> None:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.codec_context.extradata != extradata:
            raise OutputError(f"segment {path} was encoded with other codec settings than the first segment; "
                              "it cannot be stream-copied (delete it and run the job again)")
        shift = offset_seconds / Fraction(stream.time_base)
        if shift.denominator != 1:
            raise OutputError(f"segment {path}: its time base {stream.time_base} cannot express the source pts exactly")
        for packet in container.demux(stream):
            if not packet.size or packet.pts is None:
                continue
            packet.pts -= int(shift)
            packet.dts = packet.pts  # intra-only segments: decode order is presentation order
            packet.stream = video
            when = packet.pts * Fraction(stream.time_base)
            out.mux(packet)
            copier.feed_until(when + offset_seconds)


def _encode(tmp: Path, segments: list[Path], info: ClipInfo, shot: Shot, trim: bool) -> None:
    """Decode the segments in order and encode them once with the delivery settings (VideoWriter)."""
    from ..video.writer import VideoWriter

    with VideoWriter(tmp, info, _encode_config(shot), source=shot.input, overwrite=False, trim=trim) as writer:
        for path in segments:
            for batch in _segment_batches(path, info):
                writer.write(batch)


def _segment_batches(path: Path, info: ClipInfo):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        scale = Fraction(stream.time_base) / info.time_base
        frames, pts = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            pts.append(int(frame.pts * scale))
            if len(frames) == DECODE_BATCH:
                yield FrameBatch(np.stack(frames), np.asarray(pts, np.int64), info.time_base)
                frames, pts = [], []
        if frames:
            yield FrameBatch(np.stack(frames), np.asarray(pts, np.int64), info.time_base)


def _rescale(value: Fraction) -> int:
    """Round to nearest, halves away from zero (FFmpeg's AV_ROUND_NEAR_INF, as the muxers rescale)."""
    floor = value.numerator // value.denominator
    rest = value - floor
    return floor + 1 if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and value > 0) else floor


def _muxer_shift(lead: int, side_start: Fraction | None, tb: Fraction) -> int:
    """The shift (in ``tb``) a muxer applied to every stream, or 0. A copied stream that starts before the
    video (MP3/AAC priming: audio pts -1105/44100 against video 0) has negative timestamps, which Matroska
    cannot store: FFmpeg moves all streams later until the earliest is at 0 (``avoid_negative_ts``), keeping
    A/V sync. A positive lead of the first frame is that shift exactly when some copied stream now starts
    at 0, before the video."""
    if lead > 0 and side_start is not None and abs(side_start) < tb:
        return lead
    return 0


def verify_output(path: Path, info: ClipInfo, plan: ShotPlan, trim: bool) -> None:
    """OutputError unless ``path`` holds the shot's frames with the source pts and span."""
    offset = plan.pts[0] if trim else 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = Fraction(stream.time_base)
        packets, side_start = [], None
        for p in container.demux():
            if not p.size or p.pts is None:
                continue
            if p.stream.index == stream.index:
                packets.append((p.pts, p.duration or 0))
            else:
                start = p.pts * Fraction(p.stream.time_base)
                side_start = start if side_start is None else min(side_start, start)
        packets.sort()
    expected = [_rescale((p - offset) * info.time_base / tb) for p in plan.pts]
    got = [p for p, _ in packets]
    if len(got) != len(expected):
        raise OutputError(f"{path}: {len(got)} frames written for the shot's {len(expected)}")
    shift = _muxer_shift(got[0] - expected[0], side_start, tb) if got else 0
    expected = [e + shift for e in expected]
    wrong = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None)
    if wrong is not None:
        raise OutputError(f"{path}: frame {plan.start + wrong} has pts {got[wrong]} ({tb}), the source's is {expected[wrong]}")
    span = (got[-1] - got[0] + packets[-1][1]) * tb
    source_span = (plan.pts[-1] - plan.pts[0]) * info.time_base + 1 / info.fps
    if abs(span - source_span) > 1 / info.fps + Fraction(1, 1000):
        raise OutputError(f"{path}: video lasts {float(span):.3f}s, the source's frames {float(source_span):.3f}s")


__all__ = ["MergeResult", "merge_shot", "segments_of", "verify_output"]
