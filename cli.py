"""Command line for coding Japanese hearing-survey notes. Run ``python cli.py --help``.

Each command resolves its arguments, calls one function of the ``coding`` library and prints the
result; errors a user can fix are shown as one located message, never a traceback.
"""
from __future__ import annotations

import contextlib
import functools
import json
import sys
from pathlib import Path

import click

from coding.errors import CodingError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# ---------------------------------------------------------------- shared options
def project_option(lock: bool = True):
    """``--project DIR`` (default: the current folder); with ``lock``, the command holds the
    project's lock while it runs. Domain errors become one friendly message."""

    def deco(f):
        @click.option("--project", "-p", "project", default=".", show_default=True,
                      type=click.Path(file_okay=False, path_type=Path), help="Project folder (codebook.yml, transcripts/).")
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            from coding.lock import ProjectLock

            held = ProjectLock(kwargs["project"], what=" ".join(sys.argv[1:3]) or f.__name__) if lock else contextlib.nullcontext()
            try:
                with held:
                    return f(*args, **kwargs)
            except CodingError as e:
                raise click.ClickException(f"{e}\n\nFix what is named above and run the command again.") from None

        return wrapper

    return deco


def coders_option(help: str = "Use only these coders' decisions (repeatable; default: every person).", **kw):
    return click.option("--coder", "coders", multiple=True, help=help, **kw)


strict_option = click.option("--strict", is_flag=True,
                             help="Refuse to write anything that would carry a real name, instead of masking it.")
include_suggested_option = click.option("--include-suggested", is_flag=True,
                                        help="Draft: also count suggestions nobody has reviewed (marked DRAFT).")
jobs_option = click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64), help="Processes to use.")
lang_option = click.option("--lang", type=click.Choice(["ja", "en"]),
                           help="Language of what people read: ja (Japanese) or en (default: the codebook's lang, else ja).")


def output_option(help: str = "File to write (default: stdout).", **kw):
    return click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help=help, **kw)


def write_or_echo(text: str, output: Path | None, *, bom: bool = False) -> None:
    from coding.files import atomic_write_text

    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text, bom=bom)
        click.echo(f"wrote {output}")


