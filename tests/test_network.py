"""Networks on hand-built codings (no NLP model): nodes, windows, declared vs evidence edges,
filters, communities, the summary, and the exporters' round trips."""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from cli import cli
from coding.aggregate import Corpus
from coding.codebook import load_codebook
from coding.network import (
    analyse, build_network, challenge_practice_network, cooccurrence_network, occurrences, summarise,
)
from coding.network_export import (
    DRAFT, gexf_bytes, graphml_bytes, guarded, html_data, html_text, layout, node_link, oriented, png_bytes, scalar_graph,
    title, wrap_ja, write_network,
)
from coding.store import Coding
from coding.transcripts import parse_transcript

from conftest import ROOT, transcript_text

REGIONS = ("日本", "米国", "諸外国等")


@pytest.fixture(scope="module")
def cb():
    return load_codebook(ROOT / "codebook.yml")


def T(tid, body, *, attribute="国立大", region="日本", country="日本"):
    text = transcript_text(body, id=tid, org=f"{tid}組織", region=region, country=country, kind=attribute, attribute=attribute)
    return parse_transcript(text, Path(f"{tid}.md"))


def C(t, text, code):
    start = t.body.index(text)
    return Coding(t.id, start, start + len(text), text, code, "accepted", "hanako")


# JP-A: paragraph 1 has 課題① and (next sentence) P1 + 事例①; paragraph 2 has 課題⑧.
# US-A: 課題① and P1 on the same sentence; P5 in the next paragraph.
JPA = "A: 展示会に出ても成約しない。事例の話をする。\n\nA: 交渉人材が足りない。\n\nA: 別の話。\n"
USA = "A: 展示会を戦略的に使う。\n\nA: 外部人材を使う。\n"


@pytest.fixture(scope="module")
def corpus(cb):
    a = T("JP-A", JPA)
    u = T("US-A", USA, attribute="私立大", region="米国", country="米国")
    codings = [
        C(a, "展示会に出ても成約しない。", "課題①"), C(a, "事例の話をする。", "P1"), C(a, "事例の話をする。", "事例①"),
        C(a, "交渉人材が足りない。", "課題⑧"),
        C(u, "展示会を戦略的に使う。", "課題①"), C(u, "展示会を戦略的に使う。", "P1"), C(u, "外部人材を使う。", "P5"),
    ]
    return Corpus([a, u], cb, codings)


def test_every_challenge_practice_and_case_is_a_node_with_counts(corpus):
    G = challenge_practice_network(corpus)
    kinds = [d["kind"] for _, d in G.nodes(data=True)]
    assert (kinds.count("challenge"), kinds.count("practice"), kinds.count("case")) == (12, 5, 15)
    n = G.nodes["課題①"]
    assert {k: n[k] for k in ("ref", "kind", "label", "latent", "segments", "orgs", "windows", "org_ids", "attribution")} == {
        "ref": "課題①", "kind": "challenge", "label": "海外企業へのアクセス・マーケティング手段の不足", "latent": False,
        "segments": 2, "orgs": 2, "windows": 2, "org_ids": "JP-A US-A", "attribution": "国立大、私立大"}
    assert [n[f"orgs_{r}"] for r in REGIONS] == [1, 1, 0]
    assert [n[f"segments_{r}"] for r in REGIONS] == [1, 1, 0]
    assert [(q["transcript_id"], q["text"], q["note"]) for q in n["quotes"]] == [
        ("JP-A", "展示会に出ても成約しない。", "国内国立大学"), ("US-A", "展示会を戦略的に使う。", "私立大学")]
    latent = G.nodes["課題③"]
    assert (latent["latent"], latent["orgs"], latent["segments"], latent["quotes"]) == (True, 0, 0, [])


@pytest.mark.parametrize("window, expected", [
    # (windows, orgs, jaccard) of 課題①–P1, 課題①–事例①, 課題⑧–P1
    ("segment", [(1, 1, 0.3333), None, None]),
    ("paragraph", [(2, 2, 1.0), (1, 1, 0.5), None]),
    ("interview", [(2, 2, 1.0), (1, 1, 0.5), (1, 1, 0.5)]),
])
def test_evidence_weights_follow_the_window(corpus, window, expected):
    G = challenge_practice_network(corpus, window=window)
    for (a, b), want in zip([("課題①", "P1"), ("課題①", "事例①"), ("課題⑧", "P1")], expected):
        if want is None:
            assert not G.has_edge(a, b) or not G.edges[a, b]["evidence"], (window, a, b)
        else:
            e = G.edges[a, b]
            assert (e["windows"], e["orgs"], e["jaccard"]) == want, (window, a, b)
            assert e["weight"] == want[0]


