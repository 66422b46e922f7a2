"""Decide whether a plate crop is worth reading: wide enough and sharp enough.

Reading a crop that cannot be read does harm, not just waste: a confident misread of a 30-pixel
plate would outvote good reads of the same vehicle in other frames. Two cheap measures decide:

* width: under `min_width` pixels a UK plate's characters are about 4 pixels wide, below what
  the OCR resolves even when sharp;
* sharpness: the variance of the Laplacian (edge energy), measured at the OCR's own input size
  (so a small crop is judged as blurred as the OCR will see it after upscaling) and divided by
  the crop's grey-level variance (so a dark or low-contrast plate is not taken for a blurred one).

>>> gate = QualityGate()
>>> gate.reason_to_skip(np.zeros((10, 20, 3), np.uint8))
'too small (20 px wide < 40)'
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

OCR_SIZE = (128, 64)  # width, height the plate OCR resizes every crop to


def sharpness(crop_bgr: np.ndarray) -> float:
    """Laplacian variance over grey-level variance, at the OCR's input size (0 for a flat crop)."""
    grey = cv2.resize(cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY), OCR_SIZE, interpolation=cv2.INTER_LINEAR)
    grey = grey.astype(np.float32)
    contrast = grey.var()
    return float(cv2.Laplacian(grey, cv2.CV_32F).var() / contrast) if contrast > 1.0 else 0.0


@dataclass(frozen=True)
class QualityGate:
    min_width: int = 40
    min_sharpness: float = 0.01

    def reason_to_skip(self, crop_bgr: np.ndarray) -> str | None:
        """Why this plate crop should not be read, or None when it should."""
        width = crop_bgr.shape[1]
        if width < self.min_width:
            return f"too small ({width} px wide < {self.min_width})"
        if (value := sharpness(crop_bgr)) < self.min_sharpness:
            return f"too blurred (sharpness {value:.3f} < {self.min_sharpness})"
        return None
