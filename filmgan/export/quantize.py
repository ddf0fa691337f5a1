"""int8 engines: static QDQ quantisation with ONNX Runtime (``onnxruntime.quantization.quantize_static``),
calibrated on a fixed set of photos.

* Weights int8 per output channel, activations uint8 (MinMax calibration), QDQ format: ORT fuses
  DequantizeLinear -> Conv -> QuantizeLinear into int8 convolutions (AVX2 / VNNI kernels); OpenVINO reads the
  same QDQ graph as FakeQuantize.
* Only convolutions are quantised; the first and the last convolution stay float (the input's and the
  output's precision is what the eye sees), and so do normalisation, resizes and the decoders' softmax, and
  the convolutions of :data:`FLOAT_LAYERS` (per architecture, measured by ``scripts/int8_sensitivity.py``).
* ``reduce_range`` (7-bit weights) on CPUs without VNNI, where the AVX2 u8s8 kernel can saturate.
* Calibration: :data:`CALIBRATION_FILES` of ``photos/bsds500_train`` (a training part; the held-out photos
  are never used for choices), each resized so its short side is the model's internal size, aligned.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..backends.guidance import GuidanceSpec
from ..card import ModelCard
from ..errors import InputError, require
from .onnx import with_float_initializers

CALIBRATION_SET, CALIBRATION_FILES = "bsds500_train", 16
# Convolutions kept float per architecture (parts of ONNX node names), chosen by scripts/int8_sensitivity.py on
# validation photos. In the MobileNetV2 colorizer, the first depthwise convolution (encoder.1) and block 2's
# expansion (encoder.2's 1x1) carried 73 % of the int8 noise of the whole graph (each alone 45.9 dB against
# the other 55 convolutions' 56-76 dB): their input channels have very different ranges that one per-tensor
# activation scale cannot hold (the known MobileNetV2 case; Nagel et al., "Data-Free Quantization Through
# Weight Equalization and Bias Correction", ICCV 2019). With 7-bit weights (no VNNI) the first block's
# projection (encoder.1's 1x1) came next (26 % of what was left). Float, they cost ~5 % of the operations.
FLOAT_LAYERS = {"mobilenet-unet-colorizer": ("/encoder.1/", "/encoder.2/conv/conv.0/")}
PHOTOS_ENV = "FILMGAN_PHOTOS"


def photos_dir() -> Path:
    """``$FILMGAN_PHOTOS``, else ``../shared/data/photos`` beside the checkout."""
    if os.environ.get(PHOTOS_ENV):
        return Path(os.environ[PHOTOS_ENV])
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "photos"


def photo_inputs(card: ModelCard, files: list[Path], size: int | None = None) -> list[np.ndarray]:
    """Network inputs (1, C, h, w) float32 of photos at the model's internal size (short side), aligned."""
    import cv2

    from ..video.color import normalize_l, rgb_to_luminance_l
    from ..video.geometry import render_dims

    align = int(card.extra.get("input_spec", {}).get("alignment", 8))
    size = size or card.internal_size or 256
    out = []
    for f in files:
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"cannot read calibration photo {f}")
        h, w = bgr.shape[:2]
        rw, rh = render_dims(w, h, size, multiple=align)
        rgb = cv2.cvtColor(cv2.resize(bgr, (rw, rh), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        if card.color_space == "lab":
            x = normalize_l(rgb_to_luminance_l(rgb))[None, None]
        else:
            x = (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        out.append(np.ascontiguousarray(x, dtype=np.float32))
    return out


def calibration_files(folder: str | Path | None = None, count: int = CALIBRATION_FILES) -> list[Path]:
    from ..video.images import IMAGE_EXTENSIONS

    root = Path(folder) if folder else photos_dir() / CALIBRATION_SET
    if not root.is_dir():
        raise InputError(f"calibration photos not found at {root}; pass --calibration FOLDER (or set {PHOTOS_ENV})")
    files = sorted((p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS), key=lambda p: p.name)[:count]
    if not files:
        raise InputError(f"no photos in {root} to calibrate on")
    return files


def cpu_has_vnni() -> bool:
    from .cache import cpu_descriptor

    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(cpu_descriptor()["isa"]))


def quantize_int8(data: bytes, card: ModelCard, calibration: str | Path | None = None, *, only: list[str] | None = None,
                  exclude: list[str] = (), method: str = "minmax", reduce_range: bool | None = None) -> tuple[bytes, dict[str, Any]]:
    """int8 QDQ ONNX bytes of an fp32 ONNX, and a report for the engine card.

    ``only`` quantises just those convolutions (the sensitivity scan of ``scripts/int8_sensitivity.py``);
    ``exclude`` keeps more convolutions float; ``method`` is the activation calibration; ``reduce_range``
    (7-bit weights) defaults to this CPU's need (no VNNI)."""
    require("onnx", "export")
    ort = require("onnxruntime", "ort")
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile, "entropy": CalibrationMethod.Entropy}
    if method not in methods:
        raise InputError(f"unknown calibration method {method!r}; one of {', '.join(methods)}")

    files = calibration_files(calibration)
    inputs = photo_inputs(card, files)
    data = with_float_initializers(data)  # a shipped ONNX stores its weights as fp16 + Cast: the quantiser wants initializers
    model = onnx.load_from_string(data)
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    keep_float = [convs[0], convs[-1]] if len(convs) > 2 else []
    # A guided colorizer's hint layers and refinement stay float: calibrated on the automatic mode (zero
    # hints) their input ranges would be empty.
    keep_float += [c for c in convs if ("hint_in" in c or "refine" in c) and c not in keep_float]
    # matched anywhere in the name: a guided colorizer's graph wraps the network (/inner/encoder.1/...)
    keep_float += [c for c in convs if any(part in c for part in FLOAT_LAYERS.get(card.arch, ())) and c not in keep_float]
    keep_float += [c for c in exclude if c in convs and c not in keep_float]
    input_name = model.graph.input[0].name
    guidance = GuidanceSpec.from_card(card)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(inputs)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {input_name: x, **(guidance.feeds(x) if guidance else {})}

    reduce_range = not cpu_has_vnni() if reduce_range is None else reduce_range
    with tempfile.TemporaryDirectory(prefix="filmgan-int8-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(data)
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=reduce_range,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
                        nodes_to_quantize=only, nodes_to_exclude=keep_float, calibrate_method=methods[method],
                        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        qmodel = onnx.load(str(dst))
    del qmodel.metadata_props[:]
    for entry in model.metadata_props:  # the model card and digest travel with the quantised graph
        qmodel.metadata_props.add(key=entry.key, value=entry.value)
    report = {"method": f"onnxruntime quantize_static QDQ, {method}", "onnxruntime": ort.__version__, "per_channel": True, "reduce_range": reduce_range,
              "weights": "int8", "activations": "uint8", "quantized_ops": ["Conv"], "float_nodes": keep_float,
              "calibration": [str(f.relative_to(f.parents[1])) for f in files], "calibration_size": list(inputs[0].shape[2:])}
    return qmodel.SerializeToString(), report
