"""The learned suggester: features, training, the model file, its suggestions beside the rules'."""
from __future__ import annotations

import shutil

import pytest

from click.testing import CliRunner

from cli import cli
from coding.codebook import load_codebook
from coding.learn import LearnedModel, features, load_model, resolve_model, train
from coding.nlp import NlpSettings, lexical_tokenizer
from coding.project import Project, code_project
from coding.settings import Learned, Veto
from coding.store import DECISION_COLUMNS, Store
from coding.tagger import Tagger
from coding.training import train_project

from conftest import ROOT, with_settings

QUANTUM = "量子計算の装置を企業に紹介した。量子計算の分野は市場が伸びている。"
OTHER = "学内の会議で年度の予定を確認した。"


def _team_project(project, write, n=6):
    """n transcripts whose first answer (about quantum computing) the team coded 図表33-1."""
    rows = []
    for i in range(n):
        body = f"Q: 分野について。\n\nA: {QUANTUM}\n\nA: {OTHER}\n"
        write(f"t{i}.md", body, id=f"JP-{i}")
    p = Project.open(project)
    for t in p.transcripts:
        para = t.paragraphs[1]
        rows.append(f"{t.id},{para.start},{para.end},{para.text},図表33-1/日本,図表33-1,manual,team,,,2026-01-01T00:00:00Z")
    (project / "codings").mkdir()
    (project / "codings" / "team.csv").write_text(",".join(DECISION_COLUMNS) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return Project.open(project)


def test_features_are_normalised_content_words_and_neighbour_pairs():
    tok = lexical_tokenizer(NlpSettings())
    assert features(tok("ロイヤルティの料率を決める。")) == {"ロイヤリティー", "料率", "決める", "ロイヤリティー+料率", "料率+決める"}


def test_train_learns_a_code_and_the_model_file_round_trips(project, write, tmp_path):
    p = _team_project(project, write)
    out = train_project(p, output=tmp_path / "m.json", seed=False)
    res, path = out.result, out.path
    assert res.model.codes == ("図表33-1",) and res.positives == {"図表33-1": 6} and res.examples == 12
    model = load_model(path)
    assert model == LearnedModel.from_json(res.model.to_json())
    tok = lexical_tokenizer(NlpSettings())
    yes, no = model.scores(features(tok(QUANTUM)))["図表33-1"], model.scores(features(tok(OTHER)))["図表33-1"]
    assert yes >= model.thresholds["図表33-1"] > no
    assert model.info["coders"] == ["team"] and model.info["paragraphs"] == 12


def test_model_suggestions_name_their_source_and_merge_with_rules(project, write, tmp_path):
    p = _team_project(project, write)
    res = train_project(p, output=tmp_path / "m.json", seed=False).result
    tagger = Tagger(p.codebook, model=res.model)
    tok = lexical_tokenizer(NlpSettings())
    t = p.transcripts[0]
    got = tagger.tag(t, [tok(x.text) for x in t.paragraphs])
    mine = [s for s in got if s.code_id == "図表33-1"]
    assert mine and all(s.patterns[-1].startswith("model:") for s in mine)
    assert {s.text for s in mine} <= {"量子計算の装置を企業に紹介した。", "量子計算の分野は市場が伸びている。"}
    assert any("量子" in w for w in mine[0].matched)  # runs of adjacent tokens: 量子計算 is one word
    assert [mine[0].text[a:a + len(w)] for w, a in zip(mine[0].matched, mine[0].matched_at)] == list(mine[0].matched)
    # a sentence a rule also codes carries both sources, the score combined
    text = "バイオ分野の量子計算の装置を企業に紹介した。"
    from coding.transcripts import Paragraph

    para = Paragraph("X", 0, 0, len(text), "A", text)
    both = [s for s in tagger.tag_paragraph("X", para, tok(text)) if s.code_id == "図表33-1"]
    assert len(both) == 1 and both[0].patterns[0] == "fields" and both[0].patterns[1].startswith("model:")
    rule_only = [s for s in Tagger(p.codebook, model=None).tag_paragraph("X", para, tok(text)) if s.code_id == "図表33-1"]
    assert both[0].score > rule_only[0].score


def test_a_copied_codebook_keeps_its_named_model(project, write):
    """The sample codebook names the shipped model, so a copy of it anywhere suggests as the
    sample does; a model file the codebook names but the project lacks is a loud warning."""
    write("a.md", "A: 専門人材が不足している。\n", id="JP-A")
    shutil.copy(ROOT / "codebook.yml", project / "codebook.yml")  # as shipped, with its model
    p = Project.open(project)
    choice = resolve_model(p.codebook)
    assert (choice.name, choice.path.name, choice.warning) == ("sample", "sample.json", "")
    assert Tagger(p.codebook).model is not None
    text = (project / "codebook.yml").read_text(encoding="utf-8").replace("model: sample,", "model: models/suggester.json,")
    (project / "codebook.yml").write_text(text, encoding="utf-8")
    p = Project.open(project)
    assert Tagger(p.codebook).model is None
    res = code_project(p)
    assert res.source.startswith("rules only") and len(res.warnings) == 1
    assert "tagger.learned.model 'models/suggester.json': suggester.json not found beside the codebook" in res.warnings[0]
    assert {s.pattern for s in Store.open(project).suggestions if s.code_id == "課題⑧"} == {"talent-shortage"}
    out = CliRunner().invoke(cli, ["validate", "--project", str(project), "--no-names"], catch_exceptions=False)
    assert out.exit_code == 0 and "warning: " + res.warnings[0] in out.output


def test_cli_train_writes_the_codebook_model_and_code_uses_it(project, write):
    _team_project(project, write)
    shutil.copy(ROOT / "codebook.yml", project / "codebook.yml")  # as shipped, with its model
    (project / "models").mkdir()
    shutil.copy(ROOT / "models" / "report_seeds.yml", project / "models" / "report_seeds.yml")
    res = CliRunner().invoke(cli, ["train", "--project", str(project), "--coder", "team"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert f"wrote {project.resolve() / 'models' / 'suggester.json'}" in res.output
    assert "note: the codebook uses the shipped model 'sample'; to use this one, set tagger.learned.model: models/suggester.json" in res.output
    assert "図表33-1" in res.output and "cross-validated F1" in res.output
    model = load_model(project / "models" / "suggester.json")
    assert "図表33-1" in model.codes and "課題④" in model.codes  # the report's seeds add challenges
    text = (project / "codebook.yml").read_text(encoding="utf-8").replace("model: sample,", "model: models/suggester.json,")
    (project / "codebook.yml").write_text(text, encoding="utf-8")
    assert resolve_model(Project.open(project).codebook).path == (project / "models" / "suggester.json").resolve()
    res = CliRunner().invoke(cli, ["code", "--project", str(project)])
    assert res.exit_code == 0, res.output
    assert any(s.pattern.startswith("model:") or ",model:" in s.pattern for s in Store.open(project).suggestions)
    res = CliRunner().invoke(cli, ["train", "--project", str(project), "--coder", "nobody"], catch_exceptions=False)
    assert res.exit_code == 1 and "Error: no decisions by nobody in " in res.output


def test_train_needs_confirmed_codings(project, write):
    write("a.md", "A: 何か。\n", id="JP-A")
    res = CliRunner().invoke(cli, ["train", "--project", str(project)])
    assert res.exit_code == 1 and "no confirmed codings to learn from" in res.output


def test_train_on_toy_examples_is_deterministic():
    ex = [(f"g{i % 4}", {"a", "b"} if i % 2 else {"c"}, {"X"} if i % 2 else set()) for i in range(16)]
    a, b = train(ex), train(ex)
    assert a.model.to_json() == b.model.to_json() and a.model.codes == ("X",)


def _toy_model(code: str, bias: float) -> LearnedModel:
    return LearnedModel((code,), {"人材": 0}, ((0.0,),), (bias,), {code: 0.5}, {"cv": {code: [1.0, 1.0, 1.0]}})


def test_veto_drops_a_rule_challenge_the_model_finds_improbable(project, write):
    from dataclasses import replace

    text = "専門人材が不足している。"
    from coding.transcripts import Paragraph

    para = Paragraph("X", 0, 0, len(text), "A", text)
    tok = lexical_tokenizer(NlpSettings())
    cb = load_codebook(project / "codebook.yml")

    def codes(veto, bias):
        c = with_settings(cb, "tagger.learned", veto=veto or Veto())
        return {s.code_id for s in Tagger(c, model=_toy_model("課題⑧", bias)).tag_paragraph("X", para, tok(text))}

    assert "課題⑧" in codes(None, -10.0)  # no veto: the rule's suggestion stands
    assert "課題⑧" not in codes(Veto(kinds=("challenge",), below=0.02), -10.0)  # p ≈ 0.00005 < 0.02
    assert "課題⑧" in codes(Veto(kinds=("challenge",), below=0.02), -3.0)  # p ≈ 0.047: kept
    assert "課題⑧" in codes(Veto(kinds=("practice",), below=0.02), -10.0)  # other kinds only
    # a code the model has not learned well (cross-validated F1 under min_cv_f1) vetoes nothing
    assert "課題⑧" in codes(Veto(kinds=("challenge",), below=0.02, min_cv_f1=1.1), -10.0)


def test_train_also_learns_from_another_project(project, write, tmp_path):
    p = _team_project(project, write, n=3)
    other = tmp_path / "second"
    shutil.copytree(project, other)
    for f in (other / "transcripts").glob("*.md"):
        f.write_text(f.read_text(encoding="utf-8").replace("id: JP-", "id: XP-"), encoding="utf-8")
    (other / "codings" / "team.csv").write_text(
        (project / "codings" / "team.csv").read_text(encoding="utf-8").replace("JP-", "XP-"), encoding="utf-8")
    alone = train_project(p, output=tmp_path / "a.json", seed=False).result
    both = train_project(p, output=tmp_path / "b.json", seed=False, also=[other]).result
    assert (alone.examples, both.examples) == (6, 12)
    assert both.positives == {"図表33-1": 6} and both.model.info["also"] == [
        {"project": "second", "transcripts": 3, "paragraphs": 6}]
    bad = (other / "codings" / "team.csv").read_text(encoding="utf-8").replace("図表33-1/日本", "NOPE")
    (other / "codings" / "team.csv").write_text(bad, encoding="utf-8")
    res = CliRunner().invoke(cli, ["train", "--project", str(project), "-o", str(tmp_path / "c.json"), "--also", str(other)],
                             catch_exceptions=False)
    assert res.exit_code == 1 and f"Error: {other}: codings use codes that " in res.output and "does not have: NOPE" in res.output


def test_a_code_learns_only_from_examples_whose_coder_codes_its_family():
    # group a codes phases (P) and themes; group b codes only themes: its "A" paragraphs, which
    # would be phase P too, must not teach the model that "A" means "not P"
    a = [(f"a{i}", {"A", "x"}, {"P"}, frozenset({"phase", "theme"})) for i in range(6)]
    a += [(f"a{i}", {"B", "y"}, set(), frozenset({"phase", "theme"})) for i in range(6)]
    b = [(f"b{i}", {"A", "x"}, {"T"}, frozenset({"theme"})) for i in range(12)]
    family_of = {"P": "phase", "T": "theme"}
    aware = train(a + b, family_of=family_of, folds=3)
    blind = train(a + b, folds=3)
    assert aware.model.scores({"A", "x"})["P"] > 0.8 > 0.6 > blind.model.scores({"A", "x"})["P"]
    assert aware.model.scores({"A", "x"})["T"] == pytest.approx(blind.model.scores({"A", "x"})["T"])


def test_learned_families_come_from_the_codebook(project):
    cb = load_codebook(project / "codebook.yml")
    assert cb.settings.tagger.learned.families == Learned().families == ("theme", "challenge", "practice")
    assert with_settings(cb, "tagger.learned", families=("phase", "theme")).settings.tagger.learned.families == ("phase", "theme")
