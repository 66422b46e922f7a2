"""Sign-in with a throttle: MAX_FAILURES wrong passwords in a row for one name, or from one client,
lock it for LOCK; while locked even the right password is refused (and not checked).

The state is in the database (`sign_in_throttle`), so a restart of the app forgets nothing. Every
failure, every lock placed and every attempt refused by a lock go to the audit log. The client is
the connection's address as the web server reports it: behind a reverse proxy, uvicorn takes it from
X-Forwarded-For only when the proxy's address is trusted (FORWARDED_ALLOW_IPS, default 127.0.0.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.store import Store, audit, now as utc_now
from review_app.services.timefmt import local_text
from review_app.services.users import User, UsersFile

MAX_FAILURES = 5
LOCK = timedelta(minutes=15)
NAME, CLIENT = "name", "client"
TZ = "Europe/London"


@dataclass(frozen=True)
class SignIn:
    user: User | None
    message: str        # for the sign-in page: empty on success


def sign_in(store: Store, users: UsersFile, name: str, password: str, client: str,
            now: datetime | None = None) -> SignIn:
    now = now or utc_now()
    name = name.strip().lower()
    keys = ((NAME, name or "(blank)"), (CLIENT, client))
    until = locked_until(store, keys, now)
    if until is not None:
        with store.transaction() as con:
            audit(con, name or "(blank)", "review.sign_in_refused_locked", "user", name, client=client,
                  locked_until=until.isoformat())
        return SignIn(None, f"Too many failed sign-ins: try again after {local_text(until, TZ)}.")
    user = users.authenticate(name, password)
    with store.transaction() as con:
        if user is not None:
            con.execute("DELETE FROM sign_in_throttle WHERE (kind = ? AND key = ?) OR (kind = ? AND key = ?)",
                        [k for key in keys for k in key])
            audit(con, user.name, "review.sign_in", "user", user.name, client=client)
            return SignIn(user, "")
        audit(con, name or "(blank)", "review.sign_in_failed", "user", name, client=client)
        locks = [_fail(con, kind, key, now) for kind, key in keys]
        for (kind, key), lock in zip(keys, locks):
            if lock is not None:
                audit(con, name or "(blank)", "review.sign_in_locked", "user", name, locked=kind, key=key,
                      client=client, until=lock.isoformat())
    lock = max((x for x in locks if x is not None), default=None)
    if lock is not None:
        return SignIn(None, f"Too many failed sign-ins: locked until {local_text(lock, TZ)}.")
    return SignIn(None, "Name or password not recognised.")


def locked_until(store: Store, keys: tuple[tuple[str, str], ...], now: datetime) -> datetime | None:
    """The end of the latest lock in force on any of the (kind, key) pairs, or None."""
    where = " OR ".join("(kind = ? AND key = ?)" for _ in keys)
    row = store.query(f"SELECT max(locked_until) AS until FROM sign_in_throttle WHERE ({where}) AND locked_until > ?",
                      [k for key in keys for k in key] + [now])
    return row[0]["until"]


def _fail(con, kind: str, key: str, now: datetime) -> datetime | None:
    """Count one failure; the lock's end when it reaches MAX_FAILURES (the count then starts again)."""
    row = con.execute("SELECT failures, last_failure FROM sign_in_throttle WHERE kind = ? AND key = ?",
                      [kind, key]).fetchone()
    failures = row[0] + 1 if row and row[1] is not None and now - row[1] < LOCK else 1
    lock = now + LOCK if failures >= MAX_FAILURES else None
    con.execute(
        """INSERT INTO sign_in_throttle VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE
           SET failures = excluded.failures, last_failure = excluded.last_failure,
               locked_until = coalesce(excluded.locked_until, sign_in_throttle.locked_until)""",
        [kind, key, 0 if lock else failures, now, lock],
    )
    return lock
