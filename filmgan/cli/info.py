"""``filmgan probe`` and ``filmgan presets list|show``: look at media files and presets."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import FilmganError
from .common import emit_json, err, handle_errors


@click.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the probe as JSON on stdout.")
@handle_errors
def probe(input, as_json):
    """Show a media file's streams, frame rate, size, colour tags and rotation."""
    from ..video.probe import probe as probe_media

    from ..video.integrity import check_integrity

    probed = probe_media(input)
    problem = check_integrity(probed)
    info = probed.to_dict()
    info["warnings"] = [problem] if problem else []
    if problem:
        err.print(f"[yellow]warning:[/] {escape(problem)}", soft_wrap=True)
    if as_json:
        emit_json(info)
        return
    table = Table(show_header=False, box=None)
    for key, value in info.items():
        table.add_row(f"[bold]{key}[/]", json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value))
    Console().print(table)


@click.group()
def presets():
    """List and show presets (packaged, ~/.config/filmgan/presets, $FILMGAN_PRESET_PATH)."""


@presets.command("list")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def presets_list(as_json):
    """List the available presets."""
    from ..presets import list_presets

    broken: list = []
    found = list_presets(strict=False, broken=broken)
    if as_json:
        emit_json({"ok": True, "presets": [p.summary() for p in found], "broken": [str(e) for e in broken]})
    else:
        table = Table("name", "task", "model", "description")
        for p in found:
            table.add_row(p.name, p.task, p.model, p.description)
        Console().print(table)
    for exc in broken:  # a malformed user preset must not hide the others: list them, name it
        err.print(f"[yellow]warning:[/] skipped a broken preset: {escape(str(exc))}", soft_wrap=True)


@presets.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def presets_show(name, as_json):
    """Show one preset's settings and its model card."""
    from ..card import read_card
    from ..presets import find_preset

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
