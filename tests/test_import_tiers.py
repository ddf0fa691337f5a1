"""Import tiers (DESIGN.md section 2): the runtime stands on its own floors.

* Nothing outside ``filmgan/train`` (and the CLI's train commands, ``filmgan/cli/train.py``) imports
  ``filmgan.train``: the renderer, the backends and the other commands never need the trainer.
* The modules' top-level imports form no circle.
* ``import filmgan.cli`` does not import torch (a render node may not have it).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import filmgan

PACKAGE = Path(filmgan.__file__).parent
ALLOWED_TRAIN_IMPORTERS = {"filmgan.cli.train"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, top_level_only: bool) -> set[str]:
    """Absolute names of the filmgan modules (or packages) that ``path`` imports."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {f for f in found if f == "filmgan" or f.startswith("filmgan.")}


def test_walker_resolves_relative_imports():
    mods = modules()
    assert "filmgan.backends.device" in imports("filmgan.backends.torch_backend", mods["filmgan.backends.torch_backend"], top_level_only=False)
    assert "filmgan.train.cli" in imports("filmgan.cli.train", mods["filmgan.cli.train"], top_level_only=True)


def test_only_the_trainer_and_its_commands_import_filmgan_train():
    offenders = {}
    for name, path in modules().items():
        if name == "filmgan.train" or name.startswith("filmgan.train.") or name in ALLOWED_TRAIN_IMPORTERS:
            continue
        bad = sorted(i for i in imports(name, path, top_level_only=False) if i == "filmgan.train" or i.startswith("filmgan.train."))
        if bad:
            offenders[name] = bad
    assert offenders == {}


def find_cycles(top_level_only: bool) -> list[list[str]]:
    mods = modules()
    graph = {}
    for name, path in mods.items():
        targets = set()
        for target in imports(name, path, top_level_only):
            while target and target not in mods:  # "from .x import name": the module x
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):  # a package's own __init__ is no circle
                targets.add(target)
        graph[name] = targets
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def test_no_import_circle():
    """Not even through the imports inside functions (the old cli -> train.cli -> cli circle was one)."""
    assert find_cycles(top_level_only=False) == []


def test_cli_import_leaves_torch_out():
    code = "import sys, filmgan.cli; assert callable(filmgan.cli.main); print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}  # this checkout's filmgan, not an installed one
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"
