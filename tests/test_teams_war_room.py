"""The whole breach on Teams, over real HTTP, with authentication on: a local Bot Connector, Microsoft Graph and
Entra login play Teams. Declare in a shared chat, war room as a private group chat, presses updating the card
for everyone, a double press, a decision, the notice draft with its download link, approval, close.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import aiohttp
import pytest
import sqlalchemy as sa

from bot.playbook import load_playbook
from breachroom.server import make_app
from storage.db import Database
from storage.models import ChecklistItem, Decision, Incident, NoticeDraft, TimelineEntry
from tests.conftest import serve
from tests.entra_fake import FakeEntra, entra  # noqa: F401  (the fixture)
from tests.graph_fake import FakeGraph
from tests.teams_fake import TENANT, FakeTeams, account, activity, find_action, press, served_key
from tests.test_teams_cards import check_card
from tests.test_teams_hosting import APP_ID, teams_settings

SECRET = "test-client-secret"
MANIFEST_ID = "3f1b2c4d-0000-4000-8000-00000000b00c"
PUBLIC_URL = "https://breachroom.example.com"
OFFICE = "19:office-chat@thread.v2"
ANN, BOB, CAROL = "29:ann", "29:bob", "29:carol"
BREACH = "Laptop with the client spreadsheet stolen from a car"


class Teams:
    """The served bot, and Ann, Bob and Carol writing to it as the Bot Connector delivers their activities."""

    def __init__(self, url: str, fake: FakeTeams, graph: FakeGraph, login: FakeEntra, db: Database) -> None:
        self.url, self.fake, self.graph, self.login, self.db = url, fake, graph, login, db
        self.http = aiohttp.ClientSession()
        self._ids = 0

    def next_id(self) -> str:
        self._ids += 1
        return f"f:{self._ids:05d}"

    async def deliver(self, body: dict[str, Any]) -> tuple[int, Any]:
        token = self.fake.token(audience=APP_ID)
        async with self.http.post(f"{self.url}/api/messages", json=body,
                                  headers={"Authorization": f"Bearer {token}"}) as response:
            answer = await response.json() if response.content_type == "application/json" else None
            return response.status, answer

    async def say(self, text: str, *, user: str = ANN, conversation: str = "a:ann-1on1", kind: str = "personal",
                  activity_id: str | None = None, **kw: Any) -> int:
        body = activity(self.fake, text, activity_id=activity_id or self.next_id(), user=user,
                        conversation=conversation, kind=kind, bot_mentioned=kind != "personal", **kw)
        status, _ = await self.deliver(body)
        return status

    async def press(self, card_id: str, title: str, *, user: str, conversation: str, kind: str = "groupChat",
                    inputs: dict[str, Any] | None = None, submit: bool = False) -> tuple[int, Any]:
        body = press(self.fake, self.fake.card(card_id), title, activity_id=self.next_id(), reply_to=card_id,
                     user=user, conversation=conversation, kind=kind, inputs=inputs, submit=submit)
        return await self.deliver(body)

    async def members_changed(self, conversation: str, *, added: tuple[str, ...] = (),
                              removed: tuple[str, ...] = ()) -> int:
        """Teams telling the bot that people were added to a conversation or removed from it (in Teams itself)."""
        body = activity(self.fake, "", activity_id=self.next_id(), conversation=conversation, kind="groupChat")
        body.pop("text")
        body["type"] = "conversationUpdate"
        if added:
            body["membersAdded"] = [account(u) for u in added]
        if removed:
            body["membersRemoved"] = [account(u) for u in removed]
        status, _ = await self.deliver(body)
        return status

    async def incident(self) -> Incident:
        async with self.db.reading() as session:
            return (await session.execute(sa.select(Incident))).scalars().one()

    async def count(self, table: Any, *where: Any) -> int:
        async with self.db.reading() as session:
            query = sa.select(sa.func.count()).select_from(table)
            for clause in where:
                query = query.where(clause)
            return int((await session.execute(query)).scalar_one())


@pytest.fixture
async def fake() -> AsyncIterator[FakeTeams]:
    teams = await FakeTeams().start()
    teams.keys["key-1"] = served_key()
    # The office chat has Ann, Bob and Carol; each has the app installed personally.
    teams.members[OFFICE] = {u: account(u) for u in (ANN, BOB, CAROL)}
    teams.installed_for |= {ANN, BOB, CAROL}
    yield teams
    await teams.stop()


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = await FakeGraph(token=re.compile(r"entra-token-\d+-graph\.microsoft\.com")).start()
    fake.add_app(MANIFEST_ID, "catalog-breachroom")
    for user in (ANN, BOB, CAROL):
        short = user.split(":")[-1]
        fake.add_user(f"{short}@acme.example", f"aad-{short}")
    yield fake
    await fake.stop()


async def _served(fake: FakeTeams, graph: FakeGraph, login: FakeEntra, db_url: str, db: Database,
                  **extra: str) -> AsyncIterator[Teams]:
    login.apps[APP_ID] = SECRET
    settings = teams_settings(
        db_url, microsoft_app_id=APP_ID, microsoft_app_password=SECRET, microsoft_app_tenant_id=TENANT,
        microsoft_login_url=login.url, botframework_openid_metadata_url=fake.metadata_url,
        graph_api_url=graph.url, teams_manifest_id=MANIFEST_ID, breachroom_public_url=PUBLIC_URL, **extra)
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url())))
    client = Teams(url, fake, graph, login, db)
    yield client
    await fake.settle(0.3)
    await client.http.close()
    await runner.cleanup()


@pytest.fixture
async def teams(fake: FakeTeams, graph: FakeGraph, entra: FakeEntra, db_url: str,  # noqa: F811
                db: Database) -> AsyncIterator[Teams]:
    async for client in _served(fake, graph, entra, db_url, db):
        yield client


@pytest.fixture
async def teams_channels(fake: FakeTeams, graph: FakeGraph, entra: FakeEntra, db_url: str,  # noqa: F811
                         db: Database) -> AsyncIterator[Teams]:
    graph.add_team("team-incidents")
    async for client in _served(fake, graph, entra, db_url, db, teams_war_room="channel",
                                teams_team_id="team-incidents"):
        yield client


def card_text(card: dict[str, Any]) -> str:
    """Every text a card shows, in one string."""
    found: list[str] = []
    stack: list[Any] = [card.get("body", [])]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            for key in ("text", "title", "value"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            stack.extend(v for v in node.values() if isinstance(v, list | dict))
        elif isinstance(node, list):
            stack.extend(node)
    return "\n".join(found)


def valid(card: dict[str, Any]) -> dict[str, Any]:
    check_card(card)
    return card


async def open_war_room(teams: Teams) -> str:
    """Ann names Bob as responder, then declares in the office chat; returns the war room's chat id."""
    assert await teams.say("help") == 200  # Ann's 1:1 chat with the bot is known from here on
    assert await teams.say("responder <at>Bob</at>", conversation=OFFICE, kind="groupChat",
                           mentions={"Bob": BOB}) == 200
    await teams.fake.settle(0.3)
    assert await teams.say(f"breach {BREACH}", conversation=OFFICE, kind="groupChat") == 200
    checklist = await teams.fake.wait_for(lambda: [s for s in teams.fake.sent
                                                  if s.conversation in teams.graph.chats and s.updates is None])
    return checklist[0].conversation


