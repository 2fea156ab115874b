"""The Excel review round trip: what the sheet shows, how decisions come back, what is refused."""
from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from click.testing import CliRunner

from cli import cli
from coding.errors import StoreError
from coding.i18n import COLUMN_NAMES, SHEETS
from coding.project import Project, code_project
from coding.review import ADD_ROWS, import_review, review_items, write_review_xlsx

BODY = ("A: 必然的に日本企業が多くなり、海外からの問い合わせは多くない。\n\n"
        "A: 共同研究になってしまうと成果が共同発明になり、共有特許になってしまう。\n\n"
        "A: 専門人材が慢性的に不足している。𠮷野家の話では、展示会に出しても成約につながらない。\n")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def coded(project, write):
    write("b.md", BODY, id="JP-B")
    code_project(Project.open(project))
    return project


def sheet_rows(path, lang="ja"):
    """The review sheet's rows as dicts keyed by the column's name in the code (code_id, decision …)."""
    wb = openpyxl.load_workbook(path)
    ws = wb[SHEETS[lang]["review"]]
    rows = list(ws.iter_rows(values_only=True))
    names = {shown: col for col, shown in COLUMN_NAMES[lang].items()}
    keys = [names.get(h, h) for h in rows[0]]
    return wb, ws, rows[0], [dict(zip(keys, r)) for r in rows[1:]]


