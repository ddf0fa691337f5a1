"""Training the semantic colorizer with its guidance inputs (``MobileUNetColorizer(guided=True)``).

The recipe of Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, "Real-Time User-Guided Image Colorization with
Learned Deep Priors" (SIGGRAPH 2017): the network sees simulated guidance drawn from the truth, at random
and often none, so that one model serves automatic, reference-palette, hint and keyframe modes.

* **Palette** (probability ``palette_rate``): the banded ab histogram (``guide.reference``, the bands and
  smoothing of the shipped palette settings) of the *whole* photo the crop comes from -- the crop shows
  only part of it, as a reference shows other content. In a share ``palette_mix`` of those, it is mixed
  with the histogram of another random photo (weight 0.2-0.6), so the network learns to take from a
  palette only the colours its content allows instead of copying it.
* **Hints** (probability ``hint_rate``): either sparse points (1-40, a geometric count as Zhang et al.;
  square patches of 1, 3 or 5 px holding the patch's mean ab), or, in a share ``dense_rate`` of them,
  a dense random region (20-80 % of the crop) holding the true ab -- what a keyframe's carried chroma is.
* Losses, schedule and validation (automatic mode, no guidance) are the semantic task's. The guided
  network starts from an automatic one (``init``): its guidance layers start at zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..guide.reference import PaletteConfig, banded_histogram, image_lab
from ..models.lab import normalize_ab, normalize_l, rgb_to_lab
from ..models.semantic import MobileUNetColorizer, gamut_bins
from .colorize_semantic import SemanticColorizeTask

PALETTE = PaletteConfig(beta=1.0, bands=5)  # the histogram settings of filmgan.guide.build.DEFAULT_PALETTE


def photo_palettes(images: list[np.ndarray], bins: np.ndarray, config: PaletteConfig = PALETTE, side: int = 96) -> torch.Tensor:
    """(len(images), Q, K) banded ab histograms of each whole photo, measured at ``side`` px."""
    return torch.from_numpy(np.stack([banded_histogram(image_lab(im, side), bins, config) for im in images]).astype(np.float32))


def sparse_hints(ab: torch.Tensor, gen: torch.Generator, max_points: int = 40, mean_points: float = 8.0) -> torch.Tensor:
    """(3, H, W) hints from one crop's normalised ab (2, H, W): a geometric number of square patches
    (1, 3 or 5 px) each holding its mean ab, and the mask."""
    _, h, w = ab.shape
    out = ab.new_zeros(3, h, w)
    count = min(max_points, 1 + int(-math.log(max(float(torch.rand((), generator=gen)), 1e-6)) * mean_points))
    for _ in range(count):
        r = int(torch.randint(3, (1,), generator=gen))  # half-size 0, 1, 2
        y = int(torch.randint(r, h - r, (1,), generator=gen))
        x = int(torch.randint(r, w - r, (1,), generator=gen))
        patch = (slice(y - r, y + r + 1), slice(x - r, x + r + 1))
        out[:2][(slice(None), *patch)] = ab[(slice(None), *patch)].mean(dim=(1, 2), keepdim=True)
        out[2][patch] = 1.0
    out[:2] *= out[2:3]
    return out


def dense_hints(ab: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(3, H, W) hints holding the true ab over a random smooth region covering 20-80 % of the crop."""
    _, h, w = ab.shape
    noise = torch.rand(1, 1, max(2, h // 16), max(2, w // 16), generator=gen)
    field = F.interpolate(noise, size=(h, w), mode="bicubic", align_corners=False)[0, 0]
    cover = 0.2 + 0.6 * float(torch.rand((), generator=gen))
    mask = (field <= torch.quantile(field.flatten(), cover)).to(ab.dtype)
    return torch.cat([ab * mask, mask[None]], 0)


@dataclass
class GuidedColorizeTask(SemanticColorizeTask):
    init: str = ""  # an automatic mobilenet-unet-colorizer's weights to start from
    palette_rate: float = 0.5
    palette_mix: float = 0.3
    hint_rate: float = 0.5
    dense_rate: float = 0.2
    guidance_lr_factor: float = 1.0  # the guidance layers (palette MLP, hint inputs) learn at this x the decoder's rate

    def __post_init__(self) -> None:
        super().__post_init__()
        self.palettes = photo_palettes(self.bank.images, gamut_bins())

    def build(self) -> tuple[nn.Module, nn.Module]:
        from safetensors.torch import load_file

        _, D = super().build()
        G = MobileUNetColorizer(decoder=self.decoder, temperature=self.temperature, guided=True, palette_bands=PALETTE.bands)
        if self.init:
            G.load_unguided(load_file(self.init))
        elif self.encoder_weights:
            from ..models.mobilenet import load_mobilenet_v2

            G.load_encoder(load_mobilenet_v2(self.encoder_weights))
        return G, D

    CARD_OPTIONS = (*SemanticColorizeTask.CARD_OPTIONS, "palette_rate", "palette_mix", "hint_rate", "dense_rate", "guidance_lr_factor")

    def optimizer_groups(self, G: nn.Module, lr: float) -> list[dict]:
        """The semantic task's groups, with the guidance layers split out at ``guidance_lr_factor`` x ``lr``:
        they start at zero beside a trained network and, at its fine-tuning rate, barely move in a CPU run."""
        guidance = [p for name, p in G.named_parameters() if name.startswith(G.GUIDANCE_LAYERS)]
        ids = {id(p) for p in guidance}
        groups = [{**g, "params": [p for p in g["params"] if id(p) not in ids]} for g in super().optimizer_groups(G, lr)]
        return [*groups, {"params": guidance, "lr": lr * self.guidance_lr_factor}]

    def sample(self, gen: torch.Generator, batch: int, crop: int, device: torch.device) -> dict[str, torch.Tensor]:
        rgb, indices = self.bank.sample_indexed(gen, batch, crop)
        lab = rgb_to_lab(rgb)
        ab = normalize_ab(lab[:, 1:])
        palette = torch.zeros(batch, *self.palettes.shape[1:])
        hints = torch.zeros(batch, 3, crop, crop)
        for i, index in enumerate(indices):
            if float(torch.rand((), generator=gen)) < self.palette_rate:
                palette[i] = self.palettes[index]
                if float(torch.rand((), generator=gen)) < self.palette_mix:
                    other = int(torch.randint(len(self.palettes), (1,), generator=gen))
                    alpha = 0.2 + 0.4 * float(torch.rand((), generator=gen))
                    palette[i] = (1 - alpha) * palette[i] + alpha * self.palettes[other]
            if float(torch.rand((), generator=gen)) < self.hint_rate:
                dense = float(torch.rand((), generator=gen)) < self.dense_rate
                hints[i] = dense_hints(ab[i], gen) if dense else sparse_hints(ab[i], gen)
        return {"rgb": rgb.to(device), "L": normalize_l(lab[:, :1]).to(device), "ab": ab.to(device),
                "palette": palette.to(device), "hints": hints.to(device)}  # a zero palette row: none given

    def generate(self, G, batch) -> None:
        out = G.forward_train(batch["L"], palette=batch["palette"], hints=batch["hints"])
        batch["fake"], batch["logits"] = out["ab"], out["logits"]

    def card(self, G, step, metrics, config):
        card = super().card(G, step, metrics, config)
        guidance = {"palette_rate": self.palette_rate, "palette_mix": self.palette_mix, "hint_rate": self.hint_rate,
                    "dense_rate": self.dense_rate, "guidance_lr_factor": self.guidance_lr_factor, "palette": {"bands": PALETTE.bands, "sigma": PALETTE.sigma},
                    "init": self.init or None}
        return card.with_updates(training={**card.training, "guidance": guidance})
