"""A project folder: codebook.yml + transcripts/ + codings/ (decisions) + outputs/ (generated).

This module wires the stages together: it opens a project once and hands its parts to the stage
functions; each function returns a plain result object and prints nothing (progress goes through
an optional callback). The stages themselves live in their own modules (transcripts, codebook,
nlp, tagger and tagcache, store, aggregate, network, export).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence

from .aggregate import Corpus, build_tables
from .anonymity import Guard, NameFinding, Policy, find_names, load_policy, ner_scan
from .codebook import Codebook, load_codebook
from .crosstab import crosstab
from .errors import CodebookError, CodingError, ProjectError, StoreError, TranscriptError
from .learn import resolve_model
from .nlp import NlpSettings, lexical_tokenizer
from .store import AUTO, COLUMNS, Coding, Store, read_codings_csv, reanchor, record_decisions, suggestions_path, to_csv, validate_against
from .tagcache import PruneResult, TagCache
from .tagger import matched_cell
from .transcripts import Transcript, read_transcripts, stray_files
from .xmltext import xml_warnings


@dataclass
class Project:
    root: Path
    codebook: Codebook
    transcripts: list[Transcript]

    @classmethod
    def open(cls, root: Path | str) -> "Project":
        """Load and validate codebook and transcripts; raises with every problem located."""
        root = Path(root)
        if not root.is_dir():
            raise ProjectError(f"{root}: no such project folder (python cli.py init {root} makes one)")
        cb = load_codebook(root / "codebook.yml")
        ts = read_transcripts(root / "transcripts", regions=cb.regions, order=cb.settings.transcript_order)
        return cls(root, cb, ts)

    @cached_property
    def by_id(self) -> dict[str, Transcript]:
        return {t.id: t for t in self.transcripts}

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def cache_dir(self) -> Path:
        return self.outputs / "cache"

    def store(self, *, suggestions: bool = True) -> Store:
        return Store.open(self.root, suggestions=suggestions)

    def nlp_settings(self) -> NlpSettings:
        tagger = self.codebook.settings.tagger
        return NlpSettings.for_needs(self.codebook.needs(), parse=tagger.parse, model=tagger.nlp_model)

    def tag_cache(self) -> TagCache:
        return TagCache(self.cache_dir, self.codebook, self.nlp_settings())

    def check_coders(self, coders: Sequence[str]) -> None:
        """Raise when a coder named on the command line has no decisions here (``auto`` is the tagger)."""
        known = set(self.store(suggestions=False).coders) | {AUTO}
        unknown = [c for c in coders if c not in known]
        if unknown:
            raise StoreError(f"no decisions by {', '.join(unknown)} in {self.root / 'codings'} "
                             f"(known coders: {', '.join(sorted(known))})")


# ---------------------------------------------------------------- validate
@dataclass
class ValidationReport:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    transcripts: int = 0
    codes: int = 0
    stale: list[Coding] = field(default_factory=list)
    names: list[NameFinding] = field(default_factory=list)  # real names to be masked in outputs
    project: Project | None = None  # the opened project, when codebook and transcripts load
    policy: Policy | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def guard(self) -> Guard:
        """The anonymity guard built from this validation's name search."""
        if self.policy is None:
            raise ProjectError("no name search was run")
        return Guard(self.policy, {f.name for f in self.names}, reading=reader())


