"""Intercoder agreement over segments, and adjudication of two coders into a final set.

The unit of agreement is the **segment** (a sentence, FORMATS.md offsets): for every segment and
code, a coder either coded it (a confirmed coding — accepted or manual, or for ``auto`` a
suggestion — that overlaps the segment) or did not. Character-level agreement, as NVivo and
QualCoder compute it, counts every uncoded character as agreement and so inflates the figures on
long transcripts; the tagger also proposes whole sentences, so segments are the unit on which a
person and ``auto`` can be compared fairly.

Only the transcripts both coders worked on (each has at least one coding or decision there) form
the universe: a transcript one of them never opened is not evidence of agreement.

Per code: percent agreement, Cohen's κ and Krippendorff's α (nominal, from the ``krippendorff``
package) on the binary coded / not-coded judgements. Overall: the same three pooled over every
(segment, code) pair of the codes either coder used, and the mean κ over codes.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Iterable, Mapping, Sequence

from .project import Project
from .store import AUTO, CONFIRMED, Coding, Store, record_decisions
from .transcripts import Transcript

ADJUDICATED = "adjudicated"


@dataclass(frozen=True)
class Unit:
    """A segment of a transcript: the unit coders agree or disagree on."""

    transcript_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class CodeAgreement:
    code_id: str
    units: int  # judgements compared (segments, or segment × code pairs for the pooled row)
    a: int  # units coder A coded
    b: int  # units coder B coded
    both: int
    percent: float
    kappa: float | None  # None when undefined (both coders constant)
    alpha: float | None


@dataclass(frozen=True)
class Disagreement:
    transcript_id: str
    start: int
    end: int
    text: str
    code_id: str
    coded_by: str
    other: str
    other_status: str  # "rejected" (said no) or "not coded"


@dataclass
class AgreementReport:
    coders: tuple[str, str]
    unit: str = "segment"
    transcripts: list[str] = field(default_factory=list)
    segments: int = 0
    per_code: list[CodeAgreement] = field(default_factory=list)
    overall: CodeAgreement | None = None
    mean_kappa: float | None = None
    disagreements: list[Disagreement] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "coders": list(self.coders),
            "unit": self.unit,
            "note": UNIT_NOTE,
            "transcripts": self.transcripts,
            "segments": self.segments,
            "overall": asdict(self.overall) if self.overall else None,
            "mean_kappa": self.mean_kappa,
            "per_code": [asdict(c) for c in self.per_code],
            "disagreements": [asdict(d) for d in self.disagreements],
        }


UNIT_NOTE = (
    "Agreement is computed over segments (sentences): a coder coded a segment with a code when a "
    "confirmed coding of that code overlaps it. Character-level agreement (NVivo, QualCoder) would "
    "count uncoded text as agreement and inflate the figures."
)


# ---------------------------------------------------------------- statistics
def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Cohen's κ of two equally long sequences of nominal judgements; None when undefined."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    po = sum(1 for x, y in zip(a, b) if x == y) / n
    cats = set(a) | set(b)
    pe = sum((sum(1 for x in a if x == c) / n) * (sum(1 for y in b if y == c) / n) for c in cats)
    if pe >= 1.0:
        return None
    return (po - pe) / (1 - pe)


def krippendorff_alpha(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Krippendorff's α (nominal) for two coders without missing values; None when undefined."""
    import numpy as np
    import krippendorff

    if not a or len(set(a) | set(b)) < 2:
        return None
    value = float(krippendorff.alpha(reliability_data=np.array([a, b], dtype=float), level_of_measurement="nominal"))
    return None if math.isnan(value) else value


def _agreement(code_id: str, a: Sequence[int], b: Sequence[int]) -> CodeAgreement:
    n = len(a)
    same = sum(1 for x, y in zip(a, b) if x == y)
    return CodeAgreement(
        code_id=code_id, units=n, a=sum(a), b=sum(b), both=sum(1 for x, y in zip(a, b) if x and y),
        percent=same / n if n else 0.0, kappa=cohen_kappa(a, b), alpha=krippendorff_alpha(a, b),
    )


