"""The incident record as lawyers, insurers and regulators read it: JSON, Markdown and Word.

A drill's record is a training record: it adds who took part and how long each step took.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import access, clocks, notice_drafts, summary
from bot.core import Core
from bot.deadlines.export import result_data
from bot.domain import DATA_KINDS, SEVERITIES, age
from bot.notices.facts import FactsError
from bot.playbook import Playbook
from storage import queries
from storage.db import Database
from storage.models import Incident, TimelineEntry, utcnow


def iso(instant: datetime | None) -> str | None:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z") if instant else None


async def incident_lines(db: Database, *, drills: bool = False) -> list[str]:
    """One line per incident, id first: `7  open  2026-11-27T09:41:00Z  high  slack  #breach-…  summary`.

    Drills are left out unless `drills`; then each drill's line ends with an eighth column, `drill`.
    """
    async with db.reading() as session:
        incidents = await queries.all_incidents(session)
    return [
        f"{i.id}\t{i.status}\t{iso(i.declared_at)}\t{i.severity}\t{i.platform}\t{_room(i)}\t{i.summary}"
        + ("\tdrill" if i.drill else "")
        for i in incidents
        if drills or not i.drill
    ]


def _room(incident: Incident) -> str:
    """Slack rooms are channels (`#name`); a Teams war room is a chat known by its topic."""
    if not incident.channel_name:
        return "-"
    return f"#{incident.channel_name}" if incident.platform == "slack" else incident.channel_name


async def incident_summary(
    db: Database, incident_id: int, playbook: Playbook, person: Callable[[str], str] = str
) -> summary.Summary | None:
    """The post-incident summary from the store; `person` writes a user id (plain here, a mention in chat)."""
    async with db.reading() as session:
        incident = await queries.incident(session, incident_id)
        if incident is None:
            return None
        items = await queries.items(session, incident_id)
        decisions = await queries.decisions(session, incident_id)
    drafts = await notice_drafts.versions(db, incident_id)
    try:
        deadlines = clocks.summary_lines(await clocks.compute(Core(db=db, playbook=playbook), incident, utcnow()))
    except FactsError:
        deadlines = []
    return summary.build(incident, items, decisions, playbook, notified_at=notice_drafts.notified_at(drafts),
                         notices=notice_drafts.version_lines(drafts, person=person), obligations=deadlines)


async def incident_record(db: Database, incident_id: int, playbook: Playbook) -> dict[str, Any] | None:
    recap = await incident_summary(db, incident_id, playbook)
    if recap is None:
        return None
    incident, decisions = recap.incident, recap.decisions
    async with db.reading() as session:
        items = await queries.items(session, incident_id)
        entries, head = await queries.timeline_and_head(session, incident_id)
    drafts = await notice_drafts.versions(db, incident_id)
    try:
        deadlines = result_data(await clocks.compute(Core(db=db, playbook=playbook), incident, utcnow()))
    except FactsError:
        deadlines = {"obligations": [], "questions": []}
    titles = {s.key: s.title for s in playbook.sections}
    data: dict[str, Any] = {
        "id": incident.id,
        "drill": incident.drill,
        "summary": incident.summary,
        "severity": incident.severity,
        "status": incident.status,
        "platform": incident.platform,
        "workspace": incident.team_id,
        "declared_at": iso(incident.declared_at),
        "declared_by": incident.declared_by,
        "responder": incident.responder_id,
        "responder_designated_in_advance": incident.responder_is_designated,
        "backup": incident.backup_id,
        "discovered_at": iso(incident.discovered_at),
        "data_kinds": [DATA_KINDS.get(k, k) for k in incident.data_kinds],
        "affected_clients": incident.affected_clients,
        "compromised_account": incident.compromised_account,
        "war_room": {"id": incident.channel_id, "name": incident.channel_name, "build": incident.build_status,
                     "problems": incident.build_problems},
        "checklist": [
            {"section": titles.get(i.section, i.section), "item": i.label, "state": i.state,
             "by": i.changed_by, "at": iso(i.changed_at)}
            for i in items
        ],
        "decisions": [
            {"text": d.text, "rationale": d.rationale, "by": d.decided_by, "at": iso(d.decided_at)}
            for d in decisions
        ],
        "timeline": [
            {"at": iso(e.at), "actor": e.actor, "action": e.action, "detail": e.detail} for e in entries
        ],
        # The hash of the newest entry of the timeline's SHA-256 chain (storage/audit.py): a copy of it kept
        # outside the database shows whether the timeline was changed since.
        "timeline_head_hash": head,
        "notices": [
            {"version": d.version, "status": d.status, "drafted_by": d.created_by, "drafted_at": iso(d.created_at),
             "decided_by": d.decided_by, "decided_at": iso(d.decided_at), "note": d.decision_note,
             "facts_to_confirm": d.missing}
            for d in drafts
        ],
        "obligations": deadlines["obligations"],
        "obligation_questions": deadlines["questions"],
        "closed_at": iso(incident.closed_at),
        "closed_by": incident.closed_by,
        "post_incident": {
            "key_times": {label: iso(at) for label, at in recap.times},
            "durations_seconds": {label: int(span.total_seconds()) if span is not None else None
                                  for label, span in recap.durations},
            "follow_ups": [{"item": label, "owner": owner} for label, owner in recap.follow_ups],
            "notice_versions": list(recap.notices),
            "notification_deadlines": list(recap.obligations),
        },
    }
    if incident.drill:
        data["training"] = training(incident, entries)
    return data


# What each kind of timeline entry says someone did, in a drill's training record: (took part as, step).
PART_TAKEN: dict[str, tuple[str, str]] = {
    "incident.declared": ("declared", "Declared the drill"),
    "item.done": ("pressed", "Step done"),
    "item.reopened": ("pressed", "Step undone"),
    "obligation.done": ("pressed", "Notification marked done"),
    "decision.recorded": ("decided", "Decision"),
    "clock.recorded": ("decided", "Clock fact"),
    "notice.facts": ("wrote the notice", "Notice facts entered"),
    "notice.drafted": ("wrote the notice", "Client notice drafted"),
    "notice.changes_requested": ("reviewed the notice", "Changes to the notice requested"),
    "notice.approved": ("approved the notice", "Client notice approved"),
    "incident.closed": ("closed", "Closed"),
    "incident.reopened": ("reopened", "Reopened"),
}
BOT = "breachroom"


def training(incident: Incident, entries: Sequence[TimelineEntry]) -> dict[str, Any]:
    """Who took part in a drill (everyone who declared, pressed, decided …) and each step people took: when,
    how long after the declaration, and how long after the step before it."""
    start = incident.declared_at
    people: dict[str, dict[str, Any]] = {}
    steps: list[dict[str, Any]] = []
    previous = start
    for entry in entries:
        if entry.actor == BOT or entry.action == access.REFUSED:
            continue  # a refused press or decision is in the timeline, but it is no part taken in the drill
        role, step = PART_TAKEN.get(entry.action, (entry.action, entry.action))
        person = people.setdefault(entry.actor, {"who": entry.actor, "took_part_as": [], "actions": 0,
                                                 "first_at": iso(entry.at), "last_at": iso(entry.at)})
        if role not in person["took_part_as"]:
            person["took_part_as"].append(role)
        person["actions"] += 1
        person["last_at"] = iso(entry.at)
        steps.append({
            "step": len(steps), "at": iso(entry.at), "who": entry.actor, "action": entry.action,
            # The declaration's detail repeats the summary the record starts with.
            "what": f"{step}: {entry.detail}" if entry.detail and entry.action != "incident.declared" else step,
            "seconds_since_declaration": _seconds(entry.at - start),
            "seconds_since_previous_step": _seconds(entry.at - previous),
        })
        previous = max(previous, entry.at)
    end = incident.closed_at or previous
    return {"participants": list(people.values()), "steps": steps,
            "seconds_declaration_to_last_step": _seconds(end - start) if steps else 0}


def _seconds(span: timedelta) -> int:
    return max(0, int(span.total_seconds()))


def took(seconds: int) -> str:
    """A step's duration in a training record: seconds count when people practise quickly."""
    return f"{seconds} s" if seconds < 60 else age(timedelta(seconds=seconds))


