"""Planted real names never reach a published output, in any format."""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from coding.anonymity import Guard, Policy, allowed
from coding.project import Project, find_real_names

from conftest import transcript_text

PLANTED = ["東京大学", "スタンフォード大学", "山田太郎"]
BODY = ("A: 東京大学の山田太郎教授とも話したが、専門人材が慢性的に不足している。\n\n"
        "A: スタンフォード大学では交渉はTTOが主導し、研究者は技術説明に限定している。\n\n"
        "A: 東北工業大学との共同研究になってしまうと成果が共同発明になり、共有特許になってしまう。\n")


def published_text(outputs: Path) -> dict[str, str]:
    """Every published file under outputs/ as text (xlsx: all its XML parts)."""
    out = {}
    for p in outputs.rglob("*"):
        if not p.is_file() or "cache" in p.relative_to(outputs).parts:
            continue
        if p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                out[str(p)] = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))
        elif p.suffix in (".png", ".qdpx"):
            continue
        else:
            out[str(p)] = p.read_text(encoding="utf-8", errors="replace")
    return out


@pytest.fixture
def planted(project):
    (project / "transcripts" / "b.md").write_text(transcript_text(BODY, id="JP-B", org="B大学"), encoding="utf-8")
    (project / "anonymity.yml").write_text("real_names:\n  東北工業大学: H大学\n", encoding="utf-8")
    body = BODY
    rows = []
    for text, code in [("東京大学の山田太郎教授とも話したが、専門人材が慢性的に不足している。", "課題⑧"),
                       ("スタンフォード大学では交渉はTTOが主導し、研究者は技術説明に限定している。", "図表32-5"),
                       ("東北工業大学との共同研究になってしまうと成果が共同発明になり、共有特許になってしまう。", "課題⑤")]:
        s = body.index(text)
        rows.append(["JP-B", s, s + len(text), text, code, "", "manual", "hanako", "yes"])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["transcript_id", "start", "end", "text", "code_id", "code_ref", "status", "coder", "quote"])
    w.writerows(rows)
    (project / "in.csv").write_text(buf.getvalue(), encoding="utf-8")
    res = CliRunner().invoke(cli, ["import", "codings", str(project / "in.csv"), "--project", str(project)])
    assert res.exit_code == 0, res.output
    return project


def test_validate_lists_the_names_with_file_and_line(planted):
    p = Project.open(planted)
    _, found = find_real_names(p.root, p.transcripts)
    names = {(Path(f.path).name, f.line, f.name) for f in found}
    assert ("b.md", 10, "東京大学") in names and ("b.md", 10, "山田太郎") in names
    assert ("b.md", 12, "スタンフォード大学") in names and ("b.md", 14, "東北工業大学") in names
    res = CliRunner().invoke(cli, ["validate", "--project", str(planted)])
    assert res.exit_code == 0
    assert "b.md:10: 東京大学" in res.output and "b.md:14: 東北工業大学 (anonymity.yml)" in res.output


def test_no_published_output_carries_a_planted_name(planted):
    res = CliRunner().invoke(cli, ["run", "--project", str(planted)])
    assert res.exit_code == 0, res.output
    assert "anonymity: masked" in res.output and "東京大学 → 〇〇" in res.output
    files = published_text(planted / "outputs")
    assert any(f.endswith("tables.xlsx") for f in files) and any(f.endswith("tables.json") for f in files)
    for path, text in files.items():
        for name in PLANTED + ["東北工業大学"]:
            assert name not in text, f"{name} leaked into {path}"
    tables = files[str(planted / "outputs" / "tables" / "tables.json")]
    assert "〇〇の〇〇教授とも話したが" in tables and "H大学との共同研究" in tables  # known name → pseudonym
    # the raw transcript is never changed
    assert "東京大学" in (planted / "transcripts" / "b.md").read_text(encoding="utf-8")


def test_strict_refuses_to_write(planted):
    res = CliRunner().invoke(cli, ["tables", "--strict", "--project", str(planted)])
    assert res.exit_code == 1 and "--strict: nothing written" in res.output and "東京大学" in res.output
    assert not (planted / "outputs" / "tables").exists()


def test_guard_and_allow_list():
    g = Guard(Policy(real_names={"東北大学": "B大学"}, allow=frozenset({"特許庁"})), ["東京大学", "山田"])
    assert g.apply("東北大学と東京大学の山田さん、特許庁") == "B大学と〇〇の〇〇さん、特許庁"
    assert g.masked == {"東北大学": 1, "東京大学": 1, "山田": 1}
    pol = Policy(allow=frozenset({"AUTM"}))
    assert allowed("B大学", pol) and allowed("G大学（私立）", pol) and allowed("国立大学", pol) and allowed("AUTM", pol)
    assert not allowed("東京大学", pol)


FORMS = ["Taro Yamada", "Tohoku University", "Stanford University", "Hitachi, Ltd.", "Mr. Suzuki",
         "Ｔｏｈｏｋｕ Ｕｎｉｖｅｒｓｉｔｙ", "日立 製作所", "ﾄｳﾎｸ大学", "株式会社ﾋﾀﾁｾｲｻｸｼｮ", "東北大", "P&G", "Johnson & Johnson"]
