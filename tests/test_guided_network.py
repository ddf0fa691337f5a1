"""The colorizer's trained guidance inputs: a palette and local hints into the network (issue 18's "one
network"), their training samples, and how the guide and the processor hand them to the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from filmgan.errors import CheckpointError, InputError  # noqa: E402
from filmgan.guide import ColourGuide  # noqa: E402
from filmgan.guide.hints import Hint, HintSet  # noqa: E402
from filmgan.guide.reference import Palette, PaletteConfig  # noqa: E402
from filmgan.models.semantic import MobileUNetColorizer, gamut_bins  # noqa: E402
from filmgan.train.colorize_guided import dense_hints, sparse_hints  # noqa: E402

V5 = Path(__file__).resolve().parents[1] / "filmgan/weights/colorize-v5.safetensors"
Q = len(gamut_bins())


def _v5_pair():
    from safetensors.torch import load_file

    from filmgan.models.checkpoint import load_model

    auto, card = load_model(V5, task="colorize")
    guided = MobileUNetColorizer(**{**card.args, "guided": True})
    guided.load_unguided(load_file(V5))
    return auto.eval(), guided.eval()


def test_a_guided_network_from_an_automatic_one_starts_as_it_whatever_the_guidance():
    auto, guided = _v5_pair()
    x = torch.rand(2, 1, 72, 100) * 2 - 1  # not a multiple of 32: padded inside, hints too
    palette = torch.rand(2, Q, 5)
    hints = torch.zeros(2, 3, 72, 100)
    hints[:, :, 10:14, 20:24] = torch.tensor([0.4, -0.3, 1.0])[None, :, None, None]
    with torch.no_grad():
        ref = auto(x)
        assert torch.equal(guided(x), ref)
        assert torch.equal(guided(x, palette=palette, hints=hints), ref)  # the guidance layers start at zero
    assert guided.palette_bands == 5 and auto.palette_bands == 0


def test_guidance_inputs_are_refused_where_they_do_not_fit():
    auto, guided = _v5_pair()
    x = torch.zeros(1, 1, 64, 64)
    with pytest.raises(ValueError, match="without guidance"):
        auto(x, palette=torch.rand(1, Q, 5))
    with pytest.raises(ValueError, match="palette must be"):
        guided(x, palette=torch.rand(1, Q, 3))
    with pytest.raises(CheckpointError, match="not the weights"):
        MobileUNetColorizer(guided=True).load_unguided({"head.weight": torch.zeros(3, 3, 1, 1)})


def test_a_zero_palette_row_is_no_palette_and_a_given_one_is_flagged():
    g = MobileUNetColorizer(guided=True)
    like = torch.zeros(1)
    pal = torch.zeros(2, Q, 5)
    pal[1] = 1.0 / Q
    feats = g._palette_features(pal, 2, like)
    assert feats.shape == (2, Q * 5 + 1)
    assert feats[0].abs().sum() == 0 and feats[1, -1] == 1.0
    assert torch.allclose(feats[1, :-1], torch.log1p(torch.ones(Q * 5)))
    assert torch.equal(g._palette_features(None, 3, like), torch.zeros(3, Q * 5 + 1))


def test_simulated_hints_hold_the_truth_where_their_mask_is():
    gen = torch.Generator().manual_seed(3)
    ab = torch.rand(2, 48, 64) * 2 - 1
    counts = []
    for _ in range(20):
        h = sparse_hints(ab, gen)
        mask = h[2]
        assert set(mask.unique().tolist()) <= {0.0, 1.0} and mask.sum() >= 1
        assert torch.equal(h[:2] * (1 - mask), torch.zeros_like(h[:2]))  # nothing outside the mask
        counts.append(int(mask.sum()))
        ys, xs = torch.nonzero(mask, as_tuple=True)
        # a hinted pixel holds the mean ab of its patch: within the truth's range around it
        y, x = int(ys[0]), int(xs[0])
        assert h[:2, y, x].abs().max() <= 1.0
    assert max(counts) > 25 * min(counts) or max(counts) > 60  # the count of points varies (geometric)
    d = dense_hints(ab, gen)
    cover = float(d[2].mean())
    assert 0.15 <= cover <= 0.85
    assert torch.allclose(d[:2], ab * d[2])


def test_training_samples_mix_guided_and_automatic_rows_and_train_the_guidance_layers(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_train import synthetic_images

    from filmgan.train.colorize_guided import GuidedColorizeTask
    from filmgan.train.data import ImageBank
    from filmgan.train.loop import Trainer, TrainConfig

    images = [np.ascontiguousarray(np.repeat(np.repeat(i, 2, 0), 2, 1)) for i in synthetic_images(n=6)]
    task = GuidedColorizeTask(bank=ImageBank(images[:4], [f"img{i}" for i in range(4)]), val_images=images[4:], internal_size=64, d_width=8,
                              guidance_lr_factor=20.0)
    assert task.palettes.shape == (4, Q, 5) and torch.allclose(task.palettes.sum(1), torch.ones(4, 5), atol=1e-4)
    batch = task.sample(torch.Generator().manual_seed(0), 16, 64, torch.device("cpu"))
    given = batch["palette"].flatten(1).sum(1) > 0
    hinted = batch["hints"][:, 2].flatten(1).sum(1) > 0
    assert 0 < int(given.sum()) < 16 and 0 < int(hinted.sum()) < 16  # about half of each, at random
    trainer = Trainer(task, TrainConfig(out=tmp_path / "g", steps=3, batch=4, crop=64, precision="fp32", lr_g=1e-3, lr_d=1e-3, val_every=3, ckpt_every=3))
    rates = {id(p): g["initial_lr"] for g in trainer.opt_g.param_groups for p in g["params"]}
    assert rates[id(trainer.G.hint_in[0].weight)] == rates[id(trainer.G.palette_mlp[0].bias)] == pytest.approx(20 * rates[id(trainer.G.refine[0].weight)])
    assert rates[id(trainer.G.refine[0].weight)] == pytest.approx(10 * rates[id(next(trainer.G.encoder.parameters()))])
    assert len(rates) == len(list(trainer.G.parameters()))  # every parameter in exactly one group
    trainer.run()
    assert trainer.G.palette_mlp[-1].weight.abs().sum() > 0 and trainer.G.hint_in[-1].weight.abs().sum() > 0
    from filmgan.models.checkpoint import load_model

    model, card = load_model(tmp_path / "g" / "model.safetensors", task="colorize")
    assert card.args["guided"] and card.training["guidance"]["palette_rate"] == 0.5 and card.training["guidance"]["guidance_lr_factor"] == 20.0
    assert model.palette_bands == 5


class RecordingEngine:
    """An engine double: a guided colorizer's interface, recording what the processor hands it."""

    def __init__(self, bands: int):
        from filmgan.backends.base import InputSpec
        from filmgan.card import read_card

        self.card = read_card(V5)
        self.input_spec = InputSpec.from_card(self.card)
        self.name = "recording"
        self.palette_bands = bands
        self.prior_bins = gamut_bins().astype(np.float32)
        self.calls = []

    def run(self, x, **conditioning):
        self.calls.append(conditioning)
        return np.zeros((x.shape[0], 2, *x.shape[2:]), np.float32)


