"""Still images in and out (PNG, JPEG, TIFF, BMP, WebP) as RGB, written atomically.

Reading normalises everything to RGB (H, W, 3): grey becomes three equal channels, float images in
[0, 1] are scaled, an alpha channel is composited over white (what a viewer shows on a page), and JPEG
EXIF orientation is applied. 16-bit images are rounded to uint8, or kept as uint16 with
``high_bit_depth=True`` (what the render path asks for); writing keeps uint16 in PNG and TIFF and
rounds it for 8-bit formats. Files go through ``cv2.imdecode`` / ``imencode`` on bytes, so non-ASCII
paths work.

Before decoding, the header's size is checked (Pillow reads only the header), so a 20000 x 20000 image is
refused in milliseconds instead of exhausting memory. A JPEG is also decoded by FFmpeg with error
detection on: libjpeg (OpenCV's decoder) only *warns* about damaged entropy-coded data and returns a
visibly broken picture, which is corruption by the same policy as video.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import CorruptMediaError, InputError, OutputError
from . import atomic
from .probe import MAX_DIMENSION

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
_EXIF_FORMATS = (".jpg", ".jpeg")  # decoded with IMREAD_COLOR so OpenCV applies the EXIF orientation


def is_image(path: str | os.PathLike) -> bool:
    """True if ``path`` has a still-image extension filmgan reads and writes."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _normalise(data: np.ndarray, high_bit_depth: bool) -> np.ndarray:
    if data.dtype == np.uint16 and high_bit_depth:
        return data
    if data.dtype == np.uint8:
        return data
    if data.dtype == np.uint16:
        return ((data.astype(np.uint32) + 128) // 257).astype(np.uint8)
    data = data.astype(np.float32)
    if data.size and float(np.nanmax(data)) <= 1.0:
        data = data * 255.0
    return np.clip(np.nan_to_num(data) + 0.5, 0, 255).astype(np.uint8)


def _over_white(bgra: np.ndarray) -> np.ndarray:
    top = 65535.0 if bgra.dtype == np.uint16 else 255.0
    alpha = bgra[..., 3:4].astype(np.float32) / top
    return (bgra[..., :3].astype(np.float32) * alpha + top * (1.0 - alpha) + 0.5).astype(bgra.dtype)


def check_header_size(path: Path) -> None:
    """InputError for an image whose header declares a size over MAX_DIMENSION (nothing is decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
    except Image.DecompressionBombError as exc:  # Pillow's own limit (~179 Mpixel) is below ours
        raise InputError(f"{path}: too large to process ({exc}); at most {MAX_DIMENSION} px a side") from exc
    except (UnidentifiedImageError, OSError, ValueError):
        return  # not a format Pillow knows, or damaged: the decoder will say
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise InputError(f"{path}: {width}x{height} is too large (at most {MAX_DIMENSION} px a side)")


def check_jpeg(path: Path) -> None:
    """CorruptMediaError if FFmpeg's JPEG decoder, with error detection on, finds damaged data."""
    import av

    if getattr(av, "FILMGAN_STAND_IN", False):  # the stand-in of a training image without FFmpeg (scripts/gpu_session): libjpeg alone
        return
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.options = {"err_detect": "explode"}
            frames = [f for f in container.decode(stream) if not f.is_corrupt]
    except av.error.FFmpegError as exc:
        raise CorruptMediaError(f"{path}: corrupt image data ({exc.__class__.__name__}: {exc}); "
                                "use skip_corrupt (--skip-corrupt) to skip damaged images") from exc
    if not frames:
        raise CorruptMediaError(f"{path}: corrupt image data (no intact picture); "
                                "use skip_corrupt (--skip-corrupt) to skip damaged images")


def read_image(path: str | os.PathLike, high_bit_depth: bool = False) -> np.ndarray:
    """RGB (H, W, 3) of the image at ``path``: uint8, or uint16 for a 16-bit file with ``high_bit_depth``.
    InputError if missing, unreadable or too large; CorruptMediaError if damaged."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    check_header_size(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size and path.suffix.lower() in _EXIF_FORMATS:
        check_jpeg(path)  # before libjpeg, which would print its warning and return the damaged picture
    flags = cv2.IMREAD_COLOR if path.suffix.lower() in _EXIF_FORMATS else cv2.IMREAD_UNCHANGED
    data = cv2.imdecode(raw, flags) if raw.size else None
    if data is None:
        raise InputError(f"not a readable image: {path}")
    data = _normalise(data, high_bit_depth)
    if data.ndim == 2:
        data = data[..., None]
    if data.shape[2] == 1:
        return np.repeat(data, 3, axis=2)
    if data.shape[2] == 4:
        data = _over_white(data)
    return np.ascontiguousarray(data[..., 2::-1])


SIXTEEN_BIT_FORMATS = (".png", ".tif", ".tiff")  # written at 16 bits when given uint16


def write_image(path: str | os.PathLike, rgb: np.ndarray, *, overwrite: bool = True) -> Path:
    """Write RGB (H, W, 3) or grey (H, W), uint8 or uint16, to ``path`` (format from the extension),
    atomically. uint16 stays 16-bit in PNG/TIFF and is rounded to 8 bits for the other formats."""
    path = Path(path)
    if not is_image(path):
        raise OutputError(f"unsupported image extension '{path.suffix}' ({', '.join(IMAGE_EXTENSIONS)})")
    rgb = np.asarray(rgb)
    if rgb.dtype not in (np.uint8, np.uint16) or not (rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 3)):
        raise ValueError(f"write_image needs uint8/uint16 (H, W, 3) or (H, W), got {rgb.dtype} {rgb.shape}")
    if rgb.dtype == np.uint16 and path.suffix.lower() not in SIXTEEN_BIT_FORMATS:
        rgb = _normalise(rgb, high_bit_depth=False)
    bgr = rgb if rgb.ndim == 2 else np.ascontiguousarray(rgb[..., ::-1])
    ok, encoded = cv2.imencode(path.suffix.lower(), bgr)
    if not ok:
        raise OutputError(f"could not encode {path.suffix} image for {path}")
    with atomic.atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as f:
            f.write(encoded.tobytes())
    return path
