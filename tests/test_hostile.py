"""The hostile corpus of issue 17, each case through the CLI with its exit code and message asserted.

Media are made by ``tests/hostile.py`` and ``tests/media.py`` (PyAV + numpy; no binary fixtures). Renders
use the shipped colorizer/style ONNX on ONNX Runtime (no torch needed) at tiny sizes."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import hostile
import media
from conftest import leftovers
from filmgan.cli import main

pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[1]
ORT = ("--backend", "ort")


def run(*args, env=None):
    return CliRunner(env=env).invoke(main, [str(a) for a in args], catch_exceptions=False)


def json_line(result) -> dict:
    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("{")]
    assert len(lines) == 1, result.output
    payload = json.loads(lines[0])
    if not payload.get("ok", True):
        assert payload["exit_code"] == result.exit_code
    return payload


def pts_and_indices(path: Path) -> tuple[list[int], list[int]]:
    frames, pts, _ = media.decode_all(path)
    return pts, [media.frame_index(f) for f in frames]


# -- 1. SIGTERM and stale partials ---------------------------------------------------------------------

def test_sigterm_cleans_up_and_exits_143_with_a_json_line(tmp_path):
    src = media.make_video(tmp_path / "long.mkv", frames=150, size=(160, 120), codec="ffv1", pix_fmt="yuv420p").path
    dst = tmp_path / "out.mkv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "filmgan", "colorize", str(src), "-o", str(dst), *ORT, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not leftovers(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers(tmp_path), "the render never started writing"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated by SIGTERM" in err
    payload = json.loads(out.strip().splitlines()[-1])
    assert payload == {"ok": False, "exit_code": 143, "error": "terminated by SIGTERM; no partial output was left"}
    assert leftovers(tmp_path) == [] and not dst.exists()


def test_a_later_run_removes_partials_of_dead_processes(tmp_path):
    src = media.make_video(tmp_path / "a.mkv", frames=6).path
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.mkv.partial-{dead.pid}.mkv"
    alive = tmp_path / f".out.mkv.partial-{os.getppid()}.mkv"  # a running process: not ours to remove
    stale.write_bytes(b"left by a SIGKILL")
    alive.write_bytes(b"still being written")
    result = run("colorize", src, "-o", tmp_path / "out.mkv", *ORT, "-q")
    assert result.exit_code == 0, result.output
    assert not stale.exists() and alive.read_bytes() == b"still being written"


# -- 2. timestamps from containers that have none -------------------------------------------------------

def test_avi_with_b_frames_renders_every_frame_in_order(tmp_path):
    src = hostile.avi_bframes(tmp_path / "b.avi", frames=24)
    probed = json_line(run("probe", src, "--json"))
    assert (probed["frames"], probed["fps"], probed["timestamps"]) == (24, "25", "slots")
    result = run("colorize", src, "-o", tmp_path / "b.mkv", *ORT, "--json")
    assert result.exit_code == 0, result.output
    pts, indices = pts_and_indices(tmp_path / "b.mkv")
    assert indices == list(range(24)) and pts == sorted(pts) and len(set(pts)) == 24


def test_raw_h264_stream_gets_frame_rate_timestamps(tmp_path):
    src = hostile.raw_h264(tmp_path / "r.h264", frames=24)
    result = run("colorize", src, *ORT, "--fps", "25", "-q")  # --fps is for sequences; raw streams use their own
    assert result.exit_code == 0, result.output
    pts, indices = pts_and_indices(tmp_path / "r.colorized.mkv")
    assert indices == list(range(24)) and len(set(pts)) == 24 and pts == sorted(pts)


def test_backwards_timestamps_are_an_input_error_not_a_processor_error(tmp_path):
    src = hostile.broken_pts_mkv(tmp_path / "bp.mkv")
    result = run("colorize", src, *ORT, "--json")
    payload = json_line(result)
    assert result.exit_code == 1 and "timestamps go backwards at frame 6" in payload["error"]
    assert "processor" not in payload["error"] and leftovers(tmp_path) == []
    skipped = run("colorize", src, *ORT, "--skip-corrupt", "--json", "-o", tmp_path / "ok.mkv")
    assert skipped.exit_code == 0 and json_line(skipped)["results"][0]["skipped_frames"] == 1


# -- 3. the truncation check compares like with like ----------------------------------------------------

@pytest.mark.parametrize("case, frames", [("mkv_late_start", 25), ("mp4_edit_list", 19), ("avi_skipped_slot", 23)])
def test_valid_files_are_not_called_truncated(tmp_path, case, frames):
    factory = getattr(hostile, case)
    src = factory(tmp_path / f"in{ {'mkv_late_start': '.mkv', 'mp4_edit_list': '.mp4', 'avi_skipped_slot': '.avi'}[case]}",
                  *( [tmp_path / "scratch.mp4"] if case == "mp4_edit_list" else []))
    result = run("colorize", src, "-o", tmp_path / "out.mkv", *ORT, "--json")
    assert result.exit_code == 0, result.output
    assert json_line(result)["results"][0]["frames"] == frames
    pts, _ = pts_and_indices(tmp_path / "out.mkv")
    assert len(pts) == frames and pts == sorted(pts)


def test_probe_warns_about_a_half_truncated_mp4(tmp_path):
    src = hostile.mp4_half_truncated(tmp_path / "half.mp4")
    result = run("probe", src, "--json")
    assert result.exit_code == 0
    warnings = json_line(result)["warnings"]
    assert len(warnings) == 1 and "truncated" in warnings[0] and "of the 48 declared" in warnings[0]
    assert "warning:" in result.stderr


# -- 4. disk full -----------------------------------------------------------------------------------------

def _mount_tiny_tmpfs(folder: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    folder.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True).returncode == 0


def test_disk_full_on_a_real_full_file_system_is_exit_5(tmp_path):
    full = tmp_path / "full"
    if not _mount_tiny_tmpfs(full, "200k"):
        pytest.skip("cannot mount a tiny tmpfs here (needs root); test_disk_full_injected covers the path")
    try:
        src = media.make_video(tmp_path / "big.mkv", frames=60, size=(320, 240), codec="ffv1", pix_fmt="yuv444p").path
        result = run("colorize", src, "-o", full / "out.mkv", "--codec", "ffv1", *ORT, "--json")
        payload = json_line(result)
        assert result.exit_code == 5 and payload["error"].startswith("disk full while writing")
        assert os.listdir(full) == []
    finally:
        subprocess.run(["umount", str(full)], check=False)


def test_disk_full_injected_at_the_writer_is_exit_5(tmp_path, monkeypatch):
    from filmgan.video import writer

    src = media.make_video(tmp_path / "a.mkv", frames=24).path
    calls = {"n": 0}
    original = writer.VideoWriter._write_frame

    def filling(self, rgb, pts):
        calls["n"] += 1
        if calls["n"] > 5:
            raise av.error.OSError(errno.ENOSPC, "No space left on device")
        return original(self, rgb, pts)

    monkeypatch.setattr(writer.VideoWriter, "_write_frame", filling)
    result = run("colorize", src, "-o", tmp_path / "out.mkv", *ORT, "--json")
    assert result.exit_code == 5 and "disk full while writing" in json_line(result)["error"]
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.mkv").exists()


# -- 5. tracebacks that are now typed errors or work ------------------------------------------------------

@pytest.mark.parametrize("side", [1, 8, 20])
@pytest.mark.parametrize("command", [("colorize",), ("stylize", "--preset", "the-scream")])
def test_tiny_frames_render(tmp_path, side, command):
    src = media.make_video(tmp_path / "t.mkv", frames=3, size=(side, side), codec="ffv1", pix_fmt="yuv444p").path
    result = run(*command, src, "-o", tmp_path / "o.mkv", "--codec", "ffv1", *ORT, "--json")
    assert result.exit_code == 0, result.output
    frames, _, _ = media.decode_all(tmp_path / "o.mkv")
    assert len(frames) == 3 and frames[0].shape == (side, side, 3)


@pytest.mark.parametrize("command", [("colorize",), ("stylize", "--preset", "the-scream")])
def test_render_size_16_works(tmp_path, command):
    src = media.make_video(tmp_path / "t.mkv", frames=3, size=(64, 48)).path
    result = run(*command, src, "--render-size", "16", "-o", tmp_path / "o.mkv", *ORT, "-q")
    assert result.exit_code == 0, result.output


def test_eval_flicker_on_a_2x2_video(tmp_path):
    src = media.make_video(tmp_path / "t.mkv", frames=4, size=(2, 2), codec="ffv1", pix_fmt="yuv444p").path
    result = run("eval", "flicker", src, "--json")
    assert result.exit_code == 0 and json_line(result)["pairs"] == 3


def test_unknown_encode_preset_is_a_config_error(tmp_path):
    result = run("colorize", tmp_path / "missing.mp4", "--encode-preset", "warpspeed", "--json")
    assert result.exit_code == 1 and "unknown encode preset 'warpspeed'" in json_line(result)["error"]


# -- 6. corrupt JPEG -------------------------------------------------------------------------------------

def test_corrupt_jpeg_is_refused_or_skipped(tmp_path):
    src = hostile.corrupt_jpeg(tmp_path / "c.jpg")
    result = run("colorize", src, *ORT, "--json")
    assert result.exit_code == 1 and "corrupt image data" in json_line(result)["error"]
    assert not (tmp_path / "c.colorized.jpg").exists()
    skipped = run("colorize", src, *ORT, "--json", "--skip-corrupt")
    assert skipped.exit_code == 0 and json_line(skipped)["results"][0]["status"] == "skipped"
    assert sorted(os.listdir(tmp_path)) == ["c.jpg"]


def test_jpeg_check_stands_down_only_for_a_pyav_stand_in(tmp_path, monkeypatch):
    """The GPU training image has no PyAV and gets an empty stand-in module (scripts/gpu_session): there the
    FFmpeg check is skipped and libjpeg alone decodes; with the real PyAV a damaged JPEG is still refused."""
    import types

    from filmgan.errors import CorruptMediaError
    from filmgan.video.images import check_jpeg

    src = hostile.corrupt_jpeg(tmp_path / "c.jpg")
    with pytest.raises(CorruptMediaError):
        check_jpeg(src)
    stand_in = types.ModuleType("av")
    monkeypatch.setitem(sys.modules, "av", stand_in)
    with pytest.raises(AttributeError):  # any other broken av is not taken for the stand-in
        check_jpeg(src)
    stand_in.FILMGAN_STAND_IN = True
    assert check_jpeg(src) is None


# -- 7. several inputs -------------------------------------------------------------------------------------

def test_every_input_is_processed_and_reported(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    hostile.grey_png(folder / "a.png")
    hostile.corrupt_jpeg(folder / "b.jpg")
    hostile.grey_png(folder / "c.png")
    result = run("colorize", folder, *ORT, "--json")
    payload = json_line(result)
    assert result.exit_code == 1 and payload["error"] == "1 of 3 inputs failed"
    assert [r["status"] for r in payload["results"]] == ["written", "failed", "written"]
    assert "corrupt image data" in payload["results"][1]["error"] and payload["results"][1]["exit_code"] == 1
    assert (folder / "a.colorized.png").is_file() and (folder / "c.colorized.png").is_file()
    again = json_line(run("colorize", folder, *ORT, "--json", "--overwrite"))  # own outputs are not inputs
    assert [Path(r["input"]).name for r in again["results"]] == ["a.png", "b.jpg", "c.png"]


def test_output_name_collisions_are_caught_before_writing(tmp_path):
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        hostile.grey_png(tmp_path / name / "shot.png")
    result = run("colorize", tmp_path / "one", tmp_path / "two", "-o", tmp_path / "out", *ORT, "--json")
    assert result.exit_code == 5 and "would both be written to" in json_line(result)["error"]
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


# -- 8. misleading messages ---------------------------------------------------------------------------------

def test_mkv_with_subtitles_keeps_its_container_and_no_subtitles_exists(clips, tmp_path):
    src = tmp_path / "subs.mkv"
    src.write_bytes(clips["cfr25"].path.read_bytes())
    assert run("colorize", src, *ORT, "-q").exit_code == 0
    assert media.packets(tmp_path / "subs.colorized.mkv", "subtitles") == media.packets(src, "subtitles")
    refused = run("colorize", src, "-o", tmp_path / "x.mp4", *ORT, "--json")
    assert refused.exit_code == 5 and "--no-subtitles" in json_line(refused)["error"]
    assert run("colorize", src, "-o", tmp_path / "x.mp4", "--no-subtitles", *ORT, "-q").exit_code == 0


def test_output_folder_with_a_slash_for_one_input(tmp_path):
    src = hostile.grey_png(tmp_path / "p.png")
    result = run("colorize", src, "-o", f"{tmp_path / 'newdir'}/", *ORT, "-q")
    assert result.exit_code == 0 and (tmp_path / "newdir" / "p.colorized.png").is_file()


def test_huge_image_is_refused_from_its_header(tmp_path):
    src = hostile.big_png_header(tmp_path / "huge.png")
    started = time.perf_counter()
    result = run("colorize", src, *ORT, "--json")
    assert result.exit_code == 1 and "too large" in json_line(result)["error"]
    assert time.perf_counter() - started < 30


def test_output_equal_to_the_input_names_the_input(tmp_path):
    src = hostile.grey_png(tmp_path / "p.png")
    for extra in ((), ("--overwrite",)):
        result = run("colorize", src, "-o", src, *ORT, "--json", *extra)
        assert result.exit_code == 5 and "refusing to overwrite the input file" in json_line(result)["error"]


def test_eval_flicker_refuses_a_reference_of_another_size_or_picture(tmp_path):
    video = media.make_video(tmp_path / "v.mkv", frames=6, size=(64, 48)).path
    other_size = media.make_video(tmp_path / "s.mkv", frames=6, size=(48, 48)).path
    result = run("eval", "flicker", video, "--reference", other_size, "--json")
    assert result.exit_code == 1 and "the reference is 48x48 but the video is 64x48 (another aspect ratio)" in json_line(result)["error"]
    noise = tmp_path / "n.mkv"
    rng = np.random.default_rng(0)
    with av.open(str(noise), "w") as out:
        vs = out.add_stream("ffv1", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv444p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(cv2.resize(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8), (64, 48), interpolation=cv2.INTER_NEAREST), format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame.reformat(format="yuv444p")))
        out.mux(vs.encode(None))
    result = run("eval", "flicker", video, "--reference", noise, "--json")
    assert result.exit_code == 1 and "does not look like the video's source" in json_line(result)["error"]
    assert run("eval", "flicker", video, "--reference", video, "--json").exit_code == 0


def test_a_broken_user_preset_does_not_hide_the_others(tmp_path):
    (tmp_path / "bad.toml").write_text('task = "colorize"\nmodel = "x"\ncolour = 1\n')
    result = run("presets", "list", "--json", env={"FILMGAN_PRESET_PATH": str(tmp_path)})
    payload = json_line(result)
    assert result.exit_code == 0 and "the-scream" in [p["name"] for p in payload["presets"]]
    assert len(payload["broken"]) == 1 and "unknown key 'colour'" in payload["broken"][0]


def test_backend_found_by_its_module_when_the_distribution_name_differs(monkeypatch):
    from importlib import metadata

    from filmgan.export import cache

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(cache.metadata, "version", missing)
    import onnxruntime

    assert cache.backend_version("ort") == onnxruntime.__version__


def test_fp16_on_a_cpu_warns(tmp_path):
    pytest.importorskip("torch")
    src = hostile.grey_png(tmp_path / "p.png")
    result = run("colorize", src, "--backend", "torch", "--precision", "fp16")
    assert result.exit_code == 0 and "fp16 on this CPU runs through slow reference kernels" in result.stderr


# -- formats of post-production -----------------------------------------------------------------------------

def _rgb48(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb48le") for f in c.decode(video=0)]


def _grey_level10(rgb16: np.ndarray) -> np.ndarray:
    """Luminance as the 10-bit code of the grey with the same CIE Y (the source's own levels)."""
    from filmgan.video.color import linear_luminance16, linear_to_srgb

    return linear_to_srgb(linear_luminance16(rgb16).astype(np.float64)) * 1023


def test_10_bit_gradient_colorized_keeps_its_levels_and_luminance(tmp_path):
    src = hostile.gradient10(tmp_path / "g10.mkv")
    assert run("colorize", src, "-o", tmp_path / "c.mkv", "--codec", "ffv1", *ORT, "-q").exit_code == 0
    with av.open(str(tmp_path / "c.mkv")) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "gbrp10le"  # the default rule: 10 bits in, 10 out
    source, out = _rgb48(src), _rgb48(tmp_path / "c.mkv")
    levels = [_grey_level10(f) for f in out]
    assert len(np.unique(np.round(levels[0]))) > 256
    assert max(np.abs(a - _grey_level10(b)).max() for a, b in zip(levels, source)) <= 1.0
    chroma = np.abs(out[0].astype(np.int64) - out[0][..., 1:2]).max() / 64  # in 10-bit codes: colour was added
    assert chroma > 20


def test_10_bit_gradient_stylized_keeps_more_than_256_levels(tmp_path):
    src = hostile.gradient10(tmp_path / "g10.mkv", frames=2)
    result = run("stylize", "--preset", "the-scream", src, "-o", tmp_path / "s.mkv", *ORT, "-q")
    assert result.exit_code == 0, result.output
    with av.open(str(tmp_path / "s.mkv")) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.pix_fmt == "yuv444p10le"  # h264 at the source's depth and layout
        luma = next(c.decode(stream)).reformat(format="gray10le").to_ndarray()
    assert len(np.unique(luma)) > 256


@pytest.mark.parametrize("codec, pix_fmt, expected", [
    ("prores", None, ("prores", "yuv422p10le")),  # 422 HQ
    ("prores", "yuv444p10le", ("prores", "yuv444p12le")),  # 4444 (FFmpeg decodes 4444 as 12-bit)
    ("dnxhr", None, ("dnxhd", "yuv422p10le")), ("h265", "yuv420p10le", ("hevc", "yuv420p10le")),
    ("h264", "yuv420p10le", ("h264", "yuv420p10le")), ("ffv1", None, ("ffv1", "gbrp10le")),
])
def test_high_bit_depth_codecs(tmp_path, codec, pix_fmt, expected):
    size = (256, 128) if codec == "dnxhr" else (64, 48)  # DNxHR's smallest frame is 256x120
    src = media.make_video(tmp_path / "p.mov", frames=4, size=size, codec="prores_ks", pix_fmt="yuv422p10le").path
    ext = ".mkv" if codec in ("ffv1", "h265") else ".mov"
    args = ["--codec", codec, *(["--pix-fmt", pix_fmt] if pix_fmt else [])]
    result = run("colorize", src, "-o", tmp_path / f"o{ext}", *args, *ORT, "-q")
    assert result.exit_code == 0, result.output
    with av.open(str(tmp_path / f"o{ext}")) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.name, cc.pix_fmt) == expected


