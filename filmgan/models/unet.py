"""The colorization generator: a pix2pix-style U-Net from luminance to chroma.

Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks" (CVPR 2017) use a U-Net
generator with skip connections between mirrored encoder/decoder levels; we keep that shape but make it
small enough for CPU video (channel widths, one conv per level at full resolution) and predict Lab ab
from L (Zhang, Isola & Efros, "Colorful Image Colorization", ECCV 2016, for the Lab formulation).

``global_context`` adds a global feature path at the bottleneck, after Iizuka, Simo-Serra & Ishikawa
("Let there be Color!", SIGGRAPH 2016): the bottleneck is averaged over the image, passed through a small
MLP and added back at every position, so whole-scene cues (sky, indoor, sea) reach every pixel's chroma
even where the receptive field of the convolutions does not.

I/O contract: input (N, 1, H, W) normalised L (L/50 - 1); output (N, 2, H, W) normalised ab (ab/110)
through tanh. H and W are any size: the network pads internally to a multiple of 2**depth.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import ConvNormAct, ResizeConv


class UNetColorizer(nn.Module):
    ARCH = "unet-colorizer"

    def __init__(self, widths: tuple[int, ...] = (24, 48, 96, 192, 256), norm: str = "group", in_ch: int = 1, out_ch: int = 2, global_context: bool = False):
        super().__init__()
        self.args = {"widths": list(widths), "norm": norm, "in_ch": in_ch, "out_ch": out_ch}
        if global_context:  # recorded only when on, so older cards stay valid as they are
            self.args["global_context"] = True
        self.depth = len(widths) - 1
        self.stem = ConvNormAct(in_ch, widths[0], 3, norm=norm)
        self.down = nn.ModuleList(
            nn.Sequential(ConvNormAct(widths[i], widths[i + 1], 3, stride=2, norm=norm), ConvNormAct(widths[i + 1], widths[i + 1], 3, norm=norm))
            for i in range(self.depth)
        )
        self.bottleneck = ConvNormAct(widths[-1], widths[-1], 3, norm=norm)
        c = widths[-1]
        self.context = nn.Sequential(nn.Linear(c, c), nn.ReLU(inplace=True), nn.Linear(c, c)) if global_context else None
        self.up = nn.ModuleList(ResizeConv(widths[i + 1], widths[i], norm=norm) for i in reversed(range(self.depth)))
        self.merge = nn.ModuleList(ConvNormAct(2 * widths[i], widths[i], 3, norm=norm) for i in reversed(range(self.depth)))
        self.head = nn.Conv2d(widths[0], out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.depth
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = self.bottleneck(skips.pop())
        if self.context is not None:
            y = y + self.context(y.mean(dim=(2, 3)))[:, :, None, None]
        for up, merge in zip(self.up, self.merge):
            skip = skips.pop()
            y = merge(torch.cat([up(y, size=skip.shape[-2:]), skip], dim=1))
        return torch.tanh(self.head(y))[..., :h, :w]
