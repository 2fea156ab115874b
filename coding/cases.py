"""The 事例集 (case book): one sheet per case code, built from the codings, in Markdown, HTML and
Word (.docx, the format report writers paste from).

A sheet has the report's four parts:

* **大学基礎情報** — the case organisation's facts from its front matter: 地域 (国内 for the
  codebook's ``case_sheets.home`` region, else 国外（country）), 区分 (the case code's
  ``org_kind``, else the organisation's ``kind``) and the variables ``case_sheets.variables``
  names, each with its label (a value a transcript does not record reads "—");
* **背景課題** — the challenge the case answers (the case's ``background``, else the first
  challenge its practice ``answers`` that someone raised), with a coded quote of an organisation
  of the regions the challenge table covers and its attribution note in the challenge table's
  style: the codings of that challenge containing the words of the case's ``background_quote``
  (one passage, or a list of passages of one organisation, printed in text order), else the
  first coding marked ``quote``, else the first coding;
* **取り組みの概要** with **施策①②…** — the case's ``summary`` when the codebook gives one, then
  the passages of the case organisation's interview coded with the case or its practice, one 施策
  per passage in text order (a passage coded as an outcome goes to 成果 instead);
* **成果** — the passages of that interview coded with a code of kind ``outcome`` (an outcome
  code with ``cases:`` counts for those cases only).

The case organisation is the one whose codings carry the case code; a case coded in several
interviews gets a sheet per organisation, a case nobody coded none (the outcome says so).

Every text of a sheet passes the anonymity guard before any format lays it out. Files are
written atomically; the Word file is byte-for-byte the same for the same codings (fixed
timestamps), so a sheet kept under version control only changes when its content does.
"""
from __future__ import annotations

import dataclasses
import html
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from .aggregate import Corpus, table_specs
from .anonymity import Guard
from .codebook import Code
from .errors import OptionError
from .files import atomic_write_bytes, atomic_write_text
from .project import Project, confirmed_codings
from .publish import check_strict
from .settings import TableSpec
from .store import Coding
from .transcripts import Transcript

FORMATS = ("md", "html", "docx")
DRAFT = "下書き（未レビューの提案を含む） / DRAFT: includes unreviewed suggestions"
SOURCE = "出典：ヒアリング調査（コーディングより作成）"
FIXED_TIME = datetime(2026, 1, 1)  # the Word file's timestamps: the same codings give the same bytes
MARKS = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


@dataclass(frozen=True)
class Passage:
    transcript_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Background:
    """The sheet's 背景課題: the challenge, its summary and the quote with its attribution note."""

    code_id: str
    ref: str
    title: str
    summary: str
    quote: str
    attribution: str
    passages: tuple[Passage, ...] = ()
    note: str = ""  # printed when there is no quote (the challenge's no_quote_note)


@dataclass(frozen=True)
class CaseSheet:
    code_id: str
    ref: str
    title: str
    practice_id: str
    practice_ref: str
    practice_title: str
    problem: str  # the practice's problem (課題（お悩み）)
    transcript_id: str
    basics: tuple[tuple[str, str], ...]  # (label, value) of 大学基礎情報
    background: Background | None
    summary: str
    measures: tuple[Passage, ...]  # 施策①②…
    outcomes: tuple[Passage, ...]  # 成果
    name: str = ""  # the file stem

    @property
    def heading(self) -> str:
        return f"{self.ref}：{self.title}" if self.ref != self.title else self.title


@dataclass
class CasesOutcome:
    sheets: list[CaseSheet] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    folder: Path | None = None
    notes: list[str] = field(default_factory=list)  # what a sheet lacks, and why
    draft: bool = False


