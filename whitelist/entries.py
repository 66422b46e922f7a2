"""One approved vehicle on the list, and the rules about its validity window.

>>> e = WhitelistEntry("BX12BUS", "bus", "Northway Buses", date(2024, 1, 1), None)
>>> e.label(), e.valid_on(date(2030, 1, 1)), e.period()
('BX12BUS (bus, Northway Buses)', True, '2024-01-01 onwards')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

CATEGORIES = ("bus", "taxi", "private_hire", "emergency", "council", "utility", "other")

# valid_from/valid_to are council days: a moment is compared by its date in this zone.
LONDON = ZoneInfo("Europe/London")


def normalise_category(text: str) -> str:
    """'Private hire' -> 'private_hire'; ValueError for a category not in CATEGORIES."""
    category = text.strip().lower().replace(" ", "_").replace("-", "_")
    if category not in CATEGORIES:
        raise ValueError(f"unknown category '{text}' (use one of {', '.join(CATEGORIES)})")
    return category


@dataclass(frozen=True)
class WhitelistEntry:
    plate: str                  # normalised (see whitelist.plates.normalise_plate)
    category: str
    operator: str | None
    valid_from: date
    valid_to: date | None       # inclusive; None = open-ended
    source: str | None = None
    notes: str | None = None
    line: int = 0               # line in the file it came from
    from_version: int | None = None  # the version whose file that is; None before it is imported

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def overlaps(self, other: WhitelistEntry) -> bool:
        """Same plate with validity windows sharing at least one day."""
        return (
            self.plate == other.plate
            and (self.valid_to is None or other.valid_from <= self.valid_to)
            and (other.valid_to is None or self.valid_from <= other.valid_to)
        )

    def label(self) -> str:
        """How officers see the entry: 'BX12BUS (bus, Northway Buses)'."""
        what = ", ".join(part for part in (self.category, self.operator) if part)
        return f"{self.plate} ({what})"

    def period(self) -> str:
        if self.valid_to is None:
            return f"{self.valid_from} onwards"
        return f"{self.valid_from} to {self.valid_to}"
