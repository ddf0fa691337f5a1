"""Temporal-consistency metrics computed in one streaming pass: warping error and CDC.

**Warping error** (Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018), as their released
evaluation code computes it. For each consecutive pair (t-1, t):

* flow is computed on the *reference* frames -- the source video the output was made from when one is
  given, else the evaluated video itself -- with OpenCV DIS (preset ``'medium'`` by default, full size):
  ``f = compute_flow(r_{t-1}, r_t)`` (forward) and the reverse flow for the check;
* the occlusion mask of frame t-1 is the forward-backward check plus motion boundaries of ``f``
  (Sundaram et al. 2010 thresholds: 0.01, 0.5 px^2 and 0.01, 0.002), out-of-frame targets *not* masked
  (as in Lai's code, whose warp clamps at the border);
* ``V^_t = warp(V_t, f)`` brings the evaluated frame t onto frame t-1 (bilinear, border replicated);
* with RGB in [0, 1] and N the non-occluded pixel count,
  ``E_pair = sum_{non-occluded p} sum_c (V_{t-1}(p, c) - V^_t(p, c))^2 / (3 N)``,
  i.e. the mean over channels of the per-pixel squared error (Lai's code multiplies by a 3-channel mask
  and divides by its sum). ``channel_reduction='sum'`` gives the paper's formula
  ``(1/N) sum_p M_p ||V_{t-1}(p) - V^_t(p)||_2^2`` (3x larger). A pair with every pixel occluded adds 0;
* ``E_warp`` = mean of E_pair over the pairs.

One departure, on by default (``skip_cuts``): pairs across a scene cut of the reference are left out
(counted in ``cuts``). Lai et al. evaluate single shots; across a cut the flow is meaningless and the
pair's "error" measures the change of shot, the same for every output, so a single cut dominates the
mean and hides the flicker within the shots. Cuts are found by ``temporal.scenecut.SceneCutDetector``
(the one the blender resets on).

**CDC** (colour distribution consistency; Liu et al., "Temporally Consistent Video Colorization with Deep
Feature Propagation and Self-regularization Learning", 2021, and its released code): the per-channel
256-bin colour histograms of each frame, normalised to sum 1; for gaps g in (1, 2, 4) the mean over t and
over R, G, B of the Jensen-Shannon divergence (natural log, so in [0, ln 2]) between frames t and t+g;
CDC = the mean over the gaps that the video is long enough for. 0 for a constant video.

Memory is bounded: the previous frame, the previous reference luma and the last 4 histograms.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import zip_longest
from typing import Iterable, Iterator, Mapping, Sequence

import cv2
import numpy as np

from ..errors import ConfigError, InputError
from ..temporal.flow import FlowEstimator, occlusion_mask, resize_flow
from ..temporal.scenecut import SceneCutDetector
from ..temporal.warp import warp

CDC_GAPS = (1, 2, 4)


def _check_frame(frame: np.ndarray, what: str) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"{what} must be uint8 (H, W, 3) RGB, got {frame.dtype} {frame.shape}")


class WarpErrors:
    """Streaming warping error of several videos made from one reference (e.g. per-frame and blended outputs).

    Each pair's flow, occlusion mask and scene-cut decision are computed once, on the reference, for all
    of them. :meth:`update` with the reference frame and every video's frame, then :attr:`values`.
    """

    def __init__(self, names: Sequence[str], preset: str = "medium", max_side: int | None = None, channel_reduction: str = "mean",
                 skip_cuts: bool = True):
        if channel_reduction not in ("mean", "sum"):
            raise ConfigError(f"channel_reduction must be 'mean' or 'sum', got '{channel_reduction}'")
        if not names:
            raise ConfigError("WarpErrors needs at least one video name")
        self.names = tuple(names)
        self._flow = FlowEstimator(preset, max_side)
        self._cuts = SceneCutDetector() if skip_cuts else None
        self.cuts = 0  # pairs left out because the reference cuts to another shot between them
        self._channels = 3 if channel_reduction == "mean" else 1
        self._prev: tuple[np.ndarray, dict[str, np.ndarray]] | None = None  # (reference grey, frames in [0, 1])
        self.totals = dict.fromkeys(self.names, 0.0)
        self.pairs = 0

    def update(self, reference: np.ndarray, frames: Mapping[str, np.ndarray]) -> dict[str, float] | None:
        """Add frame t of each video; returns each E_pair(t-1, t), or None for the first frame and after a cut."""
        if set(frames) != set(self.names):
            raise InputError(f"expected frames of {', '.join(self.names)}, got {', '.join(frames)}")
        for name, frame in frames.items():
            _check_frame(frame, f"frame of '{name}'")
        _check_frame(reference, "reference frame")
        cur = (self._flow.prepare(reference), {name: f.astype(np.float32) * (1.0 / 255.0) for name, f in frames.items()})
        prev, self._prev = self._prev, cur
        cut = self._cuts is not None and self._cuts.is_cut(reference)
        if prev is None:
            return None
        if cut:
            self.cuts += 1
            return None
        (g_prev, v_prev), (g_cur, v_cur) = prev, cur
        if g_prev.shape != g_cur.shape:
            raise InputError("frame size changed within the video")
        fwd = self._flow.calc(g_prev, g_cur)
        valid = ~occlusion_mask(fwd, self._flow.calc(g_cur, g_prev), motion_boundaries=True, mark_out_of_frame=False)
        errors = {name: self._pair(v_prev[name], v_cur[name], fwd, valid) for name in self.names}
        for name, err in errors.items():
            self.totals[name] += err
        self.pairs += 1
        return errors

    def _pair(self, v_prev: np.ndarray, v_cur: np.ndarray, fwd: np.ndarray, valid: np.ndarray) -> float:
        if v_prev.shape != v_cur.shape:
            raise InputError("frame size changed within the video")
        size = (v_cur.shape[1], v_cur.shape[0])
        if fwd.shape[1::-1] != size:
            fwd = resize_flow(fwd, size)
            valid = cv2.resize(valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        n = int(valid.sum())
        if n == 0:
            return 0.0
        diff = warp(v_cur, fwd)[valid] - v_prev[valid]
        return float(np.sum(np.square(diff, dtype=np.float64)) / (n * self._channels))

    @property
    def values(self) -> dict[str, float]:
        """Mean E_pair of each video over the pairs seen (nan before two frames)."""
        return {name: total / self.pairs if self.pairs else math.nan for name, total in self.totals.items()}


class WarpError:
    """Streaming warping error of one video: :meth:`update` with each frame (and its reference), then :attr:`value`."""

    def __init__(self, preset: str = "medium", max_side: int | None = None, channel_reduction: str = "mean", skip_cuts: bool = True):
        self._errors = WarpErrors(("video",), preset, max_side, channel_reduction, skip_cuts)

    def update(self, frame: np.ndarray, reference: np.ndarray | None = None) -> float | None:
        """Add frame t; returns E_pair(t-1, t), or None for the first frame and after a scene cut."""
        errors = self._errors.update(frame if reference is None else reference, {"video": frame})
        return None if errors is None else errors["video"]

    @property
    def pairs(self) -> int:
        return self._errors.pairs

    @property
    def cuts(self) -> int:
        return self._errors.cuts

    @property
    def value(self) -> float:
        """Mean E_pair over the pairs seen (nan before two frames)."""
        return self._errors.values["video"]


def colour_histograms(frame: np.ndarray) -> np.ndarray:
    """(3, 256) float64 per-channel histograms of an RGB uint8 frame, each summing to 1."""
    _check_frame(frame, "frame")
    hists = np.stack([np.bincount(frame[..., c].ravel(), minlength=256) for c in range(3)])
    return hists / float(frame.shape[0] * frame.shape[1])


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (natural log) between distributions along the last axis."""
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> np.ndarray:
        ratio = np.divide(a, m, out=np.ones_like(a), where=a > 0)
        return np.sum(a * np.log(ratio), axis=-1)

    return 0.5 * kl(p) + 0.5 * kl(q)


