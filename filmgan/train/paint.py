"""The style task that paints: texture from an ImageNet feature space, colour as a separate step.

What changed from :class:`filmgan.train.stylize.StyleTask` (whose presets were colour grades plus blur):

* **Palette apart from texture.** The generator's input is the photo with its Lab mean/std moved toward
  the painting's by a random strength (Reinhard et al. 2001; at inference the preset's
  ``palette_strength``, see ``processors.palette``). A colour term keeps the output's low frequencies
  (Lab, 8x8 means) at the input's, so the network adds texture and does not re-grade; the texture loss
  and the discriminator see the output after its colours are matched to the painting's, so they judge
  strokes, not palette.
* **A feature space that sees strokes**: the ImageNet MobileNetV2 (``models.mobilenet``), strides 2-16,
  Gram matrices of the raw activations (``train.texture``). ``scripts/compare_texture_losses.py``
  compared them with the softmax smoothing of Wang et al. (CVPR 2021), the sliced Wasserstein loss and
  wide random filters: raw Gram transferred strokes best by the held-out judges at the lowest cost (see
  presets/README.md); the others stay selectable.
* **Structure by real features**: content loss on MobileNetV2 stride-8 features (Johnson et al. 2016)
  and a luminance-edge term (Sobel magnitudes of the blurred luma), no total variation.
* **A discriminator that paints**: the multi-scale PatchGAN sees painting crops at the stroke scale,
  with a larger adversarial weight than before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..card import ModelCard
from ..errors import ConfigError
from ..models.features import feature_network
from ..models.lab import rgb_to_lab
from ..train.data import ImageBank, resize_short_side
from .losses import gan_loss_d, gan_loss_g
from .stylize import StyleTask, edge_ssim, stylize_with, to_tensor
from .texture import TextureTarget, lab_stats, reinhard_torch

LUMA = (0.299, 0.587, 0.114)


def detail_energy(rgb: np.ndarray, sigma: float = 3.0) -> float:
    """Fine detail of a uint8 RGB image: std of its luma minus the luma's Gaussian blur (sigma px)."""
    import cv2

    y = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float((y - cv2.GaussianBlur(y, (0, 0), sigma)).std())


