"""Keyword in context (KWIC, a concordance): every occurrence of a word in the notes with the
words around it, as KH Coder's コンコーダンス shows it.

A word is found the way the tagger finds a phrase: in the Sudachi-normalised forms of a
paragraph's tokens and in their width/case-folded surface (料率 finds 料率; ロイヤルティ finds
ロイヤリティ, whose normalised form it is; ＴＬＯ finds TLO). Japanese has no spaces, so it is a
substring match over the token strings: 共願 also finds 共願先. The parses come from the project's
parse cache (``outputs/cache/nlp``, what ``code`` made); only a transcript not parsed yet is
parsed now, and cached.

The lines quote the notes as they are: a KWIC list is a working view for the research team, like a
review sheet, not a published output (nothing is masked).
"""
from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from typing import Iterable, Literal, Sequence

from .errors import OptionError
from .nlp import DocCache, iter_parsed, normaliser
from .project import Project, confirmed_codings
from .subset import Spans, parse_where, select, with_descendants
from .tagger import Tagger, fold
from .transcripts import Paragraph, Transcript

Sort = Literal["position", "left", "right"]
FORMATS = ("text", "csv", "html")


@dataclass(frozen=True)
class KwicLine:
    """One occurrence: where (transcript, file line, paragraph, body offsets), the words before
    (``left``), the occurrence (``match``) and the words after (``right``)."""

    transcript_id: str
    org: str
    region: str
    line: int
    paragraph: int  # 1-based
    speaker: str
    start: int
    end: int
    left: str
    match: str
    right: str
    query: str
    codes: tuple[str, ...] = ()  # codes of the confirmed passages that contain the occurrence


@dataclass(frozen=True)
class KwicResult:
    lines: tuple[KwicLine, ...]
    queries: tuple[str, ...]
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)  # query → the strings looked for
    transcripts: int = 0  # transcripts searched


def token_strings(doc) -> tuple[list[tuple[str, list[int]]], list[int], list[int]]:
    """The folded surface and normalised strings of a paragraph doc, each with its character →
    token map, and every token's start and end in the paragraph."""
    surf, smap, norm, nmap, starts, ends = [], [], [], [], [], []
    for i, t in enumerate(doc):
        a, b = fold(t.text), fold(t.norm_)
        surf.append(a)
        smap.extend([i] * len(a))
        norm.append(b)
        nmap.extend([i] * len(b))
        starts.append(t.idx)
        ends.append(t.idx + len(t.text))
    return [("".join(surf), smap), ("".join(norm), nmap)], starts, ends


