"""The ONNX Runtime backend: runs an exported ONNX engine (fp32, or int8 QDQ) on the CPU provider, or on
the CUDA provider when ``onnxruntime-gpu`` is installed and the device asks for it. Never imports torch.

Threads: ``threads`` intra-op threads (0: ONNX Runtime's default, one per physical core); inter-op 1 (the
generators are one chain). Idle threads sleep instead of spinning (``allow_spinning = 0``) so the render's
decode, blend and encode threads keep their cores (as ``OMP_WAIT_POLICY=PASSIVE`` does for torch); pass
``options={'spin': True}`` to spin. Graph optimisation: all levels (``options={'optimization': 'basic'}``
etc. to lower it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..card import ModelCard
from ..errors import BackendUnavailableError, ConfigError, require
from .base import EngineBase, InputSpec
from .guidance import GuidanceSpec


def guidance_of(card: ModelCard, input_names: list[str]) -> GuidanceSpec | None:
    """The guidance inputs of an ONNX engine: its card says it was trained with them and its graph has them."""
    from .guidance import HINTS_INPUT, PALETTE_INPUT

    spec = GuidanceSpec.from_card(card)
    return spec if spec is not None and {PALETTE_INPUT, HINTS_INPUT} <= set(input_names) else None


def guidance_feeds(engine, x: np.ndarray, conditioning: dict) -> dict[str, np.ndarray]:
    """The extra feeds of an ONNX engine's run: zeros or the given guidance for a guided colorizer; an
    error for a colour prior (only the torch backend runs one) or guidance to a model without inputs for it."""
    from ..errors import InputError

    unknown = set(conditioning) - {"palette", "hints", "log_prior"}
    if unknown:
        raise TypeError(f"unexpected arguments {sorted(unknown)}")
    if conditioning.get("log_prior") is not None:
        raise InputError(f"the {engine.name} engine of '{engine.card.name}' takes no colour prior (a prior on the decode runs on --backend torch)")
    if engine.guidance is None:
        if conditioning.get("palette") is not None or conditioning.get("hints") is not None:
            raise InputError(f"model '{engine.card.name}' was trained without guidance inputs (palette, hints)")
        return {}
    return engine.guidance.feeds(x, conditioning.get("palette"), conditioning.get("hints"))

OPT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def onnx_card(path: Path) -> ModelCard:
    """The model card of an ONNX engine: from its engine card beside it, else from the ONNX metadata."""
    from ..export.cache import card_path, read_record
    from ..export.onnxmeta import card_from_metadata, read_onnx_metadata

    if card_path(path).is_file():
        return read_record(path).model_card
    return card_from_metadata(read_onnx_metadata(path), str(path))


class OrtEngine(EngineBase):
    """The ONNX Runtime backend of the :class:`~filmgan.backends.base.Engine` protocol."""

    name = "ort"

    def __init__(self, path: str | Path, threads: int = 0, device: str = "cpu", precision: str = "fp32", options: dict | None = None):
        ort = require("onnxruntime", "ort")
        options = dict(options or {})
        self.path = Path(path)
        self.card = onnx_card(self.path)
        self.input_spec = InputSpec.from_card(self.card)
        self.precision = precision
        so = ort.SessionOptions()
        level = options.get("optimization", "all")
        if level not in OPT_LEVELS:
            raise ConfigError(f"unknown ONNX Runtime optimisation level '{level}' ({', '.join(OPT_LEVELS)})")
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPT_LEVELS[level])
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.get("spin") else "0")
        so.log_severity_level = 3  # warnings and below stay out of a render's stderr
        self.providers = self._providers(ort, device)
        self.session = ort.InferenceSession(str(self.path), sess_options=so, providers=self.providers)
        self.device = "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        self._input = self.session.get_inputs()[0].name
        self._output = self.session.get_outputs()[0].name
        self.guidance = guidance_of(self.card, [i.name for i in self.session.get_inputs()])
        if self.guidance is not None:
            self.prior_bins, self.palette_bands = self.guidance.bins, self.guidance.bands

    @staticmethod
    def _providers(ort, device: str) -> list[str]:
        available = ort.get_available_providers()
        if device in ("cuda", "gpu") or device.startswith("cuda:"):
            if "CUDAExecutionProvider" not in available:
                raise BackendUnavailableError("ONNX Runtime has no CUDA provider here; install it with: pip install 'filmgan[ort-gpu]' (onnxruntime-gpu)")
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if device == "auto" and "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    def close(self) -> None:
        self.session = None
        super().close()

    def run(self, x: np.ndarray, **conditioning: np.ndarray | None) -> np.ndarray:
        """The engine on ``x``; a guided colorizer also takes ``palette`` and ``hints`` (see ``guidance``)."""
        self._check_open()
        x = np.ascontiguousarray(x, dtype=np.float32)
        self.input_spec.check(x)
        feeds = guidance_feeds(self, x, conditioning)
        return self.session.run([self._output], {self._input: x, **feeds})[0]

