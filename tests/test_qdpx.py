"""REFI-QDA exchange: the export has the structure the Project schema requires, round-trips, and
files shaped as NVivo, ATLAS.ti and MAXQDA write them import with the right offsets."""
from __future__ import annotations

import io
import re
import shutil
import zipfile
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from cli import cli
from coding.project import Project
from coding.qdpx import NS, QdpxError, build_qdpx, code_name, import_qdpx, map_code, read_qdpx
from coding.review import save_decisions
from coding.store import Coding, Store

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
    "CodeRef": [], "SourceRef": [], "VariableRef": [], "SelectionRef": [], "NoteRef": [],
}
VALUE_CHOICE = {"TextValue", "BooleanValue", "IntegerValue", "FloatValue", "DateValue", "DateTimeValue"}
REQUIRED = {
    "Project": {"name"}, "User": {"guid"}, "Code": {"guid", "name", "isCodable"},
    "Variable": {"guid", "name", "typeOfVariable"}, "Case": {"guid"}, "TextSource": {"guid"},
    "PlainTextSelection": {"guid", "startPosition", "endPosition"}, "Coding": {"guid"},
    "CodeRef": {"targetGUID"}, "SourceRef": {"targetGUID"}, "VariableRef": {"targetGUID"},
    "SelectionRef": {"targetGUID"}, "NoteRef": {"targetGUID"},
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
            if g in guids:
                errors.append(f"{name}: GUID {g} also used by {guids[g]}")
            guids[g] = name
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
    kinds = {"CodeRef": {"Code"}, "SourceRef": {"TextSource"}, "VariableRef": {"Variable"}}
    for el in root.iter():
        name = local(el.tag)
        if name in kinds and guids.get(el.get("targetGUID", "").strip("{}").lower()) not in kinds[name]:
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
        Coding("JP-Y", *s2, body[s2[0]:s2[1]], "図表32-2/日本", "manual", "hanako"),
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
    assert [local(c.tag) for c in root] == ["Users", "CodeBook", "Variables", "Cases", "Sources"]
    ns = {"q": NS}
    cb = Project.open(decided).codebook
    groups = root.findall(".//q:Code[@isCodable='false']", ns)
    assert [g.get("name") for g in groups] == [f"課題 {cb.codes['課題'].label}", f"プラクティス {cb.codes['プラクティス'].label}"]
    challenges = [c.get("name").split()[0] for c in groups[0].findall("q:Code", ns)]
    assert challenges == [c.id for c in cb.children("課題")]  # nested under their group, codable
    assert all(c.get("isCodable") == "true" for c in groups[0].iter(f"{{{NS}}}Code") if c is not groups[0])
    # the body is the source text, UTF-8, and offsets are code points into it
    src = root.find(".//q:TextSource[@name='JP-Y']", ns)
    text = z.read("sources/" + src.get("plainTextPath").removeprefix("internal://")).decode("utf-8")
    assert text == Project.open(decided).by_id["JP-Y"].body
    sels = src.findall("q:PlainTextSelection", ns)
    got = sorted((text[int(s.get("startPosition")):int(s.get("endPosition"))], len(s.findall("q:Coding", ns))) for s in sels)
    # one selection per span, coder and memo; rejected codings are not exported
    assert got == sorted([("展示会を開いたが、成約には至らなかった。", 1), ("展示会を開いたが、成約には至らなかった。", 1),
                          ("海外出願は予算の壁が高い。", 1), ("専門人材が慢性的に不足している。", 1)])
    assert counts == {"sources": 2, "codes": len(cb.codes), "cases": 2, "selections": 4, "codings": 4, "coders": ["hanako", "taro"]}
    again, _ = build_qdpx(Project.open(decided), now="2026-01-02T03:04:05Z")
    assert again == data  # GUIDs are stable: the same project exports the same bytes


def test_round_trip_codes_cases_variables_and_every_coding(decided, tmp_path, project):
    out = tmp_path / "study.qdpx"
    res = CliRunner().invoke(cli, ["export", "qdpx", "-o", str(out), "--project", str(decided)])
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output and "2 source(s), 88 code(s), 2 case(s), 4 coding(s) by hanako, taro" in res.output
    p = Project.open(decided)
    qp = read_qdpx(out)
    # codes: the hierarchy and codability come back, and every name maps to its code
    by_guid = qp.codes
    back = {map_code(c.name, p.codebook): c for c in by_guid.values()}
    assert set(back) == set(p.codebook.codes)
    for cid, qc in back.items():
        code = p.codebook.codes[cid]
        assert qc.codable == code.codable
        assert (map_code(by_guid[qc.parent].name, p.codebook) if qc.parent else None) == code.parent
    # cases and their variables
    cases = {c.name: dict(c.variables) for c in qp.cases}
    assert cases == {t.id: {k: v for k, v in t.attributes.items() if k != "id"} for t in p.transcripts}
    # every coding's offsets and text
    users = qp.users
    got = sorted((s.name, sel.start, sel.end, sel.text, map_code(by_guid[cg].name, p.codebook), users[ug])
                 for s in qp.sources for sel in s.selections for cg, ug in sel.codes)
    want = sorted((c.transcript_id, c.start, c.end, c.text, c.code_id, c.coder) for c in p.store().resolved(p.by_id))
    assert got == want
    # and into a project that has the same transcripts but no decisions yet
    fresh = tmp_path / "fresh"
    shutil.copytree(decided, fresh, ignore=shutil.ignore_patterns("codings"))
    res = CliRunner().invoke(cli, ["import", "qdpx", str(out), "--project", str(fresh)])
    assert res.exit_code == 0, res.output
    assert "hanako: 3 coding(s)" in res.output and "taro: 1 coding(s)" in res.output
    f = Project.open(fresh)
    mine = sorted((c.transcript_id, c.start, c.end, c.text, c.code_id, c.status, c.coder, c.memo)
                  for c in f.store().resolved(f.by_id))
    theirs = sorted((c.transcript_id, c.start, c.end, c.text, c.code_id, c.status, c.coder, c.memo)
                    for c in p.store().resolved(p.by_id))
    assert mine == theirs
    # importing it again changes nothing
    before = (fresh / "codings" / "hanako.csv").read_text(encoding="utf-8")
    CliRunner().invoke(cli, ["import", "qdpx", str(out), "--project", str(fresh)])
    assert (fresh / "codings" / "hanako.csv").read_text(encoding="utf-8") == before


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


def test_without_names_positions_are_code_points_as_the_standard_says(target, tmp_path):
    p = Project.open(target)
    body = p.by_id["JP-Y"].body
    qde, files = atlas(body, {c: c for c in TEXTS})
    qde = re.sub(r' name="[^"]*\.\.\."', "", qde)
    res = import_qdpx(p, qdpx_file(tmp_path / "a.qdpx", qde, files))
    assert {r.text for r in res.rows} == {TEXTS["課題①"], TEXTS["図表32-2/日本"]}


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


def test_the_sample_project_exports_a_valid_file_that_reads_back():
    from conftest import ROOT

    p = Project.open(ROOT)
    data, counts = build_qdpx(p)
    assert check_structure(data) == []
    assert counts["sources"] == len(p.transcripts) and counts["codings"] == len(p.store().resolved(p.by_id))
