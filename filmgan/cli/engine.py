"""``filmgan engine build|list|verify|clean``: the cache of built engines (filmgan.export)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..errors import CheckpointError
from .common import emit_json, err, handle_errors, json_option


def _models(preset: str | None, model: Path | None) -> list[Path]:
    """The model files named by --preset (a name, a .toml, or 'all') or --model."""
    from ..presets import find_preset, list_presets

    if model is not None and preset:
        raise click.UsageError("give --preset or --model, not both")
    if model is not None:
        return [model]
    if not preset:
        raise click.UsageError("give --preset NAME (or 'all') or --model PATH")
    if preset == "all":
        return sorted({p.model_path() for p in list_presets()})
    return [find_preset(preset).model_path()]


def _auto_backend() -> str:
    from ..backends.select import CPU_PREFERENCE, _gpu_present
    from ..export import cache

    if _gpu_present():
        return "tensorrt"
    installed = [b for b in CPU_PREFERENCE if cache.backend_installed(b)]
    if not installed:
        cache.backend_version("ort")  # BackendUnavailableError naming the extra
    return installed[0]


@click.group("engine")
def engine_group():
    """Build, list, verify and clean cached inference engines (ONNX Runtime, OpenVINO, TensorRT).

    \b
    Cache: $FILMGAN_ENGINE_DIR, else engines/ in a checkout, else ~/.cache/filmgan/engines.
    filmgan engine build --preset the-scream --backend ort --precision int8
    filmgan engine build --preset all --backend tensorrt --precision fp16 --profile 640x368:1280x720:1920x1088
    """


@engine_group.command("build")
@click.option("--preset", help="Preset whose model to build (name, .toml path, or 'all').")
@click.option("--model", type=click.Path(path_type=Path, dir_okay=False), help="A model file (.safetensors) instead of a preset.")
@click.option("--backend", type=click.Choice(["auto", "ort", "openvino", "tensorrt"]), default="auto", show_default=True,
              help="auto: TensorRT on a GPU, else the fastest CPU runtime installed.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True)
@click.option("--shape", help="Static input size WxH (the network's input, at the render size).")
@click.option("--profile", "shape_profile", help="Dynamic range MIN:OPT:MAX, each WxH (TensorRT optimisation profile).")
@click.option("--max-batch", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--calibration", type=click.Path(path_type=Path, file_okay=False), help="int8: calibration photo folder (default: ../shared/data/photos/bsds500_train).")
@click.option("--force", is_flag=True, help="Rebuild even when the cache holds this engine.")
@click.option("--no-verify", is_flag=True, help="Skip the check against the torch reference after a build.")
@json_option
@handle_errors
def build_cmd(preset, model, backend, precision, shape, shape_profile, max_batch, calibration, force, no_verify, as_json):
    """Export and build engines; a build whose cache key exists is a no-op."""
    from ..export import build as builder
    from ..export.verify import check_verified, verify_record

    backend = _auto_backend() if backend == "auto" else backend
    profile = builder.Profile.parse(shape, shape_profile, max_batch)
    results = []
    for path in _models(preset, model):
        started = time.perf_counter()
        record, built = builder.build(path, backend, precision, profile, force=force, calibration=calibration)
        verify = record.card.get("verify")
        if built and not no_verify:
            verify = verify_record(record)
        info = {**record.summary(), "built_now": built, "seconds": round(time.perf_counter() - started, 3), "verify": verify}
        results.append(info)
        if not as_json:
            what = "built" if built else "cached"
            check = "" if not verify else f", max abs {verify['max_abs']:.1e}, PSNR {verify['psnr']:.1f} dB vs {verify.get('reference', 'torch')}"
            err.print(f"[green]{what}[/] {record.path}  ({info['seconds']:.2f} s{check})")
        if verify and built:
            check_verified(verify, f"engine {record.path.name}")
    if as_json:
        emit_json({"ok": True, "engines": results})


@engine_group.command("list")
@json_option
@handle_errors
def list_cmd(as_json):
    """List the cached engines with their keys, devices and verification."""
    from ..export import cache

    records = [r.summary() for r in cache.list_records()]
    if as_json:
        emit_json({"ok": True, "dir": str(cache.engine_dir()), "engines": records})
        return
    table = Table(title=str(cache.engine_dir()))
    for col in ("model", "backend", "precision", "key", "device", "MB", "verify"):
        table.add_column(col)
    for r in records:
        dev = r["device"].get("name") or ",".join(r["device"].get("isa", [])[-3:])
        v = r["verify"]
        table.add_row(r["model"], f"{r['backend']} {r['backend_version']}", r["precision"], r["key"], dev, f"{(r['size'] or 0) / 1e6:.1f}",
                      "-" if not v else ("ok" if v["ok"] else "FAIL") + f" {v['psnr']:.1f} dB")
    Console(stderr=True).print(table)


def engine_selection(fn):
    """--model / --backend (which cached engines a command touches) and --json."""
    fn = json_option(fn)
    fn = click.option("--backend", type=click.Choice(["ort", "openvino", "tensorrt"]))(fn)
    return click.option("--model", "model_name", help="Only engines of this model (card name).")(fn)


@engine_group.command("verify")
@engine_selection
@handle_errors
def verify_cmd(model_name, backend, as_json):
    """Check every cached engine against the torch reference on fixed inputs (max abs error, PSNR)."""
    from ..export import build as builder, cache
    from ..export.verify import verify_record

    results, failed = [], 0
    for record in cache.list_records():
        c = record.card
        if (model_name and c["model_card"]["name"] != model_name) or (backend and c["backend"] != backend):
            continue
        if not cache.backend_installed(c["backend"]):
            results.append({"file": str(record.path), "skipped": f"{c['backend']} is not installed"})
            continue
        device = builder.device_for(c["backend"])
        cache.check_device(record, device, cache.backend_version(c["backend"]), f"filmgan engine build --model {c.get('source')} --backend {c['backend']} --precision {c['precision']} --force")
        result = verify_record(record)
        failed += not result["ok"]
        results.append({"file": str(record.path), **result})
        if not as_json:
            mark = "[green]ok[/]" if result["ok"] else "[bold red]FAIL[/]"
            err.print(f"{mark} {record.path.name}: max abs {result['max_abs']:.2e}, PSNR {result['psnr']:.1f} dB ({result['bar']}, vs {result['reference']})")
    if as_json:
        emit_json({"ok": not failed, "engines": results})
    if failed:
        raise CheckpointError(f"{failed} engine(s) fail their quality bar")


@engine_group.command("clean")
@engine_selection
@handle_errors
def clean_cmd(model_name, backend, as_json):
    """Remove cached engines (all, or of one model / backend) and leftover temporary files."""
    from ..export import cache

    removed = cache.clean(model=model_name, backend=backend)
    if as_json:
        emit_json({"ok": True, "removed": [str(p) for p in removed]})
    else:
        err.print(f"removed {len(removed)} file(s) from {cache.engine_dir()}")


__all__ = ["engine_group"]
