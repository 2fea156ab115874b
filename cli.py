"""Command line for coding Japanese hearing-survey notes. Run ``python cli.py --help``.

Each command resolves its arguments, calls one function of the ``coding`` library and prints the
result; errors a user can fix are shown as one located message, never a traceback.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from coding.errors import CodingError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def project_option(f):
    """Every command takes --project DIR (default: the current folder)."""

    @click.option(
        "--project", "-p", "project", default=".", show_default=True,
        type=click.Path(file_okay=False, path_type=Path), help="Project folder (codebook.yml, transcripts/).",
    )
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except CodingError as e:
            raise click.ClickException(f"{e}\n\nFix the file named above and run the command again.") from None

    return wrapper


@click.group(context_settings=CONTEXT)
def cli():
    """Code Japanese interview notes against a codebook, review the suggestions, and rebuild the
    report's tables and networks from the codings.

    Example: python cli.py run
    """


# ---------------------------------------------------------------- validate
@cli.command()
@project_option
def validate(project: Path):
    """Check the codebook, the transcripts and the stored decisions; list every problem.

    Exit status 1 when something must be fixed; warnings (a ref the report does not know, a
    stale decision) do not fail.

    Example: python cli.py validate --project my-study
    """
    from coding.project import validate_project

    rep = validate_project(project)
    for w in rep.warnings:
        click.echo(f"warning: {w}", err=True)
    if not rep.ok:
        for p in rep.problems:
            click.echo(f"error: {p}", err=True)
        click.echo(f"{len(rep.problems)} problem(s) to fix.", err=True)
        sys.exit(1)
    click.echo(f"ok: {rep.codes} codes, {rep.transcripts} transcripts" + (f", {len(rep.stale)} stale decision(s)" if rep.stale else ""))


# ---------------------------------------------------------------- code
@cli.command()
@project_option
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64), help="Processes for parsing.")
@click.option("--min-score", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Drop suggestions scored below this.")
def code(project: Path, jobs: int, min_score: float):
    """Tag every transcript with suggestions (coder 'auto'); decisions are never touched.

    Parses are cached in outputs/cache, so a re-run parses only new or edited transcripts, and a
    re-run with nothing changed does not load the model at all.

    Example: python cli.py code --jobs 2
    """
    _code(project, jobs=jobs, min_score=min_score)


def _code(project: Path, *, jobs: int = 1, min_score: float = 0.0):
    from coding.project import Project, code_project

    p = Project.open(project)
    with click.progressbar(length=len(p.transcripts), label="coding", file=sys.stderr, show_pos=True) as bar:
        res = code_project(p, jobs=jobs, min_score=min_score, progress=lambda t: bar.update(1))
    click.echo(
        f"{res.transcripts} transcripts ({res.parsed} parsed, {res.cached} from cache); "
        f"{res.suggestions} suggestions for {len(res.by_code)} codes; "
        f"{res.pending} pending review, {res.decisions} decisions"
        + (f", {res.moved} re-anchored" if res.moved else "")
        + (f", {res.stale} stale (run validate)" if res.stale else "")
    )
    click.echo(f"wrote {res.path}")
    return p


# ---------------------------------------------------------------- export / import
@cli.group(context_settings=CONTEXT)
def export():
    """Export codings (and, with their issues, review sheets and REFI-QDA projects).

    Example: python cli.py export codings --format csv -o codings.csv
    """


@export.command("codings")
@project_option
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@click.option("--coder", multiple=True, help="Only these coders (repeatable; 'auto' = suggestions).")
@click.option("--status", multiple=True, type=click.Choice(["suggested", "accepted", "rejected", "manual"]))
def export_codings_cmd(project: Path, fmt: str, output: Path | None, coder, status):
    """Write every coding as CSV with the columns transcript_id, start, end, text, code_id,
    code_ref, status, coder (FORMATS.md §3), then quote, score and pattern.

    Example: python cli.py export codings --format csv -o outputs/codings.csv
    """
    from coding.project import Project, export_codings
    from coding.store import atomic_write_text

    p = Project.open(project)
    text = export_codings(p, coders=list(coder) or None, statuses=list(status) or None)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
        click.echo(f"wrote {output} ({text.count(chr(10)) - 1} rows)")


@cli.group("import", context_settings=CONTEXT)
def import_():
    """Import decisions made elsewhere.

    Example: python cli.py import codings reviewed.csv --coder hanako
    """


@import_.command("codings")
@project_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--coder", help="Record every row as this coder's decision (default: the file's coder column).")
def import_codings_cmd(project: Path, file: Path, coder: str | None):
    """Merge decisions (accepted / rejected / manual) from a codings CSV into codings/<coder>.csv.

    Rows left as 'suggested' stay pending. A malformed file is refused whole, naming the row, and
    nothing changes.

    Example: python cli.py import codings reviewed.csv --coder hanako
    """
    from coding.project import Project, import_codings

    p = Project.open(project)
    res = import_codings(p, file, coder=coder)
    for c in res.added:
        click.echo(f"{c}: {res.added[c]} added, {res.changed[c]} changed")
    if res.skipped_suggested:
        click.echo(f"{res.skipped_suggested} row(s) still 'suggested' were left pending")
    for f in res.files:
        click.echo(f"wrote {f}")


# ---------------------------------------------------------------- run
@cli.command()
@project_option
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64))
def run(project: Path, jobs: int):
    """The main job: validate, code, then write the tables and the network to outputs/.

    Example: python cli.py run --project my-study
    """
    from coding.project import validate_project

    rep = validate_project(project)
    for w in rep.warnings:
        click.echo(f"warning: {w}", err=True)
    if not rep.ok:
        for pr in rep.problems:
            click.echo(f"error: {pr}", err=True)
        raise click.ClickException(f"{len(rep.problems)} problem(s); fix them and run again (see: python cli.py validate)")
    _code(project, jobs=jobs)
    for step in RUN_STEPS:
        step(project)


RUN_STEPS: list = []  # later stages (tables, network) append themselves


# ---------------------------------------------------------------- tables
@cli.command()
@project_option
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "xlsx", "html", "json"]), multiple=True,
              help="Format(s) to write (repeatable; default: all).")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Folder to write into (default: outputs/tables), or a file when one format is given.")
@click.option("--coder", multiple=True, help="Use only these coders' decisions (default: every person).")
@click.option("--include-suggested", is_flag=True, help="Draft: also count suggestions nobody has reviewed (marked DRAFT).")
def tables(project: Path, fmt, output: Path | None, coder, include_suggested: bool):
    """Rebuild the report's tables from the confirmed codings: rosters (図表3–5), comparison
    tables (図表32/33) with attribution notes, the challenge table with quotes (図表34) and the
    challenge–practice–case table (図表35).

    Example: python cli.py tables --format json -o outputs/tables/tables.json
    """
    _tables(project, formats=list(fmt) or None, output=output, coders=list(coder) or None, include_suggested=include_suggested)


def _tables(project: Path, *, formats=None, output: Path | None = None, coders=None, include_suggested: bool = False):
    from coding.export import FORMATS, write_tables
    from coding.project import Project, project_tables

    p = Project.open(project)
    data = project_tables(p, coders=coders, include_suggested=include_suggested)
    formats = formats or list(FORMATS)
    out_dir = output or p.outputs / "tables"
    single = output is not None and len(formats) == 1 and output.suffix
    if single:
        import tempfile

        with tempfile.TemporaryDirectory(dir=output.parent if output.parent.exists() else None) as tmp:
            files = write_tables(data, Path(tmp), formats)
            if len(files) != 1:
                raise click.ClickException(f"--format {formats[0]} writes {len(files)} files; give a folder with -o")
            output.parent.mkdir(parents=True, exist_ok=True)
            files[0].replace(output)
            files = [output]
    else:
        files = write_tables(data, out_dir, formats)
    if include_suggested:
        click.echo("DRAFT: these tables include unreviewed suggestions.")
    n_quotes = sum(len(r["quotes"]) for r in data["challenge_table"]["rows"])
    n_findings = sum(len(r[reg]) for t in data["comparison_tables"].values() for r in t["rows"] for reg in r if isinstance(r[reg], list))
    click.echo(f"{n_findings} comparison-table entries, {n_quotes} quotes; wrote {len(files)} file(s) to {files[0].parent if not single else output}")


RUN_STEPS.append(lambda project: _tables(project))


@cli.command()
@project_option
@click.option("--by", "variable", required=True, help="Case variable (front-matter key), e.g. kind, region, attribute.")
@click.option("--code", "codes", multiple=True, help="Codes to cross (repeatable; default: challenges, practices, themes).")
@click.option("--unit", type=click.Choice(["transcript", "segment"]), default="transcript", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@click.option("--coder", multiple=True, help="Use only these coders' decisions.")
@click.option("--include-suggested", is_flag=True, help="Draft: also count unreviewed suggestions.")
def crosstab(project: Path, variable: str, codes, unit: str, fmt: str, output: Path | None, coder, include_suggested: bool):
    """Cross codes with a case variable: counts (expected counts in brackets) and a χ² test per code.

    Example: python cli.py crosstab --by kind --code 課題① --code 課題⑤
    """
    import csv as _csv
    import io
    import json

    from coding.export import crosstab_rows
    from coding.project import Project, project_crosstab
    from coding.store import atomic_write_text

    p = Project.open(project)
    ct = project_crosstab(p, variable, codes=list(codes) or None, unit=unit, coders=list(coder) or None,
                          include_suggested=include_suggested)
    if fmt == "json":
        text = json.dumps(ct, ensure_ascii=False, indent=2) + "\n"
    else:
        header, rows = crosstab_rows(ct)
        if fmt == "csv":
            buf = io.StringIO()
            w = _csv.writer(buf, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
            text = buf.getvalue()
        else:
            text = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
            text += "".join("| " + " | ".join(r) + " |\n" for r in rows)
            text += f"\nunit: {unit}; cells: count (expected count); χ² per code over has/has-not × {variable}.\n"
    if output:
        atomic_write_text(output, text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


if __name__ == "__main__":
    cli()
