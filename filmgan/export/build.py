"""Build, find and verify engines of a model file: what ``filmgan engine`` and ``load_engine`` call.

The fp32 ONNX of a model comes from, in order: the ONNX shipped in the package (``filmgan/onnx_models``,
used only when its recorded tensor digest equals the model's), the cache, or an export with torch. Every
other engine is built from it: ORT/OpenVINO fp32 (the ONNX itself), int8 (static QDQ quantisation), a
TensorRT plan. A build whose key is cached is a no-op that reads two small files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..card import ModelCard, read_card
from ..errors import ConfigError
from . import cache
from .onnxmeta import META_MODEL_SHA, card_from_metadata, read_onnx_metadata

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "onnx_models"
CPU_BACKENDS = ("ort", "openvino")
BUILD_PRECISIONS = {"ort": ("fp32", "int8"), "openvino": ("fp32", "int8"), "tensorrt": ("fp32", "fp16")}
# fp32 engines must match torch within this (max abs, outputs in [0, 1] or [-1, 1]); reduced precision by PSNR.
FP32_MAX_ABS, REDUCED_MIN_PSNR = 1e-3, 40.0


@dataclass(frozen=True)
class Profile:
    """Input sizes an engine accepts: (h, w) min/opt/max (None: dynamic, any multiple of the alignment)."""

    min: tuple[int, int] | None = None
    opt: tuple[int, int] | None = None
    max: tuple[int, int] | None = None
    max_batch: int = 1

    @classmethod
    def parse(cls, shape: str | None = None, profile: str | None = None, max_batch: int = 1) -> "Profile":
        """``--shape WxH`` (static) or ``--profile MIN:OPT:MAX`` (each WxH); neither: dynamic."""
        def wh(text: str) -> tuple[int, int]:
            try:
                w, h = (int(v) for v in text.lower().split("x"))
            except ValueError:
                raise ConfigError(f"bad size '{text}': expected WxH, e.g. 640x368") from None
            if w < 1 or h < 1:
                raise ConfigError(f"bad size '{text}': width and height must be positive")
            return h, w

        if shape and profile:
            raise ConfigError("give --shape or --profile, not both")
        if shape:
            s = wh(shape)
            return cls(s, s, s, max_batch)
        if profile:
            parts = profile.split(":")
            if len(parts) != 3:
                raise ConfigError(f"bad profile '{profile}': expected MIN:OPT:MAX, each WxH")
            lo, opt, hi = (wh(p) for p in parts)
            if not (lo[0] <= opt[0] <= hi[0] and lo[1] <= opt[1] <= hi[1]):
                raise ConfigError(f"bad profile '{profile}': need MIN <= OPT <= MAX in both width and height")
            return cls(lo, opt, hi, max_batch)
        return cls(max_batch=max_batch)

    @property
    def dynamic(self) -> bool:
        return self.max is None

    def aligned(self, alignment: int) -> "Profile":
        """Min/opt rounded up and max rounded down to multiples of ``alignment`` (ConfigError if empty)."""
        if self.dynamic:
            return self
        up = lambda s: tuple(-(-v // alignment) * alignment for v in s)  # noqa: E731
        down = lambda s: tuple(v // alignment * alignment for v in s)  # noqa: E731
        lo, opt, hi = up(self.min), up(self.opt), down(self.max)
        if hi[0] < lo[0] or hi[1] < lo[1] or min(hi) < alignment:
            raise ConfigError(f"profile {self.to_dict()} holds no size that is a multiple of the model's alignment {alignment}")
        return Profile(lo, (min(opt[0], hi[0]), min(opt[1], hi[1])), hi, self.max_batch)

    def to_dict(self) -> dict[str, Any] | None:
        if self.dynamic and self.max_batch == 1:
            return None
        return {"min": list(self.min) if self.min else None, "opt": list(self.opt) if self.opt else None,
                "max": list(self.max) if self.max else None, "max_batch": self.max_batch}

    def input_spec(self, alignment: int) -> dict[str, Any]:
        spec: dict[str, Any] = {"alignment": alignment}
        if not self.dynamic:
            spec.update(min_shape=list(self.min), opt_shape=list(self.opt), max_shape=list(self.max), max_batch=self.max_batch)
        return spec


def model_card(model_path: str | Path) -> ModelCard:
    """The card of a safetensors model or an exported ONNX (no torch)."""
    path = Path(model_path)
    if path.suffix == ".onnx":
        return card_from_metadata(read_onnx_metadata(path), str(path))
    return read_card(path)


def model_digest(card: ModelCard) -> str:
    digest = card.extra.get("sha256")
    if not digest:
        raise ConfigError(f"model '{card.name}' has no tensor digest in its card; re-save it with filmgan to build engines")
    return str(digest)


def device_for(backend: str) -> dict[str, Any]:
    """The device an engine of ``backend`` is built for (full descriptor, for the card)."""
    if backend == "tensorrt":
        from .tensorrt import gpu_descriptor

        return gpu_descriptor()
    return cache.cpu_descriptor()


def key_for(card: ModelCard, backend: str, precision: str, profile: Profile | None = None, device: dict | None = None) -> cache.EngineKey:
    device = device or device_for(backend)
    part = {k: device.get(k) for k in ("kind", "name", "compute_capability")} if device.get("kind") == "gpu" else cache.cpu_key_part(device)
    return cache.EngineKey(model_digest(card), backend, cache.backend_version(backend), precision, part, (profile or Profile()).to_dict())


def shipped_onnx(card: ModelCard) -> Path | None:
    """The ONNX shipped in the package for this model, if its recorded tensor digest is the model's."""
    path = SHIPPED_DIR / f"{card.name}.onnx"
    if not path.is_file():
        return None
    try:
        meta = read_onnx_metadata(path)
    except Exception:
        return None
    return path if meta.get(META_MODEL_SHA) == card.extra.get("sha256") else None


