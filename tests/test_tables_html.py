"""tables.html, a page to read and to print into a report: column widths, rows nobody fills left
out on request, A4 landscape with repeated header rows, the Japanese font inside, nothing loaded
from anywhere."""
from __future__ import annotations

import base64
import io
import json
import re

import pytest
from click.testing import CliRunner
from fontTools.ttLib import TTFont

from browser import Browser, find_chromium
from cli import cli
from coding.aggregate import drop_empty_rows
from coding.export import table_rows, to_html
from coding.fonts import FAMILY
from coding.project import Project, code_project, project_tables
from coding.review import ReviewSession

from conftest import ROOT

JP = ("A: 専門人材が慢性的に不足している。\n\n"
      "A: 日本は共願の特許が多いのは事実。\n")
US = "A: 企業資金の研究でも権利は大学に帰属する。\n"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def sample_tables():
    return project_tables(Project.open(ROOT))


@pytest.fixture
def coded(project, write):
    """Two organisations with three codings: most rows of the sample's tables stay empty."""
    write("a.md", JP, id="JP-A", org="A大学")
    write("u.md", US, id="US-A", org="A大学", region="米国", country="米国", kind="州立大", attribute="州立大")
    code_project(Project.open(project))
    s = ReviewSession(project, "hanako")
    for tid, words, code in (("JP-A", "専門人材が慢性的に不足している。", "課題⑧"),
                             ("JP-A", "日本は共願の特許が多いのは事実。", "図表32-1/日本"),
                             ("US-A", "企業資金の研究でも権利は大学に帰属する。", "図表32-1")):
        body = s.p.by_id[tid].body
        at = body.index(words)
        s.decide({"transcript_id": tid, "start": at, "end": at + len(words), "code_id": code, "action": "add"})
    return project


def test_rows_nobody_fills_are_left_out_on_request(coded, tmp_path):
    full, dropped = tmp_path / "full.json", tmp_path / "dropped.json"
    assert run("tables", "--format", "json", "-o", full, "--project", coded).exit_code == 0
    res = run("tables", "--format", "json", "-o", dropped, "--drop-empty", "--project", coded)
    assert res.exit_code == 0, res.output
    assert res.output.endswith(f"2 comparison-table entries, 1 quotes; wrote 1 file(s) to {dropped}\n")
    a, b = json.loads(full.read_text(encoding="utf-8")), json.loads(dropped.read_text(encoding="utf-8"))
    assert len(a["challenge_table"]["rows"]) == 12 and len(a["comparison_tables"]["図表32"]["rows"]) == 6
    assert [r["code_id"] for r in b["challenge_table"]["rows"]] == ["課題⑧"]
    assert [r["code_id"] for r in b["comparison_tables"]["図表32"]["rows"]] == ["図表32-1"]
    assert b["comparison_tables"]["図表33"]["rows"] == []
    assert [r["code_id"] for r in b["practice_table"]["rows"]] == ["P5"]  # it answers 課題⑧, which JP-A raised
    # the phases: 交渉前 only (図表32-1 lies under it), and only the organisations that speak of it
    assert [r["code_id"] for r in b["phase_table"]["rows"]] == ["交渉前"]
    assert b["phase_table"]["by_org"] == [{"transcript_id": "JP-A", "org": "A大学", "region": "日本", "counts": {"交渉前": 1}},
                                          {"transcript_id": "US-A", "org": "A大学", "region": "米国", "counts": {"交渉前": 1}}]
    assert b["rosters"] == a["rosters"]  # who was interviewed is never left out
    # nothing else changes: the rows kept are the same rows
    kept = {r["code_id"]: r for r in a["challenge_table"]["rows"]}
    assert b["challenge_table"]["rows"] == [kept["課題⑧"]]
    # and no table of the printed page is a row of "-" any more
    for name, (header, rows) in table_rows(b).items():
        data = rows if name.startswith("図表3-5") else [r[2:-1] if name == "図表34 課題" else r[1:] for r in rows]
        assert not [r for r in data if all(c == "-" for c in r)], name


def test_in_the_sample_only_what_nobody_raised_is_left_out(sample_tables):
    dropped = drop_empty_rows(sample_tables)
    assert dropped["comparison_tables"] == sample_tables["comparison_tables"]  # every cell of 図表32/33 is filled
    rows = sample_tables["challenge_table"]["rows"]
    assert [r["code_id"] for r in rows if r not in dropped["challenge_table"]["rows"]] == ["課題⑫"]  # a latent challenge
    by_org = sample_tables["phase_table"]["by_org"]
    kept = dropped["phase_table"]["by_org"]
    assert kept == [o for o in by_org if any(o["counts"].values())] and len(kept) < len(by_org)


