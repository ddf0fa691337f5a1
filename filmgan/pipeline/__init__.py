"""The render loop: decode -> process -> encode with bounded queues (no torch here)."""

from .render import ProcessorError, RenderResult, render

__all__ = ["ProcessorError", "RenderResult", "render"]
