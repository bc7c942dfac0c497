"""Answers first (bot/pacing.py): work after an acknowledgement waits while a request is being answered, and
what the server loads at start stays small."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from alembic.config import Config
from alembic.script import ScriptDirectory

from bot.pacing import Pacer, as_background
from storage.db import MIGRATIONS, head_revision


async def test_background_work_waits_while_a_request_is_being_answered() -> None:
    pacer = Pacer(max_wait=30)
    order: list[str] = []

    async def build_a_war_room() -> None:
        await pacer.step()
        order.append("war room step")

    with pacer.answering():
        work = asyncio.create_task(as_background(build_a_war_room()))
        await asyncio.sleep(0.05)
        order.append("request answered")
    await asyncio.wait_for(work, 5)
    assert order == ["request answered", "war room step"]


async def test_the_request_itself_never_waits_for_its_own_answer() -> None:
    pacer = Pacer(max_wait=30)
    with pacer.answering():
        await asyncio.wait_for(pacer.step(), 1)  # not background work: goes on at once


async def test_a_steady_stream_of_requests_slows_background_work_down_but_never_stops_it() -> None:
    pacer = Pacer(max_wait=0.05)

    async def step() -> str:
        await pacer.step()
        return "done"

    with pacer.answering():  # a request that never ends
        assert await asyncio.wait_for(as_background(step()), 5) == "done"


async def test_background_work_goes_on_at_once_when_nothing_is_being_answered() -> None:
    pacer = Pacer(max_wait=30)
    with pacer.answering():
        pass
    assert await asyncio.wait_for(as_background(asyncio.sleep(0, "done")), 1) == "done"
    await asyncio.wait_for(as_background(pacer.step()), 1)


def test_the_newest_migration_is_read_from_the_files_as_alembic_reads_it() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_the_server_does_not_load_teams_word_or_alembic_until_they_are_needed() -> None:
    """Teams' stack, python-docx and Alembic are ~40 MB and a good part of a second at each start."""
    code = ("import sys, breachroom.cli, breachroom.server; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'botbuilder', 'botframework', 'msal', 'docx', "
            "'alembic'}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
