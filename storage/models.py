"""The tables. Platform ids are opaque strings with the platform's name beside them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from storage.crypto import EncryptedBytes, EncryptedJSON, EncryptedText


def utcnow() -> datetime:
    return datetime.now(UTC)


# Default factories are plain functions, not the builtins `list` and `dict`: pydantic reads a factory's signature
# each time a row object is made, and a builtin's costs ~0.25 ms (half of making an incident).
def empty_list() -> list[Any]:
    return []


def empty_dict() -> dict[str, Any]:
    return {}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as naive UTC (SQLite keeps no zone) and hands back aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _when(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class Workspace(SQLModel, table=True):
    """Settings chosen before any breach: who leads when one happens."""

    __table_args__ = (sa.UniqueConstraint("platform", "team_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    team_id: str
    responder_id: str | None = None
    backup_id: str | None = None
    announce_channel_id: str | None = None
    company: dict[str, Any] = Field(default_factory=empty_dict, sa_type=sa.JSON)
    timezone: str = "UTC"
    # Who may declare (`/breach declarers`): `{"user": id}` and `{"group": id, "name": "@handle"}` entries; empty
    # means anyone in the workspace (bot/access.py).
    declarers: list[dict[str, str]] = Field(default_factory=empty_list, sa_type=sa.JSON,
                                            sa_column_kwargs={"server_default": "[]"})
    updated_at: datetime = _when(default_factory=utcnow)


class Incident(SQLModel, table=True):
    """One declared breach (or drill) and its war room."""

    __table_args__ = (
        sa.UniqueConstraint("platform", "delivery_key"),
        sa.Index("ix_incident_room", "platform", "team_id", "channel_id"),
        sa.Index("ix_incident_dedupe", "dedupe_key", "declared_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    team_id: str
    summary: str = Field(sa_type=EncryptedText)
    severity: str
    status: str = "open"
    declared_by: str
    declared_at: datetime = _when(default_factory=utcnow)
    responder_id: str
    responder_is_designated: bool = True
    backup_id: str | None = None
    discovered_at: datetime | None = _when(default=None, nullable=True)
    data_kinds: list[str] = Field(default_factory=empty_list, sa_type=sa.JSON)
    affected_clients: int | None = None
    compromised_account: str | None = None
    origin_channel_id: str | None = None
    reply_handle: str | None = Field(default=None, sa_type=sa.Text)
    dedupe_key: str
    delivery_key: str | None = None
    channel_id: str | None = None
    channel_name: str | None = None
    build_status: str = "building"
    build_problems: list[str] = Field(default_factory=empty_list, sa_type=sa.JSON)
    closed_at: datetime | None = _when(default=None, nullable=True)
    closed_by: str | None = None
    # Notice facts typed in the war room (the keys of the facts file, without `company`).
    notice_facts: dict[str, Any] = Field(default_factory=empty_dict, sa_type=EncryptedJSON)
    # A practice incident: rows from before drills existed are real incidents.
    drill: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # The timeline's hash chain ends here (storage/audit.py): the newest entry's hash and how many entries there
    # are, so that deleting the newest entries is caught too. Written only when an entry is appended.
    timeline_head_hash: str | None = Field(default=None, sa_type=sa.String(64))
    timeline_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class ChecklistItem(SQLModel, table=True):
    """The state of one playbook step within one incident."""

    __tablename__ = "checklist_item"
    __table_args__ = (sa.UniqueConstraint("incident_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    key: str
    section: str
    position: int
    label: str = Field(sa_type=sa.Text)
    state: str = "open"
    changed_by: str | None = None
    changed_at: datetime | None = _when(default=None, nullable=True)


class PostedMessage(SQLModel, table=True):
    """A message the bot posted, and which of the incident's cards it holds."""

    __tablename__ = "posted_message"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    channel_id: str
    message_id: str
    card_keys: list[str] = Field(default_factory=empty_list, sa_type=sa.JSON)
    pinned: bool = False
    # Its last update did not reach the platform: the ticker renders it again until one does.
    stale: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class Decision(SQLModel, table=True):
    """A decision taken in the war room, kept in full."""

    __table_args__ = (sa.UniqueConstraint("incident_id", "delivery_key"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    text: str = Field(sa_type=EncryptedText)
    rationale: str | None = Field(default=None, sa_type=EncryptedText)
    decided_by: str
    decided_at: datetime = _when(default_factory=utcnow)
    delivery_key: str | None = None
    # A decision that starts or stops a legal clock: `kind` names the fact (`aware_at`, `risk.gdpr` …),
    # `value` holds it; the latest decision of each kind is the fact the clocks use.
    kind: str | None = None
    value: str | None = None


class TimelineEntry(SQLModel, table=True):
    """Append-only record of every state change: who, what, when, from where."""

    __tablename__ = "timeline_entry"
    __table_args__ = (sa.UniqueConstraint("incident_id", "sequence", name="uq_timeline_entry_sequence"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    platform: str
    team_id: str
    at: datetime = _when(default_factory=utcnow)
    actor: str
    action: str
    detail: str = Field(default="", sa_type=EncryptedText)
    # Its place in the incident's hash chain (1, 2, 3 …) and its SHA-256, set when its transaction commits
    # (storage/audit.py). Both stay empty for workspace-level entries (no incident): those are not chained.
    sequence: int | None = None
    entry_hash: str | None = Field(default=None, sa_type=sa.String(64))


class NoticeDraft(SQLModel, table=True):
    """One version of the client notice; versions are never overwritten."""

    __tablename__ = "notice_draft"
    __table_args__ = (sa.UniqueConstraint("incident_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    version: int
    created_by: str
    created_at: datetime = _when(default_factory=utcnow)
    facts: dict[str, Any] = Field(default_factory=empty_dict, sa_type=EncryptedJSON)
    markdown: str = Field(sa_type=EncryptedText)
    docx: bytes = Field(sa_type=EncryptedBytes)
    missing: list[str] = Field(default_factory=empty_list, sa_type=sa.JSON)
    status: str = "draft"
    decided_by: str | None = None
    decided_at: datetime | None = _when(default=None, nullable=True)
    decision_note: str | None = Field(default=None, sa_type=EncryptedText)
    file_ids: list[str] = Field(default_factory=empty_list, sa_type=sa.JSON)


class ObligationMark(SQLModel, table=True):
    """Someone marked a notification obligation done (who, when): the clocks read it, nothing overwrites it."""

    __tablename__ = "obligation_mark"
    __table_args__ = (sa.UniqueConstraint("incident_id", "obligation"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    obligation: str
    marked_by: str
    marked_at: datetime = _when(default_factory=utcnow)


class Reminder(SQLModel, table=True):
    """A reminder due at an instant; claimed and fired exactly once, by whichever process gets it first."""

    __table_args__ = (
        sa.UniqueConstraint("incident_id", "obligation", "kind", "due_at"),
        sa.Index("ix_reminder_pending", "fired_at", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    obligation: str
    kind: str
    due_at: datetime = _when()
    fired_at: datetime | None = _when(default=None, nullable=True)
    text: str = Field(default="", sa_type=sa.Text)


class Person(SQLModel, table=True):
    """Someone the bot has seen: their directory id (Entra object id on Teams), name, and private chat.

    Filled from what the platform tells the bot (every activity's sender, a member lookup); kept so that a
    war room can be created with them as members and a private answer can reach them later.
    """

    __table_args__ = (sa.UniqueConstraint("platform", "team_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    team_id: str
    user_id: str
    directory_id: str | None = None
    name: str | None = None
    # How to reach their private chat with the bot (an opaque adapter handle), once known.
    private_handle: str | None = Field(default=None, sa_type=sa.Text)
    updated_at: datetime = _when(default_factory=utcnow)


class RoomHandle(SQLModel, table=True):
    """How an adapter reaches a room again later (a conversation reference), for proactive posts."""

    __tablename__ = "room_handle"
    __table_args__ = (sa.UniqueConstraint("platform", "room_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    room_id: str
    handle: str = Field(sa_type=sa.Text)
    updated_at: datetime = _when(default_factory=utcnow)


class SharedFile(SQLModel, table=True):
    """A file offered as a signed, expiring download link (where the platform cannot take an upload)."""

    __tablename__ = "shared_file"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    filename: str
    content_type: str
    content: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = _when(default_factory=utcnow)
    expires_at: datetime = _when()


class Secret(SQLModel, table=True):
    """Keys the processes share (the download-link signing key): generated once, the same on every replica."""

    name: str = Field(primary_key=True)
    value: str
    created_at: datetime = _when(default_factory=utcnow)


class ChatRoom(SQLModel, table=True):
    """A room of the chat Breachroom hosts itself (the local console): general, and each war room."""

    __tablename__ = "chat_room"

    id: str = Field(primary_key=True)
    name: str
    topic: str = Field(default="", sa_type=sa.Text)
    private: bool = False
    members: list[str] = Field(default_factory=empty_list, sa_type=sa.JSON)
    created_at: datetime = _when(default_factory=utcnow)


class ChatMessage(SQLModel, table=True):
    """One message in a hosted room, as rendered; `audience` set means only that person sees it."""

    __tablename__ = "chat_message"
    __table_args__ = (sa.Index("ix_chat_message_room", "room_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    room_id: str
    author: str | None = None
    audience: str | None = None
    html: str = Field(sa_type=sa.Text)
    pinned: bool = False
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class RoomBuild(SQLModel, table=True):
    """How far building an incident's war room got, step by step, and until when someone is building it.

    Each step's outcome is stored as it happens, so that any replica can finish what a crashed or failed
    attempt left, exactly once: `lease_until` says who may try now (nobody else until it has passed).
    """

    __tablename__ = "room_build"
    __table_args__ = (sa.Index("ix_room_build_due", "attempts", "lease_until"),)

    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    planned_name: str | None = None
    steps: dict[str, str] = Field(default_factory=empty_dict, sa_type=sa.JSON)
    attempts: int = 0
    lease_until: datetime | None = _when(default=None, nullable=True)
    # After a failed attempt: not before this instant (a sweep waits; a person re-declaring does not).
    retry_at: datetime | None = _when(default=None, nullable=True)
    updated_at: datetime = _when(default_factory=utcnow)


class OutboxPost(SQLModel, table=True):
    """A post the bot owes a room (a decision, the post-incident summary, a note): kept in the transaction of the
    change that calls for it, posted once by whichever process claims it, retried while the platform fails.

    It holds no text: `kind` and `ref` say what to render again from the store when it is posted (bot/outbox.py).
    """

    __tablename__ = "outbox_post"
    __table_args__ = (
        sa.Index("ix_outbox_post_room", "platform", "room_id", "done_at"),
        sa.Index("ix_outbox_post_due", "done_at", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    platform: str
    room_id: str
    kind: str
    # Which stored row the post is rendered from (a decision's id …); ids only, never what people typed.
    ref: str = ""
    created_at: datetime = _when(default_factory=utcnow)
    attempts: int = 0
    next_attempt_at: datetime = _when(default_factory=utcnow)
    # A process is posting it until then; one that died meanwhile leaves it to the next claim once this passes.
    lease_until: datetime | None = _when(default=None, nullable=True)
    done_at: datetime | None = _when(default=None, nullable=True)
    # The platform's short reason for the last failure (`http_503`, `ratelimited` …).
    last_error: str | None = None
