"""Presets: TOML files naming a task, a model and default render, temporal and encode settings.

Search order for a name: ``$FILMGAN_PRESET_PATH`` (folders separated by ``os.pathsep``), then
``~/.config/filmgan/presets``, then the presets shipped in the package. A path to a ``.toml`` file is
loaded directly. Unknown keys and bad values are errors that name the file, the key and a did-you-mean.

Schema (every key but ``task`` and ``model`` is optional)::

    description = "..."
    task = "colorize"            # colorize | style
    model = "colorize-v5"        # a model shipped in filmgan/weights, or a path relative to this file
    render_size = 256            # short side the generator runs at (0 = the frame's own size)
    palette_strength = 1.0       # style: 0 keeps the frame's colours, 1 takes the painting's palette
    upsample = "detail"          # style: bicubic | guided | detail (render size -> frame size)
    [temporal]                   # fields of config.BlendConfig
    [encode]                     # fields of config.EncodeConfig
    [guide]                      # colorize only (filmgan.guide); paths relative to this file
    references = ["period.jpg"]  # reference palettes
    keyframes = {120 = "f120.png"}   # coloured keyframes by frame number (a preset made for one shot)
    hints = "hints.json"         # local colour hints
    [credits]                    # free text: painter, title, year, source, licence
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .config import BlendConfig, ColorizeConfig, EncodeConfig, StylizeConfig, TaskConfig, check_keys, did_you_mean, read_toml
from .errors import ConfigError, ModelUnavailableError

PRESET_TASKS = ("colorize", "style")
TOP_LEVEL_KEYS = ("description", "task", "model", "render_size", "palette_strength", "upsample", "temporal", "encode", "credits", "guide")
STYLE_ONLY_KEYS = ("palette_strength", "upsample")
GUIDE_KEYS = ("references", "keyframes", "hints")
PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"


def builtin_preset_dir() -> Path:
    """The shipped presets: ``filmgan/builtin_presets`` in an installed wheel, ``presets/`` in a checkout."""
    installed = PACKAGE_DIR / "builtin_presets"
    return installed if installed.is_dir() else PACKAGE_DIR.parent / "presets"


def search_path() -> list[Path]:
    env = [Path(p) for p in os.environ.get("FILMGAN_PRESET_PATH", "").split(os.pathsep) if p]
    return [*env, Path.home() / ".config" / "filmgan" / "presets", builtin_preset_dir()]


@dataclass(frozen=True)
class Preset:
    name: str
    path: Path
    task: str
    model: str
    description: str = ""
    render_size: int | None = None
    palette_strength: float | None = None
    upsample: str | None = None
    temporal: dict[str, Any] = field(default_factory=dict)
    encode: dict[str, Any] = field(default_factory=dict)
    credits: dict[str, Any] = field(default_factory=dict)
    guide: dict[str, Any] = field(default_factory=dict)

    def model_path(self) -> Path:
        """The model file: relative to the preset file, or a model shipped in ``filmgan/weights``."""
        for candidate in (self.path.parent / self.model, WEIGHTS_DIR / f"{self.model}.safetensors", WEIGHTS_DIR / self.model):
            if candidate.is_file():
                return candidate
        raise ModelUnavailableError(f"preset '{self.name}' ({self.path}): model '{self.model}' not found in {self.path.parent} or {WEIGHTS_DIR}")

    def blend_config(self, **overrides: Any) -> BlendConfig:
        base = {"chroma_only": self.task == "colorize", **self.temporal}
        return BlendConfig(**{**base, **{k: v for k, v in overrides.items() if v is not None}})

    def encode_config(self, **overrides: Any) -> EncodeConfig:
        return replace(EncodeConfig(**self.encode), **{k: v for k, v in overrides.items() if v is not None})

    def task_config(self, render_size: int | None = None, saturation: float | None = None, temporal: bool | None = None,
                    temporal_strength: float | None = None, palette_strength: float | None = None, upsample: str | None = None) -> TaskConfig:
        """The typed options of this preset's task: the given overrides (None: not given) over the preset."""
        blend = self.blend_config(enabled=temporal, strength=temporal_strength)
        size = render_size or self.render_size
        if self.task == "colorize":
            if palette_strength is not None or upsample is not None:
                raise ConfigError(f"preset '{self.name}': palette strength and upsampling apply to style presets only")
            return ColorizeConfig(render_size=size, saturation=saturation, blend=blend)
        if saturation is not None:
            raise ConfigError(f"preset '{self.name}': saturation applies to colorize presets only")
        style = {k: v for k, v in (("palette_strength", palette_strength if palette_strength is not None else self.palette_strength),
                                   ("upsample", upsample or self.upsample)) if v is not None}
        return StylizeConfig(render_size=size, blend=blend, **style)

    def guide_spec(self, references=None, keyframes=None, hints=None):
        """The guidance (``filmgan.guide.GuideSpec``): each flag given (references and keyframes as given on
        the command line, ``'N=path'``, or as ``Keyframe``s) replaces the preset's; the preset's paths are
        relative to its file."""
        from .guide import GuideSpec
        from .guide.keyframes import Keyframe, parse_keyframe

        here = self.path.parent
        refs = tuple(Path(r) for r in references) if references else tuple(here / r for r in self.guide.get("references", ()))
        if keyframes:
            keys = tuple(k if isinstance(k, Keyframe) else parse_keyframe(k) for k in keyframes)
        else:
            keys = tuple(Keyframe(int(n), here / p) for n, p in self.guide.get("keyframes", {}).items())
        hint_file = Path(hints) if hints else (here / self.guide["hints"] if "hints" in self.guide else None)
        spec = GuideSpec(refs, keys, hint_file)
        if spec and self.task != "colorize":
            raise ConfigError(f"preset '{self.name}': references, keyframes and hints apply to colorize presets only")
        return spec

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "model": self.model, "description": self.description, "path": str(self.path), "render_size": self.render_size, "palette_strength": self.palette_strength, "upsample": self.upsample, "temporal": self.temporal, "encode": self.encode, "credits": self.credits, "guide": self.guide}