def validate_project(root: Path | str, *, names: bool = True, jobs: int = 1,
                     progress: Callable[[Transcript], None] | None = None) -> ValidationReport:
    """Check codebook, transcripts and decisions, and search the notes for real names; run every
    check it can whatever the others found, and collect every problem rather than stop at one."""
    root = Path(root)
    rep = ValidationReport()
    if not root.is_dir():
        rep.problems.append(f"{root}: no such project folder (python cli.py init {root} makes one)")
        return rep
    cb = None
    try:
        cb = load_codebook(root / "codebook.yml")
        rep.codes = len(cb.codes)
        rep.warnings.extend(cb.warnings)
        model = resolve_model(cb)
        if model.warning:
            rep.warnings.append(model.warning)
    except CodebookError as e:
        rep.problems.extend(e.problems or [str(e)])
    ts: list[Transcript] = []
    try:
        ts = read_transcripts(root / "transcripts", regions=cb.regions if cb else None,
                              order=cb.settings.transcript_order if cb else "date")
        rep.transcripts = len(ts)
    except TranscriptError as e:
        rep.problems.extend(e.problems or [str(e)])
    rep.warnings.extend(stray_files(root / "transcripts"))
    rep.warnings.extend(xml_warnings(ts))
    by_id = {t.id: t for t in ts}
    try:
        st = Store.open(root, suggestions=False)
        if cb is not None:
            rep.warnings.extend(decision_warnings(st, by_id, cb))
            rep.stale = [r for r in st.anchored(by_id) if r.anchor == "stale"]
    except StoreError as e:
        rep.problems.extend(e.problems or [str(e)])
    if cb is not None and not rep.problems:
        rep.project = Project(root, cb, ts)
    if names and ts:  # with problems to fix, the search writes no cache: bad input changes nothing
        try:
            rep.policy, rep.names = find_real_names(root, ts, model=cb.settings.tagger.nlp_model if cb else "ja_ginza",
                                                    jobs=jobs, progress=progress, cache=not rep.problems)
        except CodingError as e:
            rep.problems.extend(e.problems or [str(e)])
    return rep


def decision_warnings(store: Store, by_id: dict[str, Transcript], cb: Codebook) -> list[str]:
    """What is wrong with stored decisions without stopping anything: they are kept in their
    files and reported, never used where they no longer fit (a decision is never lost)."""
    out = []
    for coder, rows in store.decisions.items():
        for r in rows:
            where = f"codings/{coder}.csv: row {r.row}" if r.row else f"codings/{coder}.csv"
            if r.transcript_id not in by_id:
                out.append(f"{where}: transcript '{r.transcript_id}' is not in transcripts/ (decision kept, not used)")
            elif r.code_id not in cb.codes:
                out.append(f"{where}: code '{r.code_id}' is not in the codebook (decision kept, not used)")
    for r in store.anchored(by_id):
        if r.anchor == "stale" and r.transcript_id in by_id:
            out.append(f"codings/{r.coder}.csv: stale decision: {r.transcript_id} {r.code_id} "
                       f"'{_short(r.text)}' no longer occurs in the transcript (kept, not used; re-attach it to the words "
                       f"as they now read, or drop it, in review: serve --coder {r.coder} or export review --coder {r.coder})")
        elif r.anchor == "recheck":
            line = by_id[r.transcript_id].line_of(r.start)
            what = f"'{_short(r.was)}' is now '{_short(r.text)}'" if r.was else f"'{_short(r.text)}' occurs in several places"
            out.append(f"codings/{r.coder}.csv: re-check {r.code_id} at {by_id[r.transcript_id].path}:{line}: the passage "
                       f"was edited: {what} (the decision follows it; confirm it in review)")
    return out


def _short(text: str, n: int = 30) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "…"


# ---------------------------------------------------------------- code
@dataclass
class CodeResult:
    transcripts: int = 0
    parsed: int = 0  # transcripts parsed now (new or edited text)
    cached: int = 0  # transcripts whose tags or parses came from the cache
    retagged: int = 0  # transcripts tagged now (all codes)
    retagged_codes: list[str] = field(default_factory=list)  # codes re-tagged from cached parses
    suggestions: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    decisions: int = 0
    moved: int = 0
    recheck: int = 0  # decisions re-attached after their passage was edited inside
    stale: int = 0
    model_loaded: bool = False
    source: str = "rules"  # what suggested: rules, or rules + which learned model
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a setting keeps from being suggested
    path: Path | None = None


