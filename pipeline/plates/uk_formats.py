"""UK registration formats: recognise a read and fix letter/digit confusions the format rules out.

A read is corrected only when the raw text fits no UK format and swapping confusable characters
(O/0, I/1, S/5, B/8, Z/2, G/6) that the OCR was unsure of, at the positions a format requires,
makes it fit one; anything else is kept exactly as read with the format ``unknown``, so foreign
plates are never forced into a UK shape.

>>> classify("0Y09FEU")
('OY09FEU', 'current')
>>> classify("RL04 XVM")
('RL04XVM', 'current')
>>> classify("L417VS")
('L417VS', 'unknown')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import combinations

UNKNOWN = "unknown"

# Letter classes follow the DVLA rules. They matter for ambiguity as much as for accuracy: the
# stricter a format, the fewer foreign plates a one-character swap can turn into a UK shape.
_CURRENT_TAG = "[A-HJ-PR-Y]"  # local memory tag: never I, Q or Z
_NO_IQ = "[A-HJ-PR-Z]"  # current-format random letters: never I or Q
_AGE = "(?:0[2-9]|[12][0-9]|5[1-9]|[67][0-9])"  # age identifiers issued since September 2001
_YEAR_LETTER = "[A-HJ-NPR-Y]"  # prefix/suffix year letters: never I, O, Q, U or Z
_NUMBER = "[1-9][0-9]{0,2}"  # 1-999, never a leading zero
# Northern Ireland county codes (the two letters before the number, e.g. OI for Belfast).
_NI_CODE = "(?:[A-HJ-PR-Y]Z|I[ABGJLW]|[JOUX]I)"

# name -> (pattern, most swaps allowed to reach it). In order of preference: when a read fits
# several formats after the same number of swaps, the first wins (current plates are by far the
# most common on the road). Each extra swap makes a coincidental fit likelier, so only the rigid
# 7-character current format takes two (0Y09FEU, BT1IAHV); the loose dateless shapes take none,
# since almost any short string can be swapped into "letters then digits".
FORMATS: dict[str, tuple[re.Pattern[str], int]] = {
    name: (re.compile(f"^(?:{pattern})$"), max_swaps)
    for name, (pattern, max_swaps) in {
        "current": (f"{_CURRENT_TAG}{{2}}{_AGE}{_NO_IQ}{{3}}", 2),  # AB12 CDE, 2001 on
        "prefix": (f"{_YEAR_LETTER}{_NUMBER}[A-Z]{{3}}", 1),  # A123 BCD, 1983-2001
        "suffix": (f"[A-Z]{{3}}{_NUMBER}{_YEAR_LETTER}", 1),  # ABC 123D, 1963-1983
        "northern_ireland": (f"[A-Z]?{_NI_CODE}[1-9][0-9]{{0,3}}", 1),  # ABZ 1234
        "dateless": ("[A-Z]{1,3}[1-9][0-9]{0,3}", 0),  # ABC 1234, before 1963
        # Number-first dateless marks (1 ABC, 1234 AB): today nearly all are cherished transfers.
        "cherished": ("[1-9][0-9]{0,3}[A-Z]{1,3}", 0),
    }.items()
}
MAX_SWAPS = max(max_swaps for _, max_swaps in FORMATS.values())

TO_LETTER = {"0": "O", "1": "I", "5": "S", "8": "B", "2": "Z", "6": "G"}
SWAPS = TO_LETTER | {letter: digit for digit, letter in TO_LETTER.items()}

# A character the OCR is at least this sure of is never swapped. Measured on the photo sets and
# their small-plate ladder: of about 60 swaps the rules would make without this, all but one were
# wrong (mostly Slovak plates), nearly all on characters read at over 0.95 (the 5 of RK-755AJ: 0.999).
SURE = 0.7


def clean(text: str) -> str:
    """Upper case, letters and digits only: ``"ab12 cde"`` -> ``"AB12CDE"``."""
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def fits(text: str, swaps: int = 0) -> str | None:
    """The first UK format `text` fits that allows reaching it with `swaps` swaps, or None."""
    return next((name for name, (rule, most) in FORMATS.items() if swaps <= most and rule.match(text)), None)


def classify(text: str, char_confidence: Sequence[float] | None = None) -> tuple[str, str]:
    """Return ``(normalised_text, format_name)``; ``format_name`` is ``unknown`` when nothing fits.

    With the OCR's `char_confidence` (one per letter or digit of `text`), only characters read
    with less than SURE confidence may be swapped. Text alone cannot tell a misread UK plate from
    a foreign one: Slovak RK 755AJ is one 5-to-S swap from UK current RK75 SAJ, and only the
    OCR's certainty about that 5 says which it is.

    >>> classify("BT1IAHV")
    ('BT11AHV', 'current')
    >>> classify("RK755AJ")
    ('RK75SAJ', 'current')
    >>> classify("RK755AJ", [0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99])
    ('RK755AJ', 'unknown')
    """
    raw = clean(text)
    if name := fits(raw):
        return raw, name
    if char_confidence is not None and len(char_confidence) != len(raw):
        raise ValueError(f"{len(char_confidence)} confidences for the {len(raw)} characters of {raw!r}")
    unsure = [
        i for i, c in enumerate(raw) if c in SWAPS and (char_confidence is None or char_confidence[i] < SURE)
    ]
    best: tuple[int, int, str, str] | None = None  # (swaps, preference, text, format)
    for n in range(1, MAX_SWAPS + 1):
        for positions in combinations(unsure, n):
            chars = list(raw)
            for i in positions:
                chars[i] = SWAPS[chars[i]]
            candidate = "".join(chars)
            if _keeps_every_group(raw, candidate) and (name := fits(candidate, n)):
                key = (n, list(FORMATS).index(name), candidate, name)
                best = min(best, key) if best else key
    return (best[2], best[3]) if best else (raw, UNKNOWN)


def _keeps_every_group(raw: str, candidate: str) -> bool:
    """Whether each run of letters or of digits in `candidate` keeps a character as read.

    A swap may fix a character inside a group the OCR evidently saw, never invent a whole group:
    LIMES is not taken for L1 MES, nor GPGGG for GPG 6G.
    """
    runs = re.finditer(r"[A-Z]+|[0-9]+", candidate)
    return all(any(raw[i] == candidate[i] for i in range(m.start(), m.end())) for m in runs)
