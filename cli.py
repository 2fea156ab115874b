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
        from coding.project import ProjectLock

        try:
            with ProjectLock(kwargs.get("project") or Path("."), what=" ".join(sys.argv[1:3]) or f.__name__):
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
@click.option("--no-names", is_flag=True, help="Skip the search for real names (no NER model load).")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64), help="Processes for the name search.")
def validate(project: Path, no_names: bool, jobs: int):
    """Check the codebook, the transcripts and the stored decisions; list every problem, and every
    real institution, company or person the notes name (masked in published outputs).

    Exit status 1 when something must be fixed; warnings (a ref the report does not know, a
    pattern that can never match, a stale decision) and names do not fail.

    Example: python cli.py validate --project my-study
    """
    rep = _validate(project, names=not no_names, jobs=jobs)
    if not rep.ok:
        sys.exit(1)
    click.echo(f"ok: {rep.codes} codes, {rep.transcripts} transcripts" + (f", {len(rep.stale)} stale decision(s)" if rep.stale else "")
               + (f", {len(rep.names)} real name(s) to mask" if rep.names else ""))


def _validate(project: Path, *, names: bool = True, jobs: int = 1):
    from coding.project import validate_project

    rep = validate_project(project, names=names, jobs=jobs)
    for w in rep.warnings:
        click.echo(f"warning: {w}", err=True)
    for f in rep.names:
        click.echo(f"name: {f}", err=True)
    if not rep.ok:
        for p in rep.problems:
            click.echo(f"error: {p}", err=True)
        click.echo(f"{len(rep.problems)} problem(s) to fix.", err=True)
    return rep


