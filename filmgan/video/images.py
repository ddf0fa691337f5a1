"""Still images in and out (PNG, JPEG, TIFF, BMP, WebP) as RGB uint8, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, OutputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | Path) -> np.ndarray:
    """RGB uint8 (H, W, 3). Grey images become 3 equal channels, alpha is dropped, 16-bit is scaled."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise InputError(f"not a readable image: {path}")
    if data.dtype == np.uint16:
        data = (data.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    elif data.dtype != np.uint8:
        data = np.clip(data.astype(np.float32) * (255.0 if data.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if data.ndim == 2:
        return np.repeat(data[..., None], 3, axis=2)
    if data.shape[2] == 4:
        data = data[..., :3]
    return np.ascontiguousarray(data[..., ::-1])


def write_image(path: str | Path, rgb: np.ndarray) -> Path:
    """Write RGB uint8 to ``path`` (format from the extension) via a temporary name and a rename."""
    path = Path(path)
    if not is_image(path):
        raise OutputError(f"unsupported image extension '{path.suffix}' ({', '.join(IMAGE_EXTENSIONS)})")
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        ok = cv2.imwrite(str(tmp), np.ascontiguousarray(rgb[..., ::-1]))
        if not ok:
            raise OutputError(f"could not write image {path}")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"could not write {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
