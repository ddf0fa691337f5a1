"""Pick the colorizer to ship: candidate models x a few saturation gains, scored on the VALIDATION split
only (the held-out test split is reported afterwards with eval_colorize.py, never used to choose).

Candidates are model files, or run directories (all their snapshots from --min-step on). Rule: among
candidates whose colourfulness is >= --min-colour (default 70 %) of the ground truth's and whose PSNR
beats the grey baseline, the lowest mean CIEDE2000 ΔE wins.

    python scripts/select_colorizer.py RUN_DIR|MODEL... [--split DIR] [--every N] [--gains 1,0.85,0.7] [--min-colour 0.75]

The validation images are the project's validation split (positions 5, 15, ... of each new photo set,
``filmgan.train.splits``) unless --split names a folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from eval_colorize import evaluate_parts, make_processor  # noqa: E402

from filmgan.train import splits  # noqa: E402
from filmgan.train.data import list_media  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidates", type=Path, nargs="+")
    parser.add_argument("--split", type=Path, help="a validation folder (default: the project's validation split, filmgan.train.splits)")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared/data/photos")
    parser.add_argument("--every", type=int, default=1, help="use every N-th validation image (faster)")
    parser.add_argument("--gains", default="1.0,0.85,0.7,0.55")
    parser.add_argument("--min-step", type=int, default=0, help="run directories: the first snapshot step considered")
    parser.add_argument("--min-colour", type=float, default=0.7, help="least colourfulness, as a share of the truth's")
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=V1,V2", help="also try these values of a decoding argument (e.g. temperature=0.3,0.38)")
    args = parser.parse_args()
    models = [model for path in args.candidates for model in candidate_models(path, args.min_step)]
    if args.arg:
        models = [v for m in models for v in variants(m, dict(a.split("=", 1) for a in args.arg))]
    images = list_media([args.split])[0] if args.split else splits.validation(args.photos)
    parts = {"validation": images[:: args.every]}
    best = None
    print(f"{'model':48}{'gain':>6}{'ΔE':>8}{'ΔE grey':>9}{'ΔE red.':>9}{'worse':>7}{'PSNR':>8}{'grey':>8}{'colour %':>10}{'hue JS':>8}{'green':>7}")
    for model in models:
        for gain in map(float, args.gains.split(",")):
            m = evaluate_parts(make_processor(model, saturation=gain), parts)["pooled"]
            ok = m["colourfulness_ratio"] >= args.min_colour and m["psnr"] > m["psnr_grey"]
            print(f"{model.name[-48:]:48}{gain:>6.2f}{m['delta_e']:>8.2f}{m['delta_e_grey']:>9.2f}{100 * m['delta_e_reduction']:>8.1f}%{100 * m['worse_than_grey']:>6.0f}%"
                  f"{m['psnr']:>8.2f}{m['psnr_grey']:>8.2f}{100 * m['colourfulness_ratio']:>9.0f}%{m['hue_js']:>8.3f}{100 * m['green_ratio']:>6.0f}%{'' if ok else '  (excluded)'}", flush=True)
            if ok and (best is None or m["delta_e"] < best[2]["delta_e"]):
                best = (model, gain, m)
    if best is None:
        raise SystemExit("no candidate meets the colourfulness/PSNR constraints")
    print(json.dumps({"snapshot": str(best[0]), "saturation": best[1], "validation": best[2]}))


def variants(model: Path, grid: dict[str, str]) -> list[Path]:
    """Copies of ``model`` (in a temporary folder) for every combination of the argument values in ``grid``."""
    import itertools
    import tempfile

    from ship_model import with_args

    from filmgan.models.checkpoint import load_model, save_model

    net, card = load_model(model)
    folder = Path(tempfile.mkdtemp(prefix="filmgan-variants-"))
    keys = list(grid)
    out = []
    for values in itertools.product(*(grid[k].split(",") for k in keys)):
        changed, changed_card = with_args(net, card, dict(zip(keys, values)))
        path = folder / f"{model.stem}@{','.join(f'{k}={v}' for k, v in zip(keys, values))}.safetensors"
        save_model(path, changed, changed_card)
        out.append(path)
    return out


def candidate_models(path: Path, min_step: int) -> list[Path]:
    """A model file as it is; a run directory's snapshots from ``min_step`` on, in step order."""
    if path.is_file():
        return [path]
    snapshots = sorted((path / "snapshots").glob("step-*.safetensors"), key=lambda p: int(p.stem.split("-")[1]))
    return [s for s in snapshots if int(s.stem.split("-")[1]) >= min_step]


if __name__ == "__main__":
    main()
