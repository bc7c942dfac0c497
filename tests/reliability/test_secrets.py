"""Secrets and personal data: never in a log line or an HTTP answer, and encrypted at rest when a key is set.

A whole Slack incident runs with known secrets and a made-up client, every log record of every logger is kept,
and every answer the bot gives over HTTP; then the database is read around the app, as someone holding a copy of
it would, and the keys are rotated with `breachroom db rotate-key`. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from bot import decisions, notice_drafts, notice_facts
from bot.core import Core
from bot.declare import declare
from bot.domain import Actor
from bot.playbook import load_playbook
from breachroom.server import make_app
from breachroom.settings import ConfigError, Settings, load
from storage import audit, crypto, queries
from storage.db import Database, parse_url
from storage.models import Decision, Incident, NoticeDraft, TimelineEntry
from tests.conftest import Bot, bot_settings, declare_room, find_button, serve
from tests.reliability.test_audit_chain import chain, recomputed
from tests.slack_fake import FakeSlack, Fault
from tests.test_cli import one_line_error, run
from tests.test_notice_room import COMPLETE, button, notice_card, wrap

TOKEN = "xoxb-4711-0815-s3cretT0kenVa1ue"
SIGNING = "5c0ffee5ecret0f5igning4711"
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
CLIENT, CLIENT_EMAIL = "Zebulon Quandt-Ybarra", "zebulon.qy@clients-of-acme.example"
SUMMARY = f"Tax ledger of {CLIENT} copied from the file server"
WHAT_HAPPENED = f"Someone copied the tax ledger of {CLIENT} ({CLIENT_EMAIL}) on 2 March."
DECISION = "Restore the ledger share from backup tape 7731"
RATIONALE = "Tape 7731 predates the intrusion window by a night"
CHANGES = "Name the tape library vendor in paragraph two"
# Nothing of these may reach a log line or an HTTP answer (compared without regard to case).
NEVER = {"bot token": TOKEN, "signing secret": SIGNING, "old key": OLD_KEY, "new key": NEW_KEY,
         "client name": "Quandt", "client email": CLIENT_EMAIL, "client email's user": "zebulon.qy",
         "summary": SUMMARY, "summary's words": "tax ledger", "decision": DECISION, "rationale": RATIONALE,
         "requested changes": CHANGES}
# Our loggers are checked at every level. Libraries are checked from INFO, the level `breachroom` logs at: at
# DEBUG, slack_sdk writes each Web API request's body and aiosqlite each statement with its parameters, by design.
OURS = {"bot", "adapters", "storage", "breachroom"}
# The sensitive columns: (table, column, kind) as stored.
SEALED = [("incident", "summary", "text"), ("incident", "notice_facts", "json"), ("decision", "text", "text"),
          ("decision", "rationale", "text"), ("notice_draft", "markdown", "text"),
          ("notice_draft", "facts", "json"), ("notice_draft", "docx", "bytes"), ("timeline_entry", "detail", "text")]


@pytest.fixture(autouse=True)
def no_key_afterwards() -> Iterator[None]:
    """The key list is process-wide: whatever a test configured ends with it."""
    yield
    crypto.configure([])


def leaks(text: str) -> list[str]:
    """What of NEVER `text` holds, as it is or form-encoded (a request body: `Tax+ledger`, `%40`)."""
    forms = (text.lower(), unquote_plus(text).lower())
    return [name for name, secret in NEVER.items() if any(secret.lower() in form for form in forms)]


def logged(records: list[logging.LogRecord]) -> Iterator[tuple[logging.LogRecord, str]]:
    """Each record as a handler would write it: the message, and the traceback when there is one."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in records:
        yield record, formatter.format(record)


