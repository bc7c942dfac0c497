"""The edges of hostile input, one by one: the 1 MB limit on each endpoint, NUL characters on each platform,
mentions as each adapter reads and draws them (typed text that only looks like a mention stays words), and the
bugs the hostile-input tests found elsewhere, each pinned by the behaviour that fixed it. A bug found and not yet
fixed is pinned here by a strict xfail (it passes, and so fails, once the bug is fixed): see KNOWN_BUGS.
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
from tests.reliability.test_hostile_input import NOT_SAVED
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


async def test_slack_a_typed_mention_token_names_nobody(bot: Bot) -> None:
    # `@{UBOB}` typed (not picked from Slack's list) is words: it sets no one, notifies no one.
    _, answer = await bot.command("responder @{UBOB}")
    assert "couldn't find one person" in answer["text"]
    assert await _count(bot.db, Workspace) == 0
    room = (await declare_room(bot))["channel"]
    status, _ = await bot.command("decision Call @{UBOB} and <@UCAROL|carol> about #{CPUBLIC1}", channel=room)
    assert status == 200
    await bot.slack.wait_for(lambda: [c for c in bot.slack.called("chat.postMessage")
                                      if c.args.get("channel") == room and "Decision 1" in json.dumps(c.args)])
    async with bot.db.reading() as session:
        incident_id = (await session.execute(sa.select(Incident.id))).scalar_one()
    view = {"type": "modal", "callback_id": "decision.submit", "private_metadata": str(incident_id)}
    status, _ = await bot.submit(view, {"decision": {"d": {"type": "plain_text_input", "value": "Ask @{UBOB}"}}})
    assert status == 200
    posted = await bot.slack.wait_for(lambda: [c.args for c in bot.slack.called("chat.postMessage")
                                               if c.args.get("channel") == room and "Decision 2" in json.dumps(c.args)])
    drawn = json.dumps([c.args for c in bot.slack.called("chat.postMessage") if c.args.get("channel") == room])
    assert "<@UCAROL>" in drawn, "a person picked from Slack's list is still a mention"
    assert "<@UBOB>" not in drawn and "<#CPUBLIC1>" not in drawn
    assert "@\u2060{UBOB}" in json.dumps(posted, ensure_ascii=False), "shown as typed (the joiner is invisible)"


async def test_teams_a_typed_mention_token_names_nobody(teams_url: tuple[str, FakeTeams], db: Database) -> None:
    url, fake = teams_url
    async with aiohttp.ClientSession() as http:
        for n, (text, mentions) in enumerate((("responder @{29:bob}", None),
                                              ("responder <at>Bob</at>", {"Bob": "29:bob"}))):
            body = activity(fake, text, activity_id=f"typed-{n}", bot_mentioned=True, mentions=mentions)
            async with http.post(f"{url}/api/messages", json=body) as response:
                assert response.status == 200
            await fake.wait_for(lambda n=n: len(fake.sent) > n)
            async with db.reading() as session:
                responder = (await session.execute(sa.select(Workspace.responder_id))).scalar()
            assert responder == (None if n == 0 else "29:bob")
    assert "find one person" in json.dumps(fake.sent[0].body)


async def test_the_console_a_typed_mention_token_names_nobody(console_person: Person, db: Database) -> None:
    bob = await Person(console_person.url).named("Bob")
    try:
        await console_person.type("/breach responder @{web-bob}")
        assert "find one person" in await console_person.html()
        await console_person.type("Is @{web-bob} in? And @Bob?")
        html = await bob.html()
        assert html.count('class="mention"') == 2, "the author and the @Bob picked by name, not the typed token"
        assert "@\u2060{web-bob}" in html
        await console_person.type("/breach responder @Bob")
        async with db.reading() as session:
            assert (await session.execute(sa.select(Workspace.responder_id))).scalar_one() == bob.id
    finally:
        await bob.close()


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


# ---- bugs found elsewhere, fixed: each stays pinned here ------------------------------------------------------


async def test_a_long_time_zone_name_is_refused_clearly(bot: Bot) -> None:
    for name in ("x" * 300, "Europe/" + "B" * 5000, "Europe/../../etc/passwd", "/etc/localtime"):
        status, answer = await bot.command("timezone " + name)
        assert status == 200
        assert SORRY not in answer["text"] and "I don't know the time zone" in answer["text"]
    assert await _count(bot.db, Workspace) == 0


def said_to(bot: Bot, user: str, words: str) -> list[Any]:
    """What `user` was told privately that holds `words` (after a form: by direct message)."""
    return [c for c in bot.slack.calls if c.method in ("chat.postMessage", "chat.postEphemeral")
            and user in (c.args.get("channel"), c.args.get("user")) and words in json.dumps(c.args)]


@pytest.mark.parametrize("number", ["2147483648", "9" * 19, "9" * 5000, "²", "１٢"])
async def test_a_button_or_form_for_an_impossible_incident_is_out_of_date(bot: Bot, number: str) -> None:
    room = await declare_room(bot)
    view = {"type": "modal", "callback_id": "decision.submit", "private_metadata": number}
    status, answer = await bot.submit(view, {"decision": {"d": {"type": "plain_text_input", "value": "x"}}})
    assert status == 200 and NOT_SAVED not in json.dumps(answer)
    for action, value in (("item.toggle", f"{number}:network-offline:done"), ("clock.done", f"{number}|gdpr-art33"),
                          ("incident.close", f"{number}:force"), ("notice.approve", number),
                          ("clock.open", number)):
        status, _ = await bot.press(room["channel"], room["ts"], f"{action}#1", value)
        assert status == 200
    await bot.slack.wait_for(lambda: len(said_to(bot, "UANN", "out of date")) >= 6)
    await bot.slack.settle()
    assert not said_to(bot, "UANN", "Something went wrong") and not said_to(bot, "UANN", NOT_SAVED)
    async with bot.db.reading() as session:
        assert (await session.execute(sa.select(sa.func.count()).select_from(Decision))).scalar_one() == 0


async def test_a_refused_announce_stores_nothing(bot: Bot) -> None:
    status, answer = await bot.command("announce nowhere")
    assert status == 200 and "couldn't find one channel" in answer["text"]
    status, answer = await bot.command("announce")
    assert status == 200 and "not announced anywhere yet" in answer["text"]
    assert await _count(bot.db, Workspace) == 0
    status, answer = await bot.command("announce <#CANN|announcements>")
    assert "will be announced in <#CANN>" in answer["text"]
    assert await _count(bot.db, Workspace) == 1


async def test_a_notice_facts_form_from_another_workspace_stores_nothing(bot: Bot) -> None:
    await declare_room(bot)
    async with bot.db.reading() as session:
        incident_id = (await session.execute(sa.select(Incident.id))).scalar_one()
    typed = {"company_name": {"c": {"type": "plain_text_input", "value": "Evil Corp"}}}
    status, _ = await bot.interact({
        "type": "view_submission", "team": {"id": "T0EVIL", "domain": "evil"},
        "user": {"id": "UEVIL", "team_id": "T0EVIL"}, "api_app_id": "A1",
        "view": {"type": "modal", "callback_id": "notice.facts.submit", "private_metadata": str(incident_id),
                 "id": "VEVIL", "state": {"values": typed}}})
    assert status == 200
    await bot.slack.wait_for(lambda: said_to(bot, "UEVIL", "can't find that incident"))
    assert await _count(bot.db, Workspace) == 0
