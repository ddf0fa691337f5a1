"""The batch job file (TOML): shots and job settings, validated with errors naming file, key and a did-you-mean.

::

    [job]
    output_root = "out"        # every shot's output must lie inside this folder (relative to the job file)
    work_dir = "job.farm"      # plans, segments and manifests (default: <job stem>.farm beside the job file)
    chunk_size = 240           # frames per chunk
    warmup = 16                # frames decoded into the temporal state before each chunk, not encoded
    cut_tolerance = 60         # frames a boundary may move to land on a scene cut (0: never; default chunk/4, <= 60)
    segment_codec = "ffv1"     # ffv1 (lossless, exact RGB) | prores (mezzanine, 4:2:2 10-bit)
    retries = 2                # extra attempts per chunk
    executor = "local"         # local | dask
    workers = 2
    scheduler = ""             # dask scheduler address (tcp://HOST:PORT); empty: a LocalCluster of `workers`
    backend = "auto"           # inference backend and precision, as the render commands' flags
    precision = "auto"
    [job.delivery]             # optional: one final encode at merge (EncodeConfig fields); else stream copy

    [[shot]]
    name = "reel1"             # default: the input's stem
    input = "reel1.mov"        # relative paths resolve against the job file
    output = "out/reel1.mov"
    preset = "colorize"        # or task = "colorize" (the task's default preset)
    start = 0                  # optional frame range [start, end)
    end = 2400
    # per-shot overrides: render_size, saturation, temporal, temporal_strength, model, backend, precision,
    # chunk_size, warmup, and a [shot.delivery] table
    # colour guidance (colorize; each replaces the preset's [guide] entry of the same kind, filmgan.guide):
    references = ["period_photo.jpg"]          # reference palettes
    keyframes = { 120 = "reel1_f120.png" }     # frame number (of the input) = the frame coloured by you
    hints = "reel1_hints.json"                 # colour points and strokes

Inputs are not opened here: a missing input fails its own shot when it is planned, not the whole job.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..backends.base import BACKENDS, PRECISIONS
from ..config import EncodeConfig, did_you_mean, read_toml
from ..errors import ConfigError

SEGMENT_CODECS = {"ffv1": ".mp4", "prores": ".mov"}  # codec -> segment container (keeps the source time base)
COPY_CONTAINERS = {"ffv1": (".mkv", ".nut"), "prores": (".mov", ".mkv")}  # outputs that take the segments by stream copy
EXECUTORS = ("local", "dask")
TASK_PRESETS = {"colorize": "colorize"}  # task -> its default preset (style tasks need a named preset)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DELIVERY_KEYS = [f.name for f in fields(EncodeConfig) if f.name != "closed_gop"]


@dataclass(frozen=True)
class JobSettings:
    output_root: Path
    work_dir: Path
    chunk_size: int = 240
    warmup: int = 16
    cut_tolerance: int | None = None  # None: a quarter of the chunk size, at most 60 frames
    segment_codec: str = "ffv1"
    retries: int = 2
    executor: str = "local"
    workers: int = 2
    scheduler: str = ""
    backend: str = "auto"
    precision: str = "auto"
    delivery: dict[str, Any] | None = None


@dataclass(frozen=True)
class Shot:
    name: str
    input: Path
    output: Path
    preset: str
    start: int = 0
    end: int | None = None
    chunk_size: int = 240
    warmup: int = 16
    model: Path | None = None
    render_size: int | None = None
    saturation: float | None = None
    temporal: bool | None = None
    temporal_strength: float | None = None
    backend: str = "auto"
    precision: str = "auto"
    delivery: dict[str, Any] | None = None
    references: tuple[Path, ...] = ()
    keyframes: tuple[tuple[int, Path], ...] = ()
    hints: Path | None = None

    @property
    def guide_files(self) -> tuple[Path, ...]:
        return (*self.references, *(p for _, p in self.keyframes), *((self.hints,) if self.hints else ()))

    def render_digest(self, segment_codec: str) -> str:
        """Digest of every setting that changes a chunk's pixels: a manifest made under others is stale
        (the guide files by content: a keyframe painted again re-renders the chunks)."""
        keys = ("input", "preset", "model", "render_size", "saturation", "temporal", "temporal_strength", "backend", "precision", "warmup",
                "references", "keyframes", "hints")
        data = {k: str(getattr(self, k)) for k in keys}
        data["segment_codec"] = segment_codec
        data["guide_files"] = [_content_digest(p) for p in self.guide_files]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _content_digest(path: Path) -> str | None:
    """sha256 of a (small) guide file, None when it does not exist (its render fails and says so)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class Job:
    path: Path
    settings: JobSettings
    shots: tuple[Shot, ...] = field(default_factory=tuple)

    def shot(self, name: str) -> Shot:
        for shot in self.shots:
            if shot.name == name:
                return shot
        names = [s.name for s in self.shots]
        raise ConfigError(f"{self.path}: no shot named '{name}'{did_you_mean(name, names)}; shots: {', '.join(names)}")

    def cut_tolerance(self, shot: Shot) -> int:
        """Frames a chunk boundary of ``shot`` may move to land on a scene cut."""
        tolerance = self.settings.cut_tolerance
        return min(60, shot.chunk_size // 4) if tolerance is None else tolerance

    def segment_dir(self, shot: Shot) -> Path:
        return self.settings.work_dir / "segments" / shot.name

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "settings": {k: _plain(v) for k, v in asdict(self.settings).items()},
                "shots": [{k: _plain(v) for k, v in asdict(s).items()} for s in self.shots]}


