"""Outlines drawn over the picture: the bus lane (green), exemption zones (blue) and the vehicle (red).

Lines are 8-connected without anti-aliasing, so the pixels they cover are exactly the ones a blank
mask drawn the same way marks; every other pixel is left as recorded.

>>> covered = draw_scene(np.zeros((360, 640, 3), np.uint8), site, box) > 0  # doctest: +SKIP
"""

from __future__ import annotations

import cv2
import numpy as np

from evidence.track import Observation
from pipeline.site import SiteConfig

LANE = (0, 200, 0)
ZONE = (255, 128, 0)
VEHICLE = (0, 0, 255)
VEHICLE_HELD = (0, 165, 255)  # orange: box held from a nearby frame where the detector saw it


def draw_scene(image: np.ndarray, site: SiteConfig, vehicle: Observation | None) -> np.ndarray:
    """Draw on `image` in place and return it."""
    for polygons, colour in ((site.lanes, LANE), (site.exemption_zones, ZONE)):
        for polygon in polygons:
            points = np.round(np.asarray(polygon)).astype(np.int32)
            cv2.polylines(image, [points], True, colour, 1, cv2.LINE_8)
    if vehicle is not None:
        x1, y1, x2, y2 = vehicle.box
        colour = VEHICLE if vehicle.observed else VEHICLE_HELD
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2, cv2.LINE_8)
    return image
