"""TensorRT: the parts that need no TensorRT (profiles, the fp32 policy of fp16 plans, cards) run here; the
plan build and the runner need TensorRT, cuda-python and a GPU (marker ``trt``; none on the project's CPU
machines, so they are skipped there and never faked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from filmgan.card import read_card
from filmgan.export import cache
from filmgan.export.build import Profile
from filmgan.export.tensorrt import keeps_fp32, trt_profile

WEIGHTS = Path(__file__).resolve().parents[1] / "filmgan" / "weights"
HAVE_TRT = cache.backend_installed("tensorrt")


def test_dynamic_profile_spans_one_block_to_1080p_optimised_at_the_internal_size():
    style = read_card(WEIGHTS / "style-the-scream.safetensors").with_updates(extra={"input_spec": {"alignment": 8}})
    shapes = trt_profile(style, Profile())
    assert shapes == {"min": (1, 3, 8, 8), "opt": (1, 3, 360, 640), "max": (1, 3, 1088, 1920)}
    colour = read_card(WEIGHTS / "colorize-v5.safetensors").with_updates(extra={"input_spec": {"alignment": 16}})
    fixed = trt_profile(colour, Profile.parse(profile="448x256:448x256:896x512", max_batch=4).aligned(16))
    assert fixed == {"min": (1, 1, 256, 448), "opt": (1, 1, 256, 448), "max": (4, 1, 512, 896)}


def test_fp16_plans_keep_normalisation_reductions_and_softmax_in_fp32():
    assert keeps_fp32("LayerType.NORMALIZATION", "/encode/encode.0/norm/InstanceNormalization")
    assert keeps_fp32("LayerType.REDUCE", "/context/ReduceMean")
    assert keeps_fp32("LayerType.PLUGIN_V2", "/ups.0/conv/GroupNormalization")
    assert keeps_fp32("LayerType.SOFTMAX", "/Softmax")
    assert not keeps_fp32("LayerType.CONVOLUTION", "/encode/encode.0/Conv")
    assert not keeps_fp32("LayerType.ACTIVATION", "/Relu")


@pytest.mark.trt
@pytest.mark.skipif(not HAVE_TRT, reason="TensorRT is not installed (it cannot be on the project's CPU machines)")
def test_fp16_plan_builds_caches_and_matches_torch(tmp_path, monkeypatch):
    from filmgan.backends import EngineConfig, load_engine
    from filmgan.export.build import build
    from filmgan.export.onnx import compare, output_peak, sample_input

    monkeypatch.setenv(cache.ENGINE_DIR_ENV, str(tmp_path))
    path = WEIGHTS / "style-the-scream.safetensors"
    record, built = build(path, "tensorrt", "fp16", Profile.parse(profile="64x64:640x360:1280x720", max_batch=2))
    assert built and record.card["device"]["kind"] == "gpu" and record.card["tensorrt"]["fp32_layers"]
    assert not build(path, "tensorrt", "fp16", Profile.parse(profile="64x64:640x360:1280x720", max_batch=2))[1]
    fp32 = load_engine(path, EngineConfig(backend="ort", precision="fp32"))
    with load_engine(path, EngineConfig(backend="tensorrt", precision="fp16")) as engine:
        x = sample_input(fp32.card, 2, 360, 640)
        slot_a, slot_b = engine.submit(x[:1]), engine.submit(x[1:])  # double buffering: two in flight
        out = np.concatenate([engine.collect(slot_a), engine.collect(slot_b)])
        assert compare(fp32.run(x), out, output_peak(fp32.card))["psnr"] >= 40