def _plain(value: Any) -> Any:
    """Paths as strings, tuples as lists (JSON)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


JOB_KEYS = {"output_root": str, "work_dir": str, "chunk_size": int, "warmup": int, "cut_tolerance": int, "segment_codec": str,
            "retries": int, "executor": str, "workers": int, "scheduler": str, "backend": str, "precision": str, "delivery": dict}
SHOT_KEYS = {"name": str, "input": str, "output": str, "preset": str, "task": str, "start": int, "end": int, "model": str,
             "render_size": int, "saturation": float, "temporal": bool, "temporal_strength": float, "backend": str,
             "precision": str, "chunk_size": int, "warmup": int, "delivery": dict, "references": list, "keyframes": dict, "hints": str}


class _Checker:
    """Error messages that name the job file and where in it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"job file {self.path}: {where}: {message}")

    def table(self, data: Any, known: dict[str, type], where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, "must be a table")
        for key, value in data.items():
            if key not in known:
                hint = did_you_mean(key, known) or f" (known keys: {', '.join(known)})"
                raise self.fail(where, f"unknown key '{key}'{hint}")
            kind = known[key]
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
            if not ok:
                raise self.fail(where, f"'{key}' must be {kind.__name__}, got {value!r}")
        return data

    def choice(self, value: str, choices, where: str, key: str) -> str:
        if value not in choices:
            raise self.fail(where, f"{key} '{value}' is not one of {', '.join(choices)}{did_you_mean(value, choices)}")
        return value

    def positive(self, value: int, where: str, key: str, minimum: int = 1) -> int:
        if value < minimum:
            raise self.fail(where, f"{key} must be >= {minimum}, got {value}")
        return value

    def delivery(self, data: dict | None, where: str) -> dict | None:
        if data is None:
            return None
        where = f"{where}.delivery"
        for key in data:
            if key not in DELIVERY_KEYS:
                raise self.fail(where, f"unknown key '{key}'{did_you_mean(key, DELIVERY_KEYS) or ' (known keys: ' + ', '.join(DELIVERY_KEYS) + ')'}")
        try:
            EncodeConfig(**data)
            from ..video.writer import codec_spec

            codec_spec(EncodeConfig(**data))
        except (ConfigError, TypeError) as exc:
            raise self.fail(where, str(exc)) from exc
        return dict(data)


