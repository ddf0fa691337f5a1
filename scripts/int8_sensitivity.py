"""Which convolutions of a model can be int8: each one quantised alone, its output error against fp32.

For every convolution of the model's fp32 ONNX, a QDQ graph with only that convolution int8 (ORT
``quantize_static``, per-channel weights, uint8 activations, the calibration of ``filmgan.export.quantize``)
runs on validation photos (never the held-out ones); the script prints each layer's noise power (the MSE of
the output against fp32) and PSNR, sorted, and then the PSNR of the whole graph quantised with the noisiest
layers kept float, for a few counts. Quantisation noise of separate layers adds up nearly independently, so
the sorted list says which layers to keep float to meet a PSNR bar.

    python scripts/int8_sensitivity.py filmgan/weights/colorize-v5.safetensors --photos 24 --keep 0,2,4,8
    python scripts/int8_sensitivity.py filmgan/weights/colorize-v5.safetensors --no-scan --reduce-range on

Convolutions already kept float by ``filmgan.export.quantize`` (first, last, ``FLOAT_LAYERS``) show no noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filmgan.export.onnx import compare, output_peak  # noqa: E402
from filmgan.export.onnxmeta import card_from_metadata, read_onnx_metadata  # noqa: E402
from filmgan.export.quantize import photo_inputs, photos_dir, quantize_int8  # noqa: E402
from filmgan.train.splits import validation  # noqa: E402


def session(data: bytes, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def run_all(data: bytes, inputs: list[np.ndarray], threads: int) -> list[np.ndarray]:
    s = session(data, threads)
    name = s.get_inputs()[0].name
    return [s.run(None, {name: x})[0] for x in inputs]


def error(reference: list[np.ndarray], outputs: list[np.ndarray], peak: float) -> tuple[float, float, float]:
    """Mean MSE, mean PSNR and min PSNR over the photos."""
    mse = [float(((r.astype(np.float64) - o) ** 2).mean()) for r, o in zip(reference, outputs)]
    psnr = [compare(r, o, peak)["psnr"] for r, o in zip(reference, outputs)]
    return float(np.mean(mse)), float(np.mean(psnr)), float(np.min(psnr))


def colorized(x: np.ndarray, ab: np.ndarray, gain: float) -> np.ndarray:
    """uint8 RGB of a colorizer's normalised L input (1, 1, h, w) and ab output (1, 2, h, w)."""
    from filmgan.video.color import AB_SCALE, L_SCALE, lab_to_rgb, to_uint8

    return to_uint8(lab_to_rgb(np.concatenate([(x[0] + 1.0) * L_SCALE, gain * ab[0] * AB_SCALE], 0).transpose(1, 2, 0)))


def delta_e_change(files: list[Path], inputs: list[np.ndarray], reference: list[np.ndarray], outputs: list[np.ndarray], gain: float) -> float:
    """Relative change of the mean ΔE2000 to the truth, int8 against fp32 (a colorizer's quality bar)."""
    import cv2

    from filmgan.metrics.image import delta_e

    truth = [cv2.cvtColor(cv2.resize(cv2.imread(str(f)), x.shape[:1:-1], interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB) for f, x in zip(files, inputs)]
    d32 = np.mean([delta_e(t, colorized(x, r, gain)) for t, x, r in zip(truth, inputs, reference)])
    d8 = np.mean([delta_e(t, colorized(x, o, gain)) for t, x, o in zip(truth, inputs, outputs)])
    return float(d8 / d32 - 1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a shipped model's .safetensors (its ONNX is read from filmgan/onnx_models)")
    ap.add_argument("--photos", type=int, default=24, help="validation photos, spread over the sets")
    ap.add_argument("--keep", default="0,4,8,12,16", help="counts of the noisiest layers kept float to try")
    ap.add_argument("--method", default="minmax", choices=["minmax", "percentile", "entropy"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reduce-range", choices=["auto", "on", "off"], default="auto", help="7-bit weights (default: on without VNNI)")
    ap.add_argument("--no-scan", action="store_true", help="only the whole graph with the shipped policy (keep 0)")
    args = ap.parse_args()

    import onnx

    path = Path(args.model)
    onnx_path = Path(__file__).resolve().parents[1] / "filmgan" / "onnx_models" / f"{path.stem}.onnx"
    card = card_from_metadata(read_onnx_metadata(onnx_path), str(onnx_path))  # carries the export's input alignment
    data = onnx_path.read_bytes()
    files = validation(photos_dir())
    files = files[:: max(1, len(files) // args.photos)][: args.photos]
    inputs = photo_inputs(card, files)
    peak = output_peak(card)
    reference = run_all(data, inputs, args.threads)
    convs = [n.name for n in onnx.load_from_string(data).graph.node if n.op_type == "Conv"]
    print(f"{path.stem}: {len(convs)} convolutions, {len(files)} validation photos, calibration {args.method}", flush=True)

    options = {"method": args.method, "reduce_range": {"auto": None, "on": True, "off": False}[args.reduce_range]}
    gain = float(card.extra.get("saturation", 1.0))

    def whole(exclude: list[str]) -> str:
        q, report = quantize_int8(data, card, exclude=exclude, **options)
        outputs = run_all(q, inputs, args.threads)
        mse, psnr, low = error(reference, outputs, peak)
        text = f"({len(report['float_nodes'])} float nodes, reduce_range {report['reduce_range']}): psnr {psnr:6.2f} mean, {low:6.2f} min"
        if card.color_space == "lab":
            text += f"; ΔE to the truth {100 * delta_e_change(files, inputs, reference, outputs, gain):+.2f} % against fp32"
        return text

    if args.no_scan:
        print("  shipped policy " + whole([]))
        return
    t0 = time.time()
    noise = {}
    for i, conv in enumerate(convs):
        q, _ = quantize_int8(data, card, only=[conv], **options)
        noise[conv] = error(reference, run_all(q, inputs, args.threads), peak)
        print(f"  [{i:2d}] {conv:45s} mse {noise[conv][0]:.3e}  psnr {noise[conv][1]:6.2f} (min {noise[conv][2]:6.2f})", flush=True)
    print(f"(per-layer pass: {time.time() - t0:.0f} s)")

    ranked = sorted(convs, key=lambda c: -noise[c][0])
    print("\nnoisiest first:")
    for c in ranked[:20]:
        print(f"  {c:45s} mse {noise[c][0]:.3e}  share {noise[c][0] / sum(v[0] for v in noise.values()):.1%}")
    print("\nwhole graph int8, the noisiest kept float:")
    for k in (int(v) for v in args.keep.split(",")):
        rest = sum(noise[c][0] for c in ranked[k:])
        predicted = 10 * np.log10(peak**2 / rest) if rest > 0 else float("inf")
        print(f"  keep {k:2d} float {whole(ranked[:k])}; predicted from the sum of layer noise {predicted:6.2f}", flush=True)


if __name__ == "__main__":
    main()
