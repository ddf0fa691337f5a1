"""Frame-range renders with warm-up: the frames before the range feed the temporal state, not the output."""

from fractions import Fraction

import numpy as np

from filmgan.backends.base import InputSpec
from filmgan.card import ModelCard
from filmgan.config import BlendConfig, DecodeConfig, EncodeConfig, RenderConfig
from filmgan.pipeline import render
from filmgan.processors.colorize import ColorizeProcessor
from filmgan.temporal.blend import FlowBlender
from filmgan.video.color import AB_SCALE

from media import decode_all, make_video


class FrameFlickerEngine:
    """One chroma everywhere plus a colour cast that flickers from frame to frame, a function of the frame
    alone (so a range render sees the same per-frame output as the full render)."""

    name, precision = "fake", "fp32"
    card = ModelCard(name="fake", task="colorize", arch="none", args={}, color_space="lab", io={}, internal_size=64)
    input_spec = InputSpec.from_card(card)

    def run(self, x):
        n, _, h, w = x.shape
        seed = (x.reshape(n, -1).mean(axis=1) * 1e4).astype(np.int64)
        cast = np.stack([np.random.default_rng(int(s)).normal(0.0, 25.0, 2) for s in seed])[:, :, None, None] / AB_SCALE
        return np.broadcast_to(np.array([20.0, 30.0])[None, :, None, None] / AB_SCALE + cast, (n, 2, h, w)).astype(np.float32)


def colour_clip(path, frames=80):
    return make_video(path, frames=frames, size=(96, 64), codec="ffv1", pix_fmt="yuv444p", gop=1)


def run(src, dst, **decode):
    task = ColorizeProcessor(FrameFlickerEngine(), render_size=64, blender=FlowBlender(BlendConfig(strength=0.9, chroma_only=True)))
    config = RenderConfig(decode=DecodeConfig(batch_size=4, **decode), encode=EncodeConfig(codec="ffv1", pix_fmt="yuv444p"))
    result = render(src, dst, task, config)
    frames, pts, _ = decode_all(dst)
    return result, np.stack(frames).astype(np.float64), pts


def test_warm_up_frames_warm_the_temporal_state_and_are_not_encoded(tmp_path):
    src = colour_clip(tmp_path / "src.mkv").path
    _, full, _ = run(src, tmp_path / "full.mkv")
    _, src_pts, _ = decode_all(src)
    warm_result, warm, warm_pts = run(src, tmp_path / "warm.mkv", start=40, end=80, warmup=16)
    _, cold, _ = run(src, tmp_path / "cold.mkv", start=40, end=80)
    assert warm_result.frames_out == warm_result.frames_in == 40 and len(warm) == 40
    assert warm_pts == [p - src_pts[40] for p in src_pts[40:80]]  # the source's pts (the range starts at 0)
    warm_diff = np.abs(warm[:4] - full[40:44]).mean()
    cold_diff = np.abs(cold[:4] - full[40:44]).mean()
    assert cold_diff > 1.0  # the blend really carries state: a cold start differs visibly
    assert warm_diff <= cold_diff / 10


def test_warm_up_is_clamped_at_the_start_of_the_clip(tmp_path):
    src = colour_clip(tmp_path / "src.mkv", frames=24).path
    _, full, _ = run(src, tmp_path / "full.mkv")
    result, part, _ = run(src, tmp_path / "part.mkv", start=6, end=24, warmup=100)
    assert result.frames_out == 18
    np.testing.assert_array_equal(part, full[6:])  # warmed from frame 0: the same state as the full render
