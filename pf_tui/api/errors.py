"""The one error hierarchy of the Purple Flea client, modelled on openai-python's.

Callers catch these and nothing else: the client turns every httpx/aiohttp exception, every
non-2xx status and every unreadable body into one of them. Each error says which endpoint failed
(``service`` plus method and route *template*, never a concrete URL, so neither a key nor an id
from a query string leaks) and, for status errors, the server's ``error`` code and ``message`` as
plain text: control, escape and bidi characters removed, length capped. The server's text is
untrusted; it is never formatted into markup here or anywhere else.

Messages never contain a secret: the client masks every secret it knows (every agent's keys, and
whatever else the caller configured: :class:`pf_tui.secret.Redactor`) in everything the server
sent, whatever the status, before it builds an error, so a server that echoes a key, or another
agent's key, cannot leak it. Control, escape and bidi characters in the server's text are shown
as visible escapes (``\\x1b[2J``), the way memos are, so an operator can see that a body was
hostile.
"""

from __future__ import annotations

import re

from pf_tui.secret import Redactor
from pf_tui.text import fit
from pf_tui.usd import JSON

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InsufficientBalanceError",
    "InternalServerError",
    "MissingKeyError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PurpleFleaError",
    "RateLimitError",
    "ResponseDecodeError",
    "ServiceUnavailableError",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "is_retryable",
    "plain_text",
    "status_error_class",
]

MAX_TEXT = 300
"""Longest server text kept in a message; an HTML page or a stack trace is not a message."""

_SPACES = re.compile(r"[ \t\r\n]+")


def plain_text(value: object, limit: int = MAX_TEXT) -> str:
    """Untrusted server text made safe to print on one line, capped at ``limit`` characters.

    Runs of spaces, tabs and line breaks become one space; every other control, escape, bidi or
    invisible character becomes its visible escape (``\\x1b``, ``\\u202e``), never a space, so
    ``HTTP 500: boom \\x1b[2J`` shows the operator what the server tried. A cut ends in ``…``.
    """
    text = value if isinstance(value, str) else str(value)
    return fit(_SPACES.sub(" ", text).strip(), limit)


class PurpleFleaError(Exception):
    """Base of every error the client raises."""

    message: str

    def scrub(self, redactor: Redactor) -> None:
        """Mask every secret ``redactor`` knows in this error's text (the client's last step)."""
        if not redactor:
            return
        self.message = redactor.scrub(self.message)
        self.args = tuple(redactor.scrub(a) if isinstance(a, str) else a for a in self.args)

    def __init__(
        self, message: str, *, service: str | None = None, endpoint: str | None = None
    ) -> None:
        self.message = message
        self.service = service
        self.endpoint = endpoint
        """Method and route template, e.g. ``GET /auth/balance`` (never a concrete URL or key)."""
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as its class, ``args`` and attributes, rebuilt without ``__init__``: the
        subclasses' constructors take other arguments than ``args`` holds, and the console's
        poll worker sends its failures over a pipe (:mod:`pf_tui.poll_worker`)."""
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))

    @property
    def where(self) -> str:
        """``casino GET /auth/balance``, or ``""`` when not tied to an endpoint."""
        return " ".join(p for p in (self.service, self.endpoint) if p)

    def __str__(self) -> str:
        where = self.where
        return f"{where}: {self.message}" if where else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


def _rebuild(
    cls: type[PurpleFleaError], args: tuple[object, ...], state: dict[str, object]
) -> PurpleFleaError:
    """The error :meth:`PurpleFleaError.__reduce__` describes."""
    if not (isinstance(cls, type) and issubclass(cls, PurpleFleaError)):
        raise TypeError(f"not a Purple Flea error class: {cls!r}")
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class MissingKeyError(PurpleFleaError):
    """The agent has no key configured for the service this call needs."""


class APIConnectionError(PurpleFleaError):
    """No complete reply: refused, reset, DNS, protocol error, body cut off by the transport."""

    def __init__(
        self,
        message: str = "connection error",
        *,
        service: str | None = None,
        endpoint: str | None = None,
        cause: str | None = None,
    ) -> None:
        super().__init__(message, service=service, endpoint=endpoint)
        self.cause = cause
        """Qualified name of the transport exception (e.g. ``aiohttp.ServerDisconnectedError``)."""


class APITimeoutError(APIConnectionError):
    """Connect, read, write or pool timeout; a hung server ends here."""


class ResponseDecodeError(PurpleFleaError):
    """A reply that is not the JSON we expect: malformed, HTML, truncated, or missing a field."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        service: str | None = None,
        endpoint: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, service=service, endpoint=endpoint)
        self.field = field
        """Dotted path of the missing or bad field (``lifetime.win_rate``), when one is to blame."""
        self.status = status