def test_16_bit_tiff_sequence_round_trips_with_numbering_and_depth(tmp_path):
    pattern = hostile.tiff16_sequence(tmp_path / "in", frames=48, first=1001)
    result = run("colorize", pattern, "-o", tmp_path / "out" / "shot_%04d.tif", "--fps", "25", *ORT, "--json")
    assert result.exit_code == 0, result.output
    assert json_line(result)["results"][0]["frames"] == 48
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == [f"shot_{n:04d}.tif" for n in range(1001, 1049)]
    first = cv2.imread(str(tmp_path / "out" / names[0]), cv2.IMREAD_UNCHANGED)
    assert first.dtype == np.uint16 and len(np.unique(first[..., 1])) > 256


def test_image_sequence_formats_and_a_missing_frame(tmp_path):
    pattern = hostile.tiff16_sequence(tmp_path / "in", frames=6, first=7)
    for ext, dtype in ((".png", np.uint16), (".dpx", None)):
        out = tmp_path / f"o{ext[1:]}" / f"f_%03d{ext}"
        assert run("colorize", pattern, "-o", out, *ORT, "-q").exit_code == 0
        names = sorted(os.listdir(out.parent))
        assert names == [f"f_{n:03d}{ext}" for n in range(7, 13)]
        if dtype is not None:
            assert cv2.imread(str(out.parent / names[0]), cv2.IMREAD_UNCHANGED).dtype == dtype
    probed = json_line(run("probe", out, "--json"))  # the DPX sequence reads back, 16-bit
    assert probed["frames"] == 6 and probed["bit_depth"] == 16 and probed["first_number"] == 7
    (tmp_path / "in" / "shot_0009.tif").unlink()
    result = run("colorize", pattern, "-o", tmp_path / "x" / "s_%04d.tif", *ORT, "--json")
    assert result.exit_code == 1 and "missing 1 frame between 7 and 12: shot_0009.tif" in json_line(result)["error"]


