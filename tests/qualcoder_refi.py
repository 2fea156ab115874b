"""What QualCoder does with REFI-QDA files, restated from its documented behaviour for the tests.

QualCoder (github.com/ccbogel/QualCoder, ``src/qualcoder/refi.py``) imports a .qdpx into its
SQLite tables and exports them again. Its docstrings and code say, and this module restates:

Reading (``RefiImport.import_project``):
- the ``.qde`` is ``project.qde`` or the last member ending in ``.qde``; texts are in ``sources/``
  when that folder exists, else ``Sources/``;
- ``Users`` give the names of coders; the first user becomes QualCoder's coder name;
- a ``Code`` is a category when ``isCodable="false"`` (exactly that string), a code otherwise;
  codes and categories are matched by GUID strings compared as written;
- variables are file variables unless a *named* ``Case`` uses them, then case variables; a named
  case's ``SourceRef`` is not read; a *nameless* case with exactly one ``SourceRef`` gives that
  source file attributes (MAXQDA, Quirkos); ``VariableValue`` inside a ``TextSource`` gives file
  attributes too;
- a text source's file is read as UTF-8 (a byte-order mark stays as a character) with universal
  newlines; when its first line break is CR LF and the origin does not contain ``ATLAS``, every
  ``\\n`` becomes ``\\n `` so that positions counting CR LF as two still fit;
- every ``Coding`` of a ``PlainTextSelection`` becomes a coded text (code, positions, the text at
  those positions, owner = the selection's ``creatingUser``, memo = its ``Description``);
- a code whose GUID is also a case's GUID is no code: it is deleted and its coded texts become
  the case's texts (NVivo writes cases that way).

Writing (``RefiExport``): see :func:`write_like_qualcoder`.
"""
from __future__ import annotations

import html
import io
import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

PROJECT = "urn:QDA-XML:project:1.0"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _kids(el, name):
    return [c for c in el if _local(c.tag) == name]


@dataclass
class QcDb:
    """QualCoder's tables, as far as the tests need them."""

    users: list[str] = field(default_factory=list)
    categories: list[dict] = field(default_factory=list)  # name, memo, parent (category name or None)
    codes: list[dict] = field(default_factory=list)  # name, memo, category, parent_code, color
    sources: list[dict] = field(default_factory=list)  # name, fulltext, memo, owner
    code_text: list[dict] = field(default_factory=list)  # code, source, pos0, pos1, seltext, owner, memo
    cases: list[dict] = field(default_factory=list)  # name, memo
    case_text: list[dict] = field(default_factory=list)  # case, source, pos0, pos1
    attribute_types: dict[str, str] = field(default_factory=dict)  # name → "case" | "file"
    attributes: list[dict] = field(default_factory=list)  # name, value, kind ("case" | "file"), of


def _read_codes(codes_el, db: QcDb, code_by_guid: dict[str, str]) -> None:
    """``sub_codes``: a category when isCodable is "false", a code (maybe under a code) otherwise."""
    def walk(code, category, parent_code):
        desc = next((d.text for d in _kids(code, "Description")), None) or ""
        if code.get("isCodable") == "false":
            db.categories.append({"name": code.get("name"), "memo": desc, "parent": category})
            for child in _kids(code, "Code"):
                walk(child, code.get("name"), None)
            return
        db.codes.append({"name": code.get("name"), "memo": desc, "category": None if parent_code else category,
                         "parent_code": parent_code, "color": code.get("color")})
        code_by_guid[code.get("guid")] = code.get("name")
        for child in _kids(code, "Code"):
            walk(child, None, code.get("name"))

    for code in codes_el:
        walk(code, None, None)


def read_qdc_like_qualcoder(data: bytes) -> QcDb:
    """What QualCoder's codebook import (``import_codebook``) makes of a .qdc: the root's ``Codes``
    child read like a project's codebook."""
    db = QcDb()
    for child in ET.fromstring(data):
        if _local(child.tag) == "Codes":
            _read_codes(child, db, {})
    return db


