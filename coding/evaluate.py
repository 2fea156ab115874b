"""Evaluation: how well the tagger's suggestions match a gold coder's codings.

Two units are compared:

* **paragraph** — a paragraph carries a code when any coding of that code overlaps it (the unit a
  reader re-reads, and the unit the held-out gold is written at);
* **segment** — the same for each sentence segment (the unit the tagger suggests at).

A finding counts as its theme (the comparison tables' rows), so the families are phase, theme,
challenge, practice (and case, when the gold coder codes cases). Per code and per family the
report gives TP/FP/FN, precision, recall, F1 and Cohen's κ over the binary decision "this unit has
this code"; a family's numbers pool the unit × code decisions of its codes (micro average). A
family the gold coder never uses (the sample team codes no phases) is left out rather than scored
as all false positives.

Only transcripts the gold file mentions are evaluated (a transcript the gold coder never opened
says nothing about the tagger), unless ``transcripts`` is given.

The module also converts paragraph-level gold (``{transcript_id: [{paragraph: 1-based, codes:
[...]}]}``, the held-out set's ``gold_paragraphs.yml``) into FORMATS.md §3 codings.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Literal, Mapping, Sequence

from .codebook import FAMILIES, Codebook
from .errors import StoreError
from .nlp import DocCache, iter_parsed, normaliser
from .project import Project
from .store import CONFIRMED, Coding, read_codings_csv, validate_against
from .tagger import Suggestion, Tagger
from .transcripts import Transcript

Level = Literal["paragraph", "segment"]
LEVELS: tuple[Level, ...] = ("paragraph", "segment")


@dataclass(frozen=True)
class Scores:
    """Counts of one binary decision over units, and the usual measures derived from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: "Scores") -> "Scores":
        return Scores(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else None

    @property
    def kappa(self) -> float | None:
        """Cohen's κ of tagger vs gold; None when chance agreement is total (nothing to agree on)."""
        n = self.tp + self.fp + self.fn + self.tn
        if not n:
            return None
        po = (self.tp + self.tn) / n
        yes = ((self.tp + self.fp) / n) * ((self.tp + self.fn) / n)
        no = ((self.fn + self.tn) / n) * ((self.fp + self.tn) / n)
        pe = yes + no
        return None if pe >= 1 else (po - pe) / (1 - pe)

    def as_dict(self) -> dict:
        r = lambda x: None if x is None else round(x, 4)  # noqa: E731
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn, "precision": r(self.precision),
                "recall": r(self.recall), "f1": r(self.f1), "kappa": r(self.kappa)}


@dataclass(frozen=True)
class Evaluation:
    """Scores per level (paragraph, segment), per family and per code."""

    transcripts: tuple[str, ...]
    units: Mapping[str, int]  # level → number of units
    families: Mapping[str, Mapping[str, Scores]]  # level → family → pooled scores
    codes: Mapping[str, Mapping[str, Scores]]  # level → code → scores
    code_family: Mapping[str, str]  # code → family, for the codes evaluated
    skipped: tuple[str, ...] = ()  # families the gold coder never used
    source: str = ""  # what made the suggestions (rules, learned suggester)
    calibration: tuple["Band", ...] = ()  # paragraph level: how often a suggestion is right, by its score

    def as_dict(self) -> dict:
        return {
            "transcripts": list(self.transcripts),
            "units": dict(self.units),
            "skipped_families": list(self.skipped),
            "source": self.source,
            "calibration": [b.as_dict() for b in self.calibration],
            "levels": {
                lv: {
                    "families": {f: s.as_dict() for f, s in self.families[lv].items()},
                    "codes": {c: {"family": self.code_family[c], **s.as_dict()} for c, s in self.codes[lv].items()},
                }
                for lv in self.families
            },
        }


@dataclass(frozen=True)
class Band:
    """Paragraph × code suggestions whose score (the highest of the code's suggestions in the
    paragraph) lies in [low, high), and how many of them the gold coder also coded."""

    low: float
    high: float
    units: int
    right: int

    @property
    def precision(self) -> float | None:
        return self.right / self.units if self.units else None

    def as_dict(self) -> dict:
        p = self.precision
        return {"from": self.low, "to": self.high, "units": self.units, "right": self.right,
                "precision": None if p is None else round(p, 4)}


BANDS = (0.0, 0.3, 0.5, 0.7, 0.9, 1.0)


