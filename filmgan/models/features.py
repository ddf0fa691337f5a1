"""Feature networks for perceptual and style (Gram) losses.

Two kinds, one interface (``forward(x) -> list of feature maps``; x is RGB in [0, 1]):

* ``VGGFeatures``: VGG16/VGG19 convolutional layers (Simonyan & Zisserman 2015) as in Johnson et al. 2016
  and Gatys et al. 2016. Defined here (torchvision is optional); weights load from a torchvision-format
  state dict (``features.N.weight``) in a safetensors file or with ``torch.load(weights_only=True)``.
* ``RandomFeatures``: a fixed, seeded, randomly initialised multi-scale conv net. Random-weight networks
  keep enough texture statistics for Gram-matrix style losses (He, Wang & Hopcroft, NeurIPS 2016;
  Ustyuzhaninov, Brendel, Gatys & Bethge, ICLR 2017). It is the default here because no pretrained
  weights exist on these machines; its seed and widths are recorded in each model card.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG_CFG = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512],
}
# Indices (in torchvision's ``features``) of relu1_2, relu2_2, relu3_3/4, relu4_3/4.
VGG_TAPS = {"vgg16": (3, 8, 15, 22), "vgg19": (3, 8, 17, 26)}


class _Normalize(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class VGGFeatures(nn.Module):
    """Frozen VGG feature extractor returning the relu activations at ``VGG_TAPS``."""

    def __init__(self, variant: str = "vgg16"):
        super().__init__()
        if variant not in VGG_CFG:
            raise ValueError(f"unknown VGG variant '{variant}' (vgg16, vgg19)")
        self.variant = variant
        layers: list[nn.Module] = []
        cin = 3
        for v in VGG_CFG[variant]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.norm = _Normalize()
        self.taps = VGG_TAPS[variant]
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, h = [], self.norm(x)
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in self.taps:
                out.append(h)
                if i == self.taps[-1]:
                    break
        return out

    def describe(self) -> dict:
        return {"kind": self.variant}


def load_vgg(path: str | Path, variant: str = "vgg16") -> VGGFeatures:
    """Build VGG features from torchvision-format weights (``features.N.weight``; classifier ignored).

    ``.safetensors`` files are read directly; other files with ``torch.load(weights_only=True)``, which
    refuses arbitrary pickled objects.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"VGG weights not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read VGG weights {path}: {exc}") from exc
    net = VGGFeatures(variant)
    wanted = {k: v for k, v in state.items() if k.startswith("features.")}
    missing = [k for k in net.state_dict() if k.startswith("features.") and k not in wanted]
    if missing:
        raise CheckpointError(f"{path} is not a torchvision {variant} state dict (missing {missing[0]} and others)")
    net.load_state_dict({**net.state_dict(), **wanted})
    return net.eval()


class RandomFeatures(nn.Module):
    """Fixed random multi-scale conv features: 4 stages, each conv3x3 -> ReLU -> (avgpool), seeded.

    Weights use Kaiming-normal init from ``seed`` so the same seed gives the same network on every machine;
    nothing is trained and nothing is downloaded.
    """

    def __init__(self, seed: int = 1234, widths: tuple[int, ...] = (64, 128, 256, 256)):
        super().__init__()
        self.seed, self.widths = seed, tuple(widths)
        gen = torch.Generator().manual_seed(seed)
        stages, cin = [], 3
        for i, w in enumerate(widths):
            convs = [nn.Conv2d(cin, w, 3, padding=1, padding_mode="reflect"), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1, padding_mode="reflect"), nn.ReLU()]
            for conv in convs[::2]:
                std = (2.0 / (conv.in_channels * 9)) ** 0.5
                with torch.no_grad():
                    conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * std)
                    conv.bias.zero_()
            stages.append(nn.Sequential(*([nn.AvgPool2d(2)] if i else []), *convs))
            cin = w
        self.stages = nn.ModuleList(stages)
        self.norm = _Normalize()
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, h = [], self.norm(x)
        for stage in self.stages:
            h = stage(h)
            out.append(h)
        return out

    def describe(self) -> dict:
        return {"kind": "random", "seed": self.seed, "widths": list(self.widths)}


def feature_network(spec: dict | None) -> nn.Module:
    """Build a feature network from its card description: {'kind': 'random', 'seed': ...} or
    {'kind': 'vgg16'|'vgg19', 'path': ...}. ``None`` gives the default random network."""
    spec = dict(spec or {"kind": "random", "seed": 1234})
    kind = spec.pop("kind")
    if kind == "random":
        return RandomFeatures(seed=int(spec.get("seed", 1234)), widths=tuple(spec.get("widths", (64, 128, 256, 256)))).eval()
    if kind == "mobilenet-v2":
        if "path" not in spec:
            raise CheckpointError("mobilenet-v2 features need a weights file path (.tflite or torchvision)")
        return MobileNetFeatures(spec["path"], int(spec.get("layers", 3)))
    if kind in VGG_CFG:
        if "path" not in spec:
            raise CheckpointError(f"{kind} features need a weights file path (no download is possible here)")
        return load_vgg(spec["path"], kind)
    raise CheckpointError(f"unknown feature network kind '{kind}' (random, vgg16, vgg19, mobilenet-v2)")


class MobileNetFeatures(nn.Module):
    """Frozen ImageNet MobileNetV2 activations at strides 2, 4, 8 (and 16, 32 with ``layers``)."""

    def __init__(self, path: str | Path, layers: int = 3):
        super().__init__()
        from .mobilenet import load_mobilenet_v2

        self.path, self.layers = str(path), layers
        self.net = load_mobilenet_v2(path)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.net.features(x, upto=self.layers)

    def describe(self) -> dict:
        return {"kind": "mobilenet-v2", "path": Path(self.path).name, "layers": self.layers}
