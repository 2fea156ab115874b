"""Codes × a case variable (coding/crosstab.py) on hand-built codings: counts, χ² and residuals
against scipy, the small-count warning, Fisher's exact test, the command line."""
from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from scipy.stats import chi2_contingency, fisher_exact
from scipy.stats.contingency import expected_freq

from cli import cli
from coding.aggregate import Corpus
from coding.codebook import load_codebook
from coding.crosstab import counts_frame, crosstab, fisher_2xk
from coding.store import Coding, record_decisions
from coding.transcripts import parse_transcript

from conftest import ROOT, transcript_text


@pytest.fixture(scope="module")
def cb():
    return load_codebook(ROOT / "codebook.yml")


def T(tid, kind, region="日本"):
    return parse_transcript(transcript_text("A: 共願。展示会。\n", id=tid, kind=kind, attribute=kind, region=region), Path(f"{tid}.md"))


def C(t, code, text="共願。"):
    start = t.body.index(text)
    return Coding(t.id, start, start + len(text), text, code, "accepted", "hanako")


def big_corpus(cb):
    """40 organisations in two kinds: 課題⑤ in 15 of 20 national, 5 of 20 private ones."""
    ts = [T(f"N{i:02d}", "国立大") for i in range(20)] + [T(f"P{i:02d}", "私立大") for i in range(20)]
    codings = [C(t, "課題⑤") for t in ts[:15]] + [C(t, "課題⑤") for t in ts[20:25]]
    return Corpus(ts, cb, codings)


def test_counts_and_chi2_agree_with_scipy(cb):
    ct = crosstab(big_corpus(cb), "kind", codes=["課題⑤"])
    row = ct["rows"][0]
    assert ct["values"] == ["国立大", "私立大"] and ct["totals"] == {"国立大": 20, "私立大": 20}
    assert row["counts"] == {"国立大": 15, "私立大": 5} and row["total"] == 20
    table = [[15, 5], [5, 15]]
    chi2, p, dof, _ = chi2_contingency(table, correction=False)
    assert (row["chi2"], row["p"], row["dof"]) == (round(chi2, 4), round(p, 4), dof) == (10.0, 0.0016, 1)
    assert row["warning"] == "" and ct["warnings"] == []


def test_residuals_are_scipys_expected_counts_standardised(cb):
    ts = ([T(f"N{i}", "国立大") for i in range(9)] + [T(f"P{i}", "私立大") for i in range(12)]
          + [T(f"K{i}", "工業大") for i in range(7)])
    codings = [C(t, "課題⑤") for t in ts[:7]] + [C(t, "課題⑤") for t in ts[9:12]] + [C(ts[21], "課題⑤")]
    row = crosstab(Corpus(ts, cb, codings), "kind", codes=["課題⑤"])["rows"][0]
    observed = [[7, 3, 1], [2, 9, 6]]
    e = expected_freq(observed)
    n, r = 28, 11
    cols = [9, 12, 7]
    for j, v in enumerate(["国立大", "私立大", "工業大"]):
        assert row["residuals"][v] == pytest.approx((observed[0][j] - e[0][j]) / math.sqrt(e[0][j]), abs=5e-4)
        adj = (observed[0][j] - e[0][j]) / math.sqrt(e[0][j] * (1 - r / n) * (1 - cols[j] / n))
        assert row["adjusted"][v] == pytest.approx(adj, abs=5e-4)
    # the squared residuals of both rows add up to scipy's χ²
    absent = sum(((observed[1][j] - e[1][j]) / math.sqrt(e[1][j])) ** 2 for j in range(3))
    chi2 = chi2_contingency(observed, correction=False)[0]
    assert sum(x ** 2 for x in row["residuals"].values()) + absent == pytest.approx(chi2, abs=5e-3)
    assert row["chi2"] == round(chi2, 4)


def test_small_expected_counts_warn_and_give_fishers_exact_p(cb):
    ts = [T(f"N{i}", "国立大") for i in range(4)] + [T(f"P{i}", "私立大") for i in range(4)]
    codings = [C(t, "課題⑤") for t in ts[:4]] + [C(ts[4], "課題⑤")]
    ct = crosstab(Corpus(ts, cb, codings), "kind", codes=["課題⑤"])
    row = ct["rows"][0]
    assert row["fisher_p"] == round(fisher_exact([[4, 1], [0, 3]]).pvalue, 4) == 0.1429
    assert row["fisher"] == "exact 2×2"
    assert row["warning"] == "4 of 4 expected counts are under 5 (smallest 1.50): χ² is unreliable; Fisher's exact p = 0.1429"
    assert ct["warnings"] == ["課題⑤: " + row["warning"]]


