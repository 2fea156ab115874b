"""Reviewing suggestions: an Excel round trip and a local web page, both saving per-coder decisions.

A **review item** is a (segment, code) a person should decide on: a suggestion that coder has not
decided yet, or (for adjudication, ``compare``) a unit two coders disagree on. A decision is one
of ``accept`` (the coding is confirmed: ``accepted`` when the tagger suggested it, else
``manual``), ``reject``, or ``change to <code id>`` (reject this code, confirm the other on the
same span). People may also add a code to any span (``manual``).

A coder's own decisions need a person again when the transcript was edited since: re-attached
after words were edited inside their passage (a **re-check**) or kept as **stale** when it is gone
(:mod:`coding.store`). Both views show them first, and both let a person decide anew on the new
words (which settles a re-check), re-attach a stale decision to the words as they now read, or
**drop** the decision.

Both views speak Japanese unless the codebook's ``lang`` or a command's ``--lang`` says English
(:mod:`coding.i18n`); a sheet of either language, with the decision words of either, imports.
They show a suggestion's matched words where the tagger matched them (the spans it recorded,
:func:`matched_spans`), and codes by their labels.

Every path saves through :func:`save_decisions`: the coder's decisions are re-read from disk,
re-anchored to the current transcripts, merged (``Store.merge``) and written atomically
(``Store.save``), so a decision is on disk as soon as it is made and survives ``code`` re-runs and
transcript edits like any other decision.
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Literal, Mapping, Sequence

from . import i18n
from .agreement import compare_coders
from .errors import CodingError, StoreError
from .files import atomic_write_bytes
from .fonts import FAMILY as FONT_FAMILY
from .fonts import FONT_STACK, bundled_font
from .lock import ProjectLock
from .project import Project
from .rules import SURFACE
from .store import Coding, Store, check_coder, reanchor, record_decisions, validate_against
from .tagger import read_matched_cell
from .transcripts import Transcript

Action = Literal["accept", "reject", "change", "add"]


# ---------------------------------------------------------------- saving
def save_decisions(p: Project, coder: str, rows: Iterable[Coding], *, drop: Iterable[tuple[str, int, int, str]] = ()) -> Path:
    """Write ``rows`` as ``coder``'s decisions, and remove the decisions ``drop`` names, through
    the store's one writing path."""
    return record_decisions(p.root, coder, rows, p.by_id, p.codebook.effective_ref, drop=drop).path


def decision_rows(
    action: Action,
    *,
    transcript: Transcript,
    start: int,
    end: int,
    code_id: str,
    coder: str,
    suggested: set[tuple[str, int, int, str]],
    to: str | None = None,
    quote: bool = False,
    memo: str = "",
) -> list[Coding]:
    """The decision rows one review action writes (see the module docstring)."""
    text = transcript.body[start:end]

    def confirm(code: str) -> Coding:
        status = "accepted" if (transcript.id, start, end, code) in suggested else "manual"
        return Coding(transcript.id, start, end, text, code, status, coder, quote=quote, memo=memo)

    if action in ("accept", "add"):
        return [confirm(code_id)]
    if action == "reject":
        return [Coding(transcript.id, start, end, text, code_id, "rejected", coder, memo=memo)]
    if action == "change":
        if not to:
            raise StoreError("change needs the code to change to")
        if to == code_id:
            return [confirm(code_id)]
        return [Coding(transcript.id, start, end, text, code_id, "rejected", coder), confirm(to)]
    raise StoreError(f"unknown review action '{action}'")


# ---------------------------------------------------------------- review items
@dataclass(frozen=True)
class ReviewItem:
    transcript_id: str
    start: int
    end: int
    text: str
    code_id: str
    matched: tuple[str, ...] = ()
    score: float | None = None
    pattern: str = ""
    others: Mapping[str, str] = field(default_factory=dict)  # coder → what they decided (compare)
    matched_at: tuple[int | None, ...] = ()  # where each matched word begins in ``text``
    # a decision of the coder's to look at again: ``recheck`` (re-attached after its words were
    # edited; the span is where it is now) or ``stale`` (its passage is gone; the span as written)
    check: str = ""
    was: str = ""  # a recheck's words before the edit
    status: str = ""  # what was decided (check rows)
    quote: bool = False
    memo: str = ""

    @property
    def key(self) -> tuple[str, int, int, str]:
        return (self.transcript_id, self.start, self.end, self.code_id)

    @property
    def marks(self) -> list[tuple[int, int]]:
        """The spans of ``text`` to show as matched (see :func:`matched_spans`)."""
        return matched_spans(self.text, self.matched, self.matched_at)


def matched_spans(text: str, words: Sequence[str], at: Sequence[int | None]) -> list[tuple[int, int]]:
    """Spans of ``text`` (code points, end exclusive) that the tagger matched: each word where
    it was found. A word without a position (a suggestions file written before positions were
    recorded), or whose position no longer holds it, is marked wherever it occurs."""
    spans: set[tuple[int, int]] = set()
    for i, w in enumerate(words):
        if not w:
            continue
        a = at[i] if i < len(at) else None
        if a is not None and text[a:a + len(w)] == w:
            spans.add((a, a + len(w)))
            continue
        spans.update((m.start(), m.end()) for m in re.finditer(re.escape(w), text))
    return sorted(spans)


def _matched(s: Coding | None) -> tuple[tuple[str, ...], tuple[int | None, ...]]:
    return read_matched_cell(s.matched) if s is not None else ((), ())


def pending_for(store: Store, transcripts: Mapping[str, Transcript], coder: str | None) -> list[Coding]:
    """Suggestions ``coder`` has not decided on (any person when ``coder`` is None)."""
    if coder is None:
        return [s for s in store.pending(transcripts) if s.transcript_id in transcripts]
    decided = {r.key for r in store.anchored(transcripts) if r.coder == coder and r.anchor != "stale"}
    return [s for s in store.suggestions if s.key not in decided and s.transcript_id in transcripts]


