"""Shared fixtures. Each expensive model pass over a clip runs once per test session."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import av
import pytest
import yaml

from pipeline.footage import open_footage
from pipeline.models import PROJECT_ROOT
from pipeline.site import load_site

SHARED = PROJECT_ROOT.parent / "shared"
FOOTAGE = SHARED / "data" / "footage"
SHENZHEN = FOOTAGE / "shenzhen_buslane_fixed_cctv_640x360.mp4"
SHENZHEN_START = datetime.fromisoformat("2016-03-18T12:21:25")  # burned into the first frame
BUS_LANE_SITE = PROJECT_ROOT / "sites" / "shenzhen_buslane.yaml"
GENERAL_LANE_SITE = PROJECT_ROOT / "tests" / "sites" / "shenzhen_general_lane.yaml"
LABELS = yaml.safe_load((PROJECT_ROOT / "tests" / "labels" / "shenzhen.yaml").read_text())


@pytest.fixture(scope="session", autouse=True)
def evidence_outside_the_repo(tmp_path_factory):
    """Batches run by tests keep their evidence in a temporary folder unless told otherwise."""
    os.environ["BUSLANE_EVIDENCE"] = str(tmp_path_factory.mktemp("evidence"))


CLI_OFFICER = "cli.officer"


@pytest.fixture(scope="session", autouse=True)
def council_key_and_cli_officer(tmp_path_factory) -> Path:
    """Packs need the council's signing key, and command line actions an officer mapped to the OS user
    running them: a fresh key pair and users file for the session. Returns the public key."""
    from evidence.keys import KEY_ENV, init_keys
    from pipeline.users import USERS_ENV, UsersFile

    pair = init_keys(tmp_path_factory.mktemp("keys"))
    os.environ[KEY_ENV] = str(pair.private)
    users = tmp_path_factory.mktemp("cli_users") / "users.yaml"
    UsersFile(users).add(CLI_OFFICER, "officer", "not used on the command line", os_user=getpass.getuser())
    os.environ[USERS_ENV] = str(users)
    return pair.public


@pytest.fixture(scope="session")
def bus_lane_site():
    return load_site(BUS_LANE_SITE)


@pytest.fixture(scope="session")
def general_lane_site():
    return load_site(GENERAL_LANE_SITE)


def _analyse(site):
    from pipeline.analysis import Analyser

    result = Analyser(site).analyse(SHENZHEN, "test", SHENZHEN_START)
    assert result.status == "processed", result.error
    return result


@pytest.fixture(scope="session")
def bus_lane_result(bus_lane_site):
    """The production analysis (real detector and tracker) of the Shenzhen clip for the bus lane."""
    return _analyse(bus_lane_site)


@pytest.fixture(scope="session")
def general_lane_result(general_lane_site):
    """The same clip analysed for the neighbouring general traffic lane."""
    return _analyse(general_lane_site)


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def buslane(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}\n{done.stderr}")
    return done


def sidecar(path: Path, start: str) -> None:
    path.with_name(path.name + ".json").write_text(json.dumps({"start": start}))


def write_low_rate_clip(path: Path, frames: int = 20, rate: int = 4) -> None:
    """A short real clip re-encoded at 4 frames per second, under the legal minimum of 5."""
    with open_footage(SHENZHEN) as source, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for index, bgr in source.frames():
            if index == frames:
                break
            out.mux(stream.encode(av.VideoFrame.from_ndarray(bgr, format="bgr24")))
        out.mux(stream.encode())


@pytest.fixture(scope="session")
def night(tmp_path_factory):
    """A night's folder: the real clip, a low-frame-rate clip, a truncated mp4 and a text file named .mp4."""
    folder = tmp_path_factory.mktemp("night")
    clip = folder / "shenzhen.mp4"
    clip.symlink_to(SHENZHEN)
    sidecar(clip, "2016-03-18T12:21:25")
    low = folder / "low_rate.mp4"
    write_low_rate_clip(low)
    sidecar(low, "2016-03-18T12:30:00")
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(SHENZHEN.read_bytes()[:600_000])
    sidecar(truncated, "2016-03-18T12:40:00")
    text = folder / "notes.mp4"
    text.write_text("not a video, just somebody's notes\n")
    files = [clip, truncated, text, low]
    db = folder / "night.duckdb"
    evidence = folder / "evidence"
    first = buslane("process", BUS_LANE_SITE, *files, "--db", db, "--no-progress", "--evidence", evidence)
    return {"db": db, "files": files, "first": first, "folder": folder, "evidence": evidence}


NL_CLIP = FOOTAGE / "nl_yellow_rear_plate_handheld_720p50.mp4"
NL_SITE = PROJECT_ROOT / "tests" / "sites" / "nl_handheld.yaml"


@pytest.fixture(scope="session")
def plate_night(tmp_path_factory):
    """The batch over the clip with a legible plate: {"db", "evidence"}."""
    folder = tmp_path_factory.mktemp("plates")
    db, evidence = folder / "plates.duckdb", folder / "evidence"
    buslane("process", NL_SITE, NL_CLIP, "--db", db, "--no-progress", "--start", "2026-11-20T08:15:00",
            "--evidence", evidence)
    return {"db": db, "evidence": evidence, "folder": folder}
