"""The Slack app manifest people paste into Slack: valid, and declaring what the code uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "schemas" / "slack-manifest.schema.1.0.0.json"


def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_is_valid_against_slacks_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(manifest(), schema)


def test_manifest_declares_breach_with_escaped_mentions_and_one_url() -> None:
    data = manifest()
    (command,) = data["features"]["slash_commands"]
    assert command["command"] == "/breach"
    assert command["should_escape"] is True
    assert command["url"].endswith("/slack/events")
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["settings"]["interactivity"]["request_url"] == command["url"]
    assert data["settings"]["socket_mode_enabled"] is False


def test_manifest_grants_every_scope_the_bot_calls_need() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    source = "\n".join(p.read_text() for p in (ROOT / "adapters" / "slack").glob("*.py"))
    methods = set(re.findall(r'"((?:conversations|chat|pins|views|users|usergroups)\.[A-Za-z.]+)"', source))
    needs = {
        "conversations.create": "groups:write", "conversations.invite": "groups:write",
        "conversations.setTopic": "groups:write", "chat.postMessage": "chat:write",
        "chat.update": "chat:write", "chat.postEphemeral": "chat:write", "pins.add": "pins:write",
        # Finding a war room or a checklist that an interrupted attempt made (private channels).
        "conversations.list": "groups:read", "conversations.history": "groups:history",
        # Who may do what (bot/access.py): a war room's members, admins, the members of a user group.
        "conversations.members": "groups:read", "users.info": "users:read", "usergroups.users.list": "usergroups:read",
    }
    if "files_upload_v2" in source:
        assert "files:write" in scopes
    assert methods - {"views.open"} <= set(needs), f"a Slack method without a known scope: {methods}"
    assert {needs[m] for m in methods if m in needs} | {"commands"} <= scopes


def test_manifest_subscribes_to_the_membership_events_the_bot_listens_to() -> None:
    """A member added through Slack's own interface counts at once: Slack must send these to the one URL."""
    data = manifest()
    events = data["settings"]["event_subscriptions"]
    assert set(events["bot_events"]) == {"member_joined_channel", "member_left_channel"}
    assert events["request_url"] == data["features"]["slash_commands"][0]["url"]
    # Slack sends membership events of private channels with groups:read, of public ones with channels:read.
    assert {"groups:read", "channels:read"} <= set(data["oauth_config"]["scopes"]["bot"])
