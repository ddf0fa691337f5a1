"""The project's fixed photo splits: what is held out, what selects models, what trains.

Held out (never trained on, never used for any choice; reported part by part):
* ``bsds500_test``, whole;
* every tenth file, by sorted name, of each photo set added in the second data gathering
  (positions 10, 20, 30, ... counted from 1).
Validation (selection of snapshots, gains, presets): the files at positions 5, 15, 25, ... of those sets.
Training: everything else under ``photos/``.
"""

from __future__ import annotations

from pathlib import Path

from ..video.images import IMAGE_EXTENSIONS

HELD_OUT_SETS = ("bsds500_test",)
TENTH_SETS = ("imagenet_sample", "intel_scenes", "utkface_faces", "coco128", "stargan_v2_faces_animals")
HELD_OUT_POSITION, VALIDATION_POSITION = 9, 4  # index modulo 10 in the sorted file list


def set_files(folder: Path) -> list[Path]:
    """The images of one photo set, sorted by file name."""
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS), key=lambda p: p.name)


def held_out(photos: str | Path) -> dict[str, list[Path]]:
    """Held-out files per part: {'bsds500_test': [...], 'imagenet_sample': [...], ...} (parts that exist)."""
    photos = Path(photos)
    parts = {name: set_files(photos / name) for name in HELD_OUT_SETS if (photos / name).is_dir()}
    parts.update({name: set_files(photos / name)[HELD_OUT_POSITION::10] for name in TENTH_SETS if (photos / name).is_dir()})
    return parts


def validation(photos: str | Path) -> list[Path]:
    """The validation files (positions 5, 15, ... of each new set): for choices, never for training."""
    photos = Path(photos)
    return [p for name in TENTH_SETS if (photos / name).is_dir() for p in set_files(photos / name)[VALIDATION_POSITION::10]]


def excluded_from_training(photos: str | Path) -> list[Path]:
    """Everything training must not see: the held-out parts and the validation files."""
    photos = Path(photos)
    whole = [photos / name for name in HELD_OUT_SETS if (photos / name).is_dir()]
    tenths = [p for name, files in held_out(photos).items() if name not in HELD_OUT_SETS for p in files]
    return [*whole, *tenths, *validation(photos)]
