"""Intercoder agreement over segments, checked against κ and α computed by hand; adjudication."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest
from click.testing import CliRunner

from cli import cli
from coding.agreement import adjudicate, cohen_kappa, compare_coders, krippendorff_alpha
from coding.project import Project
from coding.store import Coding, Store

SENTENCES = [f"第{i}の文では話題{i}を扱う。" for i in range(1, 11)]
BODY = "A: " + "".join(SENTENCES[:5]) + "\n\nA: " + "".join(SENTENCES[5:]) + "\n"

# the hand-built example: two coders, ten segments, two codes
A1 = [1, 1, 1, 0, 0, 0, 0, 0, 1, 0]
B1 = [1, 1, 0, 0, 0, 0, 0, 1, 1, 0]
A5 = [0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
B5 = [0, 0, 0, 1, 1, 0, 0, 0, 0, 0]


def hand_kappa(a, b):
    n = len(a)
    po = Fraction(sum(x == y for x, y in zip(a, b)), n)
    pa1, pb1 = Fraction(sum(a), n), Fraction(sum(b), n)
    pe = pa1 * pb1 + (1 - pa1) * (1 - pb1)
    return (po - pe) / (1 - pe)


def hand_alpha(a, b):
    # nominal α for two coders, no missing values: 1 - (n-1) * (o01 + o10) / (2 * n0 * n1),
    # with n = 2 × units pairable values and each disagreeing unit adding 2 to o01 + o10.
    n = 2 * len(a)
    n1 = sum(a) + sum(b)
    n0 = n - n1
    off = 2 * sum(x != y for x, y in zip(a, b))
    return 1 - Fraction((n - 1) * off, 2 * n0 * n1)


def test_hand_formulas_give_the_textbook_numbers():
    assert hand_kappa(A1, B1) == Fraction(7, 12)  # po .8, pe .52 → .28/.48
    assert hand_alpha(A1, B1) == Fraction(29, 48)  # 1 - 19·4/192
    assert cohen_kappa(A1, B1) == pytest.approx(float(hand_kappa(A1, B1)))
    assert krippendorff_alpha(A1, B1) == pytest.approx(float(hand_alpha(A1, B1)))
    assert cohen_kappa([0, 0], [0, 0]) is None and krippendorff_alpha([1, 1], [1, 1]) is None


def segments(project):
    p = Project.open(project)
    return p, p.by_id["JP-T"].segments()


def decide(project, coder, vectors, *, rejected=()):
    """coder's decisions: code → 0/1 per segment; ``rejected``: (segment index, code) said no."""
    p, segs = segments(project)
    st = Store.open(project)
    rows = []
    for code, v in vectors.items():
        for i, x in enumerate(v):
            if x:
                s = segs[i]
                rows.append(Coding("JP-T", s.start, s.end, s.text, code, "manual", coder))
    for i, code in rejected:
        s = segs[i]
        rows.append(Coding("JP-T", s.start, s.end, s.text, code, "rejected", coder))
    st.merge(coder, rows)
    st.save(coder)


@pytest.fixture
def two_coders(project, write):
    write("t.md", BODY, id="JP-T")
    decide(project, "hanako", {"課題①": A1, "課題⑤": A5})
    decide(project, "taro", {"課題①": B1, "課題⑤": B5}, rejected=[(2, "課題①")])
    return project


