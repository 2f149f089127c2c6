"""The Purple Flea API client (no Textual here): typed models, typed errors, retries, latency.

Start with :class:`PurpleFleaClient` (one pool per service, shared by every agent) and
:meth:`PurpleFleaClient.agent` for one agent's reads and writes.
"""

from __future__ import annotations

from pf_tui.api.agent import AgentClient
from pf_tui.api.bases import ServiceBases
from pf_tui.api.client import PurpleFleaClient
from pf_tui.api.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientBalanceError,
    InternalServerError,
    MissingKeyError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    PurpleFleaError,
    RateLimitError,
    ResponseDecodeError,
    ServiceUnavailableError,
    UnexpectedStatusError,
    UnprocessableEntityError,
    is_retryable,
)
from pf_tui.api.latency import LatencyRecorder, LatencyStats
from pf_tui.api.models import Dialect
from pf_tui.api.retry import RetryPolicy

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentClient",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "Dialect",
    "InsufficientBalanceError",
    "InternalServerError",
    "LatencyRecorder",
    "LatencyStats",
    "MissingKeyError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PurpleFleaClient",
    "PurpleFleaError",
    "RateLimitError",
    "ResponseDecodeError",
    "RetryPolicy",
    "ServiceBases",
    "ServiceUnavailableError",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "is_retryable",
]
