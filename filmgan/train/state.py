"""Exact training state to and from safetensors + JSON (no pickles).

Nested state (optimizer and scheduler state dicts, RNG states) is split into a JSON skeleton and a flat
dict of tensors: each tensor in the structure is replaced by {"__tensor__": key}. Tuples survive as
{"__tuple__": [...]}.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..models.checkpoint import atomic_write_bytes


def split_tensors(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = prefix
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[split_tensors(k, f"{prefix}.k{i}", tensors), split_tensors(v, f"{prefix}.{i}", tensors)] for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, tuple):
        return {"__tuple__": [split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix}")


def join_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(join_tensors(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {join_tensors(k, tensors): join_tensors(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


def save_state(directory: Path, state: dict[str, Any]) -> None:
    """Write ``state`` as directory/state.safetensors + directory/state.json, atomically per file."""
    from safetensors.torch import save

    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = split_tensors(state, "s", tensors)
    atomic_write_bytes(directory / "state.safetensors", save(tensors))
    atomic_write_bytes(directory / "state.json", json.dumps(skeleton).encode())


def load_state(directory: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(directory / "state.safetensors"))
        skeleton = json.loads((directory / "state.json").read_text())
        return join_tensors(skeleton, tensors)
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"cannot resume from {directory}: {exc}") from exc
    except Exception as exc:  # safetensors raises its own error type on corrupt files
        raise CheckpointError(f"cannot resume from {directory}: {exc.__class__.__name__}: {exc}") from exc


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "data": generator.get_state(), "python": random.getstate()}


def restore_rng(state: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["data"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
