"""Request-body limits: a size cap (413) and a read deadline against slow bodies (408).

A pure ASGI middleware, so it sees the body before FastAPI parses anything:

* a ``Content-Length`` over `max_body_bytes` is answered 413 at once, unread;
* a body without ``Content-Length`` (chunked) is read up to the cap, then 413;
* a body that trickles in (slow-loris) and is not complete `body_timeout` seconds after
  the headers is answered 408, so a worker is never held by a client that never finishes.

The read body is replayed to the app unchanged. The API's bodies are small JSON search
requests; bulk data never goes *into* the API.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_BODY_TIMEOUT = 15.0


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _reply(send, 400, "InvalidRequest", "the Content-Length header is not a number")
                return
            if length > self.max_body_bytes:
                await _reply(send, 413, "PayloadTooLarge", self._too_large(length))
                return
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.body_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                await _reply(
                    send, 408, "RequestTimeout",
                    f"the request body did not arrive within {self.body_timeout:g} seconds; "
                    "send the whole body at once",
                )
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _reply(send, 413, "PayloadTooLarge", self._too_large(None))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self, length: int | None) -> str:
        got = f"{length} bytes" if length is not None else "more than that"
        return (
            f"the request body is limited to {self.max_body_bytes} bytes and this one has {got}; "
            "narrow the request (e.g. a simpler `intersects` geometry)"
        )


async def _reply(send: Send, status: int, code: str, description: str) -> None:
    body = json.dumps({"code": code, "description": description}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")],
    })
    await send({"type": "http.response.body", "body": body})
