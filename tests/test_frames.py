"""The pandas API (coding/frames.py): frames agree with the library's own results, and the session
in docs/notebook.md runs and prints what it shows."""
from __future__ import annotations

import contextlib
import io
import os
import re

import pytest

from coding import frames
from coding.aggregate import Corpus
from coding.crosstab import crosstab
from coding.project import confirmed_codings
from coding.store import Coding, record_decisions

from conftest import ROOT


@pytest.fixture
def study(project, write):
    write("a.md", "A: 共願が多い。\n\nQ: 展示会は？\n\nA: 展示会に出る。料率も低い。\n", id="JP-A")
    write("b.md", "A: 共願が多い。\n", id="JP-B", kind="私立大", attribute="私立大", date="2025-10-02")
    write("c.md", "A: 特にない。\n", id="JP-C", kind="私立大", attribute="私立大", date="2025-10-03")
    p = frames.open_project(project)
    rows = [Coding(t, 3, 9, "共願が多い。", "課題⑤", "manual", "hanako") for t in ("JP-A", "JP-B")]
    rows.append(Coding("JP-A", 24, 31, "展示会に出る。", "P1", "accepted", "hanako", quote=True))
    record_decisions(project, "hanako", rows, p.by_id)
    return frames.open_project(project)


def test_codings_frame_joins_codes_and_cases(study):
    df = frames.codings_frame(study)
    assert list(df.columns) == frames.CODING_COLUMNS + ["code_label", "code_kind", "code_ref", "org", "region", "kind"]
    assert df[["transcript_id", "code_id", "code_kind", "kind", "quote"]].values.tolist() == [
        ["JP-A", "課題⑤", "challenge", "国立大", False], ["JP-A", "P1", "practice", "国立大", True],
        ["JP-B", "課題⑤", "challenge", "私立大", False]]
    assert len(df) == len(confirmed_codings(study))


def test_crosstab_frame_is_the_crosstab(study):
    df = frames.crosstab_frame(study, "kind", codes=["課題⑤", "P1"], stats=True)
    ct = crosstab(Corpus(study.transcripts, study.codebook, confirmed_codings(study)), "kind", codes=["課題⑤", "P1"])
    for row in ct["rows"]:
        assert df.loc[row["code_id"], ct["values"]].to_dict() == row["counts"]
        assert df.loc[row["code_id"], "chi2"] == row["chi2"] and df.loc[row["code_id"], "warning"] == row["warning"]
    assert df.loc["課題⑤", ["国立大", "私立大", "total"]].tolist() == [1, 1, 2]


def test_segments_cases_tables_kwic_words(study):
    seg = frames.segments_frame(study)
    assert len(seg) == sum(len(t.segments()) for t in study.transcripts) == 6
    assert seg[seg.transcript_id == "JP-A"][["paragraph", "speaker", "text"]].values.tolist()[1] == [2, "Q", "展示会は？"]
    cases = frames.cases_frame(study)
    assert cases.index.tolist() == ["JP-A", "JP-B", "JP-C"] and cases.loc["JP-B", "kind"] == "私立大"
    tables = frames.tables_frames(study)
    challenges = next(df for name, df in tables.items() if "課題" in name and "ヒアリング調査の結果" in df.columns)
    assert challenges.columns.tolist()[:3] == ["プロセス", "課題", "ヒアリング調査の結果"]
    kw = frames.kwic_frame(study, ["展示会"], interviewer=True)
    assert kw[["transcript_id", "speaker", "match"]].values.tolist() == [["JP-A", "Q", "展示会"], ["JP-A", "A", "展示会"]]
    words = frames.words_frame(study, by="kind")
    assert (words["count"] == words["count:国立大"] + words["count:私立大"]).all()


def test_the_notebook_session_runs_and_prints_what_it_shows(monkeypatch):
    """Every ```python block of docs/notebook.md, run in order in the repository root; the numbers
    the page shows after a block must be what the block gives."""
    text = (ROOT / "docs" / "notebook.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```(?:\n```\n(.*?)```)?", text, flags=re.S)
    assert len(blocks) >= 8
    monkeypatch.chdir(ROOT)
    env: dict = {}
    for code, shown in blocks:
        *body, last = [line for line in code.strip().splitlines()]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec("\n".join(body), env)
            try:
                value = eval(last, env)
            except SyntaxError:
                exec(last, env)
                value = None
        if shown and value is not None:
            numbers = re.findall(r"\d+(?:\.\d+)?", shown)
            got = re.findall(r"\d+(?:\.\d+)?", str(value))
            assert numbers == got[:len(numbers)], (last, shown)
    assert os.getcwd() == str(ROOT)
