"""The local console: a chat page served by `breachroom serve` itself, for trying Breachroom, rehearsing a
breach, or running the response when Slack or Teams is out of reach. No account anywhere; a person picks a
name. It binds to loopback unless an access token protects it (BREACHROOM_CONSOLE_TOKEN).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import unicodedata
from importlib import resources
from typing import Any

from aiohttp import web

from adapters.web import render
from adapters.web.outbound import GENERAL, PLATFORM, TEAM, ConsoleChat, Hub
from bot import actions, pacing, router, views
from bot.cards import Form, FormErrors, literal
from bot.core import Core, Invocation, Reply, Work
from bot.domain import Actor
from bot.ports import Audience, ChatError
from storage import chat, people, queries

log = logging.getLogger(__name__)
USER_COOKIE = "breachroom_user"
TOKEN_COOKIE = "breachroom_token"
# Paths that never need the console's token: health checks, and the platforms' own (signed) endpoints.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/slack/events", "/api/messages"})
MAX_NAME = 40
MAX_TYPED = 40_000
SORRY = "Something went wrong on Breachroom's side and this was not done."
NOT_SAVED = "Breachroom could not save this just now. Your text is still here: press the button again in a moment."
PICK_NAME = "Choose your name first (top left): Breachroom records who did what."
_COMMAND = re.compile(r"^/(\S+)\s*(.*)$", re.S)
_AT_NAME = re.compile(r"@([\w.\-]+(?: [\w.\-]+)?)")
_ROOM_NAME = re.compile(r"#([a-z0-9][a-z0-9\-]*)")
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}


def user_id_for(name: str) -> str:
    """A stable id from a display name: `Ann Lee` → `web-ann-lee`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")
    return f"web-{slug or 'someone'}"


def token_guard(token: str) -> Any:
    """Every request but health checks and the platforms' endpoints needs the token: once in the URL
    (`?token=…`), then from an HttpOnly, SameSite=Strict cookie."""

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        given = request.query.get("token")
        if given is not None and hmac.compare_digest(given.encode(), token.encode()):
            if request.method == "GET" and request.path == "/":
                # Keep the token out of the address bar and the history.
                response: web.StreamResponse = web.Response(status=303, headers={"Location": "/"})
            else:
                response = await handler(request)
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
            return response
        cookie = request.cookies.get(TOKEN_COOKIE, "")
        if cookie and hmac.compare_digest(cookie.encode(), token.encode()):
            return await handler(request)
        return web.Response(status=401, text="Breachroom console: open the address printed when it started "
                                              "(it carries the access token).")

    return guard


