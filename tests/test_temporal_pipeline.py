"""The temporal bars through the real pipeline: ``pipeline.render`` with a TemporalProcessor around a
flickering per-frame processor, on a synthetic clip with a hard cut and a fast-moving object, encoded
losslessly (ffv1) so that codec noise does not blur the measurements."""

from __future__ import annotations

import zlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from filmgan.config import BlendConfig, DecodeConfig, EncodeConfig, RenderConfig
from filmgan.metrics.flicker import WarpError
from filmgan.pipeline.render import render
from filmgan.temporal.blend import FlowBlender, TemporalProcessor
from filmgan.video.frames import MapProcessor

H, W = 120, 160
CUT = 12  # first frame of shot B
SIDE, SPEED = 16, 10  # the object: a 16 px square moving 10 px per frame
OBJECT = np.array([235, 30, 30], np.uint8)


def texture(h: int, w: int, seed: int, tint) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w), np.float32)
    for sigma, amp in ((8, 1.0), (3, 0.6), (1.2, 0.3)):
        noise = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)
        img += amp * noise / noise.std()
    img = (img - img.min()) / (img.max() - img.min())
    return np.round((40 + 180 * img)[..., None] * np.float32(tint)).astype(np.uint8)


def object_box(t: int) -> tuple[slice, slice]:
    x = 5 + SPEED * t
    return slice(50, 50 + SIDE), slice(x, x + SIDE)


def make_frames() -> list[np.ndarray]:
    """Shot A: a warm texture panning right with the fast red square; shot B: a cool texture panning left."""
    shot_a, shot_b = texture(H, W + 60, 2, (1.0, 0.75, 0.5)), texture(H, W + 60, 3, (0.45, 0.8, 1.0))
    frames = []
    for t in range(2 * CUT):
        if t < CUT:
            frame = shot_a[:, 2 * t : 2 * t + W].copy()
            frame[object_box(t)] = OBJECT
        else:
            s = 2 * (t - CUT)
            frame = shot_b[:, 60 - s : 60 - s + W].copy()
        frames.append(frame)
    return frames


def write_clip(path: Path, frames, rate=Fraction(24)) -> Path:
    """A lossless RGB (ffv1, bgr0) clip, written with PyAV independently of filmgan's writer."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="bgr0")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def colour_flicker(frames: np.ndarray, sigma: float = 12.0) -> np.ndarray:
    """A flickering per-frame 'generator': each frame gets a colour offset seeded by its own content."""
    out = np.empty_like(frames)
    for i, f in enumerate(frames):
        offset = np.random.default_rng(zlib.crc32(f.tobytes())).normal(0, sigma, 3)
        out[i] = np.clip(f + offset, 0, 255).astype(np.uint8)
    return out


def warp_error(frames, sources) -> float:
    meter = WarpError()
    for f, s in zip(frames, sources):
        meter.update(f, s)
    return meter.value


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("temporal")
    frames = make_frames()
    src = write_clip(folder / "src.mkv", frames)
    ffv1 = EncodeConfig(codec="ffv1")

    def run(name, processor, start=0):
        dst = folder / f"{name}.mkv"
        render(src, dst, processor, RenderConfig(decode=DecodeConfig(start=start, batch_size=5), encode=ffv1))
        return decode(dst)

    temporal = lambda: TemporalProcessor(MapProcessor(colour_flicker), FlowBlender(BlendConfig()))  # noqa: E731
    return {
        "source": frames,
        "per_frame": run("per_frame", MapProcessor(colour_flicker)),
        "blended": run("blended", temporal()),
        "cold": run("cold", temporal(), start=CUT),
    }


def test_the_lossless_round_trip_is_exact(rendered):
    assert len(rendered["blended"]) == len(rendered["source"]) == 2 * CUT
    assert np.array_equal(rendered["per_frame"][3], colour_flicker(rendered["source"][3][None])[0])


def test_blending_halves_the_warping_error(rendered):
    per_frame = warp_error(rendered["per_frame"], rendered["source"])
    blended = warp_error(rendered["blended"], rendered["source"])
    assert blended <= 0.5 * per_frame


def test_colours_after_the_cut_match_a_cold_start(rendered):
    after = rendered["blended"][CUT:]
    cold = rendered["cold"]
    assert len(cold) == CUT
    for a, b in zip(after, cold):
        assert np.abs(a.astype(int) - b).mean() < 1.0
    assert np.array_equal(after[0], rendered["per_frame"][CUT])  # the first frame of the shot is not blended
    source_mean = np.mean(rendered["source"][CUT], axis=(0, 1))
    assert np.abs(np.mean(after[0], axis=(0, 1)) - source_mean).max() < 3 * 12.0  # cool, not the warm shot A


def test_the_fast_object_leaves_no_ghost_trail(rendered):
    source, blended, per_frame = rendered["source"], rendered["blended"], rendered["per_frame"]
    for t in range(2, CUT):
        trail = np.zeros((H, W), bool)
        trail[object_box(t - 1)] = True
        trail[object_box(t)] = False  # where the object was a frame ago and is no more
        ghost = np.abs(blended[t].astype(int) - source[t])[trail].mean()
        flicker = np.abs(per_frame[t].astype(int) - source[t])[trail].mean()
        assert ghost < flicker + 8.0, f"frame {t}: trail error {ghost:.1f} vs per-frame {flicker:.1f}"
        here = np.abs(blended[t][object_box(t)].astype(int) - OBJECT).mean()
        assert here < 30.0, f"frame {t}: the object lags ({here:.1f})"