def _resolve(base: Path, text: str) -> Path:
    path = Path(text).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def load_job(path: str | Path) -> Job:
    """Parse and validate a job file (inputs are checked when their shot is planned)."""
    path = Path(path).resolve()
    check = _Checker(path)
    data = read_toml(path, "job")
    for key in data:
        if key not in ("job", "shot"):
            raise check.fail("top level", f"unknown table '{key}'{did_you_mean(key, ('job', 'shot')) or ' (known: job, shot)'}")
    settings = _settings(check, path, data.get("job", {}))
    shots_data = data.get("shot")
    if not isinstance(shots_data, list) or not shots_data:
        raise check.fail("top level", "a job needs at least one [[shot]] table")
    shots = tuple(_shot(check, path.parent, settings, i, s) for i, s in enumerate(shots_data, 1))
    _check_unique(check, shots)
    return Job(path, settings, shots)


def _settings(check: _Checker, path: Path, raw: Any) -> JobSettings:
    raw = check.table(raw, JOB_KEYS, "[job]")
    base = path.parent
    s = JobSettings(output_root=_resolve(base, raw.get("output_root", ".")),
                    work_dir=_resolve(base, raw.get("work_dir", f"{path.stem}.farm")),
                    **{k: v for k, v in raw.items() if k not in ("output_root", "work_dir", "delivery")},
                    delivery=check.delivery(raw.get("delivery"), "[job]"))
    check.positive(s.chunk_size, "[job]", "chunk_size")
    check.positive(s.warmup, "[job]", "warmup", 0)
    if s.cut_tolerance is not None:
        check.positive(s.cut_tolerance, "[job]", "cut_tolerance", 0)
    check.positive(s.retries, "[job]", "retries", 0)
    check.positive(s.workers, "[job]", "workers")
    check.choice(s.segment_codec, SEGMENT_CODECS, "[job]", "segment_codec")
    check.choice(s.executor, EXECUTORS, "[job]", "executor")
    check.choice(s.backend, BACKENDS, "[job]", "backend")
    check.choice(s.precision, PRECISIONS, "[job]", "precision")
    if s.scheduler and not re.match(r"^(tcp|tls|inproc|ucx)://", s.scheduler):
        raise check.fail("[job]", f"scheduler '{s.scheduler}' must be an address such as tcp://HOST:8786")
    return s


def _shot(check: _Checker, base: Path, settings: JobSettings, number: int, raw: Any) -> Shot:
    label = raw.get("name") or Path(str(raw.get("input", ""))).stem if isinstance(raw, dict) else ""
    where = f"[[shot]] #{number}" + (f" ('{label}')" if label else "")
    raw = check.table(raw, SHOT_KEYS, where)
    for key in ("input", "output"):
        if key not in raw:
            raise check.fail(where, f"'{key}' is required")
    source = _resolve(base, raw["input"])
    name = raw.get("name", source.stem)
    where = f"[[shot]] #{number} ('{name}')"
    if not NAME_PATTERN.match(name):
        raise check.fail(where, f"name '{name}' may hold only letters, digits, '_', '.', '-' (it names files and task ids)")
    preset = _preset_name(check, where, raw)
    output = _resolve(base, raw["output"])
    if not output.is_relative_to(settings.output_root):
        raise check.fail(where, f"output {output} is outside the job's output_root {settings.output_root}")
    if output == source:
        raise check.fail(where, "output is the input file; choose another output path")
    options = {k: raw[k] for k in ("render_size", "saturation", "temporal", "temporal_strength") if k in raw}
    shot = Shot(name=name, input=source, output=output, preset=preset, start=raw.get("start", 0), end=raw.get("end"),
                chunk_size=raw.get("chunk_size", settings.chunk_size), warmup=raw.get("warmup", settings.warmup),
                model=_resolve(base, raw["model"]) if "model" in raw else None,
                backend=check.choice(raw.get("backend", settings.backend), BACKENDS, where, "backend"),
                precision=check.choice(raw.get("precision", settings.precision), PRECISIONS, where, "precision"),
                delivery=check.delivery(raw.get("delivery"), where) or settings.delivery, **_guide(check, base, where, raw), **options)
    check.positive(shot.start, where, "start", 0)
    if shot.end is not None and shot.end <= shot.start:
        raise check.fail(where, f"end ({shot.end}) must be greater than start ({shot.start})")
    check.positive(shot.chunk_size, where, "chunk_size")
    if settings.cut_tolerance is not None and settings.cut_tolerance * 2 >= shot.chunk_size:
        raise check.fail(where, f"cut_tolerance ({settings.cut_tolerance}) must be under half of chunk_size ({shot.chunk_size})")
    check.positive(shot.warmup, where, "warmup", 0)
    if shot.render_size is not None:
        check.positive(shot.render_size, where, "render_size", 16)
    if shot.temporal_strength is not None and not 0 <= shot.temporal_strength < 1:
        raise check.fail(where, f"temporal_strength must be in [0, 1), got {shot.temporal_strength}")
    if shot.delivery is None and output.suffix.lower() not in COPY_CONTAINERS[settings.segment_codec]:
        raise check.fail(where, f"output {output.name}: a {output.suffix or 'suffix-less'} file cannot hold the {settings.segment_codec} "
                         f"segments by stream copy; use {' or '.join(COPY_CONTAINERS[settings.segment_codec])}, or set a delivery codec "
                         "([job.delivery] or [shot.delivery], e.g. codec = \"h264\")")
    return shot


