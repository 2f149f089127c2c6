"""Fixtures of the money-keys tests: the TUI tests' frozen simulator and steady input cursors."""

from __future__ import annotations

from tests.tui.harness import server, steady_cursor  # noqa: F401  (fixtures: importing registers them)