# ---------------------------------------------------------------- codings per coder
def coder_codings(store: Store, coder: str, transcripts: Mapping[str, Transcript]) -> tuple[list[Coding], list[Coding]]:
    """``(positives, rejections)`` of a coder: for ``auto`` its suggestions and no rejections; for a
    person their confirmed (accepted + manual) and rejected decisions, re-anchored, stale ones left out."""
    if coder == AUTO:
        return [s for s in store.suggestions if s.transcript_id in transcripts], []
    rows = [r for r in store.anchored(transcripts) if r.coder == coder and r.anchor != "stale"]
    return [r for r in rows if r.status in CONFIRMED], [r for r in rows if r.status == "rejected"]


class _Units:
    """The segments of a set of transcripts, with overlap look-up."""

    def __init__(self, transcripts: Iterable[Transcript]):
        self.by_t: dict[str, list[Unit]] = {}
        self.starts: dict[str, list[int]] = {}
        for t in transcripts:
            units = [Unit(t.id, s.start, s.end, s.text) for s in t.segments()]
            self.by_t[t.id] = units
            self.starts[t.id] = [u.start for u in units]
        self.bodies = {t.id: t.body for t in transcripts}

    def covering(self, c: Coding) -> list[Unit]:
        """Segments a coding overlaps; a coding outside every segment becomes a unit of its own."""
        units = self.by_t.get(c.transcript_id)
        if units is None:
            return []
        i = max(bisect.bisect_right(self.starts[c.transcript_id], c.start) - 1, 0)
        out = []
        while i < len(units) and units[i].start < max(c.end, c.start + 1):
            u = units[i]
            if u.end > c.start and u.start < max(c.end, c.start + 1):
                out.append(u)
            i += 1
        if not out:
            extra = Unit(c.transcript_id, c.start, c.end, self.bodies[c.transcript_id][c.start : c.end])
            pos = bisect.bisect_left(self.starts[c.transcript_id], extra.start)
            units.insert(pos, extra)
            self.starts[c.transcript_id].insert(pos, extra.start)
            out = [extra]
        return out

    def all(self) -> list[Unit]:
        return [u for units in self.by_t.values() for u in units]


def _judgements(units: _Units, codings: Iterable[Coding]) -> set[tuple[Unit, str]]:
    return {(u, c.code_id) for c in codings for u in units.covering(c)}


# ---------------------------------------------------------------- agreement
def compare_coders(
    store: Store,
    transcripts: Mapping[str, Transcript],
    a: str,
    b: str,
    *,
    codes: Sequence[str] | None = None,
    code_order: Sequence[str] | None = None,
    roll_up: Mapping[str, str] | None = None,
) -> AgreementReport:
    """Agreement of coders ``a`` and ``b`` over segments, per code and overall, with disagreements.

    ``codes`` restricts the comparison; ``code_order`` (e.g. the codebook's) orders the rows;
    ``roll_up`` counts a code as another (e.g. each finding as its theme, to compare the tagger,
    which suggests themes, with people who code findings).
    """
    pos_a, rej_a = coder_codings(store, a, transcripts)
    pos_b, rej_b = coder_codings(store, b, transcripts)
    if roll_up:
        up = lambda rows: [replace(r, code_id=roll_up.get(r.code_id, r.code_id)) for r in rows]  # noqa: E731
        pos_a, rej_a, pos_b, rej_b = up(pos_a), up(rej_a), up(pos_b), up(rej_b)
    touched_a = {c.transcript_id for c in pos_a + rej_a}
    touched_b = {c.transcript_id for c in pos_b + rej_b}
    ids = [tid for tid in transcripts if tid in touched_a and tid in touched_b]
    rep = AgreementReport(coders=(a, b), transcripts=ids)
    units = _Units(transcripts[tid] for tid in ids)
    keep = lambda c: c.transcript_id in units.by_t and (codes is None or c.code_id in codes)  # noqa: E731
    ja = _judgements(units, (c for c in pos_a if keep(c)))
    jb = _judgements(units, (c for c in pos_b if keep(c)))
    ra = _judgements(units, (c for c in rej_a if keep(c)))
    rb = _judgements(units, (c for c in rej_b if keep(c)))
    all_units = sorted(units.all(), key=lambda u: (ids.index(u.transcript_id), u.start, u.end))
    rep.segments = len(all_units)
    used = {code for _, code in ja | jb}
    order = {c: i for i, c in enumerate(code_order or [])}
    used_codes = sorted(used, key=lambda c: (order.get(c, len(order)), c))
    pooled_a: list[int] = []
    pooled_b: list[int] = []
    for code in used_codes:
        va = [1 if (u, code) in ja else 0 for u in all_units]
        vb = [1 if (u, code) in jb else 0 for u in all_units]
        rep.per_code.append(_agreement(code, va, vb))
        pooled_a += va
        pooled_b += vb
    if used_codes:
        rep.overall = _agreement("(all codes)", pooled_a, pooled_b)
        kappas = [c.kappa for c in rep.per_code if c.kappa is not None]
        rep.mean_kappa = sum(kappas) / len(kappas) if kappas else None
    for u in all_units:
        for code in used_codes:
            ina, inb = (u, code) in ja, (u, code) in jb
            if ina == inb:
                continue
            who, other = (a, b) if ina else (b, a)
            said_no = (u, code) in (rb if ina else ra)
            rep.disagreements.append(
                Disagreement(u.transcript_id, u.start, u.end, u.text, code, who, other, "rejected" if said_no else "not coded")
            )
    return rep