def test_the_processor_hands_a_guided_network_its_palette_and_rasterised_hints():
    from filmgan.processors.colorize import ColorizeProcessor

    frames = np.full((2, 90, 160, 3), 128, np.uint8)
    palette = Palette(np.full((Q, 5), 1.0 / Q), PaletteConfig(bands=5))
    hints = HintSet((Hint(((80.0, 45.0),), (200, 30, 30), 2.0, False, frame=1),))
    for bands, network_hints, expect in ((5, True, {"palette", "hints"}), (5, False, {"palette"}), (0, True, {"log_prior"})):
        engine = RecordingEngine(bands)
        proc = ColorizeProcessor(engine, render_size=64, guide=ColourGuide(palette=palette, hints=hints, network_hints=network_hints))
        proc.colorize(frames, start_index=0)
        assert set(engine.calls[-1]) == expect
    assert ColourGuide(hints=hints).network_hints is False  # shipped: a colourist's hints are spread after the network
    engine = RecordingEngine(5)
    ColorizeProcessor(engine, render_size=64, guide=ColourGuide(palette=palette, hints=hints, network_hints=True)).colorize(frames)
    pal, maps = engine.calls[-1]["palette"], engine.calls[-1]["hints"]
    assert pal.shape == (2, Q, 5) and np.allclose(pal.sum(1), 1.0)
    h, w = maps.shape[2:]
    assert maps[0].sum() == 0  # the hint is for frame 1 only
    ys, xs = np.nonzero(maps[1, 2])
    assert abs(xs.mean() - w / 2) < 2 and abs(ys.mean() - h / 2) < 2  # the source's centre at the render size
    assert maps[1, 0, ys[0], xs[0]] > 0.3 and maps[1, 1, ys[0], xs[0]] > 0.1  # red: a > 0, b > 0 (normalised)