def family_codes(cb: Codebook, family: str) -> list[str]:
    """The codes of a family a unit can carry (themes, not findings; codable ones only)."""
    return [c.id for c in cb.codes.values() if c.kind == family and c.codable]


Span = tuple[str, int, int, str]  # (transcript_id, start, end, code_id)


def _units(transcripts: Sequence[Transcript], level: Level) -> list[tuple[str, int, int]]:
    if level == "paragraph":
        return [(t.id, p.start, p.end) for t in transcripts for p in t.paragraphs]
    return [(s.transcript_id, s.start, s.end) for t in transcripts for s in t.segments()]


def _labels(units: Sequence[tuple[str, int, int]], spans: Iterable[Span]) -> list[set[str]]:
    """For each unit, the codes of the spans that overlap it."""
    by_t: dict[str, list[int]] = {}
    for i, (tid, _, _) in enumerate(units):
        by_t.setdefault(tid, []).append(i)
    out: list[set[str]] = [set() for _ in units]
    for tid, start, end, code in spans:
        for i in by_t.get(tid, []):
            _, a, b = units[i]
            if start < max(b, a + 1) and end > a:
                out[i].add(code)
    return out


def evaluate(
    cb: Codebook,
    transcripts: Sequence[Transcript],
    gold: Sequence[Coding],
    predicted: Iterable[Span],
    *,
    levels: Sequence[Level] = LEVELS,
    scores: Sequence[float] | None = None,
) -> Evaluation:
    """Compare predicted spans (the tagger's suggestions) with the gold coder's confirmed codings.

    ``gold``: codings (accepted and manual count; rejected ones are ignored); ``predicted``:
    ``(transcript_id, start, end, code_id)``, with ``scores`` (one per predicted span) for the
    calibration table. Transcripts: those the gold mentions.
    """
    predicted = list(predicted)
    gold = [g for g in gold if g.status in CONFIRMED]
    mentioned = {g.transcript_id for g in gold}
    ts = [t for t in transcripts if t.id in mentioned]
    ids = {t.id for t in ts}
    gold_spans = [(g.transcript_id, g.start, g.end, c) for g in gold if (c := cb.eval_code(g.code_id))]
    pred_spans = [(tid, a, b, c) for tid, a, b, code in predicted if tid in ids and (c := cb.eval_code(code))]
    used = {cb.family(c) for _, _, _, c in gold_spans}
    fams = [f for f in FAMILIES if f in used]
    skipped = tuple(f for f in FAMILIES if f not in used and family_codes(cb, f) and f != "case")
    code_family = {c: f for f in fams for c in family_codes(cb, f)}
    families: dict[str, dict[str, Scores]] = {}
    codes: dict[str, dict[str, Scores]] = {}
    units_n: dict[str, int] = {}
    for level in levels:
        units = _units(ts, level)
        units_n[level] = len(units)
        g = _labels(units, gold_spans)
        p = _labels(units, pred_spans)
        per_code: dict[str, Scores] = {}
        for c in code_family:
            tp = sum(1 for gi, pi in zip(g, p) if c in gi and c in pi)
            fp = sum(1 for gi, pi in zip(g, p) if c not in gi and c in pi)
            fn = sum(1 for gi, pi in zip(g, p) if c in gi and c not in pi)
            per_code[c] = Scores(tp, fp, fn, len(units) - tp - fp - fn)
        codes[level] = per_code
        families[level] = {f: sum((s for c, s in per_code.items() if code_family[c] == f), Scores()) for f in fams}
    calibration: tuple[Band, ...] = ()
    if scores is not None:
        calibration = _calibration(cb, ts, gold_spans, predicted, scores, set(code_family))
    return Evaluation(tuple(t.id for t in ts), units_n, families, codes, code_family, skipped, calibration=calibration)


def _calibration(cb: Codebook, ts: Sequence[Transcript], gold_spans: Sequence[Span], predicted: Sequence[Span],
                 scores: Sequence[float], codes: set[str]) -> tuple[Band, ...]:
    """Per score band: the paragraph × code suggestions in it and how many the gold has."""
    units = _units(ts, "paragraph")
    g = _labels(units, gold_spans)
    best: dict[tuple[int, str], float] = {}
    by_t: dict[str, list[int]] = {}
    for i, (tid, _, _) in enumerate(units):
        by_t.setdefault(tid, []).append(i)
    for (tid, start, end, code), score in zip(predicted, scores):
        c = cb.eval_code(code)
        if c not in codes:
            continue
        for i in by_t.get(tid, []):
            _, a, b = units[i]
            if start < max(b, a + 1) and end > a:
                best[(i, c)] = max(score, best.get((i, c), 0.0))
    out = []
    for k in range(len(BANDS) - 1):
        lo, hi = BANDS[k], BANDS[k + 1]
        last = k == len(BANDS) - 2
        inside = [(i, c) for (i, c), s in best.items() if lo <= s and (s < hi or (last and s <= hi))]
        out.append(Band(lo, hi, len(inside), sum(1 for i, c in inside if c in g[i])))
    return tuple(reversed(out))


