"""The rule tagger: the report's real quotes, normalisation, denial, rule operators."""
from __future__ import annotations

import yaml

from coding.codebook import load_codebook
from coding.project import Project, code_project
from coding.store import Store

from conftest import ROOT, reference

KIND = {"国内国立大学": "国立大", "国内工業大学": "工業大", "国内私立大学": "私立大", "国内技術移転機関": "技術移転機関",
        "国内私立大学、工業大学": "私立大"}


def _suggested(project, tid, start, end):
    st = Store.open(project)
    return {s.code_id for s in st.suggestions if s.transcript_id == tid and s.start < end and s.end > start}


def test_every_report_quote_is_suggested_its_challenge(project, write, capsys):
    """Each of the 24 quotes of 図表34, in a Japanese organisation's notes, gets its challenge."""
    table = yaml.safe_load(reference("report_tables.yml").read_text(encoding="utf-8"))["challenge_table"]["rows"]
    quotes = [(row["ref"], q["text"], q["attribution"]) for row in table for q in row["quotes"]]
    assert len(quotes) == 24
    placed = []
    for i, (ref, text, attribution) in enumerate(quotes):
        kind = KIND[attribution]
        body = f"Q: 技術移転の現状について伺いたい。\n\nA: {text}\n"
        write(f"q{i:02d}.md", body, id=f"JP-Q{i:02d}", kind=kind, attribute=kind)
        start = body.index(text)
        placed.append((ref, f"JP-Q{i:02d}", start, start + len(text)))
    code_project(Project.open(project))
    missed, others = [], 0
    for ref, tid, start, end in placed:
        got = {c for c in _suggested(project, tid, start, end) if c.startswith("課題")}
        if ref not in got:
            missed.append((ref, tid))
        others += len(got - {ref})
    precision = 24 / (24 + others)
    with capsys.disabled():
        print(f"\n図表34 quotes: recall {24 - len(missed)}/24, other challenges suggested {others}, precision {precision:.2f}")
    assert missed == []


def test_normalised_forms_meet(project, write, tmp_path):
    # ロイヤルティ/ロイヤリティ, ＴＬＯ/TLO and ３年/3年 must match the same phrase.
    cb = (project / "codebook.yml").read_text(encoding="utf-8")
    cb += ("  - id: X\n    kind: theme\n    label: x\n    definition: d\n    patterns:\n"
           "      - {id: a, all: [ロイヤリティ, TLO, 3年]}\n")
    (project / "codebook.yml").write_text(cb, encoding="utf-8")
    body = "A: ロイヤルティはＴＬＯが３年ごとに見直す。\n\nA: ロイヤリティーはTLOが3年ごとに見直す。\n\nA: ロイヤリティはTLOが見直す。\n"
    write("n.md", body, id="JP-N")
    code_project(Project.open(project))
    rows = [s for s in Store.open(project).suggestions if s.code_id == "X"]
    assert [r.text for r in rows] == ["ロイヤルティはＴＬＯが３年ごとに見直す。", "ロイヤリティーはTLOが3年ごとに見直す。"]
    assert rows[0].pattern == "a" and "ＴＬＯ" in rows[0].matched.split("|")


def test_denied_or_solved_challenge_is_not_suggested(project, write):
    body = ("A: 共願はほとんど問題になっていない。\n\n"
            "A: 以前は専門人材が不足していたが、今は解消した。\n\n"
            "A: 共同研究になってしまうと成果が共同発明になり、共有特許になってしまう。\n")
    write("d.md", body, id="JP-D")
    code_project(Project.open(project))
    codes = {(s.text[:6], s.code_id) for s in Store.open(project).suggestions}
    assert ("共願はほとん", "課題⑤") not in codes
    assert ("共願はほとん", "図表32-1") in codes  # the theme is still talked about
    assert not any(c == "課題⑧" for t, c in codes if t.startswith("以前は"))
    assert ("共同研究にな", "課題⑤") in codes


def test_rule_operators(project, write):
    cb = (project / "codebook.yml").read_text(encoding="utf-8")
    cb += """  - id: NEAR
    kind: theme
    label: near
    definition: d
    patterns:
      - {id: para, all: [展示会, {any: [成約], scope: paragraph}]}
  - id: NONE
    kind: theme
    label: none
    definition: d
    patterns:
      - {id: no-bio, all: [特許], none: [バイオ]}
  - id: TOK
    kind: theme
    label: tokens
    definition: d
    patterns:
      - {id: t, tokens: [{NORM: 特許}, {POS: ADP}]}
"""
    (project / "codebook.yml").write_text(cb, encoding="utf-8")
    body = "A: 展示会に出した。成約はない。\n\nA: 成約は別の話。\n\nA: 特許がある。バイオの特許がある。\n"
    write("o.md", body, id="JP-O")
    code_project(Project.open(project))
    got = {(s.code_id, s.text) for s in Store.open(project).suggestions if s.code_id in ("NEAR", "NONE", "TOK")}
    assert ("NEAR", "展示会に出した。") in got and not any(c == "NEAR" and "成約" in t for c, t in got)
    assert ("NONE", "特許がある。") in got and ("NONE", "バイオの特許がある。") not in got
    assert ("TOK", "特許がある。") in got
