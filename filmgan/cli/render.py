"""``filmgan colorize`` and ``filmgan stylize``: preset + flags -> typed settings -> the job runner."""

from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path

import click
from rich.markup import escape

from ..backends.base import BACKENDS, PRECISIONS
from ..config import DecodeConfig, RenderConfig, VIDEO_CODECS
from .common import ProgressReporter, emit_json, err, handle_errors, json_option


def common_options(fn):
    for option in reversed(
        [
            click.option("--overwrite", is_flag=True, help="Replace an existing output."),
            click.option("--quiet", "-q", is_flag=True, help="No progress bar or messages (errors still print)."),
            json_option,
        ]
    ):
        fn = option(fn)
    return fn


def render_options(fn):
    for option in reversed(
        [
            click.option("-o", "--output", type=click.Path(), help="Output file, image sequence (out/shot_%04d.tif) or folder (several inputs, or a name ending in '/'). Default: INPUT.<task>.<ext> beside the input."),
            click.option("--model", type=click.Path(path_type=Path, dir_okay=False), help="A model file (.safetensors) instead of the preset's."),
            click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True, help="Inference backend."),
            click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True, help="auto: bf16 on CPUs with AMX/AVX512-BF16 and on GPUs, else fp32."),
            click.option("--render-size", type=click.IntRange(16, 8192), help="Short side (px) the generator runs at; smaller is faster, larger keeps more detail."),
            click.option("--batch-size", type=click.IntRange(1, 256), default=1, show_default=True, help="Frames per inference batch."),
            click.option("--compile", "compile_model", is_flag=True, help="torch.compile the generator (pays off on long videos)."),
            click.option("--codec", type=click.Choice(VIDEO_CODECS), help="Video codec of the output (default h264)."),
            click.option("--crf", type=click.IntRange(0, 63), help="Constant rate factor (quality) for h264/h265/vp9/av1."),
            click.option("--encode-preset", help="Encoder speed preset (x264/x265: ultrafast ... veryslow)."),
            click.option("--pix-fmt", help="Output pixel format, e.g. yuv420p, yuv420p10le, yuv422p10le (default: 8-bit 4:2:0, or the source's bit depth and chroma layout when it is high bit depth)."),
            click.option("--fps", type=click.FloatRange(min=0.001), help="Frame rate of an image sequence input (default 24)."),
            click.option("--no-audio", is_flag=True, help="Leave the source's audio streams out of the output."),
            click.option("--no-subtitles", is_flag=True, help="Leave the source's subtitle streams out of the output."),
            click.option("--temporal/--no-temporal", "temporal", default=None, help="Flow-guided temporal blending against flicker (default: on, as the preset says)."),
            click.option("--temporal-strength", type=click.FloatRange(0.0, 0.99), help="Blend strength in [0, 1): higher is steadier, lower follows the per-frame output."),
            click.option("--skip-corrupt", is_flag=True, help="Skip undecodable packets instead of failing (timestamps keep A/V sync)."),
        ]
    ):
        fn = option(fn)
    return common_options(fn)


def run_render(inputs, preset_name: str, expected_task: str, suffix: str | None, options: dict) -> None:
    """Shared body of ``colorize`` and ``stylize``: typed settings from preset + flags, an engine, run, report."""
    from ..backends import EngineConfig, load_engine
    from ..guide.build import backend_for_guide
    from ..jobs import expand_inputs, run_job
    from ..presets import find_preset
    from ..processors.factory import build_processor
    from ..video.writer import check_encode_config

    preset = find_preset(preset_name)
    if preset.task != expected_task:
        raise click.UsageError(f"preset '{preset.name}' is a {preset.task} preset; use 'filmgan {'colorize' if preset.task == 'colorize' else 'stylize'}'")
    encode = preset.encode_config(codec=options["codec"], crf=options["crf"], preset=options["encode_preset"], pix_fmt=options["pix_fmt"],
                                  copy_audio=False if options["no_audio"] else None, copy_subtitles=False if options["no_subtitles"] else None)
    check_encode_config(encode)  # settings before inputs: a bad flag fails the same way for any input
    files = expand_inputs(inputs, suffix or preset.name)
    # OpenMP threads (torch's) sleep when idle instead of spinning: a render's decode and encode threads
    # share the cores, and spinning cost ~8 % of a 720p colorize on 2 cores (3.68 -> 4.00 frames/s).
    # Set before the backend imports torch; an explicit OMP_WAIT_POLICY is left alone.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 (av1 output) logs straight to stderr: errors only
    guide_spec = preset.guide_spec(references=options.get("reference"), keyframes=options.get("keyframe"), hints=options.get("hints"))
    backend = options["backend"]
    model_path = options["model"] or preset.model_path()
    backend = backend_for_guide(guide_spec, backend, model_path)
    engine_config = EngineConfig(backend=backend, precision=options["precision"], compile=options["compile_model"])
    task_config = preset.task_config(render_size=options["render_size"], saturation=options.get("saturation"),
                                     temporal=options["temporal"], temporal_strength=options["temporal_strength"],
                                     palette_strength=options.get("palette_strength"), upsample=options.get("upsample"))
    fps = Fraction(options["fps"]).limit_denominator(1001) if options["fps"] else None
    decode = DecodeConfig(batch_size=options["batch_size"], skip_corrupt=options["skip_corrupt"], fps=fps)
    config = RenderConfig(decode=decode, encode=encode, overwrite=options["overwrite"])
    with load_engine(model_path, engine_config, task=preset.task) as engine:
        warning = slow_precision_warning(engine)
        if warning and not (options["quiet"] or options["as_json"]):
            err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
        processor = build_processor(task_config, engine)
        guide = guided(processor, guide_spec, engine, files)
        if guide is not None and guide.has_exemplars and not getattr(engine, "matches_features", False) and not (options["quiet"] or options["as_json"]):
            err.print(f"[yellow]note:[/] the {escape(engine.name)} backend gives no encoder features: references and keyframes guide the "
                      "colours by their palette and propagation only, not by content (--backend torch does both)", soft_wrap=True)
        with ProgressReporter(options["quiet"] or options["as_json"]) as reporter:
            try:
                results = run_job(files, suffix or preset.name, options["output"], processor, config, reporter.for_input)
            finally:
                if guide is not None:
                    guide.close()
        failure = getattr(engine, "compile_failure", None)
        if failure and not (options["quiet"] or options["as_json"]):
            err.print(f"[yellow]warning:[/] --compile could not compile the model, so it ran eager: {escape(failure)}", soft_wrap=True)
    report_results(preset.name, results, options["as_json"], options["quiet"])


