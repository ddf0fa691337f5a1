"""``VideoWriter``: encode RGB ``FrameBatch``es to a file, atomically, keeping what the source had.

Kept from the source (``ClipInfo``): time base and every frame's pts (VFR survives), frame rate, colour
tags (primaries, transfer, matrix, range) and display rotation. Audio and subtitle streams are copied
packet for packet (never re-encoded; see ``remux``). The container comes from the destination's
extension (.mp4 .mov .mkv .webm ...); a stream it cannot hold is an ``OutputError`` naming the fix,
never a silent drop.

The file is written under a temporary name in the destination folder and renamed on success (see
``atomic``); any exception, KeyboardInterrupt included, removes it.

Size rules: 0 or > 16384 px is an ``InputError``; an odd width/height with a chroma-subsampled pix_fmt
(yuv420p, yuv422p...) is a ``ConfigError`` suggesting ``yuv444p`` (we do not pad or crop silently).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ..config import VIDEO_CODECS, EncodeConfig
from ..errors import ConfigError, InputError, OutputError, ProcessorError
from . import atomic
from .frames import FrameBatch
from .probe import MAX_DIMENSION, ClipInfo
from .remux import PacketCopier, copied_streams


@dataclass(frozen=True)
class CodecSpec:
    """FFmpeg encoder and defaults behind one of filmgan's codec names."""

    encoder: str
    canonical: str  # the name muxers list in supported_codecs
    pix_fmt: str
    crf: int | None = None
    preset: str | None = None


CODECS = {
    "h264": CodecSpec("libx264", "h264", "yuv420p", crf=18, preset="medium"),
    "h265": CodecSpec("libx265", "hevc", "yuv420p", crf=20, preset="medium"),
    "prores": CodecSpec("prores_ks", "prores", "yuv422p10le"),  # 422 HQ; 4:4:4 sources -> 4444
    "dnxhr": CodecSpec("dnxhd", "dnxhd", "yuv422p10le"),  # DNxHR HQX (10-bit 4:2:2); 4:4:4 -> DNxHR 444
    "ffv1": CodecSpec("ffv1", "ffv1", "bgr0"),  # RGB planes: a bit-exact RGB round trip
    "vp9": CodecSpec("libvpx-vp9", "vp9", "yuv420p", crf=30, preset="4"),
    "av1": CodecSpec("libsvtav1", "av1", "yuv420p", crf=30, preset="8"),
}
assert set(CODECS) == set(VIDEO_CODECS)


def codec_spec(encode: EncodeConfig) -> CodecSpec:
    """The CodecSpec for ``encode.codec`` or ConfigError with a did-you-mean."""
    from ..config import did_you_mean

    if encode.codec not in CODECS:
        raise ConfigError(f"unknown codec '{encode.codec}' (choose from {', '.join(CODECS)})"
                          + did_you_mean(encode.codec, CODECS))
    return CODECS[encode.codec]


X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
NUMERIC_PRESETS = {"libvpx-vp9": range(-8, 9), "libsvtav1": range(0, 14)}  # cpu-used / preset numbers


def check_encode_config(encode: EncodeConfig) -> CodecSpec:
    """ConfigError (before any work) for an unknown codec, encoder speed preset or pix_fmt."""
    from ..config import did_you_mean

    spec = codec_spec(encode)
    if encode.preset is not None:
        if spec.encoder in ("libx264", "libx265"):
            if encode.preset not in X26X_PRESETS:
                raise ConfigError(f"unknown encode preset '{encode.preset}' for {encode.codec} "
                                  f"(choose from {', '.join(X26X_PRESETS)}){did_you_mean(encode.preset, X26X_PRESETS)}")
        elif spec.encoder in NUMERIC_PRESETS:
            allowed = NUMERIC_PRESETS[spec.encoder]
            if not (encode.preset.lstrip("-").isdigit() and int(encode.preset) in allowed):
                raise ConfigError(f"the {encode.codec} encode preset is a number from {allowed.start} (slowest) "
                                  f"to {allowed.stop - 1}, got '{encode.preset}'")
        # other codecs (prores, dnxhr, ffv1) have no speed presets: a preset's [encode] value is ignored there
    if encode.pix_fmt is not None:
        try:
            av.VideoFormat(encode.pix_fmt)
        except (ValueError, av.error.FFmpegError) as exc:
            known = sorted({f.name for f in av.codec.Codec(spec.encoder, "w").video_formats or ()})
            raise ConfigError(f"unknown pix_fmt '{encode.pix_fmt}'{did_you_mean(encode.pix_fmt, known)}; "
                              f"{encode.codec} takes: {', '.join(known)}") from exc
    return spec