def review_items(
    p: Project,
    *,
    coder: str | None = None,
    compare: Sequence[str] = (),
    transcripts: Sequence[str] | None = None,
    sort: str = "position",
) -> list[ReviewItem]:
    """What to review: the suggestions ``coder`` has not decided (or nobody has, without a coder),
    or — with ``compare=(a, b)`` — the segments and codes on which a and b disagree and which
    ``coder`` (default ``adjudicated``) has not settled yet. ``sort="score"``: the most confident
    suggestions first (then by position)."""
    by_id = {tid: t for tid, t in p.by_id.items() if transcripts is None or tid in transcripts}
    store = p.store()
    order = {t.id: i for i, t in enumerate(p.transcripts)}
    if compare:
        if len(compare) != 2:
            raise StoreError("compare needs exactly two coders")
        a, b = compare
        rep = compare_coders(store, by_id, a, b)
        target = coder or "adjudicated"
        mine = [r for r in store.anchored(by_id) if r.coder == target and r.anchor != "stale"]
        done = {(r.transcript_id, r.code_id) + (r.start, r.end) for r in mine}
        sugg = {s.key: s for s in store.suggestions}
        items = []
        for d in rep.disagreements:
            if (d.transcript_id, d.code_id, d.start, d.end) in done:
                continue
            s = sugg.get((d.transcript_id, d.start, d.end, d.code_id))
            others = {d.coded_by: "coded", d.other: d.other_status}
            words, at = _matched(s)
            items.append(ReviewItem(d.transcript_id, d.start, d.end, d.text, d.code_id, words,
                                    s.score if s else None, s.pattern if s else "", {c: others[c] for c in (a, b)}, at))
        return _sorted(items, order, sort)
    rows = pending_for(store, by_id, coder)
    items = []
    for s in rows:
        words, at = _matched(s)
        items.append(ReviewItem(s.transcript_id, s.start, s.end, s.text, s.code_id, words, s.score, s.pattern, matched_at=at))
    return _sorted(items, order, sort)


def check_items(p: Project, coder: str, *, transcripts: Sequence[str] | None = None) -> list[ReviewItem]:
    """``coder``'s decisions that need a person again, in transcript order: those re-attached after
    the words were edited inside their passage (``recheck``, at the span they are on now) and those
    whose passage is gone (``stale``, as written). Decisions on a transcript or a code the project
    no longer has are left to ``validate``."""
    by_id = {tid: t for tid, t in p.by_id.items() if transcripts is None or tid in transcripts}
    store = p.store()
    sugg = {s.key: s for s in store.suggestions}
    order = {t.id: i for i, t in enumerate(p.transcripts)}
    items = []
    for r in store.anchored(by_id):
        if (r.coder != coder or r.anchor not in ("recheck", "stale") or r.transcript_id not in by_id
                or r.code_id not in p.codebook.codes):
            continue
        s = sugg.get(r.key) if r.anchor == "recheck" else None
        words, at = _matched(s)
        items.append(ReviewItem(r.transcript_id, r.start, r.end, r.text, r.code_id, words, s.score if s else None,
                                s.pattern if s else "", matched_at=at, check=r.anchor, was=r.was, status=r.status,
                                quote=r.quote, memo=r.memo))
    return _sorted(items, order, "position")


def _sorted(items: list[ReviewItem], order: Mapping[str, int], sort: str) -> list[ReviewItem]:
    pos = lambda i: (order.get(i.transcript_id, 0), i.start, i.end, i.code_id)  # noqa: E731
    if sort == "score":
        return sorted(items, key=lambda i: (-(i.score or 0.0), *pos(i)))
    return sorted(items, key=pos)


# ---------------------------------------------------------------- Excel sheet
COLUMNS = ["transcript_id", "org", "start", "end", "segment", "paragraph", "code_id", "label", "definition",
           "matched", "score"]
DECISION_COLUMNS = ["decision", "quote", "memo"]
REQUIRED = ("transcript_id", "start", "end", "segment", "code_id", "decision")
ADD_ROWS = 200  # empty rows with drop-downs below the suggestions, for codes the tagger missed


def _matched_runs(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[str, bool]]:
    """Split ``text`` into runs, True inside one of ``spans`` (to show matches in red)."""
    marks = [False] * len(text)
    for a, b in spans:
        for i in range(max(a, 0), min(b, len(text))):
            marks[i] = True
    runs: list[tuple[str, bool]] = []
    for ch, mk in zip(text, marks):
        if runs and runs[-1][1] == mk:
            runs[-1] = (runs[-1][0] + ch, mk)
        else:
            runs.append((ch, mk))
    return runs


