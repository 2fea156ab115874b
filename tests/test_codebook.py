"""Loading and validating codebook.yml."""
from __future__ import annotations

import pytest
import yaml

from coding.codebook import load_codebook
from coding.errors import CodebookError

from conftest import ROOT, reference


@pytest.fixture(scope="module")
def codebook():
    return load_codebook(ROOT / "codebook.yml")


def test_codebook_holds_every_ref_of_the_report(codebook):
    refs = yaml.safe_load(reference("report_refs.yml").read_text(encoding="utf-8"))
    want = {str(item["ref"]) for items in refs.values() for item in items}
    have = {c.ref for c in codebook.codes.values() if c.ref}
    assert want - have == set()
    assert have - want == set()


def test_codebook_structure(codebook):
    assert [c.id for c in codebook.of_kind("phase")] == ["交渉前", "交渉中", "交渉後"]
    assert len(codebook.of_kind("theme")) == 11
    assert len(codebook.of_kind("challenge")) == 12 and len(codebook.of_kind("practice")) == 5
    assert len(codebook.of_kind("case")) == 15
    tables = yaml.safe_load(reference("report_tables.yml").read_text(encoding="utf-8"))
    n_findings = sum(len(row[r]) for t in tables["comparison_tables"].values() for row in t["rows"] for r in ("日本", "米国", "諸外国等"))
    assert len(codebook.of_kind("finding")) == n_findings
    f = codebook["図表32-2/日本/※"]
    assert f.parent == "図表32-2" and f.get("counter") is True and f.get("region") == "日本"
    assert codebook.effective_ref("図表32-2/日本/※") == "図表32-2"
    assert codebook["P4"].get("cases") == ["事例⑨", "事例⑩", "事例⑪"]
    assert "課題⑤" in codebook["P4"].get("answers")
    assert codebook["課題③"].get("latent") is True and codebook["課題①"].get("latent") is False
    assert codebook["事例⑥"].get("country") == "フランス"
    assert all(c.definition for c in codebook.codes.values())
    assert codebook.warnings == ()


BAD = """\
regions: [日本, 米国]
codes:
  - id: A
    kind: challenge
    label: one
    definition: d
  - id: A
    kind: challenge
    label: twice
    definition: d
  - id: B
    kind: practice
    label: orphan
    parent: NOPE
    definition: d
  - id: C
    kind: theme
    label: bad patterns
    definition: d
    ref: 図表99-9
    patterns:
      - {id: t, tokens: [{NORM: 共願, BOGUS: 1}]}
      - {id: s, all: [展示会], scope: everywhere}
      - {id: n, none: [展示会]}
"""


def test_all_problems_are_reported_at_once_with_lines(tmp_path):
    p = tmp_path / "codebook.yml"
    p.write_text(BAD, encoding="utf-8")
    with pytest.raises(CodebookError) as e:
        load_codebook(p)
    msgs = e.value.problems
    assert "codebook.yml:7: A: duplicate code id (first defined at line 3)" in [m.split("/")[-1] for m in msgs]
    text = "\n".join(msgs)
    assert "codebook.yml:11: B: unknown parent 'NOPE'" in text
    assert "codebook.yml:22: C: pattern 't': bad token pattern" in text
    assert "codebook.yml:23: C: pattern 's': scope must be 'sentence' or 'paragraph'" in text
    assert len(msgs) == 4


def test_unknown_ref_and_never_matching_pattern_are_warnings(tmp_path):
    p = tmp_path / "codebook.yml"
    p.write_text(BAD.split("  - id: A\n    kind: challenge\n    label: twice")[0] +
                 "  - id: C\n    kind: theme\n    label: t\n    definition: d\n    ref: 自前-1\n    patterns:\n      - {id: n, none: [展示会]}\n",
                 encoding="utf-8")
    cb = load_codebook(p)
    assert any("ref '自前-1' is not an item of the report" in w for w in cb.warnings)
    assert any("pattern 'n' can never match" in w for w in cb.warnings)


def test_yaml_error_is_located(tmp_path):
    p = tmp_path / "codebook.yml"
    p.write_text("codes:\n  - id: A\n    label: [unclosed\n", encoding="utf-8")
    with pytest.raises(CodebookError, match=r"codebook.yml:\d+: not valid YAML"):
        load_codebook(p)


