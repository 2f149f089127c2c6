"""The simulator stays independent of the client it is used to test (DESIGN.md, simulator contract)."""

from __future__ import annotations

import ast
from pathlib import Path

import pf_tui.sim

FORBIDDEN = ("pf_tui.api", "pf_tui.core", "pf_tui.tui", "textual", "rich")
SIM_DIR = Path(pf_tui.sim.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_sim_imports_neither_client_nor_ui() -> None:
    files = sorted(SIM_DIR.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        bad = {m for m in imported_modules(path) if m.startswith(FORBIDDEN)}
        assert not bad, f"{path.name} imports {bad}"


def test_sim_never_uses_the_global_random() -> None:
    for path in SIM_DIR.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in (
            "random.random(",
            "random.choice(",
            "random.randint(",
            "random.seed(",
            "random.uniform(",
        ):
            assert call not in text, f"{path.name} uses the global RNG ({call})"
