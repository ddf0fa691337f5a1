"""Guided colorization (filmgan.guide): hints files, palettes, the colorizer's prior, hint spreading,
keyframe propagation through shots, and the colorize command's --keyframe / --reference / --hints."""

from __future__ import annotations

import shutil

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from filmgan.errors import ConfigError
from filmgan.guide.hints import load_hints, parse_hints, rasterise
from filmgan.guide.keyframes import Keyframe, decode_range, parse_keyframe
from filmgan.guide.propagate import SpreadConfig, spread
from filmgan.guide.reference import Palette, PaletteConfig, ab_histogram
from filmgan.presets import load_preset_file
from filmgan.video.color import gamut_bins, recombine_luminance_chroma, rgb_to_lab
from filmgan.video.images import write_image

import media

BINS = gamut_bins()
SHIPPED = Path(__file__).parents[1] / "filmgan/weights/colorize-v5.safetensors"


# -- hints files --------------------------------------------------------------------------------------

def test_hints_file_parses_points_strokes_and_frames(tmp_path):
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"hints": [
        {"x": 10, "y": 20, "colour": "#ff0000"},
        {"stroke": [[0, 0], [30, 5]], "colour": [0, 0, 255], "width": 2, "frame": 4}]}))
    hints = load_hints(path)
    assert len(hints.hints) == 2 and hints.hints[0].rgb == (255, 0, 0) and hints.hints[1].stroke
    assert len(hints.for_frame(0)) == 1 and len(hints.for_frame(4)) == 2
    assert hints.hints[0].ab[0] > 60  # red: strongly positive a*


@pytest.mark.parametrize("data, message", [
    ({"hints": [{"x": 1, "y": 2, "color": "#ff0000"}]}, "did you mean 'colour'"),
    ({"hints": [{"x": 1, "y": 2, "colour": "#ff00"}]}, "hint 0: colour must be '#rrggbb'"),
    ({"hints": [{"x": 1, "y": 2, "colour": [255, 0, 300]}]}, "integers 0-255"),
    ({"hints": [{"y": 2, "colour": "#ff0000"}]}, "'x' is missing"),
    ({"hints": [{"stroke": [[1, 2]], "colour": "#ff0000"}]}, "at least two"),
    ({"hints": []}, "non-empty list"),
    ({"coordinates": "relative", "hints": [{"x": 1.5, "y": 0.2, "colour": "#ff0000"}]}, "in [0, 1]"),
    ({"hints": [{"x": 1, "y": 2, "colour": "#ff0000", "frame": -1}]}, "frame index >= 0"),
    ({"hint": []}, "unknown key 'hint'"),
])
def test_bad_hints_name_the_entry_and_key(data, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_hints(data, "h.json")


def test_unreadable_hints_file_is_a_config_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_hints(bad)
    with pytest.raises(ConfigError, match="cannot read hints file"):
        load_hints(tmp_path / "missing.json")


def test_rasterise_scales_source_pixels_to_the_render_size():
    hints = parse_hints({"hints": [{"x": 200, "y": 100, "colour": "#00ff00", "radius": 0}]}).hints
    ab, mask = rasterise(hints, (400, 200), (100, 50))
    assert mask.sum() == 1 and mask[25, 50] == 1
    assert ab[25, 50, 0] < -60  # green: strongly negative a*


# -- palettes and the network's prior --------------------------------------------------------------------

def test_histogram_of_one_colour_peaks_at_its_bin_and_prior_is_normalised():
    red = np.broadcast_to(rgb_to_lab(np.array([[[200, 30, 30]]], np.uint8))[0, 0, 1:], (16, 16, 2))
    hist = ab_histogram(red, BINS, sigma=5.0)
    assert abs(hist.sum() - 1) < 1e-9
    assert np.linalg.norm(BINS[np.argmax(hist)] - red[0, 0]) <= 5 * np.sqrt(2) + 1e-3
    lp = Palette(hist[:, None], PaletteConfig(beta=2.0)).log_prior()
    assert lp.shape == (1, len(BINS)) and lp.max() == 0 and lp.min() < -5


def test_banded_palette_separates_dark_and_light_colours():
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20] = (20, 40, 120)  # dark blue
    img[:, 20:] = (250, 230, 120)  # light yellow
    pal = Palette.from_images([img], BINS, PaletteConfig(bands=5, band_prior=0.0))
    assert pal.hist.shape == (len(BINS), 5)
    dark, light = BINS[np.argmax(pal.hist[:, 0])], BINS[np.argmax(pal.hist[:, 4])]
    assert dark[1] < -20 and light[1] > 20  # b*: blue in the dark band, yellow in the light one
    assert pal.log_prior().shape == (1, len(BINS), 5)