def slow_precision_warning(engine) -> str | None:
    """A warning when a torch engine runs fp16 (or bf16 without native support) on a CPU: it works, but
    through reference kernels that are several times slower than fp32."""
    device, precision = getattr(engine, "device", None), getattr(engine, "precision", None)
    if getattr(device, "type", None) != "cpu" or precision not in ("fp16", "bf16"):
        return None
    from ..backends.device import cpu_has_bf16  # a torch engine: torch is loaded already

    if precision == "bf16" and cpu_has_bf16():
        return None
    return (f"{precision} on this CPU runs through slow reference kernels (about 5x slower than fp32 here); "
            "use --precision fp32 (or auto) unless you are checking fp16 numerics")


def report_results(preset: str, results, as_json: bool, quiet: bool) -> None:
    """One line per input (wrote / skipped / failed) on stderr, or the JSON result with every input's
    outcome; exit with the first failure's code when any input failed."""
    failed = [r for r in results if r.status == "failed"]
    code = failed[0].exit_code if failed else 0
    message = f"{len(failed)} of {len(results)} inputs failed" if failed else None
    if as_json:
        payload = {"ok": not failed, "preset": preset, "results": [r.to_dict() for r in results]}
        if failed:
            payload.update(exit_code=code, error=message)
        emit_json(payload)
    for r in results:
        if r.status == "failed":
            err.print(f"[bold red]failed[/] {escape(r.input)}: {escape(r.error or '')}", soft_wrap=True)
        elif quiet or as_json:
            continue
        elif r.status == "skipped":
            err.print(f"[yellow]skipped[/] {escape(r.input)}: {escape(r.error or '')}", soft_wrap=True)
        else:
            info = r.to_dict()
            extra = f", {r.skipped_frames} damaged skipped" if r.skipped_frames else ""
            err.print(f"[green]wrote[/] {escape(r.output)}  ({r.frames} frame{'s' if r.frames != 1 else ''}{extra}, {info['fps'] or '-'} fps)")
    if failed:
        err.print(f"[bold red]error:[/] {message}")
        sys.exit(code)


def guided(processor, spec, engine, files):
    """Give the colorize processor the guide the user asked for (None when none); keyframes need one video."""
    from ..guide import build_guide
    from ..video.images import is_image

    if not spec:
        return None
    video = None
    if spec.keyframes:
        videos = [f for f in files if not is_image(f)]
        if len(files) != 1 or len(videos) != 1:
            raise click.UsageError("--keyframe belongs to one video: give exactly one video input")
        video = videos[0]
    guide = build_guide(spec, engine.prior_bins, video, processor.render_frames)
    processor.set_guide(guide)
    return guide


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--preset", "preset_name", default="colorize", show_default=True, help="Colorize preset name or .toml path.")
@click.option("--keyframe", multiple=True, metavar="N=IMAGE", help="Frame N of the video coloured by you (only its chroma is used); carried through its shot. Repeatable.")
@click.option("--reference", multiple=True, type=click.Path(path_type=Path, dir_okay=False), help="A reference photo: its palette conditions the colours, and its colours go where the frame shows the same content. Repeatable.")
@click.option("--hints", type=click.Path(path_type=Path, dir_okay=False), help="A JSON file of colour points and strokes (see README, Guided colorization).")
@click.option("--saturation", type=click.FloatRange(0.0, 3.0), help="Gain on the predicted colour (default: the model's calibrated value, see 'presets show').")
@render_options
@handle_errors
def colorize(inputs, preset_name, **options):
    """Colorize videos and still images (files or folders). Colour input is re-colorized from its luminance."""
    run_render(inputs, preset_name, "colorize", "colorized", options)


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--preset", "preset_name", required=True, help="Style preset name (see 'filmgan presets list') or .toml path.")
@click.option("--palette-strength", type=click.FloatRange(0.0, 1.0), help="0 keeps the footage's colours, 1 takes the painting's palette (default: the preset's).")
@click.option("--upsample", type=click.Choice(["bicubic", "guided", "detail"]), help="Render size -> frame size: bicubic, guided (edges), detail (the frame's fine detail; default: the preset's).")
@render_options
@handle_errors
def stylize(inputs, preset_name, **options):
    """Restyle videos and still images after a painting preset."""
    run_render(inputs, preset_name, "style", None, options)

