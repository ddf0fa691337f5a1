"""The colorization GAN task: U-Net G(L) -> ab judged by a PatchGAN D(L, ab) with spectral norm.

Losses (pix2pix, Isola et al. CVPR 2017): ``l1_weight * |G(L) - ab|_1 + adv_weight * L_adv`` with the
adversarial loss selectable (hinge by default, see ``losses``), plus an optional perceptual loss in a
feature network's space (Johnson et al. 2016) on the recombined RGB and an optional colourfulness-matching
loss (``losses.colourfulness_loss``) on the same RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..card import ModelCard
from ..models.features import feature_network
from ..models.lab import denormalize_ab, lab_to_rgb, normalize_ab, normalize_l, rgb_to_lab
from ..models.patchgan import PatchGAN
from ..models.unet import UNetColorizer
from .data import ImageBank, resize_short_side
from .loop import TrainConfig, stack_rows, task_card
from .losses import colourfulness_loss, content_loss, gan_loss_d, gan_loss_g, gradient_penalty

COLORIZE_IO = {
    "input": "L (N,1,H,W) float32, Lab L/50 - 1 in [-1, 1]",
    "output": "ab (N,2,H,W) float32, Lab ab/110 (tanh), to be upsampled and recombined with the source L",
}


@dataclass
class ColorizeTask:
    bank: ImageBank
    val_images: list[np.ndarray]
    internal_size: int = 256
    widths: tuple[int, ...] = (24, 48, 96, 192, 256)
    norm: str = "batch"
    global_context: bool = False
    d_width: int = 48
    l1_weight: float = 10.0
    adv_weight: float = 1.0
    perceptual_weight: float = 0.0
    colour_weight: float = 0.0
    gan_mode: str = "hinge"
    features: dict[str, Any] | None = None
    data_description: dict[str, Any] = field(default_factory=dict)
    name: str = "colorize"

    def __post_init__(self) -> None:
        self._features = feature_network(self.features) if self.perceptual_weight > 0 else None

    def build(self) -> tuple[nn.Module, nn.Module]:
        G = UNetColorizer(self.widths, norm=self.norm, global_context=self.global_context)
        D = PatchGAN(in_ch=3, width=self.d_width, n_layers=3, spectral=self.gan_mode != "wgan-gp")
        if self._features is not None:
            self._features.to(next(G.parameters()).device)
        return G, D

    def sample(self, gen: torch.Generator, batch: int, crop: int, device: torch.device) -> dict[str, torch.Tensor]:
        rgb = self.bank.sample(gen, batch, crop).to(device)
        lab = rgb_to_lab(rgb)
        return {"rgb": rgb, "L": normalize_l(lab[:, :1]), "ab": normalize_ab(lab[:, 1:])}

    CARD_OPTIONS = ("l1_weight", "adv_weight", "perceptual_weight", "colour_weight", "gan_mode")  # read back by options_from_card

    @staticmethod
    def generator_input(rgb: torch.Tensor) -> torch.Tensor:
        """The generator's input for RGB in [0, 1]: normalised Lab L."""
        return normalize_l(rgb_to_lab(rgb)[:, :1])

    @classmethod
    def options_from_card(cls, card: ModelCard) -> dict[str, Any]:
        """The loss settings of the training recorded in ``card`` (the inverse of :meth:`card`), for
        rebuilding this task to fine-tune the model: the ``CARD_OPTIONS`` the card has."""
        tr = card.training
        options = {k: tr[k] for k in cls.CARD_OPTIONS if k in tr}
        if tr.get("feature_net"):
            options["features"] = tr["feature_net"]
        return options

    def generate(self, G, batch) -> None:
        """G's output for the batch, kept in it for the generator step: one G forward per iteration."""
        batch["fake"] = G(batch["L"])

    def d_loss(self, G, D, batch):
        self.generate(G, batch)
        real = torch.cat([batch["L"], batch["ab"]], 1)
        fake = torch.cat([batch["L"], batch["fake"].detach()], 1)
        loss = gan_loss_d(D(real), D(fake), self.gan_mode)
        if self.gan_mode == "wgan-gp":
            loss = loss + 10.0 * gradient_penalty(D, real, fake)
        return loss, {}

    def g_loss(self, G, D, batch):
        fake = batch["fake"]
        adv = gan_loss_g(D(torch.cat([batch["L"], fake], 1)), self.gan_mode)
        l1 = (fake.float() - batch["ab"]).abs().mean()
        loss = self.l1_weight * l1 + self.adv_weight * adv
        logs = {"l1": float(l1.detach()), "adv": float(adv.detach())}
        if self._features is None and self.colour_weight <= 0:
            return loss, logs
        L = (batch["L"].float() + 1.0) * 50.0
        rgb_fake = lab_to_rgb(torch.cat([L, denormalize_ab(fake.float())], 1))
        if self._features is not None:
            with torch.no_grad():
                target = self._features(batch["rgb"])
            perc = content_loss(self._features(rgb_fake), target)
            loss = loss + self.perceptual_weight * perc
            logs["perceptual"] = float(perc.detach())
        if self.colour_weight > 0:
            colour = colourfulness_loss(rgb_fake, batch["rgb"])
            loss = loss + self.colour_weight * colour
            logs["colour"] = float(colour.detach())
        return loss, logs

    def validate(self, G, device):
        from ..metrics.image import colourfulness, delta_e, psnr, ssim
        from ..video.color import recombine_luminance_chroma

        rows, scores = [], {k: [] for k in ("psnr", "ssim", "delta_e", "colorfulness", "colorfulness_gt", "delta_e_grey", "psnr_grey")}
        for img in self.val_images:
            out = colorize_with(G, img, device, self.internal_size)
            grey = recombine_luminance_chroma(img, np.zeros(img.shape[:2] + (2,), np.float32))
            scores["psnr"].append(psnr(img, out))
            scores["ssim"].append(ssim(img, out))
            scores["delta_e"].append(delta_e(img, out))
            scores["colorfulness"].append(colourfulness(out))
            scores["colorfulness_gt"].append(colourfulness(img))
            scores["delta_e_grey"].append(delta_e(img, grey))
            scores["psnr_grey"].append(psnr(img, grey))
            if len(rows) < 8:
                rows.append(np.concatenate([grey, out, img], axis=1))
        return {k: float(np.mean(v)) for k, v in scores.items()}, stack_rows(rows)

    def card(self, G, step: int, metrics: dict[str, float], config: TrainConfig) -> ModelCard:
        return task_card(
            G, "colorize", "lab", COLORIZE_IO, self.internal_size, config, step, metrics,
            gan_mode=self.gan_mode, l1_weight=self.l1_weight, adv_weight=self.adv_weight, perceptual_weight=self.perceptual_weight,
            colour_weight=self.colour_weight, data=self.data_description, feature_net=self._features.describe() if self._features is not None else None,
        )


