"""The users file: officers and supervisors with Argon2 password hashes.

YAML, one entry per person; only hashes are stored, never a password. Default `var/users.yaml`.

    users:
      jo:
        role: officer
        password_hash: $argon2id$v=19$m=65536,t=3,p=4$...

>>> users = UsersFile(tmp / "users.yaml")  # doctest: +SKIP
>>> users.add("jo", "officer", "correct horse battery")  # doctest: +SKIP
>>> users.authenticate("jo", "correct horse battery")  # doctest: +SKIP
User(name='jo', role='officer')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

DEFAULT_PATH = Path("var/users.yaml")
ROLES = ("officer", "supervisor")
MIN_PASSWORD = 8
# Names go into every decision and audit row: keep them short and unambiguous.
NAME_RE = re.compile(r"[a-z][a-z0-9._-]{1,31}")

_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


class UsersFile:
    def __init__(self, path: str | Path = DEFAULT_PATH):
        self.path = Path(path)

    def _entries(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        data = yaml.safe_load(self.path.read_text()) or {}
        return data.get("users") or {}

    def users(self) -> list[User]:
        return [User(name, e["role"]) for name, e in sorted(self._entries().items())]

    def add(self, name: str, role: str, password: str, replace: bool = False) -> User:
        """Add a user (or, with replace, reset an existing one); ValueError says what is wrong."""
        if not NAME_RE.fullmatch(name):
            raise ValueError(f"name {name!r}: 2-32 lower-case letters, digits, '.', '_' or '-', starting with a letter")
        if role not in ROLES:
            raise ValueError(f"role {role!r}: use one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"password: at least {MIN_PASSWORD} characters")
        entries = self._entries()
        if name in entries and not replace:
            raise ValueError(f"user {name!r} already exists (use --replace to reset their password or role)")
        entries[name] = {"role": role, "password_hash": _hasher.hash(password)}
        self._write(entries)
        return User(name, role)

    def authenticate(self, name: str, password: str) -> User | None:
        entry = self._entries().get(name.strip().lower())
        if entry is None:
            _hasher.hash(password)  # same work as a real check, so timing does not reveal names
            return None
        try:
            _hasher.verify(entry["password_hash"], password)
        except (VerificationError, InvalidHashError):
            return None
        return User(name.strip().lower(), entry["role"])

    def _write(self, entries: dict[str, dict]) -> None:
        # Write a private temporary file, then rename: a reader never sees half a file.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump({"users": entries}, f, sort_keys=True)
        os.replace(tmp, self.path)
