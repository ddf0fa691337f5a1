"""Weight averaging of snapshots (SWA): exact mean of the weights, card records the sources, clear errors."""

import json

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from filmgan.cli import main  # noqa: E402
from filmgan.errors import CheckpointError  # noqa: E402
from filmgan.models.checkpoint import load_model, save_model  # noqa: E402
from filmgan.models.unet import UNetColorizer  # noqa: E402
from filmgan.train.averaging import average_models  # noqa: E402
from test_checkpoints import tiny_card  # noqa: E402


def snapshot(tmp_path, seed, widths=(4, 8, 8), steps=100):
    torch.manual_seed(seed)
    model = UNetColorizer(widths, norm="batch")
    for m in model.modules():  # distinct running statistics, so that averaging them is checked too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    card = tiny_card(model).with_updates(training={"steps": steps})
    path = tmp_path / f"step-{steps:06d}.safetensors"
    save_model(path, model, card)
    return model.eval(), path


def test_average_is_the_mean_of_weights_and_statistics(tmp_path):
    (a, pa), (b, pb) = snapshot(tmp_path, 0, steps=100), snapshot(tmp_path, 1, steps=200)
    averaged, card = average_models([pa, pb], name="tiny-swa")
    for key, value in averaged.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(value, (a.state_dict()[key] + b.state_dict()[key]) / 2, atol=1e-7), key
    assert card.name == "tiny-swa"
    assert [s["steps"] for s in card.training["averaged"]["sources"]] == [100, 200]
    assert card.training["steps"] == 200  # the training record of the latest snapshot
    assert not averaged.training  # ready for inference
    x = torch.randn(1, 1, 16, 16)
    assert not torch.allclose(averaged(x), a(x)) and not torch.allclose(averaged(x), b(x))


def test_different_architectures_are_refused(tmp_path):
    (_, pa), (_, pb) = snapshot(tmp_path, 0, steps=100), snapshot(tmp_path, 1, widths=(4, 8, 16), steps=200)
    with pytest.raises(CheckpointError, match="one architecture"):
        average_models([pa, pb])
    with pytest.raises(CheckpointError, match="at least two"):
        average_models([pa])


def test_cli_writes_a_loadable_model_and_keeps_an_existing_one(tmp_path):
    (a, pa), (b, pb) = snapshot(tmp_path, 0, steps=100), snapshot(tmp_path, 1, steps=200)
    out = tmp_path / "avg.safetensors"
    result = CliRunner().invoke(main, ["train", "average", str(pa), str(pb), "--out", str(out), "--fp16"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["sources"] == 2
    model, card = load_model(out)
    assert card.extra["dtype"] == "float16" and len(card.training["averaged"]["sources"]) == 2
    before = out.read_bytes()
    again = CliRunner().invoke(main, ["train", "average", str(pa), str(pb), "--out", str(out)])
    assert again.exit_code == 5 and out.read_bytes() == before
