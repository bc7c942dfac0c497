"""Every button and form the bot's cards carry, by action name: one table for every platform.

An adapter reads the action name and value from a press (or the values from a form) and calls `press` or
`submit`; what each does is decided here, so Slack and Teams cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from bot import checklist, clock_facts, clocks, closing, decisions, notice_drafts, notice_facts, views
from bot.cards import literal
from bot.core import Core, Reply
from bot.declare import declare_from_form
from bot.domain import Actor, parse_id

Press = Callable[[Core, Actor, str, str | None], Awaitable[Reply]]
Submit = Callable[[Core, Actor, str, Mapping[str, object], str | None], Awaitable[Reply]]
OUT_OF_DATE = "That button is out of date."


def _for_incident(use_case: Callable[[Core, Actor, int], Awaitable[Reply]]) -> Press:
    async def pressed(core: Core, actor: Actor, value: str, room: str | None) -> Reply:
        incident_id = parse_id(value)
        if incident_id is None:
            return Reply(card=views.note(OUT_OF_DATE))
        return await use_case(core, actor, incident_id)

    return pressed


async def _toggle(core: Core, actor: Actor, value: str, room: str | None) -> Reply:
    return await checklist.press(core, actor, value, channel_id=room)


async def _close(core: Core, actor: Actor, value: str, room: str | None) -> Reply:
    return await closing.confirm_close(core, actor, value)


async def _decision_form(core: Core, actor: Actor, value: str, room: str | None) -> Reply:
    return await decisions.open_decision_form(core, actor, value)


async def _changes_form(core: Core, actor: Actor, value: str, room: str | None) -> Reply:
    return await notice_drafts.changes_form(core, actor, value)


async def _approve(core: Core, actor: Actor, value: str, room: str | None) -> Reply:
    return await notice_drafts.approve(core, actor, value)


async def _mark_done(core: Core, actor: Actor, value: str, room: str | None) -> Reply:
    return await clocks.mark_done(core, actor, value)


BUTTONS: dict[str, Press] = {
    views.ITEM_TOGGLE: _toggle,
    closing.INCIDENT_CLOSE: _close,
    views.DECISION_OPEN: _decision_form,
    views.NOTICE_DRAFT: _for_incident(notice_drafts.draft),
    views.NOTICE_FACTS: _for_incident(notice_facts.facts_form),
    notice_drafts.APPROVE: _approve,
    notice_drafts.CHANGES_OPEN: _changes_form,
    clocks.MARK_DONE: _mark_done,
    clocks.CLOCK_OPEN: _for_incident(clock_facts.open_clock_form),
}


async def _clock(core: Core, actor: Actor, meta: str, values: Mapping[str, object], key: str | None) -> Reply:
    return await clock_facts.submit_clock(core, actor, meta, values)


async def _decision(core: Core, actor: Actor, meta: str, values: Mapping[str, object], key: str | None) -> Reply:
    return await decisions.submit_decision_form(core, actor, meta, values, delivery_key=key)


async def _declare(core: Core, actor: Actor, meta: str, values: Mapping[str, object], key: str | None) -> Reply:
    origin, drill = views.declare_form_context(meta)
    return await declare_from_form(core, actor, values, origin_channel=origin, drill=drill)


async def _facts(core: Core, actor: Actor, meta: str, values: Mapping[str, object], key: str | None) -> Reply:
    return await notice_facts.submit_facts(core, actor, meta, values)


async def _changes(core: Core, actor: Actor, meta: str, values: Mapping[str, object], key: str | None) -> Reply:
    return await notice_drafts.request_changes(core, actor, meta, values)


def _as_typed(value: object) -> object:
    if isinstance(value, list):
        return [_as_typed(v) for v in value]
    return literal(value) if isinstance(value, str) else value


def _typed(use_case: Submit) -> Submit:
    """A form's values are what the person typed or picked: a `@{U1}` typed in a text field names nobody
    (`literal`), as in a typed command. Pickers give plain ids, which it leaves as they are."""

    async def submitted(core: Core, actor: Actor, meta: str, values: Mapping[str, object], key: str | None) -> Reply:
        return await use_case(core, actor, meta, {name: _as_typed(v) for name, v in values.items()}, key)

    return submitted


# Each form's use case, and the field that shows an error about no field in particular.
FORMS: dict[str, tuple[Submit, str]] = {
    clock_facts.CLOCK_SUBMIT: (_typed(_clock), "why"),
    views.DECISION_SUBMIT: (_typed(_decision), "decision"),
    views.DECLARE_SUBMIT: (_typed(_declare), "summary"),
    notice_facts.FACTS_SUBMIT: (_typed(_facts), "what_happened"),
    notice_drafts.CHANGES_SUBMIT: (_typed(_changes), "changes"),
}


async def press(core: Core, action: str, actor: Actor, value: str, room: str | None) -> Reply:
    """Run the button `action` pressed by `actor` in `room`; an unknown one is out of date, not an error."""
    use_case = BUTTONS.get(action.split("#", 1)[0])
    if use_case is None:
        return Reply(card=views.note(OUT_OF_DATE))
    return await use_case(core, actor, value, room)
