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

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Mapping, Sequence

from .codebook import Code, Codebook
from .crosstab import crosstab  # noqa: F401  (codes × a case variable: its own module, built with pandas)
from .settings import DEFAULT_STYLE, Style, TableSpec
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

    @cached_property
    def by_id(self) -> dict[str, Transcript]:
        return {t.id: t for t in self.transcripts}

    @cached_property
    def rank(self) -> dict[str, int]:
        return {t.id: i for i, t in enumerate(self.transcripts)}

    @cached_property
    def _by_code(self) -> dict[str, list[Coding]]:
        r = self.rank
        out: dict[str, list[Coding]] = {}
        for c in self.codings:
            out.setdefault(c.code_id, []).append(c)
        for rows in out.values():
            rows.sort(key=lambda c: (r.get(c.transcript_id, 10**9), c.start, c.end))
        return out

    def orgs_with(self, code_id: str, *, region: str | None = None) -> list[Transcript]:
        """Organisations (in transcript order) with a coding of ``code_id``."""
        ids = {c.transcript_id for c in self._by_code.get(code_id, ())}
        return [t for t in self.transcripts if t.id in ids and (region is None or t.region == region)]

    def codings_of(self, code_id: str) -> list[Coding]:
        """The codings of ``code_id`` in transcript order."""
        return list(self._by_code.get(code_id, ()))

    def note(self, orgs: Sequence[Transcript], style_name: str | None, summary: str = "") -> str:
        att = self.codebook.settings.attribution
        return attribution_note(orgs, style=att.style(style_name), summary=summary, order=att.order,
                                countries=att.countries, rank=self.rank)

    def regions(self, spec: TableSpec) -> list[str]:
        """The regions a table covers: its own, else the codebook's (and any a transcript uses)."""
        if spec.regions:
            return list(spec.regions)
        return list(self.codebook.regions) + sorted({t.region for t in self.transcripts} - set(self.codebook.regions))


def _passage(c: Coding) -> dict[str, Any]:
    return {"transcript_id": c.transcript_id, "start": c.start, "end": c.end, "text": c.text}


# ---------------------------------------------------------------- which tables
def table_specs(cb: Codebook) -> list[TableSpec]:
    """The study's tables: the codebook's ``tables:`` list, else those its codes call for — a
    roster, a comparison of its themes × regions, a table of its challenges (every region), the
    challenge–practice table when practices are linked, and the phase table."""
    if cb.settings.tables is not None:
        return list(cb.settings.tables)
    specs = [TableSpec("roster", title="ヒアリング対象")]
    if cb.of_kind("theme"):
        specs.append(TableSpec("comparison", title="テーマ別の比較（地域別）"))
    if cb.of_kind("challenge"):
        specs.append(TableSpec("challenges", title="課題と発言"))
    if any(p.get("answers") or p.get("cases") for p in cb.of_kind("practice")):
        specs.append(TableSpec("practices", title="課題とプラクティス"))
    if cb.of_kind("phase"):
        specs.append(TableSpec("phases", title="段階別の言及"))
    return [replace(s, id=s.id or f"表{i}") for i, s in enumerate(specs, 1)]


# ---------------------------------------------------------------- comparison tables
def _themes(corpus: Corpus, spec: TableSpec) -> list[Code]:
    cb = corpus.codebook
    themes = cb.of_kind("theme")
    if spec.themes:
        return [cb[t] for t in spec.themes]
    mine = [t for t in themes if t.get("table") == spec.id]
    if mine or any(t.get("table") for t in themes):
        return mine
    return themes


def comparison_table(corpus: Corpus, spec: TableSpec) -> dict[str, Any]:
    """Themes × regions: each cell lists the theme's findings of that region that at least one
    organisation's codings carry (label, summary, ※ counter flag, attribution note), then the
    passages coded on the theme itself by organisations that carry none of its findings."""
    style = spec.style or "short"
    regions = corpus.regions(spec)
    rows = []
    for theme in _themes(corpus, spec):
        row: dict[str, Any] = {"ref": theme.ref or theme.id, "code_id": theme.id, "title": theme.label,
                               "process": theme.get("process", "")}
        for region in regions:
            row[region] = _cell(corpus, theme, region, style)
        rows.append(row)
    return {"id": spec.id, "title": spec.title or spec.id, "regions": regions, "rows": rows}


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
    # codings on the theme itself by organisations of this region that carry none of its findings:
    # their passages are the cell's text (a study that codes themes only still fills its matrix)
    loose = [t for t in corpus.orgs_with(theme.id, region=region) if t.id not in covered]
    if loose:
        ids = {t.id for t in loose}
        segs = [c for c in corpus.codings_of(theme.id) if c.transcript_id in ids]
        entries.append({
            "code_id": theme.id,
            "label": None,
            "text": "",
            "counter": False,
            "theme_level": True,
            "attribution": corpus.note(loose, style),
            "orgs": [t.id for t in loose],
            "segments": [_passage(c) for c in segs],
        })
    return entries


