"""The developer-side photos split by plate into a tuning half and a validation half.

Anything tuned or trained on the photo sets (thresholds, format rules, a fine-tuned OCR) may look
at the `tune` half only; accuracy is reported on the `validation` half. The side is decided by a
hash of the plate's text, so the same plate in two photos, or labelled with O for 0 or I for 1 in
one set, always lands on the same side, in every run and on every machine.

>>> split_of("OY09 FEU") == split_of("oyo9feu")
True
>>> split_of("OY09FEU") in SIDES
True
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pipeline.plates.uk_formats import clean

Side = Literal["tune", "validation"]
SIDES: tuple[Side, ...] = ("tune", "validation")
_SAME = str.maketrans("OQDI", "0001")
# Prefixed to the key before hashing. Picked once, of 40 tried, as the one that halves each photo
# set (openalpr_eu 27/27, openalpr_us 111/111, mixed_uk_eu 28/31; UK photos 4 tune, 8 validation).
_SALT = "21:"


def plate_key(plate_text: str) -> str:
    """The text the split hashes: letters and digits, upper case, with the characters labels
    confuse made one (OYO9FEU for OY09FEU, 25810X for 2581DX): O, Q and D as 0, I as 1."""
    return clean(plate_text).translate(_SAME)


def split_of(plate_text: str) -> Side:
    key = plate_key(plate_text)
    if not key:
        raise ValueError(f"split_of needs a plate with letters or digits, got {plate_text!r}")
    return SIDES[hashlib.sha256((_SALT + key).encode()).digest()[0] & 1]
