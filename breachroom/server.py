"""One aiohttp server: Slack's and Teams' endpoints (each when configured), health and readiness."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_sdk.errors import SlackApiError

from adapters.slack import inbound
from adapters.slack.app import SlackAdapter
from adapters.web.app import Console, token_guard
from bot import checklist, clocks, outbox, pacing, war_room
from bot.core import Core
from bot.playbook import Playbook
from bot.ports import ChatPort
from breachroom import downloads_http
from breachroom.settings import ConfigError, Settings
from storage.db import Database

if TYPE_CHECKING:  # Teams' stack (botbuilder) is loaded only when Teams is on: ~40 MB and a third of start-up
    from adapters.teams.app import TeamsAdapter
    from adapters.teams.config import TeamsConfig

log = logging.getLogger(__name__)
CORE = web.AppKey("core", Core)
SLACK = web.AppKey("slack", SlackAdapter)
TEAMS: web.AppKey[TeamsAdapter] = web.AppKey("teams")
CONSOLE = web.AppKey("console", Console)
REFRESH_EVERY = 3600.0
# A larger request body gets 413 before it is parsed; Slack's and Teams' own requests stay far below it.
MAX_BODY = 1024 * 1024


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    if await request.app[CORE].db.ping():
        return web.json_response({"status": "ready"})
    log.warning("readiness: the database is not reachable")
    return web.json_response({"status": "database unreachable"}, status=503)


async def slack_events(request: web.Request) -> web.Response:
    try:
        bolt_request = await to_bolt_request(request)
    except (ValueError, LookupError, TypeError, AttributeError, RecursionError):
        # Not UTF-8, or a body Bolt cannot read (it parses before it checks the signature): not from Slack.
        return web.Response(status=400, text="expected a Slack request")
    if inbound.problem(bolt_request.body) is not None:
        return web.Response(status=400, text="expected a Slack request")
    bolt_response = await request.app[SLACK].app.async_dispatch(bolt_request)
    return await to_aiohttp_response(bolt_response)


async def teams_messages(request: web.Request) -> web.Response:
    return await request.app[TEAMS].handle(request)


def teams_config(settings: Settings) -> TeamsConfig:
    from adapters.teams.config import TeamsConfig

    assert settings.microsoft_app_id is not None
    return TeamsConfig(
        app_id=settings.microsoft_app_id,
        app_password=settings.microsoft_app_password,
        tenant_id=settings.microsoft_app_tenant_id,
        app_type=settings.microsoft_app_type,
        login_url=settings.microsoft_login_url,
        openid_metadata_url=settings.botframework_openid_metadata_url,
        graph_url=settings.graph_api_url,
        war_room=settings.teams_war_room,
        team_id=settings.teams_team_id,
        catalog_app_id=settings.teams_catalog_app_id,
        manifest_id=settings.teams_manifest_id,
        public_url=settings.breachroom_public_url,
    )


async def tick_forever(core: Core, ports: dict[str, ChatPort], every: float) -> None:
    """Finish war rooms a stopped or failed attempt left (at start, then about every minute), bring checklist
    messages whose update failed up to date, post what the rooms are still owed (decisions, summaries: bot/outbox.py),
    fire due reminders (including those missed while no process ran) and refresh deadline cards hourly."""
    pacing.in_background()
    last_refresh = last_sweep = -math.inf
    sweep_every = min(60.0, core.build_retry.total_seconds())
    while True:
        try:
            if time.monotonic() - last_sweep >= sweep_every:
                last_sweep = time.monotonic()
                await war_room.sweep(core, ports)
            await checklist.catch_up(core, ports)
            await outbox.catch_up(core, ports)
            await clocks.fire_reminders(core, ports)
            if time.monotonic() - last_refresh >= REFRESH_EVERY:
                last_refresh = time.monotonic()
                for incident_id, platform in await clocks.open_incidents(core):
                    if platform in ports:
                        await clocks.refresh(core, incident_id, ports[platform])
        except Exception:
            log.exception("reminder tick failed; trying again at the next tick")
        await asyncio.sleep(every)


def answering_first(pacer: pacing.Pacer) -> Any:
    """Work after an acknowledgement steps aside while a platform's request is being answered (bot/pacing.py).
    Only POSTs count: a console page's event stream stays open for as long as the page."""

    @web.middleware
    async def first(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method != "POST":
            return await handler(request)
        with pacer.answering():
            return await handler(request)

    return first


def make_app(settings: Settings, playbook: Playbook, db: Database, *, console: bool = False) -> web.Application:
    """The whole server; `settings` must already have passed `require_platforms()` (or `require_slack()`).

    The local console is served when `console` is asked for, or when no chat platform is configured.
    """
    lease = timedelta(seconds=settings.breachroom_build_lease_seconds)
    core = Core(db=db, playbook=playbook, templates_dir=settings.templates_dir(), build_lease=lease,
                build_retry=lease / 2, admins=settings.admins)
    web_console = Console(core) if settings.console_on(console) else None
    token = settings.breachroom_console_token if web_console else None
    db.pace = core.pacer.step
    middlewares = [answering_first(core.pacer)] + ([token_guard(token)] if token else [])
    app = web.Application(client_max_size=MAX_BODY, middlewares=middlewares)
    app[CORE] = core
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/files/{token}", downloads_http.files_handler(core))

    async def close_db(_: web.Application) -> None:
        await db.dispose()

    # The cleanup contexts (Socket Mode, the ticker) run before these callbacks, so the store closes last.
    app.on_cleanup.append(close_db)
    ports: dict[str, ChatPort] = {}
    if settings.teams_on:
        from adapters.teams.app import TeamsAdapter

        teams = TeamsAdapter(core, teams_config(settings))
        app[TEAMS] = teams
        app.router.add_post("/api/messages", teams_messages)

        async def drain_teams(_: web.Application) -> None:
            await teams.drain()

        app.on_shutdown.append(drain_teams)
        ports["teams"] = teams.chat
    if settings.slack_on:
        ports["slack"] = _serve_slack(app, core, settings)
    if web_console is not None:
        app[CONSOLE] = web_console
        web_console.mount(app)
        ports["web"] = web_console.chat

    # The use cases ask each platform for facts (who is in a room, who is an admin) through these ports.
    core.ports.update(ports)

    async def ticker_ctx(_: web.Application):  # type: ignore[no-untyped-def]
        task = asyncio.create_task(tick_forever(core, ports, settings.breachroom_tick_seconds))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(ticker_ctx)
    return app


def _serve_slack(app: web.Application, core: Core, settings: Settings) -> ChatPort:
    """Slack's endpoint (or its Socket Mode connection) on `app`; returns its chat port."""
    assert settings.slack_bot_token is not None
    socket_mode = settings.slack_app_token is not None
    adapter = SlackAdapter(
        core,
        token=settings.slack_bot_token,
        signing_secret=None if socket_mode else settings.slack_signing_secret,
        api_url=settings.slack_api_url,
    )
    app[SLACK] = adapter
    if not socket_mode:
        app.router.add_post("/slack/events", slack_events)

    async def drain_slack(_: web.Application) -> None:
        await adapter.drain()  # work already acknowledged (a war room being built) finishes before stopping

    app.on_shutdown.append(drain_slack)

    async def connections_ctx(_: web.Application):  # type: ignore[no-untyped-def]
        await adapter.open()
        yield
        await adapter.close()

    app.cleanup_ctx.append(connections_ctx)

    async def socket_mode_ctx(_: web.Application):  # type: ignore[no-untyped-def]
        # The SDK retries a refused token for ever; check it once so a wrong token is one clear line.
        try:
            await adapter.client.apps_connections_open(app_token=settings.slack_app_token)
        except SlackApiError as exc:
            raise ConfigError(
                f"SLACK_APP_TOKEN was refused by Slack ({exc.response.get('error')}): use the app-level token "
                "(xapp-…) with the connections:write scope from your app's Basic Information page"
            ) from None
        except (OSError, TimeoutError) as exc:
            log.warning("Slack is not reachable yet (%s); Socket Mode will keep trying", type(exc).__name__)
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(adapter.app, settings.slack_app_token)
        await handler.connect_async()
        log.info("Slack: connected over Socket Mode")
        yield
        await handler.close_async()

    if socket_mode:
        app.cleanup_ctx.append(socket_mode_ctx)
    return adapter.chat
