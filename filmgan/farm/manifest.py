"""Segment files and their JSON manifests: where they live, how they are written, when they are valid.

A chunk's segment ``SEGMENTS/SHOT/START-END.<ext>`` is complete only when its manifest ``START-END.json``
sits beside it (written after the segment, both atomically) and agrees with it: the segment's size and
SHA-256, the planned frame range and pts digest, and the digest of the shot's render settings. Anything else
-- no manifest, a truncated or altered segment, a manifest from other settings -- is invalid, and the chunk
is rendered again. Manifests are plain JSON: nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..video import atomic

MANIFEST_VERSION = 1


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``, or None when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (temporary name, fsync, rename)."""
    with atomic.atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def segment_path(folder: Path, start: int, end: int, ext: str) -> Path:
    return folder / f"{start:07d}-{end:07d}{ext}"


def manifest_path(segment: Path) -> Path:
    return segment.with_suffix(".json")


def check_segment(segment: Path, expected: dict[str, Any]) -> str | None:
    """None when ``segment`` and its manifest are complete and match ``expected`` (keys of the manifest
    that must be equal); otherwise the reason, for messages."""
    manifest = read_json(manifest_path(segment))
    if manifest is None:
        return "no manifest" if not manifest_path(segment).exists() else "unreadable manifest"
    if not segment.is_file():
        return "segment file missing"
    for key, value in expected.items():
        if manifest.get(key) != value:
            return f"manifest {key} is {manifest.get(key)!r}, expected {value!r}"
    record = manifest.get("segment", {})
    size = segment.stat().st_size
    if record.get("bytes") != size:
        return f"segment is {size} bytes, the manifest says {record.get('bytes')}"
    if record.get("sha256") != file_sha256(segment):
        return "segment content differs from its manifest (sha256)"
    return None


def remove_segment(segment: Path) -> None:
    """Delete a segment, its manifest and any temporary files of earlier attempts at it."""
    for path in (manifest_path(segment), segment):
        atomic.remove_quietly(path)
    if segment.parent.is_dir():
        for stale in segment.parent.glob(f".{segment.name}.partial-*"):
            atomic.remove_quietly(stale)
        for stale in segment.parent.glob(f".{manifest_path(segment).name}.partial-*"):
            atomic.remove_quietly(stale)


def source_identity(path: Path) -> dict[str, int]:
    stat = os.stat(path)
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