class CDC:
    """Streaming colour distribution consistency: :meth:`update` per frame, then :attr:`value`."""

    def __init__(self, gaps: tuple[int, ...] = CDC_GAPS) -> None:
        if not gaps or min(gaps) < 1:
            raise ConfigError(f"CDC gaps must be positive, got {gaps}")
        self.gaps = tuple(gaps)
        self._hists: deque[np.ndarray] = deque(maxlen=max(self.gaps))
        self._sums = dict.fromkeys(self.gaps, 0.0)
        self._counts = dict.fromkeys(self.gaps, 0)

    def update(self, frame: np.ndarray) -> None:
        hist = colour_histograms(frame)
        for g in self.gaps:
            if len(self._hists) >= g:
                self._sums[g] += float(np.mean(js_divergence(self._hists[-g], hist)))
                self._counts[g] += 1
        self._hists.append(hist)

    @property
    def per_gap(self) -> dict[int, float]:
        """Mean JS divergence for each gap (nan where the video is too short for it)."""
        return {g: (self._sums[g] / self._counts[g] if self._counts[g] else math.nan) for g in self.gaps}

    @property
    def value(self) -> float:
        """Mean over the gaps that have at least one pair (nan for a single frame)."""
        values = [v for v in self.per_gap.values() if not math.isnan(v)]
        return float(np.mean(values)) if values else math.nan


