"""Coloured keyframes carried through their shot along optical flow, forwards and backwards.

A keyframe is a frame of the shot coloured by the user (any paint or grading tool); only its chroma is used.
From each keyframe the chroma is carried frame by frame in both directions until the shot ends (a scene
cut) or the next keyframe. Per step, with the backward flow ``f = flow(x_t, x_s)`` (s the frame before in
the direction of travel; DIS on the frames at the render size)::

    ab_t   = warp(ab_s, f)
    conf_t = warp(conf_s, f) * M * decay * exp(-((warp(L_key, f) - L_t) / tau)^2)

``M`` is the blender's trust mask (forward-backward consistency and motion boundaries, Sundaram et al.
2010, ignored in flat regions; targets outside the frame), feathered; ``L_key`` is the keyframe's source
lightness carried along with the chroma, so drift and new objects that the per-step checks miss still lose
confidence (they no longer look like what was coloured). A pixel once lost stays lost in that direction.
Forward and backward propagations are averaged by confidence and give ``conf = 1 - (1 - c_f)(1 - c_b)``;
the processor takes ``conf * carried + (1 - conf) * network``, the network conditioned on the palette of
the shot's keyframes (:mod:`filmgan.guide.reference`) and given their colours wherever the frame shows
content that a keyframe shows (:mod:`filmgan.guide.exemplar`: an object that the flow lost, or that comes
back), so where the propagation is unsure the prediction takes over in the keyframes' colours.

Backward propagation needs the frames after the current one, hence a pre-pass (:func:`track_frames`):
it decodes the frames once at the render size (grey, for flow; ``guide.build.track_video``), finds the cuts, runs both propagations and
keeps the result per frame in a temporary memory-mapped file (3 float16 channels at the render size,
~390 kB a frame at 336x192), so memory does not grow with the shot. The render then reads frame by frame.
A frame range (a farm chunk) is tracked from the keyframes of its shot: the pre-pass decodes from the last
keyframe before the range to the first one after it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np

from ..errors import ConfigError, InputError
from ..temporal.blend import feather
from ..temporal.flow import FlowEstimator, flat_mask, occlusion_mask, out_of_frame
from ..temporal.scenecut import SceneCutDetector
from ..temporal.warp import warp
from ..video.color import rgb_to_lab, rgb_to_luminance_l
from .exemplar import Exemplar, ExemplarConfig
from .reference import Palette, PaletteConfig


@dataclass(frozen=True)
class Keyframe:
    """Frame ``index`` of the source, coloured by the user in ``path``."""

    index: int
    path: Path


def parse_keyframe(spec: str) -> Keyframe:
    """``'120=frame120.png'`` -> Keyframe(120, Path('frame120.png')); ConfigError on anything else."""
    index, sep, path = spec.partition("=")
    if not sep or not path:
        raise ConfigError(f"keyframe '{spec}': expected FRAME=IMAGE, e.g. 120=frame120_coloured.png")
    try:
        n = int(index)
    except ValueError:
        raise ConfigError(f"keyframe '{spec}': '{index}' is not a frame number") from None
    if n < 0:
        raise ConfigError(f"keyframe '{spec}': frame numbers start at 0")
    return Keyframe(n, Path(path))


def check_keyframes(keyframes: Sequence[Keyframe]) -> list[Keyframe]:
    """Sorted keyframes; ConfigError on a frame given twice or a missing file."""
    seen: dict[int, Path] = {}
    for k in keyframes:
        if k.index in seen:
            raise ConfigError(f"frame {k.index} has two keyframes ({seen[k.index]} and {k.path})")
        if not k.path.is_file():
            raise ConfigError(f"keyframe {k.index}: no such file {k.path}")
        seen[k.index] = k.path
    return sorted(keyframes, key=lambda k: k.index)


@dataclass(frozen=True)
class PropagationConfig:
    """``decay``: confidence kept per carried frame; ``tau``: lightness change (L units) of the carried
    keyframe at which confidence falls to 1/e; the rest as the temporal blender's (``BlendConfig``)."""

    decay: float = 0.99
    tau: float = 12.0
    flow_preset: str = "medium"
    occlusion_slack: float = 0.5
    flat_threshold: float = 1.0
    feather: float = 1.0
    cut_threshold: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.decay <= 1.0 or self.tau <= 0:
            raise ConfigError(f"keyframe propagation: decay in (0, 1] and tau > 0 needed, got {self}")


