"""sRGB <-> CIE Lab (D65) in torch, the training-time twin of ``filmgan.video.color`` (same constants)."""

from __future__ import annotations

import torch

from ..video.color import _EPS, _KAPPA, AB_SCALE, RGB_TO_XYZ, WHITE_D65, XYZ_TO_RGB  # one set of constants
from ..video.color import normalize_l  # noqa: F401  (the colorizer's L scale, numpy and torch alike)


def _matrix(m, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(m, dtype=like.dtype, device=like.device)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> Lab (N, 3, H, W), L in [0, 100]."""
    lin = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp(min=0) + 0.055) / 1.055) ** 2.4)
    m = _matrix(RGB_TO_XYZ / WHITE_D65[:, None], rgb)
    xyz = torch.einsum("ij,njhw->nihw", m, lin)
    f = torch.where(xyz > _EPS, xyz.clamp(min=_EPS) ** (1.0 / 3.0), xyz * _KAPPA + 4.0 / 29.0)
    return torch.stack(
        [116.0 * f[:, 1] - 16.0, 500.0 * (f[:, 0] - f[:, 1]), 200.0 * (f[:, 1] - f[:, 2])], dim=1
    )


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab (N, 3, H, W) -> RGB in [0, 1] (clamped)."""
    fy = (lab[:, 0] + 16.0) / 116.0
    f = torch.stack([fy + lab[:, 1] / 500.0, fy, fy - lab[:, 2] / 200.0], dim=1)
    xyz = torch.where(f > 6.0 / 29.0, f**3, (f - 4.0 / 29.0) / _KAPPA) * _matrix(WHITE_D65, lab)[None, :, None, None]
    lin = torch.einsum("ij,njhw->nihw", _matrix(XYZ_TO_RGB, lab), xyz).clamp(0, 1)
    return torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin.clamp(min=1e-8) ** (1 / 2.4) - 0.055).clamp(0, 1)


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab / AB_SCALE


def denormalize_ab(x: torch.Tensor) -> torch.Tensor:
    return x * AB_SCALE
