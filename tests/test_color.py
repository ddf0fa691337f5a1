"""Lab conversions and the colorizer's luminance-preserving recombination."""

import numpy as np
import pytest

from filmgan.video.color import lab_to_rgb, recombine_luminance_chroma, rgb_to_lab, rgb_to_luminance_l


def random_rgb(seed=0, shape=(48, 64, 3)):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_lab_round_trip_in_float_is_below_1e4():
    rgb = random_rgb()
    assert np.abs(lab_to_rgb(rgb_to_lab(rgb)) - rgb).max() < 1e-4


def test_lab_matches_scikit_image():
    skimage_color = pytest.importorskip("skimage.color")
    rgb = random_rgb(1)
    assert np.abs(rgb_to_lab(rgb) - skimage_color.rgb2lab(rgb)).max() < 0.01


def test_torch_lab_matches_numpy_lab():
    torch = pytest.importorskip("torch")
    from filmgan.models import lab as tlab

    rgb = random_rgb(2)
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    lab_t = tlab.rgb_to_lab(t)[0].permute(1, 2, 0).numpy()
    assert np.abs(lab_t - rgb_to_lab(rgb)).max() < 1e-3
    assert (tlab.lab_to_rgb(tlab.rgb_to_lab(t)) - t).abs().max() < 1e-4


def test_recombination_with_the_true_chroma_restores_the_image():
    rgb8 = (random_rgb(3) * 255).astype(np.uint8)
    lab = rgb_to_lab(rgb8)
    out = recombine_luminance_chroma(rgb8, lab[..., 1:])
    assert np.abs(out.astype(int) - rgb8).max() <= 1


@pytest.mark.parametrize("chroma_scale", [0.0, 30.0, 90.0, 200.0])
def test_output_luminance_equals_input_luminance_within_one_8bit_level(chroma_scale):
    rng = np.random.default_rng(4)
    rgb8 = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    ab = rng.normal(size=(40, 50, 2)).astype(np.float32) * chroma_scale  # includes far out-of-gamut chroma
    out = recombine_luminance_chroma(rgb8, ab)
    dL = np.abs(rgb_to_luminance_l(out) - rgb_to_luminance_l(rgb8))
    assert dL.max() * 255.0 / 100.0 <= 1.0  # L (0-100) expressed in 8-bit levels
    if chroma_scale == 0.0:  # ab = 0 gives neutral grey
        assert np.abs(out.astype(int) - out[..., :1].astype(int)).max() <= 1


def test_black_and_white_pixels_stay_black_and_white_under_any_chroma():
    """A fade to black or a blown-out white frame admits grey only; strong chroma must not tint it."""
    rng = np.random.default_rng(5)
    frame = np.zeros((32, 40, 3), np.uint8)
    frame[:, 20:] = 255
    frame[10:20, 5:15] = 40  # a dark grey patch keeps a tint inside the gamut
    ab = rng.normal(size=(32, 40, 2)).astype(np.float32) * 80.0
    out = recombine_luminance_chroma(frame, ab)
    assert (out[:, :5] == 0).all() and (out[:, 20:] == 255).all()
    patch = out[10:20, 5:15].astype(int)
    assert (patch.max(axis=-1) - patch.min(axis=-1)).mean() > 5  # tinted, not grey
    dL = np.abs(rgb_to_luminance_l(patch.astype(np.uint8)) - rgb_to_luminance_l(frame[10:20, 5:15]))
    assert dL.max() * 255.0 / 100.0 <= 1.0