def find(doc, variants: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans (paragraph offsets) of every occurrence of any variant, whole tokens, with
    spans inside a longer one dropped."""
    strings, starts, ends = token_strings(doc)
    spans = set()
    for v in variants:
        for string, cmap in strings:
            i = string.find(v)
            while i != -1:
                a, b = cmap[i], cmap[i + len(v) - 1]
                spans.add((starts[a], ends[b]))
                i = string.find(v, i + 1)
    kept = sorted(spans, key=lambda s: (s[0], -s[1]))
    out: list[tuple[int, int]] = []
    for s in kept:
        if out and out[-1][0] <= s[0] and s[1] <= out[-1][1]:
            continue
        out.append(s)
    return out


def _flat(s: str) -> str:
    return s.replace("\n", " ")


def kwic_lines(transcripts: Iterable[tuple[Transcript, list]], queries: Sequence[str], variants: dict[str, tuple[str, ...]], *,
               context: int = 20, skip=None, within: Spans | None = None, coded: Spans | None = None) -> list[KwicLine]:
    """Every occurrence of the queries in ``(transcript, paragraph docs)`` pairs, in text order.

    ``skip(paragraph)``: paragraphs to leave out (the interviewer's turns); ``within``: only
    occurrences inside these passages; ``coded``: the passages whose codes each line names."""
    out = []
    for t, docs in transcripts:
        for para, doc in zip(t.paragraphs, docs):
            if skip is not None and skip(para):
                continue
            hits = sorted((a, b, q) for q in queries for a, b in find(doc, variants[q]))
            for a, b, q in hits:
                if within is not None and not within.codes_over(t.id, para.start + a, para.start + b):
                    continue
                out.append(_line(t, para, a, b, q, context, coded))
    return out


def _line(t: Transcript, para: Paragraph, a: int, b: int, query: str, context: int, coded: Spans | None) -> KwicLine:
    text = para.text
    return KwicLine(
        transcript_id=t.id, org=t.org, region=t.region, line=t.line_of(para.start + a), paragraph=para.index + 1,
        speaker=para.speaker or "", start=para.start + a, end=para.start + b,
        left=_flat(text[max(0, a - context):a]), match=_flat(text[a:b]), right=_flat(text[b:b + context]), query=query,
        codes=tuple(coded.codes_over(t.id, para.start + a, para.start + b)) if coded is not None else ())


def sort_lines(lines: Sequence[KwicLine], sort: Sort) -> list[KwicLine]:
    """Text order, or by the words right before the occurrence (read backwards, as a concordancer
    sorts its left context) or right after it."""
    if sort == "left":
        return sorted(lines, key=lambda l: (l.left[::-1], l.match, l.right))
    if sort == "right":
        return sorted(lines, key=lambda l: (l.right, l.match, l.left[::-1]))
    return list(lines)


def project_kwic(p: Project, queries: Sequence[str], *, where: Sequence[str] = (), codes: Sequence[str] = (),
                 context: int = 20, sort: Sort = "position", interviewer: bool = False,
                 coders: Sequence[str] | None = None, include_suggested: bool = False, jobs: int = 1) -> KwicResult:
    """The concordance of ``queries`` in the project's notes.

    ``where``: ``KEY=VALUE`` filters on the front matter (``region=日本``, ``kind=国立大,私立大``,
    ``kind!=技術移転機関``); ``codes``: only occurrences inside passages coded with one of these
    codes or a code under them (confirmed codings of ``coders``); ``interviewer``: also search
    the interviewer's turns and the memos the tagger skips."""
    queries = [q.strip() for q in queries if q.strip()]
    if not queries:
        raise OptionError("give at least one word to look for, e.g. python cli.py kwic 料率")
    if context < 1:
        raise OptionError("--context must be at least 1 character")
    chosen = select(p.transcripts, parse_where(where))
    settings = p.nlp_settings()
    norm = normaliser(settings)
    variants = {q: tuple(sorted({fold(q), fold("".join(norm(q)))} - {""})) for q in queries}
    codings = confirmed_codings(p, coders=coders, include_suggested=include_suggested)
    wanted = with_descendants(p.codebook, codes) if codes else None
    within = Spans(c for c in codings if c.code_id in wanted) if wanted is not None else None
    skipper = None if interviewer else Tagger(p.codebook, model=None).skipped
    docs = iter_parsed(chosen, settings, DocCache(p.cache_dir / "nlp"), jobs=jobs, as_spacy=False)
    lines = kwic_lines(docs, queries, variants, context=context, skip=skipper, within=within, coded=Spans(codings))
    return KwicResult(tuple(sort_lines(lines, sort)), tuple(queries), variants, len(chosen))


# ---------------------------------------------------------------- renderers
COLUMNS = ["transcript_id", "org", "region", "line", "paragraph", "speaker", "start", "end", "left", "match", "right",
           "query", "codes"]


def _row(l: KwicLine) -> list:
    return [l.transcript_id, l.org, l.region, l.line, l.paragraph, l.speaker, l.start, l.end, l.left, l.match, l.right,
            l.query, " ".join(l.codes)]


def to_text(res: KwicResult, context: int = 20) -> str:
    """One line per occurrence: ``JP-A:21  left【match】right``, the left context right-aligned."""
    width = max([len(f"{l.transcript_id}:{l.line}") for l in res.lines] + [0])
    out = [f"{f'{l.transcript_id}:{l.line}':<{width}}  {l.left:　>{context}}【{l.match}】{l.right}" for l in res.lines]
    out.append(f"{len(res.lines)} occurrence(s) of {', '.join(res.queries)} in {res.transcripts} transcript(s)")
    return "\n".join(out) + "\n"


def to_csv(res: KwicResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(_row(l) for l in res.lines)
    return buf.getvalue()


def to_html(res: KwicResult) -> str:
    """A page with one table row per occurrence, left context right-aligned, the match marked."""
    e = html.escape
    rows = "\n".join(
        f"<tr><td class=w>{e(l.transcript_id)}:{l.line}</td><td class=w>{e(l.org)}</td><td class=l>{e(l.left)}</td>"
        f"<td class=m><mark>{e(l.match)}</mark></td><td class=r>{e(l.right)}</td><td class=w>{e(' '.join(l.codes))}</td></tr>"
        for l in res.lines)
    title = "KWIC: " + "、".join(res.queries)
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: 'Noto Sans CJK JP','Hiragino Kaku Gothic ProN','Yu Gothic','Meiryo',sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 2px 6px; border-bottom: 1px solid #ddd; vertical-align: top; }}
td.l {{ text-align: right; white-space: nowrap; }} td.r {{ white-space: nowrap; }} td.w {{ color: #555; white-space: nowrap; }}
mark {{ background: #ffe58a; font-weight: bold; }}
</style></head><body>
<h1>{e(title)}</h1>
<p>{len(res.lines)} 件（{res.transcripts} 件のインタビュー）</p>
<table><thead><tr><th>場所</th><th>組織</th><th>前</th><th>語</th><th>後</th><th>コード</th></tr></thead><tbody>
{rows}
</tbody></table></body></html>
"""


def render(res: KwicResult, fmt: str = "text", *, context: int = 20) -> str:
    if fmt == "csv":
        return to_csv(res)
    if fmt == "html":
        return to_html(res)
    return to_text(res, context)
