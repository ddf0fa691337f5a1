"""Build the frame processor for a task config and an engine (both built at the edge)."""

from __future__ import annotations

from ..config import ColorizeConfig, StylizeConfig, TaskConfig
from ..errors import ConfigError
from .colorize import ColorizeProcessor


def build_processor(config: TaskConfig, engine):
    """The task's processor with flow-guided temporal blending, unless ``config.blend`` turns it off.

    The blender is a finish step of the task: colorization blends its chroma map at the render size,
    stylization its full-size RGB output.
    """
    from ..temporal.blend import FlowBlender

    blender = FlowBlender(config.blend) if config.blend.enabled else None
    if isinstance(config, ColorizeConfig):
        return ColorizeProcessor(engine, render_size=config.render_size, blender=blender, saturation=config.saturation)
    if isinstance(config, StylizeConfig):
        from .stylize import StylizeProcessor

        return StylizeProcessor(engine, render_size=config.render_size, upsample=config.upsample, blender=blender, palette_strength=config.palette_strength)
    raise ConfigError(f"no processor for {type(config).__name__}")
