"""A cheap motion test on the lane's surroundings, so the detector can rest while the road is empty.

A running-average background of the subsampled luma plane; a frame "moves" when enough pixels
inside the watched region differ from the background by more than a threshold. The threshold is
the site's for a scene of daylight contrast and shrinks with the scene's contrast: at dusk, in fog
or on an infrared picture a car changes the picture by a fraction of what it does by day, and a
fixed threshold never saw it. Everything is whole-array numpy/OpenCV on a quarter-size image, well
under a millisecond per frame.
"""

from __future__ import annotations

import cv2
import numpy as np

STEP = 2  # luma subsampling: 640x360 is watched at 320x180
LEARNING_RATE = 0.05  # how fast the background follows light changes (about 1 s at 25 fps)
# Grey-level spread (standard deviation) of the background around a lane by day: 23-37 on the
# benchmark clips, 10-22 on their infrared-like night copies, 4-6 on their dim (dusk, fog) copies.
DAYLIGHT_CONTRAST = 25.0
MIN_THRESHOLD = 3.0  # grey levels: above compression flicker, even on a flat black picture


class MotionGate:
    def __init__(self, watch: np.ndarray, threshold: int, min_area_px: int):
        """`watch` is a full-resolution boolean mask of where movement matters."""
        small = watch[::STEP, ::STEP]
        ys, xs = np.nonzero(small)
        # Only the watched region's bounding box is looked at: on a lane camera, half the frame or less.
        self._box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        self._watch = small[self._box]
        self._threshold = threshold
        self._min_pixels = max(1, min_area_px // (STEP * STEP))
        self._background: np.ndarray | None = None

    def moved(self, grey: np.ndarray) -> bool:
        """Feed one subsampled luma frame (``DecodedFrame.grey(STEP)``); True when it shows motion."""
        frame = cv2.GaussianBlur(grey[self._box], (5, 5), 0).astype(np.float32)
        if self._background is None:
            self._background = frame
            return True  # nothing to compare with yet: look
        # Scaled, never raised: a daylight scene keeps the site's threshold.
        contrast = float(self._background[self._watch].std())
        floor = min(MIN_THRESHOLD, self._threshold)
        threshold = max(floor, self._threshold * min(1.0, contrast / DAYLIGHT_CONTRAST))
        changed = cv2.absdiff(frame, self._background) > threshold
        cv2.accumulateWeighted(frame, self._background, LEARNING_RATE)
        return int(np.count_nonzero(changed & self._watch)) >= self._min_pixels
