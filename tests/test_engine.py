"""The engine seam: context-managed lifetime, the input contract read from the card, EngineConfig and its
cache key, typed task configs, and tasks that take their shape policy from the engine."""

import dataclasses
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from filmgan.backends.base import DEFAULT_PIXEL_BUDGET, EngineBase, EngineConfig, InputSpec
from filmgan.card import ModelCard
from filmgan.config import ColorizeConfig, StylizeConfig
from filmgan.errors import ConfigError, InputError, ProcessorError
from filmgan.presets import find_preset
from filmgan.processors.colorize import ColorizeProcessor
from filmgan.processors.stylize import StylizeProcessor
from filmgan.video.frames import FrameBatch


def card(color_space, **extra):
    task = "colorize" if color_space == "lab" else "style"
    return ModelCard(name="m", task=task, arch="none", args={}, color_space=color_space, io={}, internal_size=64, extra=extra)


class ProfileEngine(EngineBase):
    """A fixed-profile engine (as a TensorRT plan would be): records the shapes it was asked to run."""

    name, precision = "fake", "fp32"

    def __init__(self, color_space, **spec):
        self.card = card(color_space, input_spec=spec)
        self.input_spec = InputSpec.from_card(self.card)
        self.calls = []

    def run(self, x):
        self._check_open()
        self.input_spec.check(x)
        self.calls.append(x.shape)
        n, _, h, w = x.shape
        out = self.input_spec.out_channels
        return np.full((n, out, h, w), 0.1, np.float32) if out == 2 else np.ascontiguousarray(x[:, :3])


def test_input_spec_defaults_follow_the_colour_space():
    lab, rgb = InputSpec.from_card(card("lab")), InputSpec.from_card(card("rgb"))
    assert (lab.channels, lab.out_channels, lab.alignment, lab.max_pixels) == (1, 2, 16, None)
    assert (rgb.channels, rgb.alignment, rgb.max_pixels) == (3, 8, DEFAULT_PIXEL_BUDGET)
    assert lab.dynamic and lab.max_batch is None


def test_input_spec_reads_a_profile_from_the_card():
    spec = InputSpec.from_card(card("lab", input_spec={"alignment": 32, "min_shape": [64, 64], "opt_shape": [256, 448], "max_shape": [256, 448], "max_batch": 2}))
    assert spec.alignment == 32 and spec.max_shape == (256, 448) and spec.max_batch == 2 and spec.dynamic
    assert not dataclasses.replace(spec, min_shape=(256, 448)).dynamic
    spec.check(np.zeros((2, 1, 256, 448), np.float32))
    for bad in (np.zeros((3, 1, 256, 448), np.float32), np.zeros((1, 1, 240, 448), np.float32), np.zeros((1, 1, 512, 448), np.float32),
                np.zeros((1, 3, 256, 448), np.float32), np.zeros((1, 1, 256, 448), np.float64)):
        with pytest.raises(InputError):
            spec.check(bad)
    with pytest.raises(ConfigError, match="did you mean 'alignment'"):
        InputSpec.from_card(card("lab", input_spec={"alignmnt": 8}))


def test_engine_config_is_frozen_validated_and_has_a_stable_cache_key():
    config = EngineConfig(precision="fp32")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.precision = "bf16"
    assert config.cache_key() == EngineConfig(precision="fp32").cache_key()
    assert config.cache_key() != config.with_updates(compile=True).cache_key() != config.cache_key() != EngineConfig().cache_key()
    code = "from filmgan.backends.base import EngineConfig; print(EngineConfig(precision='fp32').cache_key())"
    env_path = str(Path(__file__).resolve().parents[1])
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": env_path, "PATH": ""})
    assert other.stdout.strip() == config.cache_key()  # the same in another process (no hash randomisation)
    with pytest.raises(ConfigError, match="did you mean 'torch'"):
        EngineConfig(backend="trch")
    with pytest.raises(ConfigError, match="unknown precision"):
        EngineConfig(precision="int4")


def test_engines_are_context_managed():
    with ProfileEngine("lab") as engine:
        engine.run(np.zeros((1, 1, 16, 16), np.float32))
    assert engine.closed
    with pytest.raises(ProcessorError, match="closed"):
        engine.run(np.zeros((1, 1, 16, 16), np.float32))


def test_colorizer_renders_at_the_engines_alignment():
    frames = np.random.default_rng(0).integers(0, 255, (2, 72, 200, 3), np.uint8)
    engine = ProfileEngine("lab", alignment=32)
    out = ColorizeProcessor(engine, render_size=64).colorize(frames)
    assert out.shape == frames.shape
    (n, c, h, w), = engine.calls
    assert (n, c) == (2, 1) and h % 32 == 0 and w % 32 == 0 and (w, h) == (192, 64)


