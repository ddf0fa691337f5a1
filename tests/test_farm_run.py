"""Render-farm chunks and merges on real (small) clips: the chunked render equals the single pass in frame
count, pts and audio/subtitle packets; re-runs are no-ops; bad segments are named, never papered over."""

from __future__ import annotations

import numpy as np
import pytest

from filmgan.config import DecodeConfig, EncodeConfig, RenderConfig
from filmgan.errors import InputError
from filmgan.farm.chunk import chunk_segment, close_engines, run_chunk, _engine
from filmgan.farm.executors import run_job
from filmgan.farm.jobfile import load_job
from filmgan.farm.merge import merge_shot
from filmgan.farm.plan import plan_shot
from filmgan.farm.shotconfig import shot_config
from filmgan.pipeline import render
from filmgan.processors.factory import build_processor

from farm_helpers import json_line, partials, run_cli, write_job
from media import decode_all, make_video, packets


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """72 frames, 25 fps, with AAC audio and subtitles; a colour cut at frame 48."""
    return make_video(tmp_path_factory.mktemp("farm") / "clip.mkv", frames=72, size=(96, 64), audio=True, subtitles=True, gop=12)


def single_pass(job, shot, dst, start=0, end=None):
    config = shot_config(shot)
    engine = _engine(config.model, config.backend, shot.precision, config.task_name, 0)
    render(shot.input, dst, build_processor(config.task, engine),
           RenderConfig(decode=DecodeConfig(start=start, end=end, batch_size=1), encode=EncodeConfig(codec="ffv1")))
    return dst


def test_chunked_render_equals_the_single_pass_and_re_runs_are_no_ops(tmp_path, clip):
    job = load_job(write_job(tmp_path, [{"input": str(clip.path), "output": "out/c.mkv", "render_size": 64}], chunk_size=20, warmup=8, cut_tolerance=9))
    shot = job.shots[0]
    plan = plan_shot(job, shot)
    assert [c.id for c in plan.chunks] == ["clip@0-20", "clip@20-48", "clip@48-72"]  # 40 moved to the cut at 48
    first = [run_chunk(job, shot, c) for c in plan.chunks]
    again = [run_chunk(job, shot, c) for c in plan.chunks]
    assert not any(r.skipped for r in first) and all(r.skipped for r in again)
    merged = merge_shot(job, shot, plan)
    assert merged.mode == "copy" and not merged.skipped and merge_shot(job, shot, plan).skipped
    ref = single_pass(job, shot, tmp_path / "single.mkv")
    (a, a_pts, a_tb), (b, b_pts, b_tb) = decode_all(ref), decode_all(shot.output)
    assert len(b) == 72 and b_pts == a_pts and a_tb == b_tb
    assert packets(shot.output) == packets(ref) and packets(shot.output, "subtitles") == packets(ref, "subtitles")
    diff = np.array([np.abs(x.astype(int) - y).mean() for x, y in zip(a, b)])
    assert diff[48:].max() == 0  # the chunk starting on the cut is exactly the single pass (free seam)
    assert diff.max() < 0.5  # warm-up: the seam at 20 is within a fraction of a level
    assert partials(tmp_path) == []
    close_engines()


def test_a_frame_range_shot_starts_at_zero_with_its_audio_span(tmp_path, clip):
    job = load_job(write_job(tmp_path, [{"input": str(clip.path), "output": "out/r.mkv", "render_size": 64, "start": 10, "end": 50}],
                             chunk_size=16, warmup=4, cut_tolerance=0))
    shot = job.shots[0]
    plan = plan_shot(job, shot)
    for chunk in plan.chunks:
        run_chunk(job, shot, chunk)
    merge_shot(job, shot, plan)
    ref = single_pass(job, shot, tmp_path / "single.mkv", 10, 50)
    assert decode_all(shot.output)[1] == decode_all(ref)[1] and len(decode_all(shot.output)[1]) == 40
    assert packets(shot.output) == packets(ref)
    close_engines()


def test_a_delivery_codec_encodes_once_and_is_verified(tmp_path, clip):
    job = load_job(write_job(tmp_path, [{"input": str(clip.path), "output": "out/d.mp4", "render_size": 64, "end": 30,
                                         "delivery": {"codec": "h264", "preset": "ultrafast", "copy_subtitles": False}}], chunk_size=15, warmup=4, cut_tolerance=0))
    report = run_job(job, "local", workers=1)
    assert report.failed == {} and [m["mode"] for m in report.merges] == ["encode"]
    frames, pts, _ = decode_all(job.shots[0].output)
    assert len(frames) == 30 and pts == sorted(pts) and len(packets(job.shots[0].output)) > 0


