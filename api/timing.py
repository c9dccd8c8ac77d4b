"""``Server-Timing`` on every answer: how long the app took to start it.

The header (W3C Server Timing) carries ``app;dur=<ms>`` from the moment the request reached
the app to the moment its status line left it. Browsers' developer tools and
``bench/abuse.py`` read it: a client's latency minus ``app`` is time spent outside the app
(the connection, the event loop's queue, the kernel), which is what tells a slow handler
from a busy server.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTimingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                headers = [*message.get("headers", ()), (b"server-timing", f"app;dur={took:.2f}".encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)
