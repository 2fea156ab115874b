"""Charts a researcher puts in a report, as PNG (Japanese labels in the IPAex Gothic font that
``matplotlib-fontja`` ships, as the network figure) and SVG (text drawn as outlines, so it
renders the same without the font).

* ``crosstab``: codes × a case variable as a heatmap or a bubble plot (KH Coder's 一覧 plot): the
  number in a cell is the count, the colour the standardised residual (O − E)/√E of the χ² test
  (red: more than expected, blue: fewer); a bubble's area is the share of the column's cases with
  the code. A code whose expected counts are too small for χ² is marked † and shows Fisher's p.
* ``regions``: code frequencies by region (organisations, or passages), as grouped bars.
* ``phases``: the phase table (phases × regions: passages or organisations) as grouped bars.
* ``words``: the most frequent content words (stacked by a variable's values when given).

A chart is built in two steps: a *spec* — plain data, every label a string in it, so the
anonymity guard can mask it before anything is drawn — and the drawing of that spec.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

from .aggregate import Corpus, phase_table, table_specs
from .anonymity import Guard
from .crosstab import crosstab
from .errors import OptionError
from .files import atomic_write_bytes
from .network_export import wrap_ja
from .project import Project, confirmed_codings
from .publish import check_strict
from .words import project_words

KINDS = ("crosstab", "regions", "phases", "words")
FORMATS = ("png", "svg")
DRAFT = "下書き（未レビューの提案を含む）"
BAR_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"]  # Okabe–Ito
FAMILIES = ("challenge", "practice", "theme", "case", "phase", "outcome")


# ---------------------------------------------------------------- specs (plain data)
def _code_label(row: Mapping[str, Any]) -> str:
    ref = row.get("ref") or row["code_id"]
    return f"{ref} {row['label']}" if row.get("label") and row["label"] != ref else str(ref)


def crosstab_spec(ct: Mapping[str, Any], *, style: Literal["heatmap", "bubble"] = "bubble", draft: bool = False) -> dict[str, Any]:
    """The matrix chart of a crosstab (:func:`coding.crosstab.crosstab`)."""
    values = list(ct["values"])
    rows = []
    for r in ct["rows"]:
        tested = r.get("fisher_p") if r.get("warning") else r.get("p")
        mark = "†" if r.get("warning") else ""
        shown = "" if tested is None else ("<0.001" if tested < 0.001 else f"={tested:.3f}")
        note = "" if tested is None else (f"Fisher p{shown}" if mark else f"χ² p{shown}")
        rows.append({"label": _code_label(r) + mark, "note": note,
                     "counts": [r["counts"][v] for v in values],
                     "shares": [r["counts"][v] / ct["totals"][v] if ct["totals"][v] else 0.0 for v in values],
                     "residuals": [(r.get("residuals") or {}).get(v) for v in values]})
    unit = "組織" if ct["unit"] == "transcript" else "コーディング"
    return {"type": "matrix", "style": style, "title": f"コード × {ct['variable']}（{unit}数）",
            "columns": [f"{v}\n(n={ct['totals'][v]})" for v in values], "rows": rows, "draft": draft,
            "caption": ("数字：" + unit + "数　色：標準化残差 (O−E)/√E" + ("　円の大きさ：列の" + unit + "に占める割合" if style == "bubble" else "")
                        + ("　†：期待度数が小さくχ²は不確か（Fisher の正確確率）" if any(r["label"].endswith("†") for r in rows) else ""))}


def regions_spec(ct: Mapping[str, Any], *, draft: bool = False) -> dict[str, Any]:
    """Grouped bars: for each code, its count in each region (a crosstab by region)."""
    values = list(ct["values"])
    unit = "組織" if ct["unit"] == "transcript" else "コーディング"
    return {"type": "bars", "title": f"地域別のコード出現（{unit}数）", "series": [f"{v} (n={ct['totals'][v]})" for v in values],
            "rows": [{"label": _code_label(r), "values": [r["counts"][v] for v in values]} for r in ct["rows"]],
            "xlabel": f"{unit}数", "draft": draft, "caption": ""}


def phases_spec(pt: Mapping[str, Any], *, measure: Literal["passages", "orgs"] = "passages", draft: bool = False) -> dict[str, Any]:
    """Grouped bars of the phase table: for each phase, its passages (or organisations) per region."""
    key = "n_passages" if measure == "passages" else "n_orgs"
    unit = "言及箇所" if measure == "passages" else "組織"
    return {"type": "bars", "title": f"{pt.get('title') or '交渉段階'}（{unit}数）", "series": list(pt["regions"]),
            "rows": [{"label": r["title"], "values": [r["regions"][reg][key] for reg in pt["regions"]]} for r in pt["rows"]],
            "xlabel": f"{unit}数", "draft": draft, "caption": ""}


def words_spec(rows: Sequence[Mapping[str, Any]], values: Sequence[str], *, variable: str | None, top: int) -> dict[str, Any]:
    """Bars of the most frequent words (stacked by the values of ``variable`` when given)."""
    series = list(values) if variable else ["出現回数"]
    return {"type": "bars", "stacked": bool(variable), "title": f"頻出語（上位 {top} 語）" + (f"：{variable}別" if variable else ""),
            "series": series, "rows": [{"label": r["word"], "values": [r["by"].get(v, 0) for v in values] if variable else [r["count"]]}
                                       for r in rows], "xlabel": "出現回数", "draft": False, "caption": ""}


# ---------------------------------------------------------------- drawing
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (registers IPAex Gothic as the default font)

    return plt


def _finish(fig, spec: Mapping[str, Any], fmt: str, dpi: int) -> bytes:
    if spec.get("caption"):  # below the tick labels (two lines: a value and its n)
        fig.axes[0].annotate(spec["caption"], xy=(0, 0), xycoords="axes fraction", xytext=(0, -46), textcoords="offset points",
                             ha="left", va="top", fontsize=8.5, color="#444444")
    if spec.get("draft"):
        fig.text(0.99, 0.995, DRAFT, ha="right", va="top", fontsize=10, color="#C00000")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white", bbox_inches="tight", pad_inches=0.25,
                **({"metadata": {"Date": None}} if fmt == "svg" else {}))
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def draw(spec: Mapping[str, Any], fmt: str = "png", *, dpi: int = 150) -> bytes:
    """The chart of ``spec`` as PNG or SVG bytes."""
    if fmt not in FORMATS:
        raise OptionError(f"unknown chart format '{fmt}' (choose from {', '.join(FORMATS)})")
    if spec["type"] == "matrix":
        return _matrix(spec, fmt, dpi)
    return _bars(spec, fmt, dpi)


def _matrix(spec: Mapping[str, Any], fmt: str, dpi: int) -> bytes:
    plt = _pyplot()
    from matplotlib.colors import TwoSlopeNorm

    rows, cols = spec["rows"], spec["columns"]
    labels = [wrap_ja(r["label"], 32) for r in rows]
    h = max(2.6, 0.48 * len(rows) + 1.8)
    w = max(5.5, 1.05 * len(cols) + 4.8)
    fig, ax = plt.subplots(figsize=(w, h))
    res = [[(x if x is not None else 0.0) for x in r["residuals"]] for r in rows]
    lim = max([abs(x) for row in res for x in row] + [2.0])
    norm = TwoSlopeNorm(vmin=-lim, vcenter=0.0, vmax=lim)
    cmap = plt.get_cmap("RdBu_r")
    ny, nx = len(rows), len(cols)
    if spec["style"] == "heatmap":
        im = ax.imshow(res or [[0.0]], cmap=cmap, norm=norm, aspect="auto")
        for i, r in enumerate(rows):
            for j, c in enumerate(r["counts"]):
                rv = r["residuals"][j]
                ax.text(j, i, f"{c}" + (f"\n({rv:+.1f})" if rv is not None else ""), ha="center", va="center", fontsize=9,
                        color="white" if rv is not None and abs(rv) > lim * 0.6 else "black")
    else:
        xs = [j for i in range(ny) for j in range(nx)]
        ys = [i for i in range(ny) for j in range(nx)]
        share = [rows[i]["shares"][j] for i in range(ny) for j in range(nx)]
        im = ax.scatter(xs, ys, s=[40 + 1400 * s for s in share], c=[res[i][j] for i in range(ny) for j in range(nx)],
                        cmap=cmap, norm=norm, edgecolors="#555555", linewidths=0.5)
        for i, r in enumerate(rows):
            for j, c in enumerate(r["counts"]):
                if c:
                    ax.text(j + 0.3, i - 0.28, str(c), ha="left", va="center", fontsize=8, color="#333333")
        ax.set_xlim(-0.6, nx - 0.4)
        ax.set_ylim(ny - 0.5, -0.5)
        ax.grid(True, color="#eeeeee", zorder=0)
        ax.set_axisbelow(True)
    ax.set_xticks(range(nx), [c for c in cols], fontsize=9)
    ax.set_yticks(range(ny), labels, fontsize=9)
    ax.tick_params(length=0)
    for i, r in enumerate(rows):
        if r.get("note"):
            ax.annotate(r["note"], xy=(1.01, 1 - (i + 0.5) / ny), xycoords="axes fraction", fontsize=7.5, va="center",
                        color="#444444")
    cb = fig.colorbar(im, ax=ax, shrink=0.6, pad=0.17 if any(r.get("note") for r in rows) else 0.04)
    cb.set_label("標準化残差", fontsize=9)
    ax.set_title(spec["title"], fontsize=12, pad=10)
    return _finish(fig, spec, fmt, dpi)


def _bars(spec: Mapping[str, Any], fmt: str, dpi: int) -> bytes:
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    rows, series = spec["rows"], spec["series"]
    stacked = bool(spec.get("stacked"))
    labels = [wrap_ja(r["label"], 32) for r in rows]
    k = max(len(series), 1)
    per = 0.32 if stacked else 0.26 * k
    fig, ax = plt.subplots(figsize=(9.0, max(2.6, per * len(rows) + 1.8)))
    height = 0.8 if stacked else 0.8 / k
    left = [0.0] * len(rows)
    for s, name in enumerate(series):
        vals = [float(r["values"][s]) for r in rows]
        ys = [i if stacked else i - 0.4 + height * (s + 0.5) for i in range(len(rows))]
        bars = ax.barh(ys, vals, height=height, left=left if stacked else None, color=BAR_COLOURS[s % len(BAR_COLOURS)],
                       label=name.replace("\n", " "))
        if not stacked:
            for b, v in zip(bars, vals):
                if v:
                    ax.text(b.get_width(), b.get_y() + b.get_height() / 2, f" {v:g}", va="center", fontsize=7.5)
        else:
            left = [a + v for a, v in zip(left, vals)]
    if stacked:
        for i, total in enumerate(left):
            ax.text(total, i, f" {total:g}", va="center", fontsize=7.5)
    ax.set_yticks(range(len(rows)), labels, fontsize=9)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(spec.get("xlabel", ""), fontsize=9)
    ax.xaxis.grid(True, color="#eeeeee")
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(series) > 1:  # beside the bars, never over them
        ax.legend(fontsize=8.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(spec["title"], fontsize=12, pad=10)
    return _finish(fig, spec, fmt, dpi)


# ---------------------------------------------------------------- the project's charts
@dataclass(frozen=True)
class ChartOutcome:
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. small expected counts


def chart_spec(p: Project, kind: str, *, by: str | None = None, codes: Sequence[str] = (), family: str = "challenge",
               unit: Literal["transcript", "segment"] = "transcript", style: Literal["heatmap", "bubble"] = "bubble",
               measure: Literal["passages", "orgs"] = "passages", top: int = 30, coders: Sequence[str] | None = None,
               include_suggested: bool = False) -> tuple[dict[str, Any], list[str]]:
    """The spec of one of the project's charts (see the module docstring) and its warnings."""
    if kind not in KINDS:
        raise OptionError(f"unknown chart '{kind}' (choose from {', '.join(KINDS)})")
    if kind == "words":
        wt = project_words(p, by=by, top=top, coders=coders, include_suggested=include_suggested)
        rows = [{"word": r.word, "count": r.count, "by": dict(r.by)} for r in wt.rows]
        return words_spec(rows, wt.values, variable=by, top=top), []
    corpus = Corpus(p.transcripts, p.codebook, confirmed_codings(p, coders=coders, include_suggested=include_suggested))
    if kind == "phases":
        spec = next((s for s in table_specs(p.codebook) if s.type == "phases"), None)
        if not p.codebook.of_kind("phase"):
            raise OptionError("the codebook has no phase codes (kind: phase) to chart")
        return phases_spec(phase_table(corpus, spec), measure=measure, draft=include_suggested), []
    if family not in FAMILIES:
        raise OptionError(f"--family {family}: choose from {', '.join(FAMILIES)}")
    chosen = list(codes) or [c.id for c in p.codebook.of_kind(family) if c.codable]
    if kind == "regions":
        ct = crosstab(corpus, "region", codes=chosen, unit=unit)
        return regions_spec(ct, draft=include_suggested), []
    if not by:
        raise OptionError("give the case variable to cross with, e.g. --by kind")
    ct = crosstab(corpus, by, codes=chosen, unit=unit)
    return crosstab_spec(ct, style=style, draft=include_suggested), list(ct["warnings"])


