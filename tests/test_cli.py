"""The `breachroom` command as an operator runs it: real processes, a controlled environment."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.playbook import load_playbook
from breachroom.server import make_app
from breachroom.settings import ConfigError, Settings
from storage.db import Database, parse_url
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, Bot, serve
from tests.slack_fake import FakeSlack

_SCRIPT = Path(sys.executable).with_name("breachroom")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "breachroom.cli"]
SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "DATABASE_URL",
            "BREACHROOM_PLAYBOOK")


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The test runner's environment without any Breachroom setting, plus `settings`.

    DATABASE_URL defaults to a file in tmp_path so that no command touches ./breachroom.db.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_") and k not in SETTINGS}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'breachroom.db'}"
    env.update(settings)
    return env


def run(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], env=environment(tmp_path, **settings), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)


def one_line_error(result: subprocess.CompletedProcess[str], *names: str) -> str:
    """The process failed with exactly one stderr line that names every one of `names`; returns it."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


def settings(**values: str | None) -> Settings:
    """Settings from these values only (every field given, so the runner's environment cannot leak in)."""
    base: dict[str, str | None] = {
        "slack_bot_token": BOT_TOKEN, "slack_signing_secret": None, "slack_app_token": None,
        "slack_api_url": "https://slack.com/api/", "database_url": "sqlite:///./breachroom.db",
        "breachroom_playbook": None,
    }
    return Settings(**{**base, **values})  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def iso_utc(value: str) -> datetime:
    assert value.endswith("Z"), value
    instant = datetime.fromisoformat(value)
    assert instant.utcoffset() == timedelta(0), value
    return instant


# ---- configuration problems: one line, named, no traceback ------------------------------------

def test_serve_without_a_bot_token_says_so_in_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", SLACK_SIGNING_SECRET=SIGNING_SECRET)
    line = one_line_error(result, "SLACK_BOT_TOKEN")
    assert line.startswith("breachroom: ")
    assert not (tmp_path / "breachroom.db").exists()  # refused before touching the database


