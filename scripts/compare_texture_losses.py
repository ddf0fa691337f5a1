"""Which texture loss paints? Optimise photos directly (Gatys et al. 2016: pixels, not a network) under
each candidate loss and judge the results in feature spaces the loss did not use.

Each candidate is ``FEATURES:TRANSFORM:LOSS`` -- features ``mb`` (ImageNet MobileNetV2, strides 2-16) or
``rand`` (wide multi-scale random filters, Ustyuzhaninov et al. 2017: widths 128-256, seed 4321);
transform ``none`` or ``softmax`` (Wang et al. 2021); loss ``gram`` or ``swd`` (Heitz et al. 2021). For
each of a few validation photos (``filmgan.train.splits``; never held-out ones), starting from the photo
with the painting's palette (Reinhard), Adam minimises ``content (MobileNetV2 stride 8) + 5 * texture``
with the texture measured after colour-matching to the painting, as the paint recipe does. Printed: the
texture ratio (output / photo, both colour-matched) in MobileNetV2 raw-Gram space and in a random network
with another seed (9876) -- lower is closer to the painting's texture; a PNG per candidate (photos above,
results below) lands in ``--out``.

    python scripts/compare_texture_losses.py starry_night.jpg mb:none:gram,mb:softmax:gram,mb:none:swd --out /tmp/tex
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("painting", help="file name under ../shared/data/styles")
    ap.add_argument("candidates", help="comma-separated FEATURES:TRANSFORM:LOSS")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--photos", type=int, nargs="*", default=[3, 40, 120], help="indices into the validation split")
    ap.add_argument("--out", type=Path, default=Path("texture-losses"))
    args = ap.parse_args(argv)

    from filmgan.models.features import MobileNetFeatures, RandomFeatures
    from filmgan.models.lab import rgb_to_lab
    from filmgan.train.data import resize_short_side
    from filmgan.train.splits import validation
    from filmgan.train.stylize import to_image, to_tensor
    from filmgan.train.texture import TextureTarget, lab_stats, reinhard_torch
    from filmgan.video.images import read_image, write_image

    torch.set_flush_denormal(True)
    args.out.mkdir(parents=True, exist_ok=True)
    mb = MobileNetFeatures(DATA / "weights" / "mobilenet_v2_1.0_224_quant.tflite", layers=4)
    painting = read_image(DATA / "styles" / args.painting)
    targets = [to_tensor(resize_short_side(painting, s)) for s in (256, 384)]
    mean, std = lab_stats(rgb_to_lab(targets[0]))
    files = validation(DATA / "photos")
    photos = [resize_short_side(read_image(files[i]), args.size)[: args.size, : args.size] for i in args.photos]
    judges = {"mobilenet": TextureTarget(mb, targets, (0, 1, 2, 3), "none", "gram"), "random-9876": TextureTarget(RandomFeatures(9876).eval(), targets, (0, 1, 2, 3), "none", "gram")}

    def judge(x: torch.Tensor) -> dict[str, float]:
        with torch.no_grad():
            matched = reinhard_torch(x, mean, std)
            return {k: float(j.distance(matched)) for k, j in judges.items()}

    for candidate in args.candidates.split(","):
        kind, transform, loss = candidate.split(":")
        net = mb if kind == "mb" else RandomFeatures(4321, widths=(128, 256, 256, 256)).eval()
        texture = TextureTarget(net, targets, (0, 1, 2, 3), transform, loss)
        ratios, outs, start = [], [], time.time()
        for photo in photos:
            x0 = reinhard_torch(to_tensor(photo), mean, std).detach()
            with torch.no_grad():
                content_target = mb(x0)[2]
            x = x0.clone().requires_grad_(True)
            opt, gen = torch.optim.Adam([x], lr=0.02), torch.Generator().manual_seed(0)
            for _ in range(args.steps):
                y = x.clamp(0, 1)
                content = (mb(y)[2] - content_target).pow(2).mean() / content_target.pow(2).mean()
                total = content + 5.0 * texture.distance(reinhard_torch(y, mean, std), gen)
                opt.zero_grad()
                total.backward()
                opt.step()
            out = x.detach().clamp(0, 1)
            before, after = judge(x0), judge(out)
            ratios.append({k: after[k] / before[k] for k in before})
            outs.append(to_image(out))
        mean_ratio = {k: round(float(np.mean([r[k] for r in ratios])), 3) for k in ratios[0]}
        print(f"{candidate}: texture ratio {mean_ratio}  ({(time.time() - start) / len(photos):.0f} s/photo)", flush=True)
        grid = np.concatenate([np.concatenate([p, o], axis=0) for p, o in zip(photos, outs)], axis=1)
        write_image(args.out / f"{Path(args.painting).stem}_{candidate.replace(':', '_')}.png", grid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
