"""Video and still-image I/O on numpy + PyAV (+ OpenCV for stills); no torch.

Public API (``probe`` eagerly -- the function must shadow its module's name -- the rest lazily)::

    probe(src) -> ClipInfo
    VideoReader(src, DecodeConfig, info=None)            iterates FrameBatch
    VideoWriter(dst, info, EncodeConfig, source=..., overwrite=False, trim=False)
    read_image(path) / write_image(path, rgb) / is_image(path) / IMAGE_EXTENSIONS
"""

from __future__ import annotations

import importlib

from .probe import ClipInfo, StreamInfo, probe

_EXPORTS = {
    "VideoReader": "reader", "VideoWriter": "writer", "CODECS": "writer",
    "FrameBatch": "frames", "FrameProcessor": "frames", "IdentityProcessor": "frames", "MapProcessor": "frames",
    "read_image": "images", "write_image": "images", "is_image": "images", "IMAGE_EXTENSIONS": "images",
}

__all__ = sorted([*_EXPORTS, "ClipInfo", "StreamInfo", "probe"])


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
