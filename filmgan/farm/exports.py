"""Export a planned job for the farms studios run: OpenCue, Deadline, Open Job Description, or a shell script.

Every farm task calls ``filmgan batch run-chunk JOB --shot S`` with the farm's own frame tokens for its
range (``#FRAME_START#``/``#FRAME_END#``, ``<STARTFRAME>``/``<ENDFRAME>``, an OpenJD ``CHUNK[INT]``
range); run-chunk renders the planned chunks that *start* in that range, so each planned chunk (scene-cut
aligned, with its warm-up) runs in exactly one farm task however the farm slices the frames. A merge task
per shot depends on all of the shot's chunk tasks.

* ``opencue``: ``JOB.outline.py``, a PyOutline script (one ``Shell`` layer per shot with ``range`` and
  ``chunk``, a ``ShellCommand`` merge layer depending on it); ``python JOB.outline.py`` prints the job spec
  (no Cuebot needed), ``--launch`` submits it to the Cuebot that pyoutline is configured for.
* ``deadline``: per shot, a CommandLine job (job info with ``Frames`` and ``ChunkSize``, plugin info with
  ``<STARTFRAME>``/``<ENDFRAME>``) and a one-frame merge job, and ``submit.sh`` that submits each pair with
  ``deadlinecommand -SubmitMultipleJobs -dependent``.
* ``openjd``: ``JOB.openjd.json``, a job template (``jobtemplate-2023-09`` with the ``TASK_CHUNKING``
  extension: contiguous chunks of a ``CHUNK[INT]`` frame parameter), one render step and one dependent merge
  step per shot; ``openjd run`` or Deadline Cloud runs it.
* ``shell``: ``JOB.sh``, every chunk in plan order, then each merge.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path

from ..errors import ConfigError, OutputError
from ..video import atomic
from .jobfile import Job
from .plan import ShotPlan

FORMATS = ("opencue", "deadline", "openjd", "shell")


def _write(path: Path, text: str, executable: bool = False) -> Path:
    with atomic.atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
        if executable:
            tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _frames(plan: ShotPlan) -> str:
    return f"{plan.start}-{plan.end - 1}"


class _Commands:
    """The command lines farm tasks run (``command``: how to call filmgan on the farm's nodes)."""

    def __init__(self, job: Job, command: list[str]) -> None:
        self.job, self.command = str(job.path), command

    def render(self, shot: str, first: str, last: str | None = None) -> list[str]:
        span = ["--frames", first] if last is None else ["--start", first, "--end", last]
        return [*self.command, "batch", "run-chunk", self.job, "--shot", shot, *span]

    def chunk(self, chunk_id: str) -> list[str]:
        return [*self.command, "batch", "run-chunk", self.job, chunk_id]

    def merge(self, shot: str) -> list[str]:
        return [*self.command, "batch", "merge", self.job, "--shot", shot]


def _line(args: list[str]) -> str:
    """A shell command line; farm tokens such as #FRAME_START# stay unquoted."""
    return " ".join(a if a.startswith(("#", "<")) and a.endswith(("#", ">")) else shlex.quote(a) for a in args)


def export_opencue(job: Job, plans: dict[str, ShotPlan], out: Path, cmd: _Commands) -> list[Path]:
    layers = []
    for name, plan in plans.items():
        render = _line(cmd.render(name, "#FRAME_START#", "#FRAME_END#"))
        layers.append(f"    render = Shell({('render-' + name)!r}, command={render!r}, range={_frames(plan)!r}, chunk={job.shot(name).chunk_size})\n"
                      f"    merge = ShellCommand({('merge-' + name)!r}, command={_line(cmd.merge(name))!r})\n"
                      "    ol.add_layer(render)\n    ol.add_layer(merge)\n    merge.depend_all(render)\n")
    text = (f'#!/usr/bin/env python3\n"""OpenCue outline of the filmgan batch job {job.path} (written by filmgan batch export).\n\n'
            "python3 THIS.py            print the OpenCue job spec (XML); needs opencue-pyoutline, no Cuebot\n"
            'python3 THIS.py --launch   submit it to the Cuebot pyoutline is configured for\n"""\n'
            "import sys\n\nimport outline\nimport outline.cuerun\nfrom outline.modules.shell import Shell, ShellCommand\n\n\n"
            f"def build():\n    ol = outline.Outline({('filmgan-' + job.path.stem)!r})\n" + "".join(layers) + "    return ol\n\n\n"
            'if __name__ == "__main__":\n    ol = build()\n    if "--launch" in sys.argv[1:]:\n'
            "        outline.cuerun.launch(ol, use_pycuerun=False)\n    else:\n"
            f"        print(outline.cuerun.OutlineLauncher(ol, show='filmgan', shot={job.path.stem!r}).serialize(use_pycuerun=False))\n")
    return [_write(out / f"{job.path.stem}.outline.py", text, executable=True)]


def export_deadline(job: Job, plans: dict[str, ShotPlan], out: Path, cmd: _Commands) -> list[Path]:
    written, submits = [], []
    for name, plan in plans.items():
        pairs = []
        for kind, frames, chunk, args in (("render", _frames(plan), job.shot(name).chunk_size, cmd.render(name, "<STARTFRAME>", "<ENDFRAME>")),
                                          ("merge", "0", 1, cmd.merge(name))):
            info = {"Plugin": "CommandLine", "Name": f"filmgan {job.path.stem} {name} {kind}", "BatchName": f"filmgan {job.path.stem}",
                    "Frames": frames, "ChunkSize": chunk, "MachineLimit": 0}
            plugin = {"Executable": args[0], "Arguments": _line(args[1:]), "ShellExecute": "False", "StartupDirectory": str(job.path.parent)}
            job_file, plugin_file = out / f"{name}.{kind}.job", out / f"{name}.{kind}.plugin"
            written += [_write(job_file, "".join(f"{k}={v}\n" for k, v in info.items())), _write(plugin_file, "".join(f"{k}={v}\n" for k, v in plugin.items()))]
            pairs += ["-job", str(job_file), str(plugin_file)]
        submits.append(_line(["deadlinecommand", "-SubmitMultipleJobs", "-dependent", *pairs]))
    header = f"#!/bin/sh\n# Submit the filmgan batch job {job.path} to Deadline: per shot, the chunks, then the merge that depends on them.\nset -e\n"
    written.append(_write(out / "submit.sh", header + "\n".join(submits) + "\n", executable=True))
    return written


def openjd_template(job: Job, plans: dict[str, ShotPlan], cmd: _Commands) -> dict:
    steps = []
    for name, plan in plans.items():
        render = cmd.render(name, "{{Task.Param.Frame}}")
        steps.append({"name": f"render-{name}",
                      "parameterSpace": {"taskParameterDefinitions": [{"name": "Frame", "type": "CHUNK[INT]", "range": _frames(plan),
                                                                      "chunks": {"defaultTaskCount": job.shot(name).chunk_size, "rangeConstraint": "CONTIGUOUS"}}]},
                      "script": {"actions": {"onRun": {"command": render[0], "args": render[1:]}}}})
        merge = cmd.merge(name)
        steps.append({"name": f"merge-{name}", "dependencies": [{"dependsOn": f"render-{name}"}],
                      "script": {"actions": {"onRun": {"command": merge[0], "args": merge[1:]}}}})
    return {"specificationVersion": "jobtemplate-2023-09", "extensions": ["TASK_CHUNKING"], "name": f"filmgan {job.path.stem}", "steps": steps}


def export_openjd(job: Job, plans: dict[str, ShotPlan], out: Path, cmd: _Commands) -> list[Path]:
    return [_write(out / f"{job.path.stem}.openjd.json", json.dumps(openjd_template(job, plans, cmd), indent=2) + "\n")]


def export_shell(job: Job, plans: dict[str, ShotPlan], out: Path, cmd: _Commands) -> list[Path]:
    lines = [f"#!/bin/sh\n# The filmgan batch job {job.path}, one chunk after another, then the merges.\nset -e"]
    for plan in plans.values():
        lines += [_line(cmd.chunk(c.id)) for c in plan.chunks]
    lines += [_line(cmd.merge(name)) for name in plans]
    return [_write(out / f"{job.path.stem}.sh", "\n".join(lines) + "\n", executable=True)]


def export_job(job: Job, plans: dict[str, ShotPlan], fmt: str, out: Path, command: str = "filmgan") -> list[Path]:
    """Write the files of ``fmt`` for the planned shots into ``out``; returns their paths."""
    exporters = {"opencue": export_opencue, "deadline": export_deadline, "openjd": export_openjd, "shell": export_shell}
    if fmt not in exporters:
        from ..config import did_you_mean

        raise ConfigError(f"unknown export format '{fmt}' ({', '.join(FORMATS)}){did_you_mean(fmt, FORMATS)}")
    args = shlex.split(command)
    if not args:
        raise ConfigError("the filmgan command for farm tasks is empty")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise OutputError(atomic.os_error_message(exc, out)) from exc
    return exporters[fmt](job, plans, out, _Commands(job, args))
