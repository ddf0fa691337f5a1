"""Plan a shot: frame-range chunks aligned to scene cuts, each with its warm-up range and a stable task id.

One decode pass over the shot finds its frame count, every frame's pts and its scene cuts (the blender's own
detector, fed the same downscaled frames, so a cut in the plan is a cut in the render). Chunks are
``chunk_size`` frames; a boundary moves to the nearest cut within ``cut_tolerance`` frames (a cut is a free
seam: the temporal state resets there anyway), and the last chunk absorbs a tail shorter than the tolerance.
A chunk's warm-up starts ``warmup`` frames before it, never before the shot's start, and no earlier than the
last cut at or before the chunk (the state resets there, so earlier frames cannot matter).

Task ids are ``SHOT@START-END`` (frame indices of the source, END exclusive): the same plan gives the same
ids on every machine. Plans are cached in the job's work folder under a key of everything they depend on
(input size and mtime, range, chunking, cut threshold, filmgan version).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import cv2

from .. import __version__
from ..config import DecodeConfig
from ..errors import ConfigError, InputError
from .jobfile import Job, Shot
from .manifest import read_json, write_json

PLAN_VERSION = 1


@dataclass(frozen=True)
class Chunk:
    """Frames [start, end) of a shot's source, warmed up from ``warmup_start``."""

    shot: str
    start: int
    end: int
    warmup_start: int
    pts_sha256: str  # digest of the source pts of the chunk's frames

    @property
    def id(self) -> str:
        return task_id(self.shot, self.start, self.end)

    @property
    def frames(self) -> int:
        return self.end - self.start

    @property
    def warmup(self) -> int:
        return self.start - self.warmup_start

    def to_dict(self) -> dict:
        return {"id": self.id, **asdict(self), "frames": self.frames, "warmup": self.warmup}


@dataclass(frozen=True)
class ShotPlan:
    shot: str
    start: int
    end: int  # exclusive
    cuts: tuple[int, ...]  # frames that start a new scene, within (start, end)
    chunks: tuple[Chunk, ...]
    pts: tuple[int, ...]  # source pts of frames [start, end), in presentation order

    def chunk(self, chunk_id: str) -> Chunk:
        for chunk in self.chunks:
            if chunk.id == chunk_id:
                return chunk
        raise ConfigError(f"shot '{self.shot}' has no chunk {chunk_id}; its chunks: {', '.join(c.id for c in self.chunks)}")

    def chunks_starting_in(self, first: int, last: int) -> list[Chunk]:
        """The chunks whose first frame lies in [first, last] (a farm's inclusive frame tokens): however a
        farm slices the shot's frames, each planned chunk runs in exactly one of its tasks."""
        return [c for c in self.chunks if first <= c.start <= last]

    def to_dict(self, with_pts: bool = False) -> dict:
        data = {"shot": self.shot, "start": self.start, "end": self.end, "frames": self.end - self.start,
                "cuts": list(self.cuts), "chunks": [c.to_dict() for c in self.chunks]}
        return {**data, "pts": list(self.pts)} if with_pts else data


def task_id(shot: str, start: int, end: int) -> str:
    return f"{shot}@{start}-{end}"


def parse_task_id(text: str) -> tuple[str, int, int]:
    shot, sep, span = text.rpartition("@")
    first, dash, last = span.partition("-")
    if not (sep and dash and shot and first.isdigit() and last.isdigit()):
        raise ConfigError(f"'{text}' is not a task id (SHOT@START-END, as 'filmgan batch plan' lists them)")
    return shot, int(first), int(last)


def pts_digest(pts) -> str:
    return hashlib.sha256(",".join(str(int(p)) for p in pts).encode()).hexdigest()


def boundaries(start: int, end: int, cuts: list[int], size: int, tolerance: int) -> list[int]:
    """Chunk boundaries from ``start`` to ``end``: every ``size`` frames, moved to the nearest cut within
    ``tolerance``; the last chunk takes a remainder of up to ``size + tolerance`` frames."""
    edges, pos = [start], start
    while end - pos > size + tolerance:
        target = pos + size
        near = [c for c in cuts if pos < c < end and abs(c - target) <= tolerance]
        pos = min(near, key=lambda c: (abs(c - target), c)) if near else target
        edges.append(pos)
    return [*edges, end]


