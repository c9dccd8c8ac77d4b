"""The failed-authentication lockout answered at the door, before routing.

Once an address or a key prefix is locked out (`api.rate_limits.RateLimiter`), every further
request from it that carries a key is refused with 429, and an attacker sends thousands.
Refused in `get_viewer`, each would first go through the middleware stack, routing, request
parsing and dependency resolution: about 1 ms of the interpreter each, taken from the
partners being served at the same time (bench/abuse.py). This ASGI layer, just inside CORS,
is the one place the lockout is applied: from the headers alone (a key that authenticated
recently still passes), with the error body, ``Retry-After`` and audit row of every refusal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import key_prefix, presented_keys, refusal_event
from api.errors import error_response
from api.rate_limits import RateLimiter
from catalog.audit import AuditLog
from catalog.partners import PartnerStore
from datacenter.errors import RateLimited


def _headers(scope: Scope) -> tuple[str | None, str | None]:
    authorization = x_api_key = None
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"x-api-key":
            x_api_key = value.decode("latin-1")
    return authorization, x_api_key


class LockoutMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None and await self._known_elsewhere(scope, refusal[0]):
                refusal = None
            if refusal is not None:
                await self._audit(scope, *refusal)
                exc = refusal[1]
                await error_response(429, "RateLimited", str(exc), exc.headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope: Scope) -> tuple[str, RateLimited] | None:
        app: Any = scope.get("app")
        limiter: RateLimiter | None = getattr(getattr(app, "state", None), "rate_limiter", None)
        if limiter is None:
            return None
        keys = presented_keys(*_headers(scope))
        if not keys:
            return None
        client = scope.get("client")
        address = client[0] if client else "unknown"
        for presented in dict.fromkeys(keys):
            try:
                limiter.check_credentials(address, key_prefix(presented), presented)
            except RateLimited as exc:
                return presented, exc
        return None

    @staticmethod
    async def _known_elsewhere(scope: Scope, presented: str) -> bool:
        """Whether `presented` authenticated lately in another process or replica (the
        partner store's note) and is valid now: it passes, and this process remembers it.
        Only keys of our shape are looked up, each once a refusal: a guess fails the check
        (it must be the valid key of one that authenticated lately)."""
        app: Any = scope.get("app")
        state = getattr(app, "state", None)
        partners: PartnerStore | None = getattr(state, "partners", None)
        limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
        if partners is None or limiter is None or key_prefix(presented) is None:
            return False
        since = datetime.now(UTC) - timedelta(seconds=limiter.known_for)
        if not await run_in_threadpool(partners.known_key, presented, since):
            return False
        limiter.succeeded(presented)
        return True

    @staticmethod
    async def _audit(scope: Scope, presented: str, exc: RateLimited) -> None:
        log: AuditLog | None = getattr(getattr(scope.get("app"), "state", None), "audit", None)
        if log is not None:
            event = refusal_event(scope.get("method", ""), scope.get("path", ""), presented,
                                  f"rate limited: {exc}")
            await run_in_threadpool(log.record, event)
