"""Lane rules on the real analysis of the Shenzhen clip, against the labels in tests/labels/."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from pipeline.lane_rules import LaneGeometry, enforcement_window, judge
from pipeline.site import Hours
from pipeline.tracks import Track
from tests.conftest import LABELS, SHENZHEN_START, overlaps


def rejudge(site, result):
    """Apply (possibly changed) rules to the tracks that entered the lane."""
    geometry = LaneGeometry(site, result.info.width, result.info.height)
    start = SHENZHEN_START.replace(tzinfo=site.tz)
    return [d for p in result.passages if (d := judge(p.track, geometry, site, result.info.fps, start))]


def span(d) -> tuple[int, int]:
    return d.first_frame, d.last_frame


def test_bus_lane_flags_the_riders_and_nothing_else(bus_lane_result):
    flagged = [d for d in bus_lane_result.passages if d.is_contravention]
    labels = LABELS["bus_lane"]["riders_along"]
    assert len(flagged) == len(labels)
    for label in labels:
        match = [d for d in flagged if overlaps(span(d), label)]
        assert len(match) == 1, f"rider {label} not flagged exactly once"
        assert match[0].vehicle_class == "motorcycle"  # a 'person' at vehicle speed is a rider
        assert match[0].distance_px > 0  # away from the camera, the direction of travel
    # The e-bike pair riding towards the camera is in the lane for about a second.
    brief = [d for d in bus_lane_result.passages
             if overlaps(span(d), LABELS["bus_lane"]["brief_wrong_way"][0]) and d.vehicle_class == "motorcycle"]
    assert brief and not any(d.is_contravention for d in brief)


def test_buses_are_passages_never_contraventions(bus_lane_result):
    buses = [d for d in bus_lane_result.passages if d.vehicle_class == "bus"]
    assert any(overlaps(span(b), LABELS["bus_lane"]["buses"][0]) for b in buses)
    assert all(not b.is_contravention and b.reason == "bus: exempt by sight" for b in buses)


def test_nothing_in_the_neighbouring_lane_is_in_the_bus_lane(bus_lane_result, general_lane_result):
    cars_along = [d for d in general_lane_result.passages if d.is_contravention]
    assert cars_along
    for car in cars_along:
        same_time = [d for d in bus_lane_result.passages if overlaps(span(d), span(car))]
        assert all(d.vehicle_class != "car" for d in same_time), f"car {span(car)} seen in the bus lane"
    assert all(d.vehicle_class not in ("car", "truck") for d in bus_lane_result.passages if d.seconds_in_lane > 0.5)


def test_motorcycles_exempt_by_config(bus_lane_site, bus_lane_result):
    site = bus_lane_site.model_copy(update={"exempt_classes": ["bus", "motorcycle"]})
    decisions = rejudge(site, bus_lane_result)
    assert not any(d.is_contravention for d in decisions)
    riders = [d for d in decisions if d.vehicle_class == "motorcycle"]
    assert len(riders) >= 2 and all(d.reason == "motorcycle: exempt by sight" for d in riders)


def test_general_lane_cars_driving_along_are_contraventions(general_lane_result):
    flagged = [d for d in general_lane_result.passages if d.is_contravention]
    labels = LABELS["general_lane"]["cars_along"]
    assert len(flagged) == len(labels)
    for label in labels:
        assert sum(overlaps(span(d), label) for d in flagged) == 1, f"car {label}"
    assert {d.vehicle_class for d in flagged} == {"car"}


def test_brief_entries_into_the_general_lane_are_not_flagged(general_lane_result):
    brief = [d for d in general_lane_result.passages if d.seconds_in_lane < 1.5]
    assert brief and not any(d.is_contravention for d in brief)
    assert all("under the 1.5 s minimum" in d.reason or "exempt" in d.reason for d in brief)


def test_hours_that_exclude_the_clip_flag_nothing_and_any_time_flags_the_same(general_lane_site, general_lane_result):
    mornings = general_lane_site.model_copy(update={"hours": Hours(windows={"mon-fri": ["07:00-10:00"]})})
    outside = rejudge(mornings, general_lane_result)
    assert not any(d.is_contravention for d in outside)
    assert any("outside the hours of operation (Fri 12:2" in d.reason for d in outside)
    always = general_lane_site.model_copy(update={"hours": Hours(at_any_time=True)})
    in_hours = {d.track_id for d in general_lane_result.passages if d.is_contravention}
    assert {d.track_id for d in rejudge(always, general_lane_result) if d.is_contravention} == in_hours


def synthetic_track(points: list[tuple[float, float]], cls: int = 2) -> Track:
    """A car box (40x30) whose bottom centre follows `points`, one per frame."""
    p = np.asarray(points, dtype=np.float32)
    xyxy = np.stack([p[:, 0] - 20, p[:, 1] - 30, p[:, 0] + 20, p[:, 1]], axis=1)
    n = len(p)
    return Track(1, np.arange(n), xyxy, np.full(n, cls), np.full(n, 0.9, np.float32))


def test_a_car_cutting_across_the_lane_is_a_passage_not_a_contravention(general_lane_site):
    geometry = LaneGeometry(general_lane_site, 640, 360)
    start = SHENZHEN_START.replace(tzinfo=general_lane_site.tz)
    # Slowly across the lane at y≈250 (3 s in it, queueing traffic): long enough, little progress along it.
    across = synthetic_track([(400 + 1.5 * i, 250 - 0.2 * i) for i in range(100)])
    decision = judge(across, geometry, general_lane_site, 25.0, start)
    assert decision is not None and not decision.is_contravention
    assert "px along the lane, under the 60 px minimum" in decision.reason


def test_exemption_zone_entry_is_not_a_contravention(general_lane_site):
    # The whole lower stretch is an exemption zone (e.g. entering to turn left into premises).
    site = general_lane_site.model_copy(update={"exemption_zones": [[(380, 200), (640, 200), (640, 360), (380, 360)]]})
    geometry = LaneGeometry(site, 640, 360)
    along_low = synthetic_track([(500 - 1.5 * i, 340 - 3 * i) for i in range(40)])  # y 340 → 223
    decision = judge(along_low, geometry, site, 25.0, SHENZHEN_START.replace(tzinfo=site.tz))
    assert decision is not None and not decision.is_contravention
    assert "exemption zone" in decision.reason


@pytest.mark.parametrize(
    "utc, expected",
    [
        # Saturday 24 Oct 2026 is still BST (UTC+1): 06:30 UTC is 07:30 local, inside 07:00-10:00.
        ("2026-10-24T06:30:00", "Sat 07:00-10:00"),
        # BST ends at 01:00 UTC on Sunday 25 Oct; on Monday 26 Oct 06:30 UTC is 06:30 local, outside.
        ("2026-10-26T06:30:00", None),
        ("2026-10-26T07:30:00", "Mon 07:00-10:00"),
        # Sunday: no windows; 25 Dec treated as a Sunday.
        ("2026-10-25T08:00:00", None),
        ("2026-12-25T08:00:00", None),
    ],
)
def test_enforcement_window_across_the_end_of_british_summer_time(utc, expected, general_lane_site):
    hours = Hours(windows={"mon-sat": ["07:00-10:00"]}, treat_as_sunday=["2026-12-25"])
    local = datetime.fromisoformat(utc).replace(tzinfo=timezone.utc).astimezone(general_lane_site.tz)
    assert enforcement_window(hours, local) == expected
