"""Verify engines against the torch reference on fixed inputs: max abs error and PSNR, with the bars.

fp32 engines must match torch within 1e-3 (max abs on [0, 1] / [-1, 1] outputs); reduced-precision engines
(int8, fp16) must reach 40 dB PSNR. The reference is the torch model of the engine's source file when torch
is installed, else the fp32 ONNX on ONNX Runtime (``reference`` in the report says which).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..backends.guidance import GuidanceSpec
from ..card import ModelCard, read_card
from ..errors import BackendUnavailableError, CheckpointError
from . import cache
from .build import FP32_MAX_ABS, REDUCED_MIN_PSNR, fp32_onnx
from .onnx import compare, output_peak, parity_shapes, sample_input


def verify_shapes(card: ModelCard) -> list[tuple[int, int]]:
    """Fixed (h, w) to verify at: the two parity sizes, or the profile's opt size for a static engine."""
    spec = card.extra.get("input_spec", {})
    if spec.get("max_shape"):
        return [tuple(spec.get("opt_shape") or spec["max_shape"])]
    return parity_shapes(int(spec.get("alignment", 1)))


def reference_runner(source: str | Path | None, card: ModelCard, folder: Path | None = None):
    """(name, fn) computing reference outputs: torch on the source model if possible, else ORT fp32."""
    if source and Path(source).suffix == ".safetensors" and Path(source).is_file() and cache.backend_installed("torch"):
        import torch

        from ..models.checkpoint import load_model

        model, _ = load_model(source)
        model = model.float().eval()

        def run_torch(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(x)).numpy()

        return "torch", run_torch
    if source and Path(source).is_file() and cache.backend_installed("ort"):
        import onnxruntime as ort

        data, _, _ = fp32_onnx(source, folder)
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        guidance = GuidanceSpec.from_card(read_card(source))
        extra = (lambda x: {}) if guidance is None else guidance.feeds  # automatic mode: zero guidance
        return "ort-fp32", lambda x: session.run(None, {session.get_inputs()[0].name: x, **extra(x)})[0]
    raise BackendUnavailableError("verifying needs the engine's source model and torch or onnxruntime; pip install 'filmgan[export]'")


def verify_engine(engine, reference, card: ModelCard, precision: str) -> dict[str, Any]:
    """Compare ``engine.run`` with ``reference`` at fixed inputs; {'ok', 'max_abs', 'psnr', 'shapes', 'bar'}."""
    worst = {"max_abs": 0.0, "psnr": float("inf")}
    shapes = {}
    for i, (h, w) in enumerate(verify_shapes(card)):
        x = sample_input(card, 1, h, w, seed=100 + i)
        got = compare(reference(x), engine.run(x), output_peak(card))
        shapes[f"{w}x{h}"] = got
        worst = {"max_abs": max(worst["max_abs"], got["max_abs"]), "psnr": min(worst["psnr"], got["psnr"])}
    if precision == "fp32":
        ok, bar = worst["max_abs"] <= FP32_MAX_ABS, f"max abs <= {FP32_MAX_ABS}"
    else:
        ok, bar = worst["psnr"] >= REDUCED_MIN_PSNR, f"PSNR >= {REDUCED_MIN_PSNR} dB"
    return {"ok": bool(ok), "bar": bar, **worst, "shapes": shapes}


def verify_record(record: cache.EngineRecord, folder: Path | None = None, threads: int = 0) -> dict[str, Any]:
    """Verify one cached engine (opened with its backend after the card check) and store the result in its card."""
    from ..backends.select import open_record

    card = record.model_card
    name, reference = reference_runner(record.card.get("source"), card, folder)
    with open_record(record, threads=threads) as engine:
        result = verify_engine(engine, reference, card, record.card["precision"])
    result["reference"] = name
    cache.update_card(record, verify=result)
    return result


def check_verified(result: dict[str, Any], what: str) -> None:
    if not result["ok"]:
        raise CheckpointError(f"{what} fails its quality bar ({result['bar']}): max abs {result['max_abs']:.2e}, PSNR {result['psnr']:.1f} dB")