def to_json(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False)


def to_markdown(record: dict[str, Any]) -> str:
    sev = SEVERITIES.get(record["severity"], record["severity"])
    drill = record.get("training")
    lines = [
        f"# Drill {record['id']}: {record['summary']} (training record)" if drill else
        f"# Incident {record['id']}: {record['summary']}",
        "",
    ]
    if drill:
        lines += ["This was a drill, a practice incident, not a real breach. Its record is a training record: "
                  "who took part, and how long each step took.", ""]
    lines += [
        f"- Severity: {sev}",
        f"- Status: {record['status']}",
        f"- Platform: {record['platform']} (workspace {record['workspace']})",
        f"- Declared: {record['declared_at']} by {record['declared_by']}",
        f"- Responder: {record['responder']}"
        + ("" if record["responder_designated_in_advance"] else " (no responder was designated; the declarer led)"),
    ]
    if record["discovered_at"]:
        lines.append(f"- Discovered: {record['discovered_at']}")
    if record["data_kinds"]:
        lines.append(f"- Data that may be exposed: {', '.join(record['data_kinds'])}")
    if record["affected_clients"] is not None:
        lines.append(f"- Clients affected (rough): {record['affected_clients']}")
    if record["war_room"]["name"]:
        lines.append(f"- War room: #{record['war_room']['name']}")
    if drill:
        lines += _training_markdown(drill)
    lines += ["", "## Checklist", "", "| Section | Step | State | By | At |", "|---|---|---|---|---|"]
    lines += [
        f"| {c['section']} | {_cell(c['item'])} | {c['state']} | {c['by'] or ''} | {c['at'] or ''} |"
        for c in record["checklist"]
    ]
    lines += ["", "## Decisions", ""]
    if not record["decisions"]:
        lines.append("None recorded.")
    for n, d in enumerate(record["decisions"], 1):
        lines.append(f"{n}. {d['at']} by {d['by']}: {d['text']}")
        if d["rationale"]:
            lines.append(f"   Why: {d['rationale']}")
    post = record["post_incident"]
    lines += ["", "## Post-incident summary", "", "| Key time | When (UTC) |", "|---|---|"]
    lines += [f"| {label} | {at or 'not recorded'} |" for label, at in post["key_times"].items()]
    lines += ["", "| Stage | Took |", "|---|---|"]
    lines += [f"| {label} | {age(timedelta(seconds=secs)) if secs is not None else 'n/a'} |"
              for label, secs in post["durations_seconds"].items()]
    lines += ["", "Follow-ups:", ""]
    lines += [f"- {f['item']} (owner: {f['owner']})" for f in post["follow_ups"]] or ["- None."]
    lines += ["", "Notification deadlines:", ""]
    lines += [f"- {line}" for line in post["notification_deadlines"]] or ["- None known."]
    lines += ["", "Client notice versions:", ""]
    lines += [f"- {line}" for line in post["notice_versions"]] or ["- None drafted."]
    lines += ["", "## Timeline", ""]
    if record.get("timeline_head_hash"):
        lines += [f"Head hash of the timeline's SHA-256 chain (`breachroom audit verify {record['id']}` checks it): "
                  f"{record['timeline_head_hash']}", ""]
    lines += ["| At (UTC) | Who | What | Detail |", "|---|---|---|---|"]
    lines += [f"| {e['at']} | {e['actor']} | {e['action']} | {_cell(e['detail'])} |" for e in record["timeline"]]
    return "\n".join(lines) + "\n"


