"""The one sanitizer between untrusted strings and the screen.

Everything the API (or another agent) wrote: memos, labels, pair names, agent ids, error bodies,
reaches a widget through :func:`safe` as a :class:`rich.text.Text` built with ``append``, so
``[bold]`` or ``[@click=app.quit]`` stay literal (a ``str`` DataTable cell would be parsed as
markup), and control, escape and bidi characters show as dim visible escapes (:mod:`pf_tui.text`).
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from pf_tui.text import MAX_SHOWN, segments

ESCAPE_STYLE = Style(dim=True, italic=True)
"""How a visible escape such as ``\\x1b`` looks, so it reads as not part of the text."""


def safe(value: object, *, style: str | Style = "", limit: int = MAX_SHOWN) -> Text:
    """``value`` as plain Text: never markup, unsafe characters as visible escapes.

    ``None`` becomes ``-``; anything else is ``str()``-ed first.
    """
    if value is None:
        return Text("-", style=style, end="")
    text = Text(style=style, end="", no_wrap=True)
    for run, escaped in segments(str(value), limit=limit):
        text.append(run, ESCAPE_STYLE if escaped else None)
    return text
