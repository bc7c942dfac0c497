"""Fixtures: a real database (SQLite file or PostgreSQL), the fake Slack, and the bot served over HTTP.

Every test that takes `db_url` runs twice, on SQLite and on PostgreSQL. `--db sqlite` or
`--db postgres` runs one of them only.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import psycopg
import pytest

from bot.playbook import load_playbook
from breachroom.server import make_app
from breachroom.settings import Settings
from storage.db import Database, parse_url, upgrade
from tests.local_http import serve
from tests.slack_fake import FakeSlack

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
PG_ADMIN = os.environ.get("BREACHROOM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
TEMPLATE = "breachroom_template"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=("sqlite", "postgres", "both"), default="both",
                     help="which database the suite runs on")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_kind" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--db")
        kinds = ["sqlite", "postgres"] if choice == "both" else [choice]
        if metafunc.definition.get_closest_marker("postgres_only"):
            # Several serve processes on one database: SQLite serves one process by design.
            kinds = [k for k in kinds if k == "postgres"]
        metafunc.parametrize("db_kind", kinds)


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test gets a fresh copy of it (fast, and fully isolated)."""
    name = f"{TEMPLATE}_{os.getpid()}"
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = parse_url(PG_ADMIN)
    upgrade(base.set(database=name))
    yield name
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(db_kind: str, tmp_path, request: pytest.FixtureRequest) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'breachroom.db'}"
        upgrade(parse_url(url))
        yield url
        return
    template = request.getfixturevalue("pg_template")
    name = f"br_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield str(parse_url(PG_ADMIN).set(drivername="postgresql+psycopg", database=name).render_as_string(False))
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(parse_url(db_url))
    yield database
    await database.dispose()


class Bot:
    """The bot served on a real port, and a way to talk to it as Slack does (signed requests)."""

    def __init__(self, url: str, slack: FakeSlack, db: Database) -> None:
        self.url = url
        self.slack = slack
        self.db = db
        self.http = aiohttp.ClientSession()
        self._triggers = 0

    async def close(self) -> None:
        await self.http.close()

    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        base = f"v0:{ts}:{body}".encode()
        digest = hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
                "Content-Type": "application/x-www-form-urlencoded"}

    async def post(self, body: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.http.post(f"{self.url}/slack/events", data=body.encode(),
                                  headers=headers or self.sign(body)) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text) if text else None
            except json.JSONDecodeError:
                return response.status, text

    def command_body(self, text: str, *, user: str = "UANN", channel: str = "CPUBLIC1",
                     command: str = "/breach", trigger: str | None = None, response: str = "r1") -> str:
        self._triggers += 1
        return urlencode({
            "token": "legacy", "team_id": self.slack.team_id, "team_domain": "acme",
            "channel_id": channel, "channel_name": "general", "user_id": user, "user_name": user.lower(),
            "command": command, "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": self.slack.response_url(response),
            "trigger_id": trigger or f"trig.{self._triggers}.{uuid.uuid4().hex[:6]}",
        })

    async def command(self, text: str, **kw: Any) -> tuple[int, Any]:
        return await self.post(self.command_body(text, **kw))

    async def interact(self, payload: dict[str, Any]) -> tuple[int, Any]:
        return await self.post(urlencode({"payload": json.dumps(payload)}))

    async def press(self, channel: str, ts: str, action_id: str, value: str, *, user: str = "UANN") -> tuple[int, Any]:
        return await self.interact({
            "type": "block_actions", "team": {"id": self.slack.team_id, "domain": "acme"},
            "user": {"id": user, "team_id": self.slack.team_id}, "api_app_id": "A1",
            "trigger_id": f"trig.{uuid.uuid4().hex[:8]}",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "channel": {"id": channel}, "message": {"ts": ts},
            "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value,
                         "action_ts": str(time.time())}],
        })

    async def submit(self, view: dict[str, Any], values: dict[str, dict[str, Any]], *,
                     user: str = "UANN", view_id: str = "V1") -> tuple[int, Any]:
        return await self.interact({
            "type": "view_submission", "team": {"id": self.slack.team_id, "domain": "acme"},
            "user": {"id": user, "team_id": self.slack.team_id}, "api_app_id": "A1",
            "view": {**view, "id": view_id, "state": {"values": values}},
        })


def bot_settings(slack: FakeSlack, db_url: str, **extra: str) -> Settings:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": slack.api_url, "DATABASE_URL": db_url, **extra}
    return Settings(**{k.lower(): v for k, v in env.items()})


@pytest.fixture
async def bot(slack: FakeSlack, db_url: str, db: Database) -> AsyncIterator[Bot]:
    settings = bot_settings(slack, db_url)
    app = make_app(settings, load_playbook(), Database(settings.db_url()))
    runner, url = await serve(app)
    client = Bot(url, slack, db)
    yield client
    await slack.settle(0.2)
    await client.close()
    await runner.cleanup()


async def declare_room(bot: Bot, summary: str = "Client database copied from the file server",
                       **kw: Any) -> dict[str, Any]:
    """Declare; wait until the war room's checklist and deadline card are pinned; returns channel and checklist."""
    slack = bot.slack
    before = len(slack.responses)
    status, _ = await bot.command(summary, **kw)
    assert status == 200
    ready = await slack.wait_for(lambda: [r for r in slack.responses[before:] if "ready" in (r.get("text") or "")])
    channel_id = re.search(r"<#(C\w+)>", ready[0]["text"]).group(1)  # type: ignore[union-attr]
    await slack.wait_for(lambda: len(slack.pinned_in(channel_id)) == 2)
    ts = slack.pinned_in(channel_id)[0]
    return {"channel": channel_id, "ts": ts, "name": slack.channels[channel_id]["name"]}


def find_button(blocks: list[dict[str, Any]], label_part: str) -> dict[str, Any]:
    """The button on the checklist row whose text contains `label_part`."""
    for block in blocks:
        if block.get("accessory") and label_part in block["text"]["text"]:
            return block["accessory"]
    raise AssertionError(f"no checklist row mentions {label_part!r}")


def wait(seconds: float) -> Any:
    return asyncio.sleep(seconds)
