"""What every ``filmgan`` command shares: the stderr console, ``--json`` result lines, errors -> exit codes,
and the progress bar. Only the CLI prints; the library reports through return values and callbacks."""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import sys
import threading
import time
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..errors import EXIT_CODES, FilmganError, Terminated

err = Console(stderr=True, highlight=False)
EXIT_CODE_HELP = "\b\nExit codes:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES.items())
JSON_FLAG = "--json"
_JSON_META = "filmgan.json"  # ctx.meta key (shared by a command and its group): --json was on the command line


def emit_json(payload: dict) -> None:
    """One JSON line on stdout."""
    click.echo(json.dumps(payload, default=str))


def json_requested() -> bool:
    """True when the running command was given ``--json`` (read from the click context)."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("as_json") or ctx.meta.get(_JSON_META):
            return True
        ctx = ctx.parent
    return False


def fail(code: int, message: str, as_json: bool) -> None:
    """Report an error (JSON line on stdout under --json, always a message on stderr) and exit."""
    if as_json:
        emit_json({"ok": False, "exit_code": code, "error": message})
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)  # messages name extras: 'filmgan[trt]' is not markup
    sys.exit(code)


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_exception():
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread (like Ctrl-C raises
    KeyboardInterrupt), so the same cleanup runs: partial outputs removed, a message, exit 143."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def handle_errors(fn):
    """Map filmgan errors to one-line messages and exit codes; Ctrl-C to 130 and SIGTERM to 143 (outputs
    are already cleaned)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with sigterm_as_exception():
                return fn(*args, **kwargs)
        except FilmganError as exc:
            code, message = exc.exit_code, str(exc)
        except Terminated:
            code, message = 143, "terminated by SIGTERM; no partial output was left"
        except KeyboardInterrupt:
            code, message = 130, "interrupted; no partial output was left"
        fail(code, message, bool(kwargs.get("as_json")) or json_requested())

    return wrapper


class FilmganGroup(click.Group):
    """A click group whose usage errors (bad option values, unknown options, ...) are also JSON lines under
    ``--json``, like every other error; click still prints its usage message on stderr."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_JSON_META] = ctx.meta.get(_JSON_META, False) or JSON_FLAG in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if ctx.meta.get(_JSON_META) and not ctx.meta.get("filmgan.json_sent"):
                ctx.meta["filmgan.json_sent"] = True
                emit_json({"ok": False, "exit_code": exc.exit_code, "error": exc.format_message()})
            raise


def json_option(fn):
    return click.option(JSON_FLAG, "as_json", is_flag=True, help="Print one machine-readable JSON result line on stdout.")(fn)


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