def _guide(check: _Checker, base: Path, where: str, raw: dict) -> dict[str, Any]:
    """The shot's references, keyframes and hints (paths resolved against the job file)."""
    guide: dict[str, Any] = {}
    if "references" in raw:
        refs = raw["references"]
        if not refs or not all(isinstance(r, str) for r in refs):
            raise check.fail(where, f"references must be a list of image paths, got {refs!r}")
        guide["references"] = tuple(_resolve(base, r) for r in refs)
    if "keyframes" in raw:
        keys = raw["keyframes"]
        bad = [f"{n} = {v!r}" for n, v in keys.items() if not n.isdigit() or not isinstance(v, str)]
        if not keys or bad:
            raise check.fail(where, f"keyframes must be a table of frame number = \"image path\", e.g. {{ 120 = \"f120.png\" }}; "
                                    f"got {', '.join(bad) or 'an empty table'}")
        guide["keyframes"] = tuple(sorted((int(n), _resolve(base, v)) for n, v in keys.items()))
    if "hints" in raw:
        guide["hints"] = _resolve(base, raw["hints"])
    return guide


def _preset_name(check: _Checker, where: str, raw: dict) -> str:
    if "preset" in raw and "task" in raw:
        raise check.fail(where, "give 'preset' or 'task', not both")
    if "preset" in raw:
        return raw["preset"]
    task = raw.get("task", "colorize")
    if task not in TASK_PRESETS:
        known = [*TASK_PRESETS, "style"]
        if task == "style":
            raise check.fail(where, "task 'style' needs a preset naming the painting (see 'filmgan presets list')")
        raise check.fail(where, f"task '{task}' is not one of {', '.join(known)}{did_you_mean(task, known)}")
    return TASK_PRESETS[task]


def _check_unique(check: _Checker, shots: tuple[Shot, ...]) -> None:
    names, outputs = {}, {}
    for shot in shots:
        if shot.name in names:
            raise check.fail(f"[[shot]] '{shot.name}'", "two shots have this name; give each a unique 'name'")
        if shot.output in outputs:
            raise check.fail(f"[[shot]] '{shot.name}'", f"output {shot.output} is also shot '{outputs[shot.output]}'s output")
        names[shot.name], outputs[shot.output] = True, shot.name


def with_shots(job: Job, names: list[str] | None) -> Job:
    """The job restricted to the named shots (all when ``names`` is empty)."""
    return job if not names else replace(job, shots=tuple(job.shot(n) for n in names))
