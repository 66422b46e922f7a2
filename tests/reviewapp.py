"""Running the real review app for the browser tests: `buslane review` on a free port, Debian's
headless Chromium, and the sign-in form. One copy, used by every browser test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evidence.settings import move_root
from pipeline.store import Store

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            proc.stdout.seek(0)
            raise AssertionError(f"the app exited:\n{proc.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the app did not start within {seconds:g} s")


def private_night(night: dict, folder: Path) -> Store:
    """A copy of the night's database and evidence in `folder`, the copy's evidence root recorded."""
    shutil.copy(night["db"], folder / "night.duckdb")
    shutil.copytree(night["evidence"], folder / "evidence")
    store = Store(folder / "night.duckdb")
    move_root(store, folder / "evidence")
    return store


@contextmanager
def serve(db: Path, users: Path, evidence: Path, *options: str) -> Iterator[str]:
    """`buslane review` over `db` on a free port until the block ends; yields its URL."""
    port = free_port()
    # Output to a file, not a pipe nobody reads while the app runs: a full pipe would block the app.
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "review", "--db", str(db), "--port", str(port), "--users", str(users),
         "--evidence", str(evidence), *options],
        stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    proc.stdout = log
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # seen once under load; stopping the app is not what is tested
            proc.kill()
            proc.wait(timeout=20)
        log.close()


def launch(p, *extra_args: str):
    """Debian's Chromium, headless, through Playwright `p` (a browser download fails here)."""
    return p.chromium.launch(executable_path=CHROMIUM, args=[*BROWSER_ARGS, *extra_args])


def sign_in_form(page, name: str, password: str) -> None:
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def settled(page) -> None:
    """Wait for the script run to finish: no running icon, no stale (greyed) elements left."""
    page.wait_for_function("""() => !document.querySelector('[data-testid="stStatusWidgetRunningIcon"],'
                           + ' [data-testid="stStatusWidgetRunningManIcon"], [data-stale="true"]')""")