class Console:
    """The console's pages and endpoints, its port and its event hub; one per process."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.hub = Hub()
        self.chat = ConsoleChat(core.db, self.hub, core.clock)
        self._work: set[asyncio.Task[None]] = set()

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/", self.page)
        app.router.add_get("/console/static/{name}", self.static)
        app.router.add_get("/console/state", self.state)
        app.router.add_get("/console/events", self.events)
        app.router.add_post("/console/name", self.name)
        app.router.add_post("/console/say", self.say)
        app.router.add_post("/console/press", self.press)
        app.router.add_post("/console/submit", self.submit)
        app.on_startup.append(self._startup)
        app.on_shutdown.append(self._shutdown)

    async def _startup(self, _: web.Application) -> None:
        await chat.ensure_room(self.core.db, GENERAL, GENERAL)

    async def _shutdown(self, _: web.Application) -> None:
        self.hub.close()
        if self._work:
            await asyncio.wait(set(self._work), timeout=10)

    # Pages.

    async def page(self, _: web.Request) -> web.Response:
        body = resources.files("adapters.web").joinpath("static/console.html").read_text(encoding="utf-8")
        return web.Response(text=body, content_type="text/html", headers={
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                       "script-src 'self'; frame-ancestors 'none'"})

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        body = resources.files("adapters.web").joinpath(f"static/{name}").read_text(encoding="utf-8")
        return web.Response(text=body, content_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    async def me(self, request: web.Request) -> tuple[str, str] | None:
        user_id = request.cookies.get(USER_COOKIE, "")
        if not user_id:
            return None
        person = (await people.people(self.core.db, PLATFORM, [user_id])).get(user_id)
        return (user_id, person.name or user_id) if person else None

    async def state(self, request: web.Request) -> web.Response:
        """What this person's page shows: the rooms, and the chosen room's messages they may see."""
        me = await self.me(request)
        everyone = await people.everyone(self.core.db, PLATFORM)
        listed = []
        for room, incident in await chat.rooms(self.core.db):
            listed.append({
                # The topic's mentions (`@{web-bob}`) as names; the page shows it as plain text.
                "id": room.id, "name": room.name, "topic": render.plain(room.topic or "", everyone),
                "private": room.private,
                "summary": incident.summary if incident else None,
                "closed": bool(incident and incident.status == "closed"),
                "drill": bool(incident and incident.drill),
            })
        room_id = clean(request.query.get("room") or "") or GENERAL
        if room_id not in {r["id"] for r in listed}:
            room_id = GENERAL
        shown = await chat.messages(self.core.db, room_id, me[0] if me else None)
        return web.json_response({
            "me": {"id": me[0], "name": me[1]} if me else None,
            "rooms": listed, "room": room_id,
            "messages": [{"id": m.id, "html": m.html, "private": m.audience is not None, "pinned": m.pinned}
                         for m in shown],
            "people": [{"id": uid, "name": name} for uid, name in everyone.items()],
        }, headers={"Cache-Control": "no-store"})

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: a line per change; the page fetches the state again when one concerns it."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        queue = self.hub.subscribe()
        try:
            await response.write(b"retry: 1000\n\n")
            while True:
                try:
                    data = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if data == Hub.CLOSED:
                    break
                await response.write(f"data: {data}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.hub.unsubscribe(queue)
        return response

    # Actions.

    async def name(self, request: web.Request) -> web.Response:
        data = await _data(request)
        name = " ".join(str(data.get("name") or "").split())[:MAX_NAME]
        if not name:
            return web.json_response({"error": "Type your name."}, status=422)
        user_id = user_id_for(name)
        await people.remember_person(self.core.db, PLATFORM, TEAM, user_id, name=name)
        response = web.json_response({"me": {"id": user_id, "name": name}})
        response.set_cookie(USER_COOKIE, user_id, httponly=True, samesite="Strict", path="/",
                            max_age=60 * 60 * 24 * 365)
        self.hub.publish(kind="people")
        return response

    async def say(self, request: web.Request) -> web.Response:
        """What was typed in the composer: a `/breach` command, or a chat line."""
        me = await self.me(request)
        if me is None:
            return web.json_response({"error": PICK_NAME}, status=403)
        data = await _data(request)
        room_id = str(data.get("room") or GENERAL)
        typed = str(data.get("text") or "").strip()[:MAX_TYPED]
        if not typed:
            return web.json_response({"ok": True})
        neutral = await self._neutral(typed)
        command = _COMMAND.match(neutral)
        if command is None:
            await self.chat.say(room_id, me[0], neutral)
            return web.json_response({"ok": True})
        actor = Actor(PLATFORM, TEAM, me[0])
        if command[1].lower() != "breach":
            reply = Reply(card=views.note(f"Breachroom does not know `/{command[1]}`. Type `/breach help` for its "
                                          "commands."))
        else:
            inv = Invocation(actor=actor, channel_id=room_id, text=command[2].strip(),
                             delivery_key=_delivery(data), reply_handle=None)
            try:
                reply = await router.handle(self.core, inv)
            except Exception:
                log.exception("a console command failed")
                reply = Reply(card=views.note(f"{SORRY} Here is what you typed, so you can try again: "
                                              f"`{typed[:2500]}`"))
        return await self._answer(reply, actor, room_id)

    async def press(self, request: web.Request) -> web.Response:
        me = await self.me(request)
        if me is None:
            return web.json_response({"error": PICK_NAME}, status=403)
        data = await _data(request)
        room_id = str(data.get("room") or GENERAL)
        actor = Actor(PLATFORM, TEAM, me[0])
        try:
            reply = await actions.press(self.core, str(data.get("action") or ""), actor, str(data.get("value") or ""),
                                        room_id)
        except Exception:
            log.exception("a console press failed")
            reply = Reply(card=views.note(SORRY))
        return await self._answer(reply, actor, room_id)

    async def submit(self, request: web.Request) -> web.Response:
        """A dialog's form: errors by field (the dialog stays open, nothing typed is lost), or done."""
        me = await self.me(request)
        if me is None:
            return web.json_response({"errors": {"__form": PICK_NAME}}, status=403)
        data = await _data(request)
        room_id = str(data.get("room") or GENERAL)
        found = actions.FORMS.get(str(data.get("__action") or ""))
        if found is None:
            return web.json_response({"errors": {"__form": "This form is out of date: close it and start again."}},
                                     status=422)
        use_case, _ = found
        actor = Actor(PLATFORM, TEAM, me[0])
        try:
            values = render.form_values(data)
            reply = await use_case(self.core, actor, str(data.get("__value") or ""), values, _delivery(data))
        except FormErrors as exc:
            return web.json_response({"errors": exc.errors}, status=422)
        except Exception:
            log.exception("a console form failed")
            return web.json_response({"errors": {"__form": NOT_SAVED}}, status=500)
        return await self._answer(reply, actor, reply.room or room_id)

    async def _answer(self, reply: Reply, actor: Actor, room_id: str) -> web.Response:
        """The private card (in the room, for this person only), the form to open, then the slow work."""
        body: dict[str, Any] = {"ok": True}
        if reply.form is not None:
            body["form"] = await self._form(reply.form)
        if reply.card is not None:
            try:
                await self.chat.tell(Audience(actor.user_id, room_id), reply.card)
            except ChatError as exc:
                log.warning("could not answer on the console: %s", exc.code)
        for work in reply.work:
            self._start(work)
        return web.json_response(body)

    async def _form(self, form: Form) -> str:
        async with self.core.db.reading() as session:
            workspace = await queries.workspace(session, PLATFORM, TEAM)
        everyone = await people.everyone(self.core.db, PLATFORM)
        return render.form(form, zone=workspace.timezone if workspace else None, people=everyone,
                           names=everyone)

    async def _neutral(self, typed: str) -> str:
        """`@Ann` and `#breach-…` as typed become the neutral mentions `@{web-ann}` and `#{breach-…}`; a typed
        `@{web-bob}` stays words (`literal`), so only names people picked become mentions."""
        everyone = await people.everyone(self.core.db, PLATFORM)
        by_name = {name.lower(): uid for uid, name in everyone.items()}
        rooms = {room.id for room, _ in await chat.rooms(self.core.db)}

        def at(m: re.Match[str]) -> str:
            words = m[1]
            for candidate in (words, words.split(" ")[0]):
                if candidate.lower() in by_name:
                    return f"@{{{by_name[candidate.lower()]}}}" + words[len(candidate):]
            return m[0]

        out = _AT_NAME.sub(at, literal(typed))
        return _ROOM_NAME.sub(lambda m: f"#{{{m[1]}}}" if m[1] in rooms else m[0], out)

    def _start(self, work: Work) -> None:
        async def run() -> None:
            pacing.in_background()
            try:
                await work(self.chat)
            except Exception:
                log.exception("background work failed")

        task = asyncio.create_task(run())
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def drain(self) -> None:
        if self._work:
            await asyncio.wait(set(self._work), timeout=10)


