"""Metres from a ground-plane calibration: the homography recovers known distances, the site file's
calibration block is validated, and the lane rules measure and judge in metres on a calibrated site."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
import yaml

from pipeline.calibration import homography, rectangle, to_ground
from pipeline.lane_rules import LaneGeometry, judge
from pipeline.site import SiteConfig, SiteConfigError, load_site
from pipeline.tracks import Track
from tests.conftest import BUS_LANE_SITE

# A camera looking down a road: a known homography from road metres to pixels (its inverse is what a
# calibration must recover).
ROAD_TO_IMAGE = np.array([[40.0, -6.0, 320.0], [0.0, -5.0, 350.0], [0.0, 0.08, 1.0]])


def image_of(ground) -> np.ndarray:
    return to_ground(ROAD_TO_IMAGE, np.asarray(ground, np.float64))  # the same projective map, forwards


def test_four_known_points_recover_a_known_distance_within_2_percent():
    ground = [(0, 0), (0, 20), (3.5, 20), (3.5, 0)]
    # Clicks are whole pixels: round them, as an engineer's would be.
    h = homography(np.round(image_of(ground)).tolist(), ground)
    a, b = to_ground(h, np.round(image_of([(1.75, 2.0), (1.75, 44.0)])))  # beyond the clicked points too
    assert np.linalg.norm(b - a) == pytest.approx(42.0, rel=0.02)
    # More than four points: least squares (cv2.findHomography) over all of them.
    more = ground + [(1.75, 10.0), (0.0, 30.0)]
    h = homography(np.round(image_of(more)).tolist(), more)
    a, b = to_ground(h, image_of([(0.0, 5.0), (3.5, 25.0)]))
    assert np.linalg.norm(b - a) == pytest.approx(np.hypot(3.5, 20), rel=0.02)


# The Shenzhen clip, frame 600: the general lane left of the bus lane, between two white dashed lines
# whose dashes are level with each other. Clicked (to half a pixel, on a 4x enlargement): the near end
# of a dash on the left line, the far end of the next dash along it, and the points across on the right
# line. The true lane width and dash pattern are not known here; 3.25 m and an 8 m run (2 m dash, 4 m
# gap, 2 m dash, China's GB 5768 pattern for urban roads, which the measured 1.9 gap-to-dash ratio fits)
# set the scale only. What the test checks does not depend on them: two dashes, one about twice as
# far away (43 and 22 px tall), measure the same in metres, and the lane is as wide at both.
SHENZHEN_RUN = [(314.5, 320), (309.2, 197.5), (397.5, 199.2), (448.7, 316.2)]
NEAR_DASH_FAR_END, FAR_DASH_NEAR_END = (313.2, 277.5), (310.0, 220.0)
RIGHT_LINE = [(430.5, 276.2), (407.5, 220.0)]  # across from those two


def test_a_real_frame_calibration_corrects_perspective():
    h = homography(SHENZHEN_RUN, rectangle(3.25, 8.0))
    near_end, near_far, far_near, far_far = to_ground(h, np.array(
        [SHENZHEN_RUN[0], NEAR_DASH_FAR_END, FAR_DASH_NEAR_END, SHENZHEN_RUN[1]]))
    near_dash, far_dash = np.linalg.norm(near_far - near_end), np.linalg.norm(far_far - far_near)
    assert far_dash == pytest.approx(near_dash, rel=0.03)
    assert near_dash == pytest.approx(2.0, rel=0.05)
    left = to_ground(h, np.array([NEAR_DASH_FAR_END, FAR_DASH_NEAR_END]))
    right = to_ground(h, np.array(RIGHT_LINE))
    widths = np.linalg.norm(right - left, axis=1)
    assert widths == pytest.approx([3.25, 3.25], rel=0.03)


def site_with(**extra) -> dict:
    raw = yaml.safe_load(BUS_LANE_SITE.read_text())
    return raw | extra


def test_the_site_file_validates_its_calibration(tmp_path):
    path = tmp_path / "site.yaml"
    # Three clicks in a line fix no homography; the error names the field.
    path.write_text(yaml.safe_dump(site_with(calibration={
        "method": "lane_marking", "image": [[300, 300], [310, 200], [320, 100], [450, 300]],
        "lane_width_m": 3.25, "marking_length_m": 8})))
    with pytest.raises(SiteConfigError, match=r"calibration: .*three of the image points lie in a line"):
        load_site(path)
    path.write_text(yaml.safe_dump(site_with(thresholds={"min_distance_m": 10})))
    with pytest.raises(SiteConfigError, match="min_distance_m needs a calibration"):
        load_site(path)
    path.write_text(yaml.safe_dump(site_with(calibration={
        "method": "points", "image": SHENZHEN_RUN, "lane_width_m": 3.25})))
    with pytest.raises(SiteConfigError, match="method: points takes ground"):
        load_site(path)


def calibrated_site(**thresholds) -> SiteConfig:
    ground = [(0, 0), (0, 20), (3.5, 20), (3.5, 0)]
    raw = site_with(
        lanes=[np.round(image_of([(0, 0), (0, 30), (3.5, 30), (3.5, 0)]), 1).tolist()],
        centreline=np.round(image_of([(1.75, 0), (1.75, 30)]), 1).tolist(),
        calibration={"method": "points", "image": np.round(image_of(ground), 1).tolist(), "ground": ground},
        thresholds={"min_seconds_in_lane": 1.5, **thresholds},
    )
    return SiteConfig.model_validate(raw)


def car_along(ground_from: float, ground_to: float, frames: int = 50) -> Track:
    """A car whose ground point runs up the middle of the lane from one road distance to another."""
    y = np.linspace(ground_from, ground_to, frames)
    foot = image_of(np.c_[np.full(frames, 1.75), y])
    xyxy = np.c_[foot[:, 0] - 20, foot[:, 1] - 30, foot[:, 0] + 20, foot[:, 1]]
    return Track(7, np.arange(100, 100 + frames), xyxy, np.full(frames, 2), np.full(frames, 0.9))


def test_lane_rules_measure_and_judge_in_metres_on_a_calibrated_site():
    site = calibrated_site()
    geometry = LaneGeometry(site, 640, 360)
    start = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # a Monday, in force
    d = judge(car_along(1.0, 15.0), geometry, site, 25.0, start)
    assert d.is_contravention and d.distance_m == pytest.approx(14.0, rel=0.02)
    assert d.reason.startswith("drove 14 m along the bus lane in 2.0 s while in force")
    # A threshold in metres: 14 m is under 20 m.
    strict = calibrated_site(min_distance_m=20)
    d = judge(car_along(1.0, 15.0), LaneGeometry(strict, 640, 360), strict, 25.0, start)
    assert not d.is_contravention and d.reason == "moved 14 m along the lane, under the 20 m minimum"
    # Without a calibration, pixels as before.
    plain = SiteConfig.model_validate(site.model_dump() | {"calibration": None})
    d = judge(car_along(1.0, 15.0), LaneGeometry(plain, 640, 360), plain, 25.0, start)
    assert d.distance_m is None and " px along the lane for 2.0 s" in d.reason


def test_the_pack_states_metres_and_how_the_camera_was_calibrated():
    from types import SimpleNamespace

    from evidence.pack.facts import CaseFacts

    site = SiteConfig.model_validate(site_with(calibration={
        "method": "lane_marking", "image": SHENZHEN_RUN, "lane_width_m": 3.25, "marking_length_m": 8.0,
        "note": "width and dashes measured on site, 2026-11-20"}))
    facts = CaseFacts(SimpleNamespace(passage={"distance_px": 126.0, "distance_m": 23.4}),
                      {"lane_rules": {"calibration": site.calibration.describe()}}, (), (), None)
    assert facts.distance_text() == (
        "23.4 m along the lane's centre line, measured on the road plane (126 px in the image); calibration: "
        "ground-plane homography from the lane's width (3.25 m) and 8 m of lane marking, "
        "clicked at image points (314.5, 320), (309.2, 197.5), (397.5, 199.2), (448.7, 316.2) "
        "(width and dashes measured on site, 2026-11-20)")
    uncalibrated = CaseFacts(SimpleNamespace(passage={"distance_px": 126.0, "distance_m": None}),
                             {"lane_rules": {"calibration": None}}, (), (), None)
    assert uncalibrated.distance_text().endswith("(image pixels, not calibrated to metres)")
