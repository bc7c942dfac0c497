"""The Teams app package a business uploads to Teams: manifest.json and two icons drawn here, zipped flat.

Choices the manifest makes, and why:
- Manifest schema 1.22, the newest this code is checked against; nothing in it needs a newer one.
- One bot in the personal, team and group chat scopes: a breach is declared wherever people are, the war room
  is a group chat (or a team channel), and what Slack says privately arrives in the 1:1 chat.
- No resource-specific consent (RSC) permission. Commands are addressed to the bot with an @mention, which Teams
  delivers without any permission; `ChatMessage.Read.Chat` would send every word typed in the war room to the
  server, which nothing needs. Creating chats and channels and installing the app into them are tenant-wide
  Microsoft Graph application permissions (`Chat.Create`, `TeamsAppInstallation.ReadWriteForChat.All`,
  `Channel.Create`), granted in Entra ID, not in this manifest. So there is no `webApplicationInfo` either:
  it only serves single sign-on and RSC.
- `supportsFiles` is off: notices and exports reach Teams as signed download links served by Breachroom.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from PIL import Image, ImageDraw

MANIFEST_VERSION = "1.22"
SCHEMA_URL = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
ACCENT = "#8B1E1E"
COLOR_ICON, OUTLINE_ICON = "color.png", "outline.png"
SCOPES = ("personal", "team", "groupChat")
DEFAULT_VERSION = "0.1.0"

# What each command does, as Teams suggests it after "@Breachroom". Teams shows at most 10 per scope.
COMMANDS = {
    "breach": "Declare a breach: breach <what happened>. Alone, opens the declare form (also: breach declare <text>)",
    "help": "Every Breachroom command",
    "decision": "Record a decision in the war room: decision <what was decided>",
    "status": "Progress, responder and open steps of this war room's incident",
    "notice": "Draft the client notice (Word and Markdown); notice facts edits its facts",
    "clock": "Record when things happened: they start the legal notification clocks",
    "close": "Close the incident and post the post-incident summary",
    "reopen": "Reopen a closed incident; its record continues",
    "responder": "responder @name: who leads when a breach happens; alone, shows who it is",
    "backup": "backup @name: the backup responder; alone, shows who it is",
    "invite": "invite @name @name: add people to this war room (IT, your accountant, a lawyer)",
    "declarers": "declarers @name @name: who may declare (and the responder, backup, admins); everyone: anyone",
    "announce": "announce <channel>: also post summaries there, without client details; off stops it",
    "timezone": "timezone <Area/City>: the time zone deadlines are shown in",
    "drill": "drill <what happened>: a practice breach; every card says DRILL and nothing is announced",
}
# Fifteen commands, ten places: each scope leaves out the five least used there. Every command works in
# every scope all the same; `help` lists them all.
SCOPE_COMMANDS = {
    # The war room: its work, and declaring (a second breach while one is open is a real case).
    "groupChat": ("breach", "decision", "status", "notice", "clock", "close", "reopen", "responder", "invite",
                  "help"),
    # Channels: where a breach (or a drill) is declared and, as an option, where the war room is.
    "team": ("breach", "drill", "decision", "status", "notice", "close", "responder", "backup", "announce", "help"),
    # The 1:1 chat: settings, rehearsing, and the war room of someone working alone.
    "personal": ("breach", "drill", "responder", "backup", "declarers", "timezone", "status", "decision", "notice",
                 "help"),
}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class PackageError(ValueError):
    """An argument the package cannot be made from; the message names it in one line."""


def check_guid(value: str | None, option: str) -> str:
    """A GUID as Teams and Entra write it (lower case); PackageError otherwise."""
    text = (value or "").strip()
    if not text:
        raise PackageError(f"{option} is required: the GUID of the Azure bot's Microsoft App ID")
    if not _GUID.match(text):
        raise PackageError(f"{option}: {text[:60]!r} is not a GUID (like 2f3c…-…-…-…-…, 8-4-4-4-12 hex digits)")
    return text.lower()


def check_host(value: str | None) -> str:
    """The public host name of `breachroom serve`, without scheme, port or path; PackageError otherwise."""
    text = (value or "").strip().rstrip(".")
    if not text:
        raise PackageError("--domain is required: the public host name of breachroom serve, e.g. breach.example.com")
    if "://" in text:
        raise PackageError(f"--domain: give the host name only, without {text.split('://', 1)[0]}://")
    if "/" in text or ":" in text:
        raise PackageError(f"--domain: give the host name only, without a path or a port: {text[:80]!r}")
    try:
        host = text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise PackageError(f"--domain: {text[:80]!r} is not a valid host name") from None
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise PackageError(f"--domain: {text[:80]!r} is not a public host name like breach.example.com")
    if labels[-1].isdigit():
        raise PackageError("--domain: Teams needs a host name, not an IP address")
    return host


def _version() -> str:
    """The package's version when it is plain semver (Teams asks for x.y.z), so each release updates the app."""
    try:
        version = metadata.version("breachroom")
    except metadata.PackageNotFoundError:
        return DEFAULT_VERSION
    return version if re.fullmatch(r"\d+\.\d+\.\d+", version) else DEFAULT_VERSION