def _delivery(data: dict[str, Any]) -> str | None:
    """The page sends a fresh id with each submit, so a double submit (or a retry) counts once."""
    sent = str(data.get("__id") or "")[:100]
    return f"console|{sent}" if sent else None


def clean(value: Any) -> Any:
    """Typed text without NUL characters (PostgreSQL cannot store them), in strings, lists and objects alike."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


async def _data(request: web.Request) -> dict[str, Any]:
    """A JSON body or a posted form (a field given several times becomes a list), NUL characters removed."""
    if request.content_type == "application/json":
        with contextlib.suppress(ValueError, RecursionError):
            body = await request.json()
            # The page sends flat objects; anything nested is not from it (and is not walked).
            if isinstance(body, dict) and all(not isinstance(v, dict | list) or _flat(v) for v in body.values()):
                return clean(body)
        return {}
    posted = await request.post()
    out: dict[str, Any] = {}
    for key in posted:
        values = [v for v in posted.getall(key) if isinstance(v, str)]  # an uploaded file is no typed text
        if values:
            out[clean(key)] = clean(values if len(values) > 1 else values[0])
    return out


def _flat(value: dict[str, Any] | list[Any]) -> bool:
    return not any(isinstance(v, dict | list) for v in (value.values() if isinstance(value, dict) else value))
