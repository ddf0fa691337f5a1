"""Render one planned chunk into a segment with its manifest; a chunk already done is a no-op.

The chunk goes through the same ``pipeline.render`` as a whole clip, with a frame range and warm-up frames:
the reader seeks to the keyframe before the warm-up start, the warm-up frames run through the generator and
the temporal state and are dropped, and exactly the chunk's frames are encoded, with their source pts, into
an intra-only (closed-GOP) segment. The segment's pts are read back and checked against the plan before the
manifest is written; the manifest is written last, so a segment without one is never taken as done.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av

from .. import __version__
from ..errors import InputError, ProcessorError
from .jobfile import SEGMENT_CODECS, Job, Shot
from .manifest import MANIFEST_VERSION, check_segment, file_sha256, manifest_path, remove_segment, segment_path, source_identity, write_json
from .plan import Chunk, pts_digest

_ENGINES: dict[tuple, object] = {}  # engines loaded by this process, reused across its chunks
_DIGESTS: dict[tuple, str] = {}


@dataclass(frozen=True)
class ChunkResult:
    id: str
    shot: str
    frames: int
    skipped: bool  # already complete and valid: nothing was rendered
    seconds: float
    segment: str

    def to_dict(self) -> dict:
        return {"id": self.id, "shot": self.shot, "frames": self.frames, "skipped": self.skipped, "seconds": round(self.seconds, 3), "segment": self.segment}


def chunk_segment(job: Job, shot: Shot, chunk: Chunk) -> Path:
    return segment_path(job.segment_dir(shot), chunk.start, chunk.end, SEGMENT_CODECS[job.settings.segment_codec])


def expected_manifest(job: Job, shot: Shot, chunk: Chunk) -> dict:
    """The manifest entries a valid segment of ``chunk`` must carry under the current job settings."""
    return {"version": MANIFEST_VERSION, "task_id": chunk.id, "start": chunk.start, "end": chunk.end, "frames": chunk.frames,
            "pts_sha256": chunk.pts_sha256, "settings": shot.render_digest(job.settings.segment_codec), "source": source_identity(shot.input)}


def chunk_state(job: Job, shot: Shot, chunk: Chunk) -> str | None:
    """None when the chunk's segment is complete and valid, else why not."""
    if not shot.input.exists():
        return "input missing"
    return check_segment(chunk_segment(job, shot, chunk), expected_manifest(job, shot, chunk))


def run_chunk(job: Job, shot: Shot, chunk: Chunk, progress: Callable[[int, int | None], None] | None = None, threads: int = 0) -> ChunkResult:
    """Render ``chunk`` of ``shot`` unless its segment is already valid. Raises the render's typed errors."""
    from ..pipeline import render
    from ..processors.factory import build_processor
    from .shotconfig import shot_config

    segment = chunk_segment(job, shot, chunk)
    if not shot.input.is_file():
        raise InputError(f"shot '{shot.name}': input {shot.input} does not exist")
    expected = expected_manifest(job, shot, chunk)
    if check_segment(segment, expected) is None:
        return ChunkResult(chunk.id, shot.name, chunk.frames, True, 0.0, str(segment))
    remove_segment(segment)  # a stale, partial or corrupt attempt
    segment.parent.mkdir(parents=True, exist_ok=True)
    config = shot_config(shot)
    engine = _engine(config.model, config.backend, shot.precision, config.task_name, threads)
    started = time.perf_counter()
    render_config = config.render_config(chunk.start, chunk.end, chunk.warmup, job.settings.segment_codec)
    processor = build_processor(config.task, engine)
    guide = _guide(config, engine, processor, shot, chunk)
    try:
        result = render(shot.input, segment, processor, render_config, progress=progress)
    finally:
        if guide is not None:
            guide.close()
    seconds = time.perf_counter() - started
    pts = segment_pts(segment, result.info.time_base)
    if result.frames_out != chunk.frames or pts_digest(pts) != chunk.pts_sha256:
        remove_segment(segment)
        raise ProcessorError(f"chunk {chunk.id}: the segment holds {len(pts)} frames whose pts differ from the plan's "
                             f"{chunk.frames} source frames; the source may have changed (re-plan with 'filmgan batch plan')")
    write_json(manifest_path(segment), {
        **expected, "shot": shot.name, "warmup_start": chunk.warmup_start, "warmup": chunk.warmup,
        "pts_first": pts[0], "pts_last": pts[-1], "time_base": str(result.info.time_base),
        "segment": {"name": segment.name, "codec": job.settings.segment_codec, "bytes": segment.stat().st_size, "sha256": file_sha256(segment)},
        "model": {"path": str(config.model), "sha256": _digest(config.model)}, "engine": _engine_record(engine),
        "filmgan_version": __version__, "host": socket.gethostname(), "pid": os.getpid(),
        "timings": {"seconds": round(seconds, 3), "frames_decoded": chunk.frames + chunk.warmup,
                    "fps": round(chunk.frames / seconds, 3) if seconds else None},
    })
    return ChunkResult(chunk.id, shot.name, chunk.frames, False, seconds, str(segment))


def segment_pts(path: Path, time_base: Fraction) -> list[int]:
    """The video pts of a file in ``time_base`` units, in presentation order (demux only, no decode)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        scale = Fraction(stream.time_base) / time_base
        values = sorted(p.pts * scale for p in container.demux(stream) if p.size and p.pts is not None)
    return [int(v) if v.denominator == 1 else float(v) for v in values]


def _engine(model: Path, backend: str, precision: str, task: str, threads: int):
    from ..backends import EngineConfig, load_engine

    key = (str(model), backend, precision, threads, task)
    if key not in _ENGINES:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the render commands: idle threads sleep
        _ENGINES[key] = load_engine(model, EngineConfig(backend=backend, precision=precision, threads=threads), task=task)
    return _ENGINES[key]


def _guide(config, engine, processor, shot: Shot, chunk: Chunk):
    """The shot's colour guide for this chunk (None when it has none): keyframes are tracked over the chunk's
    frames with its warm-up, from the shot's last keyframe before it to the first after it."""
    if not config.guide:
        return None
    from ..guide import build_guide

    guide = build_guide(config.guide, engine.prior_bins, shot.input, processor.render_frames, frame_range=(chunk.warmup_start, chunk.end))
    processor.set_guide(guide)
    return guide


def _digest(path: Path | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    stat = Path(path).stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_sha256(Path(path))
    return _DIGESTS[key]


def _engine_record(engine) -> dict:
    path, device = getattr(engine, "path", None), getattr(engine, "device", None)
    return {"runner": type(engine).__name__, "precision": getattr(engine, "precision", None), "device": None if device is None else str(device),
            "file": str(path) if path else None, "sha256": _digest(path)}


def close_engines() -> None:
    """Release the engines this process loaded."""
    while _ENGINES:
        _, engine = _ENGINES.popitem()
        engine.close()
