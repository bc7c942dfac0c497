"""`breachroom`: serve the bot, migrate the store, list, export and audit incidents."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from urllib.parse import quote

from sqlalchemy.exc import SQLAlchemyError

from breachroom.notices_cli import add_notices_parser
from breachroom.obligations_cli import add_obligations_parser
from breachroom.settings import ConfigError, Settings, load
from breachroom.teams_cli import add_teams_parser


def _fail(message: str) -> int:
    print(f"breachroom: {message}", file=sys.stderr)
    return 2


def _db_problem(exc: SQLAlchemyError) -> str:
    """One line about a database failure, without the URL (it may hold a password)."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return f"DATABASE_URL: cannot use the database ({reason[:200]})"


def _hold(settings: Settings) -> None:
    from storage.db import DatabaseBusy, hold_for_serving

    try:
        hold_for_serving(settings.db_url())
    except DatabaseBusy as exc:
        raise ConfigError(
            f"another breachroom serve is already using the SQLite database {exc}: SQLite serves one process; "
            "stop the other one, or set DATABASE_URL to PostgreSQL to run several"
        ) from None


def _migrate(settings: Settings) -> None:
    from storage.db import upgrade

    upgrade(settings.db_url())


def _platforms(settings: Settings, host: str, port: int) -> list[str]:
    """One phrase per platform that is on, so the operator sees at start what this process serves."""
    base = f"http://{host}:{port}"
    on = []
    if settings.slack_on:
        on.append("Slack over " + ("Socket Mode" if settings.slack_app_token else f"HTTP at {base}/slack/events"))
    if settings.teams_emulator:
        on.append(f"Teams at {base}/api/messages in the Bot Framework Emulator's local mode (no authentication)")
    elif settings.teams_on:
        on.append(f"Teams at {base}/api/messages ({settings.microsoft_app_type} app {settings.microsoft_app_id})")
    return on


def _console_address(settings: Settings, host: str, port: int) -> str:
    """The address to open; with an access token, it carries the token (the page then keeps it in a cookie)."""
    token = settings.breachroom_console_token
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={quote(token)}" if token else "")


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from breachroom.server import make_app
    from storage.db import Database

    settings = load()
    settings.require_platforms(args.host, args.console)
    playbook = settings.playbook()
    settings.templates_dir()
    _hold(settings)
    _migrate(settings)
    if settings.teams_on and not settings.breachroom_public_url:
        settings.breachroom_public_url = f"http://{args.host}:{args.port}"
        print(f"Breachroom: BREACHROOM_PUBLIC_URL is not set: download links in Teams will start with "
              f"{settings.breachroom_public_url}, which only this machine can reach", file=sys.stderr, flush=True)
    platforms = _platforms(settings, args.host, args.port)
    if platforms:
        print(f"Breachroom: {'; '.join(platforms)}; health at /healthz, readiness at /readyz", flush=True)
    console = settings.console_on(args.console)
    if console:
        print(f"Breachroom console: {_console_address(settings, args.host, args.port)}", flush=True)
    web.run_app(
        make_app(settings, playbook, Database(settings.db_url()), console=console),
        host=args.host, port=args.port, print=None, access_log=None,
    )
    return 0


