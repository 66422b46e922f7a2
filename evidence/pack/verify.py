"""Check an evidence pack: every file against its manifest.json, and, given the store, that manifest
against the sha256 recorded when the pack was made (a manifest rewritten to fit altered files
is consistent with them, but not with the store).

Reads the ZIP in place; nothing is extracted.

>>> verify_pack(Path("pack.zip")).lines()  # doctest: +SKIP
['FAILED pack 3f2a9c1e0b7d4e55 (case SZ-BUSLANE-01-20160318-122126-T15):', '  altered: original.mp4']
>>> verify_pack(Path("pack.zip"), Store("var/demo.duckdb")).ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path, PurePosixPath

from evidence.manifest import FileRecord, hash_file
from evidence.pack.facts import local_time
from evidence.pack.manifest import CHECKSUMS, MANIFEST, checksums
from pipeline.store import Store


@dataclass(frozen=True)
class PackVerification:
    path: Path
    pack_id: str | None = None
    contravention_id: str | None = None
    checked: int = 0                    # files listed in the manifest that were hashed
    altered: tuple[str, ...] = ()       # names relative to the pack's folder
    missing: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()      # about the pack as a whole: not a ZIP, no manifest, not as recorded
    notes: tuple[str, ...] = ()         # what the store confirmed

    @property
    def ok(self) -> bool:
        return not (self.altered or self.missing or self.added or self.problems)

    def lines(self) -> list[str]:
        name = f"pack {self.pack_id} (case {self.contravention_id})" if self.pack_id else str(self.path)
        if self.ok:
            return [f"OK {name}: {self.checked} files match manifest.json and SHA256SUMS agrees",
                    *(f"  {n}" for n in self.notes)]
        found = [f"  {what}: {n}" for what, names in (("altered", self.altered), ("missing", self.missing),
                                                      ("added", self.added)) for n in names]
        return [f"FAILED {name}:", *(f"  {p}" for p in self.problems), *found, *(f"  {n}" for n in self.notes)]


def verify_pack(zip_path: Path, store: Store | None = None) -> PackVerification:
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as e:
        return PackVerification(zip_path, problems=(f"not a readable ZIP file ({e})",))
    with zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        manifests = [n for n in names if PurePosixPath(n).name == MANIFEST]
        if len(manifests) != 1:
            why = "no manifest.json: nothing to check the files against" if not manifests else \
                f"{len(manifests)} files named manifest.json: {', '.join(manifests)}"
            return PackVerification(zip_path, missing=() if manifests else (MANIFEST,), problems=(why,))
        prefix = manifests[0][: -len(MANIFEST)]  # the pack's folder, "<case id>/"
        try:
            raw = zf.read(manifests[0])
            manifest = json.loads(raw)
            listed = {f["path"]: FileRecord(f["path"], f["sha256"], f["bytes"], f["kind"]) for f in manifest["files"]}
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
            return PackVerification(zip_path, altered=(MANIFEST,), problems=(f"manifest.json cannot be read ({e})",))
        present = {_relative(n, prefix): n for n in names}
        problems = [f"the ZIP holds {names.count(n)} entries named {n}" for n in sorted(set(names)) if names.count(n) > 1]
        missing = [p for p in listed if p not in present]
        altered = [p for p in listed if p in present and _sha256(zf, present[p]) != listed[p].sha256]
        added = [p for p in present if p not in listed and p not in (MANIFEST, CHECKSUMS)]
        manifest_sha = hashlib.sha256(raw).hexdigest()
        expected_sums = checksums([*listed.values(), FileRecord(MANIFEST, manifest_sha, len(raw), "manifest")])
        if CHECKSUMS not in present:
            missing.append(CHECKSUMS)
        elif zf.read(present[CHECKSUMS]).decode(errors="replace") != expected_sums:
            altered.append(CHECKSUMS)
    pack_id, case_id = manifest.get("pack_id"), manifest.get("contravention_id")
    notes: list[str] = []
    if store is not None:
        recorded = _against_store(store, zip_path, pack_id, case_id, manifest_sha)
        problems += recorded[0]
        notes += recorded[1]
        if recorded[0] and MANIFEST not in altered:
            altered.insert(0, MANIFEST)
    return PackVerification(zip_path, pack_id, case_id, len(listed) - len(missing), tuple(altered), tuple(missing),
                            tuple(added), tuple(problems), tuple(notes))


def _relative(name: str, prefix: str) -> str:
    """A name inside the pack's folder without the folder; anything outside it keeps its full name."""
    return name[len(prefix):] if prefix and name.startswith(prefix) else name


def _sha256(zf: zipfile.ZipFile, name: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with zf.open(name) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except (zipfile.BadZipFile, OSError):  # e.g. a CRC error: the entry's bytes were changed in the ZIP itself
        return None
    return digest.hexdigest()


def _against_store(store: Store, zip_path: Path, pack_id: str | None, case_id: str | None,
                   manifest_sha: str) -> tuple[list[str], list[str]]:
    """(problems, notes) from comparing the manifest with the pack's row in the store."""
    rows = store.query("SELECT * FROM packs WHERE id = ?", [pack_id]) if pack_id else []
    if not rows:
        return [f"manifest.json names pack {pack_id}, which is not recorded in {store.path}"
                if pack_id else "manifest.json names no pack id"], []
    row = rows[0]
    made = f"made {local_time(row['created_at'], timezone.utc)} by {row['created_by']}"
    if row["contravention_id"] != case_id or row["manifest_sha256"] != manifest_sha:
        return [f"manifest.json is not the one recorded when pack {pack_id} was {made} "
                f"(sha256 {manifest_sha}, recorded {row['manifest_sha256']} for case {row['contravention_id']})"], []
    zip_sha = hash_file(zip_path)[0]
    same = ("the ZIP is byte for byte the one exported" if zip_sha == row["zip_sha256"] else
            "the ZIP itself is not byte for byte the one exported (re-zipped?), but every file in it checks out")
    return [], [f"manifest.json sha256 {manifest_sha} matches the one recorded when the pack was {made}", same]
