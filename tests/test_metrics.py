"""Image metrics (PSNR, SSIM, CIEDE2000, colourfulness) and temporal metrics (warping error, CDC)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from filmgan.errors import ConfigError, InputError
from filmgan.metrics import (
    CDC,
    WarpError,
    WarpErrors,
    colour_histograms,
    colourfulness,
    delta_e,
    flicker_report,
    js_divergence,
    psnr,
    read_video_frames,
    ssim,
)
from media import texture  # noqa: E402




def panning_clip(n: int, seed: int = 1, h: int = 96, w: int = 128) -> list[np.ndarray]:
    big = texture(h + 40, w + 40, seed)
    m = lambda t: np.float32([[1, 0, 1.5 * t], [0, 1, 0.5 * t]])  # noqa: E731
    return [cv2.warpAffine(big, m(t), big.shape[1::-1], flags=cv2.INTER_CUBIC)[20:-20, 20:-20] for t in range(n)]


def flicker(frames, sigma: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, sigma, 3), 0, 255).astype(np.uint8) for f in frames]


# -- image metrics ----------------------------------------------------------------------------------------


def test_psnr_values():
    a = texture(32, 32, 1)
    assert psnr(a, a) == math.inf
    b = np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8)
    flat = np.full((8, 8, 3), 100, np.uint8)
    assert psnr(flat, flat + 10) == pytest.approx(10 * math.log10(255**2 / 100))
    assert 20 < psnr(a, b) < 30


def test_ssim_values():
    a = texture(64, 64, 2)
    assert ssim(a, a) == pytest.approx(1.0)
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 25, a.shape), 0, 255).astype(np.uint8)
    assert 0.0 < ssim(a, noisy) < 0.9
    assert ssim(a, noisy) < ssim(a, cv2.GaussianBlur(a, (3, 3), 0))


def test_delta_e_values():
    a = texture(16, 16, 3)
    assert delta_e(a, a) == pytest.approx(0.0, abs=1e-9)
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    green = np.zeros((4, 4, 3), np.uint8)
    green[..., 1] = 255
    assert delta_e(red, green) > 50
    assert delta_e(a, np.clip(a.astype(int) + 1, 0, 255).astype(np.uint8)) < 1.5


def test_colourfulness_values():
    grey = np.repeat(texture(32, 32, 4)[..., :1], 3, axis=2)
    assert colourfulness(grey) == 0.0
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    assert colourfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5))
    assert colourfulness(texture(32, 32, 5)) > 10


def test_image_metrics_reject_bad_input():
    with pytest.raises(InputError):
        psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(InputError):
        colourfulness(np.zeros((4, 4, 3), np.float32))


# -- warping error ----------------------------------------------------------------------------------------


def test_warp_error_of_a_static_video_is_zero():
    frame = texture(64, 96, 6)
    assert flicker_report([frame] * 4)["warp_error"] == pytest.approx(0.0, abs=1e-10)


def test_warp_error_is_small_for_clean_motion_and_large_for_flicker():
    clean = panning_clip(6)
    flickering = flicker(clean, sigma=20)
    e_clean = flicker_report(clean)["warp_error"]
    e_flicker = flicker_report(flickering, reference=clean)["warp_error"]
    assert e_clean < 5e-4
    assert e_flicker > 10 * e_clean and e_flicker > 2e-3


def test_warp_error_leaves_out_the_pair_across_a_scene_cut():
    shot_a, shot_b = panning_clip(6, seed=1), panning_clip(6, seed=7)
    video = shot_a + [255 - f for f in shot_b]  # a hard cut to another shot with other colours
    within = WarpError()
    for f in shot_a:
        within.update(f)
    skipping, counting = WarpError(), WarpError(skip_cuts=False)
    for f in video:
        skipping.update(f)
        counting.update(f)
    assert skipping.cuts == 1 and skipping.pairs == 10 and counting.pairs == 11
    # without the cut pair the error stays at the level of clean motion; with it, that one pair dominates
    assert skipping.value < 3 * within.value + 1e-6 < counting.value / 10


def test_warp_error_value_and_channel_reduction():
    a = np.full((32, 32, 3), 100, np.uint8)
    b = a.copy()
    b[..., 0] += 51  # red off by 0.2 everywhere, a static (flow = 0) video
    mean = WarpError()
    mean.update(a)
    assert mean.update(b, reference=a) == pytest.approx(0.2**2 / 3, rel=1e-4)
    total = WarpError(channel_reduction="sum")
    total.update(a)
    assert total.update(b, reference=a) == pytest.approx(0.2**2, rel=1e-4)
    with pytest.raises(ConfigError):
        WarpError(channel_reduction="max")


def test_warp_error_uses_the_reference_flow_at_another_size():
    ref = panning_clip(4)
    out = [cv2.resize(f, (256, 192), interpolation=cv2.INTER_CUBIC) for f in ref]
    report = flicker_report(out, reference=ref)
    assert report["flow_on"] == "reference" and report["pairs"] == 3
    assert report["warp_error"] < 5e-4


def test_flicker_report_checks_lengths_and_short_videos():
    clip = panning_clip(3)
    with pytest.raises(InputError):
        flicker_report(clip, reference=clip[:2])
    one = flicker_report(clip[:1])
    assert one["frames"] == 1 and math.isnan(one["warp_error"]) and math.isnan(one["cdc"])


# -- CDC --------------------------------------------------------------------------------------------------


def test_js_divergence_bounds():
    p = np.array([0.5, 0.5, 0.0, 0.0])
    q = np.array([0.0, 0.0, 0.5, 0.5])
    assert js_divergence(p, p) == pytest.approx(0.0)
    assert js_divergence(p, q) == pytest.approx(math.log(2))
    assert colour_histograms(texture(8, 8)).sum(axis=1) == pytest.approx([1, 1, 1])


def test_cdc_is_zero_for_a_constant_video_and_grows_with_colour_flicker():
    frame = texture(64, 64, 7)
    assert flicker_report([frame] * 6)["cdc"] == pytest.approx(0.0, abs=1e-12)
    clip = [frame] * 8
    values = [flicker_report(flicker(clip, sigma))["cdc"] for sigma in (2, 8, 24)]
    assert 0 < values[0] < values[1] < values[2]


def test_cdc_gaps_and_bounded_history():
    cdc = CDC()
    for f in panning_clip(3):
        cdc.update(f)
    per_gap = cdc.per_gap
    assert not math.isnan(per_gap[1]) and not math.isnan(per_gap[2]) and math.isnan(per_gap[4])
    assert cdc.value == pytest.approx((per_gap[1] + per_gap[2]) / 2)
    for f in panning_clip(10):
        cdc.update(f)
    assert len(cdc._hists) == 4
    with pytest.raises(ConfigError):
        CDC(gaps=(0,))


# -- video input ------------------------------------------------------------------------------------------


def test_read_video_frames_decodes_a_small_file(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv444p"
        for f in panning_clip(3, h=48, w=64):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode(None))
    frames = list(read_video_frames(path))
    assert len(frames) == 3 and frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    with pytest.raises(InputError):
        list(read_video_frames(tmp_path / "missing.mp4"))


def test_warp_errors_of_several_videos_equal_separate_meters():
    reference = panning_clip(6, seed=1)
    rng = np.random.default_rng(3)
    flickering = [np.clip(f.astype(np.int16) + rng.integers(-12, 13), 0, 255).astype(np.uint8) for f in reference]
    together = WarpErrors(["clean", "flicker"])
    alone = {"clean": WarpError(), "flicker": WarpError()}
    for ref, noisy in zip(reference, flickering):
        together.update(ref, {"clean": ref, "flicker": noisy})
        alone["clean"].update(ref, ref)
        alone["flicker"].update(noisy, ref)
    assert together.pairs == 5
    assert together.values == pytest.approx({name: meter.value for name, meter in alone.items()}, rel=1e-12)
    assert together.values["flicker"] > 5 * together.values["clean"]
    with pytest.raises(InputError, match="expected frames of clean, flicker"):
        together.update(reference[0], {"clean": reference[0]})