# ---------------------------------------------------------------- code
@cli.command()
@project_option
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64), help="Processes for parsing.")
@click.option("--min-score", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Drop suggestions scored below this.")
@click.option("--prune", is_flag=True, help="Afterwards delete cache files no longer used (old transcript texts, old patterns, old settings).")
def code(project: Path, jobs: int, min_score: float, prune: bool):
    """Tag every transcript with suggestions (coder 'auto'); decisions are never touched.

    Parses are cached in outputs/cache, so a re-run parses only new or edited transcripts, and a
    re-run with nothing changed does not load the model at all.

    Example: python cli.py code --jobs 2
             python cli.py code --prune      # and delete cache files of old texts and patterns
    """
    p = _code(project, jobs=jobs, min_score=min_score)
    if prune:
        from coding.project import prune_cache

        res = prune_cache(p)
        click.echo(f"pruned the cache: {res.removed} old file(s) removed ({res.freed / 2**20:.1f} MiB), {res.kept} in use kept")


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
    """Export codings, review sheets and REFI-QDA projects.

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

    Example: python cli.py export codings --format csv -o codings.csv
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
@click.option("--strict", is_flag=True, help="Refuse to write any output that would carry a real name, instead of masking it.")
def run(project: Path, jobs: int, strict: bool):
    """The main job: validate, code, then write the tables and the network to outputs/.

    Every published output passes the anonymity guard (real names → pseudonym or 〇〇).

    Example: python cli.py run --project my-study
    """
    rep = _validate(project, jobs=jobs)
    if not rep.ok:
        raise click.ClickException(f"{len(rep.problems)} problem(s); fix them and run again (see: python cli.py validate)")
    _code(project, jobs=jobs)
    for step in RUN_STEPS:
        step(project, strict=strict)


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
@click.option("--strict", is_flag=True, help="Refuse to write if a table would carry a real name, instead of masking it.")
def tables(project: Path, fmt, output: Path | None, coder, include_suggested: bool, strict: bool):
    """Rebuild the report's tables from the confirmed codings: rosters (図表3–5), comparison
    tables (図表32/33) with attribution notes, the challenge table with quotes (図表34) and the
    challenge–practice–case table (図表35).

    Example: python cli.py tables --format json -o outputs/tables/tables.json
    """
    _tables(project, formats=list(fmt) or None, output=output, coders=list(coder) or None,
            include_suggested=include_suggested, strict=strict)


def _guarded_write(project: Path, write, *, strict: bool, jobs: int = 1):
    """Run ``write(folder, transform)`` through the anonymity guard; with ``strict``, write nothing
    when a name would have to be masked. Returns the guard (its summary says what was masked)."""
    import shutil
    import tempfile

    from coding.anonymity import AnonymityError
    from coding.project import Project, project_guard

    guard = project_guard(Project.open(project), jobs=jobs)
    if not strict:
        write(None, guard.apply)
        return guard
    with tempfile.TemporaryDirectory() as tmp:
        staged = write(Path(tmp), guard.apply)
        if guard.masked:
            raise AnonymityError(
                "--strict: nothing written; these real names would appear in the outputs: "
                + ", ".join(sorted(guard.masked)) + ". Add them to anonymity.yml (real_names) or rephrase the codings."
            )
        for src, dst in staged:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(src), str(dst))
    return guard


def _tables(project: Path, *, formats=None, output: Path | None = None, coders=None, include_suggested: bool = False,
            strict: bool = False):
    from coding.export import FORMATS, write_tables
    from coding.project import Project, project_tables

    p = Project.open(project)
    data = project_tables(p, coders=coders, include_suggested=include_suggested)
    formats = formats or list(FORMATS)
    out_dir = output or p.outputs / "tables"
    single = bool(output is not None and len(formats) == 1 and output.suffix)
    if single and formats[0] == "csv":
        raise click.ClickException("--format csv writes one file per table; give a folder with -o")
    result: list = []

    def write(stage: Path | None, transform):
        target = output.parent if single else out_dir
        files = write_tables(data, stage or target, formats, transform=transform)
        if single:
            final = [(files[0], output)]
        else:
            final = [(f, out_dir / f.name) for f in files]
        if stage is None and single:
            files[0].replace(output)
        result[:] = [dst for _, dst in final]
        return final

    guard = _guarded_write(project, write, strict=strict)
    files = result
    click.echo(guard.summary())
    if include_suggested:
        click.echo("DRAFT: these tables include unreviewed suggestions.")
    n_quotes = sum(len(r["quotes"]) for r in data["challenge_table"]["rows"])
    n_findings = sum(len(r[reg]) for t in data["comparison_tables"].values() for r in t["rows"] for reg in r if isinstance(r[reg], list))
    click.echo(f"{n_findings} comparison-table entries, {n_quotes} quotes; wrote {len(files)} file(s) to {output if single else out_dir}")


RUN_STEPS.append(lambda project, strict=False: _tables(project, strict=strict))


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


# ---------------------------------------------------------------- review
@export.command("review")
@project_option
@click.option("--format", "fmt", type=click.Choice(["xlsx"]), default="xlsx", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("review.xlsx"),
              show_default=True, help="Workbook to write.")
@click.option("--coder", help="Only suggestions this person has not decided yet (default: those nobody decided).")
@click.option("--compare", multiple=True, help="Instead: the disagreements of these two coders, for adjudication (give twice).")
@click.option("--transcript", "transcripts", multiple=True, help="Only these transcripts (repeatable).")
@click.option("--sort", type=click.Choice(["score", "position"]), default="score", show_default=True,
              help="Order of the rows: most confident suggestions first, or transcript order.")
def export_review_cmd(project: Path, fmt: str, output: Path, coder: str | None, compare, transcripts, sort: str):
    """Write a review sheet: each pending suggestion with its paragraph, the matched words (red),
    the code's definition and a decision drop-down (accept / reject / change to <code id>).

    Fill it in Excel or LibreOffice, then: import review FILE --coder NAME. With --compare A
    --compare B the rows are A's and B's disagreements, to be settled as coder 'adjudicated'.

    Example: python cli.py export review --format xlsx --coder hanako -o review-hanako.xlsx
    """
    from coding.nlp import atomic_write_bytes
    from coding.project import Project
    from coding.review import review_items, write_review_xlsx

    if compare and len(compare) != 2:
        raise click.UsageError("give --compare exactly twice, e.g. --compare hanako --compare taro")
    p = Project.open(project)
    if compare:
        _known_coders(p, compare)
    unknown = [t for t in transcripts if t not in p.by_id]
    if unknown:
        raise click.UsageError(f"unknown transcript id(s): {', '.join(unknown)}")
    items = review_items(p, coder=coder, compare=tuple(compare), transcripts=list(transcripts) or None, sort=sort)
    atomic_write_bytes(output, write_review_xlsx(p, items, compare=tuple(compare)))
    what = f"disagreement(s) of {compare[0]} and {compare[1]}" if compare else "suggestion(s) to review"
    click.echo(f"wrote {output}: {len(items)} {what}")
    if not items and not compare and not p.store().suggestions:
        click.echo("no suggestions yet: run python cli.py code first")


@import_.command("review")
@project_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--coder", required=True, help="Whose decisions these are (codings/<coder>.csv).")
def import_review_cmd(project: Path, file: Path, coder: str):
    """Apply a filled review sheet: accept / reject / change to <code id> become this coder's
    decisions; rows left empty stay pending. A malformed sheet is refused whole, naming the row.

    Example: python cli.py import review review-hanako.xlsx --coder hanako
    """
    from coding.project import Project
    from coding.review import import_review

    p = Project.open(project)
    res = import_review(p, file, coder=coder)
    click.echo(
        f"{coder}: {res.accepted} accepted, {res.rejected} rejected, {res.changed} changed; "
        f"{res.pending} row(s) left pending; {res.added} new decision(s), {res.updated} updated"
    )
    click.echo(f"wrote {res.path}")


# ---------------------------------------------------------------- agreement / adjudicate
@cli.command()
@project_option
@click.option("--coder", "coders", multiple=True, required=True, help="A coder to compare (exactly two; 'auto' = the tagger).")
@click.option("--code", "codes", multiple=True, help="Only these codes (repeatable; default: every code either coder used).")
@click.option("--roll-up", "roll_up", multiple=True, metavar="KIND",
              help="Count codes of this kind as their parent, e.g. --roll-up finding compares at theme level.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
def agreement(project: Path, coders, codes, roll_up, fmt: str, output: Path | None):
    """Intercoder agreement of two coders over segments (sentences): Cohen's kappa, Krippendorff's
    alpha and percent agreement per code and overall, then the disagreements to discuss.

    Only transcripts both coders worked on count. 'auto' compares the tagger with a person.

    Example: python cli.py agreement --coder hanako --coder taro --format json
    """
    import json

    from coding.agreement import compare_coders, format_report, roll_up_map
    from coding.project import Project
    from coding.store import atomic_write_text

    if len(coders) != 2:
        raise click.UsageError("give exactly two --coder options, e.g. --coder hanako --coder taro")
    p = Project.open(project)
    _known_coders(p, coders)
    rep = compare_coders(p.store(), p.by_id, coders[0], coders[1], codes=list(codes) or None,
                         code_order=list(p.codebook.codes), roll_up=roll_up_map(p.codebook, roll_up) if roll_up else None)
    text = json.dumps(rep.to_dict(), ensure_ascii=False, indent=2) + "\n" if fmt == "json" else format_report(rep)
    if output:
        atomic_write_text(output, text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


def _known_coders(p, coders):
    from coding.store import AUTO

    known = set(p.store().coders) | {AUTO}
    unknown = [c for c in coders if c not in known]
    if unknown:
        raise click.ClickException(
            f"no decisions by {', '.join(unknown)} in {p.root / 'codings'} (known coders: {', '.join(sorted(known))})"
        )


@cli.command()
@project_option
@click.option("--coder", "coders", multiple=True, required=True, help="The two coders to settle (exactly two).")
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
    from coding.agreement import adjudicate as settle
    from coding.project import Project
    from coding.review import save_decisions

    if len(coders) != 2:
        raise click.UsageError("give exactly two --coder options, e.g. --coder hanako --coder taro")
    if prefer is not None and prefer not in coders:
        raise click.UsageError(f"--prefer must be one of the two coders ({coders[0]} or {coders[1]})")
    if into in coders or into == "auto":
        raise click.UsageError(f"--into must name a coder other than {', '.join(coders)} and auto")
    p = Project.open(project)
    _known_coders(p, coders)
    res = settle(p.store(), p.by_id, coders[0], coders[1], into=into, prefer=prefer)
    path = save_decisions(p, into, res.rows)
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
@project_option
@click.option("--gold", "gold", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The gold coder's codings (FORMATS.md §3 CSV; accepted and manual rows count).")
@click.option("--by", type=click.Choice(["family", "code"]), default="code", show_default=True,
              help="Report per family only, or per family and per code.")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
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
    import json

    from coding.evaluate import evaluate_project, report_markdown, report_text
    from coding.project import Project
    from coding.store import atomic_write_text

    p = Project.open(project)
    ev = evaluate_project(p, gold, min_score=min_score)
    if fmt == "json":
        text = json.dumps(ev.as_dict(), ensure_ascii=False, indent=1) + "\n"
    elif fmt == "md":
        before = json.loads(baseline.read_text(encoding="utf-8")) if baseline else None
        text = report_markdown(ev, p.codebook, by=by, title=title, baseline=before) + "\n"
    else:
        text = report_text(ev, p.codebook, by=by)
    if output:
        atomic_write_text(output, text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)

# ---------------------------------------------------------------- serve
@cli.command()
@project_option
@click.option("--coder", required=True, help="Whose decisions you make (codings/<coder>.csv).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port on 127.0.0.1 (0: any free one).")
@click.option("--compare", multiple=True, help="Show these coders' decisions beside yours, to adjudicate (give twice).")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True, help="Open the page in the web browser.")
@click.option("--sort", type=click.Choice(["score", "position"]), default="score", show_default=True,
              help="Order of the codings within a transcript: the surest suggestions first, or as in the text (o on the page toggles).")
def serve(project: Path, coder: str, port: int, compare, open_browser: bool, sort: str):
    """Review in the browser: a local page (127.0.0.1 only) shows each transcript with its
    suggestions highlighted; accept (a), reject (r), change (c) or add (m) codes with the keyboard.

    Every decision is saved to codings/<coder>.csv the moment it is made, so closing the window
    loses nothing. Press ? on the page for every key. Stop the server with Ctrl+C.

    Example: python cli.py serve --coder hanako
    """
    import webbrowser

    from coding.review import make_server

    try:
        server = make_server(project, coder, port=port, compare=tuple(compare), sort=sort)
    except OSError as e:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {e.strerror}; try --port 0 for any free port") from None
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    click.echo(f"Reviewing as {coder} at {url}  (decisions go to codings/{coder}.csv as you make them; Ctrl+C stops)")
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped; every decision was already saved")
    finally:
        server.server_close()


@cli.command()
@project_option
@click.option("--coder", "coders", multiple=True, help="Learn from these coders' confirmed codings (default: every person).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Model file to write (default: the codebook's tagger.learned.path).")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64), help="Processes for parsing.")
@click.option("--also", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Another project folder coded with the same codebook whose confirmed codings join the examples (repeatable).")
def train(project: Path, coders, output: Path | None, jobs: int, also):
    """Train the learned suggester on the reviewed codings (accepted + manual): one logistic
    regression per code over each paragraph's Sudachi-normalised words, thresholds chosen by
    cross-validation over transcripts. The next code run adds its suggestions to the rules',
    each marked model:<score>.

    Example: python cli.py train --coder team
             python cli.py train --coder team --also ../second-study
    """
    from coding.learn import train_project
    from coding.project import Project

    p = Project.open(project)
    if coders:
        _known_coders(p, coders)
    res, path = train_project(p, coders=list(coders) or None, output=output, jobs=jobs, also=list(also))
    click.echo(f"learned {len(res.model.codes)} codes from {res.examples} paragraphs "
               f"({sum(res.positives.values())} coded); cross-validated F1 per code:")
    for c in res.model.codes:
        pr, rc, f1 = res.cv[c]
        click.echo(f"  {c:<10} {res.positives[c]:>3} paragraphs  threshold {res.model.thresholds[c]:.2f}  "
                   f"P {pr:.2f} R {rc:.2f} F1 {f1:.2f}")
    click.echo(f"wrote {path}")


# ---------------------------------------------------------------- qdpx
@export.command("qdpx")
@project_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The .qdpx file to write.")
@click.option("--coder", multiple=True, help="Only these coders' codings (repeatable; default: every person, e.g. --coder adjudicated).")
def export_qdpx_cmd(project: Path, output: Path, coder):
    """Write a REFI-QDA project (.qdpx) for NVivo, ATLAS.ti, MAXQDA, QualCoder...: the codebook
    as codes (groups not codable), each transcript as a text source and a case with its
    front-matter variables, and every accepted or manual coding as a selection (code-point offsets).

    Example: python cli.py export qdpx -o study.qdpx
    """
    from coding.project import Project
    from coding.qdpx import export_qdpx

    p = Project.open(project)
    res = export_qdpx(p, output, coders=list(coder) or None)
    click.echo(
        f"wrote {res.path}: {res.sources} source(s), {res.codes} code(s), {res.cases} case(s), "
        f"{res.codings} coding(s)" + (f" by {', '.join(res.coders)}" if res.coders else "")
    )


@import_.command("qdpx")
@project_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--coder", help="Record every coding as this coder's (default: the user who made it in the other program).")
@click.option("--offsets", type=click.Choice(["auto", "codepoint", "utf16"]), default="auto", show_default=True,
              help="How the file counts positions; auto picks the reading that reproduces the selections' text.")
@click.option("--skip-unknown", is_flag=True, help="Import what maps and list the codes and sources that do not.")
def import_qdpx_cmd(project: Path, file: Path, coder: str | None, offsets: str, skip_unknown: bool):
    """Merge the codings of a REFI-QDA project (.qdpx, from this toolkit or NVivo, ATLAS.ti,
    MAXQDA...) into codings/<coder>.csv. Sources are matched to transcripts by id, file name or
    text; codes to the codebook by name. Anything that does not map refuses the whole import.

    Example: python cli.py import qdpx from-nvivo.qdpx --coder hanako
    """
    from coding.project import Project
    from coding.qdpx import import_qdpx

    p = Project.open(project)
    res = import_qdpx(p, file, coder=coder, offsets=offsets, skip_unknown=skip_unknown)
    for w in res.warnings:
        click.echo(f"warning: {w}", err=True)
    for s in res.skipped:
        click.echo(f"skipped: {s}", err=True)
    click.echo(f"{len(res.matched_sources)} source(s) matched to transcripts")
    for c, n in sorted(res.by_coder.items()):
        click.echo(f"{c}: {n} coding(s)")
    for f in res.files:
        click.echo(f"wrote {f}")


# ---------------------------------------------------------------- network
@cli.command()
@project_option
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
@click.option("--coder", multiple=True, help="Use only these coders' decisions (default: every person).")
@click.option("--include-suggested", is_flag=True, help="Draft: also count suggestions nobody has reviewed (marked DRAFT).")
@click.option("--strict", is_flag=True, help="Refuse to write if an output would carry a real name, instead of masking it.")
def network(project: Path, kind: str, window: str, families, include_orgs: bool, weight_by: str, min_weight: float,
            top: int | None, community: str, fmt, output: Path | None, coder, include_suggested: bool, strict: bool):
    """Build the challenge–practice network (or a code co-occurrence network) from the confirmed
    codings, with communities and centralities, and write it for Gephi (GraphML, GEXF), as
    node-link JSON, as a PNG figure, as an offline HTML page (hover for the quotes behind a node or
    a line, filter by region and line kind) and as a short text summary.

    Example: python cli.py network --window interview -o outputs/network
    """
    _network(project, kind=kind, window=window, families=tuple(families) or ("theme",), include_orgs=include_orgs,
             weight_by=weight_by, min_weight=min_weight, top=top, community=community, formats=list(fmt) or None,
             output=output, coders=list(coder) or None, include_suggested=include_suggested, strict=strict)


def _network(project: Path, *, kind: str = "challenge-practice", window: str = "paragraph", families=("theme",),
             include_orgs: bool = False, weight_by: str = "windows", min_weight: float = 1.0, top: int | None = None,
             community: str = "louvain", formats=None, output: Path | None = None, coders=None,
             include_suggested: bool = False, strict: bool = False):
    from coding.aggregate import Corpus
    from coding.network import build_network, summarise
    from coding.network_export import guarded, write_network
    from coding.project import Project, confirmed_codings, project_guard

    p = Project.open(project)
    codings = confirmed_codings(p, coders=coders, include_suggested=include_suggested)
    G = build_network(Corpus(p.transcripts, p.codebook, codings), kind, window=window, families=families,
                      include_orgs=include_orgs, weight_by=weight_by, min_weight=min_weight, top_n=top,
                      community=community, draft=include_suggested)
    guard = project_guard(p)
    G = guarded(G, guard.apply)  # every label, note and quote passes the anonymity guard
    if strict and guard.masked:
        from coding.anonymity import AnonymityError

        raise AnonymityError("--strict: nothing written; these real names would appear in the network: "
                             + ", ".join(sorted(guard.masked)) + ". Add them to anonymity.yml (real_names) or rephrase the codings.")
    summary = summarise(G)
    out_dir = output or p.outputs / "network"
    files = write_network(G, out_dir, formats, summary=summary)
    click.echo(guard.summary())
    click.echo(summary, nl=False)
    click.echo(f"wrote {len(files)} file(s) to {out_dir}: " + ", ".join(f.name for f in files))


RUN_STEPS.append(lambda project, strict=False: _network(project, strict=strict))


if __name__ == "__main__":
    cli()