def write_review_xlsx(p: Project, items: Sequence[ReviewItem], *, compare: Sequence[str] = (),
                      lang: str | None = None, check: bool = False) -> bytes:
    """The review workbook as bytes, in ``lang`` (default: the codebook's ``lang``): a review
    sheet with filters, a drop-down decision column (採用 / 不採用 / 変更 → <code>, or accept /
    reject / change to <code id>), conditional colours, a sheet with every codable code and its
    definition, and a how-to sheet.

    ``check``: a coder's sheet, with the column 確認 / check that says what happened to each
    decision to look at again (items with a ``check``) and the word 削除 / drop in the list."""
    import xlsxwriter

    cb = p.codebook
    lang = i18n.resolve(lang, cb.settings.lang)
    names = i18n.COLUMN_NAMES[lang]
    sheets = i18n.SHEETS[lang]
    codable = [c for c in cb.codes.values() if c.codable]
    choices = ([i18n.ACCEPT_WORD[lang], i18n.REJECT_WORD[lang]] + ([i18n.DROP_WORD[lang]] if check else [])
               + [i18n.change_choice(c.id, c.label, lang) for c in codable])
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    font = {"font_name": "Meiryo"} if lang == "ja" else {}
    head = wb.add_format({"bold": True, "bg_color": "#DDE5F0", "border": 1, "text_wrap": True, "valign": "top", **font})
    wrap = wb.add_format({"text_wrap": True, "valign": "top", **font})
    top = wb.add_format({"valign": "top", **font})
    red = wb.add_format({"color": "#C00000", "bold": True, **font})
    decision_fmt = wb.add_format({"valign": "top", "bg_color": "#FFF8DC", "border": 1, **font})
    check_fmt = wb.add_format({"text_wrap": True, "valign": "top", "bg_color": "#FCE4D6", "bold": True, **font})
    ws = wb.add_worksheet(sheets["review"])
    columns = COLUMNS + list(compare) + (["check"] if check else []) + DECISION_COLUMNS
    widths = {"transcript_id": 9, "org": 10, "start": 6, "end": 6, "segment": 50, "paragraph": 60, "code_id": 14,
              "label": 22, "definition": 40, "matched": 14, "score": 6, "check": 36, "decision": 30 if lang == "ja" else 22,
              "quote": 7, "memo": 24}
    for col, name in enumerate(columns):
        ws.write(0, col, names.get(name, name), head)
        ws.set_column(col, col, widths.get(name, 12))
    by_id = p.by_id
    status = i18n.STATUS_NAMES[lang]
    for row, it in enumerate(items, start=1):
        t = by_id[it.transcript_id]
        para = t.paragraph_at(it.start)
        code = cb.codes.get(it.code_id)
        values = {
            "transcript_id": it.transcript_id, "org": t.attributes.get("org", ""), "start": it.start, "end": it.end,
            "paragraph": para.text if para else "", "code_id": it.code_id, "label": code.label if code else "",
            "definition": code.definition if code else "", "matched": "、".join(it.matched),
            "score": "" if it.score is None else round(it.score, 3),
            "check": i18n.check_text(it.check, it.was, it.status, lang) if it.check else "",
        }
        values.update({c: status.get(it.others.get(c, ""), it.others.get(c, "")) for c in compare})
        # a decision to look at again comes with its quote and memo, kept when it is decided anew
        prefilled = {"quote": i18n.YES_WORD[lang] if it.quote else "", "memo": it.memo} if it.check else {}
        for col, name in enumerate(columns):
            if name == "segment":
                runs = _matched_runs(it.text, it.marks)
                if any(mk for _, mk in runs) and len(runs) > 1:
                    parts = []
                    for s, mk in runs:
                        parts += [red, s] if mk else [s]
                    ws.write_rich_string(row, col, *parts, wrap)
                else:
                    ws.write_string(row, col, it.text, wrap)
            elif name in DECISION_COLUMNS:
                if prefilled.get(name):
                    ws.write_string(row, col, prefilled[name], decision_fmt)
                else:
                    ws.write_blank(row, col, None, decision_fmt)
            elif name == "check":
                if values["check"]:
                    ws.write_string(row, col, values["check"], check_fmt)
                else:
                    ws.write_blank(row, col, None, top)
            elif name in ("start", "end"):
                ws.write_number(row, col, values[name], top)
            elif name == "score" and values[name] != "":
                ws.write_number(row, col, values[name], top)
            else:
                ws.write_string(row, col, str(values.get(name, "")), wrap if name in ("paragraph", "definition") else top)
    last = len(items) + ADD_ROWS  # room below the suggestions for rows the researcher adds
    dcol = columns.index("decision")
    msg = i18n.VALIDATION[lang]
    ws.data_validation(1, dcol, last, dcol, {
        "validate": "list", "source": f"=lists!$A$1:$A${len(choices)}",
        "input_title": msg["input_title"], "input_message": msg["input_message_check" if check else "input_message"],
        "error_title": msg["error_title"], "error_message": msg["error_message_check" if check else "error_message"],
    })
    ws.data_validation(1, dcol + 1, last, dcol + 1, {"validate": "list", "source": [i18n.YES_WORD[lang], ""]})
    ccol = columns.index("code_id")
    ws.data_validation(len(items) + 1, ccol, last, ccol, {
        "validate": "list", "source": f"=lists!$B$1:$B${len(codable)}", "input_title": names["code_id"],
        "input_message": msg["code_message"]})
    green = wb.add_format({"bg_color": "#C6EFCE"})
    pink = wb.add_format({"bg_color": "#FFC7CE"})
    amber = wb.add_format({"bg_color": "#FFEB9C"})
    grey = wb.add_format({"bg_color": "#D9D9D9", "font_strikeout": True})
    rng = (1, dcol, last, dcol)
    # coloured whichever language's word a cell holds (people type either)
    coloured = ((i18n.ACCEPT_WORD, green), (i18n.REJECT_WORD, pink), (i18n.CHANGE_WORD, amber))
    for words, fmt in coloured + (((i18n.DROP_WORD, grey),) if check else ()):
        for word in dict.fromkeys([words[lang], *words.values()]):
            ws.conditional_format(*rng, {"type": "text", "criteria": "begins with", "value": word.split()[0], "format": fmt})
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, last, len(columns) - 1)
    lists = wb.add_worksheet("lists")
    for i, c in enumerate(choices):
        lists.write_string(i, 0, c)
    for i, c in enumerate(codable):
        lists.write_string(i, 1, c.id)
    lists.hide()
    cs = wb.add_worksheet(sheets["codes"])
    for col, (name, w) in enumerate([("code_id", 16), ("kind", 12), ("label", 30), ("parent", 14), ("definition", 80)]):
        cs.write(0, col, names[name], head)
        cs.set_column(col, col, w)
    for row, c in enumerate(codable, start=1):
        for col, v in enumerate([c.id, i18n.kind_name(c.kind, lang), c.label, c.parent or "", c.definition]):
            cs.write_string(row, col, v, wrap)
    cs.freeze_panes(1, 0)
    cs.autofilter(0, 0, len(codable), 4)
    hs = wb.add_worksheet(sheets["howto"])
    hs.set_column(0, 0, 110)
    for i, line in enumerate(i18n.HOWTO[lang]):
        hs.write_string(i, 0, line, head if i == 0 else top)
    wb.close()
    return buf.getvalue()


