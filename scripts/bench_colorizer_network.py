"""Network cost of two colorizers on the same backend, at the render size of a 720p frame, in one run.

Issue 12's speed bar: the new colorizer's network costs no more than 1.5 x colorize-v4's. Both engines run
the same input (a real 720p frame's normalised L at the colorize preset's render size), interleaved, so
machine noise hits both alike; prints the median ms per frame of each and their ratio.

    python scripts/bench_colorizer_network.py --baseline PATH [--model PATH] [--repeats 20] [--batch 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from filmgan.backends.torch_backend import TorchEngine  # noqa: E402
from filmgan.presets import find_preset  # noqa: E402
from filmgan.processors.colorize import ColorizeProcessor  # noqa: E402


def frame_720p() -> np.ndarray:
    from filmgan.video.images import read_image

    photos = sorted((ROOT.parent / "shared/data/photos/bsds500_test").glob("*.jpg"))
    if photos:
        import cv2

        return cv2.resize(read_image(photos[0]), (1280, 720), interpolation=cv2.INTER_LINEAR)
    return np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="default: the colorize preset's")
    parser.add_argument("--baseline", type=Path, required=True, help="e.g. colorize-v4 from git history: git show 1de6830:filmgan/weights/colorize-v4.safetensors > v4.safetensors")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--render-size", type=int, help="default: the colorize preset's")
    args = parser.parse_args()
    preset = find_preset("colorize")
    render_size = args.render_size or preset.render_size
    models = {"model": args.model or preset.model_path(), "baseline": args.baseline}
    engines = {k: TorchEngine(p, task="colorize", precision="fp32") for k, p in models.items()}
    frames = np.stack([frame_720p()] * args.batch)
    inputs = {k: ColorizeProcessor(e, render_size=render_size).network_input(frames)[1] for k, e in engines.items()}
    for k, e in engines.items():  # warm-up
        e.run(inputs[k])
    times: dict[str, list[float]] = {k: [] for k in engines}
    for _ in range(args.repeats):
        for k, e in engines.items():
            start = time.perf_counter()
            e.run(inputs[k])
            times[k].append((time.perf_counter() - start) / args.batch)
    ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
    shape = inputs["model"].shape
    print(f"720p frame, render size {render_size} -> network input {shape[3]}x{shape[2]}, batch {args.batch}, fp32 torch, median of {args.repeats}")
    for k, path in models.items():
        print(f"  {k:9} {path.name:32} {ms[k]:7.1f} ms/frame")
    ratio = ms["model"] / ms["baseline"]
    print(f"  ratio model / baseline: {ratio:.2f} (bar <= 1.5: {'PASS' if ratio <= 1.5 else 'FAIL'})")


if __name__ == "__main__":
    main()
