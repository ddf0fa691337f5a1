"""Model cards and safetensors model files: round trip, and clear errors for bad files (never a pickle)."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from filmgan.card import ModelCard, read_card  # noqa: E402
from filmgan.errors import CheckpointError  # noqa: E402
from filmgan.models.checkpoint import load_model, save_model  # noqa: E402
from filmgan.models.unet import UNetColorizer  # noqa: E402
from filmgan.train.colorize import COLORIZE_IO  # noqa: E402


def tiny_card(model, task="colorize"):
    return ModelCard(name="tiny", task=task, arch=model.ARCH, args=model.args, color_space="lab", io=COLORIZE_IO, internal_size=64)


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    model = UNetColorizer((4, 8, 8), norm="batch").eval()
    path = tmp_path / "tiny.safetensors"
    save_model(path, model, tiny_card(model))
    return model, path


def test_round_trip_gives_identical_outputs_and_card(model_file):
    model, path = model_file
    loaded, card = load_model(path, task="colorize")
    x = torch.randn(1, 1, 24, 40)
    assert torch.equal(model(x), loaded(x))
    assert card.arch == "unet-colorizer" and card.internal_size == 64 and len(card.extra["sha256"]) == 64
    assert json.loads(path.with_suffix(".json").read_text())["name"] == "tiny"
    assert read_card(path) == card


def test_fp16_file_is_half_the_size_and_close(tmp_path):
    model = UNetColorizer((16, 32, 64), norm="batch").eval()
    path, half = tmp_path / "full.safetensors", tmp_path / "half.safetensors"
    save_model(path, model, tiny_card(model))
    save_model(half, model, tiny_card(model), dtype=torch.float16)
    loaded, _ = load_model(half)
    x = torch.randn(1, 1, 16, 16)
    assert torch.allclose(model(x), loaded(x), atol=2e-2)
    assert half.stat().st_size < 0.6 * path.stat().st_size


def test_wrong_task_is_refused(model_file):
    with pytest.raises(CheckpointError, match="not a 'style' model"):
        load_model(model_file[1], task="style")


def test_truncated_file_is_a_clear_error(model_file, tmp_path):
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(model_file[1].read_bytes()[:300])
    with pytest.raises(CheckpointError):
        load_model(bad)


def test_pickle_file_is_rejected_without_unpickling(tmp_path):
    bad = tmp_path / "model.safetensors"
    torch.save({"weight": torch.zeros(2)}, bad)  # a pickle-based file under a safetensors name
    with pytest.raises(CheckpointError, match="not a safetensors"):
        load_model(bad)


def test_edited_tensors_fail_the_digest(model_file, tmp_path):
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open

    _, path = model_file
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    state = load_file(str(path))
    key = next(iter(state))
    state[key] = state[key] + 1
    edited = tmp_path / "edited.safetensors"
    save_file(state, str(edited), metadata=meta)
    with pytest.raises(CheckpointError, match="digest"):
        load_model(edited)


def test_card_for_another_architecture_shape_is_refused(model_file, tmp_path):
    from safetensors.torch import load_file, save_file

    model, path = model_file
    other = UNetColorizer((4, 8, 16), norm="batch")
    card = tiny_card(other)
    bad = tmp_path / "mismatch.safetensors"
    save_file(load_file(str(path)), str(bad), metadata={"filmgan_card": card.to_json()})
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(bad)


def test_missing_card_and_missing_file(tmp_path):
    from safetensors.numpy import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"w": np.zeros(2, np.float32)}, str(plain))
    with pytest.raises(CheckpointError, match="no filmgan model card"):
        load_model(plain)
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nope.safetensors")
