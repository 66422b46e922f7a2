"""The facts a pack states about one case: the store's rows, the officers' history and the verified metadata.json.

The lane rules and hours come from metadata.json (hashed when the evidence was written), not from
today's site file, so the pack states the rules the batch applied even if the site has changed since.

>>> facts = load_facts(store, "SZ-BUSLANE-01-20160318-122126-T15", metadata)  # doctest: +SKIP
>>> facts.validation.officer, facts.moment(30)  # doctest: +SKIP
('jo', '2016-03-18 12:21:26.200 GMT (UTC+00:00), frame 30')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from evidence.case import Case, load_case
from pipeline.deadlines import SERVICE_DAYS, describe_decided, serve_by, uk_day
from pipeline.plates.types import NOT_UK, is_foreign
from pipeline.reasons import REASONS
from pipeline.store import Store


@dataclass(frozen=True)
class Decision:
    at: datetime
    officer: str
    action: str           # validate | reject | reopen | exported (to the back office, export.record)
    reason: str | None    # a reject reason as officers read it
    note: str | None

    @property
    def label(self) -> str:
        return {"validate": "validated", "reject": "rejected", "reopen": "reopened"}.get(self.action, self.action)


@dataclass(frozen=True)
class Correction:
    at: datetime
    officer: str
    old: str | None
    new: str
    format: str
    whitelist_version: int | None
    whitelist_result: str


@dataclass(frozen=True)
class WhitelistVersion:
    id: int
    imported_at: datetime
    imported_by: str
    file_name: str
    sha256: str
    entry_count: int


@dataclass(frozen=True)
class CaseFacts:
    case: Case                          # contravention, lane passage and footage rows
    metadata: dict                      # the case's metadata.json, as verified against the store
    decisions: tuple[Decision, ...]     # oldest first
    corrections: tuple[Correction, ...]
    whitelist: WhitelistVersion | None  # the version the case's plate was last checked against

    @property
    def id(self) -> str:
        return self.case.id

    @property
    def row(self) -> dict:
        return self.case.contravention

    @property
    def passage(self) -> dict:
        return self.case.passage

    @property
    def tz(self) -> ZoneInfo:
        return self.case.tz

    @property
    def validation(self) -> Decision | None:
        """The decision that made the case validated (the latest validate)."""
        return next((d for d in reversed(self.decisions) if d.action == "validate"), None)

    @property
    def first_decision(self) -> Decision | None:
        """The first validate or reject: the one the review deadline is judged by (a reopen does not change it)."""
        return next((d for d in self.decisions if d.action in ("validate", "reject")), None)

    def deadlines(self) -> list[tuple[str, str]]:
        """The review deadline, when the case was decided against it, and the last day to serve the notice,
        by the rule (and in the words) of the review app and the back-office export (pipeline/deadlines.py)."""
        deadline = self.row["review_deadline"]
        rows = [("Review deadline", f"{self.local(deadline)} (the officer's decision is due by this day, UK time)")]
        if (first := self.first_decision) is not None:
            rows.append(("Decided", f"{first.label} by {first.officer} at {self.local(first.at)}: "
                                    f"{describe_decided(deadline, first.at)}"))
        day = uk_day(self.row["first_seen"])
        rows.append(("Serve the notice by", f"{serve_by(day):%A %d %B %Y} (the last of the {SERVICE_DAYS} days "
                                            f"beginning with the day of the contravention, {day:%d %B %Y}, UK time)"))
        return rows

    def originals(self) -> list[str]:
        """What each original segment in the pack holds: one file per recording the passage spans
        (pipeline/segments.py joins a passage across abutting files), each that file's own packets."""
        files = [(name, info) for name, info in self.metadata["files"].items() if info["kind"] == "original"]
        lines = []
        for name, info in files:
            first, last = info["first_frame"], info["last_frame"]
            line = (f"{name} holds frames {first} to {last} ({info['frames']} frames, from {self.moment(first)} "
                    f"to {self.moment(last)})")
            if len(files) > 1:  # each file's own frame numbers, besides the joined timeline's
                line += (f": frames {info['source_first_frame']} to {info['source_last_frame']} of the recording "
                         f"{Path(info['source']).name}")
            lines.append(line + ", copied without re-encoding.")
        return lines

    def local(self, value: datetime, millis: bool = False) -> str:
        return local_time(value, self.tz, millis)

    def clock(self, frame: int) -> str:
        """A frame's local time of day to the millisecond, with the UTC offset."""
        return local_time(self.case.time_of(frame), self.tz, millis=True, date=False)

    def moment(self, frame: int) -> str:
        """A frame's local time to the millisecond, and its number in the original recording."""
        return f"{self.local(self.case.time_of(frame), millis=True)}, frame {frame}"

    def plate_text(self) -> str:
        """The registration mark the case stands on and where it came from, or plainly that none was read."""
        plate = self.row["plate"]
        if not plate:
            return "not read (no registration mark could be read from the footage)"
        if self.corrections:
            last, read = self.corrections[-1], self.passage["plate"]
            return (f"{plate} (entered by {last.officer}; the plate reader read "
                    f"{read if read else 'no registration mark'})")
        return plate

    def country_text(self) -> str:
        return country_text(self.row.get("plate_country"), self.row.get("plate_country_confidence"))

    def hours_text(self) -> str:
        return hours_text(self.metadata["lane_rules"]["hours"])

    def distance_text(self) -> str:
        """How far the vehicle went along the lane: metres and how the camera was calibrated, else pixels."""
        metres, px = self.passage.get("distance_m"), self.passage["distance_px"]
        calibration = self.metadata["lane_rules"].get("calibration")
        if metres is None or not calibration:
            return f"{px:.0f} px along the lane's centre line (image pixels, not calibrated to metres)"
        return (f"{abs(metres):.1f} m along the lane's centre line, measured on the road plane "
                f"({abs(px):.0f} px in the image); calibration: {calibration}")

    def whitelist_text(self) -> str:
        """What the check of the case's plate against the list of permitted vehicles found."""
        entry, near = self.row["whitelist_entry"], self.row["whitelist_near_miss"]
        wl = self.whitelist
        if not self.row["plate"]:
            return "not checked: no registration mark was read"
        if wl is None:
            return "not checked: no whitelist had been imported when the plate was checked"
        version = (f"whitelist version {wl.id}, imported {self.local(wl.imported_at)} by {wl.imported_by}"
                   f" from {wl.file_name} (sha256 {wl.sha256}, {wl.entry_count} entries)")
        if entry:
            return f"{self.row['plate']} is on the whitelist as {entry} ({version})"
        return (f"{self.row['plate']} is not on the whitelist for that day ({version})"
                + (f"; near miss shown to the officer: {near}" if near else ""))


