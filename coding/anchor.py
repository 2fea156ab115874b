"""Anchoring a decision to its passage, as web annotations are anchored (a text-quote selector:
the exact words, a little context before and after, and a position).

When a note is edited — a typo fixed, a sentence inserted or deleted nearby, a name redacted, a
paragraph moved — a decision must follow its passage, and must never land silently on other
words. :func:`locate` finds where a passage is now:

* **moved** — the same words elsewhere, told apart from other occurrences by their context;
* **recheck** — re-attached, but the words were edited inside (fuzzy match, or found between its
  unchanged context), or several places fit equally: a person should look again;
* None — the passage is gone (the caller keeps the decision as stale).

Fuzzy matching is rapidfuzz's partial alignment; a re-attached span is snapped to the sentence
it covers, so a decision on an edited sentence still meets the tagger's suggestion on it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from rapidfuzz import fuzz

CONTEXT = 24  # characters of context stored before and after a passage
WINDOW = 4000  # characters around the old position searched first for an edited passage
MAX_FULL_SEARCH = 300_000  # longer bodies are searched around the old position only
MAX_OCCURRENCES = 500
SIMILAR = 50.0  # how alike (rapidfuzz ratio, 0-100) the words between the old context must still be

Kind = Literal["moved", "recheck"]


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    kind: Kind


def context(body: str, start: int, end: int) -> tuple[str, str]:
    """The context a passage is stored with: up to CONTEXT characters before and after it."""
    return body[max(0, start - CONTEXT):start], body[end:end + CONTEXT]


def _common_suffix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(reversed(a), reversed(b)):
        if x != y:
            break
        n += 1
    return n


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _occurrences(body: str, text: str) -> list[int]:
    out, i = [], body.find(text)
    while i != -1 and len(out) < MAX_OCCURRENCES:
        out.append(i)
        i = body.find(text, i + 1)
    return out


def _snap(start: int, end: int, segments: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The sentence a re-attached span covers, when it covers one nearly exactly."""
    best = None
    for a, b in segments:
        if b <= start or a >= end:
            continue
        overlap = min(b, end) - max(a, start)
        if overlap >= 0.8 * (b - a) and overlap >= 0.8 * (end - start):
            if best is None or overlap > best[0]:
                best = (overlap, a, b)
    return (best[1], best[2]) if best else (start, end)


def locate(body: str, text: str, start: int, *, prefix: str = "", suffix: str = "",
           segments: Sequence[tuple[int, int]] = ()) -> Found | None:
    """Where the passage ``text`` (once at ``start``, with ``prefix`` and ``suffix`` around it) is
    in ``body`` now; None when it is gone. ``segments``: the body's sentence spans, to snap to."""
    if not text:
        return None
    n = len(text)
    occ = _occurrences(body, text)
    if occ:
        if len(occ) == 1:
            return Found(occ[0], occ[0] + n, "moved")
        score = {o: _common_suffix(prefix, body[max(0, o - len(prefix)):o]) + _common_prefix(suffix, body[o + n:o + n + len(suffix)])
                 for o in occ}
        top = max(score.values())
        best = [o for o in occ if score[o] == top]
        nearest = min(best, key=lambda o: abs(o - start))
        return Found(nearest, nearest + n, "moved" if len(best) == 1 and top > 0 else "recheck")
    # edited inside: between its unchanged context …
    found = _between_context(body, prefix, suffix, n, start)
    if found is not None and fuzz.ratio(text, body[found[0]:found[1]]) < SIMILAR:
        found = None  # the context survived, the words did not: rewritten, not edited
    if found is None:  # … or the closest approximate match
        found = _fuzzy(body, text, start)
    if found is None:
        return None
    a, b = _snap(found[0], found[1], segments)
    return Found(a, b, "recheck")


def _between_context(body: str, prefix: str, suffix: str, n: int, start: int) -> tuple[int, int] | None:
    """The span between the passage's old context, when both ends are still there, in order, a
    plausible length apart (a redaction or a typo inside leaves the context as it was)."""
    if len(prefix) < 8 and len(suffix) < 8:
        return None
    lo, hi = max(1, n // 2 - 8), 2 * n + 24
    cands = []
    pre = prefix[-16:] if prefix else ""
    suf = suffix[:16] if suffix else ""
    starts = [p + len(pre) for p in _occurrences(body, pre)] if len(pre) >= 8 else None
    ends = _occurrences(body, suf) if len(suf) >= 8 else None
    if starts is not None and ends is not None:
        for a in starts:
            for b in ends:
                if lo <= b - a <= hi:
                    cands.append((a, b))
    elif starts is not None and len(pre) >= 12:
        cands = [(a, a + n) for a in starts if a + n <= len(body)]
    elif ends is not None and len(suf) >= 12:
        cands = [(b - n, b) for b in ends if b - n >= 0]
    if len(cands) != 1:
        return None
    return cands[0]


def _fuzzy(body: str, text: str, start: int) -> tuple[int, int] | None:
    """The best approximate occurrence of ``text``, near its old position first."""
    n = len(text)
    need = 90.0 if n < 20 else 85.0 if n < 60 else 80.0
    if n < 8:
        return None  # a few characters fit anywhere: only exact words or their context can place them
    windows = [(max(0, start - WINDOW - n), min(len(body), start + WINDOW + 2 * n))]
    if len(body) <= MAX_FULL_SEARCH and windows[0] != (0, len(body)):
        windows.append((0, len(body)))
    for lo, hi in windows:
        if hi - lo < n // 2:
            continue
        al = fuzz.partial_ratio_alignment(text, body[lo:hi], score_cutoff=need)
        if al is not None and al.score >= need:
            return lo + al.dest_start, lo + al.dest_end
    return None