@dataclass
class ReviewImport:
    rows: list[Coding] = field(default_factory=list)
    accepted: int = 0
    rejected: int = 0
    changed: int = 0
    manual: int = 0  # rows the researcher added for codes the tagger missed
    pending: int = 0
    dropped: int = 0  # decisions to re-check or stale ones the researcher dropped
    reattached: int = 0  # stale decisions put on the words as they now read
    drop: list[tuple[str, int, int, str]] = field(default_factory=list)  # keys of the decisions to remove
    added: int = 0
    updated: int = 0
    path: Path | None = None


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _code_named(text: str, cb) -> str | None:
    """The code a 'change to' cell names: its id, or an id followed by words (the drop-down's
    ``変更 → 課題⑫ 専門人材の不足``, ``change to 課題⑫ 専門人材…``): the longest id that begins the
    text and is followed by a space."""
    if text in cb.codes:
        return text
    ids = [c for c in cb.codes if text.startswith(c) and text[len(c):len(c) + 1] in (" ", "\u3000", "\t")]
    return max(ids, key=len) if ids else None


def _decision(decision: str, cb, lang: str = "en", *, check: bool = False) -> tuple[str, str | None] | str:
    """(action, code to change to) of a decision cell in either language, or a message saying
    what is wrong (naming the words of the sheet's language; ``check``: of a row marked in the
    check column, where 削除 / drop is a decision too)."""
    low = decision.strip().lower()
    if low in i18n.ACCEPT_WORDS:
        return "accept", None
    if low in i18n.REJECT_WORDS:
        return "reject", None
    if low in i18n.DROP_WORDS:
        return "drop", None
    m = i18n.CHANGE_RE.match(decision)
    if m:
        to = _code_named(m.group(1), cb)
        if to is None:
            return f"decision '{decision}': unknown code id '{m.group(1).split()[0]}'"
        if not cb.codes[to].codable:
            return f"decision '{decision}': '{to}' is a group, not a codable code"
        return "change", to
    helps = i18n.DECISION_HELP_CHECK if check else i18n.DECISION_HELP
    return f"decision '{decision}' is not {helps[lang]} (leave it empty to decide later)"


def _words_at(t: Transcript, words: str) -> tuple[int, int] | str:
    """Where ``words`` are in ``t``'s body when they occur exactly once, else what is wrong."""
    n = t.body.count(words)
    if n != 1:
        return (f"the words occur {n} times in {t.id}"
                + ("; copy them exactly from the transcript" if n == 0 else "; copy a longer passage so it occurs once"))
    start = t.body.index(words)
    return start, start + len(words)


def _added_row(where: str, tid: str, words: str, code_id: str, decision: str, by_id, cb, coder: str, quote: bool,
               memo: str, problems: list[str], names: Mapping[str, str], lang: str) -> Coding | None:
    """A manual coding from a row the researcher added: transcript id, the exact words of the
    transcript to code, and the code (code_id, or a decision 'change to <code id>')."""
    if decision:
        parsed = _decision(decision, cb, lang)
        if isinstance(parsed, str):
            problems.append(f"{where}: {parsed}")
            return None
        if parsed[0] in ("reject", "drop"):
            problems.append(f"{where}: an added row (no {names['start']}/{names['end']}) adds a coding; "
                            f"'{decision}' has nothing to {parsed[0]}")
            return None
        if parsed[0] == "change":
            code_id = parsed[1]
    t = by_id.get(tid)
    if t is None:
        problems.append(f"{where}: added row: unknown transcript id '{tid}'")
        return None
    if not code_id:
        problems.append(f"{where}: added row: give the code in {names['code_id']} (or {names['decision']} "
                        f"'{i18n.CHANGE_WORD[lang]}<code id>')")
        return None
    if code_id not in cb.codes or not cb.codes[code_id].codable:
        problems.append(f"{where}: added row: '{code_id}' is not a codable code of the codebook")
        return None
    words = words.strip()
    if not words:
        problems.append(f"{where}: added row: copy the words to code into the {names['segment']} cell")
        return None
    span = _words_at(t, words)
    if isinstance(span, str):
        problems.append(f"{where}: added row: {span}")
        return None
    return Coding(tid, span[0], span[1], words, code_id, "manual", coder, quote=quote, memo=memo)


def _cell_int(value, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, float)) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError


def _review_sheet(names: Sequence[str]) -> str | None:
    """The review sheet of a workbook: the Japanese or the English name."""
    for lang in i18n.LANGS:
        if i18n.SHEETS[lang]["review"] in names:
            return i18n.SHEETS[lang]["review"]
    return None


