"""Training pairs for the temporal warp loss: synthetic motion on still photos and frames of real clips.

A pair is a dict of float tensors on the training device::

    prev  (N, 3, H, W)  frame t-1, RGB in [0, 1]
    cur   (N, 3, H, W)  frame t
    flow  (N, 2, H, W)  backward flow f_{t->t-1} in pixels (x then y): cur(p) ~ prev(p + flow(p)),
                        the convention of :mod:`filmgan.temporal.flow`
    mask  (N, 1, H, W)  1 where pixel p of frame t is visible in frame t-1 (not occluded, target in frame)

**Synthetic motion** turns the photo sets into video data (Wang et al., "Consistent Video Style Transfer
via Compound Regularization", AAAI 2020, train on single images with synthetic flow). The camera motion is
a random smooth field -- a global affine map (small rotation, scale and translation) plus a local elastic
field (a coarse grid of Gaussian displacements upsampled bicubically) -- and, like FlyingChairs (Dosovitskiy
et al., "FlowNet", ICCV 2015), an independently moving foreground layer (an elliptical cut-out of another
photo) so that pairs contain real occlusions. Frame t-1 is the centre of a larger canvas, frame t samples
the canvas (background) and frame t-1 (object) along the known flow, so the flow is exact and so is the
mask: a background pixel of frame t is occluded when its bilinear source touches the object in frame t-1
(the region the object uncovers) or leaves frame t-1 (content entering the frame). Small photometric noise
(per-frame gain and offset, per-pixel Gaussian noise) is added afterwards so the generator learns to ignore
it.

**Real clip pairs** are consecutive frames of videos, held in memory at a working size with their DIS flow
in both directions and the forward-backward occlusion mask of :func:`filmgan.temporal.flow.occlusion_mask`
(Sundaram et al. 2010; Ruder et al. 2016). Pairs across a hard cut are left out.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, InputError
from .data import ImageBank, resize_short_side


@dataclass(frozen=True)
class MotionConfig:
    """Ranges of the synthetic motion (uniform in [-max, max] unless said otherwise)."""

    rotation_deg: float = 2.0  # camera rotation
    scale: float = 0.03  # camera zoom, relative
    shift: float = 0.04  # camera translation, fraction of the crop side
    elastic_px: float = 1.0  # std of the local elastic displacement (px)
    elastic_grid: int = 4  # control points per side of the elastic field
    object_probability: float = 0.7  # chance that a pair has a moving foreground object
    object_size: tuple[float, float] = (0.15, 0.35)  # semi-axes, fraction of the crop side
    object_shift: float = 0.08  # object translation, fraction of the crop side
    object_rotation_deg: float = 6.0
    gain: float = 0.02  # per-frame brightness gain
    offset: float = 0.01  # per-frame, per-channel offset
    noise: float = 0.01  # per-pixel Gaussian noise std (RGB in [0, 1])

    def margin(self, crop: int) -> int:
        """Canvas border (px) so that the camera motion mostly samples real content."""
        reach = crop * (self.shift + self.scale + math.radians(self.rotation_deg)) + 3 * self.elastic_px
        return int(math.ceil(reach)) + 1

    def without_noise(self) -> "MotionConfig":
        return MotionConfig(**{**asdict(self), "gain": 0.0, "offset": 0.0, "noise": 0.0})


def _uniform(gen: torch.Generator, shape, bound: float) -> torch.Tensor:
    return (torch.rand(shape, generator=gen) * 2.0 - 1.0) * bound


def pixel_grid(h: int, w: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) pixel coordinates, each (1, H, W) float32."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32, device=device), torch.arange(w, dtype=torch.float32, device=device), indexing="ij")
    return xs[None], ys[None]


def sample_at(image: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``image`` (N, C, H, W) at pixel coordinates ``x``, ``y`` (N, H', W'), border clamped.

    ``align_corners=True`` maps pixel centres 0 and W-1 to -1 and 1, so this equals ``cv2.remap`` with
    ``INTER_LINEAR`` and ``BORDER_REPLICATE``. Computed in float32.
    """
    h, w = image.shape[-2:]
    gx = x * (2.0 / max(w - 1, 1)) - 1.0
    gy = y * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1).float()
    return F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)


