"""Typed errors and the exit codes the CLI maps them to.

Every filmgan error is also a built-in exception type (ValueError, OSError, ...) so callers that do not
know filmgan can still catch it sensibly.

Exit codes (also printed by ``filmgan --help``):

====  ==========================================================================
0     success
1     bad input or configuration (missing/corrupt media, bad preset, bad model file)
2     usage error (unknown option, missing argument) -- raised by click
3     a backend or optional dependency is not installed (the message names the extra)
4     an engine is incompatible with this GPU / TensorRT version
5     the output could not be written (unwritable folder, disk full, exists without --overwrite)
6     no model is available for the requested task
130   interrupted (Ctrl-C); nothing is left at the destination
143   terminated (SIGTERM, e.g. a farm scheduler stopping the job); nothing is left at the destination
====  ==========================================================================
"""

from __future__ import annotations


class FilmganError(Exception):
    """Base class of every error filmgan raises on purpose."""

    exit_code = 1


class InputError(FilmganError, ValueError):
    """The input media cannot be used (missing, not media, no video, corrupt, zero frames, bad size)."""


class CorruptMediaError(InputError):
    """The input is damaged (undecodable data, a truncated stream, a still whose decoder reported errors)."""


class ConfigError(FilmganError, ValueError):
    """A configuration value, preset or job file is invalid."""


class CheckpointError(FilmganError, ValueError):
    """A model file is malformed, mismatched with its card, or of the wrong task."""


class ProcessorError(FilmganError, RuntimeError):
    """A frame processor broke its contract (lost, duplicated or reordered frames)."""


class BackendUnavailableError(FilmganError, ImportError):
    """An optional dependency (torch, onnxruntime, tensorrt, ...) is missing."""

    exit_code = 3


class EngineIncompatibleError(FilmganError, RuntimeError):
    """A built engine does not match this GPU, TensorRT version or input shape."""

    exit_code = 4


class OutputError(FilmganError, OSError):
    """The output cannot be written (exists, unwritable, disk full, encoder failure)."""

    exit_code = 5


class ModelUnavailableError(FilmganError, LookupError):
    """No model is available for the requested task or preset."""

    exit_code = 6


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (the CLI turns the signal into this exception in the main thread). A subclass of
    KeyboardInterrupt, so every cleanup path that handles Ctrl-C handles it the same way."""

    exit_code = 143


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "bad input or configuration (media, preset, model file)",
    2: "usage error (unknown option, missing argument)",
    3: "backend or optional dependency not installed (message names the extra)",
    4: "engine incompatible with this GPU / TensorRT version",
    5: "output could not be written (exists without --overwrite, unwritable, disk full)",
    6: "no model available for the requested task",
    130: "interrupted (Ctrl-C); no partial output left",
    143: "terminated (SIGTERM); no partial output left",
}


def require(module: str, extra: str):
    """Import an optional module or raise BackendUnavailableError naming the pip extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except Exception as exc:  # ImportError, or e.g. torchvision's operator errors on CPU builds
        raise BackendUnavailableError(
            f"{module} is not available ({exc.__class__.__name__}: {exc}); "
            f"install it with: pip install 'filmgan[{extra}]'"
        ) from exc
