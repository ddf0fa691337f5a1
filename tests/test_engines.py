"""Engines: the shipped ONNX files, ORT / OpenVINO parity with torch on every shipped model, the cache
(keys, cards, no-op rebuilds, list/verify/clean), backend selection and its exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from filmgan.backends import EngineConfig, load_engine
from filmgan.backends.select import CPU_PREFERENCE
from filmgan.card import read_card
from filmgan.cli import main
from filmgan.errors import BackendUnavailableError, ConfigError, EngineIncompatibleError, ModelUnavailableError
from filmgan.export import build as builder, cache
from filmgan.export.onnx import compare, output_peak, sample_input

WEIGHTS = Path(__file__).resolve().parents[1] / "filmgan" / "weights"
SHIPPED = sorted(WEIGHTS.glob("*.safetensors"))
CPU = [b for b in ("ort", "openvino") if cache.backend_installed(b)]


@pytest.fixture
def engine_dir(tmp_path, monkeypatch):
    folder = tmp_path / "engines"
    monkeypatch.setenv(cache.ENGINE_DIR_ENV, str(folder))
    return folder


def test_every_shipped_model_ships_a_current_onnx():
    assert SHIPPED
    for path in SHIPPED:
        card = read_card(path)
        assert builder.shipped_onnx(card) is not None, f"{card.name}: run scripts/export_shipped.py"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_cpu_backends_match_torch_on_every_shipped_model(path):
    torch = pytest.importorskip("torch")
    from filmgan.models.checkpoint import load_model

    model, card = load_model(path)
    model = model.float().eval()
    assert CPU, "neither onnxruntime nor openvino is installed"
    for backend in CPU:
        with load_engine(path, EngineConfig(backend=backend, precision="fp32")) as engine:
            assert engine.name == backend and engine.precision == "fp32"
            align = engine.input_spec.alignment
            for i, (h, w) in enumerate([(align * 4, align * 7), (align * 6, align * 5)]):
                x = sample_input(card, 1, h, w, seed=i)
                with torch.no_grad():
                    ref = model(torch.from_numpy(x)).numpy()
                got = compare(ref, engine.run(x), output_peak(card))
                assert got["max_abs"] <= 1e-3 and got["psnr"] >= 50, (backend, got)


def test_auto_picks_the_preferred_cpu_backend_for_shipped_models_and_torch_for_others(tmp_path, engine_dir):
    path = WEIGHTS / "style-the-scream.safetensors"
    with load_engine(path, EngineConfig(), task="style") as engine:
        assert engine.name == next(b for b in CPU_PREFERENCE if b in CPU)
    with pytest.raises(Exception, match="not a 'colorize' model"):
        load_engine(path, EngineConfig(), task="colorize")
    tiny = tiny_model(tmp_path)
    pytest.importorskip("torch")
    with load_engine(tiny, EngineConfig()) as engine:  # no engine for it: torch, no silent export
        assert engine.name == "torch"
    assert not engine_dir.exists()


def tiny_model(tmp_path):
    torch = pytest.importorskip("torch")
    from filmgan.card import ModelCard
    from filmgan.models.checkpoint import save_model
    from filmgan.models.stylenet import StyleNet

    torch.manual_seed(0)
    model = StyleNet((4, 8, 8), blocks=1, stem_kernel=3).eval()
    path = tmp_path / "tiny-style.safetensors"
    save_model(path, model, ModelCard(name="tiny-style", task="style", arch=model.ARCH, args=model.args, color_space="rgb", io={}, internal_size=64))
    return path


def test_forced_backend_without_an_engine_names_the_build_command_and_builds_when_asked(tmp_path, engine_dir):
    tiny = tiny_model(tmp_path)
    with pytest.raises(ModelUnavailableError, match="filmgan engine build --model") as info:
        load_engine(tiny, EngineConfig(backend="ort"))
    assert info.value.exit_code == 6
    with load_engine(tiny, EngineConfig(backend="ort", options={"build_missing": True})) as engine:
        assert engine.name == "ort"
    [record] = cache.list_records()
    assert record.card["backend"] == "ort" and record.card["model_card"]["name"] == "tiny-style"
    assert record.card["export_parity"] and all(r["max_abs"] <= 1e-3 for r in record.card["export_parity"].values())
    with load_engine(tiny, EngineConfig(backend="auto")) as engine:  # now cached: auto takes it
        assert engine.name in CPU


def test_missing_backend_is_exit_3_naming_the_extra(monkeypatch):
    real = cache.backend_version

    def fake(backend):
        if backend == "openvino":
            raise BackendUnavailableError("the openvino backend is not installed; install it with: pip install 'filmgan[openvino]'")
        return real(backend)

    monkeypatch.setattr(cache, "backend_version", fake)
    with pytest.raises(BackendUnavailableError, match=r"filmgan\[openvino\]") as info:
        load_engine(WEIGHTS / "style-the-scream.safetensors", EngineConfig(backend="openvino"))
    assert info.value.exit_code == 3
    with pytest.raises(BackendUnavailableError, match=r"filmgan\[trt\]"):
        load_engine(WEIGHTS / "style-the-scream.safetensors", EngineConfig(backend="tensorrt"))
    with pytest.raises(ConfigError, match="not bf16"):
        load_engine(WEIGHTS / "style-the-scream.safetensors", EngineConfig(backend="ort", precision="bf16"))


def test_keys_separate_what_changes_an_engine():
    card = read_card(WEIGHTS / "style-the-scream.safetensors")
    base = builder.key_for(card, "ort", "fp32")
    assert base.digest == builder.key_for(card, "ort", "fp32").digest
    others = [builder.key_for(card, "openvino", "fp32"), builder.key_for(card, "ort", "int8"),
              builder.key_for(card, "ort", "fp32", builder.Profile.parse(shape="640x360")),
              builder.key_for(card, "ort", "fp32", device={**cache.cpu_descriptor(), "isa": ["avx512f"]}),
              builder.key_for(read_card(WEIGHTS / "style-great-wave.safetensors"), "ort", "fp32")]
    assert len({base.digest, *(k.digest for k in others)}) == 6
    assert base.backend_version == cache.backend_version("ort") and "avx2" in base.device["isa"] or "avx2" not in cache.cpu_descriptor()["isa"]


def test_profiles_parse_and_align():
    assert builder.Profile.parse().dynamic and builder.Profile.parse().to_dict() is None
    p = builder.Profile.parse(profile="100x60:640x360:1290x730", max_batch=2).aligned(16)
    assert (p.min, p.opt, p.max, p.max_batch) == ((64, 112), (368, 640), (720, 1280), 2)
    for bad in (dict(shape="64"), dict(profile="64x64:32x32:128x128"), dict(shape="64x64", profile="1x1:2x2:3x3")):
        with pytest.raises(ConfigError):
            builder.Profile.parse(**bad)
    with pytest.raises(ConfigError, match="alignment"):
        builder.Profile.parse(shape="20x20").aligned(32)


def test_build_is_cached_then_a_fast_no_op_and_the_card_describes_it(engine_dir):
    path = WEIGHTS / "style-the-scream.safetensors"
    record, built = builder.build(path, "ort", "fp32", builder.Profile.parse(shape="128x72"))
    assert built and record.path.is_file() and record.card_path.is_file()
    c = record.card
    assert c["backend"] == "ort" and c["precision"] == "fp32" and c["model_sha256"] == read_card(path).extra["sha256"]
    assert c["device"]["kind"] == "cpu" and c["profile"]["max"] == [72, 128] and c["key"] in record.path.name
    started = time.perf_counter()
    again, built_again = builder.build(path, "ort", "fp32", builder.Profile.parse(shape="128x72"))
    assert not built_again and again.path == record.path and time.perf_counter() - started <= 1.0
    with load_engine(record.path.with_suffix(".onnx"), EngineConfig(backend="ort")) as engine:
        assert engine.input_spec.max_shape == (72, 128) and not engine.input_spec.dynamic
        assert engine.run(np.zeros((1, 3, 72, 128), np.float32)).shape == (1, 3, 72, 128)


def test_engine_cli_build_list_verify_clean(engine_dir):
    runner = CliRunner()
    result = runner.invoke(main, ["engine", "build", "--preset", "the-scream", "--backend", CPU[0], "--json"])
    assert result.exit_code == 0, result.output
    [info] = json.loads(result.output.strip().splitlines()[-1])["engines"]
    assert info["built_now"] and info["verify"]["ok"] and info["verify"]["max_abs"] <= 1e-3
    started = time.perf_counter()
    result = runner.invoke(main, ["engine", "build", "--preset", "the-scream", "--backend", CPU[0], "--json"])
    assert result.exit_code == 0 and not json.loads(result.output.strip().splitlines()[-1])["engines"][0]["built_now"]
    assert time.perf_counter() - started <= 1.0
    listed = json.loads(runner.invoke(main, ["engine", "list", "--json"]).output)
    assert [e["model"] for e in listed["engines"]] == ["style-the-scream"] and listed["dir"] == str(engine_dir)
    verified = runner.invoke(main, ["engine", "verify", "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["engines"][0]["psnr"] >= 50
    cleaned = json.loads(runner.invoke(main, ["engine", "clean", "--json"]).output)
    assert len(cleaned["removed"]) == 2 and not list(engine_dir.iterdir())


def _foreign_plan(folder: Path, **device) -> cache.EngineRecord:
    card = read_card(WEIGHTS / "style-the-scream.safetensors")
    gpu = {"kind": "gpu", "name": "NVIDIA A10", "compute_capability": "8.6", **device}
    key = cache.EngineKey(card.extra["sha256"], "tensorrt", "10.3.0", "fp16", {k: gpu[k] for k in ("kind", "name", "compute_capability")})
    return cache.write(key, card, b"not a plan: must never be deserialised", folder, source=str(WEIGHTS / "style-the-scream.safetensors"))


def test_a_plan_for_another_gpu_or_tensorrt_version_is_refused_from_its_card(engine_dir):
    record = _foreign_plan(engine_dir)
    here = {"kind": "gpu", "name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}
    with pytest.raises(EngineIncompatibleError, match="NVIDIA A10.*rebuild it with: filmgan engine build") as info:
        cache.check_device(record, here, "10.3.0", "filmgan engine build --preset the-scream --backend tensorrt")
    assert info.value.exit_code == 4
    with pytest.raises(EngineIncompatibleError, match="built with tensorrt 10.3.0, this is 10.7.0"):
        cache.check_device(record, {**here, "name": "NVIDIA A10", "compute_capability": "8.6"}, "10.7.0", "rebuild")
    cache.check_device(record, {**here, "name": "NVIDIA A10", "compute_capability": "8.6"}, "10.3.0", "rebuild")  # fits: no error


def test_render_with_a_mismatched_plan_exits_4_and_leaves_nothing(tmp_path, engine_dir, monkeypatch):
    from filmgan.export import build as b

    _foreign_plan(engine_dir)
    monkeypatch.setattr(cache, "backend_version", lambda backend: "10.3.0")
    monkeypatch.setattr(b, "device_for", lambda backend: {"kind": "gpu", "name": "NVIDIA L4", "compute_capability": "8.9"})
    before = sorted(p.name for p in engine_dir.iterdir())
    clip = tmp_path / "in.png"
    import cv2

    cv2.imwrite(str(clip), np.full((48, 64, 3), 128, np.uint8))
    result = CliRunner().invoke(main, ["stylize", "--preset", "the-scream", "--backend", "tensorrt", "--precision", "fp16", str(clip), "-q"])
    assert result.exit_code == 4, result.output
    assert "NVIDIA A10" in result.output and "filmgan engine build" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engines", "in.png"]
    assert sorted(p.name for p in engine_dir.iterdir()) == before
    plan = next(engine_dir.glob("*.plan"))
    with pytest.raises(EngineIncompatibleError):  # a plan file given directly is checked the same way
        load_engine(plan, EngineConfig(backend="tensorrt"))