async def test_a_breach_declared_in_a_shared_chat_opens_a_private_group_chat_with_the_checklist(teams: Teams) -> None:
    chat_id = await open_war_room(teams)
    chat = teams.graph.chats[chat_id]
    assert re.fullmatch(rf"Breach \d{{4}}-\d{{2}}-\d{{2}} - {BREACH}", chat["topic"])
    assert sorted(teams.graph.members_of(chat_id)) == ["aad-ann", "aad-bob"]
    installs = teams.graph.calls_to("POST", f"/chats/{chat_id}/installedApps")
    assert installs and "catalog-breachroom" in str(installs[0].json)
    # Graph was called with a token from the tenant's login, for the Graph scope.
    assert teams.login.issued("https://graph.microsoft.com/.default")
    # Nothing about the breach was said in the office chat; Ann was answered in her 1:1 chat.
    office = " ".join(s.text + str(s.cards()) for s in teams.fake.sent if s.conversation == OFFICE)
    assert "Laptop" not in office and "spreadsheet" not in office
    mine = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts("a:ann-1on1")
                                              if "ready" in card_text(s.cards()[0]) if s.cards()])
    assert mine
    checklist = teams.fake.posts(chat_id)[0]
    card = valid(checklist.cards()[0])
    text = card_text(card)
    assert "Assess" in text and "Inform" in text and "Prepare" in text
    assert checklist.authorization and checklist.authorization.startswith("Bearer entra-token-")
    incident = await teams.incident()
    assert incident.platform == "teams" and incident.channel_id == chat_id and incident.responder_id == BOB
    assert incident.build_status == "ready"


