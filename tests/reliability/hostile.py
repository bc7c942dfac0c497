"""What the hostile-input tests share: the bot served in a thread of its own (so that hypothesis, which is
synchronous, drives it over real HTTP), row counts, hostile text, and what must never reach a message.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import tempfile
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (the tables, for the row counts)
from storage.db import Database

# Hypothesis keeps caches (Unicode tables, constants of the code under test) in `.hypothesis/` of the working
# directory: not in the repository.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "breachroom-hypothesis")
T = TypeVar("T")
MB = 1024 * 1024
SORRY = "Something went wrong on Breachroom's side"
# Mentions that notify a whole channel, workspace or user group when Slack reads them in a message.
BROADCAST = re.compile(r"<!(?:channel|here|everyone|subteam\^)")
# Slack's user and user-group ids, as the tests' fake workspace has them.
PEOPLE = {"UANN": "ann", "UBOB": "bob", "U0CAROL": "carol.d"}
GROUPS = {"S0SEC": "security", "S0ALL": "all-staff"}
# What people paste, and what a forged request carries: markup of every platform, broadcast mentions, entities,
# control and invisible characters, template and injection syntax.
NASTY = (
    "<!channel>", "<!here>", "<!everyone>", "<!here|here>", "<!channel|@channel>", "<!subteam^S0SEC|@security>",
    "<!subteam^S0ALL>", "<!date^1392734382^{date}|Feb 18>", "<@UBOB|bob>", "<@UANN>", "<#CPUBLIC1|general>",
    "<https://evil.example/x|click here>", "<mailto:a@b.example|mail>", "&lt;!channel&gt;", "&amp;", "&#0;", "&",
    "<", ">", "|", "\x00", "\x00\x00", "@{UBOB}", "@{!channel}", "#{CPUBLIC1}", "**", "*", "_", "~", "`", "```",
    "[link](https://evil.example)", "<at>Bob</at>", "</at>", "<at>", "\u202e", "\ufeff", "\u200b", "\r\n", "\t",
    "%00", "{{ 7*7 }}", "{% raw %}", "${jndi:ldap://x}", "'; DROP TABLE incident; --", "é", "𝕏", "🔥",
    "status", "decision", "breach", "help", "<script>alert(1)</script>", "\\", "\"", "'", "０", "²", "١",
)



def hostile(examples: int) -> settings:
    """Settings of every hostile-input test: `examples` cases, deterministic (CI gets the same cases every run), no
    example database on disk, no deadline on a busy machine, no health check about slow or large data (that is
    the point). A failing case is reported as found: shrinking it means re-running hundreds of requests, past the
    suite's time limit; BREACHROOM_HOSTILE_SHRINK=1 shrinks it (with `--timeout 0`)."""
    phases = [Phase.explicit, Phase.generate]
    if os.environ.get("BREACHROOM_HOSTILE_SHRINK"):
        phases.append(Phase.shrink)
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True, phases=phases,
                    suppress_health_check=list(HealthCheck), print_blob=False)


def raw_text(max_pieces: int = 24) -> st.SearchStrategy[str]:
    """Anything at all: pieces of markup and random Unicode (NUL and control characters included)."""
    piece = st.one_of(st.sampled_from(NASTY), st.text(max_size=12))
    return st.lists(piece, max_size=max_pieces).map("".join)


