"""The edges of hostile input, one by one: the 1 MB limit on each endpoint, NUL characters on each platform,
mentions as each adapter reads and draws them, and the bugs the hostile-input tests found elsewhere (strict
xfails: each passes, and so fails, once its bug is fixed).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from adapters.slack import inbound as slack_inbound
from adapters.slack import render as slack_render
from adapters.teams import inbound as teams_inbound
from adapters.web.app import clean as console_clean
from bot.playbook import load_playbook
from breachroom.server import make_app
from storage.db import Database
from storage.models import Decision, Incident, Workspace
from tests.conftest import Bot, declare_room
from tests.local_http import serve
from tests.reliability.hostile import BROADCAST, MB, NASTY, SORRY, hostile, raw_text, typed_slack, typed_teams
from tests.reliability.test_hostile_input import KNOWN_BUGS, NOT_SAVED
from tests.teams_fake import FakeTeams, activity
from tests.test_console import Person, console_settings
from tests.test_teams_hosting import teams_settings

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.sampled_from(NASTY),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["type", "user", "team", "view", "actions", "state", "values", "id", "value",
                                         "callback_id", "command", "from", "conversation", "entities", "text",
                                         "name", "action", "data", "channelData", "tenant"]) | st.text(max_size=4),
                        inner, max_size=5), max_leaves=25)


async def _count(db: Database, model: Any) -> int:
    async with db.reading() as session:
        return int((await session.execute(sa.select(sa.func.count()).select_from(model))).scalar_one())


@pytest.fixture
async def teams_url(db_url: str) -> AsyncIterator[tuple[str, FakeTeams]]:
    fake = await FakeTeams().start()
    settings = teams_settings(db_url, microsoft_app_id="")
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url())))
    yield url, fake
    await fake.settle(0.2)
    await runner.cleanup()
    await fake.stop()


@pytest.fixture
async def console_person(db_url: str) -> AsyncIterator[Person]:
    settings = console_settings(db_url)
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url())))
    person = Person(url)
    yield await person.named("Ann")
    await person.close()
    await runner.cleanup()


def padded(body: dict[str, Any], size: int) -> bytes:
    """`body` as JSON of exactly `size` bytes (a `pad` field makes up the difference)."""
    data = json.dumps({**body, "pad": ""}).encode()
    return json.dumps({**body, "pad": "x" * (size - len(data))}).encode()


# ---- 413 at the limit, on every endpoint ---------------------------------------------------------------------


async def test_slack_bodies_of_1_mb_are_read_and_larger_ones_get_413(bot: Bot) -> None:
    base = bot.command_body("status") + "&pad="
    status, answer = await bot.post(base + "x" * (MB - len(base)))
    assert status == 200 and "war room" in answer["text"]
    status, _ = await bot.post(base + "x" * (MB + 1 - len(base)))
    assert status == 413
    status, answer = await bot.command("help")  # and the server goes on
    assert status == 200


async def test_teams_bodies_of_1_mb_are_read_and_larger_ones_get_413(teams_url: tuple[str, FakeTeams]) -> None:
    url, fake = teams_url
    async with aiohttp.ClientSession() as http:
        for size, expected in ((MB, 200), (MB + 1, 413)):
            body = padded(activity(fake, "help", activity_id=f"pad-{size}"), size)
            assert len(body) == size
            async with http.post(f"{url}/api/messages", data=body,
                                 headers={"Content-Type": "application/json"}) as response:
                assert response.status == expected


async def test_console_bodies_over_1_mb_get_413(console_person: Person) -> None:
    body = padded({"room": "general", "text": "hello"}, MB + 1)
    async with console_person.http.post(console_person.url + "/console/say", data=body,
                                        headers={"Content-Type": "application/json"}) as response:
        assert response.status == 413
    assert (await console_person.type("still here")) == {"ok": True}


# ---- NUL characters, stripped where each platform's input comes in -------------------------------------------


async def test_slack_strips_nul_from_command_text_and_form_values(bot: Bot) -> None:
    room = (await declare_room(bot))["channel"]
    status, _ = await bot.command("decision Take\x00 the server\x00 offline", channel=room)
    assert status == 200
    async with bot.db.reading() as session:
        incident_id = (await session.execute(sa.select(Incident.id))).scalar_one()
    view = {"type": "modal", "callback_id": "decision.submit", "private_metadata": str(incident_id)}
    typed = {"decision": {"d": {"type": "plain_text_input", "value": "Call\x00 the bank"}},
             "rationale": {"r": {"type": "plain_text_input", "value": "\x00"}}}
    status, answer = await bot.submit(view, typed)
    assert status == 200 and answer is None
    async with bot.db.reading() as session:
        texts = list((await session.execute(sa.select(Decision.text, Decision.rationale))).all())
    assert texts == [("Take the server offline", None), ("Call the bank", None)]


async def test_teams_strips_nul_from_activity_text_and_card_data(teams_url: tuple[str, FakeTeams],
                                                                  db: Database) -> None:
    url, fake = teams_url
    async with aiohttp.ClientSession() as http:
        body = activity(fake, "Laptop\x00 stolen\x00", activity_id="nul-1", bot_mentioned=True)
        body["from"]["name"] = "Ann\x00"
        async with http.post(f"{url}/api/messages", json=body) as response:
            assert response.status == 200
    await fake.wait_for(lambda: len(fake.sent) >= 2)
    async with db.reading() as session:
        assert (await session.execute(sa.select(Incident.summary))).scalar_one() == "Laptop stolen"
    assert teams_inbound.clean({"value": {"a\x00": ["b\x00", {"c": "\x00d"}]}}) == {"value": {"a": ["b", {"c": "d"}]}}


async def test_the_console_strips_nul_from_typed_text_and_form_values(console_person: Person, db: Database) -> None:
    await console_person.type("/breach Laptop\x00 stolen from the\x00 car")
    async with db.reading() as session:
        assert (await session.execute(sa.select(Incident.summary))).scalar_one() == "Laptop stolen from the car"
    async with console_person.http.get(console_person.url + "/console/state", params={"room": "gen\x00eral"}) as r:
        assert r.status == 200 and (await r.json())["room"] == "general"
    assert console_clean({"a\x00": ["b\x00"], "n": 1}) == {"a": ["b"], "n": 1}


# ---- mentions: read as neutral markup, drawn back safely -----------------------------------------------------


@hostile(400)
@given(typed=typed_slack())
def test_slack_text_is_read_as_typed_with_broadcasts_as_words(typed: tuple[str, str, frozenset[str]]) -> None:
    wire, expected, mentioned = typed
    neutral = slack_inbound.neutral_text(wire)
    assert neutral == expected.replace("\x00", "")
    drawn = slack_render.mrkdwn(neutral)
    assert not BROADCAST.search(drawn)
    for user in mentioned:
        assert f"<@{user}>" in drawn, "a person's mention is drawn as a mention"


@hostile(400)
@given(text=raw_text())
def test_slack_never_draws_a_broadcast_from_any_text(text: str) -> None:
    for drawn in (slack_render.mrkdwn(text), slack_render.mrkdwn(slack_inbound.neutral_text(text)),
                  slack_render.topic(text), slack_render.clip(slack_render.mrkdwn(text), 50)):
        assert not BROADCAST.search(drawn)
        assert "\x00" not in slack_inbound.neutral_text(text)


@hostile(300)
@given(typed=typed_teams())
def test_teams_text_is_read_as_typed_with_tags_and_channels_as_words(
        typed: tuple[str, list[dict[str, Any]], str, frozenset[str]]) -> None:
    text, entities, expected, mentioned = typed
    raw = {"type": "message", "text": text, "entities": entities, "recipient": {"id": "28:bot"}}
    assert teams_inbound.neutral_text(raw) == expected
    assert set(teams_inbound.mentioned(raw)) == set(mentioned), "only people are looked up"


@hostile(500)
@given(body=JSON)
def test_the_shape_checks_answer_anything_without_failing(body: Any) -> None:
    for problem in (slack_inbound.problem, teams_inbound.problem):
        assert problem(body) is None or isinstance(problem(body), str)
    if isinstance(body, dict):
        assert slack_inbound.actor_of(body).platform == "slack"
        assert all(isinstance(part, str) for part in slack_inbound.action(body))
        assert slack_inbound.channel_of(body) is None or isinstance(slack_inbound.channel_of(body), str)
        assert isinstance(slack_render.form_values(body), dict)
        if teams_inbound.problem(body) is None:
            assert "\x00" not in teams_inbound.invocation(teams_inbound.clean(body)).text


# ---- bugs found elsewhere: each stays visible here until it is fixed -----------------------------------------


@pytest.mark.xfail(strict=True, reason=KNOWN_BUGS["long time zone"])
async def test_known_bug_a_long_time_zone_name_is_refused_clearly(bot: Bot) -> None:
    status, answer = await bot.command("timezone " + "x" * 300)
    assert status == 200
    assert SORRY not in answer["text"] and "time zone" in answer["text"]


@pytest.mark.xfail(strict=True, reason=KNOWN_BUGS["ids"])
async def test_known_bug_a_form_for_an_impossible_incident_is_out_of_date(bot: Bot) -> None:
    view = {"type": "modal", "callback_id": "decision.submit", "private_metadata": "9" * 20}
    status, answer = await bot.submit(view, {"decision": {"d": {"type": "plain_text_input", "value": "x"}}})
    assert status == 200
    assert NOT_SAVED not in json.dumps(answer)


@pytest.mark.xfail(strict=True, reason=KNOWN_BUGS["settings row"])
async def test_known_bug_a_refused_announce_stores_nothing(bot: Bot) -> None:
    status, answer = await bot.command("announce nowhere")
    assert status == 200 and "couldn't find one channel" in answer["text"]
    assert await _count(bot.db, Workspace) == 0