async def test_pressing_done_updates_the_card_for_everyone_and_a_double_press_counts_once(teams: Teams) -> None:
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    checklist_id = teams.fake.posts(chat_id)[0].id
    first_done = find_action(teams.fake.card(checklist_id), "Done")
    status, answer = await teams.press(checklist_id, "Done", user=BOB, conversation=chat_id)
    assert status == 200
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    valid(answer["value"])
    # Everyone sees the same card: the shared activity was replaced with what Bob was shown.
    assert teams.fake.card(checklist_id) == answer["value"]
    assert "Bob" in card_text(answer["value"])
    async with teams.db.reading() as session:
        done = (await session.execute(sa.select(ChecklistItem).where(ChecklistItem.state == "done"))).scalars().all()
    assert [i.changed_by for i in done] == [BOB]
    # Carol is added to the war room in Teams itself (not through Breachroom): she counts as a member as soon as
    # Teams says so.
    teams.graph.add_chat_member(chat_id, "aad-carol")
    assert await teams.members_changed(chat_id, added=(CAROL,)) == 200
    # Ann and Carol press the next item's Done at the same moment: one change, one timeline row.
    before = await teams.count(TimelineEntry)
    second = find_action(teams.fake.card(checklist_id), "Done")
    assert second["data"] != first_done["data"]
    results = await asyncio.gather(
        teams.press(checklist_id, "Done", user=ANN, conversation=chat_id),
        teams.press(checklist_id, "Done", user=CAROL, conversation=chat_id))
    assert all(status == 200 for status, _ in results)
    assert await teams.count(TimelineEntry) == before + 1
    assert await teams.count(ChecklistItem, ChecklistItem.state == "done") == 2


async def test_an_action_submit_press_updates_the_card_like_execute(teams: Teams) -> None:
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    checklist_id = teams.fake.posts(chat_id)[0].id
    status, _ = await teams.press(checklist_id, "Done", user=BOB, conversation=chat_id, submit=True)
    assert status == 200
    await teams.fake.wait_for(lambda: any(s.updates == checklist_id for s in teams.fake.sent))
    assert "Bob" in card_text(teams.fake.card(checklist_id))
    assert await teams.count(ChecklistItem, ChecklistItem.state == "done") == 1


async def test_a_decision_typed_in_the_war_room_is_kept_and_posted(teams: Teams) -> None:
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    assert await teams.say("decision Take the file server offline until it is checked", user=BOB,
                           conversation=chat_id, kind="groupChat") == 200
    posted = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts(chat_id)
                                                if s.cards() and "file server offline" in card_text(s.cards()[0])])
    assert posted
    async with teams.db.reading() as session:
        (decision,) = (await session.execute(sa.select(Decision))).scalars().all()
    assert decision.text == "Take the file server offline until it is checked" and decision.decided_by == BOB


