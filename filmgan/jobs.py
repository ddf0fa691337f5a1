"""Run a task over the user's inputs: videos and image sequences through the pipeline, stills directly.

This is the layer between the CLI and the library: it expands folders (skipping our own earlier outputs),
names outputs and checks that no two inputs map to one output before anything is written, processes every
input, and returns one result record per input -- written, failed (with the reason and exit code) or
skipped -- so a farm can tell exactly what was written. It never prints.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .config import RenderConfig
from .errors import CorruptMediaError, FilmganError, InputError, OutputError
from .video.atomic import check_destination
from .video.frames import FrameBatch
from .video.images import IMAGE_EXTENSIONS, is_image, read_image, write_image
from .video.sequence import is_sequence

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mxf", ".mpg", ".mpeg", ".ts", ".y4m", ".gif",
                    ".h264", ".264", ".hevc", ".265", ".m2ts", ".mts")
KEPT_CONTAINERS = (".mp4", ".mov", ".mkv", ".m4v")  # an output keeps the input's container when it is one of
DEFAULT_CONTAINER = ".mkv"  # these; anything else becomes Matroska, which holds every codec we copy


@dataclass(frozen=True)
class JobResult:
    """One input's outcome: ``status`` is written | failed | skipped (a corrupt still under skip_corrupt)."""

    input: str
    output: str | None
    kind: str  # "video" | "image" | "sequence"
    status: str = "written"
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None
    exit_code: int = 0
    skipped_frames: int = 0

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict:
        fps = self.frames / self.seconds if self.seconds > 0 and self.frames else None
        data = {"input": self.input, "output": self.output, "kind": self.kind, "status": self.status,
                "frames": self.frames, "seconds": round(self.seconds, 3), "fps": fps and round(fps, 2)}
        if self.skipped_frames:
            data["skipped_frames"] = self.skipped_frames
        if self.error is not None:
            data.update(error=self.error, exit_code=self.exit_code)
        return data


def kind_of(path: Path) -> str:
    return "sequence" if is_sequence(path) else "image" if is_image(path) else "video"


def is_own_output(path: Path, suffix: str) -> bool:
    """True for ``NAME.<suffix>.<ext>`` (what an earlier run of the same task wrote) and partial files."""
    return ".partial-" in path.name or path.name.split(".")[-2:-1] == [suffix]


def expand_inputs(inputs: Iterable[str | Path], suffix: str | None = None) -> list[Path]:
    """Files as given; folders expand to the images and videos directly inside them (sorted), leaving out
    temporary files and, with ``suffix``, the outputs an earlier run of this task wrote there."""
    out: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in (*IMAGE_EXTENSIONS, *VIDEO_EXTENSIONS)
                           and not (".partial-" in p.name or (suffix and is_own_output(p, suffix))))
            if not found:
                raise InputError(f"no images or videos in folder {item}" + (f" (besides earlier *.{suffix}.* outputs)" if suffix else ""))
            out.extend(found)
        elif item.exists() or is_sequence(item):
            out.append(item)
        else:
            raise InputError(f"no such file or folder: {item}")
    return list(dict.fromkeys(out))  # the same file named twice is processed once


def _default_name(src: Path, suffix: str) -> str:
    if is_image(src) or is_sequence(src):
        return f"{src.stem}.{suffix}{src.suffix}"
    ext = src.suffix.lower() if src.suffix.lower() in KEPT_CONTAINERS else DEFAULT_CONTAINER
    return f"{src.stem}.{suffix}{ext}"


def is_folder_target(output: Path | str) -> bool:
    """``-o`` names a folder: it is one, ends with a separator, or has no extension (no file format)."""
    text = str(output)
    path = Path(text)
    return path.is_dir() or text.endswith(("/", os.sep)) or (not path.suffix and not is_sequence(path))


