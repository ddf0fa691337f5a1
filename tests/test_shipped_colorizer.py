"""The shipped default colorizer on held-out real photos (bsds500_test, never used in training)."""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")

from filmgan.backends.torch_backend import TorchEngine  # noqa: E402
from filmgan.metrics.image import colourfulness, delta_e, psnr  # noqa: E402
from filmgan.presets import find_preset  # noqa: E402
from filmgan.processors.colorize import ColorizeProcessor  # noqa: E402
from filmgan.video.color import recombine_luminance_chroma, rgb_to_luminance_l  # noqa: E402
from filmgan.video.images import read_image  # noqa: E402

HELD_OUT = Path(__file__).resolve().parents[2] / "shared/data/photos/bsds500_test"
pytestmark = pytest.mark.realdata


def shipped_model(preset: str) -> Path:
    """The model file of a built-in preset; skips the test when the weights are not in this checkout."""
    try:
        return find_preset(preset).model_path()
    except Exception as exc:  # noqa: BLE001 - the weights may not be in a partial checkout
        pytest.skip(f"{preset} model not shipped: {exc}")


@pytest.fixture(scope="module")
def shipped():
    return shipped_model("colorize")


@pytest.fixture(scope="module")
def photos():
    if not HELD_OUT.is_dir():
        pytest.skip(f"held-out photos not found at {HELD_OUT}")
    return [read_image(p) for p in sorted(HELD_OUT.glob("*.jpg"))[::8]]  # 25 photos spread over the split


def test_card_describes_its_training(shipped):
    from filmgan.card import read_card

    card = read_card(shipped)
    assert card.task == "colorize" and card.color_space == "lab" and card.internal_size
    excluded = card.training["data"]["excluded"]
    assert card.training["steps"] > 0 and "bsds500_test" in (excluded if isinstance(excluded, str) else " ".join(excluded))
    assert shipped.stat().st_size < 20e6


def test_beats_the_grey_baseline_and_adds_colour(shipped, photos):
    render_size = find_preset("colorize").render_size  # what 'filmgan colorize' runs
    processor = ColorizeProcessor(TorchEngine(shipped, task="colorize", precision="fp32"), render_size=render_size)
    de, de_grey, colour, colour_truth, gain_db = [], [], [], [], []
    for truth in photos:
        out = processor.colorize(truth[None])[0]
        grey = recombine_luminance_chroma(truth, np.zeros(truth.shape[:2] + (2,), np.float32))
        de.append(delta_e(truth, out))
        de_grey.append(delta_e(truth, grey))
        colour.append(colourfulness(out))
        colour_truth.append(colourfulness(truth))
        gain_db.append(psnr(truth, out) - psnr(truth, grey))
        assert np.abs(rgb_to_luminance_l(out) - rgb_to_luminance_l(truth)).max() * 2.55 <= 1.0
    # a regression guard for the shipped model (the bars are measured by scripts/eval_colorize.py)
    assert np.mean(de) < 0.95 * np.mean(de_grey) and np.mean(gain_db) > 0.5  # colorize-v5: 0.840 and +1.55 dB on all 200
    assert np.mean(colour) > 0.5 * np.mean(colour_truth)  # colorize-v5: 0.58 on all 200, 0.54 on these 25


def test_bf16_output_matches_fp32_above_40_db(shipped, photos):
    from filmgan.backends.device import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("no AMX/AVX512-BF16 on this CPU: bf16 convolutions fall back to a reference kernel (minutes); 'auto' uses fp32 here")
    fp32 = ColorizeProcessor(TorchEngine(shipped, task="colorize", precision="fp32"))
    bf16 = ColorizeProcessor(TorchEngine(shipped, task="colorize", precision="bf16"))
    frames = np.stack([p for p in photos if p.shape == photos[0].shape][:3])
    a, b = fp32.colorize(frames), bf16.colorize(frames)
    assert min(psnr(x, y) for x, y in zip(a, b)) >= 40.0


@pytest.mark.parametrize("preset, channels, nhwc", [("colorize", 1, True), ("the-scream", 3, False)])
def test_the_engine_picks_the_memory_layout_and_keeps_the_module_s_numbers(preset, channels, nhwc):
    """The BatchNorm U-Net runs channels-last; the instance-norm StyleNet stays NCHW (slower in NHWC)."""
    from filmgan.models.checkpoint import load_model

    path = shipped_model(preset)
    engine = TorchEngine(path, precision="fp32")
    weights = [p for p in engine.model.parameters() if p.ndim == 4 and min(p.shape[1:]) > 1]  # unambiguous layout
    assert engine.channels_last is nhwc
    assert weights and all(w.is_contiguous(memory_format=torch.channels_last) is nhwc for w in weights)
    module, _ = load_model(path, device=torch.device("cpu"))  # plain NCHW
    x = np.random.default_rng(0).uniform(-1, 1, (2, channels, 64, 96)).astype(np.float32)
    with torch.inference_mode():
        reference = module(torch.from_numpy(x)).numpy()
    out = engine.run(x)
    assert out.shape == reference.shape and np.abs(out - reference).max() < 1e-4
