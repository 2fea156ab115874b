"""The codings store: decisions outrank suggestions, survive re-runs and edits, import is all-or-nothing."""
from __future__ import annotations

import csv
import io

import pytest

from coding.errors import StoreError
from coding.project import Project, code_project, export_codings, import_codings
from coding.store import COLUMNS, Store, record_decisions

BODY = ("A: 必然的に日本企業が多くなり、海外からの問い合わせは多くない。\n\n"
        "A: 共同研究になってしまうと成果が共同発明になり、共有特許になってしまう。\n\n"
        "A: 専門人材が慢性的に不足している。\n")


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def _decide(project, rows, coder="hanako"):
    path = project / "decisions.csv"
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS + ["quote"])
    for r in rows:
        w.writerow([r[c] for c in COLUMNS] + [r.get("quote", "")])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return import_codings(Project.open(project), path, coder=coder)


@pytest.fixture
def coded(project, write):
    write("b.md", BODY, id="JP-B")
    code_project(Project.open(project))
    return project


def test_export_has_the_formats_columns_in_order(coded):
    text = export_codings(Project.open(coded))
    assert text.splitlines()[0].split(",")[:8] == COLUMNS
    rows = _rows(text)
    p = Project.open(coded)
    for r in rows:
        assert p.by_id[r["transcript_id"]].body[int(r["start"]):int(r["end"])] == r["text"]
    assert {(r["code_id"], r["code_ref"], r["status"], r["coder"]) for r in rows} >= {("課題①", "課題①", "suggested", "auto")}


def test_decisions_outrank_suggestions_and_survive_reruns(coded):
    rows = _rows(export_codings(Project.open(coded)))
    acc = next(r for r in rows if r["code_id"] == "課題①")
    rej = next(r for r in rows if r["code_id"] == "課題⑤")
    manual = dict(acc, code_id="課題⑫", status="manual")
    res = _decide(coded, [dict(acc, status="accepted", quote="yes"), dict(rej, status="rejected"), manual])
    assert res.added == {"hanako": 3}
    before = (coded / "codings" / "hanako.csv").read_text(encoding="utf-8")
    code_project(Project.open(coded))  # re-running the tagger never touches a decision
    assert (coded / "codings" / "hanako.csv").read_text(encoding="utf-8") == before
    p = Project.open(coded)
    st = p.store()
    confirmed = {(c.code_id, c.status, c.quote) for c in st.resolved(p.by_id)}
    assert confirmed == {("課題①", "accepted", True), ("課題⑫", "manual", False)}
    pending = {c.code_id for c in st.pending(p.by_id)}
    assert "課題⑤" not in pending and "課題①" not in pending and "課題⑧" in pending
    draft = {c.code_id for c in st.resolved(p.by_id, include_suggested=True)}
    assert "課題⑧" in draft and "課題⑤" not in draft


def test_edited_transcript_reanchors_or_keeps_stale(coded, write):
    rows = _rows(export_codings(Project.open(coded)))
    a = next(r for r in rows if r["code_id"] == "課題①")
    b = next(r for r in rows if r["code_id"] == "課題⑧")
    _decide(coded, [dict(a, status="accepted"), dict(b, status="accepted")])
    write("b.md", "Q: 新しい質問を冒頭に足した。\n\n" + BODY.replace("専門人材が慢性的に不足している。", "人の話は別の日に。"), id="JP-B")
    p = Project.open(coded)
    res = code_project(p)
    assert (res.moved, res.stale) == (1, 1)
    resolved = p.store().resolved(p.by_id)
    assert [(c.code_id, c.anchor) for c in resolved] == [("課題①", "moved")]
    moved = resolved[0]
    assert p.by_id["JP-B"].body[moved.start:moved.end] == a["text"]
    kept = (coded / "codings" / "hanako.csv").read_text(encoding="utf-8")
    assert "専門人材が慢性的に不足している。" in kept  # the stale decision is kept until a person drops it


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda r: dict(r, start="x"), "row 3: start/end must be integers"),
        (lambda r: dict(r, status="maybe"), "row 3: status 'maybe'"),
        (lambda r: dict(r, code_id="課題99"), "row 3: unknown code id '課題99'"),
        (lambda r: dict(r, transcript_id="NOPE"), "row 3: unknown transcript id 'NOPE'"),
        (lambda r: dict(r, text="どこにもない文"), "row 3: text does not match"),
    ],
)
def test_malformed_import_is_refused_whole_and_changes_nothing(coded, mutate, message):
    rows = _rows(export_codings(Project.open(coded)))
    good = dict(rows[0], status="accepted")
    _decide(coded, [good])
    before = (coded / "codings" / "hanako.csv").read_text(encoding="utf-8")
    with pytest.raises(StoreError, match=message):
        _decide(coded, [dict(rows[1], status="accepted"), mutate(dict(rows[2], status="accepted"))])
    assert (coded / "codings" / "hanako.csv").read_text(encoding="utf-8") == before