def test_the_torch_engine_checks_guidance_shapes(tmp_path):
    from filmgan.backends.torch_backend import TorchEngine
    from filmgan.card import read_card
    from filmgan.models.checkpoint import save_model

    _, guided = _v5_pair()
    card = read_card(V5)
    path = tmp_path / "guided.safetensors"
    save_model(path, guided, card.with_updates(args=guided.args, name="guided-test"))
    x = np.zeros((1, 1, 64, 64), np.float32)
    with TorchEngine(path, task="colorize") as engine:
        assert engine.palette_bands == 5
        out = engine.run(x, palette=np.full((1, Q, 5), 1.0 / Q, np.float32), hints=np.zeros((1, 3, 64, 64), np.float32))
        assert out.shape == (1, 2, 64, 64)
        with pytest.raises(InputError, match="palette of shape"):
            engine.run(x, palette=np.zeros((1, Q, 2), np.float32))
        with pytest.raises(InputError, match="hints must be"):
            engine.run(x, hints=np.zeros((1, 3, 32, 32), np.float32))
    with TorchEngine(V5, task="colorize") as engine:
        with pytest.raises(InputError, match="without guidance"):
            engine.run(x, palette=np.full((1, Q, 5), 1.0 / Q, np.float32))


def _guided_model_file(tmp_path) -> Path:
    """v5 as a guided network whose guidance layers are non-zero (so that they change the output)."""
    from filmgan.card import read_card
    from filmgan.models.checkpoint import save_model

    _, guided = _v5_pair()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in (guided.palette_mlp[-1], *guided.hint_in):
            layer.weight.copy_(0.05 * torch.randn(layer.weight.shape, generator=gen))
    path = tmp_path / "guided.safetensors"
    save_model(path, guided, read_card(V5).with_updates(args=guided.args, name="guided-test"))
    return path


def test_a_guided_colorizer_exports_its_guidance_inputs_and_every_backend_runs_them(tmp_path):
    pytest.importorskip("onnxruntime")
    from filmgan.backends.onnxrt import OrtEngine
    from filmgan.export.onnx import export_onnx, sample_guidance
    from filmgan.backends.guidance import GuidanceSpec
    from filmgan.models.checkpoint import load_model

    path = _guided_model_file(tmp_path)
    data, card, report = export_onnx(path)  # parity with and without guidance is checked inside
    assert len(report) == 2 and all(r["max_abs"] < 1e-3 for r in report.values())
    onnx_path = tmp_path / "guided.onnx"
    onnx_path.write_bytes(data)
    model, _ = load_model(path)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 1, 96, 128)).astype(np.float32)
    feeds = sample_guidance(GuidanceSpec.from_card(card), x, seed=5)
    with torch.no_grad():
        ref = model(torch.from_numpy(x), **{k: torch.from_numpy(v) for k, v in feeds.items()}).numpy()
        ref_auto = model(torch.from_numpy(x)).numpy()
    assert np.abs(ref - ref_auto).max() > 1e-3  # the guidance matters in this model
    engines = [OrtEngine]
    try:
        import openvino  # noqa: F401

        from filmgan.backends.openvino import OpenVinoEngine

        engines.append(OpenVinoEngine)
    except ImportError:
        pass
    for engine_class in engines:
        with engine_class(onnx_path, threads=1) as engine:
            assert engine.palette_bands == 5 and engine.prior_bins.shape == (Q, 2)
            assert np.abs(engine.run(x, **feeds) - ref).max() < 1e-3
            assert np.abs(engine.run(x) - ref_auto).max() < 1e-3  # no guidance given: zeros, the automatic mode
            with pytest.raises(InputError, match="no colour prior"):
                engine.run(x, log_prior=np.zeros((1, Q), np.float32))
            with pytest.raises(InputError, match="palette of shape"):
                engine.run(x, palette=np.zeros((1, Q, 2), np.float32))