# ---------------------------------------------------------------- gold files
def check_gold(gold: Sequence[Coding], transcripts: Sequence[Transcript], cb: Codebook, source: str) -> None:
    """Raise StoreError naming every gold row that does not fit the project."""
    problems = validate_against(gold, {t.id: t for t in transcripts}, cb.codes, source)
    if problems:
        raise StoreError(f"{source}: {len(problems)} gold row(s) do not fit the project", problems)


def paragraph_gold(
    transcripts: Sequence[Transcript],
    data: Mapping[str, Sequence[Mapping]],
    *,
    coder: str = "gold",
    source: str = "gold_paragraphs.yml",
) -> list[Coding]:
    """Codings (status manual) from paragraph-level gold: one per paragraph × code, spanning the
    paragraph's text (after the speaker tag, ``Transcript.paragraphs[i]``).

    ``data``: ``{transcript_id: [{paragraph: 1-based index, codes: [code id, ...]}]}``.
    """
    by_id = {t.id: t for t in transcripts}
    problems: list[str] = []
    out: list[Coding] = []
    for tid, entries in data.items():
        t = by_id.get(tid)
        if t is None:
            problems.append(f"{source}: unknown transcript id '{tid}'")
            continue
        for e in entries or []:
            n = e.get("paragraph")
            if not isinstance(n, int) or not 1 <= n <= len(t.paragraphs):
                problems.append(f"{source}: {tid}: paragraph {n!r} is not between 1 and {len(t.paragraphs)}")
                continue
            p = t.paragraphs[n - 1]
            for code in e.get("codes") or []:
                out.append(Coding(tid, p.start, p.end, p.text, str(code), "manual", coder))
    if problems:
        raise StoreError(f"{source}: {len(problems)} problem(s)", problems)
    return sorted(out, key=lambda c: (c.transcript_id, c.start, c.code_id))


# ---------------------------------------------------------------- report
def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


MEASURES = ("precision", "recall", "f1", "kappa")


def _cells(s: Scores, before: Mapping | None) -> list[str]:
    now = s.as_dict()
    if before is None:
        return [_fmt(now[m]) for m in MEASURES]
    return [f"{_fmt(before.get(m))} → {_fmt(now[m])}" for m in MEASURES]


def report_markdown(
    ev: Evaluation,
    cb: Codebook,
    *,
    by: Literal["family", "code"] = "code",
    title: str = "",
    baseline: Mapping | None = None,
) -> str:
    """Markdown tables per level: per family, then (``by="code"``) per code.

    ``baseline``: an earlier ``Evaluation.as_dict()``; each measure is then shown "before → now".
    """
    lines = [f"## {title}", ""] if title else []
    lines.append(f"{len(ev.transcripts)} transcripts; units: " + ", ".join(f"{n} {lv}s" for lv, n in ev.units.items()) + "."
                 + (f" Suggestions: {ev.source}." if ev.source else ""))
    if ev.skipped:
        lines.append(f"Not coded by the gold coder, so not scored: {', '.join(ev.skipped)}.")
    if baseline is not None:
        lines.append("Each measure: before → now; TP/FP/FN are now's.")
    lines.append("")
    head = "| {} | TP | FP | FN | precision | recall | F1 | κ |"
    rule = "|---|--:|--:|--:|--:|--:|--:|--:|"
    for lv in ev.families:
        old = ((baseline or {}).get("levels") or {}).get(lv) or {}
        lines += [f"### {lv} level, per family", "", head.format("family"), rule]
        for f, s in ev.families[lv].items():
            b = (old.get("families") or {}).get(f, {}) if baseline is not None else None
            lines.append(f"| {f} | {s.tp} | {s.fp} | {s.fn} | " + " | ".join(_cells(s, b)) + " |")
        lines.append("")
        if by == "code":
            lines += [f"### {lv} level, per code", "", head.format("code"), rule]
            for c, s in ev.codes[lv].items():
                if s.tp + s.fp + s.fn == 0:
                    continue
                b = (old.get("codes") or {}).get(c, {}) if baseline is not None else None
                lines.append(f"| {c} {cb[c].label[:20]} | {s.tp} | {s.fp} | {s.fn} | " + " | ".join(_cells(s, b)) + " |")
            lines.append("")
    if ev.calibration:
        lines += ["### calibration (paragraph level)", "",
                  "Paragraph × code suggestions by their score (the highest of the code's suggestions in the "
                  "paragraph), and the share the gold coder also coded.", "",
                  "| score | suggestions | right | share right |", "|---|--:|--:|--:|"]
        for b in ev.calibration:
            lines.append(f"| {b.low:.1f}–{b.high:.1f} | {b.units} | {b.right} | {_fmt(b.precision)} |")
        lines.append("")
    return "\n".join(lines)


