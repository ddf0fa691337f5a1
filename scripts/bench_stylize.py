"""Speed of the style presets on 720p frames, per preset and variant.

For each preset (or ``--models`` files) and variant (precision x torch.compile x upsampling), runs
``StylizeProcessor.stylize`` on 1280x720 frames one at a time (batch 1, as the CLI does by default) and
prints frames/s of the whole processor (resize -> generator at the render size -> upsample), of the
generator alone, and the generator's GFLOP per frame (``torch.utils.flop_counter``). ``cpu fps`` divides
by the process CPU time instead of wall time, which is what to compare when other jobs share the CPU
(multiply by the free cores for an idle-machine estimate). A Johnson et al. (2016)-size network at 720p
is listed for reference with ``--reference``.

    python scripts/bench_stylize.py [--presets a,b] [--frames 8] [--compile] [--threads 2] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "videos" / "big_buck_bunny_0_30.webm"


def test_frames(count: int) -> np.ndarray:
    """720p frames: Big Buck Bunny when present, else smooth noise."""
    if CLIP.is_file():
        from filmgan.config import DecodeConfig
        from filmgan.video.reader import VideoReader

        frames = [f for b in VideoReader(CLIP, DecodeConfig(start=240, end=240 + count, batch_size=8)) for f in b.frames]
        if len(frames) == count:
            return np.stack(frames)
    import cv2

    rng = np.random.default_rng(0)
    return np.stack([(cv2.GaussianBlur(rng.random((720, 1280, 3)).astype(np.float32), (0, 0), 4) * 255).astype(np.uint8) for _ in range(count)])


def timed(fn, frames: np.ndarray, warmup: int = 2) -> tuple[float, float]:
    """(wall fps, cpu fps) of ``fn`` over single frames, after ``warmup`` calls."""
    for i in range(warmup):
        fn(frames[i % len(frames)][None])
    w0, c0 = time.perf_counter(), time.process_time()
    for f in frames:
        fn(f[None])
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return len(frames) / wall, len(frames) / max(cpu, 1e-9)


def gflop(model, h: int, w: int) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, h, w))
    return counter.get_total_flops() / 1e9


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", help="comma-separated preset names (default: every style preset)")
    ap.add_argument("--models", nargs="*", type=Path, help="model files instead of presets")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--precisions", default="bf16,fp32")
    ap.add_argument("--upsample", default="bicubic,guided")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (compiles once per shape, ~30 s)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument("--reference", action="store_true", help="also time a Johnson-size network at 720p (slow)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from filmgan.backends.torch_backend import TorchEngine
    from filmgan.presets import find_preset, list_presets
    from filmgan.video.geometry import render_dims
    from filmgan.processors.stylize import StylizeProcessor

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.models:
        items = [(m.parent.name if m.stem == "model" else m.stem, m, None) for m in args.models]
    else:
        presets = [find_preset(n) for n in args.presets.split(",")] if args.presets else [p for p in list_presets() if p.task == "style"]
        items = [(p.name, p.model_path(), p.render_size) for p in presets]
    frames = test_frames(args.frames)
    rows = []
    for name, path, render_size in items:
        for precision in args.precisions.split(","):
            for compiled in (False, True) if args.compile else (False,):
                engine = TorchEngine(path, task="style", precision=precision, compile=compiled)
                size = render_size or engine.card.internal_size
                rw, rh = render_dims(1280, 720, size, multiple=8)
                x = np.random.default_rng(0).random((1, 3, rh, rw), dtype=np.float32)
                net_wall, net_cpu = timed(lambda f: engine.run(x), frames)
                for mode in args.upsample.split(","):
                    processor = StylizeProcessor(engine, render_size=size, upsample=mode)
                    wall, cpu = timed(processor.stylize, frames)
                    rows.append({"preset": name, "render": f"{rw}x{rh}", "precision": engine.precision, "compile": compiled, "upsample": mode,
                                 "fps": wall, "cpu_fps": cpu, "net_fps": net_wall, "gflop": gflop(engine.model, rh, rw),
                                 "params_k": sum(p.numel() for p in engine.model.parameters()) / 1e3})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.reference:
        from filmgan.models.stylenet import StyleNet

        ref = StyleNet((32, 64, 128), 5, 9).eval()
        x = torch.rand(1, 3, 720, 1280)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            wall, cpu = timed(lambda f: ref(x), frames[:3], warmup=1)
        rows.append({"preset": "(Johnson-size reference)", "render": "1280x720", "precision": "bf16", "compile": False, "upsample": "-",
                     "fps": wall, "cpu_fps": cpu, "net_fps": wall, "gflop": gflop(ref, 720, 1280), "params_k": sum(p.numel() for p in ref.parameters()) / 1e3})
    print_table(rows, args.markdown, torch.get_num_threads())
    return 0


def print_table(rows: list[dict], markdown: bool, threads: int) -> None:
    head = ["preset", "render", "precision", "compile", "upsample", "720p fps", "cpu fps", "net fps", "GFLOP/frame", "params (k)"]
    body = [[r["preset"], r["render"], r["precision"], "yes" if r["compile"] else "no", r["upsample"], f"{r['fps']:.1f}", f"{r['cpu_fps']:.1f}",
             f"{r['net_fps']:.1f}", f"{r['gflop']:.1f}", f"{r['params_k']:.0f}"] for r in rows]
    if markdown:
        print(f"torch threads: {threads}\n")
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for r in body:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        for r in [head, *body]:
            print("  ".join(x.ljust(w) for x, w in zip(r, widths)))


if __name__ == "__main__":
    sys.exit(main())
