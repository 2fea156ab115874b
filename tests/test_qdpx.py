"""REFI-QDA exchange: the export is valid against the REFI-QDA Project schema and reads as QualCoder
reads it, round-trips with status, quote flag and memo, and files shaped as QualCoder, NVivo,
ATLAS.ti and MAXQDA write them import with every coding on its text — or are refused, never shifted."""
from __future__ import annotations

import errno
import html
import io
import re
import shutil
import time
import tracemalloc
import zipfile
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from lxml import etree

import coding.files
from cli import cli
from coding.errors import ExchangeError
from coding.project import Project, project_tables
from coding.qdpx import (
    CONVENTIONS, MAX_MEMBER, NS, QdpxError, build_qdpx, export_qdpx, import_qdpx, map_code, plan_import,
    read_qdpx,
)
from coding.qdc import code_name
from coding.review import save_decisions
from coding.store import Coding, Store

from conftest import ROOT
from qualcoder_refi import QcDb, read_like_qualcoder, write_like_qualcoder

XSD = ROOT / "tests" / "data" / "refi" / "Project-mrt2019.xsd"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def project_schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


def schema_errors(schema, data: bytes) -> list[str]:
    """The REFI-QDA Project schema's complaints about a .qdpx's project.qde (lxml)."""
    doc = etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("project.qde"))
    schema.validate(doc)
    return [f"{e.line}: {e.message}" for e in schema.error_log]


def replace_member(data: bytes, name: str, content: bytes) -> bytes:
    """A copy of the zip ``data`` with member ``name`` replaced."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n in src.namelist():
            z.writestr(n, content if n == name else src.read(n))
    return buf.getvalue()


# ---------------------------------------------------------------- the schema's facts
# From the REFI-QDA Project schema (Project.xsd, QDA-XML 1.0, 2019): for each element we write or
# read, its children in the order the xsd:sequence demands (name, min, max) and its required
# attributes. None = unbounded.
SEQUENCES = {
    "Project": [("Users", 0, 1), ("CodeBook", 0, 1), ("Variables", 0, 1), ("Cases", 0, 1), ("Sources", 0, 1),
                ("Notes", 0, 1), ("Links", 0, 1), ("Sets", 0, 1), ("Graphs", 0, 1), ("Description", 0, 1),
                ("NoteRef", 0, None)],
    "Users": [("User", 1, None)],
    "User": [],
    "CodeBook": [("Codes", 1, 1)],
    "Codes": [("Code", 1, None)],
    "Code": [("Description", 0, 1), ("NoteRef", 0, None), ("Code", 0, None)],
    "Variables": [("Variable", 1, None)],
    "Variable": [("Description", 0, 1)],
    "Cases": [("Case", 1, None)],
    "Case": [("Description", 0, 1), ("CodeRef", 0, None), ("VariableValue", 0, None), ("SourceRef", 0, None),
             ("SelectionRef", 0, None)],
    "VariableValue": [("VariableRef", 1, 1), ("Value", 0, 1)],  # Value: one of the choice below
    "TextSource": [("Description", 0, 1), ("PlainTextContent", 0, 1), ("PlainTextSelection", 0, None),
                   ("Coding", 0, None), ("NoteRef", 0, None), ("VariableValue", 0, None)],
    "PlainTextSelection": [("Description", 0, 1), ("Coding", 0, None), ("NoteRef", 0, None)],
    "Coding": [("CodeRef", 1, 1), ("NoteRef", 0, None)],
    "Sets": [("Set", 1, None)],
    "Set": [("Description", 0, 1), ("MemberCode", 0, None), ("MemberSource", 0, None), ("MemberNote", 0, None)],
    "CodeRef": [], "SourceRef": [], "VariableRef": [], "SelectionRef": [], "NoteRef": [], "MemberCode": [],
}
VALUE_CHOICE = {"TextValue", "BooleanValue", "IntegerValue", "FloatValue", "DateValue", "DateTimeValue"}
REQUIRED = {
    "Project": {"name"}, "User": {"guid"}, "Code": {"guid", "name", "isCodable"},
    "Variable": {"guid", "name", "typeOfVariable"}, "Case": {"guid"}, "TextSource": {"guid"},
    "PlainTextSelection": {"guid", "startPosition", "endPosition"}, "Coding": {"guid"},
    "CodeRef": {"targetGUID"}, "SourceRef": {"targetGUID"}, "VariableRef": {"targetGUID"},
    "SelectionRef": {"targetGUID"}, "NoteRef": {"targetGUID"}, "Set": {"guid", "name"}, "MemberCode": {"targetGUID"},
}
GUID = re.compile(r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                  r"|\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\})$")
GUID_ATTRS = {"guid", "targetGUID", "creatingUser", "modifyingUser", "creatingUserGUID", "modifyingUserGUID"}
DATETIME = re.compile(r"^-?\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
RGB = re.compile(r"^#([A-Fa-f0-9]{6}|[A-Fa-f0-9]{3})$")
VARIABLE_TYPES = {"Text", "Boolean", "Integer", "Float", "Date", "DateTime"}
# which kind of element each reference must point at
REF_TARGETS = {"CodeRef": "Code", "SourceRef": {"TextSource"}, "VariableRef": "Variable", "User": None}


def local(tag):
    return tag.rsplit("}", 1)[-1]


def check_structure(data: bytes) -> list[str]:
    """Every violation of the schema's facts in a .qdpx, as readable messages (empty: valid)."""
    errors = []
    z = zipfile.ZipFile(io.BytesIO(data))
    if "project.qde" not in z.namelist():
        return ["no project.qde"]
    root = ET.fromstring(z.read("project.qde"))
    if root.tag != f"{{{NS}}}Project":
        errors.append(f"root is {root.tag}")
    guids: dict[str, str] = {}
    cases: set[str] = set()
    for el in root.iter():
        if not el.tag.startswith(f"{{{NS}}}"):
            errors.append(f"{el.tag}: not in the namespace {NS}")
            continue
        name = local(el.tag)
        missing = REQUIRED.get(name, set()) - set(el.attrib)
        if missing:
            errors.append(f"{name}: missing required {sorted(missing)}")
        for attr, value in el.attrib.items():
            if attr in GUID_ATTRS and not GUID.match(value):
                errors.append(f"{name}@{attr}: '{value}' is not a GUID")
            if attr.endswith("DateTime") and not DATETIME.match(value):
                errors.append(f"{name}@{attr}: '{value}' is not an xsd:dateTime")
        if name == "Code" and el.get("isCodable") not in ("true", "false", "1", "0"):
            errors.append(f"Code {el.get('name')}: isCodable '{el.get('isCodable')}' is not a boolean")
        if name == "Code" and "color" in el.attrib and not RGB.match(el.get("color")):
            errors.append(f"Code color {el.get('color')}")
        if name == "Variable" and el.get("typeOfVariable") not in VARIABLE_TYPES:
            errors.append(f"Variable typeOfVariable {el.get('typeOfVariable')}")
        if name == "PlainTextSelection":
            for attr in ("startPosition", "endPosition"):
                if not re.fullmatch(r"-?\d+", el.get(attr, "")):
                    errors.append(f"PlainTextSelection@{attr} not an integer")
        if "guid" in el.attrib:
            g = el.get("guid").strip("{}").lower()
            # a case and the code that codes its texts share a GUID (NVivo's way, which QualCoder reads)
            if g in guids and {name, guids[g]} != {"Case", "Code"}:
                errors.append(f"{name}: GUID {g} also used by {guids[g]}")
            guids.setdefault(g, name)
            if name == "Case":
                cases.add(g)
        kids = [local(c.tag) for c in el]
        if name == "Sources":
            bad = set(kids) - {"TextSource", "PictureSource", "PDFSource", "AudioSource", "VideoSource"}
            if bad or not kids:
                errors.append(f"Sources children {kids}")
            continue
        if name in VALUE_CHOICE | {"Description", "PlainTextContent"}:
            if kids:
                errors.append(f"{name} has element children")
            continue
        seq = SEQUENCES.get(name)
        if seq is None:
            errors.append(f"unexpected element {name}")
            continue
        if name == "VariableValue":
            kids = [("Value" if k in VALUE_CHOICE else k) for k in kids]
        i = 0
        for child, lo, hi in seq:
            n = 0
            while i < len(kids) and kids[i] == child:
                n += 1
                i += 1
            if n < lo or (hi is not None and n > hi):
                errors.append(f"{name}: {n} × {child} (allowed {lo}..{hi or '∞'})")
        if i < len(kids):
            errors.append(f"{name}: child {kids[i]} out of the schema's order {[c for c, _, _ in seq]}")
    # references resolve to the right kind of element
    kinds = {"CodeRef": {"Code"}, "SourceRef": {"TextSource"}, "VariableRef": {"Variable"}, "MemberCode": {"Code"}}
    for el in root.iter():
        name = local(el.tag)
        target = el.get("targetGUID", "").strip("{}").lower()
        if name in kinds and guids.get(target) not in kinds[name] and not (name == "CodeRef" and target in cases):
            errors.append(f"{name} → {el.get('targetGUID')} does not name a {kinds[name]}")
        for attr in ("creatingUser", "creatingUserGUID"):
            if attr in el.attrib and guids.get(el.get(attr).lower()) != "User":
                errors.append(f"{name}@{attr} names no User")
        if name == "TextSource":
            has_content = any(local(c.tag) == "PlainTextContent" for c in el)
            path = el.get("plainTextPath")
            if has_content == bool(path):
                errors.append("TextSource needs exactly one of PlainTextContent and plainTextPath")
            if path:
                member = "sources/" + path.removeprefix("internal://")
                if member not in z.namelist():
                    errors.append(f"{member} missing")
                    continue
                text = z.read(member).decode("utf-8")  # must be UTF-8
                for sel in el:
                    if local(sel.tag) == "PlainTextSelection":
                        a, b = int(sel.get("startPosition")), int(sel.get("endPosition"))
                        if not 0 <= a <= b <= len(text):
                            errors.append(f"selection {a}..{b} outside its source ({len(text)})")
    return errors


