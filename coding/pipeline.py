"""The main job, ``python cli.py run``: validate, code, then publish the tables, the network and,
once a case code is coded, the case sheets (事例集).

One project is opened (by the validation) and handed to every step, and the notes are searched
for real names once: the same guard serves every published output.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .cases import CasesOutcome, publish_cases
from .errors import ProjectError
from .project import CodeResult, ValidationReport, code_project, validate_project
from .publish import NetworkOutcome, TablesOutcome, publish_network, publish_tables
from .transcripts import Transcript


@dataclass
class RunResult:
    validation: ValidationReport
    code: CodeResult
    tables: TablesOutcome
    network: NetworkOutcome
    guard_summary: str
    cases: CasesOutcome | None = None  # None: the codebook has no case codes


def run(root: Path | str, *, jobs: int = 1, strict: bool = False,
        report: Callable[[str, Any], None] | None = None,
        progress: Callable[[str, Transcript], None] | None = None) -> RunResult:
    """Run every step; ``report(step, result)`` is called as each step ends (to print it) and
    ``progress(step, transcript)`` as transcripts are done in the long steps."""
    say = report or (lambda step, result: None)
    rep = validate_project(root, jobs=jobs, progress=(lambda t: progress("names", t)) if progress else None)
    say("validate", rep)
    if not rep.ok or rep.project is None:
        raise ProjectError(f"{len(rep.problems)} problem(s); fix them and run again (python cli.py validate lists them)",
                           rep.problems)
    p = rep.project
    coded = code_project(p, jobs=jobs, progress=(lambda t: progress("code", t)) if progress else None)
    say("code", coded)
    guard = rep.guard()
    tables = publish_tables(p, guard, strict=strict)
    say("tables", tables)
    network = publish_network(p, guard, strict=strict)
    say("network", network)
    cases = None
    if p.codebook.of_kind("case"):
        cases = publish_cases(p, guard, strict=strict, write_empty=False)
        say("cases", cases)
    return RunResult(rep, coded, tables, network, guard.summary(), cases)