@pytest.fixture(scope="module")
def engine():
    pytest.importorskip("torch")
    from filmgan.backends.torch_backend import TorchEngine

    with TorchEngine(SHIPPED, threads=1) as eng:
        yield eng


def test_palette_prior_moves_the_shipped_colorizer_toward_its_colours(engine):
    grey = np.repeat(media.texture(64, 96, seed=3)[..., :1], 3, axis=2)
    L = (rgb_to_lab(grey)[..., 0] / 50.0 - 1.0)[None, None].astype(np.float32)
    auto = engine.run(L)
    assert np.array_equal(engine.run(L, log_prior=np.zeros((1, len(BINS)), np.float32)), auto)
    red = np.full((8, 8, 3), (200, 40, 40), np.uint8)
    blue = np.full((8, 8, 3), (40, 60, 200), np.uint8)
    for image, channel, sign in ((red, 0, 1), (blue, 1, -1)):  # red raises a*, blue lowers b*
        for bands in (1, 4):
            prior = Palette.from_images([image], engine.prior_bins, PaletteConfig(beta=3.0, bands=bands)).log_prior()
            shifted = engine.run(L, log_prior=prior)
            assert sign * (shifted[:, channel].mean() - auto[:, channel].mean()) * 110 > 5


def test_engines_without_prior_refuse_palettes(engine):
    from filmgan.guide import ColourGuide
    from filmgan.processors.colorize import ColorizeProcessor

    class NoPrior:
        name, card, input_spec, prior_bins = "ort", engine.card, engine.input_spec, None

    palette = Palette(np.full((len(BINS), 1), 1.0 / len(BINS)))
    with pytest.raises(ConfigError, match="takes no palette"):
        ColorizeProcessor(NoPrior(), guide=ColourGuide(palette=palette))
    ColorizeProcessor(NoPrior(), guide=ColourGuide(hints=parse_hints({"hints": [{"x": 1, "y": 1, "colour": "#ff0000"}]})))


# -- reference exemplars --------------------------------------------------------------------------------

def _tinted(grey: np.ndarray, a: float, b: float) -> np.ndarray:
    """``grey`` with the chroma (a, b) everywhere and its own luminance."""
    return recombine_luminance_chroma(grey, np.broadcast_to(np.float32([a, b]), grey.shape[:2] + (2,)))


def _network_input(rgb: np.ndarray) -> np.ndarray:
    return (rgb_to_lab(rgb)[..., 0] / 50.0 - 1.0)[None, None].astype(np.float32)


def _two_textures(seeds, tints, n=96):
    """Two grey random textures side by side, each tinted (a, b) or left grey (None)."""
    halves = []
    for seed, tint in zip(seeds, tints):
        grey = np.repeat(media.texture(n, n, seed=seed)[..., :1], 3, axis=2)
        halves.append(grey if tint is None else _tinted(grey, *tint))
    return np.concatenate(halves, axis=1)


RED, BLUE = (40.0, 25.0), (10.0, -45.0)


def _transfer(exemplar, frame, engine):
    from filmgan.guide.exemplar import frame_grid

    x = _network_input(frame)
    return exemplar.transfer(frame_grid(x, engine.match_features, exemplar.config)[0], x.shape[2:], engine.match_features)


def test_exemplar_finds_the_reference_content_where_the_frame_shows_it(engine):
    from filmgan.guide.exemplar import Exemplar

    reference = _two_textures((11, 12), (RED, BLUE))
    frame = _two_textures((12, 11), (None, None))  # the same two textures, swapped and grey
    ab, weight = _transfer(Exemplar.from_images([reference]), frame, engine)
    assert ab.shape == (96, 192, 2) and weight.shape == (96, 192)
    left, right = (slice(16, -16), slice(16, 80)), (slice(16, -16), slice(112, 176))
    assert np.median(ab[left][..., 1]) < -30 and np.median(ab[right][..., 0]) > 30  # blue went left, red right
    assert np.median(weight[left]) > 0.5 and np.median(weight[right]) > 0.5