def _training_markdown(drill: dict[str, Any]) -> list[str]:
    lines = ["", "## Who took part", "", "| Who | Took part as | Actions | First | Last |", "|---|---|---|---|---|"]
    lines += [f"| {p['who']} | {', '.join(p['took_part_as'])} | {p['actions']} | {p['first_at']} | {p['last_at']} |"
              for p in drill["participants"]]
    lines += ["", "## Steps and how long they took", "",
              f"Declaration to the last step: {took(drill['seconds_declaration_to_last_step'])}.", "",
              "| # | At (UTC) | Who | What | Since declaration | Since the step before |", "|---|---|---|---|---|---|"]
    lines += [f"| {s['step']} | {s['at']} | {s['who']} | {_cell(s['what'])} | {took(s['seconds_since_declaration'])} "
              f"| {took(s['seconds_since_previous_step'])} |" for s in drill["steps"]]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")



def to_docx(record: dict[str, Any], chart_png: bytes | None = None) -> bytes:
    """The same record as a Word document, with the timeline chart embedded."""
    import io

    from docx import Document
    from docx.shared import Inches

    doc = Document()
    title, _, *markdown = to_markdown(record).splitlines()
    doc.add_heading(title.removeprefix("# "), level=0)
    table_rows: list[list[str]] = []

    def flush() -> None:
        rows = [r for r in table_rows if not all(set(c) <= {"-"} for c in r)]
        if rows:
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, cell in enumerate(row[: len(rows[0])]):
                    table.cell(r, c).text = cell.replace("\\|", "|")
        table_rows.clear()

    for line in markdown:
        if line.startswith("|"):
            table_rows.append([c.strip() for c in line.strip("|").split(" | ")])
            continue
        flush()
        if line.startswith("## "):
            doc.add_heading(line[3:], level=1)
            if line == "## Post-incident summary" and chart_png:
                doc.add_picture(io.BytesIO(chart_png), width=Inches(6.3))
        elif line.startswith("- "):
            doc.add_paragraph(line[2:], style="List Bullet")
        elif line.strip():
            doc.add_paragraph(line.strip())
    flush()
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
