"""A render node without torch: in a fresh process where importing torch fails, ``filmgan colorize`` and
``filmgan stylize`` of every shipped preset render through the shipped ONNX files (ORT / OpenVINO), and
torch never enters ``sys.modules``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from filmgan.export import cache
from filmgan.presets import list_presets

sys.path.insert(0, str(Path(__file__).parent))
from media import make_video  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CPU = [b for b in ("ort", "openvino") if cache.backend_installed(b)]

CHILD = r"""
import json, sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not installed on this render node (blocked by the test)")
        return None

sys.meta_path.insert(0, NoTorch())
from filmgan.cli import main

codes = []
for args in json.loads(sys.argv[1]):
    try:
        main(args, standalone_mode=False)
        codes.append(0)
    except SystemExit as exc:
        codes.append(exc.code)
leaked = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print(json.dumps({"codes": codes, "torch_modules": leaked}))
"""


@pytest.mark.skipif(not CPU, reason="neither onnxruntime nor openvino is installed")
def test_every_shipped_preset_renders_without_torch(tmp_path):
    clip = make_video(tmp_path / "in.mp4", frames=3, size=(96, 64)).path
    runs = []
    for preset in list_presets():
        command = "colorize" if preset.task == "colorize" else "stylize"
        for backend in ["auto", *CPU] if preset.task == "colorize" else [CPU[0]]:
            out = tmp_path / f"{preset.name}.{backend}.mkv"
            runs.append([command, "--preset", preset.name, "--backend", backend, str(clip), "-o", str(out), "--codec", "ffv1", "-q"])
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "FILMGAN_ENGINE_DIR": str(tmp_path / "engines"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(runs)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["torch_modules"] == []
    assert report["codes"] == [0] * len(runs), (report, result.stderr[-3000:])
    assert all(Path(r[r.index("-o") + 1]).stat().st_size > 0 for r in runs)
    assert len(runs) >= 1 + len([p for p in list_presets() if p.task == "style"])


@pytest.mark.skipif(not CPU, reason="neither onnxruntime nor openvino is installed")
def test_guided_colorization_runs_without_torch_and_follows_the_reference(tmp_path):
    """The shipped colorizer takes its palette and hints as graph inputs: a torch-free node renders a
    reference palette and local hints, and the reference changes the colours."""
    import av
    import numpy as np

    from filmgan.card import read_card
    from filmgan.presets import find_preset
    from filmgan.video.images import write_image

    if not read_card(find_preset("colorize").model_path()).args.get("guided"):
        pytest.skip("the colorize preset's model has no guidance inputs")
    clip = make_video(tmp_path / "in.mp4", frames=3, size=(128, 96)).path
    reference = np.zeros((64, 64, 3), np.uint8)
    reference[..., 0], reference[..., 1], reference[..., 2] = 40, 70, 200  # a blue palette
    write_image(tmp_path / "blue.png", reference)
    (tmp_path / "hints.json").write_text(json.dumps({"hints": [{"x": 64, "y": 48, "colour": "#c03020", "radius": 6}]}))
    common = ["--backend", CPU[0], "--codec", "ffv1", "-q", str(clip)]
    runs = [["colorize", *common, "-o", str(tmp_path / "auto.mkv")],
            ["colorize", *common, "--reference", str(tmp_path / "blue.png"), "-o", str(tmp_path / "ref.mkv")],
            ["colorize", *common, "--hints", str(tmp_path / "hints.json"), "-o", str(tmp_path / "hints.mkv")]]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "FILMGAN_ENGINE_DIR": str(tmp_path / "engines"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(runs)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["torch_modules"] == [] and report["codes"] == [0, 0, 0], (report, result.stderr[-3000:])

    def first_frame(name: str) -> np.ndarray:
        with av.open(str(tmp_path / name)) as c:
            return next(c.decode(video=0)).to_ndarray(format="rgb24").astype(np.float32)

    auto, ref, hinted = first_frame("auto.mkv"), first_frame("ref.mkv"), first_frame("hints.mkv")
    blue_shift = lambda img: float((img[..., 2] - img[..., 0]).mean())  # noqa: E731
    assert blue_shift(ref) > blue_shift(auto) + 1.0  # the blue palette moved the colours toward blue
    centre = (slice(40, 56), slice(56, 72))
    assert (hinted[centre][..., 0] - hinted[centre][..., 2]).mean() > (auto[centre][..., 0] - auto[centre][..., 2]).mean() + 5  # red hint
