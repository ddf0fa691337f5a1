"""Training the semantic colorizer (``models.semantic.MobileUNetColorizer``).

Losses, on top of the colorize task's L1 + PatchGAN (hinge, spectral norm) + optional perceptual and
colourfulness terms:

* **Class-rebalanced cross-entropy over ab bins** (Zhang, Isola & Efros, "Colorful Image Colorization",
  ECCV 2016, eqs. 2-4). The truth's ab (at the logits' stride) is soft-encoded over its 5 nearest bins with
  a Gaussian (sigma 5); each pixel is weighted by ``w ∝ ((1 - lam) p~ + lam / Q)^-1`` of its nearest bin,
  where ``p~`` is the training photos' ab histogram smoothed with a sigma-5 Gaussian and ``E_p~[w] = 1``.
  Without the reweighting the loss is dominated by the common low-saturation bins and the output is sepia;
  with it, rare saturated colours (reds, greens) are worth learning. A regression loss (L1) alone chooses
  the conditional median, which is grey wherever the colour is uncertain.
* The encoder is the ImageNet MobileNetV2 (TFLite weights, dequantised), fine-tuned at a tenth of the
  decoder's learning rate (``optimizer_groups``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..models.mobilenet import load_mobilenet_v2
from ..models.patchgan import PatchGAN
from ..models.semantic import MobileUNetColorizer, gamut_bins
from ..video.color import AB_SCALE
from .colorize import ColorizeTask
from .data import ImageBank, resize_short_side

SIGMA = 5.0  # Lab units, soft-encoding and prior smoothing (Zhang et al.)
NEIGHBOURS = 5
MOBILENET_CREDIT = "ImageNet MobileNetV2 1.0/224 weights from google-coral/test_data (Apache-2.0), dequantised from TFLite"


def ab_prior(bank: ImageBank, bins: np.ndarray, samples: int = 600, size: int = 64) -> np.ndarray:
    """Empirical distribution (Q,) of the nearest ab bin over ``samples`` images of the bank, smoothed
    with a Gaussian of ``SIGMA`` over the bin centres (Zhang et al. 2016, sec. 2.2)."""
    from ..video.color import rgb_to_lab

    step = max(1, len(bank.images) // samples)
    counts = np.zeros(len(bins), np.float64)
    for img in bank.images[::step]:
        ab = rgb_to_lab(resize_short_side(img, size))[..., 1:].reshape(-1, 2)
        nearest = ((ab[:, None, :] - bins[None]) ** 2).sum(-1).argmin(1)
        counts += np.bincount(nearest, minlength=len(bins))
    p = counts / counts.sum()
    kernel = np.exp(-((bins[:, None, :] - bins[None]) ** 2).sum(-1) / (2 * SIGMA**2))
    p = kernel @ p
    return (p / p.sum()).astype(np.float32)


def rebalance_weights(prior: np.ndarray, lam: float) -> np.ndarray:
    """w = ((1 - lam) p + lam / Q)^-1, normalised so that sum_q p_q w_q = 1 (Zhang et al. eq. 4)."""
    w = 1.0 / ((1.0 - lam) * prior + lam / len(prior))
    return (w / (prior * w).sum()).astype(np.float32)


def soft_encode(ab: torch.Tensor, bins: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2, h, w) normalised ab -> soft targets (N, Q, h, w) over the 5 nearest bins, and the nearest bin."""
    n, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2) * AB_SCALE
    d2 = torch.cdist(flat, bins * AB_SCALE).pow(2)
    dist, idx = d2.topk(NEIGHBOURS, dim=1, largest=False)
    weights = torch.softmax(-dist / (2 * SIGMA**2), dim=1)
    target = torch.zeros(flat.shape[0], bins.shape[0], device=ab.device).scatter_(1, idx, weights)
    return target.reshape(n, h, w, -1).permute(0, 3, 1, 2), idx[:, 0].reshape(n, h, w)


def rebalanced_cross_entropy(logits: torch.Tensor, ab: torch.Tensor, bins: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Zhang et al.'s multinomial loss: -sum_hw w(nearest) sum_q Z_q log softmax(logits)_q, averaged."""
    ab_small = F.adaptive_avg_pool2d(ab.float(), logits.shape[-2:])
    target, nearest = soft_encode(ab_small, bins)
    ce = -(target * F.log_softmax(logits.float(), dim=1)).sum(1)
    return (weights[nearest] * ce).mean()


@dataclass
class SemanticColorizeTask(ColorizeTask):
    encoder_weights: str = ""
    decoder: tuple[int, ...] = (160, 80, 48)
    ce_weight: float = 1.0
    d_width: int = 32  # the judge of a 2-channel chroma map need not be wide; half the cost of 48 on CPU
    rebalance: float = 0.5
    temperature: float = 0.38
    encoder_lr_factor: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        self.prior = ab_prior(self.bank, gamut_bins())  # the generator's bins, without building a generator
        self.class_weights = torch.from_numpy(rebalance_weights(self.prior, self.rebalance))

    def build(self) -> tuple[nn.Module, nn.Module]:
        G = MobileUNetColorizer(decoder=self.decoder, temperature=self.temperature)
        if self.encoder_weights:
            G.load_encoder(load_mobilenet_v2(self.encoder_weights))
        D = PatchGAN(in_ch=3, width=self.d_width, n_layers=3, spectral=self.gan_mode != "wgan-gp")
        device = next(G.parameters()).device
        self.class_weights = self.class_weights.to(device)
        if self._features is not None:
            self._features.to(device)
        return G, D

    CARD_OPTIONS = (*ColorizeTask.CARD_OPTIONS, "ce_weight", "rebalance", "encoder_lr_factor")

    def optimizer_groups(self, G: nn.Module, lr: float) -> list[dict]:
        return G.param_groups(lr, self.encoder_lr_factor)

    def generate(self, G, batch) -> None:
        out = G.forward_train(batch["L"])
        batch["fake"], batch["logits"] = out["ab"], out["logits"]

    def g_loss(self, G, D, batch):
        loss, logs = super().g_loss(G, D, batch)
        bins = G.bins
        ce = rebalanced_cross_entropy(batch["logits"], batch["ab"], bins, self.class_weights.to(bins.device))
        logs["ce"] = float(ce.detach())
        return loss + self.ce_weight * ce, logs

    def card(self, G, step, metrics, config):
        card = super().card(G, step, metrics, config)
        training = {
            **card.training, "ce_weight": self.ce_weight, "rebalance": self.rebalance, "encoder_lr_factor": self.encoder_lr_factor,
            "encoder": {"weights": Path(self.encoder_weights).name if self.encoder_weights else None, "credit": MOBILENET_CREDIT},
        }
        return card.with_updates(training=training, extra={**card.extra, "credits": [MOBILENET_CREDIT]})


def build_semantic_task(data: list[str], val: list[str], exclude: list[str], **options: Any) -> SemanticColorizeTask:
    """Like ``build_colorize_task`` (same data handling), for the semantic colorizer."""
    from .colorize import build_colorize_task

    return build_colorize_task(data, val, exclude, task_class=SemanticColorizeTask, **options)