def test_the_checker_catches_what_the_schema_forbids():
    good = ('<Project xmlns="urn:QDA-XML:project:1.0" name="x"><CodeBook><Codes>'
            '<Code guid="00000000-0000-0000-0000-000000000001" name="a" isCodable="true"/></Codes></CodeBook></Project>')

    def qdpx(xml):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("project.qde", xml)
        return buf.getvalue()

    assert check_structure(qdpx(good)) == []
    assert "Code: missing required ['isCodable']" in check_structure(qdpx(good.replace(' isCodable="true"', "")))
    assert any("out of the schema's order" in e for e in check_structure(qdpx(good.replace(
        "</CodeBook>", '</CodeBook><Users><User guid="00000000-0000-0000-0000-000000000002"/></Users>'))))
    assert any("is not a GUID" in e for e in check_structure(qdpx(good.replace("0001", "zz01"))))


# ---------------------------------------------------------------- our export
BODY = ("Q: 𠮷田さんに伺います。\n\n"
        "A: 𠮷野家の近くで展示会を開いたが、成約には至らなかった。\n海外出願は予算の壁が高い。\n\n"
        "A: 専門人材が慢性的に不足している。\n")


def span(body, text):
    i = body.index(text)
    return i, i + len(text)


@pytest.fixture
def decided(project, write):
    write("y.md", BODY, id="JP-Y", org="Y大学", kind="私立大", attribute="私立大")
    write("z.md", "A: 共同研究になってしまうと成果が共同発明になり、共有特許になってしまう。\n", id="JP-Z")
    p = Project.open(project)
    body = p.by_id["JP-Y"].body
    s1 = span(body, "展示会を開いたが、成約には至らなかった。")
    s2 = span(body, "海外出願は予算の壁が高い。")
    s3 = span(body, "専門人材が慢性的に不足している。")
    st = p.store()
    st.save_suggestions([Coding("JP-Y", *s1, body[s1[0]:s1[1]], "課題①", "suggested", "auto")])
    save_decisions(p, "hanako", [
        Coding("JP-Y", *s1, body[s1[0]:s1[1]], "課題①", "accepted", "hanako", memo="展示会の話"),
        Coding("JP-Y", *s1, body[s1[0]:s1[1]], "交渉前", "manual", "hanako"),
        Coding("JP-Y", *s2, body[s2[0]:s2[1]], "図表32-2/日本", "manual", "hanako", quote=True),
        Coding("JP-Y", *s3, body[s3[0]:s3[1]], "課題⑧", "rejected", "hanako"),
    ])
    save_decisions(p, "taro", [Coding("JP-Y", *s3, body[s3[0]:s3[1]], "課題⑧", "manual", "taro")])
    return project


def test_export_has_the_structure_the_schema_requires(decided, tmp_path):
    data, counts = build_qdpx(Project.open(decided), now="2026-01-02T03:04:05Z")
    assert check_structure(data) == []
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.namelist()[0] == "project.qde" and all(n.startswith("sources/") for n in z.namelist()[1:])
    root = ET.fromstring(z.read("project.qde"))
    assert root.tag == f"{{{NS}}}Project"
    assert [local(c.tag) for c in root] == ["Users", "CodeBook", "Variables", "Cases", "Sources", "Sets", "Description"]
    ns = {"q": NS}
    cb = Project.open(decided).codebook
    groups = root.findall(".//q:Code[@isCodable='false']", ns)
    assert [g.get("name") for g in groups] == [f"課題 {cb.codes['課題'].label}", f"プラクティス {cb.codes['プラクティス'].label}",
                                               "transcripts (cases)"]
    challenges = [c.get("name").split()[0] for c in groups[0].findall("q:Code", ns)]
    assert challenges == [c.id for c in cb.children("課題")]  # nested under their group, codable
    assert all(c.get("isCodable") == "true" for c in groups[0].iter(f"{{{NS}}}Code") if c is not groups[0])
    # one code per transcript, with its case's GUID
    case_guids = [c.get("guid") for c in root.findall("q:Cases/q:Case", ns)]
    assert [c.get("guid") for c in groups[2].findall("q:Code", ns)] == case_guids
    # the users: the coders, then the toolkit that made the sources
    assert [u.get("name") for u in root.findall("q:Users/q:User", ns)] == ["hanako", "taro", "hearing-survey coding toolkit"]
    # the body is the source text, UTF-8 without BOM, and offsets are code points into it
    src = root.find(".//q:TextSource[@name='JP-Y']", ns)
    raw = z.read("sources/" + src.get("plainTextPath").removeprefix("internal://"))
    text = raw.decode("utf-8")
    assert text == Project.open(decided).by_id["JP-Y"].body and not raw.startswith(b"\xef\xbb\xbf")
    sels = src.findall("q:PlainTextSelection", ns)
    got = sorted((text[int(s.get("startPosition")):int(s.get("endPosition"))], len(s.findall("q:Coding", ns)),
                  s.findtext("q:Description", "", ns)) for s in sels)
    # one selection per span, coder, memo, status and quote; rejected codings are not exported; the case's
    # selection covers the whole text
    assert got == sorted([("展示会を開いたが、成約には至らなかった。", 1, "展示会の話\n[accepted]"),
                          ("展示会を開いたが、成約には至らなかった。", 1, ""),
                          ("海外出願は予算の壁が高い。", 1, "[quote]"), ("専門人材が慢性的に不足している。", 1, ""),
                          (text, 1, "")])
    assert counts == {"sources": 2, "codes": len(cb.codes), "cases": 2, "selections": 4, "codings": 4, "coders": ("hanako", "taro")}
    # the source carries the front matter as variables too, named apart from the cases' ones
    variables = {v.get("guid"): v.get("name") for v in root.findall("q:Variables/q:Variable", ns)}
    on_source = {variables[vv.find("q:VariableRef", ns).get("targetGUID")]: vv.findtext("q:TextValue", None, ns)
                 for vv in src.findall("q:VariableValue", ns)}
    assert on_source["region (file)"] == "日本" and on_source["org (file)"] == "Y大学"
    again, _ = build_qdpx(Project.open(decided), now="2026-01-02T03:04:05Z")
    assert again == data  # GUIDs are stable: the same project exports the same bytes


