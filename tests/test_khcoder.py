"""KH Coder exchange: codebook → rule file → codebook keeps every expressible pattern; the rule file
follows KH Coder's grammar as its reader parses it; hand-written rule files, errors by line; the
corpus and variables files; the command line."""
from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from cli import cli
from coding.codebook import load_codebook
from coding.khcoder import KhCoderError, check_rules, codes_from_rules, corpus_text, rules_text, variables_csv
from coding.project import Project
from coding.rules import compile_rule
from coding.tagger import Tagger

from conftest import ROOT


def canon(rule, *, approximate: bool = False):
    """A rule as a boolean formula: or/and parts as sets, nesting of the same operator flattened.
    ``approximate``: as KH Coder can say it (no scope, near as and, '=' dropped)."""
    parts = []
    if rule.phrase is not None:
        parts.append(("p", rule.phrase.lstrip("=") if approximate else rule.phrase))
    if rule.any:
        alts = []
        for sub in rule.any:
            c = canon(sub, approximate=approximate)
            alts.extend(c[1] if c[0] == "or" else [c])
        parts.append(alts[0] if len(alts) == 1 else ("or", frozenset(alts)))
    parts += [canon(r, approximate=approximate) for r in rule.all]
    if rule.near:
        near = [canon(r, approximate=approximate) for r in rule.near]
        parts += near if approximate else [("near", frozenset(near))]
    parts += [("not", canon(r, approximate=approximate)) for r in rule.none]
    if rule.scope and not approximate:
        parts.append(("scope", rule.scope))
    flat = []
    for p in parts:
        flat.extend(p[1] if p[0] == "and" else [p])
    return flat[0] if len(flat) == 1 else ("and", frozenset(flat))


def imported(code):
    out = []
    for pat in code.patterns:
        rule, problems = compile_rule({k: v for k, v in pat.items() if k not in ("id", "score")})
        assert problems == []
        out.append((pat["id"], pat.get("score", 0.7), rule))
    return out


def test_sample_codebook_round_trip_keeps_every_expressible_pattern():
    cb = load_codebook(ROOT / "codebook.yml")
    rf = rules_text(cb)
    assert check_rules(rf.text) == []
    back = {c.id: c for c in codes_from_rules(rf.text, "codes.cod").codes}
    with_patterns = [c for c in cb.codes.values() if c.patterns and c.codable]
    assert list(back) == [c.id for c in with_patterns] and len(back) == rf.codes == 31
    approximated = {(u.code_id, u.pattern_id) for u in rf.unexpressed if u.pattern_id}
    exact = 0
    for code in with_patterns:
        b = back[code.id]
        assert (b.kind, b.label, b.parent, b.ref, b.definition) == (code.kind, code.label, code.parent, code.ref, code.definition)
        got = imported(b)
        assert [(i, s) for i, s, _ in got] == [(p.id, p.score) for p in code.patterns]
        for pat, (_, _, rule) in zip(code.patterns, got):
            if (code.id, pat.id) in approximated:  # written as KH Coder can say it, and read back as written
                assert canon(rule) == canon(pat.rule, approximate=True), (code.id, pat.id)
            else:
                assert canon(rule) == canon(pat.rule), (code.id, pat.id)
                exact += 1
    assert exact == rf.patterns - len(approximated) and exact > len(approximated)


CODEBOOK = """\
regions: [日本]
tagger: {regions: {challenge: [日本]}}
denial: {cues: [問題はない]}
codes:
  - id: 価格
    kind: theme
    label: 価格の決め方
    definition: d
    patterns:
      - 相場
      - {id: both, score: 0.9, all: [{any: [料率, ロイヤリティ]}, {any: [根拠, データ]}], none: [バイオ]}
      - {id: quote, any: ["Tom's", "IP Hatch"]}
      - {id: tok, tokens: [{NORM: 特許}, {POS: ADP}]}
      - {id: wide, all: [展示会, {any: [成約], scope: paragraph}]}
      - {id: near, near: [共願, 特許]}
      - {id: surface, any: [=少ない, 100%]}
  - id: 人材
    kind: challenge
    label: 人材不足
    definition: d
    patterns:
      - {id: only, tokens: [{NORM: 人材}]}
"""


