"""Shared fixtures. Each expensive model pass over a clip runs once per test session."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from pipeline.footage import open_footage
from pipeline.models import PROJECT_ROOT
from pipeline.site import load_site
from pipeline.tracks import TrackBuilder

SHARED = PROJECT_ROOT.parent / "shared"
FOOTAGE = SHARED / "data" / "footage"
SHENZHEN = FOOTAGE / "shenzhen_buslane_fixed_cctv_640x360.mp4"
SHENZHEN_START = datetime.fromisoformat("2016-03-18T12:21:25")  # burned into the first frame
BUS_LANE_SITE = PROJECT_ROOT / "sites" / "shenzhen_buslane.yaml"
GENERAL_LANE_SITE = PROJECT_ROOT / "tests" / "sites" / "shenzhen_general_lane.yaml"
LABELS = yaml.safe_load((PROJECT_ROOT / "tests" / "labels" / "shenzhen.yaml").read_text())


@pytest.fixture(scope="session")
def bus_lane_site():
    return load_site(BUS_LANE_SITE)


@pytest.fixture(scope="session")
def shenzhen_tracks(bus_lane_site):
    """The real detector and tracker over every frame of the Shenzhen clip: (tracks, video info)."""
    from pipeline.batch import default_tracker

    tracker = default_tracker(bus_lane_site)
    tracker.start()
    builder = TrackBuilder()
    with open_footage(SHENZHEN) as video:
        for index, frame in video.frames():
            builder.add(index, tracker.update(frame))
        info = video.info
    return builder.tracks(), info


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]
