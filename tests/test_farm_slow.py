"""Slow render-farm tests: a real OpenJD session runs the exported job, and the chunked render of a real clip
against the single pass (frame count, pts, audio packets; warping error at the seams). Run with -m slow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from filmgan.config import DecodeConfig, EncodeConfig, RenderConfig
from filmgan.farm.chunk import _engine, close_engines
from filmgan.farm.executors import run_job
from filmgan.farm.exports import export_job
from filmgan.farm.jobfile import load_job
from filmgan.farm.plan import plan_shot
from filmgan.farm.shotconfig import shot_config
from filmgan.metrics.flicker import WarpErrors, read_video_frames
from filmgan.pipeline import render
from filmgan.processors.factory import build_processor

from farm_helpers import cli_env, filmgan_command, partials, write_job
from media import decode_all, make_video, packets

pytestmark = pytest.mark.slow


def test_openjd_runs_the_exported_job_for_real(tmp_path):
    openjd = shutil.which("openjd") or str(Path(sys.executable).with_name("openjd"))
    if not Path(openjd).exists():
        pytest.skip("openjd-cli (filmgan[farm]) is not installed")
    src = make_video(tmp_path / "reel.mkv", frames=50, size=(96, 64), audio=True, gop=10)
    job = load_job(write_job(tmp_path, [{"input": str(src.path), "output": "out/reel.mkv", "render_size": 64}], chunk_size=16, warmup=4, cut_tolerance=0))
    (template,) = export_job(job, {"reel": plan_shot(job, job.shots[0])}, "openjd", tmp_path / "farm", command=" ".join(filmgan_command()))
    result = subprocess.run([openjd, "run", str(template), "--extensions", "TASK_CHUNKING"], capture_output=True, text=True,
                            env=cli_env(), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Session ended successfully" in result.stdout
    frames, pts, _ = decode_all(job.shots[0].output)
    assert len(frames) == 50 and pts == decode_all(src.path)[1] and packets(job.shots[0].output) == packets(src.path)
    assert partials(tmp_path) == []


def _chroma(frame: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """The colour the colorizer added: output minus the source's grey (offset to mid-grey, uint8)."""
    return np.clip(frame.astype(np.int16) - grey[..., None] + 128, 0, 255).astype(np.uint8)


def seam_errors(videos: dict[str, Path], source: Path, seams: set[int]) -> dict[str, dict[str, float]]:
    """E_warp (Lai et al.) of each video, split into pairs (t-1, t) whose t starts a chunk and all other pairs,
    on RGB and on the added colour alone."""
    names = [f"{n}:{kind}" for n in videos for kind in ("rgb", "chroma")]
    errors = WarpErrors(names, preset="fast", max_side=640)
    sums = {n: {"seam": [], "intra": []} for n in names}
    streams = {n: read_video_frames(str(p)) for n, p in videos.items()}
    for t, ref in enumerate(read_video_frames(str(source))):
        grey = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)
        frames = {}
        for name, stream in streams.items():
            frame = next(stream)
            frames[f"{name}:rgb"], frames[f"{name}:chroma"] = frame, _chroma(frame, grey)
        pair = errors.update(ref, frames)
        if pair is not None:
            for name, value in pair.items():
                sums[name]["seam" if t in seams else "intra"].append(value)
    return {n: {k: float(np.mean(v)) for k, v in parts.items()} | {"seam_pairs": len(parts["seam"])} for n, parts in sums.items()}


def test_chunked_big_buck_bunny_equals_the_single_pass_and_its_seams_do_not_flicker(tmp_path, real_videos, capsys):
    src = real_videos / "big_buck_bunny_0_30.webm"
    outputs = {}
    for warmup in (16, 0):
        folder = tmp_path / f"w{warmup}"
        folder.mkdir()
        job = load_job(write_job(folder, [{"name": "bbb", "input": str(src), "output": "out/bbb.mkv"}], chunk_size=96, warmup=warmup, backend="auto"))
        report = run_job(job, "local", workers=2)
        assert report.failed == {} and report.rendered == len(report.plans["bbb"].chunks)
        outputs[f"warm-up {warmup}"] = job.shots[0].output
    plan = report.plans["bbb"]
    shot = job.shots[0]
    config = shot_config(shot)
    single = tmp_path / "single.mkv"
    render(src, single, build_processor(config.task, _engine(config.model, config.backend, shot.precision, config.task_name, 0)),
           RenderConfig(decode=DecodeConfig(batch_size=1), encode=EncodeConfig(codec="ffv1")))
    close_engines()
    _, ref_pts, ref_tb = decode_all(single)
    for path in outputs.values():
        frames, pts, tb = decode_all(path)
        assert len(frames) == len(ref_pts) == 720 and pts == ref_pts and tb == ref_tb
        assert packets(path) == packets(single)  # the Vorbis audio, packet for packet
    seams = {c.start for c in plan.chunks[1:]} - set(plan.cuts)
    result = seam_errors({"single pass": single, **outputs}, src, seams)
    with capsys.disabled():
        print(f"\nchunks {[c.id for c in plan.chunks]}, cuts {list(plan.cuts)}, seams scored {sorted(seams)}")
        for name, r in result.items():
            print(f"{name:>20}: E_warp seam {r['seam']:.3e}  intra {r['intra']:.3e}  seam/intra {r['seam'] / r['intra']:.3f}")
    rgb16, rgb0 = result["warm-up 16:rgb"], result["warm-up 0:rgb"]
    assert rgb16["seam"] <= 1.1 * rgb16["intra"]
    assert result["warm-up 16:chroma"]["seam"] <= 1.1 * result["warm-up 16:chroma"]["intra"]
    assert result["warm-up 0:chroma"]["seam"] > result["warm-up 16:chroma"]["seam"]  # cold seams flicker more
    assert rgb0["seam"] >= rgb16["seam"]
