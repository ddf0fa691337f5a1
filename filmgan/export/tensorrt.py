"""TensorRT plans built from the exported ONNX with the TensorRT Python API (TensorRT >= 10).

* FP16 (``BuilderFlag.FP16``) with normalisation pinned to fp32 (layer precision and output types, and
  ``OBEY_PRECISION_CONSTRAINTS``): instance/group normalisation reduces over a whole image, and in fp16 its
  sums overflow into garbage. The colorizer's softmax over ab bins and the reductions stay fp32 too.
* One optimisation profile min/opt/max over (N, C, H, W) (:func:`trt_profile`), a workspace limit, and a
  timing cache per GPU and TensorRT version in the engine folder, so rebuilds skip kernel timing.
* The plan's card records GPU name, compute capability and TensorRT version; loading checks them before
  deserialising (filmgan.export.cache.check_device).

TensorRT cannot be installed on the project's CPU machines: the builder and the runner are written against
the real API and tested where TensorRT and a GPU exist (pytest marker ``trt``); the pure parts (profiles,
precision policy, descriptors, card checks) are tested everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..card import ModelCard
from ..errors import BackendUnavailableError, CheckpointError, require
from .onnx import with_float_initializers

WORKSPACE_BYTES = 2 << 30
# Layer types / ONNX op names kept in fp32 in an fp16 plan.
FP32_LAYER_TYPES = ("NORMALIZATION", "REDUCE", "SOFTMAX")
FP32_NAME_HINTS = ("InstanceNormalization", "GroupNormalization", "LayerNormalization", "ReduceMean", "Softmax", "Einsum")
DEFAULT_MAX = (1088, 1920)  # (h, w) largest frame of a dynamic profile: 1080p, aligned


def cudart():
    """The CUDA runtime bindings of cuda-python (``cuda.bindings.runtime``, or ``cuda.cudart`` before 12.6)."""
    try:
        from cuda.bindings import runtime  # type: ignore

        return runtime
    except ImportError:
        pass
    try:
        from cuda import cudart as runtime  # type: ignore

        return runtime
    except ImportError as exc:
        raise BackendUnavailableError(f"cuda-python is not installed ({exc}); install it with: pip install 'filmgan[trt]'") from exc


def check_cuda(result):
    """Unwrap a cuda-python call's (err, *values); raise on an error code."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise BackendUnavailableError(f"CUDA call failed: {err}")
    return values[0] if len(values) == 1 else tuple(values)


def gpu_descriptor(index: int = 0) -> dict[str, Any]:
    """{'kind': 'gpu', 'name', 'compute_capability', 'memory'} of CUDA device ``index``."""
    rt = cudart()
    count = check_cuda(rt.cudaGetDeviceCount())
    if count <= index:
        raise BackendUnavailableError("no CUDA GPU is visible; TensorRT engines need one")
    props = check_cuda(rt.cudaGetDeviceProperties(index))
    name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
    return {"kind": "gpu", "name": name.rstrip("\x00").strip(), "compute_capability": f"{props.major}.{props.minor}", "memory": int(props.totalGlobalMem)}


def keeps_fp32(layer_type: str, layer_name: str) -> bool:
    """True for the layers an fp16 plan pins to fp32: normalisation, reductions, softmax (by type or by the
    ONNX node name TensorRT keeps in the layer name)."""
    return layer_type.rsplit(".", 1)[-1] in FP32_LAYER_TYPES or any(h in layer_name for h in FP32_NAME_HINTS)


def trt_profile(card: ModelCard, profile) -> dict[str, tuple[int, int, int, int]]:
    """min/opt/max (N, C, H, W) for a :class:`~filmgan.export.build.Profile` (already aligned). A dynamic
    profile spans one aligned block up to 1080p, optimised for the model's internal size at 16:9."""
    align = int(card.extra.get("input_spec", {}).get("alignment", 1))
    c = 1 if card.color_space == "lab" else 3
    if profile.dynamic:
        short = card.internal_size or 256
        up = lambda v: -(-v // align) * align  # noqa: E731
        lo, opt, hi = (align, align), (up(short), up(short * 16 // 9)), tuple(v // align * align for v in DEFAULT_MAX)
    else:
        lo, opt, hi = tuple(profile.min), tuple(profile.opt), tuple(profile.max)
    n = max(1, int(profile.max_batch))
    return {"min": (1, c, *lo), "opt": (1, c, *opt), "max": (n, c, *hi)}


def build_plan(data: bytes, card: ModelCard, precision: str, profile, folder: Path) -> tuple[bytes, dict[str, Any]]:
    """A serialised plan of the ONNX ``data`` for this GPU, and a report for the engine card."""
    trt = require("tensorrt", "trt")
    gpu = gpu_descriptor()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    data = with_float_initializers(data)  # weights stored as fp16 + Cast become plain fp32 weights again (the trt extra has onnx)
    if not parser.parse(data):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise CheckpointError(f"TensorRT cannot parse the ONNX of {card.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    pinned = []
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        for i in range(network.num_layers):
            layer = network.get_layer(i)
            if keeps_fp32(str(layer.type), layer.name):
                layer.precision = trt.float32
                for j in range(layer.num_outputs):
                    layer.set_output_type(j, trt.float32)
                pinned.append(layer.name)
    shapes = trt_profile(card, profile)
    opt_profile = builder.create_optimization_profile()
    opt_profile.set_shape(network.get_input(0).name, shapes["min"], shapes["opt"], shapes["max"])
    config.add_optimization_profile(opt_profile)
    cache_file = Path(folder) / f"tensorrt-timing.{gpu['name'].replace(' ', '_')}-sm{gpu['compute_capability']}-{trt.__version__}.cache"
    timing = config.create_timing_cache(cache_file.read_bytes() if cache_file.is_file() else b"")
    config.set_timing_cache(timing, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise CheckpointError(f"TensorRT failed to build a plan of {card.name} (see the TensorRT log above)")
    Path(folder).mkdir(parents=True, exist_ok=True)
    cache_file.write_bytes(bytes(memoryview(config.get_timing_cache().serialize())))
    report = {"tensorrt": trt.__version__, "gpu": gpu, "precision": precision, "fp32_layers": pinned, "profile": {k: list(v) for k, v in shapes.items()},
              "workspace_bytes": WORKSPACE_BYTES, "timing_cache": cache_file.name}
    return bytes(memoryview(plan)), report