def test_export_is_valid_against_the_refi_qda_project_schema(decided, project_schema):
    data, _ = build_qdpx(Project.open(decided), now="2026-01-02T03:04:05Z")
    assert schema_errors(project_schema, data) == []
    # the schema does catch what it forbids: users after the codebook, a boolean spelt True
    z = zipfile.ZipFile(io.BytesIO(data))
    qde = z.read("project.qde").decode("utf-8")
    users = re.search(r"  <Users>.*?</Users>\n", qde, re.S).group(0)
    moved = qde.replace(users, "").replace("</CodeBook>\n", "</CodeBook>\n" + users)
    assert any("Users" in e for e in schema_errors(project_schema, replace_member(data, "project.qde", moved.encode())))
    spelt = qde.replace('isCodable="true"', 'isCodable="True"', 1)
    assert any("isCodable" in e for e in schema_errors(project_schema, replace_member(data, "project.qde", spelt.encode())))


def test_the_sample_project_export_is_valid_against_the_schema(project_schema):
    p = Project.open(ROOT)
    data, counts = build_qdpx(p)
    assert schema_errors(project_schema, data) == [] and check_structure(data) == []
    assert counts["sources"] == len(p.transcripts) and counts["codings"] == len(p.store().resolved(p.by_id))


def test_round_trip_codes_cases_variables_and_every_coding(decided, tmp_path, project):
    out = tmp_path / "study.qdpx"
    res = run("export", "qdpx", "-o", out, "--project", decided)
    assert res.exit_code == 0, res.output
    assert res.output == f"wrote {out}: 2 source(s), {len(Project.open(project).codebook.codes)} code(s), 2 case(s), 4 coding(s) by hanako, taro\n"
    p = Project.open(decided)
    qp = read_qdpx(out)
    # codes: the hierarchy and codability come back, and every name maps to its code
    by_guid = qp.codes
    back = {map_code(c.name, p.codebook): c for c in by_guid.values() if c.name != "transcripts (cases)"}
    assert set(back) == set(p.codebook.codes)
    for cid, qc in back.items():
        code = p.codebook.codes[cid]
        assert qc.codable == code.codable
        assert (map_code(by_guid[qc.parent].name, p.codebook) if qc.parent else None) == code.parent
    # cases, their variables and texts (linked by SourceRef and by the case's code)
    cases = {c.name: dict(c.variables) for c in qp.cases}
    assert cases == {t.id: {k: v for k, v in t.attributes.items() if k != "id"} for t in p.transcripts}
    assert {c.name: [s.name for s in qp.sources if s.guid in c.sources] for c in qp.cases} == {"JP-Y": ["JP-Y"], "JP-Z": ["JP-Z"]}
    assert {s.name: s.variables for s in qp.sources} == cases  # the source variables, read under their keys
    # every coding's offsets, text, memo, status (no tag: manual) and quote flag
    users = qp.users
    got = sorted((s.name, sel.start, sel.end, sel.text, map_code(by_guid[cg].name, p.codebook), users[ug], sel.memo,
                  sel.status or "manual", sel.quote) for s in qp.sources for sel in s.selections for cg, ug in sel.codes)
    want = sorted((c.transcript_id, c.start, c.end, c.text, c.code_id, c.coder, c.memo, c.status, c.quote)
                  for c in p.store().resolved(p.by_id))
    assert got == want
    # and into a project that has the same transcripts but no decisions (and no suggestions) yet
    fresh = tmp_path / "fresh"
    shutil.copytree(decided, fresh, ignore=shutil.ignore_patterns("codings", "outputs"))
    res = run("import", "qdpx", out, "--project", fresh)
    assert res.exit_code == 0, res.output
    assert res.output == (f"2 source(s) matched to transcripts\nhanako: 3 coding(s)\ntaro: 1 coding(s)\n"
                          f"wrote {fresh / 'codings' / 'hanako.csv'}\nwrote {fresh / 'codings' / 'taro.csv'}\n")
    assert decisions(fresh) == decisions(decided)
    # importing it again changes nothing
    before = (fresh / "codings" / "hanako.csv").read_text(encoding="utf-8")
    run("import", "qdpx", out, "--project", fresh)
    assert (fresh / "codings" / "hanako.csv").read_text(encoding="utf-8") == before


def decisions(project):
    """Every confirmed coding with everything a round trip must keep."""
    p = Project.open(project)
    return sorted((c.transcript_id, c.start, c.end, c.text, c.code_id, c.status, c.coder, c.memo, c.quote)
                  for c in p.store().resolved(p.by_id))


def test_a_round_trip_leaves_the_tables_identical(tmp_path):
    """The sample's reviewed codings out and back in: 図表34 keeps its 24 quotes, every table is the same."""
    out = tmp_path / "sample.qdpx"
    export_qdpx(Project.open(ROOT), out)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copytree(ROOT / "transcripts", fresh / "transcripts")
    shutil.copy(ROOT / "codebook.yml", fresh / "codebook.yml")
    res = import_qdpx(Project.open(fresh), out)
    assert res.by_coder == {"team": len(Project.open(ROOT).store().resolved(Project.open(ROOT).by_id))}
    before, after = project_tables(Project.open(ROOT)), project_tables(Project.open(fresh))
    assert sum(len(r["quotes"]) for r in after["challenge_table"]["rows"]) == 24
    assert after == before
    assert decisions(fresh) == decisions(ROOT)


