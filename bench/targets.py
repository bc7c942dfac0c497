"""The servers under test, each in its own process as in production, and a client that signs as Slack does."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.slack_api import TEAM_ID

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
# Bytecode of the project goes here, not into the work tree, and is kept between runs as an installed package
# keeps its own: start-up is then measured as on a machine where Breachroom is installed, whatever
# PYTHONDONTWRITEBYTECODE says in the shell that started the bench.
PYCACHE = Path(tempfile.gettempdir()) / "breachroom-bench-pycache"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(slack_api_url: str, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "MICROSOFT_", "TEAMS_", "BREACHROOM_", "DATABASE_URL"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(PYTHONPYCACHEPREFIX=str(PYCACHE), SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SLACK_API_URL=slack_api_url, **extra)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def compile_once() -> None:
    """Write the bytecode a first start would write, so that no timed start pays for it."""
    subprocess.run([sys.executable, "-c", "import breachroom.cli, breachroom.server, bench.floor"],
                   env={**child_env("http://127.0.0.1:9/api/")}, check=True, cwd=Path(__file__).parent.parent)


class Served:
    """A server process on a loopback port; its output goes to `log`."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.name, self.proc, self.url, self.log = name, proc, url, log

    @classmethod
    async def start(cls, name: str, argv: list[str], env: dict[str, str], port: int, ready_path: str,
                    log: Path, timeout: float = 60.0) -> tuple[Served, float]:
        """Start it and wait until `ready_path` answers (200 for /readyz; any answer for the floor).

        Returns the server and the seconds from the start of the process to its first good answer."""
        url = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            started = time.perf_counter()
            proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=Path(__file__).parent.parent)
        served = cls(name, proc, url, log)
        deadline = started + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.perf_counter() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{served.tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with http.get(url + ready_path) as response:
                        if response.status == 200 or ready_path != "/readyz":
                            return served, time.perf_counter() - started
                await asyncio.sleep(0.005)
        await served.stop()
        raise RuntimeError(f"{name} was not ready within {timeout:.0f} s:\n{served.tail()}")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def rss_mb(self) -> float:
        """Resident memory of the process, in MiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """User and system CPU time of the process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            for _ in range(200):
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                self.proc.kill()
                self.proc.wait()


def bot_argv(port: int, workers: int | None = None) -> list[str]:
    """`breachroom serve` itself; with `workers`, the same through bench.bot_workers, which sets that bound."""
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers is None:
        return [sys.executable, "-m", "breachroom.cli", *serve]
    return [sys.executable, "-m", "bench.bot_workers", str(workers), *serve]


def floor_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "bench.floor", "--port", str(port)]


class Slack:
    """Signed requests to one server, as Slack sends them (slash commands and button presses)."""

    def __init__(self, url: str, response_base: str) -> None:
        self.url = url + "/slack/events"
        self.response_base = response_base
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                          timeout=aiohttp.ClientTimeout(total=30))

    async def close(self) -> None:
        await self.http.close()

    @staticmethod
    def signed(body: str) -> tuple[bytes, dict[str, str]]:
        ts = str(int(time.time()))
        digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        return body.encode(), {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
                               "Content-Type": "application/x-www-form-urlencoded"}

    def slash(self, user: str, text: str, token: str) -> tuple[bytes, dict[str, str]]:
        return self.signed(urlencode({
            "token": "legacy", "team_id": TEAM_ID, "team_domain": "bench", "channel_id": "CPUBLIC1",
            "channel_name": "general", "user_id": user, "user_name": user.lower(), "command": "/breach",
            "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": f"{self.response_base}/{token}", "trigger_id": f"trig.{token}",
        }))

    def press(self, user: str, channel: str, ts: str, action_id: str, value: str) -> tuple[bytes, dict[str, str]]:
        payload = {
            "type": "block_actions", "team": {"id": TEAM_ID, "domain": "bench"},
            "user": {"id": user, "team_id": TEAM_ID}, "api_app_id": "A1", "trigger_id": f"trig.{time.time_ns()}",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "channel": {"id": channel}, "message": {"ts": ts},
            "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value,
                         "action_ts": str(time.time())}],
        }
        return self.signed(urlencode({"payload": json.dumps(payload)}))

    async def send(self, request: tuple[bytes, dict[str, str]]) -> tuple[int, float]:
        """(HTTP status, seconds) of one request; status 0 when the connection failed."""
        body, headers = request
        start = time.perf_counter()
        try:
            async with self.http.post(self.url, data=body, headers=headers) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            status = 0
        return status, time.perf_counter() - start


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
