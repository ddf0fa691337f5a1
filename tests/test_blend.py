"""FlowBlender and TemporalProcessor on synthetic clips with a noisy per-frame "generator"."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from filmgan.config import BlendConfig
from filmgan.errors import ConfigError, InputError
from filmgan.metrics.flicker import WarpError
from filmgan.errors import ProcessorError
from filmgan.temporal.blend import FlowBlender, TemporalProcessor, blend_chroma
from filmgan.video.frames import FrameBatch, FrameProcessor, MapProcessor
from media import texture  # noqa: E402

BT601 = np.array([0.299, 0.587, 0.114])




def shifted(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, img.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def panning_clip(n: int, seed: int = 1, h: int = 120, w: int = 160, step=(1.5, 0.7)) -> list[np.ndarray]:
    big = texture(h + 40, w + 40, seed)
    return [shifted(big, step[0] * t, step[1] * t)[20:-20, 20:-20].copy() for t in range(n)]


def pixel_noise(frames, sigma=10.0, seed=0):
    """A flickering 'generator': the source plus independent per-pixel colour noise in every frame."""
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8) for f in frames]


def colour_jitter(frames, sigma=12.0, seed=0):
    """A flickering 'generator': the source plus a random global colour offset per frame."""
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, sigma, 3), 0, 255).astype(np.uint8) for f in frames]


def blend_all(blender: FlowBlender, sources, outputs) -> list[np.ndarray]:
    return [blender.blend_frame(s, g) for s, g in zip(sources, outputs)]


def warp_error(frames, sources) -> float:
    meter = WarpError()
    for f, s in zip(frames, sources):
        meter.update(f, s)
    return meter.value


def batch(frames, start=0) -> FrameBatch:
    return FrameBatch(np.stack(frames), np.arange(start, start + len(frames), dtype=np.int64), Fraction(1, 24), start)


@pytest.mark.parametrize("generator", [pixel_noise, colour_jitter])
def test_blending_halves_the_warping_error_of_a_flickering_generator(generator):
    sources = panning_clip(10)
    outputs = generator(sources)
    blended = blend_all(FlowBlender(), sources, outputs)
    assert warp_error(blended, sources) <= 0.5 * warp_error(outputs, sources)
    assert np.abs(blended[-1].astype(int) - sources[-1]).mean() < np.abs(outputs[-1].astype(int) - sources[-1]).mean()


def sky_clip(n: int, seed: int = 0, h: int = 120, w: int = 160) -> list[np.ndarray]:
    """A panning flat 'sky' (smooth gradient) with per-frame 8x8 block noise, like compressed footage."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(90, 170, h + 40, dtype=np.float32)[:, None, None] * np.float32([0.8, 0.9, 1.0])
    base = np.broadcast_to(ramp, (h + 40, w + 40, 3)).copy()
    frames = []
    for t in range(n):
        f = shifted(base, 1.5 * t, 0.5 * t)[20:-20, 20:-20]
        blocks = rng.normal(0, 1.0, (h // 8, w // 8)).astype(np.float32)
        blocks = cv2.resize(blocks, (w, h), interpolation=cv2.INTER_NEAREST)[..., None]
        frames.append(np.clip(f + blocks + rng.normal(0, 0.7, f.shape), 0, 255).astype(np.uint8))
    return frames


def test_flat_regions_are_blended_despite_unreliable_flow():
    sources = sky_clip(10)
    outputs = colour_jitter(sources)
    per_frame = warp_error(outputs, sources)
    assert warp_error(blend_all(FlowBlender(), sources, outputs), sources) < 0.3 * per_frame
    strict = FlowBlender(BlendConfig(flat_threshold=0.0))  # forward-backward check everywhere
    assert warp_error(blend_all(strict, sources, outputs), sources) > 0.6 * per_frame


def test_hard_cut_is_a_cold_start():
    shot_a = panning_clip(4, seed=2)
    shot_b = panning_clip(4, seed=3, step=(-2.0, 1.0))
    sources = shot_a + shot_b
    outputs = colour_jitter(sources)
    blender = FlowBlender()
    blended = blend_all(blender, sources, outputs)
    assert blender.cuts == 1
    assert np.array_equal(blended[4], outputs[4])
    assert not np.array_equal(blended[3], outputs[3])  # blending was active before the cut


def test_missed_cut_is_caught_by_the_per_pixel_guards():
    sources = panning_clip(4, seed=2) + panning_clip(3, seed=3)
    outputs = colour_jitter(sources)
    blender = FlowBlender(BlendConfig(scene_cut_threshold=1.0))  # detector effectively off
    blended = blend_all(blender, sources, outputs)
    assert blender.cuts == 0
    assert np.abs(blended[4].astype(int) - outputs[4]).mean() < 1.0
    assert blender.frames == 7


def object_clip(speed: int, n: int = 6):
    """A reddish textured square crossing a static background at ``speed`` px/frame: (frames, xs)."""
    bg = texture(160, 320, 2)
    obj = np.clip(texture(40, 40, 3).astype(int) + [90, -60, -60], 0, 255).astype(np.uint8)
    xs = [20 + speed * t for t in range(n)]
    frames = []
    for x in xs:
        f = bg.copy()
        f[60:100, x : x + 40] = obj
        frames.append(f)
    return frames, xs


def trail_error(config: BlendConfig, speed: int) -> float:
    frames, xs = object_clip(speed)
    outputs = colour_jitter(frames)
    blended = blend_all(FlowBlender(config), frames, outputs)
    errors = []
    for t in range(1, len(frames)):
        trail = np.zeros(frames[t].shape[:2], bool)
        trail[60:100, xs[t - 1] : xs[t - 1] + 40] = True  # where the object was at t-1 ...
        trail[60:100, xs[t] : xs[t] + 40] = False  # ... and is not at t
        errors.append(np.abs(blended[t].astype(int) - outputs[t])[trail].mean())
    return max(errors)


@pytest.mark.parametrize("speed", [8, 24])
def test_no_ghost_trail_behind_a_fast_object(speed):
    assert trail_error(BlendConfig(), speed) < 2.0


def test_photometric_guard_is_what_prevents_the_ghost():
    assert trail_error(BlendConfig(photometric_threshold=0.0), 8) > 3 * trail_error(BlendConfig(), 8)


def test_chroma_only_keeps_the_generator_luma():
    sources = panning_clip(6)
    outputs = colour_jitter(sources, sigma=20)
    blended = blend_all(FlowBlender(BlendConfig(chroma_only=True)), sources, outputs)
    for b, g in zip(blended, outputs):
        assert np.abs(b @ BT601 - g @ BT601).max() <= 0.5 + 1e-6
    assert not np.array_equal(blended[-1], outputs[-1])
    assert warp_error(blended, sources) < warp_error(outputs, sources)


def test_blend_chroma_is_identity_at_zero_weight_and_stays_in_gamut():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert np.array_equal(blend_chroma(a, b, np.zeros((32, 32), np.float32)), b)
    grey = np.repeat(b[..., :1], 3, axis=2)  # extreme case: saturated chroma onto grey of any level
    out = blend_chroma(a, grey, np.full((32, 32), 0.8, np.float32))
    assert np.abs(out @ BT601 - grey[..., 0]).max() <= 0.5 + 1e-6


def test_outputs_larger_than_sources_are_blended_with_scaled_flow():
    sources = panning_clip(8)
    outputs = colour_jitter([cv2.resize(s, (320, 240), interpolation=cv2.INTER_CUBIC) for s in sources])
    blended = blend_all(FlowBlender(), sources, outputs)
    assert blended[-1].shape == (240, 320, 3)
    big_sources = [cv2.resize(s, (320, 240), interpolation=cv2.INTER_CUBIC) for s in sources]
    assert warp_error(blended, big_sources) <= 0.5 * warp_error(outputs, big_sources)


def test_reduced_flow_size_still_blends():
    sources = panning_clip(8, h=240, w=320)
    outputs = colour_jitter(sources)
    blended = blend_all(FlowBlender(BlendConfig(flow_max_side=160)), sources, outputs)
    assert warp_error(blended, sources) <= 0.5 * warp_error(outputs, sources)


def test_state_is_bounded_to_one_frame():
    sources = panning_clip(12)
    blender = FlowBlender()
    blend_all(blender, sources, colour_jitter(sources))
    held = [v.nbytes for v in vars(blender).values() if isinstance(v, np.ndarray)]
    assert sum(held) <= 2.5 * sources[0].nbytes  # previous source (+ its grey) and previous output


def test_reset_and_disabled_give_the_generator_output():
    sources = panning_clip(3)
    outputs = colour_jitter(sources)
    blender = FlowBlender()
    blend_all(blender, sources[:2], outputs[:2])
    blender.reset()
    assert np.array_equal(blender.blend_frame(sources[2], outputs[2]), outputs[2])
    off = FlowBlender(BlendConfig(enabled=False))
    assert all(np.array_equal(b, g) for b, g in zip(blend_all(off, sources, outputs), outputs))


def test_blend_batch_api_checks_its_inputs():
    sources = panning_clip(4)
    outputs = colour_jitter(sources)
    blender = FlowBlender()
    result = blender.blend(batch(sources), batch(outputs))
    assert result.frames.shape == (4, 120, 160, 3) and np.array_equal(result.pts, np.arange(4))
    assert np.array_equal(result.frames[0], outputs[0])
    with pytest.raises(InputError):
        blender.blend(batch(sources[:2]), batch(outputs[:3]))
    with pytest.raises(InputError):
        blender.blend(batch(sources[:2]), batch(outputs[:2], start=5))


class DelayOne:
    """A 'generator' that holds one frame back (like a model with look-ahead); output = table[pts]."""

    def __init__(self, table: dict[int, np.ndarray]):
        self.table = table
        self.held: list[int] = []

    def _emit(self, pts: list[int]) -> list[FrameBatch]:
        if not pts:
            return []
        return [FrameBatch(np.stack([self.table[p] for p in pts]), np.array(pts), Fraction(1, 24))]

    def process(self, b: FrameBatch):
        pts = self.held + b.pts.tolist()
        self.held = pts[-1:]
        return self._emit(pts[:-1])

    def flush(self):
        pts, self.held = self.held, []
        return self._emit(pts)

    def reset(self):
        self.held = []


def test_temporal_processor_matches_outputs_to_sources_by_order():
    sources = panning_clip(7)
    outputs = colour_jitter(sources)
    direct = FlowBlender().blend(batch(sources), batch(outputs)).frames
    proc = TemporalProcessor(DelayOne(dict(enumerate(outputs))), FlowBlender())
    got = []
    for start, stop in ((0, 3), (3, 5), (5, 7)):
        got += proc.process(batch(sources[start:stop], start))
    got += proc.flush()
    assert np.concatenate([b.pts for b in got]).tolist() == list(range(7))
    assert np.array_equal(np.concatenate([b.frames for b in got]), direct)


def test_temporal_processor_wraps_a_stateless_processor():
    sources = panning_clip(3)
    proc = TemporalProcessor(MapProcessor(lambda frames: frames[..., ::-1].copy()))
    assert isinstance(proc, FrameProcessor) and not isinstance(proc.blender, FrameProcessor)
    (out,) = proc.process(batch(sources))
    assert np.array_equal(out.frames[0], sources[0][..., ::-1])
    assert proc.flush() == []


def test_temporal_processor_detects_dropped_frames_and_resets():
    class Drops:
        def process(self, b):
            return [FrameBatch(b.frames[:1], b.pts[:1], b.time_base)]

        def flush(self):
            return []

        def reset(self):
            pass

    proc = TemporalProcessor(Drops())
    proc.process(batch(panning_clip(2)))
    with pytest.raises(ProcessorError):
        proc.flush()
    proc.reset()
    assert proc.flush() == []


def test_blend_config_validation():
    with pytest.raises(ConfigError, match="did you mean 'fast'"):
        BlendConfig(flow_preset="fats")
    with pytest.raises(ConfigError):
        BlendConfig(strength=1.0)
    with pytest.raises(ConfigError):
        BlendConfig(flow_max_side=4)
    with pytest.raises(ConfigError):
        BlendConfig(scene_cut_threshold=0)
