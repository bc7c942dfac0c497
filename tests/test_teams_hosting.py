"""Teams hosting over real HTTP: the bot at /api/messages, a local Bot Connector, local signing keys.

Outbound replies are checked here in the Emulator's mode (no app id), and the inbound side (status, database)
with authentication on; replies with authentication on, which need a token from a local HTTPS Entra login,
are in test_teams_tokens.py and test_teams_war_room.py.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.playbook import load_playbook
from breachroom.server import make_app
from breachroom.settings import Settings
from storage.db import Database
from storage.models import Decision, Incident, TimelineEntry, Workspace
from tests.conftest import serve
from tests.teams_fake import TENANT, FakeTeams, activity, served_key, signing_key
from tests.test_cli import COMMAND, environment, free_port, one_line_error, run

APP_ID = "8c3a4d8e-5b1f-4f3a-9a53-0c3f2b7d6e11"


def teams_settings(db_url: str, **values: str | None) -> Settings:
    """Teams only: every Slack setting given as unset, so the runner's environment cannot switch Slack on."""
    base: dict[str, str | None] = {"slack_bot_token": None, "slack_signing_secret": None, "slack_app_token": None,
                                   "database_url": db_url}
    return Settings(**{**base, **values})  # type: ignore[arg-type]


class TeamsBot:
    """The served bot and a way to deliver activities to it as the Bot Connector does."""

    def __init__(self, url: str, fake: FakeTeams, db: Database) -> None:
        self.url, self.fake, self.db = url, fake, db
        self.http = aiohttp.ClientSession()
        self._ids = 0

    def next_id(self) -> str:
        self._ids += 1
        return f"1700000000{self._ids:03d}"

    async def deliver(self, body: dict[str, Any], token: str | None = None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(f"{self.url}/api/messages", json=body, headers=headers) as response:
            return response.status

    async def say(self, text: str, *, token: str | None = None, activity_id: str | None = None, **kw: Any) -> int:
        return await self.deliver(activity(self.fake, text, activity_id=activity_id or self.next_id(), **kw), token)

    async def count(self, table: Any) -> int:
        async with self.db.reading() as session:
            return int((await session.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def _served(settings: Settings, fake: FakeTeams, db: Database) -> AsyncIterator[TeamsBot]:
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url())))
    client = TeamsBot(url, fake, db)
    yield client
    await fake.settle(0.2)
    await client.http.close()
    await runner.cleanup()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTeams]:
    teams = await FakeTeams().start()
    teams.keys["key-1"] = served_key()
    yield teams
    await teams.stop()


@pytest.fixture
async def emulator(fake: FakeTeams, db_url: str, db: Database) -> AsyncIterator[TeamsBot]:
    async for client in _served(teams_settings(db_url, microsoft_app_id=""), fake, db):
        yield client


@pytest.fixture
async def secured(fake: FakeTeams, db_url: str, db: Database) -> AsyncIterator[TeamsBot]:
    closed = free_port()  # outbound tokens cannot be had here: replies fail, and are logged
    settings = teams_settings(
        db_url, microsoft_app_id=APP_ID, microsoft_app_password="not-a-real-secret",
        microsoft_app_tenant_id=TENANT, botframework_openid_metadata_url=fake.metadata_url,
        microsoft_login_url=f"https://127.0.0.1:{closed}",
    )
    async for client in _served(settings, fake, db):
        yield client


def card_text(card: dict[str, Any]) -> str:
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card.get("body"))
    return "\n".join(texts)


# ---- the Emulator's mode: commands and replies -----------------------------------------------------


async def test_help_in_a_1on1_chat_answers_with_the_help_card(emulator: TeamsBot) -> None:
    assert await emulator.say("help") == 200
    sent = await emulator.fake.wait_for(lambda: emulator.fake.sent)
    assert sent[0].conversation == "a:ann-1on1"
    [card] = sent[0].cards()
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert "breach responder" in card_text(card)


async def test_breach_word_and_mention_are_optional_before_a_subcommand(emulator: TeamsBot) -> None:
    assert await emulator.say("breach help", bot_mentioned=True) == 200
    sent = await emulator.fake.wait_for(lambda: emulator.fake.sent)
    assert "breach responder" in card_text(sent[0].cards()[0])


