"""Stage 6: rebuild the report's tables from codings — pure functions, no IO.

Inputs are the project's transcripts (in transcript order), its codebook and a list of confirmed
codings; outputs are plain dicts shaped like ``report_tables.yml`` (FORMATS.md §4) so that every
exporter renders the same data.

The attribution note is the report's rule, driven by the codebook's ``attribution`` settings:
the organisations whose codings carry an item are grouped by their ``attribute``; a group of n > 1
organisations reads ``attribute(n)``; groups are joined with 「、」; attributes ``Xの<kind>``
sharing a kind merge into ``X、Yの<kind>``. Groups are ordered by ``attribution.order``: by where
the item's summary names the group's country (``summary_mention``), then by transcript order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .codebook import Code, Codebook
from .errors import CodebookError
from .settings import DEFAULT_STYLE, Style
from .store import Coding
from .transcripts import Transcript


# ---------------------------------------------------------------- attribution
def _mention(summary: str, country: str, countries: Mapping[str, Sequence[str]]) -> int | None:
    """Where ``summary`` first names ``country`` (or one of its aliases), or None."""
    if not summary or not country:
        return None
    names = list(countries.get(country) or []) + [country]
    hits = [summary.find(n) for n in names if n and summary.find(n) >= 0]
    return min(hits) if hits else None


def attribution_note(
    orgs: Sequence[Transcript],
    *,
    style: Style | None = None,
    summary: str = "",
    order: Sequence[str] = ("summary_mention", "transcript"),
    countries: Mapping[str, Sequence[str]] | None = None,
    rank: Mapping[str, int] | None = None,
) -> str:
    """The parenthesised note for the organisations behind an item.

    ``orgs`` are transcripts (one per organisation, duplicates ignored); ``rank`` maps a transcript
    id to its position in transcript order (default: the order of ``orgs``).

    >>> attribution_note([b, c, h])            # two 国立大 and a 工業大
    '国立大(2)、工業大'
    """
    style = style or DEFAULT_STYLE
    countries = countries or {}
    seen: dict[str, Transcript] = {}
    for t in orgs:
        seen.setdefault(t.id, t)
    orgs = list(seen.values())
    if not orgs:
        return ""
    rank = rank or {t.id: i for i, t in enumerate(orgs)}
    labels = style.labels
    # group by attribute
    groups: dict[str, list[Transcript]] = {}
    for t in orgs:
        groups.setdefault(t.attribute, []).append(t)

    def key(attr: str):
        members = groups[attr]
        k = []
        for rule in order:
            if rule == "summary_mention":
                pos = [m for m in (_mention(summary, t.country, countries) for t in members) if m is not None]
                k.append(min(pos) if pos else 10**9)
            elif rule == "transcript":
                k.append(min(rank.get(t.id, 10**9) for t in members))
        k.append(min(rank.get(t.id, 10**9) for t in members))
        return tuple(k)

    ordered = sorted(groups, key=key)
    count_fmt = style.count
    marker = style.merge_marker
    joiner = style.joiner
    parts: list[tuple[str, list[str]]] = []  # (merge kind or '', labels)
    for attr in ordered:
        n = len(groups[attr])
        label = labels.get(attr, attr)
        if marker and marker in label and not label.startswith(marker):
            head, kind = label.split(marker, 1)
            text = count_fmt.format(label=head, n=n) if n > 1 else head
            for existing in parts:
                if existing[0] == kind:
                    existing[1].append(text)
                    break
            else:
                parts.append((kind, [text]))
        else:
            parts.append(("", [count_fmt.format(label=label, n=n) if n > 1 else label]))
    rendered = [joiner.join(ls) + (f"{marker}{kind}" if kind else "") for kind, ls in parts]
    note = joiner.join(rendered)
    prefix = style.prefix
    regions = {t.region for t in orgs}
    if len(regions) == 1 and next(iter(regions)) in prefix:
        note = prefix[next(iter(regions))] + note
    return note


# ---------------------------------------------------------------- helpers
@dataclass(frozen=True)
class Corpus:
    """Transcripts in transcript order plus the confirmed codings, indexed for the tables."""

    transcripts: Sequence[Transcript]
    codebook: Codebook
    codings: Sequence[Coding]

    @property
    def by_id(self) -> dict[str, Transcript]:
        return {t.id: t for t in self.transcripts}

    @property
    def rank(self) -> dict[str, int]:
        return {t.id: i for i, t in enumerate(self.transcripts)}

    def orgs_with(self, code_id: str, *, region: str | None = None) -> list[Transcript]:
        """Organisations (in transcript order) with a coding of ``code_id``."""
        ids = {c.transcript_id for c in self.codings if c.code_id == code_id}
        return [t for t in self.transcripts if t.id in ids and (region is None or t.region == region)]

    def codings_of(self, code_id: str) -> list[Coding]:
        r = self.rank
        return sorted((c for c in self.codings if c.code_id == code_id), key=lambda c: (r.get(c.transcript_id, 10**9), c.start, c.end))

    def note(self, orgs: Sequence[Transcript], style_name: str, summary: str = "") -> str:
        att = self.codebook.settings.attribution
        return attribution_note(orgs, style=att.style(style_name), summary=summary, order=att.order,
                                countries=att.countries, rank=self.rank)


# ---------------------------------------------------------------- comparison tables
def comparison_tables(corpus: Corpus) -> dict[str, Any]:
    """図表32/33: themes × regions; each cell lists its findings carried by at least one org."""
    cb = corpus.codebook
    tables_cfg = cb.settings.tables
    style = tables_cfg.comparison_style
    titles = tables_cfg.comparison_tables
    table_ids = list(titles) or sorted({t.get("table") for t in cb.of_kind("theme") if t.get("table")})
    out: dict[str, Any] = {}
    for tid in table_ids:
        rows = []
        for theme in (t for t in cb.of_kind("theme") if t.get("table") == tid):
            row: dict[str, Any] = {"ref": theme.ref or theme.id, "code_id": theme.id, "title": theme.label, "process": theme.get("process", "")}
            for region in cb.regions:
                row[region] = _cell(corpus, theme, region, style)
            rows.append(row)
        out[tid] = {"title": titles.get(tid, tid), "rows": rows}
    return out


def _cell(corpus: Corpus, theme: Code, region: str, style: str) -> list[dict[str, Any]]:
    cb = corpus.codebook
    entries = []
    covered: set[str] = set()
    for f in cb.children(theme.id):
        if f.kind != "finding" or f.get("region") != region:
            continue
        orgs = corpus.orgs_with(f.id)
        if not orgs:
            continue
        covered.update(t.id for t in orgs)
        counter = bool(f.get("counter"))
        entries.append({
            "code_id": f.id,
            "label": None if counter else f.label,
            "text": f.get("summary", ""),
            "counter": counter,
            "attribution": corpus.note(orgs, style, f.get("summary", "")),
            "orgs": [t.id for t in orgs],
        })
    # codings on the theme itself by organisations of this region that carry none of its findings
    loose = [t for t in corpus.orgs_with(theme.id, region=region) if t.id not in covered]
    if loose:
        segs = [c for c in corpus.codings_of(theme.id) if c.transcript_id in {t.id for t in loose}]
        entries.append({
            "code_id": theme.id,
            "label": None,
            "text": "",
            "counter": False,
            "theme_level": True,
            "attribution": corpus.note(loose, style),
            "orgs": [t.id for t in loose],
            "segments": [{"transcript_id": c.transcript_id, "start": c.start, "end": c.end, "text": c.text} for c in segs],
        })
    return entries


# ---------------------------------------------------------------- challenge table
def challenge_table(corpus: Corpus) -> dict[str, Any]:
    """図表34: per challenge, quotes of the configured region's organisations with long notes."""
    cb = corpus.codebook
    cfg = cb.settings.tables.challenge_table
    region = cfg.region
    style = cfg.style
    by_id = corpus.by_id
    rows = []
    for ch in cb.of_kind("challenge"):
        codings = [c for c in corpus.codings_of(ch.id) if region is None or by_id[c.transcript_id].region == region]
        marked = [c for c in codings if c.quote]
        quoted = marked or codings
        groups: dict[str, list[Coding]] = {}
        for c in quoted:
            groups.setdefault(" ".join(c.text.split()), []).append(c)
        quotes = []
        for text, cs in groups.items():
            orgs = [by_id[i] for i in dict.fromkeys(c.transcript_id for c in cs)]
            first = cs[0]
            quotes.append({
                "text": first.text,
                "attribution": corpus.note(orgs, style),
                "orgs": [t.id for t in orgs],
                "transcript_id": first.transcript_id,
                "start": first.start,
                "end": first.end,
            })
        row = {
            "ref": ch.ref or ch.id,
            "code_id": ch.id,
            "title": ch.label,
            "process": ch.get("process", ""),
            "latent": bool(ch.get("latent")),
            "summary": ch.get("summary", "") or "",
            "quotes": quotes,
            "orgs": list(dict.fromkeys(c.transcript_id for c in codings)),
        }
        if not quotes and ch.get("no_quote_note"):
            row["note"] = ch.get("no_quote_note")
        rows.append(row)
    return {"region": region, "rows": rows}


