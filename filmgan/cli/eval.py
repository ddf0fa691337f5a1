"""``filmgan eval ...``: measurements on rendered videos. Torch-free (numpy, OpenCV, PyAV), so it runs on
render nodes.

``filmgan eval flicker VIDEO [--reference SRC]`` prints the warping error of Lai et al. (ECCV 2018) and
the colour distribution consistency (CDC) of Liu et al. (2021); see :mod:`filmgan.metrics.flicker` for
the exact definitions. With ``--reference`` (the source the video was made from) the optical flow is
computed on the source frames, which is how the warping error is meant to be used: the output's own flow
would follow its flicker.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import click
import numpy as np


@click.group("eval")
def eval_group():
    """Measure rendered videos (temporal stability)."""


def _frames(path: Path, start: int, end: int | None) -> Iterator[np.ndarray]:
    from ..config import DecodeConfig
    from ..video.reader import VideoReader

    for batch in VideoReader(path, DecodeConfig(start=start, end=end, batch_size=8)):
        yield from batch.frames


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


@eval_group.command("flicker")
@click.argument("video", type=click.Path(path_type=Path))
@click.option("--reference", type=click.Path(path_type=Path), help="The source video (same frame count): compute the flow on it.")
@click.option("--start", type=click.IntRange(0), default=0, show_default=True, help="First frame (in both videos).")
@click.option("--frames", "count", type=click.IntRange(2), help="Number of frames to measure (default: to the end).")
@click.option("--flow-preset", type=click.Choice(["ultrafast", "fast", "medium"]), default="medium", show_default=True, help="OpenCV DIS preset of the warping error's flow.")
@click.option("--flow-max-side", type=click.IntRange(16), help="Compute the flow at most this large (longer side, px); default full size.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result line on stdout.")
def flicker(video, reference, start, count, flow_preset, flow_max_side, as_json):
    """Warping error E_warp (lower is steadier) and CDC of VIDEO.

    \b
    E_warp: mean over consecutive pairs of the occlusion-masked squared difference between frame t-1 and
            frame t warped back along the optical flow (RGB in [0, 1]; Lai et al. 2018).
    CDC:    mean Jensen-Shannon divergence of the colour histograms of frames 1, 2 and 4 apart (Liu et
            al. 2021); it sees global colour flicker that E_warp's masking may miss.
    """
    from .common import emit_json, handle_errors

    @handle_errors
    def go(as_json=False):
        from ..metrics.flicker import flicker_report

        end = start + count if count else None
        ref = _frames(reference, start, end) if reference else None
        report = flicker_report(_frames(video, start, end), ref, preset=flow_preset, max_side=flow_max_side)
        result = {
            "ok": True,
            "video": str(video),
            "reference": str(reference) if reference else None,
            "frames": report["frames"],
            "pairs": report["pairs"],
            "scene_cuts_skipped": report["cuts"],
            "warp_error": _number(report["warp_error"]),
            "cdc": _number(report["cdc"]),
            "cdc_gaps": {str(g): _number(v) for g, v in report["cdc_gaps"].items()},
            "flow_on": report["flow_on"],
            "flow_preset": flow_preset,
        }
        if as_json:
            emit_json(result)
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(show_header=False, box=None)
        table.add_row("[bold]video[/]", str(video))
        table.add_row("[bold]flow on[/]", f"{reference or video} (DIS {flow_preset})")
        table.add_row("[bold]frames[/]", f"{report['frames']} ({report['pairs']} pairs)" + (f", {report['cuts']} across scene cuts left out" if report["cuts"] else ""))
        table.add_row("[bold]E_warp[/]", _fmt(result["warp_error"], "{:.6f}"))
        table.add_row("[bold]CDC[/]", _fmt(result["cdc"], "{:.6f}"))
        Console().print(table)

    go(as_json=as_json)


def _fmt(value: float | None, pattern: str) -> str:
    return "n/a (too few frames)" if value is None else pattern.format(value)
