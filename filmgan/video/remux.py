"""Copy a source's audio and subtitle packets into an output, in step with the video being encoded.

Packets are read lazily from a second demux of the source, so memory stays bounded (one pending packet)
however long the audio is; the muxer's interleaving does the rest. Payloads are never re-encoded: the
bytes that come out are the bytes that went in, with their timestamps (shifted only when a frame range
is rendered, so the range starts at zero).
"""

from __future__ import annotations

import os
from fractions import Fraction

import av

from ..config import EncodeConfig
from ..errors import OutputError
from .probe import ClipInfo, StreamInfo, open_input

LEAD = Fraction(1, 2)  # mux side packets up to this far ahead of the last video frame handed over


def copied_streams(info: ClipInfo, encode: EncodeConfig) -> list[StreamInfo]:
    """The source streams the writer copies, per the EncodeConfig flags."""
    return [*(info.audio if encode.copy_audio else ()), *(info.subtitles if encode.copy_subtitles else ())]


def check_supported(out, streams: list[StreamInfo], dst) -> None:
    """OutputError (with the fix) for any stream the destination container cannot hold."""
    supported = out.supported_codecs
    for s in streams:
        if s.codec not in supported:
            flag = "--no-audio" if s.kind == "audio" else "--no-subtitles"
            raise OutputError(
                f"the {out.format.name} container of {dst} cannot hold the source's {s.kind} stream #{s.index} "
                f"({s.codec}); write .mkv instead (it takes nearly every codec), or drop the stream with {flag}")


KEPT_METADATA = ("language", "title", "handler_name")  # not DURATION & co., which the muxer recomputes


def _copy_labels(template, stream) -> None:
    """Carry language/title tags and the disposition (default, forced...) over to the copy."""
    for key, value in template.metadata.items():
        if key.lower() in KEPT_METADATA:
            stream.metadata[key] = value
    stream.disposition = template.disposition


class PacketCopier:
    """Remuxes the chosen side streams of ``source`` into ``out`` as the video advances.

    ``begin(start)`` and ``finish(end)`` in source seconds restrict the copy to the packets that overlap
    [start, end) -- so the audio covers the whole video span; the first packet may start slightly before
    zero, which containers express exactly (edit list / codec delay) -- and shift them by ``-start``.
    ``begin(None)`` copies everything verbatim.
    """

    def __init__(self, source: str | os.PathLike, out, streams: list[StreamInfo], dst) -> None:
        self._out = out
        self._src = open_input(source) if streams else None
        self._map = {}
        self._packets = iter(())
        self._pending: av.Packet | None = None
        self._start: Fraction | None = None
        if self._src is None:
            return
        check_supported(out, streams, dst)
        for s in streams:
            template = self._src.streams[s.index]
            try:
                copy = out.add_stream_from_template(template)
            except (ValueError, av.error.FFmpegError) as exc:
                raise OutputError(f"cannot copy {s.kind} stream #{s.index} ({s.codec}) into {dst}: {exc}; "
                                  "try an .mkv output") from exc
            _copy_labels(template, copy)
            self._map[s.index] = copy

    def begin(self, start: Fraction | None) -> None:
        """Start reading; with ``start`` (seconds) copy only from there on, shifted to zero."""
        if self._src is None:
            return
        self._start = start
        if start:
            self._src.seek(int(start * av.time_base), backward=True)
        self._packets = self._src.demux(*[self._src.streams[i] for i in self._map])

    def feed_until(self, video_time: Fraction) -> None:
        """Mux every side packet up to ``video_time`` (+ ``LEAD`` unless a range is being cut)."""
        limit = video_time + (LEAD if self._start is None else 0)
        self._mux_while(lambda t: t <= limit)

    def finish(self, end: Fraction | None) -> None:
        """Mux the rest (before ``end`` seconds if given) and close the source."""
        if self._src is None:
            return
        self._mux_while(lambda t: end is None or t < end)
        self._src.close()
        self._src = None

    def close(self) -> None:
        """Release the source without muxing more (on failure)."""
        if self._src is not None:
            self._src.close()
            self._src = None

    def _next(self) -> av.Packet | None:
        if self._pending is None:
            for packet in self._packets:
                if packet.size and (packet.pts is not None or packet.dts is not None):
                    self._pending = packet
                    break
        return self._pending

    def _mux_while(self, keep_going) -> None:
        while (packet := self._next()) is not None:
            ts = packet.pts if packet.pts is not None else packet.dts
            when = ts * Fraction(packet.time_base)
            if not keep_going(when):
                return
            self._pending = None
            if self._start is not None and when + (packet.duration or 0) * Fraction(packet.time_base) <= self._start:
                continue  # ends before the rendered range (a packet straddling its start is kept)
            self._mux(packet)

    def _mux(self, packet: av.Packet) -> None:
        if self._start:
            shift = round(self._start / Fraction(packet.time_base))
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        packet.stream = self._map[packet.stream_index]
        self._out.mux(packet)
