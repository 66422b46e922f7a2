"""The plate results every other module passes around, as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.plates.uk_formats import classify


@dataclass(frozen=True)
class PlateRead:
    """One plate read in one image or frame.

    `text` is the read after the UK format rules (`raw_text` as the OCR gave it); both have one
    `char_confidence` per character, since the rules only swap characters. `confidence` is the
    weakest character's: a plate is only right when every character is. `country` is the OCR's
    region head's vote over the crops (None for a model without one, such as v1).
    """

    text: str
    char_confidence: tuple[float, ...]
    confidence: float
    box: tuple[int, int, int, int]  # plate x1, y1, x2, y2 in the frame's pixels
    frame_index: int
    format: str
    raw_text: str
    detector_confidence: float
    country: str | None = None
    country_confidence: float | None = None
    crop: np.ndarray | None = field(default=None, compare=False, repr=False)  # BGR plate pixels

    @classmethod
    def from_text(cls, text: str, confidence: float = 0.9, frame_index: int = 0) -> PlateRead:
        """A read with every character at `confidence`: a plate typed in, or an example.

        >>> PlateRead.from_text("0Y09FEU").text
        'OY09FEU'
        """
        plate, plate_format = classify(text)
        chars = (confidence,) * len(plate)
        return cls(plate, chars, confidence, (0, 0, 0, 0), frame_index, plate_format, text, 0.0)


@dataclass(frozen=True)
class Alternative:
    """A text the reads support, with how many reads gave it and their summed confidence."""

    text: str
    reads: int
    score: float


@dataclass(frozen=True)
class PlateResult:
    """One vehicle's plate, voted across all its reads.

    `status` is ``read`` (at least two reads agree with the vote), ``low_confidence`` (a vote, but
    fewer agreeing reads) or ``unreadable`` (no reads). `best` is the most confident read that
    agrees with the vote (else the most confident read): its frame and crop are the evidence.
    `country` is voted across the reads, each weighted by its confidence in its country (None
    when no read has one); `is_foreign` says whether that rules out a DVLA keeper look-up.
    """

    plate: str
    confidence: float
    char_confidence: tuple[float, ...]
    reads: int  # reads that agree with the voted plate
    total_reads: int
    alternatives: tuple[Alternative, ...]
    format: str
    status: str
    best: PlateRead | None
    best_crop_png: bytes | None
    country: str | None = None
    country_confidence: float | None = None


UK = "United Kingdom"  # the region head's label for British plates
# What the officer and the back office are told about a plate of another country.
NOT_UK = "not a UK plate: cannot be traced through the DVLA"


def is_foreign(country: str | None) -> bool:
    """Whether the plate was read as another country's (not when unknown or not predicted).

    >>> is_foreign("France"), is_foreign(UK), is_foreign("Unknown"), is_foreign(None)
    (True, False, False, False)
    """
    return country not in (None, UK, "Unknown")
