"""The learned suggester: features and vectors, training, the model file, its decisions beside the rules."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from cli import cli
from coding.codebook import load_codebook
from coding.learn import Example, LearnedModel, features, ginza_vectors, load_model, murmurhash64a, resolve_model, train, window
from coding.nlp import NlpSettings, lexical_tokenizer
from coding.project import Project, code_project
from coding.settings import Learned
from coding.store import DECISION_COLUMNS, Store
from coding.tagger import Tagger
from coding.training import train_project
from coding.transcripts import Paragraph

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
    (project / "codings" / "team.csv").write_text(",".join(DECISION_COLUMNS[:11]) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return Project.open(project)


def test_features_are_normalised_content_words_and_neighbour_pairs():
    tok = lexical_tokenizer(NlpSettings())
    assert features(tok("ロイヤルティの料率を決める。")) == {"ロイヤリティー", "料率", "決める", "ロイヤリティー+料率", "料率+決める"}


def test_word_vectors_are_ja_ginzas_looked_up_without_spacy():
    from spacy.strings import hash_string

    for word in ["特許", "ロイヤリティー", "abcdefgh", "abcdefghi", "𠮷野家", ""]:
        assert murmurhash64a(word.encode("utf-8")) == hash_string(word)
    vectors = ginza_vectors()
    assert vectors is not None and vectors.dim == 300
    tok = lexical_tokenizer(NlpSettings())
    a, b, c = (window(list(tok(t))).vec for t in ("専門人材が不足している。", "交渉できる人が足りない。", "学内の会議で予定を確認した。"))
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert float(a @ b) > float(a @ c)  # two ways of saying a shortage are nearer each other than a meeting
    assert not window([]).vec.any()


def _ex(group, bow, codes=(), hits=(), families=None, vec=None):
    return Example(group, window_of(bow, vec), frozenset(hits), frozenset(codes), families)


def window_of(bow, vec=None):
    from coding.learn import Window

    return Window(frozenset(bow), np.zeros(300, dtype="float32") if vec is None else vec)


def test_train_on_toy_examples_is_deterministic_and_its_probabilities_are_calibrated():
    ex = [_ex(f"g{i % 4}", {"a", "b"} if i % 3 else {"c"}, {"X"} if i % 3 and i % 5 else ()) for i in range(60)]
    a, b = train(ex, folds=4), train(ex, folds=4)
    assert a.model.to_json() == b.model.to_json() and a.model.codes == ("X",)
    p_ab = a.model.scores(window_of({"a", "b"}))["X"]
    rate = sum(1 for e in ex if e.window.bow == {"a", "b"} and "X" in e.codes) / sum(1 for e in ex if e.window.bow == {"a", "b"})
    assert abs(p_ab - rate) < 0.1  # no class weighting: a probability on the examples' own scale
    back = LearnedModel.from_json(a.model.to_json())
    assert back.scores(window_of({"a", "b"}))["X"] == pytest.approx(p_ab, abs=1e-3)


def test_the_rule_feature_belongs_to_its_own_code():
    """What the model says of a code moves with that code's rules only (an edit of one code's
    patterns must not change the model's say on another)."""
    ex = []
    for i in range(40):
        ex.append(_ex(f"g{i % 4}", {"w"}, {"X"} if i % 2 else (), hits={"X"} if i % 2 else {"Y"}))
        ex.append(_ex(f"g{i % 4}", {"v"}, {"Y"} if i % 2 else (), hits={"Y"} if i % 2 else ()))
    m = train(ex, folds=4).model
    base = m.scores(window_of({"w"}))
    assert m.scores(window_of({"w"}), {"Y"})["X"] == pytest.approx(base["X"])
    assert m.scores(window_of({"w"}), {"X"})["X"] > base["X"] + 0.3


def test_a_code_learns_only_from_examples_whose_coder_codes_its_family():
    # group a codes phases (P) and themes; group b codes only themes: its "A" paragraphs, which
    # would be phase P too, must not teach the model that "A" means "not P"
    a = [_ex(f"a{i}", {"A", "x"}, {"P"}, families=frozenset({"phase", "theme"})) for i in range(6)]
    a += [_ex(f"a{i}", {"B", "y"}, (), families=frozenset({"phase", "theme"})) for i in range(6)]
    b = [_ex(f"b{i}", {"A", "x"}, {"T"}, families=frozenset({"theme"})) for i in range(12)]
    family_of = {"P": "phase", "T": "theme"}
    aware = train(a + b, family_of=family_of, folds=3)
    blind = train(a + b, folds=3)
    assert aware.model.scores(window_of({"A", "x"}))["P"] > 0.6 > 0.5 > blind.model.scores(window_of({"A", "x"}))["P"]