def test_windows_of_a_span_across_sentences_and_paragraphs(cb):
    t = T("JP-A", JPA)
    span = "事例の話をする。\n\nA: 交渉人材"
    c = C(t, span, "P1")
    occ = {w: occurrences(Corpus([t], cb, [c]), w).by_code["P1"] for w in ("segment", "paragraph", "interview")}
    assert sorted(occ["paragraph"]) == [("JP-A", "p", 0), ("JP-A", "p", 1)]
    assert len(occ["segment"]) == 2 and list(occ["interview"]) == [("JP-A", "i", 0)]


def test_declared_and_evidence_edges(corpus):
    G = challenge_practice_network(corpus)  # paragraph
    e = G.edges["課題①", "P1"]
    assert {k: e[k] for k in ("kind", "declared", "evidence", "pair", "relation", "direction", "support", "weight")} == {
        "kind": "declared+evidence", "declared": True, "evidence": True, "pair": "challenge-practice",
        "relation": "answers", "direction": "課題①→P1", "support": 2, "weight": 2.0}
    assert [(q["transcript_id"], q["code_id"], q["window"]) for q in e["quotes"]] == [
        ("JP-A", "課題①", "JP-A ¶1"), ("JP-A", "P1", "JP-A ¶1"), ("US-A", "P1", "US-A ¶1"), ("US-A", "課題①", "US-A ¶1")]
    # declared only: 課題⑧ (JP-A) and P5 (US-A) never meet; weight = organisations raising 課題⑧
    d = G.edges["課題⑧", "P5"]
    assert (d["kind"], d["windows"], d["support"], d["weight"], d["quotes"]) == ("declared", 0, 1, 1.0, [])
    # nobody raised 課題⑫: the link stays, weighing 1
    assert (G.edges["課題⑫", "P1"]["support"], G.edges["課題⑫", "P1"]["weight"]) == (0, 1.0)
    # practice → case
    pc = G.edges["P1", "事例①"]
    assert (pc["kind"], pc["relation"], pc["direction"], pc["support"], pc["windows"]) == ("declared+evidence", "cases", "P1→事例①", 1, 1)
    # evidence only
    ev = G.edges["課題①", "事例①"]
    assert (ev["kind"], ev["declared"], ev["pair"], ev["direction"], ev["support"]) == ("evidence", False, "challenge-case", "", 0)
    kinds = [d["kind"] for _, _, d in G.edges(data=True)]
    assert (kinds.count("declared") + kinds.count("declared+evidence"), kinds.count("evidence")) == (27, 1)


def test_filters_drop_evidence_but_keep_declared_links(corpus):
    G = challenge_practice_network(corpus, min_weight=2)
    assert not G.has_edge("課題①", "事例①")
    assert (G.edges["P1", "事例①"]["kind"], G.edges["P1", "事例①"]["windows"]) == ("declared", 0)
    assert G.edges["課題①", "P1"]["kind"] == "declared+evidence"
    top = challenge_practice_network(corpus, top_n=1)
    assert [(u, v) for u, v, d in top.edges(data=True) if d["evidence"]] == [("課題①", "P1")]
    by_orgs = challenge_practice_network(corpus, window="interview", weight_by="orgs")
    assert by_orgs.edges["課題①", "P1"]["weight"] == 2.0 and by_orgs.edges["課題⑧", "P1"]["weight"] == 1.0


def test_organisation_nodes(corpus):
    G = challenge_practice_network(corpus, include_orgs=True)
    org = G.nodes["org:US-A"]
    assert (org["kind"], org["label"], org["region"], org["orgs_米国"], org["orgs_日本"], org["segments"]) == (
        "organisation", "US-A組織", "米国", 1, 0, 2)
    e = G.edges["org:US-A", "課題①"]
    assert (e["kind"], e["declared"], e["windows"], e["windows_米国"], e["pair"]) == ("coded", False, 1, 1, "challenge-organisation")
    assert sorted(n for n in G if str(n).startswith("org:")) == ["org:JP-A", "org:US-A"]


