"""Check the MobileNetV2 loader: ImageNet top-1/top-5 on the photos of ../shared/data/photos/imagenet_sample
(one photo per class, the class in the file name), in colour and as grey images, for each weights file.

    python scripts/eval_mobilenet.py [WEIGHTS...] [--limit N]

Preprocessing as the TF-slim evaluation: short side 256, centre crop 224. A file's class is matched to the
1,001 labels of imagenet_labels.txt (background first) by any of the label's comma-separated names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from filmgan.models.mobilenet import load_mobilenet_v2  # noqa: E402
from filmgan.video.images import read_image  # noqa: E402

DATA = ROOT.parent / "shared/data"


def centre_crop(img: np.ndarray, size: int = 224) -> torch.Tensor:
    h, w = img.shape[:2]
    s = 256 / min(h, w)
    img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    h, w = img.shape[:2]
    img = img[(h - size) // 2 : (h - size) // 2 + size, (w - size) // 2 : (w - size) // 2 + size]
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 255.0


def label_sets(labels: list[str], num_classes: int) -> dict[str, set[int]]:
    """File-name class -> label indices (TFLite: 1,001 with background at 0; torchvision: 1,000)."""
    offset = 0 if num_classes == len(labels) else -1
    table: dict[str, set[int]] = {}
    for i, label in enumerate(labels):
        for name in label.split(","):
            table.setdefault(name.strip().lower().replace(" ", "_"), set()).add(i + offset)
    return table


def evaluate(weights: Path, files: list[Path], labels: list[str]) -> dict[str, float]:
    net = load_mobilenet_v2(weights)
    table = label_sets(labels, net.args["num_classes"])
    hits = {"top1": 0, "top5": 0, "grey_top1": 0, "grey_top5": 0}
    counted = 0
    for path in files:
        wanted = table.get(path.stem.split("_", 1)[1].lower())
        if not wanted:
            continue
        x = centre_crop(read_image(path))
        grey = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).expand(3, -1, -1)
        with torch.no_grad():
            top = net(torch.stack([x, grey])).topk(5, dim=1).indices.tolist()
        for prefix, row in (("", top[0]), ("grey_", top[1])):
            hits[prefix + "top1"] += row[0] in wanted
            hits[prefix + "top5"] += bool(wanted & set(row))
        counted += 1
    return {"images": counted, **{k: v / max(1, counted) for k, v in hits.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, nargs="*")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    weights = args.weights or [DATA / "weights/mobilenet_v2_1.0_224_quant.tflite", DATA / "weights/tf2_mobilenet_v2_1.0_224_ptq.tflite"]
    labels = (DATA / "weights/imagenet_labels.txt").read_text().splitlines()
    files = sorted((DATA / "photos/imagenet_sample").iterdir())[: args.limit]
    print(f"{'weights':40}{'images':>7}{'top-1':>8}{'top-5':>8}{'grey top-1':>12}{'grey top-5':>12}")
    for w in weights:
        m = evaluate(w, files, labels)
        print(f"{w.name:40}{m['images']:>7}{100 * m['top1']:>7.1f}%{100 * m['top5']:>7.1f}%{100 * m['grey_top1']:>11.1f}%{100 * m['grey_top5']:>11.1f}%", flush=True)


if __name__ == "__main__":
    main()
