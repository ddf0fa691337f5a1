"""Issue 18's bars for guided colorization, printed as README tables (markdown), through the real path
(``ColorizeProcessor`` with a ``filmgan.guide.ColourGuide``, the torch engine, the colorize preset's render
size and temporal blending).

* ``--part keyframes``: the 6 clips of ``CLIPS`` (first 97 frames, scaled to a short side of 360 px, made
  grey); frame 0's true colour is the keyframe. Mean CIEDE2000 ΔE to the true colour over frames 1-48 and
  49-96, automatic against keyframe-guided, and the warping error E_warp (Lai et al.; flow on the grey
  source) of both. ``--sheet`` writes grey | automatic | keyframe-guided | truth at frames 0, 24, 48, 96 of
  the first clip.
* ``--part reference``: the held-out photos of the sets with a content class (``intel_scenes``: scene type
  from the file name; ``utkface_faces``: faces; ``stargan_v2_faces_animals``: CelebA-HQ faces, AFHQ cat,
  dog, wild). The *other* reference is the training-part photo of the same class whose grey image is
  nearest in the colorizer's own encoder features (global average of the MobileNetV2 stride-32
  features) -- what a colourist does when picking a similar photo, decided on the grey images only, never
  on the target's colours. The *own* reference is the photo itself. ΔE: automatic, other, own. The guide has
  the reference's palette and, unless ``--no-exemplar``, its colours carried by content (``Exemplar``).
* ``--part hints``: every held-out photo (bsds500_test and the tenth of each new set), 10 random points
  (seeded per photo) with the true colour of their pixel; ΔE automatic against hinted. ``--sigma`` and
  ``--screen`` (several values: every combination, a grid) choose the spreading (``SpreadConfig``; default
  the shipped one); the network runs once per photo and only the spreading is repeated per setting.
  ``--hint-palette`` also conditions the network on the hint colours' palette (one more network run per
  photo). With more than one setting the output is one row per setting.
* ``--split validation`` runs the photo parts on the validation split instead (for choosing settings;
  the hints part reports it set by set, so ``--limit`` takes from each set).

    python scripts/eval_guided.py --part keyframes --sheet docs/guided_keyframes.jpg
    python scripts/eval_guided.py --part reference
    python scripts/eval_guided.py --part hints [--limit N]
    python scripts/eval_guided.py --part hints --split validation --sigma 2 4 8 --screen 1e-3 1e-4 [--hint-palette]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import zlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from filmgan.backends.torch_backend import TorchEngine  # noqa: E402
from filmgan.guide import ColourGuide  # noqa: E402
from filmgan.guide import guide as guide_defaults  # noqa: E402
from filmgan.guide.build import DEFAULT_PALETTE  # noqa: E402
from filmgan.guide.exemplar import Exemplar  # noqa: E402
from filmgan.guide.hints import Hint, HintSet  # noqa: E402
from filmgan.guide.keyframes import Keyframe, track_frames  # noqa: E402
from filmgan.guide.propagate import SpreadConfig  # noqa: E402
from filmgan.guide.reference import Palette  # noqa: E402
from filmgan.metrics.flicker import WarpErrors  # noqa: E402
from filmgan.metrics.hue import hue_divergence, hue_histogram  # noqa: E402
from filmgan.metrics.image import delta_e  # noqa: E402
from filmgan.presets import find_preset  # noqa: E402
from filmgan.processors.colorize import ColorizeProcessor  # noqa: E402
from filmgan.temporal.blend import FlowBlender  # noqa: E402
from filmgan.train import splits  # noqa: E402
from filmgan.video.color import normalize_l, recombine_luminance_chroma, rgb_to_lab, rgb_to_luminance_l  # noqa: E402
from filmgan.video.frames import FrameBatch  # noqa: E402
from filmgan.video.images import read_image, write_image  # noqa: E402

DATA = ROOT.parent / "shared/data"
MODEL = find_preset("colorize").model_path()
# Fixed before measuring: clips of >= 97 frames without a cut in them, of varied content (a dog on a lawn,
# cups on a table, a juggler, a car on a road, a rabbit and a watermelon, a teddy bear). cotracker_pillow
# was used to look at the propagation while building it, so it is not among them.
CLIPS = ("sam2_01_dog", "sam2_02_cups", "sam2_05_juggle", "propainter_running_car", "tuneavideo_rabbit-watermelon", "cotracker_teddy")
# For choosing keyframe settings, never among CLIPS: other clips of >= 97 frames.
VALIDATION_CLIPS = ("sam2_03_blocks", "sam2_04_coffee", "tokenflow_woman-running", "cotracker_pillow")
FRAMES = 97
REFERENCE_SETS = ("intel_scenes", "utkface_faces", "stargan_v2_faces_animals")
HINTS_PER_PHOTO = 10


def grey(rgb: np.ndarray) -> np.ndarray:
    return recombine_luminance_chroma(rgb, np.zeros(rgb.shape[:2] + (2,), np.float32))


def fit_width(image: np.ndarray, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    return image if w <= width else cv2.resize(image, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


def processor(engine, blend: bool = False) -> ColorizeProcessor:
    preset = find_preset("colorize")
    blender = FlowBlender(preset.blend_config()) if blend else None
    return ColorizeProcessor(engine, render_size=preset.render_size, blender=blender)


# -- keyframes ------------------------------------------------------------------------------------------

def read_clip(name: str, frames: int = FRAMES, short: int = 360) -> np.ndarray:
    out = []
    with av.open(str(DATA / "videos/clips" / f"{name}.mp4")) as c:
        for f in c.decode(video=0):
            a = f.to_ndarray(format="rgb24")
            h, w = a.shape[:2]
            s = short / min(h, w)
            out.append(cv2.resize(a, (round(w * s) // 2 * 2, round(h * s) // 2 * 2), interpolation=cv2.INTER_AREA))
            if len(out) == frames:
                break
    if len(out) < frames:
        raise SystemExit(f"{name}: only {len(out)} frames")
    return np.stack(out)


def run_clip(engine, truth: np.ndarray, keyframe_hints: float | None = None) -> dict:
    src = np.stack([grey(f) for f in truth])
    outs = {}
    auto = processor(engine, blend=True)
    outs["auto"] = np.stack([auto.colorize(src[i: i + 1], i)[0] for i in range(len(src))])
    guided = processor(engine, blend=True)
    track = track_frames(guided.render_frames(src), 0, [Keyframe(0, Path("frame0"))], {0: truth[0]},
                         (src.shape[2], src.shape[1]), None, DEFAULT_PALETTE, engine.prior_bins)
    guided.set_guide(ColourGuide(track=track, keyframe_hints=keyframe_hints))
    outs["guided"] = np.stack([guided.colorize(src[i: i + 1], i)[0] for i in range(len(src))])
    track.close()
    warp = WarpErrors(("auto", "guided"))
    for i in range(len(src)):
        warp.update(src[i], {k: v[i] for k, v in outs.items()})
    de = {k: np.array([delta_e(truth[i], v[i]) for i in range(1, len(src))]) for k, v in outs.items()}
    return {"outs": outs, "src": src, "de": de, "warp": warp.values}


def keyframes_part(engine, sheet: Path | None, clips=CLIPS, keyframe_hints: float | None = None) -> None:
    print("| clip | ΔE 1-48 auto | ΔE 1-48 keyframe | below auto | ΔE 49-96 auto | ΔE 49-96 keyframe | below auto | E_warp auto | E_warp keyframe |")
    print("|---|---|---|---|---|---|---|---|---|")
    pooled = {k: [] for k in ("a1", "g1", "a2", "g2", "wa", "wg")}
    for n, name in enumerate(clips):
        t = time.time()
        truth = read_clip(name)
        r = run_clip(engine, truth, keyframe_hints)
        a1, g1, a2, g2 = r["de"]["auto"][:48].mean(), r["de"]["guided"][:48].mean(), r["de"]["auto"][48:].mean(), r["de"]["guided"][48:].mean()
        for k, v in zip(pooled, (a1, g1, a2, g2, r["warp"]["auto"], r["warp"]["guided"])):
            pooled[k].append(v)
        print(f"| {name} | {a1:.2f} | {g1:.2f} | {100 * (1 - g1 / a1):.0f} % | {a2:.2f} | {g2:.2f} | {100 * (1 - g2 / a2):.0f} % | "
              f"{r['warp']['auto']:.2e} | {r['warp']['guided']:.2e} |", flush=True)
        print(f"<!-- {name}: {time.time() - t:.0f} s -->", file=sys.stderr, flush=True)
        if sheet is not None and n == 0:
            rows = [np.concatenate([r["src"][i], r["outs"]["auto"][i], r["outs"]["guided"][i], truth[i]], axis=1) for i in (0, 24, 48, 96)]
            write_image(sheet, fit_width(np.concatenate(rows, axis=0), 1600))
    m = {k: float(np.mean(v)) for k, v in pooled.items()}
    print(f"| **mean** | {m['a1']:.2f} | {m['g1']:.2f} | **{100 * (1 - m['g1'] / m['a1']):.0f} %** (bar 40 %) | {m['a2']:.2f} | {m['g2']:.2f} | "
          f"**{100 * (1 - m['g2'] / m['a2']):.0f} %** (bar 20 %) | {m['wa']:.2e} | {m['wg']:.2e} ({m['wg'] / m['wa']:.2f}x; bar <= 1) |")


# -- reference palettes ---------------------------------------------------------------------------------

def photo_class(path: Path) -> str:
    name = path.name
    if name.startswith("utkface"):
        return "face"
    if name.startswith("afhq"):
        return name.split("_")[2]  # afhq_ref_cat_... -> cat
    if path.parent.name == "stargan_v2_faces_animals":
        return "celeba"
    return name.split("_")[0]  # intel: buildings_20057.jpg -> buildings


def grey_features(engine, path: Path) -> np.ndarray:
    """The colorizer encoder's global feature of the photo's grey version (unit length)."""
    import torch

    small = cv2.resize(read_image(path), (128, 128), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(normalize_l(rgb_to_luminance_l(small))[None, None]).float()
    with torch.inference_mode():
        h = engine.model.encoder_taps(x, (32,))[32]
    v = h.mean((2, 3))[0].numpy()
    return v / np.linalg.norm(v)


def targets(split: str, sets) -> list[Path]:
    photos = DATA / "photos"
    if split == "validation":
        return [p for p in splits.validation(photos) if p.parent.name in sets]
    return [p for name, files in splits.held_out(photos).items() if name in sets for p in files]


def reference_part(engine, split: str, limit: int | None, exemplar: bool = True) -> None:
    photos = DATA / "photos"
    excluded = {p for p in splits.excluded_from_training(photos) if p.is_file()}
    pool = {}
    for name in REFERENCE_SETS:
        for p in splits.set_files(photos / name):
            if p not in excluded:
                pool.setdefault((name, photo_class(p)), []).append(p)
    feats = {}
    proc = processor(engine)
    scores = {k: {} for k in ("auto", "other", "own")}
    hue_js = {k: {} for k in ("auto", "other")}
    chosen = []
    for path in targets(split, REFERENCE_SETS)[:limit]:
        cands = pool[(path.parent.name, photo_class(path))]
        for c in cands:
            if c not in feats:
                feats[c] = grey_features(engine, c)
        mine = grey_features(engine, path)
        other = max(cands, key=lambda c: float(feats[c] @ mine))
        chosen.append((path.name, other.name))
        truth = read_image(path)
        other_rgb = read_image(other)
        other_hues = hue_histogram(other_rgb)
        for kind, ref in (("auto", None), ("other", other_rgb), ("own", truth)):
            proc.set_guide(None if ref is None else ColourGuide(palette=Palette.from_images([ref], engine.prior_bins, DEFAULT_PALETTE),
                                                                exemplar=Exemplar.from_images([ref]) if exemplar else None))
            out = proc.colorize(truth[None])[0]
            scores[kind].setdefault(path.parent.name, []).append(delta_e(truth, out))
            if kind != "own":  # how far the output's hues are from the other reference's: does it take its palette?
                hue_js[kind].setdefault(path.parent.name, []).append(hue_divergence(hue_histogram(out), other_hues))
    print("| part | photos | ΔE auto | ΔE other reference | below auto | hue JS to the other reference: auto → guided | ΔE own colours | below auto |")
    print("|---|---|---|---|---|---|---|---|")
    for part in [*scores["auto"], "pooled"]:
        get = (lambda d, k: [x for v in d[k].values() for x in v]) if part == "pooled" else (lambda d, k: d[k][part])
        a, o, w = (float(np.mean(get(scores, k))) for k in ("auto", "other", "own"))
        ja, jo = (float(np.mean(get(hue_js, k))) for k in ("auto", "other"))
        bold = "**" if part == "pooled" else ""
        print(f"| {part} | {len(get(scores, 'auto'))} | {a:.2f} | {o:.2f} | {bold}{100 * (1 - o / a):.0f} %{bold} (bar 10 %) | {ja:.3f} → {jo:.3f} "
              f"| {w:.2f} | {bold}{100 * (1 - w / a):.0f} %{bold} (bar 40 %) |")
    print(f"<!-- references chosen (first 5): {chosen[:5]} -->")


# -- local hints ----------------------------------------------------------------------------------------

def random_hints(truth: np.ndarray, seed: int, count: int = HINTS_PER_PHOTO) -> HintSet:
    rng = np.random.default_rng(seed)
    h, w = truth.shape[:2]
    xs, ys = rng.integers(0, w, count), rng.integers(0, h, count)
    return HintSet(tuple(Hint(((float(x), float(y)),), tuple(int(v) for v in truth[y, x]), 2.0, False) for x, y in zip(xs, ys)))


def hint_palette(truth: np.ndarray, hints: HintSet, bins: np.ndarray) -> Palette:
    """The palette of the hint colours, each at its pixel's lightness (the shipped palette settings)."""
    pts = np.array([h.points[0] for h in hints.hints], np.int64)
    return Palette.from_lab(rgb_to_lab(truth[pts[:, 1], pts[:, 0]][None])[0], bins, config=DEFAULT_PALETTE)