def code_project(p: Project, *, jobs: int = 1, min_score: float = 0.0,
                 progress: Callable[[Transcript], None] | None = None) -> CodeResult:
    """Tag every transcript and rewrite ``outputs/cache/suggestions.csv``; decisions are untouched.

    Incremental, and safe to interrupt (:mod:`coding.tagcache`): nothing changed → nothing is
    tagged, parsed or loaded (not even spaCy or Sudachi); a codebook edit → only the edited codes
    are re-tagged; an edited transcript → only it is parsed and tagged. New parses run in ``jobs``
    processes.
    """
    model = resolve_model(p.codebook)
    res = CodeResult(transcripts=len(p.transcripts), source=model.describe(), notes=region_notes(p))
    if model.warning:
        res.warnings.append(model.warning)
    cache = p.tag_cache()
    out_path = suggestions_path(p.root)
    digest = cache.run_digest(p.transcripts, min_score)
    by_code = cache.last_run(digest, out_path)
    if by_code is not None:  # nothing changed since the last run: its suggestions.csv is this run's
        res.cached = len(p.transcripts)
        res.by_code = by_code
        res.suggestions = sum(by_code.values())
        res.path = out_path
        for t in p.transcripts:
            if progress:
                progress(t)
        return _count_decisions(p, res)
    tags, stats = cache.tag(p.transcripts, jobs=jobs, progress=progress)
    res.parsed, res.cached, res.retagged = stats.parsed, stats.cached, stats.retagged
    res.retagged_codes, res.model_loaded = stats.retagged_codes, stats.model_loaded
    rows = []
    for t in p.transcripts:
        for cid, code_rows in tags[t.id].items():
            for start, end, text, pats, matched, score, _para, at in code_rows:
                if score >= min_score:
                    rows.append(Coding(t.id, start, end, text, cid, "suggested", AUTO, score=score,
                                       pattern=",".join(pats), matched=matched_cell(matched, at)))
                    res.by_code[cid] = res.by_code.get(cid, 0) + 1
    del tags
    store = p.store(suggestions=False)  # the old suggestions are replaced, not read
    res.path = store.save_suggestions(rows, p.codebook.effective_ref)
    res.suggestions = len(rows)
    cache.record_run(digest, res.path, res.by_code)
    return _count_decisions(p, res, store)


def region_notes(p: Project) -> list[str]:
    """What ``tagger.regions`` keeps from being suggested, said plainly."""
    out = []
    for kind, regions in p.codebook.settings.tagger.regions.items():
        others = [t for t in p.transcripts if t.region not in regions]
        if others and p.codebook.of_kind(kind):
            out.append(f"{kind} codes are suggested only in transcripts of {', '.join(regions)} (tagger.regions): "
                       f"{len(others)} transcript(s) of {', '.join(sorted({t.region for t in others}))} get none; "
                       "a person may still code them")
    return out


def prune_cache(p: Project) -> PruneResult:
    """Delete cache files the project's current transcripts, codebook and model no longer use
    (see :meth:`coding.tagcache.TagCache.prune`); decisions and outputs are never touched."""
    return p.tag_cache().prune(p.transcripts)


def _count_decisions(p: Project, res: CodeResult, store: Store | None = None) -> CodeResult:
    store = store or p.store()
    anchored = store.anchored(p.by_id)
    res.decisions = len(anchored)
    res.moved = sum(1 for r in anchored if r.anchor == "moved")
    res.recheck = sum(1 for r in anchored if r.anchor == "recheck")
    res.stale = sum(1 for r in anchored if r.anchor == "stale")
    res.pending = len(store.pending(p.by_id))
    res.warnings.extend(w for w in decision_warnings(store, p.by_id, p.codebook)
                        if "stale decision" not in w and ": re-check " not in w)
    return res


# ---------------------------------------------------------------- export / import
def export_codings(p: Project, *, coders: Sequence[str] | None = None, statuses: Sequence[str] | None = None) -> str:
    """All codings (suggestions and decisions) as CSV text (docs/formats.md, codings CSV)."""
    rows = p.store().all_rows(p.by_id)
    rows = [r for r in rows if r.anchor != "stale"]
    if coders:
        rows = [r for r in rows if r.coder in coders]
    if statuses:
        rows = [r for r in rows if r.status in statuses]
    return to_csv(rows, COLUMNS + ["quote", "score", "pattern"], p.codebook.effective_ref)


@dataclass
class ImportResult:
    added: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    skipped_suggested: int = 0
    files: list[Path] = field(default_factory=list)


