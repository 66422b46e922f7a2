"""Decoding: frame indices stay true positions in the recording, even while frames are skipped."""

from __future__ import annotations

import numpy as np

from pipeline.footage import open_footage
from tests.conftest import SHENZHEN


def _luma_by_index(skip_from: int | None) -> dict[int, np.ndarray]:
    frames = {}
    with open_footage(SHENZHEN) as video:
        for frame in video.decoded():
            frames[frame.index] = frame.grey(4).copy()
            if frame.index == skip_from:
                video.skip_nonref(True)
    return frames


def test_skipping_idle_frames_keeps_each_frame_at_its_true_index():
    every = _luma_by_index(None)
    skipped = _luma_by_index(skip_from=100)

    assert sorted(every) == list(range(len(every)))  # 1190 frames, counted one by one
    assert len(skipped) < 0.8 * len(every)  # B-frames nobody refers to were never decoded
    assert max(skipped) == max(every)  # the count still reaches the end of the recording
    # What the batch sees as frame N (and evidence later shows as frame N) is frame N.
    for index, luma in skipped.items():
        assert np.array_equal(luma, every[index]), index
