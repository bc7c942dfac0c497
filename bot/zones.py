"""Time zones as forms carry them: an IANA name (`Europe/Berlin`), a fixed offset (`+02:00`) or nothing (UTC);
and IANA names as a workspace or a facts file stores them. Every name typed by someone is read here."""

from __future__ import annotations

import re
from datetime import UTC, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def zone_of(name: str | None) -> tzinfo:
    """The zone for `name`; ValueError for anything that is not one."""
    if not name or name.upper() == "UTC":
        return UTC
    offset = _OFFSET.match(name)
    if offset:
        sign = -1 if offset[1] == "-" else 1
        return timezone(sign * timedelta(hours=int(offset[2]), minutes=int(offset[3])))
    return named_zone(name)


def named_zone(name: str) -> ZoneInfo:
    """The IANA zone called `name` (what a workspace and a facts file store); ValueError for anything else.

    ZoneInfo reads `name` as a path under the zone database: a name too long for the file system is an OSError
    (File name too long), one with a NUL or `..` a ValueError. Each is just a name this machine does not know.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name[:100]!r}") from None
