"""Combine one vehicle's plate reads from many frames into one plate, by confidence-weighted vote.

Reads are put through the UK format rules, then aligned character by character: reads of the
most supported length position by position, others by edit-distance alignment to the most
confident read of that length. Each character is voted with the OCR's per-character confidence as
its weight. The plate counts as ``read`` only when at least two reads agree with the vote in full;
a single read, however confident, could be a misread of a dirty plate or a neighbour's plate.

>>> reads = [PlateRead.from_text(t) for t in ("OY09FEU", "0Y09FEU", "OY09FEV")]
>>> result = vote(reads)
>>> (result.plate, result.status, result.reads)
('OY09FEU', 'read', 2)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import cv2
import numpy as np

from pipeline.plates.types import Alternative, PlateRead, PlateResult
from pipeline.plates.uk_formats import UNKNOWN, classify

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
GAP = -1


def vote(reads: Sequence[PlateRead], min_agreeing: int = 2) -> PlateResult:
    """Vote `reads` (one vehicle, any frames) into a `PlateResult`."""
    if not reads:
        return PlateResult("", 0.0, (), 0, 0, (), UNKNOWN, "unreadable", None, None)
    texts = [classify(r.text, r.char_confidence)[0] for r in reads]  # a no-op for PlateReader's reads
    voted, char_conf = weighted_vote(texts, [r.char_confidence for r in reads])
    # Where frames disagree, the voted characters' confidence drops, and the format rules may fix
    # a confusion that no single confident read would have let them touch.
    plate, plate_format = classify(voted, char_conf)
    agreeing = [r for r, t in zip(reads, texts) if t == plate]
    best = max(agreeing or reads, key=lambda r: r.confidence)
    country, country_confidence = vote_country([(r.country, r.country_confidence) for r in reads])
    return PlateResult(
        plate=plate,
        confidence=round(min(char_conf, default=0.0), 4),
        char_confidence=char_conf,
        reads=len(agreeing),
        total_reads=len(reads),
        alternatives=_alternatives(texts, reads, plate),
        format=plate_format,
        status="read" if len(agreeing) >= min_agreeing else "low_confidence",
        best=best,
        best_crop_png=_png(best.crop),
        country=country,
        country_confidence=country_confidence,
    )


def vote_country(votes: Sequence[tuple[str | None, float | None]]) -> tuple[str | None, float | None]:
    """The country with the most summed confidence, and the mean over the votes that name a
    country of the confidence given to it (a vote for another country gives 0), like a character's.

    >>> vote_country([("United Kingdom", 0.9), ("France", 0.6), ("United Kingdom", 0.8), (None, None)])
    ('United Kingdom', 0.5667)
    """
    scores: dict[str, float] = defaultdict(float)
    named = [(c, p or 0.0) for c, p in votes if c is not None]
    for country, prob in named:
        scores[country] += prob
    if not scores:
        return None, None
    winner = max(scores, key=lambda c: (scores[c], c))
    return winner, round(scores[winner] / len(named), 4)


def weighted_vote(texts: Sequence[str], weights: Sequence[Sequence[float]]) -> tuple[str, tuple[float, ...]]:
    """Character-wise vote of `texts`, each character weighted by its confidence in `weights`.

    Returns the voted text and, per character, the mean over all texts of the confidence given
    to the winner (a text that disagrees or has nothing there gives 0): so it falls both when the
    OCR is unsure and when the texts disagree.

    >>> weighted_vote(["OY09FEU", "OY09FEV", "OY09FEU"], [[0.9] * 7, [0.95] * 7, [0.8] * 7])
    ('OY09FEU', (0.8833, 0.8833, 0.8833, 0.8833, 0.8833, 0.8833, 0.5667))
    """
    if not texts:
        return "", ()
    weights = [np.asarray(w, float) for w in weights]
    reference = _reference(texts, [min(w, default=0.0) for w in weights])
    chars, char_weights = _aligned(texts, weights, reference)
    n_pos = len(reference)
    scores = np.zeros((n_pos, len(ALPHABET)))
    present = chars != GAP
    rows, cols = np.nonzero(present)
    np.add.at(scores, (cols, chars[rows, cols]), char_weights[rows, cols])
    winners = scores.argmax(1)
    mean = scores[np.arange(n_pos), winners] / len(texts)
    return "".join(ALPHABET[i] for i in winners), tuple(round(float(c), 4) for c in mean)


def _reference(texts: Sequence[str], confidences: list[float]) -> str:
    """The most confident text among those of the length with the most summed confidence."""
    by_length: dict[int, float] = defaultdict(float)
    for text, confidence in zip(texts, confidences):
        by_length[len(text)] += confidence
    length = max(by_length, key=lambda n: (by_length[n], n))
    return max((t for t in zip(texts, confidences) if len(t[0]) == length), key=lambda t: t[1])[0]


def _aligned(texts: Sequence[str], weights: list[np.ndarray], reference: str) -> tuple[np.ndarray, np.ndarray]:
    """(reads, positions) alphabet indices (GAP where a read has nothing) and their weights."""
    chars = np.full((len(texts), len(reference)), GAP)
    char_weights = np.zeros((len(texts), len(reference)))
    for row, (text, weight) in enumerate(zip(texts, weights)):
        source = range(len(text)) if len(text) == len(reference) else align(text, reference)
        for pos, i in enumerate(source):
            if i != GAP and text[i] in ALPHABET:
                chars[row, pos] = ALPHABET.index(text[i])
                char_weights[row, pos] = weight[i]
    return chars, char_weights


def align(text: str, reference: str) -> list[int]:
    """For each character of `reference`, the index of the `text` character aligned to it, or GAP.

    Levenshtein alignment: extra characters in `text` are dropped, missing ones leave a GAP.

    >>> align("OY9FEU", "OY09FEU")
    [0, 1, -1, 2, 3, 4, 5]
    """
    n, m = len(text), len(reference)
    cost = np.zeros((n + 1, m + 1), int)
    cost[:, 0], cost[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(
                cost[i - 1, j - 1] + (text[i - 1] != reference[j - 1]), cost[i - 1, j] + 1, cost[i, j - 1] + 1
            )
    out, i, j = [GAP] * m, n, m
    while i and j:
        if cost[i, j] == cost[i - 1, j - 1] + (text[i - 1] != reference[j - 1]):
            out[j - 1] = i - 1
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return out


def _alternatives(texts: list[str], reads: Sequence[PlateRead], plate: str) -> tuple[Alternative, ...]:
    """Every distinct text read (and the voted plate), most supported first."""
    counts = Counter(texts)
    scores: dict[str, float] = defaultdict(float, {plate: 0.0})
    for text, read in zip(texts, reads):
        scores[text] += read.confidence
    ranked = sorted(scores, key=lambda t: (-scores[t], -counts[t], t))
    return tuple(Alternative(t, counts[t], round(scores[t], 4)) for t in ranked)


def _png(crop: np.ndarray | None) -> bytes | None:
    if crop is None or not crop.size:
        return None
    ok, buf = cv2.imencode(".png", crop)
    return buf.tobytes() if ok else None
