"""The sha256 of every file in a case folder: manifest.json, and SHA256SUMS for `sha256sum -c`.

manifest.json lists the evidence files; SHA256SUMS lists them and manifest.json. The store keeps
the hash of every file, these two included, so an edited manifest is caught as well.

>>> records = write_manifest(folder, {"original.mp4": "original", ...}, "SZ-1-...", created_at)  # doctest: +SKIP
>>> [r.path for r in records][-2:]  # doctest: +SKIP
['manifest.json', 'SHA256SUMS']
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class FileRecord:
    path: str  # relative to the case folder
    sha256: str
    bytes: int
    kind: str


def hash_file(path: Path) -> tuple[str, int]:
    """(sha256 hex, size in bytes), read in 1 MiB chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def record(folder: Path, name: str, kind: str) -> FileRecord:
    sha, size = hash_file(folder / name)
    return FileRecord(name, sha, size, kind)


def write_manifest(folder: Path, kinds: dict[str, str], contravention_id: str, created_at: datetime,
                   sources: list[dict] | None = None) -> list[FileRecord]:
    """Hash the files named in `kinds` (name -> kind), write both lists, return every record.
    `sources`: the recordings the originals were cut from (path, sha256, frames), one per segment
    file when a passage spans several."""
    records = [record(folder, name, kind) for name, kind in kinds.items()]
    manifest = {
        "contravention_id": contravention_id,
        "created_at": created_at.isoformat(),
        "algorithm": "sha256",
        **({"sources": sources} if sources else {}),
        "files": [asdict(r) for r in records],
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    records.append(record(folder, MANIFEST, "manifest"))
    # Two spaces: the format `sha256sum -c` reads.
    (folder / CHECKSUMS).write_text("".join(f"{r.sha256}  {r.path}\n" for r in records))
    records.append(record(folder, CHECKSUMS, "checksums"))
    return records
