"""The speed benchmark's own machinery: how it compares runs and what its detector row covers."""

from __future__ import annotations

from pipeline.bench.speed import detector_only, same_contraventions
from pipeline.footage import open_footage
from pipeline.site import load_site
from tests.conftest import NL_CLIP, NL_SITE


def test_contraventions_match_only_one_to_one_by_overlapping_frames():
    assert same_contraventions(((10, 50), (100, 160)), ((12, 48), (95, 170))) == "yes"
    assert same_contraventions(((10, 50),), ((12, 48), (95, 170))) == "NO"  # one more found
    assert same_contraventions(((10, 50),), ((60, 90),)) == "NO"  # same count, other frames
    assert same_contraventions(((10, 200),), ((12, 48), (95, 170))) == "NO"  # one span over two


def test_detector_row_detects_every_frame_of_the_clip():
    """The ceiling is only a ceiling if no frame is left out (frames are decoded in chunks)."""
    with open_footage(NL_CLIP) as video:
        decodable = sum(1 for _ in video.decoded())
    assert decodable % 24  # the last chunk is a short one
    run = detector_only(NL_CLIP, load_site(NL_SITE), chunk=24)
    assert run.frames == decodable
    assert run.seconds > 0 and run.spans == ()
