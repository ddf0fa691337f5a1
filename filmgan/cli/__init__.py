"""The ``filmgan`` command line: click commands over the library; rich messages and progress on stderr,
``--json`` result lines on stdout. Only this package prints.

    common.py   console, --json lines, errors -> exit codes, progress
    render.py   colorize, stylize            info.py   probe, presets list|show
    eval.py     eval flicker                 train.py  the 'train' group (filmgan.train.cli; torch when it runs)
    engine.py   engine build|list|verify|clean (torch only when a build exports)
    batch.py    batch init|plan|run-chunk|merge|run|export (render-farm jobs, filmgan.farm)

No module here imports torch at import time, and none imports another command module.
"""

from __future__ import annotations

import click

from .. import __version__
from .batch import batch
from .common import EXIT_CODE_HELP, FilmganGroup
from .engine import engine_group
from .eval import eval_group
from .info import presets, probe
from .render import colorize, stylize
from .train import train


@click.group(cls=FilmganGroup, epilog=EXIT_CODE_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="filmgan")
def main() -> None:
    """Colorize black-and-white footage and restyle video after paintings.

    \b
    filmgan colorize movie.mp4                 -> movie.colorized.mp4
    filmgan colorize photo.jpg                 -> photo.colorized.jpg
    filmgan stylize --preset great-wave a.mov  -> a.great-wave.mp4
    filmgan probe movie.mp4 --json
    """


for command in (colorize, stylize, probe, presets, train, eval_group, engine_group, batch):
    main.add_command(command)

__all__ = ["main"]