# ---------------------------------------------------------------- building
def _norm(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _passage(c: Coding) -> Passage:
    return Passage(c.transcript_id, c.start, c.end, c.text)


def _challenge_spec(corpus: Corpus) -> TableSpec:
    return next((s for s in table_specs(corpus.codebook) if s.type == "challenges"), TableSpec("challenges"))


def _basics(t: Transcript, case: Code, corpus: Corpus) -> tuple[tuple[str, str], ...]:
    sheets = corpus.codebook.settings.case_sheets
    if sheets.home is not None:
        where = "国内" if t.region == sheets.home else f"国外（{t.country or t.region}）"
    else:
        where = f"{t.region}（{t.country}）" if t.country and t.country != t.region else t.region
    rows = [("地域", where), ("区分", str(case.get("org_kind") or t.kind))]
    rows += [(label, str(t.attributes.get(key, "")) or "—") for key, label in sheets.variables.items()]
    return tuple(rows)


def _background(case: Code, practice: Code | None, corpus: Corpus, spec: TableSpec, notes: list[str]) -> Background | None:
    cb = corpus.codebook
    regions = set(corpus.regions(spec))
    by_id = corpus.by_id

    def candidates(ch_id: str) -> list[Coding]:
        return [c for c in corpus.codings_of(ch_id) if by_id[c.transcript_id].region in regions]

    ch_id = case.get("background")
    if ch_id is None:
        answers = list((practice.get("answers") if practice is not None else None) or [])
        ch_id = next((a for a in answers if candidates(a)), answers[0] if answers else None)
    if ch_id is None:
        return None
    ch = cb[ch_id]
    found = candidates(ch_id)
    wanted = case.get("background_quote")
    snippets = [wanted] if isinstance(wanted, str) else list(wanted or [])
    chosen: list[Coding] = []
    for snip in snippets:
        hit = next((c for c in found if _norm(snip) in _norm(c.text)), None)
        if hit is None:
            notes.append(f"{cb.path.name}:{case.line}: {case.id}: background_quote '{snip}' is in no coding of {ch_id} by "
                         f"an organisation of {', '.join(corpus.regions(spec))}")
        elif hit not in chosen:
            chosen.append(hit)
    if chosen and len({c.transcript_id for c in chosen}) > 1:
        notes.append(f"{cb.path.name}:{case.line}: {case.id}: background_quote names passages of several organisations; "
                     f"the sheet quotes those of {chosen[0].transcript_id}")
        chosen = [c for c in chosen if c.transcript_id == chosen[0].transcript_id]
    if not chosen and not snippets and found:
        chosen = [next((c for c in found if c.quote), found[0])]
    chosen.sort(key=lambda c: (c.start, c.end))
    org = [by_id[chosen[0].transcript_id]] if chosen else []
    return Background(
        code_id=ch.id, ref=ch.ref or ch.id, title=ch.label, summary=str(ch.get("summary") or ""),
        quote="".join(c.text for c in chosen),
        attribution=corpus.note(org, spec.style or "long") if org else "",
        passages=tuple(_passage(c) for c in chosen),
        note="" if chosen else str(ch.get("no_quote_note") or ""))


def _unique(passages: Sequence[Passage]) -> list[Passage]:
    seen, out = set(), []
    for p in sorted(passages, key=lambda p: (p.start, p.end)):
        if (p.start, p.end) not in seen:
            seen.add((p.start, p.end))
            out.append(p)
    return out


def build_sheets(corpus: Corpus) -> tuple[list[CaseSheet], list[str]]:
    """Every case code's sheet(s), in codebook order, and notes on what is missing."""
    cb = corpus.codebook
    spec = _challenge_spec(corpus)
    outcome_codes = cb.of_kind("outcome")
    sheets, notes = [], []
    for case in cb.of_kind("case"):
        practice_id = case.get("practice") or case.parent
        practice = cb.codes.get(practice_id) if practice_id else None
        orgs = corpus.orgs_with(case.id)
        if not orgs:
            notes.append(f"{case.id}: no organisation's codings carry this case: no sheet")
            continue
        for t in orgs:
            mine = [c for c in corpus.codings if c.transcript_id == t.id]
            outcomes = _unique([_passage(c) for c in mine for o in outcome_codes
                                if c.code_id == o.id and (not o.get("cases") or case.id in o.get("cases"))])
            inside = [(o.start, o.end) for o in outcomes]
            measures = _unique([_passage(c) for c in mine if c.code_id in (case.id, practice_id)
                                and not any(a <= c.start and c.end <= b for a, b in inside)])
            if not outcomes:
                notes.append(f"{case.id}: nothing in {t.id}'s interview is coded as an outcome (kind: outcome): 成果 is empty")
            name = _safe(case.id if len(orgs) == 1 else f"{case.id}-{t.id}")
            sheets.append(CaseSheet(
                code_id=case.id, ref=case.ref or case.id, title=case.label,
                practice_id=practice.id if practice else "", practice_ref=(practice.ref or practice.id) if practice else "",
                practice_title=practice.label if practice else "", problem=str(practice.get("problem") or "") if practice else "",
                transcript_id=t.id, basics=_basics(t, case, corpus), background=_background(case, practice, corpus, spec, notes),
                summary=str(case.get("summary") or ""), measures=tuple(measures), outcomes=tuple(outcomes), name=name))
    return sheets, notes


def _safe(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name)


def masked(obj: Any, apply: Callable[[str], str]) -> Any:
    """``obj`` (sheets, their parts, tuples, strings) with ``apply`` on every string it holds."""
    if isinstance(obj, str):
        return apply(obj)
    if isinstance(obj, tuple):
        return tuple(masked(x, apply) for x in obj)
    if isinstance(obj, list):
        return [masked(x, apply) for x in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: masked(getattr(obj, f.name), apply) for f in dataclasses.fields(obj)
                                           if f.name not in ("transcript_id", "code_id", "practice_id", "name")})
    return obj


