"""One benchmark run on one database: every figure of `python -m bench`, and whether each target held."""

from __future__ import annotations

import asyncio
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import mail_merge
from bench.database import Databases, add_timeline
from bench.load import Run, burst, closed_loop, median
from bench.slack_api import Room, SlackAPI
from bench.targets import Served, Slack, bot_argv, child_env, compile_once, floor_argv, free_port


@dataclass(frozen=True)
class Sizes:
    latency: float = 0.050  # L: every Slack Web API call and response URL answers after this
    starts: int = 3  # timed starts of `serve`, on a new database and on an existing one
    warmup: int = 20
    ready_samples: int = 15  # item 2: declares, one at a time
    press_samples: int = 20  # item 3: presses, one at a time
    rounds: int = 4  # item 1: rounds per level, alternating the bot and the floor
    slash: tuple[tuple[int, int], ...] = ((1, 30), (10, 80), (50, 100))  # (clients, requests in a round)
    press: tuple[tuple[int, int], ...] = ((1, 40), (10, 200))
    burst: int = 150
    burst_rounds: int = 1
    incidents: int = 1000  # resident memory is measured once the bot has opened this many war rooms
    timeline: int = 10_000  # entries of the incident that `incidents export` prints
    clients: int = 10_000  # mail merge
    export_formats: tuple[str, ...] = ("json", "md")


# Proves that every part runs, in seconds; its figures mean nothing (Slack answers after 10 ms, one round each).
SMOKE = Sizes(latency=0.010, starts=1, warmup=2, ready_samples=2, press_samples=2, rounds=1,
              slash=((1, 2), (10, 10), (50, 50)), press=((1, 2), (10, 10)), burst=20, burst_rounds=1, incidents=0,
              timeline=100, clients=30, export_formats=("json",))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cores": os.cpu_count(), "cpu": model, "memory_gib": round(memory, 1),
            "python": platform.python_version(), "system": f"{platform.system()} {platform.release()}",
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


