"""Evaluate a colorizer against the grey baseline (ab = 0), part by part of the project's photo splits.

Runs the real inference path (TorchEngine + ColorizeProcessor at the colorize preset's render size) on every
image at its full resolution. Per part and pooled: mean CIEDE2000 ΔE (colorized and grey), the share of
images worse than grey, PSNR, colourfulness against the truth's, the hue-distribution divergence of the
coloured pixels (JS, 15-degree sectors, pooled over the part) and the green share against the truth's; with
issue 12's bars. ``--parts heldout`` (default) is bsds500_test and every tenth file of each new photo set;
``--parts validation`` is the selection split (filmgan.train.splits). ``--split DIR`` evaluates one folder.

    python scripts/eval_colorize.py [--model PATH] [--parts heldout|validation | --split DIR] [--limit N] [--sheet PNG] [--json]
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
from filmgan.metrics.hue import green_share, hue_divergence, hue_histogram  # noqa: E402
from filmgan.metrics.image import colourfulness, delta_e, psnr  # noqa: E402
from filmgan.presets import find_preset  # noqa: E402
from filmgan.processors.colorize import ColorizeProcessor  # noqa: E402
from filmgan.train import splits  # noqa: E402
from filmgan.train.data import list_media  # noqa: E402
from filmgan.video.color import recombine_luminance_chroma  # noqa: E402
from filmgan.video.images import read_image, write_image  # noqa: E402

PHOTOS = ROOT.parent / "shared/data/photos"
BARS = {"delta_e_reduction": 0.20, "worse_than_grey": 0.20, "colourfulness_ratio": 0.70, "hue_js": 0.15, "green_ratio": 0.60}


def score_images(processor: ColorizeProcessor, paths: list[Path], sheet_rows: list | None = None) -> dict:
    """Per-image scores and pooled hue histograms of ``paths``."""
    s = {k: [] for k in ("delta_e", "delta_e_grey", "psnr", "psnr_grey", "colourfulness", "colourfulness_gt")}
    hist_out, hist_gt = 0.0, 0.0
    for path in paths:
        truth = read_image(path)
        out = processor.colorize(truth[None])[0]
        grey = recombine_luminance_chroma(truth, np.zeros(truth.shape[:2] + (2,), np.float32))
        s["delta_e"].append(delta_e(truth, out))
        s["delta_e_grey"].append(delta_e(truth, grey))
        s["psnr"].append(psnr(truth, out))
        s["psnr_grey"].append(psnr(truth, grey))
        s["colourfulness"].append(colourfulness(out))
        s["colourfulness_gt"].append(colourfulness(truth))
        hist_out, hist_gt = hist_out + hue_histogram(out), hist_gt + hue_histogram(truth)
        if sheet_rows is not None and len(sheet_rows) < 12 and truth.shape[0] < truth.shape[1]:
            sheet_rows.append(np.concatenate([grey, out, truth], axis=1))
    return {"scores": s, "hist": np.asarray(hist_out), "hist_gt": np.asarray(hist_gt)}


def summarise(raw: dict) -> dict:
    s = {k: np.asarray(v) for k, v in raw["scores"].items()}
    m = {k: float(v.mean()) for k, v in s.items()}
    m.update(
        images=int(s["delta_e"].size),
        delta_e_reduction=1.0 - m["delta_e"] / m["delta_e_grey"],
        worse_than_grey=float((s["delta_e"] > s["delta_e_grey"]).mean()),
        colourfulness_ratio=m["colourfulness"] / m["colourfulness_gt"],
        hue_js=hue_divergence(raw["hist"], raw["hist_gt"]),
        green_share=green_share(raw["hist"]),
        green_share_gt=green_share(raw["hist_gt"]),
    )
    m["green_ratio"] = m["green_share"] / m["green_share_gt"] if m["green_share_gt"] > 0 else float("nan")
    return m


def merge(raws: list[dict]) -> dict:
    return {
        "scores": {k: [x for r in raws for x in r["scores"][k]] for k in raws[0]["scores"]},
        "hist": sum(r["hist"] for r in raws),
        "hist_gt": sum(r["hist_gt"] for r in raws),
    }


def make_processor(model: Path, precision: str = "auto", saturation: float | None = None, render_size: int | None = None) -> ColorizeProcessor:
    render_size = render_size or find_preset("colorize").render_size
    return ColorizeProcessor(TorchEngine(model, task="colorize", precision=precision), render_size=render_size, saturation=saturation)


def evaluate_parts(processor: ColorizeProcessor, parts: dict[str, list[Path]], limit: int | None = None, sheet: Path | None = None) -> dict:
    """{'parts': {name: metrics}, 'pooled': metrics} over the given parts (each cut to ``limit`` images)."""
    rows: list | None = [] if sheet else None
    raws = {name: score_images(processor, paths[:limit], rows) for name, paths in parts.items()}
    if sheet is not None and rows:
        write_image(sheet, np.concatenate(rows, axis=0))
    return {"parts": {n: summarise(r) for n, r in raws.items()}, "pooled": summarise(merge(list(raws.values()))), "render_size": processor.render_size}


def evaluate(model: Path, split: Path, precision: str, limit: int | None, sheet: Path | None, saturation: float | None = None,
             render_size: int | None = None) -> dict:
    """Pooled metrics over one folder (the interface of select_colorizer.py)."""
    result = evaluate_parts(make_processor(model, precision, saturation, render_size), {split.name: list_media([split])[0]}, limit, sheet)
    return {**result["pooled"], "render_size": result["render_size"]}


def part_table(result: dict) -> str:
    head = f"{'part':26}{'n':>5}{'ΔE':>7}{'grey':>7}{'ΔE red.':>9}{'worse':>7}{'colour':>8}{'hue JS':>8}{'green':>7}{'PSNR+':>7}"
    lines = [head]
    for name, m in [*result["parts"].items(), ("pooled", result["pooled"])]:
        lines.append(
            f"{name:26}{m['images']:>5}{m['delta_e']:>7.2f}{m['delta_e_grey']:>7.2f}{100 * m['delta_e_reduction']:>8.1f}%{100 * m['worse_than_grey']:>6.0f}%"
            f"{100 * m['colourfulness_ratio']:>7.0f}%{m['hue_js']:>8.3f}{100 * m['green_ratio']:>6.0f}%{m['psnr'] - m['psnr_grey']:>+7.2f}"
        )
    return "\n".join(lines)


def bar_lines(result: dict) -> list[str]:
    parts = list(result["parts"].values())
    pooled = result["pooled"]
    checks = [
        ("ΔE >= 20 % below grey on every part", min(m["delta_e_reduction"] for m in parts) >= BARS["delta_e_reduction"]),
        ("< 20 % of images worse than grey (pooled)", pooled["worse_than_grey"] < BARS["worse_than_grey"]),
        ("colourfulness >= 70 % of truth (pooled)", pooled["colourfulness_ratio"] >= BARS["colourfulness_ratio"]),
        ("hue JS <= 0.15 (pooled)", pooled["hue_js"] <= BARS["hue_js"]),
        ("green share >= 60 % of truth's (pooled)", pooled["green_ratio"] >= BARS["green_ratio"]),
    ]
    return [f"{'PASS' if ok else 'FAIL'}  {text}" for text, ok in checks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--parts", choices=["heldout", "validation"], default="heldout")
    parser.add_argument("--split", type=Path, help="evaluate this one folder instead of the project's parts")
    parser.add_argument("--photos", type=Path, default=PHOTOS)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--limit", type=int, help="at most this many images per part")
    parser.add_argument("--sheet", type=Path, help="write a grey | colorized | truth contact sheet (12 rows) here")
    parser.add_argument("--saturation", type=float, help="chroma gain (default: the model card's)")
    parser.add_argument("--render-size", type=int, help="short side the network sees (default: the colorize preset's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = args.model or find_preset("colorize").model_path()
    if args.split:
        parts = {args.split.name: list_media([args.split])[0]}
    elif args.parts == "heldout":
        parts = splits.held_out(args.photos)
    else:
        parts = {"validation": splits.validation(args.photos)}
    if not parts or not any(parts.values()):
        sys.exit(f"no images found for {args.split or args.parts} under {args.split or args.photos}")
    processor = make_processor(model, args.precision, args.saturation, args.render_size)
    result = evaluate_parts(processor, parts, args.limit, args.sheet)
    report = "\n".join([
        f"model {model}\n{args.split or args.parts} (full resolution, render size {result['render_size']}, precision {args.precision})",
        part_table(result), *bar_lines(result),
    ])
    if args.json:  # the table still goes to stderr, for people
        print(report, file=sys.stderr)
        print(json.dumps(result))
    else:
        print(report)


if __name__ == "__main__":
    main()
