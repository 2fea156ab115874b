"""Evaluation: the held-out gold conversion, the measures, units and families, the CLI."""
from __future__ import annotations

import csv
import io
import json
import sys

import yaml
from click.testing import CliRunner

from cli import cli
from coding.evaluate import Scores, evaluate, paragraph_gold
from coding.project import Project
from coding.store import Coding

from conftest import ROOT

HELDOUT = ROOT / "tests" / "heldout"


def test_dev_gold_is_the_paragraph_gold_converted_and_codes_no_question():
    """The development set's gold (reviewed codings to train and tune on) is up to date, codes no
    question of the interviewer, and challenges only in Japanese organisations' notes."""
    sys.path.insert(0, str(ROOT / "tests"))
    from make_gold import gold_csv_text, gold_path

    dev = ROOT / "tests" / "dev"
    assert gold_path(dev) == dev / "codings" / "gold.csv"
    assert gold_path(dev).read_text(encoding="utf-8") == gold_csv_text(dev), "run python tests/make_gold.py tests/dev"
    p = Project.open(dev)
    assert not set(p.by_id) & set(Project.open(HELDOUT).by_id)
    rows = list(csv.DictReader(io.StringIO(gold_path(dev).read_text(encoding="utf-8"))))
    assert len({r["transcript_id"] for r in rows}) == len(p.transcripts) >= 12
    for r in rows:
        t = p.by_id[r["transcript_id"]]
        para = t.paragraph_at(int(r["start"]))
        assert para.speaker not in ("Q", "Ｑ", "問", "聞き手"), r  # the interviewer's words carry no code
        if r["code_id"].startswith("課題"):
            assert t.attributes["region"] == "日本", r


def test_heldout_gold_csv_is_the_paragraph_gold_converted():
    sys.path.insert(0, str(ROOT / "tests"))
    from make_gold import gold_csv_text

    assert (HELDOUT / "gold.csv").read_text(encoding="utf-8") == gold_csv_text(HELDOUT), "run python tests/make_gold.py"
    data = yaml.safe_load((HELDOUT / "gold_paragraphs.yml").read_text(encoding="utf-8"))
    p = Project.open(HELDOUT)
    rows = list(csv.DictReader(io.StringIO((HELDOUT / "gold.csv").read_text(encoding="utf-8"))))
    assert list(rows[0])[:8] == ["transcript_id", "start", "end", "text", "code_id", "code_ref", "status", "coder"]
    assert len(rows) == sum(len(e["codes"]) for entries in data.values() for e in entries)
    assert {r["coder"] for r in rows} == {"gold"} and {r["status"] for r in rows} == {"manual"}
    by_id = p.by_id
    for r in rows:
        t = by_id[r["transcript_id"]]
        para = t.paragraph_at(int(r["start"]))
        assert (para.start, para.end) == (int(r["start"]), int(r["end"])) and para.text == r["text"]
        assert r["code_id"] in p.codebook
    tid = next(iter(data))
    first = data[tid][0]
    para = by_id[tid].paragraphs[first["paragraph"] - 1]
    got = [(int(r["start"]), r["code_id"]) for r in rows if r["transcript_id"] == tid][: len(first["codes"])]
    assert sorted(got) == sorted((para.start, c) for c in first["codes"])
    assert para.speaker in ("A", "Q", None) and not para.text.startswith(("A:", "Q:"))


def test_paragraph_gold_rejects_a_paragraph_out_of_range(project, write):
    write("a.md", "Q: 問い。\n\nA: 答え。\n", id="JP-A")
    p = Project.open(project)
    rows = paragraph_gold(p.transcripts, {"JP-A": [{"paragraph": 2, "codes": ["課題①"]}]})
    assert [(r.start, r.end, r.text, r.code_id, r.status, r.coder) for r in rows] == [(p.transcripts[0].paragraphs[1].start, p.transcripts[0].paragraphs[1].end, "答え。", "課題①", "manual", "gold")]
    import pytest

    from coding.errors import StoreError

    with pytest.raises(StoreError, match=r"JP-A: paragraph 3 is not between 1 and 2"):
        paragraph_gold(p.transcripts, {"JP-A": [{"paragraph": 3, "codes": ["課題①"]}]})


def test_scores():
    s = Scores(tp=8, fp=2, fn=4, tn=86)
    assert (s.precision, round(s.recall, 4), round(s.f1, 4)) == (0.8, 0.6667, 0.7273)
    # po = 0.94; pe = 0.1*0.12 + 0.9*0.88 = 0.804; kappa = 0.136 / 0.196
    assert round(s.kappa, 4) == round(0.136 / 0.196, 4)
    assert Scores().precision is None and Scores(tn=5).kappa is None


