"""The ImageNet MobileNetV2 loader, the semantic colorizer, its loss, the photo splits and the hue metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from filmgan.errors import CheckpointError  # noqa: E402
from filmgan.metrics.hue import green_share, hue_divergence, hue_histogram  # noqa: E402
from filmgan.models.mobilenet import MobileNetV2, load_mobilenet_v2, load_torchvision_mobilenet_v2  # noqa: E402
from filmgan.models.semantic import MobileUNetColorizer, gamut_bins, l_to_grey_rgb  # noqa: E402
from filmgan.train.colorize_semantic import rebalance_weights, rebalanced_cross_entropy, soft_encode  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared/data"
TFLITE = DATA / "weights/mobilenet_v2_1.0_224_quant.tflite"
needs_weights = pytest.mark.skipif(not TFLITE.is_file(), reason="../shared/data/weights (the ImageNet MobileNetV2 TFLite file) is absent")


@needs_weights
@pytest.mark.realdata
def test_tflite_mobilenet_classifies_imagenet_photos():
    """The dequantised float network classifies real ImageNet photos (class in the file name)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from eval_mobilenet import evaluate

    labels = (DATA / "weights/imagenet_labels.txt").read_text().splitlines()
    files = sorted((DATA / "photos/imagenet_sample").iterdir())[::20]
    m = evaluate(TFLITE, files, labels)
    assert m["images"] >= 35
    assert m["top1"] >= 0.7 and m["top5"] >= 0.85  # all 835 photos: 86.7 % / 97.5 % (README)
    assert m["grey_top1"] >= 0.5  # grey versions: 69.8 % on all 835


@needs_weights
def test_tflite_features_have_the_documented_strides():
    net = load_mobilenet_v2(TFLITE)
    feats = net.features(torch.rand(1, 3, 96, 160))
    assert [tuple(f.shape[1:]) for f in feats] == [(16, 48, 80), (24, 24, 40), (32, 12, 20), (96, 6, 10), (320, 3, 5)]


def test_torchvision_state_dict_loads_with_batchnorm_folded(tmp_path):
    """A torchvision-layout state dict (conv + BatchNorm) gives the same outputs as conv-then-BN."""
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(0)
    ref = MobileNetV2(num_classes=1000, padding="symmetric", input_norm="imagenet")
    state: dict[str, torch.Tensor] = {}
    bn_params = []
    # Lay the reference's convs out under torchvision's names, each followed by a BatchNorm with random statistics.
    names = ["features.0.0"]
    for block in range(1, 18):
        names += [f"features.{block}.conv.0.0", f"features.{block}.conv.1"] if block == 1 else [f"features.{block}.conv.0.0", f"features.{block}.conv.1.0", f"features.{block}.conv.2"]
    names.append("features.18.0")
    for name, conv in zip(names, ref.convs()):
        w = torch.randn(conv.weight.shape, generator=gen) * 0.1
        gamma, beta = torch.rand(w.shape[0], generator=gen) + 0.5, torch.randn(w.shape[0], generator=gen) * 0.1
        mean, var = torch.randn(w.shape[0], generator=gen) * 0.1, torch.rand(w.shape[0], generator=gen) + 0.5
        prefix, index = name.rsplit(".", 1)
        bn = f"{prefix}.{int(index) + 1}"
        state.update({f"{name}.weight": w, f"{bn}.weight": gamma, f"{bn}.bias": beta, f"{bn}.running_mean": mean, f"{bn}.running_var": var})
        bn_params.append((w, gamma, beta, mean, var))
    state["classifier.1.weight"] = torch.randn(1000, 1280, generator=gen) * 0.01
    state["classifier.1.bias"] = torch.zeros(1000)
    path = tmp_path / "mnv2.safetensors"
    save_file(state, str(path))
    net = load_torchvision_mobilenet_v2(path)
    with torch.no_grad():
        for conv, (w, gamma, beta, mean, var) in zip(net.convs(), bn_params):
            x = torch.randn(1, conv.in_channels, 8, 8, generator=gen)
            unfolded = torch.nn.functional.batch_norm(torch.nn.functional.conv2d(x, w, groups=conv.groups), mean, var, gamma, beta, eps=1e-5)
            folded = torch.nn.functional.conv2d(x, conv.weight, conv.bias, groups=conv.groups)
            assert torch.allclose(folded, unfolded, atol=1e-4)
    assert net(torch.rand(1, 3, 64, 64)).shape == (1, 1000)