def read_review_xlsx(p: Project, path: Path | str, *, coder: str) -> ReviewImport:
    """Read a filled review sheet into decision rows for ``coder``. Empty decisions stay pending.

    Rows marked in the check column are ``coder``'s decisions to look at again: ``drop`` removes
    one (``res.drop``); a decision on a re-check row goes on its re-attached span; a decision on a
    stale row goes on the words written in its segment cell (found exactly once) and drops it.

    The sheet may be in either language (sheet and column names, decision words), and the words
    of both languages are read in any sheet. A malformed sheet is refused whole:
    :class:`StoreError` lists every bad row as ``FILE: row N: what is wrong``, and nothing is
    written.
    """
    import openpyxl

    check_coder(coder)
    path = Path(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise StoreError(f"{path}: not found") from None
    except Exception as e:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        raise StoreError(f"{path}: not an Excel workbook (.xlsx): {e}") from None
    try:
        sheet = _review_sheet(wb.sheetnames)
        if sheet is None:
            wanted = " or ".join(f"'{i18n.SHEETS[x]['review']}'" for x in i18n.LANGS)
            raise StoreError(f"{path}: no sheet {wanted} (sheets: {', '.join(wb.sheetnames)}); export one with: "
                             "python cli.py export review")
        rows = list(wb[sheet].iter_rows(values_only=True))
    finally:
        wb.close()
    lang = "ja" if sheet == i18n.SHEETS["ja"]["review"] else "en"
    names = i18n.COLUMN_NAMES[lang]
    if not rows:
        raise StoreError(f"{path}: sheet '{sheet}' row 1: no header")
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    col: dict[str, int] = {}
    for i, h in enumerate(header):
        name = i18n.column_of(h)
        if name is not None and name not in col:
            col[name] = i
    missing = [c for c in REQUIRED if c not in col]
    if missing:
        raise StoreError(f"{path}: sheet '{sheet}' row 1: missing column(s) {', '.join(names[c] for c in missing)}; the "
                         f"header must keep the exported names ({', '.join(names[c] for c in REQUIRED)})")
    cb = p.codebook
    by_id = p.by_id
    store = p.store()
    sugg = {s.key for s in store.suggestions}
    # the coder's decisions a row marked in the check column may settle
    again = [r for r in store.anchored(by_id) if r.coder == coder and r.anchor in ("recheck", "stale")]
    res = ReviewImport()
    problems: list[str] = []
    seen: dict[tuple, int] = {}
    for rowno, values in enumerate(rows[1:], start=2):
        get = lambda name: values[col[name]] if name in col and col[name] < len(values) else None  # noqa: E731
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        where = f"{path}: row {rowno}"
        raw = get("decision")
        decision = "" if raw is None else str(raw).strip()
        tid = str(get("transcript_id") or "").strip()
        code_id = str(get("code_id") or "").strip()
        text = "" if get("segment") is None else str(get("segment"))
        quote_cell = get("quote")
        quote = str(quote_cell).strip().lower() in i18n.YES_WORDS if quote_cell is not None else False
        memo = "" if get("memo") is None else str(get("memo"))
        check = i18n.check_kind("" if get("check") is None else str(get("check")))
        if _blank(get("start")) and _blank(get("end")):  # a row the researcher added: a code the tagger missed
            added = _added_row(where, tid, text, code_id, decision, by_id, cb, coder, quote, memo, problems, names, lang)
            if added is not None:
                key = added.key
                if key in seen:
                    problems.append(f"{where}: the same words and code as row {seen[key]}")
                    continue
                seen[key] = rowno
                res.rows.append(added)
                res.manual += 1
            continue
        if not decision:
            res.pending += 1
            continue
        try:
            start, end = _cell_int(get("start"), "start"), _cell_int(get("end"), "end")
        except ValueError:
            problems.append(f"{where}: {names['start']}/{names['end']} must be whole numbers (got '{get('start')}', "
                            f"'{get('end')}'); leave both empty in a row you add for a code the tagger missed")
            continue
        parsed = _decision(decision, cb, lang, check=check is not None)
        if isinstance(parsed, str):
            problems.append(f"{where}: {parsed}")
            continue
        action, to = parsed
        if action == "drop" and check is None:
            problems.append(f"{where}: '{decision}' drops a decision to re-check or a stale one (a row marked in "
                            f"{names['check']}); this row is a suggestion: leave {names['decision']} empty to decide "
                            f"later, or choose '{i18n.REJECT_WORD[lang]}'")
            continue
        if check == "stale":
            _stale_row(where, rowno, tid, start, end, text, code_id, action, to, quote, memo, coder=coder, by_id=by_id,
                       cb=cb, again=again, suggested=sugg, seen=seen, res=res, problems=problems, names=names, lang=lang)
            continue
        probe = Coding(tid, start, end, text, code_id, "accepted", coder, row=rowno)
        bad = validate_against([probe], by_id, cb.codes, str(path))
        if bad:
            problems.extend(bad)
            continue
        if not text:
            problems.append(f"{where}: the {names['segment']} cell is empty; it must keep the exported text")
            continue
        key = (tid, start, end, code_id)
        if key in seen:
            problems.append(f"{where}: the same segment and code as row {seen[key]}")
            continue
        seen[key] = rowno
        anchored = reanchor(probe, by_id[tid])
        if action == "drop":  # a decision to re-check, found where it was re-attached to
            now = (tid, anchored.start, anchored.end, code_id)
            target = next((r for r in again if r.anchor == "recheck" and r.key == now), None)
            if target is None:
                problems.append(f"{where}: {coder} has no decision to re-check on {code_id} at {start}..{end} "
                                "(settled or dropped since the sheet was written, or the sheet is another coder's)")
                continue
            res.drop.append(target.key)
            res.dropped += 1
            continue
        res.rows.extend(decision_rows(action, transcript=by_id[tid], start=anchored.start, end=anchored.end, code_id=code_id,
                                      coder=coder, suggested=sugg, to=to, quote=quote, memo=memo))
        if action == "accept":
            res.accepted += 1
        elif action == "reject":
            res.rejected += 1
        else:
            res.changed += 1
    if problems:
        raise StoreError(f"{path}: {len(problems)} bad row(s); nothing was imported", problems)
    return res


def _stale_row(where: str, rowno: int, tid: str, start: int, end: int, text: str, code_id: str, action: str,
               to: str | None, quote: bool, memo: str, *, coder: str, by_id: Mapping[str, Transcript], cb,
               again: Sequence[Coding], suggested: set, seen: dict, res: ReviewImport, problems: list[str],
               names: Mapping[str, str], lang: str) -> None:
    """A row of a decision whose passage is gone: dropped, or decided on the words the researcher
    wrote in the segment cell as they now read (found exactly once, like an added row's), which
    re-attaches it there."""
    t = by_id.get(tid)
    if t is None:
        problems.append(f"{where}: unknown transcript id '{tid}'")
        return
    if code_id not in cb.codes:
        problems.append(f"{where}: unknown code id '{code_id}'")
        return
    key = (tid, start, end, code_id)
    target = next((r for r in again if r.anchor == "stale" and r.key == key), None)
    if target is None:
        problems.append(f"{where}: {coder} has no decision on {code_id} at {start}..{end} whose passage is gone "
                        "(re-attached, dropped or found again since the sheet was written, or the sheet is another coder's)")
        return
    if key in seen:
        problems.append(f"{where}: the same segment and code as row {seen[key]}")
        return
    seen[key] = rowno
    if action == "drop":
        res.drop.append(key)
        res.dropped += 1
        return
    words = text.strip()
    if not words or words == target.text.strip():
        problems.append(f"{where}: the passage is gone from {tid}: write the words as they now read in the transcript "
                        f"in {names['segment']} (copied so they occur once), or choose '{i18n.DROP_WORD[lang]}'")
        return
    span = _words_at(t, words)
    if isinstance(span, str):
        problems.append(f"{where}: passage gone, re-attached to {names['segment']}: {span}")
        return
    if (tid, *span, code_id) in seen:
        problems.append(f"{where}: the same segment and code as row {seen[(tid, *span, code_id)]}")
        return
    seen[(tid, *span, code_id)] = rowno
    res.rows.extend(decision_rows(action, transcript=t, start=span[0], end=span[1], code_id=code_id, coder=coder,
                                  suggested=suggested, to=to, quote=quote, memo=memo))
    res.drop.append(key)
    res.reattached += 1


def import_review(p: Project, path: Path | str, *, coder: str) -> ReviewImport:
    """Apply a filled review sheet: decisions for ``coder`` are merged, the ones dropped removed,
    and the file saved atomically."""
    res = read_review_xlsx(p, path, coder=coder)
    before = {r.key: r for r in Store.open(p.root).decisions.get(coder, [])}
    res.path = save_decisions(p, coder, res.rows, drop=res.drop)
    for r in res.rows:
        old = before.get(r.key)
        if old is None:
            res.added += 1
        elif (old.status, old.quote, old.memo) != (r.status, r.quote, r.memo):
            res.updated += 1
    return res


@dataclass(frozen=True)
class ReviewExport:
    path: Path
    items: int
    no_suggestions: bool  # nothing to review because `code` has not been run
    checks: int = 0  # the coder's decisions to re-check or whose passage is gone, listed first


def export_review(p: Project, output: Path | str, *, coder: str | None = None, compare: Sequence[str] = (),
                  transcripts: Sequence[str] | None = None, sort: str = "score", lang: str | None = None) -> ReviewExport:
    """Write the review workbook of ``coder``'s pending suggestions (or of two coders'
    disagreements, ``compare``) to ``output``, in ``lang`` (default: the codebook's). With a
    coder and no ``compare`` the sheet lists first that coder's decisions to look at again
    (:func:`check_items`), marked in its check column."""
    if compare:
        p.check_coders(compare)
    unknown = [t for t in transcripts or () if t not in p.by_id]
    if unknown:
        raise StoreError(f"unknown transcript id(s): {', '.join(unknown)}")
    chosen = list(transcripts) if transcripts else None
    items = review_items(p, coder=coder, compare=tuple(compare), transcripts=chosen, sort=sort)
    checks = check_items(p, coder, transcripts=chosen) if coder and not compare else []
    atomic_write_bytes(Path(output), write_review_xlsx(p, checks + items, compare=tuple(compare), lang=lang,
                                                       check=bool(coder) and not compare))
    return ReviewExport(Path(output), len(items), not items and not checks and not compare and not p.store().suggestions,
                        len(checks))


# ---------------------------------------------------------------- the review page (serve)
class ReviewSession:
    """The state behind the local review page: one coder, the project's transcripts, and the
    decisions on disk (re-read for every request, so other tools' writes are never lost)."""

    def __init__(self, root: Path | str, coder: str, *, compare: Sequence[str] = (), sort: str = "score",
                 lang: str | None = None):
        import secrets
        import threading

        self.root = Path(root)
        self.coder = check_coder(coder)
        self.compare = tuple(compare)
        if sort not in ("score", "position"):
            raise StoreError(f"unknown review order '{sort}' (score or position)")
        self.sort = sort  # the page's initial order of codings within a transcript (o toggles it)
        self.p = Project.open(self.root)
        self.lang = i18n.resolve(lang, self.p.codebook.settings.lang)
        self.lock = threading.Lock()
        self.token = secrets.token_urlsafe(24)

    def _items(self, store: Store, by_id: Mapping[str, Transcript]) -> dict[str, list[dict]]:
        anchored = [r for r in store.anchored(by_id) if r.anchor != "stale" and r.transcript_id in by_id]
        mine = {r.key: r for r in anchored if r.coder == self.coder}
        others: dict[tuple, dict[str, str]] = {}
        for r in anchored:
            if r.coder in self.compare and r.coder != self.coder:
                others.setdefault(r.key, {})[r.coder] = r.status
        sugg = {s.key: s for s in store.suggestions if s.transcript_id in by_id}
        keys = set(sugg) | set(mine) | {k for k, v in others.items() if any(s in ("accepted", "manual") for s in v.values())}
        out: dict[str, list[dict]] = {t: [] for t in by_id}
        for key in sorted(keys, key=lambda k: (k[1], k[2], k[3])):
            t, start, end, code = key
            s, d = sugg.get(key), mine.get(key)
            text = by_id[t].body[start:end]
            words, at = _matched(s)
            out[t].append({
                "start": start, "end": end, "code": code, "text": text,
                "status": d.status if d else "pending", "suggested": s is not None,
                "matched": list(words), "marks": [list(m) for m in matched_spans(text, words, at)],
                "score": s.score if s else None,
                "quote": bool(d and d.quote), "memo": d.memo if d else "", "others": others.get(key, {}),
                # re-attached after the words were edited inside: to confirm, reject or drop
                "recheck": bool(d and d.anchor == "recheck"), "was": d.was if d else "",
            })
        return out

    def _stale(self, store: Store, by_id: Mapping[str, Transcript]) -> dict[str, list[dict]]:
        """The coder's decisions whose passage is gone, by transcript, as written."""
        out: dict[str, list[dict]] = {t: [] for t in by_id}
        for r in store.anchored(by_id):
            if r.coder == self.coder and r.anchor == "stale" and r.transcript_id in by_id:
                out[r.transcript_id].append({"start": r.start, "end": r.end, "code": r.code_id, "text": r.text,
                                             "status": r.status, "quote": r.quote, "memo": r.memo})
        return out

    def state(self) -> dict:
        """Transcripts with their counts (pending suggestions, decisions to re-check, stale ones),
        and the codebook, for the page's first load."""
        store = Store.open(self.root)
        by_id = self.p.by_id
        items, stale = self._items(store, by_id), self._stale(store, by_id)
        cb = self.p.codebook
        return {
            "coder": self.coder, "compare": list(self.compare),
            "file": f"codings/{self.coder}.csv",
            "transcripts": [{"id": t.id, "org": t.attributes.get("org", ""), "region": t.attributes.get("region", ""),
                             "items": len(items[t.id]), "pending": sum(1 for i in items[t.id] if i["status"] == "pending"),
                             "recheck": sum(1 for i in items[t.id] if i["recheck"]), "stale": len(stale[t.id])}
                            for t in self.p.transcripts],
            "codes": [{"id": c.id, "label": c.label, "kind": c.kind, "definition": c.definition, "codable": c.codable,
                       "parent": c.parent or "", "phrases": code_phrases(c)} for c in cb.codes.values()],
        }

    def transcript(self, tid: str) -> dict:
        t = self.p.by_id.get(tid)
        if t is None:
            raise StoreError(f"unknown transcript id '{tid}'")
        store = Store.open(self.root)
        by_id = {tid: t}
        items = self._items(store, by_id)[tid]
        return {
            "id": t.id, "org": t.attributes.get("org", ""), "attributes": dict(t.attributes), "body": t.body,
            "paragraphs": [{"start": p.start, "end": p.end, "speaker": p.speaker or ""} for p in t.paragraphs],
            "segments": [[s.start, s.end] for s in t.segments()],
            "items": items, "pending": sum(1 for i in items if i["status"] == "pending"),
            "recheck": sum(1 for i in items if i["recheck"]), "stale": self._stale(store, by_id)[tid],
        }

    def decide(self, req: Mapping) -> dict:
        """Apply one action from the page and save it at once; returns the transcript afresh.

        Besides accept, reject, change, add, quote and memo on a span: ``drop`` removes the
        coder's decision to re-check (at the span it was re-attached to) or stale decision (at the
        span it was written with); ``reattach`` puts a stale decision — its status, quote and memo
        — on the span ``to_start``..``to_end`` and drops it."""
        cb = self.p.codebook
        tid = str(req.get("transcript_id", ""))
        t = self.p.by_id.get(tid)
        if t is None:
            raise StoreError(f"unknown transcript id '{tid}'")
        start, end = _span(req, "start", "end")
        code = str(req.get("code_id", ""))
        action = str(req.get("action", ""))
        to = req.get("to")
        # a stale decision keeps the offsets it was written with, which may lie beyond the text now
        if action not in ("drop", "reattach") and not 0 <= start < end <= len(t.body):
            raise StoreError(f"{tid}: span {start}..{end} is outside the text ({len(t.body)} characters)")
        target = None
        if action == "reattach":
            target = _span(req, "to_start", "to_end")
            if not 0 <= target[0] < target[1] <= len(t.body):
                raise StoreError(f"{tid}: span {target[0]}..{target[1]} is outside the text ({len(t.body)} characters)")
        named = (code, to) if action == "change" else () if action == "drop" else (code,)  # a code gone may be dropped
        for c in named:
            if c not in cb.codes:
                raise StoreError(f"unknown code id '{c}'")
            if not cb.codes[c].codable and action in ("add", "change", "accept"):
                raise StoreError(f"'{c}' is a group, not a codable code")
        drop: list[tuple[str, int, int, str]] = []
        with self.lock:
            store = Store.open(self.root)
            sugg = {s.key for s in store.suggestions}
            anchored = [r for r in store.anchored(self.p.by_id) if r.coder == self.coder]
            mine = {r.key: r for r in anchored if r.anchor != "stale"}
            current = mine.get((tid, start, end, code))
            if action in ("drop", "reattach"):
                gone = self._again(anchored, mine, (tid, start, end, code), action)
                drop = [gone.key]
                rows = [] if target is None else [
                    Coding(tid, target[0], target[1], t.body[target[0]:target[1]], code, gone.status, self.coder,
                           quote=gone.quote, memo=gone.memo)]
            elif action in ("quote", "memo"):
                if current is None:
                    raise StoreError("decide on the coding first (accept or add it), then mark a quote or write a memo")
                quote = (not current.quote) if action == "quote" else current.quote
                memo = str(req.get("memo", "")) if action == "memo" else current.memo
                rows = [replace(current, quote=quote, memo=memo, decided_at="")]
            elif action in ("accept", "reject", "change", "add"):
                rows = decision_rows(action, transcript=t, start=start, end=end, code_id=code, coder=self.coder,
                                     suggested=sugg, to=to, quote=bool(current and current.quote),
                                     memo=current.memo if current else "")
            else:
                raise StoreError(f"unknown action '{action}'")
            # the project is locked only while writing: the page runs beside other commands
            with ProjectLock(self.root, what=f"serve: saving {self.coder}'s decision", wait=30.0):
                path = save_decisions(self.p, self.coder, rows, drop=drop)
        out = self.transcript(tid)
        out["saved"] = {"file": str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path),
                        "rows": [{"code": r.code_id, "status": r.status, "quote": r.quote} for r in rows],
                        "dropped": [{"code": k[3], "start": k[1], "end": k[2]} for k in drop]}
        return out

    def _again(self, anchored: Sequence[Coding], mine: Mapping[tuple, Coding], key: tuple[str, int, int, str],
               action: str) -> Coding:
        """The decision a ``drop`` or ``reattach`` request names: the coder's stale decision at
        ``key`` (as written), or for ``drop`` also one to re-check (where it was re-attached)."""
        kinds = ("stale", "recheck") if action == "drop" else ("stale",)
        for r in anchored:
            if r.key == key and r.anchor in kinds:
                return r
        tid, start, end, code = key
        what = "decision to re-check or whose passage is gone" if action == "drop" else "decision whose passage is gone"
        if key in mine:
            how = "reject it instead" if action == "drop" else "decide on it where it is"
            raise StoreError(f"{self.coder}'s decision on {code} at {tid} {start}..{end} is not a {what}: only such a "
                             f"decision can be {'dropped' if action == 'drop' else 're-attached'} ({how})")
        raise StoreError(f"{self.coder} has no {what} on {code} at {tid} {start}..{end}")


