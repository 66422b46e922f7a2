"""The deadlines of a case, one rule for the review app, the evidence pack and the back-office export.

Review deadline: in calendar days, UK time. A deadline falls on a UK calendar day, and that day is
what counts: days left are the calendar days from today (in London) to the deadline's day. So 21
hours before a deadline is "due today" or "due tomorrow" by the calendar, and 27 hours past it, on
the next day, is "1 day overdue"; a decision on the deadline's day is in time. One rule, in Python
for the rows on screen and in SQL for counting thousands of rows (tests keep the two in step); every
page and the pack say it with `describe` and `describe_decided`.

Serving the notice: the last day is the 28th beginning with the day of the contravention (that day
is the first), so the day itself plus 27; served on it is in time, a day later is not.

>>> from datetime import datetime, timedelta, timezone
>>> now = datetime(2024, 5, 1, 9, tzinfo=timezone.utc)
>>> days_left(now + timedelta(days=2, hours=20), now), urgency(3)
(3, <Urgency.OK: ''>)
>>> describe(days_left(now - timedelta(hours=27), now))
'1 day overdue'
>>> describe_decided(now + timedelta(days=3), now), serve_by(date(2016, 3, 18))
('decided 3 days before the review deadline', datetime.date(2016, 4, 14))
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

UK = "Europe/London"
REVIEW_DAYS = 14  # the review deadline, days after first seen: the council's target for an officer's decision
DUE_SOON_DAYS = 2  # "due within 2 days" is highlighted as well as overdue
SERVICE_DAYS = 28  # days to serve the notice, beginning with the day of the contravention

# The same rule for SQL; the one parameter is "now" (a TIMESTAMPTZ).
DAYS_LEFT_SQL = (f"CAST(date_diff('day', CAST(timezone('{UK}', CAST(? AS TIMESTAMPTZ)) AS DATE),"
                 f" CAST(timezone('{UK}', review_deadline) AS DATE)) AS INTEGER)")


class Urgency(str, Enum):
    OVERDUE = "overdue"
    DUE_SOON = "due soon"
    OK = ""


def uk_day(moment: datetime) -> date:
    """The UK calendar day `moment` falls on."""
    return moment.astimezone(ZoneInfo(UK)).date()


def days_left(deadline: datetime, now: datetime) -> int:
    """Calendar days from `now`'s UK day to `deadline`'s; below 0 is overdue."""
    return (uk_day(deadline) - uk_day(now)).days


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


def describe(days: int) -> str:
    """'due today', 'due tomorrow', '3 days left', '1 day overdue', '4 days overdue'."""
    if days == 0:
        return "due today"
    if days == 1:
        return "due tomorrow"
    if days > 1:
        return f"{days} days left"
    return f"{_days(-days)} overdue"


def describe_decided(deadline: datetime, decided_at: datetime) -> str:
    """How a decision stood against the review deadline, by the same calendar days as `describe`:
    'decided 3 days before the review deadline', '... on the review deadline's day', '... 1 day after ... (late)'."""
    days = days_left(deadline, decided_at)
    if days == 0:
        return "decided on the review deadline's day"
    if days > 0:
        return f"decided {_days(days)} before the review deadline"
    return f"decided {_days(-days)} after the review deadline (late)"


def urgency(days: int) -> Urgency:
    if days < 0:
        return Urgency.OVERDUE
    return Urgency.DUE_SOON if days <= DUE_SOON_DAYS else Urgency.OK


def serve_by(contravention_day: date) -> date:
    """The last day to serve the notice for a contravention on `contravention_day` (a UK day, `uk_day`)."""
    return contravention_day + timedelta(days=SERVICE_DAYS - 1)