def test_agreement_matches_hand_computation(two_coders):
    p = Project.open(two_coders)
    rep = compare_coders(p.store(), p.by_id, "hanako", "taro", code_order=list(p.codebook.codes))
    assert rep.unit == "segment" and rep.segments == 10 and rep.transcripts == ["JP-T"]
    c1, c5 = rep.per_code
    assert (c1.code_id, c1.units, c1.a, c1.b, c1.both) == ("課題①", 10, 4, 4, 3)
    assert c1.percent == pytest.approx(0.8)
    assert c1.kappa == pytest.approx(float(hand_kappa(A1, B1)))
    assert c1.alpha == pytest.approx(float(hand_alpha(A1, B1)))
    assert (c5.kappa, c5.alpha, c5.percent) == (pytest.approx(1.0), pytest.approx(1.0), 1.0)
    pooled_a, pooled_b = A1 + A5, B1 + B5
    o = rep.overall
    assert (o.units, o.a, o.b) == (20, 6, 6)
    assert o.percent == pytest.approx(0.9)
    assert o.kappa == pytest.approx(float(hand_kappa(pooled_a, pooled_b)))  # 16/21
    assert o.alpha == pytest.approx(float(hand_alpha(pooled_a, pooled_b)))  # 1 - 39·4/672
    assert rep.mean_kappa == pytest.approx((7 / 12 + 1) / 2)
    segs = p.by_id["JP-T"].segments()
    assert [(d.start, d.code_id, d.coded_by, d.other, d.other_status) for d in rep.disagreements] == [
        (segs[2].start, "課題①", "hanako", "taro", "rejected"),
        (segs[7].start, "課題①", "taro", "hanako", "not coded"),
    ]


def test_spans_count_for_every_segment_they_overlap(project, write):
    write("t.md", BODY, id="JP-T")
    p, segs = segments(project)
    body = p.by_id["JP-T"].body
    st = Store.open(project)
    phrase = body.index("話題1")  # a phrase inside segment 0
    st.merge("hanako", [Coding("JP-T", phrase, phrase + 3, "話題1", "課題①", "manual", "hanako")])
    # one coding over segments 1 and 2
    st.merge("taro", [Coding("JP-T", segs[0].start, segs[1].end, body[segs[0].start:segs[1].end], "課題①", "manual", "taro")])
    st.save("hanako"), st.save("taro")
    rep = compare_coders(Store.open(project), p.by_id, "hanako", "taro")
    (c,) = rep.per_code
    assert (c.a, c.b, c.both) == (1, 2, 1)
    assert [(d.start, d.coded_by) for d in rep.disagreements] == [(segs[1].start, "taro")]


def test_auto_is_a_coder_and_untouched_transcripts_are_left_out(two_coders, write):
    write("u.md", "A: 別の記録。\n", id="JP-U")  # nobody coded it
    p = Project.open(two_coders)
    segs = p.by_id["JP-T"].segments()
    st = p.store()
    st.save_suggestions([Coding("JP-T", s.start, s.end, s.text, "課題①", "suggested", "auto") for s in segs[:3]]
                        + [Coding("JP-U", 0, 5, "別の記録。", "課題①", "suggested", "auto")])
    rep = compare_coders(Store.open(two_coders), p.by_id, "auto", "hanako")
    assert rep.transcripts == ["JP-T"] and rep.segments == 10
    c1 = rep.per_code[0]
    assert (c1.code_id, c1.a, c1.b, c1.both) == ("課題①", 3, 4, 3)


def test_cli_agreement_text_and_json(two_coders):
    res = CliRunner().invoke(cli, ["agreement", "--coder", "hanako", "--coder", "taro", "--project", str(two_coders)])
    assert res.exit_code == 0, res.output
    assert "over segments (sentences): 1 transcript(s), 10 segment(s)" in res.output
    assert "Character-level agreement" in res.output
    row = next(line for line in res.output.splitlines() if line.startswith("課題①"))
    assert row.split() == ["課題①", "4", "4", "3", "80.0%", "0.583", "0.604"]
    assert "Disagreements to discuss: 2" in res.output
    res = CliRunner().invoke(cli, ["agreement", "--coder", "hanako", "--coder", "taro", "--format", "json", "--project", str(two_coders)])
    data = json.loads(res.output)
    assert data["unit"] == "segment" and "segments" in data["note"]
    assert data["per_code"][0]["kappa"] == pytest.approx(7 / 12)
    assert len(data["disagreements"]) == 2
    res = CliRunner().invoke(cli, ["agreement", "--coder", "hanako", "--project", str(two_coders)])
    assert res.exit_code == 2 and "exactly two" in res.output


