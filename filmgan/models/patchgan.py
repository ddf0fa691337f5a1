"""PatchGAN discriminators with spectral normalisation.

Isola et al. (CVPR 2017) judge N x N patches ("PatchGAN", a Markovian discriminator; Li & Wand, ECCV 2016)
instead of whole images; spectral normalisation (Miyato et al., ICLR 2018) bounds its Lipschitz constant
and stabilises training. ``MultiScalePatchGAN`` runs the same design at 2-3 image scales
(Wang et al., pix2pixHD, CVPR 2018) for the style discriminator.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import maybe_sn


class PatchGAN(nn.Module):
    ARCH = "patchgan"

    def __init__(self, in_ch: int = 3, width: int = 48, n_layers: int = 3, spectral: bool = True):
        super().__init__()
        self.args = {"in_ch": in_ch, "width": width, "n_layers": n_layers, "spectral": spectral}
        layers: list[nn.Module] = [maybe_sn(nn.Conv2d(in_ch, width, 4, 2, 1), spectral), nn.LeakyReLU(0.2, True)]
        ch = width
        for i in range(1, n_layers + 1):
            nxt = min(width * 2**i, width * 8)
            stride = 2 if i < n_layers else 1
            layers += [maybe_sn(nn.Conv2d(ch, nxt, 4, stride, 1), spectral), nn.LeakyReLU(0.2, True)]
            ch = nxt
        layers.append(maybe_sn(nn.Conv2d(ch, 1, 4, 1, 1), spectral))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch logits (N, 1, h, w)."""
        return self.net(x)


class MultiScalePatchGAN(nn.Module):
    ARCH = "multiscale-patchgan"

    def __init__(self, in_ch: int = 3, width: int = 32, n_layers: int = 3, scales: int = 2, spectral: bool = True):
        super().__init__()
        self.args = {"in_ch": in_ch, "width": width, "n_layers": n_layers, "scales": scales, "spectral": spectral}
        self.heads = nn.ModuleList(PatchGAN(in_ch, width, n_layers, spectral) for _ in range(scales))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for i, head in enumerate(self.heads):
            outs.append(head(x if i == 0 else nn.functional.avg_pool2d(x, 2**i)))
        return outs
