"""Publishing: the tables and networks written to ``outputs/``, every text through the anonymity guard.

The guard works on the data — every string of the tables dict, every label, note and quote of a
graph — *before* any format escapes or lays it out, so a name is masked the same way in JSON,
Markdown, CSV, Excel, HTML and PNG (an HTML entity such as ``&amp;`` can never hide a name from
it). With ``strict``, nothing is written when anything would have to be masked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .aggregate import Corpus, drop_empty_rows
from .anonymity import AnonymityError, Guard
from .errors import OptionError
from .export import FORMATS as TABLE_FORMATS
from .export import write_tables
from .network import build_network, summarise
from .network_export import guarded, write_network
from .project import Project, confirmed_codings, project_tables


def check_strict(guard: Guard, what: str) -> None:
    """Raise (nothing written yet) when ``guard`` had to mask a name in ``what``."""
    if guard.masked:
        raise AnonymityError(
            f"--strict: nothing written; these real names would appear in the {what}: "
            + ", ".join(sorted(guard.masked)) + ". Add them to anonymity.yml (real_names) or rephrase the codings."
        )


@dataclass
class TablesOutcome:
    files: list[Path] = field(default_factory=list)
    folder: Path | None = None
    findings: int = 0  # comparison-table entries
    quotes: int = 0
    draft: bool = False
    notes: list[str] = field(default_factory=list)  # what a setting hid, what is empty


def publish_tables(p: Project, guard: Guard, *, formats: Sequence[str] | None = None, output: Path | None = None,
                   coders: Sequence[str] | None = None, include_suggested: bool = False, strict: bool = False,
                   drop_empty: bool = False, csv_bom: bool = True) -> TablesOutcome:
    """Build every table from the confirmed codings and write it in each format: into
    ``output`` (a folder; a file when one format is given and ``output`` has a suffix) or
    ``outputs/tables``. ``drop_empty``: without the rows nobody's codings fill
    (:func:`coding.aggregate.drop_empty_rows`), in every format; CSV files with a byte-order mark
    unless ``csv_bom`` is False."""
    formats = list(formats or TABLE_FORMATS)
    single = bool(output is not None and len(formats) == 1 and Path(output).suffix)
    if single and formats[0] == "csv":
        raise OptionError("--format csv writes one file per table; give a folder with -o")
    data = project_tables(p, coders=coders, include_suggested=include_suggested)
    if drop_empty:
        data = drop_empty_rows(data)
    safe = guard.apply_data(data)
    if strict:
        check_strict(guard, "tables")
    out = TablesOutcome(draft=include_suggested, notes=list(data.get("notes", [])))
    folder = Path(output).parent if single else Path(output or p.outputs / "tables")
    files = write_tables(safe, folder, formats, csv_bom=csv_bom)
    if single:
        files[0].replace(output)
        files = [Path(output)]
    out.files, out.folder = files, (Path(output) if single else folder)
    out.quotes = sum(len(r["quotes"]) for r in data.get("challenge_table", {}).get("rows", []))
    out.findings = sum(len(r[reg]) for t in data.get("comparison_tables", {}).values() for r in t["rows"]
                       for reg in r if isinstance(r[reg], list))
    return out


@dataclass
class NetworkOutcome:
    files: list[Path] = field(default_factory=list)
    folder: Path | None = None
    summary: str = ""


def publish_network(p: Project, guard: Guard, *, kind: str = "challenge-practice", window: str = "paragraph",
                    families: Sequence[str] = ("theme",), include_orgs: bool = False, weight_by: str = "windows",
                    min_weight: float = 1.0, top: int | None = None, community: str = "louvain",
                    formats: Sequence[str] | None = None, output: Path | None = None, coders: Sequence[str] | None = None,
                    include_suggested: bool = False, strict: bool = False) -> NetworkOutcome:
    """Build a network from the confirmed codings, analyse it and write it in each format."""
    codings = confirmed_codings(p, coders=coders, include_suggested=include_suggested)
    G = build_network(Corpus(p.transcripts, p.codebook, codings), kind, window=window, families=families,
                      include_orgs=include_orgs, weight_by=weight_by, min_weight=min_weight, top_n=top,
                      community=community, draft=include_suggested)
    G = guarded(G, guard.apply)  # every label, note and quote passes the anonymity guard
    if strict:
        check_strict(guard, "network")
    summary = summarise(G)
    folder = Path(output or p.outputs / "network")
    files = write_network(G, folder, formats, summary=summary)
    return NetworkOutcome(files, folder, summary)