def test_train_learns_a_code_and_the_model_file_round_trips(project, write, tmp_path):
    p = _team_project(project, write)
    out = train_project(p, output=tmp_path / "m.json", seed=False)
    res, path = out.result, out.path
    assert res.model.codes == ("図表33-1",) and res.positives == {"図表33-1": 6} and res.examples == 12
    model = load_model(path)
    tok = lexical_tokenizer(NlpSettings())
    yes = model.scores(window(list(tok(QUANTUM))))["図表33-1"]
    no = model.scores(window(list(tok(OTHER))))["図表33-1"]
    assert yes >= model.thresholds["図表33-1"] > no
    assert model.info["coders"] == ["team"] and model.info["paragraphs"] == 12 and model.info["vectors"].endswith("x300")


def test_the_model_decides_the_codes_it_knows(project, write, tmp_path):
    """A rule suggestion of a code the model knows stands where the model finds the code
    probable enough (scored with that probability), and the model adds the code where no rule
    fired; a code it does not know keeps its rules' suggestion and score."""
    p = _team_project(project, write)
    model = train_project(p, output=tmp_path / "m.json", seed=False).result.model
    tagger = Tagger(p.codebook, model=model)
    tok = lexical_tokenizer(NlpSettings())
    t = p.transcripts[0]
    got = tagger.tag(t, [tok(x.text) for x in t.paragraphs])
    mine = [s for s in got if s.code_id == "図表33-1"]
    assert mine and all(s.patterns == (f"model:{s.score:.2f}",) for s in mine)  # no rule fired: the model's alone
    assert {s.text for s in mine} <= {"量子計算の装置を企業に紹介した。", "量子計算の分野は市場が伸びている。"}
    assert [mine[0].text[a:a + len(w)] for w, a in zip(mine[0].matched, mine[0].matched_at)] == list(mine[0].matched)
    text = "バイオ分野の量子計算の装置を企業に紹介した。"  # a rule of 図表33-1 (fields) fires here
    para = Paragraph("X", 0, 0, len(text), "A", text)
    both = [s for s in tagger.tag_paragraph("X", para, tok(text)) if s.code_id == "図表33-1"]
    p_rule = model.scores(window(list(tok(text))), {"図表33-1"})["図表33-1"]
    assert len(both) == 1 and both[0].patterns[0] == "fields" and both[0].score == round(p_rule, 4)
    # where the model finds it improbable, the rule's suggestion is dropped
    strict = LearnedModel(model.codes, model.vocab, model.bow, model.dense, model.protos, model.proto_w, model.rule_w,
                          model.bias, {"図表33-1": 0.999}, model.info)
    assert [s for s in Tagger(p.codebook, model=strict).tag_paragraph("X", para, tok(text)) if s.code_id == "図表33-1"] == []
    # a code the model does not know: the rule's suggestion as it is
    other = "専門人材が不足している。"
    para = Paragraph("X", 0, 0, len(other), "A", other)
    assert [s.score for s in Tagger(p.codebook, model=model).tag_paragraph("X", para, tok(other)) if s.code_id == "課題⑧"] == \
           [s.score for s in Tagger(p.codebook, model=None).tag_paragraph("X", para, tok(other)) if s.code_id == "課題⑧"]
    # min_cv_f1: a code the model learned worse than this is left to its rules
    cb = with_settings(p.codebook, "tagger.learned", min_cv_f1=1.01)
    assert [s for s in Tagger(cb, model=model).tag(t, [tok(x.text) for x in t.paragraphs]) if s.code_id == "図表33-1"] == []


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
    res = CliRunner().invoke(cli, ["code", "--project", str(project)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert any("model:" in s.pattern for s in Store.open(project).suggestions)
    res = CliRunner().invoke(cli, ["train", "--project", str(project), "--coder", "nobody"], catch_exceptions=False)
    assert res.exit_code == 1 and "Error: no decisions by nobody in " in res.output


def test_train_needs_confirmed_codings(project, write):
    write("a.md", "A: 何か。\n", id="JP-A")
    res = CliRunner().invoke(cli, ["train", "--project", str(project)], catch_exceptions=False)
    assert res.exit_code == 1 and "no confirmed codings to learn from" in res.output


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


def test_learned_families_come_from_the_codebook(project):
    cb = load_codebook(project / "codebook.yml")
    assert cb.settings.tagger.learned.families == Learned().families == ("phase", "theme", "challenge", "practice")
    assert with_settings(cb, "tagger.learned", families=("theme",)).settings.tagger.learned.families == ("theme",)
