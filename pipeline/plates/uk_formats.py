"""UK registration formats: recognise a read and fix letter/digit confusions the format rules out.

A read is corrected only when the raw text fits no UK format and swapping confusable characters
(O/0, I/1, S/5, B/8, Z/2, G/6) at the positions a format requires makes it fit one; anything else
is kept exactly as read with the format ``unknown``, so foreign plates are never forced into a UK
shape.

>>> classify("0Y09FEU")
('OY09FEU', 'current')
>>> classify("RL04 XVM")
('RL04XVM', 'current')
>>> classify("L417VS")
('L417VS', 'unknown')
"""

from __future__ import annotations

import re
from functools import cache
from itertools import product

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
TO_DIGIT = {letter: digit for digit, letter in TO_LETTER.items()}


def clean(text: str) -> str:
    """Upper case, letters and digits only: ``"ab12 cde"`` -> ``"AB12CDE"``."""
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def fits(text: str, swaps: int = 0) -> str | None:
    """The first UK format `text` fits that allows reaching it with `swaps` swaps, or None."""
    return next((name for name, (pattern, most) in FORMATS.items() if swaps <= most and pattern.match(text)), None)


def classify(text: str) -> tuple[str, str]:
    """Return ``(normalised_text, format_name)``; ``format_name`` is ``unknown`` when nothing fits.

    >>> classify("BT1IAHV")
    ('BT11AHV', 'current')
    >>> classify("RK099AN")  # Slovak: no UK format, kept as read
    ('RK099AN', 'unknown')
    """
    raw = clean(text)
    if name := fits(raw):
        return raw, name
    best: tuple[int, int, str, str] | None = None  # (swaps, preference, text, format)
    for candidate, swaps in _swap_candidates(raw):
        if (name := fits(candidate, swaps)) is None:
            continue
        key = (swaps, list(FORMATS).index(name), candidate, name)
        best = min(best, key) if best else key
    return (best[2], best[3]) if best else (raw, UNKNOWN)


def _swap_candidates(raw: str) -> list[tuple[str, int]]:
    """Every string reachable from `raw` with at most MAX_SWAPS confusable swaps, with its count."""
    options = [_char_options(c) for c in raw]
    swappable = [i for i, opts in enumerate(options) if len(opts) > 1]
    if len(swappable) > 8:  # an implausibly long run of confusable characters: not a UK plate
        return []
    out = []
    for choice in product(*(options[i] for i in swappable)):
        swaps = sum(c != raw[i] for i, c in zip(swappable, choice))
        if 0 < swaps <= MAX_SWAPS:
            chars = list(raw)
            for i, c in zip(swappable, choice):
                chars[i] = c
            out.append(("".join(chars), swaps))
    return out


@cache
def _char_options(char: str) -> tuple[str, ...]:
    swap = TO_LETTER.get(char) or TO_DIGIT.get(char)
    return (char, swap) if swap else (char,)