def test_what_cannot_be_expressed_is_listed_and_the_rest_comes_back(tmp_path):
    (tmp_path / "codebook.yml").write_text(CODEBOOK, encoding="utf-8")
    cb = load_codebook(tmp_path / "codebook.yml")
    rf = rules_text(cb)
    assert [str(u) for u in rf.unexpressed] == [
        "価格#tok: token pattern (spaCy Matcher): KH Coder has no counterpart (left out)",
        "価格#wide: scope: paragraph: written at KH Coder's coding unit (code at 段落 to keep it as wide)",
        "価格#near: near: written as & (every part in the same sentence when KH Coder codes sentences); comes back as all",
        "価格#surface: '=少ない' (surface only): KH Coder's strings are always the surface; it comes back as '少ない'",
        "価格#surface: '100%': % and _ are wildcards in KH Coder's strings",
        "人材#only: token pattern (spaCy Matcher): KH Coder has no counterpart (left out)",
        "人材: denial (a sentence that denies the problem or calls it solved) is not applied",
        "人材: suggested only in transcripts of 日本 (tagger.regions): KH Coder codes every document",
    ]
    body = rf.text.split("＊価格\n", 1)[1].split("\n", 1)[1]  # after the code line and its '# code:' comment
    assert body == ("'相場'\n"
                    "| ( ( '料率' | 'ロイヤリティ' ) & ( '根拠' | 'データ' ) &! 'バイオ' )\n"
                    "| ( 'Tom''s' | 'IP Hatch' )\n"
                    "| ( '展示会' & '成約' )\n"
                    "| ( '共願' & '特許' )\n"
                    "| ( '少ない' | '100%' )\n")
    assert "＊人材" not in rf.text  # no pattern left to write
    assert check_rules(rf.text) == []
    (back,) = codes_from_rules(rf.text, "codes.cod").codes
    assert back.patterns == (
        {"id": "p1", "phrase": "相場"},
        {"id": "both", "score": 0.9, "all": [{"any": ["料率", "ロイヤリティ"]}, {"any": ["根拠", "データ"]}], "none": ["バイオ"]},
        {"id": "quote", "any": ["Tom's", "IP Hatch"]},
        {"id": "wide", "all": ["展示会", "成約"]},
        {"id": "near", "all": ["共願", "特許"]},
        {"id": "surface", "any": ["少ない", "100%"]},
    )


HAND_WRITTEN = """\
# 手で書いたコーディングルール
＊死
死後 or 死病 | 死ぬ

＊信用・不信
信用 or 信じる
or 不信

＊近接
near(先生-奥さん)[b8] and not 'お嬢さん'

＊まとめ
<＊信用・不信> & seq(先生-奥さん) & 卒業+証書
"""


def test_a_hand_written_rule_file_becomes_codes():
    res = codes_from_rules(HAND_WRITTEN, "rules.cod", kind="theme", parent="テーマ")
    got = {c.id: (c.kind, c.parent, c.label, [{k: v for k, v in p.items() if k != "id"} for p in c.patterns]) for c in res.codes}
    assert got == {
        "死": ("theme", "テーマ", "死", [{"phrase": "死後"}, {"phrase": "死病"}, {"phrase": "死ぬ"}]),
        "信用・不信": ("theme", "テーマ", "信用・不信", [{"phrase": "信用"}, {"phrase": "信じる"}, {"phrase": "不信"}]),
        "近接": ("theme", "テーマ", "近接", [{"all": [{"near": ["先生", "奥さん"]}], "none": ["お嬢さん"]}]),
        "まとめ": ("theme", "テーマ", "まとめ", [{"all": [{"any": ["信用", "信じる", "不信"]}, {"near": ["先生", "奥さん"]}, "卒業証書"]}]),
    }
    assert "rules.cod:3: word 死後 (KH Coder: the extracted word) is imported as a phrase (found inside longer words too)" in res.notes
    assert "rules.cod:10: near(先生-奥さん)[b8]: imported as near (same sentence); the distance in words are not kept" in res.notes
    assert ("rules.cod:13: seq(先生-奥さん): imported as near (same sentence); the order of seq and the distance in words "
            "are not kept") in res.notes
    assert "rules.cod:13: 卒業+証書: the words in a row, imported as the phrase 卒業証書" in res.notes


@pytest.mark.parametrize("text, problem", [
    ("＊a\n'x' &\n", "rules.cod:2: the condition ends where an atom or '(' is needed (＊a)"),
    ("＊a\n( 'x' | 'y'\n", "rules.cod:2: '(' is not closed (＊a)"),
    ("＊a\n'x' 'y'\n", "rules.cod:2: unexpected ''y'' (a missing operator, or a ')' too many) (＊a)"),
    ("＊a\n'x' )\n", "rules.cod:2: unexpected ')' (a missing operator, or a ')' too many) (＊a)"),
    ("＊a\n'x'\n＊a\n'y'\n", "rules.cod:3: ＊a is defined twice (first at line 1); KH Coder stops: redefined"),
    ("'x'\n＊a\n'y'\n", "rules.cod:1: a condition before any ＊code line"),
    ("＊a\n\n＊b\n'y'\n", "rules.cod:1: ＊a has no condition"),
    ("＊a\n'it''s | 'b'\n", "rules.cod:2: string 'it''s is not closed on this line (write '' for a quote inside it)"),
    ("＊a\n('x' | 'y')\n", "rules.cod:2: '('x'' is read as one word: put spaces around ( ) and quotes"),
    ("＊a\n& 'x'\n", "rules.cod:2: '&' where an atom or '(' is needed (＊a)"),
])
def test_rule_file_grammar_errors_are_located(text, problem):
    assert problem in check_rules(text, "rules.cod")
    with pytest.raises(KhCoderError) as e:
        codes_from_rules(text, "rules.cod")
    assert problem in e.value.problems