def photo_parts(split: str) -> dict[str, list[Path]]:
    photos = DATA / "photos"
    if split == "heldout":
        return splits.held_out(photos)
    parts = {}
    for p in splits.validation(photos):
        parts.setdefault(p.parent.name, []).append(p)
    return parts


def hinted(proc: ColorizeProcessor, truth: np.ndarray, hints: HintSet, configs, palette: Palette | None,
           network_hints: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """The automatic output and the hinted one per spreading setting, through the processor's own steps:
    the network runs once (twice with a palette, or when a guided network takes the hints as an input:
    ``network_hints``), the guide's spreading (of the error left at the hints) once per setting."""
    batch = FrameBatch(truth[None], np.zeros(1, np.int64), Fraction(1, 25))
    prepared = proc.prepare(batch)
    proc.set_guide(None)
    ab = proc.infer(prepared)
    auto = proc.finish(batch, prepared, ab)[0].frames[0]
    if proc.palette_bands and network_hints:  # a network trained with the hint input takes the hints itself
        proc.set_guide(ColourGuide(palette=palette, hints=hints, network_hints=True))
        ab = proc.infer(prepared)
    elif palette is not None:
        proc.set_guide(ColourGuide(palette=palette))
        ab = proc.infer(prepared)
    outs = []
    for config in configs:
        proc.set_guide(ColourGuide(palette=palette, hints=hints, spread_config=config))
        outs.append(proc.finish(batch, prepared, ab)[0].frames[0])
    return auto, outs


def label(config: SpreadConfig) -> str:
    return f"σ {config.sigma:g}, screen {config.screen:g}"


def hints_part(engine, split: str, limit: int | None, configs: list[SpreadConfig], use_palette: bool, network_hints: bool) -> None:
    proc = processor(engine)
    parts = photo_parts(split)
    scores = {part: {"auto": [], **{c: [] for c in configs}} for part in parts}
    for part, files in parts.items():
        t = time.time()
        for path in files[:limit]:
            truth = read_image(path)
            hints = random_hints(truth, zlib.crc32(path.name.encode()))
            palette = hint_palette(truth, hints, engine.prior_bins) if use_palette else None
            auto, outs = hinted(proc, truth, hints, configs, palette, network_hints)
            scores[part]["auto"].append(delta_e(truth, auto))
            for config, out in zip(configs, outs):
                scores[part][config].append(delta_e(truth, out))
        print(f"<!-- {part}: {len(files[:limit])} photos, {time.time() - t:.0f} s -->", file=sys.stderr, flush=True)
    scores["pooled"] = {k: [x for part in parts for x in scores[part][k]] for k in scores[next(iter(parts))]}
    below = lambda part, c: 100 * (1 - np.mean(scores[part][c]) / np.mean(scores[part]["auto"]))  # noqa: E731
    what = f"10 hints{' + palette' if use_palette else ''}"
    if len(configs) == 1:
        c = configs[0]
        print(f"<!-- {label(c)}, pin {c.pin:g} -->")
        print(f"| part | photos | ΔE auto | ΔE {what} | below auto |")
        print("|---|---|---|---|---|")
        for part, s in scores.items():
            a, h = np.mean(s["auto"]), np.mean(s[c])
            if part == "pooled":
                print(f"| **pooled** | {len(s['auto'])} | {a:.2f} | {h:.2f} | **{below(part, c):.0f} %** (bar 25 %) |")
            else:
                print(f"| {part} | {len(s['auto'])} | {a:.2f} | {h:.2f} | {below(part, c):.0f} % |")
        return
    counts = ", ".join(f"{p} {len(s['auto'])}" for p, s in scores.items())
    print(f"<!-- {split} photos: {counts}; ΔE auto pooled {np.mean(scores['pooled']['auto']):.2f} -->")
    print(f"| spreading ({what}) | {' | '.join(f'{p} below auto' for p in parts)} | ΔE pooled | pooled below auto |")
    print("|---|" + "---|" * (len(parts) + 2))
    for c in configs:
        print(f"| {label(c)} | {' | '.join(f'{below(p, c):.1f} %' for p in parts)} | {np.mean(scores['pooled'][c]):.2f} | "
              f"**{below('pooled', c):.1f} %** |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["keyframes", "reference", "hints"], required=True)
    parser.add_argument("--split", choices=["heldout", "validation"], default="heldout", help="photos of the reference and hints parts")
    parser.add_argument("--limit", type=int, help="at most this many photos (per part for hints)")
    parser.add_argument("--sheet", type=Path, help="keyframes: write the README sheet (JPEG) here")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sigma", type=float, nargs="+", default=[SpreadConfig.sigma], help="hints: spreading sigma(s), L units")
    parser.add_argument("--screen", type=float, nargs="+", default=[SpreadConfig.screen], help="hints: spreading screening value(s)")
    parser.add_argument("--hint-palette", action="store_true", help="hints: also condition the network on the hint colours' palette")
    parser.add_argument("--model", type=Path, default=MODEL, help="the colorizer (default: the colorize preset's)")
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), help="keyframes: other clips; 'validation': VALIDATION_CLIPS, to choose settings on")
    parser.add_argument("--keyframe-hints", type=lambda v: None if v == "none" else float(v), default=guide_defaults.KEYFRAME_HINTS,
                        help="keyframes, a guided network: the carried chroma as hints where its confidence >= this ('none': only the "
                             "keyframes' palette; default: the shipped ColourGuide's)")
    parser.add_argument("--network-hints", action=argparse.BooleanOptionalAction, default=guide_defaults.NETWORK_HINTS,
                        help="hints, a guided network: give it the hints as its input too, not only spread them (default: the shipped ColourGuide's)")
    parser.add_argument("--exemplar", action=argparse.BooleanOptionalAction, default=True,
                        help="reference: also carry the reference's colours to matching content (filmgan.guide.exemplar), not only its palette")
    args = parser.parse_args()
    # fp32 everywhere: torch's automatic precision would pick bf16 on a CPU with AVX512-BF16 and move the numbers
    with TorchEngine(args.model, task="colorize", threads=args.threads, precision="fp32") as engine:
        if args.part == "keyframes":
            clips = VALIDATION_CLIPS if args.clips == ["validation"] else args.clips
            keyframes_part(engine, args.sheet, clips, args.keyframe_hints)
        elif args.part == "reference":
            reference_part(engine, args.split, args.limit, args.exemplar)
        else:
            configs = [SpreadConfig(sigma=g, screen=c) for g, c in itertools.product(args.sigma, args.screen)]
            hints_part(engine, args.split, args.limit, configs, args.hint_palette, args.network_hints)


if __name__ == "__main__":
    main()