def warmup_start(chunk_start: int, shot_start: int, cuts: list[int], warmup: int) -> int:
    first = max(shot_start, chunk_start - warmup)
    return max([first, *(c for c in cuts if c <= chunk_start)])


def make_plan(shot: Shot, end: int, cuts: list[int], pts: list[int], cut_tolerance: int) -> ShotPlan:
    edges = boundaries(shot.start, end, cuts, shot.chunk_size, cut_tolerance)
    chunks = tuple(Chunk(shot.name, a, b, warmup_start(a, shot.start, cuts, shot.warmup), pts_digest(pts[a - shot.start:b - shot.start]))
                   for a, b in zip(edges, edges[1:]))
    return ShotPlan(shot.name, shot.start, end, tuple(cuts), chunks, tuple(pts))


def scan_shot(shot: Shot, progress: Callable[[int], None] | None = None) -> tuple[int, list[int], list[int]]:
    """One decode pass over the shot: (end frame, scene cuts, pts). InputError for a missing/bad input."""
    from ..temporal.flow import flow_size
    from ..temporal.scenecut import SceneCutDetector
    from ..video.reader import VideoReader
    from .shotconfig import shot_config

    if not shot.input.is_file():
        raise InputError(f"shot '{shot.name}': input {shot.input} does not exist")
    blend = shot_config(shot).task.blend
    detector = SceneCutDetector(blend.scene_cut_threshold)
    # frame-threaded decoding: the scan runs on its own, before any chunk, so it may use every core
    reader = VideoReader(shot.input, DecodeConfig(start=shot.start, end=shot.end, batch_size=16, thread_type="AUTO"))
    cuts, pts, index = [], [], shot.start
    for batch in reader:
        for frame, p in zip(batch.frames, batch.pts):
            size = flow_size((frame.shape[1], frame.shape[0]), blend.flow_max_side)
            small = frame if size == (frame.shape[1], frame.shape[0]) else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            if detector.is_cut(small):
                cuts.append(index)
            pts.append(int(p))
            index += 1
        if progress is not None:
            progress(index - shot.start)
    if shot.end is not None and index < shot.end:
        raise InputError(f"shot '{shot.name}': end {shot.end} is past the end of {shot.input} ({index} frames)")
    return index, cuts, pts


def plan_key(job: Job, shot: Shot) -> str:
    stat = shot.input.stat()
    from .shotconfig import shot_config

    data = [PLAN_VERSION, __version__, str(shot.input), stat.st_size, stat.st_mtime_ns, shot.start, shot.end, shot.chunk_size,
            shot.warmup, job.cut_tolerance(shot), shot_config(shot).task.blend.scene_cut_threshold]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:20]


def plan_path(job: Job, shot: Shot) -> Path:
    return job.settings.work_dir / "plans" / f"{shot.name}.json"


def plan_shot(job: Job, shot: Shot, progress: Callable[[int], None] | None = None) -> ShotPlan:
    """The shot's plan: from the job's cache when its key still matches, else scanned and cached."""
    if not shot.input.is_file():
        raise InputError(f"shot '{shot.name}': input {shot.input} does not exist")
    key, path = plan_key(job, shot), plan_path(job, shot)
    cached = read_json(path)
    if cached is not None and cached.get("key") == key:
        chunks = tuple(Chunk(**{k: c[k] for k in ("shot", "start", "end", "warmup_start", "pts_sha256")}) for c in cached["chunks"])
        return ShotPlan(cached["shot"], cached["start"], cached["end"], tuple(cached["cuts"]), chunks, tuple(cached["pts"]))
    end, cuts, pts = scan_shot(shot, progress)
    plan = make_plan(shot, end, cuts, pts, job.cut_tolerance(shot))
    os.makedirs(path.parent, exist_ok=True)
    write_json(path, {"key": key, **plan.to_dict(with_pts=True)})
    return plan
