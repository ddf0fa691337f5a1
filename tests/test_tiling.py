"""Feathered tiling: coverage, partition of unity, exactness for local operators, no seams."""

from __future__ import annotations

import numpy as np
import pytest

from filmgan.processors.tiling import plan_tiles, run_tiled, tile_weights


@pytest.mark.parametrize("h,w,tile,overlap", [(100, 300, 128, 32), (1080, 1920, 512, 64), (64, 64, 128, 32), (257, 131, 96, 24)])
def test_tiles_cover_the_frame_aligned_and_overlapping(h, w, tile, overlap):
    boxes = plan_tiles(h, w, tile, overlap, align=8)
    covered = np.zeros((h, w), int)
    for y0, y1, x0, x1 in boxes:
        assert y0 % 8 == 0 and x0 % 8 == 0
        assert y1 - y0 <= tile and x1 - x0 <= tile
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1
    ys = sorted({(b[0], b[1]) for b in boxes})
    for (a0, a1), (b0, _) in zip(ys, ys[1:]):
        assert a1 - b0 >= overlap  # neighbours overlap by at least `overlap`


def test_weights_sum_to_one_inside_and_vanish_at_inner_edges():
    h, w, tile, overlap = 200, 300, 96, 32
    total = np.zeros((h, w))
    for (y0, y1, x0, x1), weight in tile_weights(h, w, tile, overlap):
        total[y0:y1, x0:x1] += weight
        if x0 > 0:
            assert weight[:, : overlap // 4].max() == 0.0  # pixels that saw the tile border are discarded
    assert np.abs(total - 1.0).max() < 1e-9  # a partition of unity


def box3(x: np.ndarray) -> np.ndarray:
    """A local operator (3x3 mean, edge-replicated): receptive-field radius 1."""
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = x.shape[-2:]
    return sum(p[:, :, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)) / 9.0


def test_local_operator_is_reproduced_exactly():
    rng = np.random.default_rng(0)
    x = rng.random((2, 3, 150, 230)).astype(np.float32)
    out = run_tiled(box3, x, tile=64, overlap=16)
    assert np.abs(out - box3(x)).max() < 1e-5


def test_small_receptive_field_network_matches_untiled_at_tile_borders():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect"), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Upsample(scale_factor=2.0), torch.nn.Conv2d(8, 3, 3, padding=1), torch.nn.Sigmoid(),
    ).eval()

    def fn(a: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(a)).numpy()

    x = np.random.default_rng(1).random((1, 3, 200, 328)).astype(np.float32)
    full, tiled = fn(x), run_tiled(fn, x, tile=96, overlap=48)
    boxes = plan_tiles(200, 328, 96, 48)
    borders = sorted({b[2] for b in boxes if b[2]} | {b[3] for b in boxes if b[3] < 328})
    assert np.abs(tiled - full).max() < 1e-4
    for c in borders:  # and specifically along every tile edge
        assert np.abs(tiled[..., c - 2 : c + 2] - full[..., c - 2 : c + 2]).max() < 1e-4


def test_per_tile_drift_is_feathered_into_a_smooth_ramp():
    """A function whose output shifts by a different offset in every tile (what per-tile instance-norm
    statistics do) must not leave a step at tile borders: neighbouring pixels differ by a small fraction
    of the offset difference."""
    rng = np.random.default_rng(2)

    def drift(a: np.ndarray) -> np.ndarray:
        return a + rng.uniform(-0.5, 0.5)

    x = np.zeros((1, 1, 256, 384), np.float32)
    out = run_tiled(drift, x, tile=128, overlap=64)[0, 0]
    step = max(np.abs(np.diff(out, axis=0)).max(), np.abs(np.diff(out, axis=1)).max())
    assert step < 0.1  # offsets differ by up to 1.0; the cosine ramp spreads that over 32 px


def test_single_tile_is_the_plain_call():
    calls = []

    def fn(a):
        calls.append(a.shape)
        return a * 2

    x = np.ones((1, 3, 40, 50), np.float32)
    assert np.array_equal(run_tiled(fn, x, tile=64, overlap=16), x * 2) and calls == [(1, 3, 40, 50)]


def test_tile_not_larger_than_overlap_is_an_error():
    with pytest.raises(ValueError):
        plan_tiles(100, 100, 32, 32)


def test_reference_low_frequencies_remove_per_tile_drift_exactly():
    rng = np.random.default_rng(3)
    x = rng.random((1, 3, 200, 300)).astype(np.float32)

    def drift(a: np.ndarray) -> np.ndarray:
        return a + np.float32(rng.uniform(-0.5, 0.5))

    out = run_tiled(drift, x, tile=96, overlap=32, reference=x, sigma=4.0)
    assert np.abs(out - x).max() < 1e-4