# ---------------------------------------------------------------- 図表35
def practice_table(corpus: Corpus) -> dict[str, Any]:
    """図表35: problem → practice → cases, from the codebook's links, with organisation counts."""
    cb = corpus.codebook
    rows = []
    for pr in cb.of_kind("practice"):
        answers = [a for a in pr.get("answers") or []]
        problem_orgs = list(dict.fromkeys(t.id for a in answers for t in corpus.orgs_with(a)))
        cases = []
        for cid in pr.get("cases") or [c.id for c in cb.children(pr.id) if c.kind == "case"]:
            case = cb[cid]
            orgs = [t.id for t in corpus.orgs_with(cid)]
            cases.append({"ref": case.ref or case.id, "code_id": case.id, "title": case.label, "orgs": orgs, "n_orgs": len(orgs)})
        practice_orgs = list(dict.fromkeys([t.id for t in corpus.orgs_with(pr.id)] + [o for c in cases for o in c["orgs"]]))
        rows.append({
            "ref": pr.ref or pr.id,
            "code_id": pr.id,
            "problem": pr.get("problem", ""),
            "practice": pr.label,
            "answers": [cb[a].ref or a for a in answers],
            "problem_orgs": problem_orgs,
            "n_problem_orgs": len(problem_orgs),
            "orgs": practice_orgs,
            "n_orgs": len(practice_orgs),
            "cases": cases,
        })
    return {"rows": rows}


