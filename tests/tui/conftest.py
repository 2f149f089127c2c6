"""Fixtures of the TUI tests: one frozen simulator per module, steady input cursors."""

from __future__ import annotations

from tests.tui.harness import server, steady_cursor  # noqa: F401  (fixtures: importing registers them)
