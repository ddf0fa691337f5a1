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
equal E_warp is the stricter result for the painting model; the ratio new / v1 is printed per preset.
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


def render_errors(processor_factory, blend, clips: dict[str, np.ndarray]) -> dict[str, float]:
    """Pooled E_warp of per-frame and blended output over ``clips`` (name -> frames); a fresh processor per
    clip, so the palette step's shot statistics start anew as they do for each file of a render."""
    from bench_temporal import pooled, style_frames

    rows = [style_frames(frames, processor_factory(), blend) for frames in clips.values()]
    return {k: pooled(rows, f"ewarp_{k}") for k in ("per_frame", "blended", "original")}


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
    print(f"{'preset':16} {'model':9} {'E_pf':>9} {'E_blend':>9} {'E_source':>9} {'blend new/v1':>12}")
    worse = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            preset = find_preset(name)
            config = preset.task_config()
            blend = preset.blend_config()
            model = Path(candidates[name]) if name in candidates else preset.model_path()
            engine = load_engine(model, EngineConfig(precision=args.precision), task="style")
            new = render_errors(lambda: StylizeProcessor(engine, render_size=config.render_size, upsample=config.upsample,
                                                         palette_strength=config.palette_strength), blend, clips)
            print(f"{name:16} {'candidate' if name in candidates else 'shipped':9} {new['per_frame']:9.3e} {new['blended']:9.3e} {new['original']:9.3e}")
            old_path = baseline_model(args.baseline_rev, preset.model, Path(tmp))
            if old_path is None:
                print(f"{'':16} {'v1':9} (no model at {args.baseline_rev}: a new preset)")
                continue
            old_engine = load_engine(old_path, EngineConfig(precision=args.precision), task="style")
            old = render_errors(lambda: StylizeProcessor(old_engine, render_size=config.render_size, upsample="bicubic"), blend, clips)
            ratio = new["blended"] / old["blended"]
            print(f"{'':16} {'v1':9} {old['per_frame']:9.3e} {old['blended']:9.3e} {old['original']:9.3e} {ratio:12.3f}")
            if ratio > 1.0:
                worse.append(name)
    print(f"bar (blended E_warp no worse than v1's): {'PASS' if not worse else 'FAIL for ' + ', '.join(worse)}")


if __name__ == "__main__":
    main()