def _luma(rgb: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(LUMA, device=rgb.device, dtype=rgb.dtype).view(1, 3, 1, 1)
    return (rgb * w).sum(dim=1, keepdim=True)


def edge_magnitude(rgb: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of the luma after a 5x5 binomial blur, (N, 1, H, W)."""
    k1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=rgb.device) / 16.0
    blur = (k1[:, None] * k1[None, :]).view(1, 1, 5, 5)
    y = F.conv2d(F.pad(_luma(rgb.float()), (2, 2, 2, 2), mode="replicate"), blur)
    sx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=rgb.device).view(1, 1, 3, 3)
    y = F.pad(y, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(y, sx), F.conv2d(y, sx.transpose(2, 3))
    return (gx * gx + gy * gy + 1e-6).sqrt()


def palette_of(painting: np.ndarray, size: int = 256) -> dict[str, list[float]]:
    """The painting's Lab mean and standard deviation (recorded in the card for ``processors.palette``)."""
    mean, std = lab_stats(rgb_to_lab(to_tensor(resize_short_side(painting, size))))
    return {"lab_mean": [round(float(v), 4) for v in mean.flatten()], "lab_std": [round(float(v), 4) for v in std.flatten()]}


@dataclass
class PaintTask(StyleTask):
    texture_weight: float = 1.0
    keep_colour_weight: float = 1.0
    edge_weight: float = 1.0
    texture_layers: tuple[int, ...] = (0, 1, 2, 3)
    texture_transform: str = "none"
    texture_loss: str = "gram"
    palette_full_share: float = 0.5  # share of training inputs at palette strength 1 (the rest uniform in [0, 1])
    content_layers: tuple[int, ...] = (2,)
    adv_weight: float = 0.3

    CARD_OPTIONS = ("texture_weight", "keep_colour_weight", "edge_weight", "content_weight", "adv_weight", "texture_transform", "texture_loss", "palette_full_share", "gan_mode")

    def __post_init__(self) -> None:
        if not self.features or self.features.get("kind") != "mobilenet-v2":
            raise ConfigError("the paint recipe needs MobileNetV2 features ({'kind': 'mobilenet-v2', 'path': ...})")
        if not Path(self.features.get("path", "")).is_file():
            raise ConfigError(f"the paint recipe's MobileNetV2 weights '{self.features.get('path')}' are not a file: pass --feature-weights PATH")
        self.features = {**self.features, "layers": max(max(self.texture_layers), max(self.content_layers)) + 1}
        self._features = feature_network(self.features)
        self.palette = palette_of(self.painting)
        self._pm = torch.tensor(self.palette["lab_mean"]).view(1, 3, 1, 1)
        self._ps = torch.tensor(self.palette["lab_std"]).view(1, 3, 1, 1)
        paintings = [to_tensor(resize_short_side(self.painting, s)) for s in self.style_sizes]
        self._texture = TextureTarget(self._features, paintings, self.texture_layers, self.texture_transform, self.texture_loss)
        self._style_bank = ImageBank([resize_short_side(self.painting, s) for s in self.style_sizes], [f"painting@{s}" for s in self.style_sizes])
        self._device = torch.device("cpu")
        self._loss_gen = torch.Generator().manual_seed(7)

    def _to(self, device: torch.device) -> None:
        device = torch.device(device)
        if device != self._device:
            self._features.to(device)
            self._texture.to(device)
            self._pm, self._ps, self._device = self._pm.to(device), self._ps.to(device), device

    # -- inputs ----------------------------------------------------------------------------------------
    def generator_input(self, rgb: torch.Tensor, strength: float | torch.Tensor = 1.0) -> torch.Tensor:
        """The generator's input: the frame with its palette moved ``strength`` toward the painting's."""
        with torch.no_grad():
            self._to(rgb.device)
            return reinhard_torch(rgb, self._pm, self._ps, strength).clamp(0, 1)

    def match(self, rgb: torch.Tensor) -> torch.Tensor:
        """``rgb`` with the painting's Lab mean/std: what the texture loss and discriminator see."""
        return reinhard_torch(rgb, self._pm, self._ps, 1.0)

    def sample(self, gen: torch.Generator, batch: int, crop: int, device: torch.device) -> dict[str, torch.Tensor]:
        self._to(device)
        photo = self.bank.sample(gen, batch, crop).to(device)
        full = torch.rand(batch, generator=gen) < self.palette_full_share
        strength = torch.where(full, torch.ones(batch), torch.rand(batch, generator=gen)).view(batch, 1, 1, 1).to(device)
        style = self._style_bank.sample(gen, batch, crop, scale=(0.5, 1.0)).to(device)
        return {"content": self.generator_input(photo, strength), "style": style}

    # -- losses ----------------------------------------------------------------------------------------
    def d_loss(self, G, D, batch):
        batch["fake"] = G(batch["content"])
        batch["fake_matched"] = self.match(batch["fake"])
        return gan_loss_d(D(batch["style"]), D(batch["fake_matched"].detach()), self.gan_mode), {}

    def g_loss(self, G, D, batch):
        fake, x, matched = batch["fake"], batch["content"], batch["fake_matched"]
        feats = self._features(matched)
        with torch.no_grad():
            target = self._features(self.match(x))
        content = sum(F.mse_loss(feats[i], target[i]) / (target[i].pow(2).mean() + 1e-6) for i in self.content_layers)
        texture = self._texture.distance_of(feats, self._loss_gen)
        colour = (F.avg_pool2d(rgb_to_lab(fake.float()), 8) - F.avg_pool2d(rgb_to_lab(x.float()), 8)).abs().mean() / 10.0
        edges = (edge_magnitude(fake) - edge_magnitude(x)).abs().mean() * 10.0
        adv = gan_loss_g(D(matched), self.gan_mode)
        loss = self.content_weight * content + self.texture_weight * texture + self.keep_colour_weight * colour + self.edge_weight * edges + self.adv_weight * adv
        logs = {"content": content, "texture": texture, "colour": colour, "edges": edges, "adv": adv}
        return loss, {k: float(v.detach()) for k, v in logs.items()}

    # -- validation ------------------------------------------------------------------------------------
    @torch.no_grad()
    def texture_distance(self, rgb: torch.Tensor) -> float:
        return float(self._texture.distance(self.match(rgb)))

    def validate(self, G, device):
        from .loop import stack_rows

        self._to(device)
        rows, scores = [], {"texture_ratio": [], "edge_ssim": [], "detail_ratio": []}
        for img in self.val_images:
            x = to_tensor(img, device)
            out = stylize_with(G, img, device, prepare=self.generator_input)
            scores["texture_ratio"].append(self.texture_distance(to_tensor(out, device)) / max(self.texture_distance(x), 1e-12))
            scores["edge_ssim"].append(edge_ssim(img, out))
            scores["detail_ratio"].append(detail_energy(out) / max(detail_energy(img), 1e-6))
            if len(rows) < 6:
                rows.append(np.concatenate([img, out], axis=1))
        rows.insert(0, resize_short_side(self.painting, rows[0].shape[0]) if rows else self.painting)
        return {k: float(np.mean(v)) for k, v in scores.items()}, stack_rows(rows)

    # -- card ------------------------------------------------------------------------------------------
    @classmethod
    def options_from_card(cls, card: ModelCard) -> dict[str, Any]:
        tr = card.training
        options = {k: tr[k] for k in cls.CARD_OPTIONS if k in tr}
        options.update({k: tuple(tr[k]) for k in ("content_layers", "texture_layers", "style_sizes") if k in tr})
        disc = tr.get("discriminator", {})
        options.update({k: disc[src] for k, src in (("d_width", "width"), ("d_scales", "scales")) if src in disc})
        if tr.get("feature_net"):
            options["features"] = tr["feature_net"]
        return options

    def card(self, G, step: int, metrics: dict[str, float], config) -> ModelCard:
        from ..models.patchgan import MultiScalePatchGAN
        from .loop import task_card
        from .stylize import STYLE_IO

        card = task_card(
            G, "style", "rgb", STYLE_IO, self.internal_size, config, step, metrics, recipe="paint",
            discriminator={"arch": MultiScalePatchGAN.ARCH, "width": self.d_width, "scales": self.d_scales, "spectral": self.gan_mode != "wgan-gp",
                           "sees": "output colour-matched to the painting (Reinhard) vs painting crops"},
            **{k: getattr(self, k) for k in self.CARD_OPTIONS},
            content_layers=list(self.content_layers), texture_layers=list(self.texture_layers), style_sizes=list(self.style_sizes),
            feature_net=self._features.describe(), data=self.data_description,
        )
        return card.with_updates(extra={"style": self.style_info, "palette": self.palette})
