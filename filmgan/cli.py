"""The ``filmgan`` command line: click commands over the library; rich messages and progress on stderr,
``--json`` result lines on stdout. Only this module prints."""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .config import DecodeConfig, RenderConfig, VIDEO_CODECS
from .errors import EXIT_CODES, FilmganError

err = Console(stderr=True, highlight=False)
EXIT_CODE_HELP = "\b\nExit codes:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES.items())


def emit_json(payload: dict) -> None:
    click.echo(json.dumps(payload, default=str))


def handle_errors(fn):
    """Map filmgan errors to one-line messages and exit codes; Ctrl-C to 130 (outputs are already cleaned)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        as_json = kwargs.get("as_json", False)
        try:
            return fn(*args, **kwargs)
        except FilmganError as exc:
            code, message = exc.exit_code, str(exc)
        except KeyboardInterrupt:
            code, message = 130, "interrupted; no partial output was left"
        if as_json:
            emit_json({"ok": False, "exit_code": code, "error": message})
        err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
        sys.exit(code)

    return wrapper


def common_options(fn):
    for option in reversed(
        [
            click.option("--overwrite", is_flag=True, help="Replace an existing output."),
            click.option("--quiet", "-q", is_flag=True, help="No progress bar or messages (errors still print)."),
            click.option("--json", "as_json", is_flag=True, help="Print one machine-readable JSON result line on stdout."),
        ]
    ):
        fn = option(fn)
    return fn


def render_options(fn):
    for option in reversed(
        [
            click.option("-o", "--output", type=click.Path(path_type=Path), help="Output file, or folder for several inputs. Default: INPUT.<task>.<ext> beside the input."),
            click.option("--model", type=click.Path(path_type=Path, dir_okay=False), help="A model file (.safetensors) instead of the preset's."),
            click.option("--backend", type=click.Choice(["auto", "torch", "ort", "tensorrt"]), default="auto", show_default=True, help="Inference backend."),
            click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True, help="auto: bf16 on CPUs with AMX/AVX512-BF16 and on GPUs, else fp32."),
            click.option("--render-size", type=click.IntRange(16, 8192), help="Short side (px) the generator runs at; smaller is faster, larger keeps more detail."),
            click.option("--batch-size", type=click.IntRange(1, 256), default=1, show_default=True, help="Frames per inference batch."),
            click.option("--compile", "compile_model", is_flag=True, help="torch.compile the generator (pays off on long videos)."),
            click.option("--codec", type=click.Choice(VIDEO_CODECS), help="Video codec of the output (default h264)."),
            click.option("--crf", type=click.IntRange(0, 63), help="Constant rate factor (quality) for h264/h265/vp9/av1."),
            click.option("--encode-preset", help="Encoder speed preset (x264/x265: ultrafast ... veryslow)."),
            click.option("--pix-fmt", help="Output pixel format, e.g. yuv420p, yuv420p10le, yuv422p10le."),
            click.option("--temporal/--no-temporal", "temporal", default=None, help="Flow-guided temporal blending against flicker (default: on, as the preset says)."),
            click.option("--temporal-strength", type=click.FloatRange(0.0, 0.99), help="Blend strength in [0, 1): higher is steadier, lower follows the per-frame output."),
            click.option("--skip-corrupt", is_flag=True, help="Skip undecodable packets instead of failing (timestamps keep A/V sync)."),
        ]
    ):
        fn = option(fn)
    return common_options(fn)


class ProgressReporter:
    """A rich progress bar per video: frames, fps and ETA; a spinner when the frame count is unknown."""

    def __init__(self, quiet: bool):
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[fps]} fps"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err,
            disable=quiet,
            transient=False,
        )

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def for_input(self, src: Path):
        task = self.progress.add_task(src.name, total=None, fps="-")
        start = time.perf_counter()

        def update(done: int, total: int | None) -> None:
            elapsed = time.perf_counter() - start
            fps = f"{done / elapsed:.1f}" if elapsed > 0 and done else "-"
            self.progress.update(task, completed=done, total=total, fps=fps)

        return update


def run_render(inputs, preset_name: str, expected_task: str, suffix: str | None, options: dict) -> None:
    """Shared body of ``colorize`` and ``stylize``: build the processor from preset + flags, run, report."""
    from .jobs import expand_inputs, run_job
    from .presets import find_preset
    from .processors.factory import build_processor

    preset = find_preset(preset_name)
    if preset.task != expected_task:
        raise click.UsageError(f"preset '{preset.name}' is a {preset.task} preset; use 'filmgan {'colorize' if preset.task == 'colorize' else 'stylize'}'")
    files = expand_inputs(inputs)
    # OpenMP threads (torch's) sleep when idle instead of spinning: a render's decode and encode threads
    # share the cores, and spinning cost ~8 % of a 720p colorize on 2 cores (3.68 -> 4.00 frames/s).
    # Set before the backend imports torch; an explicit OMP_WAIT_POLICY is left alone.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    processor = build_processor(preset, options)
    encode = preset.encode_config(codec=options["codec"], crf=options["crf"], preset=options["encode_preset"], pix_fmt=options["pix_fmt"])
    config = RenderConfig(decode=DecodeConfig(batch_size=options["batch_size"], skip_corrupt=options["skip_corrupt"]), encode=encode, overwrite=options["overwrite"])
    with ProgressReporter(options["quiet"] or options["as_json"]) as reporter:
        results = run_job(files, suffix or preset.name, options["output"], processor, config, reporter.for_input)
    if options["as_json"]:
        emit_json({"ok": True, "preset": preset.name, "results": [r.to_dict() for r in results]})
    elif not options["quiet"]:
        for r in results:
            info = r.to_dict()
            err.print(f"[green]wrote[/] {r.output}  ({r.frames} frame{'s' if r.frames != 1 else ''}, {info['fps'] or '-'} fps)")


@click.group(epilog=EXIT_CODE_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="filmgan")
def main() -> None:
    """Colorize black-and-white footage and restyle video after paintings.

    \b
    filmgan colorize movie.mp4                 -> movie.colorized.mp4
    filmgan colorize photo.jpg                 -> photo.colorized.jpg
    filmgan stylize --preset great-wave a.mov  -> a.great-wave.mp4
    filmgan probe movie.mp4 --json
    """


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--preset", "preset_name", default="colorize", show_default=True, help="Colorize preset name or .toml path.")
@click.option("--saturation", type=click.FloatRange(0.0, 3.0), help="Gain on the predicted colour (default: the model's calibrated value, see 'presets show').")
@render_options
@handle_errors
def colorize(inputs, preset_name, **options):
    """Colorize videos and still images (files or folders). Colour input is re-colorized from its luminance."""
    run_render(inputs, preset_name, "colorize", "colorized", options)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--preset", "preset_name", required=True, help="Style preset name (see 'filmgan presets list') or .toml path.")
@render_options
@handle_errors
def stylize(inputs, preset_name, **options):
    """Restyle videos and still images after a painting preset."""
    run_render(inputs, preset_name, "style", None, options)


@main.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the probe as JSON on stdout.")
@handle_errors
def probe(input, as_json):
    """Show a media file's streams, frame rate, size, colour tags and rotation."""
    from .video.probe import probe as probe_media

    info = probe_media(input).to_dict()
    if as_json:
        emit_json(info)
        return
    table = Table(show_header=False, box=None)
    for key, value in info.items():
        table.add_row(f"[bold]{key}[/]", json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value))
    Console().print(table)


@main.group()
def presets():
    """List and show presets (packaged, ~/.config/filmgan/presets, $FILMGAN_PRESET_PATH)."""


@presets.command("list")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def presets_list(as_json):
    """List the available presets."""
    from .presets import list_presets

    found = list_presets()
    if as_json:
        emit_json({"ok": True, "presets": [p.summary() for p in found]})
        return
    table = Table("name", "task", "model", "description")
    for p in found:
        table.add_row(p.name, p.task, p.model, p.description)
    Console().print(table)


@presets.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def presets_show(name, as_json):
    """Show one preset's settings and its model card."""
    from .card import read_card
    from .presets import find_preset

    preset = find_preset(name)
    summary = preset.summary()
    try:
        summary["card"] = json.loads(read_card(preset.model_path()).to_json())
    except FilmganError as exc:
        summary["model_error"] = str(exc)
    if as_json:
        emit_json(summary)
    else:
        Console().print_json(json.dumps(summary, default=str))


from .train.cli import train  # noqa: E402  (registers 'filmgan train ...'; torch is imported only when it runs)

main.add_command(train)

from .evalcli import eval_group  # noqa: E402  ('filmgan eval flicker ...'; torch-free)

main.add_command(eval_group)

if __name__ == "__main__":
    main()
