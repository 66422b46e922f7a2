"""Plate OCR: a batch of RGB plate crops in, text with per-character confidence out.

`PlateOCR` is the interface (like fast-alpr's BaseOCR); `FastPlateOCR` runs a fast-plate-ocr ONNX
model such as ``cct_xs_v1_global.onnx`` with its plate config.

>>> ocr = FastPlateOCR(resolve_model("plate_ocr"), resolve_model("plate_ocr_config"))  # doctest: +SKIP
>>> ocr.read([rgb_crop])  # doctest: +SKIP
[OcrRead(text='OY09FEU', char_confidence=(0.99, 0.98, 1.0, 1.0, 0.99, 1.0, 0.97))]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class OcrRead:
    text: str
    char_confidence: tuple[float, ...]  # one per character of `text`

    @property
    def confidence(self) -> float:
        return min(self.char_confidence, default=0.0)


class PlateOCR(Protocol):
    def read(self, crops_rgb: Sequence[np.ndarray]) -> list[OcrRead]:
        """One read per crop. Crops are RGB (not OpenCV's BGR), any size."""


class FastPlateOCR:
    """fast-plate-ocr's `LicensePlateRecognizer` on local files (it never downloads)."""

    def __init__(self, model_path: str | Path, config_path: str | Path, device: str = "cpu"):
        from fast_plate_ocr import LicensePlateRecognizer  # heavy import, only when built

        self._model = LicensePlateRecognizer(
            onnx_model_path=str(model_path), plate_config_path=str(config_path), device=device
        )
        self._pad = self._model.config.pad_char

    def read(self, crops_rgb: Sequence[np.ndarray]) -> list[OcrRead]:
        if not crops_rgb:
            return []
        # One call for the whole batch: the ONNX session runs the crops as one tensor.
        predictions = self._model.run(list(crops_rgb), return_confidence=True, remove_pad_char=False)
        return [self._decode(p.plate, p.char_probs) for p in predictions]

    def _decode(self, slots: str, probs: np.ndarray) -> OcrRead:
        """Drop pad slots (the model pads short plates to its fixed number of slots)."""
        keep = [i for i, c in enumerate(slots) if c != self._pad]
        return OcrRead("".join(slots[i] for i in keep), tuple(round(float(probs[i]), 4) for i in keep))