class APIStatusError(PurpleFleaError):
    """The server answered with a non-2xx status."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str | None,
        body: JSON = None,
        *,
        service: str | None = None,
        endpoint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        """Seconds the server asked to wait (Retry-After, or a 429's ``reset_at``)."""
        self.code = code
        """The server's ``error`` code (plain text), e.g. ``insufficient_balance``."""
        self.server_message = message
        self.body = body
        """The decoded reply (redacted), or its text when it was not JSON."""
        parts = [f"HTTP {status}"]
        if code:
            parts.append(code)
        text = ": ".join(parts)
        if message:
            text += f" ({message})"
        super().__init__(text, service=service, endpoint=endpoint)

    def scrub(self, redactor: Redactor) -> None:
        """Mask secrets in the message, the server's code and message, and the body."""
        super().scrub(redactor)
        if not redactor:
            return
        self.code = None if self.code is None else redactor.scrub(self.code)
        if self.server_message is not None:
            self.server_message = redactor.scrub(self.server_message)
        self.body = redactor.scrub_json(self.body)

    @property
    def status_code(self) -> int:
        """openai-python's name for :attr:`status`."""
        return self.status


class BadRequestError(APIStatusError):
    """400: the request was refused as invalid (``invalid_amount``, ``no_addresses``...)."""


class AuthenticationError(APIStatusError):
    """401: missing or unknown key."""


class InsufficientBalanceError(APIStatusError):
    """402 (Payment Required): the balance cannot cover the amount.

    ``body['balance']`` may say what it is.
    """


PaymentRequiredError = InsufficientBalanceError


class PermissionDeniedError(APIStatusError):
    """403: wrong party for this escrow, or similar."""


class NotFoundError(APIStatusError):
    """404: unknown id or route."""


class ConflictError(APIStatusError):
    """409: wrong state (``invalid_status``), idempotency in flight, already claimed."""


class UnprocessableEntityError(APIStatusError):
    """422: e.g. ``idempotency_mismatch`` (same key, other body)."""


class RateLimitError(APIStatusError):
    """429: over a rate limit; :attr:`retry_after` says how long to wait when the server said
    (Retry-After in seconds or as an HTTP-date, or the casino's ``reset_at``), else None."""


class InternalServerError(APIStatusError):
    """5xx."""


class ServiceUnavailableError(InternalServerError):
    """503."""


class UnexpectedStatusError(APIStatusError):
    """A status outside the classes above (1xx, 3xx, 405, 408, 410...)."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}

_RETRYABLE_UNEXPECTED = frozenset({408, 425})
_NOT_RETRYABLE_5XX = frozenset({501, 505})


def status_error_class(status: int) -> type[APIStatusError]:
    """The error class for a non-2xx ``status``."""
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls
    if 500 <= status <= 599:
        return InternalServerError
    return UnexpectedStatusError


def is_retryable(exc: BaseException) -> bool:
    """Whether a *read* that failed with ``exc`` may be tried again.

    Connection problems and timeouts, 429, 408/425 and 5xx (but 501/505, which will not change)
    are transient. Everything else (4xx, unreadable bodies, a missing key) would fail the same way
    again; the poller's next tick retries those at its own pace. Money POSTs are never retried
    automatically whatever this says: the actions layer decides, with the journaled key.
    """
    if isinstance(exc, APIConnectionError):
        return True
    if isinstance(exc, RateLimitError):
        return True
    if isinstance(exc, InternalServerError):
        return exc.status not in _NOT_RETRYABLE_5XX
    if isinstance(exc, UnexpectedStatusError):
        return exc.status in _RETRYABLE_UNEXPECTED
    return False