# ---------------------------------------------------------------- Markdown
def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", "<br>")


def sheet_markdown(s: CaseSheet, *, draft: bool = False) -> str:
    out = [f"# {s.heading}", ""]
    if draft:
        out += [f"> **{DRAFT}**", ""]
    if s.practice_title:
        out += [f"プラクティス：{s.practice_title}" + (f"（{s.practice_ref}）" if s.practice_ref != s.practice_title else ""), ""]
    out += ["## 大学基礎情報", "", "| 項目 | 内容 |", "|---|---|"] + [f"| {_md(k)} | {_md(v)} |" for k, v in s.basics] + [""]
    out += ["## 背景課題", ""]
    b = s.background
    if b is None:
        out += ["（対応する課題がコードブックにない）", ""]
    else:
        out += [f"**{b.ref}：{b.title}**" if b.ref != b.title else f"**{b.title}**", ""]
        if b.summary:
            out += [b.summary, ""]
        out += [f"> {b.quote}（{b.attribution}）" if b.quote else f"> {b.note or '（この課題を挙げた発言はコーディングされていない）'}", ""]
    out += ["## 取り組みの概要", ""]
    if s.summary:
        out += [s.summary, ""]
    for i, m in enumerate(s.measures):
        out += [f"### 施策{_mark(i)}", "", m.text, ""]
    if not s.measures:
        out += ["（施策としてコーディングされた発言はない）", ""]
    out += ["## 成果", ""]
    out += [f"- ✓ {o.text}" for o in s.outcomes] or ["（成果としてコーディングされた発言はない）"]
    out += ["", SOURCE, ""]
    return "\n".join(out)


def _mark(i: int) -> str:
    return MARKS[i] if i < len(MARKS) else f"({i + 1})"


def index_markdown(sheets: Sequence[CaseSheet], title: str, *, draft: bool = False) -> str:
    """The list of cases: 課題（お悩み） | プラクティス | 紹介事例, as the report's 一覧."""
    out = [f"# {title}", ""]
    if draft:
        out += [f"> **{DRAFT}**", ""]
    out += ["| 課題（お悩み） | プラクティス | 紹介事例 |", "|---|---|---|"]
    for key, group in _by_practice(sheets):
        first = group[0]
        cases = "<br>".join(f"[{_md(s.heading)}]({s.name}.md)" for s in group)
        out.append(f"| {_md(first.problem) or '-'} | {_md(first.practice_title) or '-'} | {cases} |")
    return "\n".join(out) + "\n"


def _by_practice(sheets: Sequence[CaseSheet]) -> list[tuple[str, list[CaseSheet]]]:
    groups: dict[str, list[CaseSheet]] = {}
    for s in sheets:
        groups.setdefault(s.practice_id, []).append(s)
    return list(groups.items())