def import_codings(p: Project, path: Path | str, *, coder: str | None = None) -> ImportResult:
    """Merge a codings CSV into the decisions. A malformed file is refused whole; nothing changes."""
    rows = read_codings_csv(path, default_coder=coder)
    res = ImportResult()
    human = [r for r in rows if r.status != "suggested"]
    res.skipped_suggested = len(rows) - len(human)
    problems = validate_against(human, p.by_id, p.codebook.codes, str(path))
    for r in human:
        if not r.text:
            problems.append(f"{path}: row {r.row}: empty text")
    if problems:
        raise StoreError(f"{path}: {len(problems)} bad row(s); nothing was imported", problems)
    by_coder: dict[str, list[Coding]] = {}
    for r in human:  # store the text the transcript really has at the (re-anchored) offsets
        by_coder.setdefault(r.coder, []).append(reanchor(r, p.by_id[r.transcript_id]))
    for c, rs in by_coder.items():
        rec = record_decisions(p.root, c, rs, p.by_id, p.codebook.effective_ref)
        res.added[c], res.changed[c] = rec.added, rec.changed
        res.files.append(rec.path)
    return res


# ---------------------------------------------------------------- tables
def confirmed_codings(p: Project, *, coders: Sequence[str] | None = None, include_suggested: bool = False) -> list[Coding]:
    """The codings tables and networks are built from (see DESIGN: precedence)."""
    if coders:
        p.check_coders(coders)
    rows = p.store(suggestions=include_suggested).resolved(p.by_id, coders=coders, include_suggested=include_suggested)
    return [r for r in rows if r.code_id in p.codebook.codes]


def project_tables(p: Project, *, coders: Sequence[str] | None = None, include_suggested: bool = False) -> dict:
    """Every table of the project, as a JSON-able dict (docs/formats.md, tables JSON)."""
    codings = confirmed_codings(p, coders=coders, include_suggested=include_suggested)
    data = build_tables(p.transcripts, p.codebook, codings, draft=include_suggested)
    unused = _unused_decisions(p)
    if unused:
        data["notes"].append(unused)
    return data


def _unused_decisions(p: Project) -> str:
    """A note on decisions the tables cannot use (they stay in their files)."""
    store = p.store(suggestions=False)
    rows = store.anchored(p.by_id)
    gone = sum(1 for r in rows if r.anchor == "stale")
    unknown = sum(1 for r in rows if r.anchor != "stale" and r.code_id not in p.codebook.codes)
    parts = ([f"{gone} stale (their passage is gone)"] if gone else []) + \
            ([f"{unknown} naming codes the codebook no longer has"] if unknown else [])
    return f"decisions not used: {', '.join(parts)}; they are kept (python cli.py validate lists them)" if parts else ""


def project_crosstab(p: Project, variable: str, *, codes: Sequence[str] | None = None, unit: str = "transcript",
                     coders: Sequence[str] | None = None, include_suggested: bool = False) -> dict:
    codings = confirmed_codings(p, coders=coders, include_suggested=include_suggested)
    return crosstab(Corpus(p.transcripts, p.codebook, codings), variable, codes=codes, unit=unit)


# ---------------------------------------------------------------- anonymity
def find_real_names(root: Path | str, transcripts: Sequence[Transcript], *, model: str = "ja_ginza", jobs: int = 1,
                    progress: Callable[[Transcript], None] | None = None, cache: bool = True) -> tuple[Policy, list[NameFinding]]:
    """Real names in the transcripts (see :mod:`coding.anonymity`). What the NER finds is cached
    per transcript text (``cache=False``: read the cache, write nothing)."""
    root = Path(root)
    policy = load_policy(root, transcripts)
    ner = None
    if policy.detect and transcripts:
        settings = NlpSettings.for_needs((), ner=True, model=model)
        ner = ner_scan(transcripts, settings, root / "outputs" / "cache" / "names", jobs=jobs, writable=cache, progress=progress)
    return policy, find_names(transcripts, policy, ner, reading=reader())


def reader():
    """Sudachi readings of a text's words (for the romaji and kana forms of names)."""
    return lexical_tokenizer().readings


def project_guard(p: Project, *, jobs: int = 1) -> Guard:
    """The anonymity guard for everything this project publishes."""
    policy, findings = find_real_names(p.root, p.transcripts, model=p.codebook.settings.tagger.nlp_model, jobs=jobs)
    return Guard(policy, {f.name for f in findings}, reading=reader())
