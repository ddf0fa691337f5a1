#!/usr/bin/env python
"""Benchmark the inference backends at 720p on this CPU, then end-to-end renders with the auto choice.

Network (ms per frame, batch 1, at the render size of a 1280x720 frame): the colorizer and one style
preset with torch eager, torch.compile (--compile; it compiles per shape, minutes on 2 cores), ORT fp32,
ORT int8, OpenVINO fp32 and int8 (engines are built into the cache first; int8 needs the calibration photos).
End to end (frames/s): colorize and stylize of the first --frames of a 720p clip, backend auto, with the
breakdown of the stages (decode alone, prepare + network + finish in memory, render with decode/encode).

    python scripts/bench_backends.py                                   # ../shared/data/videos/big_buck_bunny_0_30.webm
    python scripts/bench_backends.py --style great-wave --frames 96 --threads 2 --json
    python scripts/bench_backends.py --backends auto,torch          # end to end with torch too (issue 13: style >= 3 fps)

Targets (issue 15): colorize 720p >= 8 fps, every style preset 720p >= 5 fps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "videos" / "big_buck_bunny_0_30.webm"


def time_ms(fn, x, repeats: int) -> float:
    fn(x)  # warm-up (first-shape compilation, allocations)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def network_rows(preset_name: str, threads: int, repeats: int, compile_too: bool) -> list[dict]:
    from filmgan.backends import EngineConfig, load_engine
    from filmgan.export import build as builder, cache
    from filmgan.export.onnx import sample_input
    from filmgan.export.verify import verify_record
    from filmgan.presets import find_preset
    from filmgan.video.geometry import render_dims

    preset = find_preset(preset_name)
    path = preset.model_path()
    card = builder.model_card(path)
    rows = []
    configs = [("torch eager", "torch", "fp32", {}), ("torch.compile", "torch", "fp32", {"compile": True}),
               ("ORT fp32", "ort", "fp32", {}), ("ORT int8", "ort", "int8", {}),
               ("OpenVINO fp32", "openvino", "fp32", {}), ("OpenVINO int8", "openvino", "int8", {})]
    for label, backend, precision, extra in configs:
        if extra.get("compile") and not compile_too:
            continue
        if not cache.backend_installed(backend):
            rows.append({"model": card.name, "backend": label, "skipped": f"{backend} not installed"})
            continue
        try:
            if backend != "torch":
                record, _ = builder.build(path, backend, precision)
                if precision == "int8":  # the same bar `filmgan engine build` holds it to
                    check = record.card.get("verify") or verify_record(record)
                    if not check["ok"]:
                        label += f" (fails its verification, {check['psnr']:.1f} dB: never chosen)"
            with load_engine(path, EngineConfig(backend=backend, precision=precision, threads=threads, **extra)) as engine:
                w, h = render_dims(1280, 720, preset.task_config().render_size or card.internal_size, multiple=engine.input_spec.alignment)
                x = sample_input(card, 1, h, w)
                ms = time_ms(engine.run, x, repeats)
                if extra.get("compile") and not engine.compiles:
                    label += " (runs eager)"  # the channels-last colorizer: see filmgan/backends/torch_backend.py
            rows.append({"model": card.name, "backend": label, "size": f"{w}x{h}", "ms": round(ms, 1)})
        except Exception as exc:  # a missing calibration set or runtime error is a row, not the end of the run
            rows.append({"model": card.name, "backend": label, "skipped": f"{type(exc).__name__}: {exc}"})
    return rows


def end_to_end(preset_name: str, clip: Path, frames: int, threads: int, backend: str = "auto", precision: str = "auto") -> dict:
    """fps of decode alone, of the processor in memory, and of the whole render, with ``backend``
    (``torch+compile``: the torch backend with ``torch.compile``, as ``--backend torch --compile``)."""
    from filmgan.backends import EngineConfig, load_engine
    from filmgan.config import DecodeConfig, RenderConfig
    from filmgan.pipeline.render import render
    from filmgan.presets import find_preset
    from filmgan.processors.factory import build_processor
    from filmgan.video.reader import VideoReader

    preset = find_preset(preset_name)
    decode = DecodeConfig(end=frames, batch_size=1)
    t = time.perf_counter()
    batches = list(VideoReader(clip, decode))
    decode_fps = frames / (time.perf_counter() - t)
    compile_model = backend == "torch+compile"
    config = EngineConfig(backend="torch" if compile_model else backend, precision=precision, threads=threads, compile=compile_model)
    with load_engine(preset.model_path(), config, task=preset.task) as engine:
        processor = build_processor(preset.task_config(), engine)
        if compile_model:  # compiling is a one-off per shape (cached on disk): time the render, not the compiler
            list(processor.process(batches[0]))
            list(processor.flush())
            processor = build_processor(preset.task_config(), engine)
        t = time.perf_counter()
        for batch in batches:
            list(processor.process(batch))
        list(processor.flush())
        process_fps = frames / (time.perf_counter() - t)
        processor = build_processor(preset.task_config(), engine)
        with tempfile.TemporaryDirectory() as tmp:
            result = render(clip, Path(tmp) / "out.mp4", processor, RenderConfig(decode=decode, encode=preset.encode_config()))
        return {"preset": preset.name, "backend": engine.name + ("+compile" if compile_model else ""), "precision": engine.precision, "frames": frames,
                "decode_fps": round(decode_fps, 1), "process_fps": round(process_fps, 2), "render_fps": round(result.fps, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=CLIP)
    ap.add_argument("--style", default="the-scream", help="style preset for the network rows")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--threads", type=int, default=0, help="backend threads (0: the runtime's default)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile")
    ap.add_argument("--no-render", action="store_true", help="network rows only")
    ap.add_argument("--backends", default="auto", help="comma-separated backends for the end-to-end renders (e.g. auto,torch,torch+compile)")
    ap.add_argument("--precision", default="auto", help="precision of the end-to-end renders (auto: each backend's choice)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = network_rows("colorize", args.threads, args.repeats, args.compile) + network_rows(args.style, args.threads, args.repeats, args.compile)
    renders = [] if args.no_render or not args.clip.is_file() else [end_to_end(p, args.clip, args.frames, args.threads, b, args.precision)
                                                                                  for b in args.backends.split(",") for p in ("colorize", args.style)]
    if args.json:
        print(json.dumps({"network": rows, "end_to_end": renders}))
        return
    print(f"network, one 1280x720 frame at the render size, median of {args.repeats} (ms):")
    for r in rows:
        print(f"  {r['model']:<20} {r['backend']:<15} " + (f"{r['size']:>9} {r['ms']:8.1f}" if "ms" in r else f"skipped: {r['skipped']}"))
    for e in renders:
        target = 8 if e["preset"] == "colorize" else 5
        print(f"end to end {e['preset']} ({e['backend']} {e['precision']}, {e['frames']} frames): render {e['render_fps']} fps "
              f"(target {target}); decode alone {e['decode_fps']} fps, prepare+network+finish {e['process_fps']} fps")


if __name__ == "__main__":
    main()
