"""A researcher's own study: init, notes from Word, a codebook of their own, review, tables."""
from __future__ import annotations

import csv
import io
import json
import shutil

import openpyxl
import pytest
from click.testing import CliRunner

from cli import cli
from coding.codebook import load_codebook
from coding.errors import ProjectError, TranscriptError
from coding.project import Project, code_project
from coding.study import import_notes, init_study, note_paragraphs

from conftest import ROOT, transcript_text


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


OWN_CODEBOOK = """\
title: 地域の産学連携ヒアリング
regions: [関東, 関西]
attribution:
  styles:
    short: {count: "{label}({n})", joiner: "、"}
codes:
  - id: 契約前
    kind: phase
    label: 契約前の準備
    definition: 契約の前に行う準備：窓口の整理、相手探し。
    patterns: [{id: p, any: [窓口, 相手探し]}]
  - id: 窓口
    kind: theme
    label: 連携の窓口
    parent: 契約前
    definition: 企業が最初に相談する窓口がどこにあるか。
    patterns: [{id: w, any: [窓口, 相談先]}]
  - id: 予算不足
    kind: challenge
    label: 連携予算の不足
    definition: 連携に回せる予算が足りないという問題。
    patterns: [{id: b, all: [予算, {any: [足りな, 不足, ない]}]}]
"""

NOTES = {
    "k1.md": ("KA-1", "甲大学", "関東", "窓口は産学連携課に一本化しました。\n\nQ: 予算はいかがですか。\n\nA: 連携の予算が足りないのが悩みです。"),
    "k2.md": ("KA-2", "乙大学", "関東", "相談先が学部ごとに分かれていて、窓口が見えにくいと言われます。"),
    "w1.md": ("WE-1", "丙大学", "関西", "予算が不足していて、展示会にも出られません。"),
}