def inside(x: torch.Tensor, y: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """True where (x, y) lies in the frame's pixel-centre rectangle [0, w-1] x [0, h-1]."""
    return (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


def random_smooth_flow(gen: torch.Generator, n: int, size: int, cfg: MotionConfig) -> torch.Tensor:
    """(N, 2, size, size) backward flow: global affine (about the centre) plus a bicubic elastic field."""
    theta = _uniform(gen, (n, 1, 1), math.radians(cfg.rotation_deg))
    scale = 1.0 + _uniform(gen, (n, 1, 1), cfg.scale)
    tx, ty = _uniform(gen, (2, n, 1, 1), cfg.shift * size)
    x, y = pixel_grid(size, size)
    c = (size - 1) / 2.0
    dx, dy = x - c, y - c
    qx = scale * (torch.cos(theta) * dx - torch.sin(theta) * dy) + c + tx
    qy = scale * (torch.sin(theta) * dx + torch.cos(theta) * dy) + c + ty
    flow = torch.stack([qx - x, qy - y], dim=1)
    if cfg.elastic_px > 0:
        coarse = torch.randn((n, 2, cfg.elastic_grid, cfg.elastic_grid), generator=gen) * cfg.elastic_px
        flow = flow + F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True)
    return flow


def _ellipses(gen: torch.Generator, n: int, size: int, cfg: MotionConfig):
    """Random object ellipses (centre, semi-axes, angle) and their motion (rotation, translation)."""
    centre = (0.2 + 0.6 * torch.rand((n, 2), generator=gen)) * (size - 1)
    lo, hi = cfg.object_size
    axes = (lo + (hi - lo) * torch.rand((n, 2), generator=gen)) * size
    angle = torch.rand(n, generator=gen) * math.pi
    turn = _uniform(gen, n, math.radians(cfg.object_rotation_deg))
    move = _uniform(gen, (n, 2), cfg.object_shift * size)
    present = torch.rand(n, generator=gen) < cfg.object_probability
    return centre, axes, angle, turn, move, present


def _in_ellipse(x, y, centre, axes, angle) -> torch.Tensor:
    """(N, H, W) bool: points inside each ellipse."""
    cx, cy = centre[:, 0, None, None], centre[:, 1, None, None]
    ca, sa = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    u = (ca * (x - cx) + sa * (y - cy)) / axes[:, 0, None, None]
    v = (-sa * (x - cx) + ca * (y - cy)) / axes[:, 1, None, None]
    return u * u + v * v <= 1.0


def _photometric(gen: torch.Generator, frames: torch.Tensor, cfg: MotionConfig) -> torch.Tensor:
    n = frames.shape[0]
    if cfg.gain <= 0 and cfg.offset <= 0 and cfg.noise <= 0:
        return frames
    gain = 1.0 + _uniform(gen, (n, 1, 1, 1), cfg.gain)
    offset = _uniform(gen, (n, 3, 1, 1), cfg.offset)
    noise = torch.randn(frames.shape, generator=gen) * cfg.noise
    return (frames * gain.to(frames.device) + offset.to(frames.device) + noise.to(frames.device)).clamp_(0.0, 1.0)


def synthetic_pairs(canvas: torch.Tensor, gen: torch.Generator, crop: int, cfg: MotionConfig = MotionConfig()) -> dict[str, torch.Tensor]:
    """Pairs with exactly known flow and occlusions from (N, 3, C, C) RGB canvases (C >= crop, [0, 1]).

    Frame t-1 is the centred crop of each canvas with, in most pairs, an elliptical cut-out of the next
    canvas in the batch on top (of a flipped copy when N = 1); see the module docstring.
    """
    n, _, side, _ = canvas.shape
    if side < crop:
        raise ConfigError(f"canvas of {side} px is smaller than the crop {crop}")
    device, m = canvas.device, (side - crop) // 2
    canvas = canvas.float()
    bg_prev = canvas[:, :, m : m + crop, m : m + crop]
    texture = bg_prev.roll(1, dims=0) if n > 1 else bg_prev.flip(-1).flip(-2)
    cam = random_smooth_flow(gen, n, crop, cfg).to(device)
    centre, axes, angle, turn, move, present = (t.to(device) for t in _ellipses(gen, n, crop, cfg))
    x, y = pixel_grid(crop, crop, device)
    obj_prev = _in_ellipse(x, y, centre, axes, angle) & present[:, None, None]
    prev = torch.where(obj_prev[:, None], texture, bg_prev)
    # object motion g: p (frame t) -> R(turn) (p - (centre + move)) + centre (frame t-1)
    c1x, c1y = (centre + move)[:, 0, None, None], (centre + move)[:, 1, None, None]
    ct, st = torch.cos(turn)[:, None, None], torch.sin(turn)[:, None, None]
    ox = ct * (x - c1x) - st * (y - c1y) + centre[:, 0, None, None]
    oy = st * (x - c1x) + ct * (y - c1y) + centre[:, 1, None, None]
    obj_cur = _in_ellipse(ox, oy, centre, axes, angle) & present[:, None, None]
    bx, by = x + cam[:, 0], y + cam[:, 1]
    bg_cur = sample_at(canvas, bx + m, by + m)
    cur = torch.where(obj_cur[:, None], sample_at(prev, ox, oy), bg_cur)
    flow = torch.where(obj_cur[:, None], torch.stack([ox - x, oy - y], 1), cam)
    # background pixels are occluded when their bilinear source touches the object of frame t-1
    touches = sample_at(obj_prev[:, None].float(), bx, by)[:, 0] > 1e-6
    tx, ty = x + flow[:, 0], y + flow[:, 1]
    valid = inside(tx, ty, crop, crop) & (obj_cur | ~touches)
    return {
        "prev": _photometric(gen, prev, cfg),
        "cur": _photometric(gen, cur, cfg),
        "flow": flow,
        "mask": valid[:, None].float(),
    }


@dataclass
class ClipPairs:
    """Consecutive frame pairs of real clips in memory: uint8 frames, float16 backward flow, bool mask."""

    prev: list[np.ndarray]
    cur: list[np.ndarray]
    flow: list[np.ndarray]  # f_{t->t-1}, (H, W, 2) float16
    valid: list[np.ndarray]  # (H, W) bool
    names: list[str]

    @classmethod
    def load(cls, videos: Sequence[str | Path], load_size: int = 256, pairs_per_clip: int = 48, preset: str = "medium", cut_threshold: float = 0.5) -> "ClipPairs":
        """Up to ``pairs_per_clip`` evenly spaced pairs (i, i+1) per video, frames at short side ``load_size``."""
        from ..temporal.flow import FlowEstimator, occlusion_mask
        from ..temporal.scenecut import cut_score

        estimator = FlowEstimator(preset)
        out = cls([], [], [], [], [])
        for video in videos:
            for index, a, b in _frame_pairs(Path(video), pairs_per_clip):
                a, b = resize_short_side(a, load_size), resize_short_side(b, load_size)
                if cut_score(a, b) >= cut_threshold:
                    continue
                bwd, fwd = estimator(b, a), estimator(a, b)
                out.prev.append(a)
                out.cur.append(b)
                out.flow.append(bwd.astype(np.float16))
                out.valid.append(~occlusion_mask(bwd, fwd))
                out.names.append(f"{video}#{index}")
        if not out.names:
            raise InputError(f"no usable frame pairs in {', '.join(map(str, videos))}")
        return out

    def __len__(self) -> int:
        return len(self.names)

    def sample(self, gen: torch.Generator, batch: int, crop: int, device: torch.device) -> dict[str, torch.Tensor]:
        """Random pairs, random crops and horizontal flips; targets leaving the crop are masked."""
        prev, cur, flow, valid = [], [], [], []
        for _ in range(batch):
            i = int(torch.randint(len(self), (1,), generator=gen))
            h, w = self.prev[i].shape[:2]
            if min(h, w) < crop:
                raise InputError(f"clip frames of {w}x{h} are smaller than the crop {crop}; load the clips larger")
            y = int(torch.randint(h - crop + 1, (1,), generator=gen))
            x = int(torch.randint(w - crop + 1, (1,), generator=gen))
            window = (slice(y, y + crop), slice(x, x + crop))
            parts = [self.prev[i][window], self.cur[i][window], self.flow[i][window].astype(np.float32), self.valid[i][window]]
            if bool(torch.rand((), generator=gen) < 0.5):
                parts = [p[:, ::-1] for p in parts]
                parts[2] = parts[2] * np.float32([-1.0, 1.0])
            for store, part in zip((prev, cur, flow, valid), parts):
                store.append(np.ascontiguousarray(part))
        f = torch.from_numpy(np.stack(flow)).permute(0, 3, 1, 2)
        x, y = pixel_grid(crop, crop)
        in_crop = inside(x + f[:, 0], y + f[:, 1], crop, crop)
        mask = torch.from_numpy(np.stack(valid)) & in_crop
        return {
            "prev": _to_float(prev).to(device),
            "cur": _to_float(cur).to(device),
            "flow": f.to(device),
            "mask": mask[:, None].float().to(device),
        }

    def describe(self) -> dict:
        clips = sorted({n.rsplit("#", 1)[0] for n in self.names})
        return {"clips": clips, "pairs": len(self), "size": list(self.prev[0].shape[1::-1])}


def _to_float(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div_(255.0)


def _frame_pairs(path: Path, count: int):
    """(index, frame i, frame i+1) for up to ``count`` evenly spaced i, decoding the clip once."""
    from ..config import DecodeConfig
    from ..video.probe import probe
    from ..video.reader import VideoReader

    info = probe(path)
    total = info.frames or 0
    stride = max(1, (total - 1) // max(count, 1)) if total > 1 else 8
    wanted, last = 0, None
    for batch in VideoReader(path, DecodeConfig(batch_size=8), info=info):
        for k, frame in enumerate(batch.frames):
            index = batch.start_index + k
            if last is not None and index - 1 == wanted * stride and wanted < count:
                yield index - 1, last, frame.copy()
                wanted += 1
            last = frame.copy() if index == wanted * stride else None
        if wanted >= count:
            return


@dataclass
class PairSampler:
    """Mixes synthetic pairs (from a photo bank) and real clip pairs; ``real_fraction`` of each batch is real."""

    bank: ImageBank | None
    clips: ClipPairs | None = None
    motion: MotionConfig = MotionConfig()
    real_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.bank is None and self.clips is None:
            raise ConfigError("temporal training needs photos (synthetic motion) or clips (real pairs)")
        if not 0.0 <= self.real_fraction <= 1.0:
            raise ConfigError(f"real_fraction must be in [0, 1], got {self.real_fraction}")
        if self.clips is None:
            self.real_fraction = 0.0
        elif self.bank is None:
            self.real_fraction = 1.0

    def sample(self, gen: torch.Generator, batch: int, crop: int, device: torch.device) -> dict[str, torch.Tensor]:
        n_real = int(round(batch * self.real_fraction))
        parts = []
        if batch - n_real > 0:
            canvas = self.bank.sample(gen, batch - n_real, crop + 2 * self.motion.margin(crop)).to(device)
            parts.append(synthetic_pairs(canvas, gen, crop, self.motion))
        if n_real > 0:
            parts.append(self.clips.sample(gen, n_real, crop, device))
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}

    def describe(self) -> dict:
        return {
            "synthetic": {"images": len(self.bank.images), "fingerprint": self.bank.fingerprint(), "motion": asdict(self.motion)} if self.bank else None,
            "real": self.clips.describe() if self.clips else None,
            "real_fraction": self.real_fraction,
        }