def test_the_matching_grid_is_every_4_pixels_at_render_sizes_and_bounded_beyond():
    from filmgan.guide.exemplar import ExemplarConfig, grid_shape

    config = ExemplarConfig()
    assert grid_shape(192, 336, config) == (48, 84) and grid_shape(192, 256, config) == (48, 64)
    for h, w in ((720, 1280), (2160, 3840)):  # a render size of 720 or 2160: fewer, coarser positions
        gh, gw = grid_shape(h, w, config)
        assert gh * gw <= config.max_positions and abs(gw / gh - w / h) < 0.05


def test_a_reference_without_the_frames_content_leaves_the_network_colours(engine):
    from filmgan.guide import ColourGuide
    from filmgan.guide.exemplar import Exemplar

    frame = _two_textures((12, 11), (None, None))
    unrelated = _two_textures((21, 22), (RED, BLUE))  # textures of the same statistics, other patterns
    x = _network_input(frame)
    network = engine.run(x) * 110.0
    guide = ColourGuide(exemplar=Exemplar.from_images([unrelated]))
    assert _transfer(Exemplar.from_images([unrelated]), frame, engine)[1].mean() < 0.02
    assert np.abs(guide.with_references(x, network, [0], engine.match_features) - network).mean() < 0.3
    assert guide.with_references(x, network, [0], None) is network  # an engine without encoder features: unchanged


def test_a_shots_keyframes_lend_their_colours_by_content_only_within_the_shot_and_win_over_a_photo(engine):
    from filmgan.guide import ColourGuide
    from filmgan.guide.exemplar import Exemplar
    from filmgan.guide.keyframes import KEYFRAME_EXEMPLAR

    keyframe = rgb_to_lab(_two_textures((11, 12), (RED, BLUE)))
    photo = _two_textures((11, 12), (BLUE, RED))  # a reference photo of the same content in other colours

    class Track:  # a keyframe in frames 0-9 (shot 0), none in frames 10-19 (shot 1)
        def exemplar(self, index):
            return Exemplar([keyframe], KEYFRAME_EXEMPLAR) if index < 10 else None

    frames = np.concatenate([_network_input(_two_textures((12, 11), (None, None)))] * 2)
    network = engine.run(frames) * 110.0
    guided = ColourGuide(track=Track()).with_references(frames, network, [9, 10], engine.match_features)
    left = (slice(16, -16), slice(16, 80))
    assert np.median(guided[0, 1][left]) < np.median(network[0, 1][left]) - 15  # toward the keyframe's blue (b* -45)
    assert np.array_equal(guided[1], network[1])  # another shot: the network's colours
    both = ColourGuide(track=Track(), exemplar=Exemplar.from_images([photo])).with_references(frames, network, [9, 10], engine.match_features)
    assert np.median(both[0, 1][left]) < -30  # the keyframe's blue wins over the photo's red there
    assert np.median(both[1, 0][left]) > np.median(network[1, 0][left]) + 15  # the photo alone in the other shot


def test_each_frame_matches_the_keyframes_next_to_it_in_a_whole_render_and_in_a_chunk():
    from filmgan.guide.keyframes import KeyframeTrack

    lab = {k: np.full((32, 32, 3), 50.0, np.float32) for k in (0, 10, 20, 40)}

    def track(first, count, keys, shot_of=None):
        shot_of = np.zeros(count, int) if shot_of is None else shot_of
        return KeyframeTrack(first, np.zeros((count, 2, 2, 3), np.float16), np.ones(count, bool), shot_of, {}, {k: lab[k] for k in keys})

    whole = track(0, 30, (0, 10, 20))
    assert whole.exemplar(5) is whole._exemplars[(0, 10)] and whole.exemplar(10) is whole._exemplars[(10,)]
    assert whole.exemplar(25) is whole._exemplars[(20,)]
    chunk = track(10, 11, (10, 20))  # a chunk of frames 12-18: its pre-pass reaches keyframes 10 and 20
    chunk.exemplar(15)
    whole.exemplar(15)
    assert set(chunk._exemplars) == {(10, 20)} and (10, 20) in whole._exemplars
    cut = track(0, 50, (0, 40), shot_of=np.array([0] * 30 + [1] * 20))  # a cut at 30: keyframe 0 ends at it
    assert cut.exemplar(35) is cut._exemplars[(40,)] and cut.exemplar(29) is cut._exemplars[(0,)]


