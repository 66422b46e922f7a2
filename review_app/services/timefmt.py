"""Times as officers read them: the camera's local time, to the second."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_text(value: datetime | None, tz: str) -> str:
    """'2016-03-18 12:21:25 GMT' in the camera's zone; '' for no value."""
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S %Z") if value else ""