def _fail(path: Path, message: str) -> ConfigError:
    return ConfigError(f"preset {path}: {message}")


def load_preset_file(path: str | Path) -> Preset:
    """Parse and validate one preset file."""
    path = Path(path)
    data = read_toml(path, "preset")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise _fail(path, f"unknown key '{key}'{did_you_mean(key, TOP_LEVEL_KEYS) or ' (known: ' + ', '.join(TOP_LEVEL_KEYS) + ')'}")
    for key in ("task", "model"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise _fail(path, f"'{key}' is required and must be a string")
    if data["task"] not in PRESET_TASKS:
        raise _fail(path, f"task '{data['task']}' is not one of {', '.join(PRESET_TASKS)}{did_you_mean(data['task'], PRESET_TASKS)}")
    for key, kind in (("render_size", int), ("description", str)):
        if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool)):
            raise _fail(path, f"'{key}' must be {kind.__name__}, got {data[key]!r}")
    if data.get("render_size", 0) < 0:
        raise _fail(path, "'render_size' must be >= 0")
    _check_style_keys(path, data)
    for table, cls in (("temporal", BlendConfig), ("encode", EncodeConfig), ("credits", None)):
        if table in data and not isinstance(data[table], dict):
            raise _fail(path, f"[{table}] must be a table")
        if cls is not None and table in data:
            check_keys(data[table], cls, f"preset {path} [{table}]")
            _check_values(path, table, cls, data[table])
    if "guide" in data:
        _check_guide(path, data["guide"])
    return Preset(
        name=path.stem,
        path=path.resolve(),
        task=data["task"],
        model=data["model"],
        description=data.get("description", ""),
        render_size=data.get("render_size") or None,
        palette_strength=data.get("palette_strength"),
        upsample=data.get("upsample"),
        temporal=dict(data.get("temporal", {})),
        encode=dict(data.get("encode", {})),
        credits=dict(data.get("credits", {})),
        guide=dict(data.get("guide", {})),
    )


