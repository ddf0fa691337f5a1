"""Style presets that paint: the palette step, detail upsampling, texture losses, the paint recipe."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from filmgan.cli import main  # noqa: E402
from filmgan.errors import ConfigError  # noqa: E402
from filmgan.presets import load_preset_file  # noqa: E402
from filmgan.processors.palette import PaletteTransfer, lab_mean_std  # noqa: E402
from filmgan.processors.stylize import detail_upsample  # noqa: E402
from filmgan.train.texture import TextureTarget, lab_stats, reinhard_torch, softmax_transform  # noqa: E402
from filmgan.models.lab import rgb_to_lab  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared/data"
TFLITE = DATA / "weights/mobilenet_v2_1.0_224_quant.tflite"
needs_weights = pytest.mark.skipif(not TFLITE.is_file(), reason="../shared/data/weights (the ImageNet MobileNetV2 TFLite file) is absent")


def textured(h: int, w: int, seed: int) -> np.ndarray:
    """A photo-like test image: smooth colour regions plus fine luminance texture."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 6)
    base = (base - base.min()) / (base.max() - base.min())
    fine = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.8)[..., None] * 0.15
    return (np.clip(base * 0.8 + 0.1 + fine, 0, 1) * 255).astype(np.uint8)


# -- the palette step ---------------------------------------------------------------------------------
def test_palette_transfer_moves_lab_statistics_by_strength():
    img = textured(96, 128, 0)
    target_mean, target_std = np.array([40.0, 20.0, -30.0], np.float32), np.array([15.0, 10.0, 12.0], np.float32)
    full = PaletteTransfer(target_mean, target_std, 1.0).apply(img[None], stateful=False)[0]
    mean, std = lab_mean_std(full)
    assert np.abs(mean - target_mean).max() < 2.0 and np.abs(std - target_std).max() < 2.0
    src_mean, _ = lab_mean_std(img)
    half_mean, _ = lab_mean_std(PaletteTransfer(target_mean, target_std, 0.5).apply(img[None], stateful=False)[0])
    assert np.abs(half_mean - (src_mean + target_mean) / 2).max() < 2.0
    assert PaletteTransfer(target_mean, target_std, 0.0).apply(img[None]) is not None
    np.testing.assert_array_equal(PaletteTransfer(target_mean, target_std, 0.0).apply(img[None])[0], img)


def test_palette_transfer_smooths_statistics_over_a_sequence_only():
    dark, bright = textured(64, 64, 1) // 3, textured(64, 64, 2)
    mean, std = [50.0, 0.0, 0.0], [20.0, 10.0, 10.0]
    video = PaletteTransfer(mean, std, 1.0, smoothing=0.8)
    video.apply(dark[None])
    smoothed = video.apply(bright[None])[0]
    alone = PaletteTransfer(mean, std, 1.0).apply(bright[None], stateful=False)[0]
    # With the dark frame's statistics still in the estimate, the bright frame is normalised by a darker
    # mean: it comes out brighter than when it is taken alone.
    assert lab_mean_std(smoothed)[0][0] > lab_mean_std(alone)[0][0] + 5
    video.reset()
    np.testing.assert_array_equal(video.apply(bright[None])[0], alone)


@pytest.mark.parametrize("kwargs, message", [({"strength": 1.5}, "palette_strength"), ({"smoothing": 1.0}, "smoothing")])
def test_palette_transfer_rejects_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        PaletteTransfer([50, 0, 0], [10, 10, 10], **kwargs)


def test_reinhard_torch_matches_statistics_and_is_differentiable():
    x = torch.from_numpy(textured(64, 80, 3)).permute(2, 0, 1)[None].float().div(255).requires_grad_(True)
    mean, std = torch.tensor([45.0, 10.0, -20.0]).view(1, 3, 1, 1), torch.tensor([20.0, 8.0, 15.0]).view(1, 3, 1, 1)
    out = reinhard_torch(x, mean, std)
    m, s = lab_stats(rgb_to_lab(out))
    assert (m - mean).abs().max() < 2.0 and (s - std).abs().max() < 2.0
    out.mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    same = reinhard_torch(x.detach(), mean, std, strength=0.0)
    assert (same - x.detach()).abs().max() < 1e-3


