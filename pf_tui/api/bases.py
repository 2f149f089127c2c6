"""Where each Purple Flea service lives: production hosts or the simulator's mounts (docs/api.md
§1)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SERVICES", "ServiceBases"]

SERVICES = ("casino", "escrow", "escrow_docs", "faucet", "trading", "wallet", "docs")
"""Every base the client keeps a connection pool for; ``escrow_docs`` is escrow + ``/api/v1``."""

_API_SUFFIXES = ("/api/v1", "/v1")


@dataclass(frozen=True, slots=True)
class ServiceBases:
    """Base URL of each service, without a trailing slash."""

    casino: str
    escrow: str
    faucet: str
    trading: str
    wallet: str
    docs: str

    def __post_init__(self) -> None:
        for name in ("casino", "escrow", "faucet", "trading", "wallet", "docs"):
            url = getattr(self, name)
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ValueError(f"{name} base must be an http(s) URL, got {url!r}")
            object.__setattr__(self, name, url.rstrip("/"))

    @property
    def escrow_docs(self) -> str:
        """The docs (streaming) escrow dialect: the escrow base + ``/api/v1`` (docs/api.md §3)."""
        return self.escrow + "/api/v1"

    def url(self, service: str) -> str:
        """The base of ``service`` (one of :data:`SERVICES`)."""
        if service == "escrow_docs":
            return self.escrow_docs
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        base: str = getattr(self, service)
        return base

    def root(self, service: str) -> str:
        """The service's root, where ``GET /health`` lives (the base without its API prefix)."""
        if service == "docs":
            return self.docs  # the aggregate answers /health under its own prefix
        base = self.escrow if service == "escrow_docs" else self.url(service)
        for suffix in _API_SUFFIXES:
            if base.endswith(suffix):
                return base[: -len(suffix)]
        return base

    @classmethod
    def for_simulator(cls, url: str) -> ServiceBases:
        """The simulator's mounts on one host, e.g. ``http://127.0.0.1:8787``."""
        root = url.rstrip("/")
        return cls(
            casino=f"{root}/casino/api/v1",
            escrow=f"{root}/escrow",
            faucet=f"{root}/faucet",
            trading=f"{root}/trading/v1",
            wallet=f"{root}/wallet/v1",
            docs=f"{root}/api/v1",
        )

    @classmethod
    def production(cls) -> ServiceBases:
        """The deployed Purple Flea services."""
        return cls(
            casino="https://casino.purpleflea.com/api/v1",
            escrow="https://escrow.purpleflea.com",
            faucet="https://faucet.purpleflea.com",
            trading="https://trading.purpleflea.com/v1",
            wallet="https://wallet.purpleflea.com/v1",
            docs="https://purpleflea.com/api/v1",
        )