def test_evaluate_units_families_and_findings_as_themes(project, write):
    body = "Q: 共願について。\n\nA: 共願が多い。出願費用も高い。\n\nA: 展示会は効果がない。\n"
    write("a.md", body, id="JP-A")
    p = Project.open(project)
    t = p.transcripts[0]
    a1, a2 = t.paragraphs[1], t.paragraphs[2]
    s1, s2 = [s for s in t.segments() if s.paragraph == 1]
    gold = [
        Coding("JP-A", s1.start, s1.end, s1.text, "図表32-1/日本", "manual", "g"),  # a finding: counts as 図表32-1
        Coding("JP-A", a1.start, a1.end, a1.text, "課題②", "manual", "g"),
        Coding("JP-A", a2.start, a2.end, a2.text, "課題①", "rejected", "g"),  # rejected: not gold
    ]
    preds = [("JP-A", s1.start, s1.end, "図表32-1"), ("JP-A", s2.start, s2.end, "課題②"), ("JP-A", a2.start, a2.end, "課題①")]
    ev = evaluate(p.codebook, p.transcripts, gold, preds)
    assert ev.units == {"paragraph": 3, "segment": 4}
    assert ev.skipped == ("phase", "practice")
    assert ev.codes["paragraph"]["図表32-1"] == Scores(tp=1, fp=0, fn=0, tn=2)
    assert ev.codes["paragraph"]["課題②"] == Scores(tp=1, fp=0, fn=0, tn=2)
    assert ev.codes["paragraph"]["課題①"] == Scores(tp=0, fp=1, fn=0, tn=2)
    assert ev.codes["segment"]["課題②"] == Scores(tp=1, fp=0, fn=1, tn=2)  # gold spans the paragraph: 2 sentences
    n_challenges = len([c for c in p.codebook.codes.values() if c.kind == "challenge"])
    assert ev.families["paragraph"]["challenge"] == Scores(tp=1, fp=1, fn=0, tn=3 * n_challenges - 2)
    assert p.codebook.eval_code("図表32-2/日本/※") == "図表32-2" and p.codebook.eval_code("課題") is None


def test_calibration_bands_take_the_best_score_per_paragraph_and_code(project, write):
    write("a.md", "A: 共願が多い。出願費用も高い。\n\nA: 展示会は効果がない。\n\nA: 人が足りない。\n", id="JP-A")
    p = Project.open(project)
    a, b, c = p.transcripts[0].paragraphs
    s1, s2 = [s for s in p.transcripts[0].segments() if s.paragraph == 0]
    gold = [Coding("JP-A", a.start, a.end, a.text, "課題⑤", "manual", "g"),
            Coding("JP-A", c.start, c.end, c.text, "課題⑧", "manual", "g")]
    preds = [("JP-A", s1.start, s1.end, "課題⑤"), ("JP-A", s2.start, s2.end, "課題⑤"),  # one unit, best 0.95
             ("JP-A", b.start, b.end, "課題①"), ("JP-A", c.start, c.end, "課題⑧")]
    ev = evaluate(p.codebook, p.transcripts, gold, preds, scores=[0.4, 0.95, 0.92, 0.6])
    bands = {(band.low, band.high): (band.units, band.right) for band in ev.calibration}
    assert bands[(0.9, 1.0)] == (2, 1) and bands[(0.5, 0.7)] == (1, 1) and bands[(0.3, 0.5)] == (0, 0)
    assert ev.as_dict()["calibration"][0] == {"from": 0.9, "to": 1.0, "units": 2, "right": 1, "precision": 0.5}
    assert evaluate(p.codebook, p.transcripts, gold, preds).calibration == ()  # no scores, no table


def test_cli_evaluate_json_and_markdown(project, write, tmp_path):
    write("a.md", "Q: 共願について。\n\nA: 日本企業との共同研究では共願が多く、大学単独のライセンス戦略がとれない。\n", id="JP-A")
    p = Project.open(project)
    para = p.transcripts[0].paragraphs[1]
    gold = tmp_path / "gold.csv"
    gold.write_text("transcript_id,start,end,text,code_id,code_ref,status,coder\n"
                    f"JP-A,{para.start},{para.end},{para.text},課題⑤,課題⑤,manual,gold\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["evaluate", "--project", str(project), "--gold", str(gold), "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["transcripts"] == ["JP-A"] and data["units"] == {"paragraph": 2, "segment": 2}
    assert data["levels"]["paragraph"]["codes"]["課題⑤"]["tp"] == 1
    assert sum(b["units"] for b in data["calibration"]) >= 1  # the suggestion of 課題⑤, by its score
    # an earlier gold file also coded 課題⑧ there, which the tagger misses: recall 0.50 then
    earlier = tmp_path / "earlier.csv"
    earlier.write_text(gold.read_text(encoding="utf-8") + f"JP-A,{para.start},{para.end},{para.text},課題⑧,課題⑧,manual,gold\n",
                       encoding="utf-8")
    res = CliRunner().invoke(cli, ["evaluate", "--project", str(project), "--gold", str(earlier), "--format", "json"],
                             catch_exceptions=False)
    before = tmp_path / "before.json"
    before.write_text(res.output, encoding="utf-8")
    assert json.loads(res.output)["levels"]["paragraph"]["families"]["challenge"]["recall"] == 0.5
    res = CliRunner().invoke(cli, ["evaluate", "--project", str(project), "--gold", str(gold), "--format", "md",
                                   "--baseline", str(before), "--by", "family"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "| challenge | 1 | 0 | 0 | 1.00 → 1.00 | 0.50 → 1.00 | 0.67 → 1.00 |" in res.output
    bad = tmp_path / "bad.csv"
    bad.write_text("transcript_id,start,end,text,code_id,code_ref,status,coder\nJP-X,0,1,x,課題⑤,,manual,gold\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["evaluate", "--project", str(project), "--gold", str(bad)], catch_exceptions=False)
    assert res.exit_code == 1 and f"{bad}: row 2: unknown transcript id 'JP-X'" in res.output
