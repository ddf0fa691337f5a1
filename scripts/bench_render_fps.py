"""End-to-end render fps of colorize and stylize, for this checkout and another one, in one run.

    python scripts/bench_render_fps.py [--other /path/to/old/checkout] [--video CLIP] [--frames N] [--style PRESET]

Each measurement runs in a fresh process (PYTHONPATH = the checkout) through ``pipeline.render`` on the
first N frames, the same settings as ``filmgan colorize`` / ``filmgan stylize`` with their defaults.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CHILD = r'''
import json, os, sys, tempfile, time
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from filmgan.config import DecodeConfig, RenderConfig
from filmgan.pipeline import render
from filmgan.presets import find_preset
from filmgan.processors.factory import build_processor
video, frames, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
preset = find_preset(name)
try:  # the typed edge (EngineConfig + task config)
    from filmgan.backends import EngineConfig, load_engine
    engine = load_engine(preset.model_path(), EngineConfig(), task=preset.task)
    processor = build_processor(preset.task_config(), engine)
except ImportError:  # before it: click's keyword dict
    processor = build_processor(preset, {})
config = RenderConfig(decode=DecodeConfig(end=frames, batch_size=1), encode=preset.encode_config(), overwrite=True)
with tempfile.TemporaryDirectory() as tmp:
    result = render(video, os.path.join(tmp, "out.mp4"), processor, config)
print(json.dumps({"frames": result.frames_out, "fps": result.fps}))
'''


def measure(checkout: Path, video: str, frames: int, preset: str) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, video, str(frames), preset], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])["fps"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--other", type=Path, help="Another checkout to compare with (e.g. a worktree of main).")
    ap.add_argument("--video", default=str(HERE.parent / "shared/data/videos/big_buck_bunny_0_30.webm"))
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--style", default="the-scream")
    args = ap.parse_args()
    checkouts = [("this", HERE)] + ([("other", args.other.resolve())] if args.other else [])
    for task in ("colorize", args.style):
        for label, path in checkouts:
            print(f"{task:12} {label:6} {measure(path, args.video, args.frames, task):6.2f} fps  ({path})", flush=True)


if __name__ == "__main__":
    main()
