#!/usr/bin/env python
"""Benchmark the video pipeline: decode, encode, serial decode+encode, and render() (IdentityProcessor).

Every measurement runs in its own subprocess, which reports its fps and its own peak RSS, so memory of
one run never hides in another's. The memory check renders a short and a long clip of the same size:
peak RSS must not grow with clip length (memory ~ queue_depth x batch, not video length).

    python scripts/bench_pipeline.py                      # 720p, 300 frames; memory: 300 vs 1200 frames
    python scripts/bench_pipeline.py --sizes 720p,1080p --long 3000 --preset veryfast   # the full run
    python scripts/bench_pipeline.py --thread-types       # also compare decoder threading modes

Clips are synthesized once into --work (scrolling noise texture + AAC sine) and reused. On the shared
2-core machines keep the long 1080p case to a single run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

SIZES = {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080)}
RATE = Fraction(25)


# -- synthetic clips ---------------------------------------------------------------------------------

def texture(width: int, height: int) -> np.ndarray:
    """A smooth random RGB texture twice the frame width, scrolled to make motion."""
    import cv2

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (height, width * 2, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 3)


def frames_of(tex: np.ndarray, width: int, count: int):
    for i in range(count):
        x = (i * 7) % width
        yield np.ascontiguousarray(tex[:, x:x + width])


def make_clip(path: Path, width: int, height: int, count: int) -> Path:
    """h264 (crf 23, ultrafast, B-frames) + AAC sine, in mp4."""
    import av

    if path.exists():
        return path
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as out:
        vs = out.add_stream("libx264", rate=RATE, options={"crf": "23", "preset": "ultrafast", "bf": "2"})
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        aus = out.add_stream("aac", rate=48000)
        tex, samples = texture(width, height), 0
        for i, rgb in enumerate(frames_of(tex, width, count)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
            while samples < (i + 1) * 48000 / RATE:
                t = (np.arange(1024) + samples) / 48000
                wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                af = av.AudioFrame.from_ndarray(np.stack([wave, wave]), format="fltp", layout="stereo")
                af.sample_rate, af.pts = 48000, samples
                out.mux(aus.encode(af))
                samples += 1024
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))
    tmp.rename(path)
    return path


# -- workers (run in a subprocess each) --------------------------------------------------------------

def work_decode(clip: Path, args) -> int:
    import av

    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        stream.thread_type = args.thread_type
        n = 0
        for frame in c.decode(stream):
            frame.to_ndarray(format="rgb24")
            n += 1
    return n


def _encode_config(args):
    from filmgan.config import EncodeConfig

    return EncodeConfig(preset=args.preset, copy_audio=True)


def work_encode(clip: Path, args) -> int:
    from filmgan.video import FrameBatch, VideoWriter, probe

    info = probe(clip)
    tex = texture(info.width, info.height)
    frames = np.stack(list(frames_of(tex, info.width, 8)))
    out = Path(args.out)
    with VideoWriter(out, info, _encode_config(args), overwrite=True) as writer:
        for start in range(0, info.frames, 8):
            n = min(8, info.frames - start)
            pts = np.array([info.pts_of(i) for i in range(start, start + n)], np.int64)
            writer.write(FrameBatch(frames[:n], pts, info.time_base, start))
    return info.frames


def work_serial(clip: Path, args) -> int:
    from filmgan.config import DecodeConfig
    from filmgan.video import VideoReader, VideoWriter, probe

    info, n = probe(clip), 0
    with VideoWriter(Path(args.out), info, _encode_config(args), overwrite=True) as writer:
        for batch in VideoReader(clip, DecodeConfig(thread_type=args.thread_type), info=info):
            writer.write(batch)
            n += len(batch)
    return n


def work_render(clip: Path, args) -> int:
    from filmgan.config import DecodeConfig, RenderConfig
    from filmgan.pipeline import render
    from filmgan.video import IdentityProcessor

    config = RenderConfig(decode=DecodeConfig(thread_type=args.thread_type), encode=_encode_config(args),
                          overwrite=True)
    return render(clip, Path(args.out), IdentityProcessor(), config).frames_out


WORKERS = {"decode": work_decode, "encode": work_encode, "serial": work_serial, "render": work_render}


def worker_main(args) -> None:
    clip = Path(args.clip)
    started = time.perf_counter()
    frames = WORKERS[args.worker](clip, args)
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"frames": frames, "seconds": seconds, "fps": frames / seconds, "rss_mb": rss_mb}))


# -- driver ------------------------------------------------------------------------------------------

def run(mode: str, clip: Path, args, thread_type: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", mode, "--clip", str(clip), "--preset", args.preset,
           "--thread-type", thread_type or args.thread_type, "--out", str(Path(args.work) / f"out-{mode}.mp4")]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(*cells) -> str:
    return "  ".join(f"{c:>10}" if i else f"{c:<24}" for i, c in enumerate(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="720p", help="comma list of 360p,720p,1080p")
    parser.add_argument("--frames", type=int, default=300, help="frames of the speed clips")
    parser.add_argument("--long", type=int, default=1200, help="frames of the long clip for the memory check (0: skip)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset for encode/serial/render")
    parser.add_argument("--thread-type", default="SLICE", help="decoder threading for serial/render")
    parser.add_argument("--thread-types", action="store_true", help="compare SLICE/FRAME/AUTO decode (and render)")
    parser.add_argument("--work", default="/tmp/filmgan-bench", help="folder for clips and outputs")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--clip", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"preset={args.preset} decode thread_type={args.thread_type}  (fps; RSS = peak of that subprocess)")
    print(row("case", "fps", "RSS MB"))
    for size in args.sizes.split(","):
        width, height = SIZES[size]
        clip = make_clip(work / f"{size}-{args.frames}.mp4", width, height, args.frames)
        types = ("SLICE", "FRAME", "AUTO") if args.thread_types else (args.thread_type,)
        for thread_type in types:
            r = run("decode", clip, args, thread_type)
            print(row(f"{size} decode {thread_type}", f"{r['fps']:.1f}", f"{r['rss_mb']:.0f}"))
        for thread_type in types[1:] if args.thread_types else ():
            r = run("render", clip, args, thread_type)
            print(row(f"{size} render {thread_type}", f"{r['fps']:.1f}", f"{r['rss_mb']:.0f}"))
        results = {mode: run(mode, clip, args) for mode in ("encode", "serial", "render")}
        for mode, r in results.items():
            print(row(f"{size} {mode}", f"{r['fps']:.1f}", f"{r['rss_mb']:.0f}"))
        ratio = results["render"]["fps"] / results["serial"]["fps"]
        print(row(f"{size} render/serial", f"{ratio:.2f}", "target>=0.9"))
        if args.long <= 0:
            continue
        long_clip = make_clip(work / f"{size}-{args.long}.mp4", width, height, args.long)
        r = run("render", long_clip, args)
        print(row(f"{size} render {args.long} fr", f"{r['fps']:.1f}", f"{r['rss_mb']:.0f}"))
        growth = r["rss_mb"] - results["render"]["rss_mb"]
        print(row(f"{size} RSS {args.frames}->{args.long}", f"{growth:+.0f} MB", ""))


if __name__ == "__main__":
    main()
