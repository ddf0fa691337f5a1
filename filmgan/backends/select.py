"""Which engine runs a model: the ``--backend auto`` choice, forced backends, and opening cached engines.

``auto``: a TensorRT plan for this GPU if one is cached (or ``options['build_missing']``); else the first
CPU backend of :data:`CPU_PREFERENCE` that is installed and has an engine for the model (cached, or the
fp32 ONNX shipped in the package), skipping engines whose verification failed; else torch. A forced backend
that is not installed raises BackendUnavailableError (exit 3) naming the extra; a forced backend without an
engine for the model raises ModelUnavailableError with the build command, unless ``build_missing``.
An engine built for another GPU or TensorRT version is refused from its card, before deserialisation (exit 4).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BackendUnavailableError, ConfigError, EngineIncompatibleError, ModelUnavailableError
from .base import Engine, EngineConfig

# Fastest first, measured at 720p on the project's 2-core Zen 3 CPUs (scripts/bench_backends.py, README).
CPU_PREFERENCE = ("openvino", "ort")


def _precision(backend: str, precision: str) -> str:
    if precision == "auto":
        return "fp32"
    allowed = {"ort": ("fp32", "int8"), "openvino": ("fp32", "int8"), "tensorrt": ("fp32", "fp16")}[backend]
    if precision not in allowed:
        raise ConfigError(f"the {backend} backend runs {' or '.join(allowed)}, not {precision}")
    return precision


def open_record(record, threads: int = 0, device: str = "auto", options: dict | None = None) -> Engine:
    """Open a cached engine (EngineRecord) or an ONNX file (Path, as ORT fp32) with its backend."""
    from ..export.cache import EngineRecord

    if not isinstance(record, EngineRecord):
        backend = (options or {}).get("backend", "ort")
        return _open(backend, Path(record), "fp32", threads, device, options)
    backend = (options or {}).get("backend") or record.card["backend"]  # ORT and OpenVINO run the same ONNX engines
    if backend != record.card["backend"] and {backend, record.card["backend"]} != {"ort", "openvino"}:
        raise ConfigError(f"a {record.card['backend']} engine cannot run on {backend}")
    return _open(backend, record.path, record.card["precision"], threads, device, options, record)


def _open(backend: str, path: Path, precision: str, threads: int, device: str, options: dict | None, record=None) -> Engine:
    options = {k: v for k, v in (options or {}).items() if k not in ("backend", "build_missing")}
    if backend == "ort":
        from .onnxrt import OrtEngine

        return OrtEngine(path, threads=threads, device=device, precision=precision, options=options)
    if backend == "openvino":
        from .openvino import OpenVinoEngine

        return OpenVinoEngine(path, threads=threads, device="cpu" if device == "auto" else device, precision=precision, options=options)
    if backend == "tensorrt":
        from .tensorrt import TensorRTEngine

        return TensorRTEngine(record, device=device)
    raise ConfigError(f"no engine runner for backend '{backend}'")


def _rebuild_command(model_path: Path, backend: str, precision: str) -> str:
    return f"filmgan engine build --model {model_path} --backend {backend} --precision {precision}"


def _engine_for(model_path: Path, backend: str, precision: str, build_missing: bool):
    """A cached/shipped engine for a forced backend, built if ``build_missing``; else ModelUnavailableError."""
    from ..export import build as builder, cache

    cache.backend_version(backend)  # BackendUnavailableError (exit 3) naming the extra
    found = builder.find_engine(model_path, backend, precision)
    if found is not None:
        return found
    if backend == "tensorrt":
        _refuse_foreign_plans(model_path, precision)
    if build_missing:
        return builder.build(model_path, backend, precision)[0]
    raise ModelUnavailableError(f"no {backend} {precision} engine of {model_path.name} is built; build it once with: "
                                f"{_rebuild_command(model_path, backend, precision)}")


def _refuse_foreign_plans(model_path: Path, precision: str) -> None:
    """EngineIncompatibleError if the cache holds plans of this model only for other GPUs / TensorRT versions."""
    from ..export import build as builder, cache

    card = builder.model_card(model_path)
    device, version = builder.device_for("tensorrt"), cache.backend_version("tensorrt")
    for record in cache.list_records():
        c = record.card
        if c["backend"] == "tensorrt" and c["model_sha256"] == card.extra.get("sha256") and c["precision"] == precision:
            cache.check_device(record, device, version, _rebuild_command(model_path, "tensorrt", precision))


def _gpu_present() -> bool:
    from ..export import cache

    if not cache.backend_installed("tensorrt"):
        return False
    try:
        from ..export.tensorrt import gpu_descriptor

        gpu_descriptor()
        return True
    except (BackendUnavailableError, EngineIncompatibleError):
        return False


def choose(model_path: Path, config: EngineConfig):
    """(backend, engine record / shipped ONNX path / None for torch, precision) for ``config``."""
    from ..export import build as builder, cache

    build_missing = bool(config.options.get("build_missing"))
    if config.backend not in ("auto", "torch"):
        precision = _precision(config.backend, config.precision)
        return config.backend, _engine_for(model_path, config.backend, precision, build_missing), precision
    if config.backend == "torch" or config.precision in ("bf16",) or config.compile:
        return "torch", None, config.precision
    if config.device in ("auto", "cuda") and config.precision in ("auto", "fp16", "fp32") and _gpu_present():
        precision = "fp16" if config.precision == "auto" else config.precision
        found = builder.find_engine(model_path, "tensorrt", precision)
        if found is None and build_missing:
            found = builder.build(model_path, "tensorrt", precision)[0]
        if found is not None:
            return "tensorrt", found, precision
    if config.device in ("auto", "cpu") and config.precision in ("auto", "fp32", "int8"):
        precision = "fp32" if config.precision == "auto" else config.precision
        for backend in CPU_PREFERENCE:
            if not cache.backend_installed(backend):
                continue
            found = builder.find_engine(model_path, backend, precision)
            if found is None and build_missing:
                found = builder.build(model_path, backend, precision)[0]
            verified = getattr(found, "card", {}).get("verify", {"ok": True})
            if found is not None and verified.get("ok", True):
                return backend, found, precision
    if cache.backend_installed("torch") and config.precision != "int8":
        return "torch", None, config.precision
    raise BackendUnavailableError(f"no installed backend can run {model_path.name}: install torch (pip install 'filmgan[torch]'), or "
                                  f"onnxruntime / openvino (pip install 'filmgan[ort]') with an engine: {_rebuild_command(model_path, 'ort', 'fp32')}")


def load_engine(model_path: str | Path, config: EngineConfig | None = None, task: str | None = None) -> Engine:
    """An engine for a model file (.safetensors, or an exported .onnx), as ``config`` says (see the module
    docstring). Use it as a context manager (``with load_engine(...) as engine:``) to release it."""
    from ..errors import CheckpointError

    config = config or EngineConfig()
    path = Path(model_path)
    if path.suffix == ".plan":
        from ..export import build as builder, cache

        record = cache.read_record(path)
        version = cache.backend_version("tensorrt")
        cache.check_device(record, builder.device_for("tensorrt"), version, f"filmgan engine build --model {record.card.get('source', 'MODEL')} --backend tensorrt")
        engine = open_record(record, config.threads, config.device)
    elif path.suffix == ".onnx":
        backend = config.backend if config.backend in ("ort", "openvino") else None
        if backend is None:
            from ..export import cache

            backend = next((b for b in CPU_PREFERENCE if cache.backend_installed(b)), "ort")
        engine = _open(backend, path, _precision(backend, config.precision), config.threads, config.device, config.options)
    else:
        backend, found, precision = choose(path, config)
        if backend == "torch":
            from .torch_backend import TorchEngine

            return TorchEngine.from_config(path, config, task=task)
        engine = open_record(found, config.threads, config.device, {**config.options, "backend": backend})
    if task is not None and engine.card.task not in (task, "multitask"):
        engine.close()
        raise CheckpointError(f"{path} is a '{engine.card.task}' model, not a '{task}' model")
    return engine
