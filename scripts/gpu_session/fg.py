"""Run the filmgan CLI from the repository (no install needed)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from filmgan.cli import main  # noqa: E402

main()
