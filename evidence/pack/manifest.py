"""The pack's own hash lists: manifest.json (every other file, with the pack's identity), its
signature manifest.json.sig, and SHA256SUMS.

manifest.json lists every file in the pack except itself, its signature and SHA256SUMS, and carries
the head of the store's history chain when the pack was made and the fingerprint of the council's
key. manifest.json.sig is the raw Ed25519 signature of manifest.json's bytes (evidence/keys.py): a
pack whose files, manifest and SHA256SUMS were all rewritten consistently no longer matches it.
SHA256SUMS lists the same files, manifest.json and the signature, in the format `sha256sum -c`
reads. The store also keeps the sha256 of manifest.json (`verify_pack(..., store)`).

>>> header = PackHeader("3f2a9c1e0b7d4e55", "SZ-BUSLANE-01-20160318-122126-T15", created_at, "jo")  # doctest: +SKIP
>>> manifest, signature = write_manifest(folder, records, header, evidence_sha, head, key)  # doctest: +SKIP
>>> checksums([*records, manifest, signature]).splitlines()[0]  # doctest: +SKIP
'10f26b88...  original.mp4'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.keys import fingerprint
from evidence.manifest import FileRecord, record
from pipeline.history import Head

FORMAT = "buslane-pack/1"
SUMMARY = "case_summary.pdf"
STATEMENT = "witness_statement.docx"
README = "README.txt"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
SIGNATURE_ALGORITHM = "Ed25519"
CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class PackHeader:
    pack_id: str
    contravention_id: str
    created_at: datetime
    created_by: str


def write_manifest(folder: Path, records: list[FileRecord], header: PackHeader, evidence_manifest_sha256: str,
                   history_head: Head | None, key: Ed25519PrivateKey) -> tuple[FileRecord, FileRecord]:
    """Write manifest.json for `records` (files already in `folder`) and its signature; return both records."""
    manifest = {
        "format": FORMAT,
        "pack_id": header.pack_id,
        "contravention_id": header.contravention_id,
        "created_at": header.created_at.isoformat(),
        "created_by": header.created_by,
        "evidence_manifest_sha256": evidence_manifest_sha256,
        "history_head": asdict(history_head) if history_head else None,
        "signature": {"algorithm": SIGNATURE_ALGORITHM, "file": SIGNATURE,
                      "public_key_sha256": fingerprint(key.public_key())},
        "algorithm": "sha256",
        "files": [asdict(r) for r in records],
    }
    data = (json.dumps(manifest, indent=2) + "\n").encode()
    (folder / MANIFEST).write_bytes(data)
    (folder / SIGNATURE).write_bytes(key.sign(data))
    return record(folder, MANIFEST, "manifest"), record(folder, SIGNATURE, "signature")


def checksums(records: list[FileRecord]) -> str:
    """SHA256SUMS text; two spaces between hash and name, the format `sha256sum -c` reads."""
    return "".join(f"{r.sha256}  {r.path}\n" for r in records)
