"""The simulator draws every random number from its own seeded generators.

A seed must reproduce a run: the same fleet, the same bets, the same faults. Module-level
``random`` functions share one global generator that any test or library can advance, so the
simulator holds ``random.Random`` instances only. (What the simulator may import is checked by
the import-linter contracts in ``pyproject.toml``.)
"""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
from pathlib import Path

import pf_tui.sim

ALLOWED = {"Random"}
"""The one name of the ``random`` module the simulator may use: the generator class."""


def sim_sources() -> dict[str, Path]:
    """Every module of ``pf_tui.sim``, subpackages included, with its source file."""
    sources = {"pf_tui.sim": Path(pf_tui.sim.__file__)}
    for info in pkgutil.walk_packages(pf_tui.sim.__path__, prefix="pf_tui.sim."):
        spec = importlib.util.find_spec(info.name)
        assert spec is not None and spec.origin is not None, f"{info.name} has no source"
        sources[info.name] = Path(spec.origin)
    return sources


def global_random_uses(tree: ast.AST) -> list[str]:
    """``random.<name>`` and ``from random import <name>`` for any name but :data:`ALLOWED`."""
    uses = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "random"
            and node.attr not in ALLOWED
        ):
            uses.append(f"line {node.lineno}: random.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "random":
            uses.extend(
                f"line {node.lineno}: from random import {alias.name}"
                for alias in node.names
                if alias.name not in ALLOWED
            )
    return uses


def test_the_check_sees_each_form_of_use() -> None:
    source = "import random\nfrom random import choice, Random\nrandom.seed(1)\nrandom.Random(2)\n"
    assert global_random_uses(ast.parse(source)) == [
        "line 2: from random import choice",
        "line 3: random.seed",
    ]


def test_sim_never_uses_the_global_random() -> None:
    sources = sim_sources()
    on_disk = sorted(Path(pf_tui.sim.__file__).parent.rglob("*.py"))
    assert sorted(sources.values()) == on_disk, "the walk missed a module (no __init__.py?)"
    for name, path in sources.items():
        uses = global_random_uses(ast.parse(path.read_text(encoding="utf-8")))
        assert not uses, f"{name} uses the global RNG: {uses}"