def test_merge_names_missing_and_corrupt_segments_and_a_run_redoes_them(tmp_path, clip):
    job = load_job(write_job(tmp_path, [{"name": "m", "input": str(clip.path), "output": "out/m.mkv", "render_size": 64, "end": 45}],
                             chunk_size=15, warmup=4, cut_tolerance=0))
    shot = job.shots[0]
    plan = plan_shot(job, shot)
    run_chunk(job, shot, plan.chunks[0])
    run_chunk(job, shot, plan.chunks[2])
    corrupt = chunk_segment(job, shot, plan.chunks[2])
    data = bytearray(corrupt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    with pytest.raises(InputError) as info:
        merge_shot(job, shot, plan)
    assert "2 of 3 segments are missing or invalid" in str(info.value)
    assert "m@15-30" in str(info.value) and "no manifest" in str(info.value)
    assert "m@30-45" in str(info.value) and "sha256" in str(info.value)
    assert not shot.output.exists() and partials(tmp_path) == []
    result = run_cli("batch", "run", job.path, "--executor", "local", "--workers", "1", "--json")
    summary = json_line(result)
    assert result.returncode == 0 and (summary["chunks_rendered"], summary["chunks_skipped"]) == (2, 1)
    assert len(decode_all(shot.output)[0]) == 45


def test_run_chunk_cli_by_id_and_by_farm_frame_tokens(tmp_path, clip):
    job_path = write_job(tmp_path, [{"name": "t", "input": str(clip.path), "output": "out/t.mkv", "render_size": 64, "end": 40}],
                         chunk_size=10, warmup=2, cut_tolerance=0)
    by_id = json_line(run_cli("batch", "run-chunk", job_path, "t@10-20", "--json", check=True))
    assert [r["id"] for r in by_id["results"]] == ["t@10-20"]
    # a farm task for frames 0-24 (inclusive) runs the planned chunks starting there; 10-20 is valid already
    by_range = json_line(run_cli("batch", "run-chunk", job_path, "--shot", "t", "--start", 0, "--end", 24, "--json", check=True))
    assert [(r["id"], r["skipped"]) for r in by_range["results"]] == [("t@0-10", False), ("t@10-20", True), ("t@20-30", False)]
    openjd = json_line(run_cli("batch", "run-chunk", job_path, "--shot", "t", "--frames", "25-39", "--json", check=True))
    assert [r["id"] for r in openjd["results"]] == ["t@30-40"]
    merged = json_line(run_cli("batch", "merge", job_path, "--json", check=True))
    assert merged["results"][0]["frames"] == 40
    bad = run_cli("batch", "run-chunk", job_path, "t@10-21", "--json")
    assert bad.returncode == 1 and "has no chunk t@10-21" in json_line(bad)["error"]
    usage = run_cli("batch", "run-chunk", job_path, "--shot", "t")
    assert usage.returncode == 2


def test_cli_reports_job_file_errors_with_exit_code_1(tmp_path, clip):
    job_path = write_job(tmp_path, [{"input": str(clip.path), "output": "out/x.mkv", "presett": "colorize"}])
    result = run_cli("batch", "plan", job_path, "--json")
    assert result.returncode == 1 and "did you mean 'preset'" in json_line(result)["error"]


def test_a_primed_audio_stream_into_matroska_merges_like_the_single_pass(tmp_path):
    """AAC in MP4 starts at pts -1024 (encoder priming); Matroska cannot store negative timestamps, so the
    muxer moves every stream later by the priming. The merge must accept that shift (it is the single
    pass's too) and keep every audio packet."""
    source = make_video(tmp_path / "primed.mp4", frames=40, size=(96, 64), audio=True, gop=10)
    job = load_job(write_job(tmp_path, [{"input": str(source.path), "output": "out/p.mkv", "render_size": 64}], chunk_size=20, warmup=4))
    shot = job.shots[0]
    plan = plan_shot(job, shot)
    for c in plan.chunks:
        run_chunk(job, shot, c)
    assert merge_shot(job, shot, plan).mode == "copy"
    ref = single_pass(job, shot, tmp_path / "single.mkv")
    (_, a_pts, a_tb), (b, b_pts, b_tb) = decode_all(ref), decode_all(shot.output)
    assert len(b) == 40 and b_pts == a_pts and a_tb == b_tb
    assert b_pts[0] > 0  # the muxer's shift is there (the priming), in both
    assert packets(shot.output) == packets(ref)
    assert partials(tmp_path) == []
    close_engines()