def test_a_new_researcher_runs_a_study_of_their_own(tmp_path):
    study = tmp_path / "study"
    res = run("init", study)
    assert res.exit_code == 0 and f"wrote {study / 'codebook.yml'}" in res.output
    assert f"validate --project {study}" in res.output
    assert (study / "FORMATS.md").read_text(encoding="utf-8").startswith("# File formats of a study")
    (study / "codebook.yml").write_text(OWN_CODEBOOK, encoding="utf-8")
    (study / "transcripts" / "EX-01.md").unlink()
    for name, (tid, org, region, body) in NOTES.items():
        (study / "transcripts" / name).write_text(
            transcript_text("A: " + body if not body.startswith("A:") else body, id=tid, org=org, region=region,
                            country="日本", kind="私立大", attribute="私立大"), encoding="utf-8")
    # the fourth note arrives as a Word file
    import docx

    doc = docx.Document()
    for text in ("Ｑ．窓口はどこですか。", "Ａ．窓口は地域連携センターです。相談先としてよく知られています。", "Ｑ．課題は。",
                 "Ａ．連携予算が足りないことです。"):
        doc.add_paragraph(text)
    docx_path = tmp_path / "memo.docx"
    doc.save(docx_path)
    (study / "transcripts" / "memo.docx").write_bytes(docx_path.read_bytes())  # dropped where it is not read
    res = run("validate", "--no-names", "--project", study)
    assert f"warning: {study / 'transcripts' / 'memo.docx'}: not a transcript, so it is not coded; turn it into one with" in res.output
    (study / "transcripts" / "memo.docx").unlink()
    res = run("import", "notes", docx_path, "--id", "WE-2", "--org", "丁大学", "--region", "関西", "--kind", "公立大",
              "--attribute", "公立大", "--project", study)
    assert res.exit_code == 0 and f"wrote {study / 'transcripts' / 'WE-2.md'} (4 paragraphs, from memo.docx)" in res.output
    assert (study / "transcripts" / "WE-2.md").read_text(encoding="utf-8").endswith(
        "---\nQ: 窓口はどこですか。\n\nA: 窓口は地域連携センターです。相談先としてよく知られています。\n\nQ: 課題は。\n\nA: 連携予算が足りないことです。\n")
    res = run("code", "--project", study)
    assert res.exit_code == 0, res.output
    sugg = list(csv.DictReader(io.StringIO((study / "outputs" / "cache" / "suggestions.csv").read_text(encoding="utf-8"))))
    assert {r["code_id"] for r in sugg} == {"契約前", "窓口", "予算不足"}
    assert not any(r["text"].startswith("予算はいかが") or r["text"].startswith("窓口はどこ") for r in sugg)  # questions untagged
    # the researcher reviews in Excel: accepts every suggestion, rejects one, adds one the tagger missed
    sheet = tmp_path / "review.xlsx"
    assert run("export", "review", "--coder", "hanako", "-o", sheet, "--project", study).exit_code == 0
    wb = openpyxl.load_workbook(sheet)
    ws = wb["レビュー"]  # the sheet speaks Japanese, as the researcher does
    header = [c.value for c in ws[1]]
    n = 0
    for row in ws.iter_rows(min_row=2, max_row=len(sugg) + 1):
        rec = dict(zip(header, (c.value for c in row)))
        if rec["記録ID"] is None:
            continue
        reject = rec["コードID"] == "契約前" and rec["記録ID"] == "KA-2"
        row[header.index("判断")].value = "不採用" if reject else "採用"
        n += 1
    ws.append([{"記録ID": "KA-2", "該当文": "学部ごとに分かれていて", "コードID": "予算不足", "メモ": "見落とし"}.get(h)
               for h in header])
    wb.save(sheet)
    res = run("import", "review", sheet, "--coder", "hanako", "--project", study)
    assert res.exit_code == 0 and ", 1 added;" in res.output, res.output
    res = run("tables", "--project", study)
    assert res.exit_code == 0, res.output
    data = json.loads((study / "outputs" / "tables" / "tables.json").read_text(encoding="utf-8"))
    assert [t["type"] for t in data["layout"]] == ["roster", "comparison", "challenges", "phases"]  # no practices: no table
    (table,) = data["comparison_tables"].values()
    assert [r["code_id"] for r in table["rows"]] == ["窓口"] and table["regions"] == ["関東", "関西"]
    cell = table["rows"][0]["関東"]
    assert cell[0]["theme_level"] and cell[0]["orgs"] == ["KA-1", "KA-2"] and cell[0]["attribution"] == "私立大(2)"
    ch = data["challenge_table"]
    assert ch["regions"] == ["関東", "関西"] and [r["orgs"] for r in ch["rows"]] == [["KA-1", "KA-2", "WE-1", "WE-2"]]
    assert ch["rows"][0]["regions"] == {"関東": 2, "関西": 2}
    phase = data["phase_table"]["rows"][0]
    accepted = [r for r in csv.DictReader(io.StringIO((study / "codings" / "hanako.csv").read_text(encoding="utf-8")))
                if r["status"] in ("accepted", "manual") and r["code_id"] in ("契約前", "窓口")]
    assert sum(v["n_passages"] for v in phase["regions"].values()) == len(accepted) == len(phase["passages"])
    assert {(p["code_id"], p["transcript_id"]) for p in phase["passages"]} == {(r["code_id"], r["transcript_id"]) for r in accepted}
    md = (study / "outputs" / "tables" / "tables.md").read_text(encoding="utf-8")
    assert md.startswith("# 地域の産学連携ヒアリング\n") and "「窓口は産学連携課に一本化しました。」" in md
    assert "所見に当たらない" not in md
    assert run("network", "--project", study).exit_code == 0
    # every published file holds the study's own words, none of the sample report's
    sample = load_codebook(ROOT / "codebook.yml")
    foreign = {"図表", "事例①", "知財収入", sample.settings.title} | {c.label for c in sample.codes.values() if len(c.label) >= 4}
    foreign -= {"交渉前", "交渉中", "交渉後"}
    for folder in ("tables", "network"):
        for f in (study / "outputs" / folder).iterdir():
            if f.suffix in (".json", ".md", ".csv", ".html", ".txt", ".graphml", ".gexf"):
                text = f.read_text(encoding="utf-8-sig")
                assert not [w for w in foreign if w in text], (f.name, [w for w in foreign if w in text][:5])