def cmd_drill(args: argparse.Namespace) -> int:
    """A tabletop exercise on the local console: the scenario's briefing, then its new facts on time."""
    from aiohttp import web

    from adapters.web.outbound import GENERAL
    from bot import scenarios
    from breachroom.server import CONSOLE, CORE, make_app
    from storage import chat
    from storage.db import Database

    if args.speed <= 0:
        raise ConfigError("--speed must be more than 0 (60 runs a minute of the exercise per second)")
    try:
        scenario = scenarios.load(args.scenario)
    except scenarios.ScenarioError as exc:
        raise ConfigError(f"--scenario: {exc}") from None
    # The exercise runs on the console only, whatever chat platforms this machine is set up for.
    settings = load().model_copy(update={"slack_bot_token": None, "slack_signing_secret": None,
                                         "slack_app_token": None, "microsoft_app_id": None})
    settings.require_platforms(args.host, console=True)
    playbook = settings.playbook()
    settings.templates_dir()
    _hold(settings)
    _migrate(settings)
    app = make_app(settings, playbook, Database(settings.db_url()), console=True)

    async def exercise(app: web.Application):  # type: ignore[no-untyped-def]
        core = app[CORE]
        await chat.ensure_room(core.db, GENERAL, GENERAL)
        task = asyncio.create_task(scenarios.run(core, app[CONSOLE].chat, scenario, platform="web", lobby=GENERAL,
                                                 speed=args.speed))
        yield
        task.cancel()

    app.cleanup_ctx.append(exercise)
    print(f"Breachroom console: {_console_address(settings, args.host, args.port)}", flush=True)
    print(f"Breachroom drill: {scenario.title} ({len(scenario.injects)} new facts"
          f"{'' if args.speed == 1 else f', at {args.speed:g} times the speed'}); the briefing is in #general",
          flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


def cmd_db_upgrade(_: argparse.Namespace) -> int:
    _migrate(load())
    print("breachroom: database is up to date")
    return 0


def cmd_db_rotate_key(_: argparse.Namespace) -> int:
    """Re-encrypt the sensitive columns under BREACHROOM_ENCRYPTION_KEY's first key; one line per table."""
    from storage import crypto

    settings = load()
    if not settings.breachroom_encryption_key or not crypto.enabled():
        raise ConfigError("BREACHROOM_ENCRYPTION_KEY is not set: rotate-key encrypts with its first key")
    try:
        counts = crypto.rotate(settings.db_url())
    except crypto.UnreadableValue as exc:
        raise ConfigError(str(exc)) from None
    for table, (changed, current) in counts.items():
        print(f"{table}: {changed} values encrypted with the first key, {current} already were")
    return 0


def cmd_incidents(args: argparse.Namespace) -> int:
    from bot import chart, record
    from storage.db import Database

    settings = load()
    db = Database(settings.db_url())

    async def run() -> int:
        try:
            if args.action == "list":
                for line in await record.incident_lines(db, drills=args.drills):
                    print(line)
                return 0
            playbook = settings.playbook()
            data = await record.incident_record(db, args.id, playbook)
            if data is None:
                return _fail(f"no incident with id {args.id} (see `breachroom incidents list`)")
            if args.format == "docx":
                if sys.stdout.isatty():
                    return _fail(f"a .docx is binary: redirect it to a file (> incident-{args.id}.docx)")
                recap = await record.incident_summary(db, args.id, playbook)
                png = await asyncio.to_thread(chart.timeline_png, recap) if recap else None
                sys.stdout.buffer.write(record.to_docx(data, png))
                sys.stdout.flush()
                return 0
            print(record.to_json(data) if args.format == "json" else record.to_markdown(data), end="")
            return 0
        finally:
            await db.dispose()

    return asyncio.run(run())


def cmd_audit(args: argparse.Namespace) -> int:
    """`audit verify [INCIDENT]`: one line per incident; 1 when any timeline was altered, 2 for an unknown id."""
    from storage import audit
    from storage.db import Database

    db = Database(load().db_url())

    async def run() -> int:
        try:
            verdicts = await audit.verify(db, args.id)
        except audit.UnknownIncident:
            return _fail(f"no incident with id {args.id} (see `breachroom incidents list --drills`)")
        finally:
            await db.dispose()
        for verdict in verdicts:
            print(verdict.line())
        return 0 if all(v.ok for v in verdicts) else 1

    return asyncio.run(run())


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="breachroom", description="Breach response run-book in your chat tool.")
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bot (applies database migrations first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--console", action="store_true",
                       help="also serve the local console beside Slack or Teams (it runs alone when neither is set)")
    serve.set_defaults(run=cmd_serve)
    drill = sub.add_parser("drill", help="run a tabletop exercise on the local console")
    drill.add_argument("--scenario", required=True,
                       help="lost-laptop, phishing, ransomware, or the path of your own scenario .yml")
    drill.add_argument("--speed", type=float, default=1.0, help="60 runs a minute of the exercise per second")
    drill.add_argument("--host", default="127.0.0.1")
    drill.add_argument("--port", type=int, default=3000)
    drill.set_defaults(run=cmd_drill)
    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply database migrations").set_defaults(run=cmd_db_upgrade)
    db.add_parser("rotate-key", help="re-encrypt the sensitive columns with the first BREACHROOM_ENCRYPTION_KEY "
                  "(and encrypt values stored before it was set)").set_defaults(run=cmd_db_rotate_key)
    incidents = sub.add_parser("incidents", help="read the incident record")
    isub = incidents.add_subparsers(dest="action", required=True)
    listing = isub.add_parser("list", help="one line per incident, id first; drills left out")
    listing.add_argument("--drills", action="store_true",
                         help="also list drills (practice incidents), each with `drill` as an eighth column")
    listing.set_defaults(run=cmd_incidents)
    export = isub.add_parser("export", help="print one incident's full record")
    export.add_argument("id", type=int)
    export.add_argument("--format", choices=("json", "md", "docx"), default="json")
    export.set_defaults(run=cmd_incidents)
    audit = sub.add_parser("audit", help="check the incident timelines' hash chains")
    asub = audit.add_subparsers(dest="audit_command", required=True)
    verify = asub.add_parser("verify", help="OK per incident, or the first entry altered, inserted or deleted")
    verify.add_argument("id", type=int, nargs="?", metavar="INCIDENT", help="one incident (default: every one)")
    verify.set_defaults(run=cmd_audit)
    add_notices_parser(sub)
    add_obligations_parser(sub)
    add_teams_parser(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        return _fail(str(exc))
    except SQLAlchemyError as exc:
        return _fail(_db_problem(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
