"""`breachroom teams-package`: the app package a Teams administrator uploads, made for one bot and one host."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _fail(message: str) -> int:
    print(f"breachroom: {message}", file=sys.stderr)
    return 2


def cmd_teams_package(args: argparse.Namespace) -> int:
    from adapters.teams.package import PackageError, check_guid, check_host, package

    try:
        app_id = check_guid(args.app_id, "--app-id")
        manifest_id = check_guid(args.manifest_id, "--manifest-id") if args.manifest_id is not None else None
        host = check_host(args.domain)
    except PackageError as exc:
        return _fail(str(exc))
    out: Path = args.out
    if out.suffix.lower() != ".zip":
        return _fail(f"--out: {out} should end in .zip (Teams uploads a .zip)")
    data = package(app_id=app_id, host=host, manifest_id=manifest_id)
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, out)  # never leave half a package where a good one was
    except OSError as exc:
        partial.unlink(missing_ok=True)
        return _fail(f"--out: cannot write {out} ({exc.strerror or exc})")
    print(f"breachroom: wrote {out} (app {manifest_id or app_id}, bot {app_id}, https://{host}). "
          "Upload it in Teams: Apps > Manage your apps > Upload an app.")
    return 0


def add_teams_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `teams-package --app-id GUID [--manifest-id GUID] --domain HOST [--out FILE]` to `breachroom`."""
    command = subparsers.add_parser(
        "teams-package", help="write the Teams app package (manifest and icons) to upload to Teams",
        description="Write the Teams app package for your Azure bot: manifest.json, a colour and an outline icon, "
                    "zipped. Upload it in Teams (Apps > Manage your apps > Upload an app) or in the Teams admin "
                    "center.",
    )
    # Checked by the command rather than by argparse, so that every mistake is one line.
    command.add_argument("--app-id", metavar="GUID", help="the Azure bot's Microsoft App ID (MICROSOFT_APP_ID); "
                                                          "required")
    command.add_argument("--manifest-id", metavar="GUID",
                         help="the Teams app's own id, when it must differ from the app id (default: the app id)")
    command.add_argument("--domain", metavar="HOST",
                         help="the public host name of breachroom serve, e.g. breach.example.com; required")
    command.add_argument("--out", type=Path, default=Path("breachroom-teams.zip"), metavar="FILE",
                         help="where to write the package (default: breachroom-teams.zip)")
    command.set_defaults(run=cmd_teams_package)
    return command
