"""The network's HTML page in a real headless Chromium, offline: it loads with no network access,
logs no console error, draws every node, shows the evidence on hover, and filters.

Chromium is driven through the DevTools protocol over a pipe by ``tests/browser.py`` (no driver
package needed), cut off from every network. Without a browser the
test is skipped, saying how to get one.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from coding.aggregate import Corpus
from coding.network import build_network
from coding.network_export import write_network
from coding.project import Project, confirmed_codings

from browser import Browser, find_chromium
from conftest import ROOT


def _browser() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium on this machine: `apt-get install -y chromium` (as .ci/run does) to run the browser check")
    return binary


def Chromium(binary: str) -> Browser:
    return Browser(binary, width=1500, height=1000, offline=True)


# Every node's own colour (its kind's or community's, from the data, not from the view) must be on the
# canvas within the node's radius: a filled dot or a hollow ring.
DRAWN = """(() => {
  const N = window.cpNetwork, net = N.network, canvas = document.querySelector('#net canvas');
  const ctx = canvas.getContext('2d'), r = canvas.width / canvas.clientWidth, box = canvas.getBoundingClientRect();
  const hex = h => [1, 3, 5].map(i => parseInt(h.slice(i, i + 2), 16));
  const missing = [];
  for (const n of N.data.nodes) {
    const v = N.nodes.get(n.id);
    if (v.hidden) { missing.push(n.key + ' hidden'); continue; }
    const p = net.canvasToDOM(net.getPosition(n.id)), rad = Math.max(2, v.size * net.getScale());
    if (p.x < 0 || p.y < 0 || p.x > box.width || p.y > box.height) { missing.push(n.key + ' off screen'); continue; }
    const want = hex(n.colour);  // the colour of its kind (or community), filled or as a hollow ring
    const x0 = Math.round((p.x - rad) * r), y0 = Math.round((p.y - rad) * r), w = Math.max(1, Math.round(2 * rad * r));
    const px = ctx.getImageData(x0, y0, w, w).data;
    let hit = false;
    for (let i = 0; i < px.length && !hit; i += 4)
      hit = Math.abs(px[i] - want[0]) + Math.abs(px[i + 1] - want[1]) + Math.abs(px[i + 2] - want[2]) < 40;
    if (!hit) missing.push(n.key + ' not painted');
  }
  return {nodes: N.data.nodes.length, missing: missing};
})()"""

CENTRE = "(() => {{ const net = window.cpNetwork.network, b = document.querySelector('#net').getBoundingClientRect();" \
         " const p = net.canvasToDOM({pos}); return [b.left + p.x, b.top + p.y]; }})()"


@pytest.fixture(scope="module")
def chromium():
    b = Chromium(_browser())
    yield b
    b.close()


@pytest.fixture(scope="module")
def sample_pages(tmp_path_factory):
    p = Project.open(ROOT)
    corpus = Corpus(p.transcripts, p.codebook, confirmed_codings(p))
    out = tmp_path_factory.mktemp("network")
    pages = {}
    for name, G in {"paragraph": build_network(corpus), "interview": build_network(corpus, window="interview"),
                    "orgs": build_network(corpus, include_orgs=True),
                    "cooccurrence": build_network(corpus, "cooccurrence", window="interview", top_n=60)}.items():
        (path,) = write_network(G, out / name, ["html"])
        pages[name] = (path, G)
    return pages


def _load(b: Chromium, path: Path) -> None:
    b.events.clear()
    b.open(path.as_uri())
    b.wait_for(f"location.href === {json.dumps(path.as_uri())} && document.readyState === 'complete'"
               " && !!document.documentElement && document.documentElement.getAttribute('data-drawn')")


@pytest.mark.parametrize("name", ["paragraph", "interview", "orgs", "cooccurrence"])
def test_page_loads_offline_without_errors_and_draws_every_node(chromium, sample_pages, name, tmp_path):
    path, G = sample_pages[name]
    _load(chromium, path)
    drawn = chromium.js(DRAWN)
    assert drawn == {"nodes": len(G), "missing": []}
    assert chromium.js("window.cpNetwork.edges.get({filter: e => !e.hidden}).length") == G.number_of_edges()
    assert chromium.js("document.querySelectorAll('script[src], link[href], img[src], iframe').length") == 0
    assert chromium.problems() == []
    if os.environ.get("NETWORK_SCREENSHOTS"):  # for a person to look at: NETWORK_SCREENSHOTS=dir pytest ...
        chromium.screenshot(Path(os.environ["NETWORK_SCREENSHOTS"]) / f"{name}.png")


def test_hover_shows_the_quotes_with_their_attribution_notes(chromium, sample_pages):
    path, G = sample_pages["interview"]
    _load(chromium, path)
    idx = {n: i for i, n in enumerate(G)}
    x, y = chromium.js(CENTRE.format(pos=f"window.cpNetwork.network.getPosition({idx['課題④']})"))
    chromium.mouse(x, y)
    chromium.wait_for("document.querySelector('#panel h2') && document.querySelector('#panel h2').textContent.includes('課題④')")
    quotes = chromium.js("[...document.querySelectorAll('#panel li.quote')].map(li => li.textContent)")
    expected = G.nodes["課題④"]["quotes"]
    assert len(quotes) == len(expected) == G.nodes["課題④"]["segments"]
    assert all(f"“{q['text']}”（{q['note']}）" in li for q, li in zip(expected, quotes))
    assert "国内" in quotes[0]  # the long note of a Japanese organisation, e.g. 国内技術移転機関
    # an edge: the middle of 課題⑩ – P4 (declared, and coded in the same interviews)
    mid = (f"(() => {{ const a = window.cpNetwork.network.getPosition({idx['課題⑩']}), b = window.cpNetwork.network.getPosition({idx['P4']});"
           " return {x: (a.x + b.x) / 2, y: (a.y + b.y) / 2}; })()")
    chromium.mouse(5, 5)
    x, y = chromium.js(CENTRE.format(pos=mid))
    chromium.mouse(x, y)
    chromium.wait_for("document.querySelector('#panel h2').textContent.includes('→')")
    head = chromium.js("document.querySelector('#panel h2').textContent")
    assert head.startswith("課題⑩") and "P4" in head
    n_quotes = chromium.js("document.querySelectorAll('#panel li.quote').length")
    assert n_quotes == len(G.edges["課題⑩", "P4"]["quotes"]) > 0
    assert chromium.problems() == []


def test_region_and_edge_kind_filters(chromium, sample_pages):
    path, G = sample_pages["orgs"]
    _load(chromium, path)
    visible_nodes = "window.cpNetwork.nodes.get({filter: n => !n.hidden}).length"
    visible_edges = "window.cpNetwork.edges.get({filter: e => !e.hidden}).length"
    chromium.js("(() => { const s = document.getElementById('region'); s.value = '米国'; s.dispatchEvent(new Event('change')); })()")
    us_orgs = sum(1 for _, d in G.nodes(data=True) if d["kind"] == "organisation" and d["region"] == "米国")
    codes = sum(1 for _, d in G.nodes(data=True) if d["kind"] != "organisation")
    assert chromium.js(visible_nodes) == codes + us_orgs
    us_edges = sum(1 for _, _, d in G.edges(data=True) if d["declared"] or d["windows_米国"] > 0)
    assert chromium.js(visible_edges) == us_edges
    chromium.js("(() => { const s = document.getElementById('region'); s.value = ''; s.dispatchEvent(new Event('change')); })()")
    chromium.js("(() => { for (const c of document.querySelectorAll('input.edgekind'))"
                " if (c.value === 'coded') { c.checked = false; c.dispatchEvent(new Event('change')); } })()")
    assert chromium.js(visible_edges) == sum(1 for _, _, d in G.edges(data=True) if d["kind"] != "coded")
    assert chromium.problems() == []
