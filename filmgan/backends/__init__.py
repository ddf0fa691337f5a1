"""Backend selection. Each backend is imported only when chosen (torch, onnxruntime, openvino and tensorrt
are optional); the choice itself (``--backend auto``) is made in :mod:`filmgan.backends.select`."""

from __future__ import annotations

from .base import BACKENDS, PRECISIONS, Engine, EngineConfig, InputSpec
from .select import load_engine

__all__ = ["load_engine", "Engine", "EngineConfig", "InputSpec", "BACKENDS", "PRECISIONS"]
