"""The local console in a real browser (headless Chromium driven by Playwright): two people, two browser
contexts, a whole breach response clicked and typed through the page itself, with its live updates.

Debian's `chromium` package provides the browser (/usr/bin/chromium); Playwright never downloads one. Without
that browser (CI on a machine where apt could not install it) the test is skipped, saying why.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, async_playwright, expect

from bot.playbook import load_playbook
from breachroom.server import make_app
from storage.db import Database
from tests.conftest import serve
from tests.test_console import console_settings

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
BREACH = "Laptop with client files stolen from a car"
DECISION = "Wipe the laptop remotely and reset the client portal passwords"
LIVE = 2_000  # ms: how soon another person's open page must show a change
WAIT = 15_000  # ms: anything else the page waits for (a server round trip, the background work)


@pytest.fixture
def browser_db(db_kind: str, request: pytest.FixtureRequest) -> str:
    """Once per run: on SQLite when the run covers both databases, else on the one it covers."""
    if db_kind == "postgres" and request.config.getoption("--db") == "both":
        pytest.skip("the browser test runs once, on SQLite")
    need_chromium()
    return request.getfixturevalue("db_url")


def need_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package to run the browser test")


@pytest.fixture
async def console(browser_db: str) -> AsyncIterator[str]:
    settings = console_settings(browser_db)
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url())))
    yield url
    await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    need_chromium()
    expect.set_options(timeout=WAIT)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        await chromium.close()


class Visitor:
    """One person: a browser context of their own (their own cookies), one page, and what went wrong on it."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context = context
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", self._console)
        page.on("response", lambda response: self.errors.append(f"HTTP {response.status}: {response.url}")
                if response.status >= 400 else None)

    def _console(self, message: ConsoleMessage) -> None:
        # The browser asks for /favicon.ico by itself; the console has none (its 404 is no fault of the page).
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            self.errors.append(f"console {message.type}: {message.text} at {message.location.get('url')}")

    @classmethod
    async def arrive(cls, browser: Browser, url: str, name: str) -> Visitor:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(WAIT)
        visitor = cls(context, await context.new_page())
        page = visitor.page
        await page.goto(url + "/")
        who = page.locator("#who")
        await expect(who).to_be_visible()
        await who.get_by_label("Your name").fill(name)
        await who.get_by_role("button", name="Continue").click()
        await expect(who).to_be_hidden()
        await expect(page.locator("#me")).to_have_text(name)
        return visitor

    async def type(self, text: str) -> None:
        """Type in the composer and press Enter; the page empties the composer once the server took it."""
        composer = self.page.get_by_role("textbox", name="Message")
        await composer.fill(text)
        await composer.press("Enter")
        await expect(composer).to_have_value("")
        await expect(self.page.locator("#notice")).to_have_text("")

    def card(self, title: str) -> Locator:
        """The newest card whose heading starts with `title` (a checklist section, a summary, …)."""
        return self.page.locator("#messages section.card").filter(
            has=self.page.locator("h3", has_text=title)).last