async def test_responder_mentioned_in_teams_is_recorded_and_named_back(emulator: TeamsBot) -> None:
    status = await emulator.say("responder <at>Bob Jones</at>", mentions={"Bob Jones": "29:bob"}, bot_mentioned=True)
    assert status == 200
    sent = await emulator.fake.wait_for(lambda: emulator.fake.sent)
    async with emulator.db.reading() as session:
        workspace = (await session.execute(sa.select(Workspace))).scalar_one()
    assert (workspace.platform, workspace.team_id, workspace.responder_id) == ("teams", TENANT, "29:bob")
    card = sent[0].cards()[0]
    assert {"type": "mention", "text": "<at>29:bob</at>", "mentioned": {"id": "29:bob", "name": "29:bob"}} \
        in card["msteams"]["entities"]


async def test_status_outside_a_war_room_explains_where_it_works(emulator: TeamsBot) -> None:
    assert await emulator.say("status") == 200
    sent = await emulator.fake.wait_for(lambda: emulator.fake.sent)
    assert "works inside a war room" in card_text(sent[0].cards()[0])


@pytest.mark.parametrize("text", ["", "breach"])
async def test_the_bot_named_alone_or_breach_alone_sends_the_declare_form(emulator: TeamsBot, text: str) -> None:
    assert await emulator.say(text, bot_mentioned=True) == 200
    sent = await emulator.fake.wait_for(lambda: emulator.fake.sent)
    [form] = sent[0].cards()
    assert form["body"][0]["text"] == "Declare a breach"
    assert "summary" in [element.get("id") for element in form["body"]]
    assert form["actions"][0]["type"] == "Action.Execute"
    assert await emulator.count(Incident) == 0


async def test_in_a_group_chat_the_answer_stays_out_of_the_shared_conversation(emulator: TeamsBot) -> None:
    status = await emulator.say("status", bot_mentioned=True, conversation="19:group@thread.v2", kind="groupChat")
    assert status == 200
    sent = await emulator.fake.wait_for(lambda: emulator.fake.sent)
    assert sent[0].conversation == "19:group@thread.v2"
    assert sent[0].cards() == []
    assert "1:1 chat" in sent[0].text


async def test_a_declared_breach_is_recorded_and_the_missing_war_room_reported_privately(emulator: TeamsBot) -> None:
    assert await emulator.say("Laptop with client files stolen from the car", bot_mentioned=True) == 200
    fake = emulator.fake
    await fake.wait_for(lambda: len(fake.sent) >= 2)
    await fake.settle()
    assert await emulator.count(Incident) == 1
    assert all(s.conversation == "a:ann-1on1" for s in fake.sent)
    assert "Laptop with client files" in card_text(fake.sent[0].cards()[0])


async def test_the_same_activity_delivered_twice_records_one_decision(emulator: TeamsBot) -> None:
    room = "19:warroom@thread.v2"
    assert await emulator.say("Ransomware on the file server", bot_mentioned=True) == 200
    await emulator.fake.wait_for(lambda: len(emulator.fake.sent) >= 2)
    await emulator.fake.settle()
    async with emulator.db.transaction() as session:  # the war room the next slice opens through Graph
        await session.execute(sa.update(Incident).values(channel_id=room))
    for _ in range(2):
        status = await emulator.say("decision Take the file server offline", activity_id="1700000000999",
                                    bot_mentioned=True, conversation=room, kind="groupChat")
        assert status == 200
    await emulator.fake.settle()
    assert await emulator.count(Decision) == 1
    assert await emulator.say("decision Take the file server offline", bot_mentioned=True,
                              conversation=room, kind="groupChat") == 200
    assert await emulator.count(Decision) == 2


