"""Outbound tokens over real HTTP: the bot asks a local Entra login (HTTPS, test CA) for its Bot Connector token,
and the local Bot Connector sees it on each reply.

The login is served on the bot's own event loop, so these tests also prove the token is fetched off the loop:
fetched on it (as botbuilder's `signed_session` would), the login could not answer and every reply would fail.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from adapters.teams.config import TeamsConfig
from adapters.teams.credentials import CONNECTOR_SCOPE, GRAPH_SCOPE, EntraTokens, TokenError
from storage.db import Database
from storage.models import TimelineEntry, Workspace
from tests import entra_fake, test_teams_hosting
from tests.entra_fake import FakeEntra
from tests.teams_fake import TENANT, FakeTeams
from tests.test_teams_hosting import APP_ID, TeamsBot, _served, teams_settings

SECRET = "breachroom-test-secret-Qx7~v2"  # distinctive, so the logs can be searched for it
entra = entra_fake.entra  # the fixtures this module shares: the local login, and the local Bot Connector
fake = test_teams_hosting.fake


def _config(login: FakeEntra, secret: str = SECRET) -> TeamsConfig:
    return TeamsConfig(app_id=APP_ID, app_password=secret, tenant_id=TENANT, login_url=login.url)


async def _bot(teams: FakeTeams, login: FakeEntra, db_url: str, db: Database, *,
               secret: str = SECRET, app_id: str = APP_ID) -> AsyncIterator[TeamsBot]:
    """The bot served with authentication on (off with an empty `app_id`), its login the local one."""
    login.apps[APP_ID] = SECRET
    settings = teams_settings(
        db_url, microsoft_app_id=app_id, microsoft_app_password=secret, microsoft_app_tenant_id=TENANT,
        microsoft_login_url=login.url, botframework_openid_metadata_url=teams.metadata_url,
    )
    async for client in _served(settings, teams, db):
        yield client


@pytest.fixture
async def signed(fake: FakeTeams, entra: FakeEntra, db_url: str, db: Database) -> AsyncIterator[TeamsBot]:
    """Authentication on, with the app's right secret."""
    async for client in _bot(fake, entra, db_url, db):
        yield client


@pytest.fixture
async def wrong_secret(fake: FakeTeams, entra: FakeEntra, db_url: str,
                       db: Database) -> AsyncIterator[TeamsBot]:
    async for client in _bot(fake, entra, db_url, db, secret="an-expired-secret-9Zk"):
        yield client


def _token(bot: TeamsBot) -> str:
    return bot.fake.token(audience=APP_ID)


async def test_a_reply_carries_the_token_the_login_issued_for_the_bot_connector(signed: TeamsBot,
                                                                                entra: FakeEntra) -> None:
    assert await signed.say("help", token=_token(signed)) == 200
    [sent] = await signed.fake.wait_for(lambda: signed.fake.sent)
    [issued] = entra.issued(CONNECTOR_SCOPE)
    assert sent.authorization == f"Bearer {issued}"
    [asked] = entra.requests
    assert (asked.grant_type, asked.client_id, asked.scope) == ("client_credentials", APP_ID, CONNECTOR_SCOPE)


async def test_two_replies_use_one_token_request(signed: TeamsBot, entra: FakeEntra) -> None:
    for _ in range(2):
        assert await signed.say("help", token=_token(signed)) == 200
    sent = await signed.fake.wait_for(lambda: len(signed.fake.sent) >= 2 and signed.fake.sent)
    await signed.fake.settle()
    assert len(entra.requests) == 1
    assert len(sent) == 2 and sent[0].authorization == sent[1].authorization == f"Bearer {entra.requests[0].issued}"


async def test_a_wrong_secret_still_runs_the_command_but_sends_nothing_and_logs_one_line_without_it(
    wrong_secret: TeamsBot, entra: FakeEntra, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # even MSAL's and urllib3's debug lines must not hold the secret
    status = await wrong_secret.say("responder <at>Bob</at>", token=_token(wrong_secret), mentions={"Bob": "29:bob"})
    assert status == 200
    assert await wrong_secret.count(Workspace) == 1
    assert await wrong_secret.count(TimelineEntry) == 1
    await wrong_secret.fake.settle(0.5)
    assert wrong_secret.fake.sent == []
    refused = entra.requests  # the login was asked (once per outbound call: MSAL keeps no failures) and refused
    assert refused and all((r.client_id, r.scope, r.issued) == (APP_ID, CONNECTOR_SCOPE, None) for r in refused)
    lines = [r.getMessage() for r in caplog.records if r.name == "adapters.teams.credentials"]
    assert len(lines) == len(refused), lines  # one line for each refusal, saying why, on one line
    assert all("invalid_client" in line and "AADSTS7000215" in line and "\n" not in line for line in lines), lines
    assert "an-expired-secret-9Zk" not in caplog.text
    assert await wrong_secret.say("help", token=_token(wrong_secret)) == 200  # and the bot still serves


async def test_in_the_emulators_mode_no_token_is_asked_for_nor_sent(fake: FakeTeams, entra: FakeEntra,
                                                                    db_url: str, db: Database) -> None:
    async for bot in _bot(fake, entra, db_url, db, app_id=""):
        assert await bot.say("help") == 200
        [sent] = await fake.wait_for(lambda: fake.sent)
        assert sent.authorization is None
        assert entra.requests == []


async def test_graph_tokens_come_from_the_same_login_and_are_cached(entra: FakeEntra) -> None:
    entra.apps[APP_ID] = SECRET
    tokens = EntraTokens(_config(entra))
    graph = await tokens.token(GRAPH_SCOPE)
    assert graph in entra.issued(GRAPH_SCOPE)
    assert await tokens.token(GRAPH_SCOPE) == graph
    assert await tokens.token(CONNECTOR_SCOPE) != graph
    assert [(r.client_id, r.scope) for r in entra.requests] == [(APP_ID, GRAPH_SCOPE), (APP_ID, CONNECTOR_SCOPE)]


async def test_token_errors_carry_entras_code_or_unreachable(entra: FakeEntra) -> None:
    entra.apps[APP_ID] = SECRET
    with pytest.raises(TokenError) as refused:
        await EntraTokens(_config(entra, secret="wrong")).token(GRAPH_SCOPE)
    assert refused.value.code == "invalid_client"
    await entra.stop()
    with pytest.raises(TokenError) as unreachable:
        await EntraTokens(_config(entra)).token(GRAPH_SCOPE)
    assert unreachable.value.code == "unreachable"
