"""Pick the colorizer to ship: every snapshot of a run x a few saturation gains, scored on the VALIDATION
split only (the held-out test split is reported afterwards with eval_colorize.py, never used to choose).

Rule: among candidates whose colourfulness is >= 70 % of the ground truth's and whose PSNR beats the grey
baseline, the lowest mean CIEDE2000 ΔE wins.

    python scripts/select_colorizer.py RUN_DIR [--split .../bsds500_val_minus_cbsd68] [--gains 1,0.85,0.7]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from eval_colorize import evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--split", type=Path, default=ROOT.parent / "shared/data/photos/bsds500_val_minus_cbsd68")
    parser.add_argument("--gains", default="1.0,0.85,0.7,0.55")
    parser.add_argument("--min-step", type=int, default=0)
    args = parser.parse_args()
    snapshots = sorted((args.run / "snapshots").glob("step-*.safetensors"), key=lambda p: int(p.stem.split("-")[1]))
    snapshots = [s for s in snapshots if int(s.stem.split("-")[1]) >= args.min_step]
    best = None
    print(f"{'snapshot':24}{'gain':>6}{'ΔE':>8}{'ΔE grey':>9}{'ΔE red.':>9}{'PSNR':>8}{'grey':>8}{'colour %':>10}")
    for snap in snapshots:
        for gain in map(float, args.gains.split(",")):
            m = evaluate(snap, args.split, "auto", None, None, saturation=gain)
            ok = m["colourfulness_ratio"] >= 0.7 and m["psnr"] > m["psnr_grey"]
            print(f"{snap.name:24}{gain:>6.2f}{m['delta_e']:>8.2f}{m['delta_e_grey']:>9.2f}{100 * m['delta_e_reduction']:>8.1f}%"
                  f"{m['psnr']:>8.2f}{m['psnr_grey']:>8.2f}{100 * m['colourfulness_ratio']:>9.0f}%{'' if ok else '  (excluded)'}", flush=True)
            if ok and (best is None or m["delta_e"] < best[2]["delta_e"]):
                best = (snap, gain, m)
    if best is None:
        raise SystemExit("no candidate meets the colourfulness/PSNR constraints")
    print(json.dumps({"snapshot": str(best[0]), "saturation": best[1], "validation": best[2]}))


if __name__ == "__main__":
    main()
