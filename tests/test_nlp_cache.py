"""The parse and tag caches: what is re-parsed or re-tagged, and that a bad cache never hurts.

Speed is measured under bench/, never here.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coding import nlp
from coding.nlp import DocCache, LexDoc, NlpSettings, cache_key, iter_parsed, lexical_tokenizer, load_nlp, parse_texts
from coding.project import Project, code_project
from coding.store import suggestions_path
from coding.transcripts import read_transcripts

from conftest import ROOT


EDGE_TEXTS = [
    "", " ", "  ", "TLO と  大学 の\u3000間 ", "ＴＬＯ　ロイヤルティ３年", "abc  def\tghi ", "…", "「問題ない」。",
    " 先頭", "末尾  ", "😀絵文字😀", "ｶﾞｷﾞ半角", "長い文章です。" * 2500,
]


def _suggestions(project: Path) -> str:
    return suggestions_path(project).read_text(encoding="utf-8")


def _copy_samples(project: Path, n: int | None = None) -> list[Path]:
    files = sorted((ROOT / "transcripts").glob("*.md"))[:n]
    for f in files:
        shutil.copy(f, project / "transcripts" / f.name)
    return [project / "transcripts" / f.name for f in files]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _edit_codebook(project: Path, change) -> None:
    """Load codebook.yml, let ``change(data)`` edit it, write it back (comments are dropped)."""
    import yaml

    path = project / "codebook.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _phrase_code(data) -> dict:
    """The first code whose first pattern is an ``any`` of phrases and that matches the samples."""
    for c in data["codes"]:
        pats = c.get("patterns") or []
        if pats and isinstance(pats[0].get("any"), list) and all(isinstance(x, str) for x in pats[0]["any"]):
            if any(x in ("交渉", "出願", "特許") for x in pats[0]["any"]):
                return c
    raise AssertionError("no phrase pattern in the codebook")


def _tokens(doc) -> list[tuple]:
    return [(t.text, t.idx, t.whitespace_, t.tag_, t.lemma_, t.norm_, t.pos_) for t in doc]


# ---------------------------------------------------------------- lexical path = GiNZA's tokenizer
def test_lexical_path_gives_ginzas_tokens():
    texts = [p.text for t in read_transcripts(ROOT / "transcripts") for p in t.paragraphs][:150] + EDGE_TEXTS
    settings = NlpSettings()
    assert settings.lexical
    ginza = load_nlp(settings)
    tok = lexical_tokenizer(settings)
    for text in texts:
        want = parse_texts(ginza, [text])[0]
        got = tok(text)
        assert got.text == text
        assert _tokens(got) == _tokens(want), text[:40]
        assert _tokens(got.to_spacy()) == _tokens(want), text[:40]


def test_pos_without_spacy_is_spacys_pos():
    """LexDoc reads POS from a copy of spaCy's Japanese tag maps: the copy is the installed
    spaCy's, and it gives resolve_pos's answer on every token of the sample corpus."""
    from spacy.lang.ja import resolve_pos
    from spacy.symbols import NAMES

    assert nlp.POS_MAPS_FILE.read_text(encoding="utf-8") == nlp.dump_ja_pos_maps(), (
        "spaCy's tag maps changed: python -c 'from coding import nlp; "
        "nlp.POS_MAPS_FILE.write_text(nlp.dump_ja_pos_maps(), encoding=\"utf-8\")'")
    tok = lexical_tokenizer(NlpSettings())
    seen = set()
    for t in read_transcripts(ROOT / "transcripts"):
        for para in t.paragraphs:
            doc = tok(para.text)
            want, nxt = [], None
            for i, x in enumerate(doc):
                if nxt:
                    pos, nxt = nxt, None
                else:
                    pos, nxt = resolve_pos(x.text, x.tag_, doc[i + 1].tag_ if i + 1 < len(doc) else None)
                want.append(NAMES[pos] if isinstance(pos, int) else str(pos))
            assert doc.pos_tags() == want, para.text[:40]
            seen.update(want)
    assert {"NOUN", "VERB", "ADP", "AUX"} <= seen


def test_settings_and_versions_are_in_the_key(write, project):
    write("JP-A.md", "A: 特許の出願をした。\n")
    t = read_transcripts(project / "transcripts")[0]
    lex = cache_key(t, NlpSettings())
    assert lex != cache_key(t, NlpSettings(components=("tok2vec", "parser")))
    assert lex != cache_key(t, NlpSettings(components=("tok2vec", "ner")))
    key = NlpSettings().key()
    for part in ("ja_ginza-", nlp.model_version(), "lexC", "sudachipy", "dict", nlp.LEX_FORMAT):
        assert part in key


# ---------------------------------------------------------------- re-parse only what changed
def test_edited_transcript_is_reparsed_and_unchanged_are_not(project):
    files = _copy_samples(project, 4)
    first = code_project(Project.open(project))
    assert (first.parsed, first.retagged, first.cached) == (4, 4, 0)
    parse_files = sorted((project / "outputs" / "cache" / "nlp").glob("*.lex"))
    assert len(parse_files) == 4
    mtimes = {p: p.stat().st_mtime_ns for p in parse_files}

    again = code_project(Project.open(project))
    assert (again.parsed, again.retagged, again.cached, again.model_loaded) == (0, 0, 4, False)

    _edit(files[1], "。", "。なお、特許の出願は続けている。")
    edited = code_project(Project.open(project))
    assert (edited.parsed, edited.retagged, edited.cached) == (1, 1, 3)
    assert all(p.stat().st_mtime_ns == m for p, m in mtimes.items() if p.exists())  # nothing rewritten
    assert len(list((project / "outputs" / "cache" / "nlp").glob("*.lex"))) == 5
    text = _suggestions(project)
    shutil.rmtree(project / "outputs")
    code_project(Project.open(project))
    assert _suggestions(project) == text  # the same as coding from scratch


def test_front_matter_edit_retags_without_parsing(project):
    files = _copy_samples(project, 2)
    code_project(Project.open(project))
    _edit(files[0], "id: ", "memo: 追記\nid: ")
    res = code_project(Project.open(project))
    assert (res.parsed, res.retagged, res.cached) == (0, 1, 1)


def test_nothing_changed_imports_neither_spacy_nor_sudachi(project):
    _copy_samples(project, 3)
    code_project(Project.open(project))
    before = _suggestions(project)
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"sys.argv = ['cli.py', 'code', '--project', {str(project)!r}, '--jobs', '2']\n"
        "import runpy\n"
        "try:\n"
        f"    runpy.run_path({str(ROOT / 'cli.py')!r}, run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('LOADED', sorted(m for m in ('spacy', 'sudachipy', 'thinc', 'ginza') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=project, check=True)
    assert "LOADED []" in out.stdout, out.stdout + out.stderr
    assert "(0 parsed, 3 from cache)" in out.stdout
    assert _suggestions(project) == before


# ---------------------------------------------------------------- codebook edits re-tag from cached parses
def test_codebook_edit_retags_only_that_code_and_matches_a_fresh_run(project):
    _copy_samples(project)
    _edit_codebook(project, lambda data: None)  # the same codebook, re-written
    code_project(Project.open(project))
    edited = []

    def change(data):
        c = _phrase_code(data)
        c["patterns"][0]["any"].append("条件交渉")  # one pattern of one code
        edited.append(c["id"])

    _edit_codebook(project, change)
    res = code_project(Project.open(project))
    assert res.parsed == 0 and res.retagged == 0
    assert res.retagged_codes == edited
    incremental = _suggestions(project)
    shutil.rmtree(project / "outputs")
    fresh = code_project(Project.open(project))
    assert fresh.retagged == len(Project.open(project).transcripts)
    assert _suggestions(project) == incremental


def _phrase_codes(data, n: int) -> list[dict]:
    out = [c for c in data["codes"] if (c.get("patterns") or []) and isinstance(c["patterns"][0].get("any"), list)
           and all(isinstance(x, str) for x in c["patterns"][0]["any"])]
    assert len(out) >= n
    return out[:n]


def test_codebook_edits_in_sequence_and_reverted(project):
    _copy_samples(project)
    _edit_codebook(project, lambda data: None)
    original_cb = (project / "codebook.yml").read_text(encoding="utf-8")
    code_project(Project.open(project))
    original = _suggestions(project)
    ids = []

    def edit(i):
        def change(data):
            c = _phrase_codes(data, 2)[i]
            c["patterns"][0]["any"].append("共同研究")
            ids.append(c["id"])
        return change

    _edit_codebook(project, edit(0))
    assert code_project(Project.open(project)).retagged_codes == [ids[0]]
    _edit_codebook(project, edit(1))
    res = code_project(Project.open(project))
    assert (res.parsed, res.retagged, res.retagged_codes) == (0, 0, [ids[1]])  # the first edit's tags are reused
    both = _suggestions(project)
    shutil.rmtree(project / "outputs" / "cache" / "tags")
    code_project(Project.open(project))
    assert _suggestions(project) == both  # = tagging from scratch with both edits
    (project / "codebook.yml").write_text(original_cb, encoding="utf-8")
    res = code_project(Project.open(project))
    assert res.parsed == 0 and _suggestions(project) == original


def test_corrupt_code_overlay_is_rebuilt(project):
    _copy_samples(project, 6)
    _edit_codebook(project, lambda data: None)
    code_project(Project.open(project))
    _edit_codebook(project, lambda data: _phrase_codes(data, 1)[0]["patterns"][0]["any"].append("共同研究"))
    code_project(Project.open(project))
    good = _suggestions(project)
    overlays = list((project / "outputs" / "cache" / "tags").glob("code-*.json"))
    assert len(overlays) == 1
    for f in overlays + [project / "outputs" / "cache" / "code-run.json"]:
        data = f.read_bytes()
        f.write_bytes(data[:-5] + b"xxxxx")  # still the right length, wrong checksum
    res = code_project(Project.open(project))
    assert res.parsed == 0 and len(res.retagged_codes) == 1
    assert _suggestions(project) == good


def test_codebook_edit_that_removes_matches_drops_them(project):
    _copy_samples(project)
    _edit_codebook(project, lambda data: None)
    first = code_project(Project.open(project))
    edited = []

    def change(data):
        c = _phrase_code(data)
        c["patterns"] = [{"id": "nothing", "any": ["存在しない語句"]}]
        edited.append(c["id"])

    _edit_codebook(project, change)
    assert first.by_code.get(edited[0], 0) > 0
    res = code_project(Project.open(project))
    assert res.parsed == 0 and res.retagged_codes == edited
    assert f",{edited[0]}," not in _suggestions(project)
    assert res.by_code.get(edited[0]) is None
    assert {k: v for k, v in res.by_code.items()} == {k: v for k, v in first.by_code.items() if k != edited[0]}


def test_with_a_learned_suggester_a_codebook_edit_retags_only_that_code(project, monkeypatch):
    """The model's say on a code does not depend on any code's patterns: an edit re-tags the edited
    code alone (in its phrases' paragraphs and the model's), and the result equals a fresh run, also
    when the edit removes every rule match (the model's own suggestions of the code then stand alone)."""
    import json as _json

    from coding.codebook import load_codebook
    from coding.learn import resolve_model

    shutil.copy(ROOT / "codebook.yml", project / "codebook.yml")  # as shipped: with its learned suggester
    model = resolve_model(load_codebook(project / "codebook.yml"))
    assert model.path is not None, model.warning
    model_codes = set(_json.loads(model.path.read_text(encoding="utf-8"))["codes"])
    _copy_samples(project)
    _edit_codebook(project, lambda data: None)
    first = code_project(Project.open(project))
    assert first.parsed == len(Project.open(project).transcripts)
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(_suggestions(project))))
    solo = {r["code_id"] for r in rows if r["pattern"].startswith("model:") and "," not in r["pattern"]}
    merged = {r["code_id"] for r in rows if "model:" in r["pattern"] and "," in r["pattern"]}
    edited = []

    def target(data):
        # a code the model both adds alone and agrees with its rules on
        cands = [c for c in data["codes"] if c["id"] in model_codes & solo & merged
                 and (c.get("patterns") or []) and isinstance(c["patterns"][0].get("any"), list)]
        assert cands, "no code that the model suggests both alone and with its rules"
        return cands[0]

    def add(data):
        c = target(data)
        c["patterns"][0]["any"].append("共同研究")
        edited.append(c["id"])

    def remove(data):
        c = target(data)
        c["patterns"] = [{"id": "nothing", "any": ["存在しない語句"]}]
        edited.append(c["id"])

    from coding.learn import LearnedModel

    read = []  # paragraphs the model read afresh
    sentences = []  # sentences it read to place a code it adds alone
    base_logits = LearnedModel.base_logits
    monkeypatch.setattr(LearnedModel, "scores", lambda self, w, hits=(), codes=None: sentences.append(1) or self.probabilities(
        base_logits(self, w), hits, codes))
    monkeypatch.setattr(LearnedModel, "base_logits", lambda self, w: read.append(1) or base_logits(self, w))
    for change in (add, remove):
        _edit_codebook(project, change)
        read.clear()
        sentences.clear()
        res = code_project(Project.open(project))
        assert (res.parsed, res.retagged, res.retagged_codes) == (0, 0, [edited[-1]])
        assert read == []  # the model's reading of each paragraph came from the cache
        if change is add:  # where the model adds the code, the sentences it chose came from the cache too
            assert sentences == []
        else:  # where the code's rules fired before, the model now places it: those sentences are read
            assert sentences
        incremental = _suggestions(project)
        shutil.rmtree(project / "outputs" / "cache" / "tags")
        (project / "outputs" / "cache" / "code-run.json").unlink()
        assert code_project(Project.open(project)).retagged == len(Project.open(project).transcripts)
        assert _suggestions(project) == incremental
    left = [r for r in csv.DictReader(io.StringIO(incremental)) if r["code_id"] == edited[-1]]
    assert left and all(r["pattern"].startswith("model:") and "," not in r["pattern"] for r in left)
    again = code_project(Project.open(project))
    assert (again.parsed, again.retagged, again.retagged_codes) == (0, 0, [])


