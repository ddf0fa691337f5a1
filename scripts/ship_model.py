"""Copy a trained generator into filmgan/weights as a shipped model: fp16 tensors, a card renamed and
annotated with how it was made, and a check that the fp16 copy renders like the fp32 original.

    python scripts/ship_model.py RUN/snapshots/step-002000.safetensors colorize-v1 \
        --note "trained by 'filmgan train colorize' on ..." [--metrics-json FILE] [--fp32]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from filmgan.models.checkpoint import load_model, save_model  # noqa: E402


def with_args(model, card, changes: dict[str, str]):
    """The model and card with some architecture arguments changed (JSON values), e.g. the semantic
    colorizer's decoding temperature or confidence threshold: no tensor changes, the forward pass reads them."""
    from filmgan.models import registry

    args = {**card.args, **{k: json.loads(v) for k, v in changes.items()}}
    rebuilt = registry.build(card.arch, args)  # refuses unknown arguments
    rebuilt.load_state_dict(model.state_dict())
    return rebuilt.eval(), card.with_updates(args=rebuilt.args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("name")
    parser.add_argument("--note", default="", help="how it was trained (goes into the card)")
    parser.add_argument("--metrics-json", type=Path, help="held-out metrics to record in the card")
    parser.add_argument("--validation-json", type=Path, help="validation metrics to record in the card (e.g. select_colorizer.py's, at the chosen gain)")
    parser.add_argument("--fp32", action="store_true", help="keep fp32 tensors")
    parser.add_argument("--credit", action="append", default=[], metavar="KEY=VALUE", help="added to the card's extra.style (source, licence, ...)")
    parser.add_argument("--saturation", type=float, help="colorizers: the chroma gain calibrated on validation (extra.saturation)")
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=JSON", help="set a decoding argument of the architecture (e.g. temperature=0.3), as chosen on validation")
    parser.add_argument("--dest", type=Path, default=ROOT / "filmgan" / "weights")
    args = parser.parse_args()

    model, card = load_model(args.source)
    if args.arg:
        model, card = with_args(model, card, dict(a.split("=", 1) for a in args.arg))
    metrics = dict(card.metrics)
    if args.metrics_json:
        metrics["held_out"] = json.loads(args.metrics_json.read_text())
    if args.validation_json:
        metrics["validation"] = json.loads(args.validation_json.read_text())
    training = {**card.training, "note": args.note, "source_file": args.source.name}
    extra = dict(card.extra)
    if args.credit:
        extra["style"] = {**extra.get("style", {}), **dict(c.split("=", 1) for c in args.credit)}
    if args.saturation is not None:
        extra["saturation"] = args.saturation
    card = card.with_updates(name=args.name, metrics=metrics, training=training, extra=extra)
    args.dest.mkdir(parents=True, exist_ok=True)
    dst = args.dest / f"{args.name}.safetensors"
    save_model(dst, model, card, dtype=None if args.fp32 else torch.float16)

    shipped, _ = load_model(dst)
    size = card.internal_size or 256
    x = torch.rand(2, card.args.get("in_ch", 1 if card.task == "colorize" else 3), size, size * 16 // 9 // 8 * 8) * 2 - 1
    with torch.inference_mode():
        a, b = model(x), shipped(x)
    mse = float(((a - b) ** 2).mean())
    peak = float((a.max() - a.min()) ** 2)
    psnr = 10 * torch.log10(torch.tensor(peak / max(mse, 1e-20))).item()
    print(f"wrote {dst} ({dst.stat().st_size / 1e6:.1f} MB); shipped vs source output PSNR {psnr:.1f} dB")


if __name__ == "__main__":
    main()
