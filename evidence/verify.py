"""Check a case folder against the hashes the store recorded when it was written.

The store is the reference, not the folder's own manifest: someone able to change a file could
change the manifest beside it too.

>>> result = verify_case(store, "SZ-BUSLANE-01-20160318-122205-T459", Path("var/evidence"))  # doctest: +SKIP
>>> result.ok, result.altered  # doctest: +SKIP
(False, ('review.mp4',))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evidence.manifest import hash_file
from pipeline.store import Store


@dataclass(frozen=True)
class VerifyResult:
    contravention_id: str
    folder: Path | None
    checked: int = 0
    missing: tuple[str, ...] = ()
    altered: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    problem: str | None = None  # e.g. no evidence was ever recorded for the case
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
        return VerifyResult(contravention_id, None, problem="no evidence recorded for this case")
    row = case[0]
    folder = root / row["folder"]
    if row["deleted_at"] is not None:
        return VerifyResult(contravention_id, folder, deleted=f"by {row['deleted_by']} at "
                            f"{row['deleted_at']:%Y-%m-%d %H:%M %Z} ({row['deletion_reason']})")
    files = store.query("SELECT path, sha256 FROM evidence_files WHERE contravention_id = ? ORDER BY path",
                        [contravention_id])
    missing, altered = [], []
    for f in files:
        path = folder / f["path"]
        if not path.is_file():
            missing.append(f["path"])
        elif hash_file(path)[0] != f["sha256"]:
            altered.append(f["path"])
    recorded = {f["path"] for f in files}
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()} if folder.is_dir() else set()
    return VerifyResult(contravention_id, folder, len(files), tuple(missing), tuple(altered),
                        tuple(sorted(present - recorded)))


def verify_all(store: Store, root: Path) -> list[VerifyResult]:
    ids = store.query("SELECT contravention_id FROM evidence_cases ORDER BY contravention_id")
    return [verify_case(store, r["contravention_id"], root) for r in ids]
