"""``render(src, dst, task, config)``: the one loop that shows the product's data flow.

::

    decode --q--> prepare --q--> infer --q--> finish --q--> encode
    VideoReader   task.prepare   task.infer   task.finish   VideoWriter
    (+ warm-up)   network input  engine.run   temporal blend, upsample,   (warm-up frames dropped)
                                              recombine (in frame order)

Each stage is a thread joined to the next by a bounded queue (``queue_depth`` items), so every task gets
the same overlap from one mechanism: inference of batch k runs while batch k-1 is finished and k+1 is
prepared. Inference runs in the calling thread (torch and friends prefer that; Ctrl-C lands there).
Memory is bounded by the queue depths times the batch size, never by clip length.

Any error in any stage stops the others and is re-raised in the caller with its original type; Ctrl-C
(KeyboardInterrupt in the calling thread) does the same. In every failure case the destination is left
untouched and no temporary file remains. The library never prints: progress goes to ``progress(done,
total)``, called from the encode thread after each written batch.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from ..config import RenderConfig
from ..errors import ConfigError, OutputError, ProcessorError
from ..video.atomic import check_destination
from ..video.frames import FrameBatch, FrameProcessor
from ..video.probe import ClipInfo, probe
from ..video.reader import VideoReader
from ..video.sequence import is_sequence
from ..video.sequence_writer import SequenceWriter
from ..video.writer import VideoWriter, codec_spec

Progress = Callable[[int, "int | None"], None]


class Task(Protocol):
    """A task's steps around the engine. ``prepare`` (network input) and ``infer`` (engine calls) may run
    ahead of ``finish``; ``finish`` sees the batches strictly in order and owns the temporal state (flow
    blending), then upsamples and recombines. ``flush`` returns what ``finish`` still holds at the end of
    the stream; ``reset`` forgets the temporal state."""

    def prepare(self, batch: FrameBatch) -> Any: ...

    def infer(self, prepared: Any) -> Any: ...

    def finish(self, batch: FrameBatch, prepared: Any, output: Any) -> Iterable[FrameBatch]: ...

    def flush(self) -> Iterable[FrameBatch]: ...

    def reset(self) -> None: ...
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



class ProcessorTask:
    """A :class:`FrameProcessor` (``process``/``flush``/``reset``) as a task: the whole processor runs in the
    infer stage (it may hold frames back); prepare and finish pass its batches through."""

    def __init__(self, processor: FrameProcessor) -> None:
        self.processor = processor

    def prepare(self, batch: FrameBatch) -> FrameBatch:
        return batch

    def infer(self, batch: FrameBatch) -> list[FrameBatch]:
        return list(self.processor.process(batch))

    def finish(self, batch: FrameBatch, prepared, outputs: list[FrameBatch]) -> list[FrameBatch]:
        return outputs

    def flush(self) -> list[FrameBatch]:
        return list(self.processor.flush())

    def reset(self) -> None:
        self.processor.reset()


def as_task(obj) -> Task:
    """A task as it is, or a frame processor wrapped as one."""
    return obj if all(hasattr(obj, m) for m in ("prepare", "infer", "finish")) else ProcessorTask(obj)


def _split_at(batch: FrameBatch, index: int) -> list[FrameBatch]:
    """``batch`` cut so that no part straddles frame ``index`` (the first frame of a range after warm-up)."""
    k = index - batch.start_index
    if not 0 < k < len(batch):
        return [batch]
    return [replace(batch, frames=batch.frames[:k], pts=batch.pts[:k]), replace(batch, frames=batch.frames[k:], pts=batch.pts[k:], start_index=index)]


def _worker(stage: _Stage, name: str, inq: queue.Queue | None, outq: queue.Queue, step, items=None, end=None) -> threading.Thread:
    """A stage thread: ``step(item)`` yields what goes downstream (items from ``items`` when there is no
    input queue); ``end()`` yields what is left at the end of the stream; then the end marker."""

    def loop() -> None:
        try:
            source = items if inq is None else iter(lambda: stage.get(inq), _END)
            for item in source:
                for out in step(item):
                    stage.put(outq, out)
            for out in end() if end else ():
                stage.put(outq, out)
            stage.put(outq, _END)
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller
            stage.fail(exc)
        finally:
            if hasattr(items, "close"):
                items.close()  # closes the source now, not at garbage collection

    return threading.Thread(target=loop, name=f"filmgan-{name}", daemon=True)


def _range_total(info: ClipInfo, config: RenderConfig) -> int | None:
    start, end = config.decode.start, config.decode.end
    total = info.frames if info.frames is not None else None
    if end is not None:
        total = end if total is None else min(total, end)
    return None if total is None else max(total - start, 0)


def _validate(config: RenderConfig) -> None:
    if config.queue_depth < 1:
        raise ConfigError(f"queue_depth must be >= 1, got {config.queue_depth}")
    if config.decode.warmup < 0:
        raise ConfigError(f"warmup must be >= 0 frames, got {config.decode.warmup}")
    codec_spec(config.encode)


def _writer(src, dst, info: ClipInfo, config: RenderConfig):
    """A VideoWriter, or a SequenceWriter when ``dst`` is an image sequence pattern (out/shot_%04d.tif)."""
    if is_sequence(dst):
        return SequenceWriter(dst, info, source=src, overwrite=config.overwrite, copy_audio=config.encode.copy_audio)
    trim = config.decode.start > 0 or config.decode.end is not None
    return VideoWriter(dst, info, config.encode, source=src, overwrite=config.overwrite, trim=trim)


def render(src: str | os.PathLike, dst: str | os.PathLike, task: Task | FrameProcessor,
           config: RenderConfig | None = None, progress: Progress | None = None) -> RenderResult:
    """Decode ``src``, run ``task`` on every frame of the configured range, encode ``dst``.

    A frame range (``config.decode.start/end``) renders just those frames; the output then starts at
    time zero and carries the source audio/subtitles of that span only. ``config.decode.warmup`` frames
    before the start are decoded and pushed through the task (its temporal state) but not encoded, so
    chunks of one clip join without a seam. Raises InputError, ConfigError, OutputError, ProcessorError,
    or whatever the task raised; KeyboardInterrupt propagates.
    """
    config = config or RenderConfig()
    _validate(config)
    info = probe(src, fps=config.decode.fps)
    check_destination(dst, overwrite=config.overwrite, source=src)
    first, task = config.decode.start, as_task(task)
    reader = VideoReader(src, replace(config.decode, start=max(0, first - config.decode.warmup)), info=info)
    task.reset()  # a render (or farm chunk) starts with no temporal state from earlier clips
    started, total = time.perf_counter(), _range_total(info, config)
    stage, counts = _Stage(), {"in": 0, "out": 0}
    q = [queue.Queue(config.queue_depth) for _ in range(4)]  # decode -> prepare -> infer -> finish -> encode
    sink: queue.Queue = queue.Queue(1)

    def prepare(batch):
        counts["in"] += len(batch) if batch.start_index >= first else 0
        yield batch, task.prepare(batch)

    def encode(batch):
        if batch.start_index >= first:  # warm-up frames only feed the temporal state
            writer.write(batch)
            counts["out"] += len(batch)
            if progress is not None:
                progress(counts["out"], total)
        return ()

    with _writer(src, dst, info, config) as writer:
        threads = [_worker(stage, "decode", None, q[0], lambda batch: _split_at(batch, first), items=iter(reader)),
                   _worker(stage, "prepare", q[0], q[1], prepare),
                   _worker(stage, "finish", q[2], q[3], lambda item: task.finish(*item), end=task.flush),
                   _worker(stage, "encode", q[3], sink, encode)]
        for thread in threads:
            thread.start()
        try:  # the infer stage
            while (item := stage.get(q[1])) is not _END:
                stage.put(q[2], (*item, task.infer(item[1])))
            stage.put(q[2], _END)
            stage.get(sink)  # the encoder's end marker: everything is written
        except BaseException as exc:  # noqa: BLE001 -- includes KeyboardInterrupt; re-raised below
            stage.fail(exc)
        for thread in threads:
            thread.join()  # on success all have drained; on failure all stop promptly
        if stage.error is not None:
            raise stage.error
        if counts["out"] != counts["in"]:
            raise ProcessorError(f"the task returned {counts['out']} frames for {counts['in']} input frames; "
                                 "every frame must come out exactly once")
        if progress is not None:
            progress(counts["out"], total if total is not None else counts["out"])
        if writer.frames_written != counts["out"]:
            raise OutputError(f"{writer.frames_written} frames were encoded for {counts['out']} processed")
    seconds = time.perf_counter() - started
    return RenderResult(counts["in"], counts["out"], seconds, counts["out"] / seconds if seconds else 0.0,
                        Path(dst), info, reader.skipped)
