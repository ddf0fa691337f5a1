"""The engine cache: where built engines live, their keys and the JSON card beside each one.

Directory: ``$FILMGAN_ENGINE_DIR``, else ``engines/`` of a source checkout (the folder with a README beside
the package), else the user cache dir (``$XDG_CACHE_HOME/filmgan/engines``, ``~/.cache/filmgan/engines``).

Key = :meth:`EngineConfig.cache_key` of the build-relevant settings: backend, precision and, as options,
the model's tensor digest, the backend's version, the device (CPU vendor, model and ISA flags; GPU name and
compute capability) and the shape profile. Threads and other run-time settings are not in the key.

Each engine ``<model>.<backend>-<precision>.<key>.<ext>`` has a card ``... .json`` beside it, written last
(its presence means the engine is complete). The card is read *before* an engine is deserialised, so a
plan built for another GPU or TensorRT version is refused with the rebuild command (exit code 4).
Nothing here imports torch or a runtime: versions come from package metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
import importlib
import importlib.util
from importlib import metadata
from pathlib import Path
from typing import Any

from ..backends.base import EngineConfig
from ..card import ModelCard
from ..errors import BackendUnavailableError, CheckpointError, EngineIncompatibleError

ENGINE_DIR_ENV = "FILMGAN_ENGINE_DIR"
CARD_FORMAT = "filmgan-engine"
CARD_VERSION = 1
# pip distribution(s) per backend (the first one installed gives the version) and the extra to install.
DISTRIBUTIONS = {
    "torch": (("torch",), "torch"),
    "ort": (("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino"), "ort"),
    "openvino": (("openvino",), "openvino"),
    "tensorrt": (("tensorrt", "tensorrt-cu12", "tensorrt-cu11", "tensorrt_cu12"), "trt"),
}
MODULES = {"torch": "torch", "ort": "onnxruntime", "openvino": "openvino", "tensorrt": "tensorrt"}
EXTENSIONS = {"ort": ".onnx", "openvino": ".onnx", "tensorrt": ".plan"}
# CPU flags that change which kernels a runtime picks (and hence an engine's speed or numerics).
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
             "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16", "asimd", "sve")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary name, fsync and rename (``filmgan.video.atomic``), replacing an old file."""
    from ..video.atomic import atomic_path

    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_bytes(data)


def engine_dir() -> Path:
    """The engine cache folder (created on first write, not here)."""
    if os.environ.get(ENGINE_DIR_ENV):
        return Path(os.environ[ENGINE_DIR_ENV]).expanduser()
    checkout = Path(__file__).resolve().parents[2] / "engines"
    if (checkout / "README.md").is_file():
        return checkout
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "filmgan" / "engines"


def backend_version(backend: str) -> str:
    """The installed version of a backend's package, without importing it; BackendUnavailableError if absent."""
    dists, extra = DISTRIBUTIONS[backend]
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    # Installed under another distribution name (onnxruntime-directml, a vendor build, a source build on
    # the path): the importable module is what counts. Its version comes from the module itself.
    module = MODULES[backend]
    if importlib.util.find_spec(module) is not None:
        try:
            return str(getattr(importlib.import_module(module), "__version__", "unknown"))
        except Exception as exc:  # noqa: BLE001 -- present but broken: say why
            raise BackendUnavailableError(f"the {backend} backend ({module}) is installed but does not import "
                                          f"({exc.__class__.__name__}: {exc}); reinstall it with: pip install 'filmgan[{extra}]'") from exc
    raise BackendUnavailableError(f"the {backend} backend is not installed; install it with: pip install 'filmgan[{extra}]'")


def backend_installed(backend: str) -> bool:
    try:
        backend_version(backend)
        return True
    except BackendUnavailableError:
        return False


def cpu_descriptor() -> dict[str, Any]:
    """{'kind': 'cpu', 'arch', 'vendor', 'model', 'isa': [flags]} of this machine (Linux: /proc/cpuinfo)."""
    vendor = model = ""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "vendor_id" and not vendor:
                vendor = value.strip()
            elif key == "model name" and not model:
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return {"kind": "cpu", "arch": platform.machine(), "vendor": vendor, "model": model, "isa": [f for f in ISA_FLAGS if f in flags]}


def cpu_key_part(device: dict[str, Any]) -> dict[str, Any]:
    """What of a CPU descriptor goes into a key: architecture and ISA flags (not the model string: the same
    engine serves every CPU with the same instruction set)."""
    return {"kind": "cpu", "arch": device.get("arch"), "isa": list(device.get("isa", []))}


@dataclass(frozen=True)
class EngineKey:
    """Everything that makes two engines different. ``digest`` is the cache key."""

    model_sha256: str
    backend: str
    backend_version: str
    precision: str
    device: dict[str, Any]
    profile: dict[str, Any] | None = None

    @property
    def digest(self) -> str:
        options = {"model": self.model_sha256, "backend_version": self.backend_version, "device": self.device, "profile": self.profile}
        return EngineConfig(backend=self.backend, precision=self.precision, device=self.device.get("kind", "cpu"), options=options).cache_key()


