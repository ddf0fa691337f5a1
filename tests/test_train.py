"""The shared GAN trainer on a tiny colorize run: losses move, checkpoints resume bit for bit."""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")

from filmgan.errors import CheckpointError  # noqa: E402
from filmgan.train.colorize import ColorizeTask  # noqa: E402
from filmgan.train.data import ImageBank  # noqa: E402
from filmgan.train.loop import Trainer, TrainConfig  # noqa: E402


def synthetic_images(n=6, size=(40, 56), seed=0):
    """Smooth colour fields with structure: a sky-like gradient and a coloured disc."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    images = []
    for _ in range(n):
        top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = (yy / (h - 1))[..., None]
        img = top * (1 - t) + bottom * t
        cy, cx, r = rng.integers(8, h - 8), rng.integers(8, w - 8), rng.integers(4, 10)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(0, 256, 3)
        images.append(img.astype(np.uint8))
    return images


def tiny_task(gan_mode="hinge", perceptual_weight=0.0, colour_weight=0.0):
    images = synthetic_images()
    return ColorizeTask(
        bank=ImageBank(images[:4], [f"img{i}" for i in range(4)]), val_images=images[4:], internal_size=32,
        widths=(4, 8, 8), d_width=4, gan_mode=gan_mode, perceptual_weight=perceptual_weight, colour_weight=colour_weight,
        features={"kind": "random", "seed": 3, "widths": [4, 4, 4, 4]},
    )


def config(out: Path, steps=4, **kw):
    return TrainConfig(out=out, steps=steps, batch=2, crop=24, precision="fp32", val_every=100, ckpt_every=2, log_every=1, **kw)


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_interrupted_and_resumed_run_equals_uninterrupted_run(tmp_path):
    straight = Trainer(tiny_task(), config(tmp_path / "a"))
    straight.run()

    first = Trainer(tiny_task(), config(tmp_path / "b"))
    first.run(stop_after=2)
    assert (tmp_path / "b" / "last" / "state.safetensors").is_file()
    second = Trainer(tiny_task(), config(tmp_path / "b"))
    assert second.resume() and second.step == 2
    second.run()

    assert states_equal(straight.G.state_dict(), second.G.state_dict())
    assert states_equal(straight.D.state_dict(), second.D.state_dict())
    assert straight.opt_g.state_dict()["state"][0]["exp_avg"].equal(second.opt_g.state_dict()["state"][0]["exp_avg"])
    assert straight.sched_g.get_last_lr() == second.sched_g.get_last_lr()
    # and the run directory has what it promises
    run = tmp_path / "b"
    assert (run / "model.safetensors").is_file() and (run / "val.jsonl").read_text().count("\n") == 1
    assert (run / "samples" / "step-000004.png").is_file() and (run / "snapshots" / "step-000004.safetensors").is_file()
    assert len((run / "train.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize("gan_mode", ["lsgan", "vanilla", "wgan-gp"])
def test_every_gan_loss_trains_and_changes_the_generator(tmp_path, gan_mode):
    trainer = Trainer(tiny_task(gan_mode, perceptual_weight=0.1), config(tmp_path, steps=2))
    before = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    logs = trainer.train_step()
    assert np.isfinite(logs["g_loss"]) and np.isfinite(logs["d_loss"]) and "perceptual" in logs
    assert not states_equal(before, trainer.G.state_dict())


def test_validation_reports_the_grey_baseline(tmp_path):
    trainer = Trainer(tiny_task(), config(tmp_path, steps=1))
    metrics = trainer.validate()
    for key in ("psnr", "ssim", "delta_e", "colorfulness", "delta_e_grey", "psnr_grey", "colorfulness_gt"):
        assert np.isfinite(metrics[key])
    from filmgan.models.checkpoint import load_model

    model, card = load_model(tmp_path / "model.safetensors", task="colorize")
    assert card.metrics["validation"]["delta_e"] == pytest.approx(metrics["delta_e"])
    assert card.training["data"] == {} and card.internal_size == 32


def test_resume_with_a_different_architecture_is_a_clear_error(tmp_path):
    Trainer(tiny_task(), config(tmp_path)).run(stop_after=2)
    other = tiny_task()
    other.widths = (4, 8, 16)
    with pytest.raises(CheckpointError, match="does not match"):
        Trainer(other, config(tmp_path)).resume()


def test_time_limit_stops_validated_and_resumable(tmp_path):
    trainer = Trainer(tiny_task(), config(tmp_path, steps=1000, time_limit=1e-9))
    trainer.run()
    assert 1 <= trainer.step < 1000  # stopped at the first check after the limit, not at the planned end
    rows = (tmp_path / "val.jsonl").read_text().splitlines()
    assert len(rows) == 1 and f'"step": {trainer.step}' in rows[0]
    again = Trainer(tiny_task(), config(tmp_path, steps=trainer.step + 2))
    assert again.resume() and again.step == trainer.step
    again.run()
    assert again.step == trainer.step + 2


def test_global_context_generator_round_trips_through_its_card(tmp_path):
    from filmgan.models.checkpoint import load_model

    task = tiny_task()
    task.global_context = True
    trainer = Trainer(task, config(tmp_path, steps=1))
    trainer.validate()
    model, card = load_model(tmp_path / "model.safetensors", task="colorize")
    assert card.args["global_context"] is True and model.context is not None
    x = torch.rand(1, 1, 24, 40) * 2 - 1
    model.eval(), trainer.G.eval()
    with torch.no_grad():
        assert torch.allclose(model(x), trainer.G(x))
        # the global path makes every output pixel depend on the whole frame; without it, the left columns
        # are out of reach of a change on the right
        y = x.clone()
        y[..., :, 30:] = -1.0
        local = type(model)(**{**card.args, "global_context": False}).eval()
        local.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("context.")})
        assert (model(x) - model(y))[..., :, :8].abs().max() > 0
        assert (local(x) - local(y))[..., :, :8].abs().max() == 0


def test_colourfulness_loss_is_the_metric_and_pulls_a_washed_out_output_towards_its_truth():
    from filmgan.metrics.image import colourfulness
    from filmgan.train.losses import colourfulness_loss, colourfulness_torch

    images = synthetic_images(3)
    rgb = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    measured = colourfulness_torch(rgb)
    assert measured.numpy() == pytest.approx([colourfulness(img) for img in images], rel=1e-5)
    assert float(colourfulness_loss(rgb, rgb)) == pytest.approx(0.0, abs=1e-6)

    grey = rgb.mean(dim=1, keepdim=True)
    washed = (grey + 0.3 * (rgb - grey)).requires_grad_(True)  # 30 % of the truth's chroma
    loss = colourfulness_loss(washed, rgb)
    assert float(loss.detach()) == pytest.approx(float((0.7 * measured).mean()) / 100.0, rel=1e-3)
    loss.backward()
    stepped = washed.detach() - 0.05 * washed.grad / washed.grad.abs().max()
    assert float(colourfulness_loss(stepped, rgb)) < float(loss.detach())  # a gradient step adds colour


def test_colour_weight_enters_the_generator_loss_and_the_card(tmp_path):
    from filmgan.models.checkpoint import load_model

    trainer = Trainer(tiny_task(colour_weight=2.0), config(tmp_path, steps=1))
    logs = trainer.train_step()
    assert logs["colour"] > 0 and np.isfinite(logs["g_loss"])
    trainer.validate()
    _, card = load_model(tmp_path / "model.safetensors", task="colorize")
    assert card.training["colour_weight"] == 2.0