@pytest.mark.realdata
def test_a_photos_own_colours_as_reference_bring_back_most_of_them(engine):
    from filmgan.guide import GuideSpec, build_guide
    from filmgan.metrics.image import delta_e
    from filmgan.processors.colorize import ColorizeProcessor
    from filmgan.video.images import read_image

    folder = Path(__file__).parents[2] / "shared/data/photos/intel_scenes"
    if not folder.is_dir():
        pytest.skip(f"photos not found at {folder}")
    photo = sorted(folder.glob("*.jpg"))[5]
    truth = read_image(photo)
    proc = ColorizeProcessor(engine, render_size=192)
    auto = delta_e(truth, proc.colorize(truth[None])[0])
    proc.set_guide(build_guide(GuideSpec(references=(photo,)), engine.prior_bins))
    assert delta_e(truth, proc.colorize(truth[None])[0]) < 0.7 * auto


# -- spreading hints -----------------------------------------------------------------------------------

@pytest.mark.parametrize("config", [SpreadConfig(sigma=4.0, screen=1e-3), SpreadConfig()])
def test_spread_keeps_hints_stops_at_edges_and_fades_with_distance(config):
    lightness = np.full((40, 80), 30.0, np.float32)
    lightness[:, 40:] = 80.0  # an edge down the middle
    values = np.zeros((40, 80, 2), np.float32)
    mask = np.zeros((40, 80), np.float32)
    values[20, 10] = (50.0, -20.0)
    mask[20, 10] = 1
    out = spread(lightness, values, mask, config)
    assert np.allclose(out[20, 10], (50.0, -20.0), atol=1.0)
    assert out[20, 30, 0] > 10  # carried across the uniform left half
    assert out[20, 12, 0] > out[20, 30, 0]  # fading with distance
    assert abs(out[20, 45, 0]) < 0.05 * out[20, 38, 0]  # stopped by the edge
    assert not spread(lightness, values, np.zeros_like(mask)).any()


# -- keyframes -----------------------------------------------------------------------------------------