def test_what_a_codebook_cannot_hold_is_refused_by_line_or_skipped():
    text = "＊見出し\n<>見出し1-->上\n\n＊品詞\n死ぬ->連用タ接続\n\n＊回数\n死ぬ >= 2\n\n＊可\n'先生' | <>大見出し-->上\n\n＊良い\n'先生'\n"
    with pytest.raises(KhCoderError) as e:
        codes_from_rules(text, "t.cod")
    assert e.value.problems == [
        "t.cod:2: <>見出し1-->上: a heading has no counterpart in a codebook",
        "t.cod:5: 死ぬ->連用タ接続: a part of speech has no counterpart in a codebook",
        "t.cod:8: '>=': counts and comparisons have no counterpart in a codebook",
        "t.cod:11: <>大見出し-->上: a variable has no counterpart in a codebook",
    ]
    res = codes_from_rules(text, "t.cod", skip=True)
    assert [c.id for c in res.codes] == ["良い"] and len(res.skipped) == 4


def test_corpus_and_variables_follow_the_transcripts(project, write):
    write("a.md", "Q: 展示会は？\n\nA: 展示会に出る。<H1>も書く。\n\n（メモ）後日。\n", id="JP-A")
    write("b.md", "A: 共願が多い。\n", id="JP-B", date="2025-10-02")
    p = Project.open(project)
    assert corpus_text(p.transcripts, skip=Tagger(p.codebook, model=None).skipped) == (
        "<H1>JP-A</H1>\n展示会に出る。＜H1＞も書く。\n\n<H1>JP-B</H1>\n共願が多い。\n")
    rows = list(csv.reader(io.StringIO(variables_csv(p.transcripts))))
    assert rows[0] == ["id", "org", "region", "country", "kind", "attribute", "date"]
    assert [r[0] for r in rows[1:]] == ["JP-A", "JP-B"]


def test_command_line_export_then_import(project, write, tmp_path):
    write("a.md", "A: 展示会に出る。\n", id="JP-A")
    out = tmp_path / "kh"
    res = CliRunner().invoke(cli, ["export", "khcoder", "-o", str(out), "--project", str(project)], catch_exceptions=False)
    assert res.exit_code == 0
    assert res.output.splitlines()[-4:] == ["31 code(s) with 81 pattern(s), 1 document(s), 7 variable(s)",
                                           f"wrote {out / 'codes.cod'}", f"wrote {out / 'corpus.txt'}", f"wrote {out / 'variables.csv'}"]
    raw = (out / "codes.cod").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf# KH Coder coding rules") and b"\r\n" in raw
    res = CliRunner().invoke(cli, ["import", "khcoder", str(out / "codes.cod"), "-o", str(tmp_path / "codes.yml"),
                                   "--project", str(project)], catch_exceptions=False)
    assert res.exit_code == 0
    assert res.stdout == f"wrote {tmp_path / 'codes.yml'}\n"
    assert res.stderr.endswith("31 code(s) with 81 pattern(s)\n")
    assert "note: already in the codebook (rename before pasting): 交渉前" in res.stderr
    # the YAML is a codebook's codes: list: beside the groups its codes name as parents, it loads as a codebook
    groups = "codes:\n  - {id: 課題, kind: group, label: 課題}\n  - {id: プラクティス, kind: group, label: プラクティス}\n"
    codes = (tmp_path / "codes.yml").read_text(encoding="utf-8")
    assert codes.startswith("codes:\n  - id: 交渉前\n    kind: phase\n")
    (tmp_path / "codebook.yml").write_text(groups + codes.removeprefix("codes:\n"), encoding="utf-8")
    assert len(load_codebook(tmp_path / "codebook.yml").codes) == 33


def test_cp932_export_names_a_character_it_cannot_write(project, write, tmp_path):
    write("a.md", "A: 𠮷田さんの展示会。\n", id="JP-A")  # 𠮷 (U+20BB7) is not in CP932
    res = CliRunner().invoke(cli, ["export", "khcoder", "-o", str(tmp_path / "kh"), "--encoding", "cp932", "--project", str(project)])
    assert res.exit_code == 1
    assert "corpus.txt:2: '𠮷' (U+20BB7) has no cp932 code" in res.output
    assert not (tmp_path / "kh").exists()


def test_import_checks_kind_and_parent_against_the_codebook(project, tmp_path):
    rules = tmp_path / "r.cod"
    rules.write_bytes("＊展示\n'展示会'\n".encode("cp932"))  # CP932, as older KH Coder set-ups save it
    for args, message in ((["--kind", "topic"], "--kind topic: not a code kind of the codebook"),
                          (["--parent", "なし"], "--parent なし: no such code in codebook.yml")):
        res = CliRunner().invoke(cli, ["import", "khcoder", str(rules), *args, "--project", str(project)])
        assert res.exit_code == 1 and message in res.output
    res = CliRunner().invoke(cli, ["import", "khcoder", str(rules), "--kind", "practice", "--parent", "プラクティス",
                                   "--project", str(project)], catch_exceptions=False)
    assert res.stdout == ("codes:\n  - id: 展示\n    kind: practice\n    label: 展示\n    parent: プラクティス\n    definition: ''\n"
                          "    patterns:\n      - {id: p1, phrase: 展示会}\n")
