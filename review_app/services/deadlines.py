"""Days left to the 14-day review deadline, in calendar days, UK time, and how to say them.

A deadline falls on a UK calendar day, and that day is what counts: days left are the calendar
days from today (in London) to the deadline's day. So 21 hours before a deadline is "due today" or
"due tomorrow" by the calendar, and 27 hours past it, on the next day, is "1 day overdue". One rule,
in Python for the rows on screen and in SQL for counting thousands of rows (tests keep the two in
step); every page says it with `describe`.

>>> from datetime import datetime, timedelta, timezone
>>> now = datetime(2024, 5, 1, 9, tzinfo=timezone.utc)
>>> days_left(now + timedelta(days=2, hours=20), now), urgency(3)
(3, <Urgency.OK: ''>)
>>> describe(days_left(now - timedelta(hours=27), now))
'1 day overdue'
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo

UK = "Europe/London"
DUE_SOON_DAYS = 2  # "due within 2 days" is highlighted as well as overdue

# The same rule for SQL; the one parameter is "now" (a TIMESTAMPTZ).
DAYS_LEFT_SQL = (f"CAST(date_diff('day', CAST(timezone('{UK}', CAST(? AS TIMESTAMPTZ)) AS DATE),"
                 f" CAST(timezone('{UK}', review_deadline) AS DATE)) AS INTEGER)")


class Urgency(str, Enum):
    OVERDUE = "overdue"
    DUE_SOON = "due soon"
    OK = ""


def days_left(deadline: datetime, now: datetime) -> int:
    """Calendar days from `now`'s UK day to `deadline`'s; below 0 is overdue."""
    uk = ZoneInfo(UK)
    return (deadline.astimezone(uk).date() - now.astimezone(uk).date()).days


def describe(days: int) -> str:
    """'due today', 'due tomorrow', '3 days left', '1 day overdue', '4 days overdue'."""
    if days == 0:
        return "due today"
    if days == 1:
        return "due tomorrow"
    if days > 1:
        return f"{days} days left"
    return f"{-days} day{'s' if days < -1 else ''} overdue"


def urgency(days: int) -> Urgency:
    if days < 0:
        return Urgency.OVERDUE
    return Urgency.DUE_SOON if days <= DUE_SOON_DAYS else Urgency.OK
