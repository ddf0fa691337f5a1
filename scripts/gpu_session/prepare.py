"""Prepare .gpu/ for a GPU training session: photos at short side 360 (JPEG q95; the held-out split left
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
PAINTINGS = ("the_scream", "composition_vii", "shipwreck_of_the_minotaur", "monet_san_giorgio_maggiore_at_dusk", "starry_night", "great_wave")


def main() -> None:
    out = ROOT / ".gpu"
    (out / "stub" / "av").mkdir(parents=True, exist_ok=True)
    (out / "stub" / "av" / "__init__.py").write_text('"""Stub: PyAV is absent on the GPU machine; training reads images only."""\n')
    (out / "styles").mkdir(exist_ok=True)
    for name in PAINTINGS:
        shutil.copyfile(DATA / "styles" / f"{name}.jpg", out / "styles" / f"{name}.jpg")  # byte copies: cards check their sha256
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
            s = 360 / min(h, w)
            if s < 1:
                img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
            dst = out / ("validation" if f.resolve() in validation else "photos") / folder.name / f"{f.stem}.jpg"
            dst.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(dst), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            count += 1
    print(f"{count} photos in {out / 'photos'}")


if __name__ == "__main__":
    main()
