"""How evidence is cut and encoded, and where it is kept.

The database records its evidence root (absolute) the first time a command uses it, and every
command uses that root from any working directory: a root given on the command line that differs
is refused (`RootMismatch`) rather than compared with the database's hashes, which would report
another root's files as altered. `move_root` records a new place after the folders were moved.

Every stored path is relative to its root and must resolve inside it (`case_folder`, `case_file`):
an absolute folder, a '..' or a symlink out of the root is refused (`UnsafePath`).

>>> EvidenceSettings(pre_seconds=5).post_seconds
3.0
>>> plain_name("review.mp4", "evidence_files.path")
'review.mp4'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipeline.store import Store, audit, default_actor, now

ROOT_ENV = "BUSLANE_EVIDENCE"
DEFAULT_ROOT = Path("var/evidence")
ROOT_KEY = "evidence_root"  # in evidence_settings


class EvidenceError(RuntimeError):
    """Evidence cannot be written for a case; the message names the case and the reason."""


class RootMismatch(EvidenceError):
    """A command was given an evidence root other than the one the database recorded."""


class UnsafePath(EvidenceError):
    """A stored path that is absolute, climbs out with '..', or resolves outside its root."""


@dataclass(frozen=True)
class EvidenceSettings:
    pre_seconds: float = 3.0   # footage kept before the vehicle enters the lane
    post_seconds: float = 3.0  # and after it leaves
    crf: int = 18              # review copy quality: visually lossless for 640x360 CCTV
    preset: str = "veryfast"   # keeps encoding well under the batch's detection time on 2 cores

    def __post_init__(self) -> None:
        if self.pre_seconds < 0 or self.post_seconds < 0:
            raise ValueError("pre_seconds and post_seconds must not be negative")


def default_root() -> Path:
    """$BUSLANE_EVIDENCE, else var/evidence relative to the working directory.

    Only for a database that has not recorded its root yet: see `resolve_root`.
    """
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def _absolute(path: Path) -> Path:
    """Absolute and normalised, symlinks kept (a root reached through a link may be re-pointed)."""
    return Path(os.path.abspath(path))


def _same_place(a: Path, b: Path) -> bool:
    return _absolute(a) == _absolute(b) or a.resolve() == b.resolve()


def recorded_root(con) -> Path | None:
    """The root the database recorded, None before its first use."""
    row = con.execute("SELECT value FROM evidence_settings WHERE key = ?", [ROOT_KEY]).fetchone()
    return Path(row[0]) if row else None


def resolve_root(store: Store, given: Path | None = None, actor: str | None = None) -> Path:
    """The database's evidence root: recorded on first use (`given`, else `default_root()`).

    A `given` root other than the recorded one raises RootMismatch, which says where the evidence is
    and how to record a move.
    """
    with store.transaction() as con:
        recorded = recorded_root(con)
        if recorded is None:
            recorded = _absolute(given or default_root())
            con.execute("INSERT INTO evidence_settings (key, value, set_at, set_by) VALUES (?, ?, ?, ?)",
                        [ROOT_KEY, str(recorded), now(), actor or default_actor()])
            audit(con, actor or default_actor(), "evidence.root_recorded", "evidence_settings", ROOT_KEY,
                  root=str(recorded))
            return recorded
    if given is not None and not _same_place(given, recorded):
        raise RootMismatch(
            f"{store.path} keeps its evidence under {recorded} (recorded when it was first used); {given} is a "
            f"different root, so nothing there was checked against this database. If the evidence was moved, "
            f"record its new place with `buslane evidence root --db {store.path} --move-root {given}`")
    return recorded


def move_root(store: Store, new: Path, actor: str | None = None) -> tuple[Path | None, Path]:
    """Record that the evidence now lives under `new` (audited); returns (old root, new root)."""
    new = _absolute(new)
    if not new.is_dir():
        raise EvidenceError(f"{new}: no such folder; move the evidence there first")
    with store.transaction() as con:
        old = recorded_root(con)
        con.execute("INSERT OR REPLACE INTO evidence_settings (key, value, set_at, set_by) VALUES (?, ?, ?, ?)",
                    [ROOT_KEY, str(new), now(), actor or default_actor()])
        audit(con, actor or default_actor(), "evidence.root_moved", "evidence_settings", ROOT_KEY,
              old=str(old) if old else None, new=str(new))
    return old, new


def plain_name(name: str, what: str) -> str:
    """`name` if it is a bare file name (no folder, '..', absolute path or backslash), else UnsafePath."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise UnsafePath(f"{what}: {name!r} is not a plain file name; refusing it")
    return name


def _inside(base: Path, path: Path, message: str) -> Path:
    """`path` if it resolves (symlinks followed) inside `base`, else UnsafePath."""
    if not path.resolve().is_relative_to(base.resolve()):
        raise UnsafePath(message)
    return path


def case_folder(root: Path, folder: str, case_id: str) -> Path:
    """root/folder for a stored evidence_cases.folder, refused unless it is a relative path inside root."""
    message = (f"case {case_id}: the stored evidence folder {folder!r} is not a relative path inside the "
               f"evidence root {root}; refusing it")
    rel = PurePosixPath(folder)
    if not folder or rel.is_absolute() or "\\" in folder or any(part in (".", "..") for part in folder.split("/")):
        raise UnsafePath(message)
    return _inside(root, root / rel, message)


def case_file(folder: Path, name: str, case_id: str) -> Path:
    """folder/name for a stored evidence_files.path, refused unless a plain name that stays in the folder."""
    plain_name(name, f"case {case_id}: stored evidence file")
    return _inside(folder, folder / name, f"case {case_id}: stored evidence file {name!r} leads out of {folder}; "
                                          "refusing it")
