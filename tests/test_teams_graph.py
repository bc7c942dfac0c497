"""The Teams adapter's Graph client against a local Graph over real HTTP: what opening a war room depends on.

A chat with the right people and topic, the bot installed in it, the catalog app found, a channel created or
its name reported as taken; throttling waited out; and a failure that tells the business owner what to fix.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from adapters.teams.graph import Graph
from bot.ports import ChatError
from tests.graph_fake import TOKEN, FakeGraph, channel_name_problem

MANIFEST_ID = "5f0b6f0e-8b36-4c43-9a0e-2b1c3d4e5f60"


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraph]:
    server = await FakeGraph().start()
    yield server
    await server.stop()


def client(url: str, token: str = TOKEN, **kw: Any) -> Graph:
    async def get_token() -> str:
        return token

    options: dict[str, Any] = {"timeout": 5.0, "max_attempts": 3, "max_wait": 5.0, **kw}
    return Graph(url, get_token, **options)


@pytest.fixture
async def graph(fake: FakeGraph) -> AsyncIterator[Graph]:
    g = client(fake.url)
    yield g
    await g.close()


@pytest.fixture
def people(fake: FakeGraph) -> dict[str, str]:
    return {name: fake.add_user(f"{name}@acme-dental.example") for name in ("ann", "bob", "cat")}


async def failure(call: Awaitable[Any]) -> ChatError:
    with pytest.raises(ChatError) as caught:
        await call
    return caught.value


# ---- chats -------------------------------------------------------------------------------------

async def test_group_chat_has_the_topic_every_member_and_the_reporter_as_owner(fake, graph, people) -> None:
    chat_id = await graph.create_group_chat("Breach 2024-001 – stolen laptop", [people["bob"], people["cat"]],
                                            people["ann"])

    chat = fake.chats[chat_id]
    assert chat["topic"] == "Breach 2024-001 – stolen laptop"
    assert fake.members_of(chat_id) == [people["ann"], people["bob"], people["cat"]]
    assert all(m["roles"] == ["owner"] for m in chat["members"])
    [call] = fake.calls_to("POST", re.compile(r"^/chats$"))
    assert call.json["chatType"] == "group"
    assert call.json["members"][0]["user@odata.bind"] == f"{fake.url}/users('{people['ann']}')"


async def test_the_reporter_listed_among_the_members_is_added_once(fake, graph, people) -> None:
    chat_id = await graph.create_group_chat("Breach", [people["ann"], people["bob"], people["bob"]], people["ann"])
    assert fake.members_of(chat_id) == [people["ann"], people["bob"]]


async def test_a_long_topic_is_cut_to_graphs_limit_and_loses_its_colons(fake, graph, people) -> None:
    summary = "Breach: " + "client records copied from the file server " * 10
    chat_id = await graph.create_group_chat(summary, [people["bob"]], people["ann"])

    topic = fake.chats[chat_id]["topic"]
    assert len(topic) == 250 and topic.endswith("…")
    assert topic.startswith("Breach - client records") and ":" not in topic


async def test_the_app_is_installed_in_the_chat_and_installing_it_again_is_fine(fake, graph, people) -> None:
    app_id = fake.add_app(MANIFEST_ID)
    chat_id = await graph.create_group_chat("Breach", [people["bob"]], people["ann"])

    await graph.install_app(chat_id, app_id)
    await graph.install_app(chat_id, app_id)

    assert fake.chats[chat_id]["installedApps"] == [app_id]
    assert [c.status for c in fake.calls_to("POST", "/chats/")] == [201, 409]


async def test_chat_members_are_listed_and_adding_one_twice_is_fine(fake, graph, people) -> None:
    chat_id = await graph.create_group_chat("Breach", [people["bob"]], people["ann"])

    await graph.add_chat_member(chat_id, people["cat"])
    await graph.add_chat_member(chat_id, people["cat"])

    assert await graph.chat_members(chat_id) == [people["ann"], people["bob"], people["cat"]]
    assert [c.status for c in fake.calls_to("POST", re.compile(r"/members$"))] == [201, 409]


# ---- the catalog and users ---------------------------------------------------------------------

async def test_the_catalog_app_is_found_by_the_manifest_id(fake, graph) -> None:
    fake.add_app("another-app")
    app_id = fake.add_app(MANIFEST_ID)

    assert await graph.catalog_app_id(MANIFEST_ID) == app_id
    [call] = fake.calls_to("GET", "/appCatalogs/teamsApps")
    assert call.query == {"$filter": f"externalId eq '{MANIFEST_ID}'"}


async def test_an_app_missing_from_the_catalog_says_how_to_upload_it(graph) -> None:
    error = await failure(graph.catalog_app_id(MANIFEST_ID, step="open_room"))

    assert (error.code, error.step) == ("app_not_in_catalog", "open_room")
    assert "Teams admin center" in (error.advice or "") and "TEAMS_CATALOG_APP_ID" in (error.advice or "")


async def test_a_user_is_found_by_email_and_an_unknown_one_is_none(fake, graph) -> None:
    dana = fake.add_user("dana+breach@acme-dental.example")

    assert await graph.user_id_by_email("Dana+Breach@acme-dental.example") == dana
    assert await graph.user_id_by_email("nobody@acme-dental.example") is None
    assert fake.calls_to("GET", "/users/")[0].query == {"$select": "id"}


# ---- channels ----------------------------------------------------------------------------------

async def test_a_channel_is_created_standard_with_a_name_teams_accepts(fake, graph) -> None:
    team = fake.add_team()
    wanted = "Breach #7: laptop / USB stick {Acme Dental} – reported by the front desk"
    assert channel_name_problem(wanted)  # Teams would refuse it as it is

    channel_id = await graph.create_channel(team, wanted, "War room for breach 7")

    channel = fake.teams[team]["channels"][channel_id]
    assert channel["membershipType"] == "standard" and channel["description"] == "War room for breach 7"
    assert channel_name_problem(channel["displayName"]) is None
    assert channel["displayName"].startswith("Breach 7 laptop USB stick Acme Dental")


async def test_a_channel_name_in_use_is_name_taken(fake, graph) -> None:
    team = fake.add_team()
    await graph.create_channel(team, "breach-2024-001", "")

    error = await failure(graph.create_channel(team, "Breach-2024-001", "", step="open_room"))
    assert (error.code, error.step) == ("name_taken", "open_room")


@pytest.mark.parametrize(("status", "code"), [(409, "name_taken"), (400, "http_400")])
async def test_a_conflict_on_channel_creation_is_name_taken_another_refusal_is_not(fake, graph, status, code) -> None:
    team = fake.add_team()
    fake.fail("POST", "/teams/", status)

    assert (await failure(graph.create_channel(team, "breach-2024-002", ""))).code == code


async def test_the_channel_description_is_updated(fake, graph) -> None:
    team = fake.add_team()
    channel_id = await graph.create_channel(team, "breach-2024-003", "Declared")

    await graph.set_channel_description(team, channel_id, "Contained; notices due Friday")

    assert fake.teams[team]["channels"][channel_id]["description"] == "Contained; notices due Friday"


# ---- retries -----------------------------------------------------------------------------------

async def test_a_429_is_waited_out_as_retry_after_says_then_succeeds(fake, graph, people) -> None:
    fake.fail("POST", re.compile(r"^/chats$"), 429, retry_after=1)

    chat_id = await graph.create_group_chat("Breach", [people["bob"]], people["ann"])

    first, second = fake.calls_to("POST", re.compile(r"^/chats$"))
    assert (first.status, second.status) == (429, 201)
    assert second.at - first.at >= 1.0
    assert chat_id in fake.chats


@pytest.mark.parametrize("status", [503, 504])
async def test_a_busy_graph_is_retried(fake, graph, status: int) -> None:
    fake.add_app(MANIFEST_ID)
    fake.fail("GET", "/appCatalogs", status)

    assert await graph.catalog_app_id(MANIFEST_ID)
    assert [c.status for c in fake.calls_to("GET", "/appCatalogs")] == [status, 200]


async def test_throttled_every_time_is_ratelimited_after_max_attempts(fake, graph, people) -> None:
    fake.fail("POST", re.compile(r"^/chats$"), 429, times=None, retry_after=0)

    error = await failure(graph.create_group_chat("Breach", [people["bob"]], people["ann"], step="open_room"))

    assert (error.code, error.step) == ("ratelimited", "open_room")
    assert len(fake.calls_to("POST", "/chats")) == graph.max_attempts == 3


async def test_retry_after_is_capped_at_max_wait(fake) -> None:
    fake.add_app(MANIFEST_ID)
    fake.fail("GET", "/appCatalogs", 429, retry_after=120)
    g = client(fake.url, max_wait=0.2)
    try:
        started = time.monotonic()
        assert await g.catalog_app_id(MANIFEST_ID)
        assert time.monotonic() - started < 5
    finally:
        await g.close()


async def test_a_server_error_is_http_500_and_not_retried(fake, graph) -> None:
    fake.fail("GET", "/appCatalogs", 500)

    assert (await failure(graph.catalog_app_id(MANIFEST_ID))).code == "http_500"
    assert len(fake.calls_to("GET", "/appCatalogs")) == 1


async def test_a_graph_that_never_answers_is_a_timeout(fake) -> None:
    fake.fail("GET", "/appCatalogs", 200, times=None, delay=30)
    g = client(fake.url, timeout=0.3, max_attempts=2)
    try:
        started = time.monotonic()
        error = await failure(g.catalog_app_id(MANIFEST_ID, step="find_app"))
    finally:
        await g.close()
    assert (error.code, error.step) == ("timeout", "find_app")
    assert len(fake.calls_to("GET", "/appCatalogs")) == 2
    assert time.monotonic() - started < 5


async def test_a_graph_that_cannot_be_reached_is_unreachable() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    g = client(f"http://127.0.0.1:{port}/v1.0", max_attempts=2)
    try:
        assert (await failure(g.user_id_by_email("ann@acme-dental.example"))).code == "unreachable"
    finally:
        await g.close()


# ---- permissions and sign-in -------------------------------------------------------------------

Call = Callable[[Graph], Awaitable[Any]]
FORBIDDEN: list[tuple[str, str, str, Call]] = [
    ("POST", r"^/chats$", "Chat.Create", lambda g: g.create_group_chat("Breach", ["b"], "a")),
    ("POST", r"/installedApps$", "TeamsAppInstallation.ReadWriteForChat.All", lambda g: g.install_app("19:c", "app")),
    ("GET", r"/members$", "ChatMember.ReadWrite.All", lambda g: g.chat_members("19:c")),
    ("POST", r"/members$", "ChatMember.ReadWrite.All", lambda g: g.add_chat_member("19:c", "u")),
    ("POST", r"/channels$", "Channel.Create", lambda g: g.create_channel("team", "breach", "")),
    ("PATCH", r"/channels/", "ChannelSettings.ReadWrite.All", lambda g: g.set_channel_description("t", "c", "x")),
    ("GET", r"^/appCatalogs/", "AppCatalog.Read.All", lambda g: g.catalog_app_id(MANIFEST_ID)),
    ("GET", r"^/users/", "User.Read.All", lambda g: g.user_id_by_email("ann@acme-dental.example")),
]


@pytest.mark.parametrize(("method", "path", "permission", "call"), FORBIDDEN, ids=[f[2] + f[0] for f in FORBIDDEN])
async def test_forbidden_names_the_permission_to_grant(fake, graph, method, path, permission, call) -> None:
    fake.fail(method, re.compile(path), 403, times=None)

    error = await failure(call(graph))

    assert error.code == "forbidden"
    assert error.advice == (f"Grant the Microsoft Graph application permission {permission} to the Breachroom app "
                            "in the Azure portal (API permissions), with admin consent, then try again.")
    assert len(fake.calls_to(method, re.compile(path))) == 1


async def test_the_token_is_sent_as_a_bearer_on_every_call(fake, graph, people) -> None:
    fake.fail("POST", re.compile(r"^/chats$"), 503)
    await graph.create_group_chat("Breach", [people["bob"]], people["ann"])
    await graph.user_id_by_email("bob@acme-dental.example")

    assert len(fake.calls) == 3
    assert {c.authorization for c in fake.calls} == {f"Bearer {TOKEN}"}


async def test_a_refused_token_is_http_401_with_sign_in_advice(fake) -> None:
    g = client(fake.url, token="expired-token")
    try:
        error = await failure(g.user_id_by_email("ann@acme-dental.example"))
    finally:
        await g.close()
    assert error.code == "http_401" and "client secret" in (error.advice or "")


async def test_logs_name_the_call_but_never_the_token_or_what_was_sent(fake, graph, people, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secret_summary = "Breach at Dr Jones's surgery: patient list emailed to wrong address"
    fake.fail("POST", re.compile(r"^/chats$"), 403)
    fake.fail("GET", "/users/", 500)

    await failure(graph.create_group_chat(secret_summary, [people["bob"]], people["ann"]))
    await failure(graph.user_id_by_email("ann@acme-dental.example"))

    lines = [r.getMessage() for r in caplog.records if r.name == "adapters.teams.graph"]
    assert len(lines) == 2
    assert "POST /chats" in lines[0] and "403" in lines[0]
    assert "GET /users/{user}" in lines[1] and "500" in lines[1]
    # Everything logged on the client's side (the fake server's own access log is not the bot's).
    text = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    for secret in (TOKEN, "Dr Jones", "patient", "ann@acme-dental.example", people["ann"], people["bob"]):
        assert secret not in text


# ---- the fake refuses what Graph refuses -------------------------------------------------------

async def test_the_fake_refuses_what_graph_refuses(fake, people) -> None:
    team = fake.add_team()
    member = {"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": ["owner"],
              "user@odata.bind": f"{fake.url}/users('{people['ann']}')"}
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async def status(method: str, path: str, body: Any, headers: dict[str, str] = bearer) -> int:
            async with http.request(method, fake.url + path, json=body, headers=headers) as response:
                return response.status

        assert await status("GET", "/users/x", None, {}) == 401
        assert await status("GET", "/users/x", None, {"Authorization": "Basic abc"}) == 401
        assert await status("POST", "/chats", {"chatType": "group", "members": [member]}) == 400
        assert await status("POST", "/chats", {"chatType": "group", "topic": "x" * 251,
                                               "members": [member, {**member, "user@odata.bind":
                                                                    f"{fake.url}/users('{people['bob']}')"}]}) == 400
        assert await status("POST", "/chats", {"chatType": "group", "members": [
            {**member, "roles": []}, {**member, "user@odata.bind": f"{fake.url}/users('{people['bob']}')"}]}) == 400
        assert await status("POST", f"/teams/{team}/channels", {"displayName": "x" * 51}) == 400
        for name in ("a/b", "what?", "_hidden", "ends.", "CON"):
            assert await status("POST", f"/teams/{team}/channels", {"displayName": name}) == 400, name
        assert await status("POST", f"/teams/{team}/channels", {"displayName": "breach-1"}) == 201
