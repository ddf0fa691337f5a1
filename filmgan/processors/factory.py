"""Build the frame processor for a preset and the user's flags: engine -> task processor."""

from __future__ import annotations

from typing import Any

from ..backends import load_engine
from ..presets import Preset
from .colorize import ColorizeProcessor


def build_processor(preset: Preset, options: dict[str, Any]):
    """The task processor with flow-guided temporal blending, unless the preset or flags turn it off.

    Colorization blends its chroma map at the render size inside ``ColorizeProcessor``; other tasks are
    wrapped in a ``TemporalProcessor`` that blends the RGB output. ``options`` are the CLI's: model,
    backend, precision, compile_model, render_size, temporal (bool or None), temporal_strength (float or None).
    """
    blend = preset.blend_config(enabled=options.get("temporal"), strength=options.get("temporal_strength"))
    from ..temporal.blend import FlowBlender, TemporalProcessor

    blender = FlowBlender(blend) if blend.enabled else None
    model_path = options.get("model") or preset.model_path()
    engine = load_engine(model_path, backend=options.get("backend", "auto"), task=preset.task, precision=options.get("precision", "auto"), compile=options.get("compile_model", False))
    render_size = options.get("render_size") or preset.render_size
    if preset.task == "colorize":
        return ColorizeProcessor(engine, render_size=render_size, blender=blender, saturation=options.get("saturation"))
    from .stylize import StylizeProcessor

    inner = StylizeProcessor(engine, render_size=render_size)
    return TemporalProcessor(inner, blender) if blender is not None else inner