class Recording(Bot):
    """The bot under test, signing with this module's secret and keeping every answer it gives."""

    def __init__(self, url: str, slack: FakeSlack, db: Database) -> None:
        super().__init__(url, slack, db)
        self.answers: list[tuple[str, str]] = []  # (what was sent, what came back)

    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        digest = hmac.new(SIGNING.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
                "Content-Type": "application/x-www-form-urlencoded"}

    async def post(self, body: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, answer = await super().post(body, headers)
        self.answers.append((unquote_plus(body), answer if isinstance(answer, str) else json.dumps(answer)))
        return status, answer

    async def get(self, path: str) -> str:
        async with self.http.get(f"{self.url}{path}") as response:
            text = await response.text()
        self.answers.append((path, text))
        return text


@pytest.fixture
async def keyed_bot(slack: FakeSlack, db_url: str, db: Database,
                    caplog: pytest.LogCaptureFixture) -> AsyncIterator[Recording]:
    # Before the app is built: Bolt gives its loggers the root logger's level when it is created.
    caplog.set_level(logging.DEBUG)
    settings = bot_settings(slack, db_url, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SIGNING,
                            BREACHROOM_ENCRYPTION_KEY=OLD_KEY)
    assert crypto.enabled()
    app = make_app(settings, load_playbook(), Database(settings.db_url()))
    runner, url = await serve(app)
    client = Recording(url, slack, db)
    yield client
    await slack.settle(0.2)
    await client.close()
    await runner.cleanup()


async def raw_values(db: Database) -> list[tuple[str, str, Any]]:
    """Every non-empty stored value of the sensitive columns, as the database holds it (no decryption)."""
    found = []
    async with db.reading() as session:
        for table, column, kind in SEALED:
            for (value,) in (await session.execute(sa.text(f"SELECT {column} FROM {table}"))).all():
                if value is None:
                    continue
                if kind == "json" and isinstance(value, str) and value.startswith('"'):
                    value = json.loads(value)  # SQLite hands back the JSON text; PostgreSQL the decoded value
                found.append((table, column, bytes(value).decode("ascii", "replace") if kind == "bytes" else value))
    return found


# ---- 1 and 2: a whole incident leaks nothing, and its data is encrypted at rest -----------------------------------


async def test_a_whole_incident_logs_and_answers_no_secret_and_stores_ciphertext(
    keyed_bot: Recording, caplog: pytest.LogCaptureFixture, db_url: str, tmp_path: Path,
) -> None:
    bot, slack = keyed_bot, keyed_bot.slack
    await bot.command("responder <@URESP|rita>")
    room = await declare_room(bot, SUMMARY, user="UANN")
    channel, ts = room["channel"], room["ts"]
    assert "quandt" in room["name"]  # the channel is named after the summary (in Slack, not in a log)

    row = find_button(slack.messages[(channel, ts)]["blocks"], "network offline")
    await bot.press(channel, ts, row["action_id"], row["value"])
    # A decision typed as a command, and one through the form with its rationale, whose post fails once.
    await bot.command(f"decision {DECISION}", channel=channel, user="UANN")
    slack.fail("chat.postMessage", Fault(error="channel_not_found"))
    record = button(slack.messages[(channel, ts)]["blocks"], "Record decision")
    await bot.press(channel, ts, record["action_id"], record["value"], user="URESP")
    view = (await slack.wait_for(lambda: slack.called("views.open")))[-1].args["view"]
    await bot.submit(view, wrap({"decision": {"type": "plain_text_input", "value": DECISION + " (second copy)"},
                                 "rationale": {"type": "plain_text_input", "value": RATIONALE}}),
                     user="URESP", view_id="VDEC1")
    # Notice facts naming the client; a draft; changes requested; a second draft, approved.
    facts = button(slack.messages[(channel, ts)]["blocks"], "Notice facts")
    await bot.press(channel, ts, facts["action_id"], facts["value"], user="URESP")
    view = (await slack.wait_for(lambda: [c for c in slack.called("views.open")
                                          if c.args["view"]["callback_id"] == "notice.facts.submit"]))[-1].args["view"]
    filled = {**COMPLETE, "what_happened": {"type": "plain_text_input", "value": WHAT_HAPPENED},
              "actions_taken": {"type": "plain_text_input", "value": f"We called {CLIENT} the same day."}}
    # A fact that does not pass its check first: the form says so (to the one who typed it, quoting it).
    _, answer = await bot.submit(view, wrap({**filled, "email": {"type": "plain_text_input",
                                                                 "value": f"{CLIENT_EMAIL} or phone"}}),
                                 user="URESP", view_id="VF1")
    assert answer["response_action"] == "errors"
    await bot.submit(view, wrap(filled), user="URESP", view_id="VF1")
    await bot.command("notice", channel=channel, user="URESP")
    first = await notice_card(bot, 1)
    changes = button(first["blocks"], "Request changes")
    await bot.press(channel, ts, changes["action_id"], changes["value"], user="URESP")
    view = (await slack.wait_for(lambda: [c for c in slack.called("views.open")
                                          if "changes" in json.dumps(c.args["view"]["blocks"])]))[-1].args["view"]
    await bot.submit(view, wrap({"changes": {"type": "plain_text_input", "value": CHANGES}}), user="URESP",
                     view_id="VCH1")
    await bot.command("notice", channel=channel, user="URESP")
    second = await notice_card(bot, 2)
    approve = button(second["blocks"], "Approve")
    await bot.press(channel, ts, approve["action_id"], approve["value"], user="URESP")
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage")
                                  if "approved client notice v2" in (c.args.get("text") or "")])
    # Close; the summary is posted in the war room.
    _, ack = await bot.command("close", channel=channel, user="URESP")
    close = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
    await bot.press(channel, ts, close["action_id"], close["value"], user="URESP")
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage")
                                  if "post-incident summary" in (c.args.get("text") or "")])
    for path in ("/healthz", "/readyz", "/nowhere"):
        await bot.get(path)
    await slack.settle()

    # What went to Slack is the product at work: the war room does show the summary and the decisions.
    said = json.dumps([c.args for c in slack.called("chat.postMessage")], ensure_ascii=False)
    assert SUMMARY in said and DECISION in said and RATIONALE in said

    records = list(logged(caplog.records))
    assert [r for r, _ in records if r.name == "bot.outbox" and r.levelno == logging.WARNING]  # the failed post
    found: dict[tuple[str, str], set[str]] = {}
    for record, text in records:
        if leaks(text) and (record.name.split(".")[0] in OURS or record.levelno >= logging.INFO):
            found.setdefault((record.name, record.levelname), set()).update(leaks(text))
    assert not found
    # An answer goes back to whoever sent the request (Slack shows it to them alone): it may repeat what they
    # typed ("Opening a private war room for …", a form's "not an email address: …"), never anything else.
    assert len(bot.answers) > 15
    told = {answer[:200]: set(leaks(answer)) - set(leaks(sent)) for sent, answer in bot.answers}
    assert not {answer: names for answer, names in told.items() if names}

    # At rest: every sensitive value is ciphertext; nothing of the client's is readable around the app.
    stored = await raw_values(bot.db)
    tables = {table for table, _, _ in stored}
    assert tables == {"incident", "decision", "notice_draft", "timeline_entry"}
    assert {column for _, column, _ in stored} == {c for _, c, _ in SEALED}
    plain = [(table, column, str(value)[:60]) for table, column, value in stored
             if not (isinstance(value, str) and crypto.is_sealed(value))]
    assert not plain

    # … and the app reads the plaintext: in process, and the export with the key.
    async with bot.db.reading() as session:
        incident = await queries.incident(session, 1)
        assert incident is not None and incident.summary == SUMMARY
        assert incident.notice_facts["what_happened"] == WHAT_HAPPENED
        texts = {(d.text, d.rationale) for d in (await session.execute(sa.select(Decision))).scalars()}
        assert (DECISION, None) in texts and (DECISION + " (second copy)", RATIONALE) in texts
        drafts = (await session.execute(sa.select(NoticeDraft).order_by(NoticeDraft.version))).scalars().all()
        assert [d.status for d in drafts] == ["changes_requested", "approved"]
        assert CLIENT in drafts[1].markdown and drafts[1].docx.startswith(b"PK")
        assert drafts[1].facts["what_happened"] == WHAT_HAPPENED
        details = [e.detail for e in (await session.execute(sa.select(TimelineEntry))).scalars()]
        assert any(DECISION in d for d in details) and any(CHANGES in d for d in details)
    exported = run(tmp_path, "incidents", "export", "1", "--format", "json", DATABASE_URL=db_url,
                   BREACHROOM_ENCRYPTION_KEY=OLD_KEY)
    assert exported.returncode == 0, exported.stderr
    assert SUMMARY in exported.stdout and DECISION in exported.stdout and RATIONALE in exported.stdout
    # The hash chain is over the plaintext: it verifies, and recomputes as storage/audit.py tells an auditor.
    assert all(v.ok for v in await audit.verify(bot.db))
    rows = await chain(bot.db, 1)
    assert len(rows) > 10 and [r.entry_hash for r in rows] == recomputed(rows)


