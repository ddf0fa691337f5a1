"""Benchmark render-farm batches: single-pass renders vs the chunked local executor with 1 and 2 workers on a
3-shot job of the real clips, and the chunking overhead (issue 16's target: < 10 % at chunk size 240 on one
worker).

    python scripts/bench_farm.py [--render-size 96] [--chunk-size 240] [--warmup 16] [--workers 1,2]

Every variant renders the same shots with the same preset, backend and segment codec (ffv1 .mkv, stream-copy
merge); the single pass is ``pipeline.render`` of each whole shot in one process (engine loaded once, timed),
the chunked runs are ``filmgan.farm.executors.run_job`` from an empty work folder. Planning (one decode pass
per shot for the scene cuts and pts) is timed on its own: a farm plans once, before any chunk runs.
The default render size (96) keeps the colorizer's network cheap on a 2-core CPU; the pixel work at full
resolution (recombination, flow, encode) is unchanged.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

VIDEOS = ROOT.parent / "shared" / "data" / "videos"
SHOTS = [("bunny", "big_buck_bunny_0_30.webm"), ("airplane", "airplane_flyby.mp4"), ("chase", "big_buck_bunny_432_433.webm")]


def job_for(folder: Path, args) -> Path:
    from farm_helpers import write_job

    shots = [{"name": name, "input": str(VIDEOS / file), "output": f"out/{name}.mkv", "render_size": args.render_size} for name, file in SHOTS]
    return write_job(folder, shots, chunk_size=args.chunk_size, warmup=args.warmup, backend=args.backend)


def single_pass(job) -> float:
    from filmgan.config import DecodeConfig, EncodeConfig, RenderConfig
    from filmgan.farm.chunk import _engine, close_engines
    from filmgan.farm.shotconfig import shot_config
    from filmgan.pipeline import render
    from filmgan.processors.factory import build_processor

    started = time.perf_counter()
    for shot in job.shots:
        config = shot_config(shot)
        processor = build_processor(config.task, _engine(config.model, config.backend, shot.precision, config.task_name, 0))
        render(shot.input, shot.output.with_name(f"single-{shot.name}.mkv"), processor,
               RenderConfig(decode=DecodeConfig(batch_size=1), encode=EncodeConfig(codec="ffv1"), overwrite=True))
    seconds = time.perf_counter() - started
    close_engines()
    return seconds


def chunked(folder: Path, args, workers: int) -> tuple[float, float, int]:
    from filmgan.farm.executors import run_job
    from filmgan.farm.jobfile import load_job
    from filmgan.farm.plan import plan_shot

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    job = load_job(job_for(folder, args))
    started = time.perf_counter()
    chunks = sum(len(plan_shot(job, shot).chunks) for shot in job.shots)
    planned = time.perf_counter()
    report = run_job(job, "local", workers=workers)
    if report.failed:
        raise SystemExit(f"the job failed: {report.failed}")
    return planned - started, time.perf_counter() - planned, chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render-size", type=int, default=96)
    parser.add_argument("--chunk-size", type=int, default=240)
    parser.add_argument("--warmup", type=int, default=16)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    if not VIDEOS.is_dir():
        raise SystemExit(f"the real clips are not at {VIDEOS}")
    from filmgan.farm.jobfile import load_job

    with tempfile.TemporaryDirectory(prefix="bench_farm_") as tmp:
        tmp = Path(tmp)
        (tmp / "single").mkdir()
        job = load_job(job_for(tmp / "single", args))
        (tmp / "single" / "out").mkdir()
        frames = sum(__import__("filmgan.video.probe", fromlist=["probe"]).probe(s.input).frames for s in job.shots)
        print(f"3 shots, {frames} frames; preset colorize, render size {args.render_size}, backend {args.backend}, "
              f"chunk {args.chunk_size}, warm-up {args.warmup}; segments ffv1, stream-copy merge")
        base = single_pass(job)
        print(f"single pass (one process, shot after shot):  {base:7.1f} s  {frames / base:5.2f} frames/s")
        for workers in [int(w) for w in args.workers.split(",")]:
            plan, run, chunks = chunked(tmp / f"w{workers}", args, workers)
            total = plan + run
            print(f"chunked, {workers} worker{'s' if workers > 1 else ' '} ({chunks} chunks): plan {plan:5.1f} s + run {run:6.1f} s = {total:7.1f} s"
                  f"  {frames / total:5.2f} frames/s  vs single pass {total / base:5.3f}x"
                  + (f"  -> chunking overhead {100 * (total / base - 1):+.1f} % ({100 * (run / base - 1):+.1f} % without planning)" if workers == 1 else ""))


if __name__ == "__main__":
    main()
