"""The sample project's 事例集 against the report's (tests/data/report_cases.yml): all 15 case
sheets, their 大学基礎情報, and each sheet's 背景課題 quote the one the report prints for that case.

The sample notes word the report's voices in their own words, so a voice counts as "in the notes"
when one answer paragraph of a Japanese organisation shares at least 40 % of its character pairs
with the report's quote (Dice coefficient); the sheet must then quote that paragraph. For a voice
the notes do not hold, the sheet must quote the same challenge from a Japanese organisation.
"""
from __future__ import annotations

import re

import pytest
import yaml

from coding.cases import project_sheets, write_cases
from coding.project import Project
from coding.tagger import Tagger

from conftest import ROOT, reference

HELD = 0.4  # Dice of character pairs above which a paragraph renders the report's voice
# The sample notes give these words of the report's voices to another organisation than the
# report's note names (the report prints 国内国立大学 for 事例⑨'s voice).
SAMPLE_NOTE = {"事例⑨": "国内技術移転機関"}
MISSING = {"公開情報無し": "公開情報なし", "公開情報無": "公開情報なし", "技術移転機関の為、データ無し": "—"}


@pytest.fixture(scope="module")
def report():
    return yaml.safe_load((ROOT / "tests" / "data" / "report_cases.yml").read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="module")
def sample():
    p = Project.open(ROOT)
    found, notes = project_sheets(p)
    return p, {s.code_id: s for s in found}, notes


def pairs(s: str) -> set[str]:
    s = re.sub(r"[\W_]", "", s)
    return {s[i:i + 2] for i in range(len(s) - 1)}


def dice(a: str, b: str) -> float:
    x, y = pairs(a), pairs(b)
    return 2 * len(x & y) / (len(x) + len(y)) if x and y else 0.0


def test_fifteen_sheets_in_the_reports_order(sample, report):
    _, sheets, notes = sample
    assert list(sheets) == [c["ref"] for c in report]
    assert notes == []  # every case has an organisation, a background quote and an outcome


def test_practices_and_basic_facts_are_the_reports(sample, report):
    p, sheets, _ = sample
    countries = p.codebook.settings.attribution.countries
    for case in report:
        s = sheets[case["ref"]]
        assert s.practice_title == case["practice"], case["ref"]
        basics = dict(s.basics)
        t = p.by_id[s.transcript_id]
        if case["region"] == "国内":
            assert basics["地域"] == "国内"
        else:
            named = re.search(r"[（(]\s*(.+?)\s*[）)]", case["region"]).group(1)
            assert basics["地域"] == f"国外（{t.country}）" and named in [t.country, *countries.get(t.country, [])], case["ref"]
        assert basics["区分"] in case["kind"], case["ref"]
        for key, label in (("staff", "産学連携機構所属数"), ("licence_income", "特許実施権収入")):
            want = case[key].replace(" ", "")
            assert basics[label] == MISSING.get(want, want), (case["ref"], key)


def test_each_background_quote_is_the_one_the_report_prints(sample, report):
    p, sheets, _ = sample
    skip = Tagger(p.codebook, model=None).skipped
    answers = [(t.id, para) for t in p.transcripts if t.region == "日本" for para in t.paragraphs if not skip(para)]
    table = yaml.safe_load(reference("report_tables.yml").read_text(encoding="utf-8"))["challenge_table"]["rows"]
    in_table = {q["text"]: q["attribution"] for row in table for q in row["quotes"]}
    held = []
    for case in report:
        s = sheets[case["ref"]]
        b = s.background
        assert b.quote and b.passages, case["ref"]
        score, tid, para = max((dice(case["quote"], para.text), tid, para) for tid, para in answers)
        if score >= HELD:  # the notes hold the report's voice: the sheet quotes that paragraph
            held.append(case["ref"])
            assert any(x.transcript_id == tid and para.start <= x.start and x.end <= para.end for x in b.passages), case["ref"]
        else:  # they do not: the sheet quotes the same challenge from a Japanese organisation
            assert all(p.by_id[x.transcript_id].region == "日本" for x in b.passages), case["ref"]
        # the note is the report's (where the report prints the same words in 図表34, as it prints them there)
        want = SAMPLE_NOTE.get(case["ref"]) or in_table.get(b.quote) or case["attribution"]
        assert b.attribution.removeprefix("国内") == want.removeprefix("国内"), case["ref"]
    assert held == ["事例①", "事例⑤", "事例⑥", "事例⑦", "事例⑨", "事例⑪", "事例⑬", "事例⑭", "事例⑮"]


def test_every_sheet_has_measures_and_an_outcome_from_its_organisations_interview(sample):
    p, sheets, _ = sample
    for s in sheets.values():
        assert s.measures and s.outcomes, s.code_id
        body = p.by_id[s.transcript_id].body
        assert all(body[x.start:x.end] == x.text for x in s.measures + s.outcomes)


def test_the_examples_in_docs_are_the_commands_output(sample, tmp_path):
    """docs/cases/ is what python cli.py cases -o docs/cases writes (rebuild it when this fails)."""
    p, sheets, _ = sample
    files = write_cases(list(sheets.values()), tmp_path, ["md", "html"], title=p.codebook.settings.case_sheets.title)
    for f in files:
        assert f.read_text(encoding="utf-8") == (ROOT / "docs" / "cases" / f.name).read_text(encoding="utf-8"), f.name
