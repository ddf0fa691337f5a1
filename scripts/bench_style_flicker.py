"""Flicker of the style presets against their previous models (issue 13's bar: E_warp on the real clips no
worse than v1's), measured in one run.

For every style preset (or ``--presets``), the shipped model and the preset's model at git revision
``--baseline-rev`` (v1: the random-feature Gram recipe) render the same frames of each clip with the
preset's own settings (render size, blend, palette strength, upsampler; the baseline with the settings its
preset had: bicubic, no palette step). E_warp (Lai et al. 2018, ``filmgan.metrics.flicker.WarpErrors``, flow
and scene cuts on the source) is computed for both, per frame and after the preset's flow-guided blend,
with the source's own E_warp beside them (the metric's floor where the flow fails).

    python scripts/bench_style_flicker.py [--presets starry-night,great-wave] [--frames 24]
                                          [--baseline-rev 045642b] [--clips a.mp4,b.webm]

A texture-rich painting has more high-frequency energy to misalign than a blurred colour grade, so an
equal E_warp is the stricter result for the painting model; the ratio new / v1 is printed per preset, and
beside it the same ratio after the new blended output is Gaussian-blurred (one sigma per clip) down to v1's
fine-detail energy ("at v1 detail"): below 1 means the new model flickers less for the detail it keeps.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

VIDEOS = ROOT.parent / "shared" / "data" / "videos"
DEFAULT_CLIPS = ["airplane_flyby.mp4", "big_buck_bunny_0_30.webm", "clips/tokenflow_wolf.mp4", "clips/sam2_01_dog.mp4"]
V1_REV = "045642b"  # the last commit before the paint recipe replaced the presets' models


def baseline_model(rev: str, model: str, folder: Path) -> Path | None:
    """The model file ``filmgan/weights/MODEL.safetensors`` at git ``rev`` (None when it did not exist)."""
    path = folder / f"{model}.safetensors"
    try:
        data = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:filmgan/weights/{model}.safetensors"], capture_output=True, check=True).stdout
    except subprocess.CalledProcessError:
        return None
    path.write_bytes(data)
    return path


def render_errors(processor_factory, blend, clips: dict[str, np.ndarray]) -> tuple[dict[str, float], list[dict]]:
    """Pooled E_warp of per-frame and blended output over ``clips`` (name -> frames), and the per-clip rows
    (with their blended frames); a fresh processor per clip, so the palette step's shot statistics start
    anew as they do for each file of a render."""
    from bench_temporal import pooled, style_frames

    rows = [style_frames(frames, processor_factory(), blend, keep=True) for frames in clips.values()]
    return {k: pooled(rows, f"ewarp_{k}") for k in ("per_frame", "blended", "original")}, rows


def mean_detail(frames: np.ndarray) -> float:
    """Mean fine-detail energy of a clip's frames (``filmgan.train.paint.detail_energy``, sigma 3)."""
    from filmgan.train.paint import detail_energy

    return float(np.mean([detail_energy(f) for f in frames]))


def blur_to_detail(frames: np.ndarray, detail: float, target: float) -> np.ndarray:
    """``frames`` (of mean detail energy ``detail``) Gaussian-blurred, one sigma for the clip found by
    bisection, down to a mean detail energy of ``target``; unchanged when they have no more than that."""
    import cv2

    def blur(sigma: float) -> np.ndarray:
        return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])

    if detail <= target:
        return frames
    low, high = 0.0, 8.0
    for _ in range(12):
        mid = (low + high) / 2
        low, high = (mid, high) if mean_detail(blur(mid)) > target else (low, mid)
    return blur(high)


