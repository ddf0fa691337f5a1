"""The boundary types of the pipeline: a batch of frames and the processor protocol."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Iterable, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class FrameBatch:
    """N consecutive decoded frames of one clip.

    ``frames`` is RGB, shape (N, H, W, 3): uint8, or uint16 (full 16-bit scale) for high bit depth sources. ``pts`` holds one presentation timestamp per frame in
    units of ``time_base`` (int64; never floats). ``start_index`` is the index of the first frame in the
    clip (0-based, in presentation order), so chunked renders know where they are.
    """

    frames: np.ndarray
    pts: np.ndarray
    time_base: Fraction
    start_index: int = 0

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"frames must be uint8 or uint16 (N, H, W, 3), got {self.frames.dtype} {self.frames.shape}")
        if len(self.pts) != len(self.frames):
            raise ValueError(f"{len(self.pts)} pts for {len(self.frames)} frames")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    def with_frames(self, frames: np.ndarray) -> "FrameBatch":
        """The same timestamps carrying new pixels (what a processor returns)."""
        return replace(self, frames=frames)


@runtime_checkable
class FrameProcessor(Protocol):
    """What ``pipeline.render`` runs between decode and encode.

    ``process`` receives batches in presentation order and returns the processed frames of zero or more
    batches (a stateful processor may hold frames back); ``flush`` returns whatever it still holds at the
    end of the stream; ``reset`` forgets all temporal state (used at chunk starts and scene cuts).
    Every input frame must come out exactly once, in order, with its pts unchanged.
    """

    def process(self, batch: FrameBatch) -> Iterable[FrameBatch]: ...

    def flush(self) -> Iterable[FrameBatch]: ...

    def reset(self) -> None: ...


class IdentityProcessor:
    """Returns the frames unchanged; the reference processor for pipeline tests and benchmarks."""

    def process(self, batch: FrameBatch) -> Iterable[FrameBatch]:
        return (batch,)

    def flush(self) -> Iterable[FrameBatch]:
        return ()

    def reset(self) -> None:
        return None


class MapProcessor:
    """Wraps a stateless function ``frames (N,H,W,3) uint8 -> frames (N,H',W',3) uint8`` as a processor."""

    def __init__(self, fn) -> None:
        self._fn = fn

    def process(self, batch: FrameBatch) -> Iterable[FrameBatch]:
        return (batch.with_frames(self._fn(batch.frames)),)

    def flush(self) -> Iterable[FrameBatch]:
        return ()

    def reset(self) -> None:
        return None
