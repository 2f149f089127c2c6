"""The metric names a ``/metrics`` text exposes (what PromQL can select)."""

from __future__ import annotations

import re

_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count")}


def exported_names(text: str) -> set[str]:
    """Every selectable name: samples, and each family's declared name with its type's suffixes.

    A labelled gauge with no series yet (no stream open) still declares itself in ``# TYPE``.
    """
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            names.update(name.removesuffix("_total") + s for s in _SUFFIXES.get(kind, ()))
        elif line and not line.startswith("#"):
            match = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
            if match:
                names.add(match.group(0))
    return names