def local_time(value: datetime, tz: tzinfo, millis: bool = False, date: bool = True) -> str:
    """'2016-03-18 12:21:26 GMT (UTC+00:00)': the camera's local time with its offset, so no one has to guess.

    >>> from datetime import timezone
    >>> local_time(datetime(2016, 7, 1, 11, 0, 0, 250000, tzinfo=timezone.utc), ZoneInfo("Europe/London"), True)
    '2016-07-01 12:00:00.250 BST (UTC+01:00)'
    """
    t = value.astimezone(tz)
    offset = t.strftime("%z")
    fraction = f".{t.microsecond // 1000:03d}" if millis else ""
    day = f"{t:%Y-%m-%d} " if date else ""
    return f"{day}{t:%H:%M:%S}{fraction} {t.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def country_text(country: str | None, confidence: float | None) -> str:
    """The plate's country as the plate reader read it, and whether the DVLA can trace its keeper.

    >>> country_text("France", 0.97)
    'France (plate reader, confidence 0.97): not a UK plate: cannot be traced through the DVLA'
    >>> country_text(None, None)
    'not read (the plate reader gave no country)'
    """
    if not country:
        return "not read (the plate reader gave no country)"
    read = f"{country} (plate reader, confidence {confidence or 0:.2f})"
    return f"{read}: {NOT_UK}" if is_foreign(country) else read


def hours_text(hours: dict) -> str:
    """The lane's hours as metadata.json records them, in one line.

    >>> hours_text({"at_any_time": False, "windows": {"mon-fri": [{"start": "07:00:00", "end": "10:00:00"}]},
    ...             "treat_as_sunday": ["2016-03-25"], "no_enforcement": []})
    'Mon-Fri 07:00-10:00; dates treated as Sunday: 2016-03-25'
    """
    if hours.get("at_any_time"):
        return "at any time"
    parts = [f"{days.title()} " + ", ".join(f"{w['start'][:5]}-{w['end'][:5]}" for w in windows)
             for days, windows in hours["windows"].items()]
    if hours.get("treat_as_sunday"):
        parts.append("dates treated as Sunday: " + ", ".join(map(str, hours["treat_as_sunday"])))
    if hours.get("no_enforcement"):
        parts.append("not enforced on: " + ", ".join(map(str, hours["no_enforcement"])))
    return "; ".join(parts)


def load_facts(store: Store, contravention_id: str, metadata: dict) -> CaseFacts:
    case = load_case(store, contravention_id)
    with store.connect() as con:
        decisions = con.execute(
            'SELECT "at", officer, action, reason_code, note FROM decisions WHERE contravention_id = ? ORDER BY "at", id',
            [contravention_id],
        ).fetchall()
        corrections = con.execute(
            'SELECT "at", officer, old, new, format, whitelist_version, whitelist_result FROM plate_corrections'
            ' WHERE contravention_id = ? ORDER BY "at", id',
            [contravention_id],
        ).fetchall()
        exports = con.execute(  # handed to the back office (export.record): part of the case's history
            "SELECT created_at, created_by, 'exported', NULL, kind || ' export ' || id || ' (' || file_name || ')'"
            " FROM exports WHERE list_contains(cases, ?)", [contravention_id]).fetchall()
        version = case.contravention["whitelist_version"]
        whitelist = con.execute(
            "SELECT id, imported_at, imported_by, file_name, sha256, entry_count FROM whitelist_versions WHERE id = ?",
            [version],
        ).fetchone() if version is not None else None
    return CaseFacts(
        case=case,
        metadata=metadata,
        decisions=tuple(sorted((Decision(at, officer, action, REASONS.get(code, code) if code else None, note)
                               for at, officer, action, code, note in decisions + exports), key=lambda d: d.at)),
        corrections=tuple(Correction(*row) for row in corrections),
        whitelist=WhitelistVersion(*whitelist) if whitelist else None,
    )


def alternatives_text(raw: str | None) -> str | None:
    """The reader's other candidates, 'AB12CDE (3 reads), AB12COE (1 read)'; None when it kept none."""
    items = json.loads(raw) if raw else []
    if not items:
        return None

    def one(alt: object) -> str:
        if isinstance(alt, dict) and "text" in alt:
            reads = alt.get("reads")
            return f"{alt['text']} ({reads} read{'s' if reads != 1 else ''})" if reads else str(alt["text"])
        return str(alt)

    return ", ".join(map(one, items))
