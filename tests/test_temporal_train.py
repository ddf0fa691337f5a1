"""Temporal training: torch warp vs OpenCV, synthetic pairs with exact flow and occlusions, the warp loss,
and fine-tuning a tiny colorizer through the shared Trainer (step, resume, card, CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")

from click.testing import CliRunner  # noqa: E402

from filmgan.card import ModelCard  # noqa: E402
from filmgan.cli import main  # noqa: E402
from filmgan.errors import CheckpointError, ConfigError  # noqa: E402
from filmgan.models.checkpoint import load_model, save_model  # noqa: E402
from filmgan.models.unet import UNetColorizer  # noqa: E402
from filmgan.temporal.warp import warp  # noqa: E402
from filmgan.train.colorize import COLORIZE_IO  # noqa: E402
from filmgan.train.data import ImageBank  # noqa: E402
from filmgan.train.loop import Trainer  # noqa: E402
from filmgan.train.motion import ClipPairs, MotionConfig, PairSampler, synthetic_pairs  # noqa: E402
from filmgan.train.temporal import InitWeights, TemporalTask, ancestor_record, build_temporal_task, warp_loss, warp_torch  # noqa: E402
from filmgan.video.images import write_image  # noqa: E402

from test_train import config, states_equal, synthetic_images, tiny_task  # noqa: E402

STILL = MotionConfig(rotation_deg=0.0, scale=0.0, shift=0.0, elastic_px=0.0, object_probability=1.0).without_noise()


def nchw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float()


def smooth_canvas(n: int, side: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    imgs = [cv2.GaussianBlur(rng.random((side, side, 3)).astype(np.float32), (0, 0), 2.0) for _ in range(n)]
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2)


def test_warp_torch_matches_the_opencv_warp():
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.random((48, 64, 3)).astype(np.float32), (0, 0), 1.5)
    flow = cv2.GaussianBlur(rng.normal(0, 1, (48, 64, 2)).astype(np.float32), (0, 0), 5) * 40  # some targets leave the frame
    expected = warp(image, flow)
    got = warp_torch(nchw(image), nchw(flow))[0].permute(1, 2, 0).numpy()
    assert np.abs(got - expected).max() < 1e-4


def test_synthetic_pairs_are_exact_on_non_occluded_pixels():
    cfg = MotionConfig(object_probability=0.5).without_noise()
    pairs = synthetic_pairs(smooth_canvas(6, 64 + 2 * cfg.margin(64)), torch.Generator().manual_seed(0), 64, cfg)
    assert pairs["prev"].shape == pairs["cur"].shape == (6, 3, 64, 64) and pairs["flow"].shape == (6, 2, 64, 64)
    err = (warp_torch(pairs["prev"], pairs["flow"]) - pairs["cur"]).abs() * pairs["mask"]
    assert err.max() < 1e-4
    assert 0.6 < pairs["mask"].mean() < 1.0  # motion moves content in and out
    assert pairs["flow"].abs().amax() > 1.0
    noisy = synthetic_pairs(smooth_canvas(6, 64 + 2 * cfg.margin(64)), torch.Generator().manual_seed(0), 64, MotionConfig(object_probability=0.5))
    noise = ((warp_torch(noisy["prev"], noisy["flow"]) - noisy["cur"]).abs() * noisy["mask"]).sum() / noisy["mask"].sum() / 3
    assert 0.002 < noise < 0.05  # small photometric noise on top


def test_occlusion_mask_marks_the_region_an_object_uncovers():
    red, blue = torch.zeros(3, 80, 80), torch.zeros(3, 80, 80)
    red[0], blue[2] = 0.9, 0.9
    cfg = MotionConfig(rotation_deg=0.0, scale=0.0, shift=0.0, elastic_px=0.0, object_probability=1.0, object_shift=0.15).without_noise()
    pairs = synthetic_pairs(torch.stack([red, blue]), torch.Generator().manual_seed(5), 64, cfg)
    prev_obj = pairs["prev"][0, 2] > 0.5  # sample 0: a blue object (from canvas 1) on red
    cur_obj = pairs["cur"][0, 2] > 0.01  # with the bilinear edge of the moved object
    mask = pairs["mask"][0, 0] > 0.5
    uncovered = prev_obj & ~cur_obj
    assert uncovered.sum() > 20  # the object moved
    assert not mask[uncovered].any()
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    tx, ty = xs + pairs["flow"][0, 0], ys + pairs["flow"][0, 1]
    in_frame = (tx >= 0) & (tx <= 63) & (ty >= 0) & (ty <= 63)
    assert mask[cur_obj & in_frame].all()  # the object itself is followed where it was in frame
    background = ~(torch.nn.functional.max_pool2d((prev_obj | cur_obj)[None, None].float(), 5, 1, 2)[0, 0] > 0)
    assert mask[background].all()  # a still camera: everything else is visible


def test_camera_motion_masks_exactly_the_content_entering_the_frame():
    cfg = MotionConfig(object_probability=0.0, shift=0.1).without_noise()
    pairs = synthetic_pairs(smooth_canvas(4, 64 + 2 * cfg.margin(64)), torch.Generator().manual_seed(1), 64, cfg)
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    tx, ty = xs + pairs["flow"][:, 0], ys + pairs["flow"][:, 1]
    inside = (tx >= 0) & (tx <= 63) & (ty >= 0) & (ty <= 63)
    assert torch.equal(pairs["mask"][:, 0] > 0.5, inside)
    assert not inside.all()


def test_warp_loss_is_zero_for_a_consistent_pair_and_positive_otherwise():
    pairs = synthetic_pairs(smooth_canvas(2, 80), torch.Generator().manual_seed(2), 64, MotionConfig().without_noise())
    prev, cur, flow, mask = pairs["prev"], pairs["cur"], pairs["flow"], pairs["mask"]
    assert warp_loss(cur, prev, flow, mask) < 1e-5
    flicker = cur + torch.tensor([0.05, -0.05, 0.02])[None, :, None, None]
    assert warp_loss(flicker, prev, flow, mask) == pytest.approx(0.04, abs=2e-3)
    assert warp_loss(cur, prev, torch.zeros_like(flow), mask) > 0.01  # the wrong flow
    out = prev.clone().requires_grad_(True)
    warp_loss(flicker, out, flow, mask).backward()
    assert out.grad.abs().sum() > 0
    assert warp_loss(cur, prev, flow, torch.zeros_like(mask)) == 0.0


def tiny_model_file(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = UNetColorizer((4, 8, 8), norm="batch").eval()
    card = ModelCard(name="tiny", task="colorize", arch=model.ARCH, args=model.args, color_space="lab", io=COLORIZE_IO, internal_size=32,
                     training={"steps": 7, "l1_weight": 10.0, "adv_weight": 1.0, "perceptual_weight": 0.0, "gan_mode": "hinge"})
    save_model(path, model, card)
    return path


def tiny_temporal(init: Path, weight: float = 5.0) -> TemporalTask:
    base = tiny_task()
    pairs = PairSampler(base.bank, motion=MotionConfig(shift=0.1, object_shift=0.15))
    return TemporalTask(base, pairs, weight=weight, pair_batch=2, init=InitWeights.load(init))


def test_temporal_task_trains_from_the_init_model_and_resumes_exactly(tmp_path):
    init = tiny_model_file(tmp_path / "init.safetensors")
    first = Trainer(tiny_temporal(init), config(tmp_path / "a"))
    reference, _ = load_model(init)
    assert states_equal(first.G.state_dict(), reference.state_dict())  # starts from the init weights
    logs = first.train_step()
    assert "warp" in logs and np.isfinite(logs["warp"]) and logs["warp"] >= 0 and "l1" in logs
    assert not states_equal(first.G.state_dict(), reference.state_dict())

    straight = Trainer(tiny_temporal(init), config(tmp_path / "b"))
    straight.run()
    interrupted = Trainer(tiny_temporal(init), config(tmp_path / "c"))
    interrupted.run(stop_after=2)
    resumed = Trainer(tiny_temporal(init), config(tmp_path / "c"))
    assert resumed.resume() and resumed.step == 2
    resumed.run()
    assert states_equal(straight.G.state_dict(), resumed.G.state_dict())
    assert states_equal(straight.D.state_dict(), resumed.D.state_dict())

    metrics = resumed.validate()
    assert np.isfinite(metrics["warp"]) and np.isfinite(metrics["psnr"])
    _, card = load_model(tmp_path / "c" / "model.safetensors", task="colorize")
    temporal = card.training["temporal"]
    assert temporal["weight"] == 5.0 and temporal["fine_tuned_from"]["training"]["steps"] == 7
    assert temporal["pairs"]["synthetic"]["motion"]["shift"] == 0.1 and card.task == "colorize"


def test_a_fine_tune_keeps_its_ancestors_records_without_their_file_lists():
    data = {"fingerprint": "abc", "train_images": 3, "excluded": ["held/a.jpg", "held/b.jpg"], "validation": ["val/c.jpg"]}
    pairs = {"real": {"clips": ["x.mp4", "y.mp4", "z.mp4"], "pairs": 9}, "real_fraction": 0.25}
    grandparent = {"steps": 500, "data": data, "recipe": "paint"}
    parent = {"steps": 400, "data": data, "temporal": {"weight": 50.0, "pairs": pairs, "fine_tuned_from": {"name": "g", "sha256": "1", "training": grandparent}}}
    record = ancestor_record(parent)
    assert record["data"] == {"fingerprint": "abc", "train_images": 3, "excluded": 2, "validation": 1}
    assert record["temporal"]["pairs"] == {"real": {"clips": 3, "pairs": 9}, "real_fraction": 0.25}
    assert record["temporal"]["weight"] == 50.0 and record["steps"] == 400
    older = record["temporal"]["fine_tuned_from"]
    assert older["name"] == "g" and older["training"]["steps"] == 500 and older["training"]["data"]["excluded"] == 2
    assert parent["data"]["excluded"] == ["held/a.jpg", "held/b.jpg"]  # the parent's own record is untouched


def test_init_from_a_run_directory_takes_the_discriminator_too(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_task(), config(run, steps=2)).run()
    Trainer(tiny_task(), config(run, steps=2)).validate()  # writes run/model.safetensors
    weights = InitWeights.load(run)
    assert weights.D is not None
    trainer = Trainer(TemporalTask(tiny_task(), PairSampler(tiny_task().bank), init=weights), config(tmp_path / "ft"))
    assert all(torch.equal(trainer.D.state_dict()[k], v) for k, v in weights.D.items())


def test_a_model_of_another_architecture_is_refused(tmp_path):
    init = tiny_model_file(tmp_path / "init.safetensors")
    other = tiny_task()
    other.widths = (4, 8, 16)
    task = TemporalTask(other, PairSampler(other.bank), init=InitWeights.load(init))
    assert Trainer(task, config(tmp_path / "x")).G.args["widths"] == [4, 8, 8]  # the card's architecture wins
    with pytest.raises(ConfigError, match="tasks"):
        from types import SimpleNamespace

        fake = SimpleNamespace(name="denoise", bank=tiny_task().bank)  # a task that does not declare its generator input
        TemporalTask(fake, PairSampler(fake.bank))


def test_clip_pairs_from_a_real_video(clips):
    pairs = ClipPairs.load([clips["cfr30"].path], load_size=48, pairs_per_clip=4)
    assert 1 <= len(pairs) <= 4 and pairs.describe()["size"] == [64, 48]
    batch = pairs.sample(torch.Generator().manual_seed(0), 3, 32, torch.device("cpu"))
    assert batch["prev"].shape == (3, 3, 32, 32) and batch["mask"].shape == (3, 1, 32, 32)
    err = ((warp_torch(batch["prev"], batch["flow"]) - batch["cur"]).abs() * batch["mask"]).sum() / batch["mask"].sum() / 3
    assert err < 0.05 and batch["mask"].mean() > 0.3
    mixed = PairSampler(ImageBank(synthetic_images(), [str(i) for i in range(6)]), pairs, real_fraction=0.5)
    both = mixed.sample(torch.Generator().manual_seed(0), 4, 32, torch.device("cpu"))
    assert both["cur"].shape == (4, 3, 32, 32) and mixed.describe()["real"]["pairs"] == len(pairs)


def test_train_temporal_cli_fine_tunes_a_model_file(tmp_path):
    photos, val = tmp_path / "photos", tmp_path / "val"
    for i, img in enumerate(synthetic_images(8)):
        folder = photos if i < 6 else val
        folder.mkdir(exist_ok=True)
        write_image(folder / f"{i}.png", img)
    init = tiny_model_file(tmp_path / "init.safetensors")
    out = tmp_path / "run"
    args = ["train", "temporal", "--init", init, "--data", photos, "--val", val, "--out", out, "--steps", "2", "--batch", "2", "--crop", "32",
            "--precision", "fp32", "--val-every", "2", "--ckpt-every", "1", "--load-size", "40", "--temporal-weight", "3", "--colour-weight", "2", "-q"]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["ok"]
    _, card = load_model(out / "model.safetensors", task="colorize")
    assert card.training["temporal"]["weight"] == 3.0 and card.training["steps"] == 2 and card.training["colour_weight"] == 2.0
    assert card.internal_size == 32 and card.args == InitWeights.load(init).card.args

    wrong = CliRunner().invoke(main, [str(a) for a in ["train", "temporal", "--init", init, "--task", "style", "--data", photos, "--out", tmp_path / "w"]])
    assert wrong.exit_code == 1 and "not 'style'" in wrong.output
    no_features = CliRunner().invoke(main, [str(a) for a in ["train", "temporal", "--init", init, "--data", photos, "--perceptual-weight", "0.1", "--out", tmp_path / "p"]])
    assert no_features.exit_code == 1 and "--perceptual-weight needs --feature-weights" in no_features.output
    assert not (tmp_path / "p").exists()


def test_style_models_need_their_painting(tmp_path):
    from filmgan.models.stylenet import StyleNet

    model = StyleNet((4, 4, 4), 1, 3, False)
    card = ModelCard(name="tiny-style", task="style", arch=model.ARCH, args=model.args, color_space="rgb", io={}, internal_size=32,
                     extra={"style": {"painting": "wave.jpg", "sha256": "0" * 16}})
    save_model(tmp_path / "style.safetensors", model, card)
    with pytest.raises(ConfigError, match="needs its painting"):
        build_temporal_task(tmp_path / "style.safetensors", [str(tmp_path)])
    painting = tmp_path / "other.png"
    write_image(painting, synthetic_images(1)[0])
    with pytest.raises(ConfigError, match="sha256 differs"):
        build_temporal_task(tmp_path / "style.safetensors", [str(tmp_path)], style=painting)
    with pytest.raises(ConfigError, match="colourfulness weight applies to colorize models"):
        build_temporal_task(tmp_path / "style.safetensors", [str(tmp_path)], style=painting, overrides={"colour_weight": 1.0})
    with pytest.raises(ConfigError, match="perceptual weight applies to colorize models"):
        build_temporal_task(tmp_path / "style.safetensors", [str(tmp_path)], style=painting, overrides={"perceptual_weight": 0.1})
    for key in ("texture_weight", "edge_weight"):
        with pytest.raises(ConfigError, match=f"{key.replace('_', ' ')} applies to paint-recipe style models"):
            build_temporal_task(tmp_path / "style.safetensors", [str(tmp_path)], style=painting, overrides={key: 3.0})
    with pytest.raises(CheckpointError):
        InitWeights.load(tmp_path / "missing.safetensors")
