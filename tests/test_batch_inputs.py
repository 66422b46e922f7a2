"""Inputs that are not footage files at all: a named pipe, a device, a socket, a symbolic link loop,
and names with control characters in them or bytes that are not UTF-8. Each is one failed file with
a one-line reason, in the database and the morning report; none stops or hangs the batch (real
files, real command line)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.footage import not_regular_file
from pipeline.report import printable
from tests.conftest import BUS_LANE_SITE, SHENZHEN, buslane, sidecar, write_low_rate_clip
from tests.test_batch_robustness import START, cut

HISTORY_LINE = "OK history"  # how the report's last line begins: a name must not forge one
TIMEOUT_S = 300  # a batch that reads a pipe never ends: fail instead of hanging the suite


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT_S)


@pytest.fixture(scope="module")
def odd_night(tmp_path_factory):
    folder = tmp_path_factory.mktemp("odd_night")
    pipe = folder / "pipe.mp4"
    os.mkfifo(pipe)
    loop = folder / "loop1.mp4"
    loop.symlink_to(folder / "loop2.mp4")
    (folder / "loop2.mp4").symlink_to(loop)
    not_utf8 = folder / os.fsdecode(b"caf\xe9.mp4")  # Latin-1, as an old recorder might name it
    not_utf8.write_bytes(cut(folder / "cafe.mp4", "cafe").read_bytes())
    notes = folder / f"notes\n{HISTORY_LINE}.mp4"
    notes.write_text("not a video\n")
    slow = folder / f"slow\n{HISTORY_LINE}.mp4"
    write_low_rate_clip(slow)
    sidecar(slow, "2016-03-18T12:30:00")
    clip = cut(folder / "clip.mp4", "clip")
    sidecar(clip, START)
    db = folder / "odd.duckdb"
    done = run("process", BUS_LANE_SITE, pipe, "/dev/zero", loop, not_utf8, notes, slow, clip, "--db", db,
               "--no-progress", "--workers", "1", "--evidence", folder / "evidence")
    return {"db": db, "done": done, "folder": folder, "pipe": pipe, "loop": loop, "notes": notes, "slow": slow,
            "clip": clip}


def test_a_pipe_a_device_and_a_link_loop_are_failed_files_and_the_batch_goes_on(odd_night):
    done = odd_night["done"]
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "could not be recorded" not in done.stderr
    assert "files: 7 (2 processed, 0 already done, 5 failed)" in done.stderr
    errors = dict(rows(odd_night["db"], "SELECT path, error FROM footage_files WHERE status = 'failed'"))
    assert errors[str(odd_night["pipe"])] == f"{odd_night['pipe']}: not a regular file: a named pipe"
    assert errors["/dev/zero"] == "/dev/zero: not a regular file: a character device"
    assert errors[str(odd_night["loop"])] == f"{odd_night['loop']}: a symbolic link loop"
    processed = rows(odd_night["db"], "SELECT path FROM footage_files WHERE status = 'processed' ORDER BY path")
    assert processed == [(str(odd_night["clip"]),), (str(odd_night["slow"]),)]


def test_a_control_character_in_a_name_stays_in_its_line(odd_night):
    """A newline in a file name is shown as \\n: the report has no line the name made up."""
    errors = [e for (e,) in rows(odd_night["db"], "SELECT error FROM footage_files WHERE error IS NOT NULL")]
    assert all("\n" not in e for e in errors)
    escaped = str(odd_night["notes"]).replace("\n", "\\n")
    assert any(e.startswith(f"{escaped}: cannot be read as video") for e in errors)
    assert f"FAILED {escaped}: cannot be read as video" in odd_night["done"].stderr
    assert not any(line.startswith(HISTORY_LINE) for line in odd_night["done"].stderr.splitlines())

    report = buslane("report", "--db", odd_night["db"]).stdout.splitlines()
    assert [line for line in report if line.startswith(HISTORY_LINE)] == report[-1:]  # the chain's own line only
    failed = [line for line in report if line.startswith("  FAILED: ")]
    assert len(failed) == 5
    for name in ("pipe.mp4: not a regular file: a named pipe", "/dev/zero: not a regular file: a character device",
                 "loop1.mp4: a symbolic link loop", f"notes\\n{HISTORY_LINE}.mp4: cannot be read as video",
                 "caf\\xe9.mp4: the file name is not UTF-8: rename it"):
        assert sum(name in line for line in failed) == 1, name
    slow = str(odd_night["slow"]).replace("\n", "\\n")
    assert f"  LOW FRAME RATE: {slow}: 4.0 frames/s, under the legal minimum of 5" in report


def test_a_name_that_is_not_utf8_is_a_failed_file_the_database_can_hold(odd_night):
    """Its bytes cannot go into the database as they are: without a row it would vanish from the report."""
    shown = f"{odd_night['folder']}/caf\\xe9.mp4"
    assert rows(odd_night["db"], "SELECT path, status, error FROM footage_files WHERE path LIKE '%caf%'") == [
        (shown, "failed", f"{shown}: the file name is not UTF-8: rename it")]


def test_what_is_not_a_regular_file_is_named_without_reading_it(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "socket"))
        assert not_regular_file(tmp_path / "socket") == "not a regular file: a socket"
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "file").write_bytes(b"")
    assert not_regular_file(pipe) == "not a regular file: a named pipe"
    assert not_regular_file(Path("/dev/null")) == "not a regular file: a character device"
    assert not_regular_file(tmp_path / "loop") == "a symbolic link loop"
    assert not_regular_file(tmp_path) == "is a directory, not a footage file"
    assert not_regular_file(tmp_path / "missing") == "no such file"
    assert not_regular_file(tmp_path / "file") is None


def test_a_pipe_named_as_the_sidecar_is_not_read(tmp_path):
    """`clip.json` is the sidecar's second name; a pipe there would block the start time's reading."""
    clip = tmp_path / "clip.mp4"
    clip.symlink_to(SHENZHEN)
    os.mkfifo(tmp_path / "clip.json")
    done = run("site", "check", BUS_LANE_SITE, clip)
    assert done.returncode == 1
    assert f"{clip}: PROBLEM: start time: no sidecar clip.mp4.json with the start time" in done.stdout


def test_printable_escapes_control_characters_only():
    assert printable("a\nb\rc\x1bd\te") == "a\\nb\\rc\\x1bd\\te"
    assert printable("ünï cødé 🚌 \\d{8}") == "ünï cødé 🚌 \\d{8}"
