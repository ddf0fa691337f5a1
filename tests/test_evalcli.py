"""``filmgan eval flicker``: E_warp and CDC of a video, JSON and table output, ranges, errors, no torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from click.testing import CliRunner

from filmgan.cli import main

from test_temporal_pipeline import colour_flicker, texture, write_clip


def run(*args):
    return CliRunner().invoke(main, ["eval", "flicker", *map(str, args)])


def panning(n=10):
    big = texture(96, 180, 4, (0.9, 0.8, 0.6))
    return [big[:, 3 * t : 3 * t + 128].copy() for t in range(n)]


def test_a_flickering_video_scores_worse_than_its_steady_source(tmp_path):
    frames = panning()
    steady = write_clip(tmp_path / "steady.mkv", frames)
    flicker = write_clip(tmp_path / "flicker.mkv", list(colour_flicker(np.stack(frames))))
    a = run(steady, "--json")
    b = run(flicker, "--reference", steady, "--json")
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    calm, shaky = json.loads(a.stdout), json.loads(b.stdout)
    assert calm["ok"] and calm["frames"] == 10 and calm["pairs"] == 9 and calm["flow_on"] == "frames"
    assert shaky["flow_on"] == "reference" and shaky["reference"] == str(steady)
    assert shaky["warp_error"] > 5 * calm["warp_error"]
    assert shaky["cdc"] > calm["cdc"] and set(shaky["cdc_gaps"]) == {"1", "2", "4"}


def test_table_output_and_frame_range(tmp_path):
    clip = write_clip(tmp_path / "clip.mkv", panning())
    table = run(clip, "--start", 2, "--frames", 4, "--flow-preset", "fast")
    assert table.exit_code == 0 and "E_warp" in table.output and "4 (3 pairs)" in table.output
    one = json.loads(run(clip, "--start", 9, "--json").stdout)
    assert one["frames"] == 1 and one["warp_error"] is None and one["cdc"] is None


def test_errors_are_one_line_with_exit_code_1(tmp_path):
    clip = write_clip(tmp_path / "clip.mkv", panning())
    short = write_clip(tmp_path / "short.mkv", panning(6))
    missing = run(tmp_path / "nope.mkv", "--json")
    assert missing.exit_code == 1 and json.loads(missing.stdout.splitlines()[0])["ok"] is False
    mismatch = run(clip, "--reference", short)
    assert mismatch.exit_code == 1 and "different frame counts" in mismatch.output


def test_eval_does_not_import_torch(tmp_path):
    clip = write_clip(tmp_path / "clip.mkv", panning(4))
    code = (
        "import sys\nfrom filmgan.cli import main\n"
        f"try:\n    main(['eval', 'flicker', {str(clip)!r}, '--json'])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["frames"] == 4
