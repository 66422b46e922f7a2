"""The motion test's threshold follows the scene's contrast (the dim motorway copy in
tests/test_bench_lanes.py is the real-footage check)."""

from __future__ import annotations

import numpy as np

from pipeline.motion import MotionGate


def scene(spread: float) -> np.ndarray:
    """A subsampled grey picture with a grey-level standard deviation of about `spread`."""
    stripes = np.tile(np.repeat([-1.0, 1.0], 8), 20)[:160]
    return np.clip(100 + spread * np.tile(stripes, (90, 1)), 0, 255).astype(np.uint8)


def moved_by(spread: float, change: int, threshold: int = 25) -> bool:
    gate = MotionGate(np.ones((180, 320), bool), threshold, min_area_px=120)
    background = scene(spread)
    gate.moved(background)
    car = background.copy()
    car[30:50, 40:80] = np.clip(car[30:50, 40:80].astype(int) + change, 0, 255)
    return gate.moved(car)


def test_a_small_change_moves_a_dim_scene_and_not_a_daylight_one():
    assert not moved_by(spread=30, change=8)  # daylight: under the site's 25 grey levels
    assert moved_by(spread=30, change=40)
    assert moved_by(spread=5, change=8)  # a sixth of the contrast: the threshold is about 5


def test_a_flat_scene_keeps_a_floor_above_flicker_and_never_raises_a_low_setting():
    assert not moved_by(spread=0, change=2)
    assert moved_by(spread=0, change=2, threshold=1)