# -- detail at output resolution ------------------------------------------------------------------------
def test_detail_upsampling_restores_the_frames_fine_detail():
    """With an identity 'network' the detail upsampler gives the frame back far better than bicubic."""
    full = textured(240, 320, 4)
    small = cv2.resize(full, (160, 120), interpolation=cv2.INTER_AREA)
    luma = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255  # noqa: E731
    small01 = small.astype(np.float32) / 255
    detail = detail_upsample(small01.copy(), small, full)
    bicubic = cv2.resize(small, (320, 240), interpolation=cv2.INTER_CUBIC)
    err = lambda a: np.abs(luma(a) - luma(full)).mean()  # noqa: E731
    assert detail.shape == full.shape and detail.dtype == np.uint8
    assert err(detail) < 0.5 * err(bicubic)


# -- texture statistics ---------------------------------------------------------------------------------
def test_softmax_transform_is_size_independent_and_positive():
    f = torch.randn(2, 8, 16, 16)
    g = softmax_transform(f, 1.0)
    assert (g > 0).all() and torch.allclose(g.mean(dim=(1, 2, 3)), torch.ones(2), atol=1e-4)
    big = softmax_transform(f.repeat(1, 1, 2, 2), 1.0)
    assert torch.allclose(big.mean(dim=(1, 2, 3)), torch.ones(2), atol=1e-4)


@pytest.mark.parametrize("loss", ["gram", "swd"])
@pytest.mark.parametrize("transform", ["none", "softmax"])
def test_texture_target_is_near_zero_for_the_painting_and_larger_for_a_photo(loss, transform):
    from filmgan.models.features import RandomFeatures

    net = RandomFeatures(seed=3, widths=(8, 8, 8, 8)).eval()
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::4] = (220, 60, 20)
    painting = torch.from_numpy(stripes).permute(2, 0, 1)[None].float() / 255
    photo = torch.from_numpy(textured(64, 64, 5)).permute(2, 0, 1)[None].float() / 255
    target = TextureTarget(net, [painting], (0, 1, 2), transform, loss)
    gen = torch.Generator().manual_seed(0)
    assert float(target.distance(painting, gen)) < 0.05 * float(target.distance(photo, gen))


# -- presets ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ('palette_strength = 1.5', "palette_strength"),
    ('palette_strength = "full"', "palette_strength"),
    ('upsample = "detial"', "did you mean 'detail'"),
])
def test_style_preset_keys_are_validated(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(f'task = "style"\nmodel = "m.safetensors"\n{text}\n')
    with pytest.raises(ConfigError, match=message):
        load_preset_file(path)


def test_style_keys_in_a_colorize_preset_are_an_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('task = "colorize"\nmodel = "colorize-v5"\npalette_strength = 0.5\n')
    with pytest.raises(ConfigError, match="style presets only"):
        load_preset_file(path)


def test_preset_palette_strength_and_upsampling_reach_the_task_config(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('task = "style"\nmodel = "m.safetensors"\npalette_strength = 0.25\nupsample = "detail"\n')
    preset = load_preset_file(path)
    config = preset.task_config()
    assert config.palette_strength == 0.25 and config.upsample == "detail"
    assert preset.task_config(palette_strength=0.0, upsample="guided").palette_strength == 0.0


# -- the paint recipe -------------------------------------------------------------------------------------
@needs_weights
@pytest.mark.realdata
def test_paint_recipe_trains_records_its_palette_and_the_processor_applies_it(tmp_path):
    from filmgan.backends import EngineConfig, load_engine
    from filmgan.processors.stylize import StylizeProcessor
    from filmgan.video.images import write_image

    (tmp_path / "photos").mkdir()
    for i in range(3):
        write_image(tmp_path / "photos" / f"{i}.png", textured(72, 96, 10 + i))
    painting = np.zeros((96, 128, 3), np.uint8)
    painting[..., 2] = 160
    painting[:, ::6] = (240, 200, 40)
    write_image(tmp_path / "painting.png", painting)
    args = ["train", "stylize", "--style", tmp_path / "painting.png", "--data", tmp_path / "photos", "--out", tmp_path / "run", "--steps", "2",
            "--batch", "1", "--crop", "64", "--load-size", "72", "--internal-size", "64", "--widths", "4,8,8", "--blocks", "1", "--precision", "fp32",
            "--feature-weights", TFLITE, "-q"]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "run" / "model.json").read_text())
    assert card["training"]["recipe"] == "paint" and card["training"]["feature_net"]["kind"] == "mobilenet-v2"
    palette = card["extra"]["palette"]
    assert palette["lab_mean"][2] < -20  # a blue painting: negative b
    engine = load_engine(tmp_path / "run" / "model.safetensors", EngineConfig(backend="torch", precision="fp32"), task="style")
    assert StylizeProcessor(engine).palette is not None
    assert StylizeProcessor(engine, palette_strength=0.0).palette.strength == 0.0

    missing = CliRunner().invoke(main, [str(a) for a in args[:-3]] + ["--out", str(tmp_path / "run2")])
    assert missing.exit_code == 1 and "--feature-weights" in missing.output

    temporal = ["train", "temporal", "--init", tmp_path / "run" / "model.safetensors", "--style", tmp_path / "painting.png", "--data", tmp_path / "photos",
                "--out", tmp_path / "t", "--steps", "1", "--batch", "1", "--crop", "64", "--load-size", "72", "--precision", "fp32", "-q"]
    no_weights = CliRunner().invoke(main, [str(a) for a in temporal])
    assert no_weights.exit_code == 1 and "--feature-weights" in no_weights.output
    tuned = CliRunner().invoke(main, [str(a) for a in [*temporal, "--feature-weights", TFLITE, "--texture-weight", "3", "--edge-weight", "5"]], catch_exceptions=False)
    assert tuned.exit_code == 0, tuned.output
    card = json.loads((tmp_path / "t" / "model.json").read_text())
    assert card["training"]["recipe"] == "paint" and "temporal" in card["training"] and card["extra"]["palette"] == palette
    assert card["training"]["texture_weight"] == 3.0 and card["training"]["edge_weight"] == 5.0


