"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018) in
PyTorch, with float ImageNet weights read from a quantised TensorFlow Lite file or a torchvision state dict.

The only pretrained networks on the project's machines are uint8/int8 TFLite flatbuffers (google-coral
test data, Apache-2.0). Dequantised (``scale * (q - zero_point)``, per tensor or per output channel) their
weights are float ImageNet features; the flatbuffer is parsed with the ``tflite`` package (generated
flatbuffer accessors, no TensorFlow). BatchNorm is already folded into the convolutions there, so every
conv here has a bias and no norm layer; torchvision weights have their BatchNorm folded the same way on load.

Padding follows the weights' origin: TensorFlow's SAME padding puts the extra pixel of a stride-2 layer at
the bottom/right, torchvision pads symmetrically. Input normalisation too: TFLite MobileNets take
``2x - 1``, torchvision ones the ImageNet mean/std. Both are recorded in ``args`` and hence in model cards.

``forward`` returns the class logits; ``features(x)`` returns the activations at strides 2, 4, 8, 16 and
32 (16, 24, 32, 96 and 320 channels), the encoder taps of a U-Net.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import CheckpointError

# (expansion t, output channels c, repeats n, first stride s) of the paper's Table 2.
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
TAP_BLOCKS = (1, 3, 6, 13, 17)  # indices in ``features`` after which strides 2, 4, 8, 16, 32 are reached
TAP_CHANNELS = (16, 24, 32, 96, 320)
TAP_STRIDES = (2, 4, 8, 16, 32)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Conv(nn.Module):
    """Conv with bias (BatchNorm folded in), optional ReLU6, TensorFlow SAME or symmetric padding."""

    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, relu6: bool = True, padding: str = "same"):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, 0, groups=groups, bias=True)
        self.k, self.stride, self.relu6, self.padding = k, stride, relu6, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.k > 1:
            if self.padding == "same":
                pads = []
                for size in (x.shape[-1], x.shape[-2]):
                    total = max((-(-size // self.stride) - 1) * self.stride + self.k - size, 0)
                    pads += [total // 2, total - total // 2]
            else:
                pads = [self.k // 2] * 4
            x = F.pad(x, pads)
        x = self.conv(x)
        return F.relu6(x) if self.relu6 else x


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int, padding: str):
        super().__init__()
        hidden = cin * expand
        layers = [Conv(cin, hidden, 1, padding=padding)] if expand != 1 else []
        layers += [Conv(hidden, hidden, 3, stride, groups=hidden, padding=padding), Conv(hidden, cout, 1, relu6=False, padding=padding)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 1.0 with folded BatchNorm. ``num_classes`` 1001 (TFLite: background first) or 1000."""

    ARCH = "mobilenet-v2"

    def __init__(self, num_classes: int = 1001, padding: str = "same", input_norm: str = "tf"):
        super().__init__()
        if padding not in ("same", "symmetric") or input_norm not in ("tf", "imagenet"):
            raise ValueError(f"padding must be same|symmetric and input_norm tf|imagenet, got {padding}, {input_norm}")
        self.args = {"num_classes": num_classes, "padding": padding, "input_norm": input_norm}
        layers: list[nn.Module] = [Conv(3, 32, 3, 2, padding=padding)]
        cin = 32
        for t, c, n, s in BLOCKS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t, padding))
                cin = c
        layers.append(Conv(cin, 1280, 1, padding=padding))
        self.features_seq = nn.Sequential(*layers)
        self.classifier = nn.Linear(1280, num_classes)
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if input_norm == "imagenet" else ((0.5,) * 3, (0.5,) * 3)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> the network's input scale."""
        return (rgb - self.mean) / self.std

    def features(self, rgb: torch.Tensor, upto: int = len(TAP_BLOCKS)) -> list[torch.Tensor]:
        """The activations at the first ``upto`` of strides 2, 4, 8, 16, 32 for RGB in [0, 1]."""
        out, h = [], self.normalize(rgb)
        last = TAP_BLOCKS[upto - 1]
        for i, layer in enumerate(self.features_seq[: last + 1]):
            h = layer(h)
            if i in TAP_BLOCKS:
                out.append(h)
        return out

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        h = self.features_seq(self.normalize(rgb))
        return self.classifier(h.mean(dim=(2, 3)))

    def convs(self) -> list[nn.Conv2d]:
        """Every convolution in execution order (the order of a TFLite graph's CONV/DEPTHWISE ops)."""
        return [m.conv for m in self.modules() if isinstance(m, Conv)]


# -- TensorFlow Lite ---------------------------------------------------------------------------------

def _dequantize(tensor, model_buffer) -> np.ndarray:
    """Float values of a constant TFLite tensor: ``scale * (q - zero_point)`` per tensor or per channel."""
    import tflite

    dtypes = {tflite.TensorType.UINT8: np.uint8, tflite.TensorType.INT8: np.int8, tflite.TensorType.INT32: np.int32, tflite.TensorType.FLOAT32: np.float32}
    if tensor.Type() not in dtypes:
        raise CheckpointError(f"TFLite tensor {tensor.Name().decode()}: unsupported type {tensor.Type()}")
    data = model_buffer.Buffers(tensor.Buffer()).DataAsNumpy()
    shape = tuple(tensor.ShapeAsNumpy().tolist())
    q = np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype=dtypes[tensor.Type()]).reshape(shape).astype(np.float64)
    quant = tensor.Quantization()
    if tensor.Type() == tflite.TensorType.FLOAT32 or quant is None or quant.ScaleLength() == 0:
        return q.astype(np.float32)
    scale, zero = quant.ScaleAsNumpy().astype(np.float64), quant.ZeroPointAsNumpy().astype(np.float64)
    if scale.size > 1:  # per channel, along the quantised dimension
        view = [1] * q.ndim
        view[quant.QuantizedDimension()] = scale.size
        scale, zero = scale.reshape(view), zero.reshape(view)
    return (scale * (q - zero)).astype(np.float32)


def _conv_weights(path: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(op kind, weight in torch layout OIHW, bias) of every CONV_2D / DEPTHWISE_CONV_2D, in graph order."""
    try:
        import tflite
    except ImportError as exc:
        raise CheckpointError("reading TFLite weights needs the 'tflite' package (pip install tflite)") from exc
    try:
        model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
        graph = model.Subgraphs(0)
    except Exception as exc:
        raise CheckpointError(f"{path} is not a TensorFlow Lite model ({exc.__class__.__name__}: {exc})") from exc
    kinds = {tflite.BuiltinOperator.CONV_2D: "conv", tflite.BuiltinOperator.DEPTHWISE_CONV_2D: "depthwise"}
    out = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = kinds.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        if kind is None:
            continue
        w = _dequantize(graph.Tensors(op.Inputs(1)), model)
        b = _dequantize(graph.Tensors(op.Inputs(2)), model)
        # TFLite conv weights are OHWI; depthwise weights are 1HW(C*multiplier).
        w = w.transpose(0, 3, 1, 2) if kind == "conv" else w.transpose(3, 0, 1, 2)
        out.append((kind, np.ascontiguousarray(w), b))
    return out


def load_tflite_mobilenet_v2(path: str | Path) -> MobileNetV2:
    """A float MobileNetV2 whose weights are the dequantised weights of a TFLite MobileNetV2 1.0 file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"TFLite file not found: {path}")
    ops = _conv_weights(path)
    classes = ops[-1][1].shape[0] if ops else 0
    net = MobileNetV2(num_classes=classes or 1001, padding="same", input_norm="tf")
    convs = net.convs()
    if len(ops) != len(convs) + 1:  # + the 1x1 logits conv
        raise CheckpointError(f"{path}: {len(ops)} convolutions, a MobileNetV2 1.0 has {len(convs) + 1}")
    with torch.no_grad():
        for conv, (kind, w, b) in zip(convs, ops):
            if tuple(conv.weight.shape) != w.shape or (kind == "depthwise") != (conv.groups > 1):
                raise CheckpointError(f"{path}: a {kind} weight of shape {w.shape} where MobileNetV2 has {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(w))
            conv.bias.copy_(torch.from_numpy(b))
        net.classifier.weight.copy_(torch.from_numpy(ops[-1][1][:, :, 0, 0]))
        net.classifier.bias.copy_(torch.from_numpy(ops[-1][2]))
    return net.eval().requires_grad_(False)


# -- torchvision ------------------------------------------------------------------------------------

def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read weights {path}: {exc}") from exc


def load_torchvision_mobilenet_v2(path: str | Path) -> MobileNetV2:
    """MobileNetV2 from a torchvision state dict (safetensors, or ``torch.load(weights_only=True)``),
    each conv's BatchNorm folded into it (``w * gamma / sqrt(var + eps)``, ``beta - mean * gamma / ...``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights not found: {path}")
    state = _read_state(path)
    conv_keys = sorted(
        (k[: -len(".weight")] for k, v in state.items() if k.startswith("features.") and k.endswith(".weight") and v.ndim == 4),
        key=lambda k: [int(p) if p.isdigit() else p for p in k.split(".")],  # safetensors sorts names as text
    )
    net = MobileNetV2(num_classes=int(state.get("classifier.1.weight", torch.empty(1000, 1)).shape[0]), padding="symmetric", input_norm="imagenet")
    convs = net.convs()
    if len(conv_keys) != len(convs) or "classifier.1.weight" not in state:
        raise CheckpointError(f"{path} is not a torchvision MobileNetV2 state dict ({len(conv_keys)} convolutions, expected {len(convs)})")
    with torch.no_grad():
        for conv, key in zip(convs, conv_keys):
            prefix, index = key.rsplit(".", 1)
            bn = f"{prefix}.{int(index) + 1}"
            gamma, beta, mean, var = (state[f"{bn}.{n}"].float() for n in ("weight", "bias", "running_mean", "running_var"))
            factor = gamma / torch.sqrt(var + 1e-5)
            conv.weight.copy_(state[f"{key}.weight"].float() * factor.view(-1, 1, 1, 1))
            conv.bias.copy_(beta - mean * factor)
        net.classifier.weight.copy_(state["classifier.1.weight"])
        net.classifier.bias.copy_(state["classifier.1.bias"])
    return net.eval().requires_grad_(False)


def load_mobilenet_v2(path: str | Path) -> MobileNetV2:
    """Either format, chosen by the file's extension (``.tflite``, else a torchvision state dict)."""
    path = Path(path)
    return load_tflite_mobilenet_v2(path) if path.suffix == ".tflite" else load_torchvision_mobilenet_v2(path)
