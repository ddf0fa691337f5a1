"""Build the frame processor for a preset and the user's flags: engine -> task processor."""

from __future__ import annotations

from typing import Any

from ..backends import load_engine
from ..presets import Preset
from .colorize import ColorizeProcessor


def build_processor(preset: Preset, options: dict[str, Any]):
    """The task processor, wrapped in flow-guided temporal blending unless the preset or flags turn it off.

    ``options`` are the CLI's: model, backend, precision, compile_model, render_size, temporal (bool or
    None), temporal_strength (float or None).
    """
    inner = build_task_processor(preset, options)
    blend = preset.blend_config(enabled=options.get("temporal"), strength=options.get("temporal_strength"))
    if not blend.enabled:
        return inner
    from ..temporal.blend import FlowBlender, TemporalProcessor

    return TemporalProcessor(inner, FlowBlender(blend))


def build_task_processor(preset: Preset, options: dict[str, Any]):
    """The per-frame processor of the preset's task, without temporal blending."""
    model_path = options.get("model") or preset.model_path()
    engine = load_engine(model_path, backend=options.get("backend", "auto"), task=preset.task, precision=options.get("precision", "auto"), compile=options.get("compile_model", False))
    render_size = options.get("render_size") or preset.render_size
    if preset.task == "colorize":
        return ColorizeProcessor(engine, render_size=render_size)
    from .stylize import StylizeProcessor

    return StylizeProcessor(engine, render_size=render_size)
