"""Small building blocks shared by the generators and discriminators."""

from __future__ import annotations

import torch
from torch import nn


def maybe_sn(module: nn.Module, spectral: bool) -> nn.Module:
    """Wrap a conv/linear in spectral normalisation (Miyato et al., ICLR 2018) when ``spectral``."""
    return nn.utils.parametrizations.spectral_norm(module) if spectral else module


def norm_layer(kind: str, channels: int) -> nn.Module:
    """'instance' (affine), 'batch', 'group' or 'none'."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm '{kind}' (instance, batch, group, none)")


class ConvNormAct(nn.Sequential):
    """3x3 (or k x k) conv -> norm -> activation, reflection padding to keep borders clean."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, norm: str = "group", act: bool = True):
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(k // 2),
            nn.Conv2d(cin, cout, k, stride=stride, bias=norm == "none"),
            norm_layer(norm, cout),
        ]
        if act:
            layers.append(nn.LeakyReLU(0.2, inplace=True) if norm == "none" else nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResizeConv(nn.Module):
    """Nearest-neighbour x2 upsampling then conv: no checkerboard artefacts (Odena et al., Distill 2016)."""

    def __init__(self, cin: int, cout: int, norm: str = "group"):
        super().__init__()
        self.conv = ConvNormAct(cin, cout, 3, norm=norm)

    def forward(self, x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        x = nn.functional.interpolate(x, size=size, scale_factor=None if size else 2.0, mode="nearest")
        return self.conv(x)
