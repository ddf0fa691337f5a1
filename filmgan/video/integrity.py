"""A quick integrity check for ``probe``: demux every video packet (no decoding) and compare what is there
with what the container declares, so a truncated file is reported before anyone renders it."""

from __future__ import annotations

import av

from .probe import ClipInfo, open_input


def check_integrity(info: ClipInfo) -> str | None:
    """A warning when the video stream cannot be read to its end or holds fewer packets than declared."""
    count = 0
    with open_input(info.path, info.fps) as container:
        stream = container.streams[info.stream_index]
        try:
            for packet in container.demux(stream):
                count += bool(packet.size)
        except av.error.FFmpegError as exc:
            return (f"{info.path}: damaged or truncated: the video stream breaks after {count} packets "
                    f"({exc.__class__.__name__}: {exc}); rendering it fails unless --skip-corrupt")
    if info.frames_exact and info.frames is not None and count < info.frames:
        return (f"{info.path}: truncated: {count} of the {info.frames} declared video frames are in the file; "
                "rendering it fails unless --skip-corrupt")
    return None