def embedded_font(page: str) -> TTFont:
    m = re.search(r"@font-face\{font-family:'" + FAMILY + r"';src:url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", page)
    assert m, "the page carries no font"
    return TTFont(io.BytesIO(base64.b64decode(m.group(1))))


def page_text(page: str) -> str:
    """Every character a person reads on the page (tags and the style taken out, entities read)."""
    import html

    body = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def test_the_page_carries_the_japanese_font_for_every_character_it_shows(sample_tables):
    page = to_html(sample_tables)
    font = embedded_font(page)
    cmap = font.getBestCmap()
    shown = {c for c in page_text(page) if not c.isspace()}
    assert len(shown) > 500 and sorted(c for c in shown if ord(c) not in cmap) == []
    assert font["name"].getDebugName(1) == "IPAexGothic"  # the licence's font, cut to the page's characters
    assert len(page.encode("utf-8")) < 600_000  # not the whole 6 MB font
    assert to_html(sample_tables) == page  # the same tables give the same bytes


def test_the_page_loads_nothing_from_anywhere(sample_tables, tmp_path):
    page = to_html(sample_tables)
    # every address the page names is inside it
    refs = re.findall(r"(?:src|href)\s*=\s*['\"]?([^'\" >]+)|url\(([^)]+)\)|@import", page)
    assert refs and all((a or b).startswith("data:") for a, b in refs), refs
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium on this machine (install it with: apt-get install -y chromium)")
    path = tmp_path / "tables.html"
    path.write_text(page, encoding="utf-8")
    b = Browser(binary, offline=True)
    try:
        b.open(path.as_uri())
        b.wait_for("document.readyState === 'complete'", what="the page loaded")
        assert b.js(f"document.fonts.load('16px {FAMILY}', '課題').then(f => f.length)") == 1
        assert b.problems() == []
    finally:
        b.close()


def test_columns_are_as_wide_as_their_text_and_the_page_prints_a4_landscape(sample_tables, tmp_path):
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium on this machine (install it with: apt-get install -y chromium)")
    path = tmp_path / "tables.html"
    path.write_text(to_html(sample_tables), encoding="utf-8")
    b = Browser(binary, offline=True, width=1400, height=900)
    try:
        b.open(path.as_uri())
        b.wait_for("document.readyState === 'complete'", what="the page loaded")
        b.js("document.fonts.ready.then(() => true)")
        # a cell of a few words never wraps: the process column of 図表32 is one line per cell
        wrapped = b.js("""[...document.querySelectorAll('td, th')].filter(c => {
            const lines = c.textContent.split('\\n');
            if (lines.some(l => Array.from(l).length > 12)) return false;
            const r = document.createRange(); r.selectNodeContents(c);
            const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
            return tops.size > lines.length;
        }).map(c => c.textContent)""")
        assert wrapped == []
        first = b.js("[...document.querySelectorAll('h2')].find(h => h.textContent.startsWith('図表32'))"
                     ".nextElementSibling.querySelector('tbody td').textContent")
        assert first == "① 交渉前 権利化・戦略"
        # tables with long text span the page; the quotes get more room than the titles
        widths = b.js("""(() => { const t = [...document.querySelectorAll('h2')].find(h => h.textContent === '図表34 課題')
            .nextElementSibling; return [t.offsetWidth, document.body.clientWidth, ...[...t.querySelectorAll('th')].map(th => th.offsetWidth)]; })()""")
        assert widths[0] == widths[1] and widths[4] > widths[3] > widths[2] > widths[5]
        b.send("Emulation.setEmulatedMedia", {"media": "print"})
        printed = b.js("""[getComputedStyle(document.querySelector('thead')).display,
                            getComputedStyle(document.querySelector('tr')).breakInside,
                            getComputedStyle(document.querySelector('h2')).breakAfter]""")
        assert printed == ["table-header-group", "avoid-page", "avoid-page"]
        pdf = base64.b64decode(b.send("Page.printToPDF", {"preferCSSPageSize": True}, timeout=120)["data"])
        sizes = set(re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf))
        assert {(round(float(w)), round(float(h))) for w, h in sizes} == {(842, 595)}  # A4, landscape
        assert len(re.findall(rb"/Type\s*/Page\b", pdf)) > 5
    finally:
        b.close()