def comparison_tables(corpus: Corpus, specs: Sequence[TableSpec] | None = None) -> dict[str, Any]:
    specs = [s for s in (specs if specs is not None else table_specs(corpus.codebook)) if s.type == "comparison"]
    return {s.id: comparison_table(corpus, s) for s in specs}


# ---------------------------------------------------------------- challenge table
def challenge_table(corpus: Corpus, spec: TableSpec | None = None) -> dict[str, Any]:
    """Per code of the table's kind (challenges by default): the quotes of the covered regions'
    organisations (codings marked ``quote``; with none marked, every coding), one note per quote,
    and every organisation that raised it. A code nobody raised has no quotes (the codebook may
    say why: ``no_quote_note``)."""
    spec = spec or TableSpec("challenges")
    cb = corpus.codebook
    style = spec.style or "long"
    regions = set(corpus.regions(spec))
    by_id = corpus.by_id
    rows = []
    for ch in cb.of_kind(spec.kind):
        codings = [c for c in corpus.codings_of(ch.id) if by_id[c.transcript_id].region in regions]
        marked = [c for c in codings if c.quote]
        quoted = codings if spec.quotes == "all" else (marked or codings)
        groups: dict[str, list[Coding]] = {}
        for c in quoted:
            groups.setdefault(" ".join(c.text.split()), []).append(c)
        quotes = []
        for cs in groups.values():
            orgs = [by_id[i] for i in dict.fromkeys(c.transcript_id for c in cs)]
            first = cs[0]
            quotes.append({"text": first.text, "attribution": corpus.note(orgs, style), "orgs": [t.id for t in orgs],
                           **{k: v for k, v in _passage(first).items() if k != "text"}})
        org_ids = list(dict.fromkeys(c.transcript_id for c in codings))
        per_region: dict[str, int] = {}
        for tid in org_ids:
            per_region[by_id[tid].region] = per_region.get(by_id[tid].region, 0) + 1
        row = {
            "ref": ch.ref or ch.id,
            "code_id": ch.id,
            "title": ch.label,
            "process": ch.get("process", ""),
            "latent": bool(ch.get("latent")),
            "summary": ch.get("summary", "") or "",
            "quotes": quotes,
            "orgs": org_ids,
            "regions": per_region,
        }
        if not quotes and ch.get("no_quote_note"):
            row["note"] = ch.get("no_quote_note")
        rows.append(row)
    covered = [r for r in corpus.regions(spec) if r in regions]
    return {"id": spec.id, "title": spec.title or spec.id, "kind": spec.kind,
            "region": covered[0] if len(covered) == 1 else None, "regions": covered, "rows": rows}


# ---------------------------------------------------------------- practice table
def practice_table(corpus: Corpus, spec: TableSpec | None = None) -> dict[str, Any]:
    """Problem → practice → cases, from the codebook's links, with organisation counts: those that
    raised a challenge the practice answers, and those whose codings carry the practice or a case."""
    spec = spec or TableSpec("practices")
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
    return {"id": spec.id, "title": spec.title or spec.id, "rows": rows}


# ---------------------------------------------------------------- phase table
def phase_table(corpus: Corpus, spec: TableSpec | None = None) -> dict[str, Any]:
    """The codebook's phases × region and × organisation. A coding counts toward a phase when its
    code is the phase or lies under it (a theme whose parent is the phase, its findings); each
    passage is listed once per phase with the code it was coded with."""
    spec = spec or TableSpec("phases")
    cb = corpus.codebook
    style = spec.style or "short"
    regions = corpus.regions(spec)
    phases = cb.of_kind("phase")
    phase_of: dict[str, str] = {}
    for c in cb.codes.values():
        for p in [c] + cb.ancestors(c.id):
            if p.kind == "phase":
                phase_of[c.id] = p.id
                break
    by_id = corpus.by_id
    rank = corpus.rank
    mine: dict[str, list[Coding]] = {p.id: [] for p in phases}
    for c in corpus.codings:
        ph = phase_of.get(c.code_id)
        if ph is not None and by_id[c.transcript_id].region in regions:
            mine[ph].append(c)
    rows, counts = [], {t.id: {p.id: 0 for p in phases} for t in corpus.transcripts if t.region in regions}
    for p in phases:
        cs = sorted(mine[p.id], key=lambda c: (rank.get(c.transcript_id, 10**9), c.start, c.end, c.code_id))
        row: dict[str, Any] = {"ref": p.ref or p.id, "code_id": p.id, "title": p.label, "regions": {}, "passages": []}
        for region in regions:
            orgs = [by_id[i] for i in dict.fromkeys(c.transcript_id for c in cs) if by_id[i].region == region]
            n = sum(1 for c in cs if by_id[c.transcript_id].region == region)
            row["regions"][region] = {"orgs": [t.id for t in orgs], "n_orgs": len(orgs), "n_passages": n,
                                      "attribution": corpus.note(orgs, style) if orgs else ""}
        for c in cs:
            counts[c.transcript_id][p.id] += 1
            t = by_id[c.transcript_id]
            row["passages"].append({**_passage(c), "code_id": c.code_id, "code": cb[c.code_id].label, "region": t.region,
                                    "org": t.org, "attribution": corpus.note([t], style)})
        rows.append(row)
    by_org = [{"transcript_id": t.id, "org": t.org, "region": t.region, "counts": counts[t.id]}
              for t in corpus.transcripts if t.id in counts]
    return {"id": spec.id, "title": spec.title or spec.id, "regions": regions, "rows": rows, "by_org": by_org}


