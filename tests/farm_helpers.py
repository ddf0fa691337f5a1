"""Shared helpers of the render-farm tests: job files, the CLI in a subprocess, reading outputs back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_job(folder: Path, shots: list[dict], name: str = "job.toml", **job) -> Path:
    """A job file with a [job] table (``job`` settings; ORT backend by default) and the given shots."""
    settings = {"output_root": "out", "backend": "ort", **job}

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v) if isinstance(v, str) else repr(v)

    lines = ["[job]", *(f"{k} = {value(v)}" for k, v in settings.items())]
    for shot in shots:
        lines += ["", "[[shot]]", *(f"{k} = {value(v)}" for k, v in shot.items())]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def cli_env() -> dict:
    """The environment for filmgan subprocesses: this checkout's package first, one thread per process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def filmgan_command() -> list[str]:
    return [sys.executable, "-m", "filmgan.cli"]


def run_cli(*args, check: bool = False, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """``filmgan ARGS`` in a subprocess (text output)."""
    result = subprocess.run([*filmgan_command(), *map(str, args)], capture_output=True, text=True, env=cli_env(), timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise AssertionError(f"filmgan {' '.join(map(str, args))} exited {result.returncode}: {result.stderr[-3000:]}")
    return result


def json_line(result: subprocess.CompletedProcess) -> dict:
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line on stdout; stderr: {result.stderr[-2000:]}"
    return json.loads(lines[-1])


def partials(folder: Path) -> list[Path]:
    """Temporary '.partial' files anywhere under ``folder``."""
    return sorted(p for p in folder.rglob("*") if ".partial-" in p.name)