def test_loaders_refuse_the_wrong_file(tmp_path):
    bogus = tmp_path / "model.tflite"
    bogus.write_bytes(b"not a flatbuffer at all" * 10)
    with pytest.raises(CheckpointError):
        load_mobilenet_v2(bogus)
    with pytest.raises(CheckpointError, match="not found"):
        load_mobilenet_v2(tmp_path / "missing.tflite")


def test_gamut_bins_and_grey_conversion():
    bins = gamut_bins()
    assert 240 <= len(bins) <= 320 and np.all(np.abs(bins) <= 130)
    assert not np.any(np.all(bins == bins[0], axis=1)[1:])  # unique centres
    from filmgan.video.color import rgb_to_luminance_l

    grey = np.array([[[0, 0, 0], [60, 60, 60], [128, 128, 128], [255, 255, 255]]], np.uint8)
    l_norm = torch.from_numpy(rgb_to_luminance_l(grey) / 50.0 - 1.0)[None, None].float()  # (1, 1, 1, 4)
    back = l_to_grey_rgb(l_norm)[0, 0, 0].numpy() * 255
    assert np.allclose(back, grey[0, :, 0], atol=0.6)


def test_colorizer_contract_any_size_and_range():
    G = MobileUNetColorizer().eval()
    with torch.no_grad():
        for h, w in ((64, 64), (50, 77), (192, 336)):
            out = G(torch.rand(2, 1, h, w) * 2 - 1)
            assert out.shape == (2, 2, h, w) and out.abs().max() <= 1.0
        train = G.forward_train(torch.zeros(1, 1, 64, 96))
    assert train["logits"].shape == (1, len(G.bins), 16, 24)


def test_confident_distribution_decodes_to_its_bin_and_flat_one_to_grey():
    G = MobileUNetColorizer(confidence_from=0.6)
    q = len(G.bins)
    red = int(((G.bins * 110 - torch.tensor([60.0, 40.0])) ** 2).sum(1).argmin())
    sharp = torch.full((1, q, 2, 2), -20.0)
    sharp[:, red] = 20.0
    ab = G.decode(sharp)[0, :, 0, 0] * 110
    assert torch.allclose(ab, G.bins[red] * 110, atol=0.5)
    flat = G.decode(torch.zeros(1, q, 2, 2))
    assert flat.abs().max() < 1e-6  # maximal entropy: pulled all the way to grey


def test_rebalanced_cross_entropy_weights_rare_colours_and_is_lowest_at_the_truth():
    bins = torch.from_numpy(gamut_bins()) / 110.0
    prior = np.full(len(bins), 1e-4)
    common = int(((bins * 110) ** 2).sum(1).argmin())  # the grey bin
    prior[common] = 1.0
    prior /= prior.sum()
    weights = rebalance_weights(prior, 0.5)
    assert weights[common] < weights[(common + 5) % len(bins)]
    assert np.isclose((prior * weights).sum(), 1.0)
    ab = torch.full((1, 2, 8, 8), 0.3)
    target, nearest = soft_encode(ab, bins)
    assert torch.allclose(target.sum(1), torch.ones(1, 8, 8)) and nearest.shape == (1, 8, 8)
    right = torch.log(target.clamp(min=1e-8))
    wrong = torch.roll(right, 7, dims=1)
    w = torch.from_numpy(weights)
    assert rebalanced_cross_entropy(right, ab, bins, w) < rebalanced_cross_entropy(wrong, ab, bins, w)


def test_hue_metrics_tell_green_from_sepia():
    green = np.zeros((20, 20, 3), np.uint8)
    green[:] = (40, 160, 50)
    sepia = np.zeros((20, 20, 3), np.uint8)
    sepia[:] = (150, 120, 80)
    grey = np.full((20, 20, 3), 128, np.uint8)
    hg, hs = hue_histogram(green), hue_histogram(sepia)
    assert hg.sum() == 400 and hs.sum() == 400 and hue_histogram(grey).sum() == 0
    assert green_share(hg) == 1.0 and green_share(hs) == 0.0 and green_share(hue_histogram(grey)) == 0.0
    assert hue_divergence(hg, hg) == 0.0
    assert hue_divergence(hs, hg) == pytest.approx(np.log(2))  # disjoint hues: the maximum


