"""Stage 8: render the tables (from ``aggregate.build_tables``) as JSON, Markdown, CSV, Excel and HTML.

Renderers take the tables dict and return text/bytes or write one file atomically; they never
compute anything the aggregator did not.

CSV files are for people with spreadsheets: UTF-8 with a byte-order mark (Japanese Excel reads a
file without one as CP932), and every cell that begins with ``=``, ``+``, ``-``, ``@`` (or their
full-width forms), a tab or a carriage return — which Excel, LibreOffice and Google Sheets would
run as a formula — gets an apostrophe in front (:func:`neutralise`), which Excel takes as "this
is text" and does not show; the lone ``-`` the tables print for "nothing" stays as it is. The
workbook writes every cell as a string, so no cell is ever a formula there.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
import unicodedata
from pathlib import Path
from typing import Any, Mapping

from .files import atomic_write_bytes, atomic_write_text
from .fonts import FONT_STACK, font_face

FORMATS = ("json", "md", "csv", "xlsx", "html")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
SIGNED_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?%?$")
DRAFT = "下書き（未レビューの提案を含む） / DRAFT: includes unreviewed suggestions"


def _cell_text(entry: Mapping[str, Any]) -> str:
    """A comparison cell's entry: 【label】summary（note）, ※summary（note） for a counter-example, or
    the passages coded on the theme itself, quoted, with their note."""
    if entry.get("theme_level"):
        body = "".join(f"「{s['text']}」" for s in entry.get("segments", []))
    else:
        body = ("※" if entry.get("counter") else "") + entry.get("text", "")
        if entry.get("label"):
            body = f"【{entry['label']}】{body}"
    return f"{body}（{entry['attribution']}）"


Rows = tuple[list[str], list[list[str]]]


def _roster_rows(rosters: Mapping[str, Any]) -> dict[str, Rows]:
    return {region: (["分類", "組織"], [[g["group"], "、".join(g["orgs"])] for g in groups]) for region, groups in rosters.items()}


def _comparison_rows(t: Mapping[str, Any]) -> Rows:
    regions = t.get("regions") or [k for k in (t["rows"][0] if t["rows"] else {}) if isinstance(t["rows"][0][k], list)]
    header = ["プロセス", "違いのポイント"] + list(regions)
    rows = [[r.get("process", ""), r.get("title", "")] + ["\n".join(_cell_text(e) for e in r[reg]) or "-" for reg in regions]
            for r in t["rows"]]
    return header, rows


def _challenge_rows(ct: Mapping[str, Any]) -> Rows:
    several = len(ct.get("regions") or []) != 1
    rows = []
    for r in ct["rows"]:
        title = f"【{'潜在的な' if r['latent'] else ''}{r['ref']}】{r['title']}" + (f"\n{r['summary']}" if r.get("summary") else "")
        quotes = "\n".join(f"・“{q['text']}”（{q['attribution']}）" for q in r["quotes"]) or r.get("note", "") or "-"
        row = [r["process"], title, quotes]
        if several:
            row.append("、".join(f"{reg}({n})" for reg, n in (r.get("regions") or {}).items()) or "-")
        rows.append(row + [str(len(r["orgs"]))])
    return ["プロセス", "課題", "ヒアリング調査の結果"] + (["地域"] if several else []) + ["言及した組織数"], rows


def _practice_rows(pt: Mapping[str, Any]) -> Rows:
    rows = []
    for r in pt["rows"]:
        cases = "\n".join(f"{c['ref']}：{c['title']}（{c['n_orgs']}）" for c in r["cases"]) or "-"
        rows.append([f"{r['problem']}（{r['n_problem_orgs']}）" if r["problem"] else "-", f"{r['practice']}（{r['n_orgs']}）", cases])
    return ["課題（お悩み）", "プラクティス", "各大学の取り組み事例"], rows


def _phase_rows(pt: Mapping[str, Any]) -> dict[str, Rows]:
    regions = pt["regions"]
    by_region = []
    for r in pt["rows"]:
        cells = []
        for reg in regions:
            c = r["regions"][reg]
            cells.append(f"{c['n_orgs']}組織・{c['n_passages']}箇所（{c['attribution']}）" if c["n_orgs"] else "-")
        by_region.append([r["title"]] + cells)
    phases = [r["code_id"] for r in pt["rows"]]
    labels = {r["code_id"]: r["title"] for r in pt["rows"]}
    by_org = [[o["org"], o["region"]] + [str(o["counts"][p]) if o["counts"][p] else "-" for p in phases] for o in pt["by_org"]]
    passages = [[r["title"], p["region"], p["org"], p["code"], p["text"]] for r in pt["rows"] for p in r["passages"]]
    return {
        "地域別": (["交渉段階"] + list(regions), by_region),
        "組織別": (["組織", "地域"] + [labels[p] for p in phases], by_org),
        "発言": (["交渉段階", "地域", "組織", "コード", "発言"], passages),
    }


def table_parts(tables: Mapping[str, Any]) -> list[tuple[str, str, Rows]]:
    """Every table as ``(name, file stem, (header, rows))``, named ``<id> <title>`` in the study's
    print order (``layout``); a table with parts (rosters per region, the phase table's views)
    gives one entry per part, the part in brackets."""
    out: list[tuple[str, str, Rows]] = []
    layout = tables.get("layout") or _legacy_layout(tables)
    for item in layout:
        name = f"{item['id']} {item['title']}".strip()
        stem = item["id"] or item["title"]
        kind = item["type"]
        parts: dict[str, Rows] = {}
        if kind == "roster" and "rosters" in tables:
            parts = _roster_rows(tables["rosters"])
        elif kind == "comparison" and item["id"] in tables.get("comparison_tables", {}):
            parts = {"": _comparison_rows(tables["comparison_tables"][item["id"]])}
        elif kind == "challenges" and "challenge_table" in tables:
            parts = {"": _challenge_rows(tables["challenge_table"])}
        elif kind == "practices" and "practice_table" in tables:
            parts = {"": _practice_rows(tables["practice_table"])}
        elif kind == "phases" and "phase_table" in tables:
            parts = _phase_rows(tables["phase_table"])
        for part, rows in parts.items():
            suffix = f"（{part}）" if part else ""
            out.append((name + suffix, _file_stem(stem + suffix), rows))
    return out


def _file_stem(text: str) -> str:
    """A file name for a table: its id, without characters file systems refuse."""
    return re.sub(r'[\\/:*?"<>|\s]+', "_", text).strip("._") or "table"


def table_rows(tables: Mapping[str, Any]) -> dict[str, Rows]:
    """Every table as (header, rows) of strings, by name, in print order (see :func:`table_parts`)."""
    return {name: rows for name, _, rows in table_parts(tables)}


def _legacy_layout(tables: Mapping[str, Any]) -> list[dict[str, str]]:
    """The print order of a tables dict without ``layout`` (rosters, comparisons, challenges, practices)."""
    out = [{"type": "roster", "id": "", "title": "ロスター"}] if "rosters" in tables else []
    out += [{"type": "comparison", "id": tid, "title": t["title"]} for tid, t in tables.get("comparison_tables", {}).items()]
    for key, kind, title in (("challenge_table", "challenges", "課題"), ("practice_table", "practices", "課題とプラクティス"),
                             ("phase_table", "phases", "交渉段階")):
        if key in tables:
            out.append({"type": kind, "id": tables[key].get("id", ""), "title": tables[key].get("title", title)})
    return out


def crosstab_rows(ct: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a crosstab: count (expected count) per value, then the standardised
    residuals, χ², p and Fisher's exact p."""
    values = ct["values"]
    header = (["code", "label"] + [f"{v} (n={ct['totals'][v]})" for v in values] + ["total", "χ²", "p", "Fisher p"]
              + [f"r {v}" for v in values])
    rows = []
    for r in ct["rows"]:
        cells = [f"{r['counts'][v]} ({r['expected'].get(v, 0):.1f})" if r["expected"] else str(r["counts"][v]) for v in values]
        res = r.get("residuals") or {}
        rows.append([r["code_id"], r["label"]] + cells + [str(r["total"]), "" if r["chi2"] is None else f"{r['chi2']:.3f}",
                     "" if r["p"] is None else f"{r['p']:.4f}", "" if r.get("fisher_p") is None else f"{r['fisher_p']:.4f}"]
                    + ["" if v not in res else f"{res[v]:+.2f}" for v in values])
    return header, rows


def neutralise(cell: str) -> str:
    """A CSV cell no spreadsheet runs as a formula: ``'=SUM(A1)`` for ``=SUM(A1)`` (see the module
    docstring); ``-`` alone is left as it is."""
    if not cell or cell == "-" or not cell.startswith(FORMULA_START) or SIGNED_NUMBER.match(cell):
        return cell  # a plain signed number (+0.71, -5%) is data Excel reads as a number, not a formula
    return "'" + cell


def csv_text(rows: list[list[str]]) -> str:
    """Rows as CSV text for people: every cell neutralised, CR LF line ends as Excel writes them
    (a cell holding a line break, CR or LF, is quoted)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([[neutralise(str(c)) for c in row] for row in rows])
    return buf.getvalue()


def crosstab_text(ct: Mapping[str, Any], fmt: str = "md") -> str:
    """A crosstab (:func:`coding.crosstab.crosstab`) as Markdown, CSV or JSON text."""
    if fmt == "json":
        return json.dumps(ct, ensure_ascii=False, indent=2) + "\n"
    header, rows = crosstab_rows(ct)
    if fmt == "csv":
        return csv_text([header, *rows])
    text = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
    text += "".join("| " + " | ".join(r) + " |\n" for r in rows)
    text += (f"\nunit: {ct['unit']}; cells: count (expected count); χ² per code over has/has-not × "
             f"{ct['variable']}; r: standardised residual (O − E)/√E of the organisations (or segments) with the code; "
             "Fisher p: exact test (2 × k tables, every margin fixed).\n")
    for w in ct.get("warnings", []):
        text += f"\nwarning: {w}"
    return text + ("\n" if ct.get("warnings") else "")


# ---------------------------------------------------------------- renderers
def to_json(tables: Mapping[str, Any]) -> str:
    return json.dumps(tables, ensure_ascii=False, indent=2) + "\n"


def _md_escape(s: str) -> str:
    """A cell of a Markdown table: markup in the text shown as text (a Markdown viewer renders raw HTML)."""
    s = html.escape(s, quote=False).replace("|", "\\|")
    return s.replace("\n", "<br>")


DEFAULT_TITLE = "ヒアリング調査の集計表"


def to_markdown(tables: Mapping[str, Any], title: str | None = None) -> str:
    title = title or tables.get("title") or DEFAULT_TITLE
    lines = [f"# {_md_escape(title)}", ""]
    if tables.get("draft"):
        lines += [f"> **{DRAFT}**", ""]
    for name, (header, rows) in table_rows(tables).items():
        lines += [f"## {_md_escape(name)}", "", "| " + " | ".join(_md_escape(h) for h in header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
        lines.append("")
    lines.append("※ 括弧内はヒアリングにて該当の内容について言及のあった組織の属性。数字は同じ属性の組織から複数の言及があった場合の数。")
    return "\n".join(lines) + "\n"


FOOTNOTE = "※ 括弧内はヒアリングにて該当の内容について言及のあった組織の属性。数字は同じ属性の組織から複数の言及があった場合の数。"
SHORT_EM = 14.0  # a column whose longest line is this wide (in em) gets its own width and is never squeezed
PAGE_EM = 90.0  # the width of an A4 landscape page as printed (273 mm at 8.5 pt), in em
NUMBER = re.compile(r"^[-\d.,%()（）]*$")
HTML_STYLE = """
@page { size: A4 landscape; margin: 12mm 10mm; }
body { font-family: FONTS; margin: 2em; color: #111; line-height: 1.5; font-size: 10.5pt; }
h1 { font-size: 1.5em; margin: 0 0 .8em; }
h2 { font-size: 1.15em; margin: 1.6em 0 .5em; break-after: avoid-page; }
table { border-collapse: collapse; table-layout: fixed; margin-bottom: 1.5em; }
th, td { border: 1px solid #888; padding: .35em .45em; vertical-align: top; white-space: pre-wrap;
         overflow-wrap: anywhere; line-break: strict; text-align: left; }
th { background: #e8ecf4; font-weight: bold; }
td.num { text-align: center; }
thead { display: table-header-group; }
tr { break-inside: avoid-page; }
.draft { color: #b00; font-weight: bold; }
.note { font-size: .9em; color: #333; }
@media print {
  body { margin: 0; font-size: 8.5pt; }
  th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _text_em(line: str) -> float:
    """How wide a line of text is, in em: a full-width character 1, any other about half."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in line)


def _column_widths(header: list[str], rows: list[list[str]]) -> tuple[list[str], str]:
    """CSS widths of a table's columns and of the table.

    A column whose longest line is short (a count, a name, a process) gets that width and never
    wraps; the others share the rest of a page (``PAGE_EM``, an A4 landscape page as printed) by
    how much text their cells hold — by its square root, so a column of long quotes does not
    squeeze a column of titles to a few characters — and none gets less than ``SHORT_EM``. A
    table with long columns spans the page (its widths in %, so a wider screen widens every
    column alike); one without is as wide as its columns."""
    fixed: dict[int, float] = {}
    weights: dict[int, float] = {}
    for c, head in enumerate(header):
        cells = [r[c] for r in rows if c < len(r)]
        longest = max((_text_em(line) for cell in cells for line in cell.split("\n")), default=0.0)
        if longest <= SHORT_EM:
            fixed[c] = max(longest, min(_text_em(head), 8.0)) + 1.5  # padding and border
        else:
            mean = sum(_text_em(cell) for cell in cells) / max(len(cells), 1)
            weights[c] = max(mean, SHORT_EM) ** 0.5
    rest = sum(fixed.values())
    if not weights:
        return [f"{fixed[c]:.1f}em" for c in range(len(header))], f"{rest:.1f}em"
    avail = max(PAGE_EM - rest, SHORT_EM * len(weights))
    total = sum(weights.values())
    wide = {c: avail * w / total for c, w in weights.items()}
    narrow = [c for c, w in wide.items() if w < SHORT_EM]
    if narrow and len(narrow) < len(wide):  # lift those below the minimum, taking it from the others
        lift = sum(SHORT_EM - wide[c] for c in narrow)
        others = sum(w for c, w in wide.items() if c not in narrow)
        wide = {c: SHORT_EM if c in narrow else w - lift * w / others for c, w in wide.items()}
    whole = rest + sum(wide.values())
    return [f"{100 * (fixed.get(c) or wide[c]) / whole:.2f}%" for c in range(len(header))], "100%"


def to_html(tables: Mapping[str, Any], title: str | None = None) -> str:
    """The tables as one page to read or print into a report: columns as wide as their text
    needs, A4 landscape when printed (header rows repeated on every page, rows not split), and the
    bundled Japanese font inside the page as the last fallback (:mod:`coding.fonts`), so it shows
    Japanese on any machine. It loads nothing from anywhere."""
    title = title or tables.get("title") or DEFAULT_TITLE
    body = [f"<h1>{html.escape(title)}</h1>"]
    text = [title, FOOTNOTE]
    if tables.get("draft"):
        body.append(f"<p class='draft'>{html.escape(DRAFT)}</p>")
        text.append(DRAFT)
    for name, (header, rows) in table_rows(tables).items():
        widths, width = _column_widths(header, rows)
        numeric = [bool(rows) and all(NUMBER.match(r[c]) for r in rows if c < len(r)) for c in range(len(header))]
        body.append(f"<section><h2>{html.escape(name)}</h2><table style='width:{width}'><colgroup>")
        body += [f"<col style='width:{w}'>" for w in widths]
        body.append("</colgroup><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead><tbody>")
        for row in rows:
            body.append("<tr>" + "".join(f"<td class='num'>{html.escape(v)}</td>" if numeric[c] else f"<td>{html.escape(v)}</td>"
                                         for c, v in enumerate(row)) + "</tr>")
        body.append("</tbody></table></section>")
        text += [name, *header, *(v for row in rows for v in row)]
    body.append(f"<p class='note'>{html.escape(FOOTNOTE)}</p>")
    style = font_face("".join(text)) + HTML_STYLE.replace("FONTS", FONT_STACK)
    return ("<!DOCTYPE html><html lang='ja'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{style}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def to_csv_files(tables: Mapping[str, Any]) -> dict[str, str]:
    """One CSV text per table, keyed by a file-name stem; cells neutralised (:func:`neutralise`)."""
    out = {}
    for _, stem, (header, rows) in table_parts(tables):
        out[stem] = csv_text(([[DRAFT]] if tables.get("draft") else []) + [header, *rows])
    return out


def to_xlsx(tables: Mapping[str, Any], path: Path) -> None:
    """One sheet per table: the table's full title in the first row, then the header (repeated on
    every printed page) and the rows; wrapped cells, column widths, frozen header, A4 landscape
    scaled to the page width, page numbers in the footer; Japanese as it opens."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    title = wb.add_format({"bold": True, "font_size": 14, "font_name": "Meiryo"})
    head = wb.add_format({"bold": True, "bg_color": "#DDE6F5", "border": 1, "text_wrap": True, "valign": "top", "font_name": "Meiryo"})
    cell = wb.add_format({"text_wrap": True, "border": 1, "valign": "top", "font_name": "Meiryo"})
    warn = wb.add_format({"bold": True, "font_color": "#B00000"})
    used: set[str] = set()
    for name, (header, rows) in table_rows(tables).items():
        ws = wb.add_worksheet(sheet_name(name, used))
        ws.write_string(0, 0, name, title)
        r0 = 1
        if tables.get("draft"):
            ws.write_string(1, 0, DRAFT, warn)
            r0 = 2
        for c, h in enumerate(header):
            ws.write_string(r0, c, h, head)
        for i, row in enumerate(rows, start=r0 + 1):
            for c, v in enumerate(row):
                ws.write_string(i, c, v, cell)
        for c, h in enumerate(header):
            longest = max([len(h)] + [max((len(x) for x in str(row[c]).split("\n")), default=0) for row in rows])
            ws.set_column(c, c, min(max(10, longest * 1.6), 60))
        ws.freeze_panes(r0 + 1, 0)
        ws.repeat_rows(r0)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)  # as wide as the page, as many pages down as it takes
        ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
        ws.set_footer("&C&P / &N")
    wb.close()
    atomic_write_bytes(Path(path), buf.getvalue())


def sheet_name(name: str, used: set[str]) -> str:
    """A worksheet name for the table ``name`` (Excel allows 31 characters, none of ``[]:*?/\\``,
    no apostrophe at either end, unique ignoring case): a longer title is cut with "…" before its
    part in brackets (``（日本）``), which is kept, so that the parts of one table stay apart; the
    full title is the sheet's first row."""
    base = "".join(ch for ch in name if ch not in "[]:*?/\\").strip().strip("'") or "table"
    if len(base) > 31:
        m = re.search(r"（[^（）]*）$", base)
        part = m.group(0) if m and len(m.group(0)) <= 15 else ""
        base = base[: 30 - len(part)].rstrip() + "…" + part
    cand, i = base, 2
    while cand.casefold() in used:
        tag = f"({i})"
        cand = base + tag if len(base) + len(tag) <= 31 else base[: 30 - len(tag)].rstrip("…") + "…" + tag
        i += 1
    used.add(cand.casefold())
    return cand


def write_tables(tables: Mapping[str, Any], out_dir: Path, formats=FORMATS, *, csv_bom: bool = True) -> list[Path]:
    """Write ``tables`` in each format under ``out_dir``; returns the files written. CSV files
    start with a byte-order mark unless ``csv_bom`` is False. (Published tables pass the anonymity
    guard as data first: :mod:`coding.publish`.)"""
    out_dir = Path(out_dir)
    written = []
    if "json" in formats:
        p = out_dir / "tables.json"
        atomic_write_text(p, to_json(tables))
        written.append(p)
    if "md" in formats:
        p = out_dir / "tables.md"
        atomic_write_text(p, to_markdown(tables))
        written.append(p)
    if "html" in formats:
        p = out_dir / "tables.html"
        atomic_write_text(p, to_html(tables))
        written.append(p)
    if "csv" in formats:
        for stem, text in to_csv_files(tables).items():
            p = out_dir / f"{stem}.csv"
            atomic_write_text(p, text, bom=csv_bom)
            written.append(p)
    if "xlsx" in formats:
        p = out_dir / "tables.xlsx"
        to_xlsx(tables, p)
        written.append(p)
    return written