def colorize_with(G: nn.Module, rgb: np.ndarray, device: torch.device, internal_size: int) -> np.ndarray:
    """Colorize one RGB uint8 image with a torch generator (used by validation and evaluation)."""
    import cv2

    from ..video.color import recombine_luminance_chroma, rgb_to_luminance_l

    small = resize_short_side(rgb, internal_size)
    L = torch.from_numpy(rgb_to_luminance_l(small))[None, None].to(device)
    ab = denormalize_ab(G(normalize_l(L)).float())[0].permute(1, 2, 0).cpu().numpy()
    ab = cv2.resize(ab, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    return recombine_luminance_chroma(rgb, ab)


def build_colorize_task(data: list[str], val: list[str], exclude: list[str], internal_size: int = 256, load_size: int = 288, val_count: int = 32,
                        task_class: type[ColorizeTask] = ColorizeTask, split: str | None = None, **options: Any) -> ColorizeTask:
    """Load training images (minus ``exclude`` and the validation folders) and a fixed validation set.

    ``split`` describes exclusion and validation in the card instead of listing every path (for the
    project's photo splits, ``filmgan.train.splits``)."""
    from .data import split_validation

    bank, val_images, description = split_validation(data, val, exclude, load_size, internal_size, val_count, split)
    return task_class(bank=bank, val_images=val_images, internal_size=internal_size, data_description=description, **options)
