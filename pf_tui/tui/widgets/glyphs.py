"""Which glyphs the terminal can show: Unicode blocks, or a plain ASCII fallback.

Over SSH into a minimal box the locale may not be UTF-8; then sparklines and bars fall back to
ASCII so nothing the terminal cannot draw is required. ``PF_TUI_ASCII=1`` forces the fallback.
"""

from __future__ import annotations

import os
import sys


def unicode_ok() -> bool:
    """Whether block and braille glyphs are safe to draw on this terminal."""
    if os.environ.get("PF_TUI_ASCII") == "1":
        return False
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(name)
        if value:
            return "utf-8" in value.lower() or "utf8" in value.lower()
    encoding = getattr(sys.stdout, "encoding", None) or ""
    return encoding.lower().replace("-", "") == "utf8"


SPARK_UNICODE = "▁▂▃▄▅▆▇█"
SPARK_ASCII = "_.-~=+*#"
BAR_UNICODE = ("█", "░")
BAR_ASCII = ("#", ".")
