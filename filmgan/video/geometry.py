"""Frame geometry shared by the tasks: the size a network runs at."""

from __future__ import annotations


def render_dims(width: int, height: int, short_side: int | None, multiple: int = 16) -> tuple[int, int]:
    """(w, h) with the short side scaled to ``short_side`` (never upscaled), rounded to ``multiple``."""
    scale = 1.0 if not short_side else min(1.0, short_side / min(width, height))
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    return w, h
