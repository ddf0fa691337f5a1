"""Run a frame processor over the user's inputs: videos through the pipeline, still images directly.

This is the layer between the CLI and the library: it expands folders, names outputs, refuses to
overwrite, and returns one result record per input. It never prints.
"""

from __future__ import annotations

import time
from fractions import Fraction
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .config import RenderConfig
from .errors import InputError
from .video.atomic import check_destination
from .video.frames import FrameBatch
from .video.images import IMAGE_EXTENSIONS, is_image, read_image, write_image

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mxf", ".mpg", ".mpeg", ".ts", ".y4m", ".gif")


@dataclass(frozen=True)
class JobResult:
    input: str
    output: str
    kind: str  # "video" | "image"
    frames: int
    seconds: float

    def to_dict(self) -> dict:
        fps = self.frames / self.seconds if self.seconds > 0 else None
        return {"input": self.input, "output": self.output, "kind": self.kind, "frames": self.frames, "seconds": round(self.seconds, 3), "fps": fps and round(fps, 2)}


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expand to the images and videos directly inside them (sorted)."""
    out: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in (*IMAGE_EXTENSIONS, *VIDEO_EXTENSIONS) and ".partial-" not in p.name)
            if not found:
                raise InputError(f"no images or videos in folder {item}")
            out.extend(found)
        elif item.exists():
            out.append(item)
        else:
            raise InputError(f"no such file or folder: {item}")
    return out


def output_path(src: Path, suffix: str, output: Path | None, many: bool) -> Path:
    """Where the result of ``src`` goes: ``INPUT.<suffix>.<ext>`` beside it, in ``output`` when that is a
    folder (or there are several inputs), or ``output`` itself."""
    ext = src.suffix if is_image(src) else ".mp4"
    name = f"{src.stem}.{suffix}{ext}"
    if output is None:
        return src.with_name(name)
    if many or output.is_dir() or str(output).endswith(("/", "\\")):
        output.mkdir(parents=True, exist_ok=True)
        return output / name
    return output


def process_image(src: Path, dst: Path, processor, overwrite: bool) -> JobResult:
    check_destination(dst, overwrite=overwrite, source=src)
    start = time.perf_counter()
    rgb = read_image(src)
    batch = FrameBatch(rgb[None], np.zeros(1, np.int64), time_base=Fraction(1, 1))
    outs = [*processor.process(batch), *processor.flush()]
    processor.reset()
    write_image(dst, np.concatenate([b.frames for b in outs])[0])
    return JobResult(str(src), str(dst), "image", 1, time.perf_counter() - start)


def process_video(src: Path, dst: Path, processor, config: RenderConfig, progress: Callable[[int, int | None], None] | None) -> JobResult:
    from .pipeline import render

    result = render(src, dst, processor, config, progress=progress)
    processor.reset()
    return JobResult(str(src), str(result.output), "video", result.frames_out, result.seconds)


def run_job(inputs: list[Path], suffix: str, output: Path | None, processor, config: RenderConfig, progress_factory=None) -> list[JobResult]:
    """Process every input in turn; ``progress_factory(src)`` returns a progress callback per video."""
    results = []
    many = len(inputs) > 1
    for src in inputs:
        dst = output_path(src, suffix, output, many)
        if is_image(src):
            results.append(process_image(src, dst, processor, config.overwrite))
        else:
            progress = progress_factory(src) if progress_factory else None
            results.append(process_video(src, dst, processor, config, progress))
    return results
