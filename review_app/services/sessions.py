"""Sign-in sessions that survive a refresh and a link, and end for good at sign-out.

After sign-in the page's URL carries a token (`?s=...`): an itsdangerous signature over a random
session id, made with a server secret kept in a file readable by its owner only, beside the users
file (never the password, nor anything derived from it). A token opens a session only while
- its signature holds and it is under SESSION_HOURS old,
- its row in `review_sessions` has not been ended by sign-out (so a copied URL dies with the session),
- its officer is still in the users file (their role is read from the file each time).
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from pipeline.store import Store, audit, now as utc_now
from review_app.services.users import User, UsersFile

SESSION_HOURS = 12  # one shift and some: a token copied out of a browser is worthless after it
_SALT = "buslane.review.session"


@dataclass(frozen=True)
class Session:
    id: str
    user: User
    token: str
    expires_at: datetime


def secret_path(users_path: Path) -> Path:
    return users_path.with_name(users_path.stem + ".session-key")


def load_secret(path: Path) -> bytes:
    """The server secret, made on first use (0600); a secret others can read is refused, naming the file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise PermissionError(f"{path}: the session secret must be readable by its owner only "
                                  f"(mode {mode:o}; run `chmod 600 {path}`)") from None
        secret = path.read_bytes()
        if len(secret) < 32:
            raise ValueError(f"{path}: session secret too short ({len(secret)} bytes); delete it to make a new one")
        return secret
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    return path.read_bytes()


class Sessions:
    def __init__(self, store: Store, users: UsersFile, hours: float = SESSION_HOURS):
        self.store, self.users, self.lifetime = store, users, timedelta(hours=hours)
        self._signer = URLSafeTimedSerializer(load_secret(secret_path(users.path)), salt=_SALT)

    def start(self, user: User, client: str, now: datetime | None = None) -> Session:
        now = now or utc_now()
        session_id = secrets.token_urlsafe(16)
        with self.store.transaction() as con:
            con.execute("INSERT INTO review_sessions VALUES (?, ?, ?, ?, ?, NULL)",
                        [session_id, user.name, client, now, now + self.lifetime])
        return Session(session_id, user, self._signer.dumps(session_id), now + self.lifetime)

    def resume(self, token: str | None, now: datetime | None = None) -> Session | None:
        """The session a token opens, or None (bad signature, too old, signed out, or user removed)."""
        if not token:
            return None
        try:
            session_id = self._signer.loads(token, max_age=self.lifetime.total_seconds())
        except BadSignature:  # also SignatureExpired
            return None
        row = self.store.query("SELECT officer, expires_at FROM review_sessions WHERE id = ? AND ended_at IS NULL"
                               " AND expires_at > ?", [session_id, now or utc_now()])
        if not row:
            return None
        user = next((u for u in self.users.users() if u.name == row[0]["officer"]), None)
        return Session(session_id, user, token, row[0]["expires_at"]) if user else None

    def end(self, session: Session) -> None:
        """Sign-out: the token is refused from now on, in every tab and on every copy of the URL."""
        with self.store.transaction() as con:
            con.execute("UPDATE review_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                        [utc_now(), session.id])
            audit(con, session.user.name, "review.sign_out", "review_sessions", session.id)