async def test_the_record_decision_form_is_filled_in_and_replaced_once_sent(teams: Teams) -> None:
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    checklist_id = teams.fake.posts(chat_id)[0].id
    status, answer = await teams.press(checklist_id, "Record decision", user=ANN, conversation=chat_id)
    assert status == 200 and answer["type"] == "application/vnd.microsoft.activity.message"
    form = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts(chat_id)
                                              if s.cards() and "Input.Text" in str(s.cards()[0])])
    form_id = form[0].id
    valid(teams.fake.card(form_id))
    # Sent empty: the error is said, and the form stays as typed (not replaced).
    status, answer = await teams.press(form_id, "Record", user=ANN, conversation=chat_id,
                                       inputs={"decision": ""})
    assert answer["type"] == "application/vnd.microsoft.activity.message" and "fix" in answer["value"]
    assert not any(s.updates == form_id for s in teams.fake.sent)
    status, answer = await teams.press(form_id, "Record", user=ANN, conversation=chat_id,
                                       inputs={"decision": "Call the insurer's breach hotline"})
    assert answer["type"] == "application/vnd.microsoft.card.adaptive" and "Sent by" in card_text(answer["value"])
    assert teams.fake.card(form_id) == answer["value"]
    await teams.fake.wait_for(lambda: [s for s in teams.fake.posts(chat_id)
                                       if s.cards() and "insurer" in card_text(s.cards()[0])])
    assert await teams.count(Decision) == 1


async def test_the_notice_draft_arrives_as_a_download_link_and_the_responder_approves_it(teams: Teams) -> None:
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    assert await teams.say("notice", user=BOB, conversation=chat_id, kind="groupChat") == 200
    links = await teams.fake.wait_for(lambda: [
        link for s in teams.fake.posts(chat_id) if s.cards()
        for link in re.findall(r"\((https://breachroom\.example\.com/files/[^)\s]+)\)", card_text(s.cards()[0]))])
    downloads = {}
    for link in links:
        async with teams.http.get(teams.url + urlparse(link).path) as response:
            assert response.status == 200
            downloads[response.headers["Content-Disposition"]] = await response.read()
    (docx,) = [body for disposition, body in downloads.items() if ".docx" in disposition]
    (markdown,) = [body for disposition, body in downloads.items() if ".md" in disposition]
    assert docx[:2] == b"PK" and "laptop" in markdown.decode().lower()
    draft_card = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts(chat_id)
                                                    if s.cards() and "Approve" in str(s.cards()[0])])
    draft_id = draft_card[-1].id
    # Carol is neither responder nor backup: she is told so, only she sees it.
    _, answer = await teams.press(draft_id, "Approve", user=CAROL, conversation=chat_id)
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    async with teams.db.reading() as session:
        (draft,) = (await session.execute(sa.select(NoticeDraft))).scalars().all()
    assert draft.status != "approved"


async def test_closing_posts_the_summary_in_the_war_room(teams: Teams) -> None:
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    assert await teams.say("close", user=BOB, conversation=chat_id, kind="groupChat") == 200
    # The confirmation is private: in Bob's 1:1 chat.
    confirm = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts("a:bob-1on1")
                                                 if s.cards() and "Close" in str(s.cards()[0])])
    status, _ = await teams.press(confirm[-1].id, "Close anyway", user=BOB, conversation="a:bob-1on1",
                                       kind="personal")
    assert status == 200
    summary = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts(chat_id)
                                                 if s.cards() and "summary" in card_text(s.cards()[0]).lower()])
    assert summary
    assert (await teams.incident()).status == "closed"
    # The timeline chart comes as a download link (a bot cannot upload into a group chat).
    charts = await teams.fake.wait_for(lambda: [
        link for s in teams.fake.posts(chat_id) if s.cards()
        for link in re.findall(r"\((https://breachroom\.example\.com/files/[^)\s]+)\)", card_text(s.cards()[0]))])
    async with teams.http.get(teams.url + urlparse(charts[-1]).path) as response:
        assert response.status == 200 and response.content_type == "image/png"
        assert (await response.read())[:4] == b"\x89PNG"


async def test_a_repeated_activity_id_declares_once(teams: Teams) -> None:
    assert await teams.say("help") == 200
    first = await teams.say(f"breach {BREACH}", conversation=OFFICE, kind="groupChat", activity_id="dup-1")
    again = await teams.say(f"breach {BREACH}", conversation=OFFICE, kind="groupChat", activity_id="dup-1")
    assert first == again == 200
    await teams.fake.settle(0.5)
    assert await teams.count(Incident) == 1
    assert len(teams.graph.calls_to("POST", re.compile(r"^/chats$"))) <= 1


