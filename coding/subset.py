"""Which part of the notes an exploration looks at: transcripts chosen by case variables
(``--where region=日本``), passages coded with some codes (``--code 課題①``), and whether the
interviewer's turns count.

Used by the concordance (:mod:`coding.kwic`) and the word frequencies (:mod:`coding.words`), so
that both read the notes through the same filters.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Iterable, Sequence

from .codebook import Codebook
from .errors import CodebookError, OptionError
from .store import Coding
from .transcripts import Transcript


@dataclass(frozen=True)
class Condition:
    """``key=a,b`` (the front-matter value is one of a, b) or ``key!=a,b`` (it is none of them)."""

    key: str
    values: tuple[str, ...]
    negate: bool = False

    def holds(self, t: Transcript) -> bool:
        hit = str(t.attributes.get(self.key, "")) in self.values
        return hit != self.negate

    def __str__(self) -> str:
        return f"{self.key}{'!=' if self.negate else '='}{','.join(self.values)}"


def parse_where(items: Iterable[str]) -> tuple[Condition, ...]:
    """``["region=日本", "kind!=技術移転機関"]`` → conditions; a malformed one raises OptionError."""
    out = []
    for item in items:
        key, sep, rest = item.partition("!=")
        negate = bool(sep)
        if not sep:
            key, sep, rest = item.partition("=")
        key = key.strip()
        values = tuple(v.strip() for v in rest.split(",") if v.strip())
        if not sep or not key or not values:
            raise OptionError(f"--where {item}: write KEY=VALUE (or KEY=V1,V2, or KEY!=VALUE), e.g. --where region=日本")
        out.append(Condition(key, values, negate))
    return tuple(out)


def select(transcripts: Sequence[Transcript], where: Sequence[Condition]) -> list[Transcript]:
    """The transcripts every condition holds for, in transcript order. A condition on a variable
    no transcript records raises OptionError (a misspelt key would otherwise select nothing)."""
    known = {k for t in transcripts for k in t.attributes}
    for c in where:
        if c.key not in known:
            raise OptionError(f"--where {c}: no transcript has the variable '{c.key}' "
                              f"(variables: {', '.join(sorted(known))})")
    return [t for t in transcripts if all(c.holds(t) for c in where)]


def with_descendants(codebook: Codebook, codes: Sequence[str]) -> set[str]:
    """``codes`` and every code under them (a theme's findings, a practice's cases); an unknown
    code raises CodebookError."""
    unknown = [c for c in codes if c not in codebook.codes]
    if unknown:
        raise CodebookError(f"unknown code(s): {', '.join(unknown)}")
    wanted = set(codes)
    return {c.id for c in codebook.codes.values() if c.id in wanted or wanted & {a.id for a in codebook.ancestors(c.id)}}


class Spans:
    """Coded passages per transcript, for "is this offset range inside a passage coded X?"."""

    def __init__(self, codings: Iterable[Coding]):
        self._by: dict[str, list[tuple[int, int, str]]] = {}
        for c in codings:
            self._by.setdefault(c.transcript_id, []).append((c.start, c.end, c.code_id))
        for rows in self._by.values():
            rows.sort()
        self._starts = {k: [r[0] for r in v] for k, v in self._by.items()}

    def codes_over(self, transcript_id: str, start: int, end: int) -> list[str]:
        """Codes of the passages that contain ``[start, end)``, in codebook-independent order."""
        rows = self._by.get(transcript_id, ())
        hi = bisect.bisect_right(self._starts.get(transcript_id, []), start)
        return list(dict.fromkeys(code for a, b, code in rows[:hi] if a <= start and end <= b))

    def overlaps(self, transcript_id: str, start: int, end: int) -> list[tuple[int, int]]:
        """The coded passages overlapping ``[start, end)``, clipped to it."""
        return [(max(a, start), min(b, end)) for a, b, _ in self._by.get(transcript_id, ()) if a < end and b > start]

    def __contains__(self, transcript_id: str) -> bool:
        return transcript_id in self._by