def test_stylizer_takes_batch_and_pixel_limits_from_the_engine():
    frames = np.random.default_rng(1).integers(0, 255, (3, 48, 64, 3), np.uint8)
    engine = ProfileEngine("rgb", max_batch=1)
    StylizeProcessor(engine, render_size=0).stylize(frames)
    assert engine.calls == [(1, 3, 48, 64)] * 3
    engine = ProfileEngine("rgb", alignment=16, max_shape=[32, 32], max_pixels=None)
    StylizeProcessor(engine, render_size=0, overlap=8, consistent_tiles=False).stylize(frames[:1])
    assert len(engine.calls) > 1 and all(h <= 32 and w <= 32 for _, _, h, w in engine.calls)


def test_presets_build_typed_task_configs():
    colorize = find_preset("colorize").task_config(render_size=320, saturation=1.2, temporal=False)
    assert isinstance(colorize, ColorizeConfig) and colorize.task == "colorize"
    assert (colorize.render_size, colorize.saturation, colorize.blend.enabled, colorize.blend.chroma_only) == (320, 1.2, False, True)
    style = find_preset("the-scream").task_config(temporal_strength=0.5)
    assert isinstance(style, StylizeConfig) and style.blend.strength == 0.5 and not style.blend.chroma_only
    assert style.render_size == find_preset("the-scream").render_size
    with pytest.raises(ConfigError, match="saturation"):
        find_preset("the-scream").task_config(saturation=1.5)
    with pytest.raises(ConfigError, match="did you mean 'guided'"):
        StylizeConfig(upsample="guide")


def test_processor_batches_keep_their_pts():
    engine = ProfileEngine("lab")
    batch = FrameBatch(np.zeros((2, 32, 48, 3), np.uint8), np.array([7, 9]), Fraction(1, 25))
    proc = ColorizeProcessor(engine)
    out = [*proc.process(batch), *proc.flush()]
    assert [b.pts.tolist() for b in out] == [[7, 9]]


def test_compile_is_refused_to_the_channels_last_colorizer_and_kept_for_style_networks():
    """torch 2.13's inductor aborts the process (heap corruption) on the channels-last colorizer at 336 px
    wide on AVX-512 CPUs, and gains nothing there: --compile runs it eager. Nothing is compiled here."""
    pytest.importorskip("torch")
    from filmgan.backends.torch_backend import TorchEngine

    weights = Path(__file__).parents[1] / "filmgan/weights"
    with TorchEngine(weights / "colorize-v5.safetensors", precision="fp32", compile=True) as engine:
        assert engine.channels_last and not engine.compiles
        x = np.zeros((1, 1, 192, 336), np.float32)
        assert engine.run(x).shape == (1, 2, 192, 336) and not engine._compiled
    with TorchEngine(weights / "style-the-scream.safetensors", precision="fp32", compile=True) as engine:
        assert not engine.channels_last and engine.compiles


def test_compile_without_a_cxx_compiler_falls_back_to_eager_and_says_why(monkeypatch, tmp_path):
    torch = pytest.importorskip("torch")
    import torch._inductor.config as inductor_config

    from filmgan.backends.torch_backend import TorchEngine
    from filmgan.models.stylenet import StyleNet

    torch._dynamo.reset()
    monkeypatch.setattr(inductor_config.cpp, "cxx", (None, str(tmp_path / "no-such-g++")))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # nothing cached from other runs
    model = StyleNet((4, 8, 8), 1, 3).eval()
    path = tmp_path / "tiny-style.safetensors"
    from filmgan.models.checkpoint import save_model

    save_model(path, model, ModelCard(name="tiny-style", task="style", arch=model.ARCH, args=model.args, color_space="rgb", io={}, internal_size=32))
    x = np.random.default_rng(0).random((1, 3, 32, 48), dtype=np.float32)
    with TorchEngine(path, precision="fp32", compile=True) as engine:
        assert engine.compiles
        out = engine.run(x)
        assert not engine.compiles and "compiler" in engine.compile_failure.lower()
        with torch.no_grad():
            np.testing.assert_allclose(out, model(torch.from_numpy(x)).numpy(), atol=1e-5)
        np.testing.assert_allclose(engine.run(x), out)  # and eager from then on
    torch._dynamo.reset()


def test_torch_engine_is_context_managed_and_reads_its_spec_from_the_card(tmp_path):
    torch = pytest.importorskip("torch")
    from filmgan.backends import load_engine
    from filmgan.models.checkpoint import save_model
    from filmgan.models.unet import UNetColorizer

    model = UNetColorizer((4, 8, 8), norm="batch").eval()
    path = tmp_path / "tiny.safetensors"
    save_model(path, model, ModelCard(name="tiny", task="colorize", arch=model.ARCH, args=model.args, color_space="lab", io={}, internal_size=32))
    with load_engine(path, EngineConfig(precision="fp32"), task="colorize") as engine:
        assert (engine.input_spec.channels, engine.input_spec.alignment) == (1, 16)
        x = np.zeros((1, 1, 32, 48), np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(engine.run(x), expected, atol=1e-5)
    assert engine.closed and engine.model is None
    with pytest.raises(ProcessorError):
        engine.run(x)
