"""Tabletop exercises: a scenario's briefing, then new facts ("injects") posted into the drill's war room at
set minutes after it is declared, to see whether the team follows the checklist.

Scenarios are YAML files (`title`, `summary`, `briefing`, `injects` of `at` minutes and `text`); the built-in
ones sit beside this module and a business can write its own.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
import yaml
from sqlmodel import col, select

from bot.cards import Card, Context, Header, Text
from bot.core import Core
from bot.drills import drill_text
from bot.ports import ChatError, ChatPort
from storage.models import Incident

log = logging.getLogger(__name__)
MAX_TEXT = 2000
MAX_INJECTS = 50


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Inject:
    at: float  # minutes after the drill is declared
    text: str


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    summary: str
    briefing: str
    injects: tuple[Inject, ...]


def built_in() -> list[str]:
    return sorted(p.name.removesuffix(".yml") for p in resources.files(__name__).iterdir()
                  if p.name.endswith(".yml"))


def load(name_or_path: str) -> Scenario:
    """A built-in scenario by name (`lost-laptop`), or a YAML file of the business's own by its path."""
    path = Path(name_or_path)
    if name_or_path in built_in():
        source = resources.files(__name__).joinpath(f"{name_or_path}.yml").read_text(encoding="utf-8")
        label = name_or_path
    elif path.suffix in (".yml", ".yaml") and path.is_file():
        source, label = path.read_text(encoding="utf-8"), str(path)
    else:
        raise ScenarioError(f"no scenario {name_or_path!r}: use one of {', '.join(built_in())} "
                            "or the path of a .yml file")
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{label}: not valid YAML ({exc})") from None
    return _parse(data, label, path.stem if label == str(path) else name_or_path)


def _text(data: dict, key: str, label: str, limit: int = MAX_TEXT) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ScenarioError(f"{label}: `{key}` must be some text")
    if len(value) > limit:
        raise ScenarioError(f"{label}: `{key}` is longer than {limit} characters")
    return value.strip()


def _parse(data: object, label: str, name: str) -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(f"{label}: expected `title`, `summary`, `briefing` and `injects`")
    injects = data.get("injects")
    if not isinstance(injects, list) or not injects or len(injects) > MAX_INJECTS:
        raise ScenarioError(f"{label}: `injects` must list 1 to {MAX_INJECTS} items of `at` (minutes) and `text`")
    parsed = []
    for number, item in enumerate(injects, 1):
        where = f"{label}: inject {number}"
        if not isinstance(item, dict):
            raise ScenarioError(f"{where} must have `at` (minutes) and `text`")
        at = item.get("at")
        if isinstance(at, bool) or not isinstance(at, int | float) or at < 0:
            raise ScenarioError(f"{where}: `at` must be the minutes after the drill is declared (0 or more)")
        parsed.append(Inject(float(at), _text(item, "text", where)))
    return Scenario(name=name, title=_text(data, "title", label, 200), summary=_text(data, "summary", label, 200),
                    briefing=_text(data, "briefing", label), injects=tuple(sorted(parsed, key=lambda i: i.at)))


def briefing_card(scenario: Scenario) -> Card:
    return Card(fallback=drill_text(f"Exercise: {scenario.title}"), parts=(
        Header(drill_text(f"Exercise: {scenario.title}")),
        Text(scenario.briefing),
        Context(f"Start it with `/breach drill {scenario.summary}`. New facts will arrive in the drill's war room "
                f"as the exercise goes on ({len(scenario.injects)} in all); nothing here is a real breach."),
    ))


def inject_card(inject: Inject, number: int, total: int) -> Card:
    minute = f"{inject.at:g}"
    return Card(fallback=drill_text(f"New fact {number} of {total}"), parts=(
        Header(drill_text(f"New fact {number} of {total} (minute {minute})")),
        Text(inject.text),
    ))


def last_card() -> Card:
    return Card(fallback=drill_text("That was the last new fact"), parts=(
        Text(drill_text("That was the last new fact. Finish the checklist, then `/breach close` posts the "
                        "summary; `breachroom incidents export` gives the training record.")),))


async def _drill_room(core: Core, platform: str, since: datetime) -> tuple[datetime, str] | None:
    """The first drill declared on `platform` since the exercise began, once its room exists."""
    async with core.db.reading() as session:
        found = (await session.execute(
            select(Incident).where(Incident.platform == platform, col(Incident.drill).is_(sa.true()),
                                   Incident.declared_at >= since).order_by(col(Incident.id)))).scalars().first()
    if found is None or not found.channel_id:
        return None
    return found.declared_at, found.channel_id


async def run(core: Core, port: ChatPort, scenario: Scenario, *, platform: str, lobby: str, speed: float = 1.0,
              poll: float = 0.5) -> None:
    """Brief the team in `lobby`, wait for them to declare the drill, then post each inject on time.

    `speed` 60 runs a minute of the scenario per second. Minutes count from the declaration, so a team that
    takes time to declare is not rushed; an inject that could not be posted is retried at the next poll.
    """
    began = core.clock()
    await port.post_cards(lobby, [briefing_card(scenario)])
    found = None
    while found is None:
        await asyncio.sleep(poll)
        found = await _drill_room(core, platform, began)
    declared_at, room_id = found
    total = len(scenario.injects)
    for number, inject in enumerate(scenario.injects, 1):
        due = inject.at * 60 / speed
        while True:
            waited = (core.clock() - declared_at).total_seconds()
            if waited >= due:
                break
            await asyncio.sleep(min(poll, due - waited))
        while True:
            try:
                await port.post_cards(room_id, [inject_card(inject, number, total)])
                break
            except ChatError as exc:
                log.warning("drill inject %s not posted (%s); trying again", number, exc.code)
                await asyncio.sleep(poll)
    await port.post_cards(room_id, [last_card()])