class Served:
    """An event loop in a thread of its own, where the bot and its fakes run while hypothesis drives them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="served-bot", daemon=True)
        self._thread.start()

    def run(self, coroutine: Awaitable[T], timeout: float = 60.0) -> T:
        async def wrapped() -> T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


# Rows the bot writes about its own work, after a request's answer (the war room a declaration builds and how far
# it got, the deadline card it pins, the reminders it sets): left out of the counts, so an earlier accepted
# request's background work is not taken for something a later rejected one stored.
BOOKKEEPING = {"posted_message", "reminder", "room_build", "alembic_version"}


async def counts(db: Database, *, leave_out: frozenset[str] = frozenset()) -> dict[str, int]:
    """Rows per table (the bot's own timeline lines, actor `breachroom`, left out with its bookkeeping)."""
    tables = [t.name for t in SQLModel.metadata.sorted_tables if t.name not in BOOKKEEPING | leave_out]
    parts = [f"(SELECT count(*) FROM {name}" + (" WHERE actor <> 'breachroom')" if name == "timeline_entry" else ")")
             for name in tables]
    async with db.reading() as session:
        row = (await session.execute(sa.text("SELECT " + ", ".join(parts)))).one()
    return dict(zip(tables, (int(n) for n in row), strict=True))


def slack_parsed_texts(payload: Any) -> Iterator[str]:
    """The texts Slack reads markup in (mentions included): mrkdwn objects, and a message's `text`, a topic, a
    file's comment. Plain-text objects (headers, buttons, inputs) are shown as they are and notify no one."""
    if not isinstance(payload, dict):
        return
    for key in ("text", "topic", "initial_comment"):
        if isinstance(payload.get(key), str):
            yield payload[key]
    stack: list[Any] = [payload.get(key) for key in ("blocks", "view", "attachments")]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                yield node["text"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def broadcasts(payloads: list[Any]) -> list[str]:
    """Every text among `payloads` in which Slack would notify a channel, a workspace or a user group."""
    return [text for payload in payloads for text in slack_parsed_texts(payload) if BROADCAST.search(text)]


def as_words(typed: str) -> str:
    """What Breachroom stores for text a person typed (NUL characters removed): a typed `@{UBOB}` or `#{C1}`
    only looks like neutral markup, and a word joiner (invisible) after its `@` or `#` keeps it words."""
    return re.sub(r"([@#])\{", "\\1\u2060{", typed.replace("\x00", ""))


def stored_as_typed(parts: list[tuple[str, bool]]) -> str:
    """The neutral text of (piece, typed as plain text?) pieces: each run of typed pieces `as_words`, the
    mentions the platform made (and the words it showed for broadcasts) as they are."""
    out, run = [], ""
    for piece, typed in parts:
        if typed:
            run += piece
        else:
            out += [as_words(run), piece]
            run = ""
    return "".join([*out, as_words(run)])


def slack_escape(text: str) -> str:
    """What Slack sends for text a person typed: `&`, `<` and `>` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def typed_slack() -> st.SearchStrategy[tuple[str, str, frozenset[str]]]:
    """(what Slack sends, what Breachroom must store, the people mentioned) for text a person typed in Slack,
    with mentions picked from Slack's menu: people (kept as mentions), @channel/@here/@everyone and user groups
    (kept as the words Slack showed). Typed text is stored `as_words`."""
    plain = st.one_of(st.text(max_size=16), st.sampled_from(NASTY)).map(lambda s: (slack_escape(s), s, None, True))
    person = st.sampled_from(sorted(PEOPLE)).map(lambda u: (f"<@{u}|{PEOPLE[u]}>", f"@{{{u}}}", u, False))
    everyone = st.sampled_from(["channel", "here", "everyone"]).map(lambda b: (f"<!{b}>", f"@{b}", None, False))
    group = st.sampled_from(sorted(GROUPS)).map(
        lambda g: (f"<!subteam^{g}|@{GROUPS[g]}>", f"@{GROUPS[g]}", None, False))
    pieces = st.lists(st.one_of(plain, plain, person, everyone, group), max_size=12)
    return pieces.map(lambda parts: ("".join(p[0] for p in parts), stored_as_typed([(p[1], p[3]) for p in parts]),
                                     frozenset(p[2] for p in parts if p[2])))


def typed_teams() -> st.SearchStrategy[tuple[str, list[dict[str, Any]], str, frozenset[str]]]:
    """(activity text, its mention entities, what Breachroom must store, people mentioned) for text typed in
    Teams: people's mentions (kept as mentions), and mentions of a tag, a channel, a team or the whole chat
    (kept as words). Typed text is stored `as_words`."""
    plain = st.one_of(st.text(max_size=16), st.sampled_from(NASTY)).map(
        lambda s: (html.escape(s, quote=False), None, s))
    people = {"29:bob": "Bob Jones", "29:carol": "Carol"}
    person = st.sampled_from(sorted(people)).map(lambda u: (
        f"<at>{people[u]}</at>", {"type": "mention", "text": f"<at>{people[u]}</at>",
                                  "mentioned": {"id": u, "name": people[u]}}, f"@{{{u}}}"))
    others = [("tag", "Security Team", "MjgwZj-tag-id", "tag"), ("channel", "General", "19:general@thread.skype", None),
              ("team", "Acme", "19:team@thread.skype", None), ("everyone", "Everyone", "19:warroom@thread.v2", None)]
    other = st.sampled_from(others).map(lambda o: (
        f"<at>{o[1]}</at>", {"type": "mention", "text": f"<at>{o[1]}</at>",
                             "mentioned": {"id": o[2], "name": o[1], **({"type": o[3]} if o[3] else {})}},
        f" @{o[1]} "))
    pieces = st.lists(st.one_of(plain, plain, person, other), max_size=10)

    def assemble(parts: list[tuple[str, Any, str]]) -> tuple[str, list[dict[str, Any]], str, frozenset[str]]:
        entities = [p[1] for p in parts if p[1] is not None]
        stored = " ".join(stored_as_typed([(p[2], p[1] is None) for p in parts]).replace("\xa0", " ").split())
        mentioned = frozenset(p[1]["mentioned"]["id"] for p in parts
                              if p[1] is not None and p[1]["mentioned"]["id"].startswith("29:"))
        return "".join(p[0] for p in parts), entities, stored, mentioned

    return pieces.map(assemble)
