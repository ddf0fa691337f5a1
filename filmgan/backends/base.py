"""The engine interface every backend implements (torch now; ONNX Runtime and TensorRT later), in the
spirit of Polygraphy's runners: a context-managed lifetime, an input contract, and ``run``.

An engine runs one generator on a float32 NCHW numpy array and returns a float32 NCHW numpy array.
Pre- and post-processing (Lab, resizing, recombination) belong to the tasks, so every backend gives the
same frames. The tasks do not hard-code shape policy: they ask the engine's :class:`InputSpec` for the
alignment of the network's input, the most pixels per call and the largest batch, so an engine with a
fixed optimisation profile (a TensorRT plan) needs no task changes.

:class:`EngineConfig` (backend, precision, device, backend options) is built once at the edge and has a
stable :meth:`EngineConfig.cache_key` for the engine cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from ..card import ModelCard
from ..config import did_you_mean
from ..errors import ConfigError, InputError, ProcessorError

BACKENDS = ("auto", "torch", "ort", "openvino", "tensorrt")
# int8: a quantised ONNX engine (ORT / OpenVINO), built by 'filmgan engine build --precision int8'.
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
# Most pixels (N * H * W) per engine call of an RGB style model before a task splits the batch or tiles the
# frame: about 1.5 GB of activations for the preset networks (a plan's profile sets its own maximum).
DEFAULT_PIXEL_BUDGET = 2048 * 1152
# Defaults of the input contract per colour space, for cards that do not state one: the Lab U-Net
# colorizer halves its input four times (multiple of 16), the style network twice (multiple of 8).
_SPEC_DEFAULTS: dict[str, dict[str, Any]] = {
    "lab": {"channels": 1, "out_channels": 2, "alignment": 16},
    "rgb": {"channels": 3, "out_channels": 3, "alignment": 8, "max_pixels": DEFAULT_PIXEL_BUDGET},
}


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else ConfigError (the one place that checks it)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision '{precision}' ({', '.join(PRECISIONS)})")
    return precision


@dataclass(frozen=True)
class InputSpec:
    """What an engine accepts: float32 (N, channels, H, W) with H and W multiples of ``alignment``, between
    ``min_shape`` and ``max_shape`` ((h, w); None: unbounded, a dynamic engine), ``opt_shape`` the size it
    is fastest at (a profile's opt), at most ``max_batch`` frames and ``max_pixels`` (N * H * W) per call."""

    dtype: str = "float32"
    channels: int = 3
    out_channels: int = 3
    alignment: int = 1
    min_shape: tuple[int, int] = (1, 1)
    opt_shape: tuple[int, int] | None = None
    max_shape: tuple[int, int] | None = None
    max_batch: int | None = None
    max_pixels: int | None = None

    def __post_init__(self) -> None:
        if self.alignment < 1 or self.channels < 1 or self.out_channels < 1:
            raise ConfigError(f"input spec: alignment and channel counts must be >= 1 ({self})")
        for name in ("max_batch", "max_pixels"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"input spec: {name} must be >= 1 or None, got {getattr(self, name)}")

    @property
    def dynamic(self) -> bool:
        return self.max_shape is None or tuple(self.min_shape) != tuple(self.max_shape)

    @classmethod
    def from_card(cls, card: ModelCard) -> "InputSpec":
        """The card's ``extra["input_spec"]`` (an exported engine's profile) over the colour space's defaults."""
        stated = dict(card.extra.get("input_spec", {}))
        unknown = set(stated) - {f for f in cls.__dataclass_fields__}
        if unknown:
            name = sorted(unknown)[0]
            raise ConfigError(f"model '{card.name}': unknown input_spec key '{name}'{did_you_mean(name, cls.__dataclass_fields__)}")
        for key in ("min_shape", "opt_shape", "max_shape"):
            if stated.get(key) is not None:
                stated[key] = tuple(stated[key])
        return cls(**{**_SPEC_DEFAULTS.get(card.color_space, {}), **stated})

    def check(self, x: np.ndarray) -> None:
        """InputError unless ``x`` is an input this engine accepts."""
        if x.ndim != 4 or x.shape[1] != self.channels or x.dtype != np.dtype(self.dtype):
            raise InputError(f"engine input must be {self.dtype} (N, {self.channels}, H, W), got {x.dtype} {x.shape}")
        n, _, h, w = x.shape
        if h % self.alignment or w % self.alignment:
            raise InputError(f"engine input {w}x{h} is not a multiple of {self.alignment}")
        if h < self.min_shape[0] or w < self.min_shape[1] or (self.max_shape and (h > self.max_shape[0] or w > self.max_shape[1])):
            raise InputError(f"engine input {w}x{h} is outside the profile {self.min_shape}..{self.max_shape} (h, w)")
        if self.max_batch is not None and n > self.max_batch:
            raise InputError(f"engine input batch {n} exceeds the engine's max batch {self.max_batch}")


@dataclass(frozen=True)
class EngineConfig:
    """How to run a model: backend, precision, device and backend options (e.g. torch ``compile``)."""

    backend: str = "auto"
    precision: str = "auto"
    device: str = "auto"
    compile: bool = False  # torch: torch.compile per input shape
    threads: int = 0  # CPU threads of the backend (0: its default)
    options: dict[str, Any] = field(default_factory=dict)  # other backend options (JSON values)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend '{self.backend}' ({', '.join(BACKENDS)}){did_you_mean(self.backend, BACKENDS)}")
        check_precision(self.precision)
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0, got {self.threads}")

    def with_updates(self, **changes: Any) -> "EngineConfig":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def cache_key(self) -> str:
        """A stable hex digest of every setting (sorted JSON), the same in every process and release."""
        text = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class Engine(Protocol):
    card: ModelCard
    name: str  # backend name, e.g. "torch"
    precision: str  # what actually runs: fp32 | bf16 | fp16
    input_spec: InputSpec

    def run(self, x: np.ndarray) -> np.ndarray:
        """float32 (N, C, H, W) -> float32 (N, C', H', W')."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> "Engine": ...

    def __exit__(self, *exc: object) -> None: ...


class EngineBase:
    """Lifetime shared by the backends: ``with engine: ...`` closes it; a closed engine refuses to run."""

    closed = False
    # The ab bins (Q, 2; Lab units) of a colorizer that takes a colour guide (filmgan.guide): a prior on its
    # decode (``run(x, log_prior=...)``: the torch backend only) or, for a colorizer trained with guidance
    # inputs, ``run(x, palette=..., hints=...)`` (every backend: the exported graph has the inputs); else None.
    prior_bins: np.ndarray | None = None
    # K of the (N, Q, K) palette of a colorizer trained with guidance inputs (``run(x, palette=..., hints=...)``;
    # models.semantic ``guided``), else 0.
    palette_bands: int = 0
    # Whether ``match_features(x)`` gives the colorizer encoder's features for reference matching
    # (filmgan.guide.exemplar; the torch backend of a semantic colorizer).
    matches_features: bool = False

    def close(self) -> None:
        self.closed = True

    def match_features(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """{stride: (N, C, H/stride, W/stride) float32} encoder features of the network input ``x``."""
        raise ProcessorError(f"the {getattr(self, 'name', '')} engine gives no encoder features for reference matching")

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self.closed:
            raise ProcessorError(f"the {getattr(self, 'name', '')} engine is closed")