def test_denial_settings_change_retags_everything(project):
    _copy_samples(project, 3)
    code_project(Project.open(project))
    _edit_codebook(project, lambda data: data["denial"]["cues"].insert(0, "まったく問題ない"))
    res = code_project(Project.open(project))
    assert (res.parsed, res.retagged) == (0, 3)


def test_a_new_dictionary_version_invalidates_parses(project, monkeypatch):
    _copy_samples(project, 2)
    code_project(Project.open(project))
    monkeypatch.setitem(nlp._VERSIONS, "sudachidict-core", "0000-other")
    res = code_project(Project.open(project))
    assert (res.parsed, res.retagged) == (2, 2)


# ---------------------------------------------------------------- a bad cache is ignored and rebuilt
@pytest.mark.parametrize("damage", ["garbage", "truncate", "empty", "foreign", "other-key"])
def test_corrupt_cache_files_are_rebuilt(project, damage):
    _copy_samples(project, 3)
    code_project(Project.open(project))
    good = _suggestions(project)
    cache = project / "outputs" / "cache"
    groups = [sorted((cache / "nlp").glob("*.lex")), sorted((cache / "tags").glob("*.json")), [cache / "code-run.json"]]
    assert [len(g) for g in groups] == [3, 3, 1]
    for group in groups:
        datas = [f.read_bytes() for f in group]
        for i, f in enumerate(group):
            f.write_bytes({
                "garbage": b"\x00\xff not json \x80",
                "truncate": datas[i][: len(datas[i]) // 2],
                "empty": b"",
                "foreign": json.dumps({"format": "something-else", "paras": 3}).encode(),
                "other-key": datas[(i + 1) % len(datas)] if len(datas) > 1 else b"{}",  # another transcript's
            }[damage])
    res = code_project(Project.open(project))
    assert res.parsed == 3 and res.retagged == 3
    assert _suggestions(project) == good
    again = code_project(Project.open(project))
    assert again.parsed == 0 and again.retagged == 0


def test_a_parse_cache_with_other_texts_is_not_used(project):
    files = _copy_samples(project, 1)
    t = Project.open(project).transcripts[0]
    cache = DocCache(project / "outputs" / "cache" / "nlp")
    key = cache_key(t, NlpSettings())
    texts = [p.text for p in t.paragraphs]
    docs = [lexical_tokenizer()(x) for x in texts]
    cache.save_lex(key, docs)
    assert [d.text for d in cache.load_lex(key, texts)] == texts
    assert cache.load_lex(key, texts[:-1]) is None
    assert cache.load_lex(key, ["別の文章"] + texts[1:]) is None
    assert cache.load_lex("0" * 24, texts) is None
    assert files


def test_edited_suggestions_file_is_rewritten(project):
    _copy_samples(project, 2)
    code_project(Project.open(project))
    good = _suggestions(project)
    suggestions_path(project).write_text("transcript_id\n", encoding="utf-8")
    res = code_project(Project.open(project))
    assert res.parsed == 0 and res.retagged == 0
    assert _suggestions(project) == good
    suggestions_path(project).unlink()
    code_project(Project.open(project), min_score=0.99)
    assert _suggestions(project) != good  # min_score is part of what a run's output depends on


# ---------------------------------------------------------------- parallel and streaming
def test_two_processes_give_the_same_suggestions(project, tmp_path, monkeypatch):
    monkeypatch.setattr(nlp, "MIN_PARALLEL_CHARS", 0)
    _copy_samples(project)
    one = code_project(Project.open(project), jobs=1)
    serial = _suggestions(project)
    other = tmp_path / "other"
    shutil.copytree(project, other, ignore=shutil.ignore_patterns("outputs"))
    two = code_project(Project.open(other), jobs=2)
    assert _suggestions(other) == serial
    assert one.parsed == two.parsed == len(Project.open(project).transcripts)
    assert one.suggestions == two.suggestions > 0


def test_iter_parsed_streams_spacy_docs_or_lexical_docs(project):
    _copy_samples(project, 2)
    p = Project.open(project)
    cache = DocCache(p.cache_dir / "nlp")
    got = [(t.id, docs) for t, docs in iter_parsed(p.transcripts, NlpSettings(), cache)]
    assert [d.text for d in got[0][1]] == [x.text for x in p.transcripts[0].paragraphs]
    assert type(got[0][1][0]).__name__ == "Doc"
    lex = [docs for _, docs in iter_parsed(p.transcripts, NlpSettings(), cache, as_spacy=False)]
    assert isinstance(lex[0][0], LexDoc)
    assert [_tokens(d) for d in lex[1]] == [_tokens(d) for d in got[1][1]]
    par = [docs for _, docs in iter_parsed(p.transcripts, NlpSettings(), cache, jobs=2, as_spacy=False)]
    assert [[_tokens(d) for d in ds] for ds in par] == [[_tokens(d) for d in ds] for ds in lex]


def test_spawned_workers_give_the_same_suggestions(project, tmp_path, monkeypatch):
    """macOS and Windows start workers by spawning: the work must pickle and rebuild its tagger."""
    _copy_samples(project, 20)
    code_project(Project.open(project), jobs=1)
    serial = _suggestions(project)
    other = tmp_path / "spawned"
    shutil.copytree(project, other, ignore=shutil.ignore_patterns("outputs"))
    monkeypatch.setattr(nlp, "START_METHOD", "spawn")
    monkeypatch.setattr(nlp, "MIN_PARALLEL_CHARS", 0)
    res = code_project(Project.open(other), jobs=2)
    assert res.parsed == 20
    assert _suggestions(other) == serial


# ---------------------------------------------------------------- pruning
def test_prune_removes_only_files_nothing_uses_any_more(project):
    from click.testing import CliRunner

    from cli import cli

    files = _copy_samples(project, 4)
    _edit_codebook(project, lambda data: None)
    code_project(Project.open(project))
    _edit(files[0], "。", "。。")  # an edited transcript: its old parse and tags are now unused
    _edit_codebook(project, lambda data: _phrase_code(data)["patterns"][0]["any"].append("共同研究"))
    code_project(Project.open(project))
    _edit_codebook(project, lambda data: _phrase_code(data)["patterns"][0]["any"].append("知財部"))  # overlay 1 unused
    code_project(Project.open(project))
    cache = project / "outputs" / "cache"
    before = {f.relative_to(cache) for f in cache.rglob("*") if f.is_file()}
    (cache / "nlp" / "leftover.lex.tmp123").write_bytes(b"half")  # a temp file of a killed run
    res = CliRunner().invoke(cli, ["code", "--project", str(project), "--prune"])
    assert res.exit_code == 0, res.output
    assert "pruned the cache: 4 old file(s) removed" in res.output, res.output  # parse, tag entry, overlay, temp file
    assert "9 in use kept" in res.output  # 4 parses, 4 tag entries, 1 overlay
    after = {f.relative_to(cache) for f in cache.rglob("*") if f.is_file()}
    assert after < before
    gone = before - after
    assert sum(1 for f in gone if f.parts[0] == "nlp") == 1  # the edited transcript's old parse
    assert {f.name.startswith("code-") for f in gone if f.parts[0] == "tags"} == {True, False}  # old overlay, old entry
    assert len([f for f in after if f.parts[0] == "nlp"]) == 4
    suggestions = _suggestions(project)
    # what is left is exactly what the current project needs: nothing parsed or re-tagged
    (cache / "code-run.json").unlink()
    again = code_project(Project.open(project))
    assert (again.parsed, again.retagged, again.retagged_codes) == (0, 0, [])
    assert _suggestions(project) == suggestions
