"""Optical flow, warping, occlusion masks and scene cuts on synthetic sequences with known motion."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from filmgan.errors import ConfigError, InputError
from filmgan.metrics.image import psnr
from filmgan.temporal.flow import (
    FlowEstimator,
    compute_flow,
    flow_size,
    inconsistent_mask,
    motion_boundary_mask,
    occlusion_mask,
    out_of_frame,
    resize_flow,
)
from filmgan.temporal.scenecut import SceneCutDetector, cut_score
from filmgan.temporal.warp import warp
from media import texture  # noqa: E402

MARGIN = 20




def affine(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``out(M p) = img(p)``: the content moves by the affine map M (2x3)."""
    return cv2.warpAffine(img, m, img.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def shifted(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return affine(img, np.float32([[1, 0, dx], [0, 1, dy]]))


def interior(a: np.ndarray) -> np.ndarray:
    return a[MARGIN:-MARGIN, MARGIN:-MARGIN]


def moving_square(bg: np.ndarray, obj: np.ndarray, x: int, y: int) -> np.ndarray:
    frame = bg.copy()
    frame[y : y + obj.shape[0], x : x + obj.shape[1]] = obj
    return frame


# -- flow -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dx, dy", [(2.3, -1.6), (5.0, 3.0), (0.4, 0.25)])
def test_dis_recovers_a_translation(dx, dy):
    a = texture(160, 224, 1)
    b = shifted(a, dx, dy)  # b(p) = a(p - d), so flow(a -> b) = +d
    f = interior(compute_flow(a, b, preset="medium"))
    err = np.hypot(f[..., 0] - dx, f[..., 1] - dy)
    assert np.median(err) < 0.3
    back = interior(compute_flow(b, a, preset="medium"))
    assert np.median(np.hypot(back[..., 0] + dx, back[..., 1] + dy)) < 0.3


def test_reduced_size_flow_is_upsampled_with_scaled_vectors():
    a = texture(240, 320, 2)
    b = shifted(a, 4.0, -2.0)
    est = FlowEstimator("fast", max_side=160)
    small = est(a, b, full_size=False)
    assert small.shape == (120, 160, 2)
    assert np.median(small[10:-10, 10:-10, 0]) == pytest.approx(2.0, abs=0.3)  # half-size pixels
    full = est(a, b)
    assert full.shape == (240, 320, 2)
    err = np.hypot(interior(full)[..., 0] - 4.0, interior(full)[..., 1] + 2.0)
    assert np.median(err) < 0.3


def test_dis_recovers_a_rotation():
    a = texture(200, 200, 3)
    m = cv2.getRotationMatrix2D((100.0, 100.0), 3.0, 1.0)
    b = affine(a, m.astype(np.float32))
    ys, xs = np.mgrid[0:200, 0:200].astype(np.float32)
    true = np.stack([m[0, 0] * xs + m[0, 1] * ys + m[0, 2] - xs, m[1, 0] * xs + m[1, 1] * ys + m[1, 2] - ys], -1)
    err = np.linalg.norm(interior(compute_flow(a, b, "medium") - true), axis=-1)
    assert np.median(err) < 0.3


def test_warp_with_backward_flow_reproduces_the_next_frame():
    prev = texture(160, 224, 4)
    cur = shifted(prev, 3.4, 1.2)
    backward = compute_flow(cur, prev, "medium")  # f_{t -> t-1}
    assert psnr(interior(cur), interior(warp(prev, backward))) > 30
    assert psnr(interior(cur), interior(prev)) < 25  # the test is not vacuous


def test_warp_keeps_dtype_and_channels_and_follows_the_convention():
    img = np.arange(12, dtype=np.float32).reshape(3, 4)
    f = np.zeros((3, 4, 2), np.float32)
    f[..., 0] = 1.0  # sample one pixel to the right
    out = warp(img, f)
    assert out.dtype == np.float32
    assert np.array_equal(out[:, :3], img[:, 1:])
    assert np.array_equal(out[:, 3], img[:, 3])  # border replicated
    assert warp(np.zeros((3, 4, 1), np.uint8), f).shape == (3, 4, 1)
    assert warp(np.zeros((3, 4, 3), np.float64), f).dtype == np.float64
    with pytest.raises(InputError):
        warp(img, np.zeros((3, 5, 2), np.float32))


def test_flow_helpers_validate_and_resize():
    assert flow_size((1280, 720), 640) == (640, 360)
    assert flow_size((320, 240), 640) == (320, 240)
    f = np.ones((10, 20, 2), np.float32)
    r = resize_flow(f, (40, 30))
    assert r.shape == (30, 40, 2)
    assert np.allclose(r[..., 0], 2.0) and np.allclose(r[..., 1], 3.0)
    with pytest.raises(ConfigError):
        FlowEstimator("slow")
    with pytest.raises(InputError):
        compute_flow(np.zeros((8, 8), np.float32), np.zeros((8, 8), np.float32))
    with pytest.raises(InputError):
        FlowEstimator().calc(np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint8))


# -- occlusion and motion boundaries ----------------------------------------------------------------------


def square_flows(h=60, w=80, x0=20, size=16, dx=6):
    """Exact flows of a square moving right by dx over a static background: (backward, forward, strip)."""
    y0 = 20
    bwd = np.zeros((h, w, 2), np.float32)  # f_{t -> t-1}: the square at t came from dx to the left
    bwd[y0 : y0 + size, x0 + dx : x0 + dx + size, 0] = -dx
    fwd = np.zeros((h, w, 2), np.float32)  # f_{t-1 -> t}
    fwd[y0 : y0 + size, x0 : x0 + size, 0] = dx
    strip = np.zeros((h, w), bool)  # background revealed at t
    strip[y0 : y0 + size, x0 : x0 + dx] = True
    return bwd, fwd, strip


def test_forward_backward_check_marks_exactly_the_disoccluded_strip():
    bwd, fwd, strip = square_flows()
    inconsistent = inconsistent_mask(bwd, fwd)
    assert inconsistent[strip].all()
    assert not inconsistent[~strip].any()


def test_motion_boundary_mask_marks_flow_edges_only():
    bwd, _, _ = square_flows()
    mb = motion_boundary_mask(bwd)
    assert mb[20:36, 25].any() and mb[20:36, 41].any()  # left and right edges of the moving square
    assert not mb[:10].any() and not mb[24:32, 30:38].any()  # far background, square interior


def test_out_of_frame_targets_are_occluded():
    f = np.zeros((10, 10, 2), np.float32)
    f[..., 0] = -3.0
    assert out_of_frame(f)[:, :3].all() and not out_of_frame(f)[:, 3:].any()
    assert occlusion_mask(f, -f)[:, :3].all()
    assert not occlusion_mask(f, -f, mark_out_of_frame=False).any()


def test_occlusion_mask_from_dis_on_a_moving_object():
    bg = texture(160, 224, 5)
    obj = texture(48, 48, 6)
    prev, cur = moving_square(bg, obj, 60, 56), moving_square(bg, obj, 72, 56)
    est = FlowEstimator("medium")
    occ = occlusion_mask(est(cur, prev), est(prev, cur))  # for the pixels of frame t
    strip = np.zeros(occ.shape, bool)
    strip[56:104, 60:72] = True
    far = np.ones(occ.shape, bool)
    far[36:124, 30:150] = False
    assert occ[strip].mean() > 0.7
    assert occ[far].mean() < 0.05
    assert occ[62:98, 78:114].mean() < 0.05  # the object's interior is tracked


def test_occlusion_mask_validates_shapes():
    with pytest.raises(InputError):
        occlusion_mask(np.zeros((4, 4, 2), np.float32), np.zeros((4, 5, 2), np.float32))


# -- scene cuts -------------------------------------------------------------------------------------------


def test_scene_cut_detector_fires_on_a_hard_cut_only():
    a, b = texture(120, 160, 7), texture(120, 160, 8)
    rng = np.random.default_rng(0)
    shot_a = [shifted(a, 3 * t, t) for t in range(5)]
    noisy = [np.clip(f.astype(np.int16) + rng.integers(-8, 9, f.shape), 0, 255).astype(np.uint8) for f in shot_a]
    shot_b = [shifted(b, -2 * t, 0) for t in range(4)]
    det = SceneCutDetector()
    cuts = [det.is_cut(f) for f in noisy + shot_b]
    assert cuts == [False] * 5 + [True] + [False] * 3
    assert cut_score(a, a) == pytest.approx(0.0, abs=1e-6)
    assert cut_score(a, b) > 0.5 > cut_score(a, shifted(a, 8, 3))
    faded = (a.astype(np.float32) * 0.6).astype(np.uint8)  # a fade is not a cut
    assert cut_score(a, faded) < 0.3
    det.reset()
    assert det.is_cut(b) is False  # first frame after a reset


def test_scene_cut_detector_validates_config():
    with pytest.raises(ConfigError):
        SceneCutDetector(threshold=0)
    with pytest.raises(InputError):
        SceneCutDetector().is_cut(np.zeros((8, 8), np.uint8))


# -- import tier ------------------------------------------------------------------------------------------


def test_temporal_and_metrics_do_not_import_torch():
    code = (
        "import sys, filmgan.temporal, filmgan.temporal.blend, filmgan.metrics, filmgan.metrics.flicker; "
        "bad = [m for m in ('torch', 'skimage') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
