"""The night batch: each footage file is decoded once, tracked, judged, and recorded in one transaction.

A file already recorded as processed (same sha256) is skipped, so re-running a batch adds nothing;
a file that cannot be read is recorded with its error and the batch carries on.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from pipeline.detection import UltralyticsTracker, VehicleTracker
from pipeline.footage import FootageError, VideoInfo, footage_sha256, open_footage, resolve_start
from pipeline.lane_rules import LaneGeometry, PassageDecision, judge
from pipeline.models import resolve_model
from pipeline.results import record_result
from pipeline.site import SiteConfig, load_site
from pipeline.store import Store, default_actor
from pipeline.tracks import TrackBuilder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileResult:
    path: Path
    sha256: str | None
    status: str  # processed | failed | skipped
    error: str | None = None
    start: datetime | None = None
    info: VideoInfo | None = None
    frames: int = 0
    passages: tuple[PassageDecision, ...] = ()
    seconds: float = 0.0

    @property
    def contraventions(self) -> int:
        return sum(p.is_contravention for p in self.passages)


@dataclass
class BatchSummary:
    results: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.results)

    @property
    def ok(self) -> bool:
        """False only when nothing at all could be processed."""
        return not self.results or any(r.status != "failed" for r in self.results)

    def lines(self) -> list[str]:
        fps = self.frames / self.seconds if self.seconds else 0.0
        out = [
            f"files: {len(self.results)} ({self.count('processed')} processed, "
            f"{self.count('skipped')} already done, {self.count('failed')} failed)",
            f"frames: {self.frames}",
            f"lane passages: {sum(len(r.passages) for r in self.results)}",
            f"contraventions: {sum(r.contraventions for r in self.results)}",
            f"wall time: {self.seconds:.1f} s ({fps:.1f} frames/s)",
        ]
        out += [f"FAILED {r.error}" for r in self.results if r.status == "failed"]
        return out


class Batch:
    """Process footage files of one camera site into a store.

    >>> Batch(load_site("sites/shenzhen_buslane.yaml"), Store("var/demo.duckdb")).run(["clip.mp4"])  # doctest: +SKIP
    """

    def __init__(
        self,
        site: SiteConfig,
        store: Store,
        *,
        site_sha256: str | None = None,
        start: datetime | None = None,
        tracker_factory: Callable[[SiteConfig], VehicleTracker] | None = None,
        actor: str | None = None,
        progress: bool = True,
    ):
        self.site, self.store, self.start = site, store, start
        self.site_sha256 = site_sha256
        self.actor = actor or default_actor()
        self.progress = progress
        self._tracker_factory = tracker_factory or default_tracker
        self._tracker: VehicleTracker | None = None

    @classmethod
    def from_files(cls, site_path: str | Path, db: str | Path, **kwargs) -> Batch:
        site_path = Path(site_path)
        site = load_site(site_path)  # fails before any footage is read
        return cls(site, Store(db), site_sha256=hashlib.sha256(site_path.read_bytes()).hexdigest(), **kwargs)

    def run(self, files: Sequence[str | Path]) -> BatchSummary:
        summary = BatchSummary()
        began = time.monotonic()
        bar = tqdm(files, desc="files", unit="file", file=sys.stderr, disable=not self.progress, position=0)
        for path in bar:
            result = self.process(Path(path))
            summary.results.append(result)
            if result.status == "failed":
                log.error("%s", result.error)
        summary.seconds = time.monotonic() - began
        return summary

    def process(self, path: Path) -> FileResult:
        began = time.monotonic()
        try:
            sha = footage_sha256(path)
        except OSError as e:
            return self._record(FileResult(path, None, "failed", error=f"{path}: cannot read file ({e.strerror})"))
        if self.store.query("SELECT 1 FROM footage_files WHERE id = ? AND status = 'processed'", [sha]):
            log.info("%s: already processed, skipped", path)
            return FileResult(path, sha, "skipped")
        try:
            result = self._analyse(path, sha)
        except FootageError as e:
            result = FileResult(path, sha, "failed", error=str(e))
        return self._record(result, time.monotonic() - began)

    def _record(self, result: FileResult, seconds: float = 0.0) -> FileResult:
        if result.sha256 is None:
            return result  # nothing to key a row on (unreadable path); reported in the summary
        with self.store.transaction() as con:
            record_result(con, result, self.site, self.site_sha256, self.actor, seconds)
        return result

    def _analyse(self, path: Path, sha: str) -> FileResult:
        with open_footage(path) as video:
            start = resolve_start(path, self.site.start_time, self.site.tz, self.start)
            info = video.info
            geometry = LaneGeometry(self.site, info.width, info.height)
            tracker = self._tracker = self._tracker or self._tracker_factory(self.site)
            tracker.start()
            builder = TrackBuilder()
            frames = 0
            with tqdm(total=info.frames_estimate, desc=path.name, unit="frame", file=sys.stderr,
                      disable=not self.progress, position=1, leave=False) as bar:
                for index, bgr in video.frames():
                    builder.add(index, tracker.update(bgr))
                    frames = index + 1
                    bar.update()
            if video.truncation_error:
                # Evidence from a damaged recording would not stand up; the whole file is reported.
                raise FootageError(f"{path}: {video.truncation_error}")
        decisions = [d for t in builder.tracks() if (d := judge(t, geometry, self.site, info.fps, start))]
        decisions.sort(key=lambda d: d.first_frame)
        return FileResult(path, sha, "processed", start=start, info=info, frames=frames, passages=tuple(decisions))


def default_tracker(site: SiteConfig) -> VehicleTracker:
    d = site.detection
    return UltralyticsTracker(str(resolve_model(d.model)), d.confidence, d.tracker, d.imgsz)
