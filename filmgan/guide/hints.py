"""Local colour hints: a few points or strokes with their colours (``--hints hints.json``).

File format (JSON; validated, every error names the entry and the key)::

    {
      "coordinates": "pixels",              # or "relative" (0-1 of the width and height); default pixels
      "hints": [
        {"x": 120, "y": 64, "colour": "#b0302a"},                       # a point (radius 2 px by default)
        {"x": 300, "y": 90, "colour": [40, 90, 200], "radius": 4, "frame": 12},
        {"stroke": [[10, 200], [60, 210], [90, 190]], "colour": "#2f6b2a", "width": 5}
      ]
    }

``colour`` is sRGB, ``"#rrggbb"`` or ``[r, g, b]`` (0-255); only its chroma is used (the output keeps the
source's lightness). ``frame`` (optional) restricts a hint to one frame of a video; hints without it apply to
every frame and to still images. Coordinates are in the source's pixels.

:func:`rasterise` draws the hints at the render size as an ab map and a mask;
:mod:`filmgan.guide.propagate` spreads them over the image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config import did_you_mean
from ..errors import ConfigError
from ..video.color import rgb_to_lab

_POINT_KEYS = {"x", "y", "colour", "radius", "frame"}
_STROKE_KEYS = {"stroke", "colour", "width", "frame"}
_TOP_KEYS = {"coordinates", "hints", "version"}
COORDINATES = ("pixels", "relative")


@dataclass(frozen=True)
class Hint:
    """One point (``points`` of length 1, ``size`` its radius) or stroke (polyline, ``size`` its width)."""

    points: tuple[tuple[float, float], ...]
    rgb: tuple[int, int, int]
    size: float
    stroke: bool
    frame: int | None = None

    @property
    def ab(self) -> np.ndarray:
        return rgb_to_lab(np.array([[self.rgb]], np.uint8))[0, 0, 1:]


@dataclass(frozen=True)
class HintSet:
    """Hints of one file; ``relative`` coordinates are fractions of the frame's width and height."""

    hints: tuple[Hint, ...]
    relative: bool = False

    def for_frame(self, index: int | None) -> tuple[Hint, ...]:
        """The hints that apply to frame ``index`` (None: a still image -- the hints without a frame)."""
        return tuple(h for h in self.hints if h.frame is None or h.frame == index)

    def __bool__(self) -> bool:
        return bool(self.hints)


def _colour(value, where: str) -> tuple[int, int, int]:
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 7 and text[0] == "#":
            try:
                return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)
            except ValueError:
                pass
        raise ConfigError(f"{where}: colour must be '#rrggbb' or [r, g, b], got {value!r}")
    if (isinstance(value, list) and len(value) == 3 and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and all(0 <= v <= 255 for v in value)):
        return tuple(value)
    raise ConfigError(f"{where}: colour must be '#rrggbb' or [r, g, b] with integers 0-255, got {value!r}")


def _number(entry: dict, key: str, where: str, default=None, minimum: float | None = None) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: '{key}' must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: '{key}' must be >= {minimum}, got {value}")
    return float(value)


def _frame(entry: dict, where: str) -> int | None:
    value = entry.get("frame")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: 'frame' must be a frame index >= 0, got {value!r}")
    return value


def _unknown(entry: dict, allowed: set, where: str) -> None:
    for key in entry:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key '{key}'{did_you_mean(key, allowed)}")


def _hint(entry, i: int, relative: bool, origin: str) -> Hint:
    where = f"{origin}: hint {i}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be an object with x, y (or stroke) and colour, got {type(entry).__name__}")
    _unknown(entry, _STROKE_KEYS if "stroke" in entry else _POINT_KEYS, where)
    if "colour" not in entry:
        raise ConfigError(f"{where}: missing 'colour'")
    limit = 1.0 if relative else None
    if "stroke" in entry:
        pts = entry["stroke"]
        if not isinstance(pts, list) or len(pts) < 2 or not all(isinstance(p, list) and len(p) == 2 for p in pts):
            raise ConfigError(f"{where}: 'stroke' must be a list of at least two [x, y] points")
        points = tuple((_coord(p[0], f"{where} stroke", limit), _coord(p[1], f"{where} stroke", limit)) for p in pts)
        return Hint(points, _colour(entry["colour"], where), _number(entry, "width", where, 3, 1), True, _frame(entry, where))
    for key in ("x", "y"):
        if key not in entry:
            raise ConfigError(f"{where}: a point needs 'x' and 'y' (or a 'stroke'); '{key}' is missing")
    point = (_coord(entry["x"], where, limit), _coord(entry["y"], where, limit))
    return Hint((point,), _colour(entry["colour"], where), _number(entry, "radius", where, 2, 0), False, _frame(entry, where))


def _coord(value, where: str, limit: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (limit is not None and value > limit):
        bound = "in [0, 1] (relative coordinates)" if limit else ">= 0 (pixels)"
        raise ConfigError(f"{where}: coordinates must be numbers {bound}, got {value!r}")
    return float(value)


def parse_hints(data, origin: str = "hints") -> HintSet:
    """A :class:`HintSet` from parsed JSON; ConfigError naming the entry and key on anything wrong."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: must be a JSON object with a 'hints' list")
    _unknown(data, _TOP_KEYS, origin)
    coords = data.get("coordinates", "pixels")
    if coords not in COORDINATES:
        raise ConfigError(f"{origin}: 'coordinates' must be one of {', '.join(COORDINATES)}, got {coords!r}")
    entries = data.get("hints")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{origin}: 'hints' must be a non-empty list")
    relative = coords == "relative"
    return HintSet(tuple(_hint(e, i, relative, origin) for i, e in enumerate(entries)), relative)


def load_hints(path: str | Path) -> HintSet:
    """Read and validate a hints file (ConfigError, exit code 1, on a missing file, bad JSON or bad entry)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read hints file {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    return parse_hints(data, str(path))


def rasterise(hints: tuple[Hint, ...], source_size: tuple[int, int], size: tuple[int, int], relative: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(ab (h, w, 2) float32, mask (h, w) float32 in {0, 1}) of ``hints`` drawn at ``size`` = (w, h) for a
    source of ``source_size`` = (W, H). Later hints paint over earlier ones; hints outside the frame draw nothing."""
    w, h = size
    sx, sy = (w, h) if relative else (w / source_size[0], h / source_size[1])
    ab = np.zeros((h, w, 2), np.float32)
    mask = np.zeros((h, w), np.uint8)
    for hint in hints:
        pts = np.array([[x * sx, y * sy] for x, y in hint.points], np.float64)
        stamp = np.zeros((h, w), np.uint8)
        if hint.stroke:
            thickness = max(1, round(hint.size * (sx if not relative else w / source_size[0])))
            cv2.polylines(stamp, [np.round(pts).astype(np.int32)], False, 1, thickness=thickness)
        else:
            radius = round(hint.size * (sx if not relative else w / source_size[0]))
            cv2.circle(stamp, tuple(int(round(v)) for v in pts[0]), max(0, radius), 1, thickness=-1)
        on = stamp.astype(bool)
        ab[on] = hint.ab
        mask[on] = 1
    return ab, mask.astype(np.float32)