def _span(req: Mapping, a: str, b: str) -> tuple[int, int]:
    """Two offsets of a request, as integers."""
    try:
        return int(req[a]), int(req[b])
    except (KeyError, TypeError, ValueError):
        raise StoreError(f"{a} and {b} must be integers") from None


def code_phrases(code) -> list[str]:
    """The phrases a code's patterns look for (outside ``none``), once each, as written: the code
    picker finds a code by them (料率 finds the challenge whose rule looks for it)."""
    out: dict[str, None] = {}
    for pat in code.patterns:
        for ph in pat.rule.phrases(positive=True):
            ph = ph[len(SURFACE):] if ph.startswith(SURFACE) else ph
            if ph:
                out[ph] = None
    return list(out)


FONT_PATH = "/font/ipaexg.ttf"  # the bundled Japanese font, served to the page as its last fallback


def review_page(session: ReviewSession) -> bytes:
    """The review page in the session's language, with its token."""
    import html as _html

    page = (Path(__file__).with_name("data") / "review.html").read_text(encoding="utf-8")
    text = i18n.page_text(session.lang)
    config = {"coder": session.coder, "sort": session.sort, "lang": session.lang, "text": text}
    # </script> inside a coder's name or a string must not end the page's script
    config_json = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    face = ""
    if bundled_font() is not None:  # fetched only when a character falls through to it
        face = (f"@font-face {{ font-family: '{FONT_FAMILY}'; src: url('{FONT_PATH}?token={session.token}') "
                "format('truetype'); font-display: block; }")
    return (page.replace("__LANG__", session.lang)
            .replace("__FONTFACE__", face)
            .replace("__FONTS__", FONT_STACK)
            .replace("__TOKEN__", session.token)
            .replace("__TITLE__", _html.escape(f"{text['title']} · {session.coder}"))
            .replace("__CONFIG__", config_json)).encode("utf-8")


