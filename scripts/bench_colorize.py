"""Colorization speed and bf16 quality, measured in one run.

Prints, for 480p / 720p / 1080p frames at the default render size: model-only and processor frames/s for
fp32 and bf16, batch 1 and 4; the PSNR of bf16 output against fp32 output on real photos; and the end-to-end
``filmgan colorize`` throughput on a 720p clip (decode + inference + encode with the default settings).

    python scripts/bench_colorize.py [--model PATH] [--clip VIDEO] [--frames 48]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from filmgan.backends.torch_backend import TorchEngine  # noqa: E402
from filmgan.metrics.image import psnr  # noqa: E402
from filmgan.presets import find_preset  # noqa: E402
from filmgan.processors.colorize import ColorizeProcessor  # noqa: E402
from filmgan.video.geometry import render_dims  # noqa: E402

SIZES = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
PHOTOS = ROOT.parent / "shared/data/photos/bsds500_test"


def frames_like(size, n):
    """Real photos resized to the frame size when available (timing does not depend on content)."""
    import cv2

    from filmgan.video.images import read_image

    paths = sorted(PHOTOS.glob("*.jpg"))[:n] if PHOTOS.is_dir() else []
    if paths:
        return np.stack([cv2.resize(read_image(p), size) for p in paths])
    return np.random.default_rng(0).integers(0, 256, (n, size[1], size[0], 3), dtype=np.uint8)


def time_it(fn, repeats):
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def bench_processor(model, precision, compile_model=False):
    engine = TorchEngine(model, task="colorize", precision=precision, compile=compile_model)
    return engine, ColorizeProcessor(engine, render_size=find_preset("colorize").render_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    long_clip = ROOT.parent / "shared/data/videos/big_buck_bunny_0_30.webm"  # 720 frames of 720p + vorbis
    parser.add_argument("--clip", type=Path, default=long_clip if long_clip.is_file() else ROOT / "examples/bunny_grey.mp4")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = args.model or find_preset("colorize").model_path()

    import torch

    from filmgan.backends.device import cpu_has_bf16

    precisions = ("fp32", "bf16") if cpu_has_bf16() else ("fp32",)
    print(f"model: {model}; torch threads: {torch.get_num_threads()}")
    if len(precisions) == 1:  # oneDNN falls back to a reference bf16 convolution, ~100x slower than fp32
        print("bf16 skipped: this CPU has neither AMX nor AVX512-BF16 (precision 'auto' uses fp32 here)")
    print(f"{'size':6} {'precision':9} {'batch':>5} {'model fps':>10} {'processor fps':>14}")
    for name, size in SIZES.items():
        frames = frames_like(size, 4)
        for precision in precisions:
            engine, proc = bench_processor(model, precision)
            for batch in (1, 4):
                rw, rh = render_dims(*size, proc.render_size)
                x = np.random.default_rng(0).standard_normal((batch, 1, rh, rw)).astype(np.float32)
                t_model = time_it(lambda: engine.run(x), args.repeats) / batch
                t_proc = time_it(lambda: proc.colorize(frames[:batch]), args.repeats) / batch
                print(f"{name:6} {engine.precision:9} {batch:>5} {1 / t_model:>10.1f} {1 / t_proc:>14.1f}")

    if "bf16" in precisions:
        photos = frames_like(SIZES["720p"], 16)
        out32 = bench_processor(model, "fp32")[1].colorize(photos)
        out16 = bench_processor(model, "bf16")[1].colorize(photos)
        quality = np.mean([psnr(a, b) for a, b in zip(out32, out16)])
        print(f"bf16 vs fp32 output PSNR on {len(photos)} real photos at 720p: {quality:.1f} dB (bar: >= 40 dB)")

    from click.testing import CliRunner

    from filmgan.cli import main as cli
    from filmgan.video.probe import probe

    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "out.mkv"  # Matroska holds any source audio codec (vorbis, opus, ...)
        start = time.perf_counter()
        result = CliRunner().invoke(cli, ["colorize", str(args.clip), "-o", str(dst), "--quiet"])
        seconds = time.perf_counter() - start
        if result.exit_code != 0:
            raise SystemExit(f"filmgan colorize failed: {result.output}")
        info = probe(args.clip)
        print(f"end to end: filmgan colorize {args.clip.name} ({info.width}x{info.height}, {info.frames} frames): "
              f"{info.frames / seconds:.1f} frames/s including start-up ({seconds:.1f} s; bar: >= 8 at 720p)")


if __name__ == "__main__":
    main()
