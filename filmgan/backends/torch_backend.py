"""The torch backend: runs a safetensors generator in eager mode or compiled, fp32 or bf16.

bf16 is used on CPUs with AMX / AVX512-BF16 (``precision='auto'``), where a bf16 matmul is ~6x faster
than fp32; ``scripts/bench_colorize.py`` checks its quality against fp32. Convolutional models without
instance normalisation run channels-last (NHWC; see ``prefers_channels_last``). ``torch.compile`` is
applied per input shape (a video has one shape, so it compiles once), to the models that run channels-first:
it fuses instance normalisation, padding and activations (a style network at 640x360: 129 -> 80 ms on
an AVX2-limited run, 90 -> 51 ms with AVX-512), while the channels-last colorizer gains nothing from it
(28 against 30 ms) and torch 2.13's inductor corrupts the heap on it at some widths (336 px, AVX-512:
the process aborts). So ``compile`` on a channels-last model runs it eager (``compiles`` says which).
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

from ..errors import InputError, require
from ..video.color import AB_SCALE
from .guidance import GuidanceSpec
from .base import EngineBase, EngineConfig, InputSpec


class TorchEngine(EngineBase):
    """The torch backend of the :class:`~filmgan.backends.base.Engine` protocol."""

    name = "torch"

    def __init__(self, model_path: str | Path, task: str | None = None, precision: str = "auto", device: str = "auto", compile: bool = False, threads: int = 0):
        torch = require("torch", "torch")
        from ..models.checkpoint import load_model
        from .device import autocast_dtype, pick_device, precision_name

        if threads:
            torch.set_num_threads(threads)
        self.device = pick_device(device)
        self.model, self.card = load_model(model_path, task=task, device=self.device)
        self.channels_last = prefers_channels_last(self.model)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self._dtype = autocast_dtype(precision, self.device)
        self.precision = precision_name(self._dtype)
        self._torch = torch
        self._compiled: dict[tuple, object] = {}
        self._compile = compile and not self.channels_last  # see the module docstring
        self.compile_failure: str | None = None  # why torch.compile could not be used (then the engine runs eager)
        self.input_spec = InputSpec.from_card(self.card)
        bins = getattr(self.model, "bins", None)  # the semantic colorizer's ab bins (normalised)
        if bins is not None and "log_prior" in inspect.signature(self.model.forward).parameters:
            self.prior_bins = bins.float().cpu().numpy() * AB_SCALE
        self.palette_bands = int(getattr(self.model, "palette_bands", 0))
        self.matches_features = hasattr(self.model, "match_features")
        self._guidance = GuidanceSpec.from_card(self.card) if self.palette_bands else None

    @classmethod
    def from_config(cls, model_path: str | Path, config: EngineConfig, task: str | None = None) -> "TorchEngine":
        return cls(model_path, task=task, precision=config.precision, device=config.device, compile=config.compile, threads=config.threads)

    def close(self) -> None:
        """Drop the model and its compiled graphs (their memory is freed once nothing else holds them)."""
        self._compiled.clear()
        self.model = None
        super().close()

    @property
    def compiles(self) -> bool:
        """Whether ``run`` goes through ``torch.compile`` (asked for, and the model runs channels-first)."""
        return self._compile

    def _fn(self, shape: tuple):
        if not self._compile:
            return self.model
        if shape not in self._compiled:
            self._compiled[shape] = self._torch.compile(self.model, dynamic=False)
        return self._compiled[shape]

    def _forward(self, inp):
        """The model on ``inp``, compiled for its shape when asked. If compiling fails -- inductor needs a
        working C++ compiler on the node -- the engine runs eager from then on (the same numbers) and says
        why in ``compile_failure``; an error of the model itself is raised as it is."""
        fn = self._fn(tuple(inp.shape))
        if fn is self.model:
            return fn(inp)
        try:
            return fn(inp)
        except Exception as exc:
            if not type(exc).__module__.startswith(("torch._inductor", "torch._dynamo")):
                raise
            self._compile = False
            self._compiled.clear()
            self.compile_failure = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
            return self.model(inp)

    def run(self, x: np.ndarray, log_prior: np.ndarray | None = None, palette: np.ndarray | None = None,
            hints: np.ndarray | None = None) -> np.ndarray:
        """The model on ``x``; ``log_prior`` (N or 1, Q[, K]) conditions a colorizer's decode (see ``prior_bins``
        and ``filmgan.models.semantic.prior_at``); ``palette`` (N, Q, K) and ``hints`` (N, 3, H, W) are the
        guidance inputs of a colorizer trained with them (``palette_bands``)."""
        self._check_open()
        torch = self._torch
        inp = self._tensor(x)
        if self.channels_last and inp.ndim == 4:
            inp = inp.contiguous(memory_format=torch.channels_last)
        tensor = lambda a: None if a is None else self._tensor(a)  # noqa: E731
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self._dtype, enabled=self._dtype is not None):
            if log_prior is None and palette is None and hints is None:
                return self._forward(inp).float().cpu().numpy()
            if log_prior is not None and (self.prior_bins is None or log_prior.ndim not in (2, 3) or log_prior.shape[1] != len(self.prior_bins)):
                raise InputError(f"model '{self.card.name}' takes no colour prior of shape {log_prior.shape}")
            if (palette is not None or hints is not None) and not self.palette_bands:
                raise InputError(f"model '{self.card.name}' was trained without guidance inputs (palette, hints)")
            if self._guidance is not None:
                self._guidance.check(x, palette, hints)
            guidance = {"palette": tensor(palette), "hints": tensor(hints)} if self.palette_bands else {}
            out = self.model(inp, tensor(log_prior), **guidance)
        return out.float().cpu().numpy()

    def match_features(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """The colorizer encoder's features of ``x`` (its network input) for reference matching, in fp32."""
        self._check_open()
        if not self.matches_features:
            return super().match_features(x)
        with self._torch.inference_mode():
            return {s: f.float().cpu().numpy() for s, f in self.model.match_features(self._tensor(x)).items()}

    def _tensor(self, a: np.ndarray):
        """A float32 array as a tensor on the engine's device."""
        return self._torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(self.device)


def prefers_channels_last(model) -> bool:
    """NHWC pays off for plain conv/BatchNorm networks (oneDNN's and cuDNN's fast layout: the U-Net
    colorizer's network takes 165 instead of 209 ms at 448x256 on a 2-core CPU) but not with instance
    normalisation, which has no fast channels-last CPU kernel (a StyleNet took 398 instead of 280 ms)."""
    from torch import nn

    modules = list(model.modules())
    has_conv = any(isinstance(m, nn.Conv2d) for m in modules)
    return has_conv and not any(isinstance(m, nn.InstanceNorm2d) for m in modules)
