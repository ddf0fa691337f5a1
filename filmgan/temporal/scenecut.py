"""Hard-cut detection between consecutive frames, so temporal blending never carries colour across shots.

The score of frame t against frame t-1 is computed on copies downscaled to 128 px wide:

* ``d_hist``: the Bhattacharyya distance (OpenCV ``HISTCMP_BHATTACHARYYA``, in [0, 1]) between joint
  HSV histograms (8 hue x 4 saturation x 8 value bins) -- robust to motion, but it also moves in fades;
* ``d_struct``: the mean absolute difference of the standardised luma ``(Y - mean) / max(std, 0.02)``
  (lightly blurred), about 1.1 for unrelated images -- blind to fades and exposure changes, but it also
  moves with fast motion;

``score = sqrt(d_hist * min(1, d_struct))``, in [0, 1]: high only when both the colour statistics and the
structure change. Frame t starts a new shot when ``score >= threshold`` *and* ``score >= ratio * mean(recent
in-shot scores)``; the second condition (in the spirit of PySceneDetect's adaptive detector) keeps shots
whose every frame scores high (handheld, strobing) from being cut at every frame. Measured on the shared
clips (Big Buck Bunny 0-30 s, an airplane fly-by): within shots p99 0.19-0.29, fades up to 0.40, a bird
crossing the frame 0.29, the three hard cuts 0.78-0.96; a cut between two synthetic textures 0.57. A missed
cut is also caught per pixel by the blender's occlusion and photometric checks; a false cut only costs one
unblended frame.
"""

from __future__ import annotations

import math
from collections import deque

import cv2
import numpy as np

from ..errors import ConfigError, InputError

_WIDTH = 128
_STD_FLOOR = 0.02
_HIST_BINS = [8, 4, 8]
_HIST_RANGES = [0, 180, 0, 256, 0, 256]


def _features(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(normalised HSV histogram, standardised float32 luma) of a downscaled RGB uint8 frame."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"scene-cut detection needs uint8 (H, W, 3) frames, got {frame.dtype} {frame.shape}")
    h, w = frame.shape[:2]
    small_h = max(1, round(h * _WIDTH / w))
    small = cv2.resize(frame, (_WIDTH, small_h), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, _HIST_BINS, _HIST_RANGES)
    hist /= max(float(hist.sum()), 1.0)
    luma = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (3, 3), 0).astype(np.float32) / 255.0
    luma -= luma.mean()
    luma /= max(float(luma.std()), _STD_FLOOR)
    return hist, luma


def cut_score(a: np.ndarray, b: np.ndarray) -> float:
    """Scene-change score in [0, 1] between two RGB uint8 frames (see the module docstring)."""
    return _score(_features(a), _features(b))


def _score(fa, fb) -> float:
    d_hist = float(cv2.compareHist(fa[0], fb[0], cv2.HISTCMP_BHATTACHARYYA))
    if fa[1].shape != fb[1].shape:  # a change of frame size is a cut
        return 1.0
    d_struct = float(np.mean(np.abs(fa[1] - fb[1])))
    return math.sqrt(min(1.0, max(0.0, d_hist)) * min(1.0, d_struct))


class SceneCutDetector:
    """Stateful detector: feed every frame in order to :meth:`is_cut`; :meth:`reset` at discontinuities.

    Keeps only the previous frame's features and the last ``history`` scores.
    """

    def __init__(self, threshold: float = 0.5, ratio: float = 2.0, history: int = 8) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"scene-cut threshold must be in (0, 1], got {threshold}")
        if ratio < 1.0 or history < 1:
            raise ConfigError(f"scene-cut ratio must be >= 1 and history >= 1, got {ratio}, {history}")
        self.threshold = threshold
        self.ratio = ratio
        self._prev = None
        self._scores: deque[float] = deque(maxlen=history)
        self.last_score = 0.0

    def reset(self) -> None:
        """Forget the previous frame: the next frame is the first of a shot."""
        self._prev = None
        self._scores.clear()
        self.last_score = 0.0

    def is_cut(self, frame: np.ndarray) -> bool:
        """True when ``frame`` starts a new shot; False for the first frame after construction/reset."""
        feats = _features(frame)
        prev, self._prev = self._prev, feats
        if prev is None:
            return False
        score = _score(prev, feats)
        self.last_score = score
        baseline = float(np.mean(self._scores)) if self._scores else 0.0
        cut = score >= self.threshold and score >= self.ratio * baseline
        if cut:
            self._scores.clear()
        else:
            self._scores.append(score)
        return cut