def test_import_with_wrong_header_is_refused(coded):
    bad = coded / "bad.csv"
    bad.write_text("transcript_id,code_id\nJP-B,課題①\n", encoding="utf-8")
    with pytest.raises(StoreError, match=r"bad.csv:1: the header must start with the columns"):
        import_codings(Project.open(coded), bad, coder="x")
    assert not (coded / "codings").exists()


def test_writes_are_atomic(coded, monkeypatch):
    rows = _rows(export_codings(Project.open(coded)))
    _decide(coded, [dict(rows[0], status="accepted")])
    path = coded / "codings" / "hanako.csv"
    before = path.read_text(encoding="utf-8")
    import coding.files as files

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        _decide(coded, [dict(rows[1], status="accepted")])
    assert path.read_text(encoding="utf-8") == before
    assert [p.name for p in path.parent.iterdir()] == ["hanako.csv"]  # no temp file left behind


def _edited(coded, write):
    """hanako decided three passages, then the note was edited: a word inside the first changed
    (re-check), the third deleted (stale); the second is one character further on (moved)."""
    rows = _rows(export_codings(Project.open(coded)))
    a = next(r for r in rows if r["code_id"] == "課題①")
    b = next(r for r in rows if r["code_id"] == "課題⑤")
    c = next(r for r in rows if r["code_id"] == "課題⑧")
    _decide(coded, [dict(a, status="accepted"), dict(b, status="rejected"), dict(c, status="accepted", quote="yes")])
    write("b.md", BODY.replace("問い合わせ", "問合せ").replace("専門人材が慢性的に不足している。", "人の話は別の日に。"), id="JP-B")
    p = Project.open(coded)
    mine = {r.code_id: r for r in p.store().anchored(p.by_id)}
    assert (mine["課題①"].anchor, mine["課題⑤"].anchor, mine["課題⑧"].anchor) == ("recheck", "moved", "stale")
    return p, mine


def _kept(project, coder="hanako"):
    return sorted((r["code_id"], r["text"], r["status"], r["quote"], r["decided_at"])
                  for r in _rows((project / "codings" / f"{coder}.csv").read_text(encoding="utf-8")))


def test_a_person_drops_a_stale_decision_and_one_to_recheck(coded, write):
    p, mine = _edited(coded, write)
    before = _kept(coded)
    res = record_decisions(coded, "hanako", [], p.by_id, drop=[mine["課題⑧"].key])
    assert res.dropped == 1 and (res.added, res.changed) == (0, 0)
    after = _kept(coded)
    assert [r for r in before if r[0] != "課題⑧"] == after  # nothing else changed
    moved = next(r for r in Store.open(coded).decisions["hanako"] if r.code_id == "課題⑤")
    assert moved.key == mine["課題⑤"].key  # a moved decision is written where its words are, as every write does
    assert "専門人材が慢性的に不足している。" not in (coded / "codings" / "hanako.csv").read_text(encoding="utf-8")
    # a decision to re-check is found by the span it was re-attached to …
    recheck = mine["課題①"]
    assert recheck.key != next(r for r in Store.open(coded).decisions["hanako"] if r.code_id == "課題①").key
    res = record_decisions(coded, "hanako", [], p.by_id, drop=[recheck.key])
    assert res.dropped == 1 and [r[0] for r in _kept(coded)] == ["課題⑤"]


def test_a_decision_to_recheck_is_dropped_by_its_stored_key_too(coded, write):
    p, mine = _edited(coded, write)
    stored = next(r for r in Store.open(coded).decisions["hanako"] if r.code_id == "課題①")
    assert record_decisions(coded, "hanako", [], p.by_id, drop=[stored.key]).dropped == 1
    assert sorted(r[0] for r in _kept(coded)) == ["課題⑤", "課題⑧"]


def test_dropping_what_is_not_there_writes_nothing(coded, write):
    p, mine = _edited(coded, write)
    path = coded / "codings" / "hanako.csv"
    before = path.read_bytes()
    stale = mine["課題⑧"]
    with pytest.raises(StoreError, match=r"hanako has no such decision to drop; nothing was written\n  JP-B 0..5 課題⑧"):
        record_decisions(coded, "hanako", [], p.by_id, drop=[stale.key, ("JP-B", 0, 5, "課題⑧")])
    assert path.read_bytes() == before
    with pytest.raises(StoreError, match="taro has no such decision to drop"):
        record_decisions(coded, "taro", [], p.by_id, drop=[stale.key])
    assert not (coded / "codings" / "taro.csv").exists() and path.read_bytes() == before
