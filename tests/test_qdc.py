"""REFI-QDA codebook exchange (.qdc): the export is valid against the Codebook schema's structure,
comes back exactly, and codebooks from QualCoder merge into codebook.yml without touching the rest."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from lxml import etree

from cli import cli
from coding.codebook import load_codebook
from coding.qdc import NS_CODEBOOK, build_qdc, code_name, guid

from conftest import ROOT
from qualcoder_refi import QcDb, qdc_like_qualcoder, read_qdc_like_qualcoder

XSD = ROOT / "tests" / "data" / "refi" / "Codebook.xsd"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def codebook_schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


def schema_errors(schema, data: bytes) -> list[str]:
    schema.validate(etree.fromstring(data))
    return [f"{e.line}: {e.message}" for e in schema.error_log]


def test_export_is_valid_and_nests_the_codes_with_kind_and_region_sets(project, tmp_path, codebook_schema):
    out = tmp_path / "codebook.qdc"
    res = run("export", "qdc", "-o", out, "--project", project)
    cb = load_codebook(project / "codebook.yml")
    assert res.exit_code == 0 and res.output == f"wrote {out}: {len(cb.codes)} code(s) of {len({c.kind for c in cb.codes.values()})} kind(s)\n"
    data = out.read_bytes()
    assert schema_errors(codebook_schema, data) == []
    # the schema does catch what it forbids
    assert schema_errors(codebook_schema, data.replace(b'isCodable="false"', b'isCodable="no"', 1)) != []
    cb = load_codebook(project / "codebook.yml")
    root = etree.fromstring(data)
    ns = {"c": NS_CODEBOOK}
    assert root.tag == f"{{{NS_CODEBOOK}}}CodeBook" and [etree.QName(c).localname for c in root] == ["Codes", "Sets"]
    for el in root.iter(f"{{{NS_CODEBOOK}}}Code"):
        code = next(c for c in cb.codes.values() if guid("code", c.id) == el.get("guid"))
        assert el.get("name") == code_name(code) and el.get("isCodable") == ("true" if code.codable else "false")
        parent = el.getparent()
        assert (parent.get("guid") if parent.tag.endswith("}Code") else None) == (guid("code", code.parent) if code.parent else None)
    sets = {s.get("name"): len(s.findall("c:MemberCode", ns)) for s in root.findall("c:Sets/c:Set", ns)}
    kinds = {k: sum(1 for c in cb.codes.values() if c.kind == k) for k in {c.kind for c in cb.codes.values()}}
    regions = {f"region: {r}": sum(1 for c in cb.codes.values() if c.kind == "finding" and c.get("region") == r)
               for r in cb.regions}
    assert sets == {**kinds, **{k: n for k, n in regions.items() if n}}


def test_our_qdc_comes_back_as_the_same_codebook(project, tmp_path):
    out = tmp_path / "codebook.qdc"
    out.write_bytes(build_qdc(load_codebook(project / "codebook.yml")))
    before = (project / "codebook.yml").read_bytes()
    res = run("import", "qdc", out, "--project", project)
    assert res.exit_code == 0 and res.output == f"{len(load_codebook(project / 'codebook.yml').codes)} code(s) already in the codebook, 0 added\n"
    assert (project / "codebook.yml").read_bytes() == before
    # into a project without a codebook: every code, kind, parent, label, definition and region
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run("import", "qdc", out, "--project", empty)
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"0 code(s) already in the codebook, {len(load_codebook(project / 'codebook.yml').codes)} added: 交渉前 (phase), 図表32-1 (theme), ")
    assert res.output.endswith(f"\nwrote {empty / 'codebook.yml'} (new)\n")
    new, old = load_codebook(empty / "codebook.yml"), load_codebook(project / "codebook.yml")
    facts = lambda cb: {c.id: (c.kind, c.parent, c.label, c.definition, c.get("region"), c.codable)  # noqa: E731
                        for c in cb.codes.values()}
    assert facts(new) == facts(old)


QC_CODES = QcDb(
    categories=[{"name": "課題 課題（大学が抱える悩み）", "memo": "", "parent": None},
                {"name": "新しい分類", "memo": "QualCoder で作った分類", "parent": None}],
    codes=[{"name": "課題① 海外企業へのアクセス・マーケティング手段の不足", "memo": "", "category": "課題 課題（大学が抱える悩み）",
            "parent_code": None},
           {"name": "人材の定着", "memo": "担当者がすぐ異動してしまう。", "category": "課題 課題（大学が抱える悩み）", "parent_code": None},
           {"name": "予算の単年度主義", "memo": "", "category": "新しい分類", "parent_code": None},
           {"name": "交渉前", "memo": "QualCoder で書き換えた定義", "category": None, "parent_code": None}],
)


def test_a_codebook_from_qualcoder_merges_its_new_codes_and_keeps_the_file(project, tmp_path):
    qdc = tmp_path / "from-qualcoder.qdc"
    qdc.write_bytes(qdc_like_qualcoder(QC_CODES))
    assert qdc.read_bytes().startswith(b"\xef\xbb\xbf<?xml")  # QualCoder writes a BOM
    before = (project / "codebook.yml").read_text(encoding="utf-8")
    res = run("import", "qdc", qdc, "--project", project)
    assert res.exit_code == 0, res.output
    assert res.output == ("note: 交渉前: the description in from-qualcoder.qdc differs from the definition in codebook.yml "
                          "(the codebook is not changed)\n"
                          "3 code(s) already in the codebook, 3 added: 人材の定着 (challenge), 新しい分類 (group), "
                          f"予算の単年度主義 (theme)\nwrote {project / 'codebook.yml'}\n")
    after = (project / "codebook.yml").read_text(encoding="utf-8")
    added = after[len(before.rstrip("\n")):]
    assert after.startswith(before.rstrip("\n"))  # every line before stays as it was
    assert added == ("\n  # imported from from-qualcoder.qdc (QualCoder) by `python cli.py import qdc`\n"
                     "  - id: 人材の定着\n    kind: challenge\n    label: 人材の定着\n    parent: 課題\n"
                     "    definition: 担当者がすぐ異動してしまう。\n"
                     "  - id: 新しい分類\n    kind: group\n    label: 新しい分類\n    definition: QualCoder で作った分類\n"
                     "  - id: 予算の単年度主義\n    kind: theme\n    label: 予算の単年度主義\n    parent: 新しい分類\n")
    cb = load_codebook(project / "codebook.yml")
    assert (cb.codes["人材の定着"].kind, cb.codes["人材の定着"].parent, cb.codes["予算の単年度主義"].parent) == ("challenge", "課題", "新しい分類")
    # the same file again adds nothing
    res = run("import", "qdc", qdc, "--project", project)
    assert res.output.endswith("6 code(s) already in the codebook, 0 added\n")


def test_kind_chooses_for_codes_the_file_does_not_say(project, tmp_path):
    qdc = tmp_path / "q.qdc"
    qdc.write_bytes(qdc_like_qualcoder(QcDb(codes=[{"name": "展示会の活用", "memo": "", "category": None, "parent_code": None}])))
    res = run("import", "qdc", qdc, "--kind", "practice", "--project", project)
    assert res.exit_code == 0 and "1 added: 展示会の活用 (practice)" in res.output
    assert load_codebook(project / "codebook.yml").codes["展示会の活用"].kind == "practice"


@pytest.mark.parametrize("content,kind,message", [
    (b"<CodeBook xmlns='urn:QDA-XML:codebook:1.0'><Codes>", None, "q.qdc:1: not well-formed XML: no element found"),
    (b"<Project xmlns='urn:QDA-XML:project:1.0' name='x'/>", None, "q.qdc: the root element is Project, not CodeBook (is it a .qdc file?)"),
    (b"<CodeBook xmlns='urn:QDA-XML:codebook:1.0'><Codes><Code guid='00000000-0000-4000-8000-000000000001' "
     b"name='x' isCodable='true'/></Codes></CodeBook>", "finding",
     "q.qdc: x: a finding needs its region, which the file does not say (only this toolkit's .qdc files do); give "
     "another --kind or add these codes by hand"),
    (b"<CodeBook xmlns='urn:QDA-XML:codebook:1.0'><Codes><Code guid='00000000-0000-4000-8000-000000000001' "
     b"name='x' isCodable='true'/></Codes></CodeBook>", "chalenge",
     "--kind chalenge: not a code kind (group, phase, theme, finding, challenge, practice, case, outcome)"),
])
def test_bad_files_and_kinds_are_refused_and_nothing_is_written(project, tmp_path, content, kind, message):
    qdc = tmp_path / "q.qdc"
    qdc.write_bytes(content)
    before = (project / "codebook.yml").read_bytes()
    res = run("import", "qdc", qdc, *(["--kind", kind] if kind else []), "--project", project)
    assert res.exit_code == 1
    assert res.output.splitlines()[0] == f"Error: {qdc if message.startswith('q.qdc') else ''}{message.removeprefix('q.qdc')}"
    assert (project / "codebook.yml").read_bytes() == before


def test_qualcoder_reads_our_qdc_categories_and_codes(project):
    cb = load_codebook(project / "codebook.yml")
    qc = read_qdc_like_qualcoder(build_qdc(cb))
    assert {c["name"] for c in qc.categories} == {code_name(c) for c in cb.codes.values() if not c.codable}
    assert {c["name"]: c["memo"] for c in qc.codes} == {code_name(c): c.definition or c.label for c in cb.codes.values() if c.codable}
    # a theme sits under its phase as a sub-code, a challenge in its group's category
    by_name = {c["name"]: c for c in qc.codes}
    assert by_name[code_name(cb.codes["図表32-1"])]["parent_code"] == code_name(cb.codes["交渉前"])
    assert by_name[code_name(cb.codes["課題①"])]["category"] == code_name(cb.codes["課題"])
