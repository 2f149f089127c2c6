"""A value that must never be shown: API keys, bot tokens, webhook URLs.

``Secret`` prints as ``<secret>`` through ``repr``, ``str``, ``format``, f-strings, logging,
``json.dumps`` (it is not serialisable by accident: the default encoder raises on it, and
:func:`pf_tui.usd.dumps` refuses it), pickling and tracebacks that show locals. The value is
reached only through :meth:`Secret.reveal`, so every use of a real key is greppable. ``source``
names where it came from (``env:PF_CASINO_KEY``, ``file:/run/secrets/casino``, ``config``) and is
safe to print.

:class:`Redactor` is the other half: every exit a secret could slip through (an error the client
builds from a reply, a 200 reply that echoes a key, a receiver's error text, a log line, a config
error) runs its text through one, which replaces each configured secret in every form a server
or a library might have turned it into (raw, percent-encoded, JSON-escaped, base64, and for a URL
its password, path and query parts) with ``<secret>``.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, NoReturn, TypeVar, cast
from urllib.parse import quote, quote_plus, unquote, urlsplit

if TYPE_CHECKING:
    import ahocorasick_rs

_J = TypeVar("_J")

__all__ = ["MASK", "MIN_PART", "MIN_SECRET", "Redactor", "Secret", "secret_forms"]

MASK = "<secret>"
"""What a secret is shown as, everywhere."""
_MASK = MASK
MIN_SECRET = 4
"""A configured secret shorter than this is not searched for in text: it would mask ordinary
words (the daemon's log filter always used the same floor). No real key, token or URL is that
short."""
MIN_PART = 8
"""A *part* of a secret (a URL's path segment or query value, a bot token's tail) is searched
for only from this length, and only when it does not read as a plain word (``hooks``, ``api``)."""


class Secret:
    """A secret string with a safe ``source`` description."""

    __slots__ = ("_value", "source")
    _value: str
    source: str

    def __init__(self, value: str, source: str = "config") -> None:
        if not isinstance(value, str):
            raise TypeError("Secret holds a str")
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "source", source)

    def reveal(self) -> str:
        """The secret value itself: pass it straight to the wire, never to a log or a widget."""
        return self._value

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return f"Secret({_MASK}, source={self.source!r})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return format(_MASK, spec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            # Bytes: compare_digest refuses str with non-ASCII characters.
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __json__(self) -> str:  # for encoders that honour it
        return _MASK


_WORD = re.compile(r"[a-z][a-z._-]*")


def _looks_secret(part: str) -> bool:
    """Whether a URL part or token tail is worth masking: long enough and not a plain word."""
    return len(part) >= MIN_PART and not _WORD.fullmatch(part)


def _url_parts(value: str) -> list[str]:
    """The parts of a URL secret that carry a credential: password, user, path, query, fragment.

    A webhook's token usually sits in its path (``/services/T0/B0/XXXX``), a healthcheck's in a
    UUID segment, an API key in a query value; frameworks echo the path alone on 404 and 500, so
    masking only the whole URL is not enough.
    """
    try:
        parts = urlsplit(value)
    except ValueError:
        return []
    if not parts.scheme or not parts.netloc:
        return []
    found: list[str] = []
    if parts.password:
        found.append(parts.password)
    if parts.username:
        found.append(parts.username)
    path = parts.path.rstrip("/")
    if path and _looks_secret(path.lstrip("/")):
        found.append(path)
        # A framework may echo the path without its leading or trailing slash, or with a query.
        found.append(path.lstrip("/"))
    for segment in path.split("/"):
        found += [segment, unquote(segment)]
    for chunk in (parts.query, parts.fragment):
        for pair in chunk.split("&"):
            _, _, val = pair.partition("=")
            found += [val, unquote(val), pair]
    host_and_path = parts.netloc.rpartition("@")[2] + path
    if path and _looks_secret(path.lstrip("/")):
        found.append(host_and_path)
    return [p for p in found if _looks_secret(p)]


def _base64_forms(value: str) -> list[str]:
    """The base64 text of ``value`` as it appears inside a longer base64 string.

    The encoding of a secret embedded at an offset not divisible by three differs in its first
    and last characters, so for each of the three alignments the characters that depend only on
    the secret are kept (what a secret scanner does); standard and URL-safe alphabets.
    """
    data = value.encode()
    forms: list[str] = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        start = (shift * 4 + 2) // 3 if shift else 0
        end_bytes = shift + len(data)
        end = (end_bytes // 3) * 4 if end_bytes % 3 else len(encoded)
        stable = encoded[start:end].rstrip("=")
        if len(stable) >= MIN_PART:
            forms += [stable, stable.replace("+", "-").replace("/", "_")]
    return forms


def secret_forms(value: str) -> set[str]:
    """Every form of ``value`` pf-tui masks: itself, percent-encoded, JSON-escaped, base64, and
    for a URL or a ``<id>:<token>`` bot token the parts that carry the credential."""
    if len(value) < MIN_SECRET:
        return set()
    pieces = [value, *_url_parts(value)]
    head, sep, tail = value.partition(":")
    if sep and head.isascii() and head.isdigit() and _looks_secret(tail):
        pieces.append(tail)  # a Telegram bot token: <bot id>:<token>
    forms: set[str] = set()
    for piece in pieces:
        forms.update(
            {
                piece,
                quote(piece, safe=""),
                quote(piece, safe="/:"),
                quote_plus(piece),
                json.dumps(piece)[1:-1],
                json.dumps(piece, ensure_ascii=False)[1:-1],
                piece.replace("/", "\\/"),
            }
        )
        forms.update(_base64_forms(piece))
    return {f for f in forms if len(f) >= MIN_SECRET}


class Redactor:
    """Masks a set of secrets, in all their forms (:func:`secret_forms`), in text and JSON.

    One Aho-Corasick automaton over every form finds them all in one pass, however many agents
    the fleet has (1,000 agents are 3,000 keys): a clean 1 KB reply costs about 2 µs. It is built
    on first use after a change, so adding keys one agent at a time costs nothing until a scan.
    """

    __slots__ = ("_bytes", "_forms", "_seen", "_str")

    def __init__(self, secrets: Iterable[Secret | str | None] = ()) -> None:
        self._forms: set[str] = set()
        self._seen: set[str] = set()
        """Values already added: :meth:`add` is called per request and must cost a set lookup."""
        self._str: ahocorasick_rs.AhoCorasick | None = None
        self._bytes: ahocorasick_rs.BytesAhoCorasick | None = None
        self.add(*secrets)

    def add(self, *secrets: Secret | str | None) -> None:
        """Mask these secrets too (``None`` and empty ones are skipped)."""
        new: set[str] = set()
        for secret in secrets:
            if secret is None:
                continue
            value = secret.reveal() if isinstance(secret, Secret) else secret
            if value and value not in self._seen:
                self._seen.add(value)
                new |= secret_forms(value)
        if not new <= self._forms:
            self._forms |= new
            self._str = self._bytes = None

    def extend(self, other: Redactor) -> None:
        """Mask every secret ``other`` masks."""
        self._seen |= other._seen
        if not other._forms <= self._forms:
            self._forms |= other._forms
            self._str = self._bytes = None

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __len__(self) -> int:
        """How many forms are searched for (not how many secrets)."""
        return len(self._forms)

    def __repr__(self) -> str:
        return f"Redactor({len(self._forms)} forms)"

    def _automaton(self) -> ahocorasick_rs.AhoCorasick:
        if self._str is None:
            import ahocorasick_rs

            self._str = ahocorasick_rs.AhoCorasick(
                sorted(self._forms), matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
            )
        return self._str

    def _bytes_automaton(self) -> ahocorasick_rs.BytesAhoCorasick:
        if self._bytes is None:
            import ahocorasick_rs

            self._bytes = ahocorasick_rs.BytesAhoCorasick(
                sorted(f.encode() for f in self._forms),
                matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            )
        return self._bytes

    def scrub(self, text: str) -> str:
        """``text`` with every form of every secret replaced by ``<secret>``."""
        if not self._forms or not text:
            return text
        matches = self._automaton().find_matches_as_indexes(text)
        if not matches:
            return text
        out: list[str] = []
        pos = 0
        for _, start, end in matches:
            out += (text[pos:start], MASK)
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def scrub_json(self, value: _J) -> _J:
        """``value`` (decoded JSON) with every string, keys included, scrubbed."""
        if not self._forms:
            return value
        return cast("_J", self._walk(value))

    def _walk(self, value: object) -> object:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(str(k)): self._walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        return value

    def found_in(self, raw: bytes) -> bool:
        """Whether ``raw`` holds any form of any secret (the client's check of every reply)."""
        if not self._forms or not raw:
            return False
        return bool(self._bytes_automaton().find_matches_as_indexes(raw))
