"""Training data: photos from folders and frames from videos, held in memory at a working size.

Images are loaded once, resized so their short side is ``load_size`` and kept as uint8 RGB; batches are
random crops with random scale and horizontal flip, drawn with a ``torch.Generator`` so a resumed run
draws exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..video.images import IMAGE_EXTENSIONS, read_image

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mxf")


def list_media(paths: Sequence[str | Path], exclude: Sequence[str | Path] = ()) -> tuple[list[Path], list[Path]]:
    """(images, videos) found in the given files/folders (recursively), minus anything under ``exclude``."""
    excluded = {Path(e).resolve() for e in exclude}
    images: list[Path] = []
    videos: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise InputError(f"training data not found: {p}")
        candidates = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for q in candidates:
            resolved = q.resolve()
            if resolved in excluded or not excluded.isdisjoint(resolved.parents):  # the file or a folder above it
                continue
            suffix = q.suffix.lower()
            if suffix in IMAGE_EXTENSIONS:
                images.append(q)
            elif suffix in VIDEO_EXTENSIONS:
                videos.append(q)
    return images, videos


def resize_short_side(rgb: np.ndarray, short: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = short / min(h, w)
    if abs(s - 1.0) < 1e-6:
        return rgb
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


def video_frames(path: Path, every: int) -> Iterable[np.ndarray]:
    """Every ``every``-th frame of a video as RGB uint8."""
    from ..config import DecodeConfig
    from ..video.reader import VideoReader

    for batch in VideoReader(path, DecodeConfig(batch_size=8, skip_corrupt=True)):  # a damaged clip still gives its good frames
        for i, frame in enumerate(batch.frames):
            if (batch.start_index + i) % every == 0:
                yield frame


@dataclass
class ImageBank:
    """Images in memory (uint8 RGB, short side = load_size) with their source names."""

    images: list[np.ndarray]
    names: list[str]

    @classmethod
    def load(cls, paths: Sequence[str | Path], load_size: int, exclude: Sequence[str | Path] = (), video_every: int = 12) -> "ImageBank":
        image_paths, video_paths = list_media(paths, exclude)
        images, names = [], []
        for p in image_paths:
            images.append(resize_short_side(read_image(p), load_size))
            names.append(str(p))
        for v in video_paths:
            for i, frame in enumerate(video_frames(v, video_every)):
                images.append(resize_short_side(frame, load_size))
                names.append(f"{v}#{i * video_every}")
        if not images:
            raise InputError(f"no images or videos found in {', '.join(map(str, paths))}")
        return cls(images, names)

    def fingerprint(self) -> str:
        return hashlib.sha256("\n".join(self.names).encode()).hexdigest()[:16]

    def sample(self, gen: torch.Generator, batch: int, crop: int, scale: tuple[float, float] = (0.6, 1.0)) -> torch.Tensor:
        """(batch, 3, crop, crop) float RGB in [0, 1]: random image, random scale, random crop, random flip."""
        return self.sample_indexed(gen, batch, crop, scale)[0]

    def sample_indexed(self, gen: torch.Generator, batch: int, crop: int, scale: tuple[float, float] = (0.6, 1.0)) -> tuple[torch.Tensor, list[int]]:
        """As :meth:`sample`, with the index in ``images`` of each crop's photo."""
        out = np.empty((batch, crop, crop, 3), np.uint8)
        indices = []
        for i in range(batch):
            indices.append(int(torch.randint(len(self.images), (1,), generator=gen)))
            img = self.images[indices[-1]]
            s = float(scale[0] + (scale[1] - scale[0]) * torch.rand((), generator=gen))
            side = max(crop, round(min(img.shape[:2]) * s))
            img = resize_short_side(img, side)
            y = int(torch.randint(img.shape[0] - crop + 1, (1,), generator=gen))
            x = int(torch.randint(img.shape[1] - crop + 1, (1,), generator=gen))
            patch = img[y : y + crop, x : x + crop]
            out[i] = patch[:, ::-1] if bool(torch.rand((), generator=gen) < 0.5) else patch
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0), indices


def split_validation(data: Sequence[str], val: Sequence[str], exclude: Sequence[str], load_size: int, internal_size: int, val_count: int,
                     split: str | None = None) -> tuple[ImageBank, list[np.ndarray], dict]:
    """Training images (``data`` minus ``exclude`` and ``val``), a fixed validation set (``val_count``
    images spread over ``val``, at ``internal_size``) and the card's description of both. With no ``val``,
    the last images of the bank are held out (at most a fifth of it), deterministically. ``split``
    describes exclusion and validation in the card instead of listing every path (the project's splits)."""
    bank = ImageBank.load(data, load_size=load_size, exclude=[*exclude, *val])
    val_paths = list_media(val)[0] if val else []
    val_paths = val_paths[:: max(1, len(val_paths) // val_count)][:val_count]  # spread over every source
    val_images = [resize_short_side(read_image(p), internal_size) for p in val_paths]
    if not val_images:
        held = max(1, min(val_count, len(bank.images) // 5))
        val_images = [resize_short_side(img, internal_size) for img in bank.images[-held:]]
        bank = ImageBank(bank.images[:-held], bank.names[:-held])
    description = {
        "train_sources": [str(d) for d in data],
        "excluded": split or [str(e) for e in exclude],
        "validation": split or [str(v) for v in val] or "last images of the training set",
        "train_images": len(bank.images),
        "val_images": len(val_images),
        "fingerprint": bank.fingerprint(),
        "load_size": load_size,
    }
    return bank, val_images, description
