"""Atomic output files: write to a temporary name beside the destination, fsync, rename on success.

The temporary name keeps the real extension last (``.clip.mp4.partial-1234.mp4``) so FFmpeg and OpenCV
pick the right muxer/encoder from it. On any exception -- KeyboardInterrupt included -- the temporary file
is removed and the exception re-raised, so a destination either holds a complete file or nothing new.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterator

from ..errors import OutputError


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True if ``a`` and ``b`` name the same file (symlinks and hard links resolved)."""
    pa, pb = Path(a), Path(b)
    try:
        return pa.exists() and pb.exists() and os.path.samefile(pa, pb)
    except OSError:
        return pa.resolve() == pb.resolve()


def check_destination(dst: str | os.PathLike, *, overwrite: bool, source: str | os.PathLike | None = None) -> Path:
    """Validate ``dst`` before any work: never the source, exists only with ``overwrite``, folder writable."""
    dst = Path(dst)
    if source is not None and (same_file(dst, source) or dst.resolve() == Path(source).resolve()):
        raise OutputError(f"refusing to overwrite the input file {source}; choose another output path")
    if dst.is_dir():
        raise OutputError(f"output path {dst} is a folder; give a file name")
    if dst.exists() and not overwrite:
        raise OutputError(f"{dst} already exists; pass overwrite (--overwrite) to replace it")
    folder = dst.parent if str(dst.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {folder} is not writable")
    return dst


def partial_path(dst: Path) -> Path:
    """The temporary name used while ``dst`` is being written (hidden, same folder, same extension).

    Partials that an earlier, killed run (SIGKILL, power loss) left for the same ``dst`` are removed
    first: their PID is in the name, and a PID that no longer runs cannot finish them."""
    remove_stale_partials(dst)
    return dst.with_name(f".{dst.name}.partial-{os.getpid()}{dst.suffix}")


def pid_alive(pid: int) -> bool:
    """True if a process with this PID exists (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(dst: Path) -> list[Path]:
    """Delete ``.NAME.partial-PID.EXT`` files of ``dst`` whose PID is gone; return what was removed."""
    dst = Path(dst)
    prefix, removed = f".{dst.name}.partial-", []
    folder = dst.parent if str(dst.parent) else Path(".")
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            name = path.name
            if not (name.startswith(prefix) and name.endswith(dst.suffix)):
                continue
            pid = name[len(prefix): len(name) - len(dst.suffix)] if dst.suffix else name[len(prefix):]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                remove_quietly(path)
                removed.append(path)
    return removed


def os_error_message(exc: OSError, dst: Path) -> str:
    """A clear message for an OSError raised while writing ``dst``."""
    if exc.errno == errno.ENOSPC:
        return f"disk full while writing {dst}; free space or choose another output folder"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {dst}: permission denied or read-only file system"
    return f"cannot write {dst}: {exc}"


def fsync_file(path: Path) -> None:
    """Flush a finished file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not supported on every file system
        fsync_file(folder)


def remove_quietly(path: Path) -> None:
    """Delete ``path`` if it exists, ignoring errors (cleanup on failure)."""
    with contextlib.suppress(OSError):
        path.unlink()


def commit(tmp: Path, dst: Path) -> None:
    """fsync ``tmp`` and atomically rename it to ``dst``; OSError becomes OutputError, tmp removed."""
    try:
        fsync_file(tmp)
        os.replace(tmp, dst)
    except OSError as exc:
        remove_quietly(tmp)
        raise OutputError(os_error_message(exc, dst)) from exc
    except BaseException:  # Ctrl-C during the fsync: the temporary file goes too
        remove_quietly(tmp)
        raise
    _fsync_dir(dst.parent)


@contextlib.contextmanager
def atomic_path(dst: str | os.PathLike, *, overwrite: bool = False,
                source: str | os.PathLike | None = None) -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes ``dst``, on any error it is removed.

    ``OSError`` raised inside the block (disk full, permission) is re-raised as ``OutputError``; other
    exceptions (and KeyboardInterrupt) propagate unchanged after cleanup.
    """
    dst = check_destination(dst, overwrite=overwrite, source=source)
    tmp = partial_path(dst)
    try:
        yield tmp
    except OutputError:
        remove_quietly(tmp)
        raise
    except OSError as exc:
        remove_quietly(tmp)
        raise OutputError(os_error_message(exc, dst)) from exc
    except BaseException:
        remove_quietly(tmp)
        raise
    if not tmp.exists():
        raise OutputError(f"nothing was written for {dst}")
    commit(tmp, dst)
