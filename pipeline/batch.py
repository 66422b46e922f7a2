"""The night batch: analyse each footage file, then record it in one short transaction.

A file already recorded as processed (same sha256) is skipped, so re-running a batch adds nothing,
and a batch killed part-way resumes where it stopped: a file is either wholly recorded or not at
all. A file listed twice (or under two names) is processed once.

A batch never dies of one file. Whatever goes wrong with a file (not a file, not a video, a still
image, a frame the site's zones do not fit, any exception in its analysis or its recording) is
recorded in footage_files as failed, with a one-line reason naming the file, and the batch goes on.
What is not a regular file (a named pipe, a device, a socket, a symbolic link loop) is refused
before it is opened: reading a pipe or a device never ends. So is a name that is not UTF-8: the
database could not record where the file is. A path that is not a readable file has no content to
hash: its row's id is the sha256 of "path:" and its absolute path, so re-runs replace that row
rather than add one.

Two batches over the same files at once: each file is claimed with an OS lock (POSIX `lockf`) on
a file named by its sha256 in a folder beside the database, held from before its analysis until
it is recorded. The other batch skips a claimed file. The kernel drops the lock the moment its
batch dies, even of SIGKILL, so no claim outlives its batch and nothing waits for a lease to run
out; POSIX locks are not inherited by forked workers. Recording re-checks inside its transaction
that no one recorded the file meanwhile (in case the claims folder is not shared, e.g. NFS).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from evidence.settings import EvidenceError, resolve_root
from evidence.writer import missing_evidence, write_case
from pipeline.analysis import FileResult
from pipeline.engines import check_models, engine_results, one_line
from pipeline.footage import FootageError, footage_sha256, open_footage
from pipeline.report import printable
from pipeline.results import record_result
from pipeline.segments import join_at_edges
from pipeline.site import SiteConfig, load_site
from pipeline.site_check import frame_problems
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
        """False only when nothing at all could be processed (a file done before, or by another batch now, counts)."""
        return not self.results or any(r.status in ("processed", "skipped", "claimed") for r in self.results)

    @property
    def evidence_share(self) -> float:
        return self.evidence_seconds / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        fps = self.frames / self.seconds if self.seconds else 0.0
        detected = sum(r.frames_detected for r in self.results)
        out = [
            f"files: {len(self.results)} ({self.count('processed')} processed, "
            f"{self.count('skipped')} already done, {self.count('failed')} failed)"
            + (f", {n} listed twice" if (n := self.count("duplicate")) else "")
            + (f", {n} being processed by another batch" if (n := self.count("claimed")) else ""),
            f"frames: {self.frames} ({detected} sent to the detector)",
            f"lane passages: {sum(len(r.passages) for r in self.results)}",
            f"contraventions: {sum(r.contraventions for r in self.results)}",
            f"wall time: {self.seconds:.1f} s ({fps:.1f} frames/s)",
            f"evidence: {self.evidence_seconds:.1f} s, {self.evidence_share:.0%} of the wall time",
        ]
        out += [f"FAILED {r.error}" for r in self.results if r.status == "failed"]
        out += [f"EVIDENCE NOT WRITTEN {e}" for e in self.evidence_failures]
        return [printable(line) for line in out]


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
        check_models(site)
        return cls(site, site_path, Store(db), **kwargs)

    def run(self, files: Sequence[str | Path]) -> BatchSummary:
        summary = BatchSummary()
        began = time.monotonic()
        with Claims(self.store.path) as claims:
            jobs = []
            seen: set[str] = set()  # absolute paths and sha256s already taken in this batch
            for path in map(Path, files):
                try:
                    job = self._admit(path, seen, claims)
                except Exception as e:  # noqa: BLE001 - whatever it is, it is this file's failure
                    job = FileResult(path, _path_id(path), "failed", error=f"{path}: {one_line(e)}")
                if isinstance(job, FileResult):
                    self._finish(job, summary)
                    claims.release(job.sha256)
                else:
                    jobs.append(job)
            self._write_missing_evidence(summary, claims)
            results = engine_results(self.engine, self.site, jobs, self.start, workers=self.workers,
                                     address=self.address, progress=self.progress)
            with closing(results):  # stopping early ends the workers now
                for result in tqdm(results, total=len(jobs), desc="files", unit="file", file=sys.stderr,
                                   disable=not self.progress):
                    self._finish(result, summary)
                    claims.release(result.sha256)
        for result in summary.results:
            if result.status == "failed":
                log.error("%s", printable(result.error))
        summary.seconds = time.monotonic() - began
        return summary

    def _write_evidence(self, contravention: str, summary: BatchSummary) -> None:
        began = time.monotonic()
        try:
            write_case(self.store, contravention, self.site, self.site_path, self.evidence_root, actor=self.actor)
        except Exception as e:  # noqa: BLE001 - EvidenceError or not, the batch goes on
            # The case stays in the queue without evidence; the next run or `evidence write --missing` retries it.
            summary.evidence_failures.append(f"{contravention}: {e if isinstance(e, EvidenceError) else one_line(e)}")
        summary.evidence_seconds += time.monotonic() - began

    def _write_missing_evidence(self, summary: BatchSummary, claims: Claims) -> None:
        """Cases an earlier, interrupted run recorded without evidence, each under its footage file's
        claim: a batch running now may be writing that evidence itself."""
        for contravention in missing_evidence(self.store, self.site.camera_id):
            footage = self.store.query("SELECT footage_id FROM contraventions WHERE id = ?", [contravention])[0]["footage_id"]
            if not claims.take(footage):
                continue
            try:
                if contravention in missing_evidence(self.store, self.site.camera_id):  # not written meanwhile
                    self._write_evidence(contravention, summary)
            finally:
                claims.release(footage)

    def _admit(self, path: Path, seen: set[str], claims: Claims) -> tuple[Path, str] | FileResult:
        """A (path, sha256) job for the engine, or this input's result without analysis."""
        absolute = str(path.absolute())
        if absolute in seen:
            return FileResult(path, None, "duplicate")
        seen.add(absolute)
        if not _utf8(absolute):  # the database could not say where the file is
            return FileResult(path, _path_id(path), "failed", error=f"{path}: the file name is not UTF-8: rename it")
        try:
            sha = footage_sha256(path)  # a pipe, a device or a link loop fails here, unread
        except FootageError as e:
            return FileResult(path, _path_id(path), "failed", error=str(e))
        except OSError as e:  # e.g. no permission to read it
            return FileResult(path, _path_id(path), "failed", error=f"{path}: cannot read file ({e.strerror or e})")
        if sha in seen:  # the same bytes under another name
            return FileResult(path, sha, "duplicate")
        seen.add(sha)
        if not claims.take(sha):
            log.info("%s: being processed by another batch, skipped", printable(str(path)))
            return FileResult(path, sha, "claimed")
        if self._recorded(sha):
            claims.release(sha)
            log.info("%s: already processed, skipped", printable(str(path)))
            return FileResult(path, sha, "skipped")
        # The header only: a still image, or a frame the site's zones do not fit, fails here, not in a worker.
        try:
            with open_footage(path) as video:
                width, height = video.info.width, video.info.height
        except FootageError as e:
            return FileResult(path, sha, "failed", error=str(e))
        if problems := frame_problems(self.site, width, height):
            return FileResult(path, sha, "failed", error=f"{path}: does not fit site {self.site.camera_id} "
                              f"({self.site_path}): {'; '.join(problems)}")
        return path, sha

    def _recorded(self, sha: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM footage_files WHERE id = ? AND status = 'processed'", [sha]))

    def _finish(self, result: FileResult, summary: BatchSummary) -> None:
        """Record one file's result (a failure too), then write the evidence of the cases it added."""
        if result.status in ("processed", "failed"):
            try:
                added = self._record(result)
            except Exception as e:  # noqa: BLE001 - recorded as this file's failure instead
                log.exception("%s: could not be recorded", printable(str(result.path)))
                result = replace(result, status="failed", passages=(), plates={},
                                 error=f"{result.path}: could not be recorded: {one_line(e)}")
                try:
                    added = self._record(result)
                except Exception:  # noqa: BLE001 - the database itself is failing; the summary still says so
                    log.exception("%s: the failure could not be recorded either", printable(str(result.path)))
                    added = []
            if added is None:
                result = replace(result, status="claimed")  # another batch recorded it meanwhile
            for contravention in added or ():
                self._write_evidence(contravention, summary)
        summary.results.append(result)

    def _record(self, result: FileResult) -> list[str] | None:
        """The contraventions added, or None when another batch has recorded the file meanwhile."""
        with self.store.transaction() as con:
            if result.sha256 and con.execute(
                "SELECT 1 FROM footage_files WHERE id = ? AND status = 'processed'", [result.sha256]
            ).fetchone():
                return None
            added = record_result(con, result, self.site, self.site_sha256, self.actor)
            if result.status == "processed":  # a neighbouring file may hold the rest of a passage cut at an edge
                added += join_at_edges(con, result.sha256, self.site, self.actor)
            return added


class Claims:
    """The files this batch is working on, as OS locks beside the database (see the module docstring)."""

    def __init__(self, db: Path):
        self.folder = db.parent / f"{db.name}.claims"
        self.held: dict[str, int] = {}

    def take(self, sha: str) -> bool:
        self.folder.mkdir(exist_ok=True)
        fd = os.open(self.folder / sha, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another batch
            os.close(fd)
            return False
        self.held[sha] = fd
        return True

    def release(self, sha: str | None) -> None:
        fd = self.held.pop(sha, None)
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> Claims:
        return self

    def __exit__(self, *exc) -> None:
        for sha in list(self.held):
            self.release(sha)


def _path_id(path: Path) -> str:
    """A stable footage_files id for an input with no content to hash (missing, a directory, a pipe)."""
    return hashlib.sha256(b"path:" + os.fsencode(path.absolute())).hexdigest()


def _utf8(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:  # bytes that are not UTF-8, as Python decodes a file name
        return False
    return True