class Progress:
    """A progress bar on a terminal; on a pipe or a log file, one line when the step ends."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.done = label, total, 0
        self.tty = sys.stderr.isatty()
        self.bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True) if self.tty else None

    def __enter__(self) -> "Progress":
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def update(self, *_) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
        elif not exc[0]:
            click.echo(f"{self.label}: {self.done}/{self.total}", err=True)


@click.group(context_settings=CONTEXT)
def cli():
    """Code Japanese interview notes against a codebook, review the suggestions, and rebuild the
    study's tables and networks from the codings.

    Example: python cli.py run
    """


# ---------------------------------------------------------------- init
@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--from-sample", is_flag=True,
              help="Start from the sample report's codebook (its codes, patterns, tables and learned suggester) "
                   "instead of a small commented skeleton.")
def init(folder: Path, from_sample: bool):
    """Start a study in FOLDER (new or empty): a codebook, an example transcript, anonymity.yml,
    and a README and FORMATS.md that describe the study's files.

    Example: python cli.py init ../my-study
             python cli.py init ../my-study --from-sample
    """
    from coding.study import init_study

    try:
        res = init_study(folder, from_sample=from_sample)
    except CodingError as e:
        raise click.ClickException(str(e)) from None
    for f in res.files:
        click.echo(f"wrote {f}")
    me = Path(__file__).resolve()
    click.echo(f"\nNext: put your notes in {folder / 'transcripts'} (Word files: import notes), then\n"
               f"  python {me} validate --project {folder}\n"
               f"  python {me} code --project {folder}\n"
               f"  python {me} export review --coder YOUR_NAME -o review.xlsx --project {folder}\n"
               f"  python {me} run --project {folder}")


# ---------------------------------------------------------------- validate
@cli.command()
@project_option()
@click.option("--no-names", is_flag=True, help="Skip the search for real names (no NER model load).")
@jobs_option
def validate(project: Path, no_names: bool, jobs: int):
    """Check the codebook, the transcripts and the stored decisions; list every problem, and every
    real institution, company or person the notes name (masked in published outputs).

    Exit status 1 when something must be fixed; warnings (a ref the report does not know, a
    pattern that can never match, a stale decision, a file in transcripts/ that is not read) and
    names do not fail.

    Example: python cli.py validate --project my-study
    """
    from coding.project import validate_project

    rep = validate_project(project, names=not no_names, jobs=jobs)
    _print_validation(rep)
    if not rep.ok:
        sys.exit(1)
    click.echo(f"ok: {rep.codes} codes, {rep.transcripts} transcripts" + (f", {len(rep.stale)} stale decision(s)" if rep.stale else "")
               + (f", {len(rep.names)} real name(s) to mask" if rep.names else ""))


def _print_validation(rep) -> None:
    for w in rep.warnings:
        click.echo(f"warning: {w}", err=True)
    for f in rep.names:
        click.echo(f"name: {f}", err=True)
    for p in rep.problems:
        click.echo(f"error: {p}", err=True)
    if rep.problems:
        click.echo(f"{len(rep.problems)} problem(s) to fix.", err=True)


# ---------------------------------------------------------------- code
@cli.command()
@project_option()
@jobs_option
@click.option("--min-score", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Drop suggestions scored below this.")
@click.option("--prune", is_flag=True, help="Afterwards delete cache files no longer used (old transcript texts, old patterns, old settings).")
def code(project: Path, jobs: int, min_score: float, prune: bool):
    """Tag every transcript with suggestions (coder 'auto'); decisions are never touched.

    Parses are cached in outputs/cache, so a re-run parses only new or edited transcripts, and a
    re-run with nothing changed does not load the model at all.

    Example: python cli.py code --jobs 2
             python cli.py code --prune      # and delete cache files of old texts and patterns
    """
    from coding.project import Project, code_project, prune_cache

    p = Project.open(project)
    with Progress("coding", len(p.transcripts)) as bar:
        res = code_project(p, jobs=jobs, min_score=min_score, progress=bar.update)
    _print_code(res)
    if prune:
        pr = prune_cache(p)
        click.echo(f"pruned the cache: {pr.removed} old file(s) removed ({pr.freed / 2**20:.1f} MiB), {pr.kept} in use kept")


def _print_code(res) -> None:
    for w in res.warnings:
        click.echo(f"warning: {w}", err=True)
    for n in res.notes:
        click.echo(f"note: {n}", err=True)
    click.echo(
        f"{res.transcripts} transcripts ({res.parsed} parsed, {res.cached} from cache); "
        f"{res.suggestions} suggestions for {len(res.by_code)} codes ({res.source}); "
        f"{res.pending} pending review, {res.decisions} decisions"
        + (f", {res.moved} re-anchored" if res.moved else "")
        + (f", {res.recheck} to re-check after an edit (run validate)" if res.recheck else "")
        + (f", {res.stale} stale (run validate)" if res.stale else "")
    )
    click.echo(f"wrote {res.path}")


# ---------------------------------------------------------------- run
@cli.command()
@project_option()
@jobs_option
@strict_option
def run(project: Path, jobs: int, strict: bool):
    """The main job: validate, code, then write the tables, the network and (once a case code is
    coded) the case sheets to outputs/.

    Every published output passes the anonymity guard (real names → pseudonym or 〇〇).

    Example: python cli.py run --project my-study
    """
    from coding.pipeline import run as run_pipeline

    bars: dict[str, Progress] = {}

    def progress(step: str, t) -> None:
        if step not in bars:
            from coding.transcripts import transcript_files

            bars[step] = Progress("names" if step == "names" else "coding", len(transcript_files(project / "transcripts"))).__enter__()
        bars[step].update()

    def report(step: str, result) -> None:
        if step in ("validate", "code") and ("names" if step == "validate" else "code") in bars:
            bars.pop("names" if step == "validate" else "code").__exit__(None, None, None)
        if step == "validate":
            _print_validation(result)
        elif step == "code":
            _print_code(result)
        elif step == "tables":
            _print_tables(result)
        elif step == "cases":
            if result.sheets:
                for n in result.notes:
                    click.echo(f"note: {n}", err=True)
                click.echo(f"{len(result.sheets)} case sheet(s); wrote {len(result.files)} file(s) to {result.folder}")
            else:
                click.echo("case sheets: none yet (no case code is coded)")
        else:
            click.echo(result.summary, nl=False)
            click.echo(f"wrote {len(result.files)} file(s) to {result.folder}: " + ", ".join(f.name for f in result.files))

    res = run_pipeline(project, jobs=jobs, strict=strict, report=report, progress=progress)
    click.echo(res.guard_summary)


# ---------------------------------------------------------------- tables
@cli.command()
@project_option()
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "xlsx", "html", "json"]), multiple=True,
              help="Format(s) to write (repeatable; default: all).")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Folder to write into (default: outputs/tables), or a file when one format is given.")
@coders_option()
@include_suggested_option
@strict_option
@click.option("--drop-empty", is_flag=True,
              help="Leave out rows nobody's codings fill (all '-'): themes, challenges, practices, phases, organisations.")
@click.option("--csv-bom/--no-csv-bom", default=True, show_default=True,
              help="CSV files start with a UTF-8 byte-order mark, which Excel needs to read Japanese (--no-csv-bom: plain UTF-8).")
def tables(project: Path, fmt, output: Path | None, coders, include_suggested: bool, strict: bool, drop_empty: bool,
           csv_bom: bool):
    """Rebuild the study's tables from the confirmed codings: rosters, comparison matrices of
    themes × regions with attribution notes, the challenge table with quotes, the
    challenge–practice–case table and the phase table, as the codebook's tables: section says.
    tables.html is laid out to print into a report (A4 landscape, the Japanese font inside).

    Example: python cli.py tables --format json -o outputs/tables/tables.json
    """
    from coding.project import Project, project_guard
    from coding.publish import publish_tables

    p = Project.open(project)
    guard = project_guard(p)
    res = publish_tables(p, guard, formats=list(fmt) or None, output=output, coders=list(coders) or None,
                         include_suggested=include_suggested, strict=strict, drop_empty=drop_empty, csv_bom=csv_bom)
    click.echo(guard.summary())
    _print_tables(res)


def _print_tables(res) -> None:
    for n in res.notes:
        click.echo(f"note: {n}", err=True)
    if res.draft:
        click.echo("DRAFT: these tables include unreviewed suggestions.")
    click.echo(f"{res.findings} comparison-table entries, {res.quotes} quotes; wrote {len(res.files)} file(s) to {res.folder}")


@cli.command()
@project_option(lock=False)
@click.option("--by", "variable", required=True, help="Case variable (front-matter key), e.g. kind, region, attribute.")
@click.option("--code", "codes", multiple=True, help="Codes to cross (repeatable; default: challenges, practices, themes).")
@click.option("--unit", type=click.Choice(["transcript", "segment"]), default="transcript", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json"]), default="md", show_default=True)
@output_option()
@coders_option()
@include_suggested_option
def crosstab(project: Path, variable: str, codes, unit: str, fmt: str, output: Path | None, coders, include_suggested: bool):
    """Cross codes with a case variable: counts (expected counts in brackets) and a χ² test per code.

    Example: python cli.py crosstab --by kind --code 課題① --code 課題⑤
    """
    from coding.export import crosstab_text
    from coding.project import Project, project_crosstab

    p = Project.open(project)
    ct = project_crosstab(p, variable, codes=list(codes) or None, unit=unit, coders=list(coders) or None,
                          include_suggested=include_suggested)
    write_or_echo(crosstab_text(ct, fmt), output, bom=fmt == "csv")  # a CSV file for Excel: with a BOM
    if fmt != "md" or output is not None:  # Markdown on the terminal already lists them
        for w in ct["warnings"]:
            click.echo(f"warning: {w}", err=True)


# ---------------------------------------------------------------- explore: kwic, words, charts
where_option = click.option("--where", multiple=True, metavar="KEY=VALUE",
                            help="Only transcripts whose front matter has this value (repeatable; KEY=V1,V2 for either, KEY!=V to leave out).")
within_option = click.option("--code", "codes", multiple=True, help="Only inside passages coded with this code or a code under it (repeatable).")
interviewer_option = click.option("--interviewer", is_flag=True, help="Also read the interviewer's turns and the memos the tagger skips.")


@cli.command()
@project_option(lock=False)
@click.argument("words", nargs=-1, required=True)
@where_option
@within_option
@click.option("--sort", type=click.Choice(["position", "left", "right"]), default="position", show_default=True,
              help="Text order, or by the words right before (left) or after (right) the occurrence.")
@click.option("--context", default=20, show_default=True, type=click.IntRange(1, 500), help="Characters of context on each side.")
@interviewer_option
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "html"]), default="text", show_default=True)
@output_option()
@coders_option()
@include_suggested_option
@jobs_option
def kwic(project: Path, words, where, codes, sort: str, context: int, interviewer: bool, fmt: str, output: Path | None,
         coders, include_suggested: bool, jobs: int):
    """Keyword in context: every occurrence of WORDS in the notes with the words around it, found
    in Sudachi's normalised forms as well as the text as written (ロイヤルティ finds ロイヤリティ).

    The lines quote the notes as they are (a working view, not a published output).

    Example: python cli.py kwic 料率 ロイヤルティ --where region=日本 --sort left
    """
    from coding.kwic import project_kwic, render
    from coding.project import Project

    p = Project.open(project)
    res = project_kwic(p, list(words), where=list(where), codes=list(codes), context=context, sort=sort,
                       interviewer=interviewer, coders=list(coders) or None, include_suggested=include_suggested, jobs=jobs)
    write_or_echo(render(res, fmt, context=context), output)


@cli.command()
@project_option(lock=False)
@click.option("--top", default=50, show_default=True, type=click.IntRange(1), help="The N most frequent words.")
@click.option("--by", "variable", help="Also count per value of this case variable (front-matter key), e.g. region.")
@where_option
@within_option
@click.option("--pos", multiple=True, help="Universal POS of content words (repeatable; default: NOUN PROPN VERB ADJ).")
@click.option("--stop", multiple=True, help="A stop word to leave out, besides the built-in list (repeatable).")
@click.option("--stop-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Stop words, one a line (UTF-8).")
@interviewer_option
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json"]), default="md", show_default=True)
@output_option()
@coders_option()
@include_suggested_option
@jobs_option
def words(project: Path, top: int, variable: str | None, where, codes, pos, stop, stop_file: Path | None, interviewer: bool,
          fmt: str, output: Path | None, coders, include_suggested: bool, jobs: int):
    """Word frequencies: the most frequent content words of the notes (Sudachi's normalised forms,
    stop words left out), with the number of interviews they occur in, overall and by a variable.

    Example: python cli.py words --top 30 --by region --format csv -o words.csv
    """
    from coding.project import Project
    from coding.words import DEFAULT_POS, DEFAULT_STOP, project_words, read_stop_words, render

    extra = list(stop) + (read_stop_words(stop_file) if stop_file is not None else [])
    p = Project.open(project)
    wt = project_words(p, by=variable, top=top, where=list(where), codes=list(codes), pos=list(pos) or DEFAULT_POS,
                       stop=list(DEFAULT_STOP) + extra, interviewer=interviewer, coders=list(coders) or None,
                       include_suggested=include_suggested, jobs=jobs)
    write_or_echo(render(wt, fmt), output)


@cli.group(context_settings=CONTEXT)
def chart():
    """Charts for a report, as PNG (Japanese labels) and SVG, in outputs/charts/: codes × a case
    variable (heatmap or bubble plot with standardised residuals), codes by region, the phase
    table, frequent words. Every label passes the anonymity guard.

    Example: python cli.py chart crosstab --by kind --style bubble
    """


def chart_options(f):
    for deco in reversed([
        project_option(),
        click.option("--format", "fmt", multiple=True, type=click.Choice(["png", "svg"]), help="Format(s) (repeatable; default: both)."),
        click.option("-o", "--output", type=click.Path(path_type=Path),
                     help="Folder to write into (default: outputs/charts), or the file when one format is given."),
        coders_option(), include_suggested_option, strict_option,
    ]):
        f = deco(f)
    return f


def _publish_chart(project: Path, kind: str, fmt, output: Path | None, coders, include_suggested: bool, strict: bool, **options):
    from coding.charts import publish_chart
    from coding.project import Project, project_guard

    p = Project.open(project)
    guard = project_guard(p)
    res = publish_chart(p, guard, kind, formats=list(fmt) or None, output=output, strict=strict,
                        coders=list(coders) or None, include_suggested=include_suggested, **options)
    click.echo(guard.summary())
    for w in res.warnings:
        click.echo(f"warning: {w}", err=True)
    for f in res.files:
        click.echo(f"wrote {f}")


@chart.command("crosstab")
@click.option("--by", "variable", required=True, help="Case variable (front-matter key), e.g. kind, region.")
@click.option("--code", "codes", multiple=True, help="Codes to show (repeatable; default: the --family's codes).")
@click.option("--family", default="challenge", show_default=True,
              type=click.Choice(["challenge", "practice", "theme", "case", "phase", "outcome"]))
@click.option("--unit", type=click.Choice(["transcript", "segment"]), default="transcript", show_default=True)
@click.option("--style", type=click.Choice(["bubble", "heatmap"]), default="bubble", show_default=True)
@chart_options
def chart_crosstab_cmd(project: Path, variable: str, codes, family: str, unit: str, style: str, fmt, output, coders,
                       include_suggested: bool, strict: bool):
    """Codes × a case variable as a bubble plot or heatmap (KH Coder's 一覧 plot): counts, coloured
    by the standardised residual of the χ² test; † marks codes whose expected counts are too small
    for χ² (Fisher's exact p shown instead).

    Example: python cli.py chart crosstab --by kind --family challenge --style heatmap
    """
    _publish_chart(project, "crosstab", fmt, output, coders, include_suggested, strict, by=variable, codes=list(codes),
                   family=family, unit=unit, style=style)


@chart.command("regions")
@click.option("--code", "codes", multiple=True, help="Codes to show (repeatable; default: the --family's codes).")
@click.option("--family", default="challenge", show_default=True,
              type=click.Choice(["challenge", "practice", "theme", "case", "phase", "outcome"]))
@click.option("--unit", type=click.Choice(["transcript", "segment"]), default="transcript", show_default=True,
              help="Count organisations with the code, or codings.")
@chart_options
def chart_regions_cmd(project: Path, codes, family: str, unit: str, fmt, output, coders, include_suggested: bool, strict: bool):
    """Code frequencies by region as grouped bars (organisations with the code, or codings).

    Example: python cli.py chart regions --family practice
    """
    _publish_chart(project, "regions", fmt, output, coders, include_suggested, strict, codes=list(codes), family=family, unit=unit)


@chart.command("phases")
@click.option("--measure", type=click.Choice(["passages", "orgs"]), default="passages", show_default=True,
              help="Passages per phase and region, or organisations.")
@chart_options
def chart_phases_cmd(project: Path, measure: str, fmt, output, coders, include_suggested: bool, strict: bool):
    """The phase table (phases × regions) as grouped bars.

    Example: python cli.py chart phases --measure orgs
    """
    _publish_chart(project, "phases", fmt, output, coders, include_suggested, strict, measure=measure)


@chart.command("words")
@click.option("--top", default=30, show_default=True, type=click.IntRange(1), help="The N most frequent words.")
@click.option("--by", "variable", help="Stack the bars by the values of this case variable.")
@chart_options
def chart_words_cmd(project: Path, top: int, variable: str | None, fmt, output, coders, include_suggested: bool, strict: bool):
    """The most frequent content words as bars (stacked by a variable's values with --by).

    Example: python cli.py chart words --top 30 --by region
    """
    _publish_chart(project, "words", fmt, output, coders, include_suggested, strict, top=top, by=variable)


# ---------------------------------------------------------------- cases
@cli.command()
@project_option()
@click.option("--format", "fmt", type=click.Choice(["md", "html", "docx"]), multiple=True,
              help="Format(s) to write (repeatable; default: all).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), help="Folder to write into (default: outputs/cases).")
@coders_option()
@include_suggested_option
@strict_option
def cases(project: Path, fmt, output: Path | None, coders, include_suggested: bool, strict: bool):
    """The 事例集: one sheet per case code — 大学基礎情報 from the case organisation's front matter,
    背景課題 (the challenge the case answers, with a coded quote and its attribution note), the
    passages coded to the case and its practice as 施策, and those coded as outcomes as 成果 — in
    Markdown (a file per case and index.md), HTML and Word (.docx). Every sheet passes the
    anonymity guard.

    Example: python cli.py cases --format docx -o outputs/cases
    """
    from coding.cases import publish_cases
    from coding.project import Project, project_guard

    p = Project.open(project)
    guard = project_guard(p)
    res = publish_cases(p, guard, formats=list(fmt) or None, output=output, coders=list(coders) or None,
                        include_suggested=include_suggested, strict=strict)
    click.echo(guard.summary())
    for n in res.notes:
        click.echo(f"note: {n}", err=True)
    if res.draft:
        click.echo("DRAFT: these sheets include unreviewed suggestions.")
    click.echo(f"{len(res.sheets)} case sheet(s); wrote {len(res.files)} file(s) to {res.folder}")


# ---------------------------------------------------------------- network
@cli.command()
@project_option()
@click.option("--kind", type=click.Choice(["challenge-practice", "cooccurrence"]), default="challenge-practice", show_default=True,
              help="challenge-practice: challenges, practices and cases with evidence and declared links; "
                   "cooccurrence: KH Coder's code co-occurrence network of --family codes.")
@click.option("--window", type=click.Choice(["segment", "paragraph", "interview"]), default="paragraph", show_default=True,
              help="Two codes co-occur when coded in the same sentence, paragraph or interview.")
@click.option("--family", "families", multiple=True, type=click.Choice(["phase", "theme", "challenge", "practice", "case"]),
              help="Code families of the co-occurrence network (repeatable; default: theme = themes and findings).")
@click.option("--orgs", "include_orgs", is_flag=True, help="Challenge–practice network: add a node per organisation.")
@click.option("--weight-by", type=click.Choice(["windows", "orgs"]), default="windows", show_default=True,
              help="Evidence weight (GraphML 'weight'): co-occurring windows or distinct organisations.")
@click.option("--min-weight", default=1.0, show_default=True, type=click.FloatRange(0), help="Drop evidence edges lighter than this.")
@click.option("--top", type=click.IntRange(0), help="Keep only the N evidence edges with the highest Jaccard (KH Coder draws 60).")
@click.option("--community", type=click.Choice(["louvain", "greedy"]), default="louvain", show_default=True)
@click.option("--format", "fmt", multiple=True, type=click.Choice(["graphml", "gexf", "json", "png", "html", "txt"]),
              help="Format(s) to write (repeatable; default: all).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), help="Folder to write into (default: outputs/network).")
@coders_option()
@include_suggested_option
@strict_option
def network(project: Path, kind: str, window: str, families, include_orgs: bool, weight_by: str, min_weight: float,
            top: int | None, community: str, fmt, output: Path | None, coders, include_suggested: bool, strict: bool):
    """Build the challenge–practice network (or a code co-occurrence network) from the confirmed
    codings, with communities and centralities, and write it for Gephi (GraphML, GEXF), as
    node-link JSON, as a PNG figure, as an offline HTML page (hover for the quotes behind a node or
    a line, filter by region and line kind) and as a short text summary.

    Example: python cli.py network --window interview -o outputs/network
    """
    from coding.project import Project, project_guard
    from coding.publish import publish_network

    p = Project.open(project)
    guard = project_guard(p)
    res = publish_network(p, guard, kind=kind, window=window, families=tuple(families) or ("theme",), include_orgs=include_orgs,
                          weight_by=weight_by, min_weight=min_weight, top=top, community=community,
                          formats=list(fmt) or None, output=output, coders=list(coders) or None,
                          include_suggested=include_suggested, strict=strict)
    click.echo(guard.summary())
    click.echo(res.summary, nl=False)
    click.echo(f"wrote {len(res.files)} file(s) to {res.folder}: " + ", ".join(f.name for f in res.files))


# ---------------------------------------------------------------- export / import
@cli.group(context_settings=CONTEXT)
def export():
    """Export codings, review sheets, REFI-QDA projects and KH Coder files.

    Example: python cli.py export codings --format csv -o codings.csv
    """


@cli.group("import", context_settings=CONTEXT)
def import_():
    """Import notes (Word, text) as transcripts, decisions made elsewhere, or KH Coder coding rules.

    Example: python cli.py import codings reviewed.csv --coder hanako
    """


@export.command("codings")
@project_option(lock=False)
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@output_option()
@coders_option("Only these coders (repeatable; 'auto' = suggestions).")
@click.option("--status", multiple=True, type=click.Choice(["suggested", "accepted", "rejected", "manual"]))
def export_codings_cmd(project: Path, fmt: str, output: Path | None, coders, status):
    """Write every coding as CSV with the columns transcript_id, start, end, text, code_id,
    code_ref, status, coder (docs/formats.md), then quote, score and pattern.

    Example: python cli.py export codings --format csv -o codings.csv
    """
    from coding.project import Project, export_codings

    p = Project.open(project)
    text = export_codings(p, coders=list(coders) or None, statuses=list(status) or None)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_or_echo(text, output)
        click.echo(f"{text.count(chr(10)) - 1} rows")


@import_.command("notes")
@project_option()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "tid", help="The transcript's id (default: the file name).")
@click.option("--org", help="The organisation's published (pseudonymised) name, e.g. A大学.")
@click.option("--region", help="One of the codebook's regions.")
@click.option("--country", help="e.g. 日本, 米国, 英国.")
@click.option("--kind", help="Kind of organisation, e.g. 国立大, 私立大, 技術移転機関.")
@click.option("--attribute", help="The label in attribution notes, e.g. 国立大, 豪州の技術移転機関.")
@click.option("--group", help="The roster group (optional).")
@click.option("--date", help="Interview date, e.g. 2026-01-15 (optional).")
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE", help="Any further case variable (repeatable).")
@click.option("--cases", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A CSV of attributes for many files: a 'file' column and one column per attribute.")
@click.option("--force", is_flag=True, help="Replace a transcript of the same id made by an earlier import.")
def import_notes_cmd(project: Path, files, tid, org, region, country, kind, attribute, group, date, variables, cases, force):
    """Turn Word (.docx) or text (.txt) interview notes into transcripts: paragraphs kept, Q/A
    marks (Q．, 質問：, 回答） …) made the Q:/A: tags the tagger reads, and the case attributes
    written as front matter. Every file is checked first; on any problem nothing is written.

    Example: python cli.py import notes memo.docx --id JP-01 --org A大学 --region 日本 --kind 国立大 --attribute 国立大
             python cli.py import notes notes/*.docx --cases cases.csv
    """
    from coding.study import import_notes

    attrs = {"id": tid, "org": org, "region": region, "country": country, "kind": kind, "attribute": attribute,
             "group": group, "date": date}
    for v in variables:
        key, sep, value = v.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--var {v}: write KEY=VALUE")
        attrs[key.strip()] = value.strip()
    done = import_notes(project, list(files), attributes=attrs, cases=cases, force=force)
    for n in done:
        click.echo(f"wrote {n.path} ({n.paragraphs} paragraphs, from {n.source.name})")


@import_.command("codings")
@project_option()
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


# ---------------------------------------------------------------- review
@export.command("review")
@project_option(lock=False)
@click.option("--format", "fmt", type=click.Choice(["xlsx"]), default="xlsx", show_default=True)
@output_option("Workbook to write.", default=Path("review.xlsx"), show_default=True)
@click.option("--coder", help="Only suggestions this person has not decided yet, after this person's decisions to "
                               "re-check (default: the suggestions nobody decided).")
@click.option("--compare", multiple=True, help="Instead: the disagreements of these two coders, for adjudication (give twice).")
@click.option("--transcript", "transcripts", multiple=True, help="Only these transcripts (repeatable).")
@click.option("--sort", type=click.Choice(["score", "position"]), default="score", show_default=True,
              help="Order of the rows: most confident suggestions first, or transcript order.")
@lang_option
def export_review_cmd(project: Path, fmt: str, output: Path, coder: str | None, compare, transcripts, sort: str,
                      lang: str | None):
    """Write a review sheet: each pending suggestion with its paragraph, the matched words (red),
    the code's definition and a decision drop-down (採用 / 不採用 / 変更 → <code>, or with --lang en
    accept / reject / change to <code id>); rows added at the end record codes the tagger missed.

    With --coder the sheet first lists that coder's decisions whose passage was edited since
    (column 確認 / check: words edited, or passage gone), to decide again or drop (削除 / drop).
    Fill it in Excel or LibreOffice, then: import review FILE --coder NAME. With --compare A
    --compare B the rows are A's and B's disagreements, to be settled as coder 'adjudicated'.

    Example: python cli.py export review --format xlsx --coder hanako -o review-hanako.xlsx
    """
    from coding.project import Project
    from coding.review import export_review

    if compare and len(compare) != 2:
        raise click.UsageError("give --compare exactly twice, e.g. --compare hanako --compare taro")
    p = Project.open(project)
    res = export_review(p, output, coder=coder, compare=tuple(compare), transcripts=list(transcripts) or None, sort=sort,
                        lang=lang)
    what = f"disagreement(s) of {compare[0]} and {compare[1]}" if compare else "suggestion(s) to review"
    checks = f", and first {res.checks} decision(s) whose passage was edited, to re-check or drop" if res.checks else ""
    click.echo(f"wrote {output}: {res.items} {what}{checks}")
    if res.no_suggestions:
        click.echo("no suggestions yet: run python cli.py code first")


@import_.command("review")
@project_option()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--coder", required=True, help="Whose decisions these are (codings/<coder>.csv).")
def import_review_cmd(project: Path, file: Path, coder: str):
    """Apply a filled review sheet: 採用 / 不採用 / 変更 → <code> (or accept / reject / change to
    <code id>, a sheet of either language) become this coder's decisions, added rows become manual
    codings; rows left empty stay pending. On rows marked in 確認 / check, 削除 / drop removes the
    decision, and a decision on a 'passage gone' row goes on the words written in its segment
    cell. A malformed sheet is refused whole, naming the row.

    Example: python cli.py import review review-hanako.xlsx --coder hanako
    """
    from coding.project import Project
    from coding.review import import_review

    p = Project.open(project)
    res = import_review(p, file, coder=coder)
    click.echo(
        f"{coder}: {res.accepted} accepted, {res.rejected} rejected, {res.changed} changed, {res.manual} added; "
        f"{res.pending} row(s) left pending; {res.added} new decision(s), {res.updated} updated"
        + (f"; {res.dropped} dropped, {res.reattached} re-attached" if res.dropped or res.reattached else "")
    )
    click.echo(f"wrote {res.path}")


# ---------------------------------------------------------------- agreement / adjudicate
@cli.command()
@project_option(lock=False)
@coders_option("A coder to compare (exactly two; 'auto' = the tagger).", required=True)
@click.option("--code", "codes", multiple=True, help="Only these codes (repeatable; default: every code either coder used).")
@click.option("--roll-up", "roll_up", multiple=True, metavar="KIND",
              help="Count codes of this kind as their parent, e.g. --roll-up finding compares at theme level.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@output_option()
def agreement(project: Path, coders, codes, roll_up, fmt: str, output: Path | None):
    """Intercoder agreement of two coders over segments (sentences): Cohen's kappa, Krippendorff's
    alpha and percent agreement per code and overall, then the disagreements to discuss.

    Only transcripts both coders worked on count. 'auto' compares the tagger with a person.

    Example: python cli.py agreement --coder hanako --coder taro --format json
    """
    from coding.agreement import format_report, project_agreement
    from coding.project import Project

    if len(coders) != 2:
        raise click.UsageError("give exactly two --coder options, e.g. --coder hanako --coder taro")
    rep = project_agreement(Project.open(project), coders[0], coders[1], codes=list(codes) or None, roll_up=roll_up)
    write_or_echo(json.dumps(rep.to_dict(), ensure_ascii=False, indent=2) + "\n" if fmt == "json" else format_report(rep), output)


@cli.command()
@project_option()
@coders_option("The two coders to settle (exactly two).", required=True)
@click.option("--prefer", help="Settle every disagreement as this coder decided (default: leave them open).")
@click.option("--into", default="adjudicated", show_default=True, help="The coder that receives the final set.")
def adjudicate(project: Path, coders, prefer: str | None, into: str):
    """Settle two coders into a final set (coder 'adjudicated'): what both coded is accepted, what
    both rejected is rejected, and disagreements follow --prefer or stay open for the team.

    Decisions already in codings/adjudicated.csv are never overwritten. Settle open disagreements
    in a review sheet (export review --compare A --compare B) imported with --coder adjudicated,
    then build tables with --coder adjudicated.

    Example: python cli.py adjudicate --coder hanako --coder taro
    """
    from coding.agreement import project_adjudicate
    from coding.project import Project

    if len(coders) != 2:
        raise click.UsageError("give exactly two --coder options, e.g. --coder hanako --coder taro")
    if prefer is not None and prefer not in coders:
        raise click.UsageError(f"--prefer must be one of the two coders ({coders[0]} or {coders[1]})")
    if into in coders or into == "auto":
        raise click.UsageError(f"--into must name a coder other than {', '.join(coders)} and auto")
    res, path = project_adjudicate(Project.open(project), coders[0], coders[1], into=into, prefer=prefer)
    click.echo(
        f"{into}: {res.agreed} agreed coding(s), {res.rejected} suggestion(s) both rejected"
        + (f", {res.preferred} settled by --prefer {prefer}" if prefer else "")
        + (f", {res.already} already decided" if res.already else "")
    )
    if res.open:
        click.echo(
            f"{len(res.open)} disagreement(s) left open: python cli.py export review --compare {coders[0]} "
            f"--compare {coders[1]} -o disagreements.xlsx, decide, then import review disagreements.xlsx --coder {into}"
        )
    click.echo(f"wrote {path}")


# ---------------------------------------------------------------- evaluate / train
@cli.command()
@project_option()
@click.option("--gold", "gold", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The gold coder's codings (codings CSV; accepted and manual rows count).")
@click.option("--by", type=click.Choice(["family", "code"]), default="code", show_default=True,
              help="Report per family only, or per family and per code.")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text", show_default=True)
@output_option()
@click.option("--min-score", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Ignore suggestions scored below this.")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An earlier --format json result: md then shows each measure as before → now.")
@click.option("--title", default="", help="Heading of the md report.")
def evaluate(project: Path, gold: Path, by: str, fmt: str, output: Path | None, min_score: float,
             baseline: Path | None, title: str):
    """Score the tagger's suggestions against a gold coder: precision, recall, F1 and Cohen's kappa
    per family (phase, theme — a finding counts as its theme —, challenge, practice) and per code,
    at paragraph and at segment level. The transcripts are tagged afresh (parses are cached).

    Example: python cli.py evaluate --project tests/heldout --gold tests/heldout/gold.csv --by family
    """
    from coding.evaluate import evaluate_project, render
    from coding.project import Project

    p = Project.open(project)
    ev = evaluate_project(p, gold, min_score=min_score)
    before = json.loads(baseline.read_text(encoding="utf-8")) if baseline else None
    write_or_echo(render(ev, p.codebook, fmt=fmt, by=by, title=title, baseline=before), output)


@cli.command()
@project_option()
@coders_option("Learn from these coders' confirmed codings (default: every person).")
@output_option("Model file to write (default: the file tagger.learned.model names, else models/suggester.json).")
@jobs_option
@click.option("--also", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Another project folder coded with the same codebook whose confirmed codings join the examples (repeatable).")
def train(project: Path, coders, output: Path | None, jobs: int, also):
    """Train the learned suggester on the reviewed codings (accepted + manual): one logistic
    regression per code over each paragraph's Sudachi-normalised words, ja_ginza's word vectors,
    closeness to each code's definition and seed passages, and its rules' firing; thresholds
    chosen by cross-validation over transcripts. The next code run lets it decide the codes it
    knows, each suggestion marked model:<probability>.

    Example: python cli.py train --coder team
             python cli.py train --coder team --also ../second-study
    """
    from coding.project import Project
    from coding.training import train_project

    p = Project.open(project)
    if coders:
        p.check_coders(coders)
    out = train_project(p, coders=list(coders) or None, output=output, jobs=jobs, also=list(also))
    res = out.result
    click.echo(f"learned {len(res.model.codes)} codes from {res.examples} paragraphs "
               f"({sum(res.positives.values())} coded); cross-validated F1 per code:")
    for c in res.model.codes:
        pr, rc, f1 = res.cv[c]
        click.echo(f"  {c:<10} {res.positives[c]:>3} paragraphs  threshold {res.model.thresholds[c]:.2f}  "
                   f"P {pr:.2f} R {rc:.2f} F1 {f1:.2f}")
    click.echo(f"wrote {out.path}")
    if out.note:
        click.echo(f"note: {out.note}")


# ---------------------------------------------------------------- serve
@cli.command()
@project_option(lock=False)
@click.option("--coder", required=True, help="Whose decisions you make (codings/<coder>.csv).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port on 127.0.0.1 (0: any free one).")
@click.option("--compare", multiple=True, help="Show these coders' decisions beside yours, to adjudicate (give twice).")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True, help="Open the page in the web browser.")
@click.option("--sort", type=click.Choice(["score", "position"]), default="score", show_default=True,
              help="Order of the codings within a transcript: the surest suggestions first, or as in the text (o on the page toggles).")
@lang_option
def serve(project: Path, coder: str, port: int, compare, open_browser: bool, sort: str, lang: str | None):
    """Review in the browser: a local page (127.0.0.1 only) shows each transcript with its
    suggestions highlighted; accept (a), reject (r), change (c) or add (m) codes with the keyboard.
    Decisions whose words were edited since are marked for a re-check (decide again, or drop with
    d); those whose passage is gone are listed above the text, to drop or re-attach to the words
    selected. The page is in Japanese unless --lang en (or the codebook's lang: en) says English.

    Every decision is saved to codings/<coder>.csv the moment it is made, so closing the window
    loses nothing; the project is locked only while a decision is written. Press ? on the page for
    every key. Stop the server with Ctrl+C.

    Example: python cli.py serve --coder hanako
    """
    import webbrowser

    from coding.review import make_server

    try:
        server = make_server(project, coder, port=port, compare=tuple(compare), sort=sort, lang=lang)
    except OSError as e:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {e.strerror}; try --port 0 for any free port") from None
    url = server.url  # type: ignore[attr-defined]
    click.echo(f"Reviewing as {coder} at {url}\n(decisions go to codings/{coder}.csv as you make them; Ctrl+C stops)")
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped; every decision was already saved")
    finally:
        server.server_close()


# ---------------------------------------------------------------- qdpx
@export.command("qdpx")
@project_option(lock=False)
@output_option("The .qdpx file to write.", required=True)
@coders_option("Only these coders' codings (repeatable; default: every person, e.g. --coder adjudicated).")
def export_qdpx_cmd(project: Path, output: Path, coders):
    """Write a REFI-QDA project (.qdpx) for QualCoder, NVivo, ATLAS.ti, MAXQDA...: the codebook
    as codes (groups not codable), each transcript as a text source and a case with its
    front-matter variables (on the source too), and every accepted or manual coding as a selection
    (code-point offsets; status and quote flag in its description).

    Example: python cli.py export qdpx -o study.qdpx
    """
    from coding.project import Project
    from coding.qdpx import export_qdpx

    res = export_qdpx(Project.open(project), output, coders=list(coders) or None)
    click.echo(
        f"wrote {res.path}: {res.sources} source(s), {res.codes} code(s), {res.cases} case(s), "
        f"{res.codings} coding(s)" + (f" by {', '.join(res.coders)}" if res.coders else "")
    )


@import_.command("qdpx")
@project_option()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--coder", help="Record every coding as this coder's (default: the user who made it in the other program).")
@click.option("--offsets", type=click.Choice(["auto", "codepoint", "codepoint/lines-as-one", "utf16", "utf16/lines-as-one"]),
              default="auto", show_default=True,
              help="How the file counts positions: code points or UTF-16 units, a CR LF line break as two characters "
                   "or (lines-as-one) as one. auto keeps the one reading under which the selections' names match their "
                   "text, and stops when several readings fit.")
@click.option("--skip-unknown", is_flag=True, help="Import what maps and list the codes and sources that do not.")
def import_qdpx_cmd(project: Path, file: Path, coder: str | None, offsets: str, skip_unknown: bool):
    """Merge the codings of a REFI-QDA project (.qdpx, from this toolkit or QualCoder, NVivo,
    ATLAS.ti, MAXQDA...) into codings/<coder>.csv, with status, quote flag and memo where the file
    says them. Sources are matched to transcripts by id, file name or text; codes to the codebook
    by GUID or name. Anything that does not map, and any doubt about how positions are counted,
    refuses the whole import; nothing is written then.

    Example: python cli.py import qdpx from-nvivo.qdpx --coder hanako
    """
    from coding.project import Project
    from coding.qdpx import import_qdpx

    res = import_qdpx(Project.open(project), file, coder=coder, offsets=offsets, skip_unknown=skip_unknown)
    for w in res.warnings:
        click.echo(f"warning: {w}", err=True)
    if res.offsets != "codepoint":
        click.echo(f"note: the file counts positions as {res.offsets}", err=True)
    for s in res.skipped:
        click.echo(f"skipped: {s}", err=True)
    click.echo(f"{len(res.matched_sources)} source(s) matched to transcripts")
    for c, n in sorted(res.by_coder.items()):
        click.echo(f"{c}: {n} coding(s)")
    for f in res.files:
        click.echo(f"wrote {f}")


# ---------------------------------------------------------------- KH Coder
@export.command("khcoder")
@project_option(lock=False)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for codes.cod, corpus.txt and variables.csv.")
@click.option("--encoding", type=click.Choice(["utf-8-sig", "cp932"]), default="utf-8-sig", show_default=True,
              help="UTF-8 with a byte-order mark, or CP932 (Shift_JIS) for older KH Coder set-ups.")
@interviewer_option
def export_khcoder_cmd(project: Path, output: Path, encoding: str, interviewer: bool):
    """Write KH Coder files: the codebook's patterns as a coding-rule file (codes.cod; what KH
    Coder cannot express is listed at its top and here), the notes as a corpus with an <H1>
    heading per interview (corpus.txt) and the case variables (variables.csv, one row per H1).

    The corpus carries the notes as they are: working data for the team, not for publication.

    Example: python cli.py export khcoder -o khcoder/
    """
    from coding.khcoder import export_khcoder, summary_lines
    from coding.project import Project

    res = export_khcoder(Project.open(project), output, encoding=encoding, interviewer=interviewer)
    if res.rules.unexpressed:
        click.echo("not expressible in KH Coder (left out, or written approximately):")
        for line in summary_lines(res.rules.unexpressed):
            click.echo(f"  {line}")
    click.echo(f"{res.rules.codes} code(s) with {res.rules.patterns} pattern(s), {res.documents} document(s), "
               f"{res.variables} variable(s)")
    for f in res.files:
        click.echo(f"wrote {f}")


@import_.command("khcoder")
@project_option(lock=False)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", default="theme", show_default=True, help="Kind of the codes a plain KH Coder file defines.")
@click.option("--parent", help="Parent of those codes (a code of the codebook).")
@click.option("--skip", is_flag=True, help="Leave out codes that use what a codebook cannot say (headings, variables, POS…), listed.")
@output_option("YAML file to write the codes to (default: stdout), to paste into codebook.yml's codes: list.")
def import_khcoder_cmd(project: Path, file: Path, kind: str, parent: str | None, skip: bool, output: Path | None):
    """Read a KH Coder coding-rule file (.cod) into codebook codes with patterns: a ＊code per
    code, its alternatives as patterns, strings and words as phrases. The file is first checked
    against KH Coder's own grammar; every problem is named with its line.

    Example: python cli.py import khcoder rules.cod -o new-codes.yml
    """
    from coding.khcoder import import_rules
    from coding.project import Project

    res = import_rules(file, kind=kind, parent=parent, skip=skip, codebook=Project.open(project).codebook)
    for n in res.notes:
        click.echo(f"note: {n}", err=True)
    for s in res.skipped:
        click.echo(f"skipped: {s}", err=True)
    if res.clashes:
        click.echo(f"note: already in the codebook (rename before pasting): {', '.join(res.clashes)}", err=True)
    write_or_echo(res.yaml, output)
    click.echo(f"{len(res.codes)} code(s) with {sum(len(c.patterns) for c in res.codes)} pattern(s)", err=True)


@export.command("qdc")
@project_option(lock=False)
@output_option("The .qdc file to write.", required=True)
def export_qdc_cmd(project: Path, output: Path):
    """Write the codebook as a REFI-QDA codebook (.qdc) for QualCoder, NVivo, ATLAS.ti, MAXQDA,
    Taguette...: every code nested under its parent, groups not codable, definitions as
    descriptions, and one code set per kind.

    Example: python cli.py export qdc -o codebook.qdc
    """
    from coding.codebook import load_codebook
    from coding.qdc import export_qdc

    res = export_qdc(load_codebook(project / "codebook.yml"), output)
    click.echo(f"wrote {res.path}: {res.codes} code(s) of {res.kinds} kind(s)")


@import_.command("qdc")
@project_option()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", help="Kind of the new codes the file's code sets do not say (default: as the codes beside them, else theme).")
def import_qdc_cmd(project: Path, file: Path, kind: str | None):
    """Merge a REFI-QDA codebook (.qdc) into codebook.yml: codes it does not have yet are added
    after its last code, under their parent, with the file's description as definition; codes it
    has are left as they are (differences are listed). A project without codebook.yml gets one.

    Example: python cli.py import qdc shared-codebook.qdc --kind challenge
    """
    from coding.qdc import import_qdc

    res = import_qdc(project, file, kind=kind)
    for n in res.notes:
        click.echo(f"note: {n}", err=True)
    click.echo(f"{len(res.matched)} code(s) already in the codebook, {len(res.added)} added"
               + (": " + ", ".join(f"{c.id} ({c.kind})" for c in res.added) if res.added else ""))
    if res.added:
        click.echo(f"wrote {res.path}" + (" (new)" if res.created else ""))


if __name__ == "__main__":
    cli()
