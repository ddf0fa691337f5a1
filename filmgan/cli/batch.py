"""``filmgan batch``: render-farm jobs -- init, plan, run-chunk, merge, run, export (filmgan.farm)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from rich.markup import escape

from ..errors import FilmganError
from .common import ProgressReporter, emit_json, err, handle_errors, json_option

JOB = click.argument("job_file", type=click.Path(path_type=Path, dir_okay=False))


def shot_command(fn):
    """A command over a job's shots: JOB_FILE, --shot (repeatable), --json, errors -> exit codes."""
    for option in (handle_errors, json_option, click.option("--shot", "shots", multiple=True, help="Only this shot (repeatable)."), JOB):
        fn = option(fn)
    return fn


@click.group("batch")
def batch() -> None:
    """Render-farm batch jobs: a TOML job of shots, split into frame-range chunks that any farm can run.

    \b
    filmgan batch init clips/*.mov --preset colorize --out-dir out -o job.toml
    filmgan batch plan job.toml
    filmgan batch run job.toml --executor local --workers 2
    filmgan batch export job.toml --format openjd -o farm/
    """


def _load(path: Path, shots=()):
    from ..farm.jobfile import load_job, with_shots

    return with_shots(load_job(path), list(shots))


@batch.command("init")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--preset", "preset_name", default="colorize", show_default=True, help="Preset of every shot.")
@click.option("--out-dir", required=True, type=click.Path(path_type=Path, file_okay=False), help="Output root: shots go to DIR/<input stem>.<ext>.")
@click.option("--chunk-size", type=click.IntRange(1), default=240, show_default=True, help="Frames per chunk.")
@click.option("--warmup", type=click.IntRange(0), default=16, show_default=True, help="Warm-up frames before each chunk.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The job file to write.")
@click.option("--overwrite", is_flag=True, help="Replace an existing job file.")
@json_option
@handle_errors
def init(inputs, preset_name, out_dir, chunk_size, warmup, output, overwrite, as_json):
    """Write a valid job file for INPUTS, to edit before planning."""
    from ..farm.jobfile import load_job
    from ..farm.jobinit import init_job

    path = init_job(list(inputs), output, out_dir, preset_name, chunk_size, warmup, overwrite)
    job = load_job(path)
    if as_json:
        emit_json({"ok": True, "job": str(path), "shots": [s.name for s in job.shots]})
    else:
        err.print(f"[green]wrote[/] {path} ({len(job.shots)} shot{'s' if len(job.shots) != 1 else ''}); next: filmgan batch plan {path}")


@batch.command("plan")
@shot_command
def plan(job_file, shots, as_json):
    """Split every shot into chunks (aligned to scene cuts) and list them with their task ids."""
    from ..farm.plan import plan_shot

    job = _load(job_file, shots)
    plans, failed = [], {}
    for shot in job.shots:
        try:
            with err.status(f"planning {shot.name} (one decode pass; cached in {job.settings.work_dir})"):
                plans.append(plan_shot(job, shot))
        except FilmganError as exc:  # a shot that cannot be planned is reported; the others are still listed
            failed[shot.name] = exc
    if as_json:
        errors = {name: {"error": str(exc), "exit_code": exc.exit_code} for name, exc in failed.items()}
        emit_json({"ok": not failed, "job": str(job.path), "shots": [p.to_dict() for p in plans], "failed": errors,
                   **({"exit_code": next(iter(errors.values()))["exit_code"]} if failed else {})})
    else:
        _print_plans(plans)
    for name, exc in failed.items():
        err.print(f"[bold red]error:[/] shot {name}: {escape(str(exc))}", soft_wrap=True)
    if failed:
        sys.exit(next(iter(failed.values())).exit_code)


def _print_plans(plans) -> None:
    for p in plans:
        table = Table(title=f"{p.shot}: frames {p.start}-{p.end - 1} ({p.end - p.start}), cuts at {list(p.cuts) or 'none'}", title_justify="left")
        for column in ("task id", "frames", "count", "warm-up from"):
            table.add_column(column)
        for c in p.chunks:
            table.add_row(c.id, f"{c.start}-{c.end - 1}", str(c.frames), f"{c.warmup_start} ({c.warmup})" if c.warmup else "-")
        err.print(table)