# ---------------------------------------------------------------- HTML
CSS = """
body { font-family: 'Noto Sans CJK JP','Hiragino Kaku Gothic ProN','Yu Gothic','Meiryo',sans-serif; margin: 2em auto; max-width: 60em; color: #222; line-height: 1.6; }
section.sheet { border: 1px solid #ccd; border-radius: 6px; padding: 1em 1.5em; margin: 2em 0; page-break-after: always; }
h1 { font-size: 1.5em; } section h2 { font-size: 1.25em; border-bottom: 2px solid #1F4E79; } h3 { font-size: 1.05em; color: #1F4E79; margin-bottom: .2em; }
table { border-collapse: collapse; } td, th { border: 1px solid #bbb; padding: 3px 8px; text-align: left; vertical-align: top; }
blockquote { border-left: 4px solid #D55E00; margin: .5em 0; padding: .3em 1em; background: #fbf3ee; }
.practice { color: #555; } .draft { color: #C00000; font-weight: bold; } ul.outcomes { list-style: '✓ '; } .source { color: #666; font-size: .85em; }
"""


def sheets_html(sheets: Sequence[CaseSheet], title: str, *, draft: bool = False) -> str:
    """All sheets on one page (with the list of cases first), ready to print one sheet a page."""
    e = html.escape
    parts = [f"<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{e(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{e(title)}</h1>"]
    if draft:
        parts.append(f"<p class=draft>{e(DRAFT)}</p>")
    parts.append("<table><thead><tr><th>課題（お悩み）</th><th>プラクティス</th><th>紹介事例</th></tr></thead><tbody>")
    for _, group in _by_practice(sheets):
        links = "<br>".join(f"<a href=\"#{e(s.name)}\">{e(s.heading)}</a>" for s in group)
        parts.append(f"<tr><td>{e(group[0].problem) or '-'}</td><td>{e(group[0].practice_title) or '-'}</td><td>{links}</td></tr>")
    parts.append("</tbody></table>")
    for s in sheets:
        parts.append(f"<section class=sheet id=\"{e(s.name)}\"><h2>{e(s.heading)}</h2>")
        if s.practice_title:
            parts.append(f"<p class=practice>プラクティス：{e(s.practice_title)}</p>")
        parts.append("<h3>大学基礎情報</h3><table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in s.basics) + "</table>")
        parts.append("<h3>背景課題</h3>")
        b = s.background
        if b is not None:
            parts.append(f"<p><strong>{e(b.ref + '：' + b.title if b.ref != b.title else b.title)}</strong></p>")
            if b.summary:
                parts.append(f"<p>{e(b.summary)}</p>")
            parts.append(f"<blockquote>{e(b.quote)}（{e(b.attribution)}）</blockquote>" if b.quote
                         else f"<blockquote>{e(b.note or '（この課題を挙げた発言はコーディングされていない）')}</blockquote>")
        parts.append("<h3>取り組みの概要</h3>")
        if s.summary:
            parts.append(f"<p>{e(s.summary)}</p>")
        for i, m in enumerate(s.measures):
            parts.append(f"<h4>施策{_mark(i)}</h4><p>{e(m.text)}</p>")
        parts.append("<h3>成果</h3>")
        parts.append("<ul class=outcomes>" + "".join(f"<li>{e(o.text)}</li>" for o in s.outcomes) + "</ul>" if s.outcomes
                     else "<p>（成果としてコーディングされた発言はない）</p>")
        parts.append(f"<p class=source>{e(SOURCE)}</p></section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


# ---------------------------------------------------------------- Word
def sheets_docx(sheets: Sequence[CaseSheet], title: str, *, draft: bool = False) -> bytes:
    """All sheets in one Word document, each on its own page (python-docx)."""
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    doc = Document()
    for style_name in ("Normal", "Heading 1", "Heading 2", "Heading 3", "Title"):
        st = doc.styles[style_name]
        st.font.name = "Yu Gothic"
        st.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "游ゴシック")
    doc.styles["Normal"].font.size = Pt(10.5)
    cp = doc.core_properties
    cp.title, cp.author, cp.last_modified_by = title, "", ""
    cp.created = cp.modified = FIXED_TIME
    cp.revision = 1
    doc.add_heading(title, level=0)
    if draft:
        doc.add_paragraph().add_run(DRAFT).font.color.rgb = RGBColor(0xC0, 0, 0)
    table = doc.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("課題（お悩み）", "プラクティス", "紹介事例")):
        cell.text = text
    for _, group in _by_practice(sheets):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = group[0].problem or "-", group[0].practice_title or "-"
        cells[2].text = "\n".join(s.heading for s in group)
    for s in sheets:
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        doc.add_heading(s.heading, level=1)
        if s.practice_title:
            doc.add_paragraph(f"プラクティス：{s.practice_title}")
        doc.add_heading("大学基礎情報", level=2)
        basics = doc.add_table(rows=0, cols=2)
        basics.style = "Table Grid"
        for k, v in s.basics:
            row = basics.add_row().cells
            row[0].text, row[1].text = k, v
        doc.add_heading("背景課題", level=2)
        b = s.background
        if b is not None:
            doc.add_paragraph().add_run(f"{b.ref}：{b.title}" if b.ref != b.title else b.title).bold = True
            if b.summary:
                doc.add_paragraph(b.summary)
            q = doc.add_paragraph(style="Quote") if "Quote" in [x.name for x in doc.styles] else doc.add_paragraph()
            q.add_run(f"{b.quote}（{b.attribution}）" if b.quote else (b.note or "（この課題を挙げた発言はコーディングされていない）"))
        doc.add_heading("取り組みの概要", level=2)
        if s.summary:
            doc.add_paragraph(s.summary)
        for i, m in enumerate(s.measures):
            doc.add_heading(f"施策{_mark(i)}", level=3)
            doc.add_paragraph(m.text)
        doc.add_heading("成果", level=2)
        for o in s.outcomes:
            doc.add_paragraph(o.text, style="List Bullet")
        if not s.outcomes:
            doc.add_paragraph("（成果としてコーディングされた発言はない）")
        doc.add_paragraph(SOURCE).runs[0].font.size = Pt(8)
    buf = io.BytesIO()
    doc.save(buf)
    return stable_zip(buf.getvalue())


