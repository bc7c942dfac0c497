"""The floor for acknowledgements: a bare slack-bolt AsyncApp, served the usual way on aiohttp, that only acks.

`python -m bench.floor --port N` with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_API_URL set, as
`breachroom serve` is run. It checks signatures and authorizes (auth.test once) like any Bolt app, and does
nothing else: whatever Breachroom's acknowledgement costs beyond this is Breachroom's own.
"""

from __future__ import annotations

import argparse
import os
import re

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def make_floor() -> AsyncApp:
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @app.command("/breach")
    async def breach(ack: AsyncAck) -> None:
        await ack()

    @app.action(re.compile(r"^item\.toggle(#\d+)?$"))
    async def pressed(ack: AsyncAck) -> None:
        await ack()

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    make_floor().start(port=args.port, path="/slack/events", host=args.host)


if __name__ == "__main__":
    main()
