"""Texture statistics for the style task, kept apart from colour.

A Gram loss on raw features is largely a colour statistic (the random-feature presets of v1 were colour
grades). Here colour and texture are separated:

* ``reinhard_torch`` matches an image's Lab mean and standard deviation to a target's (Reinhard et al.,
  "Color Transfer between Images", 2001), differentiably; the texture terms compare images after it, so
  they see structure, not palette. The palette is applied as its own step (``processors.palette``).
* ``softmax_transform``: the feature smoothing of Wang, Li & Vasconcelos, "Rethinking and Improving the
  Robustness of Image Style Transfer" (CVPR 2021): a softmax over all activations of a layer, which
  tames the peaky activations that make Gram losses on non-VGG networks (MobileNet, ResNet) fail. We
  scale it by the number of entries (``exp(z) / mean(exp(z))``), so it does not depend on image size.
* ``TextureTarget``: per-layer statistics of the painting and the two losses we compare, the Gram
  distance (Gatys et al. 2016) and the sliced Wasserstein distance between feature distributions
  (Heitz, Vanhoey, Chambon & Belcour, CVPR 2021).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ..models.lab import lab_to_rgb, rgb_to_lab
from .losses import gram

TRANSFORMS = ("none", "softmax")
LOSSES = ("gram", "swd")
MAX_SAMPLES = 16384  # painting feature vectors kept per layer for the sliced Wasserstein target


def lab_stats(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel Lab mean and standard deviation, each (N, 3, 1, 1)."""
    mean = lab.mean(dim=(2, 3), keepdim=True)
    std = (lab - mean).pow(2).mean(dim=(2, 3), keepdim=True).add(1e-4).sqrt()
    return mean, std


def reinhard_torch(rgb: torch.Tensor, target_mean: torch.Tensor, target_std: torch.Tensor, strength: float | torch.Tensor = 1.0) -> torch.Tensor:
    """RGB in [0, 1] (N, 3, H, W) with its Lab mean/std moved ``strength`` of the way to the target's
    ((1, 3, 1, 1) or (N, 3, 1, 1)); 0 leaves the image as it is, 1 is Reinhard's transfer."""
    lab = rgb_to_lab(rgb.float())
    mean, std = lab_stats(lab)
    new_mean = mean + strength * (target_mean - mean)
    new_std = std + strength * (target_std - std)
    return lab_to_rgb((lab - mean) / std * new_std + new_mean)


def softmax_transform(feat: torch.Tensor, temperature: float) -> torch.Tensor:
    """``exp(z / T) / mean(exp(z / T))`` over all entries of each image's feature map (Wang et al. 2021)."""
    n = feat.shape[0]
    flat = feat.float().reshape(n, -1) / temperature
    return (flat.softmax(dim=1) * flat.shape[1]).reshape(feat.shape)


def sliced_wasserstein(feat: torch.Tensor, target_sorted: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Sliced Wasserstein distance (Heitz et al. 2021) of each image's features (N, C, H, W) to a target
    distribution given by its sorted projections (K, M) on ``directions`` (C, K)."""
    n, c = feat.shape[:2]
    proj = torch.einsum("nci,ck->nki", feat.float().reshape(n, c, -1), directions).sort(dim=2).values
    target = F.interpolate(target_sorted[None], size=proj.shape[2], mode="linear", align_corners=True)
    return (proj - target).pow(2).mean(dim=(1, 2)).mean()


class TextureTarget:
    """The painting's texture statistics in one feature network, and the distance of images to them.

    ``transform``: 'none' or 'softmax' (temperature per layer = the painting's activation standard
    deviation there, so ``z / T`` has unit spread); ``loss``: 'gram' (relative per layer) or 'swd'
    (``directions`` random projections per layer, drawn anew at every call from ``generator``).
    """

    def __init__(self, features, paintings: Sequence[torch.Tensor], layers: Sequence[int], transform: str = "softmax", loss: str = "gram", directions: int = 64):
        if transform not in TRANSFORMS or loss not in LOSSES:
            raise ValueError(f"texture transform must be one of {TRANSFORMS} and loss one of {LOSSES}")
        self.features, self.layers, self.transform, self.loss, self.directions = features, tuple(layers), transform, loss, directions
        with torch.no_grad():
            per_size = [features(p) for p in paintings]
            raw = [[fs[i] for fs in per_size] for i in self.layers]
            self.temperatures = [float(torch.cat([f.flatten() for f in fl]).std()) + 1e-6 for fl in raw]
            mapped = [[self._map(f, k) for f in fl] for k, fl in enumerate(raw)]
            self.grams = [sum(gram(f) for f in fl) / len(fl) for fl in mapped]
            self.gram_norms = [float(g.pow(2).sum()) for g in self.grams]
            samples = [torch.cat([f.reshape(f.shape[1], -1) for f in fl], dim=1) for fl in mapped]  # (C, M)
            pick = torch.Generator().manual_seed(0)
            self.samples = [s[:, torch.randperm(s.shape[1], generator=pick)[:MAX_SAMPLES]] for s in samples]

    def _map(self, feat: torch.Tensor, k: int) -> torch.Tensor:
        return softmax_transform(feat, self.temperatures[k]) if self.transform == "softmax" else feat.float()

    def to(self, device) -> "TextureTarget":
        self.grams = [g.to(device) for g in self.grams]
        self.samples = [s.to(device) for s in self.samples]
        return self

    def distance(self, rgb: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean over the batch of the summed per-layer texture distance of RGB images in [0, 1]."""
        return self.distance_of(self.features(rgb), generator)

    def distance_of(self, feats: Sequence[torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """:meth:`distance` from the feature network's outputs for the images (all its layers)."""
        total = feats[0].new_zeros((), dtype=torch.float32)
        for k, i in enumerate(self.layers):
            f = self._map(feats[i], k)
            if self.loss == "gram":
                total = total + (gram(f) - self.grams[k]).pow(2).sum(dim=(1, 2)).mean() / self.gram_norms[k]
            else:
                c = f.shape[1]
                dirs = F.normalize(torch.randn(c, self.directions, generator=generator).to(f.device), dim=0)
                target = torch.einsum("ci,ck->ki", self.samples[k], dirs).sort(dim=1).values
                scale = float(target.pow(2).mean()) + 1e-12
                total = total + sliced_wasserstein(f, target, dirs) / scale
        return total
