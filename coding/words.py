"""Word frequencies (KH Coder's 抽出語リスト): how often each content word occurs in the notes,
in how many interviews (document frequency), overall and per value of a case variable.

A word is a token's Sudachi-normalised form (ロイヤリティ and ロイヤルティ count as one word; it is
shown in the dictionary form most often written), kept
when its universal POS is one of ``pos`` (nouns, proper nouns, verbs, adjectives by default) and it
is not a stop word (matched on the dictionary and the normalised form: ある stops 有る) nor a suffix,
counter or numeral (Sudachi's 接尾辞, 助数詞, 数詞 tags). The parses come from the project's parse cache, as for the concordance. Only
the organisation's words count unless ``interviewer`` is set (the interviewer's turns and the
memos the tagger skips). Counts add up: a word's count is the sum of its counts per value.

Like the concordance, the list is a working view of the notes (nothing is masked); the chart of it
(``python cli.py chart words``) is published and passes the anonymity guard.
"""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .errors import OptionError
from .nlp import DocCache, iter_parsed
from .project import Project, confirmed_codings
from .subset import Spans, parse_where, select, with_descendants
from .tagger import Tagger
from .transcripts import Transcript

DEFAULT_POS = ("NOUN", "PROPN", "VERB", "ADJ")
# Words that occur in nearly every answer and say little about its topic (KH Coder's 使用しない語).
DEFAULT_STOP = ("する", "ある", "いる", "なる", "れる", "られる", "できる", "思う", "言う", "いう", "考える", "こと", "もの",
                "よう", "ため", "ところ", "それ", "これ", "そこ", "ここ", "方", "中", "的", "等", "場合", "ない", "無い",
                "おる", "くる", "いく", "行く", "来る", "見る", "みる", "もらう", "くれる", "やる", "つく", "出る", "持つ")
# Sudachi tags of words that only count or attach to another word (ごと, 件, 年, 3): never content words.
SKIP_TAGS = ("接尾辞", "助数詞", "数詞")
FORMATS = ("md", "csv", "json")


@dataclass(frozen=True)
class WordRow:
    word: str  # the dictionary form most often written
    norm: str  # Sudachi's normalised form: the word's identity (ロイヤリティ = ロイヤルティ)
    pos: str  # the word's most frequent POS
    count: int
    docs: int  # interviews that contain it
    by: dict[str, int] = field(default_factory=dict)  # value → count
    docs_by: dict[str, int] = field(default_factory=dict)  # value → interviews


@dataclass(frozen=True)
class WordTable:
    rows: tuple[WordRow, ...]
    variable: str | None
    values: tuple[str, ...]
    tokens: int  # content words counted (before --top)
    transcripts: int
    transcripts_by: dict[str, int] = field(default_factory=dict)  # value → interviews


def count_words(transcripts: Iterable[tuple[Transcript, list]], *, variable: str | None = None,
                pos: Sequence[str] = DEFAULT_POS, stop: Iterable[str] = DEFAULT_STOP, top: int | None = None,
                skip=None, within: Spans | None = None) -> WordTable:
    """Frequencies of content words in ``(transcript, paragraph docs)`` pairs; ``variable``:
    the front-matter key whose values split the counts; ``within``: only tokens inside these
    passages; ``skip(paragraph)``: paragraphs to leave out."""
    pos_set, stop_set = set(pos), set(stop)
    count: Counter[str] = Counter()
    pos_of: dict[str, Counter[str]] = {}
    shown: dict[str, Counter[str]] = {}  # normalised form → its dictionary forms as written
    by: dict[str, Counter[str]] = {}
    docs: dict[str, set[str]] = {}
    docs_by: dict[str, dict[str, set[str]]] = {}
    values: dict[str, int] = {}
    n = 0
    for t, pdocs in transcripts:
        n += 1
        value = (str(t.attributes.get(variable, "")) or "(none)") if variable else ""
        values[value] = values.get(value, 0) + 1
        for para, doc in zip(t.paragraphs, pdocs):
            if skip is not None and skip(para):
                continue
            spans = within.overlaps(t.id, para.start, para.end) if within is not None else None
            if spans is not None and not spans:
                continue
            for tok in doc:
                if tok.pos_ not in pos_set or any(x in tok.tag_ for x in SKIP_TAGS):
                    continue
                w = tok.norm_
                if not w.strip() or w in stop_set or tok.lemma_ in stop_set:
                    continue
                if spans is not None:
                    a = para.start + tok.idx
                    if not any(s <= a and a + len(tok.text) <= e for s, e in spans):
                        continue
                count[w] += 1
                pos_of.setdefault(w, Counter())[tok.pos_] += 1
                shown.setdefault(w, Counter())[tok.lemma_] += 1
                docs.setdefault(w, set()).add(t.id)
                if variable:
                    by.setdefault(w, Counter())[value] += 1
                    docs_by.setdefault(w, {}).setdefault(value, set()).add(t.id)
    order = sorted(count, key=lambda w: (-count[w], -len(docs[w]), w))
    if top:
        order = order[:top]
    vals = tuple(values) if variable else ()
    rows = tuple(WordRow(shown[w].most_common(1)[0][0], w, pos_of[w].most_common(1)[0][0], count[w], len(docs[w]),
                         {v: by.get(w, Counter())[v] for v in vals},
                         {v: len(docs_by.get(w, {}).get(v, ())) for v in vals}) for w in order)
    return WordTable(rows, variable, vals, sum(count.values()), n, dict(values) if variable else {})