def stable_zip(data: bytes) -> bytes:
    """The same zip with every entry dated :data:`FIXED_TIME` (python-docx stamps the time of
    writing), in the same order and compression."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# ---------------------------------------------------------------- publishing
def project_sheets(p: Project, *, coders: Sequence[str] | None = None, include_suggested: bool = False) -> tuple[list[CaseSheet], list[str]]:
    """The project's case sheets from its confirmed codings (unmasked: see :func:`publish_cases`)."""
    corpus = Corpus(p.transcripts, p.codebook, confirmed_codings(p, coders=coders, include_suggested=include_suggested))
    return build_sheets(corpus)


def write_cases(sheets: Sequence[CaseSheet], folder: Path, formats: Sequence[str], *, title: str, draft: bool = False) -> list[Path]:
    """Write the sheets: Markdown one file per case plus ``index.md``; HTML and Word one file
    holding every sheet (``cases.html``, ``cases.docx``)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise OptionError(f"unknown case sheet format(s) {', '.join(unknown)} (choose from {', '.join(FORMATS)})")
    files = []
    for f in formats:
        if f == "md":
            for s in sheets:
                path = folder / f"{s.name}.md"
                atomic_write_text(path, sheet_markdown(s, draft=draft))
                files.append(path)
            atomic_write_text(folder / "index.md", index_markdown(sheets, title, draft=draft))
            files.append(folder / "index.md")
        elif f == "html":
            atomic_write_text(folder / "cases.html", sheets_html(sheets, title, draft=draft))
            files.append(folder / "cases.html")
        else:
            atomic_write_bytes(folder / "cases.docx", sheets_docx(sheets, title, draft=draft))
            files.append(folder / "cases.docx")
    return files


def publish_cases(p: Project, guard: Guard, *, formats: Sequence[str] | None = None, output: Path | None = None,
                  coders: Sequence[str] | None = None, include_suggested: bool = False, strict: bool = False,
                  write_empty: bool = True) -> CasesOutcome:
    """Build every case sheet, mask it with the anonymity guard and write it in each format into
    ``output`` (default ``outputs/cases``); with ``write_empty=False`` nothing is written when no
    case is coded."""
    sheets, notes = project_sheets(p, coders=coders, include_suggested=include_suggested)
    if not sheets and not write_empty:
        return CasesOutcome([], [], None, notes, include_suggested)
    safe = [masked(s, guard.apply) for s in sheets]
    if strict:
        check_strict(guard, "case sheets")
    folder = Path(output or p.outputs / "cases")
    title = p.codebook.settings.case_sheets.title
    files = write_cases(safe, folder, list(formats or FORMATS), title=title, draft=include_suggested)
    return CasesOutcome(safe, files, folder, notes, include_suggested)