def test_learned_suggester_settings_are_checked_with_their_line(tmp_path):
    good = (ROOT / "codebook.yml").read_text(encoding="utf-8")
    line = next(i for i, x in enumerate(good.split("\n"), 1) if x.startswith("  learned: {"))
    bad = "\n".join(
        "  learned: {model: sample, min_score: 2, min_cv_f1: high, families: [case]}"
        if i == line else x for i, x in enumerate(good.split("\n"), 1))
    p = tmp_path / "codebook.yml"
    p.write_text(bad, encoding="utf-8")
    with pytest.raises(CodebookError) as e:
        load_codebook(p)
    msgs = [m.split("/")[-1] for m in e.value.problems]
    assert msgs == [
        f"codebook.yml:{line}: tagger.learned.min_score must be a number from 0 to 1 (got 2)",
        f"codebook.yml:{line}: tagger.learned.min_cv_f1 must be a number (got 'high')",
        f"codebook.yml:{line}: tagger.learned.families must list some of phase, theme, challenge, practice (unknown: case)",
    ]
    p.write_text(good.replace("learned: {model: sample, seeds: models/report_seeds.yml, min_score: 0.3}", "learned: 0.3"), encoding="utf-8")
    with pytest.raises(CodebookError, match=r"tagger.learned must be a mapping with the keys model, seeds, min_score, min_cv_f1, families \(got 0.3\)"):
        load_codebook(p)


MISSPELT = """\
regions: [日本, 米国]
regoins: [日本]
attribution:
  ordr: [transcript]
  styles:
    short:
      joinr: "、"
tables:
  - type: comparison
    titel: x
  - {type: challenges, regon: 日本}
tagger:
  skp: {speakers: [Q]}
  skip:
    speakrs: [Q]
  learned:
    min_scor: 0.3
    famlies: [theme]
denial:
  contrst: [が、]
codes:
  - id: A
    kind: challenge
    lable: one
    label: one
    definition: d
    patterns:
      - {id: p, any: [共願], socre: 0.5}
      - id: q
        all:
          - {anyy: [展示会]}
"""


def test_a_misspelt_setting_at_every_level_is_reported_with_its_line_and_the_key_meant(tmp_path):
    p = tmp_path / "codebook.yml"
    p.write_text(MISSPELT, encoding="utf-8")
    with pytest.raises(CodebookError) as e:
        load_codebook(p)
    msgs = sorted(m.replace(f"{tmp_path}/", "") for m in e.value.problems)
    assert msgs == sorted([
        "codebook.yml:2: unknown top-level key 'regoins' (did you mean regions?)",
        "codebook.yml:4: attribution: unknown key 'ordr' (did you mean order?)",
        "codebook.yml:7: attribution.styles.short: unknown key 'joinr' (did you mean joiner?)",
        "codebook.yml:10: tables[1]: unknown key 'titel' (did you mean title?)",
        "codebook.yml:11: tables[2]: unknown key 'regon' (did you mean regions?)",
        "codebook.yml:13: tagger: unknown key 'skp' (did you mean skip?)",
        "codebook.yml:15: tagger.skip: unknown key 'speakrs' (did you mean speakers?)",
        "codebook.yml:17: tagger.learned: unknown key 'min_scor' (did you mean min_score?)",
        "codebook.yml:18: tagger.learned: unknown key 'famlies' (did you mean families?)",
        "codebook.yml:20: denial: unknown key 'contrst' (did you mean contrast?)",
        "codebook.yml:24: A: unknown key 'lable' (did you mean label?)",
        "codebook.yml:28: A: pattern 'p': unknown key 'socre' (did you mean score?) (use any/all/none/phrase/tokens/near)",
        "codebook.yml:29: A: pattern 'q': unknown key 'anyy' (did you mean any?)",
    ])


def test_the_language_of_the_review_views_is_a_checked_setting(tmp_path):
    p = tmp_path / "codebook.yml"
    codes = "codes:\n  - {id: A, kind: theme, label: a, definition: d}\n"
    p.write_text(codes, encoding="utf-8")
    assert load_codebook(p).settings.lang == "ja"  # Japanese unless the codebook says otherwise
    p.write_text("lang: en\n" + codes, encoding="utf-8")
    assert load_codebook(p).settings.lang == "en"
    p.write_text("regions: [日本]\nlang: english\n" + codes, encoding="utf-8")
    with pytest.raises(CodebookError) as e:
        load_codebook(p)
    assert [m.replace(f"{tmp_path}/", "") for m in e.value.problems] == [
        "codebook.yml:2: lang must be one of ja, en (got 'english')"]
    p.write_text("lnag: en\n" + codes, encoding="utf-8")
    with pytest.raises(CodebookError) as e:
        load_codebook(p)
    assert [m.replace(f"{tmp_path}/", "") for m in e.value.problems] == [
        "codebook.yml:1: unknown top-level key 'lnag' (did you mean lang?)"]
