"""Fault tests of the Dask executor on a real LocalCluster over loopback: a worker killed mid-chunk, the whole
job killed and resumed, a corrupt segment, a missing input. Nothing half-written at an output path, ever."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from filmgan.farm.chunk import chunk_segment, chunk_state
from filmgan.farm.jobfile import load_job
from filmgan.farm.manifest import read_json
from filmgan.farm.plan import plan_shot

from farm_helpers import cli_env, filmgan_command, json_line, partials, run_cli, write_job
from media import decode_all, make_video

pytest.importorskip("distributed", reason="Dask distributed (filmgan[farm]) is not installed")

FRAMES = 80


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("dask") / "shot.mkv", frames=FRAMES, size=(192, 108), audio=True, gop=10)


def job_file(folder, source, *extra):
    shots = [{"name": "a", "input": str(source.path), "output": "out/a.mkv", "render_size": 96}, *extra]
    return write_job(folder, shots, chunk_size=20, warmup=4, cut_tolerance=0, executor="dask", workers=2, retries=1)


def start_run(job_path) -> subprocess.Popen:
    return subprocess.Popen([*filmgan_command(), "batch", "run", str(job_path), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=cli_env(), start_new_session=True)


def check_output(job, source):
    frames, pts, _ = decode_all(job.shots[0].output)
    assert len(frames) == FRAMES and pts == decode_all(source.path)[1]


def test_a_worker_killed_mid_chunk_is_retried_and_a_missing_input_fails_only_its_shot(tmp_path, source):
    job_path = job_file(tmp_path, source, {"name": "gone", "input": "gone.mkv", "output": "out/gone.mkv"})
    segments = tmp_path / "job.farm" / "segments" / "a"
    proc, killed, deadline = start_run(job_path), None, time.monotonic() + 240
    try:
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            for partial in partials(segments) if segments.is_dir() else []:
                match = re.search(r"^\.(.+\.mp4)\.partial-(\d+)\.mp4$", partial.name)
                if match:  # a worker process is writing this segment right now
                    os.kill(int(match.group(2)), signal.SIGKILL)
                    killed = (match.group(1), int(match.group(2)))
                    break
            time.sleep(0.01)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert killed is not None, "no segment was ever being written"
    summary = json_line(subprocess.CompletedProcess([], proc.returncode, out, err))
    assert proc.returncode == 1 and list(summary["failed"]) == ["gone"]
    assert "gone.mkv does not exist" in summary["failed"]["gone"]["error"]
    assert [m["shot"] for m in summary["merged"]] == ["a"] and summary["chunks_rendered"] == 4
    manifest = read_json((segments / killed[0]).with_suffix(".json"))
    assert manifest["pid"] != killed[1]  # the killed chunk was rendered again by another worker process
    check_output(load_job(job_path), source)
    assert partials(tmp_path) == [] and not (tmp_path / "out" / "gone.mkv").exists()


def test_a_killed_job_resumes_with_its_finished_chunks_and_a_corrupt_segment_is_redone(tmp_path, source):
    job_path = job_file(tmp_path, source)
    job = load_job(job_path)
    shot = job.shots[0]
    proc, deadline = start_run(job_path), time.monotonic() + 240
    manifests = tmp_path / "job.farm" / "segments" / "a"
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if manifests.is_dir() and len([m for m in manifests.glob("*.json") if not m.name.startswith(".")]) >= 2:  # not temporaries
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the client, the scheduler and every worker
        proc.communicate()
    time.sleep(0.5)
    plan = plan_shot(job, shot)
    done = [c.id for c in plan.chunks if chunk_state(job, shot, c) is None]
    assert 2 <= len(done) < len(plan.chunks), "the kill came too late to leave work undone"
    assert not shot.output.exists() and [p.name for p in (tmp_path / "out").glob("*")] == []  # nothing at the output path
    resumed = json_line(run_cli("batch", "run", job_path, "--json", check=True))
    assert (resumed["chunks_skipped"], resumed["chunks_rendered"]) == (len(done), len(plan.chunks) - len(done))
    check_output(job, source)
    assert partials(tmp_path) == []  # the killed run's temporary files were cleared when their chunks were redone

    victim = chunk_segment(job, shot, plan.chunks[1])
    data = bytearray(victim.read_bytes())
    data[-100] ^= 0x55
    victim.write_bytes(bytes(data))
    assert "sha256" in chunk_state(job, shot, plan.chunks[1])
    again = json_line(run_cli("batch", "run", job_path, "--json", check=True))
    assert (again["chunks_rendered"], again["chunks_skipped"]) == (1, len(plan.chunks) - 1)
    assert chunk_state(job, shot, plan.chunks[1]) is None  # (redone bit for bit, so the merged output stands as it was)
    check_output(job, source)
