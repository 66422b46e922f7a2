"""The night batch: analyse each footage file, then record it in one short transaction.

A file already recorded as processed (same sha256) is skipped, so re-running a batch adds nothing,
and a batch killed part-way resumes where it stopped: a file is either wholly recorded or not at
all. A file that cannot be read is recorded with its error and the batch carries on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from evidence.settings import EvidenceError, resolve_root
from evidence.writer import missing_evidence, write_case
from pipeline.analysis import FileResult
from pipeline.engines import engine_results
from pipeline.footage import footage_sha256
from pipeline.results import record_result
from pipeline.site import SiteConfig, load_site
from pipeline.store import Store, default_actor

log = logging.getLogger(__name__)


@dataclass
class BatchSummary:
    results: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    evidence_seconds: float = 0.0
    evidence_failures: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.results)

    @property
    def ok(self) -> bool:
        """False only when nothing at all could be processed."""
        return not self.results or any(r.status != "failed" for r in self.results)

    @property
    def evidence_share(self) -> float:
        return self.evidence_seconds / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        fps = self.frames / self.seconds if self.seconds else 0.0
        detected = sum(r.frames_detected for r in self.results)
        out = [
            f"files: {len(self.results)} ({self.count('processed')} processed, "
            f"{self.count('skipped')} already done, {self.count('failed')} failed)",
            f"frames: {self.frames} ({detected} sent to the detector)",
            f"lane passages: {sum(len(r.passages) for r in self.results)}",
            f"contraventions: {sum(r.contraventions for r in self.results)}",
            f"wall time: {self.seconds:.1f} s ({fps:.1f} frames/s)",
            f"evidence: {self.evidence_seconds:.1f} s, {self.evidence_share:.0%} of the wall time",
        ]
        out += [f"FAILED {r.error}" for r in self.results if r.status == "failed"]
        out += [f"EVIDENCE NOT WRITTEN {e}" for e in self.evidence_failures]
        return out


class Batch:
    """Process footage files of one camera site into a store.

    >>> Batch.from_files("sites/shenzhen_buslane.yaml", "var/demo.duckdb").run(["clip.mp4"])  # doctest: +SKIP
    """

    def __init__(self, site: SiteConfig, site_path: Path, store: Store, *, evidence_root: Path | None = None,
                 start: datetime | None = None, actor: str | None = None, progress: bool = True,
                 workers: int | None = None, engine: str = "local", address: str | None = None):
        self.site, self.site_path, self.store, self.start = site, site_path, store, start
        self.site_sha256 = hashlib.sha256(site_path.read_bytes()).hexdigest()
        self.evidence_root = resolve_root(store, evidence_root)  # the database's recorded root; RootMismatch if not
        self.actor = actor or default_actor()
        self.progress = progress
        self.workers = workers or os.cpu_count() or 1
        self.engine, self.address = engine, address

    @classmethod
    def from_files(cls, site_path: str | Path, db: str | Path, **kwargs) -> Batch:
        site_path = Path(site_path)
        site = load_site(site_path)  # fails before any footage is read
        return cls(site, site_path, Store(db), **kwargs)

    def run(self, files: Sequence[str | Path]) -> BatchSummary:
        summary = BatchSummary()
        began = time.monotonic()
        jobs = []
        for path in map(Path, files):
            try:
                sha = footage_sha256(path)
            except OSError as e:
                summary.results.append(FileResult(path, None, "failed", error=f"{path}: cannot read file ({e.strerror})"))
                continue
            if self.store.query("SELECT 1 FROM footage_files WHERE id = ? AND status = 'processed'", [sha]):
                log.info("%s: already processed, skipped", path)
                summary.results.append(FileResult(path, sha, "skipped"))
            else:
                jobs.append((path, sha))
        # Cases an earlier, interrupted run recorded without evidence (their files are skipped above).
        for contravention in missing_evidence(self.store, self.site.camera_id):
            self._write_evidence(contravention, summary)
        results = engine_results(self.engine, self.site, jobs, self.start, workers=self.workers,
                                 address=self.address, progress=self.progress)
        for result in tqdm(results, total=len(jobs), desc="files", unit="file", file=sys.stderr,
                           disable=not self.progress):
            for contravention in self._record(result):
                self._write_evidence(contravention, summary)
            summary.results.append(result)
        for result in summary.results:
            if result.status == "failed":
                log.error("%s", result.error)
        summary.seconds = time.monotonic() - began
        return summary

    def _write_evidence(self, contravention: str, summary: BatchSummary) -> None:
        began = time.monotonic()
        try:
            write_case(self.store, contravention, self.site, self.site_path, self.evidence_root, actor=self.actor)
        except EvidenceError as e:
            # The case stays in the queue without evidence; the next run or `evidence write --missing` retries it.
            summary.evidence_failures.append(f"{contravention}: {e}")
        summary.evidence_seconds += time.monotonic() - began

    def _record(self, result: FileResult) -> list[str]:
        with self.store.transaction() as con:
            return record_result(con, result, self.site, self.site_sha256, self.actor)
