"""The style task: a feed-forward generator G(photo) -> painting-styled photo, judged by a multi-scale
PatchGAN that compares patches of G's output with patches of the painting.

Generator loss (all terms relative, so the weights are comparable across paintings and feature nets)::

    content_weight * sum_l ||phi_l(G(x)) - phi_l(x)||^2 / ||phi_l(x)||^2        (Johnson et al. 2016)
  + style_weight   * sum_l ||Gram(phi_l(G(x))) - Gram_l(painting)||^2 / ||Gram_l(painting)||^2
                                                                                 (Gatys et al., CVPR 2016)
  + tv_weight      * TV(G(x))                                                    (Mahendran & Vedaldi 2015)
  + adv_weight     * L_adv(D(G(x)))          hinge by default (Lim & Ye 2017; Miyato et al., ICLR 2018)

``phi`` is the feature network: torchvision-format VGG16/19 when the user has weights, else the fixed
seeded random network (random features carry texture statistics: He, Wang & Hopcroft, NeurIPS 2016;
Ustyuzhaninov et al., ICLR 2017). The discriminator is Markovian (Li & Wand, ECCV 2016): it sees random
crops of the painting at a few scales as "real", which adds the brush texture the Gram statistics miss.
The card records the painting, its credits, the feature network and the loss weights.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..card import ModelCard
from ..models.features import feature_network
from ..models.patchgan import MultiScalePatchGAN
from ..models.stylenet import StyleNet
from .data import ImageBank, resize_short_side
from .loop import TrainConfig, stack_rows, task_card
from .losses import content_loss, gan_loss_d, gan_loss_g, gram, style_loss, total_variation

STYLE_IO = {
    "input": "RGB (N,3,H,W) float32 in [0, 1]",
    "output": "RGB (N,3,H,W) float32 in [0, 1] (tanh * 0.5 + 0.5), same size as the input",
}


def to_tensor(rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (H, W, 3) -> float (1, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div(255.0).to(device)


def to_image(x: torch.Tensor) -> np.ndarray:
    """float (1, 3, H, W) in [0, 1] -> uint8 (H, W, 3)."""
    return (x[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)


@torch.no_grad()
def style_grams(features: nn.Module, painting: np.ndarray, sizes: Sequence[int]) -> list[torch.Tensor]:
    """Gram matrices (1, C, C) per feature layer, averaged over the painting resized to each short side."""
    device = next(features.buffers()).device
    total: list[torch.Tensor] | None = None
    for size in sizes:
        grams = [gram(f) for f in features(to_tensor(resize_short_side(painting, size), device))]
        total = grams if total is None else [a + b for a, b in zip(total, grams)]
    return [g / len(sizes) for g in total]


@torch.no_grad()
def gram_distance(features: nn.Module, rgb: np.ndarray, targets: Sequence[torch.Tensor]) -> float:
    """Relative Gram distance sum_l ||Gram_l(rgb) - T_l||^2 / ||T_l||^2 of one uint8 image (Gatys et al.)."""
    device = next(features.buffers()).device
    feats = features(to_tensor(rgb, device))
    return float(sum(((gram(f) - t) ** 2).sum() / (t**2).sum() for f, t in zip(feats, targets)))


def edge_map(rgb: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of the luminance (Rec. 601), float32, after a light Gaussian blur."""
    import cv2

    y = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0, (0, 0), 1.0)
    return cv2.magnitude(cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3))


def edge_ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """SSIM (Wang et al. 2004) between the luminance edge maps of two same-size uint8 RGB images:
    how much of the input's structure survives stylization (1 = identical edges)."""
    from skimage.metrics import structural_similarity

    a, b = edge_map(reference), edge_map(image)
    return float(structural_similarity(a, b, data_range=float(max(a.max(), b.max(), 1e-6)), gaussian_weights=True, sigma=1.5))


