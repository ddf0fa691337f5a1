"""``filmgan batch init``: a valid job file for some inputs, for users to edit."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ConfigError, InputError
from .jobfile import load_job

COPY_SUFFIXES = (".mkv",)  # outputs that take the lossless segments as they are (stream copy)
DELIVERY_CODECS = {".webm": "vp9"}  # other containers get one final encode to a codec they play
DEFAULT_DELIVERY = "h264"


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def _relative(path: Path, base: Path) -> str:
    """Relative to the job file's folder when inside it (the job moves with its folder), else absolute."""
    path, base = path.resolve(), base.resolve()
    return os.path.relpath(path, base) if path.is_relative_to(base) else str(path)


def job_text(inputs: list[Path], job_path: Path, out_dir: Path, preset: str, chunk_size: int, warmup: int) -> str:
    """The TOML text of a job rendering every input with ``preset`` into ``out_dir/<stem><ext>``."""
    base = job_path.resolve().parent
    lines = ["# filmgan batch job: edit, then 'filmgan batch plan' / 'filmgan batch run' (see the README's Batch section)",
             "[job]", f"output_root = {_toml(_relative(out_dir, base))}", f"chunk_size = {chunk_size}", f"warmup = {warmup}",
             f"cut_tolerance = {min(60, chunk_size // 4)}  # frames a boundary may move to land on a scene cut", 'segment_codec = "ffv1"  # ffv1 (lossless) | prores (mezzanine)',
             "retries = 2", 'executor = "local"  # local | dask', "workers = 2", 'scheduler = ""  # dask: tcp://HOST:8786; empty: a local cluster', ""]
    stems: dict[str, int] = {}
    for src in inputs:
        if not src.is_file():
            raise InputError(f"no such input file: {src}")
        name = src.stem if src.stem not in stems else f"{src.stem}-{stems[src.stem] + 1}"
        stems[src.stem] = stems.get(src.stem, 0) + 1
        output = out_dir / f"{name}{src.suffix.lower()}"
        lines += ["[[shot]]", f"name = {_toml(name)}", f"input = {_toml(_relative(src, base))}",
                  f"output = {_toml(_relative(output, base))}", f"preset = {_toml(preset)}"]
        if src.suffix.lower() not in COPY_SUFFIXES:
            codec = DELIVERY_CODECS.get(src.suffix.lower(), DEFAULT_DELIVERY)
            lines += [f"delivery = {{ codec = {_toml(codec)} }}  # one final encode at merge; an .mkv output takes the lossless segments as they are"]
        lines.append("")
    return "\n".join(lines)


def init_job(inputs: list[Path], job_path: Path, out_dir: Path, preset: str = "colorize", chunk_size: int = 240,
             warmup: int = 16, overwrite: bool = False) -> Path:
    """Write the job file (atomically) and check that it loads; returns its path."""
    from ..presets import find_preset
    from ..video import atomic

    if not inputs:
        raise ConfigError("batch init needs at least one input")
    find_preset(preset)  # a bad preset fails here, with its did-you-mean
    text = job_text(inputs, job_path, out_dir, preset, chunk_size, warmup)
    with atomic.atomic_path(job_path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    try:
        load_job(job_path)
    except ConfigError:
        job_path.unlink()
        raise
    return job_path
