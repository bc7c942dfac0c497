"""The local console over real HTTP, the way its page talks to it: names, commands, presses, forms, events,
downloads, privacy and its access token. No Slack, no Teams: nothing but `breachroom serve`."""

from __future__ import annotations

import asyncio
import json
import re
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
from storage.models import ChecklistItem, Decision, Incident, TimelineEntry, Workspace
from tests.conftest import Bot, bot_settings, serve
from tests.slack_fake import FakeSlack
from tests.test_cli import COMMAND, environment, free_port, one_line_error, run, wait_until_ok

BREACH = "Laptop with the client spreadsheet stolen from a car"
TOKEN = "console-test-token-0123456789"


def console_settings(db_url: str, **values: str | None) -> Settings:
    """No chat platform at all: every platform setting given as unset, so the runner's environment cannot
    switch one on."""
    base: dict[str, str | None] = {"slack_bot_token": None, "slack_signing_secret": None, "slack_app_token": None,
                                   "microsoft_app_id": None, "database_url": db_url}
    return Settings(**{**base, **values})  # type: ignore[arg-type]


class Person:
    """One browser: its own cookies, talking to the console as its page does."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.room = "general"
        self.id = ""
        self._sent = 0

    async def close(self) -> None:
        await self.http.close()

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with self.http.post(self.url + path, json=body) as response:
            return response.status, await response.json()

    async def named(self, name: str) -> Person:
        status, body = await self.post("/console/name", {"name": name})
        assert status == 200
        self.id = body["me"]["id"]
        return self

    async def type(self, text: str, room: str | None = None) -> dict[str, Any]:
        self._sent += 1
        status, body = await self.post("/console/say", {"room": room or self.room, "text": text,
                                                        "__id": f"{self.id}-{self._sent}"})
        assert status == 200, body
        return body

    async def state(self, room: str | None = None) -> dict[str, Any]:
        async with self.http.get(self.url + "/console/state", params={"room": room or self.room}) as response:
            assert response.status == 200
            return await response.json()

    async def html(self, room: str | None = None) -> str:
        return "\n".join(m["html"] for m in (await self.state(room))["messages"])

    async def button(self, label: str, room: str | None = None) -> dict[str, str]:
        """The first button labelled `label` in the room, as the page would post it."""
        for message in (await self.state(room))["messages"]:
            for found in re.finditer(r'<button type="button" class="action[^"]*" data-action="([^"]+)" '
                                     r'data-value="([^"]*)">([^<]*)</button>', message["html"]):
                if found[3] == label:
                    return {"action": found[1], "value": found[2].replace("&amp;", "&"),
                            "message": str(message["id"])}
        raise AssertionError(f"no {label!r} button in {room or self.room}")

    async def press(self, label: str, room: str | None = None) -> dict[str, Any]:
        found = await self.button(label, room)
        status, body = await self.post("/console/press", {"room": room or self.room, **found})
        assert status == 200, body
        return body

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            value = await predicate()
            if value:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError("timed out waiting for the console")


@pytest.fixture
async def console(db_url: str) -> AsyncIterator[str]:
    settings = console_settings(db_url)
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url())))
    yield url
    await runner.cleanup()


@pytest.fixture
async def ann(console: str) -> AsyncIterator[Person]:
    person = Person(console)
    yield await person.named("Ann")
    await person.close()


@pytest.fixture
async def bob(console: str) -> AsyncIterator[Person]:
    person = Person(console)
    yield await person.named("Bob")
    await person.close()


async def war_room(ann: Person) -> str:
    await ann.type(f"/breach {BREACH}")
    rooms = await ann.wait_for(lambda: _rooms(ann, "breach-"))
    ann.room = rooms[0]["id"]
    await ann.wait_for(lambda: _has(ann, "Assess"))
    return ann.room


async def _rooms(person: Person, prefix: str) -> list[dict[str, Any]]:
    return [r for r in (await person.state())["rooms"] if r["name"].startswith(prefix)]


async def _has(person: Person, text: str, room: str | None = None) -> bool:
    return text in await person.html(room)


async def test_the_page_loads_with_its_own_script_and_style_and_no_cdn(console: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(console + "/") as response:
            assert response.status == 200
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]
            page = await response.text()
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert len(assets) == 2
        for asset in assets:
            assert asset.startswith("/console/static/"), asset
            async with http.get(console + asset) as response:
                assert response.status == 200


async def test_someone_must_pick_a_name_before_acting(console: str) -> None:
    stranger = Person(console)
    try:
        status, body = await stranger.post("/console/say", {"room": "general", "text": "/breach help"})
        assert status == 403 and "name" in body["error"]
        assert (await stranger.state())["me"] is None
    finally:
        await stranger.close()


async def test_a_whole_breach_response_in_the_console(ann: Person, bob: Person, db: Database) -> None:
    await ann.type("/breach responder @Bob")
    async with db.reading() as session:
        workspace = (await session.execute(sa.select(Workspace))).scalars().one()
    assert workspace.platform == "web" and workspace.responder_id == bob.id

    room = await war_room(ann)
    assert re.fullmatch(r"breach-\d{8}-laptop-with-the-client-spreadsheet", room)
    listed = {r["id"]: r for r in (await bob.state())["rooms"]}
    assert listed[room]["summary"] == BREACH and listed[room]["private"]
    bob.room = room

    # Press the first Done: the same message now says who did it, for everyone.
    await bob.press("Done")
    await ann.wait_for(lambda: _has(ann, "Bob"))
    async with db.reading() as session:
        done = (await session.execute(sa.select(ChecklistItem).where(ChecklistItem.state == "done"))).scalars().all()
    assert [i.changed_by for i in done] == [bob.id]

    await ann.type("/breach decision Take the file server offline until it is checked")
    await bob.wait_for(lambda: _has(bob, "Take the file server offline"))
    async with db.reading() as session:
        (decision,) = (await session.execute(sa.select(Decision))).scalars().all()
    assert decision.decided_by == ann.id

    await bob.type("/breach notice")
    links = await bob.wait_for(lambda: _links(bob))
    async with bob.http.get(bob.url + links[0]) as response:
        assert response.status == 200 and response.headers["Content-Disposition"].startswith("attachment")
        assert (await response.read())[:2] == b"PK"

    await bob.type("/breach close")
    await bob.press("Close anyway")
    await ann.wait_for(lambda: _has(ann, "summary") or _has(ann, "Summary"))
    async with db.reading() as session:
        incident = (await session.execute(sa.select(Incident))).scalars().one()
    assert incident.status == "closed" and incident.platform == "web"
    assert next(r for r in (await ann.state())["rooms"] if r["id"] == room)["closed"]


async def test_people_in_a_war_room_invite_others_to_it(ann: Person, bob: Person, db: Database) -> None:
    room = await war_room(ann)  # no responder is set: the room is Ann's alone
    bob.room = room
    await bob.press("Done")
    assert "Only the people in incident" in await bob.html()
    await bob.type("/breach invite @Bob")
    assert "can invite people to it" in await bob.html()
    await ann.type("/breach invite @Bob", room="general")
    assert "works inside a war room" in await ann.html("general")
    await ann.type("/breach invite @Zed")
    assert "find a person in “@Zed”" in await ann.html()

    await ann.type("/breach invite @Bob")
    await bob.wait_for(lambda: _has(bob, "added"))
    assert re.search(r'@Ann</span> added <span class="mention">@Bob</span> to this war room', await bob.html())
    async with db.reading() as session:
        (entry,) = (await session.execute(sa.select(TimelineEntry).where(
            TimelineEntry.action == "member.invited"))).scalars()
    assert (entry.actor, entry.detail) == (ann.id, bob.id)
    # Now in the room, Bob's press counts.
    await bob.press("Done")

    async def done_by_bob() -> bool:
        async with db.reading() as session:
            return bool((await session.execute(sa.select(ChecklistItem).where(
                ChecklistItem.changed_by == bob.id))).scalars().first())

    await bob.wait_for(done_by_bob)


async def _links(person: Person) -> list[str]:
    return re.findall(r'href="(/files/[^"]+\.docx?[^"]*|/files/[^"]+)"', await person.html())


async def test_private_answers_are_seen_only_by_their_person(ann: Person, bob: Person) -> None:
    await ann.type("/breach help")
    mine = (await ann.state())["messages"]
    assert any(m["private"] and "/breach" in m["html"] for m in mine)
    assert not any(m["private"] for m in (await bob.state())["messages"])


async def test_a_typed_line_is_posted_escaped_with_its_author(ann: Person, bob: Person) -> None:
    await ann.type("Is anyone in? <script>alert(1)</script> @Bob")
    html = await bob.html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "@Ann" in html and '<span class="mention">@Bob</span>' in html


async def test_an_unknown_command_is_answered_not_posted(ann: Person, bob: Person) -> None:
    await ann.type("/brech Laptop stolen")
    assert "does not know" in await ann.html()
    assert "/brech" not in await bob.html()


async def test_the_declare_form_keeps_what_was_typed_when_it_needs_fixing(ann: Person, db: Database) -> None:
    body = await ann.type("/breach")
    form = body["form"]
    assert "<dialog" not in form and 'name="summary"' in form and 'name="__action"' in form
    fields = dict(re.findall(r'<input type="hidden" name="(__\w+)" value="([^"]*)">', form))
    kinds = ["payment_card", "credentials"]
    status, answer = await ann.post("/console/submit", {**fields, "room": "general", "summary": "",
                                                        "severity": "high", "data_kinds": kinds})
    assert status == 422 and "summary" in answer["errors"]
    status, answer = await ann.post("/console/submit", {**fields, "room": "general", "summary": BREACH,
                                                        "severity": "high", "data_kinds": kinds,
                                                        "affected": "120", "__id": "f1"})
    assert status == 200
    async with db.reading() as session:
        incident = (await session.execute(sa.select(Incident))).scalars().one()
    assert incident.summary == BREACH and incident.affected_clients == 120 and incident.data_kinds == kinds


async def test_another_tab_hears_of_a_change_within_two_seconds(console: str, ann: Person, bob: Person) -> None:
    async with bob.http.get(console + "/console/events") as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        started = asyncio.get_running_loop().time()
        await ann.type("Anyone there?")
        while True:
            line = await asyncio.wait_for(stream.content.readline(), timeout=2)
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                if event.get("kind") == "messages":
                    break
        assert asyncio.get_running_loop().time() - started < 2
        assert event["room"] == "general"


async def test_the_declarer_is_taken_to_the_new_war_room(console: str, ann: Person) -> None:
    async with ann.http.get(console + "/console/events") as stream:
        await ann.type(f"/breach {BREACH}")
        while True:
            line = await asyncio.wait_for(stream.content.readline(), timeout=5)
            if line.startswith(b"data: ") and json.loads(line[6:]).get("kind") == "room":
                event = json.loads(line[6:])
                break
    assert event["opened_by"] == ann.id and event["room"].startswith("breach-")


# ---- the access token --------------------------------------------------------------------------------


@pytest.fixture
async def guarded(db_url: str) -> AsyncIterator[str]:
    settings = console_settings(db_url, breachroom_console_token=TOKEN)
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url())))
    yield url
    await runner.cleanup()


async def test_with_a_token_every_console_request_needs_it_once_then_a_cookie(guarded: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for path in ("/", "/console/state", "/console/static/console.js", "/files/1.2.abc"):
            async with http.get(guarded + path) as response:
                assert response.status == 401, path
        for path in ("/healthz", "/readyz"):
            async with http.get(guarded + path) as response:
                assert response.status == 200
        async with http.get(guarded + "/?token=wrong") as response:
            assert response.status == 401
        async with http.get(guarded + f"/?token={TOKEN}", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/"
            cookie = response.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        async with http.get(guarded + "/console/state") as response:
            assert response.status == 200


def test_a_console_open_to_the_network_needs_a_token(db_url: str) -> None:
    from breachroom.settings import ConfigError

    with pytest.raises(ConfigError, match="BREACHROOM_CONSOLE_TOKEN"):
        console_settings(db_url).require_platforms("0.0.0.0")
    console_settings(db_url, breachroom_console_token=TOKEN).require_platforms("0.0.0.0")
    console_settings(db_url).require_platforms("127.0.0.1")


# ---- `breachroom serve` with no chat platform ----------------------------------------------------------


async def test_serve_without_any_platform_prints_the_console_address_and_serves_it(tmp_path: Path) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *COMMAND, "serve", "--port", str(port), env=environment(tmp_path, BREACHROOM_CONSOLE_TOKEN=""),
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode().strip()
        assert line == f"Breachroom console: http://127.0.0.1:{port}/"
        async with aiohttp.ClientSession() as http:
            await wait_until_ok(http, f"http://127.0.0.1:{port}/readyz", proc)
            async with http.get(f"http://127.0.0.1:{port}/") as response:
                assert response.status == 200 and "Breachroom" in await response.text()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=20)
    assert proc.returncode == 0


def test_serving_the_console_to_the_network_without_a_token_is_refused_in_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", "--host", "0.0.0.0", BREACHROOM_CONSOLE_TOKEN="")
    one_line_error(result, "BREACHROOM_CONSOLE_TOKEN", "0.0.0.0")


async def test_with_a_token_the_printed_address_carries_it(tmp_path: Path) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *COMMAND, "serve", "--port", str(port), env=environment(tmp_path, BREACHROOM_CONSOLE_TOKEN=TOKEN),
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode().strip()
        assert line == f"Breachroom console: http://127.0.0.1:{port}/?token={TOKEN}"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=20)


async def test_beside_slack_the_console_token_guards_the_console_but_not_slacks_endpoint(
    slack: FakeSlack, db_url: str, db: Database,
) -> None:
    settings = bot_settings(slack, db_url, BREACHROOM_CONSOLE_TOKEN=TOKEN)
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url()), console=True))
    client = Bot(url, slack, db)
    try:
        status, answer = await client.command("help")
        assert status == 200 and "/breach" in json.dumps(answer)
        async with client.http.get(url + "/console/state") as response:
            assert response.status == 401
        async with client.http.get(url + f"/?token={TOKEN}", allow_redirects=False) as response:
            assert response.status == 303
    finally:
        await client.close()
        await runner.cleanup()
