"""The aggregator on hand-built codings: notes follow the codings, not the sample."""
from __future__ import annotations

from pathlib import Path

import pytest

from coding.aggregate import Corpus, attribution_note, build_tables, crosstab
from coding.codebook import load_codebook
from coding.settings import Style
from coding.store import Coding
from coding.transcripts import parse_transcript

from conftest import ROOT, transcript_text


@pytest.fixture(scope="module")
def cb():
    return load_codebook(ROOT / "codebook.yml")


def T(tid, attribute, *, region="日本", country="日本", kind=None, date="2025-10-01", org=None, group=None, body="A: 発言。\n"):
    text = transcript_text(body, id=tid, org=org or f"{tid}組織", region=region, country=country, kind=kind or attribute,
                           attribute=attribute, date=date)
    if group:
        text = text.replace("date:", f"group: {group}\ndate:")
    return parse_transcript(text, Path(f"{tid}.md"))


def C(t, code, text="発言。", quote=False, status="accepted"):
    start = t.body.index(text)
    return Coding(t.id, start, start + len(text), text, code, status, "hanako", quote=quote)


SHORT = Style(count="{label}({n})", joiner="、", merge_marker="の")
LONG = Style(prefix={"日本": "国内"}, labels={"国立大": "国立大学", "私立大": "私立大学", "工業大": "工業大学"}, count="{label}", joiner="、")


def test_short_note_counts_and_orders_by_transcript():
    b, c, h, j = T("B", "国立大"), T("C", "国立大"), T("H", "工業大"), T("J", "私立大")
    assert attribution_note([b], style=SHORT) == "国立大"
    assert attribution_note([b, c], style=SHORT) == "国立大(2)"
    assert attribution_note([h, b, c, j], style=SHORT) == "工業大、国立大(2)、私立大"
    assert attribution_note([b, h, c], style=SHORT, rank={"H": 0, "B": 1, "C": 2}) == "工業大、国立大(2)"


def test_foreign_kinds_merge_and_follow_the_summary():
    eu = T("A", "欧州の技術移転機関", region="諸外国等", country="欧州")
    au = T("B", "豪州の技術移転機関", region="諸外国等", country="豪州")
    aup = T("C", "豪州公立大", region="諸外国等", country="豪州")
    order = ("summary_mention", "transcript")
    assert attribution_note([eu, au], style=SHORT, summary="欧州は混合。豪州はエクイティ。", order=order) == "欧州、豪州の技術移転機関"
    assert attribution_note([eu, au], style=SHORT, summary="豪州も最大。欧州も同様。", order=order) == "豪州、欧州の技術移転機関"
    assert attribution_note([eu, au, aup], style=SHORT, summary="豪州や欧州は。", order=order) == "豪州、欧州の技術移転機関、豪州公立大"
    au2 = T("D", "豪州の技術移転機関", region="諸外国等", country="豪州")
    assert attribution_note([au, au2, eu], style=SHORT) == "豪州(2)、欧州の技術移転機関"


def test_long_note_prefixes_the_region_once():
    j, i = T("J", "私立大"), T("I", "工業大")
    assert attribution_note([j], style=LONG) == "国内私立大学"
    assert attribution_note([j, i], style=LONG) == "国内私立大学、工業大学"


def test_tables_follow_the_codings(cb):
    b = T("JP-B", "国立大", date="2025-10-01", body="A: 共願が多い。\n\nA: 海外出願は高い。\n")
    j = T("JP-J", "私立大", date="2025-10-02", body="A: 共願が多い。\n")
    k = T("JP-K", "私立大", date="2025-10-03", body="A: 共願が多い。\n")
    au = T("OT-B", "豪州の技術移転機関", region="諸外国等", country="豪州", date="2025-10-04", body="A: 選別する。\n")
    de = T("OT-E", "独国の技術移転機関", region="諸外国等", country="独国", date="2025-10-05", body="A: 翻訳が高い。\n")
    ts = [b, j, k, au, de]
    codings = [C(j, "図表32-1/日本", "共願が多い。")]

    def cell(codings, theme, region):
        row = next(r for t in build_tables(ts, cb, codings)["comparison_tables"].values() for r in t["rows"] if r["ref"] == theme)
        return [(e["label"], e["attribution"], e["orgs"]) for e in row[region]]

    assert cell(codings, "図表32-1", "日本") == [("共願による権利分散", "私立大", ["JP-J"])]
    codings.append(C(k, "図表32-1/日本", "共願が多い。"))
    assert cell(codings, "図表32-1", "日本") == [("共願による権利分散", "私立大(2)", ["JP-J", "JP-K"])]
    codings.append(C(b, "図表32-1/日本", "共願が多い。"))
    assert cell(codings, "図表32-1", "日本")[0][1] == "国立大、私立大(2)"
    # a merged foreign note appears
    codings += [C(au, "図表32-2/諸外国等", "選別する。"), C(de, "図表32-2/諸外国等", "翻訳が高い。")]
    assert cell(codings, "図表32-2", "諸外国等") == [("予算制約に悩み", "豪州、独国の技術移転機関", ["OT-B", "OT-E"])]
    # a theme-level coding shows up as an unlabelled entry with its own note
    codings.append(C(b, "図表32-2", "海外出願は高い。"))
    entries = next(r for r in build_tables(ts, cb, codings)["comparison_tables"]["図表32"]["rows"] if r["ref"] == "図表32-2")["日本"]
    assert [(e["label"], e.get("theme_level"), e["attribution"], e["segments"][0]["text"]) for e in entries] == [(None, True, "国立大", "海外出願は高い。")]
    # removing a coding changes the note back
    codings.remove(C(k, "図表32-1/日本", "共願が多い。"))
    assert cell(codings, "図表32-1", "日本")[0][1] == "国立大、私立大"


