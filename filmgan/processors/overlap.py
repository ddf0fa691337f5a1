"""Run the second half of a processor's work in a worker thread, one batch behind the first half.

A colorizer's batch is network inference (torch, on all cores) followed by numpy/OpenCV work (temporal
blending, upsampling, recombination) that is mostly single-threaded. Run in sequence, the cores idle
through the second half; with :class:`OneBehind` the second half of batch k runs while the network works
on batch k+1. Results come back in submission order, one call late; errors surface on the next call.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable


class OneBehind:
    """One worker thread; :meth:`submit` returns the previous call's result (``[]`` on the first call)."""

    def __init__(self, name: str = "filmgan-finish") -> None:
        self._name = name
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> list:
        """Start ``fn(*args)`` in the worker; wait for and return the result of the call before it."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=self._name)
        previous = self.drain()
        self._pending = self._executor.submit(fn, *args)
        return previous

    def drain(self) -> list:
        """The pending result (``[]`` when none), after waiting for it; its error is raised here."""
        pending, self._pending = self._pending, None
        return [] if pending is None else [pending.result()]

    def discard(self) -> None:
        """Wait for the pending call to end and drop its result or error (a reset after a failed render)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.exception()
