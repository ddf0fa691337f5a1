"""``python -m filmgan``: the same command line as the ``filmgan`` script."""

from filmgan.cli import main

if __name__ == "__main__":
    main()