def _moving_clip(path: Path, frames: int = 24, cut_at: int | None = None, size=(128, 96)) -> np.ndarray:
    """A colour texture panning 2 px/frame (after ``cut_at`` another, brighter one: a cut), written grey;
    returns the colour truth (N, H, W, 3)."""
    w, h = size
    big = [media.texture(h, w + 2 * frames, seed=1), (media.texture(h, w + 2 * frames, seed=2) // 3 + 160).astype(np.uint8)]
    truth = np.stack([big[int(cut_at is not None and i >= cut_at)][:, 2 * i: 2 * i + w] for i in range(frames)])
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(25), options={"crf": "10", "g": "12"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv444p"
        for i, f in enumerate(truth):
            grey = recombine_luminance_chroma(f, np.zeros(f.shape[:2] + (2,), np.float32))
            out.mux(vs.encode(av.VideoFrame.from_ndarray(grey, format="rgb24")))
        out.mux(vs.encode(None))
    return truth


def _render_frames(frames):
    return [np.ascontiguousarray(f) for f in frames]  # the test clip is already at the render size


def test_keyframe_chroma_follows_the_motion_forwards_and_backwards(tmp_path):
    from filmgan.guide.build import track_video

    truth = _moving_clip(tmp_path / "pan.mp4")
    write_image(tmp_path / "k0.png", truth[0])
    write_image(tmp_path / "k23.png", truth[23])
    for keys in ([Keyframe(0, tmp_path / "k0.png")], [Keyframe(23, tmp_path / "k23.png")]):
        track = track_video(tmp_path / "pan.mp4", keys, _render_frames, BINS)
        try:
            ab, conf = track.read(12)
            true_ab = rgb_to_lab(truth[12])[..., 1:]
            inner = (slice(16, -16), slice(24, -24))
            assert conf[inner].mean() > 0.6
            err = np.abs(ab[inner] - true_ab[inner]).mean()
            assert err < 0.35 * np.abs(true_ab[inner] - true_ab[inner].mean((0, 1))).mean()
            assert track.palette(12) is not None
        finally:
            track.close()


def test_scene_cuts_stop_keyframe_propagation(tmp_path):
    from filmgan.guide.build import track_video

    truth = _moving_clip(tmp_path / "cut.mp4", cut_at=12)
    write_image(tmp_path / "k0.png", truth[0])
    track = track_video(tmp_path / "cut.mp4", [Keyframe(0, tmp_path / "k0.png")], _render_frames, BINS)
    try:
        assert track.read(11) is not None and track.read(11)[1].mean() > 0.3
        assert all(track.read(i) is None for i in range(12, 24))
        assert track.palette(15) is None  # no keyframe in the second shot: no prior there either
        assert track.exemplar(11) is not None and track.exemplar(15) is None  # nor its colours by content
    finally:
        track.close()


def test_keyframe_specs_and_chunk_ranges(tmp_path):
    assert parse_keyframe("120=a/b.png") == Keyframe(120, Path("a/b.png"))
    for bad in ("120", "x=a.png", "-1=a.png", "3="):
        with pytest.raises(ConfigError):
            parse_keyframe(bad)
    keys = [Keyframe(10, Path("a")), Keyframe(50, Path("b"))]
    assert decode_range(keys, (20, 40)) == (10, 51)  # a chunk between two keyframes decodes from one to the other
    assert decode_range(keys, (60, 80)) == (50, 80)
    assert decode_range(keys, None) == (0, None)


# -- the command line ----------------------------------------------------------------------------------

def _cli(*args):
    from click.testing import CliRunner

    from filmgan.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _chroma_error(video: Path, truth: np.ndarray) -> float:
    frames, _, _ = media.decode_all(video)
    return float(np.mean([np.abs(rgb_to_lab(f)[..., 1:] - rgb_to_lab(t)[..., 1:]).mean() for f, t in zip(frames[1:], truth[1:])]))


def test_colorize_with_a_keyframe_carries_its_colours(tmp_path):
    pytest.importorskip("torch")
    truth = _moving_clip(tmp_path / "pan.mp4", frames=16)
    write_image(tmp_path / "k0.png", truth[0])
    auto = _cli("colorize", tmp_path / "pan.mp4", "-o", tmp_path / "auto.mp4", "--render-size", "96", "-q", "--pix-fmt", "yuv444p")
    guided = _cli("colorize", tmp_path / "pan.mp4", "-o", tmp_path / "kf.mp4", "--render-size", "96", "-q", "--pix-fmt", "yuv444p",
                  "--keyframe", f"0={tmp_path / 'k0.png'}")
    assert auto.exit_code == 0 and guided.exit_code == 0, guided.output
    assert _chroma_error(tmp_path / "kf.mp4", truth) < 0.5 * _chroma_error(tmp_path / "auto.mp4", truth)


def test_colorize_guidance_errors(tmp_path):
    truth = _moving_clip(tmp_path / "pan.mp4", frames=6)
    write_image(tmp_path / "k0.png", truth[0])
    write_image(tmp_path / "wide.png", np.zeros((10, 40, 3), np.uint8))
    (tmp_path / "h.json").write_text('{"hints": [{"x": 1, "colour": "#ff0000"}]}')
    shutil.copyfile(tmp_path / "pan.mp4", tmp_path / "pan2.mp4")  # two videos (the same path twice is one input)
    two = _cli("colorize", tmp_path / "pan.mp4", tmp_path / "pan2.mp4", "--keyframe", f"0={tmp_path / 'k0.png'}", "-o", tmp_path / "o")
    assert two.exit_code == 2 and "exactly one video" in two.output
    hints = _cli("colorize", tmp_path / "pan.mp4", "--hints", tmp_path / "h.json", "-o", tmp_path / "o.mp4")
    assert hints.exit_code == 1 and "hint 0: a point needs 'x' and 'y'" in hints.output
    # a colorizer without guidance inputs takes a palette only as a prior on its decode, which torch alone runs
    ort = _cli("colorize", tmp_path / "pan.mp4", "--reference", tmp_path / "k0.png", "--model", SHIPPED, "--backend", "ort", "-o", tmp_path / "o.mp4")
    assert ort.exit_code == 1 and "takes a palette" in ort.output and "--backend torch" in ort.output
    pytest.importorskip("torch")
    aspect = _cli("colorize", tmp_path / "pan.mp4", "--keyframe", f"0={tmp_path / 'wide.png'}", "-o", tmp_path / "o.mp4")
    assert aspect.exit_code == 1 and "aspect ratios differ" in aspect.output
    late = _cli("colorize", tmp_path / "pan.mp4", "--keyframe", f"40={tmp_path / 'k0.png'}", "-o", tmp_path / "o.mp4")
    assert late.exit_code == 1 and "has 6 frames" in late.output
    assert not (tmp_path / "o.mp4").exists()


# -- presets -------------------------------------------------------------------------------------------

def test_preset_guide_table(tmp_path):
    preset = tmp_path / "shot12.toml"
    preset.write_text('task = "colorize"\nmodel = "colorize-v5"\n[guide]\nreferences = ["ref.jpg"]\n'
                      'keyframes = {120 = "kf/120.png"}\nhints = "h.json"\n')
    spec = load_preset_file(preset).guide_spec()
    assert spec.references == (tmp_path / "ref.jpg",) and spec.keyframes == (Keyframe(120, tmp_path / "kf/120.png"),)
    assert spec.hints == tmp_path / "h.json"
    flags = load_preset_file(preset).guide_spec(references=["other.jpg"], keyframes=["3=x.png"])
    assert flags.references == (Path("other.jpg"),) and flags.keyframes == (Keyframe(3, Path("x.png")),)
    preset.write_text('task = "colorize"\nmodel = "colorize-v5"\n[guide]\nreference = ["ref.jpg"]\n')
    with pytest.raises(ConfigError, match="did you mean 'references'"):
        load_preset_file(preset)
    preset.write_text('task = "colorize"\nmodel = "colorize-v5"\n[guide]\nkeyframes = {first = "a.png"}\n')
    with pytest.raises(ConfigError, match="not a frame number"):
        load_preset_file(preset)


# -- farm job files ------------------------------------------------------------------------------------

def test_farm_shots_carry_their_keyframes_through_chunks(tmp_path):
    pytest.importorskip("torch")
    from farm_helpers import write_job

    from filmgan.farm.chunk import chunk_state, close_engines, run_chunk
    from filmgan.farm.jobfile import load_job
    from filmgan.farm.merge import merge_shot
    from filmgan.farm.plan import plan_shot

    truth = _moving_clip(tmp_path / "pan.mp4", frames=16)
    write_image(tmp_path / "k0.png", truth[0])
    write_image(tmp_path / "k15.png", truth[15])
    common = {"input": "pan.mp4", "render_size": 96, "backend": "auto"}
    job = load_job(write_job(tmp_path, [{**common, "name": "auto", "output": "out/auto.mkv"},
                                        {**common, "name": "keyed", "output": "out/keyed.mkv", "keyframes": {0: "k0.png", 15: "k15.png"}}],
                             chunk_size=8, warmup=4, cut_tolerance=0))
    auto, keyed = job.shots
    assert keyed.keyframes == ((0, tmp_path / "k0.png"), (15, tmp_path / "k15.png")) and not auto.keyframes
    for shot in job.shots:
        plan = plan_shot(job, shot)
        assert len(plan.chunks) == 2
        for chunk in plan.chunks:
            run_chunk(job, shot, chunk)
        merge_shot(job, shot, plan)
    close_engines()
    assert len(media.decode_all(keyed.output)[0]) == 16
    assert _chroma_error(keyed.output, truth) < 0.5 * _chroma_error(auto.output, truth)  # the second chunk too: frames 8-15
    chunk = plan_shot(job, keyed).chunks[0]
    assert chunk_state(job, keyed, chunk) is None
    write_image(tmp_path / "k0.png", truth[3])  # the keyframe painted again: its chunks are stale
    assert chunk_state(job, keyed, chunk) is not None


def test_farm_guide_keys_are_validated(tmp_path):
    from farm_helpers import write_job

    from filmgan.farm.jobfile import load_job
    from filmgan.farm.shotconfig import shot_config

    with pytest.raises(ConfigError, match="keyframes must be a table of frame number"):
        load_job(write_job(tmp_path, [{"input": "a.mp4", "output": "out/a.mkv", "keyframes": {"first": "k.png"}}]))
    with pytest.raises(ConfigError, match="references must be a list of image paths"):
        load_job(write_job(tmp_path, [{"input": "a.mp4", "output": "out/a.mkv", "references": []}]))
    with pytest.raises(ConfigError, match="did you mean 'references'"):
        load_job(write_job(tmp_path, [{"input": "a.mp4", "output": "out/a.mkv", "reference": ["r.jpg"]}]))
    job = load_job(write_job(tmp_path, [{"input": "a.mp4", "output": "out/a.mkv", "preset": "starry-night", "references": ["r.jpg"]}]))
    with pytest.raises(ConfigError, match="shot 'a': .*colorize presets only"):
        shot_config(job.shots[0])
    job = load_job(write_job(tmp_path, [{"input": "a.mp4", "output": "out/a.mkv", "hints": "h.json", "backend": "auto"},
                                        {"input": "a.mp4", "name": "b", "output": "out/b.mkv", "references": ["r.jpg"], "backend": "auto",
                                         "model": str(SHIPPED)}]))
    # an automatic-only colorizer takes a palette as a prior on its decode, which torch alone runs
    assert shot_config(job.shots[0]).backend == "auto" and shot_config(job.shots[1]).backend == "torch"