def _pairs(frames: Iterable[np.ndarray], reference: Iterable[np.ndarray] | None) -> Iterator[tuple]:
    if reference is None:
        for frame in frames:
            yield frame, None
        return
    missing = object()
    likeness = []
    for frame, ref in zip_longest(frames, reference, fillvalue=missing):
        if frame is missing or ref is missing:
            raise InputError("the video and its reference have different frame counts")
        (fh, fw), (rh, rw) = frame.shape[:2], ref.shape[:2]
        if abs(fw * rh - rw * fh) > max(fw, rw, fh, rh):  # another picture shape (a smaller proxy of the source is fine)
            raise InputError(f"the reference is {rw}x{rh} but the video is {fw}x{fh} (another aspect ratio); "
                             "give the source the video was made from")
        likeness.append(layout_likeness(frame, ref))
        yield frame, ref
    if likeness and float(np.median(likeness)) < MIN_LIKENESS:
        raise InputError(f"the reference does not look like the video's source (layout correlation "
                         f"{float(np.median(likeness)):.2f} < {MIN_LIKENESS}); give the source the video was made from")


MIN_LIKENESS = 0.3  # median correlation of grey thumbnails below which a reference is not the video's source
_THUMB = (16, 16)


def layout_likeness(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two frames' grey 16x16 thumbnails: near 1 for a frame and its colorized or restyled
    version (the layout survives), near 0 for unrelated pictures; 1 when both are flat."""
    ta, tb = (cv2.resize(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), _THUMB, interpolation=cv2.INTER_AREA).astype(np.float64).ravel()
              for x in (a, b))
    ta, tb = ta - ta.mean(), tb - tb.mean()
    norm = math.sqrt(float(ta @ ta) * float(tb @ tb))
    return 1.0 if norm < 1e-6 else float(ta @ tb) / norm


def flicker_report(
    frames: Iterable[np.ndarray],
    reference: Iterable[np.ndarray] | None = None,
    preset: str = "medium",
    max_side: int | None = None,
) -> dict:
    """Warping error and CDC of a video given as an iterable of RGB uint8 frames, in one pass.

    ``reference`` (the source video, same frame count and aspect ratio, any resolution; a reference whose
    layout does not match the video's is refused) is where the flow is computed; without it
    the flow comes from ``frames``. Returns ``{"frames", "pairs", "warp_error", "flow_on", "cdc",
    "cdc_gaps"}``; the metrics are nan when the video is too short.
    """
    werr = WarpError(preset, max_side)
    cdc = CDC()
    count = 0
    for frame, ref in _pairs(frames, reference):
        werr.update(frame, ref)
        cdc.update(frame)
        count += 1
    return {
        "frames": count,
        "pairs": werr.pairs,
        "cuts": werr.cuts,
        "warp_error": werr.value,
        "flow_on": "frames" if reference is None else "reference",
        "cdc": cdc.value,
        "cdc_gaps": cdc.per_gap,
    }


def read_video_frames(path: str) -> Iterator[np.ndarray]:
    """Decode the first video stream of ``path`` to RGB uint8 frames with PyAV (a minimal loop)."""
    import av  # a core dependency; imported here so the metrics import fast
    try:
        container = av.open(str(path))
    except (OSError, av.error.FFmpegError) as exc:
        raise InputError(f"cannot open {path}: {exc}") from exc
    with container:
        if not container.streams.video:
            raise InputError(f"{path} has no video stream")
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")
