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
