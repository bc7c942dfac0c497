"""Serve an aiohttp app on a free loopback port: the bot under test and the fakes it talks to."""

from __future__ import annotations

import ssl

from aiohttp import web


async def serve(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, str]:
    """`ssl_context` serves HTTPS (a fake that must look like a real HTTPS service, such as the Entra login)."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
