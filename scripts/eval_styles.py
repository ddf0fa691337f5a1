"""Evaluate the style presets on held-out photos: style reached and structure kept.

For every style preset, on real photos never used in training (default: BSDS500 test, which the style
runs exclude), through the same ``StylizeProcessor`` the CLI uses:

* Gram distance to the painting (Gatys et al. 2016), relative per layer (see ``train.stylize``), in the
  training feature space (the card's) AND in a second, differently seeded random feature space, for the
  unstyled input and for the output; "fall" = 1 - mean(output) / mean(input). Bar: >= 50 %.
* Structure: SSIM between the Sobel-magnitude luminance edge maps of input and output. Bar: >= 0.4.

``--upsampling-clip`` additionally compares bicubic and guided upsampling from the render size on the
frames of a 720p clip (default: Big Buck Bunny). ``--samples DIR`` writes input|output PNGs,
``--contact-sheet FILE`` one row per preset (painting + outputs), ``--thumbnails`` presets/<name>.png.

    python scripts/eval_styles.py [--presets a,b] [--count 24] [--samples /tmp/eval] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SECOND_SPACE = {"kind": "random", "seed": 9876}


def load_photos(folder: Path, count: int) -> list[np.ndarray]:
    from filmgan.video.images import read_image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    step = max(1, len(files) // count)
    return [read_image(p) for p in files[::step][:count]]


def clip_frames(path: Path, count: int) -> list[np.ndarray]:
    from filmgan.config import DecodeConfig
    from filmgan.video.reader import VideoReader

    frames = [f for batch in VideoReader(path, DecodeConfig(batch_size=8)) for f in batch.frames]
    frames = [f for f in frames if f.std() > 20]  # skip black/title frames
    return frames[:: max(1, len(frames) // count)][:count]


class Judge:
    """Gram targets of one painting in both feature spaces, at the training style sizes."""

    def __init__(self, card, styles_dir: Path):
        from filmgan.models.features import feature_network
        from filmgan.train.stylize import style_grams
        from filmgan.video.images import read_image

        painting_file = styles_dir / card.extra["style"]["painting"]
        self.painting = read_image(painting_file)
        sizes = card.training.get("style_sizes", [256, 384, 512])
        self.spaces = []
        for spec in (card.training["feature_net"], SECOND_SPACE):
            net = feature_network(spec)
            self.spaces.append((net, style_grams(net, self.painting, sizes)))

    def distances(self, rgb: np.ndarray) -> list[float]:
        from filmgan.train.stylize import gram_distance

        return [gram_distance(net, rgb, targets) for net, targets in self.spaces]


def evaluate(processor, judge: Judge, photos: list[np.ndarray]) -> tuple[dict, list[np.ndarray]]:
    from filmgan.train.stylize import edge_ssim

    d_in, d_out, ssims, outs = [], [], [], []
    for img in photos:
        out = processor.stylize(img[None])[0]
        d_in.append(judge.distances(img))
        d_out.append(judge.distances(out))
        ssims.append(edge_ssim(img, out))
        outs.append(out)
    d_in, d_out = np.array(d_in), np.array(d_out)
    per_image_fall = 1 - d_out / d_in
    row = {
        "fall_train": float(1 - d_out[:, 0].mean() / d_in[:, 0].mean()),
        "fall_second": float(1 - d_out[:, 1].mean() / d_in[:, 1].mean()),
        "min_fall_train": float(per_image_fall[:, 0].min()),
        "min_fall_second": float(per_image_fall[:, 1].min()),
        "edge_ssim": float(np.mean(ssims)),
        "min_edge_ssim": float(np.min(ssims)),
        "images": len(photos),
    }
    row["pass"] = bool(row["fall_train"] >= 0.5 and row["fall_second"] >= 0.5 and row["edge_ssim"] >= 0.4)
    return row, outs


def tiling_check(engine, photo: np.ndarray, tile: int, save: Path | None) -> dict:
    """Stylize a large frame whole and in feathered tiles (pixel budget = one tile); compare."""
    import cv2

    from filmgan.processors.stylize import StylizeProcessor
    from filmgan.video.images import write_image

    big = cv2.resize(photo, (1920, round(1920 * photo.shape[0] / photo.shape[1])), interpolation=cv2.INTER_CUBIC)
    whole = StylizeProcessor(engine, render_size=0, pixel_budget=10**9).stylize(big[None])[0].astype(np.float32)
    tiled = StylizeProcessor(engine, render_size=0, pixel_budget=tile * tile, tile=tile, overlap=tile // 4).stylize(big[None])[0].astype(np.float32)
    if save:
        write_image(save, np.concatenate([whole, tiled], axis=0).astype(np.uint8))
    diff = np.abs(whole - tiled).mean(axis=2)
    return {"tile": tile, "mean_abs_diff": float(diff.mean()), "p99_abs_diff": float(np.percentile(diff, 99)), "max_abs_diff": float(diff.max())}


def pad_to(img: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.pad(img[:h, :w], ((0, h - min(h, img.shape[0])), (0, w - min(w, img.shape[1])), (0, 0)), constant_values=255)


def contact_row(painting: np.ndarray, photos: list[np.ndarray], outs: list[np.ndarray], height: int = 96) -> np.ndarray:
    from filmgan.train.data import resize_short_side

    def fit(img):
        scale = height / img.shape[0]
        return resize_short_side(img, round(min(img.shape[:2]) * scale))[:height]

    cells = [fit(painting)] + [fit(o) for o in outs]
    gap = np.full((height, 6, 3), 255, np.uint8)
    return np.concatenate([c for cell in cells for c in (cell, gap)][:-1], axis=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", help="comma-separated preset names (default: every style preset)")
    ap.add_argument("--models", nargs="*", type=Path, help="model files to evaluate instead of presets (e.g. training runs)")
    ap.add_argument("--photos", type=Path, default=DATA / "photos" / "bsds500_test")
    ap.add_argument("--styles", type=Path, default=DATA / "styles")
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--upsampling-clip", type=Path, nargs="?", const=DATA / "videos" / "big_buck_bunny_0_30.webm")
    ap.add_argument("--samples", type=Path, help="write input|output PNGs here")
    ap.add_argument("--contact-sheet", type=Path)
    ap.add_argument("--thumbnails", action="store_true", help="write presets/<name>.png")
    ap.add_argument("--tiling", type=int, metavar="TILE", help="also run the first photo, upscaled to 1920 px wide, at full size in TILE-px tiles and compare with the untiled result")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", type=Path, help="write the results as JSON")
    args = ap.parse_args(argv)

    from filmgan.backends import EngineConfig, load_engine
    from filmgan.card import read_card
    from filmgan.presets import find_preset, list_presets
    from filmgan.processors.stylize import StylizeProcessor
    from filmgan.video.images import write_image

    if args.models:
        items = [(m.parent.name if m.stem == "model" else m.stem, m, None) for m in args.models]
    else:
        presets = [find_preset(n) for n in args.presets.split(",")] if args.presets else [p for p in list_presets() if p.task == "style"]
        items = [(p.name, p.model_path(), p.render_size) for p in presets]
    photos = load_photos(args.photos, args.count)
    frames = clip_frames(args.upsampling_clip, 6) if args.upsampling_clip else []
    results, sheet_rows = {}, []
    if args.samples:
        args.samples.mkdir(parents=True, exist_ok=True)
    for name, model_path, render_size in items:
        card = read_card(model_path)
        engine = load_engine(model_path, EngineConfig(precision=args.precision), task="style")
        processor = StylizeProcessor(engine, render_size=render_size)
        judge = Judge(card, args.styles)
        row, outs = evaluate(processor, judge, photos)
        row["render_size"] = processor.render_size
        if engine.precision != "fp32":  # reduced precision against fp32 on the same photos (grey levels)
            reference = StylizeProcessor(load_engine(model_path, EngineConfig(precision="fp32"), task="style"), render_size=render_size)
            row[f"{engine.precision}_vs_fp32_mae"] = float(np.mean([np.abs(reference.stylize(p[None])[0].astype(float) - o).mean() for p, o in zip(photos[:4], outs)]))
        for mode in ("bicubic", "guided") if frames else ():
            up, _ = evaluate(StylizeProcessor(engine, render_size=render_size, upsample=mode), judge, frames)
            row[f"clip_{mode}"] = {k: up[k] for k in ("fall_train", "fall_second", "edge_ssim")}
        if args.tiling:
            row["tiling"] = tiling_check(engine, photos[0], args.tiling, args.samples and args.samples / f"{name}-tiled.png")
        results[name] = row
        print(json.dumps({"preset": name, **row}), file=sys.stderr, flush=True)
        if args.samples:
            args.samples.mkdir(parents=True, exist_ok=True)
            for i, (img, out) in enumerate(zip(photos[:6], outs[:6])):
                write_image(args.samples / f"{name}-{i}.png", np.concatenate([img, pad_to(out, *img.shape[:2])], axis=1))
        if args.thumbnails:
            from filmgan.train.data import resize_short_side

            write_image(ROOT / "presets" / f"{name}.png", resize_short_side(outs[0], 144))
        sheet_rows.append(contact_row(judge.painting, photos, outs[:4]))
    if args.contact_sheet:
        width = max(r.shape[1] for r in sheet_rows)
        gap = np.full((6, width, 3), 255, np.uint8)
        sheet = np.concatenate([x for r in sheet_rows for x in (pad_to(r, r.shape[0], width), gap)][:-1], axis=0)
        write_image(args.contact_sheet, sheet)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print_table(results, args.markdown, len(photos), args.photos)
    return 0 if all(r["pass"] for r in results.values()) else 1


def print_table(results: dict, markdown: bool, count: int, folder: Path) -> None:
    head = ["preset", "render", "Gram fall (train space)", "Gram fall (seed 9876)", "edge SSIM (mean / min)", "bars"]
    rows = [
        [name, str(r["render_size"]), f"{r['fall_train']:.0%} (min {r['min_fall_train']:.0%})", f"{r['fall_second']:.0%} (min {r['min_fall_second']:.0%})",
         f"{r['edge_ssim']:.2f} / {r['min_edge_ssim']:.2f}", "pass" if r["pass"] else "FAIL"]
        for name, r in results.items()
    ]
    if markdown:
        print(f"Held-out photos: {count} from {folder.name}\n")
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
        clip = [(n, r) for n, r in results.items() if "clip_bicubic" in r]
        if clip:
            print("\n| preset | 720p clip: edge SSIM bicubic / guided | Gram fall (train) bicubic / guided | Gram fall (seed 9876) bicubic / guided |\n|---|---|---|---|")
            for n, r in clip:
                b, g = r["clip_bicubic"], r["clip_guided"]
                print(f"| {n} | {b['edge_ssim']:.2f} / {g['edge_ssim']:.2f} | {b['fall_train']:.0%} / {g['fall_train']:.0%} | {b['fall_second']:.0%} / {g['fall_second']:.0%} |")
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *rows)]
        for r in [head, *rows]:
            print("  ".join(x.ljust(w) for x, w in zip(r, widths)))


if __name__ == "__main__":
    sys.exit(main())
