"""Evaluate the style presets on held-out photos: texture reached, detail and structure kept, and a
margin over a colour-only baseline (issue 13's bars).

For every style preset, on photos never used in training or for any choice (the held-out parts of
``filmgan.train.splits``: ``bsds500_test`` and every tenth photo of each new set; ``--per-part`` of each),
through the same ``StylizeProcessor`` the CLI uses:

* **texture ratio** (bar <= 0.5 in both spaces): the texture (Gram) distance to the painting of the output
  over that of the photo, after BOTH are colour-matched to the painting (Reinhard: Lab mean/std), so that
  palette does not count -- in the ImageNet MobileNetV2 space (strides 2-16) and in a random feature
  network that no training used (seed 9876);
* **detail ratio** (bar >= 0.5): fine-detail energy (std of luma minus its sigma-3 Gaussian blur) of the
  output over the photo's, at the output's resolution;
* **edge SSIM** (bar >= 0.4): SSIM of the Sobel luminance edge maps of photo and output;
* **Reinhard margin** (bar > 0): 1 - (MobileNetV2 Gram distance of the output to the painting) / (that of
  the Reinhard colour transfer of the photo onto the painting), colours included.

``--clip`` also measures detail and edge SSIM on 720p frames of a clip (default: Big Buck Bunny), where
the render size is below the output size. ``--samples DIR`` writes input|output PNGs, ``--contact-sheet
FILE`` one row per preset (painting + 4 outputs) and ``--crops FILE`` full-resolution crops,
``--thumbnails`` presets/<name>.png.

    python scripts/eval_styles.py [--presets a,b] [--per-part 6] [--markdown] [--contact-sheet F]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MOBILENET = DATA / "weights" / "mobilenet_v2_1.0_224_quant.tflite"
SECOND_SPACE = {"kind": "random", "seed": 9876}


def split_photos(photos: Path, per_part: int, split: str = "held-out") -> list[np.ndarray]:
    """``per_part`` photos spread evenly over each part of the project's held-out (or validation) split."""
    from filmgan.train.splits import TENTH_SETS, held_out, validation
    from filmgan.video.images import read_image

    if split == "validation":
        files = validation(photos)
        parts = {name: [f for f in files if f.parent.name == name] for name in TENTH_SETS}
    else:
        parts = held_out(photos)
    chosen = []
    for files in parts.values():
        step = max(1, len(files) // per_part)
        chosen += files[::step][:per_part]
    return [read_image(p) for p in chosen]


def clip_frames(path: Path, count: int) -> list[np.ndarray]:
    from filmgan.config import DecodeConfig
    from filmgan.video.reader import VideoReader

    frames = [f for batch in VideoReader(path, DecodeConfig(batch_size=8)) for f in batch.frames]
    frames = [f for f in frames if f.std() > 20]  # skip black/title frames
    return frames[:: max(1, len(frames) // count)][:count]


class Judge:
    """The painting's texture statistics in two feature spaces, its palette, and its MobileNetV2 Grams."""

    SIZES = (256, 384, 512)

    def __init__(self, card, styles_dir: Path, mobilenet: Path):
        import torch

        from filmgan.models.features import MobileNetFeatures, RandomFeatures
        from filmgan.train.data import resize_short_side
        from filmgan.train.paint import palette_of
        from filmgan.train.stylize import to_tensor
        from filmgan.train.texture import TextureTarget
        from filmgan.video.images import read_image

        torch.set_flush_denormal(True)
        self.painting = read_image(styles_dir / card.extra["style"]["painting"])
        paintings = [to_tensor(resize_short_side(self.painting, s)) for s in self.SIZES]
        mb = MobileNetFeatures(mobilenet, layers=4)
        self.spaces = {"mobilenet": TextureTarget(mb, paintings, (0, 1, 2, 3), "none", "gram"),
                       "random": TextureTarget(RandomFeatures(SECOND_SPACE["seed"]).eval(), paintings, (0, 1, 2, 3), "none", "gram")}
        palette = palette_of(self.painting)
        self.mean = torch.tensor(palette["lab_mean"]).view(1, 3, 1, 1)
        self.std = torch.tensor(palette["lab_std"]).view(1, 3, 1, 1)

    def _tensor(self, rgb: np.ndarray):
        from filmgan.train.stylize import to_tensor

        return to_tensor(rgb)

    def matched(self, rgb: np.ndarray):
        from filmgan.train.texture import reinhard_torch

        return reinhard_torch(self._tensor(rgb), self.mean, self.std)

    def textures(self, rgb: np.ndarray) -> dict[str, float]:
        """Texture distance to the painting in each space, after colour-matching ``rgb`` to it."""
        import torch

        with torch.no_grad():
            x = self.matched(rgb)
            return {name: float(t.distance(x)) for name, t in self.spaces.items()}

    def gram(self, rgb: np.ndarray) -> float:
        """MobileNetV2 Gram distance to the painting, colours included."""
        import torch

        with torch.no_grad():
            return float(self.spaces["mobilenet"].distance(self._tensor(rgb)))

    def reinhard(self, rgb: np.ndarray) -> np.ndarray:
        """The colour-only baseline: the photo with the painting's Lab mean/std."""
        from filmgan.train.stylize import to_image

        return to_image(self.matched(rgb))


def evaluate(processor, judge: Judge, photos: list[np.ndarray], full: bool = True) -> tuple[dict, list[np.ndarray]]:
    """The bars' numbers over ``photos`` (``full``: texture and Reinhard margin too, else detail/edges)."""
    from filmgan.train.paint import detail_energy
    from filmgan.train.stylize import edge_ssim

    rows, outs = [], []
    for img in photos:
        out = processor.stylize(img[None])[0]
        row = {"detail_ratio": detail_energy(out) / max(detail_energy(img), 1e-6), "edge_ssim": edge_ssim(img, out)}
        if full:
            t_in, t_out, base = judge.textures(img), judge.textures(out), judge.reinhard(img)
            row.update({f"texture_{k}": t_out[k] / max(t_in[k], 1e-12) for k in t_in})
            row["reinhard_margin"] = 1.0 - judge.gram(out) / max(judge.gram(base), 1e-12)
            row["reinhard_edge_ssim"] = edge_ssim(img, base)
        rows.append(row)
        outs.append(out)
    summary = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    summary.update({f"min_{k}": float(np.min([r[k] for r in rows])) for k in ("edge_ssim", "detail_ratio")})
    if full:
        summary["max_texture_random"] = float(np.max([r["texture_random"] for r in rows]))
        summary["pass"] = bool(summary["texture_mobilenet"] <= 0.5 and summary["texture_random"] <= 0.5 and summary["detail_ratio"] >= 0.5
                               and summary["edge_ssim"] >= 0.4 and summary["reinhard_margin"] > 0.0)
    summary["images"] = len(photos)
    return summary, outs


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
    ap.add_argument("--photos", type=Path, default=DATA / "photos", help="a photos/ folder laid out as ../shared/data/photos")
    ap.add_argument("--per-part", type=int, default=6, help="photos per held-out part")
    ap.add_argument("--split", choices=["held-out", "validation"], default="held-out", help="validation: for choices (snapshots, settings); held-out: to report")
    ap.add_argument("--styles", type=Path, default=DATA / "styles")
    ap.add_argument("--mobilenet", type=Path, default=MOBILENET)
    ap.add_argument("--render-size", type=int, help="override the presets' render size")
    ap.add_argument("--upsample", help="override the presets' upsampling (bicubic, guided, detail)")
    ap.add_argument("--palette-strength", type=float, help="override the presets' palette strength")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--clip", type=Path, nargs="?", const=DATA / "videos" / "big_buck_bunny_0_30.webm", help="also measure 720p frames of this clip")
    ap.add_argument("--samples", type=Path, help="write input|output PNGs here")
    ap.add_argument("--contact-sheet", type=Path)
    ap.add_argument("--crops", type=Path, help="write full-resolution crops of the 720p clip frames (needs --clip)")
    ap.add_argument("--thumbnails", action="store_true", help="write presets/<name>.png")
    ap.add_argument("--tiling", type=int, metavar="TILE", help="also run the first photo, upscaled to 1920 px wide, at full size in TILE-px tiles and compare with the untiled result")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", type=Path, help="write the results as JSON")
    args = ap.parse_args(argv)

    from filmgan.backends import EngineConfig, load_engine
    from filmgan.card import read_card
    from filmgan.config import StylizeConfig
    from filmgan.presets import find_preset, list_presets
    from filmgan.processors.stylize import StylizeProcessor
    from filmgan.video.images import write_image

    if args.models:
        items = [(m.parent.name if m.stem == "model" else m.stem, m, StylizeConfig()) for m in args.models]
    else:
        presets = [find_preset(n) for n in args.presets.split(",")] if args.presets else [p for p in list_presets() if p.task == "style"]
        items = [(p.name, p.model_path(), p.task_config()) for p in presets]
    photos = split_photos(args.photos, args.per_part, args.split)
    frames = clip_frames(args.clip, 6) if args.clip else []
    results, sheet_rows, crop_rows = {}, [], []
    if args.samples:
        args.samples.mkdir(parents=True, exist_ok=True)
    for name, model_path, config in items:
        card = read_card(model_path)
        engine = load_engine(model_path, EngineConfig(precision=args.precision), task="style")
        render_size = args.render_size if args.render_size is not None else config.render_size
        options = {"upsample": args.upsample or config.upsample, "palette_strength": config.palette_strength if args.palette_strength is None else args.palette_strength}
        processor = StylizeProcessor(engine, render_size=render_size, **options)
        judge = Judge(card, args.styles, args.mobilenet)
        row, outs = evaluate(processor, judge, photos)
        row.update({"render_size": processor.render_size, **options})
        if frames:
            row["clip"], clip_outs = evaluate(processor, judge, frames, full=False)
            crop_rows.append(np.concatenate([frames[0][200:456, 400:912], clip_outs[0][200:456, 400:912]], axis=1))
        if args.tiling:
            row["tiling"] = tiling_check(engine, photos[0], args.tiling, args.samples and args.samples / f"{name}-tiled.png")
        results[name] = row
        print(json.dumps({"preset": name, **row}), file=sys.stderr, flush=True)
        if args.samples:
            for i, (img, out) in enumerate(zip(photos, outs)):
                write_image(args.samples / f"{name}-{i:02d}.png", np.concatenate([img, pad_to(out, *img.shape[:2])], axis=1))
        if args.thumbnails:
            from filmgan.train.data import resize_short_side

            write_image(ROOT / "presets" / f"{name}.png", resize_short_side(outs[0], 144))
        picks = list(range(0, len(photos), max(1, len(photos) // 4)))[:4]  # one photo from each of 4 parts
        sheet_rows.append(contact_row(judge.painting, [photos[i] for i in picks], [outs[i] for i in picks], height=160))
    if args.contact_sheet:
        picks = list(range(0, len(photos), max(1, len(photos) // 4)))[:4]
        sheet_rows.insert(0, contact_row(np.full((160, 160, 3), 255, np.uint8), [], [photos[i] for i in picks], height=160))
        write_image(args.contact_sheet, stack_rows(sheet_rows))
    if args.crops and crop_rows:
        write_image(args.crops, stack_rows(crop_rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print_table(results, args.markdown, len(photos))
    return 0 if all(r["pass"] for r in results.values()) else 1


def stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    width = max(r.shape[1] for r in rows)
    gap = np.full((6, width, 3), 255, np.uint8)
    return np.concatenate([x for r in rows for x in (pad_to(r, r.shape[0], width), gap)][:-1], axis=0)


def print_table(results: dict, markdown: bool, count: int) -> None:
    head = ["preset", "render / upsample", "texture ratio MobileNetV2 / random (<= 0.5)", "detail ratio (>= 0.5)", "edge SSIM mean / min (>= 0.4)",
            "Reinhard margin (> 0)", "720p clip: detail / edge SSIM", "bars"]
    rows = []
    for name, r in results.items():
        clip = r.get("clip")
        rows.append([name, f"{r['render_size']} / {r['upsample']}", f"{r['texture_mobilenet']:.2f} / {r['texture_random']:.2f}", f"{r['detail_ratio']:.2f}",
                     f"{r['edge_ssim']:.2f} / {r['min_edge_ssim']:.2f}", f"{r['reinhard_margin']:+.0%}",
                     f"{clip['detail_ratio']:.2f} / {clip['edge_ssim']:.2f}" if clip else "-", "pass" if r["pass"] else "FAIL"])
    if markdown:
        print(f"Photos: {count} (filmgan.train.splits)\n")
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *rows)]
        for r in [head, *rows]:
            print("  ".join(x.ljust(w) for x, w in zip(r, widths)))


if __name__ == "__main__":
    sys.exit(main())
