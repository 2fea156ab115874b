"""The sample project regenerates the report's tables exactly from its coded transcripts."""
from __future__ import annotations

import json

import pytest
import yaml

from coding.export import to_markdown
from coding.project import Project, project_tables

from conftest import ROOT, reference

REGIONS = ("日本", "米国", "諸外国等")


@pytest.fixture(scope="module")
def sample():
    p = Project.open(ROOT)
    return p, project_tables(p)


@pytest.fixture(scope="module")
def report():
    return yaml.safe_load(reference("report_tables.yml").read_text(encoding="utf-8"))


def _entry(e):
    return {"label": None if e.get("counter") else e.get("label"), "text": e["text"], "counter": bool(e.get("counter")),
            "attribution": e["attribution"]}


def test_comparison_tables_equal_the_report(sample, report):
    _, got = sample
    for tid, table in report["comparison_tables"].items():
        g = got["comparison_tables"][tid]
        assert g["title"] == table["title"]
        assert [r["ref"] for r in g["rows"]] == [r["ref"] for r in table["rows"]]
        for want_row, got_row in zip(table["rows"], g["rows"]):
            for region in REGIONS:
                assert [_entry(e) for e in got_row[region]] == [_entry(e) for e in want_row[region]], (want_row["ref"], region)


def test_challenge_table_quotes_equal_the_report(sample, report):
    _, got = sample
    want = [(r["ref"], [(q["text"], q["attribution"]) for q in r["quotes"]]) for r in report["challenge_table"]["rows"]]
    have = [(r["ref"], [(q["text"], q["attribution"]) for q in r["quotes"]]) for r in got["challenge_table"]["rows"]]
    assert have == want
    assert sum(len(q) for _, q in have) == 24
    row12 = got["challenge_table"]["rows"][-1]
    assert row12["ref"] == "課題⑫" and row12["quotes"] == [] and "直接的に課題としての言及はなかった" in row12["note"]


def test_quotes_point_at_their_text(sample):
    p, got = sample
    for row in got["challenge_table"]["rows"]:
        for q in row["quotes"]:
            t = p.by_id[q["transcript_id"]]
            assert t.body[q["start"]:q["end"]] == q["text"]
            assert q["transcript_id"] in q["orgs"] and set(q["orgs"]) <= set(row["orgs"])
            assert all(p.by_id[o].region == "日本" for o in row["orgs"])


def test_rosters_equal_the_report(sample, report):
    assert sample[1]["rosters"] == report["rosters"]


def test_practice_table_links_every_case(sample):
    rows = sample[1]["practice_table"]["rows"]
    assert [r["ref"] for r in rows] == ["P1", "P2", "P3", "P4", "P5"]
    assert sum(len(r["cases"]) for r in rows) == 15
    assert all(c["n_orgs"] >= 1 for r in rows for c in r["cases"])  # every case institution describes its practice


def test_sample_tables_golden(sample, golden):
    golden("sample_tables.md", to_markdown(sample[1]))
    golden("sample_tables.json", json.dumps(sample[1], ensure_ascii=False, indent=2) + "\n")
