"""Prepare .gpu/ for a GPU training session: photos at short side 288 (JPEG q85; the held-out split left
out: bsds500_test and every tenth file of each new set, ``filmgan.train.splits``; the validation files go to
.gpu/validation), the paintings, the ImageNet MobileNetV2 TFLite file, and a stub ``av`` package (training
reads images only). Photos of the new sets are 320 px already; the whole folder stays under 64 MiB."""

import shutil
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from filmgan.train import splits  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SHORT_SIDE, QUALITY = 288, 85  # the device tool carries at most 64 MiB in all
PAINTINGS = ("the_scream.jpg", "composition_vii.jpg", "shipwreck_of_the_minotaur.jpg", "monet_san_giorgio_maggiore_at_dusk.jpg", "starry_night.jpg",
             "great_wave.jpg", "van_gogh_starry_night_over_the_rhone.png", "gauguin_te_fare.jpg")


def main() -> None:
    out = ROOT / ".gpu"
    (out / "stub" / "av").mkdir(parents=True, exist_ok=True)
    (out / "stub" / "av" / "__init__.py").write_text('"""Stub: PyAV is absent on the GPU machine; training reads images only."""\n')
    (out / "styles").mkdir(exist_ok=True)
    for name in PAINTINGS:
        shutil.copyfile(DATA / "styles" / name, out / "styles" / name)  # byte copies: cards check their sha256
    (out / "weights").mkdir(exist_ok=True)
    shutil.copyfile(DATA / "weights" / "mobilenet_v2_1.0_224_quant.tflite", out / "weights" / "mobilenet_v2_1.0_224_quant.tflite")
    held = {p.resolve() for part in splits.held_out(DATA / "photos").values() for p in part}
    validation = {p.resolve() for p in splits.validation(DATA / "photos")}
    count = 0
    for folder in sorted((DATA / "photos").iterdir()):
        for f in sorted(folder.iterdir()):
            if f.resolve() in held:
                continue
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is None:
                continue
            h, w = img.shape[:2]
            s = SHORT_SIDE / min(h, w)
            if s < 1:
                img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
            dst = out / ("validation" if f.resolve() in validation else "photos") / folder.name / f"{f.stem}.jpg"
            dst.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(dst), img, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
            count += 1
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{count} photos in {out / 'photos'}; {size / 2**20:.1f} MiB in {out}")
    if size > 62 * 2**20:
        sys.exit(f"{out} is {size / 2**20:.1f} MiB: over what the device tool carries (64 MiB); lower SHORT_SIDE or QUALITY")


if __name__ == "__main__":
    main()
