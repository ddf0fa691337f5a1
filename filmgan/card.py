"""The model card: what a model file is, how to run it and how it was made.

Every artifact (safetensors checkpoint, ONNX file, engine) carries a card: inside safetensors metadata
under ``filmgan_card`` and as a JSON file beside it. Loading checks the card before touching tensors.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import CheckpointError

CARD_KEY = "filmgan_card"
CARD_VERSION = 1
TASKS = ("colorize", "style", "multitask")


@dataclass(frozen=True)
class ModelCard:
    name: str
    task: str  # colorize | style | multitask
    arch: str  # key into filmgan.models.registry
    args: dict[str, Any]
    color_space: str  # "lab" (input L, output ab) or "rgb"
    io: dict[str, str]  # human-readable input/output contract
    internal_size: int | None = None  # default short side the generator runs at (None = frame size)
    training: dict[str, Any] = field(default_factory=dict)  # data, steps, losses, feature net, hardware
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # task-specific: style painting, credits, ...
    card_version: int = CARD_VERSION

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise CheckpointError(f"model card: unknown task '{self.task}' ({', '.join(TASKS)})")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "model card") -> "ModelCard":
        known = {f.name for f in fields(cls)}
        missing = [k for k in ("name", "task", "arch", "args", "color_space", "io") if k not in data]
        if missing:
            raise CheckpointError(f"{where}: missing field(s) {', '.join(missing)}")
        if int(data.get("card_version", 1)) > CARD_VERSION:
            raise CheckpointError(f"{where}: card version {data['card_version']} is newer than this filmgan understands")
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_json(cls, text: str, where: str = "model card") -> "ModelCard":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{where}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise CheckpointError(f"{where}: expected a JSON object")
        return cls.from_dict(data, where)

    def with_updates(self, **changes: Any) -> "ModelCard":
        return ModelCard(**{**asdict(self), **changes})


def read_card(path: str | Path) -> ModelCard:
    """The card of a safetensors model file (from its metadata), without loading any tensor."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"{path} is not a safetensors model file ({exc.__class__.__name__}: {exc})") from exc
    if CARD_KEY not in meta:
        raise CheckpointError(f"{path} has no filmgan model card in its metadata")
    return ModelCard.from_json(meta[CARD_KEY], where=str(path))