def keyframe_chroma(image: np.ndarray, size: tuple[int, int], source_size: tuple[int, int], what: str) -> np.ndarray:
    """The ab (h, w, 2) of a coloured keyframe at the render ``size`` = (w, h); ConfigError when its aspect
    ratio is not the source's (``source_size`` = (W, H)) within 1 %."""
    kh, kw = image.shape[:2]
    if abs(kw / kh - source_size[0] / source_size[1]) > 0.01 * source_size[0] / source_size[1]:
        raise ConfigError(f"{what} is {kw}x{kh}, but the video is {source_size[0]}x{source_size[1]} (aspect ratios differ)")
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return rgb_to_lab(small)[..., 1:]


class Carrier:
    """Carries (ab, conf, keyframe lightness) from one frame to the next along the flow."""

    def __init__(self, config: PropagationConfig):
        self.config = config
        self._flow = FlowEstimator(config.flow_preset)
        self.state: tuple[np.ndarray, np.ndarray] | None = None  # (grey uint8, carried float32 (h, w, 4))

    def start(self, grey: np.ndarray, ab: np.ndarray, lightness: np.ndarray) -> np.ndarray:
        carried = np.dstack([ab, np.ones(grey.shape, np.float32), lightness]).astype(np.float32)
        self.state = (grey, carried)
        return carried

    def step(self, grey: np.ndarray, lightness: np.ndarray) -> np.ndarray:
        """The carried (h, w, 4) = (a, b, conf, L_key) at the next frame (grey uint8, lightness 0-100)."""
        c = self.config
        prev_grey, prev = self.state
        bwd = self._flow.calc(grey, prev_grey)
        fwd = self._flow.calc(prev_grey, grey)
        bad = occlusion_mask(bwd, fwd, c.occlusion_slack, mark_out_of_frame=False)
        if c.flat_threshold > 0:
            bad &= ~flat_mask(grey, c.flat_threshold)
        bad |= out_of_frame(bwd)
        carried = warp(prev, bwd)
        drift = (carried[..., 3] - lightness) / c.tau
        carried[..., 2] *= feather((~bad).astype(np.float32), c.feather) * np.exp(-drift * drift) * c.decay
        self.state = (grey, carried)
        return carried


# Keyframes are matched at the render size (frames and keyframes at one scale: the colorizer's alignment, 16,
# not the photos' 32, and no shrinking), and trusted from a lower similarity than another photo: the shot's
# own objects, moved and deformed. The gate
# was chosen on the validation clips (eval_guided --clips validation; below automatic over frames 1-48 /
# 49-96, E_warp against automatic): 0.7-0.95 58 % / 44 % 0.89x, 0.6-0.9 63 % / 52 %, 0.5-0.8 67 % / 59 %,
# 0.4-0.7 69 % / 61 % 0.92x, 0.3-0.6 69 % / 61 % 0.94x.
KEYFRAME_EXEMPLAR = ExemplarConfig(max_side=4096, align=16, confident_from=0.4, confident_at=0.7)