def report_text(ev: Evaluation, cb: Codebook, *, by: Literal["family", "code"] = "code") -> str:
    """A plain table for the terminal."""
    out = [f"{len(ev.transcripts)} transcripts; " + ", ".join(f"{n} {lv}s" for lv, n in ev.units.items())
           + (f"; suggestions: {ev.source}" if ev.source else "")]
    if ev.skipped:
        out.append(f"not coded by the gold coder, not scored: {', '.join(ev.skipped)}")
    for lv in ev.families:
        rows = [(f, s) for f, s in ev.families[lv].items()]
        if by == "code":
            rows += [(c, s) for c, s in ev.codes[lv].items() if s.tp + s.fp + s.fn]
        out.append("")
        out.append(f"{lv:<12} {'TP':>4} {'FP':>4} {'FN':>4} {'P':>5} {'R':>5} {'F1':>5} {'κ':>5}")
        for name, s in rows:
            out.append(f"{name:<12} {s.tp:>4} {s.fp:>4} {s.fn:>4} {_fmt(s.precision):>5} {_fmt(s.recall):>5} "
                       f"{_fmt(s.f1):>5} {_fmt(s.kappa):>5}")
    if ev.calibration:
        out += ["", "calibration (paragraph level): score band, suggestions, share the gold also has"]
        out += [f"  {b.low:.1f}–{b.high:.1f} {b.units:>6} {_fmt(b.precision):>5}" for b in ev.calibration]
    return "\n".join(out) + "\n"


def render(ev: "Evaluation", cb: Codebook, *, fmt: str = "text", by: Literal["family", "code"] = "code", title: str = "",
           baseline: Mapping | None = None) -> str:
    """An evaluation as text, Markdown (with ``baseline``: before → now) or JSON."""
    if fmt == "json":
        return json.dumps(ev.as_dict(), ensure_ascii=False, indent=1) + "\n"
    if fmt == "md":
        return report_markdown(ev, cb, by=by, title=title, baseline=baseline) + "\n"
    return report_text(ev, cb, by=by)


# ---------------------------------------------------------------- a project
def tag_fresh(p: Project, *, jobs: int = 1, tagger: Tagger | None = None) -> list[Suggestion]:
    """The tagger's current suggestions for every transcript of ``p``, tagged now (parses come
    from the cache), so an evaluation never reads suggestions older than the codebook."""
    settings = p.nlp_settings()
    if tagger is None:
        tagger = Tagger(p.codebook, normalise=normaliser(settings))
    out = []
    for t, docs in iter_parsed(p.transcripts, settings, DocCache(p.cache_dir / "nlp"), jobs=jobs):
        out.extend(tagger.tag(t, docs))
    return out


def evaluate_project(p: Project, gold_path: Path | str, *, min_score: float = 0.0, jobs: int = 1) -> "Evaluation":
    """Evaluate ``p``'s tagger against the confirmed codings in a codings CSV."""
    gold = read_codings_csv(gold_path, allow_suggested=False)
    check_gold(gold, p.transcripts, p.codebook, str(gold_path))
    tagger = Tagger(p.codebook, normalise=normaliser(p.nlp_settings()))
    sugg = [s for s in tag_fresh(p, jobs=jobs, tagger=tagger) if s.score >= min_score]
    preds = [(s.transcript_id, s.start, s.end, s.code_id) for s in sugg]
    return replace(evaluate(p.codebook, p.transcripts, gold, preds, scores=[s.score for s in sugg]), source=tagger.source)
