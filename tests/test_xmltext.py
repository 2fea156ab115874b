"""Every XML file the toolkit writes is well-formed whatever the text holds: every code point, and a
sample of every class, through project.qde, .qdc, GraphML and GEXF; validate names the lines."""
from __future__ import annotations

import io
import unicodedata
import xml.etree.ElementTree as ET
import zipfile

import networkx as nx
import pytest
from click.testing import CliRunner
from lxml import etree

from cli import cli
from coding.codebook import load_codebook
from coding.network_export import gexf_bytes, graphml_bytes
from coding.project import Project
from coding.qdc import build_qdc, import_qdc
from coding.qdpx import build_qdpx, import_qdpx
from coding.review import save_decisions
from coding.store import Coding, Store
from coding.xmltext import from_xml, to_xml, xml_bytes

from coding.transcripts import CONTROL as TRANSCRIPT_CONTROL

from conftest import ROOT

# A sample of every class of code point: C0 controls (all of them), DEL and C1, letters, marks,
# numbers, punctuation and symbols of several scripts, format characters, line and paragraph
# separators, private use, noncharacters, unassigned, characters beyond U+FFFF.
CLASSES = {
    "C0": "".join(chr(c) for c in range(0x20) if chr(c) not in "\n\r"),  # a transcript's line ends are LF
    "DEL+C1": "".join(chr(c) for c in range(0x7F, 0xA0)),
    "ASCII": "Aa0 ~&<>\"']]>",
    "letters": "éßΩЖא中かなカナｶﾅǅー",
    "marks": "e\u0301か\u3099\u20ddक\u0903",
    "numbers": "٣Ⅻ①",
    "punctuation+symbols": "。、「」―…＝＋－＠_«»€∑☃^",
    "format": "\u200b\u200d\u200e\u2060\ufeff",
    "separators": "\u2028\u2029\u3000",
    "private use": "\ue000\U000f0000",
    "noncharacters": "\ufdd0\ufffe\uffff\U0001fffe\U0010ffff",
    "unassigned": "\u0378\U0002fffd",
    "astral": "𠮷😀\U0001f1ef\U0001f1f5",
}
LOST = set("\ufffe\uffff")  # noncharacters XML cannot carry, written as U+FFFD
TEXT = "".join(CLASSES.values())


def test_the_samples_cover_every_general_category_but_surrogates():
    """Surrogates (Cs) cannot be in a text file; the two tests that follow write them from memory."""
    assert {unicodedata.category(ch) for ch in TEXT} == {
        "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
        "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn"}


def test_every_code_point_makes_well_formed_xml_and_comes_back():
    everything = "".join(chr(c) for c in range(0x110000))
    root = ET.Element("t", {"a": to_xml(everything)})
    root.text = to_xml(everything)
    data = xml_bytes(root)  # as every writer serialises
    parsed = etree.fromstring(data)  # lxml: strict XML 1.0
    back = from_xml(parsed.text)
    same = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and chr(c) not in LOST]
    assert [c for c in same if back[c] != chr(c)] == []
    assert {back[c] for c in range(0xD800, 0xE000)} | {back[0xFFFE], back[0xFFFF]} == {"\ufffd"}
    # in an attribute too (tab, LF and CR, which XML would normalise, as character references)
    assert from_xml(parsed.get("a")) == back
    # a control picture the text holds reads back as itself, and so does a word joiner before one
    for s in ("␋", "\u2060␋", "\u2060\u2060␋x\x0b", "␋\x0b␋"):
        assert from_xml(to_xml(s)) == s


@pytest.fixture
def holding(project, write):
    """A transcript holding every sample class a note may hold (C0 controls are refused there, and
    Word's U+000B and a form feed are line breaks: they go into the memos), coded on each sample,
    with memos holding them too."""
    samples = {name: "".join(ch for ch in sample if not TRANSCRIPT_CONTROL.match(ch) and ch not in "\x0b\x0c")
               for name, sample in CLASSES.items()}
    samples = {name: sample for name, sample in samples.items() if sample}
    body = "A: " + "。\nA: ".join(samples.values()) + "。\n"
    write("x.md", body, id="JP-X")
    p = Project.open(project)
    body = p.by_id["JP-X"].body
    rows = []
    for name, sample in samples.items():
        i = body.index(sample)
        memo = CLASSES[name]  # the store drops what a CSV cell cannot hold (NUL and the other C0 controls)
        rows.append(Coding("JP-X", i, i + len(sample), sample, "課題①" if len(rows) % 2 else "交渉前", "manual", "hanako",
                           memo=f"{name}: {memo}"))
    save_decisions(p, "hanako", rows)
    return project