def test_cooccurrence_network_with_families_and_filters(corpus):
    G = cooccurrence_network(corpus, families=("challenge", "practice"), window="interview")
    assert sorted(G) == ["P1", "P5", "課題①", "課題⑧"]
    assert sorted((min(u, v), max(u, v), d["windows"]) for u, v, d in G.edges(data=True)) == [
        ("P1", "P5", 1), ("P1", "課題①", 2), ("P1", "課題⑧", 1), ("P5", "課題①", 1), ("課題①", "課題⑧", 1)]
    assert all(d["kind"] == "evidence" for _, _, d in G.edges(data=True))
    para = cooccurrence_network(corpus, families=("challenge", "practice"))
    assert sorted(para) == ["P1", "課題①"]  # the others co-occur with nothing in a paragraph
    assert len(cooccurrence_network(corpus, families=("challenge", "practice"), keep_isolates=True)) == 4
    assert cooccurrence_network(corpus, families=("challenge", "practice"), window="interview", min_weight=2).number_of_edges() == 1
    assert cooccurrence_network(corpus, families=("challenge", "practice"), window="interview", top_n=2).number_of_edges() == 2
    with pytest.raises(ValueError, match="unknown code family"):
        cooccurrence_network(corpus, families=("nope",))


def test_empty_codings_give_nodes_and_declared_links_only(cb):
    G = build_network(Corpus([], cb, []))
    assert len(G) == 32 and all(d["kind"] == "declared" for _, _, d in G.edges(data=True))
    assert len(build_network(Corpus([], cb, []), "cooccurrence")) == 0


def test_communities_and_centralities(corpus):
    G = analyse(challenge_practice_network(corpus, window="interview"), method="greedy")
    assert G.graph["community_method"] == "greedy" and G.graph["communities"] >= 2
    for _, d in G.nodes(data=True):
        assert {"community", "degree", "strength", "degree_centrality", "betweenness", "pagerank"} <= set(d)
    assert G.nodes["P1"]["community"] == G.nodes["事例①"]["community"]
    assert G.nodes["P1"]["degree"] == G.degree("P1") and G.nodes["課題⑫"]["betweenness"] == 0.0
    louvain = analyse(challenge_practice_network(corpus, window="interview"))
    again = analyse(challenge_practice_network(corpus, window="interview"))
    assert [d["community"] for _, d in louvain.nodes(data=True)] == [d["community"] for _, d in again.nodes(data=True)]


def test_summary(corpus):
    text = summarise(build_network(corpus))
    lines = text.splitlines()
    assert lines[0] == ("challenge–practice network, window: paragraph: 32 nodes (12 challenge, 5 practice, 15 case), "
                        "28 edges (25 declared, 2 declared+evidence, 1 evidence)")
    assert "strongest challenge–practice pairs (same paragraph; windows, organisations, Jaccard):" in lines
    assert "  課題① – P1: declared+evidence, 2 windows, 2 orgs, Jaccard 1.000" in lines
    assert lines[-1].startswith("challenges nobody raised: 課題② ")


# ---------------------------------------------------------------- exporters
# What Gephi's importers (ImporterGraphML, ImporterGEXF in gephi/gephi) report as issues, restated:
# a key or attribute class other than node/edge(/all), an unknown attribute type, a default edge
# type or edge direction it does not know, a value its column cannot parse, an edge to a missing
# node. And which key ids or names it takes as node or edge properties instead of columns.
GEPHI_TYPES = {"boolean", "bool", "integer", "int", "long", "float", "double", "string"}
GEPHI_PROPERTIES = {"node": {"label", "d3", "x", "y", "xpos", "ypos", "z", "size", "r", "g", "b"},
                    "edge": {"label", "edgelabel", "d7", "weight", "Edge Weight", "id", "edgeid", "r", "g", "b"}}


def parses(kind: str, text: str) -> bool:
    try:
        {"boolean": lambda t: {"true": 1, "false": 0}[t], "bool": lambda t: {"true": 1, "false": 0}[t],
         "int": int, "integer": int, "long": int, "float": float, "double": float, "string": str}[kind](text)
        return True
    except (KeyError, ValueError):
        return False


