"""Ground-plane calibration: image pixels to metres on the road, so distances read "42 m", not "300 px".

The road near a camera is a plane, so one homography (a 3x3 projective map) takes every pixel of it to
road coordinates in metres. It is fixed by four points the engineer clicks on a frame whose positions
on the road are known (`SiteConfig.calibration`, see pipeline/site.py):

- ``method: points`` — four (or more) image points with their road coordinates in metres, e.g. the
  corners of a box junction or of a bay measured with a tape. Exactly four: ``cv2.getPerspectiveTransform``
  (exact); more: ``cv2.findHomography`` (least squares over all of them).
- ``method: lane_marking`` — the lane's width and a known length of lane line. The engineer clicks the
  near and far ends of a stretch of dashed line on one edge of the lane (one dash, or better from the
  near end of one dash to the far end of a later one: a longer base places far points better), then
  the two points straight across the lane on its other edge, level with the far end and then the near
  end. Those four are the corners of a rectangle ``lane_width_m`` x ``marking_length_m`` on the road:
  (0, 0), (0, L), (W, L), (W, 0). On the Shenzhen clip a single near dash put a dash three times as
  far away 8-18% long; a run of two dashes measures both within 1.5% (tests/test_calibration.py).

Distances along the lane are then measured between ground points mapped through the homography: the
drawn centreline maps to a polyline in metres (straight lines stay straight), and a vehicle's progress
is the arc length to its nearest point on it.

>>> h = homography([(0, 0), (100, 0), (100, 100), (0, 100)], [(0, 0), (10, 0), (10, 10), (0, 10)])
>>> to_ground(h, np.array([[50.0, 100.0]])).round(3).tolist()
[[5.0, 10.0]]
"""

from __future__ import annotations

import cv2
import numpy as np


def homography(image: list, ground: list) -> np.ndarray:
    """The 3x3 homography taking image (x, y) pixels to ground (x, y) metres; ValueError when the points
    cannot fix one (fewer than four, three in a line, or a mapping that folds the road over)."""
    src, dst = np.asarray(image, np.float64), np.asarray(ground, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2:
        raise ValueError(f"{len(src)} image points but {len(dst)} ground points: give one ground point per image point")
    if len(src) < 4:
        raise ValueError(f"a homography needs at least 4 points, got {len(src)}")
    if len(src) == 4:
        for name, pts in (("image", src), ("ground", dst)):
            if _collinear_triple(pts):
                raise ValueError(f"three of the {name} points lie in a line: the homography is not fixed by them")
        h = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32)).astype(np.float64)
    else:
        h, _ = cv2.findHomography(src, dst, 0)
        if h is None or not np.isfinite(h).all() or abs(np.linalg.det(h)) < 1e-12:
            raise ValueError("no homography fits these points (are they all in a line?)")
    w = _depth(h, src)
    if not (np.all(w > 0) or np.all(w < 0)):
        raise ValueError("the points straddle the horizon: some would map behind the camera")
    return h


def _collinear_triple(pts: np.ndarray) -> bool:
    scale = max(float(np.ptp(pts, axis=0).max()), 1e-9)
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            for k in range(j + 1, len(pts)):
                a, b = pts[j] - pts[i], pts[k] - pts[i]
                if abs(a[0] * b[1] - a[1] * b[0]) < 1e-6 * scale**2:
                    return True
    return False


def _depth(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The projective denominator of each point: its sign tells which side of the horizon it is on."""
    return h[2, 0] * points[:, 0] + h[2, 1] * points[:, 1] + h[2, 2]


def same_side(h: np.ndarray, calibrated: list, points: list) -> bool:
    """Whether `points` lie on the road side of the horizon, as the calibration points do."""
    sign = np.sign(_depth(h, np.asarray(calibrated, np.float64))[0])
    return bool(np.all(np.sign(_depth(h, np.asarray(points, np.float64))) == sign))


def to_ground(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(n, 2) image pixels to (n, 2) road metres."""
    pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(pts, h).reshape(-1, 2)


def rectangle(lane_width_m: float, marking_length_m: float) -> list[tuple[float, float]]:
    """Road coordinates of the lane_marking method's four clicks, in their order: the marking's near
    end, its far end, across the lane from the far end, across from the near end."""
    return [(0.0, 0.0), (0.0, marking_length_m), (lane_width_m, marking_length_m), (lane_width_m, 0.0)]
