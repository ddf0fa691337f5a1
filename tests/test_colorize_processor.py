"""ColorizeProcessor with a fake engine (no torch): luminance kept, chroma blended along the motion."""

from fractions import Fraction

import numpy as np
import pytest

from filmgan.card import ModelCard
from filmgan.config import BlendConfig
from filmgan.backends.base import InputSpec
from filmgan.processors.colorize import ColorizeProcessor
from filmgan.video.color import AB_SCALE
from filmgan.video.geometry import render_dims
from filmgan.temporal.blend import FlowBlender
from filmgan.video.frames import FrameBatch
from filmgan.video.color import rgb_to_lab, rgb_to_luminance_l

from media import texture


class FlickeringEngine:
    """Predicts one plausible chroma everywhere plus a different random colour cast on every call."""

    name, precision = "fake", "fp32"
    card = ModelCard(name="fake", task="colorize", arch="none", args={}, color_space="lab", io={}, internal_size=64)
    input_spec = InputSpec.from_card(card)

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)

    def run(self, x):
        n, _, h, w = x.shape
        cast = self.rng.normal(0.0, 12.0, (n, 2, 1, 1)) / AB_SCALE
        return np.broadcast_to(np.array([20.0, 30.0])[None, :, None, None] / AB_SCALE + cast, (n, 2, h, w)).astype(np.float32)


def panning_clip(frames=8, size=(96, 64)):
    """A grey textured scene panning 2 px per frame."""
    grey = np.repeat(texture(size[1], size[0] + 2 * frames, seed=1)[..., :1], 3, axis=2)
    return np.stack([grey[:, 2 * i : 2 * i + size[0]] for i in range(frames)])


def chroma_flicker(frames):
    ab = rgb_to_lab(frames)[..., 1:]
    return float(np.mean(np.abs(np.diff(ab, axis=0))))


def test_render_dims_keep_aspect_and_never_upscale():
    assert render_dims(1280, 720, 256) == (448, 256)
    assert render_dims(64, 48, 256) == (64, 48)


def test_blending_ab_halves_chroma_flicker_and_keeps_luminance_exact():
    clip = panning_clip()
    per_frame = ColorizeProcessor(FlickeringEngine(), render_size=64).colorize(clip)
    blended_proc = ColorizeProcessor(FlickeringEngine(), render_size=64, blender=FlowBlender(BlendConfig(strength=0.8)))
    blended = np.concatenate([blended_proc.colorize(clip[i : i + 3]) for i in range(0, len(clip), 3)])
    assert chroma_flicker(blended) < 0.5 * chroma_flicker(per_frame)
    for src, out in zip(clip, blended):
        assert np.abs(rgb_to_luminance_l(out) - rgb_to_luminance_l(src)).max() * 2.55 <= 1.0


def test_reset_gives_a_cold_start():
    clip = panning_clip(4)
    engine = FlickeringEngine(seed=3)
    proc = ColorizeProcessor(engine, render_size=64, blender=FlowBlender(BlendConfig()))
    proc.colorize(clip[:3])
    proc.reset()
    engine.rng = np.random.default_rng(7)
    after_reset = proc.colorize(clip[3:])
    cold = ColorizeProcessor(FlickeringEngine(seed=7), render_size=64).colorize(clip[3:])
    assert np.array_equal(after_reset, cold)


def test_a_batch_gives_the_frames_that_single_calls_give():
    """Frames of a batch are recombined side by side in threads; order and values must not change."""
    clip = panning_clip(6)
    together = ColorizeProcessor(FlickeringEngine(seed=3), render_size=32).colorize(clip)
    one_by_one = ColorizeProcessor(FlickeringEngine(seed=3), render_size=32)
    singles = np.concatenate([one_by_one.colorize(clip[i : i + 1]) for i in range(len(clip))])
    assert together.shape == clip.shape and together.dtype == np.uint8
    # the engine draws its random casts per frame in one call or in six: the same draws in the same order
    assert np.array_equal(together, singles)
    assert len({int(f[..., 0].mean()) for f in together}) > 1  # frames differ: a mix-up of order would show


def batches_of(clip, size):
    return [FrameBatch(clip[i : i + size], np.arange(i, i + len(clip[i : i + size]), dtype=np.int64), Fraction(1, 25), i) for i in range(0, len(clip), size)]


def test_process_returns_each_batch_one_call_late_in_order_and_flush_the_last():
    clip = panning_clip(6)
    expected = ColorizeProcessor(FlickeringEngine(seed=5), render_size=32, blender=FlowBlender()).colorize(clip)
    proc = ColorizeProcessor(FlickeringEngine(seed=5), render_size=32, blender=FlowBlender())
    returned = [list(proc.process(b)) for b in batches_of(clip, 2)] + [list(proc.flush())]
    assert [len(r) for r in returned] == [0, 1, 1, 1]
    out = [b for r in returned for b in r]
    assert [b.pts.tolist() for b in out] == [[0, 1], [2, 3], [4, 5]]
    assert np.array_equal(np.concatenate([b.frames for b in out]), expected)
    assert list(proc.flush()) == []


class FailingBlender:
    def blend_frame(self, small, ab):
        raise RuntimeError("blend failed")

    def reset(self):
        pass


def test_an_error_while_finishing_surfaces_on_the_next_call_and_reset_drops_it():
    clip = panning_clip(4)
    proc = ColorizeProcessor(FlickeringEngine(), render_size=32, blender=FailingBlender())
    first, second = batches_of(clip, 2)
    assert list(proc.process(first)) == []  # the worker fails in the background...
    with pytest.raises(RuntimeError, match="blend failed"):
        proc.process(second)  # ...and the caller hears of it on the next call
    proc.reset()  # the second batch's failure is dropped with it
    assert list(proc.flush()) == []