def gephi_graphml_issues(data: bytes) -> list[str]:
    root = etree.fromstring(data)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    issues, keys = [], {}
    for k in root.findall("g:key", ns):
        if k.get("for") not in ("node", "edge", "all"):
            issues.append(f"key {k.get('attr.name')}: for={k.get('for')}")
        if k.get("attr.type") not in GEPHI_TYPES:
            issues.append(f"key {k.get('attr.name')}: type {k.get('attr.type')}")
        if k.get("id") in GEPHI_PROPERTIES.get(k.get("for"), set()) - {k.get("attr.name")}:
            issues.append(f"key id {k.get('id')} is a Gephi property, not {k.get('attr.name')}")
        keys[k.get("id")] = k.get("attr.type")
    graph = root.find("g:graph", ns)
    if graph.get("edgedefault") not in ("directed", "undirected"):
        issues.append(f"edgedefault {graph.get('edgedefault')}")
    nodes = {n.get("id") for n in graph.findall("g:node", ns)}
    for el in graph.findall("g:node", ns) + graph.findall("g:edge", ns):
        for d in el.findall("g:data", ns):
            if not parses(keys[d.get("key")], d.text or ""):
                issues.append(f"{el.get('id')}: '{d.text}' is no {keys[d.get('key')]}")
    for e in graph.findall("g:edge", ns):
        if e.get("directed") not in (None, "true", "false") or not {e.get("source"), e.get("target")} <= nodes:
            issues.append(f"edge {e.get('id')}")
    return issues


def gephi_gexf_issues(data: bytes) -> list[str]:
    root = etree.fromstring(data)
    ns = {"x": "http://www.gexf.net/1.2draft", "viz": "http://www.gexf.net/1.2draft/viz"}
    issues, types = [], {}
    graph = root.find("x:graph", ns)
    if graph.get("defaultedgetype") not in ("directed", "undirected"):
        issues.append("defaultedgetype")
    for attrs in graph.findall("x:attributes", ns):
        if attrs.get("class") not in ("node", "edge"):
            issues.append(f"attributes class {attrs.get('class')}")
        for a in attrs.findall("x:attribute", ns):
            if a.get("type") not in GEPHI_TYPES:
                issues.append(f"attribute {a.get('title')}: type {a.get('type')}")
            types[(attrs.get("class"), a.get("id"))] = a.get("type")
    nodes = {n.get("id") for n in graph.iterfind("x:nodes/x:node", ns)}
    for cls, path in (("node", "x:nodes/x:node"), ("edge", "x:edges/x:edge")):
        for el in graph.iterfind(path, ns):
            for v in el.iterfind("x:attvalues/x:attvalue", ns):
                if not parses(types[(cls, v.get("for"))], v.get("value")):
                    issues.append(f"{el.get('id')}: '{v.get('value')}' is no {types[(cls, v.get('for'))]}")
            c = el.find("viz:color", ns)
            if c is None or not all(0 <= int(c.get(x)) <= 255 for x in "rgb") or not 0 <= float(c.get("a")) <= 1:
                issues.append(f"{cls} {el.get('id')}: colour")
    for e in graph.iterfind("x:edges/x:edge", ns):
        if e.get("type") not in ("directed", "undirected") or not {e.get("source"), e.get("target")} <= nodes:
            issues.append(f"edge {e.get('id')}")
        float(e.get("weight"))
    return issues


def read_graphml(data: bytes) -> tuple[dict, dict]:
    """Nodes and edges of our GraphML with typed attributes: ({id: attrs}, {(source, target, directed): attrs})."""
    root = etree.fromstring(data)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    keys = {k.get("id"): (k.get("attr.name"), k.get("attr.type")) for k in root.findall("g:key", ns)}
    conv = {"boolean": lambda t: t == "true", "int": int, "double": float, "string": str}

    def attrs(el):
        return {keys[d.get("key")][0]: conv[keys[d.get("key")][1]](d.text or "") for d in el.findall("g:data", ns)}

    graph = root.find("g:graph", ns)
    nodes = {n.get("id"): attrs(n) for n in graph.findall("g:node", ns)}
    edges = {(e.get("source"), e.get("target"), e.get("directed") == "true"): attrs(e) for e in graph.findall("g:edge", ns)}
    return nodes, edges


