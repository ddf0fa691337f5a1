"""Backend selection. Each backend is imported only when chosen (torch, onnxruntime, tensorrt are optional)."""

from __future__ import annotations

from pathlib import Path

from ..errors import BackendUnavailableError
from .base import BACKENDS, PRECISIONS, Engine, EngineConfig, InputSpec


def load_engine(model_path: str | Path, config: EngineConfig | None = None, task: str | None = None) -> Engine:
    """An engine for a model file, as ``config`` says. ``auto`` picks the best backend that is installed
    (today: torch). Use it as a context manager (``with load_engine(...) as engine:``) to release it.

    A backend that is asked for but not installed raises BackendUnavailableError naming the extra; there
    is no silent fallback from an explicit choice.
    """
    config = config or EngineConfig()
    if config.backend in ("ort", "tensorrt"):
        raise BackendUnavailableError(
            f"the {config.backend} backend needs an exported engine of this model, which 'filmgan engine build' will make; "
            "use --backend torch (pip install 'filmgan[torch]')"
        )
    from .torch_backend import TorchEngine

    return TorchEngine.from_config(model_path, config, task=task)


__all__ = ["load_engine", "Engine", "EngineConfig", "InputSpec", "BACKENDS", "PRECISIONS"]
