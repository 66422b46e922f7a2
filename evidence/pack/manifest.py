"""The pack's own hash lists: manifest.json (every other file, with the pack's identity) and SHA256SUMS.

manifest.json lists every file in the pack except itself and SHA256SUMS; SHA256SUMS lists the same
files and manifest.json, in the format `sha256sum -c` reads. The store keeps the sha256 of
manifest.json, so a manifest rewritten to fit altered files is still caught (`verify_pack(..., store)`).

>>> header = PackHeader("3f2a9c1e0b7d4e55", "SZ-BUSLANE-01-20160318-122126-T15", created_at, "jo")  # doctest: +SKIP
>>> manifest = write_manifest(folder, records, header)  # doctest: +SKIP
>>> checksums([*records, manifest]).splitlines()[0]  # doctest: +SKIP
'10f26b88...  original.mp4'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from evidence.manifest import FileRecord, record

FORMAT = "buslane-pack/1"
SUMMARY = "case_summary.pdf"
STATEMENT = "witness_statement.docx"
README = "README.txt"
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class PackHeader:
    pack_id: str
    contravention_id: str
    created_at: datetime
    created_by: str


def write_manifest(folder: Path, records: list[FileRecord], header: PackHeader,
                   evidence_manifest_sha256: str) -> FileRecord:
    """Write manifest.json for `records` (files already in `folder`) and return its own record."""
    manifest = {
        "format": FORMAT,
        "pack_id": header.pack_id,
        "contravention_id": header.contravention_id,
        "created_at": header.created_at.isoformat(),
        "created_by": header.created_by,
        "evidence_manifest_sha256": evidence_manifest_sha256,
        "algorithm": "sha256",
        "files": [asdict(r) for r in records],
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return record(folder, MANIFEST, "manifest")


def checksums(records: list[FileRecord]) -> str:
    """SHA256SUMS text; two spaces between hash and name, the format `sha256sum -c` reads."""
    return "".join(f"{r.sha256}  {r.path}\n" for r in records)