FORMS_BODY = ("A: 先日 Taro Yamada さんと Tohoku University の件で話したが、専門人材が慢性的に不足している。\n\n"
              "A: Stanford University や Hitachi, Ltd.、Mr. Suzuki とは交渉の前に対価の根拠を示している。\n\n"
              "A: Ｔｏｈｏｋｕ Ｕｎｉｖｅｒｓｉｔｙ と日立 製作所、ﾄｳﾎｸ大学、株式会社ﾋﾀﾁｾｲｻｸｼｮ、東北大との共同研究では共願が多い。\n\n"
              "A: P&G や Johnson & Johnson にも展示会に出しても成約につながらない。R&D の話は別。\n")


def test_names_in_every_written_form_are_found_and_never_published(project):
    (project / "transcripts" / "f.md").write_text(transcript_text(FORMS_BODY, id="JP-F", org="F大学"), encoding="utf-8")
    (project / "anonymity.yml").write_text("always_mask: [P&G]\n", encoding="utf-8")
    p = Project.open(project)
    _, found = find_real_names(p.root, p.transcripts)
    assert set(FORMS) <= {f.name for f in found}
    assert "R&D" not in {f.name for f in found}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["transcript_id", "start", "end", "text", "code_id", "code_ref", "status", "coder", "quote"])
    for para in p.transcripts[0].paragraphs:
        w.writerow(["JP-F", para.start, para.end, para.text, "課題⑧", "", "manual", "hanako", "yes"])
    (project / "in.csv").write_text(buf.getvalue(), encoding="utf-8")
    assert CliRunner().invoke(cli, ["import", "codings", str(project / "in.csv"), "--project", str(project)],
                              catch_exceptions=False).exit_code == 0
    res = CliRunner().invoke(cli, ["run", "--project", str(project)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    files = published_text(project / "outputs")
    assert any(f.endswith("tables.html") for f in files)
    leaks = {(Path(f).name, form) for f, text in files.items() for form in FORMS + ["P&amp;G", "Johnson &amp; Johnson"] if form in text}
    assert leaks == set()
    tables = files[str(project / "outputs" / "tables" / "tables.json")]
    assert "R&D の話は別" in tables  # a term, not a name, is left alone
    res = CliRunner().invoke(cli, ["validate", "--project", str(project)], catch_exceptions=False)
    for form in ["Taro Yamada", "ﾄｳﾎｸ大学", "東北大", "日立 製作所"]:
        assert "f.md:" in res.output and f": {form} (" in res.output, form


def test_a_front_matter_org_that_is_not_a_pseudonym_is_a_name(project):
    (project / "transcripts" / "g.md").write_text(transcript_text("A: 共願が多い。\n", id="JP-G", org="東北大学"), encoding="utf-8")
    p = Project.open(project)
    _, found = find_real_names(p.root, p.transcripts)
    assert [(f.line, f.name, f.source) for f in found if f.source.startswith("front matter")] == [(3, "東北大学", "front matter org (not a pseudonym)")]
    res = CliRunner().invoke(cli, ["tables", "--format", "json", "--project", str(project)], catch_exceptions=False)
    assert res.exit_code == 0 and "東北大学" not in (project / "outputs" / "tables" / "tables.json").read_text(encoding="utf-8")


def test_pseudonyms_with_a_country_prefix_are_pseudonyms():
    from coding.anonymity import PSEUDONYM_RE

    for org in ["スウェーデンL大学", "米国R州立大学", "仮称C1大学", "英国T大学", "甲大学", "K大学（私立）",
                "庚県立大学", "米国M研究財団", "Q研究機構"]:
        assert PSEUDONYM_RE.match(org), org
    for org in ["東北大学", "スウェーデン大学", "ハーバード大学", "東京工業大学", "大阪府立大学", "日本学術振興会",
                "科学技術振興機構", "理化学研究所"]:
        assert not PSEUDONYM_RE.match(org), org


def test_the_name_search_reads_a_huge_line_in_chunks(project, monkeypatch):
    """A transcript that is one very long line is parsed a chunk at a time (memory stays flat):
    no chunk handed to the NER is longer than the limit, and a name deep in the line is found."""
    import coding.anonymity as an

    seen = []
    real_pipe_scan = an._scan

    def spy(nlp, t):
        class Spy:
            def pipe(self, items, as_tuples=False, batch_size=32):
                for text, context in items:
                    seen.append(len(text))
                    yield from nlp.pipe([(text, context)], as_tuples=True)
        return real_pipe_scan(Spy(), t)

    monkeypatch.setattr(an, "_scan", spy)
    line = "共同研究の話をした" * 3_000 + "山田太郎教授とも話した" + "共同研究の話をした" * 100
    (project / "transcripts" / "h.md").write_text(transcript_text("A: " + line + "\n", id="JP-H"), encoding="utf-8")
    p = Project.open(project)
    _, found = find_real_names(p.root, p.transcripts)
    assert "山田太郎" in {f.name for f in found}
    assert len(seen) >= 10 and max(seen) <= 1500
