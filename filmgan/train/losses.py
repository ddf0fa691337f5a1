"""GAN and reconstruction losses.

Adversarial objectives (``gan_loss_d`` / ``gan_loss_g``):
* ``hinge``   -- Lim & Ye 2017; Miyato et al. 2018 (SNGAN). The default: with spectral norm it is the most
  stable choice in our runs and in BigGAN/SAGAN practice, and its bounded D loss does not saturate.
* ``lsgan``   -- Mao et al., "Least Squares GANs", ICCV 2017 (CycleGAN's choice).
* ``vanilla`` -- Goodfellow et al. 2014, non-saturating BCE form for G (pix2pix's choice).
* ``wgan-gp`` -- Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017; pair it with
  ``gradient_penalty`` and no spectral norm.
Reconstruction: L1 (pix2pix), perceptual/content loss (Johnson et al., ECCV 2016), Gram style loss
(Gatys et al., CVPR 2016), total variation (Mahendran & Vedaldi 2015), colourfulness matching (Hasler &
Suesstrunk's measure made differentiable, against the desaturating pull of L1), and the temporal warp loss
lives in ``filmgan.train.temporal``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

GAN_MODES = ("hinge", "lsgan", "vanilla", "wgan-gp")


def _as_list(x) -> list[torch.Tensor]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def gan_loss_d(real_logits, fake_logits, mode: str = "hinge") -> torch.Tensor:
    """Discriminator loss; logits may be a tensor or a list (multi-scale D)."""
    total = 0.0
    for r, f in zip(_as_list(real_logits), _as_list(fake_logits)):
        r, f = r.float(), f.float()
        if mode == "hinge":
            total = total + F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean()
        elif mode == "lsgan":
            total = total + 0.5 * ((r - 1.0) ** 2).mean() + 0.5 * (f**2).mean()
        elif mode == "vanilla":
            total = total + F.binary_cross_entropy_with_logits(r, torch.ones_like(r)) + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
        elif mode == "wgan-gp":
            total = total + f.mean() - r.mean()
        else:
            raise ValueError(f"unknown GAN loss '{mode}' ({', '.join(GAN_MODES)})")
    return total


def gan_loss_g(fake_logits, mode: str = "hinge") -> torch.Tensor:
    """Generator adversarial loss."""
    total = 0.0
    for f in _as_list(fake_logits):
        f = f.float()
        if mode in ("hinge", "wgan-gp"):
            total = total - f.mean()
        elif mode == "lsgan":
            total = total + 0.5 * ((f - 1.0) ** 2).mean()
        elif mode == "vanilla":
            total = total + F.binary_cross_entropy_with_logits(f, torch.ones_like(f))
        else:
            raise ValueError(f"unknown GAN loss '{mode}' ({', '.join(GAN_MODES)})")
    return total


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP penalty (||grad D(x_hat)||_2 - 1)^2 on random interpolates (Gulrajani et al. 2017)."""
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    out = sum(o.sum() for o in _as_list(D(x_hat)))
    (grad,) = torch.autograd.grad(out, x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def gram(feat: torch.Tensor) -> torch.Tensor:
    """Gram matrix normalised by C*H*W (Gatys et al. 2016)."""
    n, c, h, w = feat.shape
    f = feat.float().reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def style_loss(feats: Sequence[torch.Tensor], target_grams: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the squared Frobenius distance between Gram matrices (Gatys et al. 2016)."""
    return sum(((gram(f) - g.expand(f.shape[0], -1, -1)) ** 2).sum(dim=(1, 2)).mean() for f, g in zip(feats, target_grams))


def content_loss(feats: Sequence[torch.Tensor], target_feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean squared feature distance (Johnson et al. 2016 feature reconstruction loss)."""
    return sum(F.mse_loss(f.float(), t.float()) for f, t in zip(feats, target_feats))


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation, mean absolute neighbour difference."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def colourfulness_torch(rgb: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-image colourfulness M of Hasler & Suesstrunk (SPIE 2003) of RGB in [0, 1], (N, 3, H, W) -> (N,).

    The differentiable twin of :func:`filmgan.metrics.image.colourfulness` (same 0-255 scale):
    ``M = sqrt(var_rg + var_yb) + 0.3 sqrt(mu_rg^2 + mu_yb^2)`` with ``rg = R - G``, ``yb = (R + G)/2 - B``.
    ``eps`` keeps the square roots differentiable at a grey image.
    """
    rgb = rgb.float() * 255.0
    rg = (rgb[:, 0] - rgb[:, 1]).flatten(1)
    yb = (0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]).flatten(1)
    sigma = (rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False) + eps).sqrt()
    mu = (rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2 + eps).sqrt()
    return sigma + 0.3 * mu


def colourfulness_loss(fake_rgb: torch.Tensor, real_rgb: torch.Tensor) -> torch.Tensor:
    """Mean |M(fake) - M(real)| / 100 over the batch: each output should be as colourful as its truth.

    L1 on chroma regresses towards the conditional median, which greys out uncertain regions (Zhang et
    al., "Colorful Image Colorization", ECCV 2016, make the same observation); matching the per-image
    colourfulness of the ground truth pulls the saturation back without prescribing which hue.
    """
    return (colourfulness_torch(fake_rgb) - colourfulness_torch(real_rgb).detach()).abs().mean() / 100.0