@dataclass
class StyleTask:
    bank: ImageBank
    painting: np.ndarray  # uint8 RGB, full resolution
    val_images: list[np.ndarray]
    internal_size: int = 360
    widths: tuple[int, int, int] = (16, 32, 64)
    blocks: int = 5
    stem_kernel: int = 5
    separable: bool = False
    content_weight: float = 1.0
    style_weight: float = 5.0
    tv_weight: float = 0.0
    adv_weight: float = 0.05
    gan_mode: str = "hinge"
    content_layers: tuple[int, ...] = (1, 2)
    style_layers: tuple[int, ...] = (0, 1, 2, 3)
    style_sizes: tuple[int, ...] = (256, 384, 512)
    d_width: int = 32
    d_scales: int = 2
    features: dict[str, Any] | None = None
    style_info: dict[str, Any] = field(default_factory=dict)  # painting path, painter, title, year
    data_description: dict[str, Any] = field(default_factory=dict)
    name: str = "style"

    def __post_init__(self) -> None:
        self._features = feature_network(self.features)
        self._targets = style_grams(self._features, self.painting, self.style_sizes)
        # Scale each layer so the shared (absolute) losses become relative ones: gram(a*f) = a^2 gram(f).
        self._gram_scale = [float((t**2).sum().sqrt()) for t in self._targets]
        self._style_bank = ImageBank([resize_short_side(self.painting, s) for s in self.style_sizes], [f"painting@{s}" for s in self.style_sizes])

    # -- GANTask -------------------------------------------------------------------------------------
    def build(self) -> tuple[nn.Module, nn.Module]:
        G = StyleNet(self.widths, self.blocks, self.stem_kernel, self.separable)
        D = MultiScalePatchGAN(in_ch=3, width=self.d_width, n_layers=3, scales=self.d_scales, spectral=self.gan_mode != "wgan-gp")
        return G, D

    def sample(self, gen: torch.Generator, batch: int, crop: int, device: torch.device) -> dict[str, torch.Tensor]:
        self._to(device)
        content = self.bank.sample(gen, batch, crop).to(device)
        style = self._style_bank.sample(gen, batch, crop, scale=(1.0, 1.0)).to(device)
        return {"content": content, "style": style}

    def d_loss(self, G, D, batch):
        batch["fake"] = G(batch["content"])  # kept for the generator step: one G forward per iteration
        loss = gan_loss_d(D(batch["style"]), D(batch["fake"].detach()), self.gan_mode)
        if self.gan_mode == "wgan-gp":
            from .losses import gradient_penalty

            loss = loss + 10.0 * gradient_penalty(D, batch["style"], batch["fake"])
        return loss, {}

    def g_loss(self, G, D, batch):
        fake = batch["fake"]
        feats = self._features(fake)
        with torch.no_grad():
            target = self._features(batch["content"])
        rms = [float(t.float().pow(2).mean().sqrt()) + 1e-6 for t in target]
        content = content_loss([feats[i] / rms[i] for i in self.content_layers], [target[i] / rms[i] for i in self.content_layers])
        scaled = [feats[i] / self._gram_scale[i] ** 0.5 for i in self.style_layers]
        style = style_loss(scaled, [self._targets[i] / self._gram_scale[i] for i in self.style_layers])
        tv = total_variation(fake.float())
        adv = gan_loss_g(D(fake), self.gan_mode)
        loss = self.content_weight * content + self.style_weight * style + self.tv_weight * tv + self.adv_weight * adv
        return loss, {"content": float(content.detach()), "style": float(style.detach()), "tv": float(tv.detach()), "adv": float(adv.detach())}

    def validate(self, G, device):
        rows, scores = [], {"gram_ratio": [], "gram_out": [], "gram_in": [], "edge_ssim": []}
        self._to(device)
        for img in self.val_images:
            out = stylize_with(G, img, device)
            d_in, d_out = gram_distance(self._features, img, self._targets), gram_distance(self._features, out, self._targets)
            scores["gram_in"].append(d_in)
            scores["gram_out"].append(d_out)
            scores["gram_ratio"].append(d_out / max(d_in, 1e-12))
            scores["edge_ssim"].append(edge_ssim(img, out))
            if len(rows) < 6:
                rows.append(np.concatenate([img, out], axis=1))
        rows.insert(0, resize_short_side(self.painting, rows[0].shape[0]) if rows else self.painting)
        return {k: float(np.mean(v)) for k, v in scores.items()}, stack_rows(rows)

    @staticmethod
    def generator_input(rgb: torch.Tensor) -> torch.Tensor:
        """The generator's input: the RGB frame itself, in [0, 1]."""
        return rgb

    @classmethod
    def options_from_card(cls, card: ModelCard) -> dict[str, Any]:
        """The loss settings recorded in ``card`` by :meth:`card` (weights, layers, discriminator), for
        rebuilding this task to fine-tune the model."""
        tr = card.training
        options = {f"{k}_weight": v for k, v in tr.get("weights", {}).items()}
        options.update({k: tuple(tr[k]) for k in ("content_layers", "style_layers", "style_sizes") if k in tr})
        if "gan_mode" in tr:
            options["gan_mode"] = tr["gan_mode"]
        disc = tr.get("discriminator", {})
        options.update({k: disc[src] for k, src in (("d_width", "width"), ("d_scales", "scales")) if src in disc})
        if tr.get("feature_net"):
            options["features"] = tr["feature_net"]
        return options

    def card(self, G, step: int, metrics: dict[str, float], config: TrainConfig) -> ModelCard:
        card = task_card(
            G, "style", "rgb", STYLE_IO, self.internal_size, config, step, metrics, gan_mode=self.gan_mode,
            discriminator={"arch": MultiScalePatchGAN.ARCH, "width": self.d_width, "scales": self.d_scales, "spectral": self.gan_mode != "wgan-gp"},
            weights={"content": self.content_weight, "style": self.style_weight, "tv": self.tv_weight, "adv": self.adv_weight},
            content_layers=list(self.content_layers), style_layers=list(self.style_layers),
            style_sizes=list(self.style_sizes), feature_net=self._features.describe(), data=self.data_description,
        )
        return card.with_updates(extra={"style": self.style_info})

    def _to(self, device: torch.device) -> None:
        if next(self._features.buffers()).device != torch.device(device):
            self._features.to(device)
            self._targets = [t.to(device) for t in self._targets]


def stylize_with(G: nn.Module, rgb: np.ndarray, device: torch.device | str = "cpu", prepare=None) -> np.ndarray:
    """Stylize one uint8 RGB image at its own size with a torch generator (validation, evaluation);
    ``prepare`` maps the RGB tensor to the generator's input (default: itself)."""
    with torch.no_grad():
        x = to_tensor(rgb, device)
        return to_image(G(prepare(x) if prepare else x))


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def build_style_task(style: str | Path, data: list[str], val: list[str], exclude: list[str], internal_size: int = 360, load_size: int = 360, val_count: int = 8,
                     credits: dict[str, Any] | None = None, task_class: type | None = None, **options: Any) -> StyleTask:
    """Load the painting, the content photos (minus ``exclude`` and ``val``) and a fixed validation set."""
    from ..video.images import read_image
    from .data import split_validation

    painting = read_image(style)
    bank, val_images, description = split_validation(data, val, exclude, load_size, internal_size, val_count)
    info = {"painting": Path(style).name, "sha256": file_digest(Path(style)), "size": [int(painting.shape[1]), int(painting.shape[0])], **(credits or {})}
    return (task_class or StyleTask)(bank=bank, painting=painting, val_images=val_images, internal_size=internal_size, style_info=info, data_description=description, **options)
