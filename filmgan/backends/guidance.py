"""The guidance inputs of an exported colorizer trained with them (``models.semantic`` ``guided``): the
graph takes ``palette`` (N, Q, K) and ``hints`` (N, 3, H, W) beside the L input, and an engine feeds zeros
for the ones a render does not give (zeros are the automatic mode the network was trained with). numpy
only: the torch-free backends use it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..card import ModelCard
from ..errors import InputError
from ..video.color import gamut_bins

PALETTE_INPUT, HINTS_INPUT = "palette", "hints"


@dataclass(frozen=True)
class GuidanceSpec:
    """``bins`` (Q, 2) ab bin centres in Lab units (a guide's histograms are over them) and ``bands`` K."""

    bins: np.ndarray
    bands: int

    @classmethod
    def from_card(cls, card: ModelCard) -> "GuidanceSpec | None":
        """The spec of a guided colorizer's card, None for any other model."""
        if not card.args.get("guided"):
            return None
        return cls(gamut_bins(int(card.args.get("grid", 10))), int(card.args.get("palette_bands", 5)))

    def check(self, x: np.ndarray, palette: np.ndarray | None, hints: np.ndarray | None) -> None:
        """InputError unless the given guidance fits input ``x`` (N, 1, H, W)."""
        n, _, h, w = x.shape
        q = len(self.bins)
        if palette is not None and (palette.ndim != 3 or palette.shape[1:] != (q, self.bands) or palette.shape[0] not in (1, n)):
            raise InputError(f"this colorizer takes a palette of shape (N, {q}, {self.bands}), got {palette.shape}")
        if hints is not None and (hints.ndim != 4 or hints.shape[1] != 3 or hints.shape[2:] != (h, w) or hints.shape[0] != n):
            raise InputError(f"hints must be (N, 3, H, W) at the input's size {(h, w)}, got {hints.shape}")

    def feeds(self, x: np.ndarray, palette: np.ndarray | None = None, hints: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """{'palette', 'hints'} for input ``x`` (N, 1, H, W): the given ones checked, zeros for the others."""
        self.check(x, palette, hints)
        n, _, h, w = x.shape
        if palette is None:
            palette = np.zeros((n, len(self.bins), self.bands), np.float32)
        if hints is None:
            hints = np.zeros((n, 3, h, w), np.float32)
        if palette.shape[0] != n:
            palette = np.repeat(palette, n, axis=0)  # one palette for every image
        return {PALETTE_INPUT: np.ascontiguousarray(palette, np.float32), HINTS_INPUT: np.ascontiguousarray(hints, np.float32)}