def test_graphml_keeps_every_scalar_attribute_as_gephi_imports_it(corpus):
    G = build_network(corpus, include_orgs=True, draft=True)
    data = graphml_bytes(G)
    assert gephi_graphml_issues(data) == []
    nodes, edges = read_graphml(data)
    S = scalar_graph(G)
    assert nodes == {str(n): d for n, d in S.nodes(data=True)}
    want = {}
    for u, v, d in S.edges(data=True):
        a, b, directed = oriented(u, v, d)
        want[(a, b, directed)] = d
    assert edges == want
    # codebook links run from challenge to practice and practice to case; the rest is undirected
    assert ("課題①", "P1", True) in edges and ("P1", "事例①", True) in edges and ("課題①", "事例①", False) in edges
    assert sorted({(G.nodes[a]["kind"], G.nodes[b]["kind"]) for a, b, directed in edges if directed}) == [
        ("challenge", "practice"), ("practice", "case")]
    assert nodes["課題③"]["latent"] is True and b'>true<' in data and b'>True<' not in data
    root = etree.fromstring(data)
    assert root.findall("{http://graphml.graphdrawing.org/xmlns}key[@for='graph']") == []
    assert root.findtext("{*}graph/{*}desc") == title(G) + "\n" + DRAFT
    # the issues checker does catch what Gephi reports
    assert gephi_graphml_issues(data.replace(b'for="edge"', b'for="graph"', 1).replace(b">true<", b">True<")) != []


def test_gexf_has_colours_thickness_and_directed_links_as_gephi_imports_it(corpus):
    G = build_network(corpus)
    pos = layout(G)
    data = gexf_bytes(G, pos)
    assert gephi_gexf_issues(data) == []
    root = etree.fromstring(data)
    ns = {"x": "http://www.gexf.net/1.2draft", "viz": "http://www.gexf.net/1.2draft/viz"}
    node = root.find(".//x:node[@id='課題①']", ns)
    assert node.get("label") == "海外企業へのアクセス・マーケティング手段の不足"
    assert node.find("viz:color", ns).attrib == {"r": "213", "g": "94", "b": "0", "a": "1.0"}  # #D55E00, a challenge
    assert float(node.find("viz:position", ns).get("x")) == round(1000 * pos["課題①"][0], 2)
    edges = {(e.get("source"), e.get("target")): e for e in root.iterfind(".//x:edge", ns)}
    both, evidence, declared = edges[("課題①", "P1")], edges[("課題①", "事例①")], edges[("課題⑧", "P5")]
    assert (both.get("type"), evidence.get("type"), declared.get("type")) == ("directed", "undirected", "directed")
    assert both.get("weight") == "2.0"
    colours = {k: "#%02X%02X%02X" % tuple(int(e.find("viz:color", ns).get(c)) for c in "rgb")
               for k, e in (("both", both), ("evidence", evidence), ("declared", declared))}
    assert colours == {"both": "#1F4E79", "evidence": "#555555", "declared": "#9A9A9A"}
    assert [e.find("viz:shape", ns).get("value") for e in (both, evidence, declared)] == ["solid", "solid", "dashed"]
    # thicker where the link weighs more: 課題①–P1 (2 paragraphs) is the heaviest evidence
    thickness = {k: float(e.find("viz:thickness", ns).get("value")) for k, e in edges.items()}
    assert thickness[("課題①", "P1")] == max(thickness[k] for k in edges if edges[k].get("type") == "directed"
                                             or k == ("課題①", "事例①")) == 5.0
    assert thickness[("課題①", "事例①")] == round(0.6 + 4.4 * 1 / 2, 3)
    assert gephi_gexf_issues(data.replace(b'type="directed"', b'type="mutual"', 1)) != []


def test_json_has_positions_and_quotes(corpus):
    G = build_network(corpus)
    data = json.loads(json.dumps(node_link(G, layout(G)), ensure_ascii=False))
    node = next(n for n in data["nodes"] if n["id"] == "課題①")
    assert node["quotes"][0]["note"] == "国内国立大学" and 0 <= node["x"] <= 1 and 0 <= node["y"] <= 1
    assert len(data["edges"]) == G.number_of_edges()


def test_guarded_masks_every_string(corpus):
    G = guarded(build_network(corpus), lambda s: s.replace("展示会", "〇〇"))
    assert G.nodes["課題①"]["quotes"][0]["text"] == "〇〇に出ても成約しない。"
    assert all("展示会" not in json.dumps(d, ensure_ascii=False) for _, d in G.nodes(data=True))
    assert all("展示会" not in json.dumps(d, ensure_ascii=False) for _, _, d in G.edges(data=True))
    assert "課題①" in G  # ids are not text to mask