def _check_style_keys(path: Path, data: dict[str, Any]) -> None:
    from .config import UPSAMPLERS

    if data["task"] != "style":
        for key in STYLE_ONLY_KEYS:
            if key in data:
                raise _fail(path, f"'{key}' applies to style presets only")
    strength = data.get("palette_strength", 1.0)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 <= strength <= 1.0:
        raise _fail(path, f"'palette_strength' must be a number from 0 (the frame's colours) to 1 (the painting's), got {strength!r}")
    upsample = data.get("upsample", "bicubic")
    if upsample not in UPSAMPLERS:
        raise _fail(path, f"'upsample' must be one of {', '.join(UPSAMPLERS)}, got {upsample!r}{did_you_mean(str(upsample), UPSAMPLERS)}")


def _check_guide(path: Path, guide: Any) -> None:
    """[guide]: references a list of paths, keyframes a table of frame number -> path, hints a path."""
    if not isinstance(guide, dict):
        raise _fail(path, "[guide] must be a table")
    for key, value in guide.items():
        if key not in GUIDE_KEYS:
            raise _fail(path, f"[guide] unknown key '{key}'{did_you_mean(key, GUIDE_KEYS)}")
        if key == "references" and not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            raise _fail(path, f"[guide] references must be a list of image paths, got {value!r}")
        if key == "hints" and not isinstance(value, str):
            raise _fail(path, f"[guide] hints must be a path, got {value!r}")
        if key == "keyframes":
            if not isinstance(value, dict) or not value:
                raise _fail(path, f"[guide] keyframes must be a table of frame number = \"image path\", got {value!r}")
            for n, image in value.items():
                if not n.isdigit() or not isinstance(image, str):
                    raise _fail(path, f"[guide] keyframes: '{n}' = {image!r} is not a frame number = \"image path\"")


_TYPE_NAMES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def _type_ok(value: Any, annotation: str) -> bool:
    """Does a TOML value fit a dataclass annotation such as 'int | None' or 'float'?"""
    allowed = [t for name, types in _TYPE_NAMES.items() if name in annotation.replace(" ", "").split("|") for t in types]
    if isinstance(value, bool):
        return bool in allowed
    return not allowed or isinstance(value, tuple(allowed))


def _check_values(path: Path, table: str, cls: type, values: dict[str, Any]) -> None:
    """Check each value's type, then build the dataclass so its own validation points at this file."""
    types = {f.name: str(f.type) for f in fields(cls)}
    for key, value in values.items():
        if not _type_ok(value, types[key]):
            raise _fail(path, f"[{table}] {key} = {value!r} has the wrong type (expected {types[key]})")
    try:
        cls(**values)
    except (ConfigError, TypeError, ValueError) as exc:
        raise _fail(path, f"[{table}] {exc}") from exc


def find_preset(name_or_path: str) -> Preset:
    """A preset by name (search path order) or by file path."""
    as_path = Path(name_or_path)
    if as_path.suffix == ".toml" or as_path.is_file():
        return load_preset_file(as_path)
    for directory in search_path():
        candidate = directory / f"{name_or_path}.toml"
        if candidate.is_file():
            return load_preset_file(candidate)
    names = [p.name for p in list_presets(strict=False)]
    raise ConfigError(f"no preset named '{name_or_path}'{did_you_mean(name_or_path, names)}; available: {', '.join(sorted(names)) or 'none'}")


def list_presets(strict: bool = True, broken: list[ConfigError] | None = None) -> list[Preset]:
    """Every preset on the search path (a name found twice: the first wins). ``strict=False`` skips broken
    files, appending their errors to ``broken`` when given (so a caller can list the rest and name them)."""
    seen: dict[str, Preset] = {}
    for directory in search_path():
        for file in sorted(directory.glob("*.toml")) if directory.is_dir() else []:
            if file.stem in seen:
                continue
            try:
                seen[file.stem] = load_preset_file(file)
            except ConfigError as exc:
                if strict:
                    raise
                if broken is not None:
                    broken.append(exc)
    return sorted(seen.values(), key=lambda p: (p.task != "colorize", p.name))