async def test_graph_403_tells_the_declarer_which_permission_to_grant_and_keeps_the_incident(teams: Teams) -> None:
    teams.graph.fail("POST", re.compile(r"^/chats$"), 403, times=None)
    assert await teams.say("help") == 200
    assert await teams.say("responder <at>Bob</at>", conversation=OFFICE, kind="groupChat",
                           mentions={"Bob": BOB}) == 200
    await teams.fake.settle(0.3)
    assert await teams.say(f"breach {BREACH}", conversation=OFFICE, kind="groupChat") == 200
    told = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts("a:ann-1on1")
                                              if s.cards() and "Chat.Create" in card_text(s.cards()[0])])
    assert "could not" in card_text(told[0].cards()[0])
    incident = await teams.incident()
    assert incident.build_status == "incomplete" and incident.channel_id is None


async def test_graph_429_is_waited_out_and_the_war_room_still_opens(teams: Teams) -> None:
    teams.graph.fail("POST", re.compile(r"^/chats$"), 429, times=1, retry_after=1)
    chat_id = await open_war_room(teams)
    assert len(teams.graph.calls_to("POST", re.compile(r"^/chats$"))) == 2
    # The checklist goes out as the chat is recorded (bot/war_room.py): the record follows within moments.
    for _ in range(100):
        if (await teams.incident()).channel_id is not None:
            break
        await asyncio.sleep(0.05)
    assert (await teams.incident()).channel_id == chat_id


async def test_a_chat_not_ready_for_the_bot_yet_gets_the_checklist_a_moment_later(teams: Teams) -> None:
    assert await teams.say("help") == 200
    assert await teams.say("responder <at>Bob</at>", conversation=OFFICE, kind="groupChat",
                           mentions={"Bob": BOB}) == 200
    await teams.fake.settle(0.3)
    teams.fake.refuse_new = 2  # the new chat refuses the bot's first two posts
    assert await teams.say(f"breach {BREACH}", conversation=OFFICE, kind="groupChat") == 200
    checklist = await teams.fake.wait_for(lambda: [s for s in teams.fake.sent if s.conversation in teams.graph.chats])
    assert "Assess" in card_text(checklist[0].cards()[0])
    await teams.fake.settle(0.3)
    assert (await teams.incident()).build_status == "ready"


async def test_alone_the_war_room_is_the_declarers_own_chat_with_the_bot(teams: Teams) -> None:
    assert await teams.say(f"breach {BREACH}") == 200
    checklist = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts("a:ann-1on1")
                                                   if s.cards() and "Assess" in card_text(s.cards()[0])])
    assert "No designated responder" in card_text(checklist[0].cards()[0])
    assert not teams.graph.calls_to("POST", re.compile(r"^/chats$"))
    await teams.fake.settle(0.3)
    incident = await teams.incident()
    assert incident.channel_id == "a:ann-1on1" and incident.build_status == "ready"


async def test_with_teams_war_room_channel_a_channel_is_opened_in_the_incidents_team(teams_channels: Teams) -> None:
    teams = teams_channels
    assert await teams.say("help") == 200
    assert await teams.say(f"breach {BREACH}", conversation=OFFICE, kind="groupChat") == 200
    created = await teams.fake.wait_for(lambda: teams.graph.calls_to("POST", "/teams/team-incidents/channels"))
    name = created[0].json["displayName"]
    assert re.fullmatch(r"breach-\d{8}-[a-z0-9-]+", name) and len(name) <= 50
    # Graph has seen the request; the bot stores the channel once Graph has answered it.
    await teams.fake.settle(0.3)
    channel_id = (await teams.incident()).channel_id
    assert channel_id and teams.graph.channel("team-incidents", name)
    checklist = await teams.fake.wait_for(lambda: teams.fake.posts(channel_id))
    assert "Assess" in card_text(checklist[0].cards()[0])
    assert not teams.graph.calls_to("POST", re.compile(r"^/chats$"))


