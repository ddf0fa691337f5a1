"""``python -m filmgan.cli``: the same as the ``filmgan`` command."""

from . import main

main()
