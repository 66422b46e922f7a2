"""Everything the store knows about one contravention, read in one short connection.

>>> case = load_case(Store("var/demo.duckdb"), "SZ-BUSLANE-01-20160318-122205-T459")  # doctest: +SKIP
>>> case.time_of(case.first_frame) == case.contravention["first_seen"]  # doctest: +SKIP
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from evidence.settings import EvidenceError
from evidence.track import TrackBoxes
from pipeline.store import Store


@dataclass(frozen=True)
class Source:
    """One recording a case's frames come from. A passage joined across segment files
    (pipeline/segments.py) has one per file; its frame numbers count from the first one's frame 0."""

    footage: dict  # the footage_files row
    offset: int    # where this file's frame 0 falls in the case's frame numbers

    @property
    def path(self) -> Path:
        return Path(self.footage["path"])

    @property
    def frames(self) -> int:
        return self.footage["frames"]

    def time_of(self, frame: int, tz: ZoneInfo) -> datetime:
        """The time of this file's own frame number, from its own start time."""
        return (self.footage["start_time"] + timedelta(seconds=frame / self.footage["fps"])).astimezone(tz)


@dataclass(frozen=True)
class Case:
    contravention: dict
    passage: dict
    footage: dict  # the first source's row
    sources: tuple[Source, ...] = ()  # every recording in time order; () read as the footage alone

    @property
    def recordings(self) -> tuple[Source, ...]:
        return self.sources or (Source(self.footage, 0),)

    @property
    def id(self) -> str:
        return self.contravention["id"]

    @property
    def source(self) -> Path:
        return Path(self.footage["path"])

    @property
    def fps(self) -> float:
        return float(self.footage["fps"])

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.contravention["timezone"])

    @property
    def first_frame(self) -> int:
        return self.contravention["first_frame"]

    @property
    def last_frame(self) -> int:
        return self.contravention["last_frame"]

    @cached_property
    def track(self) -> TrackBoxes:
        return TrackBoxes.from_json(self.passage["track"])

    def time_of(self, frame: int) -> datetime:
        """A frame's time in the site's timezone, as the batch computed it (start + frame / fps)."""
        return (self.footage["start_time"] + timedelta(seconds=frame / self.fps)).astimezone(self.tz)

    def folder(self) -> Path:
        """<camera>/<local date of first sighting>/<id>, relative to the evidence root."""
        return Path(self.contravention["camera_id"], f"{self.time_of(self.first_frame):%Y-%m-%d}", self.id)


def load_case(store: Store, contravention_id: str) -> Case:
    with store.connect() as con:
        def row(sql: str, key: str) -> dict | None:
            cur = con.execute(sql, [key])
            found = cur.fetchone()
            return dict(zip([d[0] for d in cur.description], found)) if found else None

        contravention = row("SELECT * FROM contraventions WHERE id = ?", contravention_id)
        if contravention is None:
            raise EvidenceError(f"{contravention_id}: no such contravention")
        passage = row("SELECT * FROM lane_passages WHERE id = ?", contravention["passage_id"])
        footage = row("SELECT * FROM footage_files WHERE id = ?", contravention["footage_id"])
        parts = json.loads(passage["parts"]) if passage and passage["parts"] else []
        sources = tuple(Source(row("SELECT * FROM footage_files WHERE id = ?", p["footage_id"]), p["offset"])
                        for p in parts)
    if passage is None or footage is None or any(s.footage is None for s in sources):
        raise EvidenceError(f"{contravention_id}: its lane passage or a footage file is not in the store")
    if passage["track"] is None:
        raise EvidenceError(f"{contravention_id}: the lane passage has no track to outline")
    if footage["start_time"] is None or not footage["fps"]:
        raise EvidenceError(f"{contravention_id}: the footage file has no start time or frame rate")
    return Case(contravention, passage, footage, sources)