# -- the shipped paint presets ----------------------------------------------------------------------------
PAINT_PRESETS = ("starry-night", "great-wave", "rhone", "te-fare")


@pytest.mark.realdata
@pytest.mark.parametrize("name", PAINT_PRESETS)
def test_shipped_paint_presets_add_texture_and_keep_colours_on_request(name):
    """Regression guard on two held-out photos: the texture moves toward the painting's in a feature space
    no training used (seed 9876), by more than a colour transfer; palette strength 0 keeps the photo's
    colours (Lab means) closer than strength 1."""
    from filmgan.backends import EngineConfig, load_engine
    from filmgan.card import read_card
    from filmgan.models.features import RandomFeatures
    from filmgan.presets import find_preset
    from filmgan.processors.stylize import StylizeProcessor
    from filmgan.train.data import resize_short_side
    from filmgan.train.paint import palette_of
    from filmgan.train.stylize import to_tensor
    from filmgan.video.images import read_image

    photos_dir = DATA / "photos" / "bsds500_test"
    if not photos_dir.is_dir():
        pytest.skip("../shared/data/photos/bsds500_test is absent")
    try:
        preset = find_preset(name)
    except ConfigError:
        pytest.skip(f"preset {name} not shipped in this checkout")
    card = read_card(preset.model_path())
    painting = read_image(DATA / "styles" / card.extra["style"]["painting"])
    engine = load_engine(preset.model_path(), EngineConfig(backend="torch", precision="fp32"), task="style")
    photos = [resize_short_side(read_image(p), 160) for p in sorted(photos_dir.glob("*.jpg"))[:2]]
    palette = palette_of(painting)
    mean, std = torch.tensor(palette["lab_mean"]).view(1, 3, 1, 1), torch.tensor(palette["lab_std"]).view(1, 3, 1, 1)
    judge = TextureTarget(RandomFeatures(9876).eval(), [to_tensor(resize_short_side(painting, 256))], (0, 1, 2, 3), "none", "gram")

    def texture(rgb):
        with torch.no_grad():
            return float(judge.distance(reinhard_torch(to_tensor(rgb), mean, std)))

    full = StylizeProcessor(engine, render_size=160, upsample="detail").stylize(np.stack(photos[:1]))[0]
    keep = StylizeProcessor(engine, render_size=160, upsample="detail", palette_strength=0.0).stylize(np.stack(photos[:1]))[0]
    second = StylizeProcessor(engine, render_size=160).stylize(np.stack(photos[1:]))[0]
    assert texture(full) + texture(second) < 0.8 * (texture(photos[0]) + texture(photos[1]))
    photo_mean = lab_mean_std(photos[0])[0]
    assert np.abs(lab_mean_std(keep)[0] - photo_mean)[1:].sum() < np.abs(lab_mean_std(full)[0] - photo_mean)[1:].sum()
