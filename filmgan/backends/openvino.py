"""The OpenVINO backend (CPU): reads an exported ONNX engine directly (fp32, or int8 QDQ, which OpenVINO
turns into its own int8 kernels) and compiles it for the CPU. Never imports torch.

fp32 is pinned (``INFERENCE_PRECISION_HINT=f32``): on CPUs with AMX or AVX512-BF16 OpenVINO would otherwise
silently run bf16. ``threads`` sets ``INFERENCE_NUM_THREADS`` (0: OpenVINO's default); the latency hint
keeps one stream (one frame batch at a time, as the render loop calls it). Dynamic H/W: OpenVINO compiles
one dynamic model and specialises per input shape internally.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailableError, require
from .base import EngineBase, InputSpec
from .onnxrt import guidance_feeds, guidance_of, onnx_card


class OpenVinoEngine(EngineBase):
    """The OpenVINO backend of the :class:`~filmgan.backends.base.Engine` protocol."""

    name = "openvino"

    def __init__(self, path: str | Path, threads: int = 0, device: str = "cpu", precision: str = "fp32", options: dict | None = None):
        ov = require("openvino", "openvino")
        if device not in ("auto", "cpu"):
            raise BackendUnavailableError(f"the openvino backend runs on the CPU here, not on '{device}'; use --backend tensorrt or ort for GPUs")
        self.path = Path(path)
        self.card = onnx_card(self.path)
        self.input_spec = InputSpec.from_card(self.card)
        self.precision = precision
        self.device = "cpu"
        core = ov.Core()
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": "1"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(int(threads))
        config.update({str(k): str(v) for k, v in dict(options or {}).items() if k.isupper()})
        self.compiled = core.compile_model(core.read_model(str(self.path)), "CPU", config)
        self.request = self.compiled.create_infer_request()
        # every input port by each of its tensor names (a graph input can carry several)
        self._ports = {name: port for port in self.compiled.inputs for name in port.get_names()}
        self._first = self.compiled.inputs[0]
        self.guidance = guidance_of(self.card, list(self._ports))
        if self.guidance is not None:
            self.prior_bins, self.palette_bands = self.guidance.bins, self.guidance.bands

    def close(self) -> None:
        self.request = self.compiled = None
        super().close()

    def run(self, x: np.ndarray, **conditioning: np.ndarray | None) -> np.ndarray:
        """The engine on ``x``; a guided colorizer also takes ``palette`` and ``hints`` (see ``guidance``)."""
        self._check_open()
        x = np.ascontiguousarray(x, dtype=np.float32)
        self.input_spec.check(x)
        feeds = {self._ports[name]: value for name, value in guidance_feeds(self, x, conditioning).items()}
        self.request.infer({self._first: x, **feeds})
        return np.array(self.request.get_output_tensor(0).data, copy=True)
