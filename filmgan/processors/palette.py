"""The painting's palette as its own, adjustable step before a style network (torch-free).

Reinhard et al. ("Color Transfer between Images", 2001): move each frame's Lab mean and standard
deviation toward the painting's by ``strength`` (0 keeps the frame's colours, 1 takes the painting's).
The style network was trained on inputs prepared this way at random strengths, so it adds the painting's
texture and keeps the colours it is given.

On video the frame statistics are smoothed over time (``smoothing`` = weight of the previous estimate),
so that a moving object entering the frame does not make the whole frame's palette pump; stills and
independent images use ``apply(..., stateful=False)``.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import ConfigError

_STAT_SIZE = 64  # frame statistics are taken on a thumbnail of this short side
# OpenCV's 8-bit Lab stores L * 255 / 100, a + 128, b + 128: the transfer runs there (8-bit conversions
# are table-driven, ~4x faster than float ones), with the statistics converted to and from those units.
_U8_SCALE = np.array([255.0 / 100.0, 1.0, 1.0], np.float32)
_U8_OFFSET = np.array([0.0, 128.0, 128.0], np.float32)


def _lab(rgb8: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb8.astype(np.float32) * np.float32(1.0 / 255.0), cv2.COLOR_RGB2Lab)


def lab_mean_std(rgb8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lab (L 0-100) mean and standard deviation of a uint8 RGB image, each (3,) float32."""
    h, w = rgb8.shape[:2]
    scale = _STAT_SIZE / min(h, w)
    if scale < 1.0:
        rgb8 = cv2.resize(rgb8, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    lab = _lab(rgb8).reshape(-1, 3)
    return lab.mean(axis=0), lab.std(axis=0) + np.float32(1e-2)


class PaletteTransfer:
    """Reinhard colour transfer of frames toward a painting's Lab statistics, by ``strength``."""

    def __init__(self, mean, std, strength: float = 1.0, smoothing: float = 0.8):
        mean, std = np.asarray(mean, np.float32).reshape(3), np.asarray(std, np.float32).reshape(3)
        if not 0.0 <= strength <= 1.0:
            raise ConfigError(f"palette_strength must be between 0 (the frame's colours) and 1 (the painting's), got {strength}")
        if not 0.0 <= smoothing < 1.0:
            raise ConfigError(f"palette smoothing must be in [0, 1), got {smoothing}")
        if not np.all(std > 0):
            raise ConfigError("the painting's palette needs positive standard deviations")
        self.mean, self.std, self.strength, self.smoothing = mean, std, float(strength), float(smoothing)
        self._state: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_card(cls, card, strength: float = 1.0, smoothing: float = 0.8) -> "PaletteTransfer | None":
        """The transfer recorded in a style model's card (``extra.palette``), or None for models trained
        without a palette step (they carry the palette in their weights)."""
        palette = (card.extra or {}).get("palette")
        if not palette:
            return None
        return cls(palette["lab_mean"], palette["lab_std"], strength, smoothing)

    def reset(self) -> None:
        self._state = None

    def _frame_stats(self, frame: np.ndarray, stateful: bool) -> tuple[np.ndarray, np.ndarray]:
        mean, std = lab_mean_std(frame)
        if not stateful:
            return mean, std
        if self._state is not None:
            s = self.smoothing
            mean, std = s * self._state[0] + (1 - s) * mean, s * self._state[1] + (1 - s) * std
        self._state = (mean, std)
        return mean, std

    def targets(self, frames: np.ndarray, stateful: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per frame, (source, target) Lab statistics: the frame's own (smoothed over the shot when
        ``stateful``) and those moved ``strength`` of the way to the painting's."""
        out = []
        for frame in frames:
            mean, std = self._frame_stats(frame, stateful)
            out.append(((mean, std), (mean + self.strength * (self.mean - mean), std + self.strength * (self.std - std))))
        return out

    def apply(self, frames: np.ndarray, stateful: bool = True) -> np.ndarray:
        """(N, H, W, 3) uint8 -> (N, H, W, 3) uint8 with the palette moved toward the painting's."""
        if self.strength == 0.0:
            return frames
        return transfer(frames, self.targets(frames, stateful))

    def restore(self, outputs: np.ndarray, targets: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """The network's outputs (N, h, w, 3) uint8 with their Lab statistics moved ``1 - strength`` of the
        way to each frame's target: the network adds texture but also leans toward the painting's colours
        whatever it is given, so this is what makes strength 0 keep the footage's palette. At strength 1
        the network's own result is returned unchanged."""
        if self.strength == 1.0:
            return outputs
        w = 1.0 - self.strength
        stats = []
        for out, (_, (mean, std)) in zip(outputs, targets):
            own_mean, own_std = lab_mean_std(out)
            stats.append(((own_mean, own_std), (own_mean + w * (mean - own_mean), own_std + w * (std - own_std))))
        return transfer(outputs, stats)


def transfer(frames: np.ndarray, stats: list) -> np.ndarray:
    """Reinhard transfer of each frame from its ``(source mean, std)`` to its ``(target mean, std)``."""
    out = np.empty_like(frames)
    for i, (frame, ((mean, std), (new_mean, new_std))) in enumerate(zip(frames, stats)):
        gain = new_std / std  # per channel, in Lab units; the same in the 8-bit units (a pure scale)
        shift = (new_mean - mean * gain) * _U8_SCALE + _U8_OFFSET * (1.0 - gain)
        lab8 = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2Lab)
        lab8 = cv2.convertScaleAbs(lab8.astype(np.float32) * gain + shift)  # saturates to 0..255
        out[i] = cv2.cvtColor(lab8, cv2.COLOR_Lab2RGB)
    return out