def test_init_from_sample_suggests_as_the_sample_project_does(tmp_path):
    study = tmp_path / "study"
    res = init_study(study, from_sample=True)
    assert (study / "codebook.yml").read_text(encoding="utf-8") == (ROOT / "codebook.yml").read_text(encoding="utf-8")
    assert study / "models" / "report_seeds.yml" in res.files
    (study / "transcripts" / "EX-01.md").unlink()
    sample = tmp_path / "sample"  # the repository's sample project, all of it
    shutil.copytree(ROOT / "transcripts", sample / "transcripts")
    shutil.copy(ROOT / "codebook.yml", sample / "codebook.yml")
    notes = sorted((ROOT / "transcripts").glob("*.md"))[:4]
    for src in notes:  # the new study's notes
        shutil.copy(src, study / "transcripts" / src.name)
    mine, theirs = code_project(Project.open(study)), code_project(Project.open(sample))
    assert mine.source == theirs.source == "rules + learned suggester sample"
    ids = {t.id for t in Project.open(study).transcripts}
    got = list(csv.DictReader(io.StringIO((study / "outputs" / "cache" / "suggestions.csv").read_text(encoding="utf-8"))))
    want = [r for r in csv.DictReader(io.StringIO((sample / "outputs" / "cache" / "suggestions.csv").read_text(encoding="utf-8")))
            if r["transcript_id"] in ids]
    assert got == want and len(got) > 20
    assert any("model:" in r["pattern"] for r in got)


def test_init_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "x.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(ProjectError, match="already exists and is not an empty folder"):
        init_study(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


@pytest.mark.parametrize("text, want", [
    ("Q．窓口は？\nA．産学連携課です。\n", ["Q: 窓口は？", "A: 産学連携課です。"]),  # one paragraph per line
    ("質問：窓口は？\n\n回答：産学連携課です。\n二行目。\n", ["Q: 窓口は？", "A: 産学連携課です。\n二行目。"]),
    ("【Q】窓口は？\n\n【A】産学連携課です。\n", ["Q: 窓口は？", "A: 産学連携課です。"]),
    ("担当者：産学連携課です。\n\n（メモ）後日資料。\n", ["担当者：産学連携課です。", "（メモ）後日資料。"]),
])
def test_text_memos_keep_paragraphs_and_mark_questions_and_answers(tmp_path, text, want):
    f = tmp_path / "memo.txt"
    f.write_bytes(text.encode("cp932"))
    assert note_paragraphs(f) == want


def test_import_notes_from_a_cases_csv_checks_every_file_first(project, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("A: 専門人材が不足している。\n", encoding="utf-8")
    b.write_text("A: 共願が多い。\n", encoding="utf-8")
    cases = tmp_path / "cases.csv"
    cases.write_bytes("file,id,org,region,kind,attribute,staff\na.txt,JP-A,A大学,日本,国立大,国立大,5-9\n"
                      "b.txt,JP-B,B大学,南極,国立大,国立大,1-4\n".encode("cp932"))  # as Excel saves it in Japan
    with pytest.raises(TranscriptError) as e:
        import_notes(project, [a, b], cases=cases)
    assert e.value.problems == [f"{b}: unknown region '南極' (the codebook knows 日本, 米国, 諸外国等)"]
    assert list((project / "transcripts").iterdir()) == []  # nothing written
    cases.write_bytes(cases.read_bytes().replace("南極".encode("cp932"), "日本".encode("cp932")))
    done = import_notes(project, [a, b], cases=cases)
    assert [d.transcript_id for d in done] == ["JP-A", "JP-B"]
    t = Project.open(project).by_id["JP-A"]
    assert t.case_vars == {"staff": "5-9"} and t.body == "A: 専門人材が不足している。\n"
    with pytest.raises(TranscriptError, match="transcript 'JP-A' already exists"):
        import_notes(project, [a], cases=cases)


def test_front_matter_that_would_publish_the_wrong_name_is_refused(project, write):
    write("a.md", "A: x\n", id="JP-A")
    p = project / "transcripts" / "a.md"
    p.write_text(p.read_text(encoding="utf-8").replace("org: T大学\n", "org: A機関\norg: 東北大学\n"), encoding="utf-8")
    res = run("validate", "--no-names", "--project", project)
    assert res.exit_code == 1 and f"{p}:3: front matter key 'org' is written twice; keep one" in res.output
    p.write_text(p.read_text(encoding="utf-8").replace("org: A機関\norg: 東北大学\n", "org: [a, b]\n"), encoding="utf-8")
    res = run("validate", "--no-names", "--project", project)
    assert res.exit_code == 1 and f"{p}:3: front matter 'org' must be one value, not a list or mapping" in res.output