def test_auto_keeps_a_fast_backend_for_a_guided_colorizer_and_picks_torch_for_a_prior(tmp_path):
    from filmgan.guide.build import GuideSpec, backend_for_guide

    spec = GuideSpec(references=(Path("ref.jpg"),))
    assert backend_for_guide(spec, "auto", V5) == "torch"  # v5 takes the palette as a prior on its decode
    assert backend_for_guide(spec, "auto", _guided_model_file(tmp_path)) == "auto"
    assert backend_for_guide(GuideSpec(), "auto", V5) == "auto"
    assert backend_for_guide(spec, "openvino", V5) == "openvino"  # forced: the render says why it cannot


def test_no_hints_compute_what_zero_hints_do(tmp_path):
    from filmgan.models.checkpoint import load_model

    model, _ = load_model(_guided_model_file(tmp_path))
    x = torch.rand(2, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(model(x), model(x, hints=torch.zeros(2, 3, 64, 96)), atol=1e-6)


class FakeTrack:
    """A keyframe track double: chroma carried into frame 1 with confidence 0.9 on the left half, 0.2 right."""

    def __init__(self, h: int, w: int):
        self.ab = np.zeros((h, w, 2), np.float32)
        self.ab[..., 0] = 40.0
        self.conf = np.full((h, w), 0.2, np.float32)
        self.conf[:, : w // 2] = 0.9

    def read(self, index):
        return (self.ab, self.conf) if index == 1 else None

    def palette(self, index):
        return Palette(np.full((Q, 5), 1.0 / Q), PaletteConfig(bands=5))


def test_carried_keyframe_chroma_becomes_dense_hints_where_confident_and_a_colourists_hint_wins():
    h, w = 32, 48
    hints = HintSet((Hint(((40.0, 16.0),), (30, 30, 200), 1.0, False),))  # blue, in the unsure right half
    guide = ColourGuide(track=FakeTrack(h, w), hints=hints, keyframe_hints=0.5, network_hints=True)
    out = guide.network_inputs([0, 1], (w, h), (w, h), 5)
    maps = out["hints"]
    assert out["palette"].shape == (2, Q, 5)
    assert maps[0, 2].sum() >= 1 and maps[0, 2, :, : w // 2].sum() == 0  # frame 0: only the colourist's hint
    assert maps[1, 2, :, : w // 2].all() and np.allclose(maps[1, 0, :, : w // 2], 40.0 / 110.0)
    assert maps[1, 2, 16, 40] == 1.0 and maps[1, 1, 16, 40] < -0.2  # the hint's blue (b < 0) there
    assert maps[1, 2, :, w // 2 :].sum() == maps[0, 2].sum()  # nothing carried where the confidence is 0.2
    assert "hints" not in ColourGuide(track=FakeTrack(h, w), keyframe_hints=None).network_inputs([1], (w, h), (w, h), 5)
    shipped = ColourGuide(track=FakeTrack(h, w), hints=hints).network_inputs([0, 1], (w, h), (w, h), 5)["hints"]
    assert shipped[0, 2].sum() == 0 and shipped[1, 2, :, : w // 2].all()  # shipped: carried chroma only, not the colourist's hint
