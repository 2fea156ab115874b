"""Keyword in context on hand-built notes: normalised variants, --where and --code filters, the
interviewer's turns, sorting, formats, and the parse cache read rather than parsing again."""
from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from cli import cli
from coding import nlp
from coding.kwic import project_kwic
from coding.project import Project, code_project
from coding.store import Coding, record_decisions

JP = ("Q: ロイヤルティについて伺いたい。\n\n"
      "A: 料率の根拠が弱い。ロイヤリティの水準も決めにくい。\n\n"
      "A: ＴＬＯが料率を決める。\n\n"
      "（メモ）料率の資料は後日。\n")
US = "A: ロイヤルティ率は分野ごとの標準に合わせる。\n"


@pytest.fixture
def notes(project, write):
    write("jp.md", JP, id="JP-A", org="A大学")
    write("us.md", US, id="US-A", org="B大学", region="米国", country="米国", kind="州立大", attribute="州立大")
    return project


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_finds_normalised_variants_and_skips_the_interviewer(notes):
    res = project_kwic(Project.open(notes), ["ロイヤルティ"], context=6)
    got = [(l.transcript_id, l.left, l.match, l.right, l.line) for l in res.lines]
    # ロイヤリティ in JP-A's answer and ロイヤルティ in US-A's; the question (Q:) is not searched
    assert got == [("JP-A", "根拠が弱い。", "ロイヤリティ", "の水準も決め", 12), ("US-A", "", "ロイヤルティ", "率は分野ごと", 10)]
    assert res.variants["ロイヤルティ"] == ("ロイヤリティー", "ロイヤルティ")
    body = Project.open(notes).by_id["JP-A"].body
    assert [body[l.start:l.end] for l in res.lines[:1]] == ["ロイヤリティ"]


def test_interviewer_turns_and_memos_on_request(notes):
    res = project_kwic(Project.open(notes), ["料率", "ロイヤルティ"], interviewer=True, where=["region=日本"])
    assert [(l.paragraph, l.speaker, l.match) for l in res.lines] == [
        (1, "Q", "ロイヤルティ"), (2, "A", "料率"), (2, "A", "ロイヤリティ"), (3, "A", "料率"), (4, "", "料率")]


def test_width_folding_and_where_filters(notes):
    p = Project.open(notes)
    assert [l.left + l.match for l in project_kwic(p, ["TLO"], context=3).lines] == ["ＴＬＯ"]
    assert [l.transcript_id for l in project_kwic(p, ["ロイヤルティ"], where=["region=米国"]).lines] == ["US-A"]
    assert [l.transcript_id for l in project_kwic(p, ["ロイヤルティ"], where=["kind!=州立大"]).lines] == ["JP-A"]
    assert [l.transcript_id for l in project_kwic(p, ["ロイヤルティ"], where=["kind=州立大,国立大"]).lines] == ["JP-A", "US-A"]


def test_code_filter_keeps_occurrences_inside_coded_passages(notes):
    p = Project.open(notes)
    body = p.by_id["JP-A"].body
    text = "ＴＬＯが料率を決める。"
    start = body.index(text)
    record_decisions(notes, "hanako", [Coding("JP-A", start, start + len(text), text, "課題④", "manual", "hanako")], p.by_id)
    res = project_kwic(Project.open(notes), ["料率"], codes=["課題④"])
    assert [(l.transcript_id, l.match, l.codes, l.start) for l in res.lines] == [("JP-A", "料率", ("課題④",), start + 4)]
    # a code above it counts too: 課題④'s parent is the 課題 group
    assert len(project_kwic(Project.open(notes), ["料率"], codes=["課題"]).lines) == 1
    assert project_kwic(Project.open(notes), ["料率"], codes=["課題⑤"]).lines == ()


def test_sorting_by_left_and_right_context(notes, write):
    write("jp2.md", "A: 高い料率が多い。低い料率も多い。\n", id="JP-B")
    p = Project.open(notes)
    right = [l.right[:2] for l in project_kwic(p, ["料率"], sort="right", context=2).lines]
    assert right == sorted(right) and len(right) == 4
    left = [l.left for l in project_kwic(p, ["料率"], sort="left", context=2).lines]
    assert left == sorted(left, key=lambda s: s[::-1])


def test_command_line_text_csv_and_html(notes, tmp_path):
    res = run("kwic", "料率", "--context", "4", "--project", notes)
    assert res.exit_code == 0
    assert res.output == ("JP-A:12  　　　　【料率】の根拠が\nJP-A:14  ＴＬＯが【料率】を決める\n"
                          "2 occurrence(s) of 料率 in 2 transcript(s)\n")
    res = run("kwic", "料率", "--format", "csv", "--context", "4", "--project", notes)
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert [(r["transcript_id"], r["line"], r["left"], r["match"], r["right"]) for r in rows] == [
        ("JP-A", "12", "", "料率", "の根拠が"), ("JP-A", "14", "ＴＬＯが", "料率", "を決める")]
    out = tmp_path / "kwic.html"
    res = run("kwic", "料率", "--format", "html", "-o", out, "--project", notes)
    assert res.output == f"wrote {out}\n"
    page = out.read_text(encoding="utf-8")
    assert page.count("<mark>料率</mark>") == 2 and "<td class=l>ＴＬＯが</td>" in page


def test_command_line_errors_are_located(notes):
    res = CliRunner().invoke(cli, ["kwic", "料率", "--where", "regoin=日本", "--project", str(notes)])
    assert res.exit_code == 1 and "--where regoin=日本: no transcript has the variable 'regoin'" in res.output
    res = CliRunner().invoke(cli, ["kwic", "料率", "--where", "region", "--project", str(notes)])
    assert res.exit_code == 1 and "--where region: write KEY=VALUE" in res.output
    res = CliRunner().invoke(cli, ["kwic", "料率", "--code", "課題99", "--project", str(notes)])
    assert res.exit_code == 1 and "unknown code(s): 課題99" in res.output


def test_reads_the_parse_cache_code_made(notes, monkeypatch):
    code_project(Project.open(notes))  # parses and caches every transcript

    def no_parsing(self, text):
        raise AssertionError(f"parsed again what the cache holds: {text[:20]}")

    monkeypatch.setattr(nlp.LexTokenizer, "__call__", no_parsing)  # the words looked for are still tokenised
    assert len(project_kwic(Project.open(notes), ["料率"]).lines) == 2
