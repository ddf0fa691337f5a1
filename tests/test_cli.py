"""The ``filmgan`` CLI end to end with a tiny model: outputs, JSON lines, exit codes, nothing half-written."""

import json
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

from filmgan.card import ModelCard  # noqa: E402
from filmgan.cli import main  # noqa: E402
from filmgan.models.checkpoint import save_model  # noqa: E402
from filmgan.models.unet import UNetColorizer  # noqa: E402
from filmgan.train.colorize import COLORIZE_IO  # noqa: E402
from filmgan.video.color import rgb_to_luminance_l  # noqa: E402
from filmgan.video.images import read_image, write_image  # noqa: E402

from conftest import leftovers  # noqa: E402
from media import decode_all, make_video, packets  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    model = UNetColorizer((4, 8, 8), norm="batch").eval()
    with torch.no_grad():  # a visible, non-zero chroma so the test can see colour appear
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([0.4, 0.3]))  # ab ~ (42, 32): a warm orange
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_model(path, model, ModelCard(name="tiny", task="colorize", arch=model.ARCH, args=model.args, color_space="lab", io=COLORIZE_IO, internal_size=32))
    return path


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def grey_image(path, size=(40, 56)):
    ramp = np.linspace(60, 200, size[0] * size[1]).reshape(size).astype(np.uint8)  # mid-tones hold chroma
    grey = np.repeat(ramp[..., None], 3, axis=2)
    write_image(path, grey)
    return grey


def test_colorize_still_image_keeps_luminance_and_adds_colour(tmp_path, tiny_model):
    grey = grey_image(tmp_path / "photo.png")
    result = run("colorize", tmp_path / "photo.png", "--model", tiny_model, "--quiet")
    assert result.exit_code == 0, result.output
    out = read_image(tmp_path / "photo.colorized.png")
    assert out.shape == grey.shape
    assert np.abs(rgb_to_luminance_l(out) - rgb_to_luminance_l(grey)).max() * 2.55 <= 1.0
    assert (out[..., 0].astype(int) - out[..., 2]).mean() > 20  # warm colour appeared


def test_colorize_video_keeps_frames_timestamps_and_audio(tmp_path, tiny_model):

    clip = make_video(tmp_path / "in.mp4", frames=10, size=(64, 48), audio=True)
    dst = tmp_path / "out.mkv"
    result = run("colorize", clip.path, "-o", dst, "--model", tiny_model, "--codec", "ffv1", "--json", "--batch-size", "3")
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["ok"] and line["results"][0]["frames"] == 10
    frames_in, pts_in, tb_in = decode_all(clip.path)
    frames_out, pts_out, tb_out = decode_all(dst)
    # mkv starts the earliest stream (AAC priming, -1024/48000 s) at 0: every stream moves by the same offset
    assert len(frames_out) == 10
    assert [(p - pts_out[0]) * tb_out for p in pts_out] == [(p - pts_in[0]) * tb_in for p in pts_in]
    audio_in, audio_out = packets(clip.path, "audio"), packets(dst, "audio")
    assert [data for data, _ in audio_out] == [data for data, _ in audio_in]
    offset = pts_out[0] * tb_out - pts_in[0] * tb_in
    drift = [abs(t_out - offset - t_in) for (_, t_out), (_, t_in) in zip(audio_out, audio_in)]
    assert max(drift) <= Fraction(1, 1000)  # A/V sync kept to Matroska's 1 ms timestamp resolution
    for a, b in zip(frames_in, frames_out):
        assert np.abs(rgb_to_luminance_l(a) - rgb_to_luminance_l(b)).max() * 2.55 <= 1.0
    assert leftovers(tmp_path) == []


def test_folder_of_images_goes_to_output_folder(tmp_path, tiny_model):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.jpg"):
        grey_image(src / name)
    result = run("colorize", src, "-o", tmp_path / "out", "--model", tiny_model, "--json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.colorized.png", "b.colorized.jpg"]


def test_existing_output_needs_overwrite(tmp_path, tiny_model):
    grey_image(tmp_path / "p.png")
    (tmp_path / "p.colorized.png").write_bytes(b"keep me")
    result = run("colorize", tmp_path / "p.png", "--model", tiny_model, "--json")
    assert result.exit_code == 5 and "--overwrite" in result.output
    assert (tmp_path / "p.colorized.png").read_bytes() == b"keep me"
    assert run("colorize", tmp_path / "p.png", "--model", tiny_model, "--overwrite", "-q").exit_code == 0
    assert (tmp_path / "p.colorized.png").read_bytes() != b"keep me"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["colorize", "{tmp}/missing.mp4"], 1, "no such file"),
        (["colorize", "{tmp}/junk.mp4", "--model", "{model}"], 1, ""),
        (["stylize", "--preset", "grate-wave", "{tmp}/junk.mp4"], 1, "no preset named"),
        (["colorize", "{tmp}/junk.mp4", "--backend", "ort", "--model", "{model}"], 6, "filmgan engine build"),
        (["colorize", "{tmp}/junk.mp4", "--backend", "tensorrt", "--model", "{model}"], 3, "filmgan[trt]"),
        (["colorize", "{tmp}/junk.mp4", "--preset", "{tmp}/nomodel.toml"], 6, "not found"),
        (["colorize", "{tmp}/junk.mp4", "--preset", "{tmp}/broken.toml"], 1, "unknown key"),
        (["colorize"], 2, ""),
    ],
)
def test_errors_map_to_documented_exit_codes(tmp_path, tiny_model, args, code, message):
    (tmp_path / "junk.mp4").write_bytes(b"this is not a video" * 100)
    (tmp_path / "nomodel.toml").write_text('task = "colorize"\nmodel = "nowhere"\n')
    (tmp_path / "broken.toml").write_text('task = "colorize"\nmodel = "x"\ncolour = 1\n')
    argv = [a.format(tmp=tmp_path, model=tiny_model) for a in args]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.toml", "junk.mp4", "nomodel.toml"]


def test_probe_json(tmp_path):

    clip = make_video(tmp_path / "p.mp4", frames=6, audio=True)
    result = run("probe", clip.path, "--json")
    info = json.loads(result.output)
    assert result.exit_code == 0 and info["width"] == 64 and len(info["audio"]) == 1


def test_help_documents_exit_codes():
    result = run("--help")
    assert "Exit codes" in result.output and "130" in result.output
