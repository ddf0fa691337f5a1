"""Export every shipped model (filmgan/weights/*.safetensors) to filmgan/onnx_models/<name>.onnx.

Run after changing a shipped model: ``python scripts/export_shipped.py``. The package ships these ONNX
files so a render node with only ``filmgan[ort]`` or ``filmgan[openvino]`` (no torch) can render every
preset; ``tests/test_engines.py`` fails while an ONNX file's recorded digest differs from its model's.
Each export is checked against torch at two sizes (max abs error <= 1e-3) before it is written.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from filmgan.export.build import SHIPPED_DIR, shipped_onnx
from filmgan.export.cache import atomic_write_bytes
from filmgan.export.onnx import export_onnx
from filmgan.card import read_card

WEIGHTS = Path(__file__).resolve().parents[1] / "filmgan" / "weights"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="model names (default: every shipped model)")
    ap.add_argument("--force", action="store_true", help="re-export even when the ONNX is current")
    args = ap.parse_args()
    SHIPPED_DIR.mkdir(exist_ok=True)
    for path in sorted(WEIGHTS.glob("*.safetensors")):
        if args.names and path.stem not in args.names:
            continue
        if not args.force and shipped_onnx(read_card(path)) is not None:
            print(f"{path.stem}: current")
            continue
        started = time.perf_counter()
        data, card, parity = export_onnx(path)
        atomic_write_bytes(SHIPPED_DIR / f"{card.name}.onnx", data)
        print(f"{card.name}: {len(data) / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s, parity {json.dumps(parity)}")


if __name__ == "__main__":
    main()
