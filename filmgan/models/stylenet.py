"""The style-transfer generator: a small feed-forward image transformation network.

Shape after Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution" (ECCV 2016) and the CycleGAN ResNet generator (Zhu et al., ICCV 2017): a wide-kernel
stem, two stride-2 downsampling convolutions, residual blocks (He et al., CVPR 2016) at quarter
resolution, and two upsampling stages. Changes for video on a CPU:

* instance normalisation (Ulyanov, Vedaldi & Lempitsky 2016), reflection padding everywhere;
* upsampling by nearest-neighbour resize then convolution, which avoids the checkerboard artefacts of
  transposed convolutions (Odena, Dumoulin & Olah, Distill 2016);
* configurable channel widths and block count, and optional depthwise-separable residual blocks
  (Howard et al. 2017, MobileNets) -- Johnson's 32-64-128 / 5 blocks costs ~280 GFLOP per 720p frame;
  the presets use far smaller networks run at a reduced render size (see presets/README.md).

I/O contract: input (N, 3, H, W) RGB in [0, 1]; output (N, 3, H, W) RGB in [0, 1] (``tanh * 0.5 + 0.5``).
Any H, W: the input is reflection-padded internally to a multiple of 4 and the output cropped back.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import norm_layer


def _conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride=stride, groups=groups, bias=False))


class ConvIN(nn.Sequential):
    """Reflection-padded conv -> instance norm -> ReLU (optional)."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, norm: str = "instance", act: bool = True):
        layers: list[nn.Module] = [*_conv(cin, cout, k, stride), norm_layer(norm, cout)]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Two 3x3 conv-norm layers with an identity shortcut (He et al. 2016; Johnson et al. 2016 layout).

    ``separable``: each 3x3 conv becomes depthwise 3x3 + pointwise 1x1 (Howard et al. 2017), ~8x fewer
    multiply-adds at 64 channels.
    """

    def __init__(self, ch: int, norm: str = "instance", separable: bool = False):
        super().__init__()
        if separable:
            def conv() -> list[nn.Module]:
                return [*_conv(ch, ch, 3, groups=ch), nn.Conv2d(ch, ch, 1, bias=False)]
        else:
            def conv() -> list[nn.Module]:
                return list(_conv(ch, ch, 3))
        self.body = nn.Sequential(*conv(), norm_layer(norm, ch), nn.ReLU(inplace=True), *conv(), norm_layer(norm, ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upsample(nn.Module):
    """x2 nearest-neighbour resize then conv-norm-ReLU (Odena et al. 2016)."""

    def __init__(self, cin: int, cout: int, norm: str = "instance"):
        super().__init__()
        self.conv = ConvIN(cin, cout, 3, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))


class StyleNet(nn.Module):
    """Feed-forward stylization generator, RGB [0, 1] -> RGB [0, 1].

    ``widths`` = (stem, half resolution, quarter resolution) channels; ``blocks`` residual blocks at
    quarter resolution; ``stem_kernel`` the kernel of the first and last convolutions (9 in Johnson et al.).
    """

    ARCH = "stylenet"

    def __init__(self, widths: tuple[int, int, int] = (32, 64, 128), blocks: int = 5, stem_kernel: int = 9, separable: bool = False, norm: str = "instance"):
        super().__init__()
        w0, w1, w2 = (int(w) for w in widths)
        self.args = {"widths": [w0, w1, w2], "blocks": int(blocks), "stem_kernel": int(stem_kernel), "separable": bool(separable), "norm": norm}
        self.encode = nn.Sequential(ConvIN(3, w0, stem_kernel, norm=norm), ConvIN(w0, w1, 3, 2, norm=norm), ConvIN(w1, w2, 3, 2, norm=norm))
        self.blocks = nn.Sequential(*(ResBlock(w2, norm, separable) for _ in range(blocks)))
        self.decode = nn.Sequential(Upsample(w2, w1, norm), Upsample(w1, w0, norm), nn.ReflectionPad2d(stem_kernel // 2), nn.Conv2d(w0, 3, stem_kernel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:
            x = nn.functional.pad(x, (0, pw, 0, ph), mode="reflect")
        y = self.decode(self.blocks(self.encode(x * 2.0 - 1.0)))
        return (torch.tanh(y) * 0.5 + 0.5)[..., :h, :w]
