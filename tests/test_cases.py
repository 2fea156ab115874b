"""Case sheets (事例集) on a hand-built study: 大学基礎情報, the 背景課題 quote and its note, 施策 and
成果, the formats, the anonymity guard, the codebook's checks of the keys they read."""
from __future__ import annotations

import io

import pytest
from click.testing import CliRunner

from cli import cli
from coding.anonymity import AnonymityError, Guard, Policy
from coding.cases import project_sheets, publish_cases, sheet_markdown
from coding.codebook import load_codebook
from coding.errors import CodebookError
from coding.project import Project
from coding.store import Coding, record_decisions

from conftest import transcript_text

CODEBOOK = """\
title: テスト調査
regions: [日本, 米国]
attribution:
  styles:
    long: {prefix: {日本: 国内}, labels: {国立大: 国立大学, 私立大: 私立大学}, count: "{label}", joiner: "、"}
tables:
  - {type: challenges, id: 表1, title: 課題, regions: [日本], style: long}
  - {type: practices, id: 表2, title: 課題とプラクティス}
case_sheets:
  title: 事例集テスト
  home: 日本
  variables: {staff: 職員数, income: 特許収入}
codes:
  - {id: 課題, kind: group, label: 課題}
  - id: 人材不足
    kind: challenge
    label: 専門人材の不足
    parent: 課題
    summary: 交渉を担う人材が足りない。
    definition: d
  - id: 予算不足
    kind: challenge
    label: 予算の不足
    parent: 課題
    definition: d
  - id: 外部人材
    kind: practice
    label: 外部人材の活用
    problem: 人材の確保が難しい
    answers: [予算不足, 人材不足]
    cases: [事例A, 事例B, 事例C]
    definition: d
  - id: 事例A
    kind: case
    label: 外部の専門家を共有する
    parent: 外部人材
    practice: 外部人材
    org_kind: 国公立
    background: 人材不足
    background_quote: [交渉できる人がいない, 採用も難しい]
    definition: d
  - id: 事例B
    kind: case
    label: 副業人材と組む
    practice: 外部人材
    definition: d
  - id: 事例C
    kind: case
    label: 誰も語らなかった事例
    practice: 外部人材
    definition: d
  - id: 成果
    kind: outcome
    label: 成果
    definition: d
  - id: 成果B
    kind: outcome
    label: 事例Bの成果
    cases: [事例B]
    definition: d
"""

JP_A = "A: 交渉できる人がいない。採用も難しい。\n\nA: 予算も足りない。\n"
JP_B = "A: 人材が足りない。\n"
US_A = "A: 専門家を大学間で共有している。\n\nA: 交渉の時間が半分になった。\n\nA: 副業の人と組んでいる。山田さんが仲介した。\n"


@pytest.fixture
def study(tmp_path):
    (tmp_path / "transcripts").mkdir()
    (tmp_path / "codebook.yml").write_text(CODEBOOK, encoding="utf-8")
    (tmp_path / "anonymity.yml").write_text("detect: false\n", encoding="utf-8")
    files = {"a.md": transcript_text(JP_A, id="JP-A", org="A大学", date="2025-10-01"),
             "b.md": transcript_text(JP_B, id="JP-B", org="B大学", kind="私立大", attribute="私立大", date="2025-10-02"),
             "u.md": transcript_text(US_A, id="US-A", org="C大学", region="米国", country="米国", kind="州立大",
                                     attribute="州立大", date="2025-10-03").replace("date:", "staff: 10名以上\ndate:")}
    for name, text in files.items():
        (tmp_path / "transcripts" / name).write_text(text, encoding="utf-8")
    p = Project.open(tmp_path)

    def c(tid, text, code, quote=False):
        body = p.by_id[tid].body
        start = body.index(text)
        return Coding(tid, start, start + len(text), text, code, "manual", "team", quote=quote)

    rows = [c("JP-A", "交渉できる人がいない。", "人材不足"), c("JP-A", "採用も難しい。", "人材不足"),
            c("JP-A", "予算も足りない。", "予算不足"), c("JP-B", "人材が足りない。", "人材不足", quote=True),
            c("US-A", "専門家を大学間で共有している。", "事例A"), c("US-A", "専門家を大学間で共有している。", "外部人材"),
            c("US-A", "交渉の時間が半分になった。", "事例A"), c("US-A", "交渉の時間が半分になった。", "成果"),
            c("US-A", "副業の人と組んでいる。", "事例B"), c("US-A", "山田さんが仲介した。", "成果B")]
    record_decisions(tmp_path, "team", rows, p.by_id)
    return tmp_path


