"""Pack the GPU runs into at most 8 files in all (7 tar files of < 15.5 MB each and session.log), under 64 MiB
together: the device tool's limits on what comes back."""

from __future__ import annotations

import json
import os
import sys
import tarfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from filmgan.models.checkpoint import load_model, save_model  # noqa: E402

CAP = 15.5e6


def fp16(src: Path, dst: Path) -> Path:
    model, card = load_model(src)
    save_model(dst, model, card, dtype=torch.float16)
    return dst


def pack(tar_path: Path, items: list[tuple[Path, str]]) -> None:
    """Add (file, arcname) in priority order, skipping those that would pass the cap. Written beside and
    renamed when complete, so a pack cut short leaves the previous phase's tar whole."""
    total = 0
    partial = tar_path.with_name(tar_path.name + ".partial")
    with tarfile.open(partial, "w") as tar:
        for f, arc in items:
            if not f.exists():
                continue
            size = f.stat().st_size
            if total + size > CAP:
                print(f"skip {arc} ({size / 1e6:.1f} MB): {tar_path.name} full", flush=True)
                continue
            tar.add(f, arcname=arc)
            total += size
    os.replace(partial, tar_path)
    print(f"{tar_path.name}: {total / 1e6:.1f} MB", flush=True)


def small_jpeg(png: Path, tmp: Path, name: str) -> Path:
    """A validation grid as a JPEG of at most 1600 px wide (the PNGs are several MB)."""
    import cv2

    img = cv2.imread(str(png))
    if img.shape[1] > 1600:
        img = cv2.resize(img, (1600, round(img.shape[0] * 1600 / img.shape[1])), interpolation=cv2.INTER_AREA)
    dst = tmp / f"{name}-{png.stem}.jpg"
    cv2.imwrite(str(dst), img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return dst


def common(run: Path, name: str, tmp: Path) -> list[tuple[Path, str]]:
    samples = sorted((run / "samples").glob("*.png"))
    out = [(run / f, f"{name}/{f}") for f in ("val.jsonl", "train.jsonl", "model.json")]
    out += [(small_jpeg(s, tmp, name), f"{name}/samples/{s.stem}.jpg") for s in samples[-1:]]
    return out


def val_rows(run: Path) -> list[dict]:
    f = run / "val.jsonl"
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()] if f.exists() else []


def colorize_items(run: Path, name: str, tmp: Path, snapshots: int) -> list[tuple[Path, str]]:
    """The run's logs and grid, and its best-validating snapshot, then the last, up to ``snapshots``."""
    rows = val_rows(run)
    items = common(run, name, tmp)
    if not rows:
        return items
    best = min(rows, key=lambda r: r["delta_e"])
    chosen = [best["step"], rows[-1]["step"]]
    seen = set()
    for step in chosen[:snapshots]:
        if step in seen:
            continue
        seen.add(step)
        src = run / "snapshots" / f"step-{step:06d}.safetensors"
        if src.exists():
            dst = fp16(src, tmp / f"{name}-step-{step:06d}.safetensors")
            items.append((dst, f"{name}/snapshots/step-{step:06d}.safetensors"))
    return items


def previous_snapshot(run: Path, name: str, tmp: Path) -> list[tuple[Path, str]]:
    """The run's second-to-last snapshot in fp16: with model.safetensors (the last one: validate() copies it)
    it gives the average of the last two that the shipped presets use."""
    items = []
    for src in sorted((run / "snapshots").glob("step-*.safetensors"))[-2:-1]:
        items.append((fp16(src, tmp / f"{name}-{src.name}"), f"{name}/snapshots/{src.name}"))
    return items


def main() -> None:
    runs, out = Path(sys.argv[1]), Path(sys.argv[2])
    tmp = runs / "pack-tmp"
    tmp.mkdir(exist_ok=True)
    for name in ("cA", "cB", "cC"):
        if (runs / name).exists():
            try:
                # 5.5 MB a snapshot in fp16: two for cA and cB, one for cC keep $OUT under its 64 MiB
                pack(out / f"{name}.tar", colorize_items(runs / name, name, tmp, snapshots=1 if name == "cC" else 2))
            except Exception as exc:  # keep packing the rest
                print(f"{name}: {exc}", flush=True)
    colorize_items_t, style_items = [], []
    for run in sorted(runs.iterdir()):
        if not run.name.startswith("t-") or not (run / "val.jsonl").exists():
            continue
        try:
            items = [(fp16(run / "model.safetensors", tmp / f"{run.name}.safetensors"), f"{run.name}/model.safetensors")]
            items += common(run, run.name, tmp)
            if run.name not in ("t-cA", "t-cB"):
                items += previous_snapshot(run, run.name, tmp)
        except Exception as exc:  # keep packing the rest
            print(f"{run.name}: {exc}", flush=True)
            continue
        (colorize_items_t if run.name in ("t-cA", "t-cB") else style_items).append(items)
    pack(out / "temporal-colorize.tar", [i for items in colorize_items_t for i in items])
    half = (len(style_items) + 1) // 2  # ~3 MB per preset: two tars
    pack(out / "temporal-style-1.tar", [i for items in style_items[:half] for i in items])
    pack(out / "temporal-style-2.tar", [i for items in style_items[half:] for i in items])
    pack(out / "logs.tar", [(f, f"logs/{f.name}") for f in sorted((runs / "logs").glob("*.log"))])
    total = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(f"{out}: {total / 2**20:.1f} MiB in all{'  OVER THE 64 MiB THE DEVICE TOOL RETURNS' if total > 63 * 2**20 else ''}", flush=True)


if __name__ == "__main__":
    main()