async def test_what_is_not_an_activity_is_a_400(emulator: TeamsBot) -> None:
    async with emulator.http.post(f"{emulator.url}/api/messages", data=b"{not json",
                                  headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400
    async with emulator.http.post(f"{emulator.url}/api/messages", json={"text": "help"}) as response:
        assert response.status == 400


async def test_a_press_on_an_unknown_button_says_it_is_out_of_date(emulator: TeamsBot) -> None:
    body = activity(emulator.fake, "", activity_id=emulator.next_id())
    body.update(type="invoke", name="adaptiveCard/action",
                value={"action": {"type": "Action.Execute", "verb": "no.such", "data": {"action": "no.such"}}})
    async with emulator.http.post(f"{emulator.url}/api/messages", json=body) as response:
        assert response.status == 200
        answer = await response.json()
    assert answer == {"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                      "value": "That button is out of date."}
    assert await emulator.count(TimelineEntry) == 0


async def test_other_invokes_are_left_to_botbuilder(emulator: TeamsBot) -> None:
    body = activity(emulator.fake, "", activity_id=emulator.next_id())
    body.update(type="invoke", name="composeExtension/query", value={})
    assert await emulator.deliver(body) == 501


# ---- authentication on: locally signed tokens against local OpenID metadata --------------------------


async def test_a_valid_bot_connector_token_is_accepted(secured: TeamsBot) -> None:
    token = secured.fake.token(audience=APP_ID)
    status = await secured.say("responder <at>Bob</at>", token=token, mentions={"Bob": "29:bob"})
    assert status == 200
    assert await secured.count(Workspace) == 1
    assert await secured.count(TimelineEntry) == 1


def _forged(fake: FakeTeams) -> str:
    return fake.token(audience=APP_ID, key=signing_key())


REFUSED = {
    "no token": lambda fake: None,
    "not a JWT": lambda fake: "not-a-token",
    "forged signature": _forged,
    "expired": lambda fake: fake.token(audience=APP_ID, expires_in=-3600),
    "wrong audience": lambda fake: fake.token(audience="another-bot"),
    "unknown key id": lambda fake: fake.token(audience=APP_ID, kid="key-9", key=fake.keys["key-1"]),
    "wrong issuer": lambda fake: fake.token(audience=APP_ID, issuer="https://attacker.example"),
    "other service url": lambda fake: fake.token(audience=APP_ID, service_url="https://elsewhere.example/"),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_an_unauthenticated_activity_is_refused_with_401_and_nothing_recorded(
    secured: TeamsBot, case: str
) -> None:
    token = REFUSED[case](secured.fake)
    status = await secured.say("Ransomware on the file server", token=token)
    assert status == 401
    status = await secured.say("responder <at>Bob</at>", token=token, mentions={"Bob": "29:bob"})
    assert status == 401
    await secured.fake.settle(0.2)
    assert await secured.count(Incident) == 0
    assert await secured.count(Workspace) == 0
    assert await secured.count(TimelineEntry) == 0
    assert secured.fake.sent == []


# ---- serve: start-up checks and what it says ------------------------------------------------------------


def test_serve_refuses_an_empty_app_id_on_a_public_bind(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", "--host", "0.0.0.0", MICROSOFT_APP_ID="")
    assert result.returncode == 2
    line = one_line_error(result, "MICROSOFT_APP_ID", "0.0.0.0")
    assert "loopback" in line


@pytest.mark.parametrize(("settings", "missing"), [
    ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
    ({"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_TENANT_ID": TENANT}, "MICROSOFT_APP_PASSWORD"),
    ({"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "s"}, "MICROSOFT_APP_TENANT_ID"),
    ({"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "s", "MICROSOFT_APP_TYPE": "Tenantless"},
     "MICROSOFT_APP_TYPE"),
])
def test_serve_names_the_missing_setting(tmp_path: Path, settings: dict[str, str], missing: str) -> None:
    result = run(tmp_path, "serve", **settings)
    assert result.returncode == 2
    one_line_error(result, missing)


def test_serve_in_the_emulators_mode_says_teams_is_on_without_authentication(tmp_path: Path) -> None:
    port = free_port()
    env = environment(tmp_path, MICROSOFT_APP_ID="")
    with subprocess.Popen([*COMMAND, "serve", "--port", str(port)], env=env, cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz"):
                        break
                except OSError:
                    time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert "Teams at" in line and "/api/messages" in line and "no authentication" in line, line
    assert "Slack" not in line, line


async def test_in_the_emulator_the_war_room_is_the_conversation_with_the_bot(emulator: TeamsBot) -> None:
    """No Microsoft Graph without an app: a breach declared in the Emulator is run in that conversation."""
    assert await emulator.say("breach Laptop stolen from the car") == 200
    checklist = await emulator.fake.wait_for(lambda: [s for s in emulator.fake.sent if s.conversation == "a:ann-1on1"
                                                      and "Assess" in str(s.cards())])
    assert checklist
    await emulator.fake.settle(0.3)
    async with emulator.db.reading() as session:
        (incident,) = (await session.execute(sa.select(Incident))).scalars().all()
    assert incident.channel_id == "a:ann-1on1" and incident.build_status == "ready"