# ---------------------------------------------------------------- rosters
def rosters(transcripts: Sequence[Transcript], codebook: Codebook) -> dict[str, list[dict[str, Any]]]:
    """図表3–5: per region, the roster groups with the published organisation names."""
    order = codebook.settings.tables.roster_order
    ts = sorted(transcripts, key=lambda t: t.org) if order == "name" else list(transcripts)
    out: dict[str, list[dict[str, Any]]] = {}
    regions = list(codebook.regions) + sorted({t.region for t in ts} - set(codebook.regions))
    for region in regions:
        groups: dict[str, list[str]] = {}
        for t in ts:
            if t.region == region:
                groups.setdefault(t.attributes.get("group") or t.kind, []).append(t.org)
        if groups:
            out[region] = [{"group": g, "orgs": orgs} for g, orgs in groups.items()]
    return out


# ---------------------------------------------------------------- crosstab
def crosstab(
    corpus: Corpus,
    variable: str,
    *,
    codes: Sequence[str] | None = None,
    unit: str = "transcript",
) -> dict[str, Any]:
    """Codes × a case variable (KH Coder's code × variable table) with χ² and expected counts.

    ``unit``: ``transcript`` counts organisations with the code (a code's descendants count as
    the code), ``segment`` counts coded segments. Each code gets a 2 × k test (has / has not ×
    variable values); with ``unit=segment`` the test is over the code's segment counts against the
    values' totals.
    """
    cb = corpus.codebook
    codes = list(codes) if codes else [c.id for c in cb.codes.values() if c.codable and c.kind in ("challenge", "practice", "theme")]
    unknown = [c for c in codes if c not in cb.codes]
    if unknown:
        raise CodebookError(f"unknown code(s): {', '.join(unknown)}")

    def value(t: Transcript) -> str:
        return str(t.attributes.get(variable, "")) or "(none)"

    values = list(dict.fromkeys(value(t) for t in corpus.transcripts))
    totals = {v: 0 for v in values}
    if unit == "segment":
        for c in corpus.codings:
            totals[value(corpus.by_id[c.transcript_id])] += 1
    else:
        for t in corpus.transcripts:
            totals[value(t)] += 1
    desc: dict[str, set[str]] = {c: {c} | {d.id for d in cb.codes.values() if c in [a.id for a in cb.ancestors(d.id)]} for c in codes}
    rows = []
    for code_id in codes:
        counts = {v: 0 for v in values}
        if unit == "segment":
            for c in corpus.codings:
                if c.code_id in desc[code_id]:
                    counts[value(corpus.by_id[c.transcript_id])] += 1
        else:
            ids = {c.transcript_id for c in corpus.codings if c.code_id in desc[code_id]}
            for t in corpus.transcripts:
                if t.id in ids:
                    counts[value(t)] += 1
        rows.append({"code_id": code_id, "label": cb[code_id].label, "ref": cb.effective_ref(code_id), "counts": counts,
                     "total": sum(counts.values()), **_chi2(counts, totals)})
    return {"variable": variable, "unit": unit, "values": values, "totals": totals, "rows": rows}


def _chi2(counts: Mapping[str, int], totals: Mapping[str, int]) -> dict[str, Any]:
    """χ² of a 2 × k table (with / without the code per value), with expected counts."""
    vals = [v for v in totals if totals[v] > 0]
    present = [counts[v] for v in vals]
    absent = [max(totals[v] - counts[v], 0) for v in vals]
    n = sum(present) + sum(absent)
    expected = {v: (totals[v] * sum(present) / n if n else 0.0) for v in vals}
    if len(vals) < 2 or sum(present) == 0 or sum(absent) == 0:
        return {"expected": expected, "chi2": None, "dof": None, "p": None}
    from scipy.stats import chi2_contingency

    chi2, p, dof, _ = chi2_contingency([present, absent], correction=False)
    return {"expected": {v: round(e, 3) for v, e in expected.items()}, "chi2": round(float(chi2), 4), "dof": int(dof), "p": round(float(p), 4)}


# ---------------------------------------------------------------- everything
def build_tables(transcripts: Sequence[Transcript], codebook: Codebook, codings: Sequence[Coding], *, draft: bool = False) -> dict[str, Any]:
    """Every table, as one JSON-able dict (FORMATS.md §4)."""
    corpus = Corpus(transcripts, codebook, codings)
    out = {
        "comparison_tables": comparison_tables(corpus),
        "challenge_table": challenge_table(corpus),
        "practice_table": practice_table(corpus),
        "rosters": rosters(transcripts, codebook),
    }
    if draft:
        out["draft"] = True
    return out