def test_layout_puts_the_challenge_practice_network_in_columns(corpus):
    G = build_network(corpus)
    pos = layout(G)
    assert {pos[n][0] for n, d in G.nodes(data=True) if d["kind"] == "challenge"} == {0.0}
    assert {pos[n][0] for n, d in G.nodes(data=True) if d["kind"] == "case"} == {1.0}
    assert len({pos[n][1] for n, d in G.nodes(data=True) if d["kind"] == "case"}) == 15  # no two on one spot
    O = build_network(corpus, include_orgs=True)
    assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in layout(O).values())


def test_wrap_ja_breaks_at_friendly_places():
    assert wrap_ja("課題① 海外企業へのアクセス・マーケティング手段の不足", 21) == "課題① 海外企業へのアクセス・\nマーケティング手段の不足"
    assert wrap_ja("短い", 10) == "短い"
    assert all(not line.startswith(("、", "）")) for line in wrap_ja("ああああああああ、いいいいい（ううう）", 9).splitlines())


def test_png_renders_japanese_without_missing_glyphs(corpus):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = png_bytes(build_network(corpus, window="interview"))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert [str(w.message) for w in caught if "Glyph" in str(w.message) or "findfont" in str(w.message)] == []


def test_html_is_self_contained(corpus):
    G = build_network(corpus)
    page = html_text(G)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert not re.search(r"""url\(\s*["']?(?:https?:)?//|@import""", page)
    assert page.count("<script") == 3 and "vis-network" in page and "__DATA__" not in page
    blob = re.search(r'<script type="application/json" id="network-data">(.*?)</script>', page, re.S).group(1)
    data = json.loads(blob)
    assert data == json.loads(json.dumps(html_data(G), ensure_ascii=False))
    assert len(data["nodes"]) == 32 and data["regions"] == list(REGIONS)


def test_html_data_escapes_a_closing_script_tag(cb):
    t = T("JP-A", "A: 悪い</script><script>alert(1)</script>例。\n")
    G = build_network(Corpus([t], cb, [C(t, "悪い</script><script>alert(1)</script>例。", "課題①")]))
    page = html_text(G)
    assert "alert(1)</script>" not in page
    blob = re.search(r'<script type="application/json" id="network-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(blob)["nodes"][0]["evidence"][0]["text"] == "悪い</script><script>alert(1)</script>例。"


def test_write_network_writes_each_format_atomically(corpus, tmp_path):
    files = write_network(build_network(corpus), tmp_path / "net")
    assert [f.name for f in files] == [f"challenge-practice.{e}" for e in ("graphml", "gexf", "json", "png", "html", "txt")]
    assert not [p for p in (tmp_path / "net").iterdir() if p.name.startswith(".")]
    with pytest.raises(ValueError, match="unknown network format"):
        write_network(build_network(corpus), tmp_path / "x", ["svg"])


# ---------------------------------------------------------------- the command
def test_network_command_masks_real_names(project, write):
    write("a.md", "A: 東北工業大学との展示会では成約しない。\n\nA: 交渉人材が足りない。\n", id="JP-A")
    (project / "anonymity.yml").write_text("real_names:\n  東北工業大学: H大学\n", encoding="utf-8")
    text = "東北工業大学との展示会では成約しない。"
    (project / "in.csv").write_text(
        "transcript_id,start,end,text,code_id,code_ref,status,coder\n"
        f"JP-A,0,{len(text)},{text},課題①,課題①,manual,hanako\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["import", "codings", str(project / "in.csv"), "--project", str(project)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["network", "--project", str(project), "--format", "json", "--format", "html", "--format", "txt"])
    assert res.exit_code == 0, res.output
    assert "wrote 3 file(s) to" in res.output and "challenge-practice.json, challenge-practice.html, challenge-practice.txt" in res.output
    out = project / "outputs" / "network"
    for f in out.iterdir():
        body = f.read_text(encoding="utf-8")
        assert "東北工業大学" not in body, f
    assert "H大学との展示会では成約しない。" in (out / "challenge-practice.json").read_text(encoding="utf-8")


def test_layout_is_the_same_in_every_process():
    """Node positions must not depend on Python's string-hash seed (pages and PNGs are reproducible)."""
    import os
    import subprocess
    import sys

    code = ("import json, networkx as nx; from coding.network_export import force_layout;"
            "G = nx.Graph(); G.add_edges_from([(f'課題{i}', f'P{i % 3}') for i in range(9)] + [('P0', 'P1'), ('x', 'y')]);"
            "print(json.dumps({k: [round(a, 6) for a in v] for k, v in sorted(force_layout(G).items())}))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(outs) == 1
