"""Export a filmgan model file (safetensors + card) to ONNX: dynamic batch, height and width, BatchNorm
folded into the convolutions, the model card and its digest in ``metadata_props``, checked against torch.
Weights that fp16 holds exactly are stored as fp16 + a Cast to fp32 (:func:`store_half`): same numbers,
half the file.

The TorchScript exporter (``torch.onnx.export(dynamo=False)``) traces the network once at a sample size. The
generators pad their input to a multiple of their stride (U-Net 2**depth, MobileNet 32, StyleNet 4) with
Python ``if``s and MobileNet's TF-SAME padding is computed from ``x.shape`` in Python: both are fixed at
trace time. They are right for every input whose H and W are multiples of the network's alignment (SAME
padding of a stride-2 3x3 conv on an even size is always (0, 1); of a stride-1 conv always (1, 1)), so the
exported graph records that alignment in its card's ``input_spec`` and every engine refuses other sizes
(the tasks already render at multiples of ``input_spec.alignment``). Parity is checked at two sizes.

This module needs torch and onnx (``pip install 'filmgan[export]'``); nothing on the render path imports it.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..backends.guidance import HINTS_INPUT, PALETTE_INPUT, GuidanceSpec
from ..card import ModelCard
from ..errors import CheckpointError, require
from .onnxmeta import META_CARD, META_CARD_SHA, META_MODEL_SHA

OPSET = 17
INPUT, OUTPUT = "input", "output"
PARITY_TOLERANCE = 1e-3  # max abs error on [0, 1] (style) or [-1, 1] (normalised ab) outputs
# Multiple of H and W the traced graph is exact for (see the module docstring), per architecture.
ARCH_ALIGNMENT = {"unet-colorizer": None, "mobilenet-unet-colorizer": 32, "stylenet": 4}


def alignment(card: ModelCard, model: Any = None) -> int:
    """The input alignment an exported engine of this model requires (at least the colour space default)."""
    from ..backends.base import InputSpec

    need = ARCH_ALIGNMENT.get(card.arch)
    if need is None and model is not None and hasattr(model, "depth"):
        need = 2 ** int(model.depth)
    base = InputSpec.from_card(card).alignment
    need = need or base
    return int(need * base // math.gcd(need, base))


def fold_batchnorm(model) -> int:
    """Fold every eval-mode BatchNorm2d that directly follows a Conv2d in a Sequential into the conv;
    the BatchNorm becomes an Identity. Returns the number folded."""
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = 0
    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = module._modules[a], module._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                module._modules[a] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                module._modules[b] = nn.Identity()
                folded += 1
    return folded


def sample_input(card: ModelCard, n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Fixed inputs for parity checks: smooth random fields plus noise, in the model's input range."""
    rng = np.random.default_rng(seed)
    channels = 1 if card.color_space == "lab" else 3
    coarse = rng.random((n, channels, max(2, h // 16), max(2, w // 16)), dtype=np.float32)
    yy = np.linspace(0, coarse.shape[2] - 1, h)
    xx = np.linspace(0, coarse.shape[3] - 1, w)
    smooth = coarse[:, :, np.round(yy).astype(int)][:, :, :, np.round(xx).astype(int)]
    x = np.clip(0.8 * smooth + 0.2 * rng.random((n, channels, h, w), dtype=np.float32), 0, 1)
    return (x * 2 - 1 if card.color_space == "lab" else x).astype(np.float32)


def sample_guidance(guidance: GuidanceSpec, x: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Fixed guidance inputs for parity checks: random palettes, and a few square hints per image."""
    rng = np.random.default_rng(seed)
    n, _, h, w = x.shape
    palette = rng.random((n, len(guidance.bins), guidance.bands), dtype=np.float32)
    hints = np.zeros((n, 3, h, w), np.float32)
    for i in range(n):
        for _ in range(6):
            y, xx = rng.integers(0, h - 3), rng.integers(0, w - 3)
            hints[i, :2, y : y + 3, xx : xx + 3] = rng.uniform(-0.6, 0.6, (2, 1, 1))
            hints[i, 2, y : y + 3, xx : xx + 3] = 1.0
    return guidance.feeds(x, palette / palette.sum(1, keepdims=True), hints)


def guided_graph(model):
    """The traced form of a guided colorizer: ``(L, palette, hints) -> ab`` (no decode prior)."""
    import torch

    class GuidedGraph(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x, palette, hints):
            return self.inner(x, None, palette, hints)

    return GuidedGraph(model)


def parity_shapes(align: int) -> list[tuple[int, int]]:
    """Two sizes (h, w), neither equal to the trace size, both multiples of ``align``."""
    return [(align * max(2, 96 // align), align * max(3, 160 // align)), (align * max(3, 192 // align), align * max(2, 128 // align))]


def compare(reference: np.ndarray, output: np.ndarray, peak: float) -> dict[str, float]:
    """Max abs error and PSNR (dB, against ``peak``: the output's range) of ``output`` against ``reference``."""
    err = np.abs(reference.astype(np.float64) - output.astype(np.float64))
    mse = float((err**2).mean())
    return {"max_abs": float(err.max()), "psnr": float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))}


def output_peak(card: ModelCard) -> float:
    """The range of the network's output: 1 for RGB in [0, 1]; 2 for normalised ab in [-1, 1]."""
    return 2.0 if card.color_space == "lab" else 1.0


def export_onnx(model_path: str | Path, opset: int = OPSET, check: bool = True, tolerance: float = PARITY_TOLERANCE) -> tuple[bytes, ModelCard, dict]:
    """ONNX bytes of a model file, its card (with ``extra['input_spec']`` and ``extra['onnx']``) and the
    parity report {shape: {max_abs, psnr}} against torch at two sizes. CheckpointError if parity fails."""
    torch = require("torch", "export")
    onnx = require("onnx", "export")
    from ..models.checkpoint import load_model

    model, card = load_model(model_path, device="cpu")
    model = model.float().eval()
    folded = fold_batchnorm(model)
    align = alignment(card, model)
    spec = {**card.extra.get("input_spec", {}), "alignment": align, "min_shape": [align, align]}
    channels = 1 if card.color_space == "lab" else 3
    trace = torch.from_numpy(sample_input(card, 1, align * max(2, 64 // align), align * max(3, 96 // align)))
    buf = io.BytesIO()
    axes = {0: "batch", 2: "height", 3: "width"}
    graph, names, dynamic, args = model, [INPUT], {INPUT: axes, OUTPUT: axes}, (trace,)
    guidance = GuidanceSpec.from_card(card)
    if guidance is not None:  # a guided colorizer: the palette and hints are graph inputs too (zeros: automatic)
        graph = guided_graph(model)
        names += [PALETTE_INPUT, HINTS_INPUT]
        dynamic.update({PALETTE_INPUT: {0: "batch"}, HINTS_INPUT: axes})
        args = (trace, *(torch.from_numpy(v) for v in sample_guidance(guidance, trace.numpy(), seed=0).values()))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, args, buf, dynamo=False, opset_version=opset, input_names=names, output_names=[OUTPUT],
                          dynamic_axes=dynamic, do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    left = sorted({n.op_type for n in proto.graph.node} & {"BatchNormalization"})
    if left:
        raise CheckpointError(f"{card.name}: BatchNormalization left in the exported graph after folding")
    card = card.with_updates(extra={**card.extra, "input_spec": spec,
                                    "onnx": {"opset": opset, "exporter": f"torch {torch.__version__} (TorchScript)", "batchnorm_folded": folded, "channels": channels,
                                             "weights": "fp16 storage where exact, cast to fp32 in the graph"}})
    card_json = card.to_json()
    meta = {META_CARD: card_json, META_MODEL_SHA: str(card.extra.get("sha256", "")), META_CARD_SHA: hashlib.sha256(card_json.encode()).hexdigest()}
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    proto.producer_name, proto.doc_string = "filmgan", f"{card.name}: {json.dumps(card.io)}"
    store_half(proto)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    report = parity(data, model, card, tolerance) if check else {}
    return data, card, report


HALF_SUFFIX = "__fp16"


def store_half(proto) -> int:
    """Store every float32 initializer that float16 holds exactly as float16, followed by a Cast back to
    float32 under its old name; returns how many. The graph computes with the very same fp32 values (runtimes
    fold the Cast when they load it) in a file half the size: the shipped models keep fp16 weights, so every
    convolution weight qualifies (BatchNorm folding, when a model has BatchNorm, makes values that do not)."""
    import onnx
    from onnx import numpy_helper

    kept, casts, converted = [], [], 0
    inputs = {i.name for i in proto.graph.input}  # an initializer listed as a graph input (old IRs) stays as it is
    taken = inputs | {i.name for i in proto.graph.initializer}
    for init in proto.graph.initializer:
        if (init.data_type == onnx.TensorProto.FLOAT and np.prod(init.dims, dtype=np.int64) >= 16 and init.name not in inputs
                and init.name + HALF_SUFFIX not in taken):
            value = numpy_helper.to_array(init)
            half = value.astype(np.float16)
            if np.array_equal(half.astype(np.float32), value):
                kept.append(numpy_helper.from_array(half, init.name + HALF_SUFFIX))
                casts.append(onnx.helper.make_node("Cast", [init.name + HALF_SUFFIX], [init.name], to=onnx.TensorProto.FLOAT,
                                                   name=init.name + "/restore_fp32"))
                converted += 1
                continue
        kept.append(init)
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)
    nodes = list(proto.graph.node)
    del proto.graph.node[:]
    proto.graph.node.extend(casts + nodes)  # the casts first: the graph stays topologically sorted
    return converted


def restore_float(proto) -> int:
    """Undo :func:`store_half`: each Cast of a float16 initializer becomes the float32 initializer again (the
    quantiser wants weights as initializers); returns how many."""
    import onnx
    from onnx import numpy_helper

    halves = {i.name: i for i in proto.graph.initializer if i.name.endswith(HALF_SUFFIX) and i.data_type == onnx.TensorProto.FLOAT16}
    restored, nodes = [], []
    for node in proto.graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if (node.op_type == "Cast" and len(node.input) == 1 and node.input[0] in halves and to == onnx.TensorProto.FLOAT
                and node.input[0] == node.output[0] + HALF_SUFFIX):
            restored.append(numpy_helper.from_array(numpy_helper.to_array(halves[node.input[0]]).astype(np.float32), node.output[0]))
        else:
            nodes.append(node)
    if not restored:
        return 0
    used = {r.name + HALF_SUFFIX for r in restored}
    inits = [i for i in proto.graph.initializer if i.name not in used] + restored
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(inits)
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)
    return len(restored)


def with_float_initializers(data: bytes) -> bytes:
    """ONNX bytes with :func:`store_half` undone (for tools that read weights as initializers: the int8
    quantiser, TensorRT's parser); the same bytes when nothing was stored as fp16."""
    onnx = require("onnx", "export")
    proto = onnx.load_from_string(data)
    return proto.SerializeToString() if restore_float(proto) else data


def parity(data: bytes, model, card: ModelCard, tolerance: float = PARITY_TOLERANCE) -> dict[str, dict[str, float]]:
    """Run the ONNX bytes with ONNX Runtime and the torch model at two aligned sizes; CheckpointError if the
    max abs error exceeds ``tolerance``."""
    import torch

    ort = require("onnxruntime", "ort")
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    guidance = GuidanceSpec.from_card(card)
    report = {}
    for i, (h, w) in enumerate(parity_shapes(card.extra["input_spec"]["alignment"])):
        x = sample_input(card, 2, h, w, seed=i + 1)
        extra = {} if guidance is None else sample_guidance(guidance, x, seed=i + 1) if i else guidance.feeds(x)  # with and without guidance
        with torch.no_grad():
            ref = model(torch.from_numpy(x), **{k: torch.from_numpy(v) for k, v in extra.items()}).numpy()
        out = session.run(None, {INPUT: x, **extra})[0]
        if out.shape != ref.shape:
            raise CheckpointError(f"{card.name}: ONNX output {out.shape} differs from torch {ref.shape} at {w}x{h}")
        report[f"{w}x{h}"] = compare(ref, out, output_peak(card))
        if report[f"{w}x{h}"]["max_abs"] > tolerance:
            raise CheckpointError(f"{card.name}: ONNX output differs from torch by {report[f'{w}x{h}']['max_abs']:.2e} at {w}x{h} (> {tolerance})")
    return report
