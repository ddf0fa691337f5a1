"""Architecture names (as written in model cards) -> classes. Explicit, no import-time magic."""

from __future__ import annotations

from torch import nn

from ..errors import CheckpointError
from .patchgan import MultiScalePatchGAN, PatchGAN
from .semantic import MobileUNetColorizer
from .stylenet import StyleNet
from .unet import UNetColorizer

ARCHITECTURES: dict[str, type[nn.Module]] = {
    UNetColorizer.ARCH: UNetColorizer,
    MobileUNetColorizer.ARCH: MobileUNetColorizer,
    PatchGAN.ARCH: PatchGAN,
    MultiScalePatchGAN.ARCH: MultiScalePatchGAN,
    StyleNet.ARCH: StyleNet,
}


def build(arch: str, args: dict) -> nn.Module:
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"unknown architecture '{arch}' (known: {', '.join(sorted(ARCHITECTURES))})")
    try:
        return ARCHITECTURES[arch](**args)
    except TypeError as exc:
        raise CheckpointError(f"bad arguments for architecture '{arch}': {exc}") from exc
