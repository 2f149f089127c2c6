"""`python -m pf_tui` runs the same CLI as the `pf-tui` console script."""

from __future__ import annotations

import sys

from pf_tui.cli import main

sys.exit(main())
