"""The engine interface every backend implements (torch now; ONNX Runtime and TensorRT later).

An engine runs one generator on a float32 NCHW numpy array and returns a float32 NCHW numpy array.
Pre- and post-processing (Lab, resizing, recombination) belong to the task processors, so every backend
gives the same frames.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..card import ModelCard
from ..errors import ConfigError

BACKENDS = ("auto", "torch", "ort", "tensorrt")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else ConfigError (the one place that checks it)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision '{precision}' ({', '.join(PRECISIONS)})")
    return precision


class Engine(Protocol):
    card: ModelCard
    name: str  # backend name, e.g. "torch"
    precision: str  # what actually runs: fp32 | bf16 | fp16

    def run(self, x: np.ndarray) -> np.ndarray:
        """float32 (N, C, H, W) -> float32 (N, C', H', W')."""
        ...
