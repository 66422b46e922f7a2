"""Check a case folder against the hashes the store recorded when it was written.

The store is the reference, not the folder's own manifest: someone able to change a file could
change the manifest beside it too. A file that is not there is reported as missing, never as
altered; `verify_all` also fails every contravention that has no evidence recorded at all (a batch
interrupted while writing it), and stored paths that lead out of the root are refused.

>>> result = verify_case(store, "SZ-BUSLANE-01-20160318-122205-T459", Path("var/evidence"))  # doctest: +SKIP
>>> result.ok, result.altered  # doctest: +SKIP
(False, ('review.mp4',))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evidence.manifest import hash_file
from evidence.settings import UnsafePath, case_file, case_folder
from pipeline.store import Store

NO_EVIDENCE = ("evidence missing: none is recorded for this contravention (a batch interrupted while writing it?); "
               "re-run the batch or `buslane evidence write --missing` to write it")


@dataclass(frozen=True)
class VerifyResult:
    contravention_id: str
    folder: Path | None
    checked: int = 0
    missing: tuple[str, ...] = ()
    altered: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    problem: str | None = None  # e.g. no evidence was ever recorded for the case, or an unsafe stored path
    deleted: str | None = None  # removed by retention: nothing to check, not a failure

    @property
    def ok(self) -> bool:
        return not (self.missing or self.altered or self.extra or self.problem)

    def lines(self) -> list[str]:
        if self.deleted:
            return [f"DELETED {self.contravention_id}: {self.deleted}"]
        if self.problem:
            return [f"FAILED {self.contravention_id}: {self.problem}"]
        if self.ok:
            return [f"OK {self.contravention_id}: {self.checked} files match ({self.folder})"]
        return [f"FAILED {self.contravention_id} ({self.folder}):"] + [
            f"  {what}: {name}" for what, names in (("missing", self.missing), ("altered", self.altered),
                                                    ("unexpected file", self.extra)) for name in names
        ]


def verify_case(store: Store, contravention_id: str, root: Path) -> VerifyResult:
    """Recompute the sha256 of every recorded file and look for files that should not be there."""
    case = store.query("SELECT * FROM evidence_cases WHERE contravention_id = ?", [contravention_id])
    if not case:
        return VerifyResult(contravention_id, None, problem=NO_EVIDENCE)
    row = case[0]
    try:
        folder = case_folder(root, row["folder"], contravention_id)
    except UnsafePath as e:
        return VerifyResult(contravention_id, None, problem=str(e))
    if row["deleted_at"] is not None:
        return VerifyResult(contravention_id, folder, deleted=f"by {row['deleted_by']} at "
                            f"{row['deleted_at']:%Y-%m-%d %H:%M %Z} ({row['deletion_reason']})")
    files = store.query("SELECT path, sha256 FROM evidence_files WHERE contravention_id = ? ORDER BY path",
                        [contravention_id])
    missing, altered = [], []
    for f in files:
        try:
            path = case_file(folder, f["path"], contravention_id)
        except UnsafePath as e:
            return VerifyResult(contravention_id, folder, problem=str(e))
        if not path.is_file():
            missing.append(f["path"])
        elif hash_file(path)[0] != f["sha256"]:
            altered.append(f["path"])
    recorded = {f["path"] for f in files}
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()} if folder.is_dir() else set()
    return VerifyResult(contravention_id, folder, len(files), tuple(missing), tuple(altered),
                        tuple(sorted(present - recorded)))


def verify_all(store: Store, root: Path) -> list[VerifyResult]:
    """Every contravention (one without evidence fails) and every recorded case folder."""
    ids = store.query("SELECT id FROM contraventions UNION SELECT contravention_id FROM evidence_cases ORDER BY 1")
    return [verify_case(store, r["id"], root) for r in ids]
