"""Cards and forms the bot shows. Pure functions of stored state: no I/O here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.cards import (
    Button,
    Buttons,
    Card,
    ChecklistRow,
    Context,
    Divider,
    Fields,
    Form,
    FormField,
    Header,
    Option,
    Text,
    mention,
    room,
)
from bot.domain import DATA_KINDS, DEFAULT_SEVERITY, DONE, SEVERITIES, age, when
from bot.playbook import Playbook, Section
from storage.models import ChecklistItem, Decision, Incident

ITEM_TOGGLE = "item.toggle"
DECISION_OPEN = "decision.open"
DECISION_SUBMIT = "decision.submit"
DECLARE_SUBMIT = "declare.submit"
NOTICE_DRAFT, NOTICE_FACTS = "notice.draft", "notice.facts"
INTRO, ACTIONS = "intro", "actions"
DRILL_NOTE = ("This is a drill, a practice incident: respond as you would to a real breach. Nothing is announced, "
              "and `breachroom incidents export` gives its training record.")


def note(text: str) -> Card:
    """A one-paragraph private answer."""
    return Card(fallback=text, parts=(Text(text),))


def intro_card(incident: Incident) -> Card:
    fields: list[tuple[str, str]] = [
        ("Status", "Closed" if incident.status == "closed" else "Open"),
        ("Severity", SEVERITIES.get(incident.severity, incident.severity)),
        ("Responder", mention(incident.responder_id)),
        ("Declared by", mention(incident.declared_by)),
        ("Declared", when(incident.declared_at)),
    ]
    if incident.backup_id:
        fields.append(("Backup", mention(incident.backup_id)))
    if incident.discovered_at:
        fields.append(("Discovered", when(incident.discovered_at)))
    if incident.data_kinds:
        fields.append(("Data that may be exposed", ", ".join(DATA_KINDS.get(k, k) for k in incident.data_kinds)))
    if incident.affected_clients is not None:
        fields.append(("Clients affected (rough)", f"{incident.affected_clients:,}"))
    if incident.compromised_account:
        fields.append(("Suspected compromised account", mention(incident.compromised_account)))
    parts: list = [Header(f"Breach war room: incident {incident.id}"), Text(f"**{incident.summary}**")]
    parts.append(Fields(tuple(fields)))
    if not incident.responder_is_designated and incident.responder_id == incident.declared_by:
        parts.append(
            Context(
                f"No designated responder was set for this workspace, so {mention(incident.declared_by)} "
                "leads this response. Choose one before the next breach with `/breach responder @name`."
            )
        )
    if incident.drill:
        parts.append(Context(DRILL_NOTE))
    parts.append(
        Context(
            "Press a step's button as the work gets done: every press is recorded with who and when. "
            "Record each decision with `/breach decision …` or the button at the bottom."
        )
    )
    return Card(fallback=f"Breach war room: {incident.summary}", parts=tuple(parts), key=INTRO)


def section_progress(section: Section, items: Sequence[ChecklistItem]) -> tuple[int, int]:
    mine = [i for i in items if i.section == section.key]
    return sum(1 for i in mine if i.state == DONE), len(mine)


def section_card(incident: Incident, section: Section, items: Sequence[ChecklistItem]) -> Card:
    done, total = section_progress(section, items)
    parts: list = [Header(f"{section.title} {done}/{total}")]
    if section.hint:
        parts.append(Context(section.hint))
    for item in sorted((i for i in items if i.section == section.key), key=lambda i: i.position):
        is_done = item.state == DONE
        detail = None
        if is_done and item.changed_by and item.changed_at:
            detail = f"Done by {mention(item.changed_by)} · {when(item.changed_at)}"
        target = "open" if is_done else DONE
        button = Button(
            label="Undo" if is_done else "Done",
            action=ITEM_TOGGLE,
            value=f"{incident.id}:{item.key}:{target}",
            style=None if is_done else "primary",
        )
        parts.append(ChecklistRow(label=item.label, done=is_done, detail=detail, button=button))
    return Card(fallback=f"{section.title} {done}/{total}", parts=tuple(parts), key=section.key)


def actions_card(incident: Incident) -> Card:
    value = str(incident.id)
    return Card(
        fallback="Record a decision",
        parts=(
            Divider(),
            Buttons((
                Button("Record decision", DECISION_OPEN, value),
                Button("Draft client notice", NOTICE_DRAFT, value),
                Button("Notice facts", NOTICE_FACTS, value),
            )),
        ),
        key=ACTIONS,
    )


def checklist_cards(incident: Incident, items: Sequence[ChecklistItem], playbook: Playbook) -> list[Card]:
    """The pinned run-book, in order: intro, one card per section, the action buttons."""
    cards = [intro_card(incident)]
    cards += [section_card(incident, s, items) for s in playbook.sections]
    cards.append(actions_card(incident))
    return cards


def decision_card(decision: Decision, number: int) -> Card:
    parts: list = [Text(f"**Decision {number}** by {mention(decision.decided_by)}\n{decision.text}")]
    if decision.rationale:
        parts.append(Text(f"_Why:_ {decision.rationale}"))
    parts.append(Context(f"Recorded {when(decision.decided_at)} · kept in the incident record"))
    return Card(fallback=f"Decision {number}: {decision.text[:150]}", parts=tuple(parts), key="decision")


def status_card(
    incident: Incident, items: Sequence[ChecklistItem], playbook: Playbook, now: datetime
) -> Card:
    progress = []
    for section in playbook.sections:
        done, total = section_progress(section, items)
        progress.append(f"{section.title} {done}/{total}")
    open_items = [i for i in sorted(items, key=lambda i: i.position) if i.state != DONE]
    titles = {s.key: s.title for s in playbook.sections}
    parts: list = [
        Header(f"Status of incident {incident.id}"),
        Text(f"**{incident.summary}**"),
        Fields(
            (
                ("Progress", " · ".join(progress)),
                ("Responder", mention(incident.responder_id)),
                ("Age", age(now - incident.declared_at)),
                ("Severity", SEVERITIES.get(incident.severity, incident.severity)),
            )
        ),
    ]
    if open_items:
        lines = "\n".join(f"• {titles.get(i.section, i.section)}: {i.label}" for i in open_items)
        parts.append(Text(f"**Still open ({len(open_items)})**\n{lines}"))
    else:
        parts.append(Text("**Every step is done.**"))
    return Card(fallback=f"Status: {' · '.join(progress)}", parts=tuple(parts))


def declared_card(incident: Incident) -> Card:
    """The declarer's private confirmation once the room exists."""
    lines = [f"Your private war room is ready: {room(incident.channel_id or '')}."]
    if incident.responder_is_designated:
        lines.append(f"{mention(incident.responder_id)} is the responder and has been invited.")
    else:
        lines.append(
            "No designated responder is set, so you lead this one. "
            "Before the next breach, choose one with `/breach responder @name`."
        )
    lines.append("Nothing about this breach was posted where you typed the command.")
    return Card(fallback=lines[0], parts=(Text("\n".join(lines)),))


