"""`buslane site preview` on the real Shenzhen clip: an H.264 file a browser plays, with the site drawn on
its frames and each lane passage's verdict as the batch decides it (in metres on a calibrated site)."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
import yaml

from pipeline.site_preview import LANE, render_png
from tests.conftest import BUS_LANE_SITE, SHENZHEN, SHENZHEN_START, buslane
from tests.test_calibration import SHENZHEN_RUN

# Frames 1000-1100: the second scooter rider rides up the bus lane (tests/labels/shenzhen.yaml).
EXCERPT = ("--start-second", "40", "--seconds", "4")


def edge_midpoints(site) -> list[tuple[int, int]]:
    """The middle pixel of each edge of the lane polygons: drawn on in the lane colour."""
    points = []
    for polygon in site["lanes"]:
        for a, b in zip(polygon, polygon[1:] + polygon[:1]):
            x, y = round((a[0] + b[0]) / 2), round((a[1] + b[1]) / 2)
            if x < 640 and y < 360:  # edges along the frame's border are drawn outside it
                points.append((x, y))
    return points


def lane_coloured(picture: np.ndarray, points, tolerance: float) -> float:
    """Share of the points whose pixel is within `tolerance` (BGR distance) of the lane colour."""
    return np.mean([np.linalg.norm(picture[y, x].astype(float) - LANE) <= tolerance for x, y in points])


def first_frame(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="bgr24")


@pytest.fixture(scope="module")
def calibrated_site_file(tmp_path_factory):
    raw = yaml.safe_load(BUS_LANE_SITE.read_text())
    raw["calibration"] = {"method": "lane_marking", "image": [list(p) for p in SHENZHEN_RUN],
                          "lane_width_m": 3.25, "marking_length_m": 8.0}
    path = tmp_path_factory.mktemp("site") / "calibrated.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path, raw


def test_preview_video_is_h264_with_the_lane_drawn_and_the_batch_verdicts(calibrated_site_file, tmp_path):
    site_path, raw = calibrated_site_file
    out = tmp_path / "preview.mp4"
    done = buslane("site", "preview", site_path, SHENZHEN, *EXCERPT, "--out", out,
                   "--start", SHENZHEN_START.isoformat())
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.format.name) == ("h264", "yuv420p")  # what browsers play
        decoded = sum(1 for _ in container.decode(stream))
    assert decoded == 100  # 4 s at 25 frames/s
    picture = first_frame(out)
    assert picture.shape[:2] == (440, 640)  # the frame, not scaled, and the verdict panel below it
    points = edge_midpoints(raw)
    # H.264 keeps the drawing colour on the lane's edges; the recorded road there is not that colour.
    assert lane_coloured(picture, points, 60) >= 0.8
    with av.open(str(SHENZHEN)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == 1000:
                assert lane_coloured(frame.to_ndarray(format="bgr24"), points, 60) <= 0.2
                break
    # The rider is flagged, as the batch flags it, with the distance in metres.
    rider = [line for line in done.stdout.splitlines() if line.startswith("T") and " motorcycle, " in line]
    assert rider and "CONTRAVENTION: drove " in rider[0] and " m along the bus lane in " in rider[0]


def test_preview_png_is_one_annotated_frame(bus_lane_site):
    png = render_png(bus_lane_site, SHENZHEN, second=42, seconds=4, start=SHENZHEN_START)
    picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[:2] == (440, 640)
    raw = yaml.safe_load(BUS_LANE_SITE.read_text())
    assert lane_coloured(picture, edge_midpoints(raw), 0) >= 0.8  # PNG is lossless: the exact colour


def test_preview_refuses_an_output_it_cannot_write(tmp_path):
    done = buslane("site", "preview", BUS_LANE_SITE, SHENZHEN, "--out", tmp_path / "preview.avi", check=False)
    assert done.returncode == 2 and "--out must end in .mp4 or .png" in done.stderr