def project_words(p: Project, *, by: str | None = None, top: int | None = 50, where: Sequence[str] = (),
                  codes: Sequence[str] = (), pos: Sequence[str] = DEFAULT_POS, stop: Iterable[str] = DEFAULT_STOP,
                  interviewer: bool = False, coders: Sequence[str] | None = None, include_suggested: bool = False,
                  jobs: int = 1) -> WordTable:
    """The project's word frequencies (see :func:`count_words`), over the transcripts ``where``
    selects and, with ``codes``, inside the passages coded with them."""
    if top is not None and top < 1:
        raise OptionError("--top must be at least 1")
    chosen = select(p.transcripts, parse_where(where))
    if by and not any(by in t.attributes for t in chosen):
        raise OptionError(f"--by {by}: no transcript has the variable '{by}' "
                          f"(variables: {', '.join(sorted({k for t in p.transcripts for k in t.attributes}))})")
    within = None
    if codes:
        wanted = with_descendants(p.codebook, codes)
        within = Spans(c for c in confirmed_codings(p, coders=coders, include_suggested=include_suggested) if c.code_id in wanted)
    skipper = None if interviewer else Tagger(p.codebook, model=None).skipped
    docs = iter_parsed(chosen, p.nlp_settings(), DocCache(p.cache_dir / "nlp"), jobs=jobs, as_spacy=False)
    return count_words(docs, variable=by, pos=pos, stop=stop, top=top, skip=skipper, within=within)


def read_stop_words(path: Path | str) -> list[str]:
    """Stop words from a UTF-8 file, one a line (``#`` starts a comment line)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise OptionError(f"{path}: cannot read the stop words as UTF-8 text: {e}") from None
    return [w.strip() for w in text.splitlines() if w.strip() and not w.lstrip().startswith("#")]


# ---------------------------------------------------------------- renderers
def table_rows(wt: WordTable) -> tuple[list[str], list[list[str]]]:
    header = ["word", "pos", "count", "docs"]
    for v in wt.values:
        header += [f"{v} (n={wt.transcripts_by.get(v, 0)})", f"{v} docs"]
    rows = []
    for r in wt.rows:
        row = [r.word, r.pos, str(r.count), str(r.docs)]
        for v in wt.values:
            row += [str(r.by.get(v, 0)), str(r.docs_by.get(v, 0))]
        rows.append(row)
    return header, rows


def render(wt: WordTable, fmt: str = "md") -> str:
    """The table as Markdown, CSV or JSON."""
    if fmt == "json":
        return json.dumps({"variable": wt.variable, "values": list(wt.values), "tokens": wt.tokens,
                           "transcripts": wt.transcripts, "transcripts_by": wt.transcripts_by,
                           "rows": [asdict(r) for r in wt.rows]}, ensure_ascii=False, indent=2) + "\n"
    header, rows = table_rows(wt)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        return buf.getvalue()
    text = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
    text += "".join("| " + " | ".join(r) + " |\n" for r in rows)
    return text + (f"\n{wt.tokens} content words in {wt.transcripts} interview(s); count: occurrences, docs: interviews "
                   "that contain the word" + (f"; by {wt.variable}" if wt.variable else "") + ".\n")
