"""Days left to the 14-day review deadline, and which cases to highlight.

Days left are whole days, rounded down: a case with 2 days 20 hours to go shows 2, one whose
deadline passed an hour ago shows -1. One rule, in Python for the rows on screen and in SQL for
counting thousands of rows, and tests keep the two in step.

>>> from datetime import datetime, timedelta, timezone
>>> now = datetime(2024, 5, 1, 9, tzinfo=timezone.utc)
>>> days_left(now + timedelta(days=2, hours=20), now), urgency(2)
(2, <Urgency.DUE_SOON: 'due soon'>)
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import Enum

DUE_SOON_DAYS = 2  # "due within 2 days" is highlighted as well as overdue

# The same rule for SQL; the one parameter is "now" (a TIMESTAMPTZ).
DAYS_LEFT_SQL = "CAST(floor(epoch(review_deadline - CAST(? AS TIMESTAMPTZ)) / 86400) AS INTEGER)"


class Urgency(str, Enum):
    OVERDUE = "overdue"
    DUE_SOON = "due soon"
    OK = ""


def days_left(deadline: datetime, now: datetime) -> int:
    return math.floor((deadline - now).total_seconds() / 86400)


def urgency(days: int) -> Urgency:
    if days < 0:
        return Urgency.OVERDUE
    return Urgency.DUE_SOON if days <= DUE_SOON_DAYS else Urgency.OK
