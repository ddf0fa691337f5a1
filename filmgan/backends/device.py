"""Device and precision helpers of the torch backend (the trainer uses them too; they live with the runtime).

``precision`` is one of :data:`filmgan.backends.base.PRECISIONS`; ``auto`` means bf16 on CUDA GPUs that
support it (else fp16) and on CPUs with native bf16 (AMX or AVX512-BF16), fp32 on other CPUs.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ConfigError
from .base import check_precision


def pick_device(name: str) -> torch.device:
    """``auto``: the CUDA GPU when there is one, else the CPU; any other name as torch spells it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """True on CPUs with native bf16 (AMX or AVX512-BF16), where bf16 autocast is fast."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``precision`` on ``device`` (None: fp32, no autocast)."""
    check_precision(precision)
    if precision == "int8":
        raise ConfigError("int8 runs on quantised engines (--backend ort or openvino, after 'filmgan engine build --precision int8'), not on torch")
    if precision == "fp32":
        return None
    if precision in ("bf16", "fp16"):
        return torch.bfloat16 if precision == "bf16" else torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_bf16() else None


def precision_name(dtype: torch.dtype | None) -> str:
    """What actually runs for an autocast dtype: fp32 | bf16 | fp16."""
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
