"""Prepare .gpu/ for a GPU training session: the training and validation photos (the held-out split left out:
bsds500_test and every tenth file of each new set, ``filmgan.train.splits``; the validation files go to
.gpu/validation), the paintings, the ImageNet MobileNetV2 TFLite file, a stub ``av`` package (training reads
images only) and a copy of the pure-Python ``tflite`` package (the GPU image has flatbuffers but not tflite),
both in .gpu/stub, which ``train_all.py`` puts on the path.

The device tool carries the whole working tree, the project's tracked files included, in 64 MiB. The photos
take what the tree leaves: the first of ENCODINGS (short side, format, quality) whose size, estimated on a
sample of the photos, fits; it is written to ``.gpu/prepared.json`` for ``train_all.py`` (load size, crops).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from filmgan.train import splits  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
ENCODINGS = ((288, ".jpg", 85), (256, ".jpg", 85), (224, ".webp", 80), (192, ".webp", 80), (192, ".webp", 70), (160, ".webp", 70))
CARRY_LIMIT = 62 * 2**20  # the device tool's 64 MiB, less a margin
PAINTINGS = ("the_scream.jpg", "composition_vii.jpg", "shipwreck_of_the_minotaur.jpg", "monet_san_giorgio_maggiore_at_dusk.jpg", "starry_night.jpg",
             "great_wave.jpg", "van_gogh_starry_night_over_the_rhone.png", "gauguin_te_fare.jpg")


def main() -> None:
    out = ROOT / ".gpu"
    (out / "stub" / "av").mkdir(parents=True, exist_ok=True)
    (out / "stub" / "av" / "__init__.py").write_text('"""Stub: PyAV is absent on the GPU machine; training reads images only."""\n'
                                                     "FILMGAN_STAND_IN = True  # filmgan.video.images.check_jpeg stands down for it\n")
    import tflite  # pure Python, absent from the GPU image: the MobileNetV2 weights are read with it

    shutil.copytree(Path(tflite.__file__).parent, out / "stub" / "tflite", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    (out / "styles").mkdir(exist_ok=True)
    for name in PAINTINGS:
        shutil.copyfile(DATA / "styles" / name, out / "styles" / name)  # byte copies: cards check their sha256
    (out / "weights").mkdir(exist_ok=True)
    shutil.copyfile(DATA / "weights" / "mobilenet_v2_1.0_224_quant.tflite", out / "weights" / "mobilenet_v2_1.0_224_quant.tflite")
    held = {p.resolve() for part in splits.held_out(DATA / "photos").values() for p in part}
    validation = {p.resolve() for p in splits.validation(DATA / "photos")}
    files = [f for folder in sorted((DATA / "photos").iterdir()) for f in sorted(folder.iterdir()) if f.resolve() not in held]
    for stale in ("photos", "validation"):  # a rerun with another encoding or split must not mix with the last one
        shutil.rmtree(out / stale, ignore_errors=True)
    tree = tracked_bytes()
    budget = CARRY_LIMIT - tree - folder_bytes(out, skip=("photos", "validation"))
    side, ext, quality = choose_encoding(files, budget)
    count = 0
    for f in files:
        img = downscaled(f, side)
        if img is None:
            continue
        dst = out / ("validation" if f.resolve() in validation else "photos") / f.parent.name / f"{f.stem}{ext}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(dst), img, encode_flags(ext, quality))
        count += 1
    (out / "prepared.json").write_text(json.dumps({"short_side": side, "format": ext, "quality": quality, "photos": count}) + "\n")
    size = folder_bytes(out)
    print(f"{count} photos at short side {side} in {out}: {size / 2**20:.1f} MiB, with the tracked tree {(size + tree) / 2**20:.1f} MiB")
    if size + tree > CARRY_LIMIT:
        sys.exit(f"{out} and the tracked files come to {(size + tree) / 2**20:.1f} MiB: over what the device tool carries (64 MiB)")


def tracked_bytes() -> int:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / n.decode()).stat().st_size for n in names if n and (ROOT / n.decode()).is_file())


def folder_bytes(folder: Path, skip: tuple[str, ...] = ()) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and f.relative_to(folder).parts[0] not in skip)


def downscaled(path: Path, side: int):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return None
    h, w = img.shape[:2]
    s = side / min(h, w)
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else img


def encode_flags(ext: str, quality: int) -> list[int]:
    return [cv2.IMWRITE_JPEG_QUALITY if ext == ".jpg" else cv2.IMWRITE_WEBP_QUALITY, quality]


def choose_encoding(files: list[Path], budget: int) -> tuple[int, str, int]:
    """The first of ENCODINGS whose size, estimated on every 20th photo, fits ``budget`` bytes."""
    sample = files[::20]
    for side, ext, quality in ENCODINGS:
        images = (img for img in (downscaled(f, side) for f in sample) if img is not None)
        est = sum(len(cv2.imencode(ext, img, encode_flags(ext, quality))[1]) for img in images) * len(files) / len(sample)
        if est * 1.05 <= budget:
            return side, ext, quality
    sys.exit(f"the photos do not fit the {budget / 2**20:.1f} MiB the tracked tree leaves, even as {ENCODINGS[-1]}")


if __name__ == "__main__":
    main()
