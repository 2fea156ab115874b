"""The sample project's challenge–practice network, from the team's reviewed decisions."""
from __future__ import annotations

import json

import pytest

from coding.aggregate import Corpus
from coding.network import build_network, summarise
from coding.network_export import write_network
from coding.project import Project, confirmed_codings

from conftest import ROOT


@pytest.fixture(scope="module")
def corpus():
    p = Project.open(ROOT)
    return Corpus(p.transcripts, p.codebook, confirmed_codings(p))


def _cp(G):
    return {(u, v) if G.nodes[u]["kind"] == "challenge" else (v, u): d
            for u, v, d in G.edges(data=True) if d["pair"] == "challenge-practice"}


def test_all_challenges_and_practices_with_weighted_links(corpus):
    G = build_network(corpus)
    challenges = sorted((n for n, d in G.nodes(data=True) if d["kind"] == "challenge"), key=lambda n: G.nodes[n]["ref"])
    assert len(challenges) == 12 and [G.nodes[f"課題{c}"]["ref"] for c in "①②③④⑤⑥⑦⑧⑨⑩⑪⑫"] == [f"課題{c}" for c in "①②③④⑤⑥⑦⑧⑨⑩⑪⑫"]
    assert sorted(n for n, d in G.nodes(data=True) if d["kind"] == "practice") == ["P1", "P2", "P3", "P4", "P5"]
    assert sum(1 for _, d in G.nodes(data=True) if d["kind"] == "case") == 15
    assert [G.nodes[f"課題{c}"]["orgs"] for c in "①②③④⑤⑥⑦⑧⑨⑩⑪⑫"] == [5, 2, 2, 5, 3, 2, 1, 5, 1, 3, 1, 0]
    cp = _cp(G)
    # in a paragraph no challenge meets a practice: the codebook's 12 links, weighted by the
    # organisations that raised the challenge (図表35's お悩み count)
    assert sorted((a, b, d["kind"], d["weight"]) for (a, b), d in cp.items()) == [
        ("課題①", "P1", "declared", 5.0), ("課題②", "P2", "declared", 2.0), ("課題③", "P5", "declared", 2.0),
        ("課題④", "P3", "declared", 5.0), ("課題⑤", "P4", "declared", 3.0), ("課題⑥", "P3", "declared", 2.0),
        ("課題⑦", "P3", "declared", 1.0), ("課題⑧", "P5", "declared", 5.0), ("課題⑨", "P3", "declared", 1.0),
        ("課題⑩", "P4", "declared", 3.0), ("課題⑪", "P5", "declared", 1.0), ("課題⑫", "P1", "declared", 1.0)]


def test_interview_window_gives_evidence_weights(corpus):
    """Windows and Jaccard over interviews equal a plain set computation from the codings."""
    cb = corpus.codebook
    kind = {c.id: c.kind for c in cb.codes.values()}
    interviews: dict[str, set[str]] = {}
    for c in corpus.codings:
        if kind.get(c.code_id) in ("challenge", "practice"):
            interviews.setdefault(c.code_id, set()).add(c.transcript_id)
    want = {}
    for ch, a in interviews.items():
        for pr, b in interviews.items():
            if kind[ch] == "challenge" and kind[pr] == "practice" and a & b:
                want[(ch, pr)] = (len(a & b), round(len(a & b) / len(a | b), 4))
    cp = _cp(build_network(corpus, window="interview"))
    got = {pair: (d["windows"], d["jaccard"]) for pair, d in cp.items() if d["evidence"]}
    assert got == want and len(want) >= 10
    assert all(cp[pair]["orgs"] == want[pair][0] for pair in want)  # one organisation per interview here
    declared = {(a, p.id) for p in cb.of_kind("practice") for a in p.get("answers") or []}
    assert all(cp[pair]["kind"] == ("declared+evidence" if pair in declared else "evidence") for pair in want)
    assert cp[("課題⑩", "P4")]["weight"] == 2.0 and cp[("課題⑩", "P4")]["attribution"] == "国立大(2)"


def test_summary_names_the_strongest_pairs(corpus):
    text = summarise(build_network(corpus, window="interview"))
    assert "  課題⑩ – P4: declared+evidence, 2 windows, 2 orgs, Jaccard 0.400" in text.splitlines()
    assert text.splitlines()[-1] == "challenges nobody raised: 課題⑫ 企業との関係構築の方法"


def test_png_and_html_are_written(corpus, tmp_path):
    files = write_network(build_network(corpus), tmp_path)
    png = tmp_path / "challenge-practice.png"
    html = tmp_path / "challenge-practice.html"
    assert png in files and html in files
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 100_000
    page = html.read_text(encoding="utf-8")
    assert "課題⑫" in page and "国内国立大学" in page
    data = json.loads((tmp_path / "challenge-practice.json").read_text(encoding="utf-8"))
    assert len(data["nodes"]) == 32 and len(data["edges"]) == 27