def test_challenge_table_quotes_and_orgs(cb):
    b = T("JP-B", "国立大", date="2025-10-01", body="A: 人材が足りない。\n\nA: 人材が足りない話の続き。\n")
    i = T("JP-I", "工業大", date="2025-10-03", body="A: 研究者のネットワークが大きい。\n")
    j = T("JP-J", "私立大", date="2025-10-02", body="A: 研究者のネットワークが大きい。\n")
    us = T("US-A", "技術移転機関", region="米国", country="米国", body="A: 人材が足りない。\n")
    ts = [b, j, i, us]
    codings = [C(b, "課題⑧", "人材が足りない。"), C(b, "課題⑧", "人材が足りない話の続き。"), C(us, "課題⑧", "人材が足りない。"),
               C(i, "課題③", "研究者のネットワークが大きい。", quote=True), C(j, "課題③", "研究者のネットワークが大きい。", quote=True)]
    rows = {r["ref"]: r for r in build_tables(ts, cb, codings)["challenge_table"]["rows"]}
    # no quote marked: every coding of the region is quoted; the US organisation is not
    assert [(q["text"], q["attribution"]) for q in rows["課題⑧"]["quotes"]] == [("人材が足りない。", "国内国立大学"), ("人材が足りない話の続き。", "国内国立大学")]
    assert rows["課題⑧"]["orgs"] == ["JP-B"]
    # the same words from two kinds are one quote with a joined note, in transcript order
    assert [(q["text"], q["attribution"], q["orgs"]) for q in rows["課題③"]["quotes"]] == [("研究者のネットワークが大きい。", "国内私立大学、工業大学", ["JP-J", "JP-I"])]
    # marking one quote keeps only the marked one, the row still lists every organisation
    codings[0] = C(b, "課題⑧", "人材が足りない。", quote=True)
    rows = {r["ref"]: r for r in build_tables(ts, cb, codings)["challenge_table"]["rows"]}
    assert [q["text"] for q in rows["課題⑧"]["quotes"]] == ["人材が足りない。"]
    assert rows["課題⑫"]["quotes"] == [] and rows["課題⑫"]["note"].startswith("国内大学から直接的に課題としての言及はなかった")


def test_practice_table_counts_and_rosters(cb):
    d = T("JP-D", "国立大", org="D大学", group="国立大学", body="A: 展示会を厳選。\n\nA: 展示会で成約しない。\n")
    a = T("JP-A", "技術移転機関", org="A機関", group="技術移転機関", date="2025-12-01", body="A: 展示会で成約しない。\n")
    ts = [d, a]
    codings = [C(d, "P1", "展示会を厳選。"), C(d, "事例①", "展示会を厳選。"), C(d, "課題①", "展示会で成約しない。"), C(a, "課題①", "展示会で成約しない。")]
    tables = build_tables(ts, cb, codings)
    p1 = tables["practice_table"]["rows"][0]
    assert (p1["ref"], p1["n_problem_orgs"], p1["n_orgs"], p1["cases"][0]["n_orgs"], p1["cases"][1]["n_orgs"]) == ("P1", 2, 1, 1, 0)
    assert tables["rosters"] == {"日本": [{"group": "技術移転機関", "orgs": ["A機関"]}, {"group": "国立大学", "orgs": ["D大学"]}]}


def test_crosstab_counts_expected_and_chi2(cb):
    ts = [T(f"N{i}", "国立大", body="A: 共願。\n") for i in range(4)] + [T(f"P{i}", "私立大", body="A: 共願。\n") for i in range(4)]
    codings = [C(t, "課題⑤", "共願。") for t in ts[:4]] + [C(ts[4], "課題⑤", "共願。")]
    ct = crosstab(Corpus(ts, cb, codings), "kind", codes=["課題⑤"])
    row = ct["rows"][0]
    assert ct["values"] == ["国立大", "私立大"] and row["counts"] == {"国立大": 4, "私立大": 1}
    assert row["expected"] == {"国立大": 2.5, "私立大": 2.5}
    # 2x2 table [[4,1],[0,3]]: chi2 = N(ad-bc)^2 / (row and column totals) = 8*144/(5*3*4*4) = 4.8
    assert row["chi2"] == pytest.approx(4.8) and row["dof"] == 1