def fill(path, decisions, lang="ja", **extra):
    """decisions: (code_id, segment prefix) → decision text; extra: column → {(code, prefix): value}."""
    wb = openpyxl.load_workbook(path)
    ws = wb[SHEETS[lang]["review"]]
    names = {shown: col for col, shown in COLUMN_NAMES[lang].items()}
    header = [names.get(c.value, c.value) for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        rec = dict(zip(header, (c.value for c in row)))
        for (code, prefix), value in decisions.items():
            if rec["code_id"] == code and rec["segment"].startswith(prefix):
                row[header.index("decision")].value = value
        for column, values in extra.items():
            for (code, prefix), value in values.items():
                if rec["code_id"] == code and rec["segment"].startswith(prefix):
                    row[header.index(column)].value = value
    wb.save(path)


def decisions_csv(project, coder="hanako"):
    text = (project / "codings" / f"{coder}.csv").read_text(encoding="utf-8")
    return [(r["code_id"], r["status"], r["text"][:8], r["quote"], r["memo"]) for r in csv.DictReader(io.StringIO(text))]


def test_sheet_shows_context_matches_definition_and_a_dropdown_in_japanese(coded, tmp_path):
    out = tmp_path / "r.xlsx"
    res = run("export", "review", "--format", "xlsx", "-o", out, "--project", coded)
    assert res.exit_code == 0 and "7 suggestion(s) to review" in res.output, res.output
    wb, ws, header, rows = sheet_rows(out)
    assert wb.sheetnames == ["レビュー", "lists", "コード一覧", "手順"]
    assert list(header) == ["記録ID", "組織", "開始位置", "終了位置", "該当文", "段落", "コードID", "コード名",
                            "定義", "一致した語", "確信度", "判断", "引用", "メモ"]
    p = Project.open(coded)
    body = p.by_id["JP-B"].body
    r = next(r for r in rows if r["code_id"] == "課題⑧")
    assert body[r["start"]:r["end"]] == r["segment"] == "専門人材が慢性的に不足している。"
    assert r["paragraph"] == "専門人材が慢性的に不足している。𠮷野家の話では、展示会に出しても成約につながらない。"
    assert r["definition"] == p.codebook.codes["課題⑧"].definition and r["label"] == p.codebook.codes["課題⑧"].label
    assert r["matched"] == "人材、不足" and r["decision"] is None and r["org"] == "T大学"
    # offsets are code points: the segment after 𠮷 still lines up
    yoshi = next(r for r in rows if r["code_id"] == "交渉前")
    assert body[yoshi["start"]:yoshi["end"]] == yoshi["segment"] and yoshi["segment"].startswith("𠮷野家")
    (dv,) = [d for d in ws.data_validations.dataValidation if "L" in str(d.sqref)]
    assert dv.type == "list" and str(dv.sqref) == f"L2:L{8 + ADD_ROWS}"  # room for rows the researcher adds
    choices = [c.value for c in wb["lists"]["A"]]
    assert dv.formula1 == f"lists!$A$1:$A${len(choices)}"
    # the drop-down says what each code means: 変更 → <id> <label>
    assert choices[:3] == ["採用", "不採用", f"変更 → 交渉前 {p.codebook.codes['交渉前'].label}"]
    assert f"変更 → 課題⑫ {p.codebook.codes['課題⑫'].label}" in choices
    assert not [c for c in choices if c.startswith("変更 → 課題 ")]  # a group cannot be coded
    assert (dv.promptTitle, dv.prompt) == ("判断", "採用 / 不採用 / 変更 → <コード>。空欄のままなら後で判断します。")
    assert ws.auto_filter.ref == f"A1:N{8 + ADD_ROWS}" and ws.freeze_panes == "A2"
    assert [r[0].value for r in wb["手順"].iter_rows()][:3] == [
        "レビューの手順", "", "「レビュー」シートの各行は、インタビュー記録の一文（該当文）に提案されたコードです。"]
    codes = list(wb["コード一覧"].iter_rows(values_only=True))
    assert codes[0] == ("コードID", "種類", "コード名", "上位コード", "定義")
    assert codes[1][:2] == ("交渉前", "交渉段階") and ("課題⑫", "課題") in {r[:2] for r in codes}
    assert red_words(out, "課題⑧") == [["人材", "不足"]]


def red_words(path, code_id, lang="ja"):
    """The red runs of the segment cell of each row of ``code_id``."""
    rich = openpyxl.load_workbook(path, rich_text=True)[SHEETS[lang]["review"]]
    out = []
    for row in rich.iter_rows(min_row=2):
        if row[6].value != code_id:
            continue
        seg = row[4].value
        out.append([str(part.text) for part in seg if not isinstance(part, str)
                    and getattr(part.font, "b", False) and part.font.color.rgb == "FFC00000"]
                   if not isinstance(seg, str) else [])
    return out


def test_the_sheet_marks_each_matched_word_whole_where_it_matched(project, write, tmp_path):
    """Red is the surface span of the matched tokens: 共願 (not the 願 of 出願), ロイヤルティ率 for the
    phrase ロイヤリティ率, ＴＬＯ for TLO."""
    write("h.md", "A: 出願の多くは企業との共願だ。\n\nA: ロイヤルティ率はＴＬＯの担当者が決めるが、ＴＬＯの人数が足りない。\n",
          id="JP-H")
    code_project(Project.open(project))
    out = tmp_path / "r.xlsx"
    assert run("export", "review", "-o", out, "--project", project).exit_code == 0
    assert red_words(out, "図表32-1") == [["共願"]]
    assert red_words(out, "交渉前") == [["出願"]]
    assert red_words(out, "交渉中") == [["ロイヤルティ率"]]
    _, _, _, rows = sheet_rows(out)
    staff = next(r for r in rows if r["code_id"] == "課題⑧")
    assert staff["matched"] == "ＴＬＯ、担当者、ＴＬＯ、人数、足りない"
    assert red_words(out, "課題⑧") == [["ＴＬＯ", "担当者", "ＴＬＯ", "人数", "足りない"]]


# the words a person picks from the drop-down (or types), in each language; an English sheet is
# what every sheet was before Japanese became the default, and such sheets must still import
WORDS = {
    "ja": {"accept": "採用", "reject": "不採用", "change": "変更 → 図表32-1/日本 共願による権利分散", "yes": "はい"},
    "en": {"accept": "accept", "reject": "Reject", "change": "change to 図表32-1/日本 共願による権利分散", "yes": "yes"},
}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_decisions_come_back_and_empty_cells_stay_pending(coded, tmp_path, lang):
    out = tmp_path / "r.xlsx"
    args = ["--lang", "en"] if lang == "en" else []
    assert run("export", "review", "-o", out, "--coder", "hanako", *args, "--project", coded).exit_code == 0
    w = WORDS[lang]
    _, _, header, _ = sheet_rows(out, lang)
    assert header[0] == COLUMN_NAMES[lang]["transcript_id"]
    fill(out, {("課題⑧", "専門"): w["accept"], ("課題⑤", "共同"): w["reject"], ("図表32-1", "共同"): w["change"],
               ("課題①", "𠮷"): w["accept"]},
         lang, quote={("課題⑧", "専門"): w["yes"]}, memo={("課題⑤", "共同"): "共願の話ではない"})
    res = run("import", "review", out, "--coder", "hanako", "--project", coded)
    assert res.exit_code == 0, res.output
    assert "hanako: 2 accepted, 1 rejected, 1 changed, 0 added; 3 row(s) left pending; 5 new decision(s), 0 updated" in res.output
    assert sorted(decisions_csv(coded)) == sorted([
        ("図表32-1", "rejected", "共同研究になって", "", ""),
        ("図表32-1/日本", "manual", "共同研究になって", "", ""),
        ("課題⑤", "rejected", "共同研究になって", "", "共願の話ではない"),
        ("課題⑧", "accepted", "専門人材が慢性的", "yes", ""),
        ("課題①", "accepted", "𠮷野家の話では、", "", ""),
    ])
    p = Project.open(coded)
    rows = [r for r in p.store().decisions["hanako"] if r.code_id == "課題①"]
    assert p.by_id["JP-B"].body[rows[0].start:rows[0].end] == rows[0].text  # code-point offsets
    # the next sheet for hanako holds only what she left pending; another person still sees everything
    assert len(review_items(p, coder="hanako")) == 3
    assert len(review_items(p, coder="taro")) == 7
    # importing the same sheet again changes nothing
    res = run("import", "review", out, "--coder", "hanako", "--project", coded)
    assert "0 new decision(s), 0 updated" in res.output


def test_either_languages_words_are_read_in_any_sheet(coded, tmp_path):
    out = tmp_path / "r.xlsx"
    assert run("export", "review", "-o", out, "--coder", "hanako", "--project", coded).exit_code == 0
    fill(out, {("課題⑧", "専門"): "accept", ("課題⑤", "共同"): "reject", ("図表32-1", "共同"): "変更→図表32-1/日本",
               ("課題①", "𠮷"): "change to 課題⑫"}, quote={("課題⑧", "専門"): "yes"})
    res = run("import", "review", out, "--coder", "hanako", "--project", coded)
    assert res.exit_code == 0, res.output
    assert "hanako: 1 accepted, 1 rejected, 2 changed, 0 added; 3 row(s) left pending" in res.output
    assert ("課題⑫", "manual", "𠮷野家の話では、", "", "") in decisions_csv(coded)
    assert ("課題⑧", "accepted", "専門人材が慢性的", "yes", "") in decisions_csv(coded)


def test_review_decisions_survive_code_reruns_and_transcript_edits(coded, write, tmp_path):
    out = tmp_path / "r.xlsx"
    run("export", "review", "-o", out, "--project", coded)
    fill(out, {("課題⑧", "専門"): "採用", ("課題⑤", "共同"): "不採用"})
    # the transcript is edited after the sheet was exported: the import re-anchors by the text
    write("b.md", "Q: 冒頭に質問を足した。\n\n" + BODY, id="JP-B")
    res = run("import", "review", out, "--coder", "hanako", "--project", coded)
    assert res.exit_code == 0, res.output
    p = Project.open(coded)
    body = p.by_id["JP-B"].body
    for r in p.store().decisions["hanako"]:
        assert body[r.start:r.end] == r.text
    before = (coded / "codings" / "hanako.csv").read_text(encoding="utf-8")
    assert run("code", "--project", coded).exit_code == 0
    assert (coded / "codings" / "hanako.csv").read_text(encoding="utf-8") == before
    write("b.md", "Q: さらに別の質問。\n\n" + BODY, id="JP-B")  # edited again, then re-coded
    assert run("code", "--project", coded).exit_code == 0
    p = Project.open(coded)
    st = p.store()
    assert [(c.code_id, c.anchor) for c in st.resolved(p.by_id)] == [("課題⑧", "moved")]
    assert "課題⑤" not in {s.code_id for s in st.pending(p.by_id)}


def set_cells(path, cells, lang="ja"):
    """cells: (row, column name in the code) → value."""
    wb = openpyxl.load_workbook(path)
    ws = wb[SHEETS[lang]["review"]]
    header = [c.value for c in ws[1]]
    for (row, column), value in cells.items():
        ws.cell(row=row, column=header.index(COLUMN_NAMES[lang][column]) + 1).value = value
    wb.save(path)


@pytest.mark.parametrize(
    "lang,change,message",
    [
        ("ja", {"decision": "採るよ"}, "row 2: decision '採るよ' is not 採用・不採用・変更 → <コードID> (leave it empty to decide later)"),
        ("en", {"decision": "acept"}, "row 2: decision 'acept' is not accept, reject or change to <code id> (leave it empty"),
        ("ja", {"decision": "変更 → 課題99"}, "row 2: decision '変更 → 課題99': unknown code id '課題99'"),
        ("en", {"decision": "change to 課題99"}, "row 2: decision 'change to 課題99': unknown code id '課題99'"),
        ("ja", {"decision": "変更 → 課題"}, "row 2: decision '変更 → 課題': '課題' is a group"),
        ("ja", {"decision": "採用", "start": "x"}, "row 2: 開始位置/終了位置 must be whole numbers"),
        ("en", {"decision": "accept", "start": "x"}, "row 2: start/end must be whole numbers"),
        ("ja", {"decision": "採用", "segment": "書き換えた文"}, "row 2: text does not match"),
        ("ja", {"decision": "採用", "transcript_id": "JP-Z"}, "row 2: unknown transcript id 'JP-Z'"),
    ],
)
def test_malformed_sheet_is_refused_naming_the_row(coded, tmp_path, lang, change, message):
    out = tmp_path / "r.xlsx"
    run("export", "review", "-o", out, "--lang", lang, "--project", coded)
    good = {(3, "decision"): WORDS[lang]["accept"]}  # a good row is not imported either
    set_cells(out, {**good, **{(2, column): value for column, value in change.items()}}, lang)
    res = run("import", "review", out, "--coder", "hanako", "--project", coded)
    assert res.exit_code == 1 and message in res.output, res.output
    assert "r.xlsx: 1 bad row(s); nothing was imported" in res.output
    assert not (coded / "codings").exists()


def test_sheet_without_the_decision_column_or_not_a_workbook(coded, tmp_path):
    out = tmp_path / "r.xlsx"
    run("export", "review", "-o", out, "--project", coded)
    wb = openpyxl.load_workbook(out)
    wb["レビュー"].cell(row=1, column=12).value = "決定"
    wb.save(out)
    with pytest.raises(StoreError, match=r"sheet 'レビュー' row 1: missing column\(s\) 判断; the header must keep the "
                                         r"exported names \(記録ID, 開始位置, 終了位置, 該当文, コードID, 判断\)"):
        import_review(Project.open(coded), out, coder="hanako")
    wb["レビュー"].title = "シート1"
    wb.save(out)
    with pytest.raises(StoreError, match=r"no sheet 'レビュー' or 'review' \(sheets: シート1, lists, コード一覧, 手順\)"):
        import_review(Project.open(coded), out, coder="hanako")
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook", encoding="utf-8")
    res = run("import", "review", bad, "--coder", "hanako", "--project", coded)
    assert res.exit_code == 1 and "bad.xlsx: not an Excel workbook" in res.output
    res = run("import", "review", out, "--coder", "auto", "--project", coded)
    assert res.exit_code == 1 and "coder 'auto' is not a valid name for a person" in res.output


def test_compare_sheet_lists_disagreements_for_adjudication(coded, tmp_path):
    for coder, decision in (("hanako", "accept"), ("taro", "reject")):
        out = tmp_path / f"{coder}.xlsx"
        run("export", "review", "-o", out, "--coder", coder, "--project", coded)
        fill(out, {("課題⑧", "専門"): decision, ("課題①", "必然"): "accept"})
        assert run("import", "review", out, "--coder", coder, "--project", coded).exit_code == 0
    out = tmp_path / "d.xlsx"
    res = run("export", "review", "--compare", "hanako", "--compare", "taro", "-o", out, "--project", coded)
    assert res.exit_code == 0 and "1 disagreement(s) of hanako and taro" in res.output, res.output
    _, _, header, rows = sheet_rows(out)
    assert header[11:] == ("hanako", "taro", "判断", "引用", "メモ")
    assert [(r["code_id"], r["hanako"], r["taro"]) for r in rows] == [("課題⑧", "コード付与", "不採用")]
    fill(out, {("課題⑧", "専門"): "採用"})
    assert run("adjudicate", "--coder", "hanako", "--coder", "taro", "--project", coded).exit_code == 0
    assert run("import", "review", out, "--coder", "adjudicated", "--project", coded).exit_code == 0
    p = Project.open(coded)
    final = {(c.code_id, c.status) for c in p.store().resolved(p.by_id, coders=["adjudicated"])}
    assert final == {("課題①", "accepted"), ("課題⑧", "accepted")}
    res = run("export", "review", "--compare", "hanako", "--compare", "taro", "-o", out, "--project", coded)
    assert "0 disagreement(s)" in res.output


def test_empty_review_sheet_is_still_a_valid_workbook(project, write, tmp_path):
    write("b.md", BODY, id="JP-B")
    p = Project.open(project)
    out = tmp_path / "e.xlsx"
    out.write_bytes(write_review_xlsx(p, []))
    res = import_review(p, out, coder="hanako")
    assert (res.rows, res.pending) == ([], 0)


def _add_rows(path, rows, lang="ja"):
    """Append rows as a researcher does below the suggestions: start and end left empty."""
    wb = openpyxl.load_workbook(path)
    ws = wb[SHEETS[lang]["review"]]
    names = {shown: col for col, shown in COLUMN_NAMES[lang].items()}
    header = [names.get(c.value, c.value) for c in ws[1]]
    for values in rows:
        ws.append([values.get(h) for h in header])
    wb.save(path)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_researcher_adds_a_coding_the_tagger_missed(coded, tmp_path, lang):
    out = tmp_path / "r.xlsx"
    assert run("export", "review", "-o", out, "--coder", "hanako", "--lang", lang, "--project", coded).exit_code == 0
    wb = openpyxl.load_workbook(out)
    (dv,) = [d for d in wb[SHEETS[lang]["review"]].data_validations.dataValidation if "G" in str(d.sqref)]
    assert str(dv.sqref) == f"G9:G{8 + ADD_ROWS}" and dv.formula1.startswith("lists!$B$1")  # code drop-down on new rows
    change = {"ja": "変更 → 図表32-1/日本", "en": "change to 図表32-1/日本"}[lang]
    _add_rows(out, [{"transcript_id": "JP-B", "segment": "海外からの問い合わせは多くない", "code_id": "課題①",
                     "quote": WORDS[lang]["yes"]},
                    {"transcript_id": "JP-B", "segment": "共有特許", "decision": change, "memo": "共有の話"}], lang)
    res = run("import", "review", out, "--coder", "hanako", "--project", coded)
    assert res.exit_code == 0, res.output
    assert "hanako: 0 accepted, 0 rejected, 0 changed, 2 added; 7 row(s) left pending; 2 new decision(s), 0 updated" in res.output
    assert sorted(decisions_csv(coded)) == sorted([("課題①", "manual", "海外からの問い合", "yes", ""),
                                                  ("図表32-1/日本", "manual", "共有特許", "", "共有の話")])
    p = Project.open(coded)
    r = next(r for r in p.store().decisions["hanako"] if r.code_id == "課題①")
    assert p.by_id["JP-B"].body[r.start:r.end] == "海外からの問い合わせは多くない"


@pytest.mark.parametrize("row, message", [
    ({"transcript_id": "JP-B", "segment": "になってしまう", "code_id": "課題①"}, "added row: the words occur 2 times in JP-B; copy a longer passage"),
    ({"transcript_id": "JP-B", "segment": "どこにもない言葉", "code_id": "課題①"}, "added row: the words occur 0 times in JP-B; copy them exactly"),
    ({"transcript_id": "JP-B", "segment": "共有特許"}, "added row: give the code in コードID (or 判断 '変更 → <code id>')"),
    ({"transcript_id": "JP-B", "segment": "共有特許", "code_id": "課題"}, "added row: '課題' is not a codable code"),
    ({"transcript_id": "JP-Z", "segment": "共有特許", "code_id": "課題①"}, "added row: unknown transcript id 'JP-Z'"),
    ({"transcript_id": "JP-B", "segment": "共有特許", "code_id": "課題①", "decision": "不採用"},
     "an added row (no 開始位置/終了位置) adds a coding; '不採用' has nothing to reject"),
])
def test_a_bad_added_row_is_refused_by_its_row_number(coded, tmp_path, row, message):
    out = tmp_path / "r.xlsx"
    assert run("export", "review", "-o", out, "--coder", "hanako", "--project", coded).exit_code == 0
    _add_rows(out, [row])
    res = CliRunner().invoke(cli, ["import", "review", str(out), "--coder", "hanako", "--project", str(coded)], catch_exceptions=False)
    assert res.exit_code == 1 and f"r.xlsx: row 9: {message}" in res.output, res.output
    assert not (coded / "codings").exists()


# ---------------------------------------------------------------- decisions to look at again
EDITED = BODY.replace("問い合わせ", "問合せ").replace("専門人材が慢性的に不足している。", "人の話は別の日に。")
WAS = "必然的に日本企業が多くなり、海外からの問い合わせは多くない。"
NOW = "必然的に日本企業が多くなり、海外からの問合せは多くない。"


@pytest.fixture
def edited(coded, write, tmp_path):
    """hanako accepted 課題① and 課題⑧ (a quote, with a memo) and rejected 課題⑤; then a word inside
    課題①'s sentence was edited (re-check) and 課題⑧'s sentence deleted (stale), and the notes re-coded."""
    out = tmp_path / "first.xlsx"
    assert run("export", "review", "-o", out, "--coder", "hanako", "--project", coded).exit_code == 0
    fill(out, {("課題①", "必然"): "採用", ("課題⑧", "専門"): "採用", ("課題⑤", "共同"): "不採用"},
         quote={("課題⑧", "専門"): "はい"}, memo={("課題⑧", "専門"): "人材の話"})
    assert run("import", "review", out, "--coder", "hanako", "--project", coded).exit_code == 0
    write("b.md", EDITED, id="JP-B")
    code_project(Project.open(coded))
    p = Project.open(coded)
    anchors = {r.code_id: r.anchor for r in p.store().anchored(p.by_id)}
    assert anchors == {"課題①": "recheck", "課題⑤": "moved", "課題⑧": "stale"}
    return coded


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_coders_sheet_lists_first_the_decisions_to_recheck_and_the_stale_ones(edited, tmp_path, lang):
    out = tmp_path / "r.xlsx"
    res = run("export", "review", "-o", out, "--coder", "hanako", "--lang", lang, "--project", edited)
    assert res.exit_code == 0, res.output
    assert "suggestion(s) to review, and first 2 decision(s) whose passage was edited, to re-check or drop" in res.output
    wb, ws, header, rows = sheet_rows(out, lang)
    names = COLUMN_NAMES[lang]
    assert list(header[10:]) == [names[c] for c in ("score", "check", "decision", "quote", "memo")]
    body = Project.open(edited).by_id["JP-B"].body
    first, second, *rest = rows
    assert (first["code_id"], first["segment"], body[first["start"]:first["end"]]) == ("課題①", NOW, NOW)
    assert first["check"] == {"ja": f"語句が編集されました（元: {WAS}）。前の判断: 採用",
                              "en": f"words edited since the decision (was: {WAS}); decided: accepted"}[lang]
    assert (second["code_id"], second["segment"]) == ("課題⑧", "専門人材が慢性的に不足している。")
    assert second["check"] == {"ja": "箇所が見つかりません。前の判断: 採用", "en": "passage gone; decided: accepted"}[lang]
    # the earlier decision's quote and memo come with it, the decision is left to the researcher
    assert (second["quote"], second["memo"], second["decision"]) == (WORDS[lang]["yes"], "人材の話", None)
    assert rest and all(r["check"] is None for r in rest)
    assert "課題⑤" not in {r["code_id"] for r in rows}  # decided and moved: nothing to look at
    assert ("課題①", NOW) not in {(r["code_id"], r["segment"]) for r in rest}  # its suggestion is the decision to re-check
    choices = [c.value for c in wb["lists"]["A"]]
    assert choices[:3] == {"ja": ["採用", "不採用", "削除"], "en": ["accept", "reject", "drop"]}[lang]
    (dv,) = [d for d in ws.data_validations.dataValidation if d.formula1 and d.formula1.startswith("lists!$A")]
    assert ("削除" if lang == "ja" else "drop") in dv.prompt and ("削除" if lang == "ja" else "drop") in dv.error
    howto = "\n".join(r[0].value or "" for r in wb[SHEETS[lang]["howto"]].iter_rows())
    assert {"ja": "箇所が見つかりません — ", "en": "passage gone — "}[lang] in howto


def test_a_sheet_without_a_coder_or_for_adjudication_has_no_check_column(edited, tmp_path):
    out = tmp_path / "r.xlsx"
    assert run("export", "review", "-o", out, "--project", edited).exit_code == 0
    wb, _, header, _ = sheet_rows(out)
    assert "確認" not in header and "削除" not in [c.value for c in wb["lists"]["A"]]


def test_importing_drops_and_reattaches_decisions(edited, tmp_path):
    out = tmp_path / "r.xlsx"
    assert run("export", "review", "-o", out, "--coder", "hanako", "--project", edited).exit_code == 0
    fill(out, {("課題①", "必然"): "削除", ("課題⑧", "専門"): "採用"}, segment={("課題⑧", "専門"): "人の話は別の日に"})
    before = {r[0]: r for r in decisions_csv(edited)}
    res = run("import", "review", out, "--coder", "hanako", "--project", edited)
    assert res.exit_code == 0, res.output
    assert "0 accepted, 0 rejected, 0 changed, 0 added;" in res.output and "; 1 dropped, 1 re-attached" in res.output
    after = {r[0]: r for r in decisions_csv(edited)}
    assert sorted(after) == ["課題⑤", "課題⑧"] and after["課題⑤"] == before["課題⑤"]
    # put on the words as they read now, with the quote and memo it had
    assert after["課題⑧"] == ("課題⑧", "manual", "人の話は別の日に", "yes", "人材の話")
    p = Project.open(edited)
    assert {r.code_id: r.anchor for r in p.store().anchored(p.by_id)} == {"課題⑤": "ok", "課題⑧": "ok"}
    assert "専門人材" not in (edited / "codings" / "hanako.csv").read_text(encoding="utf-8")
    # the next sheet has nothing left to look at again
    assert run("export", "review", "-o", out, "--coder", "hanako", "--project", edited).exit_code == 0
    assert all(r["check"] is None for r in sheet_rows(out)[3])


def test_deciding_on_a_row_to_recheck_settles_it_on_the_new_words(edited, tmp_path):
    out = tmp_path / "r.xlsx"
    assert run("export", "review", "-o", out, "--coder", "hanako", "--project", edited).exit_code == 0
    fill(out, {("課題①", "必然"): "不採用", ("課題⑧", "専門"): "変更 → 課題⑫"}, segment={("課題⑧", "専門"): "人の話は別の日に。"})
    res = run("import", "review", out, "--coder", "hanako", "--project", edited)
    assert res.exit_code == 0, res.output
    assert "0 accepted, 1 rejected, 0 changed" in res.output and "; 0 dropped, 1 re-attached" in res.output
    got = sorted(decisions_csv(edited))
    assert got == sorted([("課題①", "rejected", NOW[:8], "", ""), ("課題⑤", "rejected", "共同研究になって", "", ""),
                          ("課題⑧", "rejected", "人の話は別の日に", "", ""),
                          ("課題⑫", "manual", "人の話は別の日に", "yes", "人材の話")])
    p = Project.open(edited)
    assert {r.anchor for r in p.store().anchored(p.by_id)} == {"ok"}
    rejected = next(r for r in p.store().decisions["hanako"] if r.code_id == "課題①")
    assert p.by_id["JP-B"].body[rejected.start:rejected.end] == NOW


@pytest.mark.parametrize("decisions, segment, messages", [
    ({("課題⑧", "専門"): "採用"}, None,
     ["row 3: the passage is gone from JP-B: write the words as they now read in the transcript in 該当文 (copied so "
      "they occur once), or choose '削除'"]),
    ({("課題⑧", "専門"): "不採用"}, "どこにもない言葉",
     ["row 3: passage gone, re-attached to 該当文: the words occur 0 times in JP-B; copy them exactly"]),
    ({("課題⑧", "専門"): "採用"}, "になってしまう",
     ["row 3: passage gone, re-attached to 該当文: the words occur 2 times in JP-B; copy a longer passage"]),
    ({("課題①", "必然"): "削除", ("図表32-1", "共同"): "削除"}, None,
     [re.compile(r"r\.xlsx: row \d+: '削除' drops a decision to re-check or a stale one \(a row marked in 確認\); "
                 r"this row is a suggestion: leave 判断 empty to decide later, or choose '不採用'")]),
    ({("課題⑧", "専門"): "消す"}, None, ["row 3: decision '消す' is not 採用・不採用・削除・変更 → <コードID> (leave it empty"]),
])
def test_a_bad_row_to_look_at_again_is_refused_and_nothing_is_written(edited, tmp_path, decisions, segment, messages):
    out = tmp_path / "r.xlsx"
    assert run("export", "review", "-o", out, "--coder", "hanako", "--project", edited).exit_code == 0
    fill(out, decisions, segment={("課題⑧", "専門"): segment} if segment else {})
    before = (edited / "codings" / "hanako.csv").read_bytes()
    res = run("import", "review", out, "--coder", "hanako", "--project", edited)
    assert res.exit_code == 1 and "r.xlsx: 1 bad row(s); nothing was imported" in res.output, res.output
    for m in messages:
        assert m.search(res.output) if isinstance(m, re.Pattern) else m in res.output, m
    assert (edited / "codings" / "hanako.csv").read_bytes() == before


def test_a_row_to_look_at_again_belongs_to_its_coder(edited, tmp_path):
    out = tmp_path / "r.xlsx"
    assert run("export", "review", "-o", out, "--coder", "hanako", "--project", edited).exit_code == 0
    fill(out, {("課題①", "必然"): "drop", ("課題⑧", "専門"): "drop"})
    res = run("import", "review", out, "--coder", "taro", "--project", edited)
    assert res.exit_code == 1 and "2 bad row(s); nothing was imported" in res.output
    assert "row 2: taro has no decision to re-check on 課題① at" in res.output
    assert "row 3: taro has no decision on 課題⑧ at" in res.output and "whose passage is gone" in res.output
    assert not (edited / "codings" / "taro.csv").exists()
    # a drop on a row added below the suggestions has nothing to drop
    _add_rows(out, [{"transcript_id": "JP-B", "segment": "共有特許", "code_id": "課題①", "decision": "削除"}])
    res = run("import", "review", out, "--coder", "hanako", "--project", edited)
    assert "adds a coding; '削除' has nothing to drop" in res.output


def test_the_sheets_words_are_there_in_both_languages():
    from coding.i18n import CHECK_WORDS, HOWTO, VALIDATION, check_kind, check_text

    assert set(VALIDATION["ja"]) == set(VALIDATION["en"]) and set(CHECK_WORDS["ja"]) == set(CHECK_WORDS["en"])
    assert all(len(m[k]) <= 255 for m in VALIDATION.values() for k in m)  # Excel's limit for a prompt
    assert len(HOWTO["ja"]) == len(HOWTO["en"])
    for lang in ("ja", "en"):  # a check cell of either language is read back as what it says
        assert check_kind(check_text("recheck", "元の文。", "accepted", lang)) == "recheck"
        assert check_kind(check_text("recheck", "", "rejected", lang)) == "recheck"
        assert check_kind(check_text("stale", "", "manual", lang)) == "stale"
    assert check_kind("") is None and check_kind("メモ") is None
