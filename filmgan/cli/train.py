"""``filmgan train ...``: the group lives with the trainers (:mod:`filmgan.train.cli`); this is the only CLI
module that imports :mod:`filmgan.train`, and that module imports torch only when a command runs."""

from ..train.cli import train

__all__ = ["train"]