def detail_matched(new_rows: list[dict], old_rows: list[dict], clips: dict[str, np.ndarray]) -> tuple[float, float, float]:
    """Pooled blended E_warp of the new output after blurring each clip to v1's detail energy, and the
    pooled detail energies of new and v1 (the same pairs, flow and cuts as the unblurred numbers)."""
    from bench_temporal import pooled, warp_errors

    matched = []
    for new, old, colour in zip(new_rows, old_rows, clips.values()):
        target, detail = mean_detail(old["blended_frames"]), mean_detail(new["blended_frames"])
        frames = blur_to_detail(new["blended_frames"], detail, target)
        matched.append({"frames": new["frames"], "ewarp": warp_errors(colour, matched=frames)["matched"],
                        "detail_new": detail, "detail_old": target})
    return pooled(matched, "ewarp"), pooled(matched, "detail_new"), pooled(matched, "detail_old")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", help="Comma-separated style presets (default: every style preset).")
    parser.add_argument("--frames", type=int, default=24, help="Frames per clip (from the middle of the clip).")
    parser.add_argument("--baseline-rev", default=V1_REV, help="Git revision of the baseline models (default: v1).")
    parser.add_argument("--clips", default=",".join(DEFAULT_CLIPS), help="Clips under ../shared/data/videos.")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--model", action="append", default=[], metavar="PRESET=FILE",
                        help="Measure FILE (a candidate model) in place of PRESET's shipped model (repeatable).")
    args = parser.parse_args()
    candidates = dict(m.split("=", 1) for m in args.model)

    from bench_temporal import read_clip

    from filmgan.backends import EngineConfig, load_engine
    from filmgan.presets import find_preset, list_presets
    from filmgan.processors.stylize import StylizeProcessor

    names = args.presets.split(",") if args.presets else [p.name for p in list_presets(strict=False) if p.task == "style"]
    clips = {c: read_clip(VIDEOS / c, args.frames, "middle") for c in args.clips.split(",")}
    print(f"{len(clips)} clips x {args.frames} frames; baseline models at {args.baseline_rev}")
    print(f"{'preset':16} {'model':9} {'E_pf':>9} {'E_blend':>9} {'E_source':>9} {'detail':>7} {'blend new/v1':>12} {'at v1 detail':>12}")
    worse = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            preset = find_preset(name)
            config = preset.task_config()
            blend = preset.blend_config()
            model = Path(candidates[name]) if name in candidates else preset.model_path()
            engine = load_engine(model, EngineConfig(precision=args.precision), task="style")
            new, new_rows = render_errors(lambda: StylizeProcessor(engine, render_size=config.render_size, upsample=config.upsample,
                                                                   palette_strength=config.palette_strength), blend, clips)
            kind = "candidate" if name in candidates else "shipped"
            old_path = baseline_model(args.baseline_rev, preset.model, Path(tmp))
            if old_path is None:
                print(f"{name:16} {kind:9} {new['per_frame']:9.3e} {new['blended']:9.3e} {new['original']:9.3e}")
                print(f"{'':16} {'v1':9} (no model at {args.baseline_rev}: a new preset)")
                continue
            old_engine = load_engine(old_path, EngineConfig(precision=args.precision), task="style")
            old, old_rows = render_errors(lambda: StylizeProcessor(old_engine, render_size=config.render_size, upsample="bicubic"), blend, clips)
            at_detail, detail_new, detail_old = detail_matched(new_rows, old_rows, clips)
            ratio = new["blended"] / old["blended"]
            print(f"{name:16} {kind:9} {new['per_frame']:9.3e} {new['blended']:9.3e} {new['original']:9.3e} {detail_new:7.2f} {ratio:12.3f} {at_detail / old['blended']:12.3f}")
            print(f"{'':16} {'v1':9} {old['per_frame']:9.3e} {old['blended']:9.3e} {old['original']:9.3e} {detail_old:7.2f}")
            if ratio > 1.0:
                worse.append(name)
    print(f"bar (blended E_warp no worse than v1's): {'PASS' if not worse else 'FAIL for ' + ', '.join(worse)}")


if __name__ == "__main__":
    main()