def find_engine(model_path: str | Path, backend: str, precision: str, profile: Profile | None = None, folder: Path | None = None) -> cache.EngineRecord | Path | None:
    """A ready engine: the cached one for this key, else (fp32 ORT/OpenVINO, dynamic) the shipped ONNX."""
    card = model_card(model_path)
    record = cache.find(key_for(card, backend, precision, profile), card.name, folder)
    if record is not None:
        return record
    if backend in CPU_BACKENDS and precision == "fp32" and (profile is None or profile.to_dict() is None):
        return shipped_onnx(card)
    return None


def fp32_onnx(model_path: str | Path, folder: Path | None = None) -> tuple[bytes, ModelCard, dict]:
    """The fp32 ONNX of a model: shipped, cached (ort fp32) or exported now with torch (and cached)."""
    card = model_card(model_path)
    if Path(model_path).suffix == ".onnx":
        return Path(model_path).read_bytes(), card, {}
    shipped = shipped_onnx(card)
    if shipped is not None:
        return shipped.read_bytes(), card_from_metadata(read_onnx_metadata(shipped), str(shipped)), {}
    if cache.backend_installed("ort"):
        record = cache.find(key_for(card, "ort", "fp32"), card.name, folder)
        if record is not None:
            return record.path.read_bytes(), record.model_card, record.card.get("export_parity", {})
    from .onnx import export_onnx

    return export_onnx(model_path)


def build(model_path: str | Path, backend: str, precision: str = "fp32", profile: Profile | None = None, folder: Path | None = None,
          force: bool = False, calibration: str | Path | None = None) -> tuple[cache.EngineRecord, bool]:
    """Build (or find) the engine of a model for ``backend``/``precision``/``profile``; (record, built_now)."""
    started = time.perf_counter()
    if precision not in BUILD_PRECISIONS.get(backend, ()):
        raise ConfigError(f"the {backend} backend builds {' or '.join(BUILD_PRECISIONS.get(backend, ('nothing',)))} engines, not {precision}")
    card = model_card(model_path)
    key = key_for(card, backend, precision, profile)
    record = None if force else cache.find(key, card.name, folder)
    if record is not None:
        return record, False
    data, card, parity = fp32_onnx(model_path, folder)
    align = int(card.extra.get("input_spec", {}).get("alignment", 1))
    profile = (profile or Profile()).aligned(align)
    extra: dict[str, Any] = {"source": str(Path(model_path).resolve()), "export_parity": parity}
    if precision == "int8":
        from .quantize import quantize_int8

        data, extra["quantization"] = quantize_int8(data, card, calibration)
    if backend == "tensorrt":
        from .tensorrt import build_plan

        data, extra["tensorrt"] = build_plan(data, card, precision, profile, folder or cache.engine_dir())
    if backend == "tensorrt":
        shapes = extra["tensorrt"]["profile"]
        spec = {"alignment": align, "min_shape": shapes["min"][2:], "opt_shape": shapes["opt"][2:], "max_shape": shapes["max"][2:], "max_batch": shapes["max"][0]}
        card = card.with_updates(extra={**card.extra, "input_spec": {**card.extra.get("input_spec", {}), **spec}})
    elif not profile.dynamic:
        card = card.with_updates(extra={**card.extra, "input_spec": {**card.extra.get("input_spec", {}), **profile.input_spec(align)}})
    extra["build_seconds"] = round(time.perf_counter() - started, 2)
    record = cache.write(key, card, data, folder, device_full=device_for(backend), **extra)
    return record, True