def test_a_project_holding_every_class_exports_well_formed_valid_xml_and_reads_back(holding, tmp_path):
    p = Project.open(holding)
    data, counts = build_qdpx(p, name="study\x0b" + TEXT)
    assert counts["codings"] == len(CLASSES)  # of C0, only the tab is in the note
    qde = zipfile.ZipFile(io.BytesIO(data)).read("project.qde")
    schema = etree.XMLSchema(etree.parse(str(ROOT / "tests" / "data" / "refi" / "Project-mrt2019.xsd")))
    assert schema.validate(etree.fromstring(qde)), schema.error_log
    # the source text keeps every character; selections and memos come back
    out = tmp_path / "x.qdpx"
    out.write_bytes(data)
    fresh = tmp_path / "fresh"
    (fresh / "transcripts").mkdir(parents=True)
    (fresh / "transcripts" / "x.md").write_bytes((holding / "transcripts" / "x.md").read_bytes())
    (fresh / "codebook.yml").write_bytes((holding / "codebook.yml").read_bytes())
    import_qdpx(Project.open(fresh), out)
    key = lambda c: (c.start, c.end, c.text, c.code_id, "".join("\ufffd" if ch in LOST else ch for ch in c.memo))  # noqa: E731
    assert sorted(map(key, Store.open(fresh).all_decisions())) == sorted(map(key, Store.open(holding).all_decisions()))


def test_validate_names_the_line_of_a_character_xml_forbids(project, write):
    write("v.md", "A: 一行目\n\nA: 非文字\uffffのある行と\ufffeもう一つ。\n", id="JP-V")
    res = CliRunner().invoke(cli, ["validate", "--no-names", "--project", str(project)], catch_exceptions=False)
    assert res.exit_code == 0
    got = [line for line in res.stderr.splitlines() if "XML 1.0 forbids" in line]
    assert len(got) == 1 and got[0].startswith(f"warning: {project / 'transcripts' / 'v.md'}:12: U+FFFF") and "and 1 more" in got[0]


def test_a_codebook_holding_them_exports_a_well_formed_qdc_that_comes_back(project, tmp_path):
    text = (project / "codebook.yml").read_text(encoding="utf-8")
    # YAML takes control characters only as escapes in double quotes
    text += '  - {id: 特殊, kind: challenge, label: "ラベル\\v", parent: 課題, definition: "定義\\v\\f\\x1b😀\\u2028です"}\n'
    (project / "codebook.yml").write_text(text, encoding="utf-8")
    cb = load_codebook(project / "codebook.yml")
    data = build_qdc(cb)
    etree.fromstring(data)
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "c.qdc").write_bytes(data)
    import_qdc(empty, tmp_path / "c.qdc")
    back = load_codebook(empty / "codebook.yml").codes["特殊"]
    assert (back.label, back.definition) == ("ラベル\v", "定義\v\f\x1b😀\u2028です")


def test_graphml_and_gexf_are_well_formed_with_any_label():
    G = nx.Graph(network="challenge-practice", window="paragraph")
    text = TEXT + "\ud800"  # a lone surrogate can sit in memory: it becomes U+FFFD
    G.add_node("a\x0bb", kind="challenge", label=text, orgs=1, latent=True)
    G.add_node("c", kind="practice", label="x", orgs=0, latent=False)
    G.add_edge("a\x0bb", "c", kind="declared", declared=True, evidence=False, direction="a\x0bb→c", weight=1.0, note=text)
    for data in (graphml_bytes(G), gexf_bytes(G)):
        root = etree.fromstring(data)
        assert any(from_xml(v) == text.replace("\ud800", "\ufffd").translate({0xFFFE: 0xFFFD, 0xFFFF: 0xFFFD})
                   for el in root.iter() for v in [*el.attrib.values(), el.text or ""])
