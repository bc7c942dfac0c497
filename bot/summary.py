"""The post-incident summary: key times, how long each stage took, who did what, what is left."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.cards import Card, Context, Fields, Header, Text, mention
from bot.domain import DATA_KINDS, DONE, SEVERITIES, age, when
from bot.playbook import Playbook
from storage.models import ChecklistItem, Decision, Incident

CARD_DECISIONS = 20
CLIP = 300


@dataclass(frozen=True)
class Done:
    section: str
    label: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Summary:
    incident: Incident
    times: tuple[tuple[str, datetime | None], ...]
    durations: tuple[tuple[str, timedelta | None], ...]
    done: tuple[Done, ...]
    follow_ups: tuple[tuple[str, str], ...]
    decisions: tuple[Decision, ...]
    progress: tuple[tuple[str, int, int], ...]
    notices: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()


def containment_section(playbook: Playbook) -> str:
    """The section whose last step marks containment: `assess`, or the first section of a custom playbook."""
    return "assess" if playbook.section("assess") else playbook.sections[0].key


def follow_up_section(playbook: Playbook) -> str:
    return "prepare" if playbook.section("prepare") else playbook.sections[-1].key


def contained_at(items: Sequence[ChecklistItem], playbook: Playbook) -> datetime | None:
    """When the last containment step was done; None while any of them is open."""
    steps = [i for i in items if i.section == containment_section(playbook)]
    if not steps or any(i.state != DONE or i.changed_at is None for i in steps):
        return None
    return max(i.changed_at for i in steps if i.changed_at)


def _between(start: datetime | None, end: datetime | None) -> timedelta | None:
    return end - start if start and end and end >= start else None


def build(
    incident: Incident,
    items: Sequence[ChecklistItem],
    decisions: Sequence[Decision],
    playbook: Playbook,
    *,
    notified_at: datetime | None = None,
    notices: Sequence[str] = (),
    obligations: Sequence[str] = (),
) -> Summary:
    contained = contained_at(items, playbook)
    declared = incident.declared_at
    times = (
        ("Discovered", incident.discovered_at),
        ("Declared", declared),
        ("Contained", contained),
        ("Clients notified", notified_at),
        ("Closed", incident.closed_at),
    )
    durations = (
        ("Discovery to declaration", _between(incident.discovered_at, declared)),
        ("Declaration to containment", _between(declared, contained)),
        ("Declaration to client notice", _between(declared, notified_at)),
        ("Declaration to closing", _between(declared, incident.closed_at)),
    )
    titles = {s.key: s.title for s in playbook.sections}
    done = tuple(
        Done(titles.get(i.section, i.section), i.label, i.changed_by, i.changed_at)
        for i in sorted(items, key=lambda i: i.changed_at or declared)
        if i.state == DONE and i.changed_by and i.changed_at
    )
    prepare = follow_up_section(playbook)
    follow_ups = tuple((i.label, incident.responder_id) for i in items if i.section == prepare and i.state != DONE)
    progress = tuple(
        (s.title, sum(1 for i in items if i.section == s.key and i.state == DONE),
         sum(1 for i in items if i.section == s.key))
        for s in playbook.sections
    )
    return Summary(incident, times, durations, done, follow_ups, tuple(decisions), progress, tuple(notices),
                   tuple(obligations))


def _clip(text: str, limit: int = CLIP) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cards(summary: Summary, *, public: bool = False) -> list[Card]:
    """The summary as cards for the war room; `public` leaves out everything people typed.

    The public version goes to an announcement channel: no summary text, no decisions, no names of
    clients can appear in it, only categories, counts, times and progress.
    """
    incident = summary.incident
    kinds = ", ".join(DATA_KINDS.get(k, k) for k in incident.data_kinds) or "Not recorded"
    clients = f"{incident.affected_clients:,}" if incident.affected_clients is not None else "Not recorded"
    overview: list = [Header(f"Post-incident summary: incident {incident.id}")]
    if not public:
        overview.append(Text(f"**{incident.summary}**"))
    overview.append(Fields((
        ("Severity", SEVERITIES.get(incident.severity, incident.severity)),
        ("Kinds of data", kinds),
        ("Clients affected", clients),
        ("Responder", mention(incident.responder_id)),
    )))
    overview.append(Text("**Key times**\n" + "\n".join(
        f"• {label}: {when(at) if at else 'not recorded'}" for label, at in summary.times)))
    overview.append(Text("**How long it took**\n" + "\n".join(
        f"• {label}: {age(span) if span is not None else 'n/a'}" for label, span in summary.durations)))
    overview.append(Text("**Checklist**: " + " · ".join(f"{t} {d}/{n}" for t, d, n in summary.progress)))
    result = [Card(fallback=f"Incident {incident.id} closed: post-incident summary", parts=tuple(overview),
                   key="summary")]
    if public:
        result[0] = Card(result[0].fallback, (*result[0].parts, Context(
            "Details, decisions and the full record stay in the private war room.")), "summary")
        return result
    decisions = [f"{n}. {_clip(d.text)} ({mention(d.decided_by)}, {when(d.decided_at)})"
                 for n, d in enumerate(summary.decisions[:CARD_DECISIONS], 1)]
    if len(summary.decisions) > CARD_DECISIONS:
        decisions.append(f"… and {len(summary.decisions) - CARD_DECISIONS} more in the export.")
    record: list = [Text("**Decisions, in order**\n" + ("\n".join(decisions) or "None recorded."))]
    done = [f"• {d.section}: {_clip(d.label, 120)} ({mention(d.by)}, {when(d.at)})" for d in summary.done]
    for start in range(0, len(done), 12):
        title = "**Who did what**\n" if start == 0 else ""
        record.append(Text(title + "\n".join(done[start : start + 12])))
    if not done:
        record.append(Text("**Who did what**\nNo checklist step was marked done."))
    follow = [f"• {_clip(label, 150)} (owner: {mention(owner)})" for label, owner in summary.follow_ups]
    record.append(Text("**Follow-ups**\n" + ("\n".join(follow) or "None: every preparation step is done.")))
    if summary.notices:
        record.append(Text("**Client notice versions**\n" + "\n".join(f"• {n}" for n in summary.notices)))
    if summary.obligations:
        shown = [f"• {_clip(line, 250)}" for line in summary.obligations[:15]]
        record.append(Text("**Notification deadlines**\n" + "\n".join(shown)))
    record.append(Context("The full record: `breachroom incidents export "
                          f"{incident.id} --format md` (or json, docx)."))
    result.append(Card(fallback="Decisions and checklist", parts=tuple(record), key="summary-record"))
    return result