async def test_a_request_whose_signature_fails_is_refused_without_logging_what_it_carries(
    keyed_bot: Recording, caplog: pytest.LogCaptureFixture,
) -> None:
    bot = keyed_bot
    sent = bot.command_body(f"decision {DECISION}", channel="C1")
    for headers in ({**bot.sign(sent), "X-Slack-Signature": "v0=" + "0" * 64},  # a wrong signing secret
                    bot.sign(sent, timestamp=int(time.time()) - 3600)):  # delivered late
        status, answer = await Bot.post(bot, sent, headers)
        assert status == 401 and not leaks(json.dumps(answer))
    logged_at_info = [(r.name, names) for r, text in logged(caplog.records)
                      if r.levelno >= logging.INFO and (names := leaks(text))]
    assert not logged_at_info


# ---- 3: rotation ------------------------------------------------------------------------------------------------


async def some_incident(db: Database, summary: str, decision: str) -> None:
    """An incident with a decision, notice facts and a notice draft, written by the use cases."""
    core = Core(db=db, playbook=load_playbook())
    ann = Actor("slack", "T1", "UANN")
    await declare(core, ann, summary, origin_channel="C1")
    async with db.reading() as session:
        incident_id = max((await session.execute(sa.select(Incident.id))).scalars())
    await decisions.record_decision(core, ann, incident_id, decision, f"Because: {summary}")
    await notice_facts.submit_facts(core, ann, str(incident_id), {"what_happened": f"{summary}, on 2 March."})
    await notice_drafts.draft(core, ann, incident_id)


