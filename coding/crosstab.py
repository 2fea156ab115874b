"""Codes × a case variable (KH Coder's コード×外部変数 table), built with pandas.

For each code, a 2 × k table — the cases (organisations, or coded segments) with and without the
code × the values of a front-matter variable — gives the counts, the expected counts, Pearson's
χ² with its p value, and per value the standardised residual (O − E)/√E and the adjusted
(Haberman) residual (O − E)/√(E(1 − row share)(1 − column share)) of the "with" row, which the
charts colour by.

χ² is unreliable when expected counts are small (Cochran: any expected count under 1, or more than
a fifth of the cells under 5). Such a code carries a ``warning``, and every table gets Fisher's
exact test where it applies: scipy's for a 2 × 2 table, and for a 2 × k table the
Freeman–Halton extension computed exactly here (every table with the observed margins is
enumerated, in integers) unless there are more than :data:`EXACT_LIMIT` of them. scipy's own
test for tables larger than 2 × 2 is a Monte Carlo estimate that changes from run to run, which a
report cannot cite.

The functions take any object with ``transcripts``, ``codebook`` and ``codings`` (the tables'
:class:`coding.aggregate.Corpus`) and return plain data; nothing here reads or writes files.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Literal, Sequence

from .errors import CodebookError, OptionError

MIN_EXPECTED = 5.0  # Cochran's rule: at most a fifth of the cells under this
EXACT_LIMIT = 200_000  # tables enumerated at most for an exact 2 × k test
NONE_VALUE = "(none)"  # a case without the variable
DEFAULT_KINDS = ("challenge", "practice", "theme")


def _value(t: Any, variable: str) -> str:
    return str(t.attributes.get(variable, "")) or NONE_VALUE


def default_codes(codebook: Any) -> list[str]:
    """The codes crossed when none are named: every codable challenge, practice and theme."""
    return [c.id for c in codebook.codes.values() if c.codable and c.kind in DEFAULT_KINDS]


def counts_frame(corpus: Any, variable: str, *, codes: Sequence[str] | None = None,
                 unit: Literal["transcript", "segment"] = "transcript"):
    """``(counts, totals)``: a DataFrame of codes (rows) × variable values (columns, in transcript
    order) and a Series of the cases per value.

    ``unit="transcript"`` counts organisations with the code; ``"segment"`` counts codings, the
    totals then being every coding per value. A coding counts for its code and every code above it
    (a finding counts for its theme)."""
    import pandas as pd

    cb = corpus.codebook
    if corpus.transcripts and not any(variable in t.attributes for t in corpus.transcripts):
        known = sorted({k for t in corpus.transcripts for k in t.attributes})
        raise OptionError(f"--by {variable}: no transcript has the variable '{variable}' (variables: {', '.join(known)})")
    codes = list(codes) if codes else default_codes(cb)
    unknown = [c for c in codes if c not in cb.codes]
    if unknown:
        raise CodebookError(f"unknown code(s): {', '.join(unknown)}")
    cases = pd.DataFrame({"transcript_id": [t.id for t in corpus.transcripts],
                          "value": [_value(t, variable) for t in corpus.transcripts]})
    values = list(dict.fromkeys(cases["value"]))
    value_of = dict(zip(cases["transcript_id"], cases["value"]))
    wanted = set(codes)
    rows = []
    for c in corpus.codings:
        if c.transcript_id not in value_of:
            continue
        for code in [c.code_id] + [a.id for a in cb.ancestors(c.code_id)]:
            if code in wanted:
                rows.append((c.transcript_id, code))
    coded = pd.DataFrame(rows, columns=["transcript_id", "code_id"])
    if unit == "transcript":
        coded = coded.drop_duplicates()
        totals = cases["value"].value_counts()
    else:
        totals = pd.Series([value_of[c.transcript_id] for c in corpus.codings if c.transcript_id in value_of],
                           dtype=object).value_counts()
    coded["value"] = coded["transcript_id"].map(value_of)
    table = pd.crosstab(coded["code_id"], coded["value"]) if len(coded) else pd.DataFrame()
    table = table.reindex(index=codes, columns=values, fill_value=0).fillna(0).astype(int)
    table.index.name, table.columns.name = "code_id", variable
    totals = totals.reindex(values, fill_value=0).astype(int)
    return table, totals


def crosstab(corpus: Any, variable: str, *, codes: Sequence[str] | None = None,
             unit: Literal["transcript", "segment"] = "transcript") -> dict[str, Any]:
    """Codes × ``variable``: per code the counts, expected counts, χ², residuals and, where it
    applies, Fisher's exact p; ``warnings`` name the codes whose expected counts are too small for
    χ² (see the module docstring). JSON-able."""
    cb = corpus.codebook
    table, totals = counts_frame(corpus, variable, codes=codes, unit=unit)
    values = [str(v) for v in table.columns]
    tot = {v: int(totals[v]) for v in values}
    rows, warnings = [], []
    for code_id, counts in table.iterrows():
        cnt = {v: int(counts[v]) for v in values}
        row = {"code_id": code_id, "label": cb[code_id].label, "ref": cb.effective_ref(code_id), "counts": cnt,
               "total": sum(cnt.values()), **two_by_k(cnt, tot)}
        if row["warning"]:
            warnings.append(f"{code_id}: {row['warning']}")
        rows.append(row)
    return {"variable": variable, "unit": unit, "values": values, "totals": tot, "rows": rows, "warnings": warnings}


def two_by_k(counts: dict[str, int], totals: dict[str, int]) -> dict[str, Any]:
    """χ² test of the 2 × k table with / without the code per value (values with no case left
    out), its expected counts and residuals, Cochran's check and Fisher's exact p."""
    vals = [v for v in totals if totals[v] > 0]
    present = [counts[v] for v in vals]
    absent = [max(totals[v] - counts[v], 0) for v in vals]
    n, r = sum(present) + sum(absent), sum(present)
    expected = {v: (totals[v] * r / n if n else 0.0) for v in vals}
    out: dict[str, Any] = {"expected": {v: round(e, 3) for v, e in expected.items()}, "chi2": None, "dof": None, "p": None,
                           "residuals": {}, "adjusted": {}, "fisher_p": None, "fisher": None, "warning": ""}
    if len(vals) < 2 or r == 0 or r == n:
        return out  # one column, or a row of zeros: nothing to test
    from scipy.stats import chi2_contingency

    chi2, p, dof, exp = chi2_contingency([present, absent], correction=False)
    out.update(chi2=round(float(chi2), 4), dof=int(dof), p=round(float(p), 4))
    for j, v in enumerate(vals):
        e = float(exp[0][j])
        out["residuals"][v] = round((present[j] - e) / math.sqrt(e), 3)
        out["adjusted"][v] = round((present[j] - e) / math.sqrt(e * (1 - r / n) * (1 - totals[v] / n)), 3)
    cells = [float(x) for x in exp.ravel()]
    small = sum(1 for e in cells if e < MIN_EXPECTED)
    if min(cells) < 1 or small > len(cells) / 5:
        out["warning"] = (f"{small} of {len(cells)} expected counts are under {MIN_EXPECTED:g} (smallest {min(cells):.2f}): "
                          "χ² is unreliable")
    if len(vals) == 2:
        from scipy.stats import fisher_exact

        out["fisher_p"], out["fisher"] = round(float(fisher_exact([present, absent]).pvalue), 4), "exact 2×2"
    else:
        exact = fisher_2xk(present, [totals[v] for v in vals])
        if exact is not None:
            out["fisher_p"], out["fisher"] = round(exact, 4), f"exact 2×{len(vals)} (Freeman–Halton)"
    if out["warning"]:
        out["warning"] += (f"; Fisher's exact p = {out['fisher_p']:.4f}" if out["fisher_p"] is not None else
                           "; too many tables for an exact test: merge values or cross with a variable of fewer values")
    return out


def fisher_2xk(present: Sequence[int], column_totals: Sequence[int], *, limit: int = EXACT_LIMIT) -> float | None:
    """Fisher's exact (Freeman–Halton) p of the 2 × k table with first row ``present`` and the
    given column totals: the probability, with every margin fixed, of a table no more probable
    than the observed one. None when more than ``limit`` tables would have to be enumerated."""
    cols = [int(c) for c in column_totals]
    r = int(sum(present))
    ways = [1] + [0] * r  # ways[s]: first rows of the columns so far summing to s (capped at limit + 1)
    for c in cols:
        prefix = [0]
        for w in ways:
            prefix.append(prefix[-1] + w)
        ways = [min(prefix[s + 1] - prefix[max(0, s - c)], limit + 1) for s in range(r + 1)]
    if ways[r] > limit:
        return None
    observed = math.prod(math.comb(c, x) for c, x in zip(cols, present))
    room = [sum(cols[j:]) for j in range(len(cols))] + [0]
    acc = 0

    def walk(j: int, left: int, weight: int) -> None:
        nonlocal acc
        if j == len(cols):
            if left == 0 and weight <= observed:
                acc += weight
            return
        for x in range(max(0, left - room[j + 1]), min(cols[j], left) + 1):
            walk(j + 1, left - x, weight * math.comb(cols[j], x))

    walk(0, r, 1)
    return float(Fraction(acc, math.comb(sum(cols), r)))