def chart_name(kind: str, by: str | None = None, style: str = "") -> str:
    """The file stem of a chart: ``crosstab-kind-bubble``, ``regions``, ``phases``, ``words-region``."""
    parts = [kind] + ([by] if by and kind in ("crosstab", "words") else []) + ([style] if kind == "crosstab" and style else [])
    return re.sub(r'[\\/:*?"<>|\s]+', "_", "-".join(parts))


def publish_chart(p: Project, guard: Guard, kind: str, *, formats: Sequence[str] | None = None, output: Path | None = None,
                  strict: bool = False, **options: Any) -> ChartOutcome:
    """Build a chart, mask its labels with the anonymity guard and write it as PNG and SVG into
    ``output`` (a folder, default ``outputs/charts``; a file when one format is given and
    ``output`` has that suffix)."""
    spec, warnings = chart_spec(p, kind, **options)
    spec = guard.apply_data(spec)
    if strict:
        check_strict(guard, "chart")
    formats = list(formats or FORMATS)
    single = output is not None and len(formats) == 1 and Path(output).suffix.lower() == "." + formats[0]
    files = []
    for f in formats:
        path = Path(output) if single else Path(output or p.outputs / "charts") / f"{chart_name(kind, options.get('by'), options.get('style', 'bubble'))}.{f}"
        atomic_write_bytes(path, draw(spec, f))
        files.append(path)
    return ChartOutcome(files, warnings)