class Bench:
    def __init__(self, kind: str, sizes: Sizes, folder: Path, workers: int | None) -> None:
        self.kind, self.sizes, self.folder, self.workers = kind, sizes, folder, workers
        self.dbs = Databases(kind, folder)
        self.api = SlackAPI(sizes.latency)
        self.seq = itertools.count(1)
        self.declared = 0  # declarations the bot acknowledged: each must end in a complete war room
        self.next_target: dict[tuple[str, str], str] = {}  # (channel, item value prefix) → the state to press for
        self.press_cursor: dict[str, int] = {}
        self.updates_expected = 0
        self.bot: Served | None = None
        self.floor: Served | None = None
        self.to_bot: Slack | None = None
        self.to_floor: Slack | None = None
        self.database_url = ""
        self.memory: dict[str, Any] | None = None  # resident memory once `incidents` war rooms are complete

    # ---- requests ------------------------------------------------------------------------
    def declares(self, to: Slack, count: int) -> list[tuple[bytes, dict[str, str]]]:
        """Distinct people and summaries, so that none is a duplicate of another."""
        requests = []
        for _ in range(count):
            n = next(self.seq)
            requests.append(to.slash(f"U{n:07d}", f"Laptop {n} stolen from a car with client files", f"r{n}"))
        return requests

    def presses(self, to: Slack, room: Room, count: int, *, commit: bool) -> list[tuple[bytes, dict[str, str]]]:
        """Presses that each change an item: every item pressed done, then open again, and so on."""
        requests = []
        cursor = self.press_cursor.get(room.id, 0)
        for i in range(count):
            ts, action_id, value = room.buttons[(cursor + i) % len(room.buttons)]
            prefix = value.rsplit(":", 1)[0]
            target = self.next_target.get((room.id, prefix), "done")
            # Pressed by the person who declared it: only the war room's members may press its checklist.
            presser = next((m for m in room.members if m != "UBOT"), "UNOBODY")
            requests.append(to.press(presser, room.id, ts, action_id, f"{prefix}:{target}"))
            if commit:
                self.next_target[(room.id, prefix)] = "open" if target == "done" else "done"
        if commit:
            self.press_cursor[room.id] = cursor + count
            self.updates_expected += count
        return requests

    # ---- waiting for the bot's background work ---------------------------------------------
    async def rooms_done(self, timeout: float = 120.0) -> bool:
        ok = await self.api.wait_until(lambda: self.api.complete_count >= self.declared, timeout)
        if not ok:
            log(f"only {self.api.complete_count} of {self.declared} war rooms complete after {timeout:.0f} s")
        return ok

    def note_memory(self) -> None:
        """Between rounds, when the bot's work is done: its memory, the first time it has opened enough rooms."""
        if self.memory is None and self.bot is not None and self.sizes.incidents \
                and self.api.complete_count >= self.sizes.incidents:
            self.memory = {"incidents": self.api.complete_count, "rss_mb": round(self.bot.rss_mb(), 1)}

    async def updates_done(self, timeout: float = 5.0) -> bool:
        """Every press is on screen: an update per press, or fewer when one update already showed several presses
        (the bot never draws a state older than one it has drawn), and then nothing more coming."""
        done = await self.api.wait_until(lambda: len(self.api.updates) >= self.updates_expected, timeout)
        await self.api.quiet(0.3)
        return done

    # ---- the phases --------------------------------------------------------------------------
    async def start_bot(self, database_url: str, log_name: str) -> tuple[Served, float]:
        port = free_port()
        env = child_env(self.api.api_url, database_url)
        return await Served.start("breachroom serve", bot_argv(port, self.workers), env, port, "/readyz",
                                  self.folder / log_name)

    async def footprint_starts(self) -> dict[str, Any]:
        first: list[float] = []
        for _ in range(self.sizes.starts):
            url = self.dbs.new()
            bot, seconds = await self.start_bot(url, "bot-first-starts.log")
            first.append(seconds)
            await bot.stop()
            self.database_url = url
        existing: list[float] = []
        for i in range(self.sizes.starts):
            bot, seconds = await self.start_bot(self.database_url, "bot.log")
            existing.append(seconds)
            if i < self.sizes.starts - 1:
                await bot.stop()
            else:
                self.bot = bot
        return {"first_start_s": round(median(first), 3), "first_start_samples_s": [round(x, 3) for x in first],
                "start_s": round(median(existing), 3), "start_samples_s": [round(x, 3) for x in existing]}

    async def warm_up(self) -> float:
        assert self.to_bot and self.to_floor and self.bot
        for to in (self.to_floor, self.to_bot):
            run = await closed_loop(to.send, [self.declares(to, self.sizes.warmup)])
            if to is self.to_bot:
                self.declared += len(run.latencies) - run.failed
        await self.rooms_done()
        await self.ensure_rooms(max(c for c, _ in self.sizes.press))
        rooms = self.press_rooms()
        for to, commit in ((self.to_floor, False), (self.to_bot, True)):
            await closed_loop(to.send, [self.presses(to, room, 2, commit=commit) for room in rooms])
        await self.updates_done()
        await self.api.quiet(0.2)
        return self.bot.rss_mb()

    async def ensure_rooms(self, count: int) -> None:
        assert self.to_bot
        missing = count - sum(1 for r in self.api.rooms_in_order if r.complete and r.buttons)
        if missing > 0:
            run = await closed_loop(self.to_bot.send, [self.declares(self.to_bot, missing)])
            self.declared += len(run.latencies) - run.failed
            await self.rooms_done()

    def press_rooms(self) -> list[Room]:
        return [r for r in self.api.rooms_in_order if r.complete and r.buttons][: max(c for c, _ in self.sizes.press)]

    async def war_room_ready(self) -> dict[str, Any]:
        """Item 2: one declaration at a time, from the slash command to the checklist's post answered."""
        assert self.to_bot
        ready, complete, to_create, create_to_post = [], [], [], []
        for _ in range(self.sizes.ready_samples):
            before = len(self.api.rooms_in_order)
            request = self.declares(self.to_bot, 1)[0]
            start = time.monotonic()
            status, _ = await self.to_bot.send(request)
            if status != 200:
                continue
            self.declared += 1
            await self.api.wait_until(lambda b=before: len(self.api.rooms_in_order) > b
                                      and self.api.rooms_in_order[b].checklist_posted is not None, 30)
            await self.rooms_done(30)
            if len(self.api.rooms_in_order) > before:
                room = self.api.rooms_in_order[before]
                if room.checklist_posted is not None and room.checklist_arrived is not None:
                    ready.append(room.checklist_posted - start)
                    to_create.append(room.create_arrived - start)
                    create_to_post.append(room.checklist_arrived - room.created)
                if room.complete is not None:
                    complete.append(room.complete - start)
        # Where the time beyond the two round trips goes: before the bot asks to create the room (the
        # acknowledgement's transaction, handing over to a worker), and between the room's creation and the
        # checklist's post (recording the room, reading and rendering the checklist).
        return self._in_l(ready) | {"complete_median_ms": round(median(complete) * 1000, 1),
                                    "complete_median_L": round(median(complete) / self.sizes.latency, 2),
                                    "to_create_median_ms": round(median(to_create) * 1000, 1),
                                    "create_to_post_median_ms": round(median(create_to_post) * 1000, 1)}

    async def press_to_update(self) -> dict[str, Any]:
        """Item 3: one press at a time, from the press to the answer to the chat.update of its message."""
        assert self.to_bot
        room = self.press_rooms()[0]
        seconds, to_update = [], []
        for _ in range(self.sizes.press_samples):
            before = len(self.api.updates)
            request = self.presses(self.to_bot, room, 1, commit=True)[0]
            start = time.monotonic()
            status, _ = await self.to_bot.send(request)
            if status != 200:
                continue
            await self.api.wait_until(lambda b=before: any(u.channel == room.id for u in self.api.updates[b:]), 30)
            mine = [u for u in self.api.updates[before:] if u.channel == room.id]
            if mine:
                seconds.append(mine[0].answered - start)
                to_update.append(mine[0].arrived - start)
        await self.updates_done()
        # Beyond the one round trip: from the press until the chat.update reaches Slack.
        return self._in_l(seconds) | {"to_update_median_ms": round(median(to_update) * 1000, 1)}

    def _in_l(self, seconds: list[float]) -> dict[str, Any]:
        return {"samples": len(seconds), "median_ms": round(median(seconds) * 1000, 1),
                "median_L": round(median(seconds) / self.sizes.latency, 2),
                "max_ms": round(max(seconds, default=float("nan")) * 1000, 1)}

    async def acknowledgements(self) -> dict[str, Any]:
        """Item 1: closed loops at each level, the floor and the bot alternating round by round."""
        assert self.to_bot and self.to_floor and self.bot and self.floor
        levels: dict[str, Any] = {}
        plan = [("slash", c, n) for c, n in self.sizes.slash] + [("press", c, n) for c, n in self.sizes.press]
        for kind, clients, per_round in plan:
            runs = {"bot": Run(), "floor": Run()}
            cpu = {"bot": 0.0, "floor": 0.0}
            for r in range(self.sizes.rounds):
                order = ("floor", "bot") if r % 2 == 0 else ("bot", "floor")
                for who in order:
                    to = self.to_bot if who == "bot" else self.to_floor
                    served = self.bot if who == "bot" else self.floor
                    per_client = max(1, per_round // clients)
                    if kind == "slash":
                        requests = [self.declares(to, per_client) for _ in range(clients)]
                    else:
                        requests = [self.presses(to, room, per_client, commit=who == "bot")
                                    for room in self.press_rooms()[:clients]]
                    used = served.cpu_seconds()
                    run = await closed_loop(to.send, requests)
                    if who == "bot":
                        if kind == "slash":
                            self.declared += len(run.latencies) - run.failed
                            await self.rooms_done()
                        else:
                            await self.updates_done()
                        await self.api.quiet(0.1)
                        self.note_memory()
                    cpu[who] += served.cpu_seconds() - used
                    runs[who].add(run)
            name = f"{kind} c{clients}"
            bot, floor = runs["bot"].figures(), runs["floor"].figures()
            bot["cpu_ms_per_request"] = round(cpu["bot"] / max(1, bot["requests"]) * 1000, 2)
            floor["cpu_ms_per_request"] = round(cpu["floor"] / max(1, floor["requests"]) * 1000, 2)
            levels[name] = {"bot": bot, "floor": floor, "p99_ratio": round(bot["p99_ms"] / floor["p99_ms"], 2)}
            log(f"{name}: bot p50 {bot['p50_ms']} ms p99 {bot['p99_ms']} ms {bot['per_s']}/s; "
                f"floor p50 {floor['p50_ms']} ms p99 {floor['p99_ms']} ms {floor['per_s']}/s")
        return levels

    async def bursts(self) -> dict[str, Any]:
        """Item 4: `burst` declarations at once; acknowledgements, and when the last war room is complete."""
        assert self.to_bot and self.to_floor
        runs = {"bot": Run(), "floor": Run()}
        last_complete: list[float] = []
        for r in range(self.sizes.burst_rounds):
            for who in (("floor", "bot") if r % 2 == 0 else ("bot", "floor")):
                to = self.to_bot if who == "bot" else self.to_floor
                requests = self.declares(to, self.sizes.burst)
                first_room = len(self.api.rooms_in_order)
                run, start = await burst(to.send, requests)
                runs[who].add(run)
                if who == "bot":
                    self.declared += len(run.latencies) - run.failed
                    await self.rooms_done(120)
                    rooms = self.api.rooms_in_order[first_room:]
                    done = [room.complete for room in rooms if room.complete is not None]
                    if len(done) == self.sizes.burst:
                        last_complete.append(max(done) - start)
                    else:
                        last_complete.append(float("inf"))
                    await self.api.quiet(0.1)
                    self.note_memory()
        bot, floor = runs["bot"].figures(), runs["floor"].figures()
        return {"size": self.sizes.burst, "bot": bot, "floor": floor,
                "p99_ratio": round(bot["p99_ms"] / floor["p99_ms"], 2),
                "last_room_complete_s": [round(x, 2) for x in last_complete],
                "last_room_complete_worst_s": round(max(last_complete, default=float("nan")), 2)}

    async def memory_after_incidents(self) -> dict[str, Any]:
        assert self.to_bot and self.bot
        if self.memory is not None:
            return self.memory
        missing = self.sizes.incidents - self.declared
        if missing > 0:
            clients = 10
            run = await closed_loop(self.to_bot.send, [self.declares(self.to_bot, -(-missing // clients))
                                                       for _ in range(clients)])
            self.declared += len(run.latencies) - run.failed
            await self.rooms_done()
        await self.api.quiet(0.3)
        return {"incidents": self.api.complete_count, "rss_mb": round(self.bot.rss_mb(), 1)}

    def export(self) -> dict[str, Any]:
        """`breachroom incidents export` of an incident given `timeline` more entries."""
        room = self.press_rooms()[0]
        incident_id = int(room.buttons[0][2].split(":", 1)[0])
        add_timeline(self.database_url, incident_id, self.sizes.timeline)
        env = child_env(self.api.api_url, self.database_url)
        figures: dict[str, Any] = {"timeline_entries_added": self.sizes.timeline}
        for fmt in self.sizes.export_formats:
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "breachroom.cli", "incidents", "export", str(incident_id),
                                   "--format", fmt], env=env, capture_output=True, cwd=Path(__file__).parent.parent)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                raise RuntimeError(f"incidents export failed: {done.stderr.decode(errors='replace')[-2000:]}")
            figures[f"{fmt}_s"] = round(seconds, 3)
            figures[f"{fmt}_bytes"] = len(done.stdout)
        return figures

    def bot_log(self) -> dict[str, Any]:
        text = (self.folder / "bot.log").read_text(errors="replace") if (self.folder / "bot.log").exists() else ""
        problems = [line for line in text.splitlines() if " WARNING " in line or " ERROR " in line]
        return {"warnings_and_errors": len(problems), "first": problems[:5]}


def mail_merge_figures(clients: int, folder: Path) -> dict[str, Any]:
    """Item 5, with bench.mail_merge: .docx alone, .eml alone, and the bare Jinja2 render of the same letter."""
    facts = mail_merge.sample_facts()
    mail_merge.write_clients(folder / "clients.csv", clients)
    listed = mail_merge.read_clients(folder / "clients.csv")
    rows = {
        "docx": mail_merge.timed_merge("docx", facts, listed, folder / "docx", ("docx",), None),
        "eml": mail_merge.timed_merge("eml", facts, listed, folder / "eml", ("eml",), None),
        "jinja2": mail_merge.timed_loop("jinja2", facts, listed, lambda _: None),
    }
    out: dict[str, Any] = {"clients": clients}
    for name, (_, count, seconds, cpu, workers) in rows.items():
        out[name] = {"letters": count, "seconds": round(seconds, 3), "per_s": round(count / seconds, 1),
                     "processes": workers, "cpu_ms_per_letter": round(cpu / count * 1000, 3)}
    out["eml_vs_jinja2"] = round(out["jinja2"]["per_s"] / out["eml"]["per_s"], 2)
    return out


Check = tuple[str, str, Callable[[dict[str, Any]], float], Callable[[float], bool], str]


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue, its value in this run, and whether it held."""
    checks: list[Check] = []
    for level in result["acknowledgements"]:
        checks.append((f"ack p99 {level} within 1.5x the floor", "<= 1.5x",
                       lambda r, lv=level: r["acknowledgements"][lv]["p99_ratio"], lambda v: v <= 1.5, "x"))
    for level in result["acknowledgements"]:
        if level.endswith(" c10"):
            checks.append((f"ack p99 {level} under 60 ms", "< 60 ms",
                           lambda r, lv=level: r["acknowledgements"][lv]["bot"]["p99_ms"], lambda v: v < 60, "ms"))
    checks += [
        ("every acknowledgement under 3 s (slowest, bursts included)", "< 3000 ms",
         lambda r: max([v["bot"]["max_ms"] for v in r["acknowledgements"].values()] + [r["burst"]["bot"]["max_ms"]]),
         lambda v: v < 3000, "ms"),
        (f"burst of {result['burst']['size']}: every war room complete within 30 s", "< 30 s",
         lambda r: r["burst"]["last_room_complete_worst_s"], lambda v: v < 30, "s"),
        ("war room ready (median) within 2.5 L", "<= 2.5 L",
         lambda r: r["war_room_ready"]["median_L"], lambda v: v <= 2.5, "L"),
        ("press to update (median) within 1.2 L", "<= 1.2 L",
         lambda r: r["press_to_update"]["median_L"], lambda v: v <= 1.2, "L"),
        ("mail merge .eml per second", ">= 2000/s", lambda r: r["mail_merge"]["eml"]["per_s"],
         lambda v: v >= 2000, "/s"),
        ("mail merge .docx per second", ">= 200/s", lambda r: r["mail_merge"]["docx"]["per_s"],
         lambda v: v >= 200, "/s"),
        (".eml within 2x the bare Jinja2 floor", "<= 2x", lambda r: r["mail_merge"]["eml_vs_jinja2"],
         lambda v: v <= 2, "x"),
        ("start-up to /readyz, existing database", "< 1.5 s", lambda r: r["footprint"]["start_s"],
         lambda v: v < 1.5, "s"),
        ("start-up to /readyz, first start (migrations)", "< 1.5 s", lambda r: r["footprint"]["first_start_s"],
         lambda v: v < 1.5, "s"),
        ("resident memory after warm-up", "< 120 MB", lambda r: r["footprint"]["rss_warm_mb"],
         lambda v: v < 120, "MB"),
    ]
    out = []
    for name, target, value_of, held, unit in checks:
        try:
            value = value_of(result)
        except KeyError:
            continue  # not measured in this run
        out.append({"target": name, "bound": target, "value": value, "unit": unit, "held": bool(held(value))})
    return out


async def run(kind: str, sizes: Sizes, workers: int | None = None, mail: bool = True) -> dict[str, Any]:
    """Every figure on one database (`sqlite` or `postgres`)."""
    started = datetime.now(UTC)
    result: dict[str, Any] = {"db": kind, "date": started.isoformat(timespec="seconds"), "machine": machine(),
                              "sizes": asdict(sizes), "latency_ms": sizes.latency * 1000}
    from adapters.slack import app as slack_app

    result["workers"] = workers if workers is not None else getattr(slack_app, "WORKERS", None)
    log("compiling the project's bytecode once, as an installed package has it")
    await asyncio.to_thread(compile_once)
    with tempfile.TemporaryDirectory(prefix="breachroom-bench-") as tmp:
        bench = Bench(kind, sizes, Path(tmp), workers)
        result["database"] = bench.dbs.server_version()
        await bench.api.start()
        try:
            log(f"{kind}: timing start-up ({sizes.starts} first starts with migrations, {sizes.starts} on the "
                "existing database)")
            footprint = await bench.footprint_starts()
            port = free_port()
            bench.floor, _ = await Served.start("floor", floor_argv(port), child_env(bench.api.api_url), port,
                                                "/slack/events", Path(tmp) / "floor.log")
            assert bench.bot is not None
            bench.to_bot = Slack(bench.bot.url, bench.api.url + "/response")
            bench.to_floor = Slack(bench.floor.url, bench.api.url + "/response")
            log("warming up")
            footprint["rss_warm_mb"] = round(await bench.warm_up(), 1)
            log("item 2: war room ready, one declaration at a time")
            result["war_room_ready"] = await bench.war_room_ready()
            log("item 3: press to update, one press at a time")
            result["press_to_update"] = await bench.press_to_update()
            log("item 1: acknowledgements, closed loops, bot and floor alternating")
            result["acknowledgements"] = await bench.acknowledgements()
            log(f"item 4: bursts of {sizes.burst} declarations")
            result["burst"] = await bench.bursts()
            log(f"item 6: memory after {sizes.incidents} incidents, then incidents export")
            after = await bench.memory_after_incidents()
            footprint["rss_after_incidents_mb"], footprint["incidents"] = after["rss_mb"], after["incidents"]
            try:
                footprint["export"] = await asyncio.to_thread(bench.export)
            except RuntimeError as exc:
                log(str(exc))
                footprint["export"] = {"error": str(exc)[-500:]}
            result["footprint"] = footprint
            result["slack_api"] = {"calls": bench.api.calls, "errors": bench.api.errors}
        finally:
            for client in (bench.to_bot, bench.to_floor):
                if client is not None:
                    await client.close()
            for served in (bench.bot, bench.floor):
                if served is not None:
                    await served.stop()
            await bench.api.stop()
            result["bot_log"] = bench.bot_log()
            bench.dbs.drop_all()
        if mail:
            log(f"item 5: mail merge of {sizes.clients:,} clients")
            result["mail_merge"] = await asyncio.to_thread(mail_merge_figures, sizes.clients, Path(tmp))
    result["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = targets(result)
    return result
