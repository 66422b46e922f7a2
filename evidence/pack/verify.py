"""Check an evidence pack: every file against its manifest.json, the manifest's signature against
the council's public key, and, given the store, that manifest against the sha256 recorded when the
pack was made and the history head it carries against the store's chain.

A pack whose files, manifest and SHA256SUMS were all rewritten consistently fails the signature
(only the council's private key makes one that the public key accepts). The public key is the one
given, else the council's own beside its private key (evidence.keys); with neither, the pack fails:
a signature checked only against the key the pack itself prints proves nothing. With the store, a
history rewritten since the pack was made shows: the head the pack carries is no longer in the chain.

Reads the ZIP in place; nothing is extracted.

>>> verify_pack(Path("pack.zip"), public_key=Path("council_pack_key.pub.pem")).lines()  # doctest: +SKIP
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

from evidence.keys import (SigningKeyError, default_private_path, fingerprint, load_public_key, public_path,
                           signature_ok)
from evidence.manifest import FileRecord, hash_file
from evidence.pack.facts import local_time
from evidence.pack.manifest import CHECKSUMS, MANIFEST, SIGNATURE, checksums
from pipeline.history import verify_chain
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
            return [f"OK {name}: {self.checked} files match manifest.json, SHA256SUMS agrees and the signature is "
                "the council's",
                    *(f"  {n}" for n in self.notes)]
        found = [f"  {what}: {n}" for what, names in (("altered", self.altered), ("missing", self.missing),
                                                      ("added", self.added)) for n in names]
        return [f"FAILED {name}:", *(f"  {p}" for p in self.problems), *found, *(f"  {n}" for n in self.notes)]


def verify_pack(zip_path: Path, store: Store | None = None, public_key: Path | None = None) -> PackVerification:
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
        added = [p for p in present if p not in listed and p not in (MANIFEST, SIGNATURE, CHECKSUMS)]
        manifest_sha = hashlib.sha256(raw).hexdigest()
        signature = zf.read(present[SIGNATURE]) if SIGNATURE in present else None
        signed = [FileRecord(MANIFEST, manifest_sha, len(raw), "manifest")]
        if signature is None:
            missing.append(SIGNATURE)
        else:
            signed.append(FileRecord(SIGNATURE, hashlib.sha256(signature).hexdigest(), len(signature), "signature"))
        expected_sums = checksums([*listed.values(), *signed])
        if CHECKSUMS not in present:
            missing.append(CHECKSUMS)
        elif zf.read(present[CHECKSUMS]).decode(errors="replace") != expected_sums:
            altered.append(CHECKSUMS)
    pack_id, case_id = manifest.get("pack_id"), manifest.get("contravention_id")
    notes: list[str] = []
    if signature is not None:
        signer = _signature(raw, manifest, signature, public_key)
        problems += signer[0]
        notes += signer[1]
    if store is not None:
        recorded = _against_store(store, zip_path, pack_id, case_id, manifest_sha)
        problems += recorded[0]
        notes += recorded[1]
        if recorded[0] and MANIFEST not in altered:
            altered.insert(0, MANIFEST)
        chained = _history(store, manifest.get("history_head"))
        problems += chained[0]
        notes += chained[1]
    return PackVerification(zip_path, pack_id, case_id, len(listed) - len(missing), tuple(altered), tuple(missing),
                            tuple(added), tuple(problems), tuple(notes))


def _signature(raw: bytes, manifest: dict, signature: bytes, public_key: Path | None) -> tuple[list[str], list[str]]:
    """(problems, notes) from checking manifest.json's signature against the council's public key."""
    path = public_key or public_path(default_private_path())
    if public_key is None and not path.exists():
        return ["no public key to check the signature against: give --public-key (the council's published key; "
                "README.txt prints the key that signed the pack, which alone proves nothing)"], []
    try:
        key = load_public_key(path)
    except SigningKeyError as e:
        return [f"public key {e}"], []
    claimed = (manifest.get("signature") or {}).get("public_key_sha256")
    if claimed != fingerprint(key):
        return [f"signed with key {claimed}, not with the public key {path} (fingerprint {fingerprint(key)})"], []
    if not signature_ok(key, raw, signature):
        return [f"the signature of manifest.json does not verify with the public key {path}: manifest.json was "
                "changed after the council signed it"], []
    return [], [f"manifest.json is signed by the key in {path} (fingerprint {fingerprint(key)})"]


def _history(store: Store, recorded: dict | None) -> tuple[list[str], list[str]]:
    """(problems, notes): the history head the pack carries must still be in the store's intact chain."""
    if not recorded:
        return ["manifest.json carries no history head to check the store's history against"], []
    with store.connect() as con:
        check = verify_chain(con)
        row = con.execute("SELECT row_hash FROM audit_log WHERE id = ?", [recorded.get("audit_id")]).fetchone()
    problems = []
    if row is None or row[0] != recorded.get("row_hash"):
        now = "is missing" if row is None else f"now has sha256 {row[0]}"
        problems.append(f"the history head this pack carries (audit_log {recorded.get('audit_id')} sha256 "
                        f"{recorded.get('row_hash')}) is no longer in {store.path}'s history (that row {now}): "
                        "the history was rewritten after the pack was made")
    if not check.ok:
        problems.append(f"the history in {store.path} is broken: {check.breaks[0].text()} "
                        f"(`buslane audit verify --db {store.path}` lists all {len(check.breaks)})")
    if problems:
        return problems, []
    return [], [f"the history head in the pack, audit_log {recorded['audit_id']}, is still in the store's intact chain "
                f"(head now {check.head.text() if check.head else 'empty'})"]


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
