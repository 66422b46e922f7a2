"""The users file: officers and supervisors with Argon2 password hashes, and the OS user each acts as.

YAML, one entry per person; only hashes are stored, never a password. Every command finds it by
one rule (`users_path`): `--users` if given, else $BUSLANE_USERS, else `var/users.yaml`.

    users:
      jo:
        role: officer
        password_hash: $argon2id$v=19$m=65536,t=3,p=4$...
        os_user: jsmith          # optional: commands run by this OS account act as jo

The review app signs people in with it; every command line action that decides or alters anything
(whitelist import, pack export, evidence writes, retention) is recorded under the officer mapped to
the OS user running it (`cli_user`), never a name typed on the command line. It lives in pipeline/
so that the whitelist and evidence commands, which must not import the review app, can use it.

>>> users = UsersFile(tmp / "users.yaml")  # doctest: +SKIP
>>> users.add("jo", "officer", "correct horse battery")  # doctest: +SKIP
>>> users.authenticate("jo", "correct horse battery")  # doctest: +SKIP
User(name='jo', role='officer')
>>> cli_user()  # the OS user running the command, mapped in the users file  # doctest: +SKIP
User(name='jo', role='officer')
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

DEFAULT_PATH = Path("var/users.yaml")
USERS_ENV = "BUSLANE_USERS"
ROLES = ("officer", "supervisor")
MIN_PASSWORD = 8
# Names go into every decision and audit row: keep them short and unambiguous.
NAME_RE = re.compile(r"[a-z][a-z0-9._-]{1,31}")

_hasher = PasswordHasher()


class UnknownOSUser(PermissionError):
    """The OS user running a command is not mapped to anyone in the users file."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


class UsersFile:
    def __init__(self, path: str | Path | None = None):
        self.path = users_path(path)

    def _entries(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        data = yaml.safe_load(self.path.read_text()) or {}
        return data.get("users") or {}

    def users(self) -> list[User]:
        return [User(name, e["role"]) for name, e in sorted(self._entries().items())]

    def add(self, name: str, role: str, password: str, replace: bool = False, os_user: str | None = None) -> User:
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
        if os_user is not None:
            self._map(entries, name, os_user)
        self._write(entries)
        return User(name, role)

    def link_os_user(self, name: str, os_user: str) -> User:
        """Commands run by OS user `os_user` act as `name` from now on (one officer per OS user)."""
        entries = self._entries()
        if name not in entries:
            raise ValueError(f"no user {name!r} in {self.path}")
        self._map(entries, name, os_user)
        self._write(entries)
        return User(name, entries[name]["role"])

    @staticmethod
    def _map(entries: dict[str, dict], name: str, os_user: str) -> None:
        if not os_user.strip() or os_user != os_user.strip():
            raise ValueError(f"OS user {os_user!r}: give the account name exactly, e.g. {getpass.getuser()!r}")
        taken = [n for n, e in entries.items() if e.get("os_user") == os_user and n != name]
        if taken:
            raise ValueError(f"OS user {os_user!r} already acts as {taken[0]!r}: one officer per OS user")
        entries[name]["os_user"] = os_user

    def for_os_user(self, os_user: str) -> User:
        """The user that OS account `os_user` acts as; UnknownOSUser says what to add where."""
        found = [User(n, e["role"]) for n, e in sorted(self._entries().items()) if e.get("os_user") == os_user]
        if len(found) != 1:
            where = f"the users file {self.path}" + ("" if self.path.exists() else " (which does not exist)")
            raise UnknownOSUser(
                f"OS user {os_user!r} is not mapped to an officer in {where}: commands that decide or change anything "
                f"are recorded under a known officer. Add `os_user: {os_user}` to their entry, e.g. "
                f"`buslane users link NAME --os-user {os_user} --users {self.path}`, or point ${USERS_ENV} at the "
                f"council's users file.")
        return found[0]

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


def users_path(given: str | Path | None = None) -> Path:
    """The users file: `given` (a `--users` option) if any, else $BUSLANE_USERS, else var/users.yaml."""
    return Path(given or os.environ.get(USERS_ENV) or DEFAULT_PATH)


def cli_user(path: Path | None = None) -> User:
    """The known user a command line action is recorded under: the OS user running it, mapped in the users file."""
    return UsersFile(path).for_os_user(getpass.getuser())