def sheets(study):
    return {s.code_id: s for s in project_sheets(Project.open(study))[0]}


def test_basic_facts_background_measures_and_outcomes(study):
    a = sheets(study)["事例A"]
    assert a.basics == (("地域", "国外（米国）"), ("区分", "国公立"), ("職員数", "10名以上"), ("特許収入", "—"))
    b = a.background
    assert (b.code_id, b.title, b.summary) == ("人材不足", "専門人材の不足", "交渉を担う人材が足りない。")
    assert (b.quote, b.attribution) == ("交渉できる人がいない。採用も難しい。", "国内国立大学")  # two passages, text order
    assert [m.text for m in a.measures] == ["専門家を大学間で共有している。"]  # the outcome passage is not a 施策
    assert [o.text for o in a.outcomes] == ["交渉の時間が半分になった。"]  # 成果B belongs to 事例B only
    assert (a.practice_title, a.problem, a.transcript_id) == ("外部人材の活用", "人材の確保が難しい", "US-A")


def test_default_background_is_the_first_raised_answer_and_its_marked_quote(study):
    b = sheets(study)["事例B"]
    # no background key: the first challenge the practice answers that someone raised (予算不足, by JP-A)
    assert (b.background.code_id, b.background.quote, b.background.attribution) == ("予算不足", "予算も足りない。", "国内国立大学")
    assert [o.text for o in b.outcomes] == ["交渉の時間が半分になった。", "山田さんが仲介した。"]
    text = (study / "codebook.yml").read_text(encoding="utf-8").replace("answers: [予算不足, 人材不足]", "answers: [人材不足]")
    (study / "codebook.yml").write_text(text, encoding="utf-8")
    # of 人材不足's codings, the one marked quote comes first
    assert sheets(study)["事例B"].background.quote == "人材が足りない。"


def test_what_a_sheet_lacks_is_said_with_the_codebook_line(study):
    text = (study / "codebook.yml").read_text(encoding="utf-8").replace("[交渉できる人がいない, 採用も難しい]", "どこにもない言葉")
    (study / "codebook.yml").write_text(text, encoding="utf-8")
    found, notes = project_sheets(Project.open(study))
    line = text.splitlines().index("  - id: 事例A") + 1
    assert notes == [f"codebook.yml:{line}: 事例A: background_quote 'どこにもない言葉' is in no coding of 人材不足 by an organisation of 日本",
                     "事例C: no organisation's codings carry this case: no sheet"]
    a = next(s for s in found if s.code_id == "事例A")
    assert a.background.quote == "" and "（この課題を挙げた発言はコーディングされていない）" in sheet_markdown(a)


def test_markdown_sheet(study):
    assert sheet_markdown(sheets(study)["事例A"]) == """# 事例A：外部の専門家を共有する

プラクティス：外部人材の活用（外部人材）

## 大学基礎情報

| 項目 | 内容 |
|---|---|
| 地域 | 国外（米国） |
| 区分 | 国公立 |
| 職員数 | 10名以上 |
| 特許収入 | — |

## 背景課題

**人材不足：専門人材の不足**

交渉を担う人材が足りない。

> 交渉できる人がいない。採用も難しい。（国内国立大学）

## 取り組みの概要

### 施策①

専門家を大学間で共有している。

## 成果

- ✓ 交渉の時間が半分になった。

出典：ヒアリング調査（コーディングより作成）
"""