@dataclass
class KeyframeTrack:
    """Per-frame propagated chroma of frames ``first .. first + count - 1``: ``read(i)`` -> (ab, conf) or
    None where no keyframe reaches; ``palette(i)``: the palette of the keyframes of frame i's shot;
    ``exemplar(i)``: the keyframes next to frame i in its shot (the last at or before it and the first at or
    after it), whose colours go where frame i shows their content. Those two are the same whether the shot
    is rendered whole or in farm chunks (a chunk's pre-pass reaches from the keyframe before it to the one
    after it), so chunks match what a whole render gives."""

    first: int
    store: np.ndarray  # (count, h, w, 3) float16 memmap: a, b, conf
    reached: np.ndarray  # (count,) bool
    shot_of: np.ndarray  # (count,) int shot number
    palettes: dict[int, Palette] = field(default_factory=dict)
    keyframe_labs: dict[int, np.ndarray] = field(default_factory=dict)  # keyframe index -> its Lab at the render size
    _tmp: object = None  # the TemporaryDirectory holding the store (removed with the track)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray] | None:
        i = index - self.first
        if not 0 <= i < len(self.reached) or not self.reached[i]:
            return None
        data = np.asarray(self.store[i], np.float32)
        return data[..., :2], data[..., 2]

    def _shot(self, index: int) -> int | None:
        i = index - self.first
        return int(self.shot_of[i]) if 0 <= i < len(self.shot_of) else None

    def palette(self, index: int) -> Palette | None:
        return self.palettes.get(self._shot(index))

    def exemplar(self, index: int) -> Exemplar | None:
        """The keyframes next to frame ``index`` in its shot as an exemplar (see the class), or None."""
        shot = self._shot(index)
        keys = [k for k in self.keyframe_labs if self._shot(k) == shot] if shot is not None else []
        if not keys:
            return None
        before, after = [k for k in keys if k <= index], [k for k in keys if k >= index]
        pair = tuple(sorted(({max(before)} if before else set()) | ({min(after)} if after else set())))
        if pair not in self._exemplars:
            self._exemplars[pair] = Exemplar([self.keyframe_labs[k] for k in pair], KEYFRAME_EXEMPLAR)
        return self._exemplars[pair]

    def __post_init__(self) -> None:
        self._exemplars: dict[tuple[int, ...], Exemplar] = {}  # built on first use, one per keyframe pair

    def close(self) -> None:
        self.store = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def decode_range(keyframes: Sequence[Keyframe], frame_range: tuple[int, int | None] | None) -> tuple[int, int | None]:
    """The frames the pre-pass decodes for a render of ``frame_range`` (None: the whole file): from the last
    keyframe at or before its start to the first keyframe at or after its end."""
    if frame_range is None:
        return 0, None
    start, end = frame_range
    before = [k.index for k in keyframes if k.index <= start]
    after = [k.index for k in keyframes if end is not None and k.index >= end]
    return (max(before) if before else start), (min(after) + 1 if after else end) if end is not None else None


def track_frames(frames: Iterable[np.ndarray], first: int, keyframes: Sequence[Keyframe], images: dict[int, np.ndarray],
                 source_size: tuple[int, int], config: PropagationConfig | None = None,
                 palette_config: PaletteConfig | None = None, bins: np.ndarray | None = None) -> KeyframeTrack:
    """Track ``keyframes`` (their coloured ``images`` by index) through ``frames``: the source frames at the
    render size (RGB uint8), frame ``first`` first, in order."""
    config = config or PropagationConfig()
    tmp = tempfile.TemporaryDirectory(prefix="filmgan-keyframes-")
    shots, cut = [], SceneCutDetector(config.cut_threshold)
    grey_store = None
    shot = 0
    for n, frame in enumerate(frames):
        if grey_store is None:
            grey_store = _Growing(Path(tmp.name) / "grey.u8", frame.shape[:2])
        shot += int(cut.is_cut(frame)) if n else 0
        grey_store.append(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), rgb_to_luminance_l(frame))
        shots.append(shot)
    if grey_store is None:
        raise InputError("keyframe tracking: the source has no frames in the range")
    count, (h, w) = len(shots), grey_store.shape
    shot_of = np.asarray(shots)
    inside = [k for k in keyframes if first <= k.index < first + count]
    if not inside:
        raise ConfigError(f"no keyframe lies in frames {first}-{first + count - 1} of the source")
    chroma = {k.index: keyframe_chroma(images[k.index], (w, h), source_size, f"keyframe {k.index} ({k.path})") for k in inside}
    store = np.lib.format.open_memmap(Path(tmp.name) / "track.npy", "w+", np.float16, (count, h, w, 3))
    reached = np.zeros(count, bool)
    for i, carried in _sweep(grey_store, shot_of, first, chroma, config, +1):
        store[i] = carried[..., :3]
        reached[i] = True
    for i, carried in _sweep(grey_store, shot_of, first, chroma, config, -1):
        store[i] = _combine(np.asarray(store[i], np.float32), carried) if reached[i] else carried[..., :3]
        reached[i] = True
    labs = {k.index: np.dstack([grey_store.lightness(k.index - first), chroma[k.index]]) for k in inside}
    palettes = {}
    if bins is not None:
        for s in np.unique(shot_of):
            keys = [k for k in inside if shot_of[k.index - first] == s]
            if keys:
                palettes[int(s)] = Palette(np.mean([Palette.from_lab(labs[k.index], bins, config=palette_config).hist for k in keys], axis=0), palette_config)
    store.flush()
    grey_store.close()
    return KeyframeTrack(first, store, reached, shot_of, palettes, labs, tmp)