def read_like_qualcoder(data: bytes) -> QcDb:
    """What QualCoder's project import makes of a .qdpx (see the module docstring)."""
    z = zipfile.ZipFile(io.BytesIO(data))
    names = z.namelist()
    qdes = [n for n in names if PurePosixPath(n).suffix == ".qde"]
    qde = qdes[-1] if qdes else "project.qde"
    folder = "sources" if any(n.startswith("sources/") for n in names) else "Sources"
    root = ET.fromstring(z.read(qde))
    origin = root.get("origin") or ""
    db = QcDb()
    users = {}
    code_by_guid: dict[str, str] = {}
    variables: dict[str, str] = {}
    for el in root:
        tag = _local(el.tag)
        if tag == "Users":
            for u in el:
                users[u.get("guid")] = u.get("name")
                db.users.append(u.get("name"))
        elif tag == "CodeBook":
            _read_codes(list(el)[0], db, code_by_guid)  # the Codes element is the only child
        elif tag == "Variables":
            for v in el:
                variables[v.get("guid")] = v.get("name")
                db.attribute_types[v.get("name")] = "file"

    def value_of(vv):
        ref = next(c.get("targetGUID") for c in vv if _local(c.tag) == "VariableRef")
        value = next(((c.text or "").strip() for c in vv if _local(c.tag).endswith("Value")), "")
        return variables.get(ref, ""), value

    cases_el = next((el for el in root if _local(el.tag) == "Cases"), [])
    file_vars = []
    for case in cases_el:
        refs = _kids(case, "SourceRef")
        if case.get("name") is None and len(refs) == 1:
            file_vars.extend((refs[0].get("targetGUID"), *value_of(vv)) for vv in _kids(case, "VariableValue"))
    source_guid: dict[str, str] = {}
    for el in root:
        if _local(el.tag) != "Sources":
            continue
        for src in _kids(el, "TextSource"):
            name = src.get("name")
            member = f"{folder}{src.get('plainTextPath').split('internal:/', 1)[1]}"
            raw = z.read(member)
            first_break = raw.find(b"\n")
            add_ending = first_break > 0 and raw[first_break - 1:first_break] == b"\r" and "ATLAS" not in origin
            fulltext = raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
            if add_ending:
                fulltext = fulltext.replace("\n", "\n ")
            owner = users.get(src.get("creatingUser") or src.get("modifyingUser"), "default")
            memo = next((d.text for d in _kids(src, "Description")), "") or ""
            db.sources.append({"name": name, "fulltext": fulltext, "memo": memo, "owner": owner})
            source_guid[src.get("guid")] = name
            for sel in _kids(src, "PlainTextSelection"):
                pos0, pos1 = int(sel.get("startPosition")), int(sel.get("endPosition"))
                who = users.get(sel.get("creatingUser") or sel.get("modifyingUser"), "default")
                sel_memo = next((d.text for d in _kids(sel, "Description") if d.text is not None), "")
                for coding in _kids(sel, "Coding"):
                    target = list(coding)[0].get("targetGUID")
                    db.code_text.append({"code": code_by_guid.get(target), "guid": target, "source": name, "pos0": pos0,
                                         "pos1": pos1, "seltext": fulltext[pos0:pos1], "owner": who, "memo": sel_memo})
            for vv in _kids(src, "VariableValue"):
                var, value = value_of(vv)
                db.attributes.append({"name": var, "value": value, "kind": "file", "of": name})
    for guid_, var, value in file_vars:
        if guid_ in source_guid:
            db.attributes.append({"name": var, "value": value, "kind": "file", "of": source_guid[guid_]})
    case_guid = {}
    for case in cases_el:
        if case.get("name") is None:
            continue
        memo = next((d.text for d in _kids(case, "Description")), None) or ""
        db.cases.append({"name": case.get("name"), "memo": memo})
        case_guid[case.get("guid")] = case.get("name")
        for vv in _kids(case, "VariableValue"):
            var, value = value_of(vv)
            db.attributes.append({"name": var, "value": value, "kind": "case", "of": case.get("name")})
            db.attribute_types[var] = "case"
    # codes that are cases: their coded texts are the cases' texts
    for g, case in case_guid.items():
        if g in code_by_guid:
            name = code_by_guid[g]
            db.codes = [c for c in db.codes if c["name"] != name]
            for ct in [ct for ct in db.code_text if ct["guid"] == g]:
                db.case_text.append({"case": case, "source": ct["source"], "pos0": ct["pos0"], "pos1": ct["pos1"]})
                db.code_text.remove(ct)
    return db