# ---------------------------------------------------------------- rosters
def rosters(transcripts: Sequence[Transcript], codebook: Codebook, spec: TableSpec | None = None) -> dict[str, list[dict[str, Any]]]:
    """Per region, the roster groups (front matter ``group``, else ``kind``) with the published names."""
    order = spec.order if spec is not None else "name"
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


# ---------------------------------------------------------------- everything
def hidden_notes(corpus: Corpus, specs: Sequence[TableSpec]) -> list[str]:
    """What a table's region filter leaves out, said plainly (a coding never vanishes unannounced)."""
    out = []
    by_id = corpus.by_id
    cb = corpus.codebook
    for spec in specs:
        if spec.type not in ("challenges", "comparison", "phases") or not spec.regions:
            continue
        if spec.type == "challenges":
            codes = {c.id for c in cb.of_kind(spec.kind)}
        elif spec.type == "comparison":
            themes = {t.id for t in _themes(corpus, spec)}
            codes = themes | {c.id for c in cb.codes.values() if c.parent in themes}
        else:
            codes = {c.id for c in cb.codes.values() if any(a.kind == "phase" for a in [c] + cb.ancestors(c.id))}
        left = [c for c in corpus.codings if c.code_id in codes and by_id[c.transcript_id].region not in spec.regions]
        if left:
            where = sorted({by_id[c.transcript_id].region for c in left})
            orgs = len({c.transcript_id for c in left})
            out.append(f"{spec.id} {spec.title} covers {', '.join(spec.regions)} only (tables: regions): "
                       f"{len(left)} coding(s) by {orgs} organisation(s) of {', '.join(where)} are not in it")
    return out


def build_tables(transcripts: Sequence[Transcript], codebook: Codebook, codings: Sequence[Coding], *, draft: bool = False) -> dict[str, Any]:
    """Every table of the study, as one JSON-able dict (docs/formats.md, tables JSON): the tables
    by type (``rosters``, ``comparison_tables`` by id, ``challenge_table``, ``practice_table``,
    ``phase_table``), ``layout`` (their ids, types and titles in print order) and ``notes``."""
    corpus = Corpus(transcripts, codebook, codings)
    specs = table_specs(codebook)
    out: dict[str, Any] = {"title": codebook.settings.title, "layout": [], "notes": hidden_notes(corpus, specs)}
    for spec in specs:
        out["layout"].append({"type": spec.type, "id": spec.id, "title": spec.title or spec.id})
        if spec.type == "roster":
            out["rosters"] = rosters(transcripts, codebook, spec)
        elif spec.type == "comparison":
            out.setdefault("comparison_tables", {})[spec.id] = comparison_table(corpus, spec)
        elif spec.type == "challenges":
            out["challenge_table"] = challenge_table(corpus, spec)
        elif spec.type == "practices":
            out["practice_table"] = practice_table(corpus, spec)
        elif spec.type == "phases":
            out["phase_table"] = phase_table(corpus, spec)
    if draft:
        out["draft"] = True
    return out


def drop_empty_rows(tables: Mapping[str, Any]) -> dict[str, Any]:
    """``tables`` without the rows no organisation's codings fill, which print as nothing but
    "-": a comparison row with no entry in any region, a challenge nobody raised (its
    ``no_quote_note`` goes with it), a practice no organisation coded or raised the problem of,
    a phase nobody spoke of (its column in the by-organisation view too) and an organisation
    without a phase coding. Rosters are kept whole. A new dict; ``tables`` is not changed."""
    out = dict(tables)
    if "comparison_tables" in tables:
        out["comparison_tables"] = {
            tid: {**t, "rows": [r for r in t["rows"] if any(r.get(reg) for reg in t["regions"])]}
            for tid, t in tables["comparison_tables"].items()}
    if "challenge_table" in tables:
        ct = tables["challenge_table"]
        out["challenge_table"] = {**ct, "rows": [r for r in ct["rows"] if r["orgs"]]}
    if "practice_table" in tables:
        pt = tables["practice_table"]
        out["practice_table"] = {**pt, "rows": [r for r in pt["rows"] if r["orgs"] or r["problem_orgs"]]}
    if "phase_table" in tables:
        ph = tables["phase_table"]
        rows = [r for r in ph["rows"] if any(c["n_orgs"] for c in r["regions"].values())]
        kept = [r["code_id"] for r in rows]
        by_org = [{**o, "counts": {p: o["counts"][p] for p in kept}} for o in ph["by_org"]]
        out["phase_table"] = {**ph, "rows": rows, "by_org": [o for o in by_org if any(o["counts"].values())]}
    return out