def encoder_options(encode: EncodeConfig, spec: CodecSpec, pix_fmt: str) -> dict[str, str]:
    """FFmpeg private options for the encoder (quality, speed, GOP structure)."""
    crf = encode.crf if encode.crf is not None else spec.crf
    preset = encode.preset or spec.preset
    opts: dict[str, str] = {}
    if encode.gop:
        opts["g"] = str(encode.gop)
    if spec.encoder == "libx264":
        opts.update(preset=preset, **({} if encode.bitrate else {"crf": str(crf)}))
        if encode.closed_gop:
            opts["x264-params"] = "open-gop=0:scenecut=0"
    elif spec.encoder == "libx265":
        params = "log-level=error" + (":open-gop=0:scenecut=0" if encode.closed_gop else "")
        opts.update(preset=preset, **{"x265-params": params}, **({} if encode.bitrate else {"crf": str(crf)}))
    elif spec.encoder == "prores_ks":
        opts.update(profile="4" if pix_fmt.startswith(("yuv444", "yuva444")) else "3", vendor="apl0")
    elif spec.encoder == "dnxhd":
        opts.update(profile="dnxhr_444" if pix_fmt.startswith("yuv444") else "dnxhr_hqx" if "10" in pix_fmt else "dnxhr_hq")
    elif spec.encoder == "ffv1":
        opts.update(level="3", slicecrc="1")
    elif spec.encoder == "libvpx-vp9":
        opts.update(deadline="good", **{"cpu-used": preset, "row-mt": "1"})
        opts.update({} if encode.bitrate else {"crf": str(crf), "b": "0"})
    elif spec.encoder == "libsvtav1":
        opts.update(preset=preset, **({} if encode.bitrate else {"crf": str(crf)}))
    return opts


def _layout(name: str) -> tuple[str, int] | None:
    """(chroma layout '420' | '422' | '444', bits) of a planar YUV or GBR pix_fmt; None for others."""
    if not name.startswith(("yuv4", "gbrp")) or name.startswith("yuvj") or name.endswith("be"):
        return None
    try:
        fmt = av.VideoFormat(name, 64, 64)
    except (ValueError, av.error.FFmpegError):
        return None
    if len(fmt.components) != 3:
        return None  # alpha
    cw, ch = fmt.chroma_width(64), fmt.chroma_height(64)
    layout = "444" if cw == 64 and ch == 64 else "422" if cw == 32 and ch == 64 else "420" if cw == ch == 32 else None
    return (layout, max(c.bits for c in fmt.components)) if layout else None


def default_pix_fmt(spec: CodecSpec, info: ClipInfo) -> str:
    """The output pix_fmt when none is asked for: the codec's default (8-bit sources), or for a high bit
    depth source the encoder's format with the source's chroma layout (RGB counts as 4:4:4) and the
    fewest bits that hold the source's (else the most the encoder has): a 10-bit 4:2:2 ProRes master
    becomes 10-bit 4:2:2 H.264, 16-bit TIFFs become 12-bit 4:4:4 H.265 or 16-bit RGB FFV1."""
    if info.bit_depth <= 8:
        return spec.pix_fmt
    source = _layout(info.pix_fmt)
    rgb_source = av.VideoFormat(info.pix_fmt).is_rgb if info.pix_fmt != "unknown" else False
    want = "444" if rgb_source or source is None else source[0]
    family = "gbrp" if av.VideoFormat(spec.pix_fmt).is_rgb else "yuv"
    options = []
    for f in av.codec.Codec(spec.encoder, "w").video_formats or ():
        layout = _layout(f.name)
        if layout and f.name.startswith(family) and layout[1] > 8:
            options.append((f.name, *layout))
    if not options:
        return spec.pix_fmt
    order = {"444": ("444", "422", "420"), "422": ("422", "444", "420"), "420": ("420", "422", "444")}[want]
    for layout in order:
        fitting = [o for o in options if o[1] == layout]
        if fitting:
            enough = [o for o in fitting if o[2] >= info.bit_depth]
            return min(enough, key=lambda o: o[2])[0] if enough else max(fitting, key=lambda o: o[2])[0]
    return spec.pix_fmt