def write_like_qualcoder(db: QcDb, *, maxqda_line_ends: bool = False) -> bytes:
    """A .qdpx as QualCoder's ``RefiExport`` writes one (``project_xml``, ``codebook_xml``,
    ``variables_xml``, ``cases_xml``, ``sources_xml``, ``text_selection_xml``, ``export_project``):

    - the XML is built as text: ``<?xml version="1.0" encoding="utf-8"?>``, then ``<Project>`` with
      the xsd and xsi namespaces, ``name``, ``origin`` (QualCoder's version), a fresh
      ``creatingUserGUID`` and ``creationDateTime``; names and texts pass ``html.escape``;
    - every GUID is a fresh uuid4; users are the owners of codings and sources;
    - ``CodeBook``: codes outside categories first, then each category (``isCodable="false"``)
      with its codes; a code is ``<Code guid name isCodable="true" color>`` with its memo as
      ``Description``;
    - ``Variables`` (``Text``, an empty ``Description``), ``Cases`` (``Description``, the case
      variables, a ``SourceRef`` only for a whole file linked as positions 0..0);
    - one ``TextSource`` per text: ``plainTextPath`` to a second fresh GUID's ``.txt``,
      ``creatingUser``, ``creationDateTime``, ``guid``, ``name``; each coded text as a
      ``PlainTextSelection`` (positions, ``name`` = the coded text, ``Description`` = memo,
      one ``Coding`` → ``CodeRef``); then the file variables;
    - the text files are written as UTF-8 *with* a byte-order mark; with the "MAXQDA line
      endings" choice every ``\\n`` is written ``\\r\\n`` while positions stay as they were.
    """
    g = lambda: str(uuid.uuid4())  # noqa: E731
    esc = html.escape
    users = {}
    for owner in [ct["owner"] for ct in db.code_text] + [s["owner"] for s in db.sources]:
        users.setdefault(owner, g())
    code_guid = {c["name"]: g() for c in db.codes}

    def code_xml(c) -> str:
        children = [x for x in db.codes if x.get("parent_code") == c["name"]]
        x = f'<Code guid="{code_guid[c["name"]]}" name="{esc(c["name"])}" isCodable="true" color="{c.get("color") or "#F4FA58"}"'
        if not c["memo"] and not children:
            return x + " />\n"
        x += ">\n" + (f"<Description>{esc(c['memo'])}</Description>\n" if c["memo"] else "")
        return x + "".join(code_xml(k) for k in children) + "</Code>\n"

    def category_xml(cat) -> str:
        x = f'<Code guid="{g()}" name="{esc(cat["name"])}" isCodable="false">\n'
        x += f"<Description>{esc(cat['memo'])}</Description>\n" if cat["memo"] else ""
        x += "".join(code_xml(c) for c in db.codes if c["category"] == cat["name"] and not c.get("parent_code"))
        x += "".join(category_xml(k) for k in db.categories if k["parent"] == cat["name"])
        return x + "</Code>\n"

    xml = ('<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="study.qda" origin="QualCoder 3.6" '
           f'creatingUserGUID="{g()}" creationDateTime="2026-01-02T03:04:05Z" xmlns="{PROJECT}">\n<Users>\n')
    xml += "".join(f'<User guid="{guid_}" name="{esc(name)}" />\n' for name, guid_ in users.items()) + "</Users>\n"
    if db.codes:
        xml += "<CodeBook>\n<Codes>\n"
        xml += "".join(code_xml(c) for c in db.codes if c["category"] is None and not c.get("parent_code"))
        xml += "".join(category_xml(cat) for cat in db.categories if cat["parent"] is None)
        xml += "</Codes>\n</CodeBook>\n"
    var_guid = {name: g() for name in db.attribute_types}
    if var_guid:
        xml += "<Variables>\n" + "".join(f'<Variable guid="{var_guid[n]}" name="{esc(n)}" typeOfVariable="Text" >\n'
                                         "<Description />\n</Variable>\n" for n in var_guid) + "</Variables>\n"
    src_guid = {s["name"]: g() for s in db.sources}
    if db.cases:
        xml += "<Cases>\n"
        for case in db.cases:
            xml += f'<Case guid="{g()}" name="{esc(case["name"])}">\n'
            xml += f"<Description>{esc(case['memo'])}</Description>\n" if case["memo"] else "<Description />\n"
            for a in db.attributes:
                if a["kind"] == "case" and a["of"] == case["name"]:
                    xml += f'<VariableValue>\n<VariableRef targetGUID="{var_guid[a["name"]]}" />\n<TextValue>{esc(a["value"])}</TextValue>\n</VariableValue>\n'
            for ct in db.case_text:
                if ct["case"] == case["name"] and ct["pos0"] == 0 and ct["pos1"] == 0:
                    xml += f'<SourceRef targetGUID="{src_guid[ct["source"]]}"/>\n'
            xml += "</Case>\n"
        xml += "</Cases>\n"
    files = {}
    xml += "<Sources>\n"
    for s in db.sources:
        plain = g() + ".txt"
        xml += (f'<TextSource plainTextPath="internal://{plain}" creatingUser="{users[s["owner"]]}" '
                f'creationDateTime="2026-01-02T03:04:05Z" guid="{src_guid[s["name"]]}" name="{esc(s["name"])}">\n')
        xml += f"<Description>{esc(s['memo'])}</Description>\n" if s["memo"] else ""
        for ct in db.code_text:
            if ct["source"] != s["name"] or ct["code"] not in code_guid:
                continue
            xml += (f'<PlainTextSelection guid="{g()}" startPosition="{ct["pos0"]}" endPosition="{ct["pos1"]}" '
                    f'name="{esc(ct["seltext"])}" creatingUser="{users[ct["owner"]]}" creationDateTime="2026-01-02T03:04:05Z">\n')
            xml += f"<Description>{esc(ct['memo'])}</Description>\n" if ct["memo"] else ""
            xml += f'<Coding guid="{g()}" creatingUser="{users[ct["owner"]]}" >\n<CodeRef targetGUID="{code_guid[ct["code"]]}" />\n</Coding>\n</PlainTextSelection>\n'
        for a in db.attributes:
            if a["kind"] == "file" and a["of"] == s["name"]:
                xml += f'<VariableValue>\n<VariableRef targetGUID="{var_guid[a["name"]]}" />\n<TextValue>{esc(a["value"])}</TextValue>\n</VariableValue>\n'
        xml += "</TextSource>\n"
        text = s["fulltext"].replace("\n", "\r\n") if maxqda_line_ends else s["fulltext"]
        files[f"sources/{plain}"] = text.encode("utf-8-sig")
    xml += "</Sources>\n</Project>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.qde", xml.encode("utf-8"))
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def qdc_like_qualcoder(db: QcDb) -> bytes:
    """A .qdc as QualCoder's codebook export writes it (``codebook_exchange_xml``, ``export_codebook``):
    ``<CodeBook xmlns="urn:QDA-XML:codebook:1.0" xsi:schemaLocation=... origin="QualCoder" ...>``
    followed by the project export's ``<Codes>`` (as in :func:`write_like_qualcoder`), written as
    UTF-8 with a byte-order mark."""
    data = write_like_qualcoder(QcDb(codes=db.codes, categories=db.categories))
    xml = zipfile.ZipFile(io.BytesIO(data)).read("project.qde").decode("utf-8")
    codes = xml[xml.index("<Codes>"):xml.index("</CodeBook>")]
    out = ('<?xml version="1.0" encoding="utf-8"?>\n<CodeBook xmlns="urn:QDA-XML:codebook:1.0" '
           'xsi:schemaLocation="urn:QDA-XML:codebook:1.0 Codebook.xsd" origin="QualCoder" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' + codes + "</CodeBook>\n")
    return out.encode("utf-8-sig")
