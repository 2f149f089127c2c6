"""Untrusted text made safe to show: the pure half of the sanitizer (no Textual, no Rich).

Memos, labels, pair names and error bodies come from the API or from other agents. Shown raw,
an ESC starts a terminal escape sequence, BEL rings, U+202E reverses what follows, a zero-width
joiner hides a character, U+2028 breaks a line. :func:`segments` splits a string into plain runs
and the characters that must never reach a terminal, each paired with its visible escape
(``\\x1b``, ``\\u202e``), so the TUI (:mod:`pf_tui.tui.sanitize`) can style them and the daemon
can print them. Markup is not this module's business: it returns text, never markup.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# Categories never sent to a terminal: controls (C0, DEL, C1), format characters (bidi
# embeddings/overrides/isolates, marks, zero-width ones, BOM), line/paragraph separators,
# surrogates, private use and unassigned code points (a terminal may treat them as anything).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})

MAX_SHOWN = 4096
"""Longest untrusted string shown; a longer one is cut with a visible ellipsis."""


@lru_cache(maxsize=4096)
def _is_unsafe(char: str) -> bool:
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


def escape_char(char: str) -> str:
    """The visible escape of one character.

    ``\\x1b`` below U+0100, ``\\u202e`` below U+10000, ``\\U0001f000`` above.
    """
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def is_unsafe(char: str) -> bool:
    """Whether ``char`` must be shown as an escape rather than sent to a terminal."""
    return _is_unsafe(char)


def segments(text: str, *, limit: int = MAX_SHOWN) -> Iterator[tuple[str, bool]]:
    """Split ``text`` into ``(run, escaped)`` pairs.

    ``escaped`` False: ``run`` is safe to show as is. ``escaped`` True: ``run`` is the visible
    escape of one unsafe character. Text longer than ``limit`` ends with a ``…`` run.
    """
    if len(text) > limit:
        text, cut = text[:limit], True
    else:
        cut = False
    start = 0
    for index, char in enumerate(text):
        if _is_unsafe(char):
            if index > start:
                yield text[start:index], False
            yield escape_char(char), True
            start = index + 1
    if start < len(text):
        yield text[start:], False
    if cut:
        yield "…", True


def escape_text(text: str, *, limit: int = MAX_SHOWN) -> str:
    """``text`` with each unsafe character replaced by its visible escape (logs, plain output)."""
    return "".join(run for run, _ in segments(text, limit=limit))


def fit(text: str, width: int) -> str:
    """``text`` escaped (as :func:`escape_text`) and at most ``width`` characters long *as shown*.

    A longer result is cut and ends in ``…``; the cut never splits an escape (``\\x1b`` is kept
    whole or dropped whole), so what is shown is never a misleading half of one.
    """
    if width <= 0:
        return ""
    # Look at no more than the width can show: escapes only ever lengthen the text.
    runs = list(segments(text, limit=width))
    cut = len(text) > width
    if cut:
        runs.pop()  # segments' own "…" mark
    if not cut and sum(len(run) for run, _ in runs) <= width:
        return "".join(run for run, _ in runs)
    out: list[str] = []
    room = width - 1
    for run, escaped in runs:
        if len(run) > room:
            if not escaped:
                out.append(run[:room])
            break
        out.append(run)
        room -= len(run)
    return "".join(out) + "…"


def one_line(text: str, *, limit: int = 200) -> str:
    """A short single-line form of an untrusted string (an error body, say): newlines and every
    other unsafe character become visible escapes, and it is at most ``limit`` characters long
    as shown, ending in ``…`` when cut."""
    return fit(text, limit)


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun`` in plain English: ``1 agent``, ``2 agents``, ``0 agents``.

    ``noun`` is the singular (``agent``, ``active escrow``, ``tranche``); every noun pf-tui
    counts takes a plain ``s``. Not about untrusted text, but a leaf helper every layer may use.
    """
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
