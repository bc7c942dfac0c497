"""A business's own playbook: checked at start, and split over several messages when it is long."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from bot.playbook import PlaybookError, load_playbook
from breachroom.server import make_app
from storage.db import Database
from tests.conftest import Bot, bot_settings, find_button, serve
from tests.slack_fake import FakeSlack


def write_playbook(path: Path, sections: int, items: int, label_size: int) -> Path:
    data = {"sections": [
        {"key": f"s{s}", "title": f"Part {s}", "hint": "Work through these in order.",
         "items": [{"key": f"s{s}-i{i}", "label": f"Step {s}.{i} " + "x" * label_size} for i in range(items)]}
        for s in range(sections)
    ]}
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_default_playbook_has_the_three_steps_of_the_seed() -> None:
    playbook = load_playbook()
    assert [s.title for s in playbook.sections] == ["Assess", "Inform", "Prepare"]
    assert [len(s.items) for s in playbook.sections] == [6, 5, 5]


@pytest.mark.parametrize("content, problem", [
    ("sections: [", "not valid YAML"),
    ("sections: []", "sections"),
    ("sections:\n  - key: Bad Key\n    title: T\n    items: [{key: a, label: b}]", "sections.0.key"),
    ("sections:\n  - key: a\n    title: T\n    items: [{key: a, label: b}, {key: a, label: c}]", "share a key"),
])
def test_a_broken_playbook_is_named_in_one_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "playbook.yml"
    path.write_text(content)
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_playbook_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="cannot read"):
        load_playbook(tmp_path / "nope.yml")


async def test_a_long_playbook_is_split_one_message_per_section_and_the_first_is_pinned(
    slack: FakeSlack, db_url: str, db: Database, tmp_path: Path
) -> None:
    path = write_playbook(tmp_path / "long.yml", sections=3, items=20, label_size=190)
    settings = bot_settings(slack, db_url, BREACHROOM_PLAYBOOK=str(path))
    runner, url = await serve(make_app(settings, settings.playbook(), Database(settings.db_url())))
    bot = Bot(url, slack, db)
    try:
        await bot.command("Tax records exposed", user="UANN")
        await slack.wait_for(slack.checklist_pin)
        await slack.settle()
        posts = [c for c in slack.called("chat.postMessage") if c.args["channel"].startswith("C")]
        assert len(posts) >= 3 and not slack.rejected("invalid_blocks") and not slack.rejected("msg_blocks_too_long")
        assert all(len(p.args["blocks"]) <= 50 for p in posts)
        channel, first_ts = slack.checklist_pin()  # type: ignore[misc]
        assert len(slack.pinned_in(channel)) == 2  # the first checklist message and the deadline card
        assert first_ts == posts[0].result["ts"]
        # Press a step of the last section: only the message holding it is updated.
        last = [(ts, m) for (c, ts), m in slack.messages.items() if "Step 2.19" in json.dumps(m["blocks"])]
        assert len(last) == 1
        ts, message = last[0]
        button = find_button(message["blocks"], "Step 2.19")
        await bot.press(channel, ts, button["action_id"], button["value"])
        updates = await slack.wait_for(lambda: slack.called("chat.update"))
        await slack.settle()
        assert {u.args["ts"] for u in slack.called("chat.update")} == {ts}
        assert "Part 2 1/20" in json.dumps(updates[0].args["blocks"])
        # Everyone presses the rest of that section at once: the message ends complete and within limits.
        rows = [b["accessory"] for b in message["blocks"] if b.get("accessory")][:-1]
        await asyncio.gather(*(bot.press(channel, ts, r["action_id"], r["value"]) for r in rows))
        await slack.wait_for(lambda: "Part 2 20/20" in json.dumps(slack.messages[(channel, ts)]["blocks"]))
        await slack.settle()
        assert "Part 2 20/20" in json.dumps(slack.messages[(channel, ts)]["blocks"])
        assert not slack.rejected("msg_blocks_too_long") and not slack.rejected("invalid_blocks")
    finally:
        await bot.close()
        await runner.cleanup()
