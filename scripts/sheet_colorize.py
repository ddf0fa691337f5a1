"""Contact sheets of a colorizer, to look at: held-out photos (grey | filmgan | truth) and real
black-and-white material (input | filmgan): frames of an old film and photographs from before 1930.

    python scripts/sheet_colorize.py [--model PATH] [--out docs/] [--height 200]

Writes OUT/colorize_heldout.jpg (12 held-out photos: 2 of bsds500_test and 2 of each new set's tenth) and
OUT/colorize_bw.jpg (6 frames of bw/oldfilm_house_ladder, 6 of bw/old_photos), through the same path as
``filmgan colorize`` at the colorize preset's render size, frame by frame (no temporal blending).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_colorize import make_processor  # noqa: E402

from filmgan.presets import find_preset  # noqa: E402
from filmgan.train import splits  # noqa: E402
from filmgan.video.color import recombine_luminance_chroma  # noqa: E402
from filmgan.video.images import read_image, write_image  # noqa: E402

DATA = ROOT.parent / "shared/data"


def fit_height(img: np.ndarray, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)


def grid(rows: list[list[np.ndarray]], height: int) -> np.ndarray:
    """Rows of images side by side, each scaled to ``height``; rows padded right with white."""
    lines = [np.concatenate([fit_height(i, height) for i in row], axis=1) for row in rows]
    width = max(line.shape[1] for line in lines)
    return np.concatenate([np.pad(line, ((0, 4), (0, width - line.shape[1]), (0, 0)), constant_values=255) for line in lines])


def heldout_rows(processor, photos: Path) -> list[list[np.ndarray]]:
    rows = []
    for name, files in splits.held_out(photos).items():
        for path in files[3::max(1, len(files) // 2)][:2]:
            truth = read_image(path)
            grey = recombine_luminance_chroma(truth, np.zeros(truth.shape[:2] + (2,), np.float32))
            rows.append([grey, processor.colorize(truth[None])[0], truth])
    return rows


def bw_rows(processor, data: Path) -> list[list[np.ndarray]]:
    film = sorted((data / "bw/oldfilm_house_ladder").iterdir())
    rows = []
    for i in np.linspace(0, len(film) - 1, 6).round().astype(int):
        frame = read_image(film[i])
        rows.append([frame, processor.colorize(frame[None])[0]])
    photos = sorted((data / "bw/old_photos").iterdir())
    for path in photos[:: max(1, len(photos) // 6)][:6]:
        img = read_image(path)
        rows.append([img, processor.colorize(img[None])[0]])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--height", type=int, default=200)
    args = parser.parse_args()
    model = args.model or find_preset("colorize").model_path()
    args.out.mkdir(parents=True, exist_ok=True)
    processor = make_processor(model)
    write_image(args.out / "colorize_heldout.jpg", grid(heldout_rows(processor, DATA / "photos"), args.height))
    write_image(args.out / "colorize_bw.jpg", grid(bw_rows(processor, DATA), args.height))
    print(f"wrote {args.out / 'colorize_heldout.jpg'} and {args.out / 'colorize_bw.jpg'}")


if __name__ == "__main__":
    main()