async def test_a_breach_response_through_the_console_in_a_browser(console: str, browser: Browser) -> None:
    started = time.monotonic()
    ann = await Visitor.arrive(browser, console, "Ann")
    bob = await Visitor.arrive(browser, console, "Bob")
    a, b = ann.page, bob.page
    # Set on Bob's page once: still there at the end means his page was never reloaded.
    await b.evaluate("window.__sameDocument = true")

    # Bob is the responder and Ann his backup: with containment steps still open, only they may close.
    await ann.type("/breach responder @Bob")
    await expect(a.locator("#messages .message.private").last).to_contain_text("@Bob is now the")
    await expect(b.locator("#messages .message.private")).to_have_count(0)  # Ann's answers are hers alone
    # Once a responder is set, only they (or the backup, or an admin) change these: Bob names Ann his backup.
    await bob.type("/breach backup @Ann")
    await expect(b.locator("#messages .message.private").last).to_contain_text("@Ann is now the")

    # Declaring takes Ann's page to the new war room by itself (it listens to /console/events).
    await ann.type(f"/breach {BREACH}")
    await expect(a.locator("#room-name")).to_contain_text("breach-")
    room = (await a.locator("#room-name").inner_text()).removeprefix("🔒 ").strip()
    assess = ann.card("Assess")
    await expect(assess.locator("h3")).to_contain_text("Assess 0/")
    await expect(a.locator("#rooms button.current")).to_contain_text(BREACH)

    # Bob opens the war room from the room list.
    await b.locator("#rooms button", has_text=room).click()
    await expect(b.locator("#room-name")).to_contain_text(room)
    await expect(b.locator("#room-topic")).to_contain_text("Responder: @Bob")  # a name, not `@{web-bob}`
    await expect(bob.card("Assess").locator("h3")).to_contain_text("Assess 0/")

    # Ann presses two steps' Done; Bob's open page follows without a reload.
    await assess.get_by_role("button", name="Done").first.click()
    await expect(assess.locator("h3")).to_contain_text("Assess 1/")
    await assess.get_by_role("button", name="Done").first.click()
    pressed = time.monotonic()
    bob_assess = bob.card("Assess")
    await expect(bob_assess.locator("h3")).to_contain_text("Assess 2/", timeout=LIVE)
    await expect(bob_assess.locator(".row.done")).to_have_count(2, timeout=LIVE)
    live = time.monotonic() - pressed
    assert live < LIVE / 1000, f"Bob's page took {live:.2f}s to show Ann's presses"
    await expect(bob_assess.locator(".row.done").first).to_contain_text("✅")
    await expect(bob_assess.locator(".row.done").first).to_contain_text("Done by @Ann")
    await expect(assess.locator(".row.done")).to_have_count(2)

    # A decision through the Record decision button's dialog form.
    await a.get_by_role("button", name="Record decision").click()
    dialog = a.locator("dialog#dialog")
    await expect(dialog).to_be_visible()
    await dialog.locator("textarea[name=decision]").fill(DECISION)
    await dialog.locator("textarea[name=rationale]").fill("The laptop holds client files and is gone")
    await dialog.get_by_role("button", name="Record", exact=True).click()
    await expect(dialog).to_be_hidden()
    await expect(a.locator("#messages")).to_contain_text(DECISION)
    await expect(b.locator("#messages")).to_contain_text(DECISION, timeout=LIVE)

    ARTIFACTS.mkdir(exist_ok=True)
    await assess.scroll_into_view_if_needed()
    await a.screenshot(path=str(ARTIFACTS / "console-war-room.png"))

    # The client notice: its .docx downloads through the link on the page.
    await ann.type("/breach notice")
    link = a.locator('#messages a[href^="/files/"]', has_text=".docx").first
    await expect(link).to_be_visible()
    async with a.expect_download() as downloading:
        await link.click()
    download = await downloading.value
    assert download.suggested_filename.endswith(".docx")
    saved = await download.path()
    assert saved is not None and Path(saved).read_bytes()[:2] == b"PK"

    # Closing: the confirmation's Close anyway, then the summary in the war room, for both.
    await ann.type("/breach close")
    await a.get_by_role("button", name="Close anyway").click()
    await expect(ann.card("Post-incident summary")).to_be_visible()
    await expect(bob.card("Post-incident summary")).to_be_visible()
    await expect(b.locator("#rooms button", has_text=room).locator(".tag.closed")).to_be_visible()

    assert await b.evaluate("window.__sameDocument === true"), "Bob's page was reloaded"
    assert ann.errors == [] and bob.errors == [], ann.errors + bob.errors
    for visitor in (ann, bob):
        await visitor.context.close()
    print(f"\nbrowser walk-through: {time.monotonic() - started:.1f}s, Bob's page followed in {live:.2f}s")
