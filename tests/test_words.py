"""Word frequencies on hand-built notes: counts and document frequencies, per value adding up to the
total, POS and stop words, the interviewer's turns, coded passages, the command line."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import cli
from coding.project import Project
from coding.store import Coding, record_decisions
from coding.words import project_words


@pytest.fixture
def notes(project, write):
    write("a.md", "A: 特許の相談が多い。特許を出す。\n\nQ: 特許について。\n", id="JP-A")
    write("b.md", "A: 相談は少ない。ロイヤリティは低い。\n", id="JP-B", date="2025-10-02")
    write("c.md", "A: 特許の相談。ライセンスの相談。ロイヤルティも。\n", id="US-A", region="米国", country="米国", date="2025-10-03")
    return project


def table(wt):
    return [(r.word, r.pos, r.count, r.docs, r.by, r.docs_by) for r in wt.rows]


def test_counts_documents_and_values_add_up(notes):
    wt = project_words(Project.open(notes), by="region")
    assert wt.values == ("日本", "米国") and wt.transcripts == 3 and wt.transcripts_by == {"日本": 2, "米国": 1}
    assert table(wt)[:3] == [
        ("相談", "NOUN", 4, 3, {"日本": 2, "米国": 2}, {"日本": 2, "米国": 1}),
        ("特許", "NOUN", 3, 2, {"日本": 2, "米国": 1}, {"日本": 1, "米国": 1}),
        ("ロイヤリティ", "NOUN", 2, 2, {"日本": 1, "米国": 1}, {"日本": 1, "米国": 1}),  # ロイヤルティ is the same word
    ]
    for r in wt.rows:
        assert sum(r.by.values()) == r.count and sum(r.docs_by.values()) == r.docs
    assert sum(r.count for r in wt.rows) == wt.tokens == 14


def test_interviewer_pos_stop_words_and_top(notes):
    p = Project.open(notes)
    assert [r.count for r in project_words(p, interviewer=True).rows if r.word == "特許"] == [4]
    assert [r.word for r in project_words(p, pos=["ADJ"]).rows] == ["低い", "多い", "少ない"]  # ties: by normalised form
    assert "相談" not in [r.word for r in project_words(p, stop=["相談"]).rows]
    assert [r.word for r in project_words(p, top=2).rows] == ["相談", "特許"]


def test_where_and_coded_passages(notes):
    p = Project.open(notes)
    assert [(r.word, r.count) for r in project_words(p, where=["region=米国"]).rows] == [
        ("相談", 2), ("ライセンス", 1), ("ロイヤルティ", 1), ("特許", 1)]  # shown as written here
    body = p.by_id["US-A"].body
    text = "ライセンスの相談。"
    start = body.index(text)
    record_decisions(notes, "hanako", [Coding("US-A", start, start + len(text), text, "P5", "manual", "hanako")], p.by_id)
    assert [(r.word, r.count) for r in project_words(Project.open(notes), codes=["P5"]).rows] == [("ライセンス", 1), ("相談", 1)]


def test_command_line_markdown_and_json(notes, tmp_path):
    res = CliRunner().invoke(cli, ["words", "--top", "2", "--by", "region", "--project", str(notes)], catch_exceptions=False)
    assert res.exit_code == 0
    assert res.output == (
        "| word | pos | count | docs | 日本 (n=2) | 日本 docs | 米国 (n=1) | 米国 docs |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| 相談 | NOUN | 4 | 3 | 2 | 2 | 2 | 1 |\n"
        "| 特許 | NOUN | 3 | 2 | 2 | 1 | 1 | 1 |\n\n"
        "14 content words in 3 interview(s); count: occurrences, docs: interviews that contain the word; by region.\n")
    stop = tmp_path / "stop.txt"
    stop.write_text("# our stop words\n相談\n", encoding="utf-8")
    out = tmp_path / "w.json"
    res = CliRunner().invoke(cli, ["words", "--stop-file", str(stop), "--format", "json", "-o", str(out), "--project", str(notes)],
                             catch_exceptions=False)
    assert res.output == f"wrote {out}\n"
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [r["word"] for r in data["rows"]][:2] == ["特許", "ロイヤリティ"] and data["tokens"] == 10


def test_by_an_unknown_variable_is_refused(notes):
    res = CliRunner().invoke(cli, ["words", "--by", "staff", "--project", str(notes)])
    assert res.exit_code == 1 and "--by staff: no transcript has the variable 'staff'" in res.output


def test_a_stop_file_that_is_not_text_is_named(notes, tmp_path):
    bad = tmp_path / "stop.bin"
    bad.write_bytes(b"\xff\xfe\x00\xd8")
    res = CliRunner().invoke(cli, ["words", "--stop-file", str(bad), "--project", str(notes)])
    assert res.exit_code == 1 and f"{bad}: cannot read the stop words as UTF-8 text" in res.output
