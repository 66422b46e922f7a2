"""Plate OCR: a batch of RGB plate crops in, text with per-character confidence out.

`PlateOCR` is the interface (like fast-alpr's BaseOCR); `FastPlateOCR` runs a fast-plate-ocr ONNX
model such as ``cct_xs_v2_global.onnx`` with its plate config. Models with a region head (v2) also
say which country's plate it is; v1 has none, and its reads carry ``region=None``.

>>> ocr = FastPlateOCR(resolve_model("plate_ocr"), resolve_model("plate_ocr_config"))  # doctest: +SKIP
>>> ocr.read([rgb_crop])  # doctest: +SKIP
[OcrRead(text='OY09FEU', char_confidence=(0.99, 0.98, 1.0, 1.0, 0.99, 1.0, 0.97), region='United Kingdom', region_prob=0.98)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from pipeline.models import ModelError


@dataclass(frozen=True)
class OcrRead:
    text: str
    char_confidence: tuple[float, ...]  # one per character of `text`
    region: str | None = None  # the plate's country, from a model with a region head
    region_prob: float | None = None

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

        for what, path in (("model", model_path), ("config", config_path)):
            if not Path(path).is_file():  # fast-plate-ocr would only say "Missing model/config file!"
                raise ModelError(f"plate OCR {what} {path}: not found")
        try:
            self._model = LicensePlateRecognizer(
                onnx_model_path=str(model_path), plate_config_path=str(config_path), device=device
            )
        except Exception as e:  # onnxruntime and pydantic errors name neither file
            raise ModelError(f"plate OCR model {model_path} with config {config_path} cannot be loaded: {e}") from e
        self._pad = self._model.config.pad_char

    def read(self, crops_rgb: Sequence[np.ndarray]) -> list[OcrRead]:
        if not crops_rgb:
            return []
        # One call for the whole batch: the ONNX session runs the crops as one tensor.
        predictions = self._model.run(list(crops_rgb), return_confidence=True, remove_pad_char=False)
        return [self._decode(p.plate, p.char_probs, p.region, p.region_prob) for p in predictions]

    def _decode(self, slots: str, probs: np.ndarray, region: str | None, region_prob: float | None) -> OcrRead:
        """Drop pad slots (the model pads short plates to its fixed number of slots)."""
        keep = [i for i, c in enumerate(slots) if c != self._pad]
        return OcrRead(
            "".join(slots[i] for i in keep),
            tuple(round(float(probs[i]), 4) for i in keep),
            region,
            None if region_prob is None else round(float(region_prob), 4),
        )