def with_keys(*keys: str) -> Settings:
    """Settings as `breachroom` builds them; building them configures the key list."""
    return Settings(database_url="sqlite:///unused.db", breachroom_encryption_key=",".join(keys))


def counted(stdout: str) -> dict[str, tuple[int, int]]:
    """`incident: 4 values encrypted with the first key, 0 already were` per line → {"incident": (4, 0)}."""
    found = [re.fullmatch(r"(\w+): (\d+) values encrypted with the first key, (\d+) already were", line)
             for line in stdout.splitlines()]
    assert all(found), stdout
    return {m.group(1): (int(m.group(2)), int(m.group(3))) for m in found if m}


async def read_everything(db: Database) -> dict[str, list[Any]]:
    """Every sensitive value, as the app reads it."""
    async with db.reading() as session:
        def rows(model: Any) -> Any:
            return session.execute(sa.select(model).order_by(model.id))

        incidents = (await rows(Incident)).scalars().all()
        return {
            "incident": [(i.summary, i.notice_facts) for i in incidents],
            "decision": [(d.text, d.rationale) for d in (await rows(Decision)).scalars()],
            "draft": [(d.markdown, d.facts, d.docx) for d in (await rows(NoticeDraft)).scalars()],
            "detail": [e.detail for e in (await rows(TimelineEntry)).scalars()],
        }