def _width(s: str) -> int:
    """Display width in a terminal: East Asian wide and full-width characters take two cells."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


def _ljust(s: str, w: int) -> str:
    return s + " " * max(w - _width(s), 0)


def roll_up_map(codebook, kinds: Sequence[str]) -> dict[str, str]:
    """Code → the nearest ancestor not of ``kinds``, for codes of ``kinds`` (``--roll-up finding``)."""
    out = {}
    for c in codebook.codes.values():
        if c.kind in kinds:
            target = next((x.id for x in codebook.ancestors(c.id) if x.kind not in kinds and x.codable), None)
            if target:
                out[c.id] = target
    return out


def format_report(rep: AgreementReport) -> str:
    """The report as a plain-text table (aligned for Japanese code ids too)."""
    import textwrap

    a, b = rep.coders
    lines = [
        f"Agreement of {a} and {b} over segments (sentences): {len(rep.transcripts)} transcript(s), "
        f"{rep.segments} segment(s) both coders worked on.",
        *textwrap.wrap(UNIT_NOTE, 100),
        "",
    ]
    if not rep.per_code:
        lines.append("Nothing to compare: no transcript has codings of both coders.")
        return "\n".join(lines) + "\n"
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}".replace("-0.000", "0.000")  # noqa: E731
    rows = rep.per_code + [rep.overall]
    width = max(_width(c.code_id) for c in rows)
    cw = max(len(a), len(b), 5)
    lines.append(f"{_ljust('code', width)}  {a:>{cw}}  {b:>{cw}}  {'both':>5}  {'agree':>6}  {'kappa':>6}  {'alpha':>6}")
    for c in rows:
        lines.append(
            f"{_ljust(c.code_id, width)}  {c.a:>{cw}}  {c.b:>{cw}}  {c.both:>5}  {c.percent:>6.1%}  {fmt(c.kappa):>6}  {fmt(c.alpha):>6}"
        )
    lines.append(f"(all codes) pools every segment × code pair of the {len(rep.per_code)} code(s) used; "
                 f"mean κ over codes: {fmt(rep.mean_kappa)}")
    lines.append("")
    lines.append(f"Disagreements to discuss: {len(rep.disagreements)}")
    for d in rep.disagreements:
        lines.append(f"  {d.transcript_id} {d.start}-{d.end} {d.code_id}: {d.coded_by} coded, {d.other} {d.other_status}: {d.text[:60]}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- adjudication
@dataclass
class Adjudication:
    rows: list[Coding] = field(default_factory=list)  # decisions for the adjudicated coder
    agreed: int = 0  # units both coded
    rejected: int = 0  # suggestions both rejected
    preferred: int = 0  # disagreements settled by --prefer
    already: int = 0  # units the adjudicated coder had decided before
    open: list[Disagreement] = field(default_factory=list)


def adjudicate(
    store: Store,
    transcripts: Mapping[str, Transcript],
    a: str,
    b: str,
    *,
    into: str = ADJUDICATED,
    prefer: str | None = None,
) -> Adjudication:
    """Settle two coders into decisions for ``into``: what both coded is accepted, a suggestion
    both rejected is rejected, and a disagreement follows ``prefer`` (a or b) or stays open.

    Segments are the unit, as in :func:`compare_coders`; a settled coding keeps the span the coders
    shared, else the segment's. Units ``into`` already decided are left alone: a team's explicit
    decision is never overwritten. Returns the rows; the caller merges and saves them.
    """
    if prefer not in (None, a, b):
        raise ValueError(f"prefer must be {a} or {b}")
    rep = compare_coders(store, transcripts, a, b)
    units = _Units(transcripts[tid] for tid in rep.transcripts)
    pos = {c: coder_codings(store, c, transcripts)[0] for c in (a, b)}
    sugg = {s.key for s in store.suggestions}
    mine = [r for r in store.anchored(transcripts) if r.coder == into and r.anchor != "stale"]
    decided = _judgements(units, mine) | {(r.transcript_id, r.start, r.end, r.code_id) for r in mine}
    res = Adjudication()

    def span_for(u: Unit, code: str, coders: Sequence[str]) -> tuple[int, int]:
        spans = [
            {(c.start, c.end) for c in pos[who] if c.code_id == code and u in units.covering(c)} for who in coders
        ]
        shared = set.intersection(*spans) if spans else set()
        return min(shared) if shared else (u.start, u.end)

    def emit(tid: str, start: int, end: int, code: str, status: str) -> None:
        body = transcripts[tid].body
        if status != "rejected":
            status = "accepted" if (tid, start, end, code) in sugg else "manual"
        res.rows.append(Coding(tid, start, end, body[start:end], code, status, into))

    agreed: set[tuple[Unit, str]] = set()
    for who in (a, b):
        for c in pos[who]:
            if c.transcript_id not in units.by_t:
                continue
            for u in units.covering(c):
                agreed.add((u, c.code_id))
    disagreed = {(d.transcript_id, d.start, d.end, d.code_id) for d in rep.disagreements}
    for u, code in sorted(agreed, key=lambda x: (x[0].transcript_id, x[0].start, x[1])):
        if (u.transcript_id, u.start, u.end, code) in disagreed:
            continue
        if (u, code) in decided:
            res.already += 1
            continue
        start, end = span_for(u, code, (a, b))
        emit(u.transcript_id, start, end, code, "accepted")
        res.agreed += 1
    rej = {who: {r.key for r in coder_codings(store, who, transcripts)[1]} for who in (a, b)}
    for key in sorted(rej[a] & rej[b]):
        if key in sugg and key not in decided:
            emit(key[0], key[1], key[2], key[3], "rejected")
            res.rejected += 1
    for d in rep.disagreements:
        u = Unit(d.transcript_id, d.start, d.end, d.text)
        if (u, d.code_id) in decided or (d.transcript_id, d.start, d.end, d.code_id) in decided:
            res.already += 1
            continue
        if prefer is None:
            res.open.append(d)
            continue
        res.preferred += 1
        if d.coded_by == prefer:
            start, end = span_for(u, d.code_id, (prefer,))
            emit(d.transcript_id, start, end, d.code_id, "accepted")
        elif (d.transcript_id, d.start, d.end, d.code_id) in sugg:
            emit(d.transcript_id, d.start, d.end, d.code_id, "rejected")
    return res


# ---------------------------------------------------------------- a project
def project_agreement(p: Project, a: str, b: str, *, codes: Sequence[str] | None = None,
                      roll_up: Sequence[str] = ()) -> AgreementReport:
    """Agreement of coders ``a`` and ``b`` in project ``p`` (see :func:`compare_coders`)."""
    p.check_coders((a, b))
    return compare_coders(p.store(), p.by_id, a, b, codes=codes, code_order=list(p.codebook.codes),
                          roll_up=roll_up_map(p.codebook, roll_up) if roll_up else None)


def project_adjudicate(p: Project, a: str, b: str, *, into: str = ADJUDICATED, prefer: str | None = None):
    """Adjudicate ``a`` and ``b`` into ``into`` and save the result; returns (result, file)."""
    p.check_coders((a, b))
    res = adjudicate(p.store(), p.by_id, a, b, into=into, prefer=prefer)
    rec = record_decisions(p.root, into, res.rows, p.by_id, p.codebook.effective_ref)
    return res, rec.path
