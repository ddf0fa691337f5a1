"""``SequenceWriter``: write processed frames as an image sequence (``out/shot_%04d.tif``), all or nothing.

The same interface as ``VideoWriter`` (context manager, ``write(batch)``, ``frames_written``). Every frame
is encoded by FFmpeg's image encoder for the extension (PNG and TIFF at 8 or 16 bits, DPX at 10/16 bits,
JPEG at 8) into a hidden partial file; when the whole sequence is done the files are fsynced and renamed,
and on any error, Ctrl-C or SIGTERM every partial file is removed, so a destination never holds half a
sequence. Numbering continues the source sequence's (``ClipInfo.first_number``), else starts at 1
(FFmpeg's image2 convention); a frame range keeps its frames' own numbers.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import ConfigError, OutputError
from . import atomic
from .frames import FrameBatch
from .probe import ClipInfo
from .sequence import frame_path

# extension -> (encoder, 8-bit pix_fmt, high bit depth pix_fmt)
ENCODERS = {
    ".png": ("png", "rgb24", "rgb48be"),
    ".tif": ("tiff", "rgb24", "rgb48le"),
    ".tiff": ("tiff", "rgb24", "rgb48le"),
    ".dpx": ("dpx", "rgb24", "rgb48le"),
    ".jpg": ("mjpeg", "yuvj444p", "yuvj444p"),
    ".jpeg": ("mjpeg", "yuvj444p", "yuvj444p"),
}


class SequenceWriter:
    """Context manager writing the frames of one render as the files of ``pattern``."""

    def __init__(self, pattern: str | os.PathLike, info: ClipInfo, *, source: str | os.PathLike | None = None,
                 overwrite: bool = False, copy_audio: bool = True) -> None:
        self.pattern = Path(pattern)
        self.info, self.overwrite = info, overwrite
        self.source = Path(source) if source is not None else Path(info.path)
        ext = self.pattern.suffix.lower()
        if ext not in ENCODERS:
            raise ConfigError(f"cannot write an image sequence as '{ext}' (choose from {', '.join(ENCODERS)})")
        if info.audio and copy_audio:
            raise OutputError(f"an image sequence cannot hold the source's audio; pass --no-audio to write {self.pattern} without it")
        self.encoder, pix8, pix16 = ENCODERS[ext]
        self.pix_fmt = pix16 if info.high_bit_depth else pix8
        self.first_number = info.first_number if info.first_number is not None else 1
        self.frames_written = 0
        self._written: list[tuple[Path, Path]] = []  # (partial, final)

    def __enter__(self) -> "SequenceWriter":
        folder = self.pattern.parent if str(self.pattern.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"output folder {folder} does not exist")
        if self.info.frames_exact and self.info.frames:
            for number in (self.first_number, self.first_number + self.info.frames - 1):
                atomic.check_destination(frame_path(self.pattern, number), overwrite=self.overwrite, source=self.source)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or self.frames_written == 0:
            self._abort()
            if exc_type is None:
                raise OutputError(f"no frames were written to {self.pattern}")
            return
        try:
            for tmp, _ in self._written:
                atomic.fsync_file(tmp)
            for tmp, dst in self._written:
                os.replace(tmp, dst)
        except OSError as exc:
            self._abort()
            raise OutputError(atomic.os_error_message(exc, self.pattern)) from exc
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        for tmp, _ in self._written:
            atomic.remove_quietly(tmp)

    def write(self, batch: FrameBatch) -> None:
        for k, rgb in enumerate(batch.frames):
            number = self.first_number + batch.start_index + k
            dst = frame_path(self.pattern, number)
            atomic.check_destination(dst, overwrite=self.overwrite, source=self.source)
            tmp = atomic.partial_path(dst)
            self._written.append((tmp, dst))
            try:
                tmp.write_bytes(self._encode(rgb))
            except OSError as exc:
                raise OutputError(atomic.os_error_message(exc, dst)) from exc
            self.frames_written += 1

    def _encode(self, rgb: np.ndarray) -> bytes:
        height, width = rgb.shape[:2]
        cc = av.CodecContext.create(self.encoder, "w")
        cc.width, cc.height, cc.pix_fmt, cc.time_base = width, height, self.pix_fmt, Fraction(1, 25)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb48le" if rgb.dtype == np.uint16 else "rgb24")
        if frame.format.name != self.pix_fmt:
            frame = frame.reformat(format=self.pix_fmt)
        return b"".join(bytes(p) for p in [*cc.encode(frame), *cc.encode(None)])
