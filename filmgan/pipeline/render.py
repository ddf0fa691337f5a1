"""``render(src, dst, processor, config)``: the one loop that wires decode -> process -> encode.

::

    decoder thread --(queue: queue_depth batches)--> processor (calling thread) --(queue)--> encoder thread

The processor runs in the calling thread (torch and friends prefer that); decoding and encoding overlap
with it in two worker threads. Memory is bounded by ``2 * queue_depth * batch_size`` frames plus what
the processor holds back, never by clip length.

Any error in any stage stops the others and is re-raised in the caller with its original type; Ctrl-C
(KeyboardInterrupt in the calling thread) does the same. In every failure case the destination is left
untouched and no temporary file remains. The library never prints: progress goes to ``progress(done,
total)``, called from the calling thread after each processed batch.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..config import RenderConfig
from ..errors import ConfigError, OutputError, ProcessorError
from ..video.atomic import check_destination
from ..video.frames import FrameBatch, FrameProcessor
from ..video.probe import ClipInfo, probe
from ..video.reader import VideoReader
from ..video.writer import VideoWriter, codec_spec

Progress = Callable[[int, "int | None"], None]
POLL = 0.05  # seconds between checks of the stop flag while a queue is full/empty


@dataclass(frozen=True)
class RenderResult:
    """What a render did: frame counts, wall time, throughput, where the output went."""

    frames_in: int
    frames_out: int
    seconds: float
    fps: float
    output: Path
    info: ClipInfo
    skipped: int = 0  # corrupt packets/frames dropped under decode.skip_corrupt


_END = object()


class _Stop(Exception):
    """Internal: another stage failed or the caller was interrupted; unwind quietly."""


class _Stage:
    """Shared state of one render: the stop flag, the first error, and stop-aware queue helpers."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def fail(self, exc: BaseException) -> None:
        if self.error is None and not isinstance(exc, _Stop):
            self.error = exc
        self.stop.set()

    def put(self, q: queue.Queue, item) -> None:
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                q.put(item, timeout=POLL)
                return
            except queue.Full:
                continue

    def get(self, q: queue.Queue):
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                return q.get(timeout=POLL)
            except queue.Empty:
                continue


def _decode(stage: _Stage, reader: VideoReader, out: queue.Queue) -> None:
    batches = iter(reader)
    try:
        for batch in batches:
            stage.put(out, batch)
        stage.put(out, _END)
    except BaseException as exc:  # noqa: BLE001 -- handed to the caller
        stage.fail(exc)
    finally:
        batches.close()  # closes the source now, not at garbage collection


def _encode(stage: _Stage, writer: VideoWriter, inq: queue.Queue) -> None:
    try:
        while (batch := stage.get(inq)) is not _END:
            writer.write(batch)
    except BaseException as exc:  # noqa: BLE001 -- handed to the caller
        stage.fail(exc)


def _range_total(info: ClipInfo, config: RenderConfig) -> int | None:
    start, end = config.decode.start, config.decode.end
    total = info.frames if info.frames is not None else None
    if end is not None:
        total = end if total is None else min(total, end)
    return None if total is None else max(total - start, 0)


def _process(stage: _Stage, processor: FrameProcessor, inq, outq, total, progress) -> tuple[int, int]:
    """The calling thread's loop: process every batch, hand results to the encoder, count frames."""
    frames_in = frames_out = 0

    def emit(batches: Iterable[FrameBatch]) -> None:
        nonlocal frames_out
        for out in batches:
            frames_out += len(out)
            stage.put(outq, out)

    while (batch := stage.get(inq)) is not _END:
        frames_in += len(batch)
        emit(processor.process(batch))
        if progress is not None:
            progress(frames_out, total)
    emit(processor.flush())
    if frames_out != frames_in:
        raise ProcessorError(f"the processor returned {frames_out} frames for {frames_in} input frames; "
                             "every frame must come out exactly once")
    if progress is not None:
        progress(frames_out, total if total is not None else frames_out)
    stage.put(outq, _END)
    return frames_in, frames_out


def _validate(config: RenderConfig) -> None:
    if config.queue_depth < 1:
        raise ConfigError(f"queue_depth must be >= 1, got {config.queue_depth}")
    codec_spec(config.encode)


def render(src: str | os.PathLike, dst: str | os.PathLike, processor: FrameProcessor,
           config: RenderConfig | None = None, progress: Progress | None = None) -> RenderResult:
    """Decode ``src``, run ``processor`` on every frame of the configured range, encode ``dst``.

    A frame range (``config.decode.start/end``) renders just those frames; the output then starts at
    time zero and carries the source audio/subtitles of that span only. Raises InputError, ConfigError,
    OutputError, ProcessorError, or whatever the processor raised; KeyboardInterrupt propagates.
    """
    config = config or RenderConfig()
    _validate(config)
    info = probe(src)
    check_destination(dst, overwrite=config.overwrite, source=src)
    reader = VideoReader(src, config.decode, info=info)
    processor.reset()  # a render (or farm chunk) starts with no temporal state from earlier clips
    ranged = config.decode.start > 0 or config.decode.end is not None
    started = time.perf_counter()
    stage = _Stage()
    inq: queue.Queue = queue.Queue(config.queue_depth)
    outq: queue.Queue = queue.Queue(config.queue_depth)
    with VideoWriter(dst, info, config.encode, source=src, overwrite=config.overwrite, trim=ranged) as writer:
        threads = [threading.Thread(target=_decode, args=(stage, reader, inq), name="filmgan-decode", daemon=True),
                   threading.Thread(target=_encode, args=(stage, writer, outq), name="filmgan-encode", daemon=True)]
        for thread in threads:
            thread.start()
        try:
            frames_in, frames_out = _process(stage, processor, inq, outq, _range_total(info, config), progress)
        except BaseException as exc:  # noqa: BLE001 -- includes KeyboardInterrupt; re-raised below
            stage.fail(exc)
        for thread in threads:
            thread.join()  # on success the encoder drains its queue first; on failure all stop promptly
        if stage.error is not None:
            raise stage.error
        if writer.frames_written != frames_out:
            raise OutputError(f"{writer.frames_written} frames were encoded for {frames_out} processed")
    seconds = time.perf_counter() - started
    return RenderResult(frames_in, frames_out, seconds, frames_out / seconds if seconds else 0.0,
                        Path(dst), info, reader.skipped)
