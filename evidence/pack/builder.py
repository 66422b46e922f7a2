"""Build the evidence pack of a validated case: one ZIP an adjudicator can read and check offline.

    <case id>/
        case_summary.pdf        the facts, both stills, plate read, rules, whitelist, history, hashes
        witness_statement.docx  DRAFT for the reviewing officer to check and sign
        original.mp4  review.mp4  overview.png  plate.png  metadata.json   (the verified evidence; a passage
                                joined across segment files has original_1.mp4, original_2.mp4, ...)
        README.txt  manifest.json  manifest.json.sig  SHA256SUMS   (the hashes, signed with the council's key)

The store's history must verify first (pipeline.history.verify_chain: a row changed by SQL, such as a
forged plate, is refused, naming it), the evidence folder is verified against the chained manifest,
and the copies are hashed again, so a pack never carries a file that differs from the one recorded
when the evidence was written, nor facts the history does not back. The
pack's row (with the sha256 of its manifest and of the ZIP) and the audit row are written in one
transaction, which also re-checks that the case is still validated and undecided since it was read.
The manifest carries the head of the store's history chain and is signed with the council's key; no
key, no pack.

>>> result = build_pack(store, "SZ-BUSLANE-01-20160318-122126-T15", Path("var/evidence"), "jo",
...                     Path("pack.zip"))  # doctest: +SKIP
>>> result.path, len(result.files)  # doctest: +SKIP
(PosixPath('pack.zip'), 10)
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from evidence.manifest import FileRecord, hash_file, record
from evidence.pack.facts import load_facts
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.keys import SigningKeyError, load_private_key, public_pem
from evidence.pack.manifest import (CHECKSUMS, README, STATEMENT, SUMMARY, PackHeader, checksums,
                                    write_manifest)
from evidence.pack.pdf import write_summary
from evidence.pack.publish import published, staged
from evidence.pack.readme import readme_text
from evidence.pack.witness import write_statement
from evidence.settings import UnsafePath, plain_name
from evidence.verify import verify_case
from pipeline.history import head, verify_chain
from pipeline.store import Store, audit, now

# The evidence files a pack carries, in this order; the folder's own manifest and SHA256SUMS are
# replaced by the pack's, which cover the new files too.
EVIDENCE_KINDS = ("original", "review", "overview", "closeup", "metadata")
# Already compressed: deflating them again only costs time.
STORED_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".ts", ".png", ".docx"}


class PackError(RuntimeError):
    """The pack cannot be made; the message names the case and says why."""


@dataclass(frozen=True)
class PackResult:
    pack_id: str
    contravention_id: str
    path: Path
    zip_sha256: str
    zip_bytes: int
    manifest_sha256: str
    created_at: datetime
    created_by: str
    files: tuple[FileRecord, ...]   # every file in the pack, manifest.json and SHA256SUMS included

    @property
    def file_name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class _Evidence:
    folder: Path
    files: tuple[dict, ...]         # evidence_files rows (path, sha256, kind) of EVIDENCE_KINDS, in order
    manifest_sha256: str


def default_file_name(contravention_id: str) -> str:
    return f"{contravention_id}_evidence_pack.zip"


def build_pack(store: Store, contravention_id: str, root: Path, actor: str, out: Path,
               key: Ed25519PrivateKey | None = None, *, history_checked: bool = False) -> PackResult:
    """Write the pack of a validated case to `out`, signed with `key` (default: the council's key,
    evidence.keys), record it and audit the export; PackError says why not. `history_checked`: the
    caller has just verified the whole chain (an export, once for all its packs)."""
    if not actor.strip():
        raise PackError("say who is exporting the pack (actor)")
    try:
        key = key or load_private_key()
    except SigningKeyError as e:
        raise PackError(f"case {contravention_id}: not packed: {e}") from e
    seen = _validated(store, contravention_id)
    evidence = _verified_evidence(store, contravention_id, root)
    if not history_checked:
        with store.connect() as con:
            check = verify_chain(con)
        if not check.ok:
            raise PackError(f"case {contravention_id}: not packed: {check.refusal()} "
                            "(`buslane audit verify` lists every break)")
    header = PackHeader(uuid.uuid4().hex[:16], contravention_id, now(), actor.strip())
    with staged(out) as partial:
        with tempfile.TemporaryDirectory(prefix="buslane-pack-") as tmp:
            folder = Path(tmp) / contravention_id
            folder.mkdir()
            files = _assemble(store, folder, evidence, header, key)
            _zip(folder, files, partial, header.created_at)
        zip_sha, zip_bytes = hash_file(partial)
        manifest_sha = next(f.sha256 for f in files if f.kind == "manifest")
        with published(store, partial, out) as con:  # the pack is out only if it is recorded
            if _state(con, contravention_id) != seen:
                raise PackError(f"case {contravention_id} was decided again while the pack was being made "
                                "(it may have been reopened): nothing recorded, try again")
            con.execute(
                "INSERT INTO packs (id, contravention_id, created_by, created_at, file_name, zip_sha256, zip_bytes,"
                " manifest_sha256, evidence_manifest_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [header.pack_id, contravention_id, header.created_by, header.created_at, out.name, zip_sha,
                 zip_bytes, manifest_sha, evidence.manifest_sha256],
            )
            audit(con, header.created_by, "pack.exported", "contravention", contravention_id, ("packs", header.pack_id),
                  pack_id=header.pack_id, zip_sha256=zip_sha, manifest_sha256=manifest_sha, file=out.name,
                  bytes=zip_bytes)
    return PackResult(header.pack_id, contravention_id, out, zip_sha, zip_bytes, manifest_sha,
                      header.created_at, header.created_by, tuple(files))


def _state(con: duckdb.DuckDBPyConnection, contravention_id: str) -> tuple[str, int | None] | None:
    """(status, latest decision id): any decision since the first read changes it."""
    row = con.execute("SELECT status FROM contraventions WHERE id = ?", [contravention_id]).fetchone()
    last = con.execute("SELECT max(id) FROM decisions WHERE contravention_id = ?", [contravention_id]).fetchone()
    return (row[0], last[0]) if row else None


def _validated(store: Store, contravention_id: str) -> tuple[str, int | None]:
    with store.connect() as con:
        state = _state(con, contravention_id)
    if state is None:
        raise PackError(f"no case {contravention_id}")
    if state[0] != "validated":
        raise PackError(f"case {contravention_id} is {state[0]}: only validated cases can be packed")
    return state


def _verified_evidence(store: Store, contravention_id: str, root: Path) -> _Evidence:
    result = verify_case(store, contravention_id, root)
    if result.deleted:
        raise PackError(f"case {contravention_id}: its evidence was deleted {result.deleted}: there is nothing to pack")
    if result.problem:
        raise PackError(f"case {contravention_id}: {result.problem}: there is nothing to pack")
    if not result.ok:
        found = "; ".join(f"{what}: {', '.join(names)}" for what, names in
                          (("altered", result.altered), ("missing", result.missing), ("unexpected", result.extra),
                           ("evidence_files differs from the chained manifest", result.unbacked)) if names)
        raise PackError(f"case {contravention_id}: the evidence in {result.folder} does not match the hashes recorded "
                        f"when it was written ({found}); refusing to pack it")
    rows = store.query("SELECT path, sha256, kind FROM evidence_files WHERE contravention_id = ?", [contravention_id])
    ordered = tuple(sorted((r for r in rows if r["kind"] in EVIDENCE_KINDS), key=lambda r: EVIDENCE_KINDS.index(r["kind"])))
    manifest = store.query("SELECT manifest_sha256 FROM evidence_cases WHERE contravention_id = ?", [contravention_id])
    return _Evidence(result.folder, ordered, manifest[0]["manifest_sha256"])


def _assemble(store: Store, folder: Path, evidence: _Evidence, header: PackHeader,
              key: Ed25519PrivateKey) -> list[FileRecord]:
    """Copy the evidence, write the documents and the hash lists; every file's record, in zip order."""
    copied = []
    for row in evidence.files:
        shutil.copyfile(evidence.folder / row["path"], folder / row["path"])
        copied.append(record(folder, row["path"], row["kind"]))
        if copied[-1].sha256 != row["sha256"]:  # changed between the check and the copy
            raise PackError(f"case {header.contravention_id}: {row['path']} changed while it was being packed")
    facts = load_facts(store, header.contravention_id, json.loads((folder / "metadata.json").read_text()))
    write_statement(folder / STATEMENT, facts, header, copied)
    (folder / README).write_text(readme_text(header, facts, [r.path for r in copied], public_pem(key.public_key())))
    # The summary lists every other file's hash, so it is written after them (it cannot list its own).
    others = [record(folder, STATEMENT, "witness_statement"), *copied, record(folder, README, "readme")]
    write_summary(folder / SUMMARY, facts, header, folder, others)
    listed = [record(folder, SUMMARY, "case_summary"), *others]
    with store.connect() as con:  # the history as it stands now: a later rewrite shows against it
        history_head = head(con)
    signed = write_manifest(folder, listed, header, evidence.manifest_sha256, history_head, key)
    (folder / CHECKSUMS).write_text(checksums([*listed, *signed]))
    return [*listed, *signed, record(folder, CHECKSUMS, "checksums")]


def _zip(folder: Path, files: list[FileRecord], path: Path, created_at: datetime) -> None:
    stamp = created_at.astimezone(timezone.utc).timetuple()[:6]
    with zipfile.ZipFile(path, "w") as zf:
        for f in files:
            try:  # entries are <case id>/<file name>: nothing that unzips outside its folder
                entry = f"{plain_name(folder.name, 'pack folder')}/{plain_name(f.path, 'pack file')}"
            except UnsafePath as e:
                raise PackError(f"case {folder.name}: {e}") from e
            info = zipfile.ZipInfo(entry, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED if Path(f.path).suffix in STORED_SUFFIXES else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped
            with open(folder / f.path, "rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