def test_timecode_is_kept(tmp_path):
    src = tmp_path / "tc.mov"
    with av.open(str(src), "w") as out:
        vs = out.add_stream("prores_ks", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv422p10le"
        vs.metadata["timecode"] = "01:00:00:00"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(media.pattern(i, 64, 48), format="rgb24").reformat(format="yuv422p10le")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    for ext in (".mov", ".mkv"):
        assert run("colorize", src, "-o", tmp_path / f"o{ext}", *ORT, "-q").exit_code == 0
        assert json_line(run("probe", tmp_path / f"o{ext}", "--json"))["timecode"] == "01:00:00:00"


# -- the whole corpus end to end ----------------------------------------------------------------------------

CORPUS = {  # name -> (factory, expected exit code of colorize and stylize)
    "avi_bframes.avi": (hostile.avi_bframes, 0),
    "avi_skipped_slot.avi": (hostile.avi_skipped_slot, 0),
    "raw.h264": (hostile.raw_h264, 0),
    "late_start.mkv": (hostile.mkv_late_start, 0),
    "broken_pts.mkv": (hostile.broken_pts_mkv, 1),
    "half.mp4": (hostile.mp4_half_truncated, 1),
    "corrupt.jpg": (hostile.corrupt_jpeg, 1),
    "huge.png": (hostile.big_png_header, 1),
    "grey.png": (hostile.grey_png, 0),
    "g10.mkv": (lambda p: hostile.gradient10(p, frames=2, size=(256, 32)), 0),
    "tiny.mkv": (lambda p: media.make_video(p, frames=3, size=(6, 4), codec="ffv1", pix_fmt="yuv444p").path, 0),
    "odd.mkv": (lambda p: media.make_video(p, frames=3, size=(5, 7), codec="ffv1", pix_fmt="yuv444p").path, 1),  # 4:2:0 output: refused
}


@pytest.mark.slow
def test_the_whole_corpus_end_to_end(tmp_path):
    """Every hostile input through colorize and stylize, one by one and then all at once as a folder: the
    exit code each should give, a JSON line every time, never a traceback, never a partial file."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, (factory, _) in CORPUS.items():
        factory(folder / name)
    hostile.mp4_edit_list(folder / "edit_list.mp4", tmp_path / "scratch.mp4")
    expected = {**{name: code for name, (_, code) in CORPUS.items()}, "edit_list.mp4": 0}
    for command in (("colorize",), ("stylize", "--preset", "great-wave")):
        for name, code in expected.items():
            out = tmp_path / "out" / command[0]
            result = run(*command, folder / name, "-o", f"{out}/", *ORT, "--json")
            assert result.exit_code == code, (command, name, result.output)
            payload = json_line(result)
            assert payload["ok"] is (code == 0)
        result = run(*command, folder, "-o", tmp_path / "all" / command[0], *ORT, "--json", "--overwrite")
        statuses = {Path(r["input"]).name: r["status"] for r in json_line(result)["results"]}
        assert statuses == {name: "written" if code == 0 else "failed" for name, code in expected.items()}
        assert result.exit_code == 1
    assert leftovers(folder) == [] and not any(".partial-" in p.name for p in tmp_path.rglob("*"))
