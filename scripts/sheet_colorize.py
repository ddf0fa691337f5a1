"""Contact sheets of a colorizer, to look at: held-out photos (grey | filmgan | truth) and real
black-and-white material (input | filmgan): frames of an old film and photographs from before 1930.

    python scripts/sheet_colorize.py [--model PATH] [--out docs/] [--height 200]

Writes OUT/colorize_heldout.jpg (12 held-out photos: 2 of bsds500_test and 2 of each new set's tenth) and
OUT/colorize_bw.jpg (6 frames of bw/oldfilm_house_ladder, 6 of bw/old_photos), through the same path as
``filmgan colorize`` at the colorize preset's render size, frame by frame (no temporal blending); and
OUT/colorize_moving.jpg: people moving fast in four real clips (grey | filmgan | truth, frames 12 and 36 of
each), rendered in order with the preset's temporal blending, where halos and chroma trails would show.
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


MOVING_CLIPS = ("tokenflow_woman-running.mp4", "propainter_parkour_test-sample1.mp4", "e2fgvi_schoolgirls.mp4", "sam2_05_juggle.mp4")


def moving_rows(model: Path, data: Path, frames: int = 37, shown: tuple[int, ...] = (12, 36)) -> list[list[np.ndarray]]:
    """Grey | filmgan | truth of ``shown`` frames of each clip of MOVING_CLIPS, the grey frames colorized in
    order by the preset's processor (temporal blending included), as ``filmgan colorize`` renders them."""
    from filmgan.backends.torch_backend import TorchEngine
    from filmgan.config import DecodeConfig
    from filmgan.processors.factory import build_processor
    from filmgan.video import VideoReader

    rows = []
    for name in MOVING_CLIPS:
        processor = build_processor(find_preset("colorize").task_config(), TorchEngine(model, task="colorize", precision="fp32"))
        for batch in VideoReader(data / "videos/clips" / name, DecodeConfig(end=frames, batch_size=1)):
            truth = batch.frames[0]
            grey = recombine_luminance_chroma(truth, np.zeros(truth.shape[:2] + (2,), np.float32))
            out = processor.colorize(grey[None], start_index=batch.start_index)[0]
            if batch.start_index in shown:
                rows.append([grey, out, truth])
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
    write_image(args.out / "colorize_moving.jpg", grid(moving_rows(model, DATA), args.height))
    print(f"wrote {args.out / 'colorize_heldout.jpg'}, {args.out / 'colorize_bw.jpg'} and {args.out / 'colorize_moving.jpg'}")


if __name__ == "__main__":
    main()
