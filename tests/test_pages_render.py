"""The pages people read show Japanese on a machine that has no Japanese font: the review page and
tables.html, in headless Chromium that sees one Latin font only (DejaVu Sans, as matplotlib ships
it), so every Japanese character must come from the font the toolkit bundles.

A character no font has is drawn as the same empty box ("tofu") whatever it is. So: characters of
the page drawn with the page's fonts must all differ from one another and from the box the same
characters make in the Latin font alone — and that box must be one box for all of them, or this
browser had a Japanese font after all and the test would prove nothing. Screenshots of both pages
are kept in the test's folder to look at.
"""
from __future__ import annotations

import importlib.util
import shutil
import threading
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from browser import Browser, find_chromium
from coding.export import to_html
from coding.fonts import bundled_font
from coding.project import Project, code_project, project_tables
from coding.review import make_server

from conftest import ROOT
from test_tables_html import embedded_font, page_text

PROBE = """async (family, chars) => {
  const d = document.createElement('div');
  d.id = 'glyph-probe';
  d.style.cssText = 'position:fixed;left:0;top:0;z-index:2147483647;background:#fff;color:#000;font-size:40px;' +
                    'line-height:48px;white-space:nowrap;font-family:' + family;
  for (const ch of chars) {
    const s = document.createElement('span');
    s.textContent = ch;
    s.style.cssText = 'display:inline-block;width:48px;height:48px;text-align:center;vertical-align:top';
    d.appendChild(s);
  }
  document.body.appendChild(d);
  await document.fonts.load('40px ' + family, chars.join(''));
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return [...d.children].map(s => { const r = s.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; });
}"""


def latin_only_fonts(folder: Path) -> dict[str, str]:
    """The environment of a browser that sees DejaVu Sans and nothing else."""
    spec = importlib.util.find_spec("matplotlib")
    dejavu = Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    fonts = folder / "fonts"
    fonts.mkdir()
    shutil.copy(dejavu, fonts / "DejaVuSans.ttf")
    conf = folder / "fonts.conf"
    conf.write_text("<?xml version='1.0'?>\n<!DOCTYPE fontconfig SYSTEM 'fonts.dtd'>\n"
                    f"<fontconfig><dir>{fonts}</dir><cachedir>{folder / 'fontconfig-cache'}</cachedir></fontconfig>\n",
                    encoding="utf-8")
    return {"FONTCONFIG_FILE": str(conf)}


@pytest.fixture
def browser(tmp_path):
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium on this machine (install it with: apt-get install -y chromium)")
    b = Browser(binary, width=1400, height=900, env=latin_only_fonts(tmp_path))
    yield b
    b.close()


def glyphs(b: Browser, family: str, chars: list[str]) -> list[bytes]:
    """Each character drawn alone in ``family`` (a CSS font-family list), as PNG bytes."""
    rects = b.js(f"({PROBE})({family!r}, {chars!r})")
    shots = [b.shot(*r) for r in rects]
    b.js("document.getElementById('glyph-probe').remove()")
    return shots


def assert_no_tofu(b: Browser, text: str) -> None:
    chars = [c for c in dict.fromkeys(text) if "\u3040" <= c <= "\u9fff"][:12]
    assert len(chars) == 12, "the page should show Japanese"
    tofu = glyphs(b, "sans-serif", chars)
    assert len(set(tofu)) == 1, "this browser draws Japanese without the page's fonts: the test proves nothing"
    page = glyphs(b, b.js("getComputedStyle(document.body).fontFamily"), chars)
    assert len(set(page)) == len(chars) and not set(page) & set(tofu), chars


def test_tables_html_shows_japanese_without_a_japanese_font(browser, tmp_path):
    page = to_html(project_tables(Project.open(ROOT)))
    path = tmp_path / "tables.html"
    path.write_text(page, encoding="utf-8")
    b = browser
    b.open(path.as_uri())
    b.wait_for("document.readyState === 'complete'", what="the page loaded")
    b.js("document.fonts.ready.then(() => true)")
    shown = b.js("document.body.innerText")
    assert shown.startswith("海外大学における知財収入の分析及び技術移転活動に関する調査研究（ヒアリング調査）\n図表3-5 ヒアリング対象（日本）")
    cmap = embedded_font(page).getBestCmap()
    assert sorted({c for c in shown if not c.isspace() and ord(c) not in cmap}) == []
    assert set(shown) - {"\n", "\t"} <= set(page_text(page))  # what the browser shows is what the font was cut for
    assert_no_tofu(b, shown)
    b.screenshot(tmp_path / "tables.png", full=True)
    assert (tmp_path / "tables.png").stat().st_size > 200_000


@pytest.fixture
def sample_server(project):
    for name in ("JP-A.md", "JP-B.md", "US-A.md"):
        shutil.copy(ROOT / "transcripts" / name, project / "transcripts" / name)
    code_project(Project.open(project))
    srv = make_server(project, "hanako", port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_the_review_page_shows_japanese_without_a_japanese_font(sample_server, browser, tmp_path):
    b = browser
    b.open(sample_server.url)
    b.wait_for("window.review && window.review.ready", what="the page ready")
    b.js("document.fonts.ready.then(() => true)")
    shown = b.js("document.body.innerText")
    assert shown.startswith("レビュー\nコーダー hanako\n")
    b.screenshot(tmp_path / "review.png")
    # the page falls back on the bundled font, which has every character the page can show: the
    # transcripts, the codes, the page's own words
    s = sample_server.session
    cmap = TTFont(bundled_font()).getBestCmap()
    every = shown + "".join(t.body for t in s.p.transcripts)
    every += "".join(c["label"] + c["definition"] + "".join(c["phrases"]) for c in b.js("review.state.codes"))
    every += "".join(b.js("Object.values(CONFIG.text).filter(v => typeof v === 'string')"))
    assert sorted({c for c in every if not c.isspace() and ord(c) not in cmap}) == []
    assert_no_tofu(b, shown)
    b.press("?")
    assert_no_tofu(b, b.js("document.getElementById('help').innerText"))
    b.screenshot(tmp_path / "review-help.png")
    b.press("Escape")
    b.press("c")
    b.type("料率")
    b.wait_for("document.querySelectorAll('#picker-list li').length > 0", what="codes in the picker")
    assert_no_tofu(b, b.js("document.getElementById('picker').innerText"))
    b.screenshot(tmp_path / "review-picker.png")
