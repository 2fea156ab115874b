"""Charts on hand-built codings: what each chart shows, Japanese glyphs from IPAex Gothic (no
missing glyphs), the anonymity guard on every label, the command line."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from coding.aggregate import Corpus
from coding.anonymity import AnonymityError, Guard, Policy
from coding.charts import chart_spec, crosstab_spec, draw, phases_spec, publish_chart
from coding.codebook import load_codebook
from coding.crosstab import crosstab
from coding.project import Project
from coding.store import Coding, record_decisions
from coding.transcripts import parse_transcript

from conftest import ROOT, transcript_text


def T(tid, kind):
    return parse_transcript(transcript_text("A: 共願。\n", id=tid, kind=kind, attribute=kind), Path(f"{tid}.md"))


def C(t, code):
    return Coding(t.id, 3, 6, "共願。", code, "accepted", "hanako")


@pytest.fixture(scope="module")
def ct():
    cb = load_codebook(ROOT / "codebook.yml")
    ts = [T(f"N{i}", "国立大") for i in range(4)] + [T(f"P{i}", "私立大") for i in range(4)]
    return crosstab(Corpus(ts, cb, [C(t, "課題⑤") for t in ts[:4]] + [C(ts[4], "課題⑤")]), "kind", codes=["課題⑤", "課題①"])


def glyph(ch: str) -> str:
    """The id matplotlib gives the outline of ``ch`` in an SVG drawn with IPAex Gothic."""
    import matplotlib.font_manager as fm
    import matplotlib_fontja  # noqa: F401
    from matplotlib.ft2font import FT2Font

    index = FT2Font(fm.findfont("IPAexGothic")).get_char_index(ord(ch))
    assert index, f"IPAex Gothic has no glyph for {ch}"
    return f'id="IPAexGothic-{index:x}"'


def test_crosstab_spec_counts_shares_residuals_and_marks(ct):
    spec = crosstab_spec(ct, style="bubble")
    assert spec["columns"] == ["国立大\n(n=4)", "私立大\n(n=4)"]
    row, empty = spec["rows"]
    assert row["label"] == "課題⑤ 日本企業との「共願」の慣行†" and row["note"] == "Fisher p=0.143"
    assert row["counts"] == [4, 1] and row["shares"] == [1.0, 0.25]
    e = 4 * 5 / 8  # expected organisations with the code per kind: column total × row total / N
    assert row["residuals"] == [round((4 - e) / e ** 0.5, 3), round((1 - e) / e ** 0.5, 3)] == [0.949, -0.949]
    assert empty["counts"] == [0, 0] and empty["note"] == "" and not empty["label"].endswith("†")
    assert "†：期待度数が小さくχ²は不確か" in spec["caption"]


@pytest.mark.parametrize("style", ["bubble", "heatmap"])
def test_japanese_labels_are_drawn_with_ipaex_gothic(ct, style):
    spec = crosstab_spec(ct, style=style)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png, svg = draw(spec, "png"), draw(spec, "svg").decode("utf-8")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [w for w in caught if "missing from" in str(w.message)]  # no glyph fell back to a box
    # SVG text is drawn as outlines of IPAex Gothic's glyphs: every character of a label is there
    for ch in "課題共願慣行国立大私立":
        assert glyph(ch) in svg, ch


def test_bars_of_the_phase_table():
    pt = {"title": "交渉段階別の言及", "regions": ["日本", "米国"],
          "rows": [{"title": "交渉前", "regions": {"日本": {"n_passages": 3, "n_orgs": 2}, "米国": {"n_passages": 1, "n_orgs": 1}}},
                   {"title": "交渉中", "regions": {"日本": {"n_passages": 0, "n_orgs": 0}, "米国": {"n_passages": 5, "n_orgs": 3}}}]}
    spec = phases_spec(pt, measure="orgs")
    assert spec["series"] == ["日本", "米国"] and [r["values"] for r in spec["rows"]] == [[2, 1], [0, 3]]
    assert spec["title"] == "交渉段階別の言及（組織数）"
    assert draw(spec, "svg").startswith(b"<?xml")


@pytest.fixture
def study(project, write):
    (project / "anonymity.yml").write_text("detect: false\n", encoding="utf-8")  # no NER model in these tests
    for i in range(3):
        write(f"n{i}.md", "A: 共願が多い。展示会に出る。\n", id=f"N{i}", kind="国立大", attribute="国立大")
        write(f"u{i}.md", "A: 共願が多い。展示会に出る。\n", id=f"U{i}", region="米国", country="米国", kind="州立大", attribute="州立大")
    p = Project.open(project)
    rows = [Coding(t, 3, 9, "共願が多い。", "課題⑤", "manual", "hanako") for t in ("N0", "N1")]
    rows += [Coding(t, 9, 15, "展示会に出る", "P1", "manual", "hanako") for t in ("N0", "U0", "U1")]
    record_decisions(project, "hanako", rows, p.by_id)
    return project


def test_regions_and_words_specs_follow_the_codings(study):
    p = Project.open(study)
    spec, warns = chart_spec(p, "regions", family="practice")
    assert spec["series"] == ["日本 (n=3)", "米国 (n=3)"]
    assert [(r["label"], r["values"]) for r in spec["rows"]][0] == ("P1 展示会等の戦略的活用", [1, 2]) and warns == []
    spec, _ = chart_spec(p, "words", top=2, by="region")
    # 共願 is 共 + a suffix for Sudachi: the noun 共 counts, the suffix does not
    assert [(r["label"], r["values"]) for r in spec["rows"]] == [("共", [3, 3]), ("多い", [3, 3])]


def test_every_label_passes_the_guard_and_strict_refuses(study, tmp_path):
    p = Project.open(study)
    guard = Guard(Policy(always_mask=("国立大",)))
    res = publish_chart(p, guard, "crosstab", by="kind", output=tmp_path / "c", formats=["svg"])
    assert guard.masked["国立大"] == 1 and res.files == [tmp_path / "c" / "crosstab-kind-bubble.svg"]
    svg = res.files[0].read_text(encoding="utf-8")
    assert glyph("〇") in svg and glyph("国") not in svg  # the column reads 〇〇
    with pytest.raises(AnonymityError, match="国立大"):
        publish_chart(p, Guard(Policy(always_mask=("国立大",))), "crosstab", by="kind", output=tmp_path / "s", strict=True)
    assert not (tmp_path / "s").exists()


def test_command_line_writes_png_and_svg(study, tmp_path):
    out = tmp_path / "charts"
    res = CliRunner().invoke(cli, ["chart", "crosstab", "--by", "kind", "--family", "challenge", "--code", "課題⑤", "-o", str(out),
                                   "--project", str(study)], catch_exceptions=False)
    assert res.exit_code == 0
    assert res.stdout == (f"anonymity: nothing to mask\nwrote {out / 'crosstab-kind-bubble.png'}\n"
                          f"wrote {out / 'crosstab-kind-bubble.svg'}\n")
    assert res.stderr == ("warning: 課題⑤: 4 of 4 expected counts are under 5 (smallest 1.00): χ² is unreliable; "
                          "Fisher's exact p = 0.4000\n")
    res = CliRunner().invoke(cli, ["chart", "phases", "--format", "png", "-o", str(out / "p.png"), "--project", str(study)],
                             catch_exceptions=False)
    assert res.exit_code == 0 and (out / "p.png").read_bytes()[:4] == b"\x89PNG"
    res = CliRunner().invoke(cli, ["chart", "crosstab", "--by", "staf", "--project", str(study)])
    assert res.exit_code == 1 and "--by staf: no transcript has the variable 'staf'" in res.output
