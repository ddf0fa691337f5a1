"""Temporal consistency bars (issue 5), measured on the real clips in ../shared/data/videos.

For each clip (``--frames`` frames, by default from the middle of the clip; decoded in memory, nothing
encoded, so no codec noise):

* colorize its grey version (same Lab L, zero chroma) with the colorize preset's model, per frame and
  with the preset's flow-guided blending (``FlowBlender``, exactly what ``TemporalProcessor`` runs);
* E_warp (Lai et al. 2018, ``filmgan.metrics.flicker.WarpErrors``, DIS medium at full size) of the
  per-frame output, the blended output and the original colour clip -- all three with the flow computed
  once on the original colour frames, so they are comparable;
* PSNR (MSE pooled over the clip) of both outputs against the original colour frames and the drop;
* the same E_warp comparison for one style preset (per frame vs blended, on the colour clip), with the
  colour clip's own E_warp beside them: a real video has no flicker, so that number is the metric's floor
  where the flow fails (fast deforming motion), which no ghost-free blend can remove.

Colour pumping: the largest jump of the frame-mean a*/b* between consecutive frames within a shot ("pump";
issue 12's bar: < 1.5 on the blended output).

Bars: E_warp(blended) <= 0.5 x E_warp(per frame) and <= 1.3 x E_warp(original); PSNR drop <= 0.5 dB;
style E_warp(blended) <= 0.5 x per frame; blending at 720p costs less per frame than the model.

Diagnostics for the colorizer: the E_warp of the grey source itself (the luminance floor: the colorizer
keeps the source luminance exactly, and the chroma blend does not touch it) and the E_warp of the chroma
alone (RGB minus the grey version), where the blend acts.

    python scripts/bench_temporal.py [--model PATH] [--style-preset NAME | --style-model PATH]
                                     [--frames 96] [--start middle|N] [--videos DIR] [--precision auto]
                                     [--threads 0] [--no-style] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from filmgan.config import BlendConfig, DecodeConfig  # noqa: E402
from filmgan.errors import FilmganError  # noqa: E402
from filmgan.metrics.flicker import WarpErrors  # noqa: E402
from filmgan.presets import find_preset, list_presets  # noqa: E402
from filmgan.temporal.blend import FlowBlender  # noqa: E402
from filmgan.video.color import recombine_luminance_chroma  # noqa: E402
from filmgan.video.reader import VideoReader  # noqa: E402

VIDEOS = ROOT.parent / "shared/data/videos"
BATCH = 4


def warp_errors(reference, **videos) -> dict[str, float]:
    """E_warp of each video, flow and scene cuts on ``reference`` (computed once per pair for all of them)."""
    meter = WarpErrors(list(videos))
    for i, ref in enumerate(reference):
        meter.update(ref, {name: frames[i] for name, frames in videos.items()})
    return meter.values


def read_clip(path: Path, frames: int, start: str | int = 0) -> np.ndarray:
    """``frames`` frames from ``start`` (an index, or 'middle': centred in the clip)."""
    if start == "middle":
        from filmgan.video.probe import probe

        total = probe(path).frames or frames
        start = max(0, (total - frames) // 2)
    start = int(start)
    return np.concatenate([b.frames for b in VideoReader(path, DecodeConfig(start=start, end=start + frames, batch_size=8))])


def grey(frames: np.ndarray) -> np.ndarray:
    """The black-and-white version: same Lab L, zero chroma."""
    zeros = np.zeros(frames.shape[1:3] + (2,), np.float32)
    return np.stack([recombine_luminance_chroma(f, zeros) for f in frames])


def chroma(frames: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """The chroma of colour frames as an image: ``RGB - grey + 128`` (the grey version has the same Lab L),
    so E_warp of it measures colour flicker alone, without the luminance that colorization keeps."""
    return np.clip(frames.astype(np.int16) - bw + 128, 0, 255).astype(np.uint8)


def chroma_energy(chroma_image: np.ndarray) -> float:
    """Mean squared chroma of a ``chroma`` image, in [0, 1] RGB units (E_warp's): how much colour there is
    to flicker. E_warp of the chroma grows with it, so a colourful model and a near-grey one compare per unit."""
    return float(np.mean(np.square((chroma_image.astype(np.float32) - 128.0) / 255.0)))


def colour_pumping(reference: np.ndarray, frames: np.ndarray) -> float:
    """The largest jump of the frame-mean Lab a* or b* between consecutive frames of one shot (pairs across a
    scene cut of ``reference`` left out): a colour-choosing model that switches hues shows up here."""
    from filmgan.temporal.scenecut import SceneCutDetector
    from filmgan.video.color import rgb_to_lab

    cuts = SceneCutDetector()
    means = [rgb_to_lab(cv2.resize(f, (160, 90), interpolation=cv2.INTER_AREA))[..., 1:].reshape(-1, 2).mean(0) for f in frames]
    jumps = [float(np.abs(means[i] - means[i - 1]).max()) for i, ref in enumerate(reference) if not cuts.is_cut(ref) and i > 0]
    return max(jumps, default=0.0)


def per_frame(fn, frames: np.ndarray) -> tuple[np.ndarray, float]:
    """Run a processor function in batches; returns (outputs, seconds per frame)."""
    start = time.perf_counter()
    out = np.concatenate([fn(frames[i : i + BATCH]) for i in range(0, len(frames), BATCH)])
    return out, (time.perf_counter() - start) / len(frames)


def blended(config: BlendConfig, sources: np.ndarray, outputs: np.ndarray) -> tuple[np.ndarray, float]:
    blender = FlowBlender(config)
    start = time.perf_counter()
    out = blender.blend_arrays(sources, outputs)
    return out, (time.perf_counter() - start) / len(sources)


def clip_psnr(reference: np.ndarray, frames: np.ndarray) -> float:
    """PSNR of the whole clip (MSE pooled over all frames, so identical frames -- black -- do not give inf)."""
    mse = np.mean([np.mean(np.square(r.astype(np.float64) - f)) for r, f in zip(reference, frames)])
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def colorize_clip(path: Path, proc, blend: BlendConfig, n: int, start) -> dict:
    colour = read_clip(path, n, start)
    bw = grey(colour)
    proc.blender = None
    pf, t_model = per_frame(proc.colorize, bw)
    proc.blender = FlowBlender(blend)  # the CLI's path: ab blended at the render size inside the colorizer
    bl, t_with_blend = per_frame(proc.colorize, bw)
    proc.blender = None
    t_blend = max(0.0, t_with_blend - t_model)
    e = warp_errors(colour, per_frame=pf, blended=bl, original=colour, grey=bw)
    chroma_bl, chroma_orig = chroma(bl, bw), chroma(colour, bw)
    c = warp_errors(colour, per_frame=chroma(pf, bw), blended=chroma_bl, original=chroma_orig)
    p_pf, p_bl = clip_psnr(colour, pf), clip_psnr(colour, bl)
    return {
        "clip": path.name, "frames": len(colour), "size": [colour.shape[2], colour.shape[1]],
        "ewarp_per_frame": e["per_frame"], "ewarp_blended": e["blended"], "ewarp_original": e["original"],
        "ratio_vs_per_frame": e["blended"] / e["per_frame"], "ratio_vs_original": e["blended"] / e["original"],
        "ewarp_grey": e["grey"], "chroma_ewarp_per_frame": c["per_frame"], "chroma_ewarp_blended": c["blended"],
        "chroma_ewarp_original": c["original"],
        "chroma_energy_blended": chroma_energy(chroma_bl), "chroma_energy_original": chroma_energy(chroma_orig),
        "psnr_per_frame": p_pf, "psnr_blended": p_bl, "psnr_drop": p_pf - p_bl,
        "pumping_per_frame": colour_pumping(colour, pf), "pumping_blended": colour_pumping(colour, bl), "pumping_original": colour_pumping(colour, colour),
        "ms_per_frame_processor": 1000 * t_model, "ms_per_frame_blend": 1000 * t_blend,
    }


def style_clip(path: Path, proc, blend: BlendConfig, n: int, start) -> dict:
    return {"clip": path.name, **style_frames(read_clip(path, n, start), proc, blend)}


def style_frames(colour: np.ndarray, proc, blend: BlendConfig, keep: bool = False) -> dict:
    """E_warp of a style processor's per-frame and blended output on the colour frames of one clip
    (``keep``: the blended frames too, as ``blended_frames``)."""
    pf, t_model = per_frame(proc.stylize, colour)
    bl, t_blend = blended(blend, colour, pf)
    e = warp_errors(colour, per_frame=pf, blended=bl, original=colour)
    row = {
        "frames": len(colour), "ewarp_per_frame": e["per_frame"], "ewarp_blended": e["blended"],
        "ewarp_original": e["original"],  # the source's own: flow failure, not flicker (the metric's floor)
        "ratio_vs_per_frame": e["blended"] / e["per_frame"], "ms_per_frame_processor": 1000 * t_model, "ms_per_frame_blend": 1000 * t_blend,
    }
    if keep:
        row["blended_frames"] = bl
    return row


def frames_720p(clips: list[Path], n: int = 16) -> np.ndarray:
    """Real 720p frames (a 1280x720 clip if there is one, else the first clip resized)."""
    for path in clips:
        frames = read_clip(path, n)
        if frames.shape[1:3] == (720, 1280):
            return frames
    return np.stack([cv2.resize(f, (1280, 720), interpolation=cv2.INTER_LINEAR) for f in read_clip(clips[0], n)])


def cost_720p(proc, blend: BlendConfig, frames: np.ndarray) -> dict:
    """ms/frame at 720p: the engine alone, the whole processor (no blending), and the blending itself
    (``FlowBlender.blend_frame`` on the render-size frames and the network's chroma, timed directly)."""
    bw = grey(frames)
    proc.blender = None
    proc.colorize(bw[:1])  # warm-up
    _, t_proc = per_frame(proc.colorize, bw)
    small, L, _ = proc.network_input(bw)
    ab = proc.engine.run(L[:BATCH])
    start = time.perf_counter()
    for _ in range(3):
        proc.engine.run(L[:BATCH])
    t_engine = (time.perf_counter() - start) / (3 * BATCH)
    chroma = [np.ascontiguousarray(ab[i % BATCH].transpose(1, 2, 0)) for i in range(len(small))]
    blender = FlowBlender(blend)
    blender.blend_frame(small[0], chroma[0])  # the first frame only initialises the state
    start = time.perf_counter()
    for s, c in zip(small[1:], chroma[1:]):
        blender.blend_frame(s, c)
    t_blend = (time.perf_counter() - start) / max(1, len(small) - 1)
    return {"engine_ms": 1000 * t_engine, "processor_ms": 1000 * t_proc, "blend_ms": 1000 * t_blend, "render_size": [small[0].shape[1], small[0].shape[0]]}


def style_processor(args):
    """(name, StylizeProcessor, BlendConfig) for --style-model / --style-preset / the first style preset with a model."""
    from filmgan.backends import EngineConfig, load_engine
    from filmgan.processors.stylize import StylizeProcessor

    if args.style_model:
        engine = load_engine(args.style_model, EngineConfig(precision=args.precision), task="style")
        return args.style_model.name, StylizeProcessor(engine), BlendConfig()
    candidates = [find_preset(args.style_preset)] if args.style_preset else [p for p in list_presets(strict=False) if p.task == "style"]
    for preset in candidates:
        try:
            engine = load_engine(preset.model_path(), EngineConfig(precision=args.precision), task="style")
        except FilmganError:
            continue
        return preset.name, StylizeProcessor(engine, render_size=preset.render_size), preset.blend_config()
    return None


def pooled(rows: list[dict], key: str) -> float:
    """Mean of a per-pair quantity over all clips (weighted by their pair counts)."""
    return float(sum(r[key] * (r["frames"] - 1) for r in rows) / sum(r["frames"] - 1 for r in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="Colorizer model (default: the 'colorize' preset's).")
    parser.add_argument("--style-preset", help="Style preset to measure (default: the first with a model).")
    parser.add_argument("--style-model", type=Path, help="A style model file instead of a preset (default blend settings).")
    parser.add_argument("--no-style", action="store_true")
    parser.add_argument("--videos", type=Path, default=VIDEOS)
    parser.add_argument("--frames", type=int, default=96, help="Frames per clip.")
    parser.add_argument("--start", default="middle", help="First frame of each clip: an index, or 'middle' (default: the frames centred in the clip).")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default).")
    parser.add_argument("--json", action="store_true", help="Also print all numbers as one JSON line.")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from filmgan.backends import EngineConfig, load_engine
    from filmgan.processors.colorize import ColorizeProcessor

    preset = find_preset("colorize")
    model = args.model or preset.model_path()
    proc = ColorizeProcessor(load_engine(model, EngineConfig(precision=args.precision), task="colorize"), render_size=preset.render_size)
    blend = preset.blend_config()
    clips = sorted(p for p in args.videos.iterdir() if p.suffix.lower() in (".mp4", ".webm", ".mkv", ".mov"))
    report: dict = {"model": str(model), "precision": proc.engine.precision, "frames": args.frames, "blend": {"strength": blend.strength, "chroma_only": blend.chroma_only}}

    print(f"colorize: model {model} ({proc.engine.precision}), render size {proc.render_size}, blend strength {blend.strength}, {args.frames} frames per clip from {args.start}")
    print(f"{'clip':28} {'E_pf':>9} {'E_blend':>9} {'E_orig':>9} {'bl/pf':>6} {'bl/orig':>7} {'PSNR_pf':>8} {'PSNR_bl':>8} {'drop':>6} {'pump':>6}")
    rows = []
    for clip in clips:
        r = colorize_clip(clip, proc, blend, args.frames, args.start)
        rows.append(r)
        print(f"{r['clip'][:28]:28} {r['ewarp_per_frame']:9.3e} {r['ewarp_blended']:9.3e} {r['ewarp_original']:9.3e} {r['ratio_vs_per_frame']:6.3f} "
              f"{r['ratio_vs_original']:7.3f} {r['psnr_per_frame']:8.2f} {r['psnr_blended']:8.2f} {r['psnr_drop']:6.2f} {r['pumping_blended']:6.2f}")
    totals = {k: pooled(rows, k) for k in ("ewarp_per_frame", "ewarp_blended", "ewarp_original")}
    drop = float(np.mean([r["psnr_drop"] for r in rows]))
    bars = {
        "blended <= 0.5 x per-frame": totals["ewarp_blended"] <= 0.5 * totals["ewarp_per_frame"],
        "blended <= 1.3 x original colour": totals["ewarp_blended"] <= 1.3 * totals["ewarp_original"],
        "PSNR drop <= 0.5 dB": drop <= 0.5,
        "no colour pumping: frame-mean a*/b* jumps < 1.5 within shots": max(r["pumping_blended"] for r in rows) < 1.5,
    }
    print(f"{'all clips (pooled)':28} {totals['ewarp_per_frame']:9.3e} {totals['ewarp_blended']:9.3e} {totals['ewarp_original']:9.3e} "
          f"{totals['ewarp_blended'] / totals['ewarp_per_frame']:6.3f} {totals['ewarp_blended'] / totals['ewarp_original']:7.3f} {'':8} {'':8} {drop:6.2f}")
    for name, ok in bars.items():
        print(f"  bar {name}: {verdict(ok)}")
    grey_floor = pooled(rows, "ewarp_grey")
    chroma_pooled = {k: pooled(rows, f"chroma_ewarp_{k}") for k in ("per_frame", "blended", "original")}
    print(f"  luminance floor: E_warp of the grey source itself {grey_floor:.3e} = {grey_floor / totals['ewarp_per_frame']:.3f} x E_pf "
          "(the colorizer keeps the source luminance, so no chroma blend goes below it)")
    c = chroma_pooled
    print(f"  chroma only (RGB - grey): E_pf {c['per_frame']:.3e}  E_blend {c['blended']:.3e}  E_orig {c['original']:.3e}  "
          f"bl/pf {c['blended'] / c['per_frame']:.3f}  bl/orig {c['blended'] / c['original']:.3f}")
    energy = {k: pooled(rows, f"chroma_energy_{k}") for k in ("blended", "original")}  # weighted as E_warp is
    per_unit = {k: c[k] / energy[k] if energy[k] > 0 else math.inf for k in ("blended", "original")}
    print(f"  chroma energy (mean squared chroma, pooled like E_warp): blended {energy['blended']:.3e}, original {energy['original']:.3e}; "
          f"chroma E_blend per unit energy {per_unit['blended']:.3e} (original's {per_unit['original']:.3e})")
    totals.update({"ewarp_grey": grey_floor, **{f"chroma_ewarp_{k}": v for k, v in c.items()}, **{f"chroma_energy_{k}": v for k, v in energy.items()}})
    report["colorize"] = {"clips": rows, "pooled": totals, "mean_psnr_drop": drop, "bars": bars}

    cost = cost_720p(proc, blend, frames_720p(clips))
    cost_ok = cost["blend_ms"] < cost["engine_ms"]
    print(f"720p cost per frame: blend {cost['blend_ms']:.1f} ms, model (engine at {cost['render_size'][0]}x{cost['render_size'][1]}) "
          f"{cost['engine_ms']:.1f} ms, whole colorize processor {cost['processor_ms']:.1f} ms -> blend below model: {verdict(cost_ok)}")
    report["cost_720p"] = {**cost, "bar": cost_ok}

    style = None if args.no_style else style_processor(args)
    if style is None:
        print("style: no style preset with a model found (pass --style-model PATH); skipped")
    else:
        name, sproc, sblend = style
        print(f"style: {name} (render size {sproc.render_size}, blend strength {sblend.strength})")
        srows = [style_clip(clip, sproc, sblend, args.frames, args.start) for clip in clips]
        for r in srows:
            print(f"  {r['clip'][:28]:28} E_pf {r['ewarp_per_frame']:.3e}  E_blend {r['ewarp_blended']:.3e}  E_source {r['ewarp_original']:.3e}  ratio {r['ratio_vs_per_frame']:.3f}  "
                  f"model {r['ms_per_frame_processor']:.0f} ms/frame, blend {r['ms_per_frame_blend']:.0f} ms/frame")
        pf, bl = pooled(srows, "ewarp_per_frame"), pooled(srows, "ewarp_blended")
        print(f"  pooled: E_pf {pf:.3e}  E_blend {bl:.3e}  ratio {bl / pf:.3f}  bar blended <= 0.5 x per-frame: {verdict(bl <= 0.5 * pf)}")
        mean_ratio = float(np.mean([r["ratio_vs_per_frame"] for r in srows]))
        print(f"  mean of the per-clip ratios (each clip counts once; not the bar): {mean_ratio:.3f}")
        report["style"] = {"name": name, "clips": srows, "pooled": {"per_frame": pf, "blended": bl}, "mean_clip_ratio": mean_ratio, "bar": bl <= 0.5 * pf}
    if args.json:
        print(json.dumps(report, default=lambda v: None if isinstance(v, float) and math.isnan(v) else str(v)))


if __name__ == "__main__":
    main()