def opening_card(summary: str) -> Card:
    return note(
        f"Opening a private war room for “{summary}”. I'll send you the link here in a moment. "
        "Nothing about it is posted in this channel."
    )


HELP_TEXT = """**Breachroom: run your breach response from here**
`/breach <what happened>`: declare a breach now; opens a private war room with the checklist
`/breach`: declare with a form (severity, data involved, clients affected…)
`/breach declare <text>`: declare when the text starts with a command word
`/breach drill <what happened>`: practise: a drill war room, every card marked DRILL, never announced; alone, a form
`/breach decision <text>`: record a decision (in the war room)
`/breach status`: progress, responder and open steps (in the war room)
`/breach invite @name @name`: add people to the war room (in the war room, for the people in it)
`/breach responder @name`: choose who leads when a breach happens; alone, shows who it is (in a war room: its own)
`/breach backup @name`: choose a backup responder; alone, shows who it is (in a war room: that incident's)
`/breach declarers @name @group`: only they (and the responder, backup and admins) may declare; `everyone` resets
`/breach close`: close the incident and post the post-incident summary (in the war room)
`/breach reopen`: reopen a closed incident; its record continues (in the war room)
`/breach announce #channel`: also post summaries, without client details, in that channel (`off` stops it)
`/breach clock`: record when things happened and the assessments that start the legal notification clocks
`/breach timezone <Area/City>`: the time zone deadlines are shown in
`/breach notice`: draft the client notice (Word and Markdown) in the war room; `/breach notice facts` edits its facts
`/breach help`: this list"""


def help_card() -> Card:
    return Card(fallback="Breachroom commands", parts=(Text(HELP_TEXT),))


def declare_form_value(origin_channel: str, *, drill: bool) -> str:
    """What the declare form carries back: the channel it was opened from, and whether it declares a drill."""
    return json.dumps({"origin": origin_channel, "drill": True}) if drill else origin_channel


def declare_form_context(value: str) -> tuple[str | None, bool]:
    """(origin channel, drill) from a declare form's value; a plain channel id is a real breach's form."""
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return (str(data["origin"]) if data.get("origin") else None), data.get("drill") is True
    return value or None, False


def declare_form(origin_channel: str, now: datetime, *, drill: bool = False) -> Form:
    intro = "This opens a private war room with the response checklist. Only the summary is required."
    if drill:
        intro = ("This opens a practice war room: a drill. Every card in it says DRILL, nothing is announced, and "
                 "its export is a training record. Only the summary is required.")
    return Form(
        title="Declare a drill" if drill else "Declare a breach",
        submit="Open drill room" if drill else "Open war room",
        action=DECLARE_SUBMIT,
        value=declare_form_value(origin_channel, drill=drill),
        intro=intro,
        fields=(
            FormField("summary", "What happened, in one line", "text", max_length=1000,
                      placeholder="e.g. Client database copied from the file server"),
            FormField("severity", "Severity", "select", initial=DEFAULT_SEVERITY,
                      options=tuple(Option(k, v) for k, v in SEVERITIES.items())),
            FormField("discovered", "When was it discovered?", "datetime", required=False,
                      initial=now.isoformat()),
            FormField("data_kinds", "Which kinds of data may be exposed?", "multiselect", required=False,
                      options=tuple(Option(k, v) for k, v in DATA_KINDS.items())),
            FormField("affected", "Roughly how many clients are affected?", "number", required=False),
            FormField("compromised", "Suspected compromised employee account", "user", required=False),
        ),
    )


def decision_form(incident_id: int) -> Form:
    return Form(
        title="Record decision",
        submit="Record",
        action=DECISION_SUBMIT,
        value=str(incident_id),
        fields=(
            FormField("decision", "Decision", "multiline", max_length=3000,
                      placeholder="e.g. Take the file server offline until it is rebuilt"),
            FormField("rationale", "Why (optional)", "multiline", required=False, max_length=3000),
        ),
    )

