"""The access token, the session cookie derived from it, and the Origin rule of ``pf-tui serve``.

The token is a :class:`~pf_tui.secret.Secret`: it is printed once (when generated, inside the
sign-in link) and never logged. The browser trades it once for a cookie (``HttpOnly``,
``SameSite=Strict``, ``Secure`` behind https) whose value is an HMAC of the token, so the token
itself never sits in the cookie jar, and the link's ``?token=`` is dropped from the address bar
by a redirect. Every request needs the cookie; every WebSocket also needs an ``Origin`` equal to
the public URL's, so a page on another site cannot open one even with the cookie (a browser sends
``SameSite=Strict`` cookies only on same-site requests, and ``Origin`` always).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from pf_tui.config.secrets import MAX_SECRET_BYTES, mode_problem
from pf_tui.secret import Secret

__all__ = [
    "COOKIE",
    "TOKEN_ENV",
    "TokenError",
    "cookie_value",
    "load_token",
    "origin_of",
    "valid_cookie",
    "valid_token",
]

COOKIE = "pf_tui_session"
TOKEN_ENV = "PF_TUI_SERVE_TOKEN"
MIN_TOKEN_CHARS = 16
"""A shorter token is refused: it would be guessable over a tunnel."""
_SESSION_CONTEXT = b"pf-tui serve session v1"


class TokenError(ValueError):
    """The token's source is unusable; the message names the source and the fix, never a value."""


def _checked(value: str, source: str) -> Secret:
    value = value.strip()
    if len(value) < MIN_TOKEN_CHARS or not value.isprintable() or " " in value:
        raise TokenError(
            f"the token from {source} must be at least {MIN_TOKEN_CHARS} printable characters"
            " with no spaces; generate one with: python3 -c 'import secrets;"
            " print(secrets.token_urlsafe(32))'"
        )
    return Secret(value, source)


def load_token(token_file: Path | None, env: dict[str, str] | None = None) -> tuple[Secret, bool]:
    """The token and whether it was generated here (then it must be shown once).

    ``--token-file`` first (mode 0600 or 0400, like every key file), else ``$PF_TUI_SERVE_TOKEN``,
    else a fresh 256-bit token.
    """
    env = dict(os.environ) if env is None else env
    if token_file is not None:
        if not token_file.is_file():
            raise TokenError(f"--token-file {token_file} is not a file")
        problem = mode_problem(token_file)
        if problem is not None:
            raise TokenError("; ".join(problem))
        data = token_file.read_bytes()
        if len(data) > MAX_SECRET_BYTES:
            raise TokenError(f"--token-file {token_file} is larger than {MAX_SECRET_BYTES} bytes")
        return _checked(data.decode("utf-8", "replace"), f"file:{token_file}"), False
    if env.get(TOKEN_ENV):
        return _checked(env[TOKEN_ENV], f"env:{TOKEN_ENV}"), False
    return Secret(secrets.token_urlsafe(32), "generated"), True


def cookie_value(token: Secret) -> str:
    """The session cookie for ``token``: an HMAC, so the cookie jar never holds the token."""
    return hmac.new(token.reveal().encode(), _SESSION_CONTEXT, hashlib.sha256).hexdigest()


def valid_token(token: Secret, offered: str | None) -> bool:
    """Whether ``offered`` is the token (constant time)."""
    return offered is not None and hmac.compare_digest(token.reveal().encode(), offered.encode())


def valid_cookie(token: Secret, offered: str | None) -> bool:
    """Whether ``offered`` is the session cookie (constant time)."""
    return offered is not None and hmac.compare_digest(cookie_value(token), offered)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased, default ports dropped (what browsers send
    as ``Origin``)."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"
