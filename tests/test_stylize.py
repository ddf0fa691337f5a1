"""Style transfer: generator, task + shared Trainer (step, resume), processor, presets, CLI."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from filmgan.backends.base import InputSpec  # noqa: E402
from filmgan.card import ModelCard, read_card  # noqa: E402
from filmgan.cli import main  # noqa: E402
from filmgan.errors import CheckpointError, ConfigError, ModelUnavailableError  # noqa: E402
from filmgan.models.checkpoint import load_model, save_model  # noqa: E402
from filmgan.models.stylenet import StyleNet  # noqa: E402
from filmgan.presets import find_preset, list_presets  # noqa: E402
from filmgan.processors.stylize import StylizeProcessor, guided_upsample  # noqa: E402
from filmgan.train.data import ImageBank  # noqa: E402
from filmgan.train.loop import Trainer, TrainConfig  # noqa: E402
from filmgan.train.stylize import STYLE_IO, StyleTask, edge_ssim, gram_distance, style_grams  # noqa: E402
from filmgan.video.frames import FrameBatch  # noqa: E402

import media  # noqa: E402

TINY_FEATURES = {"kind": "random", "seed": 7, "widths": [8, 8, 8, 8]}
TINY_G = dict(widths=(4, 8, 8), blocks=1, stem_kernel=3)
SHIPPED = ("starry-night", "great-wave", "the-scream", "composition-vii", "shipwreck", "monet-dusk")


def smooth_image(h: int, w: int, seed: int) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 3)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)


def stripes(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(np.sin((x + y) / 3.0) > 0) * 200, np.full((h, w), 40), (x * 255 // w)], axis=-1)
    return img.astype(np.uint8)


def tiny_task(**kw) -> StyleTask:
    bank = ImageBank([smooth_image(48, 64, i) for i in range(4)], [f"img{i}" for i in range(4)])
    options = dict(widths=TINY_G["widths"], blocks=1, stem_kernel=3, d_width=8, style_sizes=(32, 48), features=TINY_FEATURES, internal_size=48)
    options.update(kw)
    return StyleTask(bank=bank, painting=stripes(60, 80), val_images=[smooth_image(40, 56, 9)], **options)


def tiny_config(out: Path, steps: int = 3) -> TrainConfig:
    return TrainConfig(out=out, steps=steps, batch=2, crop=64, precision="fp32", val_every=2, ckpt_every=1, log_every=1, threads=1)


def tiny_model_file(path: Path, task: str = "style", color_space: str = "rgb", **g) -> Path:
    torch.manual_seed(0)
    G = StyleNet(**{**TINY_G, **g})
    card = ModelCard(name="tiny-style", task=task, arch=G.ARCH, args=G.args, color_space=color_space, io=STYLE_IO, internal_size=32)
    save_model(path, G, card)
    return path


# -- generator --------------------------------------------------------------------------------------
@pytest.mark.parametrize("h,w", [(32, 32), (37, 53), (9, 15)])
def test_generator_keeps_size_and_range(h, w):
    G = StyleNet(**TINY_G).eval()
    with torch.no_grad():
        y = G(torch.rand(2, 3, h, w))
    assert y.shape == (2, 3, h, w) and float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_generator_round_trips_through_a_model_file(tmp_path):
    path = tiny_model_file(tmp_path / "m.safetensors")
    model, card = load_model(path, task="style")
    assert isinstance(model, StyleNet) and card.color_space == "rgb" and card.task == "style"
    with pytest.raises(CheckpointError):
        load_model(path, task="colorize")


# -- task + trainer ---------------------------------------------------------------------------------
def test_one_train_step_updates_both_networks_and_logs_style_losses(tmp_path):
    trainer = Trainer(tiny_task(), tiny_config(tmp_path / "run"))
    g0 = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    d0 = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    logs = trainer.train_step()
    assert {"content", "style", "tv", "adv", "d_loss", "g_loss"} <= set(logs) and all(np.isfinite(v) for v in logs.values())
    assert any(not torch.equal(g0[k], v) for k, v in trainer.G.state_dict().items())
    assert any(not torch.equal(d0[k], v) for k, v in trainer.D.state_dict().items())


def test_run_writes_card_grid_and_resume_continues_exactly(tmp_path):
    straight = Trainer(tiny_task(), tiny_config(tmp_path / "a", steps=3))
    straight.run()
    first = Trainer(tiny_task(), tiny_config(tmp_path / "b", steps=3))
    first.run(stop_after=2)
    resumed = Trainer(tiny_task(), tiny_config(tmp_path / "b", steps=3))
    assert resumed.resume() and resumed.step == 2
    resumed.run()
    for k, v in straight.G.state_dict().items():
        assert torch.equal(v, resumed.G.state_dict()[k]), k
    model, card = load_model(tmp_path / "b" / "model.safetensors", task="style")
    assert card.training["feature_net"] == {"kind": "random", "seed": 7, "widths": [8, 8, 8, 8]}
    assert card.internal_size == 48 and {"gram_ratio", "edge_ssim"} <= set(card.metrics["validation"])
    assert sorted(p.name for p in (tmp_path / "b" / "samples").iterdir()) == ["step-000002.png", "step-000003.png"]
    assert len((tmp_path / "b" / "train.jsonl").read_text().splitlines()) == 3


def test_gram_distance_is_zero_for_the_painting_and_positive_for_a_photo():
    from filmgan.models.features import feature_network

    features = feature_network(TINY_FEATURES)
    painting = stripes(48, 64)
    targets = style_grams(features, painting, (48,))
    assert gram_distance(features, painting, targets) < 1e-9
    assert gram_distance(features, smooth_image(48, 64, 1), targets) > 0.01


def test_edge_ssim_is_one_for_identical_and_low_for_unrelated_images():
    a = stripes(64, 64)
    assert edge_ssim(a, a) == pytest.approx(1.0)
    assert edge_ssim(a, smooth_image(64, 64, 3)) < 0.3


# -- processor --------------------------------------------------------------------------------------
class FakeEngine:
    """Engine protocol over a torch module; counts calls and their shapes."""

    name, precision = "fake", "fp32"

    def __init__(self, model, card):
        self.model, self.card, self.calls = model, card, []
        self.input_spec = InputSpec.from_card(card)

    def run(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(x.shape)
        with torch.no_grad():
            return self.model(torch.from_numpy(x)).numpy()


def engine_for(tmp_path, **g) -> FakeEngine:
    return FakeEngine(*load_model(tiny_model_file(tmp_path / "m.safetensors", **g)))


@pytest.mark.parametrize("upsample", ["bicubic", "guided"])
def test_processor_keeps_frame_count_size_and_pts(tmp_path, upsample):
    engine = engine_for(tmp_path)
    frames = np.stack([smooth_image(90, 121, i) for i in range(3)])
    batch = FrameBatch(frames, np.array([0, 1001, 2002], np.int64), Fraction(1, 24000), start_index=5)
    (out,) = StylizeProcessor(engine, render_size=40, upsample=upsample).process(batch)
    assert out.frames.shape == frames.shape and out.frames.dtype == np.uint8
    assert out.pts.tolist() == [0, 1001, 2002] and out.time_base == Fraction(1, 24000) and out.start_index == 5
    assert engine.calls == [(3, 3, 40, 56)]  # short side at the render size, multiple of 8


def test_processor_runs_small_frames_at_their_own_size(tmp_path):
    engine = engine_for(tmp_path)
    frames = np.stack([smooth_image(32, 48, 0)])
    StylizeProcessor(engine, render_size=360).stylize(frames)
    StylizeProcessor(engine, render_size=0).stylize(frames)
    odd = StylizeProcessor(engine, render_size=360).stylize(np.stack([smooth_image(30, 45, 0)]))  # rounded to the engine's alignment
    assert engine.calls == [(1, 3, 32, 48), (1, 3, 32, 48), (1, 3, 32, 48)] and odd.shape == (1, 30, 45, 3)


def test_processor_tiles_over_the_pixel_budget_without_seams(tmp_path):
    torch.manual_seed(0)
    local = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect"), torch.nn.Sigmoid()).eval()
    card = ModelCard(name="local", task="style", arch="x", args={}, color_space="rgb", io=STYLE_IO)
    frames = np.stack([smooth_image(200, 264, 0), smooth_image(200, 264, 1)])
    whole = StylizeProcessor(FakeEngine(local, card), render_size=0).stylize(frames)
    engine = FakeEngine(local, card)
    tiled = StylizeProcessor(engine, render_size=0, pixel_budget=96 * 96, tile=96, overlap=32, consistent_tiles=False).stylize(frames)
    assert len(engine.calls) > 2 and all(c[0] == 1 and c[2] <= 96 and c[3] <= 96 for c in engine.calls)
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1


def test_processor_tiles_an_instance_norm_network_without_bands():
    """Instance norm makes every tile's colours depend on that tile's statistics (plain feathering turns
    that into bands); the reduced whole-frame pass gives the tiles one consistent colour mapping."""
    from filmgan.processors.tiling import plan_tiles

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.InstanceNorm2d(3), torch.nn.Conv2d(3, 3, 1), torch.nn.Sigmoid()).eval()
    card = ModelCard(name="in", task="style", arch="x", args={}, color_space="rgb", io=STYLE_IO)
    frame = smooth_image(240, 320, 4)
    frame[:, :160] //= 3  # statistics that change across the frame
    whole = StylizeProcessor(FakeEngine(net, card), render_size=0).stylize(frame[None])[0].astype(np.float32)
    options = dict(render_size=0, pixel_budget=112 * 112, tile=112, overlap=32)
    tiled = StylizeProcessor(FakeEngine(net, card), **options).stylize(frame[None])[0].astype(np.float32)
    plain = StylizeProcessor(FakeEngine(net, card), consistent_tiles=False, **options).stylize(frame[None])[0].astype(np.float32)
    assert np.abs(tiled - whole).mean() < 0.4 * np.abs(plain - whole).mean()  # measured: 5.8 vs 17.6 grey levels
    step = np.abs(np.diff(tiled, axis=1)).mean(axis=(0, 2))  # mean jump between neighbouring columns
    boxes = plan_tiles(240, 320, 112, 32)
    for c in sorted({b[2] for b in boxes if b[2]} | {b[3] for b in boxes if b[3] < 320}):
        assert step[c - 1] < 1.5 * np.median(step) + 1.0, (c, step[c - 1], np.median(step))


def test_processor_batches_frame_by_frame_when_the_batch_exceeds_the_budget(tmp_path):
    engine = engine_for(tmp_path)
    frames = np.stack([smooth_image(40, 48, i) for i in range(3)])
    StylizeProcessor(engine, render_size=0, pixel_budget=40 * 48 * 2).stylize(frames)
    assert engine.calls == [(1, 3, 40, 48)] * 3


def test_guided_upsampling_follows_the_guide_edges():
    import cv2

    y, x = np.mgrid[0:64, 0:64]
    full = (x >= 31).astype(np.float32)  # a sharp edge at full resolution
    small_guide = full[::4, ::4]
    small_out = np.repeat(small_guide[..., None], 3, axis=2) * 0.8 + 0.1  # output = linear function of the guide
    truth = full[..., None] * 0.8 + 0.1
    guided = guided_upsample(small_out, small_guide, full, radius=1, eps=1e-4)
    plain = cv2.resize(small_out, (64, 64), interpolation=cv2.INTER_CUBIC)
    assert np.abs(guided - truth).mean() < 0.25 * np.abs(plain - truth).mean()


def test_processor_refuses_a_colorizer_and_unknown_upsampling(tmp_path):
    engine = FakeEngine(*load_model(tiny_model_file(tmp_path / "c.safetensors", task="colorize", color_space="lab")))
    with pytest.raises(CheckpointError, match="not an RGB style model"):
        StylizeProcessor(engine)
    with pytest.raises(ConfigError):
        StylizeProcessor(engine_for(tmp_path), upsample="nearest")


# -- presets and CLI --------------------------------------------------------------------------------
def write_preset(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(body)
    return path


def test_bad_style_presets_fail_clearly(tmp_path):
    tiny_model_file(tmp_path / "tiny.safetensors")
    missing = write_preset(tmp_path, "missing", 'task = "style"\nmodel = "no-such-model"\n')
    with pytest.raises(ModelUnavailableError, match="no-such-model"):
        find_preset(str(missing)).model_path()
    typo = write_preset(tmp_path, "typo", 'task = "style"\nmodel = "tiny.safetensors"\nrender_sise = 360\n')
    with pytest.raises(ConfigError, match="render_size"):
        find_preset(str(typo))
    bad_task = write_preset(tmp_path, "badtask", 'task = "stlye"\nmodel = "tiny.safetensors"\n')
    with pytest.raises(ConfigError, match="style"):
        find_preset(str(bad_task))
    (tmp_path / "broken.safetensors").write_bytes(b"not a model")
    broken = write_preset(tmp_path, "broken", 'task = "style"\nmodel = "broken.safetensors"\n')
    result = CliRunner().invoke(main, ["stylize", "--preset", str(broken), str(tmp_path / "x.png")])
    assert result.exit_code == 1


def test_stylize_cli_video_keeps_frames_timestamps_and_audio(tmp_path):
    tiny_model_file(tmp_path / "tiny.safetensors")
    preset = write_preset(tmp_path, "tiny", 'task = "style"\nmodel = "tiny.safetensors"\nrender_size = 32\n')
    clip = media.make_video(tmp_path / "in.mp4", frames=12, size=(64, 48), audio=True)
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(main, ["stylize", "--preset", str(preset), str(clip.path), "-o", str(out), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["ok"]
    frames, pts, tb = media.decode_all(out)
    assert len(frames) == 12 and frames[0].shape == (48, 64, 3)
    assert [p * tb for p in pts] == [p * clip.time_base for p in clip.pts]
    assert len(media.packets(out, "audio")) == len(media.packets(clip.path, "audio"))


def test_stylize_cli_still_image_and_colorize_preset_is_refused(tmp_path):
    from filmgan.video.images import read_image, write_image

    tiny_model_file(tmp_path / "tiny.safetensors")
    preset = write_preset(tmp_path, "tiny", 'task = "style"\nmodel = "tiny.safetensors"\n')
    write_image(tmp_path / "p.png", smooth_image(50, 70, 0))
    result = CliRunner().invoke(main, ["stylize", "--preset", str(preset), str(tmp_path / "p.png")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "p.tiny.png").shape == (50, 70, 3)
    colorize = write_preset(tmp_path, "col", 'task = "colorize"\nmodel = "tiny.safetensors"\n')
    assert CliRunner().invoke(main, ["stylize", "--preset", str(colorize), str(tmp_path / "p.png")]).exit_code == 2


def test_train_stylize_cli_runs_and_resumes(tmp_path):
    from filmgan.video.images import write_image

    (tmp_path / "photos").mkdir()
    for i in range(3):
        write_image(tmp_path / "photos" / f"{i}.png", smooth_image(48, 64, i))
    write_image(tmp_path / "painting.png", stripes(64, 80))
    args = ["train", "stylize", "--style", tmp_path / "painting.png", "--data", tmp_path / "photos", "--out", tmp_path / "run", "--steps", "1",
            "--batch", "1", "--crop", "64", "--load-size", "48", "--internal-size", "48", "--widths", "4,8,8", "--blocks", "1", "--precision", "fp32",
            "--painter", "Nobody", "--title", "Stripes", "--year", "2024", "--recipe", "gram", "-q"]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "run" / "model.json").read_text())
    assert card["task"] == "style" and card["extra"]["style"]["painter"] == "Nobody" and card["training"]["feature_net"]["kind"] == "random"
    again = CliRunner().invoke(main, [str(a) for a in args])
    assert again.exit_code == 1 and "--resume" in again.output
    bad = CliRunner().invoke(main, [str(a) for a in [*args[:-1], "--widths", "4,8", "--resume"]])
    assert bad.exit_code == 1 and "--widths" in bad.output


# -- shipped presets --------------------------------------------------------------------------------
@pytest.mark.realdata
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_style_presets_load_and_produce_an_image(name):
    from filmgan.processors.factory import build_processor

    try:
        preset = find_preset(name)
    except ConfigError:
        pytest.skip(f"preset {name} not shipped in this checkout")
    assert preset.task == "style" and {"painter", "title", "year"} <= set(preset.credits)
    from filmgan.backends import EngineConfig, load_engine

    processor = build_processor(preset.task_config(), load_engine(preset.model_path(), EngineConfig(precision="fp32"), task=preset.task))
    frames = np.stack([smooth_image(72, 128, i) for i in range(2)])
    batch = FrameBatch(frames, np.arange(2, dtype=np.int64), Fraction(1, 25))
    out = np.concatenate([b.frames for b in [*processor.process(batch), *processor.flush()]])
    assert out.shape == frames.shape and out.std() > 5 and np.abs(out.astype(int) - frames).mean() > 10
    assert any(p.name == name for p in list_presets())
    card = read_card(preset.model_path())  # the held-out split is recorded as kept out of training
    assert "bsds500_test" in " ".join(card.training["data"]["excluded"])
