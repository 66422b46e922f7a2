"""Check a case folder against the hashes recorded in the history when it was written.

The history is the reference, not the folder alone nor the store's unchained evidence_files table:
the evidence_cases row must equal the record the chain holds of it (pipeline.history.check_row),
written with its `evidence.written` (or `evidence.deleted`) audit row; its manifest_sha256 must be
the sha256 of the folder's manifest.json; that manifest gives every other file's sha256, which the
files, SHA256SUMS and evidence_files must all agree with. Someone able to change a file and the
table, or the manifest beside it, is caught; so is a deletion by SQL that retention never recorded.
When manifest.json itself is missing or altered, the other files are checked against evidence_files,
to say what else changed. A file that is not there is reported as missing, never as altered;
`verify_all` also fails every contravention that has no evidence recorded at all (a batch
interrupted while writing it), and stored paths that lead out of the root are refused.

>>> result = verify_case(store, "SZ-BUSLANE-01-20160318-122205-T459", Path("var/evidence"))  # doctest: +SKIP
>>> result.ok, result.altered  # doctest: +SKIP
(False, ('review.mp4',))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from evidence.manifest import CHECKSUMS, MANIFEST, hash_file
from evidence.settings import UnsafePath, case_file, case_folder
from pipeline.history import check_row
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
    unbacked: tuple[str, ...] = ()  # evidence_files rows that differ from the manifest the history records
    problem: str | None = None  # e.g. no evidence was ever recorded for the case, or an unsafe stored path
    deleted: str | None = None  # removed by retention: nothing to check, not a failure

    @property
    def ok(self) -> bool:
        return not (self.missing or self.altered or self.extra or self.unbacked or self.problem)

    def lines(self) -> list[str]:
        if self.deleted:
            return [f"DELETED {self.contravention_id}: {self.deleted}"]
        if self.problem:
            return [f"FAILED {self.contravention_id}: {self.problem}"]
        if self.ok:
            return [f"OK {self.contravention_id}: {self.checked} files match ({self.folder})"]
        return [f"FAILED {self.contravention_id} ({self.folder}):"] + [
            f"  {what}: {name}" for what, names in (("missing", self.missing), ("altered", self.altered),
                                                    ("unexpected file", self.extra),
                                                    ("evidence_files row differs from the chained manifest",
                                                     self.unbacked)) for name in names
        ]


def verify_case(store: Store, contravention_id: str, root: Path) -> VerifyResult:
    """Recompute the sha256 of every file against the chained manifest, and look for files that should not be there."""
    with store.connect() as con:
        row = con.execute("SELECT folder, manifest_sha256, deleted_at, deleted_by, deletion_reason FROM evidence_cases"
                          " WHERE contravention_id = ?", [contravention_id]).fetchone()
        broken = check_row(con, "evidence_cases", contravention_id)
        stored = dict(con.execute("SELECT path, sha256 FROM evidence_files WHERE contravention_id = ?",
                                  [contravention_id]).fetchall())
    if row is None and broken is None:
        return VerifyResult(contravention_id, None, problem=NO_EVIDENCE)
    try:  # a stored path that leads out of the root is named and never followed, whatever else is wrong
        folder = None if row is None else case_folder(root, row[0], contravention_id)
        for path in stored if folder else ():
            case_file(folder, path, contravention_id)
    except UnsafePath as e:
        return VerifyResult(contravention_id, None, problem=str(e))
    if broken is not None:
        return VerifyResult(contravention_id, folder, problem=f"the history does not back its evidence: {broken.text()} "
                            "(`buslane audit verify` lists every break)")
    _, manifest_sha, deleted_at, deleted_by, deletion_reason = row
    try:
        if deleted_at is not None:
            return VerifyResult(contravention_id, folder, deleted=f"by {deleted_by} at "
                                f"{deleted_at:%Y-%m-%d %H:%M %Z} ({deletion_reason})")
        manifest = case_file(folder, MANIFEST, contravention_id)
        sums = case_file(folder, CHECKSUMS, contravention_id)
        trusted = manifest.is_file() and hash_file(manifest)[0] == manifest_sha
        if trusted:  # the chained manifest lists every other file's sha256, and SHA256SUMS must say the same
            reference = {f["path"]: f["sha256"] for f in json.loads(manifest.read_text())["files"]} | {MANIFEST: manifest_sha}
            sums_agree = sums.is_file() and _sums(sums) == reference
            if sums_agree:
                reference[CHECKSUMS] = hash_file(sums)[0]
        else:  # without it, the store's table still says what else changed
            reference = {p: sha for p, sha in stored.items() if p != MANIFEST}
        missing, altered = _compare(folder, contravention_id, reference)
    except UnsafePath as e:
        return VerifyResult(contravention_id, None, problem=str(e))
    unbacked = ()
    if not trusted:
        (altered if manifest.is_file() else missing).insert(0, MANIFEST)
    else:
        if not sums_agree:
            (altered if sums.is_file() else missing).append(CHECKSUMS)
        unbacked = tuple(p for p in sorted(reference.keys() | stored.keys())
                         if stored.get(p) != reference.get(p) and (sums_agree or p != CHECKSUMS))
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()} if folder.is_dir() else set()
    return VerifyResult(contravention_id, folder, len(reference.keys() | {MANIFEST, CHECKSUMS}), tuple(missing),
                        tuple(altered), tuple(sorted(present - reference.keys() - {MANIFEST, CHECKSUMS})), unbacked)


def _compare(folder: Path, contravention_id: str, expected: dict[str, str]) -> tuple[list[str], list[str]]:
    missing, altered = [], []
    for name, sha in sorted(expected.items()):
        path = case_file(folder, name, contravention_id)
        if not path.is_file():
            missing.append(name)
        elif hash_file(path)[0] != sha:
            altered.append(name)
    return missing, altered


def _sums(path: Path) -> dict[str, str]:
    """SHA256SUMS as {file: sha256} (`sha256sum` lines: the hash, two spaces, the name)."""
    return {name: sha for sha, _, name in (line.partition("  ") for line in path.read_text().splitlines())}


def verify_all(store: Store, root: Path) -> list[VerifyResult]:
    """Every contravention (one without evidence fails) and every recorded case folder."""
    ids = store.query("SELECT id FROM contraventions UNION SELECT contravention_id FROM evidence_cases ORDER BY 1")
    return [verify_case(store, r["id"], root) for r in ids]
