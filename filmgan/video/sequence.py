"""Image sequences (``shot_%04d.tif``, ``plate.%06d.dpx``): naming, checking and opening them with PyAV's
image2 demuxer, so a sequence is read like any clip (PNG, TIFF 8/16-bit, DPX, EXR, JPEG ...).

A sequence has no frame rate of its own: it is given (``DecodeConfig.fps``, ``--fps``; default
``DEFAULT_FPS``). Its first number is kept (``ClipInfo.first_number``) so an output sequence can carry
the same numbering. A missing frame is an ``InputError`` naming the missing numbers, never a silent skip.
"""

from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path

import av

from ..errors import InputError

DEFAULT_FPS = Fraction(24)
_FIELD = re.compile(r"%0?(\d*)d")
MAX_LISTED = 8  # missing numbers named in a message


def is_sequence(path: str | os.PathLike) -> bool:
    """True if the file name holds exactly one printf number field (``%04d``, ``%d``)."""
    return len(_FIELD.findall(Path(path).name)) == 1


def frame_path(pattern: str | os.PathLike, number: int) -> Path:
    """The file of frame ``number`` in ``pattern``."""
    pattern = Path(pattern)
    return pattern.with_name(_FIELD.sub(lambda m: f"{number:0{m.group(1) or 1}d}", pattern.name))


def _matcher(pattern: Path) -> re.Pattern:
    head, tail = _FIELD.split(pattern.name, maxsplit=1)[0], _FIELD.split(pattern.name, maxsplit=1)[-1]
    width = _FIELD.search(pattern.name).group(1)
    digits = rf"\d{{{int(width)},}}" if width else r"\d+"
    return re.compile(re.escape(head) + f"({digits})" + re.escape(tail))


def sequence_numbers(pattern: str | os.PathLike) -> list[int]:
    """The frame numbers present on disk for ``pattern``, sorted."""
    pattern = Path(pattern)
    folder = pattern.parent if str(pattern.parent) else Path(".")
    if not folder.is_dir():
        return []
    match = _matcher(pattern)
    found = []
    for entry in os.scandir(folder):
        m = match.fullmatch(entry.name)
        if m and entry.is_file():
            found.append(int(m.group(1)))
    return sorted(found)


def check_sequence(pattern: str | os.PathLike) -> tuple[int, int]:
    """(first number, frame count) of a complete sequence; InputError if it is empty or has gaps."""
    numbers = sequence_numbers(pattern)
    if not numbers:
        raise InputError(f"no files match the image sequence {pattern}")
    first, last = numbers[0], numbers[-1]
    if len(numbers) != last - first + 1:
        present = set(numbers)
        missing = [n for n in range(first, last + 1) if n not in present]
        named = ", ".join(frame_path(pattern, n).name for n in missing[:MAX_LISTED])
        more = f" and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
        raise InputError(f"image sequence {pattern} is missing {len(missing)} frame{'s' if len(missing) > 1 else ''} "
                         f"between {first} and {last}: {named}{more}")
    return first, len(numbers)


def open_sequence(pattern: str | os.PathLike, fps: Fraction | None = None) -> av.container.InputContainer:
    """The sequence as a PyAV input (image2 demuxer) at ``fps`` (default ``DEFAULT_FPS``)."""
    first, _ = check_sequence(pattern)
    options = {"framerate": str(Fraction(fps or DEFAULT_FPS)), "start_number": str(first)}
    try:
        return av.open(str(pattern), mode="r", format="image2", options=options)
    except av.error.FFmpegError as exc:
        raise InputError(f"{pattern}: cannot read the image sequence ({exc.__class__.__name__}: {exc})") from exc