async def test_rotating_the_key_re_encrypts_everything_and_the_old_key_can_go(
    db: Database, db_url: str, tmp_path: Path,
) -> None:
    with_keys()  # rows from before a key was set: plaintext
    await some_incident(db, "Laptop of Vera Plaintext-Era stolen", "Wipe it remotely")
    with_keys(OLD_KEY)
    await some_incident(db, "Mailbox of Otto Oldkey forwarded", "Reset the mailbox password")
    before = await read_everything(db)
    assert [summary for summary, _ in before["incident"]] == ["Laptop of Vera Plaintext-Era stolen",
                                                             "Mailbox of Otto Oldkey forwarded"]
    assert all(docx.startswith(b"PK") for _, _, docx in before["draft"]) and len(before["draft"]) == 2
    stored = await raw_values(db)
    assert any(isinstance(v, str) and crypto.is_sealed(v) for _, _, v in stored)
    assert any(not (isinstance(v, str) and crypto.is_sealed(v)) for _, _, v in stored)

    # A new key in front; rotate; then again, which finds nothing left to do.
    per_table = Counter(table for table, _, _ in stored)
    result = run(tmp_path, "db", "rotate-key", DATABASE_URL=db_url, BREACHROOM_ENCRYPTION_KEY=f"{NEW_KEY},{OLD_KEY}")
    assert result.returncode == 0, result.stderr
    assert counted(result.stdout) == {table: (n, 0) for table, n in per_table.items()}
    again = run(tmp_path, "db", "rotate-key", DATABASE_URL=db_url, BREACHROOM_ENCRYPTION_KEY=f"{NEW_KEY},{OLD_KEY}")
    assert again.returncode == 0, again.stderr
    assert counted(again.stdout) == {table: (0, n) for table, n in per_table.items()}

    # Everything is ciphertext that the new key alone opens: the old key can be dropped.
    new_only = Fernet(NEW_KEY.encode())
    for table, column, value in await raw_values(db):
        assert isinstance(value, str) and crypto.is_sealed(value), (table, column)
        new_only.decrypt(value[len(crypto.PREFIX):].encode())
    with_keys(NEW_KEY)
    assert await read_everything(db) == before
    assert all(v.ok for v in await audit.verify(db))
    verified = run(tmp_path, "audit", "verify", DATABASE_URL=db_url, BREACHROOM_ENCRYPTION_KEY=NEW_KEY)
    assert verified.returncode == 0 and verified.stdout.count(": OK") == 2, verified.stdout + verified.stderr
    exported = run(tmp_path, "incidents", "export", "1", "--format", "json", DATABASE_URL=db_url,
                   BREACHROOM_ENCRYPTION_KEY=NEW_KEY)
    assert "Vera Plaintext-Era" in exported.stdout
    # In small batches (each its own transaction), back to the first key: every row is reached once.
    with_keys(OLD_KEY, NEW_KEY)
    assert await asyncio.to_thread(crypto.rotate, parse_url(db_url), 3) == {t: (n, 0) for t, n in per_table.items()}
    assert await read_everything(db) == before

    # With only the key it no longer uses, reading is a clear error, never ciphertext taken for text.
    with_keys(NEW_KEY)
    with pytest.raises(crypto.UnreadableValue, match="BREACHROOM_ENCRYPTION_KEY does not list"):
        await read_everything(db)
    with_keys()
    with pytest.raises(crypto.UnreadableValue, match="BREACHROOM_ENCRYPTION_KEY is not set"):
        await read_everything(db)
    wrong = run(tmp_path, "db", "rotate-key", DATABASE_URL=db_url, BREACHROOM_ENCRYPTION_KEY=NEW_KEY)
    line = one_line_error(wrong, "BREACHROOM_ENCRYPTION_KEY", "does not list")
    assert OLD_KEY not in line and NEW_KEY not in line
    unset = run(tmp_path, "db", "rotate-key", DATABASE_URL=db_url, BREACHROOM_ENCRYPTION_KEY="")
    one_line_error(unset, "BREACHROOM_ENCRYPTION_KEY is not set")


# ---- 4: a malformed key ---------------------------------------------------------------------------------------


MALFORMED = {"not a key": "not-a-key", "second key cut short": f"{NEW_KEY},{OLD_KEY[:-2]}",
             "a character outside base64": f"{NEW_KEY[:20]}!{NEW_KEY[21:]}", "commas only": " , "}


def test_a_malformed_key_is_one_line_naming_the_setting_and_never_the_key(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for number, (what, value) in enumerate(MALFORMED.items()):
        parts = [part.strip() for part in value.split(",") if part.strip()]
        command = ["serve"] if number % 2 else ["db", "rotate-key"]
        line = one_line_error(run(tmp_path, *command, BREACHROOM_ENCRYPTION_KEY=value), "BREACHROOM_ENCRYPTION_KEY")
        assert not [part for part in parts if part in line], (what, line)
        monkeypatch.setenv("BREACHROOM_ENCRYPTION_KEY", value)
        with pytest.raises(ConfigError) as caught:
            load()
        assert str(caught.value).startswith("BREACHROOM_ENCRYPTION_KEY ") and "\n" not in str(caught.value)
        assert not [part for part in parts if part in str(caught.value)], what
