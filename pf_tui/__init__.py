"""pf-tui: the operator console for fleets of AI agents on Purple Flea."""

from __future__ import annotations

__version__ = "0.1.0"