def output_path(src: Path, suffix: str, output: Path | str | None, many: bool) -> Path:
    """Where the result of ``src`` goes: ``INPUT.<suffix>.<ext>`` beside it (videos keep an mp4/mov/mkv
    container, others become mkv), in ``output`` when that is a folder (or there are several inputs), or
    ``output`` itself."""
    name = _default_name(src, suffix)
    if output is None:
        return src.with_name(name)
    if many or is_folder_target(output):
        folder = Path(output)
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"-o {output} is a file; with several inputs, -o must be a folder")
        return folder / name
    return Path(output)


def plan_outputs(inputs: list[Path], suffix: str, output: Path | str | None) -> list[tuple[Path, Path]]:
    """(input, output) pairs; OutputError before any work when two inputs would write one output or an
    output would replace another input."""
    many = len(inputs) > 1
    plan = [(src, output_path(src, suffix, output, many)) for src in inputs]
    taken: dict[Path, Path] = {}
    sources = {src.resolve(): src for src in inputs}
    for src, dst in plan:
        key = dst.resolve()
        if key in taken:
            raise OutputError(f"{taken[key]} and {src} would both be written to {dst}; "
                              "give them separate output folders or rename one")
        if key in sources and sources[key] != src:
            raise OutputError(f"the output of {src} would replace the input {sources[key]}; choose another output path")
        taken[key] = src
    return plan


def make_folders(plan: list[tuple[Path, Path]]) -> None:
    for _, dst in plan:
        if not dst.parent.exists():
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot create the output folder {dst.parent}: {exc.strerror or exc}") from exc


def process_image(src: Path, dst: Path, processor, overwrite: bool) -> JobResult:
    check_destination(dst, overwrite=overwrite, source=src)
    start = time.perf_counter()
    rgb = read_image(src, high_bit_depth=True)
    batch = FrameBatch(rgb[None], np.zeros(1, np.int64), time_base=Fraction(1, 1))
    outs = [*processor.process(batch), *processor.flush()]
    processor.reset()
    write_image(dst, np.concatenate([b.frames for b in outs])[0], overwrite=overwrite)
    return JobResult(str(src), str(dst), "image", "written", 1, time.perf_counter() - start)


def process_video(src: Path, dst: Path, processor, config: RenderConfig, progress: Callable[[int, int | None], None] | None) -> JobResult:
    from .pipeline import render

    try:
        result = render(src, dst, processor, config, progress=progress)
    finally:
        processor.reset()
    return JobResult(str(src), str(result.output), kind_of(src), "written", result.frames_out, result.seconds,
                     skipped_frames=result.skipped)


def run_one(src: Path, dst: Path, processor, config: RenderConfig, progress_factory=None) -> JobResult:
    if is_image(src) and not is_sequence(src):
        return process_image(src, dst, processor, config.overwrite)
    return process_video(src, dst, processor, config, progress_factory(src) if progress_factory else None)


def run_job(inputs: list[Path], suffix: str, output: Path | str | None, processor, config: RenderConfig,
            progress_factory=None) -> list[JobResult]:
    """Process every input; ``progress_factory(src)`` returns a progress callback per video.

    With one input its error is raised as is. With several, every input is attempted and a failure is
    recorded in its result (``status`` "failed", the message and exit code), so the caller can report
    exactly what was written. A corrupt still under ``decode.skip_corrupt`` is "skipped". Ctrl-C and
    SIGTERM stop the whole job.
    """
    plan = plan_outputs(inputs, suffix, output)
    make_folders(plan)
    results = []
    for src, dst in plan:
        try:
            results.append(run_one(src, dst, processor, config, progress_factory))
        except CorruptMediaError as exc:
            if not (config.decode.skip_corrupt and kind_of(src) == "image"):
                if len(plan) == 1:
                    raise
                results.append(_failed(src, dst, exc))
            else:
                results.append(JobResult(str(src), None, "image", "skipped", error=str(exc), exit_code=0))
        except FilmganError as exc:
            if len(plan) == 1:
                raise
            results.append(_failed(src, dst, exc))
    return results


def _failed(src: Path, dst: Path, exc: FilmganError) -> JobResult:
    return JobResult(str(src), str(dst), kind_of(src), "failed", error=str(exc), exit_code=exc.exit_code)


__all__ = ["JobResult", "expand_inputs", "output_path", "plan_outputs", "run_job"]
