"""Still images in and out (PNG, JPEG, TIFF, BMP, WebP) as RGB uint8, written atomically.

Reading normalises everything to RGB uint8 (H, W, 3): grey becomes three equal channels, 16-bit is
rounded to 8-bit, float images in [0, 1] are scaled, an alpha channel is composited over white (what a
viewer shows on a page), and JPEG EXIF orientation is applied. Files go through ``cv2.imdecode`` /
``imencode`` on bytes, so non-ASCII paths work.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, OutputError
from . import atomic

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
_EXIF_FORMATS = (".jpg", ".jpeg")  # decoded with IMREAD_COLOR so OpenCV applies the EXIF orientation


def is_image(path: str | os.PathLike) -> bool:
    """True if ``path`` has a still-image extension filmgan reads and writes."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _to_uint8(data: np.ndarray) -> np.ndarray:
    if data.dtype == np.uint8:
        return data
    if data.dtype == np.uint16:
        return ((data.astype(np.uint32) + 128) // 257).astype(np.uint8)
    data = data.astype(np.float32)
    if data.size and float(np.nanmax(data)) <= 1.0:
        data = data * 255.0
    return np.clip(np.nan_to_num(data) + 0.5, 0, 255).astype(np.uint8)


def _over_white(bgra: np.ndarray) -> np.ndarray:
    alpha = bgra[..., 3:4].astype(np.float32) / 255.0
    return (bgra[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """RGB uint8 (H, W, 3) of the image at ``path``; InputError if missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    raw = np.fromfile(path, dtype=np.uint8)
    flags = cv2.IMREAD_COLOR if path.suffix.lower() in _EXIF_FORMATS else cv2.IMREAD_UNCHANGED
    data = cv2.imdecode(raw, flags) if raw.size else None
    if data is None:
        raise InputError(f"not a readable image: {path}")
    data = _to_uint8(data)
    if data.ndim == 2:
        data = data[..., None]
    if data.shape[2] == 1:
        return np.repeat(data, 3, axis=2)
    if data.shape[2] == 4:
        data = _over_white(data)
    return np.ascontiguousarray(data[..., 2::-1])


def write_image(path: str | os.PathLike, rgb: np.ndarray, *, overwrite: bool = True) -> Path:
    """Write RGB uint8 (H, W, 3) or grey (H, W) to ``path`` (format from the extension), atomically."""
    path = Path(path)
    if not is_image(path):
        raise OutputError(f"unsupported image extension '{path.suffix}' ({', '.join(IMAGE_EXTENSIONS)})")
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or not (rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 3)):
        raise ValueError(f"write_image needs uint8 (H, W, 3) or (H, W), got {rgb.dtype} {rgb.shape}")
    bgr = rgb if rgb.ndim == 2 else np.ascontiguousarray(rgb[..., ::-1])
    ok, encoded = cv2.imencode(path.suffix.lower(), bgr)
    if not ok:
        raise OutputError(f"could not encode {path.suffix} image for {path}")
    with atomic.atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as f:
            f.write(encoded.tobytes())
    return path
