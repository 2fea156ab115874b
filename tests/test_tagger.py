"""The rule tagger: the report's real quotes, normalisation, denial, rule operators."""
from __future__ import annotations

import yaml

from coding.project import Project, code_project
from coding.store import Store
from coding.tagger import matched_cell, read_matched_cell

from conftest import reference

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
    assert rows[0].pattern == "a" and "ＴＬＯ" in read_matched_cell(rows[0].matched)[0]


def test_matched_words_are_the_surface_spans_of_the_matched_tokens(project, write):
    """A suggestion keeps where its words matched, as written in the sentence: the whole word of
    the matched tokens (ロイヤルティ for the phrase ロイヤリティ, ＴＬＯ for TLO), never a token
    string found elsewhere (the 願 of 共願 inside 出願)."""
    cb = (project / "codebook.yml").read_text(encoding="utf-8")
    cb += ("  - id: X\n    kind: theme\n    label: x\n    definition: d\n    patterns:\n"
           "      - {id: a, any: [出願, ロイヤリティ, TLO]}\n")
    (project / "codebook.yml").write_text(cb, encoding="utf-8")
    body = "A: 出願の多くは企業との共願だ。\n\nA: ロイヤルティ率はＴＬＯが決める。\n\nA: 特許出願の費用と海外出願。\n"
    write("h.md", body, id="JP-H")
    code_project(Project.open(project))
    got = {(s.code_id, s.text[:4]): read_matched_cell(s.matched) for s in Store.open(project).suggestions}
    assert got[("X", "出願の多")] == (("出願",), (0,))
    assert got[("図表32-1", "出願の多")] == (("共願",), (10,))  # tokens 共 + 願: one word, at its place
    assert got[("X", "ロイヤル")] == (("ロイヤルティ", "ＴＬＯ"), (0, 8))
    assert got[("交渉中", "ロイヤル")] == (("ロイヤルティ率",), (0,))  # phrase ロイヤリティ率 over two tokens
    assert got[("X", "特許出願")] == (("出願", "出願"), (2, 10))
    assert got[("図表32-2", "特許出願")] == (("海外出願",), (8,))
    for s in Store.open(project).suggestions:
        words, at = read_matched_cell(s.matched)
        assert [s.text[a:a + len(w)] for w, a in zip(words, at)] == list(words)


def test_a_matched_cell_reads_back_and_old_cells_still_read():
    cell = matched_cell(["ロイヤリティ率", "A|B", "x@y"], [0, 9, 12])
    assert cell == "ロイヤリティ率@0|A|B@9|x@y@12"
    assert read_matched_cell(cell) == (("ロイヤリティ率", "A|B", "x@y"), (0, 9, 12))
    assert read_matched_cell("人材|不足") == (("人材", "不足"), (None, None))  # written before positions were kept
    assert read_matched_cell("") == ((), ())


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


def _codes_by_text(project):
    return {(s.text, s.code_id) for s in Store.open(project).suggestions}


def test_questions_and_memos_are_not_tagged_and_challenges_only_in_japan(project, write):
    body = "Q: 専門人材は不足していますか。\n\nA: 専門人材が慢性的に不足している。\n\n（メモ）専門人材が不足しているとのこと。\n"
    write("jp.md", body, id="JP-A")
    write("us.md", body, id="US-A", region="米国", country="米国", kind="州立大", attribute="州立大")
    code_project(Project.open(project))
    got = {(s.transcript_id, s.text, s.code_id) for s in Store.open(project).suggestions}
    assert ("JP-A", "専門人材が慢性的に不足している。", "課題⑧") in got
    assert not any(t.startswith(("専門人材は不足して", "（メモ）")) for _, t, _ in got)
    assert not any(tid == "US-A" and c.startswith("課題") for tid, _, c in got)


def test_negated_cue_contrast_and_past_problem_solved_later(project, write):
    body = ("A: 英語で交渉できる人材は確保できていない。\n\n"          # 確保できている, negated: still a problem
            "A: 採用に工夫はしているが、交渉できる人材はなかなか確保できない。\n\n"  # contrast after the cue
            "A: 以前は交渉できる人材が不足していた。今は外部の専門家の力を借りて解消している。\n\n"
            "A: 交渉できる人材の不足は、今は解消した。\n")
    write("d.md", body, id="JP-D")
    code_project(Project.open(project))
    got = {t for t, c in _codes_by_text(project) if c == "課題⑧"}
    assert got == {"英語で交渉できる人材は確保できていない。", "採用に工夫はしているが、交渉できる人材はなかなか確保できない。"}


def test_not_our_problem_and_past_problem_solved_in_the_same_sentence(project, write):
    body = ("A: 交渉できる人材は足りない。\n\n"                                   # a problem
            "A: 3年前までは交渉できる人材が足りなくて大変だったのですが、いまはきちんと回っています。\n\n"
            "A: 交渉できる人材が足りなくて困っている、ということはありません。\n\n"
            "A: 以前は交渉できる人材が足りなかった。\n\n")                       # past, never said solved
    write("e.md", body, id="JP-E")
    code_project(Project.open(project))
    got = {t for t, c in _codes_by_text(project) if c == "課題⑧"}
    assert got == {"交渉できる人材は足りない。", "以前は交渉できる人材が足りなかった。"}


def test_surface_only_phrase_keeps_inflections_apart(project, write):
    cb = (project / "codebook.yml").read_text(encoding="utf-8")
    cb += ("  - id: FEW\n    kind: theme\n    label: few\n    definition: d\n    patterns:\n"
           "      - {id: few, all: [件数, =少ない]}\n      - {id: norm, all: [件数, 少なすぎる]}\n")
    (project / "codebook.yml").write_text(cb, encoding="utf-8")
    write("f.md", "A: 件数が少ない。\n\nA: 件数は少なくない。\n\nA: 件数が少なすぎた。\n", id="JP-F")
    code_project(Project.open(project))
    got = {(s.text, s.pattern) for s in Store.open(project).suggestions if s.code_id == "FEW"}
    assert got == {("件数が少ない。", "few"), ("件数が少なすぎた。", "norm")}  # 少なすぎる meets 少なすぎた by its normalised form
