"""The evidence pack that goes with each exported case: the one already made since its validation, or a new one.

Packs are kept in one folder the back office receives with the export file. A pack is reused only
when the packs table records it after the case's last decision and the file in that folder still
has the recorded sha256; otherwise a signed pack is built (evidence.pack.builder), which refuses,
naming the case, when the evidence fails its check or no signing key is set (the export has checked the
history once for all its packs: `export.cases.require_intact_history`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evidence.manifest import hash_file
from evidence.pack.builder import build_pack, default_file_name
from export.cases import DecidedCase
from pipeline.store import Store


@dataclass(frozen=True)
class PackFile:
    file_name: str
    sha256: str


def pack_for(store: Store, case: DecidedCase, root: Path, folder: Path, actor: str) -> PackFile:
    """The case's pack in `folder`, built if there is none made since its validation."""
    made = store.query(
        "SELECT file_name, zip_sha256 FROM packs WHERE contravention_id = ? AND created_at >= ?"
        " ORDER BY created_at DESC", [case.id, case.validated_at])
    for row in made:
        path = folder / row["file_name"]
        if path.is_file() and hash_file(path)[0] == row["zip_sha256"]:
            return PackFile(row["file_name"], row["zip_sha256"])
    result = build_pack(store, case.id, root, actor, folder / default_file_name(case.id), history_checked=True)
    return PackFile(result.file_name, result.zip_sha256)
