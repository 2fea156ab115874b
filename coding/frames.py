"""The project as pandas DataFrames, for notebooks (docs/notebook.md has a worked example).

    from coding import frames
    p = frames.open_project("path/to/study")
    codings = frames.codings_frame(p)                 # one row per confirmed coding
    frames.crosstab_frame(p, "kind")                  # codes × kind, organisations with the code
    frames.tables_frames(p)["図表34"]                  # any table of the study

Every function takes an opened :class:`coding.project.Project` and returns a new DataFrame
(nothing is cached, nothing written; parses come from the project's cache). Columns are named as
in docs/formats.md. The frames carry the notes' raw text: working data, not a published output.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Sequence

from .aggregate import Corpus
from .crosstab import counts_frame, crosstab
from .export import table_rows
from .kwic import COLUMNS as KWIC_COLUMNS
from .kwic import project_kwic
from .project import Project, confirmed_codings, project_tables
from .words import project_words


def open_project(root: Path | str = ".") -> Project:
    """Open (and validate) a project folder."""
    return Project.open(root)


def cases_frame(p: Project):
    """One row per transcript (interview), indexed by its id: every front-matter key (the case
    variables), in transcript order."""
    import pandas as pd

    keys = list(dict.fromkeys(k for t in p.transcripts for k in t.attributes))
    df = pd.DataFrame([[t.attributes.get(k) for k in keys] for t in p.transcripts], columns=keys)
    return df.set_index("id", drop=False).rename_axis("transcript_id")


def _with_codes(p: Project, df):
    cb = p.codebook
    df["code_label"] = [cb[c].label if c in cb else "" for c in df["code_id"]]
    df["code_kind"] = [cb[c].kind if c in cb else "" for c in df["code_id"]]
    df["code_ref"] = [cb.effective_ref(c) for c in df["code_id"]]
    cases = {t.id: t for t in p.transcripts}
    for key in ("org", "region", "kind"):
        df[key] = [cases[t].attributes.get(key, "") if t in cases else "" for t in df["transcript_id"]]
    return df


CODING_COLUMNS = ["transcript_id", "start", "end", "text", "code_id", "status", "coder", "quote", "memo", "decided_at"]


def codings_frame(p: Project, *, coders: Sequence[str] | None = None, include_suggested: bool = False, confirmed: bool = True):
    """Codings with their code's label, kind and ref and the organisation's org, region and kind.

    ``confirmed`` (default): what the tables use — accepted and manual decisions of ``coders``
    (every person when None), plus unreviewed suggestions with ``include_suggested``; otherwise
    every suggestion and every decision, with ``anchor`` (ok / moved / stale)."""
    import pandas as pd

    if confirmed:
        rows = confirmed_codings(p, coders=coders, include_suggested=include_suggested)
    else:
        rows = p.store().all_rows(p.by_id)
        if coders:
            rows = [r for r in rows if r.coder in coders]
    cols = CODING_COLUMNS + ([] if confirmed else ["anchor", "score", "pattern"])
    df = pd.DataFrame([[getattr(r, c) for c in cols] for r in rows], columns=cols)
    return _with_codes(p, df)


def suggestions_frame(p: Project):
    """The tagger's suggestions nobody has decided on yet, with ``score``, the ``pattern`` that
    made each one and the ``matched`` words (run ``code`` first)."""
    import pandas as pd

    cols = ["transcript_id", "start", "end", "text", "code_id", "score", "pattern", "matched"]
    rows = p.store().pending(p.by_id)
    return _with_codes(p, pd.DataFrame([[getattr(r, c) for c in cols] for r in rows], columns=cols))


def segments_frame(p: Project):
    """Every sentence segment: transcript, paragraph (1-based), speaker, offsets and text."""
    import pandas as pd

    rows = []
    for t in p.transcripts:
        speaker = {para.index: para.speaker or "" for para in t.paragraphs}
        rows += [(t.id, s.paragraph + 1, speaker.get(s.paragraph, ""), s.start, s.end, s.text) for s in t.segments()]
    return pd.DataFrame(rows, columns=["transcript_id", "paragraph", "speaker", "start", "end", "text"])


def crosstab_frame(p: Project, variable: str, *, codes: Sequence[str] | None = None,
                   unit: Literal["transcript", "segment"] = "transcript", coders: Sequence[str] | None = None,
                   include_suggested: bool = False, stats: bool = False):
    """Codes (rows) × the values of ``variable`` (columns): organisations with the code (or, with
    ``unit="segment"``, codings). ``stats=True`` adds the columns total, chi2, p, fisher_p and
    warning of :func:`coding.crosstab.crosstab`."""
    import pandas as pd

    corpus = Corpus(p.transcripts, p.codebook, confirmed_codings(p, coders=coders, include_suggested=include_suggested))
    table, _ = counts_frame(corpus, variable, codes=codes, unit=unit)
    if not stats:
        return table
    ct = crosstab(corpus, variable, codes=codes, unit=unit)
    extra = pd.DataFrame([{k: r[k] for k in ("total", "chi2", "p", "fisher_p", "warning")} for r in ct["rows"]],
                         index=pd.Index([r["code_id"] for r in ct["rows"]], name="code_id"))
    return table.join(extra)


def tables_frames(p: Project, *, coders: Sequence[str] | None = None, include_suggested: bool = False) -> dict:
    """Every table of the study as a DataFrame, keyed by the name the Markdown export gives it
    (a table's id and title; a roster per region)."""
    import pandas as pd

    tables = project_tables(p, coders=coders, include_suggested=include_suggested)
    return {name: pd.DataFrame(rows, columns=header) for name, (header, rows) in table_rows(tables).items()}


def kwic_frame(p: Project, words: Sequence[str], **options):
    """The concordance of ``words`` (options as :func:`coding.kwic.project_kwic`)."""
    import pandas as pd

    res = project_kwic(p, words, **options)
    return pd.DataFrame([[getattr(l, c) if c != "codes" else " ".join(l.codes) for c in KWIC_COLUMNS] for l in res.lines],
                        columns=KWIC_COLUMNS)


def words_frame(p: Project, **options):
    """Word frequencies (options as :func:`coding.words.project_words`): word, norm, pos, count,
    docs, then with ``by=`` a count column per value."""
    import pandas as pd

    wt = project_words(p, **options)
    rows = [{"word": r.word, "norm": r.norm, "pos": r.pos, "count": r.count, "docs": r.docs, **{f"count:{v}": r.by[v] for v in wt.values}}
            for r in wt.rows]
    return pd.DataFrame(rows, columns=["word", "norm", "pos", "count", "docs"] + [f"count:{v}" for v in wt.values])
