"""The core never imports Textual or Rich (the daemon must run without them)."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_without_textual_or_rich() -> None:
    code = (
        "import sys\n"
        "import pf_tui.core, pf_tui.core.polling.poller, pf_tui.core.fleet.state, pf_tui.core.fleet.derived\n"
        "import pf_tui.core.store.db, pf_tui.core.polling.fetch, pf_tui.core.polling.callstats\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