MAX_BODY = 2 << 20  # a decision request is a few hundred bytes; a long manual coding or memo fits easily


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a decision can carry")


def make_server(root: Path | str, coder: str, *, port: int = 8765, compare: Sequence[str] = (), sort: str = "score",
                lang: str | None = None, log=None):
    """A review server on 127.0.0.1 only (port 0: any free port).

    Every request, the page included, needs the session's token (in the address printed in the
    terminal, ``server.url``, then in a header): another account on a shared machine can reach
    the port but not read the transcripts or send decisions. A loopback Host header is required
    too (DNS rebinding), and the page may not be framed. Request bodies are bounded and checked;
    every bad request gets an answer. Call ``serve_forever()``; ``server.session`` is the state.
    """
    import hmac
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, unquote, urlsplit

    session = ReviewSession(root, coder, compare=compare, sort=sort, lang=lang)

    class Handler(BaseHTTPRequestHandler):
        server_version = "review/1"

        def log_message(self, fmt, *args):  # quiet unless asked
            if log:
                log(fmt % args)

        def _send(self, status: int, body: bytes, ctype: str = "application/json; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("Content-Security-Policy", "frame-ancestors 'none'")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj) -> None:
            self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"))

        def _allowed(self, token: str | None) -> bool:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
            if host not in ("127.0.0.1", "localhost", "::1"):
                self._json(403, {"error": "this page answers on 127.0.0.1 only"})
                return False
            if not token or not hmac.compare_digest(token.encode("utf-8", "replace"), session.token.encode()):
                self._json(403, {"error": "missing or wrong token: open the address printed in the terminal"})
                return False
            return True

        def do_GET(self):  # noqa: N802
            url = urlsplit(self.path)
            api = url.path.startswith("/api/")
            token = self.headers.get("X-Review-Token") if api else (parse_qs(url.query).get("token") or [None])[0]
            if not self._allowed(token):
                return
            try:
                if url.path == "/":
                    self._send(200, review_page(session), "text/html; charset=utf-8")
                elif url.path == FONT_PATH and bundled_font() is not None:
                    self._send(200, bundled_font().read_bytes(), "font/ttf")
                elif url.path == "/api/state":
                    self._json(200, session.state())
                elif url.path.startswith("/api/transcript/"):
                    self._json(200, session.transcript(unquote(url.path[len("/api/transcript/"):])))
                else:
                    self._json(404, {"error": "not found"})
            except CodingError as e:
                self._json(400, {"error": str(e)})

        def do_POST(self):  # noqa: N802
            path = urlsplit(self.path).path
            if not self._allowed(self.headers.get("X-Review-Token")):
                return
            if path != "/api/decide":
                self._json(404, {"error": "not found"})
                return
            try:
                length = int(self.headers.get("Content-Length") or "")
            except ValueError:
                self._json(411, {"error": "a Content-Length header with the body's size is required"})
                return
            if not 0 < length <= MAX_BODY:
                self.close_connection = True
                self._json(413, {"error": f"the request body must be 1 to {MAX_BODY} bytes"})
                return
            try:
                req = json.loads(self.rfile.read(length).decode("utf-8"), parse_constant=_no_constant)
                if not isinstance(req, dict):
                    raise ValueError
            except (ValueError, UnicodeDecodeError, RecursionError):
                self._json(400, {"error": "the request is not a JSON object"})
                return
            try:
                self._json(200, session.decide(req))
            except CodingError as e:
                self._json(400, {"error": str(e)})
            except (TypeError, ValueError, OverflowError, RecursionError) as e:
                self._json(400, {"error": f"bad request: {e}"})

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # many quick saves at once are queued, not reset
        daemon_threads = True

    server = Server(("127.0.0.1", port), Handler)
    server.session = session  # type: ignore[attr-defined]
    server.url = f"http://127.0.0.1:{server.server_address[1]}/?token={session.token}"  # type: ignore[attr-defined]
    return server