def _combine(f: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a, b, conf) of the forward (h, w, 3+) and backward (h, w, 3+) propagations, by confidence."""
    cf, cb = f[..., 2:3], b[..., 2:3]
    ab = (cf * f[..., :2] + cb * b[..., :2]) / np.maximum(cf + cb, 1e-6)
    return np.dstack([ab, 1.0 - (1.0 - cf) * (1.0 - cb)])


def _sweep(greys: "_Growing", shot_of: np.ndarray, first: int, chroma: dict[int, np.ndarray], config: PropagationConfig,
           direction: int) -> Iterable[tuple[int, np.ndarray]]:
    """(position, carried (h, w, 4)) for every frame reached from a keyframe in ``direction`` (+1 forwards,
    -1 backwards), until the next keyframe or the shot's end; one frame in memory at a time."""
    count = len(shot_of)
    order = range(count) if direction > 0 else range(count - 1, -1, -1)
    carrier, shot = None, None
    for i in order:
        key = chroma.get(first + i)
        if key is not None:
            carrier = Carrier(config)
            yield i, carrier.start(greys.grey(i), key, greys.lightness(i))
            shot = shot_of[i]
        elif carrier is not None and shot_of[i] == shot:
            yield i, carrier.step(greys.grey(i), greys.lightness(i))
        else:
            carrier = None


class _Growing:
    """Grey frames and their lightness, appended one by one to files (memory-mapped when read back)."""

    def __init__(self, path: Path, shape: tuple[int, int]):
        self.shape = shape
        self._paths = (path, path.with_suffix(".f16"))
        self._files = [open(p, "wb") for p in self._paths]
        self._count = 0
        self._maps = None

    def append(self, grey: np.ndarray, lightness: np.ndarray) -> None:
        if grey.shape != self.shape:
            raise InputError(f"frame size changed within the source ({grey.shape} after {self.shape})")
        self._files[0].write(np.ascontiguousarray(grey, np.uint8).tobytes())
        self._files[1].write(np.ascontiguousarray(lightness, np.float16).tobytes())
        self._count += 1

    def _read(self):
        if self._maps is None:
            for f in self._files:
                f.close()
            self._maps = (np.memmap(self._paths[0], np.uint8, "r", shape=(self._count, *self.shape)),
                          np.memmap(self._paths[1], np.float16, "r", shape=(self._count, *self.shape)))
        return self._maps

    def grey(self, i: int) -> np.ndarray:
        return np.asarray(self._read()[0][i])

    def lightness(self, i: int) -> np.ndarray:
        return np.asarray(self._read()[1][i], np.float32)

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._maps = None