def test_adjudication_settles_agreements_and_follows_prefer(two_coders):
    p = Project.open(two_coders)
    segs = p.by_id["JP-T"].segments()
    res = adjudicate(p.store(), p.by_id, "hanako", "taro")
    got = sorted((r.start, r.code_id, r.status) for r in res.rows)
    assert got == sorted([(segs[i].start, "課題①", "manual") for i in (0, 1, 8)]
                         + [(segs[i].start, "課題⑤", "manual") for i in (3, 4)])
    assert (res.agreed, len(res.open)) == (5, 2)
    st = p.store()
    st.merge("adjudicated", res.rows)
    st.save("adjudicated")
    # a second run with --prefer settles the rest, never touching what is decided
    res2 = adjudicate(Store.open(two_coders), p.by_id, "hanako", "taro", prefer="taro")
    assert (res2.agreed, res2.preferred, res2.already, res2.open) == (0, 2, 5, [])
    assert [(r.start, r.code_id, r.status) for r in res2.rows] == [(segs[7].start, "課題①", "manual")]
    st = Store.open(two_coders)
    st.merge("adjudicated", res2.rows)
    st.save("adjudicated")
    final = Store.open(two_coders).resolved(p.by_id, coders=["adjudicated"])
    assert len(final) == 6


def test_cli_adjudicate(two_coders):
    res = CliRunner().invoke(cli, ["adjudicate", "--coder", "hanako", "--coder", "taro", "--project", str(two_coders)])
    assert res.exit_code == 0, res.output
    assert "5 agreed coding(s)" in res.output and "2 disagreement(s) left open" in res.output
    assert (two_coders / "codings" / "adjudicated.csv").exists()
    res = CliRunner().invoke(cli, ["adjudicate", "--coder", "hanako", "--coder", "taro", "--prefer", "hanako", "--project", str(two_coders)])
    assert res.exit_code == 0 and "2 settled by --prefer hanako" in res.output


def test_unknown_coders_are_named(two_coders):
    res = CliRunner().invoke(cli, ["agreement", "--coder", "hanako", "--coder", "jiro", "--project", str(two_coders)])
    assert res.exit_code == 1 and "no decisions by jiro" in res.output and "known coders: auto, hanako, taro" in res.output
    res = CliRunner().invoke(cli, ["adjudicate", "--coder", "hanako", "--coder", "taro", "--prefer", "jiro", "--project", str(two_coders)])
    assert res.exit_code == 2 and "--prefer must be one of the two coders" in res.output


def test_roll_up_compares_findings_at_their_theme(project, write):
    from coding.agreement import roll_up_map

    write("t.md", BODY, id="JP-T")
    decide(project, "hanako", {"図表32-1/日本": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]})
    decide(project, "taro", {"図表32-1": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]})
    p = Project.open(project)
    plain = compare_coders(p.store(), p.by_id, "hanako", "taro")
    assert [c.code_id for c in plain.per_code] == ["図表32-1", "図表32-1/日本"] and plain.overall.kappa == pytest.approx(-1 / 19)  # po .9, pe .905
    up = roll_up_map(p.codebook, ["finding"])
    assert up["図表32-1/日本"] == "図表32-1" and "図表32-1" not in up
    rolled = compare_coders(p.store(), p.by_id, "hanako", "taro", roll_up=up)
    (c,) = rolled.per_code
    assert (c.code_id, c.both, c.kappa, rolled.disagreements) == ("図表32-1", 1, 1.0, [])
    res = CliRunner().invoke(cli, ["agreement", "--coder", "hanako", "--coder", "taro", "--roll-up", "finding", "--project", str(project)])
    assert res.exit_code == 0 and "Disagreements to discuss: 0" in res.output