def test_every_format_passes_the_guard(study, tmp_path):
    from docx import Document

    p = Project.open(study)
    guard = Guard(Policy(always_mask=("山田",)))
    res = publish_cases(p, guard, output=tmp_path / "out")
    names = sorted(f.name for f in res.files)
    assert names == ["cases.docx", "cases.html", "index.md", "事例A.md", "事例B.md"]
    assert guard.masked["山田"] == 1  # masked once, in the data, before any format
    md = (tmp_path / "out" / "事例B.md").read_text(encoding="utf-8")
    html = (tmp_path / "out" / "cases.html").read_text(encoding="utf-8")
    doc = Document(io.BytesIO((tmp_path / "out" / "cases.docx").read_bytes()))
    text = "\n".join(par.text for par in doc.paragraphs)
    for out in (md, html, text):
        assert "山田" not in out and "〇〇さんが仲介した。" in out
    assert [par.text for par in doc.paragraphs if par.style.name == "Heading 1"] == ["事例A：外部の専門家を共有する", "事例B：副業人材と組む"]
    index = (tmp_path / "out" / "index.md").read_text(encoding="utf-8")
    assert index.splitlines()[-1] == ("| 人材の確保が難しい | 外部人材の活用 | [事例A：外部の専門家を共有する](事例A.md)<br>"
                                      "[事例B：副業人材と組む](事例B.md) |")
    with pytest.raises(AnonymityError, match="山田"):
        publish_cases(p, Guard(Policy(always_mask=("山田",))), output=tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict").exists()


def test_the_word_file_is_the_same_for_the_same_codings(study, tmp_path):
    p = Project.open(study)
    one = publish_cases(p, Guard(Policy()), formats=["docx"], output=tmp_path / "1").files[0].read_bytes()
    two = publish_cases(p, Guard(Policy()), formats=["docx"], output=tmp_path / "2").files[0].read_bytes()
    assert one == two


def test_command_line(study, tmp_path):
    out = tmp_path / "cases"
    res = CliRunner().invoke(cli, ["cases", "--format", "md", "-o", str(out), "--project", str(study)], catch_exceptions=False)
    assert res.exit_code == 0
    assert res.stdout == f"anonymity: nothing to mask\n2 case sheet(s); wrote 3 file(s) to {out}\n"
    assert res.stderr == "note: 事例C: no organisation's codings carry this case: no sheet\n"


@pytest.mark.parametrize("change, message", [
    (("background: 人材不足", "background: 外部人材"), "事例A: 'background' must name challenge codes; '外部人材' is a practice"),
    (("    practice: 外部人材\n    definition: d\n  - id: 事例C", "    practice: 外部人材\n    background: 人材不足\n    definition: d\n  - id: 事例C"), None),
    (("background_quote: [交渉できる人がいない, 採用も難しい]", "background_quote: {a: 1}"),
     "事例A: 'background_quote' must be words of the coded passage to quote, or a list of them"),
    (("    problem: 人材の確保が難しい", "    problem: 人材の確保が難しい\n    background: 人材不足"),
     "外部人材: 'background' and 'background_quote' belong to case codes (their sheet's 背景課題)"),
    (("  home: 日本", "  home: 欧州"), "case_sheets.home: '欧州' is not one of the regions (日本, 米国)"),
    (("    cases: [事例B]", "    cases: [人材不足]"), "成果B: 'cases' must name case codes; '人材不足' is a challenge"),
    (("  variables: {staff: 職員数, income: 特許収入}", "  variabels: {staff: 職員数}"), "unknown key 'variabels' (did you mean variables?)"),
])
def test_the_codebook_checks_the_keys_case_sheets_read(tmp_path, change, message):
    path = tmp_path / "codebook.yml"
    path.write_text(CODEBOOK.replace(*change), encoding="utf-8")
    if message is None:  # a case may name its background without a quote
        assert load_codebook(path)["事例B"].get("background") == "人材不足"
        return
    with pytest.raises(CodebookError) as e:
        load_codebook(path)
    assert any(message in p for p in e.value.problems), e.value.problems
    assert all(p.startswith(f"{path}:") for p in e.value.problems)