@dataclass
class EngineRecord:
    """An engine in the cache: its file, its card (``card``: the JSON beside it) and the model's card."""

    path: Path
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def card_path(self) -> Path:
        return card_path(self.path)

    @property
    def model_card(self) -> ModelCard:
        return ModelCard.from_dict(self.card["model_card"], where=str(self.card_path))

    def summary(self) -> dict[str, Any]:
        c = self.card
        return {"file": str(self.path), "model": c["model_card"]["name"], "backend": c["backend"], "backend_version": c["backend_version"],
                "precision": c["precision"], "key": c["key"], "device": c["device"], "profile": c.get("profile"), "size": self.path.stat().st_size if self.path.exists() else None,
                "built": c.get("built"), "verify": c.get("verify")}


def card_path(engine_path: Path) -> Path:
    return engine_path.with_suffix(engine_path.suffix + ".json")


def engine_path(folder: Path, model_name: str, key: EngineKey) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in model_name)
    return folder / f"{safe}.{key.backend}-{key.precision}.{key.digest}{EXTENSIONS.get(key.backend, '.bin')}"


def read_record(path: Path) -> EngineRecord:
    """The record of an engine file from its card; CheckpointError if the card is missing or malformed."""
    cpath = card_path(path)
    try:
        card = json.loads(cpath.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"engine {path}: no readable card beside it ({cpath}: {exc})") from exc
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT or "model_card" not in card:
        raise CheckpointError(f"{cpath} is not a filmgan engine card")
    if int(card.get("version", 1)) > CARD_VERSION:
        raise CheckpointError(f"{cpath}: engine card version {card['version']} is newer than this filmgan understands")
    return EngineRecord(path, card)


def find(key: EngineKey, model_name: str, folder: Path | None = None) -> EngineRecord | None:
    """The cached engine for ``key`` (its card present and matching, the file present), or None."""
    path = engine_path(folder or engine_dir(), model_name, key)
    if not path.is_file() or not card_path(path).is_file():
        return None
    try:
        record = read_record(path)
    except CheckpointError:
        return None
    return record if record.card.get("key") == key.digest else None


def write(key: EngineKey, model_card: ModelCard, data: bytes, folder: Path | None = None, **extra: Any) -> EngineRecord:
    """Store an engine and then its card (both via a temporary name and a rename)."""
    folder = folder or engine_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = engine_path(folder, model_card.name, key)
    card = {"format": CARD_FORMAT, "version": CARD_VERSION, "key": key.digest, **{k: v for k, v in asdict(key).items()},
            "file": path.name, "file_sha256": hashlib.sha256(data).hexdigest(), "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "model_card": asdict(model_card), **extra}
    atomic_write_bytes(path, data)
    atomic_write_bytes(card_path(path), json.dumps(card, indent=2, sort_keys=True, default=str).encode())
    return EngineRecord(path, card)


def update_card(record: EngineRecord, **changes: Any) -> None:
    record.card.update(changes)
    atomic_write_bytes(record.card_path, json.dumps(record.card, indent=2, sort_keys=True, default=str).encode())


def list_records(folder: Path | None = None) -> list[EngineRecord]:
    """Every engine in the cache that has a readable card, sorted by file name."""
    folder = folder or engine_dir()
    if not folder.is_dir():
        return []
    out = []
    for cpath in sorted(folder.glob("*.json")):
        path = cpath.with_suffix("")
        try:
            out.append(read_record(path))
        except CheckpointError:
            continue
    return out


def clean(folder: Path | None = None, model: str | None = None, backend: str | None = None) -> list[Path]:
    """Remove cached engines (and their cards, and orphaned temporary files); returns what was removed."""
    folder = folder or engine_dir()
    removed: list[Path] = []
    for record in list_records(folder):
        if (model and record.card["model_card"]["name"] != model) or (backend and record.card["backend"] != backend):
            continue
        for p in (record.path, record.card_path):
            if p.exists():
                p.unlink()
                removed.append(p)
    if folder.is_dir() and not model and not backend:
        for p in folder.glob(".*.partial-*"):
            p.unlink()
            removed.append(p)
    return removed


def check_device(record: EngineRecord, device: dict[str, Any], version: str, rebuild: str) -> None:
    """EngineIncompatibleError (exit 4) unless the engine was built for this device and backend version.

    Read from the card alone, before any deserialisation (a TensorRT plan of another GPU or version can
    crash the runtime instead of failing cleanly)."""
    card = record.card
    built_dev, why = card.get("device", {}), []
    if card.get("backend_version") != version:
        why.append(f"built with {card.get('backend')} {card.get('backend_version')}, this is {version}")
    if device.get("kind") == "gpu":
        for k in ("name", "compute_capability"):
            if built_dev.get(k) != device.get(k):
                why.append(f"built for GPU {built_dev.get('name')} (sm {built_dev.get('compute_capability')}), this is {device.get('name')} (sm {device.get('compute_capability')})")
                break
    elif built_dev.get("isa") is not None and set(built_dev.get("isa", [])) - set(device.get("isa", [])):
        missing = sorted(set(built_dev["isa"]) - set(device.get("isa", [])))
        why.append(f"built for a CPU with {', '.join(missing)}, which this one lacks")
    if why:
        raise EngineIncompatibleError(f"engine {record.path.name} does not fit this machine ({'; '.join(why)}); rebuild it with: {rebuild}")
