"""Published tables as people open them: CSV in Japanese Excel (BOM, no formulas), the workbook's
titles, sheet names and print setup."""
from __future__ import annotations

import codecs
import csv
import io

import openpyxl
import pytest
from click.testing import CliRunner

from cli import cli
from coding.export import crosstab_text, neutralise, sheet_name, to_csv_files, to_xlsx, write_tables

from conftest import transcript_text

HOSTILE = ["=HYPERLINK(\"http://example.com\",\"x\")", "+81-3-1234", "-2+3", "@SUM(A1)", "\tタブ", "\r改行",
           "＝全角", "－全角", "-", "普通の文"]


def tables_with(cells: list[str], *, draft: bool = False) -> dict:
    """A challenge table whose quotes and titles are ``cells``."""
    rows = [{"process": c, "ref": f"課題{i}", "title": c, "latent": False, "summary": "", "orgs": ["JP-1"],
             "quotes": [], "note": c} for i, c in enumerate(cells)]
    return {"title": "ヒアリング調査", "draft": draft,
            "layout": [{"type": "challenges", "id": "表3", "title": "課題と発言"}],
            "challenge_table": {"id": "表3", "regions": ["日本"], "rows": rows}}


def excel_decode(data: bytes) -> str:
    """How Japanese Excel reads a CSV file it opens: by its byte-order mark, else as the Windows
    code page of a Japanese system, CP932."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(enc)
    return data.decode("cp932", errors="replace")


def test_csv_opens_as_japanese_in_excel_and_plain_utf8_when_asked(tmp_path):
    t = tables_with(["専門人材が慢性的に不足している。"])
    with_bom = write_tables(t, tmp_path / "a", ["csv"])
    plain = write_tables(t, tmp_path / "b", ["csv"], csv_bom=False)
    assert [p.name for p in with_bom] == [p.name for p in plain] == ["表3.csv"]
    data = with_bom[0].read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert excel_decode(data) == to_csv_files(t)["表3"]
    assert excel_decode(data).splitlines()[0] == "プロセス,課題,ヒアリング調査の結果,言及した組織数"
    # without the mark Excel shows mojibake: the reason the mark is the default
    raw = plain[0].read_bytes()
    assert raw == data[len(codecs.BOM_UTF8):] and excel_decode(raw) != to_csv_files(t)["表3"]


def test_cells_that_spreadsheets_would_run_are_neutralised():
    assert [neutralise(c) for c in HOSTILE] == [
        "'=HYPERLINK(\"http://example.com\",\"x\")", "'+81-3-1234", "'-2+3", "'@SUM(A1)", "'\tタブ", "'\r改行",
        "'＝全角", "'－全角", "-", "普通の文"]
    text = to_csv_files(tables_with(HOSTILE))["表3"]
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[0] for r in rows[1:]] == [neutralise(c) for c in HOSTILE]
    assert [r[1] for r in rows[1:]] == [f"【課題{i}】{c}" for i, c in enumerate(HOSTILE)]  # safe as they are
    # no cell of any CSV begins with a character that starts a formula, but "-"
    for text in (text, crosstab_text({"values": ["=a"], "totals": {"=a": 1}, "rows": [
            {"code_id": "@x", "label": "+y", "counts": {"=a": 1}, "expected": {}, "total": 1, "chi2": None, "p": None}],
            "unit": "transcript", "variable": "kind"}, "csv")):
        for row in csv.reader(io.StringIO(text, newline="")):
            assert not [c for c in row if c and c != "-" and c[0] in "=+-@\t\r＝＋－＠"], row


def test_the_workbook_has_titles_short_sheet_names_and_a4_landscape_print_setup(tmp_path):
    long = "ランニングロイヤリティ収入に関わる技術移転活動の日米等の違い"
    t = {"title": "調査", "draft": True,
         "layout": [{"type": "roster", "id": "表1", "title": "ヒアリングの対象となった組織とその所属する分類の一覧表"},
                    {"type": "comparison", "id": "図表33", "title": long}],
         "rosters": {"日本": [{"group": "国立大", "orgs": ["A大学"]}], "諸外国等": [{"group": "州立大", "orgs": ["B大学"]}]},
         "comparison_tables": {"図表33": {"title": long, "regions": ["日本"], "rows": [
             {"process": "交渉", "title": "=危険な式", "日本": []}]}}}
    out = tmp_path / "tables.xlsx"
    to_xlsx(t, out)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["表1 ヒアリングの対象となった組織とその所属する分類…（日本）",
                             "表1 ヒアリングの対象となった組織とその所属する…（諸外国等）",
                             "図表33 ランニングロイヤリティ収入に関わる技術移転活動の日…"]
    assert all(len(n) <= 31 for n in wb.sheetnames)
    for ws, title in zip(wb.worksheets, ["表1 ヒアリングの対象となった組織とその所属する分類の一覧表（日本）",
                                         "表1 ヒアリングの対象となった組織とその所属する分類の一覧表（諸外国等）", f"図表33 {long}"]):
        assert ws["A1"].value == title and ws["A1"].font.b and ws["A2"].value.startswith("下書き")
        assert ws.freeze_panes == "A4" and ws.print_title_rows == "$3:$3"
        assert (ws.page_setup.orientation, ws.page_setup.paperSize) == ("landscape", 9)
        # one page wide (an absent fitToWidth is 1, the OOXML default), as many pages down as it takes
        assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight, ws.sheet_properties.pageSetUpPr.fitToPage) == (1, 0, True)
        assert ws.oddFooter.center.text == "&P / &N"
    assert [c.value for c in wb.worksheets[2][3]] == ["プロセス", "違いのポイント", "日本"]
    assert wb.worksheets[2]["B4"].value == "=危険な式" and wb.worksheets[2]["B4"].data_type == "s"  # text, not a formula


@pytest.mark.parametrize("names, expected", [
    (["a" * 40, "a" * 40, "a" * 40], ["a" * 30 + "…", "a" * 27 + "…(2)", "a" * 27 + "…(3)"]),
    (["表1 " + "長" * 40 + "（日本）", "表1 " + "長" * 40 + "（米国）"], ["表1 " + "長" * 23 + "…（日本）", "表1 " + "長" * 23 + "…（米国）"]),
    (["Sheet", "sheet", "'引用'", "a[b]:c*d?e/f\\g"], ["Sheet", "sheet(2)", "引用", "abcdefg"]),
])
def test_sheet_names_are_shortened_sensibly(names, expected):
    used: set[str] = set()
    assert [sheet_name(n, used) for n in names] == expected


def test_tables_command_writes_csv_with_or_without_the_mark(project, tmp_path):
    (project / "transcripts" / "a.md").write_text(transcript_text("A: 専門人材が慢性的に不足している。\n", id="JP-A"), encoding="utf-8")
    for flag, starts in (([], True), (["--no-csv-bom"], False)):
        out = tmp_path / ("bom" if starts else "plain")
        res = CliRunner().invoke(cli, ["tables", "--format", "csv", "-o", str(out), "--project", str(project), *flag],
                                 catch_exceptions=False)
        assert res.exit_code == 0, res.output
        files = sorted(out.glob("*.csv"))
        assert files and all(f.read_bytes().startswith(codecs.BOM_UTF8) is starts for f in files)