def check_size(width: int, height: int, pix_fmt: str) -> None:
    """InputError for absurd sizes; ConfigError for odd sizes a subsampled pix_fmt cannot hold."""
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise InputError(f"frame size {width}x{height} is out of range (1..{MAX_DIMENSION} px)")
    fmt = av.VideoFormat(pix_fmt)
    sub_x, sub_y = fmt.chroma_width(64) < 64, fmt.chroma_height(64) < 64
    if (sub_x and width % 2) or (sub_y and height % 2):
        raise ConfigError(f"{width}x{height} has an odd side, which {pix_fmt} (chroma subsampled) cannot encode; "
                          "use pix_fmt yuv444p (--pix-fmt yuv444p) or the ffv1 codec")


class VideoWriter:
    """Context manager writing ``dst``; call ``write(batch)`` for every processed batch in order.

    The video stream is sized from the first batch (a processor may change the size). With
    ``trim=True`` (frame-range renders) video pts are shifted so the first frame is at 0 and only the
    side-stream packets within the rendered span are copied, shifted alike.
    """

    def __init__(self, dst: str | os.PathLike, info: ClipInfo, encode: EncodeConfig | None = None, *,
                 source: str | os.PathLike | None = None, overwrite: bool = False, trim: bool = False) -> None:
        self.dst = Path(dst)
        self.info = info
        self.encode = encode or EncodeConfig()
        self.source = Path(source) if source is not None else Path(info.path)
        self.overwrite, self.trim = overwrite, trim
        self.spec = check_encode_config(self.encode)
        self.pix_fmt = self.encode.pix_fmt or default_pix_fmt(self.spec, info)
        self.frames_written = 0
        self._tmp: Path | None = None
        self._out = self._stream = self._copier = None
        self._offset = 0
        self._last_pts: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> "VideoWriter":
        atomic.check_destination(self.dst, overwrite=self.overwrite, source=self.source)
        self._tmp = atomic.partial_path(self.dst)
        try:
            self._out = av.open(str(self._tmp), mode="w")
            self._stream = self._add_video_stream()
            self._copier = PacketCopier(self.source, self._out, copied_streams(self.info, self.encode), self.dst)
        except BaseException as exc:
            self._abort()
            raise self._as_output_error(exc) from exc
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort()
            return
        try:
            self._finish()
        except BaseException as error:
            self._abort()
            converted = self._as_output_error(error)
            if converted is error:
                raise
            raise converted from error
        atomic.commit(self._tmp, self.dst)

    def _finish(self) -> None:
        if self.frames_written == 0:
            raise OutputError(f"no frames were written to {self.dst}")
        self._out.mux(self._stream.encode(None))
        end = None
        if self.trim:
            end = self._last_pts * self.info.time_base + 1 / self.info.fps
        self._copier.finish(end)
        self._out.close()

    def _abort(self) -> None:
        for closer in (getattr(self._copier, "close", None), getattr(self._out, "close", None)):
            try:
                if closer is not None:
                    closer()
            except Exception:
                pass
        if self._tmp is not None:
            atomic.remove_quietly(self._tmp)

    def _as_output_error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, (OutputError, InputError, ConfigError, ProcessorError)) or not isinstance(exc, Exception):
            return exc
        if isinstance(exc, av.error.ArgumentError) and "avcodec_open2" in str(exc):
            size = f"{self._stream.width}x{self._stream.height}" if self._stream is not None else "this size"
            return ConfigError(f"the {self.encode.codec} encoder ({self.spec.encoder}) refused {size} {self.pix_fmt} "
                               f"with these settings ({exc}); DNxHR needs at least 256x120, other codecs other sizes")
        if isinstance(exc, OSError) and exc.errno:
            return OutputError(atomic.os_error_message(exc, self.dst))
        return OutputError(f"cannot write {self.dst}: {exc.__class__.__name__}: {exc}")

    # -- video ---------------------------------------------------------------------------------------

    def _add_video_stream(self):
        if self.spec.canonical not in self._out.supported_codecs:
            raise OutputError(f"the {self._out.format.name} container ({self.dst.suffix}) cannot hold "
                              f"{self.encode.codec} video; use .mkv or .mov (prores: .mov/.mkv)")
        encoder = av.codec.Codec(self.spec.encoder, "w")
        formats = {f.name for f in encoder.video_formats or ()}
        if formats and self.pix_fmt not in formats:
            raise ConfigError(f"{self.encode.codec} cannot encode pix_fmt {self.pix_fmt} "
                              f"(supported: {', '.join(sorted(formats))})")
        options = encoder_options(self.encode, self.spec, self.pix_fmt)
        stream = self._out.add_stream(self.spec.encoder, rate=self.info.fps, options=options)
        stream.pix_fmt = self.pix_fmt
        cc = stream.codec_context
        cc.time_base = self.info.time_base
        if self.encode.bitrate:
            cc.bit_rate = self.encode.bitrate
        if self.spec.canonical == "hevc" and self._out.format.name in ("mp4", "mov"):
            cc.codec_tag = "hvc1"  # what Apple players expect
        self._rgb_out = av.VideoFormat(self.pix_fmt).is_rgb
        cc.color_primaries, cc.color_trc = self.info.color_primaries, self.info.color_trc
        cc.colorspace = 0 if self._rgb_out else (2 if self.info.colorspace == 0 else self.info.colorspace)
        cc.color_range = 2 if self._rgb_out else self.info.color_range
        if self.info.rotation:
            stream.set_display_rotation(self.info.rotation)
        if self.info.timecode:  # mov/mp4 write it as a tmcd track, mkv as a tag
            stream.metadata["timecode"] = self.info.timecode
            self._out.metadata["timecode"] = self.info.timecode
        return stream

    def _open_video(self, batch: FrameBatch) -> None:
        width, height = batch.size
        check_size(width, height, self.pix_fmt)
        self._stream.width, self._stream.height = width, height
        self._offset = int(batch.pts[0]) if self.trim and not self.encode.keep_pts else 0
        self._copier.begin(int(batch.pts[0]) * self.info.time_base if self.trim else None)

    def write(self, batch: FrameBatch) -> None:
        """Encode one batch; its pts must continue increasing from the previous batch."""
        if self._out is None:
            raise RuntimeError("VideoWriter.write() outside its 'with' block")
        if self.frames_written == 0:
            self._open_video(batch)
        if batch.size != (self._stream.width, self._stream.height):
            raise OutputError(f"frame size changed mid-stream: {batch.size} after "
                              f"{self._stream.width}x{self._stream.height}")
        if batch.time_base != self.info.time_base:
            raise OutputError(f"batch time base {batch.time_base} differs from the source's {self.info.time_base}")
        try:
            for rgb, pts in zip(batch.frames, batch.pts):
                self._write_frame(rgb, int(pts))
            self._copier.feed_until(int(batch.pts[-1]) * self.info.time_base)
        except Exception as exc:  # a full disk mid-file (av.error.OSError ENOSPC), an encoder failure
            converted = self._as_output_error(exc)
            if converted is exc:
                raise
            raise converted from exc

    def _write_frame(self, rgb: np.ndarray, pts: int) -> None:
        if self._last_pts is not None and pts <= self._last_pts:
            raise ProcessorError(f"frame pts {pts} does not increase (previous {self._last_pts}); "
                                 "the processor must keep every frame's pts, in order")
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le" if rgb.dtype == np.uint16 else "rgb24")
        cc = self._stream.codec_context
        if self._rgb_out:
            frame = frame.reformat(format=self.pix_fmt)
        else:
            frame = frame.reformat(format=self.pix_fmt, dst_colorspace=cc.colorspace,
                                   dst_color_range=2 if cc.color_range == 2 else 1)
        frame.pts, frame.time_base = pts - self._offset, self.info.time_base
        self._out.mux(self._stream.encode(frame))
        self._last_pts = pts
        self.frames_written += 1
