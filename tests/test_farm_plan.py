"""Render-farm jobs without rendering: job-file validation, batch init, planning, task ids, exports."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from filmgan.errors import ConfigError, InputError
from filmgan.farm.exports import export_job, openjd_template
from filmgan.farm.jobfile import load_job
from filmgan.farm.jobinit import init_job
from filmgan.farm.plan import Chunk, ShotPlan, boundaries, make_plan, parse_task_id, plan_path, plan_shot, warmup_start

from farm_helpers import cli_env, write_job
from media import make_video


def shot(**kw):
    return {"input": "a.mkv", "output": "out/a.mkv", **kw}


@pytest.mark.parametrize("job, shots, message", [
    ({"chunk_sise": 10}, [shot()], "unknown key 'chunk_sise' (did you mean 'chunk_size'?)"),
    ({}, [shot(prest="colorize")], "[[shot]] #1 ('a'): unknown key 'prest' (did you mean 'preset'?)"),
    ({"segment_codec": "ffv2"}, [shot()], "segment_codec 'ffv2' is not one of ffv1, prores (did you mean 'ffv1'?)"),
    ({"executor": "dusk"}, [shot()], "(did you mean 'dask'?)"),
    ({"chunk_size": "ten"}, [shot()], "'chunk_size' must be int, got 'ten'"),
    ({}, [shot(output="../escape.mkv")], "is outside the job's output_root"),
    ({}, [shot(output="out/a.mp4")], "cannot hold the ffv1 segments by stream copy"),
    ({}, [shot(), shot()], "two shots have this name"),
    ({}, [shot(task="colourise")], "(did you mean 'colorize'?)"),
    ({}, [shot(delivery={"codek": "h264"})], "unknown key 'codek' (did you mean 'codec'?)"),
    ({}, [shot(start=50, end=10)], "end (10) must be greater than start (50)"),
    ({}, [], "at least one [[shot]]"),
])
def test_job_file_errors_name_the_file_the_key_and_a_fix(tmp_path, job, shots, message):
    path = write_job(tmp_path, shots, **job)
    with pytest.raises(ConfigError) as info:
        load_job(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_paths_resolve_against_the_job_file_and_settings_cascade(tmp_path):
    (tmp_path / "jobs").mkdir()
    path = write_job(tmp_path / "jobs", [shot(input="../clips/a.mkv", output="out/x.mkv", warmup=3),
                                         shot(name="b", input="/abs/b.mkv", output="out/sub/b.mp4", delivery={"codec": "h264", "crf": 20})],
                     chunk_size=48, warmup=8)
    job = load_job(path)
    a, b = job.shots
    assert a.input == tmp_path / "clips/a.mkv" and a.output == tmp_path / "jobs/out/x.mkv"
    assert (a.chunk_size, a.warmup, b.warmup) == (48, 3, 8)
    assert b.delivery == {"codec": "h264", "crf": 20} and job.settings.work_dir == tmp_path / "jobs/job.farm"
    assert a.render_digest("ffv1") != a.render_digest("prores") != b.render_digest("prores")


def test_boundaries_snap_to_nearby_cuts_and_absorb_short_tails():
    assert boundaries(0, 100, [], 30, 0) == [0, 30, 60, 90, 100]
    assert boundaries(0, 95, [], 30, 7) == [0, 30, 60, 95]  # a 5-frame tail (< the tolerance) joins the last chunk
    assert boundaries(0, 100, [], 30, 7) == [0, 30, 60, 90, 100]
    assert boundaries(0, 100, [27, 64], 30, 7) == [0, 27, 64, 100]  # each boundary moved to its cut
    assert boundaries(0, 95, [40], 30, 7) == [0, 30, 60, 95]  # too far from 30 and 60: no snap
    assert boundaries(10, 20, [], 30, 7) == [10, 20]


def test_warm_up_starts_at_the_shot_start_or_the_last_cut():
    assert warmup_start(96, 0, [], 16) == 80
    assert warmup_start(8, 0, [], 16) == 0
    assert warmup_start(96, 90, [], 16) == 90
    assert warmup_start(96, 0, [85], 16) == 85  # the state resets at the cut: earlier frames cannot matter
    assert warmup_start(96, 0, [96], 16) == 96  # a boundary on a cut is a free seam: no warm-up


def test_task_ids_are_stable_and_farm_ranges_run_each_chunk_once():
    plan = ShotPlan("s", 0, 200, (27,), tuple(Chunk("s", a, b, a, "") for a, b in zip([0, 27, 60, 90, 130], [27, 60, 90, 130, 200])), ())
    assert [c.id for c in plan.chunks][:2] == ["s@0-27", "s@27-60"] and parse_task_id("my-shot.v2@96-192") == ("my-shot.v2", 96, 192)
    for farm_chunk in (1, 7, 30, 40, 64, 200):
        runs = [c.id for a in range(0, 200, farm_chunk) for c in plan.chunks_starting_in(a, min(a + farm_chunk, 200) - 1)]
        assert sorted(runs) == sorted(c.id for c in plan.chunks)
    with pytest.raises(ConfigError, match="not a task id"):
        parse_task_id("s-0-27")


@pytest.fixture
def cut_clip(tmp_path):
    """60 frames at 96x64 whose colour pattern wraps at frame 48: a hard cut the blender detects."""
    return make_video(tmp_path / "a.mkv", frames=60, size=(96, 64), audio=True, gop=12)


def test_plan_finds_the_cut_aligns_a_boundary_and_is_cached(tmp_path, cut_clip):
    job = load_job(write_job(tmp_path, [shot(warmup=6)], chunk_size=22, cut_tolerance=5))
    plan = plan_shot(job, job.shots[0])
    assert plan.cuts == (48,) and len(plan.pts) == 60
    assert [(c.start, c.end, c.warmup_start) for c in plan.chunks] == [(0, 22, 0), (22, 48, 16), (48, 60, 48)]
    cached = json.loads(plan_path(job, job.shots[0]).read_text())
    assert cached["pts"] == list(plan.pts) and plan_shot(job, job.shots[0]) == plan
    assert make_plan(job.shots[0], 60, [48], list(plan.pts), 5) == plan


def test_a_missing_input_fails_its_shot_when_planned_not_the_job(tmp_path, cut_clip):
    job = load_job(write_job(tmp_path, [shot(), shot(name="gone", input="gone.mkv", output="out/gone.mkv")]))
    assert plan_shot(job, job.shots[0]).chunks
    with pytest.raises(InputError, match="gone.mkv does not exist"):
        plan_shot(job, job.shots[1])


def test_batch_init_writes_a_valid_job_with_the_inputs_containers(tmp_path, cut_clip):
    other = make_video(tmp_path / "b.mp4", frames=4, size=(64, 48)).path
    path = init_job([cut_clip.path, other], tmp_path / "job.toml", tmp_path / "renders", "colorize", 96, 8)
    job = load_job(path)
    assert [s.output.name for s in job.shots] == ["a.mkv", "b.mp4"]
    assert job.shots[0].delivery is None and job.shots[1].delivery == {"codec": "h264"}  # mp4: one final encode
    assert (job.settings.chunk_size, job.settings.warmup, job.settings.output_root) == (96, 8, tmp_path / "renders")
    with pytest.raises(ConfigError, match="no preset named 'colorise'.*did you mean 'colorize'"):
        init_job([cut_clip.path], tmp_path / "other.toml", tmp_path, "colorise")


def test_exports_are_accepted_by_the_farms_own_libraries(tmp_path, cut_clip):
    job = load_job(write_job(tmp_path, [shot()], chunk_size=20, cut_tolerance=0))
    plans = {"a": plan_shot(job, job.shots[0])}
    out = tmp_path / "farm"
    # OpenCue: the outline script builds and serialises the job spec with pyoutline (no Cuebot)
    pytest.importorskip("outline", reason="opencue-pyoutline (filmgan[farm]) is not installed")
    (script,) = export_job(job, plans, "opencue", out)
    spec = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=cli_env(), check=True).stdout
    root = ET.fromstring(spec[spec.index("<spec>"):])
    layers = {layer.get("name"): layer for layer in root.iter("layer")}
    render, merge = layers["render-a"], layers["merge-a"]
    assert render.findtext("range") == "0-59" and render.findtext("chunk") == "20"
    assert "run-chunk" in render.findtext("cmd") and "--start #FRAME_START# --end #FRAME_END#" in render.findtext("cmd")
    assert "batch merge" in merge.findtext("cmd") and merge.findtext("chunk") == "1"
    depend = root.find("depends/depend")
    assert (depend.get("type"), depend.findtext("deplayer"), depend.findtext("onlayer")) == ("LAYER_ON_LAYER", "merge-a", "render-a")
    # OpenJD: the template validates with openjd-model (TASK_CHUNKING) and its job has contiguous chunks
    model = pytest.importorskip("openjd.model", reason="openjd-model (filmgan[farm]) is not installed")
    template = model.decode_job_template(template=openjd_template(job, plans, _commands(job)), supported_extensions=["TASK_CHUNKING"])
    made = model.create_job(job_template=template, job_parameter_values={})
    assert [s.name for s in made.steps] == ["render-a", "merge-a"] and made.steps[1].dependencies[0].dependsOn == "render-a"
    assert json.loads(export_job(job, plans, "openjd", out)[0].read_text())["extensions"] == ["TASK_CHUNKING"]
    # Deadline: command-line jobs with frame tokens and chunk size; the merge is submitted dependent
    files = {p.name: p.read_text() for p in export_job(job, plans, "deadline", out, command="/opt/fg/bin/filmgan")}
    assert "Frames=0-59\n" in files["a.render.job"] and "ChunkSize=20\n" in files["a.render.job"] and "Plugin=CommandLine" in files["a.render.job"]
    assert "Executable=/opt/fg/bin/filmgan\n" in files["a.render.plugin"] and "--start <STARTFRAME> --end <ENDFRAME>" in files["a.render.plugin"]
    assert "-SubmitMultipleJobs -dependent -job" in files["submit.sh"] and "a.merge.job" in files["submit.sh"]
    shell = export_job(job, plans, "shell", out)[0].read_text()
    assert [line.split()[-1] for line in shell.splitlines() if "run-chunk" in line] == [c.id for c in plans["a"].chunks]


def _commands(job):
    from filmgan.farm.exports import _Commands

    return _Commands(job, ["filmgan"])