def test_serve_with_a_token_that_is_not_a_bot_token_names_the_expected_prefix(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", SLACK_BOT_TOKEN="xoxp-user-token", SLACK_SIGNING_SECRET=SIGNING_SECRET)
    line = one_line_error(result, "SLACK_BOT_TOKEN", "xoxb-")
    assert "xoxp-user-token" not in line  # a token is a secret; the error does not repeat it


def test_serve_over_http_without_a_signing_secret_says_so_in_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", SLACK_BOT_TOKEN=BOT_TOKEN)
    one_line_error(result, "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")


def test_socket_mode_needs_no_signing_secret() -> None:
    settings(slack_app_token="xapp-1-test").require_slack()  # does not raise
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        settings(slack_app_token=None).require_slack()
    assert settings(slack_signing_secret="  ").slack_signing_secret is None  # blank counts as unset


async def test_serve_in_socket_mode_starts_without_a_signing_secret(tmp_path: Path) -> None:
    """Validation passes and the server starts connecting; Slack is unreachable here, so it is stopped."""
    env = environment(tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN="xapp-1-test",
                      SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    proc = await asyncio.create_subprocess_exec(
        *COMMAND, "serve", "--port", str(free_port()), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        banner = await asyncio.wait_for(proc.stdout.readline(), timeout=20)  # type: ignore[union-attr]
        assert "Socket Mode" in banner.decode(), banner
        assert proc.returncode is None
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=20)
    stderr = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
    assert "SLACK_SIGNING_SECRET" not in stderr


@pytest.mark.parametrize("url", ["ftp://files.example/api/", "slack.com/api", "not a url"])
def test_serve_with_a_slack_api_url_that_is_not_http_names_it(tmp_path: Path, url: str) -> None:
    result = run(tmp_path, "serve", SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                 SLACK_API_URL=url)
    one_line_error(result, "SLACK_API_URL", "http")


def test_a_slack_api_url_without_its_trailing_slash_is_fixed() -> None:
    assert settings(slack_api_url="http://x/api").slack_api_url == "http://x/api/"
    assert settings(slack_api_url="https://slack.com/api/").slack_api_url == "https://slack.com/api/"


@pytest.mark.parametrize("command", [["db", "upgrade"], ["incidents", "list"]])
@pytest.mark.parametrize(("url", "says"), [
    ("not a url", "cannot be parsed"),
    ("", "cannot be parsed"),
    ("mysql://app@db.example/breachroom", "mysql"),
    ("postgresql://app@db.example/", "names no database"),
])
def test_a_database_url_that_cannot_be_used_is_named_in_one_line(
    tmp_path: Path, command: list[str], url: str, says: str
) -> None:
    line = one_line_error(run(tmp_path, *command, DATABASE_URL=url), "DATABASE_URL")
    assert says in line


def test_a_database_url_with_a_port_that_is_not_a_number_is_named_in_one_line(tmp_path: Path) -> None:
    one_line_error(run(tmp_path, "db", "upgrade", DATABASE_URL="postgresql://app@db.example:five/x"),
                   "DATABASE_URL")


def test_a_database_url_that_cannot_be_parsed_does_not_print_its_password(tmp_path: Path) -> None:
    line = one_line_error(run(tmp_path, "db", "upgrade", DATABASE_URL="postgresql//app:hunter2@db.example/x"),
                          "DATABASE_URL")
    assert "hunter2" not in line


# ---- the database and the incident record ------------------------------------------------------

def test_a_fresh_database_is_migrated_and_lists_no_incidents(tmp_path: Path) -> None:
    upgraded = run(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
    assert (tmp_path / "breachroom.db").exists()

    listed = run(tmp_path, "incidents", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == ""
    assert "Traceback" not in listed.stderr

    again = run(tmp_path, "db", "upgrade")  # upgrading twice is harmless
    assert again.returncode == 0, again.stderr


def test_exporting_an_incident_that_does_not_exist_says_so(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    result = run(tmp_path, "incidents", "export", "999")
    line = one_line_error(result, "999")
    assert "no incident" in line and "incidents list" in line
    assert result.stdout == ""


# ---- end to end: serve, declare over HTTP, stop, read the record --------------------------------

async def wait_until_ok(http: aiohttp.ClientSession, url: str, proc: asyncio.subprocess.Process,
                        timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.returncode is None, f"breachroom serve exited with {proc.returncode}"
        try:
            async with http.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer 200 within {timeout} s"
        await asyncio.sleep(0.1)


async def test_served_bot_opens_a_war_room_and_the_record_can_be_exported(
    tmp_path: Path, slack: FakeSlack
) -> None:
    db_url = f"sqlite:///{tmp_path / 'breachroom.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                      SLACK_API_URL=slack.api_url, DATABASE_URL=db_url)
    proc = await asyncio.create_subprocess_exec(
        *COMMAND, "serve", "--port", str(port), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    db = Database(parse_url(db_url))
    client = Bot(url, slack, db)
    try:
        await wait_until_ok(client.http, f"{url}/healthz", proc)
        await wait_until_ok(client.http, f"{url}/readyz", proc)

        status, ack = await client.command("Receptionist's mailbox forwarded to an outside address", user="UANN")
        assert status == 200, ack
        assert "Opening a private war room" in ack["text"]
        await slack.wait_for(slack.checklist_pin)
        await slack.wait_for(lambda: any("ready" in (r.get("text") or "") for r in slack.responses))
        channel_id, _ = slack.checklist_pin()  # type: ignore[misc]
        await slack.settle(0.2)
    finally:
        await client.close()
        await db.dispose()
        if proc.returncode is None:
            proc.terminate()
        output = (await asyncio.wait_for(proc.communicate(), timeout=20))[0].decode()
    assert proc.returncode == 0, output  # SIGTERM stops it cleanly
    assert "Traceback" not in output, output
    assert "Slack over HTTP" in output

    listed = run(tmp_path, "incidents", "list", DATABASE_URL=db_url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 1
    incident_id, state, declared_at, *_rest = lines[0].split("\t")
    assert state == "open"
    iso_utc(declared_at)
    assert "Receptionist's mailbox forwarded" in lines[0]
    assert "#" + slack.channels[channel_id]["name"] in lines[0]

    exported = run(tmp_path, "incidents", "export", incident_id, "--format", "json", DATABASE_URL=db_url)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert {"id", "summary", "severity", "status", "platform", "declared_at", "responder", "checklist",
            "decisions", "timeline"} <= data.keys()
    assert data["id"] == int(incident_id)
    assert data["summary"] == "Receptionist's mailbox forwarded to an outside address"
    assert data["status"] == "open" and data["platform"] == "slack" and data["responder"] == "UANN"
    assert data["decisions"] == []
    assert len(data["checklist"]) == len([i for s in load_playbook().sections for i in s.items])
    assert all(c["state"] != "done" for c in data["checklist"])
    declared = iso_utc(data["declared_at"])
    assert abs((datetime.now(UTC) - declared).total_seconds()) < 300
    assert [e["action"] for e in data["timeline"]][:3] == ["incident.declared", "room.opened", "room.ready"]
    for entry in data["timeline"]:
        iso_utc(entry["at"])

    markdown = run(tmp_path, "incidents", "export", incident_id, "--format", "md", DATABASE_URL=db_url)
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith(f"# Incident {incident_id}: Receptionist's mailbox forwarded")
    assert "## Checklist" in markdown.stdout and "## Timeline" in markdown.stdout
    assert "| Assess | Take the affected network offline" in markdown.stdout
    assert data["declared_at"] in markdown.stdout


# ---- readiness --------------------------------------------------------------------------------

async def test_readiness_fails_while_the_database_is_unreachable_but_the_process_is_alive() -> None:
    app_settings = settings(slack_signing_secret=SIGNING_SECRET, slack_api_url="http://127.0.0.1:1/api/")
    unreachable = Database(parse_url("postgresql+psycopg://postgres@127.0.0.1:1/x"))
    runner, url = await serve(make_app(app_settings, load_playbook(), unreachable))
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/readyz") as response:
                assert response.status == 503
                assert "unreachable" in (await response.json())["status"]
            async with http.get(f"{url}/healthz") as response:
                assert response.status == 200
    finally:
        await runner.cleanup()


async def test_serve_with_an_app_token_slack_refuses_stops_with_one_line(tmp_path: Path) -> None:
    from tests.slack_fake import Fault

    slack = await FakeSlack().start()
    slack.fail("apps.connections.open", Fault(error="invalid_auth"))
    try:
        env = environment(tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN="xapp-1-revoked",
                          SLACK_API_URL=slack.api_url)
        proc = await asyncio.create_subprocess_exec(
            *COMMAND, "serve", "--port", str(free_port()), env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        await slack.stop()
    assert proc.returncode == 2
    lines = [line for line in err.decode().splitlines() if line.startswith("breachroom:")]
    assert lines == [lines[0]] and "SLACK_APP_TOKEN was refused by Slack (invalid_auth)" in lines[0]
    assert "Traceback" not in err.decode() and "xapp-1-revoked" not in err.decode()
