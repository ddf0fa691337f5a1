"""Every command, the train commands included, reports errors as one JSON line under ``--json``."""

import json

from click.testing import CliRunner

from filmgan.cli import main
from filmgan.errors import EXIT_CODES


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def json_error(result) -> dict:
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    payload = json.loads(lines[0])
    assert payload["ok"] is False and payload["exit_code"] == result.exit_code
    return payload


def test_train_average_reports_an_existing_output_as_json(tmp_path):
    snapshot, out = tmp_path / "a.safetensors", tmp_path / "avg.safetensors"
    snapshot.write_bytes(b"x")
    out.write_bytes(b"already here")
    result = invoke("train", "average", snapshot, "--out", out, "--json")
    payload = json_error(result)
    assert result.exit_code in EXIT_CODES and result.exit_code != 0
    assert "exists" in payload["error"] and out.read_bytes() == b"already here"


def test_train_colorize_reports_a_config_error_as_json(tmp_path):
    result = invoke("train", "colorize", "--data", tmp_path, "--out", tmp_path / "run", "--widths", "8,x", "--json")
    payload = json_error(result)
    assert result.exit_code == 1 and "--widths" in payload["error"]


def test_usage_errors_are_json_too(tmp_path):
    result = invoke("train", "average", tmp_path / "missing.safetensors", "--out", tmp_path / "o.safetensors", "--json")
    payload = json_error(result)
    assert result.exit_code == 2 and "missing.safetensors" in payload["error"]
    result = invoke("colorize", tmp_path / "x.mp4", "--batch-size", "0", "--json")
    assert json_error(result)["exit_code"] == 2


def test_render_commands_report_a_missing_preset_as_json(tmp_path):
    result = invoke("stylize", "--preset", "no-such-style", tmp_path / "x.mp4", "--json")
    payload = json_error(result)
    assert result.exit_code == 1 and "no-such-style" in payload["error"]


def test_without_json_errors_go_to_stderr_only(tmp_path):
    result = invoke("stylize", "--preset", "no-such-style", tmp_path / "x.mp4")
    assert result.exit_code == 1 and result.stdout == "" and "no-such-style" in result.stderr