# The notice facts form as Teams sends it back: a date and a time input for each date-and-time field.
FACTS = {
    "what_happened": "Someone used a stolen employee password to copy our client database on 2 March.",
    "breach_started_at": "2026-03-01", "breach_ended_at": "2026-03-02",
    "discovered": "2026-03-02", "discovered.time": "09:00",
    "data_categories": "credentials", "affected_total": "120", "regions": "US-NY 120",
    "actions_taken": "We reset every password.\nWe called the police.",
    "company_name": "Acme Dental", "contact_name": "Rita Lead", "phone": "+1 212 555 0100",
    "email": "privacy@acme.example", "website": "https://acme.example",
    "postal_address": "1 Main St, New York, NY 10001",
}


async def test_the_responder_fills_in_the_facts_and_approves_the_complete_notice(teams: Teams) -> None:
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    checklist_id = teams.fake.posts(chat_id)[0].id
    await teams.press(checklist_id, "Notice facts", user=BOB, conversation=chat_id)
    form = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts(chat_id)
                                              if s.cards() and "company_name" in str(s.cards()[0])])
    form_id = form[-1].id
    valid(teams.fake.card(form_id))
    _, answer = await teams.press(form_id, "Save facts", user=BOB, conversation=chat_id,
                                  inputs={**FACTS, "email": "privacy at acme"})
    assert answer["type"] == "application/vnd.microsoft.activity.message" and "email" in answer["value"]
    _, answer = await teams.press(form_id, "Save facts", user=BOB, conversation=chat_id, inputs=FACTS)
    assert "Sent by" in card_text(answer["value"])
    assert await teams.say("notice", user=BOB, conversation=chat_id, kind="groupChat") == 200
    draft = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts(chat_id)
                                               if s.cards() and "Approve" in str(s.cards()[0])])
    assert "Every fact is filled in" in card_text(draft[-1].cards()[0])
    status, answer = await teams.press(draft[-1].id, "Approve", user=BOB, conversation=chat_id)
    assert status == 200
    async with teams.db.reading() as session:
        (row,) = (await session.execute(sa.select(NoticeDraft))).scalars().all()
    assert row.status == "approved" and row.decided_by == BOB
    await teams.fake.wait_for(lambda: "Inform 1/" in card_text(teams.fake.card(checklist_id)))


async def test_graph_refusing_the_app_install_names_that_permission(teams: Teams) -> None:
    teams.graph.fail("POST", re.compile(r"^/chats/[^/]+/installedApps$"), 403, times=None)
    assert await teams.say("help") == 200
    assert await teams.say("responder <at>Bob</at>", conversation=OFFICE, kind="groupChat",
                           mentions={"Bob": BOB}) == 200
    await teams.fake.settle(0.3)
    assert await teams.say(f"breach {BREACH}", conversation=OFFICE, kind="groupChat") == 200
    told = await teams.fake.wait_for(lambda: [
        s for s in teams.fake.posts("a:ann-1on1")
        if s.cards() and "TeamsAppInstallation.ReadWriteForChat.All" in card_text(s.cards()[0])])
    assert "could not post the checklist" in card_text(told[0].cards()[0])
    incident = await teams.incident()
    # The chat exists and is recorded: declaring again will not make a second one.
    assert incident.channel_id in teams.graph.chats and incident.build_status == "incomplete"


async def test_graph_503_is_retried_and_the_war_room_still_opens(teams: Teams) -> None:
    teams.graph.fail("POST", re.compile(r"^/chats$"), 503, times=1)
    chat_id = await open_war_room(teams)
    assert len(teams.graph.calls_to("POST", re.compile(r"^/chats$"))) == 2
    # The checklist goes out as the chat is recorded (bot/war_room.py): the record follows within moments.
    for _ in range(100):
        if (await teams.incident()).channel_id is not None:
            break
        await asyncio.sleep(0.05)
    assert (await teams.incident()).channel_id == chat_id