@pytest.mark.realdata
def test_project_splits_hold_out_tenths_and_never_train_on_them():
    from filmgan.train import splits
    from filmgan.train.data import list_media

    photos = DATA / "photos"
    if not (photos / "imagenet_sample").is_dir():
        pytest.skip("../shared/data/photos (second gathering) is absent")
    held = splits.held_out(photos)
    files = splits.set_files(photos / "imagenet_sample")
    assert held["imagenet_sample"] == files[9::10] and len(held["bsds500_test"]) == 200
    val = set(splits.validation(photos))
    train, _ = list_media([photos], exclude=splits.excluded_from_training(photos))
    train = set(train)
    held_files = {p for part in held.values() for p in part}
    assert not train & held_files and not train & val and not val & held_files
    assert len(train) + len(held_files) + len(val) == len(list_media([photos])[0])


def _tiny_semantic_task(**kw):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_train import synthetic_images

    from filmgan.train.colorize_semantic import SemanticColorizeTask
    from filmgan.train.data import ImageBank

    images = [np.ascontiguousarray(np.repeat(np.repeat(i, 2, 0), 2, 1)) for i in synthetic_images(n=6)]  # 80x112
    return SemanticColorizeTask(
        bank=ImageBank(images[:4], [f"img{i}" for i in range(4)]), val_images=images[4:], internal_size=64, d_width=8, **kw,
    )


def test_semantic_training_learns_and_ships_a_loadable_model(tmp_path):
    from filmgan.models.checkpoint import load_model
    from filmgan.train.loop import Trainer, TrainConfig

    task = _tiny_semantic_task(encoder_weights=str(TFLITE) if TFLITE.is_file() else "")
    cfg = TrainConfig(out=tmp_path / "run", steps=12, batch=4, crop=64, precision="fp32", lr_g=1e-3, lr_d=1e-3, val_every=12, ckpt_every=12, log_every=1)
    trainer = Trainer(task, cfg)
    enc_lr, dec_lr = (g["lr"] for g in trainer.opt_g.param_groups)
    assert enc_lr == pytest.approx(0.1 * dec_lr)
    encoder_before = trainer.G.encoder[0].conv.weight.detach().clone()
    fixed = task.sample(torch.Generator().manual_seed(7), 4, 64, torch.device("cpu"))

    def fixed_ce() -> float:
        with torch.no_grad():
            logits = trainer.G.forward_train(fixed["L"])["logits"]
            return float(rebalanced_cross_entropy(logits, fixed["ab"], trainer.G.bins, task.class_weights))

    before = fixed_ce()
    trainer.run()
    assert fixed_ce() < 0.97 * before  # the ab-bin cross-entropy falls on the training images (4.14 -> 3.95 measured)
    assert not torch.equal(encoder_before, trainer.G.encoder[0].conv.weight)  # fine-tuned, not frozen
    model, card = load_model(tmp_path / "run" / "model.safetensors", task="colorize")
    assert card.arch == "mobilenet-unet-colorizer" and "Apache-2.0" in " ".join(card.extra["credits"])
    assert card.training["ce_weight"] == 1.0 and card.training["rebalance"] == 0.5
    with torch.no_grad():
        out = model(torch.zeros(1, 1, 48, 80))
    assert out.shape == (1, 2, 48, 80)


def test_temporal_fine_tune_keeps_the_encoders_lower_rate(tmp_path):
    from filmgan.train.loop import Trainer, TrainConfig
    from filmgan.train.temporal import PairSampler, TemporalTask

    base = _tiny_semantic_task()
    trainer = Trainer(TemporalTask(base, PairSampler(base.bank)), TrainConfig(out=tmp_path / "t", steps=1, batch=2, crop=64, precision="fp32", lr_g=1e-4))
    enc_lr, dec_lr = (g["lr"] for g in trainer.opt_g.param_groups)
    assert enc_lr == pytest.approx(1e-5) and dec_lr == pytest.approx(1e-4)
