"""Evaluate a colorizer on a held-out photo split against the grey baseline (ab = 0).

Runs the real inference path (TorchEngine + ColorizeProcessor at the colorize preset's render size) on every image of
the split at its full resolution and prints mean PSNR, SSIM, CIEDE2000 ΔE and colourfulness, with the grey
baseline and the ground truth, and the issue's bars. Writes a contact sheet of a few results with --sheet.

    python scripts/eval_colorize.py [--model PATH] [--split ../shared/data/photos/bsds500_test] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from filmgan.backends.torch_backend import TorchEngine  # noqa: E402
from filmgan.metrics.image import colourfulness, delta_e, psnr, ssim  # noqa: E402
from filmgan.presets import find_preset  # noqa: E402
from filmgan.processors.colorize import ColorizeProcessor  # noqa: E402
from filmgan.train.data import list_media  # noqa: E402
from filmgan.video.color import recombine_luminance_chroma  # noqa: E402
from filmgan.video.images import read_image, write_image  # noqa: E402


def evaluate(model: Path, split: Path, precision: str, limit: int | None, sheet: Path | None, saturation: float | None = None,
             render_size: int | None = None) -> dict:
    """Mean metrics over ``split``; ``render_size`` None: the colorize preset's, as ``filmgan colorize`` runs."""
    render_size = render_size or find_preset("colorize").render_size
    processor = ColorizeProcessor(TorchEngine(model, task="colorize", precision=precision), render_size=render_size, saturation=saturation)
    paths = list_media([split])[0][:limit]
    rows, scores = [], {k: [] for k in ("psnr", "ssim", "delta_e", "colourfulness", "psnr_grey", "ssim_grey", "delta_e_grey", "colourfulness_gt")}
    for path in paths:
        truth = read_image(path)
        out = processor.colorize(truth[None])[0]
        grey = recombine_luminance_chroma(truth, np.zeros(truth.shape[:2] + (2,), np.float32))
        for name, image in (("", out), ("_grey", grey)):
            scores["psnr" + name].append(psnr(truth, image))
            scores["ssim" + name].append(ssim(truth, image))
            scores["delta_e" + name].append(delta_e(truth, image))
        scores["colourfulness"].append(colourfulness(out))
        scores["colourfulness_gt"].append(colourfulness(truth))
        if sheet is not None and len(rows) < 6 and truth.shape[0] < truth.shape[1]:
            rows.append(np.concatenate([grey, out, truth], axis=1))
    if sheet is not None and rows:
        write_image(sheet, np.concatenate(rows, axis=0))
    mean = {k: float(np.mean(v)) for k, v in scores.items()}
    mean.update(
        images=len(paths),
        render_size=processor.render_size,
        delta_e_reduction=1.0 - mean["delta_e"] / mean["delta_e_grey"],
        colourfulness_ratio=mean["colourfulness"] / mean["colourfulness_gt"],
    )
    return mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--split", type=Path, default=ROOT.parent / "shared/data/photos/bsds500_test")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--sheet", type=Path, help="write a grey | colorized | truth contact sheet here")
    parser.add_argument("--saturation", type=float, help="chroma gain (default: the model card's)")
    parser.add_argument("--render-size", type=int, help="short side the network sees (default: the colorize preset's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = args.model or find_preset("colorize").model_path()
    m = evaluate(model, args.split, args.precision, args.limit, args.sheet, args.saturation, args.render_size)
    if args.json:
        print(json.dumps(m))
        return
    print(f"model {model}\nsplit {args.split} ({m['images']} images, full resolution, render size {m['render_size']}, precision {args.precision})")
    print(f"{'':14}{'colorized':>10}{'grey (ab=0)':>13}{'truth':>8}")
    print(f"{'PSNR dB':14}{m['psnr']:>10.2f}{m['psnr_grey']:>13.2f}")
    print(f"{'SSIM':14}{m['ssim']:>10.4f}{m['ssim_grey']:>13.4f}")
    print(f"{'ΔE2000':14}{m['delta_e']:>10.2f}{m['delta_e_grey']:>13.2f}")
    print(f"{'colourfulness':14}{m['colourfulness']:>10.2f}{0.0:>13.2f}{m['colourfulness_gt']:>8.2f}")
    print(f"ΔE reduction vs grey: {100 * m['delta_e_reduction']:.1f} % (bar >= 15 %) "
          f"{'PASS' if m['delta_e_reduction'] >= 0.15 else 'FAIL'}")
    print(f"PSNR above grey: {m['psnr'] - m['psnr_grey']:+.2f} dB (bar > 0) {'PASS' if m['psnr'] > m['psnr_grey'] else 'FAIL'}")
    print(f"colourfulness / truth: {100 * m['colourfulness_ratio']:.0f} % (bar >= 60 %) "
          f"{'PASS' if m['colourfulness_ratio'] >= 0.6 else 'FAIL'}")


if __name__ == "__main__":
    main()
