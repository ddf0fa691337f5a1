"""Model files: safetensors tensors + the JSON model card in the metadata (and beside the file).

Nothing here unpickles: safetensors stores raw tensors only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from ..card import CARD_KEY, ModelCard, read_card
from ..errors import CheckpointError
from ..video.atomic import atomic_path
from . import registry


def tensor_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over names, shapes and bytes of a state dict, in key order (recorded in cards)."""
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(k.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file via a temporary name and a rename (``filmgan.video.atomic``), replacing any old one."""
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_bytes(data)


def save_model(path: str | Path, model: nn.Module, card: ModelCard, dtype: torch.dtype | None = None) -> ModelCard:
    """Write ``model``'s weights (optionally cast, e.g. to fp16 to halve the file) with its card.

    The card gets the tensor digest under ``extra['sha256']``. Written atomically; a JSON copy of the
    card is written beside the file (``name.json``).
    """
    from safetensors.torch import save

    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    card = card.with_updates(extra={**card.extra, "sha256": tensor_digest(state), "dtype": str(dtype or "float32").replace("torch.", "")})
    atomic_write_bytes(path, save(state, metadata={CARD_KEY: card.to_json()}))
    atomic_write_bytes(path.with_suffix(".json"), card.to_json().encode())
    return card


def load_model(path: str | Path, task: str | None = None, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelCard]:
    """Load a model file, checking its card (task, architecture, tensor names/shapes, digest)."""
    from safetensors.torch import load_file

    path = Path(path)
    card = read_card(path)
    if task is not None and card.task not in (task, "multitask"):
        raise CheckpointError(f"{path} is a '{card.task}' model, not a '{task}' model")
    model = registry.build(card.arch, card.args)
    state = load_file(str(path), device="cpu")
    expected = card.extra.get("sha256")
    if expected and tensor_digest(state) != expected:
        raise CheckpointError(f"{path}: tensors do not match the digest in the card (file corrupt or edited)")
    own = model.state_dict()
    bad = [k for k in own if k not in state or tuple(state[k].shape) != tuple(own[k].shape)]
    extra = [k for k in state if k not in own]
    if bad or extra:
        first = (bad or extra)[0]
        raise CheckpointError(f"{path}: weights do not fit architecture '{card.arch}' ({len(bad)} missing/mismatched, {len(extra)} unexpected, e.g. '{first}')")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return model.to(device).eval(), card


__all__ = ["save_model", "load_model", "read_card", "tensor_digest", "atomic_write_bytes"]
