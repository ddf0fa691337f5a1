"""Backend selection. Each backend is imported only when chosen (torch, onnxruntime, tensorrt are optional)."""

from __future__ import annotations

from pathlib import Path

from ..config import did_you_mean
from ..errors import BackendUnavailableError, ConfigError
from .base import BACKENDS, Engine


def load_engine(model_path: str | Path, backend: str = "auto", task: str | None = None, precision: str = "auto", compile: bool = False) -> Engine:
    """An engine for a model file. ``auto`` picks the best backend that is installed (today: torch).

    A backend that is asked for but not installed raises BackendUnavailableError naming the extra; there
    is no silent fallback from an explicit choice.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}' ({', '.join(BACKENDS)}){did_you_mean(backend, BACKENDS)}")
    if backend in ("ort", "tensorrt"):
        raise BackendUnavailableError(
            f"the {backend} backend needs an exported engine of this model, which 'filmgan engine build' will make; "
            "use --backend torch (pip install 'filmgan[torch]')"
        )
    from .torch_backend import TorchEngine

    return TorchEngine(model_path, task=task, precision=precision, compile=compile)


__all__ = ["load_engine", "Engine", "BACKENDS"]
