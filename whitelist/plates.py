"""Plate normalisation and the near-miss rule.

>>> normalise_plate(" bx12-bus ")
'BX12BUS'
>>> is_near_miss("BX12BU5", "BX12BUS"), is_near_miss("8X12BU5", "BX12BUS"), is_near_miss("BX12B", "BX12BUS")
(True, True, False)
"""

from __future__ import annotations

import re

from pipeline.plates.uk_formats import TO_LETTER

# UK plates have at most 7 characters, but foreign and trade plates reach the lane too.
PLATE_RE = re.compile(r"[A-Z0-9]{2,10}")

# The pairs an OCR read (or a person typing a list) confuses, as the UK format rules know them;
# any number of these swaps is a near miss.
_CANONICAL = str.maketrans(TO_LETTER)


def clean_plate(text: str) -> str:
    """Uppercase and drop spaces and hyphens, without judging the result (for OCR reads)."""
    return re.sub(r"[\s-]", "", text).upper()


def normalise_plate(text: str) -> str:
    """The plate as stored and compared; ValueError when it is not 2–10 letters and digits."""
    plate = clean_plate(text)
    if not PLATE_RE.fullmatch(plate):
        raise ValueError(f"plate {text!r} is not 2–10 letters and digits (spaces and hyphens are ignored)")
    return plate


def confusion_key(plate: str) -> str:
    """The plate with each confusable digit replaced by its letter: equal keys = confusable plates."""
    return plate.translate(_CANONICAL)


def one_edit_apart(a: str, b: str) -> bool:
    """True when one substitution, insertion or deletion turns a into b (and a != b)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i, (x, y) in enumerate(zip(short, long)) if x != y), len(short))
    return short[i:] == long[i + 1 :]


def is_near_miss(read: str, listed: str) -> bool:
    """A read that is not the listed plate but is one edit, or only confusable characters, away."""
    return read != listed and (one_edit_apart(read, listed) or confusion_key(read) == confusion_key(listed))


def deletion_keys(plate: str) -> set[str]:
    """The plate and every one-character deletion of it.

    Two different plates are one edit apart only if these sets intersect, so an index on them finds
    near-miss candidates without comparing a read against the whole list.
    """
    return {plate} | {plate[:i] + plate[i + 1 :] for i in range(len(plate))}