def _parse_frames(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        raise click.BadParameter(f"'{text}' is not a frame range such as 96-191 or 96")
    return int(first), int(last or first)


@batch.command("run-chunk")
@JOB
@click.argument("task_id", required=False)
@click.option("--shot", help="Shot name (with --start/--end or --frames, e.g. from farm frame tokens).")
@click.option("--start", type=click.IntRange(0), help="First frame (inclusive): the planned chunks starting in [START, END] run.")
@click.option("--end", type=click.IntRange(0), help="Last frame (inclusive).")
@click.option("--frames", help="A-B: the same as --start A --end B (OpenJD chunk ranges).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@json_option
@handle_errors
def run_chunk(job_file, task_id, shot, start, end, frames, quiet, as_json):
    """Render one chunk by TASK_ID, or every planned chunk of --shot starting in a frame range."""
    from ..farm.chunk import close_engines, run_chunk as render_chunk
    from ..farm.plan import parse_task_id, plan_shot

    job = _load(job_file)
    if task_id is not None:
        if shot or start is not None or end is not None or frames:
            raise click.UsageError("give a TASK_ID or --shot with a frame range, not both")
        the_shot = job.shot(parse_task_id(task_id)[0])
        chunks = [plan_shot(job, the_shot).chunk(task_id)]
    else:
        if not shot or (frames is None) == (start is None or end is None):
            raise click.UsageError("give a TASK_ID, or --shot S with --start A --end B or --frames A-B")
        first, last = _parse_frames(frames) if frames else (start, end)
        the_shot = job.shot(shot)
        chunks = plan_shot(job, the_shot).chunks_starting_in(first, last)
    results = []
    with ProgressReporter(quiet or as_json) as reporter:
        try:
            for chunk in chunks:
                results.append(render_chunk(job, the_shot, chunk, reporter.for_input(Path(chunk.id))))
        finally:
            close_engines()
    if as_json:
        emit_json({"ok": True, "results": [r.to_dict() for r in results]})
    elif not quiet:
        for r in results:
            err.print(f"[green]{'valid, skipped' if r.skipped else 'rendered'}[/] {r.id} -> {r.segment}")
        if not results:
            err.print("no planned chunk starts in that range (its frames belong to a neighbouring task's chunk)")


@batch.command("merge")
@shot_command
def merge(job_file, shots, as_json):
    """Concatenate each shot's segments into its output with the source audio, verified, then renamed into place."""
    from ..farm.merge import merge_shot
    from ..farm.plan import plan_shot

    job = _load(job_file, shots)
    results = [merge_shot(job, s, plan_shot(job, s)) for s in job.shots]
    if as_json:
        emit_json({"ok": True, "results": [r.to_dict() for r in results]})
    else:
        for r in results:
            err.print(f"[green]{'up to date' if r.skipped else 'merged'}[/] {r.output} ({r.frames} frames, {r.mode})")


class _JobProgress:
    """Rich bars for a job run: chunks and frames; messages for retries and failed shots."""

    def __init__(self, quiet: bool) -> None:
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                             TimeRemainingColumn(), console=err, disable=quiet)
        self.chunks = self.bars.add_task("chunks", total=0)
        self.frames = self.bars.add_task("frames", total=0)
        self.quiet = quiet

    def __call__(self, kind: str, data: dict) -> None:
        if kind == "planned":
            self.bars.update(self.chunks, total=self.bars.tasks[self.chunks].total + data["chunks"])
            self.bars.update(self.frames, total=self.bars.tasks[self.frames].total + data["frames"])
        elif kind == "chunk":
            self.bars.advance(self.chunks)
            self.bars.advance(self.frames, data["frames"])
        elif kind == "retry" and not self.quiet:
            self.bars.console.print(f"[yellow]retrying[/] {data['task']}: {escape(data['error'])}", soft_wrap=True)
        elif kind == "failed" and not self.quiet:
            self.bars.console.print(f"[red]shot {data['shot']} failed:[/] {escape(data['error'])}", soft_wrap=True)
        elif kind == "merged" and not self.quiet:
            self.bars.console.print(f"[green]{'up to date' if data['skipped'] else 'merged'}[/] {data['output']}")


@batch.command("run")
@click.option("--executor", type=click.Choice(["local", "dask"]), help="Default: the job file's.")
@click.option("--workers", type=click.IntRange(1), help="Worker processes (local pool or LocalCluster). Default: the job file's.")
@click.option("--scheduler", help="Dask scheduler address (tcp://HOST:PORT); default: a LocalCluster.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@shot_command
def run(job_file, shots, executor, workers, scheduler, quiet, as_json):
    """Plan, render and merge the whole job; re-running redoes only missing or invalid chunks."""
    from ..farm.executors import run_job

    job = _load(job_file, shots)
    if scheduler and (executor or job.settings.executor) != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    progress = _JobProgress(quiet or as_json)
    with progress.bars:
        report = run_job(job, executor, workers, scheduler, progress)
    summary = report.to_dict()
    if report.failed:
        code = next(iter(report.failed.values()))["exit_code"]
        message = "; ".join(f"shot {s}: {f['error']}" for s, f in report.failed.items())
        if as_json:
            emit_json({"ok": False, "exit_code": code, "error": message, **summary})
        err.print(f"[bold red]error:[/] {len(report.failed)} of {summary['shots']} shots failed", soft_wrap=True)
        sys.exit(code)
    if as_json:
        emit_json({"ok": True, **summary})
    elif not quiet:
        err.print(f"[green]done[/]: {report.rendered} chunks rendered, {report.skipped} already valid, {report.retries} retries, "
                  f"{len(report.merges)} shots merged")


@batch.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(["opencue", "deadline", "openjd", "shell"]), help="Farm format.")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False), help="Folder for the exported files.")
@click.option("--command", "command", default="filmgan", show_default=True, help="How farm nodes call filmgan (e.g. '/opt/venv/bin/filmgan').")
@shot_command
def export(job_file, shots, fmt, out_dir, command, as_json):
    """Write the job for a farm: every task calls 'filmgan batch run-chunk', merges depend on their shot's chunks."""
    from ..farm.exports import export_job
    from ..farm.plan import plan_shot

    job = _load(job_file, shots)
    plans = {s.name: plan_shot(job, s) for s in job.shots}
    written = export_job(job, plans, fmt, out_dir, command)
    if as_json:
        emit_json({"ok": True, "format": fmt, "files": [str(p) for p in written]})
    else:
        for path in written:
            err.print(f"[green]wrote[/] {path}")

