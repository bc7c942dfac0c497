"""Tabletop exercises: the built-in scenarios, a business's own, and new facts arriving in the drill's war room
on time, on the local console over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.web.outbound import GENERAL
from bot import scenarios
from bot.playbook import load_playbook
from breachroom.server import CONSOLE, CORE, make_app
from storage.db import Database
from tests.conftest import serve
from tests.test_cli import COMMAND, environment, free_port, one_line_error, run, wait_until_ok
from tests.test_console import Person, console_settings


@pytest.mark.parametrize("name", ["lost-laptop", "phishing", "ransomware"])
def test_each_built_in_scenario_has_a_briefing_and_facts_in_time_order(name: str) -> None:
    scenario = scenarios.load(name)
    assert scenario.title and scenario.summary and scenario.briefing
    minutes = [i.at for i in scenario.injects]
    assert len(minutes) >= 4 and minutes == sorted(minutes)


def test_a_business_can_write_its_own_scenario(tmp_path: Path) -> None:
    own = tmp_path / "stolen-phone.yml"
    own.write_text("title: The phone\nsummary: Office phone stolen\nbriefing: It is gone.\n"
                   "injects:\n  - at: 3\n    text: It had the client list.\n  - at: 1\n    text: It had no PIN.\n")
    scenario = scenarios.load(str(own))
    assert scenario.name == "stolen-phone" and [i.text for i in scenario.injects] == [
        "It had no PIN.", "It had the client list."]


@pytest.mark.parametrize(("text", "problem"), [
    ("title: [unclosed", "not valid YAML"),
    ("title: T\nsummary: S\nbriefing: B\ninjects: []\n", "injects"),
    ("title: T\nsummary: S\nbriefing: B\ninjects:\n  - at: -1\n    text: x\n", "inject 1"),
    ("title: T\nsummary: S\ninjects:\n  - at: 1\n    text: x\n", "briefing"),
])
def test_a_broken_scenario_file_is_named_with_what_is_wrong(tmp_path: Path, text: str, problem: str) -> None:
    own = tmp_path / "mine.yml"
    own.write_text(text)
    with pytest.raises(scenarios.ScenarioError, match=problem) as caught:
        scenarios.load(str(own))
    assert str(own) in str(caught.value)


def test_an_unknown_scenario_lists_the_built_in_ones() -> None:
    with pytest.raises(scenarios.ScenarioError, match="lost-laptop, phishing, ransomware"):
        scenarios.load("tornado")


@pytest.fixture
async def exercise(db_url: str) -> AsyncIterator[tuple[str, asyncio.Task[None]]]:
    settings = console_settings(db_url)
    app = make_app(settings, load_playbook(), Database(settings.db_url()))
    runner, url = await serve(app)
    scenario = scenarios.load("lost-laptop")
    # 6,000 times the speed: the exercise's 20 minutes take 0.2 s.
    task = asyncio.create_task(scenarios.run(app[CORE], app[CONSOLE].chat, scenario, platform="web",
                                             lobby=GENERAL, speed=6000, poll=0.05))
    yield url, task
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await runner.cleanup()


async def test_the_briefing_then_each_new_fact_arrives_in_the_drill_room_in_order(
    exercise: tuple[str, asyncio.Task[None]],
) -> None:
    url, task = exercise
    ann = await Person(url).named("Ann")
    try:
        briefing = await ann.wait_for(lambda: _text(ann, GENERAL))
        assert "DRILL" in briefing and "/breach drill Laptop with client files stolen" in briefing
        await ann.type("/breach drill Laptop with client files stolen from an employee's car")
        await asyncio.wait_for(task, timeout=20)
        rooms = [r for r in (await ann.state())["rooms"] if r["name"].startswith("drill-")]
        assert len(rooms) == 1 and rooms[0]["drill"]
        html = await ann.html(rooms[0]["id"])
        facts = re.findall(r"New fact (\d) of 5", html)
        assert facts == ["1", "2", "3", "4", "5"]
        assert html.index("signed in to the shared mailbox") < html.index("not encrypted")
        assert "last new fact" in html
    finally:
        await ann.close()


async def _text(person: Person, room: str) -> str:
    return await person.html(room)


def test_the_drill_command_names_an_unknown_scenario_in_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "drill", "--scenario", "tornado")
    one_line_error(result, "--scenario", "lost-laptop")


async def test_the_drill_command_starts_the_console_with_the_exercise(tmp_path: Path) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *COMMAND, "drill", "--scenario", "phishing", "--speed", "60", "--port", str(port),
        env=environment(tmp_path, BREACHROOM_CONSOLE_TOKEN=""), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode().strip()
        second = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode().strip()
        assert first == f"Breachroom console: http://127.0.0.1:{port}/"
        assert second.startswith("Breachroom drill: The invoice that was not an invoice") and "60 times" in second
        person = Person(f"http://127.0.0.1:{port}")
        try:
            await wait_until_ok(person.http, f"http://127.0.0.1:{port}/readyz", proc)
            await person.named("Ann")
            briefing = await person.wait_for(lambda: _text(person, GENERAL), timeout=20)
            assert "Exercise: The invoice that was not an invoice" in briefing
        finally:
            await person.close()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=20)
