"""`breachroom serve` with another bound on the Slack adapter's background workers, to compare bounds:
`python -m bench.bot_workers N serve --port P` (used by `python -m bench --workers N`)."""

from __future__ import annotations

import sys

from adapters.slack import app as slack_app
from breachroom.cli import main

if __name__ == "__main__":
    slack_app.WORKERS = int(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