# ---------------------------------------------------------------- other programs' files
def qdpx_file(path, qde: str, files: dict[str, bytes], qde_name="project.qde"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(qde_name, qde.encode("utf-8"))
        for name, data in files.items():
            z.writestr(name, data)
    return path


def positions(body: str, text: str, *, crlf: bool, utf16: bool, lines_as_one: bool = False, prefix: str = ""):
    """Where ``text`` sits in ``prefix + body`` written with CRLF, counted the way a program counts."""
    full = prefix + body
    i = full.index(text)
    raw = full.replace("\n", "\r\n") if crlf and not lines_as_one else full
    a = len(full[:i].replace("\n", "\r\n")) if crlf and not lines_as_one else i
    b = a + len(text.replace("\n", "\r\n") if crlf and not lines_as_one else text)
    if utf16:
        a, b = (len(raw[:x].encode("utf-16-le")) // 2 for x in (a, b))
    return a, b


TEXTS = {
    "課題①": "展示会を開いたが、成約には至らなかった。",
    "図表32-2/日本": "海外出願は予算の壁が高い。",
    "交渉前": "成約には至らなかった。\n海外出願",  # across a line break
}


def nvivo(body, codes_xml_names):
    """NVivo-shaped: Sources/ folder, upper-case GUIDs, UTF-8 with BOM and CRLF, positions in UTF-16
    units counting CR and LF, the selected text as the selection's name, codes named by label
    under a codable parent, a user with a space in the name, variables on a named case."""
    g = lambda n: f"{n:08X}-AAAA-4BBB-8CCC-DDDDEEEEFFFF"  # noqa: E731
    sels = ""
    for i, (code, text) in enumerate(TEXTS.items()):
        a, b = positions(body, text, crlf=True, utf16=True)
        sels += (f'<PlainTextSelection guid="{g(100 + i)}" name="{text.replace(chr(10), " ")}" startPosition="{a}" '
                 f'endPosition="{b}" creatingUser="{g(1)}" creationDateTime="2025-12-01T10:00:00Z">'
                 f'<Coding guid="{g(200 + i)}" creatingUser="{g(1)}"><CodeRef targetGUID="{g(300 + i)}"/></Coding>'
                 f'</PlainTextSelection>')
    codes = "".join(f'<Code guid="{g(300 + i)}" name="{codes_xml_names[c]}" isCodable="true"/>' for i, c in enumerate(TEXTS))
    qde = (f'<?xml version="1.0" encoding="utf-8"?><Project xmlns="urn:QDA-XML:project:1.0" name="NVivo study" '
           f'origin="NVivo" creatingUserGUID="{g(1)}"><Users><User guid="{g(1)}" name="Hanako Sato"/></Users>'
           f'<CodeBook><Codes><Code guid="{g(299)}" name="Nodes" isCodable="true">{codes}</Code></Codes></CodeBook>'
           f'<Variables><Variable guid="{g(400)}" name="kind" typeOfVariable="Text"/></Variables>'
           f'<Cases><Case guid="{g(500)}" name="JP-Y"><VariableValue><VariableRef targetGUID="{g(400)}"/>'
           f'<TextValue>私立大</TextValue></VariableValue><SourceRef targetGUID="{g(600)}"/></Case></Cases>'
           f'<Sources><TextSource guid="{g(600)}" name="JP-Y.txt" plainTextPath="internal://{g(600)}.txt">{sels}'
           f'</TextSource></Sources></Project>')
    return qde, {f"Sources/{g(600)}.txt": b"\xef\xbb\xbf" + body.replace("\n", "\r\n").encode("utf-8")}


def atlas(body, names):
    """ATLAS.ti-shaped: the .qde named after the project, sources/ in lower case, GUIDs in braces,
    several codes on one quotation, code-point positions, LF text, quotation names cut short."""
    g = lambda n: "{" + f"{n:08x}-1111-4222-8333-444455556666" + "}"  # noqa: E731
    a, b = positions(body, TEXTS["課題①"], crlf=False, utf16=False)
    c, d = positions(body, TEXTS["図表32-2/日本"], crlf=False, utf16=False)
    qde = (f'<Project xmlns="urn:QDA-XML:project:1.0" name="Atlas study" origin="ATLAS.ti">'
           f'<Users><User guid="{g(1)}" name="taro"/></Users><CodeBook><Codes>'
           f'<Code guid="{g(10)}" name="{names["課題①"]}" isCodable="true"/>'
           f'<Code guid="{g(11)}" name="{names["交渉前"]}" isCodable="true"/>'
           f'<Code guid="{g(12)}" name="{names["図表32-2/日本"]}" isCodable="true"/></Codes></CodeBook>'
           f'<Sources><TextSource guid="{g(20)}" name="JP-Y" plainTextPath="internal://{g(20)[1:-1]}.txt">'
           f'<PlainTextSelection guid="{g(30)}" name="展示会を開いたが..." startPosition="{a}" endPosition="{b}" creatingUser="{g(1)}">'
           f'<Coding guid="{g(40)}" creatingUser="{g(1)}"><CodeRef targetGUID="{g(10)}"/></Coding>'
           f'<Coding guid="{g(41)}" creatingUser="{g(1)}"><CodeRef targetGUID="{g(11)}"/></Coding></PlainTextSelection>'
           f'<PlainTextSelection guid="{g(31)}" name="海外出願は..." startPosition="{c}" endPosition="{d}" creatingUser="{g(1)}">'
           f'<Coding guid="{g(42)}" creatingUser="{g(1)}"><CodeRef targetGUID="{g(12)}"/></Coding></PlainTextSelection>'
           f'</TextSource></Sources></Project>')
    return qde, {f"sources/{g(20)[1:-1]}.txt": body.encode("utf-8")}


def maxqda(body, front, names):
    """MAXQDA-shaped: sources/ in lower case, the whole file (front matter too) as the source text,
    CRLF, a line break counted as one character, variables on a nameless case with one SourceRef,
    a document name that is not the transcript id."""
    g = lambda n: f"{n:08x}-9999-4888-8777-666655554444"  # noqa: E731
    sels = ""
    for i, (code, text) in enumerate(TEXTS.items()):
        a, b = positions(body, text, crlf=True, utf16=False, lines_as_one=True, prefix=front)
        sels += (f'<PlainTextSelection guid="{g(100 + i)}" name="{text[:12]}" startPosition="{a}" endPosition="{b}">'
                 f'<Coding guid="{g(200 + i)}"><CodeRef targetGUID="{g(300 + i)}"/></Coding></PlainTextSelection>')
    codes = "".join(f'<Code guid="{g(300 + i)}" name="{names[c]}" isCodable="true"/>' for i, c in enumerate(TEXTS))
    qde = (f'<Project xmlns="urn:QDA-XML:project:1.0" name="MAXQDA study" origin="MAXQDA 2022">'
           f'<CodeBook><Codes><Code guid="{g(299)}" name="Codesystem" isCodable="false">{codes}</Code></Codes></CodeBook>'
           f'<Variables><Variable guid="{g(400)}" name="org" typeOfVariable="Text"/></Variables>'
           f'<Cases><Case guid="{g(500)}"><VariableValue><VariableRef targetGUID="{g(400)}"/><TextValue>Y大学</TextValue>'
           f'</VariableValue><SourceRef targetGUID="{g(600)}"/></Case></Cases>'
           f'<Sources><TextSource guid="{g(600)}" name="インタビュー Y" plainTextPath="internal://{g(600)}.txt">{sels}'
           f'</TextSource></Sources></Project>')
    return qde, {f"sources/{g(600)}.txt": (front + body).replace("\n", "\r\n").encode("utf-8")}


@pytest.fixture
def target(project, write):
    write("y.md", BODY, id="JP-Y", org="Y大学", kind="私立大", attribute="私立大")
    return project


def imported(project):
    p = Project.open(project)
    body = p.by_id["JP-Y"].body
    rows = [r for r in Store.open(project).all_decisions()]
    for r in rows:
        assert body[r.start:r.end] == r.text
    return sorted((r.code_id, r.text, r.status, r.coder) for r in rows)


def test_nvivo_shaped_file_with_crlf_bom_and_utf16_positions(target, tmp_path):
    p = Project.open(target)
    labels = {c: p.codebook.codes[c].label for c in TEXTS}
    qde, files = nvivo(p.by_id["JP-Y"].body, labels)
    path = qdpx_file(tmp_path / "nvivo.qdpx", qde, files)
    res = import_qdpx(p, path)
    assert res.matched_sources == {"JP-Y.txt": "JP-Y"}
    assert imported(target) == sorted((c, t, "manual", "Hanako_Sato") for c, t in TEXTS.items())
    assert read_qdpx(path).sources[0].offsets == "utf16"


def test_atlas_shaped_file_with_braced_guids_and_shared_quotations(target, tmp_path):
    p = Project.open(target)
    names = {c: code_name(p.codebook.codes[c]) for c in TEXTS}
    qde, files = atlas(p.by_id["JP-Y"].body, names)
    path = qdpx_file(tmp_path / "atlas.qdpx", qde, files, qde_name="Atlas study.qde")
    res = CliRunner().invoke(cli, ["import", "qdpx", str(path), "--coder", "taro", "--project", str(target)])
    assert res.exit_code == 0, res.output
    assert imported(target) == sorted([("課題①", TEXTS["課題①"], "manual", "taro"),
                                       ("交渉前", TEXTS["課題①"], "manual", "taro"),
                                       ("図表32-2/日本", TEXTS["図表32-2/日本"], "manual", "taro")])


def test_maxqda_shaped_file_with_front_matter_and_lines_counted_once(target, tmp_path):
    p = Project.open(target)
    t = p.by_id["JP-Y"]
    front = t.path.read_text(encoding="utf-8")[: -len(t.body)]
    names = {c: c for c in TEXTS}  # MAXQDA users often keep the bare id
    qde, files = maxqda(t.body, front, names)
    path = qdpx_file(tmp_path / "maxqda.qdpx", qde, files)
    qp = read_qdpx(path)
    assert qp.sources[0].variables == {"org": "Y大学"} and qp.sources[0].offsets == "codepoint/lines-as-one"
    res = import_qdpx(p, path, coder="hanako")
    assert res.matched_sources == {"インタビュー Y": "JP-Y"}
    assert imported(target) == sorted((c, txt, "manual", "hanako") for c, txt in TEXTS.items())


def test_without_names_an_uncertain_count_is_refused_then_given(target, tmp_path):
    """No selection names its text and 𠮷 stands before the quotations: code points and UTF-16 units
    place them differently, so the import asks rather than guesses."""
    p = Project.open(target)
    body = p.by_id["JP-Y"].body
    qde, files = atlas(body, {c: c for c in TEXTS})
    qde = re.sub(r' name="[^"]*\.\.\."', "", qde)
    path = qdpx_file(tmp_path / "a.qdpx", qde, files)
    res = run("import", "qdpx", path, "--coder", "taro", "--project", target)
    assert res.exit_code == 1
    assert res.output.splitlines()[0] == (
        f"Error: {path}: cannot tell how it counts text positions (no selection names its text): code points, a CR LF "
        "line break as two / UTF-16 units, a CR LF line break as two give different text for 2 of 2 selection(s), e.g. "
        "selection {0000001e-1111-4222-8333-444455556666} in 'JP-Y' is 「展示会を開いたが、成約には至ら」 or "
        "「くで展示会を開いたが、成約には」; give --offsets codepoint or --offsets utf16 (ATLAS.ti counts a line break as "
        "one character: --offsets codepoint/lines-as-one)")
    assert not (target / "codings").exists()
    res = run("import", "qdpx", path, "--coder", "taro", "--offsets", "codepoint", "--project", target)
    assert res.exit_code == 0, res.output
    assert imported(target) == sorted([("課題①", TEXTS["課題①"], "manual", "taro"), ("交渉前", TEXTS["課題①"], "manual", "taro"),
                                       ("図表32-2/日本", TEXTS["図表32-2/日本"], "manual", "taro")])


def test_unknown_codes_and_sources_are_refused_whole_unless_skipped(target, tmp_path):
    p = Project.open(target)
    names = {"課題①": "全く新しいコード", "交渉前": "交渉前", "図表32-2/日本": "図表32-2/日本"}
    qde, files = atlas(p.by_id["JP-Y"].body, names)
    path = qdpx_file(tmp_path / "a.qdpx", qde, files)
    res = CliRunner().invoke(cli, ["import", "qdpx", str(path), "--coder", "taro", "--project", str(target)])
    assert res.exit_code == 1 and "code '全く新しいコード' (1 coding(s)) matches no code of codebook.yml" in res.output
    assert "nothing was imported" in res.output and not (target / "codings").exists()
    res = CliRunner().invoke(cli, ["import", "qdpx", str(path), "--coder", "taro", "--skip-unknown", "--project", str(target)])
    assert res.exit_code == 0 and "skipped: " in res.output
    assert {r[0] for r in imported(target)} == {"交渉前", "図表32-2/日本"}


@pytest.mark.parametrize("breakage,message", [
    (lambda z: z.replace('startPosition="', 'startPosition="x'), "startPosition/endPosition must be integers"),
    (lambda z: z.replace("<Project", "<Projekt").replace("</Project>", "</Projekt>"), "the root element is Projekt"),
    (lambda z: z.replace("</Sources>", ""), "not well-formed XML"),
])
def test_broken_files_are_refused_with_a_located_message(target, tmp_path, breakage, message):
    p = Project.open(target)
    qde, files = atlas(p.by_id["JP-Y"].body, {c: c for c in TEXTS})
    path = qdpx_file(tmp_path / "a.qdpx", breakage(qde), files)
    with pytest.raises(QdpxError, match=message):
        import_qdpx(p, path)
    notzip = tmp_path / "n.qdpx"
    notzip.write_bytes(b"nope")
    with pytest.raises(QdpxError, match="not a .qdpx"):
        read_qdpx(notzip)


def test_imported_codings_survive_code_reruns_and_edits(target, write, tmp_path):
    p = Project.open(target)
    qde, files = atlas(p.by_id["JP-Y"].body, {c: c for c in TEXTS})
    import_qdpx(p, qdpx_file(tmp_path / "a.qdpx", qde, files), coder="taro")
    write("y.md", "Q: 追加の前置き。\n\n" + BODY, id="JP-Y", org="Y大学", kind="私立大", attribute="私立大")
    assert CliRunner().invoke(cli, ["code", "--project", str(target)]).exit_code == 0
    p = Project.open(target)
    got = {(c.code_id, c.text, c.anchor) for c in p.store().resolved(p.by_id)}
    assert got == {("課題①", TEXTS["課題①"], "moved"), ("交渉前", TEXTS["課題①"], "moved"),
                   ("図表32-2/日本", TEXTS["図表32-2/日本"], "moved")}


# ---------------------------------------------------------------- how each program counts: right or refused
QUOTES = [("課題①", "展示会を開いたが、成約には至らなかった。"), ("交渉前", "成約には至らなかった。\n海外出願"),
          ("図表32-2/日本", "海外出願は予算の壁が高い。"), ("課題⑧", "専門人材が慢性的に不足している。")]


def program_file(path, body, *, count, names, crlf, origin="A QDA program", bom=True):
    """A .qdpx as a program that counts positions ``count`` (one of CONVENTIONS) writes it: the text
    with CR LF line ends when ``crlf`` (after a BOM), each of QUOTES a selection named by its text
    (``names="full"``), by its first 8 characters and "..." (``"cut"``, ATLAS.ti's quotation names)
    or by nothing (``"empty"``, as NVivo writes them)."""
    def at(i: int) -> int:
        before = body[:i] if count.endswith("lines-as-one") or not crlf else body[:i].replace("\n", "\r\n")
        return len(before.encode("utf-16-le")) // 2 if count.startswith("utf16") else len(before)

    g = lambda n: f"{n:08x}-0000-4000-8000-000000000000"  # noqa: E731
    sels = ""
    for k, (_, text) in enumerate(QUOTES):
        i = body.index(text)
        name = {"full": text, "cut": text[:8] + "...", "empty": ""}[names]
        sels += (f'<PlainTextSelection guid="{g(100 + k)}" name="{html.escape(name)}" startPosition="{at(i)}" '
                 f'endPosition="{at(i + len(text))}"><Coding guid="{g(200 + k)}"><CodeRef targetGUID="{g(300 + k)}"/>'
                 f'</Coding></PlainTextSelection>')
    codes = "".join(f'<Code guid="{g(300 + k)}" name="{code}" isCodable="true"/>' for k, (code, _) in enumerate(QUOTES))
    qde = (f'<Project xmlns="{NS}" name="study" origin="{origin}"><CodeBook><Codes>{codes}</Codes></CodeBook><Sources>'
           f'<TextSource guid="{g(1)}" name="JP-Y" plainTextPath="internal://{g(1)}.txt">{sels}</TextSource></Sources></Project>')
    raw = body.replace("\n", "\r\n") if crlf else body
    return qdpx_file(path, qde, {f"sources/{g(1)}.txt": (b"\xef\xbb\xbf" if bom else b"") + raw.encode("utf-8")})


@pytest.mark.parametrize("crlf", [True, False], ids=["crlf", "lf"])
@pytest.mark.parametrize("names", ["full", "cut", "empty"])
@pytest.mark.parametrize("count", CONVENTIONS)
def test_every_coding_lands_on_its_text_or_the_file_is_refused(target, tmp_path, count, names, crlf):
    p = Project.open(target)
    body = p.by_id["JP-Y"].body
    path = program_file(tmp_path / "f.qdpx", body, count=count, names=names, crlf=crlf)
    try:
        res = plan_import(p, path, coder="x")
    except ExchangeError as e:
        assert names == "empty", e  # names that carry the text always decide
        assert "cannot tell how it counts text positions (no selection names its text)" in str(e)
        assert f"--offsets {count}" in str(e) or count.endswith("lines-as-one") and not crlf
    else:
        assert sorted((r.code_id, r.text) for r in res.rows) == sorted(QUOTES)
        assert all(body[r.start:r.end] == r.text for r in res.rows)
        assert res.warnings == []
    # told how the program counts, every coding lands on its text
    res = plan_import(p, path, coder="x", offsets=count)
    assert sorted((r.code_id, r.text) for r in res.rows) == sorted(QUOTES)


def test_nvivo_with_empty_names_is_refused_with_its_habit_then_imported(target, tmp_path):
    """NVivo writes name="" on selections, counts UTF-16 units and CR LF as two: 𠮷 and the line
    breaks before the codings make the readings disagree."""
    p = Project.open(target)
    qde, files = nvivo(p.by_id["JP-Y"].body, {c: p.codebook.codes[c].label for c in TEXTS})
    qde = re.sub(r'(<PlainTextSelection guid="[^"]*") name="[^"]*"', r'\1 name=""', qde)
    path = qdpx_file(tmp_path / "nvivo.qdpx", qde, files)
    res = run("import", "qdpx", path, "--project", target)
    assert res.exit_code == 1
    first = res.output.splitlines()[0]
    assert first.startswith(f"Error: {path}: cannot tell how it counts text positions (no selection names its text): ")
    assert first.endswith("(NVivo counts UTF-16 units: --offsets utf16)")
    assert not (target / "codings").exists()
    res = run("import", "qdpx", path, "--offsets", "utf16", "--project", target)
    assert res.exit_code == 0, res.output
    assert imported(target) == sorted((c, t, "manual", "Hanako_Sato") for c, t in TEXTS.items())


def test_atlas_without_names_is_refused_with_its_habit_then_imported(target, tmp_path):
    """ATLAS.ti counts CR LF as one character; with 𠮷 in the text and no names, code points and
    UTF-16 units with either line-break count all fit the four selections."""
    p = Project.open(target)
    path = program_file(tmp_path / "a.qdpx", p.by_id["JP-Y"].body, count="codepoint/lines-as-one", names="empty",
                        crlf=True, origin="ATLAS.ti 23.2")
    first = refused(target, path, "--coder", "taro")
    assert first.startswith(f"Error: {path}: cannot tell how it counts text positions (no selection names its text): ")
    assert first.endswith("(ATLAS.ti counts a line break as one character: --offsets codepoint/lines-as-one)")
    assert run("import", "qdpx", path, "--coder", "taro", "--offsets", "codepoint/lines-as-one", "--project", target).exit_code == 0
    assert imported(target) == sorted((c, t, "manual", "taro") for c, t in QUOTES)


def test_a_reading_that_puts_a_boundary_between_cr_and_lf_is_impossible(project, write, tmp_path):
    """No program ends a selection between the CR and the LF of a line break: a file counting line
    breaks once, read as counting them twice, would — so that reading is out, names or not."""
    body = "A: 展示会に出ても成約しない。\n\nA: 交渉人材が足りない。\n海外出願は予算の壁が高い。\n"
    write("w.md", body, id="JP-W")
    raw = body.replace("\n", "\r\n")
    at = next(i for i in range(1, len(body)) if raw[i - 1:i + 1] == "\r\n" and "\n" not in body[i:i + 6])
    g = "00000001-0000-4000-8000-000000000000"
    qde = (f'<Project xmlns="{NS}" name="x" origin="ATLAS.ti"><CodeBook><Codes><Code guid="{g}" name="課題①" '
           f'isCodable="true"/></Codes></CodeBook><Sources><TextSource guid="{g}" name="JP-W" plainTextPath="internal://{g}.txt">'
           f'<PlainTextSelection guid="{g}" name="" startPosition="{at}" endPosition="{at + 6}"><Coding guid="{g}">'
           f'<CodeRef targetGUID="{g}"/></Coding></PlainTextSelection></TextSource></Sources></Project>')
    path = qdpx_file(tmp_path / "w.qdpx", qde, {f"sources/{g}.txt": raw.encode("utf-8")})
    res = plan_import(Project.open(project), path, coder="x")
    assert res.offsets == "codepoint/lines-as-one" and [r.text for r in res.rows] == [body[at:at + 6]]


def test_a_named_reading_that_fits_one_name_in_four_is_chosen_and_the_rest_reported(target, tmp_path):
    p = Project.open(target)
    body = p.by_id["JP-Y"].body
    path = program_file(tmp_path / "a.qdpx", body, count="utf16", names="full", crlf=False)
    qde = zipfile.ZipFile(path).read("project.qde").decode("utf-8")
    for _, text in QUOTES[1:]:  # three quotations renamed in the program
        qde = qde.replace(f'name="{html.escape(text)}"', 'name="my quotation"')
    data = replace_member(path.read_bytes(), "project.qde", qde.encode("utf-8"))
    path.write_bytes(data)
    res = plan_import(p, path, coder="x")
    assert res.offsets == "utf16" and sorted((r.code_id, r.text) for r in res.rows) == sorted(QUOTES)
    units = [len(body[:body.index(t)].encode("utf-16-le")) // 2 for _, t in QUOTES[1:]]
    where = "; ".join(f"'my quotation' at {a}..{a + len(t)} in 'JP-Y'" for a, (_, t) in zip(units, QUOTES[1:]))
    assert res.warnings == [f"{path}: 3 of 4 selection name(s) differ from the text they select when positions count "
                            f"UTF-16 units, a CR LF line break as two (renamed quotations?), e.g. {where}"]


def test_nvivo_cases_written_as_codes_are_cases_not_unknown_codes(target, tmp_path):
    """NVivo gives a case and a code the same GUID and codes the case's text with it."""
    p = Project.open(target)
    body = p.by_id["JP-Y"].body
    qde, files = atlas(body, {c: c for c in TEXTS})
    case = "{000000aa-1111-4222-8333-444455556666}"
    qde = qde.replace("</Codes>", f'<Code guid="{case}" name="Y大学のケース" isCodable="true"/></Codes>')
    qde = qde.replace("<Sources>", f'<Cases><Case guid="{case}" name="JP-Y"/></Cases><Sources>')
    qde = qde.replace('name="JP-Y" plainTextPath', 'name="インタビュー1" plainTextPath')  # the source named otherwise
    whole = (f'<PlainTextSelection guid="{{000000ab-1111-4222-8333-444455556666}}" name="" startPosition="0" '
             f'endPosition="{len(body)}"><Coding guid="{{000000ac-1111-4222-8333-444455556666}}"><CodeRef targetGUID="{case}"/>'
             '</Coding></PlainTextSelection>')
    qde = qde.replace("</TextSource>", whole + "</TextSource>")
    res = import_qdpx(p, qdpx_file(tmp_path / "n.qdpx", qde, files), coder="taro")
    assert res.matched_sources == {"インタビュー1": "JP-Y"}  # through the case its code links to the source
    assert imported(target) == sorted([("課題①", TEXTS["課題①"], "manual", "taro"), ("交渉前", TEXTS["課題①"], "manual", "taro"),
                                       ("図表32-2/日本", TEXTS["図表32-2/日本"], "manual", "taro")])


# ---------------------------------------------------------------- QualCoder
def test_qualcoder_reads_cases_linked_to_their_texts_and_file_attributes(decided):
    """Our export as QualCoder's importer reads it (tests/qualcoder_refi.py restates its logic)."""
    p = Project.open(decided)
    data, _ = build_qdpx(p, now="2026-01-02T03:04:05Z")
    qc = read_like_qualcoder(data)
    assert qc.users[0] == "hanako"  # QualCoder's coder name after the import
    bodies = {t.id: t.body for t in p.transcripts}
    assert {s["name"]: s["fulltext"] for s in qc.sources} == bodies  # no BOM read as a character, no shift
    assert sorted((c["case"], c["source"], c["pos0"], c["pos1"]) for c in qc.case_text) == [
        ("JP-Y", "JP-Y", 0, len(bodies["JP-Y"])), ("JP-Z", "JP-Z", 0, len(bodies["JP-Z"]))]
    assert "JP-Y" not in {c["name"] for c in qc.codes}  # the case codes are gone, the codebook's codes are there
    assert {c["name"] for c in qc.codes} == {code_name(c) for c in p.codebook.codes.values() if c.codable}
    keys = [k for k in p.by_id["JP-Y"].attributes if k != "id"]
    assert {k: qc.attribute_types[k] for k in keys} == {k: "case" for k in keys}
    assert {k: qc.attribute_types[k + " (file)"] for k in keys} == {k: "file" for k in keys}
    files = {(a["of"], a["name"]): a["value"] for a in qc.attributes if a["kind"] == "file"}
    assert {k: files[("JP-Y", k + " (file)")] for k in keys} == {k: p.by_id["JP-Y"].attributes[k] for k in keys}
    cases = {(a["of"], a["name"]): a["value"] for a in qc.attributes if a["kind"] == "case"}
    assert {k: cases[("JP-Z", k)] for k in keys} == {k: p.by_id["JP-Z"].attributes[k] for k in keys}
    # every coding on its text, with memo and flags as the memo QualCoder shows
    got = sorted((ct["code"], ct["seltext"], ct["owner"], ct["memo"]) for ct in qc.code_text)
    names = {c.id: code_name(c) for c in p.codebook.codes.values()}
    assert got == sorted([
        (names["課題①"], "展示会を開いたが、成約には至らなかった。", "hanako", "展示会の話\n[accepted]"),
        (names["交渉前"], "展示会を開いたが、成約には至らなかった。", "hanako", ""),
        (names["図表32-2/日本"], "海外出願は予算の壁が高い。", "hanako", "[quote]"),
        (names["課題⑧"], "専門人材が慢性的に不足している。", "taro", "")])


@pytest.mark.parametrize("maxqda_line_ends", [False, True], ids=["lf", "crlf-counted-once"])
def test_a_round_trip_through_qualcoder_keeps_every_decision(decided, tmp_path, maxqda_line_ends):
    """Ours → QualCoder's import → QualCoder's export (fresh GUIDs, a BOM, optionally CR LF with
    positions counting LF once) → ours: every coding on its text, with status, quote and memo."""
    qc = read_like_qualcoder(build_qdpx(Project.open(decided))[0])
    path = tmp_path / "from-qualcoder.qdpx"
    path.write_bytes(write_like_qualcoder(qc, maxqda_line_ends=maxqda_line_ends))
    fresh = tmp_path / "fresh"
    shutil.copytree(decided, fresh, ignore=shutil.ignore_patterns("codings", "outputs"))
    res = import_qdpx(Project.open(fresh), path)
    assert res.offsets == ("codepoint/lines-as-one" if maxqda_line_ends else "codepoint") and res.warnings == []
    assert decisions(fresh) == decisions(decided)


def test_a_file_shaped_as_qualcoder_writes_it_imports_with_every_coding_in_place(target, tmp_path):
    p = Project.open(target)
    body = p.by_id["JP-Y"].body
    qc = QcDb(categories=[{"name": "課題", "memo": "", "parent": None}],
              codes=[{"name": "課題① 海外企業へのアクセス", "memo": "", "category": "課題", "parent_code": None},
                     {"name": "交渉前", "memo": "交渉の前", "category": None, "parent_code": None},
                     {"name": "図表32-2/日本", "memo": "", "category": None, "parent_code": "交渉前"}],
              sources=[{"name": "JP-Y.txt", "fulltext": body, "memo": "", "owner": "花子"}],
              code_text=[{"code": "課題① 海外企業へのアクセス", "source": "JP-Y.txt", "pos0": s, "pos1": e,
                          "seltext": body[s:e], "owner": "花子", "memo": "a 'quoted' & <marked> memo"}
                         for s, e in [span(body, TEXTS["課題①"])]] +
                        [{"code": c, "source": "JP-Y.txt", "pos0": s, "pos1": e, "seltext": body[s:e], "owner": "花子",
                          "memo": ""} for c, (s, e) in [("交渉前", span(body, TEXTS["交渉前"])),
                                                        ("図表32-2/日本", span(body, TEXTS["図表32-2/日本"]))]])
    path = tmp_path / "qc.qdpx"
    path.write_bytes(write_like_qualcoder(qc))
    res = import_qdpx(p, path)
    assert res.matched_sources == {"JP-Y.txt": "JP-Y"} and res.offsets == "codepoint"
    assert imported(target) == sorted((c, t, "manual", "花子") for c, t in TEXTS.items())
    assert {r.memo for r in Store.open(target).all_decisions()} == {"a 'quoted' & <marked> memo", ""}


# ---------------------------------------------------------------- bounded, and nothing changes on failure
def good_file(target, tmp_path):
    p = Project.open(target)
    return program_file(tmp_path / "good.qdpx", p.by_id["JP-Y"].body, count="codepoint", names="full", crlf=False)


def refused(target, path, *args):
    """The command's one-line error; nothing was written in the project."""
    res = run("import", "qdpx", path, *args, "--project", target)
    assert res.exit_code == 1, res.output
    assert not (target / "codings").exists()
    return res.output.splitlines()[0]


def test_a_huge_member_is_refused_from_its_header_without_unpacking_it(target, tmp_path):
    """200 MB of zeros deflate to ~200 KB: refused before a byte is unpacked."""
    path = good_file(target, tmp_path)
    src = zipfile.ZipFile(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.qde", src.read("project.qde"))
        with z.open("sources/00000001-0000-4000-8000-000000000000.txt", "w", force_zip64=True) as f:
            chunk = b"\0" * 2**20
            for _ in range(200):
                f.write(chunk)
    path.write_bytes(buf.getvalue())
    assert path.stat().st_size < 400_000
    tracemalloc.start()
    t0 = time.perf_counter()
    first = refused(target, path)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert first == (f"Error: {path}: member sources/00000001-0000-4000-8000-000000000000.txt would unpack to 200.0 MiB, "
                     f"more than the {MAX_MEMBER // 2**20} MiB one member may have; refused")
    assert peak < 5 * 2**20 and elapsed < 5  # nothing near 200 MB was held or inflated
    # a header that lies (1,000 bytes, not 200 MiB): unpacking stops at what it says, and the CRC tells
    name = b"sources/00000001-0000-4000-8000-000000000000.txt"
    src = zipfile.ZipFile(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:  # without zip64 fields, so the size is in the headers
        z.writestr("project.qde", src.read("project.qde"))
        with z.open(name.decode(), "w") as f:
            for _ in range(200):
                f.write(b"\0" * 2**20)
    data = bytearray(buf.getvalue())
    for sig, name_at, size_at, head in ((b"PK\x03\x04", 26, 22, 30), (b"PK\x01\x02", 28, 24, 46)):
        i = data.find(sig)
        while i >= 0:
            n = int.from_bytes(data[i + name_at:i + name_at + 2], "little")
            if data[i + head:i + head + n] == name:
                data[i + size_at:i + size_at + 4] = (1000).to_bytes(4, "little")
            i = data.find(sig, i + 4)
    liar = tmp_path / "liar.qdpx"
    liar.write_bytes(bytes(data))
    assert zipfile.ZipFile(liar).getinfo(name.decode()).file_size == 1000
    tracemalloc.start()
    first = refused(target, liar)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert first == (f"Error: {liar}: member {name.decode()} is damaged (Bad CRC-32 for file '{name.decode()}'); "
                     "export the project again")
    assert peak < 5 * 2**20


def test_damaged_encrypted_deep_and_foreign_files_are_refused_naming_file_and_member(target, tmp_path):
    good = good_file(target, tmp_path)
    # a member whose bytes were damaged: stored, so the CRC check is what catches it
    src = zipfile.ZipFile(good)
    crc = tmp_path / "crc.qdpx"
    with zipfile.ZipFile(crc, "w", zipfile.ZIP_STORED) as z:
        for n in src.namelist():
            z.writestr(n, src.read(n))
    data = bytearray(crc.read_bytes())
    at = data.index("展示会".encode("utf-8"))
    data[at] ^= 0x01
    crc.write_bytes(bytes(data))
    assert refused(target, crc) == f"Error: {crc}: member project.qde is damaged (Bad CRC-32 for file 'project.qde'); export the project again"
    # encrypted: the flag bit set in the local and central headers
    enc = tmp_path / "enc.qdpx"
    data = bytearray(good.read_bytes())
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i >= 0:
            data[i + flag_at] |= 0x01
            i = data.find(sig, i + 4)
    enc.write_bytes(bytes(data))
    assert refused(target, enc) == (f"Error: {enc}: member project.qde is encrypted (a password-protected archive); "
                                    "export the project again without a password")
    # 5,000 nested elements
    deep = tmp_path / "deep.qdpx"
    qde = f'<Project xmlns="{NS}" name="x"><CodeBook><Codes>' + '<Code guid="00000000-0000-4000-8000-000000000001" name="c" isCodable="true">' * 5000
    deep.write_bytes(replace_member(good.read_bytes(), "project.qde", qde.encode("utf-8")))
    assert refused(target, deep) == f"Error: {deep}: project.qde: line 1: elements nested deeper than 256 levels; refused"
    # an entity bomb needs a DOCTYPE
    bomb = tmp_path / "bomb.qdpx"
    qde = '<?xml version="1.0"?>\n<!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<Project>&b;</Project>'
    bomb.write_bytes(replace_member(good.read_bytes(), "project.qde", qde.encode("utf-8")))
    assert refused(target, bomb) == (f"Error: {bomb}: project.qde: line 2: a DOCTYPE declaration, which this format never "
                                     "needs; refused")
    # a control character XML forbids, as an older export would have written it
    ill = tmp_path / "ill.qdpx"
    qde = zipfile.ZipFile(good).read("project.qde").replace("展示会".encode(), "展\x0b示会".encode())
    ill.write_bytes(replace_member(good.read_bytes(), "project.qde", qde))
    assert refused(target, ill) == f"Error: {ill}: project.qde: line 1: not well-formed XML: not well-formed (invalid token)"
    # not a zip at all
    text = tmp_path / "notes.qdpx"
    text.write_text("これはメモです", encoding="utf-8")
    assert refused(target, text) == f"Error: {text}: not a .qdpx (zip) file"


def test_a_full_disk_while_writing_leaves_every_coder_file_as_it_was(decided, tmp_path, monkeypatch):
    out = tmp_path / "study.qdpx"
    export_qdpx(Project.open(decided), out)
    fresh = tmp_path / "fresh"
    shutil.copytree(decided, fresh, ignore=shutil.ignore_patterns("outputs"))
    (fresh / "codings" / "taro.csv").unlink()
    before = {f.name: f.read_bytes() for f in (fresh / "codings").iterdir()}
    (fresh / "codings" / "hanako.csv").write_bytes(before["hanako.csv"].replace(b"\xe5\xb1\x95\xe7\xa4\xba\xe4\xbc\x9a\xe3\x81\xae\xe8\xa9\xb1", b"old memo"))
    before = {f.name: f.read_bytes() for f in (fresh / "codings").iterdir()}
    real = coding.files.atomic_write_bytes

    def full_disk(path, data, **kw):
        if path.name == "taro.csv":  # hanako's file is already written by then
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data, **kw)

    monkeypatch.setattr(coding.files, "atomic_write_bytes", full_disk)
    res = run("import", "qdpx", out, "--project", fresh)
    assert res.exit_code == 1
    assert res.output.splitlines()[0] == f"Error: {fresh / 'codings' / 'taro.csv'}: cannot write: No space left on device; nothing was imported"
    assert {f.name: f.read_bytes() for f in (fresh / "codings").iterdir()} == before  # hanako's put back, no taro, no temp
