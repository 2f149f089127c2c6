"""pf-tui: the operator console for fleets of AI agents on Purple Flea."""

from __future__ import annotations

__version__ = "0.1.0"

import sys as _sys

# httpx's package __init__ imports its command-line tool (httpx._main: rich, click, pygments,
# over a hundred modules) whenever those happen to be installed, and Textual installs rich. pf-tui
# never uses httpx's CLI; marking the module absent makes httpx fall back to its stub `main`, keeps
# the core free of rich (docs/conventions.md, convention 1; tested) and trims the daemon's start-up.
if "httpx" not in _sys.modules:
    _sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

# Before any of pf_tui's dataclasses is defined: their compiled methods come from a cache kept
# between runs (pf_tui/dataclass_code.py; a sixth of the demo's start).
from pf_tui import dataclass_code as _dataclass_code

_dataclass_code.install()