def brute_force_fisher(present, cols):
    """Freeman–Halton by enumerating every first row with the observed margins."""
    r, n = sum(present), sum(cols)

    def prob(xs):
        return math.prod(math.comb(c, x) for c, x in zip(cols, xs)) / math.comb(n, r)

    p_obs = prob(present)
    tables = [xs for xs in itertools.product(*[range(c + 1) for c in cols]) if sum(xs) == r]
    return sum(prob(xs) for xs in tables if prob(xs) <= p_obs * (1 + 1e-9))


@pytest.mark.parametrize("present, cols", [([1, 0, 2], [5, 6, 2]), ([4, 1, 3], [11, 10, 17]), ([0, 0, 3, 1], [3, 4, 3, 2])])
def test_exact_2xk_matches_enumeration(present, cols):
    assert fisher_2xk(present, cols) == pytest.approx(brute_force_fisher(present, cols), rel=1e-9)


def test_exact_2x2_matches_scipy():
    for a, b, c, d in [(4, 1, 0, 3), (7, 2, 3, 9), (0, 5, 5, 0)]:
        assert fisher_2xk([a, b], [a + c, b + d]) == pytest.approx(fisher_exact([[a, b], [c, d]]).pvalue, rel=1e-9)


def test_too_many_tables_give_no_exact_p():
    assert fisher_2xk([30, 30, 30, 30, 30], [60, 60, 60, 60, 60], limit=1000) is None


def test_a_finding_counts_for_its_theme_and_segments_count_codings(cb):
    a, b = T("A", "国立大"), T("B", "私立大")
    codings = [C(a, "図表32-1/日本"), C(a, "図表32-1", "展示会。"), C(b, "図表32-1")]
    corpus = Corpus([a, b], cb, codings)
    table, totals = counts_frame(corpus, "kind", codes=["図表32-1"])
    assert table.loc["図表32-1"].to_dict() == {"国立大": 1, "私立大": 1} and totals.to_dict() == {"国立大": 1, "私立大": 1}
    table, totals = counts_frame(corpus, "kind", codes=["図表32-1"], unit="segment")
    assert table.loc["図表32-1"].to_dict() == {"国立大": 2, "私立大": 1} and totals.to_dict() == {"国立大": 2, "私立大": 1}


def test_command_line_warns_on_stderr_for_csv(project, write):
    for i in range(3):
        write(f"n{i}.md", "A: 共願が多い。\n", id=f"N{i}", kind="国立大", attribute="国立大")
        write(f"p{i}.md", "A: 共願が多い。\n", id=f"P{i}", kind="私立大", attribute="私立大")
    from coding.project import Project

    p = Project.open(project)
    rows = [Coding(t, 3, 9, "共願が多い。", "課題⑤", "manual", "hanako") for t in ("N0", "N1", "N2", "P0")]
    record_decisions(project, "hanako", rows, p.by_id)
    res = CliRunner().invoke(cli, ["crosstab", "--by", "kind", "--code", "課題⑤", "--format", "csv", "--project", str(project)],
                             catch_exceptions=False)
    assert res.exit_code == 0
    # [[3, 1], [0, 2]]: χ² = N(ad - bc)² / (row and column totals) = 6·36 / (4·2·3·3) = 3.0
    assert res.stdout.splitlines()[1] == "課題⑤,日本企業との「共願」の慣行,3 (2.0),1 (2.0),4,3.000,0.0833,0.4000,+0.71,-0.71"
    assert res.stderr == ("warning: 課題⑤: 4 of 4 expected counts are under 5 (smallest 1.00): χ² is unreliable; "
                          "Fisher's exact p = 0.4000\n")


def test_a_variable_no_transcript_records_is_refused(project, write):
    write("n.md", "A: 共願が多い。\n", id="N0")
    res = CliRunner().invoke(cli, ["crosstab", "--by", "staf", "--project", str(project)])
    assert res.exit_code == 1
    assert "--by staf: no transcript has the variable 'staf' (variables: attribute, country, date, id, kind, org, region)" in res.output
