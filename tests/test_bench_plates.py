"""The plate benchmark's own machinery: the labelled box follows a photo onto the ladder."""

from __future__ import annotations

import cv2

from pipeline.plates.bench import PLATE_SETS, Photo, load_photos
from pipeline.plates.ladder import degrade, seed_for


def test_labelled_box_scales_with_the_photo():
    photo = Photo("set", "a.jpg", "AB12CDE", (100.0, 50.0, 200.0, 41.0))
    assert photo.plate_width == 200.0
    assert photo.box_at(1.0) == (100, 50, 300, 91)
    assert photo.box_at(0.3) == (30, 15, 90, 28)  # edges rounded outwards: the plate stays whole


def test_ladder_box_is_as_wide_as_the_rung():
    golf = next(p for p in load_photos(PLATE_SETS)["openalpr_eu"] if p.image == "eu5.jpg")
    image = degrade(cv2.imread(str(PLATE_SETS / "openalpr_eu" / golf.image)), golf.plate_width, 60, seed_for("eu5", 60))
    x1, y1, x2, y2 = golf.box_at(60 / golf.plate_width)
    assert 60 <= x2 - x1 <= 61
    assert 0 <= x1 and x2 <= image.shape[1] and 0 <= y1 and y2 <= image.shape[0]