def _commands(scope: str) -> dict[str, Any]:
    return {"scopes": [scope], "commands": [{"title": t, "description": COMMANDS[t]} for t in SCOPE_COMMANDS[scope]]}


def manifest(*, app_id: str, host: str, manifest_id: str | None = None) -> dict[str, Any]:
    """manifest.json for the bot `app_id` (the Azure bot's Microsoft App ID) served at https://`host`."""
    site = f"https://{host}"
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": _version(),
        "id": manifest_id or app_id,
        "developer": {
            "name": "Breachroom",
            "websiteUrl": f"{site}/",
            "privacyUrl": f"{site}/privacy",
            "termsOfUseUrl": f"{site}/terms",
        },
        "name": {"short": "Breachroom", "full": "Breachroom: data-breach response"},
        "description": {
            "short": "Run your data-breach response in Teams, from the first minute to the summary.",
            "full": (
                "When client data has been stolen, tell Breachroom what happened. It opens a private war room "
                "chat with your designated responder and posts the response checklist: assess, inform, prepare. "
                "Anyone in the room presses a step's button as the work gets done, and records each decision. "
                "Breachroom drafts the client notice, tracks the legal notification deadlines that apply, and "
                "posts a post-incident summary when you close. Every step and decision is kept with who and when, "
                "so the record lawyers, insurers and regulators ask for is already written. Breachroom informs; "
                "it does not give legal advice."
            ),
        },
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": ACCENT,
        "bots": [{
            "botId": app_id,
            "scopes": list(SCOPES),
            "supportsFiles": False,
            "isNotificationOnly": False,
            "commandLists": [_commands(scope) for scope in SCOPES],
        }],
        "validDomains": [host],
    }


def _hex(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _shield(scale: float, inset: float = 0.0) -> list[tuple[float, float]]:
    """A shield outline in a unit square, scaled: flat shoulders, sides that curve to a point."""
    top, shoulder, side, point = 0.14 + inset, 0.22 + inset, 0.20 + inset, 0.90 - inset * 1.6
    outline = [(0.5, top), (1 - side, shoulder), (1 - side, 0.50)]
    for step in range(1, 9):  # the right flank bows down to the point; the left mirrors it
        t = step / 9
        outline.append(((1 - side) * (1 - t) ** 2 + (1 - side) * 2 * t * (1 - t) + 0.5 * t * t,
                        0.50 * (1 - t) ** 2 + 0.78 * 2 * t * (1 - t) + point * t * t))
    outline.append((0.5, point))
    outline += [(1 - x, y) for x, y in reversed(outline[1:-1])]
    return [(x * scale, y * scale) for x, y in outline]


def _check(scale: float) -> list[tuple[float, float]]:
    return [(x * scale, y * scale) for x, y in ((0.36, 0.50), (0.46, 0.61), (0.65, 0.39))]


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def color_icon(size: int = 192) -> bytes:
    """The full-colour icon: a white shield with a check mark on the accent colour."""
    big = size * 4  # drawn large and scaled down, for smooth edges
    image = Image.new("RGB", (big, big), _hex(ACCENT))
    draw = ImageDraw.Draw(image)
    draw.polygon(_shield(big), fill="white")
    draw.line(_check(big), fill=_hex(ACCENT), width=round(big * 0.07), joint="curve")
    return _png(image.resize((size, size), Image.Resampling.LANCZOS))


def outline_icon(size: int = 32) -> bytes:
    """The outline icon: the same shield in white line work on a transparent background, as Teams asks."""
    big = size * 8
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    draw.polygon(_shield(big), fill=255)
    draw.polygon(_shield(big, inset=0.07), fill=0)
    draw.line(_check(big), fill=255, width=round(big * 0.08), joint="curve")
    alpha = mask.resize((size, size), Image.Resampling.LANCZOS)
    image = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    image.putalpha(alpha)
    return _png(image)


def _entry(name: str) -> zipfile.ZipInfo:
    # A fixed date: the same arguments make the same bytes.
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def package(*, app_id: str, host: str, manifest_id: str | None = None) -> bytes:
    """The zip Teams accepts: manifest.json and the two icons at its top level, nothing else."""
    files: Sequence[tuple[str, bytes]] = (
        ("manifest.json", json.dumps(manifest(app_id=app_id, host=host, manifest_id=manifest_id), indent=2).encode()),
        (COLOR_ICON, color_icon()),
        (OUTLINE_ICON, outline_icon()),
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files:
            archive.writestr(_entry(name), data)
    return out.getvalue()
